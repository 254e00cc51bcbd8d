"""The UART harness around the core (RTL, in Amaranth): receive a request frame, feed the sample to the core,
answer with the class (and counts). The protocol is in docs/harness.md and, host side, in
:mod:`lgn2hw.fpga.protocol`; the RTL follows the same constants.

The core is an ``Instance`` of the backend's module (ports ``clk rst in_valid in_bits out_valid out_class``
and optionally ``out_counts``); the harness holds the sample steady from ``in_valid`` until ``out_valid``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Array, Cat, ClockSignal, Const, Elaboratable, Instance, Module, Mux, Signal

from . import protocol as P


@dataclass(frozen=True)
class HarnessConfig:
    n_inputs: int
    n_classes: int
    class_width: int
    count_width: int = 0           # 0: the core has no out_counts port
    core_top: str = "lgn_core"
    divisor: int = 217             # clock cycles per UART bit
    timeout_cycles: int = 250_000  # idle cycles that abort a half-received frame
    count_signed: bool = False     # counts are two's complement (a class offset is negative)
    raw_features: int = 0          # > 0: the core takes this many raw 8-bit features (``in_features``)
    # self-test (compile --selftest): samples as the sample register holds them (first byte lowest), their labels
    # and the classes the interpreter gave them, stored in block RAM; clock_hz is reported with the result
    selftest_samples: tuple = ()
    selftest_labels: tuple = ()
    selftest_expected: tuple = ()
    clock_hz: int = 0

    @property
    def mode(self) -> int:
        return P.MODE_RAW if self.raw_features else P.MODE_BITS

    @property
    def sample_bytes(self) -> int:
        return self.raw_features if self.raw_features else (self.n_inputs + 7) // 8

    @property
    def count_bytes(self) -> int:
        return (self.count_width + 7) // 8

    def info(self) -> P.DesignInfo:
        return P.DesignInfo(self.n_inputs, self.n_classes, self.mode, self.count_bytes, self.sample_bytes,
                            self.count_signed)


def _crc8_matrix():
    """CRC-8 (poly 0x07) of one byte is linear in d = crc ^ byte: output bit j is the XOR of the d bits in
    mask[j]. Derived from :func:`lgn2hw.fpga.protocol.crc8` on the unit vectors."""
    masks = [0] * 8
    for i in range(8):
        out = P.crc8(bytes([1 << i]))
        for j in range(8):
            if (out >> j) & 1:
                masks[j] |= 1 << i
    return masks


_CRC8_MASKS = _crc8_matrix()


def _crc8_step(crc, byte):
    """CRC-8 of one more byte, as a combinational expression."""
    d = crc ^ byte
    bits = []
    for mask in _CRC8_MASKS:
        terms = [d[i] for i in range(8) if (mask >> i) & 1]
        x = terms[0]
        for t in terms[1:]:
            x = x ^ t
        bits.append(x)
    return Cat(*bits)


class UARTRx(Elaboratable):
    """8N1 receiver: ``valid`` pulses one cycle with ``data``; a byte whose stop bit is low is dropped."""

    def __init__(self, divisor):
        self.divisor = divisor
        self.rx = Signal(init=1)
        self.data = Signal(8)
        self.valid = Signal()

    def elaborate(self, platform):
        m = Module()
        sync = Signal(2, init=0b11)
        m.d.sync += sync.eq(Cat(self.rx, sync[0]))
        line = sync[1]
        timer = Signal(range(self.divisor * 3 // 2 + 1))
        bits = Signal(range(10))
        shreg = Signal(8)
        m.d.sync += self.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += [timer.eq(self.divisor // 2), bits.eq(0)]
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    with m.If(line):           # glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += timer.eq(self.divisor - 1)
                        m.next = "DATA"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shreg.eq(Cat(shreg[1:], line)), bits.eq(bits + 1), timer.eq(self.divisor - 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.d.sync += [self.data.eq(shreg), self.valid.eq(1)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
        return m


class UARTTx(Elaboratable):
    """8N1 transmitter: assert ``start`` with ``data`` while ``ready``."""

    def __init__(self, divisor):
        self.divisor = divisor
        self.tx = Signal(init=1)
        self.data = Signal(8)
        self.start = Signal()
        self.ready = Signal()

    def elaborate(self, platform):
        m = Module()
        shreg = Signal(10, init=0x3FF)
        bits = Signal(range(11))
        timer = Signal(range(self.divisor))
        m.d.comb += [self.ready.eq(bits == 0), self.tx.eq(shreg[0])]
        with m.If(bits == 0):
            with m.If(self.start):
                m.d.sync += [shreg.eq(Cat(Const(0, 1), self.data, Const(1, 1))), bits.eq(10),
                             timer.eq(self.divisor - 1)]
        with m.Elif(timer == 0):
            m.d.sync += [shreg.eq(Cat(shreg[1:], Const(1, 1))), bits.eq(bits - 1), timer.eq(self.divisor - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m


class Harness(Elaboratable):
    """Frame receiver, core driver and answer sender. Ports: ``rx``, ``tx``, ``leds`` (the last class)."""

    def __init__(self, cfg: HarnessConfig, n_leds: int = 8):
        self.cfg = cfg
        self.rx = Signal(init=1)
        self.tx = Signal(init=1)
        self.leds = Signal(max(1, n_leds))

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        m.submodules.urx = urx = UARTRx(cfg.divisor)
        m.submodules.utx = utx = UARTTx(cfg.divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]

        # --- the sample: a byte shift register, first byte ends lowest --------------------------------------
        nbytes = cfg.sample_bytes
        sample = Signal(8 * nbytes)
        n_st = len(cfg.selftest_samples)
        st_valid = Signal()             # a stored self-test sample enters the core this cycle
        if n_st:
            from amaranth.lib.memory import Memory
            st_cw = cfg.class_width
            m.submodules.st_samples = st_mem = Memory(shape=8 * nbytes, depth=n_st,
                                                      init=[int(v) for v in cfg.selftest_samples])
            m.submodules.st_classes = st_cls = Memory(
                shape=2 * st_cw, depth=n_st, init=[int(lab) | (int(exp) << st_cw) for lab, exp in
                                                zip(cfg.selftest_labels, cfg.selftest_expected)])
            st_rd = st_mem.read_port()
            st_crd = st_cls.read_port()
            core_in = Signal(8 * nbytes)
            m.d.comb += core_in.eq(Mux(st_valid, st_rd.data, sample))
        else:
            core_in = sample
        in_bits = core_in[:cfg.n_inputs] if not cfg.raw_features else core_in

        # --- the core ---------------------------------------------------------------------------------------
        in_valid_uart = Signal()
        in_valid = Signal()
        m.d.comb += in_valid.eq(in_valid_uart | st_valid)
        out_valid = Signal()
        out_class = Signal(cfg.class_width)
        # the core's reset: a power-on pulse (board clock domains often have no reset), plus the domain reset
        por = Signal(2)
        m.d.sync += por.eq(Cat(Const(1, 1), por[0]))
        ports = dict(i_clk=ClockSignal(), i_rst=~por[1], i_in_valid=in_valid,
                     o_out_valid=out_valid, o_out_class=out_class)
        if cfg.raw_features:
            ports["i_in_features"] = in_bits
        elif cfg.n_inputs:
            ports["i_in_bits"] = in_bits
        out_counts = None
        if cfg.count_width:
            out_counts = Signal(cfg.n_classes * cfg.count_width)
            ports["o_out_counts"] = out_counts
        m.submodules.core = Instance(cfg.core_top, **ports)

        # --- the answer payload: class, then each count in count_bytes little-endian bytes ------------------
        info = cfg.info()
        info_bytes = list(info.pack())
        n_result = info.answer_bytes
        result = Signal(8 * n_result)
        last_class = Signal(cfg.class_width)
        m.d.comb += self.leds.eq(last_class)
        with m.If(out_valid):
            fields = [out_class.as_unsigned()]
            if out_counts is not None:
                cw, cb = cfg.count_width, cfg.count_bytes
                for c in range(cfg.n_classes):
                    value = out_counts[c * cw:(c + 1) * cw]
                    pad = value[-1].replicate(8 * cb - cw) if cfg.count_signed else Const(0, 8 * cb - cw)
                    fields.append(Cat(value, pad))
            m.d.sync += [result.eq(Cat(Cat(fields[0], Const(0, 8 - cfg.class_width)), *fields[1:])),
                         last_class.eq(out_class)]

        # --- the self-test: stored samples back to back, answers checked against the stored classes ---------
        st_bytes = P.SelfTest.PAYLOAD if n_st else 0
        st_result = Signal(8 * max(st_bytes, 1))
        st_cmd = Signal()               # the run was asked for over the UART (else: the one after reset)
        if n_st:
            fa = Signal(range(n_st + 1))        # next sample to feed
            oa = Signal(range(n_st + 1))        # next answer to check
            correct = Signal(16)
            mism = Signal(16)
            first = Signal(16, init=0xFFFF)
            cycles = Signal(32)
            m.d.comb += [st_rd.addr.eq(fa), st_crd.addr.eq(oa + out_valid)]   # classes for the next answer
            label, expect = st_crd.data[:st_cw], st_crd.data[st_cw:]
            m.d.comb += st_result.eq(Cat(Const(n_st, 16), correct, mism, first, cycles,
                                         Const(cfg.clock_hz // 1000, 32)))

        max_payload = max(n_result, len(info_bytes), st_bytes)
        status = Signal(8)
        ans_len = Signal(8)
        ans_info = Signal()
        ans_st = Signal()
        ans_bytes = Array([Signal(8, name=f"ans{i}") for i in range(max_payload)])
        for i in range(max_payload):
            from_result = result[8 * i:8 * i + 8] if i < n_result else Const(0, 8)
            from_info = Const(info_bytes[i], 8) if i < len(info_bytes) else Const(0, 8)
            from_st = st_result[8 * i:8 * i + 8] if i < st_bytes else Const(0, 8)
            m.d.comb += ans_bytes[i].eq(Mux(ans_st, from_st, Mux(ans_info, from_info, from_result)))

        # --- the frame receiver and answer sender -----------------------------------------------------------
        cmd = Signal(8)
        length = Signal(16)
        count = Signal(16)
        crc = Signal(8)
        idle = Signal(range(cfg.timeout_cycles + 1))
        index = Signal(range(max_payload + 4))
        ans_crc = Signal(8)
        byte = urx.data
        got = urx.valid
        crc_next = Signal(8)
        m.d.comb += crc_next.eq(_crc8_step(crc, byte))

        def answer(code, n=0, with_info=False, with_st=False):
            return [status.eq(code), ans_len.eq(n), ans_info.eq(with_info), ans_st.eq(with_st), index.eq(0)]

        with m.FSM(init="ST_START" if n_st else "IDLE"):       # with stored samples: a self-test after reset
            if n_st:
                with m.State("ST_START"):
                    with m.If(por[1]):                          # the core is out of reset
                        m.d.sync += [fa.eq(0), oa.eq(0), correct.eq(0), mism.eq(0), first.eq(0xFFFF),
                                     cycles.eq(0)]
                        m.next = "ST_RUN"
                with m.State("ST_RUN"):
                    m.d.sync += st_valid.eq(fa < n_st)
                    with m.If(fa != 0):                         # from the first sample in to the last answer
                        m.d.sync += cycles.eq(cycles + 1)
                    with m.If(fa < n_st):
                        m.d.sync += fa.eq(fa + 1)
                    with m.If(out_valid):
                        m.d.sync += oa.eq(oa + 1)
                        with m.If(out_class == label):
                            m.d.sync += correct.eq(correct + 1)
                        with m.If(out_class != expect):
                            m.d.sync += mism.eq(mism + 1)
                            with m.If(first == 0xFFFF):
                                m.d.sync += first.eq(oa)
                        with m.If(oa == n_st - 1):
                            m.next = "ST_DONE"
                with m.State("ST_DONE"):
                    with m.If(st_cmd):
                        m.d.sync += [st_cmd.eq(0), *answer(P.OK, st_bytes, with_st=True)]
                        m.next = "SEND"
                    with m.Else():
                        m.next = "IDLE"
            with m.State("IDLE"):
                with m.If(got):
                    with m.If(byte == P.REQ_SYNC):
                        m.d.sync += [crc.eq(0), idle.eq(0)]
                        m.next = "CMD"
                    with m.Else():
                        m.d.sync += answer(P.BAD_SYNC)
                        m.next = "SEND"
            # in every receiving state an idle gap longer than timeout_cycles aborts the frame
            for state, nxt in (("CMD", "LEN0"), ("LEN0", "LEN1"), ("LEN1", None), ("DATA", None), ("CRC", None)):
                with m.State(state):
                    with m.If(got):
                        m.d.sync += [idle.eq(0), crc.eq(crc_next)]
                        if state == "CMD":
                            m.d.sync += cmd.eq(byte)
                            m.next = nxt
                        elif state == "LEN0":
                            m.d.sync += length[:8].eq(byte)
                            m.next = nxt
                        elif state == "LEN1":
                            m.d.sync += [length[8:].eq(byte), count.eq(0)]
                            with m.If((byte == 0) & (length[:8] == 0)):
                                m.next = "CRC"
                            with m.Else():
                                m.next = "DATA"
                        elif state == "DATA":
                            m.d.sync += count.eq(count + 1)
                            with m.If(count < nbytes):
                                m.d.sync += sample.eq(Cat(sample[8:], byte) if nbytes > 1 else byte)
                            with m.If(count + 1 == length):
                                m.next = "CRC"
                        else:  # CRC byte
                            with m.If(byte != crc):
                                m.d.sync += answer(P.BAD_CRC)
                                m.next = "SEND"
                            with m.Elif(cmd == P.CMD_INFO):
                                with m.If(length != 0):
                                    m.d.sync += answer(P.BAD_LENGTH)
                                with m.Else():
                                    m.d.sync += answer(P.OK, len(info_bytes), True)
                                m.next = "SEND"
                            with m.Elif(cmd == P.CMD_INFER):
                                with m.If(length != nbytes):
                                    m.d.sync += answer(P.BAD_LENGTH)
                                    m.next = "SEND"
                                with m.Else():
                                    m.d.sync += in_valid_uart.eq(1)
                                    m.next = "RUN"
                            if n_st:
                                with m.Elif(cmd == P.CMD_SELFTEST):
                                    with m.If(length != 0):
                                        m.d.sync += answer(P.BAD_LENGTH)
                                        m.next = "SEND"
                                    with m.Else():
                                        m.d.sync += st_cmd.eq(1)
                                        m.next = "ST_START"
                            with m.Else():
                                m.d.sync += answer(P.BAD_COMMAND)
                                m.next = "SEND"
                    with m.Elif(idle == cfg.timeout_cycles):
                        m.d.sync += answer(P.TIMEOUT)
                        m.next = "SEND"
                    with m.Else():
                        m.d.sync += idle.eq(idle + 1)
            with m.State("RUN"):
                m.d.sync += in_valid_uart.eq(0)
                with m.If(out_valid):
                    m.d.sync += answer(P.OK, n_result)
                    m.next = "SETTLE"
            with m.State("SETTLE"):       # result is registered on out_valid; send from the next cycle
                m.next = "SEND"
            with m.State("SEND"):
                # index 0: sync, 1: status, 2: length, 3..3+len-1: payload, 3+len: CRC
                cur = Signal(8)
                with m.If(index == 0):
                    m.d.comb += cur.eq(P.ANS_SYNC)
                with m.Elif(index == 1):
                    m.d.comb += cur.eq(status)
                with m.Elif(index == 2):
                    m.d.comb += cur.eq(ans_len)
                with m.Elif(index == ans_len + 3):
                    m.d.comb += cur.eq(ans_crc)
                with m.Else():
                    m.d.comb += cur.eq(ans_bytes[(index - 3)[:len(index)]])
                m.d.comb += [utx.data.eq(cur), utx.start.eq(utx.ready)]
                with m.If(utx.ready):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == 0):
                        m.d.sync += ans_crc.eq(0)
                    with m.Elif(index < ans_len + 3):
                        m.d.sync += ans_crc.eq(_crc8_step(ans_crc, cur))
                    with m.Else():
                        m.next = "DRAIN"
            with m.State("DRAIN"):          # wait for the CRC byte to leave before taking the next frame
                with m.If(utx.ready):
                    m.next = "IDLE"
        return m


class BoardTop(Elaboratable):
    """The harness wired to a board's clock, UART and LEDs (resources named in the board YAML)."""

    def __init__(self, cfg: HarnessConfig, board, pll=None):
        self.cfg = cfg
        self.board = board
        self.pll = pll          # lgn2hw.fpga.pll.Pll: the whole harness runs at its output clock

    def elaborate(self, platform):
        m = Module()
        b = self.board
        if self.pll is not None:
            from amaranth.hdl import ClockDomain, ClockSignal, Signal
            from amaranth.lib import io
            from amaranth.lib.cdc import ResetSynchronizer

            from .pll import pll_instance
            m.submodules.clk_buf = buf = io.Buffer("i", platform.request(b.clock["resource"], 0, dir="-"))
            clk = Signal()
            locked = Signal()
            m.submodules.pll = pll_instance(self.pll, buf.i, clk, locked, device=b.device)
            m.domains.sync = ClockDomain("sync")
            m.d.comb += ClockSignal("sync").eq(clk)
            m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")     # held until the PLL locks
        leds_cfg = b.leds
        if "subsignals" in leds_cfg:
            res = platform.request(leds_cfg["resource"], 0)
            led_pins = [getattr(res, s).o for s in leds_cfg["subsignals"]]
        else:
            led_pins = [platform.request(leds_cfg["resource"], i).o for i in range(leds_cfg["count"])]
        m.submodules.harness = h = Harness(self.cfg, n_leds=len(led_pins))
        uart = platform.request("uart", int(b.uart.get("number", 0)))
        m.d.comb += [h.rx.eq(uart.rx.i), uart.tx.o.eq(h.tx)]
        for i, pin in enumerate(led_pins):
            m.d.comb += pin.eq(h.leds[i] if i < len(h.leds) else 0)
        return m


