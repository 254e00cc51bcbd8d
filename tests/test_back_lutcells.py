"""Gate LUTs as device primitives (ECP5 ``LUT4``, iCE40 ``SB_LUT4``): the INIT convention agrees with yosys' own
cell models, the primitive gate module is proven equivalent to the generic one, the whole core equals the
interpreter when simulated with yosys' models, and synthesis keeps exactly one cell per gate LUT (post-synthesis
simulation still equal). Generic Verilog stays the default without a target."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lgn2hw.back import EmitOptions, _lutcells, emit_verilog
from lgn2hw.errors import UsageError
from lgn2hw.fpga.toolchain import require, share_dir
from lgn2hw.ir import evaluate

from netlists import naive_counts, random_layered

FAMILIES = ("ecp5", "ice40", "gowin")
TARGETS = {"ecp5": ("LFE5U-25F", "CABGA256"), "ice40": ("iCE40HX8K", "CT256"), "gowin": ("GW1NR-9C", "QN88P")}
# where each family's LUT cell is defined in yosys' share directory (what synth_ecp5 / synth_ice40 read), and
# what the file needs defined to be read alone
YOSYS_MODEL = {"ecp5": ("lattice/common_sim.vh", ("LUT4", "TRELLIS_FF"), ""),
               "ice40": ("ice40/cells_sim.v", ("SB_LUT4", "SB_DFF"),
                         "`define ICE40_DEFAULT_ASSIGNMENT_0\n`define SB_DFF_INIT initial Q = 0;\n"),
               "gowin": ("gowin/cells_sim.v", ("LUT4", "DFF"), "")}


def _net(seed=1, width=80, arity=4):
    """A random network after the passes: every LUT reads inputs that matter, so synthesis has none to drop."""
    import lgn2hw
    nl = random_layered(np.random.default_rng(seed), n_inputs=32, layers=3, width=width, classes=4,
                        max_arity=arity, fold_outputs=True)
    return lgn2hw.optimize(nl)


def _yosys():
    return require("yosys")


def _yosys_cell_model(family: str) -> str:
    """The LUT and flip-flop cells' modules as yosys ships them (the file synthesis reads), cut out of its
    library."""
    path, names, prefix = YOSYS_MODEL[family]
    text = (share_dir(_yosys()) / path).read_text()
    out = [prefix]
    for name in names:
        m = re.search(rf"^module {name}\s*\(.*?^endmodule", text, flags=re.S | re.M)
        assert m, f"no module {name} in yosys' {path}"
        out.append(m.group(0) + "\n")
    return "".join(out)


def test_init_repeats_the_table_over_unused_inputs():
    rng = np.random.default_rng(0)
    for k in range(1, 5):
        for table in rng.integers(0, 1 << (1 << k), 20).tolist():
            init = _lutcells.lut_init(table, k)
            assert all((init >> m) & 1 == (table >> (m % (1 << k))) & 1 for m in range(16))
    assert _lutcells.lut_init(0b0110, 2) == 0x6666
    assert _lutcells.lut_init(0xCAFE, 4) == 0xCAFE


def test_trivial_tables_stay_wires():
    assert _lutcells.trivial(0, 3) == "1'b0" and _lutcells.trivial(0xFF, 3) == "1'b1"
    assert _lutcells.trivial(0b10, 1) == "{0}" and _lutcells.trivial(0b1100, 2) == "{1}"
    assert _lutcells.trivial(0b01, 1) is None and _lutcells.trivial(0b0110, 2) is None


def test_generic_by_default_cells_for_a_target_family():
    nl = _net()
    plain = emit_verilog(nl, EmitOptions(pipeline=1))
    assert plain.report["lut_cells"] is None
    assert not re.search(r"\bLUT4\b", "".join(plain.files.values()))
    assert EmitOptions.for_target(None).lut_cells is None
    for family in FAMILIES:
        assert EmitOptions.for_target(family, 0).lut_cells == family
        assert EmitOptions.for_target(family, 0, lut_size=3).lut_cells == family
        assert EmitOptions.for_target(family, 0, lut_size=0).lut_cells is None      # gates kept: yosys maps
        assert EmitOptions.for_target(family, 0, lut_size=6).lut_cells is None      # wider than the cell
    with pytest.raises(UsageError, match=r"^LUT cells exist for ecp5, gowin, ice40, not 'xilinx'$"):
        emit_verilog(nl, EmitOptions(lut_cells="xilinx"))


@pytest.mark.parametrize("family", FAMILIES)
def test_cells_deterministic_and_only_the_datapath_modules_change(family):
    nl = _net(seed=2)
    opts = EmitOptions.for_target(family, 0, freq_mhz=100.0, pipeline=1)
    a, b = emit_verilog(nl, opts), emit_verilog(nl.copy(), opts)
    assert a.files == b.files
    generic = emit_verilog(nl, replace(opts, lut_cells=None))
    assert {n for n in a.files if a.files[n] != generic.files[n]} == {"lgn_core_gates.v", "lgn_core_popcount.v"}
    assert "always" not in a.files["lgn_core_popcount.v"]        # its registers are flip-flop primitives too
    cell = _lutcells.CELLS[family]
    instances = re.findall(rf"^  {cell.name} #\(\.{cell.param}\(16'h[0-9A-F]{{4}}\)\) g\d+_\d+ \(",
                           a.files["lgn_core_gates.v"], flags=re.M)
    assert len(instances) == a.report["lut_cells"]["instances"] > 30
    assert a.report["lut_cells"] == {"family": family, "cell": cell.name, "instances": len(instances),
                                     "register_cell": cell.ff_name}
    registers = re.findall(rf"^  {cell.ff_name}\b.* f\d+_\d+ \(", a.files["lgn_core_gates.v"], flags=re.M)
    assert len(registers) == a.report["gate_registers"] and "always" not in a.files["lgn_core_gates.v"]
    assert a.latency == generic.latency


@pytest.mark.needs("yosys")
@pytest.mark.parametrize("model", ["yosys", "lgn2hw"])
@pytest.mark.parametrize("family", FAMILIES)
def test_gate_module_equivalent_to_generic(family, model, tmp_path):
    """yosys proves the primitive gate module equal to the generic one (by induction over the registers), with the
    LUT and flip-flop cells modelled by yosys' own library and by the models lgn2hw gives RTL simulation."""
    nl = random_layered(np.random.default_rng(3), n_inputs=24, layers=4, width=40, classes=3, max_arity=4,
                        skip=True, fold_outputs=True)
    nl.out_invert[:] = False    # with cells the popcount applies the inversion flags, not the gate module
    gold = emit_verilog(nl, EmitOptions(top="gold", pipeline=2))
    gate = emit_verilog(nl, EmitOptions(top="gate", pipeline=2, lut_cells=family))
    assert gate.report["lut_cells"]["instances"] > 20
    (tmp_path / "gold.v").write_text(gold.files["gold_gates.v"])
    (tmp_path / "gate.v").write_text(gate.files["gate_gates.v"])
    cell = _yosys_cell_model(family) if model == "yosys" else _lutcells.SIM_MODELS[family]
    (tmp_path / "cell.v").write_text(cell)
    (tmp_path / "eq.ys").write_text("\n".join([
        "read_verilog gate.v cell.v", "hierarchy -check -top gate_gates", "proc", "flatten",
        "read_verilog gold.v", "proc", "opt_clean", "equiv_make gold_gates gate_gates equiv",
        "hierarchy -top equiv", "equiv_simple", "equiv_induct", "equiv_status -assert", ""]))
    _yosys().run(["-q", "-l", "eq.log", "eq.ys"], tmp_path, tmp_path / "yosys.log", "equiv")
    log = (tmp_path / "eq.log").read_text()
    assert "Equivalence successfully proven!" in log
    assert int(re.search(r"Found (\d+) \$equiv cells", log).group(1)) > gate.report["lut_cells"]["instances"]


