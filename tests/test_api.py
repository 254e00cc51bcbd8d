"""The Python API (lgn2hw.load / optimize / predict / compile) and the build as a plan: the README's example,
results equal to the reference interpreter, progress through a callback or logging and never print, the plan's
digest, tools looked up before the first step, and steps restored from the cache."""
from __future__ import annotations

import logging
import re
import stat
from pathlib import Path

import numpy as np
import pytest

import lgn2hw
from lgn2hw.errors import ToolchainError, UsageError
from lgn2hw.ir import evaluate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits_lgn.pt"


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Python API\n.*?```python\n(.*?)```", text, re.S)
    assert block, "the README has a Python API section with an example"
    return block.group(1)


def test_readme_example_runs_and_agrees_with_the_interpreter(tmp_path, monkeypatch, capsys):
    code = _readme_example()
    assert len(code.strip().splitlines()) <= 12
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "digits_lgn.pt").write_bytes(EXAMPLE.read_bytes())
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("[")      # the example's own print; the library prints nothing
    raw = scope["x"]
    counts = scope["counts"]
    reference = lgn2hw.load(EXAMPLE)
    assert np.array_equal(counts, evaluate(reference, reference.encoding.apply(raw)))
    result = scope["result"]
    assert isinstance(result, lgn2hw.CompileResult) and all(p.is_file() for p in result.verilog)
    assert result.report["steps"][0] == "verilog" and (tmp_path / "out" / "report.json").is_file()


def test_optimize_keeps_counts_and_reports():
    nl = lgn2hw.load(EXAMPLE)
    opt, rep = lgn2hw.optimize(nl, report=True)
    assert opt.n_nodes < nl.n_nodes and rep.gates_trained == nl.n_nodes
    x = np.random.default_rng(0).integers(0, 2, (300, nl.n_inputs)).astype(np.uint8)
    assert np.array_equal(lgn2hw.predict(opt, x), lgn2hw.predict(nl, x))


def test_bad_calls_raise_lgn2hw_errors(tmp_path):
    nl = lgn2hw.load(EXAMPLE)
    with pytest.raises(UsageError, match="compile takes no option 'frequency'"):
        lgn2hw.compile(nl, tmp_path / "o", frequency=100)
    with pytest.raises(UsageError, match="needs a hardware target"):
        lgn2hw.compile(nl, tmp_path / "o", stop_after="synth-core")
    with pytest.raises(UsageError, match="engine must be one of"):
        lgn2hw.predict(nl, np.zeros((1, nl.n_inputs), np.uint8), engine="gpu")
    with pytest.raises(UsageError, match="raw inputs must have shape"):
        lgn2hw.predict(nl, np.zeros((1, 3)), raw=True)
    assert not (tmp_path / "o").exists()


def test_progress_goes_to_the_callback_or_the_logger(tmp_path, caplog, capsys):
    seen = []
    lgn2hw.compile(EXAMPLE, tmp_path / "a", progress=lambda step, msg: seen.append(step))
    assert seen == ["verilog"]
    with caplog.at_level(logging.INFO, logger="lgn2hw"):
        lgn2hw.compile(EXAMPLE, tmp_path / "b")
    assert any(r.name == "lgn2hw" and r.getMessage().startswith("verilog: ") for r in caplog.records)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


# --- the plan --------------------------------------------------------------------------------------------------
def _plan(seed=1, **kw):
    from lgn2hw.back import EmitOptions, emit_verilog
    from lgn2hw.fpga import BuildOptions, resolve_target
    from lgn2hw.fpga.flow import plan_build
    nl = lgn2hw.optimize(lgn2hw.load(EXAMPLE))
    target = resolve_target(None, "LFE5U-25F", "CABGA256")
    core = emit_verilog(nl, EmitOptions.for_target("ecp5", target.device.bram, freq_mhz=100))
    return plan_build(nl, core, target, BuildOptions(freq_mhz=100, seed=seed, **kw))


