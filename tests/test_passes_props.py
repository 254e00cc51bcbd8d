"""Property tests of every pass on random layered netlists: class counts stay exactly equal (against the
interpreter on the original and an independent node-by-node evaluator), each pass is idempotent, never grows the
netlist, keeps the IR invariants and survives a dump/parse round trip."""
import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lgn2hw import gates
from lgn2hw.ir import dump, evaluate, parse
from lgn2hw.ir.analysis import live_nodes, logic_nodes
from lgn2hw.passes import DEFAULT, run_passes

from netlists import naive_counts, random_layered

PASSES = {p.name: p for p in DEFAULT}


def decorate(nl, rng):
    """Add the structures passes look for: NOT/buffer/constant-like tables, copies of an earlier node of the same
    arity (plain, with permuted inputs or with the output negated) and nets read twice by one node."""
    nl = nl.copy()
    for i in range(nl.n_nodes):
        k = int(nl.arity[i])
        r = rng.random()
        if r < 0.15 and k >= 1:          # a NOT or buffer of one input, still of arity k
            j = int(rng.integers(0, k))
            zero_mask = np.uint64(0)
            for m in range(1 << k):
                if not (m >> j) & 1:
                    zero_mask |= np.uint64(1 << m)
            nl.tables[i] = zero_mask if rng.random() < 0.7 else (~zero_mask & gates.table_mask(k))
        elif r < 0.3:                      # copy an earlier node of the same arity and level of inputs
            same = [c for c in range(i) if nl.arity[c] == k]
            if same:
                c = int(rng.choice(same))
                t = np.uint64(nl.tables[c])
                f = nl.fanin[c, :k].copy()
                if k >= 2 and rng.random() < 0.5:
                    a, b = rng.choice(k, 2, replace=False)
                    t = gates.swap_inputs(t, k, int(a), int(b))
                    f[[a, b]] = f[[b, a]]
                if rng.random() < 0.3:
                    t = gates.negate_output(t, k)
                nl.tables[i] = t
                nl.fanin[i, :k] = f
        elif r < 0.4 and k >= 2:           # the same net twice
            a, b = rng.choice(k, 2, replace=False)
            nl.fanin[i, b] = nl.fanin[i, a]
        elif r < 0.45 and k >= 1:          # a constant input
            nl.fanin[i, int(rng.integers(0, k))] = int(rng.integers(0, 2))
    nl.check()
    return nl


def make(seed):
    rng = np.random.default_rng(seed)
    max_arity = int(rng.choice([2, 2, 3, 4, 6]))
    nl = random_layered(rng, max_arity=max_arity, skip=bool(rng.integers(0, 2)),
                        fold_outputs=bool(rng.integers(0, 2)), encoding=bool(rng.integers(0, 2)))
    return decorate(nl, rng), rng


def inputs_for(nl, rng):
    if nl.n_inputs <= 10:
        return np.array(list(itertools.product((0, 1), repeat=nl.n_inputs)), dtype=np.uint8).reshape(-1, nl.n_inputs)
    return rng.integers(0, 2, (300, nl.n_inputs)).astype(np.uint8)


def assert_same_text(a, b):
    assert dump(a) == dump(b)