@pytest.mark.needs("yosys")
def test_equivalence_check_catches_a_changed_init(tmp_path):
    nl = random_layered(np.random.default_rng(3), n_inputs=24, layers=2, width=20, classes=2, max_arity=4)
    gold = emit_verilog(nl, EmitOptions(top="gold", pipeline=1))
    gate = emit_verilog(nl, EmitOptions(top="gate", pipeline=1, lut_cells="ecp5"))
    text = gate.files["gate_gates.v"]
    m = re.search(r"\.INIT\(16'h([0-9A-F]{4})\)", text)
    bad = f"{int(m.group(1), 16) ^ 0xFFFF:04X}"
    (tmp_path / "gold.v").write_text(gold.files["gold_gates.v"])
    (tmp_path / "gate.v").write_text(text[:m.start(1)] + bad + text[m.end(1):])
    (tmp_path / "cell.v").write_text(_yosys_cell_model("ecp5"))
    (tmp_path / "eq.ys").write_text("read_verilog gate.v cell.v\nhierarchy -top gate_gates\nproc\nflatten\n"
                                    "read_verilog gold.v\nproc\nequiv_make gold_gates gate_gates equiv\n"
                                    "hierarchy -top equiv\nequiv_simple\nequiv_induct\nequiv_status\n")
    _yosys().run(["-q", "-l", "eq.log", "eq.ys"], tmp_path, tmp_path / "yosys.log", "equiv")
    assert re.search(r"Of those cells \d+ are proven and [1-9]\d* are unproven", (tmp_path / "eq.log").read_text())