@pytest.mark.needs("ecp5")
def test_plan_is_data_with_a_digest():
    a, b, c = _plan(), _plan(), _plan(seed=2)
    assert [s.name for s in a.steps] == ["synth-core", "postsim", "fit", "pnr"]      # a bare device: no bitstream
    assert a.tool_names() == ["yosys", "nextpnr-ecp5"]
    for p in (a, b, c):
        p.check_tools()
    assert a.digest() == b.digest() != c.digest()
    assert a.step("synth-core") == c.step("synth-core") and a.step("pnr") != c.step("pnr")
    assert "--seed" in a.step("pnr").args and a.step("pnr").args[a.step("pnr").args.index("--seed") + 1] == "1"


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.mark.needs("ecp5")
def test_every_tool_is_found_before_the_first_step(tmp_path, monkeypatch):
    """A nextpnr that cannot run is reported before synthesis starts (it used to be found ~10 minutes into a
    48K build), with the error's fields set."""
    monkeypatch.setenv("LGN2HW_NEXTPNR_ECP5", str(tmp_path / "no-such-nextpnr"))
    seen = []
    with pytest.raises(ToolchainError) as info:
        lgn2hw.compile(EXAMPLE, tmp_path / "out", device="LFE5U-25F", package="CABGA256",
                       progress=lambda step, msg: seen.append(step))
    assert info.value.tool == "nextpnr-ecp5" and "LGN2HW_NEXTPNR_ECP5" in info.value.message
    assert seen == ["verilog"] and not (tmp_path / "out").exists()


@pytest.mark.needs("ecp5")
def test_a_second_build_restores_unchanged_steps(tmp_path, monkeypatch):
    """Same inputs and tools: synthesis and post-synthesis simulation come from the cache, byte for byte; another
    seed reuses them and runs place and route; no_cache runs everything."""
    monkeypatch.setenv("LGN2HW_BUILD_CACHE", str(tmp_path / "cache"))
    kw = dict(device="LFE5U-25F", package="CABGA256", freq=100, postsim=16)
    first = lgn2hw.compile(EXAMPLE, tmp_path / "a", **kw).report["build"]
    second = lgn2hw.compile(EXAMPLE, tmp_path / "b", **kw).report["build"]
    assert first["cached_steps"] == [] and second["cached_steps"] == ["synth-core", "postsim", "pnr"]
    assert first["plan_digest"] == second["plan_digest"]
    for name in ("lgn_core.syn.v", "core.json", "pnr.json"):
        assert (tmp_path / "a" / "build" / name).read_bytes() == (tmp_path / "b" / "build" / name).read_bytes()
    assert second["postsim"] == first["postsim"] and second["pnr"] == first["pnr"]
    seed2 = lgn2hw.compile(EXAMPLE, tmp_path / "c", seed=2, **kw).report["build"]
    assert seed2["cached_steps"] == ["synth-core", "postsim"] and seed2["times_s"]["pnr"] > 0
    fresh = lgn2hw.compile(EXAMPLE, tmp_path / "d", cache=False, **kw).report["build"]
    assert fresh["cached_steps"] == [] and fresh["pnr"] == first["pnr"]


@pytest.mark.needs("ecp5")
def test_a_changed_input_misses_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LGN2HW_BUILD_CACHE", str(tmp_path / "cache"))
    kw = dict(device="LFE5U-25F", package="CABGA256", freq=100, postsim=0, stop_after="synth-core")
    lgn2hw.compile(EXAMPLE, tmp_path / "a", **kw)
    other = lgn2hw.compile(EXAMPLE, tmp_path / "b", top="other_top", **kw).report["build"]
    assert other["cached_steps"] == []


def test_the_cache_keeps_the_most_recently_used_steps(tmp_path):
    import os

    from lgn2hw.fpga.plan import Step, StepCache
    cache = StepCache(tmp_path / "cache")
    bdir = tmp_path / "b"
    bdir.mkdir()
    keys = []
    for i in range(4):
        (bdir / "in").write_bytes(bytes([i]) * 1000)
        (bdir / "out").write_bytes(bytes([i]) * 400_000)
        step = Step("s", None, inputs=("in",), outputs=("out",))
        keys.append(cache.key(step, bdir, {}))
        cache.store(keys[-1], step, bdir, 1.0)
        os.utime(tmp_path / "cache" / keys[-1], (1000 + i, 1000 + i))
    assert len(set(keys)) == 4
    cache.restore(keys[0], step, bdir)                 # the oldest, used again
    assert (bdir / "out").read_bytes() == bytes([0]) * 400_000
    cache.prune(limit_mb=1.0)                          # room for two of the four
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted([keys[0], keys[3]])
