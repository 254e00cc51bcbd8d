"""Passes on trained networks: integer class counts on the digits test images after every single pass run.

A small difflogic-style network is trained here in a few seconds (softmax over the 16 gates, the probabilistic
relaxation of ``gates.gate_coefficients``), so the test needs nothing but torch and scikit-learn; the committed
example checkpoint is used as well."""
import numpy as np
import pytest
import torch

from lgn2hw import gates
from lgn2hw.data import load_digits
from lgn2hw.ir import Netlist, dump, evaluate, parse
from lgn2hw.ir.analysis import live_nodes, logic_nodes
from lgn2hw.passes import DEFAULT, run_passes

from netlists import EXAMPLE


def train_tiny(x_bits, y, widths=(600, 600, 400), classes=10, steps=60, seed=0):
    """Fully trained is not the point; a network whose gates came out of training is (many pass-throughs,
    constants and NOTs appear, as in real models)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # small tensors: threads only contend (the suite runs beside other jobs)
    try:
        return _train(x_bits, y, widths, classes, steps, seed)
    finally:
        torch.set_num_threads(threads)


def _train(x_bits, y, widths, classes, steps, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.tensor(x_bits, dtype=torch.float32)
    coef = torch.tensor(gates.gate_coefficients(), dtype=torch.float32)      # (16, 4)
    params, wiring, prev = [], [], x.shape[1]
    for w in widths:
        params.append(torch.nn.Parameter(torch.randn(w, 16, generator=gen)))
        wiring.append(torch.randint(0, prev, (2, w), generator=gen))
        prev = w
    opt = torch.optim.Adam(params, lr=0.1)
    tau = (widths[-1] / classes) ** 0.5
    for _ in range(steps):
        h = x
        for p, (a, b) in zip(params, wiring):
            ha, hb = h.index_select(1, a), h.index_select(1, b)
            mix = torch.softmax(p, -1) @ coef          # (w, 4): the expected gate as c0 + c1 a + c2 b + c3 ab
            h = mix[:, 0] + mix[:, 1] * ha + mix[:, 2] * hb + mix[:, 3] * ha * hb
        logits = h.reshape(len(h), classes, -1).sum(-1) / tau
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    layers = [(gates.tables_from_gate_ids(p.argmax(-1).numpy()), wr.numpy().T) for p, wr in zip(params, wiring)]
    return Netlist.from_layers(x.shape[1], layers, classes)


@pytest.fixture(scope="module")
def digits():
    ds = load_digits()
    return ds.train_bits, ds.y_train, ds.test_bits, ds.y_test


@pytest.fixture(scope="module")
def trained(digits):
    x, y, _, _ = digits
    torch.manual_seed(0)
    return train_tiny(x, y)


def check_every_pass(nl, bits):
    reference = evaluate(nl, bits)
    cur, rounds = nl, 0
    while True:
        rounds += 1
        changed = False
        for p in DEFAULT:
            nxt, stats = p.run(cur.copy())
            nxt.check()
            assert nxt.n_nodes <= cur.n_nodes
            np.testing.assert_array_equal(evaluate(nxt, bits), reference, err_msg=f"after {p.name}, round {rounds}")
            again, stats2 = p.run(nxt.copy())
            assert not stats2["changed"] and dump(again) == dump(nxt), f"{p.name} is not idempotent"
            assert dump(parse(dump(nxt))) == dump(nxt)
            changed |= stats["changed"]
            cur = nxt
        if not changed:
            return cur
        assert rounds < 10


def test_trained_network_counts_after_every_pass(trained, digits):
    _, _, x_test, y_test = digits
    out = check_every_pass(trained, x_test)
    # the driver reaches the same netlist, and it is all live logic
    drv, report = run_passes(trained, DEFAULT, check=True)
    assert dump(drv) == dump(out)
    assert live_nodes(drv).all() and logic_nodes(drv).all()
    assert report.gates_live == drv.n_nodes < trained.n_nodes
    # training left constants, wires and NOTs behind, so the passes have something to do
    assert report.gates_live < 0.9 * live_nodes(trained).sum()
    counts = evaluate(drv, x_test)
    assert (counts.argmax(1) == y_test).mean() > 0.5          # it did learn something


def test_example_checkpoint(digits):
    from lgn2hw.frontend import load_model
    nl = load_model(EXAMPLE)
    ds = load_digits()
    bits = ds.encoding.apply(ds.x_test) if nl.encoding is None else nl.encoding.apply(ds.x_test)
    check_every_pass(nl, bits)