@pytest.mark.needs("yosys", "iverilog")
@pytest.mark.parametrize("family, features", [("ecp5", False), ("ice40", False), ("ecp5", True), ("gowin", False)])
def test_core_with_yosys_cell_models_equals_interpreter(family, features, tmp_path):
    """The whole emitted core (not synthesized) under Icarus with yosys' cell library, as post-synthesis simulation
    runs a mapped netlist: class counts equal the interpreter's on random inputs (with raw features, on-chip
    comparators, some of them constant, feed the input bank, which stays generic)."""
    from lgn2hw.fpga import BuildOptions
    from lgn2hw.fpga.postsim import simulate_mapped
    nl = random_layered(np.random.default_rng(4), n_inputs=20, layers=3, width=48, classes=3, max_arity=4,
                        skip=True, fold_outputs=True, encoding=features)
    # iCE40 at 250 MHz: a register after every popcount level, so its first adders are LUT cells too
    freq = 250.0 if family == "ice40" else 100.0
    core = emit_verilog(nl, EmitOptions.for_target(family, 0, freq_mhz=freq, pipeline=2, features=features))
    assert core.report["lut_cells"]["instances"] > 30
    if features:        # the comparators and their register stay generic (yosys merges equal ones)
        assert re.search(r"^    p0_\d+ <= 1'b[01];$", core.files["lgn_core_gates.v"], re.M)
        assert not re.search(r"\.DI?\(\(f0", core.files["lgn_core_gates.v"])
    (tmp_path / "core.v").write_text("\n".join(core.files[n] for n in sorted(core.files)))
    res = simulate_mapped(nl, core, tmp_path, "core.v", share_dir(_yosys()) / family,
                          BuildOptions(postsim_samples=120, postsim_sim="icarus"))
    assert res["equal"] and res["samples"] == 120


@pytest.mark.needs("iverilog", "cocotb")
@pytest.mark.parametrize("family", FAMILIES)
def test_rtl_simulation_of_cells_equals_interpreter(family):
    """RTL simulation of a core with LUT and flip-flop primitives takes lgn2hw's small models of the cells."""
    from lgn2hw.back.rtlsim import simulate
    nl = random_layered(np.random.default_rng(6), n_inputs=16, layers=3, width=30, classes=3, max_arity=4,
                        skip=True, fold_outputs=True)
    opts = EmitOptions.for_target(family, 0, freq_mhz=250.0, pipeline=1)
    x = np.random.default_rng(1).integers(0, 2, (80, nl.n_inputs)).astype(np.uint8)
    counts = simulate(nl, x, simulator="icarus", options=opts).counts
    assert np.array_equal(counts, evaluate(nl, x)) and np.array_equal(counts, naive_counts(nl, x))


@pytest.mark.needs("yosys")
def test_synthesis_with_block_ram_counting_and_cells(tmp_path, have):
    """ECP5 with counting tables: the gate, block-RAM stage and popcount registers are all primitives; the mapped
    core (with lgn2hw's DP16KD model) still equals the interpreter."""
    import lgn2hw
    from lgn2hw.fpga import BuildOptions, resolve_target, run_build
    nl = lgn2hw.optimize(random_layered(np.random.default_rng(7), n_inputs=16, layers=3, width=200, classes=3,
                                        max_arity=4, fold_outputs=True))
    core = emit_verilog(nl, EmitOptions.for_target("ecp5", 2, freq_mhz=250.0, pipeline=1))
    assert core.report["popcount"]["ebr_blocks"] == 2 and core.report["lut_cells"]["instances"] > 100
    assert "TRELLIS_FF" in core.files["lgn_core_ebrcount.v"] and "always" not in core.files["lgn_core_ebrcount.v"]
    assert re.search(r"^  LUT4 #\(\.INIT\(16.h[0-9A-F]{4}\)\) fa0_c ", core.files["lgn_core_popcount.v"], re.M)
    samples = 96 if have("iverilog") or have("verilator") else 0
    rep = run_build(nl, core, resolve_target(None, *TARGETS["ecp5"]), tmp_path,
                    BuildOptions(postsim_samples=samples, stop_after="postsim" if samples else "synth-core",
                                 cache=False)).report
    assert rep["core"]["cells"]["DP16KD"] == 2
    assert len(_gate_cells(tmp_path / "build", "LUT4")) == core.report["lut_cells"]["instances"]
    if samples:
        assert rep["postsim"]["equal"] and rep["postsim"]["samples"] == samples


