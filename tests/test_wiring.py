"""Wiring kinds (lgn2hw/wiring.py): the local window's geometry, learnable candidates, determinism, the trainer's
use of them (a learnable net discretises and lgn2hw reads it bit-exactly) and ``lgn2hw wiring``'s file."""
import re

import numpy as np
import pytest
import torch

from lgn2hw import data, wiring
from lgn2hw.cli import main
from lgn2hw.errors import UsageError
from lgn2hw.frontend import load_model
from lgn2hw.ir import evaluate
from lgn2hw.ir.analysis import describe
from lgn2hw.train import TrainConfig, save_checkpoint, train


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- spelling -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,canonical", [
    ("random", "random"), ("unique", "unique"), ("local", "local:2"), ("local:0", "local:0"),
    ("Local:5", "local:5"), ("learnable", "learnable:8"), ("learnable:3", "learnable:3"),
    ("learnable:4:local", "learnable:4:local:2"), ("learnable:4:local:1", "learnable:4:local:1"),
])
def test_parse_canonical(text, canonical):
    spec = wiring.parse(text)
    assert str(spec) == canonical and wiring.parse(str(spec)) == spec


@pytest.mark.parametrize("text,pattern", [
    ("grid", r"must be random, unique, local\[:R\] or learnable\[:K\[:local\[:R\]\]\], not 'grid'$"),
    ("random:2", r"must be .*, not 'random:2'$"),
    ("local:1:2", r"must be .*, not 'local:1:2'$"),
    ("local:65", r"radius must be an integer in 0\.\.64, not '65' \(in 'local:65'\)$"),
    ("learnable:x", r"candidate count must be an integer in 2\.\.64, not 'x'"),
    ("learnable:4:random", r"must be .*, not 'learnable:4:random'$"),
    (3, r"must be .*, not 3$"),
])
def test_parse_errors(text, pattern):
    with pytest.raises(UsageError, match=r"^--connections " + pattern):
        wiring.parse(text)


@pytest.mark.parametrize("n,shape", [(8000, (80, 100)), (1000, (25, 40)), (784, (28, 28)), (120, (10, 12)),
                                     (970, (10, 97)), (7, (1, 7)), (1, (1, 1))])
def test_sheet_shape(n, shape):
    assert wiring.sheet_shape(n) == shape


def test_input_sheets_stack_channels():
    assert wiring.input_sheet(320, (5, 8, 8)) == (5, 8, 8)
    assert wiring.input_sheet(784, (28, 28)) == (1, 28, 28)
    assert wiring.input_sheet(784, None) == (1, 28, 28)
    assert wiring.input_sheet(400, (400,)) == (1, 20, 20)
    with pytest.raises(UsageError, match=r"the input shape \(1, 20, 20\) must hold 784 inputs, not 400"):
        wiring.input_sheet(784, (1, 20, 20))


# --- local ----------------------------------------------------------------------------------------------------
def _check_local(idx, prev, width, radius, places):
    """Every input lies in the clipped window around the gate's place scaled onto ``prev``; the two differ."""
    depth, rows, cols = prev
    own_rows, own_cols = wiring.sheet_shape(width)
    for gate in range(width):
        r, c = divmod(int(places[gate]), own_cols)
        cr, cc = int((r + 0.5) * rows / own_rows), int((c + 0.5) * cols / own_cols)
        window = {t * rows * cols + y * cols + x for t in range(depth)
                  for y in range(max(0, cr - radius), min(rows, cr + radius + 1))
                  for x in range(max(0, cc - radius), min(cols, cc + radius + 1))}
        a, b = int(idx[0, gate]), int(idx[1, gate])
        assert a in window and b in window, (gate, a, b)
        assert a != b or len(window) == 1


@pytest.mark.parametrize("prev,width,radius", [((1, 28, 28), 120, 1), ((5, 8, 8), 60, 1), ((1, 10, 12), 120, 2),
                                               ((1, 6, 10), 200, 0), ((3, 4, 4), 30, 0), ((1, 1, 7), 10, 3)])
def test_local_window_geometry(prev, width, radius):
    gen = torch.Generator().manual_seed(5)
    idx = wiring.layer_connections(f"local:{radius}", prev, width, gen)
    assert idx.shape == (2, width) and idx.dtype == torch.int64
    _check_local(idx, prev, width, radius, range(width))


