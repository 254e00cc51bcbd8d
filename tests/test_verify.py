"""Formal equivalence (lgn2hw.prove): the digits example proved, and three mutations of a compiled design that
the proof must catch, each with its counterexample replayed in the interpreter and in simulation."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import lgn2hw
from lgn2hw import prove
from lgn2hw.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits_lgn.pt"
pytestmark = pytest.mark.needs("yosys")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The digits example through ECP5 synthesis of the core (LUT4, TRELLIS_FF, CCU2C and 17 DP16KD counting
    tables), with the default proof."""
    out = tmp_path_factory.mktemp("verify") / "out"
    res = lgn2hw.compile(str(EXAMPLE), out, device="LFE5U-85F", package="CABGA381", stop_after="synth-core")
    return out, res.report


def _copy(out: Path, tmp: Path) -> Path:
    dst = tmp / "mutant"
    shutil.copytree(out, dst)
    return dst


def test_example_proved_by_default(built):
    out, rep = built
    assert rep["build"]["core"]["cells"]["DP16KD"] > 0        # the counting tables are in the proof
    ver = rep["verify"]
    assert ver["netlist"]["status"] == "equal"               # compile proves the mapped netlist by default
    assert json.loads((out / "report.json").read_text())["verify"] == ver
    # and verify proves the netlist after passes and the emitted Verilog against the checkpoint, pairing the
    # counted bits first (the emitted popcount merges duplicates and counts bits in block RAM)
    res = lgn2hw.verify(str(EXAMPLE), out, comparisons=("ir", "rtl"))
    for what in ("ir", "rtl"):
        assert res[what]["status"] == "equal" and res[what]["method"] == prove.METHODS["bits"]


def test_fast_clock_core_proved(tmp_path):
    # at 250 MHz the argmax is split (2-bit slice compares, a tree of registers) and the popcount registered
    # after every level: the synthesized netlist and the emitted Verilog are still proved equal
    out = tmp_path / "out"
    rep = lgn2hw.compile(str(EXAMPLE), out, device="LFE5U-85F", package="CABGA381", freq=250,
                         stop_after="synth-core").report
    assert rep["latency_breakdown"]["argmax"] > 2 * (rep["classes"] - 1).bit_length()
    assert rep["verify"]["netlist"]["status"] == "equal"
    res = lgn2hw.verify(str(EXAMPLE), out, comparisons=("rtl",))
    assert res["rtl"]["status"] == "equal"


def test_reference_blif_counts_like_the_interpreter(tmp_path):
    """The reference BLIF, read by yosys and evaluated on inputs by yosys' SAT solver, gives the interpreter's
    counts and class (not only ABC's word that two BLIFs agree)."""
    import numpy as np

    from lgn2hw.fpga.toolchain import require
    nl = lgn2hw.load(str(EXAMPLE))
    ports = {"in_bits": nl.n_inputs, "out_class": 4, "out_counts": 60}
    (tmp_path / "ref.blif").write_text(prove.reference_blif(nl, ports, 6, False))
    x = np.random.default_rng(3).integers(0, 2, (1, nl.n_inputs)).astype(np.uint8)
    want = lgn2hw.predict(nl, x)[0]
    sets = " ".join(f"-set in_bits[{i}] {int(b)}" for i, b in enumerate(x[0]))
    script = f"read_blif ref.blif\nsat {sets} -show out_class[0],out_class[1],out_class[2],out_class[3]" + \
        "".join(f",out_counts[{j}]" for j in range(60)) + "\n"
    (tmp_path / "ev.ys").write_text(script)
    require("yosys").run(["-q", "-l", "ev.log", "ev.ys"], tmp_path, tmp_path / "run.log", "test")
    vals = dict(re.findall(r"\\?(out_\w+\[\d+\])\s+\S+\s+\S+\s+([01])\s*$", (tmp_path / "ev.log").read_text(),
                           flags=re.M))
    cls = sum(int(vals[f"out_class[{j}]"]) << j for j in range(4))
    counts = [sum(int(vals[f"out_counts[{c * 6 + j}]"]) << j for j in range(6)) for c in range(10)]
    assert counts == [int(v) for v in want] and cls == int(want.argmax())


