"""PLL settings for the core clock: the divider search against the vendor-style calculators that ship with the
toolchains (Trellis' ecppll and IceStorm's icepll, from YoWASP), the limits, and the PLL in the board top."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from lgn2hw.errors import UsageError
from lgn2hw.fpga.pll import GOWIN_LIMITS, plan_pll


def _yowasp(name):
    path = shutil.which(f"yowasp-{name}")
    if path is None:
        import sys
        from pathlib import Path
        exe = Path(sys.executable).parent / f"yowasp-{name}"
        path = str(exe) if exe.is_file() else None
    if path is None:
        pytest.skip(f"yowasp-{name} is not installed")
    return path


@pytest.mark.parametrize("want", [100.0, 125.0, 190.0])
def test_ecp5_matches_ecppll(want, tmp_path):
    out = subprocess.run([_yowasp("ecppll"), "-i", "25", "-o", f"{want:g}"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300).stdout
    theirs = float(re.search(r"clkout0 frequency: ([\d.]+) MHz", out).group(1))
    pll = plan_pll("ecp5", "LFE5U-85F", 25.0, want)
    assert pll.fout_mhz == pytest.approx(theirs) == pytest.approx(want)
    p = pll.params
    assert pll.fout_mhz == pytest.approx(25.0 * p["CLKFB_DIV"] / p["CLKI_DIV"])
    assert 400 <= pll.vco_mhz <= 800 and pll.vco_mhz == pytest.approx(pll.fout_mhz * p["CLKOP_DIV"])


@pytest.mark.parametrize("want", [48.0, 99.0, 100.0])
def test_ice40_within_icepll_limits(want, tmp_path):
    out = subprocess.run([_yowasp("icepll"), "-i", "12", "-o", f"{want:g}"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300).stdout
    theirs = float(re.search(r"F_PLLOUT:\s+([\d.]+) MHz \(achieved\)", out).group(1))
    pll = plan_pll("ice40", "iCE40HX8K", 12.0, want)
    p = pll.params
    assert pll.fout_mhz == pytest.approx(12.0 * (p["DIVF"] + 1) / ((p["DIVR"] + 1) * 2 ** p["DIVQ"]))
    assert pll.fout_mhz <= want and 533 <= pll.vco_mhz <= 1066
    if theirs <= want:              # icepll takes the nearest, above or below; ours never goes above
        assert pll.fout_mhz == pytest.approx(theirs)


@pytest.mark.parametrize("device", sorted(GOWIN_LIMITS))
def test_gowin_rpll_dividers(device):
    vmin, vmax, omax = GOWIN_LIMITS[device]
    for want in (50.0, 100.0, 133.0, 200.0):
        pll = plan_pll("gowin", device, 27.0, want)
        p = pll.params
        assert pll.fout_mhz == pytest.approx(27.0 * (p["FBDIV_SEL"] + 1) / (p["IDIV_SEL"] + 1))
        assert pll.fout_mhz <= want and want - pll.fout_mhz <= 1.0
        assert vmin <= pll.fout_mhz * p["ODIV_SEL"] <= vmax
    assert plan_pll("gowin", device, 27.0, 100.0).fout_mhz == pytest.approx(99.0)     # 27 * 11 / 3


def test_impossible_requests():
    with pytest.raises(UsageError, match=r"^core frequency must be at least [\d.]+ MHz for the EHXPLLL from 25 MHz, "
                                         r"not 1$"):
        plan_pll("ecp5", "LFE5U-85F", 25.0, 1.0)
    with pytest.raises(UsageError, match=r"^a core clock from a PLL is supported on ecp5, ice40 and gowin, not "
                                         r"gatemate$"):
        plan_pll("gatemate", "CCGM1A1", 10.0, 50.0)


@pytest.mark.needs("yosys")
@pytest.mark.parametrize("board, cell", [("ulx3s-85f", "EHXPLLL"), ("tangnano9k", "rPLL"),
                                         ("ice40-hx8k-breakout", "SB_PLL40_CORE")])
def test_board_top_runs_from_the_pll(board, cell, tmp_path):
    """--core-freq: the board top holds the PLL, the harness's UART divisor follows the PLL clock, and the
    report says so; a bare device or GateMate is refused before any work."""
    import json

    import numpy as np

    from lgn2hw.cli import main
    from lgn2hw.ir import dump

    from netlists import random_layered
    nl = random_layered(np.random.default_rng(4), n_inputs=12, layers=2, width=16, classes=4)
    model = tmp_path / "tiny.txt"
    model.write_text(dump(nl))
    out = tmp_path / "out"
    assert main(["compile", str(model), "--board", board, "--core-freq", "60", "--stop-after", "synth",
                 "--postsim", "0", "-o", str(out)]) == 0
    synth = json.loads((out / "build" / ("top.syn.json" if board == "tangnano9k" else "top.json")).read_text())
    cells = {c["type"] for c in synth["modules"]["top"]["cells"].values()}
    assert cell in cells
    rep = json.loads((out / "report.json").read_text())["build"]
    assert rep["pll"]["primitive"] == cell and rep["pll"]["fout_mhz"] <= 60
    assert rep["freq_target_mhz"] == pytest.approx(rep["pll"]["fout_mhz"])
    assert main(["compile", str(model), "--device", "LFE5U-85F", "--package", "CABGA381", "--core-freq", "60",
                 "-o", str(tmp_path / "bare")]) == 1
    assert main(["compile", str(model), "--board", "gatemate-evb", "--core-freq", "60",
                 "-o", str(tmp_path / "gm")]) == 1
    assert not (tmp_path / "bare").exists() and not (tmp_path / "gm").exists()
