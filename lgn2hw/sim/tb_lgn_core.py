"""cocotb testbench for the emitted ``lgn_core``: stream samples, collect every output, record when it came.

Driven by :mod:`lgn2hw.back.rtlsim` (and through it by pytest and ``lgn2hw predict --engine rtl|icarus``).
The environment variable ``LGN_TB_CONFIG`` names a JSON file with:

``inputs``      .npy of (N, B) uint8 bytes per sample, byte j = port bits [8*j +: 8] (little-endian packing)
``send_cycle``  .npy of (N,) int64 strictly increasing cycles at which each sample is offered (gaps allowed)
``port``        ``in_bits`` or ``in_features`` (absent for a netlist without inputs: null)
``classes``, ``count_width``, ``count_signed``, ``counts_port``, ``latency`` (the reported one)
``output``      .npz to write: ``counts`` (N, k) int64, ``out_class`` (N,), ``out_cycle`` (N,) int64

Inputs are driven and outputs sampled on the falling clock edge, between rising edges, so the result does not
depend on how a simulator orders events within a time step. Cycle t is the t-th falling edge after reset.
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge


@cocotb.test()
async def stream(dut):
    with open(os.environ["LGN_TB_CONFIG"]) as f:
        cfg = json.load(f)
    raw = np.load(cfg["inputs"])
    send = np.load(cfg["send_cycle"]).astype(np.int64)
    n = len(send)
    k, cw, signed = int(cfg["classes"]), int(cfg["count_width"]), bool(cfg["count_signed"])
    latency = int(cfg["latency"])
    words = [int.from_bytes(row.tobytes(), "little") for row in raw]
    port = getattr(dut, cfg["port"]) if cfg["port"] else None
    have_counts = bool(cfg["counts_port"])

    Clock(dut.clk, 10, unit="ns").start(start_high=False)
    dut.rst.value = 1
    dut.in_valid.value = 0
    if port is not None:
        port.value = 0
    for _ in range(3):
        await FallingEdge(dut.clk)
    dut.rst.value = 0

    out_cycle, out_class, out_counts = [], [], []
    nxt = 0
    last = int(send[-1]) if n else -1
    t = 0
    # Run until every sample has come out, plus a margin that would catch extra or late outputs.
    while t <= last + latency + 4:
        if int(dut.out_valid.value):
            out_cycle.append(t)
            out_class.append(int(dut.out_class.value))
            if have_counts:
                out_counts.append(int(dut.out_counts.value))
        if nxt < n and send[nxt] == t:
            dut.in_valid.value = 1
            if port is not None:
                port.value = words[nxt]
            nxt += 1
        else:
            dut.in_valid.value = 0
        await FallingEdge(dut.clk)
        t += 1

    mask = (1 << cw) - 1
    counts = np.zeros((len(out_counts), k), dtype=np.int64)
    for i, word in enumerate(out_counts):
        for c in range(k):
            v = (word >> (c * cw)) & mask
            if signed and v >> (cw - 1):
                v -= 1 << cw
            counts[i, c] = v
    np.savez(cfg["output"], counts=counts, out_class=np.array(out_class, dtype=np.int64),
             out_cycle=np.array(out_cycle, dtype=np.int64))
    assert len(out_cycle) == n, f"expected {n} valid outputs, saw {len(out_cycle)}"