def _check_replay(res, wrong: str, right: str, what: str = "netlist"):
    r = res[what]
    assert r["status"] == "different" and set(r["counterexample"]) <= {"0", "1"}
    rep = r["replay"]
    assert rep["interpreter"]["counts"] == rep["interpreter_after_passes"]["counts"] if \
        "interpreter_after_passes" in rep else True
    sim_wrong, sim_right = rep[f"simulation_{wrong}"], rep[f"simulation_{right}"]
    if "skipped" in sim_wrong or "skipped" in sim_right:
        pytest.skip("no simulator for the replay")
    assert sim_wrong["equal_to_interpreter"] is False and sim_right["equal_to_interpreter"] is True


@pytest.mark.needs("iverilog")
def test_flipped_lut_init_bit_in_mapped_netlist(built, tmp_path):
    out, _ = built
    m = _copy(out, tmp_path)
    syn = m / "build" / "lgn_core.syn.v"
    text = syn.read_text()
    # a gate LUT of the first stage (read straight from the input register)
    hit = re.search(r"LUT4 #\(\s*\.INIT\(16'h([0-9a-f]{4})\)\s*\) \\datapath\.gates\.", text)
    assert hit
    init = int(hit.group(1), 16) ^ 0x0002      # A=1, B=0 (C and D are tied to 0 in a 2-input gate)
    syn.write_text(text[:hit.start(1)] + f"{init:04x}" + text[hit.end(1):])
    res = lgn2hw.verify(str(EXAMPLE), m, comparisons=("netlist",), timeout=300)
    _check_replay(res, "netlist", "rtl")


@pytest.mark.needs("iverilog")
def test_swapped_gate_inputs_in_emitted_verilog(built, tmp_path):
    out, _ = built
    m = _copy(out, tmp_path)
    gv = m / "lgn_core_gates.v"
    text = gv.read_text()
    # a LUT whose table is not symmetric in A and B: swapping them changes its function
    for hit in re.finditer(r"LUT4 #\(\.INIT\(16'h([0-9a-f]{4})\)\) (\w+) \(\.A\(([^)]*)\), \.B\(([^)]*)\)", text):
        t = int(hit.group(1), 16)
        swapped = sum(((t >> (m_ ^ (3 if (m_ & 1) != ((m_ >> 1) & 1) else 0))) & 1) << m_ for m_ in range(16))
        if swapped != t and hit.group(3) != hit.group(4):
            break
    else:
        pytest.fail("no asymmetric two-input LUT found")
    a, b = hit.group(3), hit.group(4)
    new = hit.group(0).replace(f".A({a}), .B({b})", f".A({b}), .B({a})")
    gv.write_text(text[:hit.start()] + new + text[hit.end():])
    res = lgn2hw.verify(str(EXAMPLE), m, comparisons=("rtl", "netlist"), timeout=300)
    _check_replay(res, "rtl", "netlist")
    _check_replay(res, "rtl", "netlist", "rtl")       # and the Verilog against the checkpoint
    assert res["rtl"]["method"] == prove.METHODS["bits"]


@pytest.mark.needs("iverilog")
def test_dropped_popcount_input_in_emitted_verilog(built, tmp_path, capsys):
    out, _ = built
    m = _copy(out, tmp_path)
    pv = m / "lgn_core_popcount.v"
    text = pv.read_text()
    body_start = text.index(");") + 2            # after the module header
    hit = re.search(r"\bbits\[(\d+)\]", text[body_start:])
    assert hit
    # every use of that input becomes 0: the popcount no longer counts it
    body = re.sub(rf"\bbits\[{hit.group(1)}\]", "1'b0", text[body_start:])
    pv.write_text(text[:body_start] + body)
    res = lgn2hw.verify(str(EXAMPLE), m, comparisons=("rtl", "netlist"), timeout=300)
    _check_replay(res, "rtl", "netlist")
    _check_replay(res, "rtl", "netlist", "rtl")
    assert res["rtl"]["method"] == prove.METHODS["bits"]
    # the command: the counterexample printed, then one error line and exit status 1
    capsys.readouterr()
    assert main(["verify", str(EXAMPLE), str(m), "--only", "netlist"]) == 1
    io = capsys.readouterr()
    assert "counterexample" in io.out
    assert io.err.startswith("lgn2hw: error: not equal to the checkpoint: netlist")


