"""LUT mapping: the mapped netlist computes the same class counts with nodes of at most k inputs, never more LUT
levels than gate levels, and packs trees of 2-input gates into single LUTs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgn2hw import gates
from lgn2hw.ir import Netlist, evaluate
from lgn2hw.ir.analysis import depth, live_nodes
from lgn2hw.passes import DEFAULT, run_passes
from lgn2hw.passes.lutmap import LutMap, lut_map

from netlists import EXAMPLE, random_layered

AND, OR, XOR = (int(gates.tables_from_gate_ids([g])[0]) for g in (1, 7, 6))
NO_C_MAPPER = "a C compiler is installed but the C mapper is not there (did _lutmap.c fail to build?)"


def _all_inputs(n):
    return ((np.arange(1 << n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.uint8)


def _check(nl, k, samples=None):
    mapped, stats = lut_map(nl, k)
    mapped.check()
    x = samples if samples is not None else _all_inputs(nl.n_inputs)
    assert np.array_equal(evaluate(mapped, x), evaluate(nl, x))
    narrow = nl.arity[live_nodes(nl)] <= k
    if narrow.all():
        assert int(mapped.arity.max(initial=0)) <= k
        assert depth(mapped) <= depth(nl)
    assert stats["luts"] == mapped.n_nodes
    return mapped, stats


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.sampled_from([2, 3, 4, 6]), arity=st.sampled_from([2, 3, 6]))
def test_mapping_keeps_counts(seed, k, arity):
    rng = np.random.default_rng(seed)
    nl = random_layered(rng, n_inputs=int(rng.integers(1, 11)), max_arity=arity, skip=bool(rng.integers(0, 2)),
                        fold_outputs=True)
    _check(nl, k)


def test_tree_of_three_gates_is_one_lut():
    # (a AND b) XOR (c OR d): three gates, four inputs, two levels -> one LUT4 of depth 1
    layers = [(np.array([AND, OR], np.uint64), np.array([[0, 1], [2, 3]])),
              (np.array([XOR], np.uint64), np.array([[0, 1]]))]
    nl = Netlist.from_layers(4, layers, 1)
    mapped, stats = _check(nl, 4)
    assert mapped.n_nodes == 1 and stats["depth"] == 1 and int(mapped.arity[0]) == 4
    assert mapped.origin(0) == "layer 2[0]"
    x = _all_inputs(4)
    want = (x[:, 0] & x[:, 1]) ^ (x[:, 2] | x[:, 3])
    assert np.array_equal(gates.evaluate(mapped.tables[:1], 4, [x[:, j] for j in range(4)]), want)
    # with 2-input LUTs nothing can be merged
    assert lut_map(nl, 2)[0].n_nodes == 3


def test_shared_gate_is_absorbed_into_both_readers():
    # g = a AND b read by (g XOR c) and (g XOR d); buffers carry c and d to layer 2. Depth-optimal and smallest:
    # two LUT3s of one level each (g duplicated inside both), not three LUTs on two levels.
    BUF = 0b10
    tables = np.array([AND, BUF, BUF, XOR, XOR], np.uint64)
    nl = Netlist(n_inputs=4, tables=tables, arity=np.array([2, 1, 1, 2, 2], np.uint8),
                 fanin=np.array([[2, 3], [4, 0], [5, 0], [6, 7], [6, 8]], np.int32),
                 layer=np.array([1, 1, 1, 2, 2], np.int32), index=np.array([0, 1, 2, 0, 1], np.int32),
                 out_nets=np.array([9, 10], np.int32), out_class=np.array([0, 1], np.int32),
                 out_invert=np.zeros(2, bool), class_offset=np.zeros(2, np.int64))
    mapped, stats = _check(nl, 4)
    assert mapped.n_nodes == 2 and stats["depth"] == 1
    assert sorted(int(a) for a in mapped.arity) == [3, 3]


def test_trained_example_packs(tmp_path):
    from lgn2hw.frontend import load_model
    nl = load_model(EXAMPLE)
    nl, _ = run_passes(nl, DEFAULT)
    x = np.random.default_rng(0).integers(0, 2, (2000, nl.n_inputs)).astype(np.uint8)
    mapped, stats = _check(nl, 4, x)
    gates_live = int((live_nodes(nl) & (nl.arity > 0)).sum())
    # 2-input gates pack into LUT4s: clearly fewer LUTs than gates, and at most half the levels (rounded up)
    assert mapped.n_nodes < 0.8 * gates_live
    assert stats["depth"] <= -(-depth(nl) // 2) + 1


def test_pass_object_and_bad_size():
    nl = random_layered(np.random.default_rng(3), n_inputs=6, fold_outputs=True)
    out, stats = LutMap(k=4).run(nl.copy())
    assert np.array_equal(evaluate(out, _all_inputs(6)), evaluate(nl, _all_inputs(6)))
    assert repr(LutMap(k=4)) == "LutMap(k=4)"
    with pytest.raises(ValueError):
        lut_map(nl, 7)


@pytest.mark.needs("cc")
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.sampled_from([2, 3, 4, 5, 6]), arity=st.sampled_from([2, 3, 6]),
       cuts=st.sampled_from([1, 3, 8, 16]))
def test_c_and_python_mappers_map_alike(seed, k, arity, cuts):
    """The C mapper (_lutmap.c) and the Python one choose the same cuts and tables: the mapped netlists are equal,
    truth table for truth table."""
    from lgn2hw.ir import dump
    from lgn2hw.passes import lutmap
    assert lutmap._native_mapper() is not None, NO_C_MAPPER
    rng = np.random.default_rng(seed)
    nl = random_layered(rng, n_inputs=int(rng.integers(1, 16)), layers=int(rng.integers(1, 7)),
                        width=int(rng.integers(1, 40)), max_arity=arity, skip=bool(rng.integers(0, 2)),
                        fold_outputs=True)
    native, stats = lut_map(nl, k, cuts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LGN2HW_LUTMAP", "python")
        assert lutmap._native_mapper() is None
        python, python_stats = lut_map(nl, k, cuts)
    assert dump(native) == dump(python)
    assert (stats["engine"], python_stats["engine"]) == ("c", "python")
    assert {**stats, "engine": "python"} == python_stats


@pytest.mark.needs("cc")
def test_c_and_python_mappers_map_the_trained_example_alike(monkeypatch):
    from lgn2hw.frontend import load_model
    from lgn2hw.ir import dump
    from lgn2hw.passes import lutmap
    assert lutmap._native_mapper() is not None, NO_C_MAPPER
    nl, _ = run_passes(load_model(EXAMPLE), DEFAULT)
    native = dump(lut_map(nl)[0])
    monkeypatch.setenv("LGN2HW_LUTMAP", "python")
    assert native == dump(lut_map(nl)[0])


@pytest.mark.parametrize("case", ["no nodes", "outputs on inputs and constants", "constant and dead nodes"])
def test_edge_netlists_map_alike_in_c_and_python(monkeypatch, case, have):
    """Netlists without gates, with output bits on inputs or the constant nets, and with arity-0 (constant) and
    unread nodes: both mappers give the same, equal netlist."""
    from lgn2hw.ir import dump
    from lgn2hw.passes import lutmap
    if case == "no nodes":
        kw = dict(tables=np.zeros(0, np.uint64), arity=np.zeros(0, np.uint8), fanin=np.zeros((0, 0), np.int32),
                  layer=np.zeros(0, np.int32), index=np.zeros(0, np.int32), out_nets=np.array([2, 3, 0], np.int32))
    else:
        # nets: 0, 1, inputs 2..4, nodes 5 (AND 2 3), 6 (constant 1), 7 (XOR 5 4, unread), 8 (OR 5 6)
        kw = dict(tables=np.array([AND, 1, XOR, OR], np.uint64), arity=np.array([2, 0, 2, 2], np.uint8),
                  fanin=np.array([[2, 3], [0, 0], [5, 4], [5, 6]], np.int32), layer=np.array([1, 1, 2, 2], np.int32),
                  index=np.arange(4, dtype=np.int32),
                  out_nets=np.array([2, 1, 0] if case.startswith("outputs") else [8, 6, 5], np.int32))
    nl = Netlist(n_inputs=3, out_class=np.array([0, 1, 1], np.int32), out_invert=np.array([False, True, False]),
                 class_offset=np.zeros(2, np.int64), **kw)
    nl.check()
    mapped, _ = _check(nl, 4)
    if not have("cc"):
        pytest.skip("not installed: cc (only the Python mapper exists here)")
    assert lutmap._native_mapper() is not None, NO_C_MAPPER
    monkeypatch.setenv("LGN2HW_LUTMAP", "python")
    assert dump(lut_map(nl, 4)[0]) == dump(mapped)