def _gate_cells(build: Path, cell) -> dict:
    """Cells of type ``cell`` (a name or a tuple of names) in the synthesized core that are the gate module's instances (``g<level>_<i>``
    under ``datapath.gates``), by instance name, with their parameters."""
    mod = json.loads((build / "core.json").read_text())["modules"]["lgn_core"]
    return {name.split(".")[-1]: c["parameters"] for name, c in mod["cells"].items()
            if c["type"] in ((cell,) if isinstance(cell, str) else cell) and re.fullmatch(r"datapath\.gates\.g\d+_\d+", name)}


@pytest.mark.needs("yosys")
@pytest.mark.parametrize("family", FAMILIES)
def test_synthesis_keeps_one_cell_per_gate_lut(family, tmp_path, have):
    """synth_ecp5 / synth_ice40 keep every instance (none mapped again by ABC9, none merged or dropped), and the
    mapped core still equals the interpreter."""
    from lgn2hw.fpga import BuildOptions, resolve_target, run_build
    nl = _net(seed=1)
    core = emit_verilog(nl, EmitOptions.for_target(family, 0, freq_mhz=100.0, pipeline=1))
    n = core.report["lut_cells"]["instances"]
    assert n == core.report["gates"] > 40
    samples = 96 if have("iverilog") or have("verilator") else 0
    rep = run_build(nl, core, resolve_target(None, *TARGETS[family]), tmp_path,
                    BuildOptions(postsim_samples=samples, stop_after="postsim" if samples else "synth-core",
                                 cache=False)).report
    cell = _lutcells.CELLS[family]
    # synth_gowin narrows a LUT4 whose upper inputs are tied to 0 to a LUT3/LUT2/LUT1 of the same name
    kept = _gate_cells(tmp_path / "build", ("LUT1", "LUT2", "LUT3", "LUT4") if family == "gowin" else cell.name)
    emitted = {g: v for v, g in re.findall(rf"\.{cell.param}\(16'h([0-9A-F]{{4}})\)\) (g\d+_\d+) ",
                                           core.files["lgn_core_gates.v"])}
    assert len(kept) == n == len(emitted) and set(kept) == set(emitted)
    if family == "ice40":       # nothing rewrites SB_LUT4 cells; ECP5's opt_lut_ins may drop a tied input
        assert {g: int(p[cell.param], 2) for g, p in kept.items()} == {g: int(v, 16) for g, v in emitted.items()}
    assert rep["core"]["blocks"]["gates"]["lut4"] >= n
    if samples:
        assert rep["postsim"]["equal"] and rep["postsim"]["samples"] == samples


def _reads(text: str):
    """Of a gate module written with cells: how many cells read each register output ``p<bank>_<i>[_d<c>]``
    (LUT inputs and register data inputs), the same for LUT inputs alone, and the data input of every register."""
    reads: dict = {}
    lut_reads: dict = {}
    loads = {}
    for line in text.splitlines():
        m = re.match(r"^  \w+ #\(.*\) ([gf]\d+_\d+(?:_d\d+)?) \((.*)\);$", line)
        if not m:
            continue
        pins = dict(re.findall(r"\.(\w+)\(([^()]*)\)", m.group(2)))
        lut = m.group(1).startswith("g")
        if not lut:
            loads[pins["Q"]] = pins["DI"]
        for net in [v for k, v in pins.items() if k in "ABCD"] if lut else [pins["DI"]]:
            if re.fullmatch(r"p\d+_\d+(_d\d+)?", net):
                reads[net] = reads.get(net, 0) + 1
                if lut:
                    lut_reads[net] = lut_reads.get(net, 0) + 1
    return reads, lut_reads, loads