def test_bad_out_is_one_error_line(built, tmp_path, capsys):
    assert main(["verify", str(EXAMPLE), str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert re.match(r"^lgn2hw: error: .*missing is not a directory$", err[0])
    out, _ = built
    m = _copy(out, tmp_path)
    rep = json.loads((m / "report.json").read_text())
    rep["layers_before_passes"]["1"] += 1
    (m / "report.json").write_text(json.dumps(rep))
    assert main(["verify", str(EXAMPLE), str(m)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert re.match(r"^lgn2hw: error: .* was not compiled from this model", err[0])
    assert not any("Traceback" in line for line in err)


def test_prove_refuses_a_family_it_does_not_model_before_any_work(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compile", str(EXAMPLE), "--board", "tangnano9k", "--prove", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lgn2hw: error: --prove models the mapped cells of ecp5 and ice40 netlists, not gowin")
    assert not out.exists()


def test_pairing_accounts_for_every_bit_of_the_checkpoint():
    """Every bit the netlist after passes counts is paired with a checkpoint bit; the checkpoint's other bits are
    constants or complementary pairs (which the passes fold into the class offsets) that the offsets account for;
    a changed offset or a flipped inversion is refused."""
    import numpy as np
    nl = lgn2hw.load(str(EXAMPLE.parent / "mnist_lgn_96.pt"))
    plain = lgn2hw.optimize(nl.copy())
    before = prove.correspond(nl, plain.out_class, prove._signatures(plain))
    assert isinstance(before, prove.Correspondence)     # the trained network's own constants and pairs
    c2 = np.flatnonzero(nl.out_class == 2)
    nl.out_nets[c2[0]], nl.out_nets[c2[1]] = 1, 0                      # constant bits
    nl.out_nets[c2[3]], nl.out_invert[c2[3]] = nl.out_nets[c2[2]], not nl.out_invert[c2[2]]   # x and NOT x
    nl.out_nets[c2[5]], nl.out_invert[c2[5]] = nl.out_nets[c2[4]], nl.out_invert[c2[4]]       # a duplicate
    after = lgn2hw.optimize(nl.copy())
    sig = prove._signatures(after)
    cor = prove.correspond(nl, after.out_class, sig)
    assert isinstance(cor, prove.Correspondence)
    assert len(cor.match) == len(after.out_nets) and len(set(cor.match)) == len(cor.match)
    assert (len(cor.consts), len(cor.pairs)) == (len(before.consts) + 2, len(before.pairs) + 1)
    assert len(cor.match) + len(cor.consts) + 2 * len(cor.pairs) == len(nl.out_nets)
    assert prove._offsets_agree(nl, cor, after.class_offset) is None
    bumped = after.class_offset.copy()
    bumped[3] += 1
    assert "class 3" in prove._offsets_agree(nl, cor, bumped)
    flipped = after.copy()
    j = int(np.flatnonzero(~flipped.out_invert)[0])
    flipped.out_invert[j] = True
    res = prove.correspond(nl, flipped.out_class, prove._signatures(flipped))
    assert isinstance(res, str) or prove._offsets_agree(nl, res, flipped.class_offset) is not None


def test_plan_sum_refuses_a_tree_that_drops_an_input():
    import copy

    from lgn2hw.back._popcount import _plan
    weights = [1] * 9 + [2]
    plan = copy.deepcopy(_plan(10, weights, "cin"))
    w = prove._Blif()
    values = [f"v{i}" for i in range(10)]
    word, top = prove.plan_sum(w, plan, values, weights)
    assert top == 11 and len(word) >= 4
    leaf = next(op for op in plan.levels[0] if op.kind == "leaf" and len(op.bits) > 1)
    leaf.bits = leaf.bits[1:]
    with pytest.raises(ValueError, match="exactly once"):
        prove.plan_sum(prove._Blif(), plan, values, weights)


def test_generic_verilog_with_feature_inputs_proved(tmp_path):
    """The other emitter path: generic Verilog (no LUT primitives, no block RAM, the ``fa`` popcount) taking raw
    8-bit features compared on chip; the netlist after passes and the Verilog are proved with the bits paired."""
    out = tmp_path / "features"
    res = lgn2hw.compile(str(EXAMPLE), out, features=True)
    assert any(p["name"] == "in_features" for p in res.report["ports"])
    ver = lgn2hw.verify(str(EXAMPLE), out, comparisons=("ir", "rtl"))
    for what in ("ir", "rtl"):
        assert ver[what]["status"] == "equal" and ver[what]["method"] == prove.METHODS["bits"]
