"""The UART harness protocol in simulation: the host client against the Amaranth RTL, bit by bit on the UART
lines (cocotb + Icarus), around a stand-in core; the answers are compared with the reference interpreter."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from lgn2hw.build import protocol as P
from lgn2hw.build.harness import HarnessConfig, class_width, harness_verilog, integer_thresholds
from lgn2hw.ir import evaluate
from test_build_standin import random_netlist, standin_core

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not shutil.which("iverilog"), reason="iverilog is not installed")


def _run(tmp_path, nl, counts, raw=False, n=12):
    from cocotb_tools.runner import get_runner
    core = standin_core(nl, counts=counts)
    rng = np.random.default_rng(7)
    if raw:
        enc = nl.encoding
        x = rng.integers(0, 256, (n, enc.n_features)).astype(np.uint8)
        want = evaluate(nl, enc.apply(x))
        cfg = HarnessConfig(nl.n_inputs, nl.n_classes, class_width(nl.n_classes), core.count_width, divisor=8,
                            timeout_cycles=400, raw_features=enc.n_features, feature=tuple(enc.feature.tolist()),
                            threshold=integer_thresholds(enc.threshold))
    else:
        x = rng.integers(0, 2, (n, nl.n_inputs)).astype(np.uint8)
        want = evaluate(nl, x)
        cfg = HarnessConfig(nl.n_inputs, nl.n_classes, class_width(nl.n_classes), core.count_width, divisor=8,
                            timeout_cycles=400)
    (tmp_path / "harness_top.v").write_text(harness_verilog(cfg, n_leds=2))
    (tmp_path / "lgn_core.v").write_text(core.files["lgn_core.v"])
    info = cfg.info()
    np.savez(tmp_path / "data.npz", x=x, counts=want, divisor=cfg.divisor, timeout=cfg.timeout_cycles,
             info=np.array([info.n_inputs, info.n_classes, info.mode, info.count_bytes, info.sample_bytes]))
    runner = get_runner("icarus")
    runner.build(sources=[tmp_path / "harness_top.v", tmp_path / "lgn_core.v"], hdl_toplevel="harness_top",
                 build_dir=tmp_path / "sim_build", timescale=("1ns", "1ps"))
    env = {"HARNESS_DATA": str(tmp_path / "data.npz")}
    saved = list(sys.path)
    sys.path[:0] = [str(ROOT / "sim"), str(ROOT)]     # the runner passes sys.path on as PYTHONPATH
    try:
        xml = runner.test(hdl_toplevel="harness_top", test_module="harness_tb", build_dir=tmp_path / "sim_build",
                          test_dir=tmp_path, extra_env=env)
    finally:
        sys.path[:] = saved
    from cocotb_tools.check_results import get_results
    total, fails = get_results(Path(xml))
    assert total == 2 and fails == 0, (tmp_path / "sim_build").as_posix()


def test_harness_bits_with_counts(tmp_path):
    _run(tmp_path, random_netlist(11), counts=True)


def test_harness_bits_class_only(tmp_path):
    _run(tmp_path, random_netlist(12, n_classes=5, widths=(30, 20)), counts=False)


def test_harness_raw_features(tmp_path):
    _run(tmp_path, random_netlist(13, encoding=True), counts=True, raw=True)


def test_crc8_known_vector():
    # CRC-8 (poly 0x07, init 0, no reflection): the catalogue check value for "123456789" is 0xF4
    assert P.crc8(b"123456789") == 0xF4
