"""cocotb testbench: the board's self-test (compile --selftest) through the harness RTL, at the UART bit level.

The pytest driver (tests/test_harness_selftest.py) stores samples, labels and the classes the board must give
(one deliberately wrong) in the harness, and writes what the board must report into SELFTEST_DATA (an .npz).
"""
import os

import cocotb
import numpy as np
from cocotb.task import bridge
from cocotb.triggers import ClockCycles

from lgn2hw.fpga import protocol as P

DATA = np.load(os.environ["SELFTEST_DATA"])
os.environ.setdefault("HARNESS_DATA", os.environ["SELFTEST_DATA"])
from harness_tb import reset  # noqa: E402  (the UART port model, with the same divisor)


@cocotb.test()
async def selftest_after_reset_and_on_command(dut):
    """After reset the board runs the stored samples by itself (the LEDs then show the last one's class); on the
    SELFTEST command it runs them again and reports the count of correct answers, the mismatch against the
    stored classes and the cycles it took."""
    port = await reset(dut)
    await ClockCycles(dut.clk, int(DATA["n"]) + int(DATA["latency"]) + 20)
    mask = (1 << len(dut.leds)) - 1
    assert int(dut.leds.value) & mask == int(DATA["last_class"]) & mask
    r = await bridge(P.selftest)(port)
    print(f"self-test answer: {r}")
    print(f"accuracy {100 * r.accuracy:.2f} %, {r.mismatches} mismatch(es), first at sample {r.first_mismatch}, "
          f"{r.cycles} cycles, {r.samples_per_s:,.0f} samples/s at {r.clock_hz / 1e6:g} MHz")
    assert r.samples == int(DATA["n"])
    assert r.correct == int(DATA["correct"])
    assert r.mismatches == int(DATA["mismatches"]) and r.first_mismatch == int(DATA["first_mismatch"])
    assert r.clock_hz == int(DATA["clock_hz"])
    assert r.cycles == int(DATA["n"]) + int(DATA["latency"])      # one sample per cycle, then the pipeline
