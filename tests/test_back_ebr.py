"""Block-RAM counting stage: the table layout agrees with yosys' own ECP5 memory mapping, the grouping rules hold,
and cores that use the blocks equal the interpreter in RTL simulation (Icarus, Verilator) and after synthesis
(the mapped netlist with the DP16KD model), where a changed table entry is caught."""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from lgn2hw.back import EmitOptions, _ebr, emit_verilog
from lgn2hw.back.rtlsim import simulate
from lgn2hw.errors import ToolchainError
from lgn2hw.fpga import BuildOptions, postsim, resolve_target, run_build
from lgn2hw.fpga.toolchain import require
from lgn2hw.fpga.toolchain import share_dir as _share_dir
from lgn2hw.ir import evaluate

from netlists import naive_counts, random_layered

needs_yosys = pytest.mark.needs("yosys")
SIMS = [pytest.param("icarus", marks=pytest.mark.needs("iverilog", "cocotb")),       # RTL simulation
        pytest.param("verilator", marks=pytest.mark.needs("verilator", "cocotb"))]


@needs_yosys
def test_table_layout_matches_yosys_memory_mapping(tmp_path):
    """yosys maps an inferred 4K x 4 ROM holding the same tables onto DP16KD: its INITVALs must be ours."""
    lines = ["module roms (input clk, input [11:0] a, input [11:0] b, output reg [3:0] qa, output reg [3:0] qb);",
             "  reg [3:0] plain [0:4095];", "  reg [3:0] inv [0:4095];", "  integer i;",
             "  initial for (i = 0; i < 4096; i = i + 1) begin plain[i] = $countones(i); "
             "inv[i] = 12 - $countones(i); end",
             "  always @(posedge clk) begin qa <= plain[a]; qb <= inv[b]; end", "endmodule", ""]
    (tmp_path / "roms.v").write_text("\n".join(lines))
    (tmp_path / "roms.ys").write_text("read_verilog -sv roms.v\nsynth_ecp5 -top roms\nwrite_json roms.json\n")
    require("yosys").run(["-q", "roms.ys"], tmp_path, tmp_path / "yosys.log", "synth")
    cells = json.loads((tmp_path / "roms.json").read_text())["modules"]["roms"]["cells"].values()
    brams = [c for c in cells if c["type"] == "DP16KD"]
    assert len(brams) == 2
    port_of = {}
    names = json.loads((tmp_path / "roms.json").read_text())["modules"]["roms"]["netnames"]
    qa_bits = names["qa"]["bits"]
    for c in brams:
        assert int(c["parameters"]["DATA_WIDTH_A"], 2) == 4
        inverted = c["connections"]["DOA0"] != [qa_bits[0]] and c["connections"].get("DOB0") != [qa_bits[0]]
        ours = _ebr.initvals(inverted)
        theirs = [int(c["parameters"][f"INITVAL_{i:02X}"], 2) for i in range(64)]
        assert theirs == ours
        port_of[inverted] = True
    assert set(port_of) == {False, True}


