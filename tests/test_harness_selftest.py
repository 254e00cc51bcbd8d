"""The on-board self-test in simulation, end to end: the example model's core inside the UART harness with 30
digits test images, their labels and the interpreter's classes in block RAM (one class deliberately corrupted);
cocotb + Icarus drive the UART lines. The board must report the interpreter's accuracy on those images, exactly one
mismatch at the corrupted sample, and one sample per clock."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import lgn2hw
from lgn2hw.back import EmitOptions, emit_verilog
from lgn2hw.errors import UsageError
from lgn2hw.fpga import protocol as P
from lgn2hw.fpga.harness import config_for, harness_verilog, with_selftest
from lgn2hw.ir import evaluate

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples" / "digits_lgn.pt"
N, CORRUPT = 30, 17


def _digits():
    pytest.importorskip("sklearn")
    from lgn2hw.data import load_digits
    d = load_digits()
    return d.x_test[:N].astype(np.uint8), d.y_test[:N]


@pytest.mark.needs("iverilog", "cocotb")
def test_selftest_reports_accuracy_and_the_corrupted_sample(tmp_path, capfd):
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner
    nl = lgn2hw.optimize(lgn2hw.load(MODEL))
    core = emit_verilog(nl, EmitOptions(features=True, freq_mhz=100.0))
    x, labels = _digits()
    interp = evaluate(nl, nl.encoding.apply(x)).argmax(1)
    expected = interp.copy()
    expected[CORRUPT] = (expected[CORRUPT] + 1) % nl.n_classes           # what the board must flag
    # the shortest UART bit (4 clocks) keeps the simulation short: the generic core runs ~10 cycles/s in Icarus
    cfg = with_selftest(config_for(nl, core, divisor=4, timeout_cycles=400), nl, x, labels, expected,
                        clock_hz=100_000_000)
    assert len(cfg.selftest_samples) == N
    sources = [tmp_path / "harness_top.v"]
    sources[0].write_text(harness_verilog(cfg, n_leds=4))
    for name, text in core.files.items():
        (tmp_path / name).write_text(text)
        sources.append(tmp_path / name)
    info = cfg.info()
    np.savez(tmp_path / "data.npz", n=N, latency=core.latency, k=nl.n_classes, last_class=interp[-1],
             correct=int((interp == labels).sum()), mismatches=1, first_mismatch=CORRUPT, clock_hz=100_000_000,
             divisor=cfg.divisor, timeout=cfg.timeout_cycles, x=x, counts=np.zeros((1, 1)),
             info=np.array([info.n_inputs, info.n_classes, info.mode, info.count_bytes, info.sample_bytes,
                            int(info.count_signed)]))
    runner = get_runner("icarus")
    runner.build(sources=sources, hdl_toplevel="harness_top", build_dir=tmp_path / "sim_build",
                 timescale=("1ns", "1ps"))
    saved = list(sys.path)
    sys.path[:0] = [str(ROOT / "lgn2hw" / "sim"), str(ROOT)]
    try:
        xml = runner.test(hdl_toplevel="harness_top", test_module="selftest_tb", build_dir=tmp_path / "sim_build",
                          test_dir=tmp_path, extra_env={"SELFTEST_DATA": str(tmp_path / "data.npz")})
    finally:
        sys.path[:] = saved
    total, fails = get_results(Path(xml))
    out = capfd.readouterr().out
    print(out)
    assert total == 1 and fails == 0, f"see {tmp_path}"
    # the interpreter's accuracy on these images, as the board reported it (the testbench checked the count)
    assert 0.8 < (interp == labels).mean() <= 1.0


def test_selftest_needs_a_board_and_valid_labels(tmp_path):
    nl = lgn2hw.optimize(lgn2hw.load(MODEL))
    core = emit_verilog(nl, EmitOptions(features=True))
    cfg = config_for(nl, core, divisor=8, timeout_cycles=400)
    x = np.zeros((3, 64), dtype=np.uint8)
    with pytest.raises(UsageError, match=r"^self-test labels must be 3 classes in 0\.\.9$"):
        with_selftest(cfg, nl, x, np.array([0, 1, 10]))
    with pytest.raises(UsageError, match=r"^--selftest needs a board target"):
        lgn2hw.compile(MODEL, tmp_path / "o", device="LFE5U-85F", package="CABGA381", selftest=4)
    assert not (tmp_path / "o").exists()


def test_selftest_answer_round_trip():
    r = P.SelfTest(100, 93, 1, 37, 110, 100_000_000)
    assert P.SelfTest.unpack(r.pack()) == r
    assert r.accuracy == 0.93 and r.samples_per_s == pytest.approx(100 * 100e6 / 110)
    assert P.SelfTest.unpack(P.SelfTest(5, 5, 0, -1, 9, 25_000_000).pack()).first_mismatch == -1