def test_local_draws_uniformly_from_the_window():
    """An inner gate's window has 9 places: each is drawn about as often (2 of 9 per gate, 40,000 gates)."""
    gen = torch.Generator().manual_seed(1)
    idx = wiring.layer_connections("local:1", (1, 3, 3), 40_000, gen)     # sheet 200x200 onto 3x3: centre (1, 1)
    own_cols = 200
    inner = [g for g in range(40_000) if 67 <= g // own_cols < 133 and 67 <= g % own_cols < 133]
    counts = np.bincount(idx[:, inner].reshape(-1).numpy(), minlength=9)
    expected = 2 * len(inner) / 9
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected)), counts


def test_channels_are_read_at_every_place():
    gen = torch.Generator().manual_seed(2)
    idx = wiring.layer_connections("local:1", (5, 8, 8), 2000, gen)
    assert set(torch.div(idx, 64, rounding_mode="floor").unique().tolist()) == set(range(5))


def test_last_layer_places_cover_the_sheet_for_every_class():
    places = wiring.places(120, 10)
    assert sorted(places.tolist()) == list(range(120))
    rows = torch.div(places, 12, rounding_mode="floor").reshape(10, 12)     # sheet 10x12, 12 gates per class
    assert (rows.min(dim=1).values == 0).all() and (rows.max(dim=1).values == 9).all()   # top to bottom
    idx = wiring.network_connections("local:1", 64, [60, 120], input_shape=(1, 8, 8), classes=10, seed=0)[1]
    _check_local(idx, (1, 6, 10), 120, 1, places)


def test_deterministic_from_the_seed():
    def draw(spec, seed):
        return wiring.network_connections(spec, 320, [100, 100], input_shape=(5, 8, 8), classes=10, seed=seed)
    for spec in ("random", "unique", "local:2", "learnable:4", "learnable:4:local:1"):
        a, b, c = draw(spec, 3), draw(spec, 3), draw(spec, 4)
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True)), spec
        assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True)), spec


# --- learnable ------------------------------------------------------------------------------------------------
def test_learnable_candidates():
    gen = torch.Generator().manual_seed(0)
    cand = wiring.layer_connections("learnable:4", (1, 8, 8), 50, gen)
    assert cand.shape == (4, 2, 50) and cand.min() >= 0 and cand.max() < 64
    cand = wiring.layer_connections("learnable:4:local:1", (5, 8, 8), 60, gen)
    assert cand.shape == (4, 2, 60)
    for k in range(4):
        _check_local(cand[k], (5, 8, 8), 60, 1, range(60))
    # the two inputs' pools are disjoint (windows hold at least 4 places x 5 channels = 20 >= 8 nets)
    for gate in range(60):
        assert not set(cand[:, 0, gate].tolist()) & set(cand[:, 1, gate].tolist())
        assert len(set(cand[:, :, gate].reshape(-1).tolist())) == 8


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


TINY = dict(dataset="digits", layers=2, width=100, epochs=3, lr=0.05, batch_size=128, init="residual", threads=1)


@pytest.mark.parametrize("connections", ["learnable:4", "learnable:3:local:1"])
def test_trained_learnable_net_discretises_bit_exactly(tmp_path, digits, connections):
    result = train(TrainConfig(**TINY, connections=connections))
    net = result.model
    for layer in net.layers:
        chosen = layer.chosen()
        assert chosen.shape == (2, layer.out_dim)
        assert (layer.candidates == chosen[None]).any(dim=0).all()        # one of each input's candidates
        assert not torch.equal(layer.select, torch.zeros_like(layer.select))     # the selection trained
    for layer, entry in zip(net.layers, result.checkpoint["layers"], strict=True):
        assert torch.equal(entry["indices"].to(torch.int64), layer.chosen())
    path = tmp_path / "m.pt"
    save_checkpoint(result.checkpoint, path)
    want = net.counts(digits.test_bits)
    assert len(np.unique(want.argmax(1))) > 1, "a degenerate network would make this test weak"
    nl = load_model(path)
    assert np.array_equal(evaluate(nl, digits.test_bits), want)
    assert result.test_accuracy == float((want.argmax(1) == digits.y_test).mean())
    prov = describe(nl)["provenance"]["wiring"]
    assert prov["spec"] == connections and prov["kind"] == "learnable"
    assert prov["select_tau"] == list(wiring.SELECT_TAU)