SETTINGS = settings(max_examples=int(__import__("os").environ.get("LGN2HW_EXAMPLES", 150)), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.sampled_from(sorted(PASSES)))
def test_each_pass_preserves_counts_idempotent_no_growth(seed, name):
    nl, rng = make(seed)
    x = inputs_for(nl, rng)
    expected = evaluate(nl, x)
    before = dump(nl)
    out, stats = PASSES[name].run(nl.copy())
    assert dump(nl) == before                       # the input netlist is untouched through a copy
    out.check()
    assert out.n_nodes <= nl.n_nodes
    np.testing.assert_array_equal(evaluate(out, x), expected)
    again, stats2 = PASSES[name].run(out.copy())
    assert not stats2["changed"], stats2
    assert_same_text(again, out)
    back = parse(dump(out))
    assert_same_text(back, out)
    np.testing.assert_array_equal(evaluate(back, x), expected)


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_default_pipeline_preserves_counts(seed):
    nl, rng = make(seed)
    x = inputs_for(nl, rng)
    out, report = run_passes(nl, DEFAULT, check=True)
    np.testing.assert_array_equal(evaluate(out, x), evaluate(nl, x))
    np.testing.assert_array_equal(naive_counts(out, x[:64]), naive_counts(nl, x[:64]))
    assert out.n_nodes <= nl.n_nodes
    assert max(out.arity, default=0) <= max(nl.arity, default=0)   # no pass widens a gate
    # after the pipeline every node is live real logic, and nothing is left that a pass would remove
    assert live_nodes(out).all() and logic_nodes(out).all()
    assert report.gates_live == out.n_nodes
    again, report2 = run_passes(out, DEFAULT, check=True)
    assert report2.rounds == 1
    assert_same_text(again, out)
    assert_same_text(parse(dump(out)), out)


def test_pipeline_on_hand_built_cases():
    """Small cases with known outcomes, worked out by hand."""
    from lgn2hw.ir import Netlist
    t = gates.tables_from_gate_ids
    AND, NOT_A, OR, TRUE, XOR = 1, 12, 7, 15, 6
    # inputs x0, x1 (nets 2, 3); layer 1: n4 = NOT x0, n5 = x0 AND x1, n6 = TRUE, n7 = x1 AND x0
    # layer 2: n8 = NOT n4 (= x0), n9 = n5 OR n7 (= x0 AND x1), n10 = n6 AND n5 (= n5), n11 = n4 XOR n4 (= 0)
    nl = Netlist.from_layers(2, [(t([NOT_A, AND, TRUE, AND]), [[0, 0], [0, 1], [0, 0], [1, 0]]),
                                 (t([NOT_A, OR, AND, XOR]), [[0, 0], [1, 3], [2, 1], [0, 0]])], 2)
    out, report = run_passes(nl, DEFAULT, check=True)
    # class 0 = x0 + (x0 AND x1); class 1 = (x0 AND x1) + 0: one AND gate is all that is left
    assert out.n_nodes == 1 and report.gates_live == 1
    assert int(out.tables[0]) == int(t([AND])[0])
    x = np.array(list(itertools.product((0, 1), repeat=2)), dtype=np.uint8)
    np.testing.assert_array_equal(evaluate(out, x), evaluate(nl, x))
    assert sorted(out.out_nets.tolist()) == [2, 4, 4]       # x0 directly, the AND twice; the 0 bit is gone
    assert report.gates_trained == 8


def test_groupsum_cancels_x_and_not_x():
    from lgn2hw.ir import Netlist
    t = gates.tables_from_gate_ids
    # class 0 counts x0 AND x1 and NOT (x0 AND x1): always 1, so no gate is needed at all
    nl = Netlist.from_layers(2, [(t([1, 14]), [[0, 1], [0, 1]])], 1)
    out, _ = run_passes(nl, DEFAULT, check=True)
    assert out.n_nodes == 0 and len(out.out_nets) == 0 and out.class_offset.tolist() == [1]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_default_pipeline_on_wider_deeper_netlists(seed):
    rng = np.random.default_rng(seed)
    nl = random_layered(rng, n_inputs=int(rng.integers(4, 40)), layers=int(rng.integers(3, 9)),
                        width=int(rng.integers(20, 80)), max_arity=int(rng.choice([2, 3, 6])),
                        skip=bool(rng.integers(0, 2)), fold_outputs=True)
    nl = decorate(nl, rng)
    x = rng.integers(0, 2, (512, nl.n_inputs)).astype(np.uint8)
    out, report = run_passes(nl, DEFAULT, check=True)
    np.testing.assert_array_equal(evaluate(out, x), evaluate(nl, x))
    assert report.gates_live == out.n_nodes <= nl.n_nodes
    assert sum(report.layers_live.values()) == report.gates_live
