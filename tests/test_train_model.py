"""The trainer's discretised network equals the reference interpreter on the saved checkpoint, sample for sample."""
import numpy as np
import pytest
import torch

from lgn2hw import data, gates
from lgn2hw.frontend import load_model
from lgn2hw.frontend.native import to_netlist
from lgn2hw.ir import evaluate
from lgn2hw.passes import DEFAULT, run_passes
from lgn2hw.train import LogicLayer, LogicNet, TrainConfig, save_checkpoint, train
from lgn2hw.train.model import random_connections, unique_connections

TINY = dict(dataset="digits", layers=3, width=120, epochs=4, lr=0.05, batch_size=128, init="random", threads=1)


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    result = train(TrainConfig(**TINY))
    path = tmp_path_factory.mktemp("tiny") / "tiny.pt"
    save_checkpoint(result.checkpoint, path)
    return result, path


def test_trained_counts_equal_interpreter_on_whole_test_split(tiny, digits):
    result, path = tiny
    bits = digits.test_bits
    want = result.model.counts(bits)
    assert want.shape == (len(digits.y_test), 10) and want.dtype == np.int64
    assert len(np.unique(want.argmax(1))) > 1, "a degenerate network would make this test weak"
    nl = to_netlist(torch.load(path, weights_only=True))
    assert np.array_equal(evaluate(nl, bits), want)
    # and after the default optimisation passes, as predict runs them
    optimised, _ = run_passes(load_model(path), DEFAULT, check=True)
    assert np.array_equal(evaluate(optimised, bits), want)
    # the recorded accuracy is the discretised network's
    acc = float((want.argmax(1) == digits.y_test).mean())
    assert result.checkpoint["provenance"]["test_accuracy"] == acc == result.test_accuracy


def test_raw_encoding_in_checkpoint_reproduces_bits(tiny, digits):
    _, path = tiny
    nl = load_model(path)
    assert np.array_equal(nl.encoding.apply(digits.x_test), digits.test_bits)
    assert nl.input_shape == digits.input_shape
    assert nl.n_inputs == digits.n_inputs


def test_saved_weights_give_the_same_network(digits, tmp_path):
    result = train(TrainConfig(**{**TINY, "epochs": 2, "save_weights": True}))
    layer = result.checkpoint["layers"][0]
    assert set(layer) == {"indices", "weights"} and layer["weights"].shape == (120, 16)
    path = tmp_path / "w.pt"
    save_checkpoint(result.checkpoint, path)
    nl = load_model(path)
    assert np.array_equal(evaluate(nl, digits.test_bits), result.model.counts(digits.test_bits))


def test_rebuilt_from_checkpoint_equals_trained(tiny, digits):
    result, path = tiny
    again = LogicNet.from_checkpoint(torch.load(path, weights_only=True))
    assert np.array_equal(again.counts(digits.test_bits), result.model.counts(digits.test_bits))


def test_determinism_with_seed():
    cfg = dict(TINY, epochs=2, width=60)
    a, b = train(TrainConfig(**cfg)), train(TrainConfig(**cfg))
    c = train(TrainConfig(**{**cfg, "seed": 1}))
    for la, lb in zip(a.checkpoint["layers"], b.checkpoint["layers"]):
        assert torch.equal(la["indices"], lb["indices"]) and torch.equal(la["gates"], lb["gates"])
    for la, lb in zip(a.model.layers, b.model.layers):
        assert torch.equal(la.weights, lb.weights)
    assert not all(torch.equal(la["indices"], lc["indices"])
                   for la, lc in zip(a.checkpoint["layers"], c.checkpoint["layers"]))


def test_layer_matches_gate_table_on_all_inputs():
    """Eval-mode layer output = lgn2hw.gates.gate_truth for every gate id and input pair; soft mode with a
    one-hot-dominated softmax approaches it."""
    layer = LogicLayer(2, 16, init="random")
    with torch.no_grad():
        layer.indices.copy_(torch.tensor([[0] * 16, [1] * 16]))
        layer.weights.copy_(torch.eye(16) * 40.0)
    x = torch.tensor([[a, b] for a in (0, 1) for b in (0, 1)], dtype=torch.float32)
    want = torch.tensor([[gates.gate_truth(g, a, b) for g in range(16)] for a in (0, 1) for b in (0, 1)],
                        dtype=torch.float32)
    layer.eval()
    assert torch.equal(layer(x), want)
    layer.train()
    assert torch.allclose(layer(x), want, atol=1e-6)


