"""The pass driver: copying, fixpoint with a cap, invariant checks, statistics, dumps; and the CLI flags."""
import json
import re

import numpy as np
import pytest

from lgn2hw import gates
from lgn2hw.errors import PassError, UsageError
from lgn2hw.ir import Netlist, dump, evaluate, parse
from lgn2hw.passes import DEFAULT, Pass, run_passes

from netlists import random_layered


def small():
    t = gates.tables_from_gate_ids
    # layer 1: NOT x0, x0 AND x1, FALSE, x1 ; layer 2 (2 classes): n4 OR n5, n6 XOR n7
    return Netlist.from_layers(2, [(t([12, 1, 0, 5]), [[0, 0], [0, 1], [0, 1], [1, 1]]),
                                   (t([7, 6]), [[0, 1], [2, 3]])], 2)


class Restless(Pass):
    """Says it changed something every time: the driver must give up at the cap."""
    name = "restless"

    def run(self, nl):
        return nl, {"changed": True}


class Breaker(Pass):
    """Breaks an invariant (an input net that is not earlier than its node)."""
    name = "breaker"

    def run(self, nl):
        if nl.n_nodes:
            nl.fanin[0, 0] = nl.first_node_net + 5
        return nl, {"changed": False}


class Grower(Pass):
    name = "grower"

    def run(self, nl):
        nl.tables = np.concatenate([nl.tables, nl.tables[:1]])
        nl.arity = np.concatenate([nl.arity, nl.arity[:1]])
        nl.fanin = np.concatenate([nl.fanin, nl.fanin[:1]])
        nl.layer = np.concatenate([nl.layer, nl.layer[:1]])
        nl.index = np.concatenate([nl.index, nl.index[:1]])
        return nl, {"changed": False}


def test_driver_copies_and_reports():
    nl = small()
    before = dump(nl)
    out, report = run_passes(nl, DEFAULT, check=True)
    assert dump(nl) == before
    assert report.gates_trained == 6
    # class 0: NOT x0 OR (x0 AND x1): the NOT is absorbed, the AND and the OR stay (no pass looks through
    # reconvergent cones); class 1: FALSE XOR x1 = x1, a wire
    assert report.gates_live == 2 == out.n_nodes
    assert report.layers_trained == {1: 4, 2: 2} and report.layers_live == {1: 1, 2: 1}
    assert report.rounds >= 2 and report.runs[-1]["round"] == report.rounds
    assert [r["pass"] for r in report.runs[:len(DEFAULT)]] == [p.name for p in DEFAULT]
    totals = report.totals()
    assert set(totals) == {p.name for p in DEFAULT}
    assert sum(t["nodes_removed"] for t in totals.values()) == 4
    d = report.as_dict()
    json.dumps(d)
    assert d["layers"] == [{"layer": 1, "trained": 4, "live": 1}, {"layer": 2, "trained": 2, "live": 1}]
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.uint8)
    np.testing.assert_array_equal(evaluate(out, x), evaluate(nl, x))


def test_empty_pipeline_and_empty_netlist():
    nl = small()
    out, report = run_passes(nl, [])
    assert out is not nl and dump(out) == dump(nl) and report.rounds == 0
    rng = np.random.default_rng(3)
    nl = random_layered(rng, layers=1, classes=1)
    nl.tables[:] = 0   # every node constant FALSE
    out, _ = run_passes(nl, DEFAULT, check=True)
    assert out.n_nodes == 0 and len(out.out_nets) == 0
    assert out.class_offset.tolist() == [int(nl.class_offset[0])]


def test_cap_raises_pass_error():
    with pytest.raises(PassError, match=r"^passes did not reach a fixpoint within 3 rounds$"):
        run_passes(small(), [Restless()], max_rounds=3)


def test_check_catches_broken_invariants_and_growth():
    with pytest.raises(PassError, match=r"^pass 'breaker' broke an IR invariant: "):
        run_passes(small(), [Breaker()], check=True)
    run_passes(small(), [Breaker()], check=False)      # unchecked: the driver trusts the pass
    with pytest.raises(PassError, match=r"^pass 'grower' grew the netlist from 6 to 7 nodes$"):
        run_passes(small(), [Grower()], check=True)


def test_dump_after():
    nl = small()
    out, report = run_passes(nl, DEFAULT, dump_after="not")
    assert report.dumped is not None
    text = dump(report.dumped)
    assert parse(text).n_nodes == report.dumped.n_nodes
    # the last run of 'not' happened before that round's strash/groupsum/dce: same function, maybe more nodes
    assert report.dumped.n_nodes >= out.n_nodes
    with pytest.raises(UsageError, match=r"^--dump-after must name a pass of the pipeline \(const, not, strash, "
                                         r"fraig, groupsum, dce\), not 'nope'$"):
        run_passes(nl, DEFAULT, dump_after="nope")