def uart_divisor(clock_hz: int, baud: int) -> int:
    return max(4, int(round(clock_hz / baud)))


def harness_verilog(cfg: HarnessConfig, name: str = "harness_top", n_leds: int = 8) -> str:
    """Verilog of the harness alone (ports ``clk rst rx tx leds``), instantiating the core by name; for
    simulation with the core's own Verilog."""
    from amaranth.back import verilog
    h = Harness(cfg, n_leds=n_leds)
    return verilog.convert(h, ports=[h.rx, h.tx, h.leds], name=name, emit_src=False)


def with_selftest(cfg: HarnessConfig, nl, x, labels=None, expected=None, clock_hz: int = 0) -> HarnessConfig:
    """``cfg`` with self-test samples ``x`` ((N, n_inputs) bits, or (N, n_features) raw features for a core that
    takes them), their ``labels`` (default: the interpreter's classes) and the classes the board must give
    (``expected``; default: the interpreter's, computed here)."""
    from dataclasses import replace

    from ..errors import UsageError
    from ..ir import evaluate
    info = cfg.info()
    x = P.check_samples(np.asarray(x), info)
    if not 1 <= len(x) <= 4096:
        raise UsageError(f"self-test samples must be 1 to 4096, not {len(x)}")
    if expected is None:
        expected = evaluate(nl, nl.encoding.apply(x) if cfg.raw_features else x).argmax(1)
    labels = expected if labels is None else np.asarray(labels).reshape(-1)
    if len(labels) != len(x) or (len(labels) and (labels.min() < 0 or labels.max() >= cfg.n_classes)):
        raise UsageError(f"self-test labels must be {len(x)} classes in 0..{cfg.n_classes - 1}")
    packed = tuple(int.from_bytes(P.pack_sample(row, info), "little") for row in x)
    return replace(cfg, selftest_samples=packed, selftest_labels=tuple(int(v) for v in labels),
                   selftest_expected=tuple(int(v) for v in expected), clock_hz=int(clock_hz))


def config_for(nl, core, divisor: int, timeout_cycles: int) -> HarnessConfig:
    """The harness for a netlist and the backend's result (``files``, ``top``, ``report``)."""
    rep = core.report
    names = {p["name"] for p in rep["ports"]}
    features = "in_features" in names
    return HarnessConfig(
        n_inputs=nl.n_inputs, n_classes=nl.n_classes, class_width=int(rep["class_width"]),
        count_width=int(rep["count_width"]) if "out_counts" in names else 0, core_top=core.top, divisor=divisor,
        timeout_cycles=timeout_cycles, count_signed=bool(rep.get("count_signed", False)),
        raw_features=nl.encoding.n_features if features else 0)