def test_initvals_count_ones():
    for inverted in (False, True):
        words = _ebr.initvals(inverted)
        flat = sum(w << (320 * i) for i, w in enumerate(words))
        for a in (0, 1, 2, 3, 5, 0x7FF, 0xABC, 0xFFF):
            base = (a // 4) * 20 + (9 if a % 4 >= 2 else 0) + (a % 2) * 4
            got = (flat >> base) & 0xF
            ones = bin(a).count("1")
            assert got == (12 - ones if inverted else ones)


def test_grouping_rules():
    rng = np.random.default_rng(0)
    n = 700
    cls = rng.integers(0, 5, n).tolist()
    inv = (rng.random(n) < 0.3).tolist()
    cand = [i for i in range(n) if i % 7]
    for blocks in (0, 1, 3, 10, 1000):
        plan = _ebr.plan_groups(cls, inv, cand, blocks)
        assert len(plan.blocks) <= blocks
        seen = set()
        for c, pos, polarity in plan.groups:
            assert len(pos) == _ebr.ADDR_BITS and len(set(pos)) == len(pos)
            assert all(cls[p] == c and inv[p] == polarity and p in cand for p in pos)
            assert not seen & set(pos)
            seen |= set(pos)
        for a, b in plan.blocks:
            assert b is None or plan.groups[a][2] == plan.groups[b][2]
        assert sorted(g for blk in plan.blocks for g in blk if g is not None) == list(range(len(plan.groups)))
        if blocks == 1000:   # every full group of every (class, polarity) is taken
            for c in range(5):
                for p in (False, True):
                    m = sum(1 for i in cand if cls[i] == c and inv[i] == p)
                    assert sum(1 for g in plan.groups if g[0] == c and g[2] == p) == m // _ebr.ADDR_BITS
        if blocks == 10:     # scarce blocks are shared round-robin: class shares differ by at most a block
            per = np.bincount([g[0] for g in plan.groups], minlength=5)
            assert per.max() - per.min() <= 2


def _net(seed=5):
    rng = np.random.default_rng(seed)
    nl = random_layered(rng, n_inputs=16, layers=3, width=120, classes=3, max_arity=2, fold_outputs=True)
    # duplicates: the first bits of class 0 once more (weight 2 in the popcount)
    first = np.flatnonzero(nl.out_class == 0)[:5]
    nl.out_nets = np.concatenate([nl.out_nets, nl.out_nets[first]])
    nl.out_class = np.concatenate([nl.out_class, nl.out_class[first]])
    nl.out_invert = np.concatenate([nl.out_invert, nl.out_invert[first]])
    nl.check()
    return nl


@pytest.mark.parametrize("sim", SIMS)
def test_rtl_with_blocks_equals_interpreter(sim):
    nl = _net()
    opts = EmitOptions(pipeline=1, ebr_blocks=3, argmax_split=True, popcount_style="pack", popcount_every=1)
    res = emit_verilog(nl, opts)
    # 3 classes: 2 levels, each the slices, the steps combining them and the selection; the counts twice more
    slices = -(-res.report["count_width"] // 2)
    assert res.report["latency_breakdown"]["argmax"] == 2 * (2 + (slices - 1).bit_length()) + 2
    pc = res.report["popcount"]
    assert 2 <= pc["ebr_blocks"] <= 3 and pc["ebr_groups"] >= 3 and pc["merged_duplicates"] >= 3
    assert "DP16KD" in res.files["lgn_core_ebrcount.v"]
    assert res.report["latency_breakdown"]["popcount"] == pc["latency"]
    x = np.random.default_rng(1).integers(0, 2, (150, nl.n_inputs)).astype(np.uint8)
    r = simulate(nl, x, simulator=sim, options=opts, emitted=res)
    assert np.array_equal(r.counts, evaluate(nl, x))
    assert np.array_equal(r.counts, naive_counts(nl, x))


@pytest.mark.parametrize("sim", SIMS[:1])
def test_blocks_offered_but_no_group_fits(sim):
    """Classes too small for a 12-bit group: no block is used and the inversion flags still apply."""
    nl = random_layered(np.random.default_rng(4), n_inputs=12, layers=2, width=16, classes=4, fold_outputs=True)
    assert nl.out_invert.any()
    opts = EmitOptions(pipeline=1, ebr_blocks=8)
    res = emit_verilog(nl, opts)
    assert res.report["popcount"]["ebr_blocks"] == 0
    x = np.random.default_rng(2).integers(0, 2, (64, nl.n_inputs)).astype(np.uint8)
    assert np.array_equal(simulate(nl, x, simulator=sim, options=opts, emitted=res).counts, naive_counts(nl, x))


def test_no_blocks_without_request_and_latency_cost():
    nl = _net()
    plain = emit_verilog(nl, EmitOptions(pipeline=1))
    assert plain.report["popcount"]["ebr_blocks"] == 0 and "lgn_core_ebrcount.v" not in plain.files
    with_blocks = emit_verilog(nl, EmitOptions(pipeline=1, ebr_blocks=2))
    assert with_blocks.report["latency_breakdown"]["popcount"] >= _ebr.LATENCY


@needs_yosys
def test_mapped_netlist_with_blocks_and_a_changed_table(tmp_path, have):
    if not (have("iverilog") or have("verilator")):
        pytest.skip("not installed: iverilog or verilator")
    nl = _net(seed=7)
    core = emit_verilog(nl, EmitOptions(pipeline=2, ebr_blocks=2))
    assert core.report["popcount"]["ebr_blocks"] == 2
    target = resolve_target(None, "LFE5U-25F", "CABGA256")
    rep = run_build(nl, core, target, tmp_path / "b", BuildOptions(postsim_samples=0, stop_after="synth-core")).report
    assert rep["core"]["cells"].get("DP16KD") == 2
    bdir = tmp_path / "b" / "build"
    cells = _share_dir(require("yosys")) / "ecp5"
    sim = "verilator" if have("verilator") else "icarus"
    good = tmp_path / "good"
    shutil.copytree(bdir, good)
    res = postsim.simulate_mapped(nl, core, good, f"{core.top}.syn.v", cells,
                                  BuildOptions(postsim_samples=96, postsim_sim=sim))
    assert res["equal"] is True and res["samples"] == 96
    # the first block's table swapped for the other polarity's (ones -> 12 - ones) in the mapped netlist
    bad = tmp_path / "bad"
    shutil.copytree(bdir, bad, ignore=shutil.ignore_patterns("postsim*"))
    syn = bad / f"{core.top}.syn.v"
    text = syn.read_text()

    def initval(i):         # yosys writes the parameters of the first block as 320'h... (or 320'b...)
        m = re.search(rf"\.INITVAL_{i:02X}\(320'([hb])([0-9a-fA-F]+)\)", text)
        assert m
        return m, int(m.group(2), 16 if m.group(1) == "h" else 2)

    inverted = initval(0)[1] == _ebr.initvals(True)[0]
    old, new = _ebr.initvals(inverted), _ebr.initvals(not inverted)
    for i in range(64):
        m, value = initval(i)
        assert value == old[i]
        text = text[:m.start()] + f".INITVAL_{i:02X}(320'h{new[i]:080x})" + text[m.end():]
    syn.write_text(text)
    with pytest.raises(ToolchainError, match="differs from the interpreter"):
        postsim.simulate_mapped(nl, core, bad, f"{core.top}.syn.v", cells,
                                BuildOptions(postsim_samples=96, postsim_sim=sim))
