"""The UART harness protocol in simulation: the host client against the Amaranth RTL, bit by bit on the UART
lines (cocotb + Icarus), around the backend's core; every answer is compared with the reference interpreter."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from lgn2hw.back import EmitOptions, emit_verilog
from lgn2hw.fpga import protocol as P
from lgn2hw.fpga.harness import config_for, harness_verilog
from lgn2hw.ir import evaluate

from netlists import random_layered

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.needs("iverilog", "cocotb")


def _run(tmp_path, nl, options, n=12):
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner
    core = emit_verilog(nl, options)
    cfg = config_for(nl, core, divisor=8, timeout_cycles=400)
    rng = np.random.default_rng(7)
    if options.features:
        x = rng.integers(0, 256, (n, nl.encoding.n_features)).astype(np.uint8)
        want = evaluate(nl, nl.encoding.apply(x))
    else:
        x = rng.integers(0, 2, (n, nl.n_inputs)).astype(np.uint8)
        want = evaluate(nl, x)
    tmp_path.mkdir(parents=True, exist_ok=True)
    sources = [tmp_path / "harness_top.v"]
    sources[0].write_text(harness_verilog(cfg, n_leds=2))
    for name, text in core.files.items():
        (tmp_path / name).write_text(text)
        sources.append(tmp_path / name)
    info = cfg.info()
    np.savez(tmp_path / "data.npz", x=x, counts=want, divisor=cfg.divisor, timeout=cfg.timeout_cycles,
             info=np.array([info.n_inputs, info.n_classes, info.mode, info.count_bytes, info.sample_bytes,
                            int(info.count_signed)]))
    runner = get_runner("icarus")
    runner.build(sources=sources, hdl_toplevel="harness_top", build_dir=tmp_path / "sim_build",
                 timescale=("1ns", "1ps"))
    saved = list(sys.path)
    sys.path[:0] = [str(ROOT / "lgn2hw" / "sim"), str(ROOT)]     # the runner passes sys.path on as PYTHONPATH
    try:
        xml = runner.test(hdl_toplevel="harness_top", test_module="harness_tb", build_dir=tmp_path / "sim_build",
                          test_dir=tmp_path, extra_env={"HARNESS_DATA": str(tmp_path / "data.npz")})
    finally:
        sys.path[:] = saved
    total, fails = get_results(Path(xml))
    assert total == 2 and fails == 0, f"see {tmp_path}"
    return cfg


def test_harness_bits_with_counts(tmp_path):
    nl = random_layered(np.random.default_rng(11), n_inputs=20, layers=3, width=24, classes=3)
    cfg = _run(tmp_path, nl, EmitOptions(pipeline=2))
    assert cfg.count_width and cfg.raw_features == 0


def test_harness_class_only_signed_offsets(tmp_path):
    # folded outputs: inverted bits and class offsets, some negative -> signed counts on the wire
    rng = np.random.default_rng(5)
    nl = random_layered(rng, n_inputs=17, layers=2, width=30, classes=5, fold_outputs=True)
    nl.class_offset[1] = -3
    _run(tmp_path, nl, EmitOptions(pipeline=0, counts_port=False))
    assert _run(tmp_path / "counts", nl, EmitOptions(pipeline=0)).count_signed


def test_harness_raw_features(tmp_path):
    nl = random_layered(np.random.default_rng(13), n_inputs=20, layers=2, width=12, classes=3, encoding=True)
    cfg = _run(tmp_path, nl, EmitOptions(features=True))
    assert cfg.raw_features == nl.encoding.n_features


def test_crc8_known_vector():
    # CRC-8 (poly 0x07, init 0, no reflection): the catalogue check value for "123456789" is 0xF4
    assert P.crc8(b"123456789") == 0xF4