def test_learnable_training_forward_mixes_candidates():
    from lgn2hw.train import LogicLayer
    cand = torch.tensor([[[0], [1]], [[2], [3]]])                                  # (K=2, 2 inputs, 1 gate)
    layer = LogicLayer(4, 1, init="random", candidates=cand)
    with torch.no_grad():
        layer.weights.zero_()
        layer.weights[0, 3] = 50.0                  # gate A: passes its first input through
        layer.select.copy_(torch.tensor([[[1.0], [0.0]], [[0.0], [0.0]]]))
    x = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    layer.train()
    layer.select_tau = 1.0
    p = torch.softmax(torch.tensor([1.0, 0.0]), 0)
    assert torch.allclose(layer(x)[:, 0], torch.stack([p[0], p[1]]), atol=1e-5)
    layer.eval()                                     # the best candidate of input a is net 0
    assert layer(x)[:, 0].tolist() == [1.0, 0.0]
    assert layer.chosen().tolist() == [[0], [1]]


# --- the trainer and `lgn2hw wiring` agree ------------------------------------------------------------------
def test_trainer_wiring_is_the_wiring_commands(tmp_path, capsys):
    result = train(TrainConfig(**{**TINY, "epochs": 1}, connections="local:1", seed=4))
    code, text, err = run(capsys, "wiring", "--inputs", "5,8,8", "--width", "100", "--layers", "2",
                          "--connections", "local:1", "--classes", "10", "--seed", "4", "-o", tmp_path / "w.pt")
    assert code == 0, err
    assert text.splitlines() == [
        "local:1 wiring, seed 4: 2 x 100 gates on 320 inputs (shape (5, 8, 8)); sheets 5x8x8, 10x10, 10x10; "
        "difflogic and torchlogix indices", f"wrote {tmp_path / 'w.pt'}"]
    w = torch.load(tmp_path / "w.pt", weights_only=True)
    for entry, dl, tl in zip(result.checkpoint["layers"], w["difflogic"], w["torchlogix"], strict=True):
        assert torch.equal(entry["indices"].to(torch.int64), tl)
        assert isinstance(dl, tuple) and torch.equal(torch.stack(dl), tl) and dl[0].dtype == torch.int64
    prov = result.checkpoint["provenance"]["wiring"]
    assert prov == w["wiring"] == {
        "kind": "local", "spec": "local:1", "radius": 1, "summary": wiring.parse("local:1").summary(),
        "sheets": [[5, 8, 8], [1, 10, 10], [1, 10, 10]]}


def test_wiring_file_contents_and_learnable(tmp_path, capsys):
    code, text, _ = run(capsys, "wiring", "--inputs", "784", "--width", "40", "--layers", "3", "--connections",
                        "learnable:4", "-o", tmp_path / "w.pt")
    assert code == 0 and text.startswith("learnable:4 wiring, seed 0: 3 x 40 gates on 784 inputs; torchlogix "
                                         "candidates\n")
    w = torch.load(tmp_path / "w.pt", weights_only=True)
    assert w["format"] == "lgn2hw.wiring" and w["version"] == 1 and w["difflogic"] is None
    assert [t.shape for t in w["torchlogix"]] == [(4, 2, 40)] * 3
    assert w["input_shape"] is None and w["widths"] == [40] * 3 and w["classes"] == 1


@pytest.mark.parametrize("args,pattern", [
    (["--inputs", "0"], r"--inputs must be a count or a shape C,H,W of positive integers, not '0'$"),
    (["--inputs", "1,x"], r"--inputs must be a count or a shape"),
    (["--layers", "0"], r"--layers must be a positive integer, not 0$"),
    (["--width", "0"], r"--width must be a positive integer, not 0$"),
    (["--classes", "3"], r"--width must be a multiple of the class count 3, not 20$"),
    (["--seed", "-2"], r"--seed must be a non-negative integer, not -2$"),
    (["--connections", "local:x"], r"--connections radius must be an integer in 0\.\.64, not 'x'"),
])
def test_wiring_command_errors(tmp_path, capsys, args, pattern):
    base = {"--inputs": "64", "--width": "20", "--layers": "2"}
    for flag in args[::2]:
        base.pop(flag, None)
    argv = [v for kv in base.items() for v in kv]
    code, _, err = run(capsys, "wiring", *argv, *args, "-o", tmp_path / "w.pt")
    assert code == 1 and re.search(pattern, err.splitlines()[0]), err
    assert list(tmp_path.iterdir()) == []


def test_wiring_command_keeps_foreign_files(tmp_path, capsys):
    target = tmp_path / "w.pt"
    target.write_text("mine")
    args = ["wiring", "--inputs", "64", "--width", "20", "--layers", "1", "-o", target]
    code, _, err = run(capsys, *args)
    assert code == 1 and "exists and was not written by lgn2hw" in err and target.read_text() == "mine"
    assert run(capsys, *args, "--force")[0] == 0
    assert run(capsys, *args)[0] == 0           # lgn2hw's own output: replaced without --force
