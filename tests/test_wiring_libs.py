"""``lgn2hw wiring`` for networks trained elsewhere: its index tensors go into the real difflogic 0.1.0 and
torchlogix 0.2.2 layers as docs/training-for-hardware.md shows, the packages train a few steps with them, and
lgn2hw reads the result bit-exactly: the package's eval forward and lgn2hw's interpreter give the same integer
class counts, sample for sample."""
import contextlib
import io

import numpy as np
import pytest
import torch

from lgn2hw.cli import main
from lgn2hw.frontend import LoadOptions, load_model
from lgn2hw.ir import evaluate
from lgn2hw.ir.netlist import FIRST_INPUT_NET

from fixtures_libs import exact_counts, quiet_forward, train_classifier

K, TAU = 4, 2.0


def _digits_bits():
    """sklearn's 8x8 digits, one bit per pixel (> 4 of 16), and their labels folded into K classes."""
    from sklearn.datasets import load_digits
    d = load_digits()
    return (d.data > 4).astype(np.float32), (d.target % K).astype(np.int64)


def _wiring(tmp_path, connections, widths):
    path = tmp_path / "wiring.pt"
    args = ["wiring", "--inputs", "1,8,8", "--width", str(widths[0]), "--layers", str(len(widths)),
            "--connections", connections, "--classes", str(K), "--seed", "3", "-o", str(path)]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(args) == 0
    return torch.load(path, weights_only=True)


def _first_layer_fanin(nl):
    """The input positions the loaded netlist's first layer reads, as (2, width)."""
    sel = nl.layer == 1
    return torch.as_tensor(nl.fanin[sel][:, :2].T.astype(np.int64) - FIRST_INPUT_NET)


def _train_quietly(model, x, y):
    with contextlib.redirect_stdout(io.StringIO()):     # difflogic prints index dtypes on every forward
        return train_classifier(model, x, y, steps=30, batch=64, lr=0.05, seed=1)


@pytest.mark.parametrize("connections", ["local:1", "unique"])
def test_difflogic_trains_with_the_wiring(tmp_path, difflogic_lib, connections):
    dl = difflogic_lib
    widths = [96, 96]
    w = _wiring(tmp_path, connections, widths)
    torch.manual_seed(0)
    layers, prev = [], 64
    for width in widths:
        layers.append(dl.LogicLayer(prev, width, device="cpu", implementation="python"))
        prev = width
    model = torch.nn.Sequential(torch.nn.Flatten(), *layers, dl.GroupSum(K, TAU, device="cpu"))
    # the docs' lines: LogicLayer.indices is a plain attribute holding a pair of index tensors
    for layer, indices in zip(layers, w["difflogic"], strict=True):
        layer.indices = indices
    x, y = _digits_bits()
    _train_quietly(model, x, y)
    for layer, indices in zip(layers, w["torchlogix"], strict=True):
        assert torch.equal(torch.stack(layer.indices), indices)                # training kept the wiring
    sd = model.state_dict()
    sd.update({f"{name}.indices": torch.stack(m.indices) for name, m in model.named_modules()
               if hasattr(m, "indices")})
    torch.save(sd, tmp_path / "model.pt")
    nl = load_model(tmp_path / "model.pt", LoadOptions(classes=K, input_shape=(1, 8, 8)))
    assert torch.equal(_first_layer_fanin(nl), w["torchlogix"][0])
    expect = exact_counts(quiet_forward(model, torch.from_numpy(x)), TAU)
    assert len(np.unique(expect.argmax(1))) > 1, "a degenerate network would make this test weak"
    assert np.array_equal(evaluate(nl, x.astype(np.uint8)), expect)


def _torchlogix_model(widths, learnable_k=None):
    from torchlogix.layers import GroupSum, LogicDense
    torch.manual_seed(0)
    conn = {} if learnable_k is None else {"connections": "learnable",
                                           "connections_kwargs": {"num_candidates": learnable_k}}
    layers, prev = [], 64
    for width in widths:
        layers.append(LogicDense(prev, width, parametrization="raw", **conn))
        prev = width
    return layers, torch.nn.Sequential(*layers, GroupSum(K, TAU))


@pytest.mark.parametrize("connections", ["local:1", "random"])
def test_torchlogix_trains_with_the_wiring(tmp_path, torchlogix_lib, connections):
    widths = [96, 96]
    w = _wiring(tmp_path, connections, widths)
    layers, model = _torchlogix_model(widths)
    # the docs' lines: a fixed dense layer keeps its wiring in the buffer connections.indices, (2, width)
    for layer, indices in zip(layers, w["torchlogix"], strict=True):
        layer.connections.indices.copy_(indices)
    x, y = _digits_bits()
    _train_quietly(model, x, y)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    nl = load_model(tmp_path / "model.pt", LoadOptions(classes=K, input_shape=(1, 8, 8)))
    assert torch.equal(_first_layer_fanin(nl), w["torchlogix"][0])
    expect = exact_counts(quiet_forward(model, torch.from_numpy(x)), TAU)
    assert len(np.unique(expect.argmax(1))) > 1
    assert np.array_equal(evaluate(nl, x.astype(np.uint8)), expect)


def test_torchlogix_learns_among_the_wirings_candidates(tmp_path, torchlogix_lib):
    widths = [96, 96]
    w = _wiring(tmp_path, "learnable:3:local:1", widths)
    layers, model = _torchlogix_model(widths, learnable_k=3)
    # learnable connections: connections.indices holds the candidates, (K, 2, width)
    for layer, candidates in zip(layers, w["torchlogix"], strict=True):
        layer.connections.indices.copy_(candidates)
    x, y = _digits_bits()
    _train_quietly(model, x, y)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    nl = load_model(tmp_path / "model.pt", LoadOptions(classes=K, input_shape=(1, 8, 8)))
    chosen = _first_layer_fanin(nl)
    assert (w["torchlogix"][0] == chosen[None]).any(dim=0).all()          # each input reads one of its candidates
    expect = exact_counts(quiet_forward(model, torch.from_numpy(x)), TAU)
    assert np.array_equal(evaluate(nl, x.astype(np.uint8)), expect)


def test_difflogic_cuda_tables_for_new_wiring(tmp_path, difflogic_lib):
    """A CUDA LogicLayer keeps reverse tables made from its wiring in __init__ (made on the CPU here, no GPU
    needed): difflogic_reverse_tables gives the same for that wiring, so the docs' rewiring of a CUDA layer
    leaves it as if it had been built with the new indices."""
    from lgn2hw.wiring import difflogic_reverse_tables
    for connections, in_dim, out_dim in (("random", 30, 40), ("unique", 50, 25), ("random", 7, 64)):
        torch.manual_seed(in_dim)
        layer = difflogic_lib.LogicLayer(in_dim, out_dim, device="cpu", implementation="cuda",
                                         connections=connections)
        start, gates = difflogic_reverse_tables(layer.indices, in_dim)
        assert torch.equal(start, layer.given_x_indices_of_y_start)
        assert torch.equal(gates, layer.given_x_indices_of_y)
