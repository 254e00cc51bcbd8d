"""lgn2hw as a user installs it: the wheel built from this tree, installed into a fresh virtual environment, run
from a directory outside the repository. Everything lgn2hw reads at run time (board files, cocotb testbenches, C
sources) must come from the installed package; the project's dependencies are taken, offline, from the
environment the tests run in (a path entry, not an install of lgn2hw)."""
from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits_lgn.pt"


def _run(cmd, cwd, env, timeout=900):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{cmd}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(lgn2hw command of the fresh environment, its python, a working directory outside the repository, env)."""
    base = tmp_path_factory.mktemp("wheel")
    wheels = base / "dist"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    # without build isolation: the build backend (setuptools) is already installed, and no network is needed
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "--disable-pip-version-check", "-w", wheels, ROOT], base, env)
    wheel = next(wheels.glob("lgn2hw-*.whl"))
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", venv], base, env)
    py = venv / "bin" / "python"
    # the dependencies, offline: this environment's site-packages as a path entry of the new one (its .pth
    # files, among them the editable install of this tree, are not processed from there)
    fresh_site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base, env)
                      .stdout.strip())
    deps = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    (fresh_site / "zz_lgn2hw_test_deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    _run([py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--disable-pip-version-check", wheel],
         base, env)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(Path(sys.executable).parent)))
    env["LGN2HW_BUILD_CACHE"] = str(base / "step-cache")      # the build runs its tools, nothing restored
    env.pop("LGN2HW_BOARDS", None)
    work = base / "elsewhere"
    work.mkdir()
    return venv / "bin" / "lgn2hw", py, work, env


def test_the_package_is_the_wheel_not_this_tree(installed):
    _, py, work, env = installed
    where = _run([py, "-c", "import lgn2hw, lgn2hw.fpga.boards as b; print(lgn2hw.__file__); "
                            "print(b.boards_dir())"], work, env).stdout.split()
    assert not where[0].startswith(str(ROOT)) and "site-packages" in where[0]
    assert not where[1].startswith(str(ROOT)) and where[1].endswith("lgn2hw/boards")


def test_boards_info_predict(installed):
    lgn2hw, _, work, env = installed
    boards = json.loads(_run([lgn2hw, "boards", "--json"], work, env).stdout)
    assert {"ulx3s-85f", "icebreaker"} <= set(boards["boards"]) and boards["aliases"]["ecp5"] == "ulx3s-85f"
    info = json.loads(_run([lgn2hw, "info", EXAMPLE, "--json"], work, env).stdout)
    assert info["gates_trained"] == 3600
    from lgn2hw.api import load
    from lgn2hw.ir import evaluate
    nl = load(EXAMPLE)
    x = np.random.default_rng(1).integers(0, 2, (64, nl.n_inputs)).astype(np.uint8)
    np.save(work / "x.npy", x)
    _run([lgn2hw, "predict", EXAMPLE, "x.npy", "-o", "counts.npy"], work, env)
    assert np.array_equal(np.load(work / "counts.npy"), evaluate(nl, x))     # the unoptimised reference


def test_compile_to_verilog_uses_the_c_mapper(installed):
    lgn2hw, _, work, env = installed
    _run([lgn2hw, "compile", EXAMPLE, "--stop-after", "verilog", "-o", "v"], work, env)
    report = json.loads((work / "v" / "report.json").read_text())
    assert report["lut_map"]["engine"] == "c" and (work / "v" / "lgn_core.v").is_file()


@pytest.mark.needs("iverilog", "cocotb")
def test_rtl_simulation_finds_the_packaged_testbench(installed):
    lgn2hw, _, work, env = installed
    from lgn2hw.api import load, optimize, predict
    nl = optimize(load(EXAMPLE))
    x = np.random.default_rng(2).integers(0, 2, (12, nl.n_inputs)).astype(np.uint8)
    np.save(work / "xs.npy", x)
    _run([lgn2hw, "predict", EXAMPLE, "xs.npy", "-o", "rtl.npy", "--engine", "icarus"], work, env)
    assert np.array_equal(np.load(work / "rtl.npy"), predict(nl, x))


@pytest.mark.needs("ecp5")
def test_first_build_steps_for_ecp5(installed):
    """Synthesis of the core and of the board top, then the fit check, with the packaged board file and the
    YoWASP tools reached from an interpreter whose scripts are not on PATH."""
    lgn2hw, _, work, env = installed
    _run([lgn2hw, "compile", EXAMPLE, "--board", "ecp5", "--stop-after", "fit", "--postsim", "0", "-o", "b"],
         work, env)
    build = json.loads((work / "b" / "report.json").read_text())["build"]
    assert build["cached_steps"] == []
    assert build["core"]["lut4"] > 0 and build["fit"]["lut4"][0] > build["core"]["lut4"]     # the harness too
    assert (work / "b" / "build" / "top.json").is_file() and len(build["plan_digest"]) == 64