def test_eval_argmax_ties_take_the_first_gate():
    layer = LogicLayer(2, 1, init="random")
    with torch.no_grad():
        layer.weights.zero_()       # every gate tied: argmax is id 0, FALSE
    layer.eval()
    assert layer.gate_ids().tolist() == [0]
    assert layer(torch.ones(3, 2)).tolist() == [[0.0]] * 3


def test_soft_forward_is_the_probabilistic_relaxation():
    """Training-mode output = sum_i softmax(w)_i * E[gate_i(A, B)] with independent A ~ a, B ~ b."""
    torch.manual_seed(0)
    layer = LogicLayer(5, 7, init="random")
    x = torch.rand(11, 5)
    a, b = x[:, layer.indices[0]], x[:, layer.indices[1]]
    p = torch.softmax(layer.weights, -1)
    want = torch.zeros(11, 7)
    for g in range(16):
        for va in (0, 1):
            for vb in (0, 1):
                prob = (a if va else 1 - a) * (b if vb else 1 - b)
                want += p[:, g] * gates.gate_truth(g, va, vb) * prob
    assert torch.allclose(layer(x), want, atol=1e-5)


@pytest.mark.parametrize("in_dim,out_dim", [(10, 5), (10, 40), (3, 3), (100, 60)])
def test_connections_cover_inputs_and_unique_has_no_repeats(in_dim, out_dim):
    gen = torch.Generator().manual_seed(3)
    r = random_connections(in_dim, out_dim, gen)
    assert r.shape == (2, out_dim) and r.min() >= 0 and r.max() < in_dim
    if 2 * out_dim >= in_dim:
        assert set(r.reshape(-1).tolist()) == set(range(in_dim))
    u = unique_connections(in_dim, out_dim, gen)
    assert u.min() >= 0 and u.max() < in_dim
    assert bool((u[0] != u[1]).all())
    pairs = {tuple(sorted(p)) for p in u.T.tolist()}
    assert len(pairs) == min(out_dim, in_dim * (in_dim - 1) // 2)


def test_groupsum_blocks_are_contiguous():
    net = LogicNet(4, [6], 3, tau=2.0, init="random")
    layer = net.layers[0]
    with torch.no_grad():
        layer.indices.copy_(torch.tensor([[0, 1, 2, 3, 0, 1], [0, 1, 2, 3, 0, 1]]))
        layer.weights.zero_()
        layer.weights[:, 3] = 1.0     # gate A: pass input a through
    x = torch.tensor([[1, 0, 1, 1], [0, 1, 0, 0]])
    # blocks: class 0 = gates 0,1 (x0, x1); class 1 = gates 2,3 (x2, x3); class 2 = gates 4,5 (x0, x1)
    assert net.counts(x).tolist() == [[1, 2, 1], [1, 0, 1]]
    net.eval()
    assert torch.equal(net(x.float()), torch.tensor([[0.5, 1.0, 0.5], [0.5, 0.0, 0.5]]))


def test_light_parametrization_equals_interpreter(digits, tmp_path):
    result = train(TrainConfig(**{**TINY, "parametrization": "light", "init": "residual"}))
    assert result.model.layers[0].weights.shape == (120, 4)
    path = tmp_path / "light.pt"
    save_checkpoint(result.checkpoint, path)
    want = result.model.counts(digits.test_bits)
    assert len(np.unique(want.argmax(1))) > 1
    assert np.array_equal(evaluate(load_model(path), digits.test_bits), want)


def test_light_gate_ids_and_relaxation():
    """Entry logits > 0 name the gate's true entries; with large logits the relaxation is that gate."""
    layer = LogicLayer(2, 16, init="random", parametrization="light")
    truth = torch.tensor([[gates.gate_truth(g, a, b) for a in (0, 1) for b in (0, 1)] for g in range(16)],
                         dtype=torch.float32)
    with torch.no_grad():
        layer.indices.copy_(torch.tensor([[0] * 16, [1] * 16]))
        layer.weights.copy_((2 * truth - 1) * 30.0)
    assert layer.gate_ids().tolist() == list(range(16))
    x = torch.tensor([[a, b] for a in (0, 1) for b in (0, 1)], dtype=torch.float32)
    layer.eval()
    assert torch.equal(layer(x), truth.T)
    layer.train()
    assert torch.allclose(layer(x), truth.T, atol=1e-6)
    # soft mode on real inputs: sum over entries of sigmoid(logit) * P(entry)
    with torch.no_grad():
        layer.weights.copy_(torch.randn(16, 4, generator=torch.Generator().manual_seed(1)))
    xr = torch.rand(9, 2, generator=torch.Generator().manual_seed(2))
    a, b = xr[:, :1], xr[:, 1:]
    prob = torch.cat([(1 - a) * (1 - b), (1 - a) * b, a * (1 - b), a * b], dim=1)     # (9, 4) in entry order
    assert torch.allclose(layer(xr), prob @ torch.sigmoid(layer.weights).T, atol=1e-6)


def test_light_residual_init_starts_as_pass_through():
    layer = LogicLayer(8, 50, init="residual", parametrization="light")
    assert set(layer.gate_ids().tolist()) == {3}     # gate A


def test_default_digits_training_reaches_90_percent(digits):
    """The defaults behind `lgn2hw train --dataset digits -o OUT.pt` (about 15 s of CPU time; the time itself is
    measured in bench/bench_train.py, not asserted)."""
    result = train(TrainConfig(dataset="digits", threads=1))
    assert result.test_accuracy >= 0.90
    counts = evaluate(to_netlist(result.checkpoint), digits.test_bits)
    assert np.array_equal(counts, result.model.counts(digits.test_bits))
    assert result.test_accuracy == float((counts.argmax(1) == digits.y_test).mean())


@pytest.mark.parametrize("reads_bits", [False, True])
def test_learnable_inputs_and_gradients_are_the_candidate_mix(reads_bits):
    """Training-mode inputs of a learnable layer = sum_k softmax(select / tau)_k * x[:, candidate_k], written here
    as plain indexing; the layer's value and both gradients (selection, and the layer before) must match it.
    A layer that reads the input bits (which need no gradient) must give the same selection gradient."""
    torch.manual_seed(1)
    k, n_in, n_out, n = 5, 40, 9, 6
    layer = LogicLayer(n_in, n_out, candidates=torch.randint(0, n_in, (k, 2, n_out)), init="random")
    with torch.no_grad():
        layer.select.normal_()
    layer.select_tau = 0.7
    x = (torch.rand(n, n_in) > 0.5).float() if reads_bits else torch.rand(n, n_in)
    x.requires_grad_(not reads_bits)
    w = torch.randn(n, 2, n_out)

    a, b = layer.inputs(x)
    (torch.stack([a, b], 1) * w).sum().backward()
    got = torch.stack([a, b], 1).detach(), layer.select.grad.clone(), None if reads_bits else x.grad.clone()

    layer.select.grad = None
    if not reads_bits:
        x.grad = None
    p = torch.softmax(layer.select / 0.7, dim=0)
    want = sum(p[j].unsqueeze(0) * torch.stack([x[:, layer.candidates[j, 0]], x[:, layer.candidates[j, 1]]], 1)
               for j in range(k))
    (want * w).sum().backward()
    assert torch.allclose(got[0], want.detach(), atol=1e-6)
    assert torch.allclose(got[1], layer.select.grad, atol=1e-5)
    if not reads_bits:
        assert torch.allclose(got[2], x.grad, atol=1e-5)


def test_cosine_schedule_falls_from_lr_to_zero():
    from lgn2hw.train.config import learning_rate
    steady, cosine = TrainConfig(lr=0.02), TrainConfig(lr=0.02, lr_schedule="cosine")
    assert [learning_rate(steady, s, 100) for s in (0, 50, 99)] == [0.02] * 3
    rates = [learning_rate(cosine, s, 100) for s in range(100)]
    assert rates[0] == pytest.approx(0.02) and rates[50] == pytest.approx(0.01) and 0 < rates[-1] < 1e-4
    assert all(x > y for x, y in zip(rates, rates[1:]))
    with pytest.raises(Exception, match="lr-schedule"):
        TrainConfig(lr_schedule="step").check()


def test_cosine_training_is_recorded_and_differs_from_constant(digits):
    """The schedule reaches the optimiser (the trained gates differ) and the checkpoint says which one ran."""
    base = dict(dataset="digits", layers=2, width=100, epochs=2, threads=1)
    steady, cosine = train(TrainConfig(**base)), train(TrainConfig(**base, lr_schedule="cosine"))
    assert steady.checkpoint["provenance"]["trainer"]["lr_schedule"] == "constant"
    assert cosine.checkpoint["provenance"]["trainer"]["lr_schedule"] == "cosine"
    assert any(not torch.equal(s["gates"], c["gates"]) for s, c in
               zip(steady.checkpoint["layers"], cosine.checkpoint["layers"]))
