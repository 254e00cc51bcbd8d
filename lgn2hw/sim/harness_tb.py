"""cocotb testbench: the host client (lgn2hw.fpga.protocol) against the harness RTL, at the UART bit level.

The pytest driver (tests/test_harness_uart.py) builds the harness around a core, writes the samples and the
expected class counts into HARNESS_DATA (an .npz) and runs these tests. The host code runs unchanged in a
bridge thread; its serial port turns writes into bits on ``rx`` and reads into bits sampled from ``tx``.
"""
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import ClockCycles, RisingEdge

from lgn2hw.fpga import protocol as P

DATA = np.load(os.environ["HARNESS_DATA"])
DIV = int(DATA["divisor"])


class SimPort:
    """A serial port whose other end is the DUT: read() gives up after ``timeout_bytes`` byte times."""

    def __init__(self, dut, timeout_bytes=40):
        self.dut = dut
        self.rx_buf = bytearray()
        self.timeout_cycles = timeout_bytes * 10 * DIV + int(DATA["timeout"])
        self.write = resume(self._write)
        self.read = resume(self._read)

    async def _write(self, data):
        for byte in bytes(data):
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                self.dut.rx.value = bit
                await ClockCycles(self.dut.clk, DIV)

    async def _read(self, n):
        out = bytearray()
        while len(out) < n:
            byte = await self._read_byte()
            if byte is None:
                break
            out.append(byte)
        return bytes(out)

    async def _read_byte(self):
        waited = 0
        while int(self.dut.tx.value) == 1:
            await RisingEdge(self.dut.clk)
            waited += 1
            if waited > self.timeout_cycles:
                return None
        await ClockCycles(self.dut.clk, DIV // 2)
        assert int(self.dut.tx.value) == 0, "start bit must stay low for half a bit"
        byte = 0
        for i in range(8):
            await ClockCycles(self.dut.clk, DIV)
            byte |= int(self.dut.tx.value) << i
        await ClockCycles(self.dut.clk, DIV)
        assert int(self.dut.tx.value) == 1, "stop bit must be high"
        return byte


async def reset(dut):
    dut.rx.value = 1
    dut.rst.value = 1
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await ClockCycles(dut.clk, 5)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 5)
    return SimPort(dut)


def expected_info():
    return P.DesignInfo(*[int(v) for v in DATA["info"]])


@cocotb.test()
async def info_and_stream(dut):
    """INFO describes the design; every sample's answer equals the interpreter's class (and counts)."""
    port = await reset(dut)
    info, classes, counts = await bridge(P.run)(port, DATA["x"])
    assert info == expected_info(), info
    want = DATA["counts"]
    assert classes.tolist() == want.argmax(1).tolist()
    if info.count_bytes:
        assert counts.tolist() == want.tolist()
    assert int(dut.leds.value) & ((1 << len(dut.leds)) - 1) == int(want.argmax(1)[-1]) & ((1 << len(dut.leds)) - 1)


def _exchange_raw(port, frame):
    port.write(frame)
    parser = P.AnswerParser()
    answers = []
    while not answers:
        data = port.read(1)
        assert data, "the device must answer"
        answers = parser.feed(data)
    return answers[0]


@cocotb.test()
async def errors_are_answered(dut):
    """A corrupted frame, a wrong length, an unknown command, a stray byte and a truncated frame each get their
    error code; a good frame afterwards is answered correctly (the receiver has resynchronised)."""
    port = await reset(dut)
    info = expected_info()
    x = DATA["x"]

    def scenario():
        good = P.encode_request(P.CMD_INFER, P.pack_sample(x[0], info))
        bad = bytearray(good)
        bad[4] ^= 0x10                                   # one payload bit flipped: CRC mismatch
        results = {"crc": _exchange_raw(port, bytes(bad))}
        results["length"] = _exchange_raw(port, P.encode_request(P.CMD_INFER, P.pack_sample(x[0], info) + b"\0"))
        results["command"] = _exchange_raw(port, P.encode_request(0x7E, b""))
        results["sync"] = _exchange_raw(port, b"\x33")
        results["timeout"] = _exchange_raw(port, good[:3])   # then silence
        results["good"] = _exchange_raw(port, good)
        return results

    r = await bridge(scenario)()
    assert r["crc"] == (P.BAD_CRC, b""), r["crc"]
    assert r["length"] == (P.BAD_LENGTH, b""), r["length"]
    assert r["command"] == (P.BAD_COMMAND, b""), r["command"]
    assert r["sync"] == (P.BAD_SYNC, b""), r["sync"]
    assert r["timeout"] == (P.TIMEOUT, b""), r["timeout"]
    status, body = r["good"]
    assert status == P.OK and body[0] == int(DATA["counts"][0].argmax()), r["good"]