def _base(net: str) -> str:
    return re.sub(r"_d\d+$", "", net)


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_register_copies_bound_the_readers_and_keep_every_read(limit):
    """With max_fanout every register output is read at most ``limit`` times; a copy loads the same value as its
    register (a copy of the same source), every LUT reads the same values as without the limit, and the report
    counts the copies."""
    nl = _net(seed=5, width=120)
    opts = EmitOptions(pipeline=1, lut_cells="ecp5")
    one = emit_verilog(nl, opts)
    split = emit_verilog(nl, replace(opts, max_fanout=limit))
    before, lut_before, loads_before = _reads(one.files["lgn_core_gates.v"])
    after, lut_after, loads = _reads(split.files["lgn_core_gates.v"])
    assert max(before.values()) > limit and max(after.values()) <= limit
    assert {_base(q): _base(d) for q, d in loads.items()} == loads_before
    grouped: dict = {}
    for net, n in lut_after.items():
        grouped[_base(net)] = grouped.get(_base(net), 0) + n
    assert grouped == lut_before
    lut_ins = lambda t: sorted(re.sub(r"_d\d+\b", "", m) for m in re.findall(r"^  LUT4 .*$", t, re.M))  # noqa: E731
    assert lut_ins(split.files["lgn_core_gates.v"]) == lut_ins(one.files["lgn_core_gates.v"])
    copies = sum(1 for q in loads if q != _base(q))
    assert copies == split.report["fanout"]["register_copies"] > 0
    assert one.report["fanout"] == {"max": 0, "register_copies": 0}
    assert split.files["lgn_core_popcount.v"] == one.files["lgn_core_popcount.v"]


def test_max_fanout_default_and_override():
    """The family's fast-clock limit (none measured worth it by default) applies only at fast clocks; an explicit
    limit always wins."""
    from lgn2hw.back._verilog import FAST_MAX_FANOUT
    for family in ("ecp5", "ice40"):
        assert EmitOptions.for_target(family, 0, freq_mhz=250.0).max_fanout == FAST_MAX_FANOUT.get(family, 0)
        assert EmitOptions.for_target(family, 0, freq_mhz=100.0).max_fanout == 0
        assert EmitOptions.for_target(family, 0, freq_mhz=250.0, max_fanout=4).max_fanout == 4
        assert EmitOptions.for_target(family, 0, freq_mhz=100.0, max_fanout=2).max_fanout == 2
    assert EmitOptions.for_target(None, 0, max_fanout=3).max_fanout == 3 and EmitOptions().max_fanout == 0


@pytest.mark.needs("iverilog", "cocotb")
@pytest.mark.parametrize("cells", ["ecp5", None])
def test_register_copies_simulate_equal(cells):
    """Copies in the primitive and in the generic gate module: RTL simulation still gives the interpreter's counts
    (the generic copies carry keep, so synthesis leaves them apart)."""
    from lgn2hw.back.rtlsim import simulate
    nl = random_layered(np.random.default_rng(8), n_inputs=16, layers=3, width=40, classes=3, max_arity=4,
                        skip=True, fold_outputs=True)
    opts = replace(EmitOptions.for_target("ecp5", 0, freq_mhz=250.0, pipeline=1, max_fanout=2), lut_cells=cells)
    core = emit_verilog(nl, opts)
    assert core.report["fanout"]["register_copies"] > 10
    if cells is None:
        assert "(* keep *) reg p" in core.files["lgn_core_gates.v"]
    x = np.random.default_rng(2).integers(0, 2, (80, nl.n_inputs)).astype(np.uint8)
    counts = simulate(nl, x, simulator="icarus", options=opts).counts
    assert np.array_equal(counts, evaluate(nl, x)) and np.array_equal(counts, naive_counts(nl, x))


@pytest.mark.needs("yosys")
def test_synthesis_keeps_the_register_copies(tmp_path, have):
    """synth_ecp5 leaves the copies apart (one flip-flop each) and the mapped core still equals the interpreter."""
    from lgn2hw.fpga import BuildOptions, resolve_target, run_build
    nl = _net(seed=1)
    core = emit_verilog(nl, EmitOptions.for_target("ecp5", 0, freq_mhz=250.0, pipeline=1, max_fanout=2))
    copies = core.report["fanout"]["register_copies"]
    assert copies > 10
    samples = 96 if have("iverilog") or have("verilator") else 0
    rep = run_build(nl, core, resolve_target(None, *TARGETS["ecp5"]), tmp_path,
                    BuildOptions(postsim_samples=samples, stop_after="postsim" if samples else "synth-core",
                                 cache=False)).report
    mod = json.loads((tmp_path / "build" / "core.json").read_text())["modules"]["lgn_core"]
    kept = [n for n, c in mod["cells"].items() if c["type"] == "TRELLIS_FF"
            and re.fullmatch(r"datapath\.gates\.f\d+_\d+_d\d+", n)]
    assert len(kept) == copies
    if samples:
        assert rep["postsim"]["equal"] and rep["postsim"]["samples"] == samples