# --- CLI ----------------------------------------------------------------------------------------------------
@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "small.netlist"
    path.write_text(dump(small()))
    return path


def test_cli_info_reports_live_gates(model_file, capsys):
    from lgn2hw.cli import main
    assert main(["info", str(model_file), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["gates_trained"] == 6 and info["gates_live"] == 2
    assert info["layers"] == [{"layer": 1, "gates": 4, "live": 1}, {"layer": 2, "gates": 2, "live": 1}]
    assert set(info["passes"]["per_pass"]) == {p.name for p in DEFAULT}
    assert info["passes"]["runs"][0]["pass"] == "const"
    assert main(["info", str(model_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == info            # deterministic: no times in the output
    assert main(["info", str(model_file)]) == 0
    out = capsys.readouterr().out
    assert "gates    6 in 2 layers, depth 2; 2 live after the passes" in out
    assert "  layer   2:         2 gates,         1 live" in out
    assert main(["info", str(model_file), "--no-passes", "--json"]) == 0
    assert "gates_live" not in json.loads(capsys.readouterr().out)


def test_cli_predict_with_and_without_passes_and_dump(model_file, tmp_path, capsys):
    from lgn2hw.cli import main
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 3, dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    expected = evaluate(small(), x)
    for extra in ([], ["--no-passes"], ["--debug"]):
        assert main(["predict", str(model_file), str(tmp_path / "x.npy"), "-o", str(tmp_path / "c.npy"),
                     *extra]) == 0
        np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), expected)
    capsys.readouterr()
    assert main(["predict", str(model_file), str(tmp_path / "x.npy"), "-o", str(tmp_path / "c.npy"),
                 "--dump-after", "strash", "--dump-dir", str(tmp_path / "dumps")]) == 0
    err = capsys.readouterr().err
    dumped = tmp_path / "dumps" / "small.after-strash.netlist"
    assert err.strip() == f"lgn2hw: wrote {dumped}"
    np.testing.assert_array_equal(evaluate(parse(dumped.read_text()), x), expected)
    code = main(["predict", str(model_file), str(tmp_path / "x.npy"), "-o", str(tmp_path / "d.npy"),
                 "--dump-after", "bogus"])
    err = capsys.readouterr().err
    assert code == 1 and re.match(r"^lgn2hw: error: --dump-after must name a pass", err)
    assert not (tmp_path / "d.npy").exists()
    code = main(["info", str(model_file), "--no-passes", "--dump-after", "dce"])
    assert code == 1 and capsys.readouterr().err.startswith("lgn2hw: error: --dump-after needs the passes")


# --- analyses the passes and `info` use ------------------------------------------------------------------------
def test_analyses_on_a_hand_built_netlist():
    from lgn2hw.ir.analysis import fanout_histogram, live_nodes, live_per_layer, logic_nodes, op_histogram
    nl = small()
    # nodes: NOT_A (inverter), AND, FALSE (constant), B (buffer), OR, XOR
    assert logic_nodes(nl).tolist() == [False, True, False, False, True, True]
    assert live_nodes(nl).tolist() == [True, True, True, True, True, True]
    assert live_per_layer(nl) == {1: 1, 2: 2}
    assert live_per_layer(nl, logic_only=False) == {1: 4, 2: 2}
    assert op_histogram(nl) == {"AND": 1, "B": 1, "FALSE": 1, "NOT_A": 1, "OR": 1, "XOR": 1}
    # every layer-1 node is read once, the two outputs once each
    assert fanout_histogram(nl) == {1: 6}
    nl.out_nets = nl.out_nets[:1].copy()
    nl.out_class = nl.out_class[:1].copy()
    nl.out_invert = nl.out_invert[:1].copy()
    assert live_nodes(nl).tolist() == [True, True, False, False, True, False]
    assert op_histogram(nl, live_only=True) == {"AND": 1, "NOT_A": 1, "OR": 1}
    assert fanout_histogram(nl) == {0: 1, 1: 5}


def test_first_of_equal_rows():
    from lgn2hw.passes._rewire import first_of_equal_rows
    rng = np.random.default_rng(2)
    for shape in ((0, 3), (1, 0), (5, 0), (50, 1), (200, 3)):
        key = rng.integers(0, 3, shape)
        got = first_of_equal_rows(key)
        want = [next(j for j in range(len(key)) if (key[j] == key[i]).all()) for i in range(len(key))]
        assert got.tolist() == want
