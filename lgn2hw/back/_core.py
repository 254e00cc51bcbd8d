"""Amaranth blocks of the core: the pipelined GroupSum popcount, the pipelined argmax and the streaming top.

* :class:`PopCount` -- ones in an n-bit vector plus a constant offset. Level 0 compresses the bits in groups of
  three with full adders (sum = XOR3, carry = MAJ3: one 4-input LUT each, and an output inversion folds into the
  same LUT); then a balanced binary tree of narrow adders (carry chains on FPGAs), a register after every
  level; the last stage adds the class offset. Inputs need no particular order.
* :class:`ArgMax` -- index of the largest of k counts as a balanced comparator tree, a register after every
  level. The left operand of every comparison always holds the lower class indices and wins unless the right
  one is strictly larger, so on equal counts the lowest class index wins (PyTorch's ``argmax`` rule).
* :class:`LgnCore` -- the stream: the generated gate module (an ``Instance``), one PopCount per class, the
  ArgMax and a valid shift register of the same length. One sample per clock, no stalls, fixed latency.
"""
from __future__ import annotations

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._gates import bits_for, log2_ceil


def count_shape(lo: int, hi: int):
    """The narrowest Amaranth shape holding every integer in lo..hi (unsigned unless lo < 0)."""
    if lo >= 0:
        return unsigned(bits_for(hi))
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi < (1 << (width - 1))):
        width += 1
    return signed(width)


def popcount_latency(width: int) -> int:
    """Register levels of a PopCount over ``width`` bits: full adders, the adder tree, the offset."""
    return 1 + log2_ceil(max(1, -(-width // 3))) + 1


class PopCount(wiring.Component):
    """``o = offset + popcount(i)``, ``latency`` cycles after ``i`` (registered every level, no reset).

    ``latency`` may exceed :func:`popcount_latency` (extra delay registers, used to align classes)."""

    def __init__(self, width: int, *, offset: int = 0, shape=None, latency: int | None = None):
        self.width = int(width)
        self.offset = int(offset)
        self.shape = shape if shape is not None else count_shape(self.offset, self.offset + self.width)
        self.min_latency = popcount_latency(self.width)
        self.latency = self.min_latency if latency is None else int(latency)
        if self.latency < self.min_latency:
            raise ValueError(f"latency must be >= {self.min_latency} for {self.width} bits, not {self.latency}")
        super().__init__({"i": In(self.width), "o": Out(self.shape)})

    def elaborate(self, platform):
        m = Module()
        ops = []   # (value, largest value it can hold)
        for t in range(0, self.width, 3):
            grp = [self.i[j] for j in range(t, min(t + 3, self.width))]
            r = Signal(bits_for(len(grp)), name=f"fa_{t // 3}", reset_less=True)
            if len(grp) == 3:
                a, b, c = grp
                m.d.sync += r.eq(Cat(a ^ b ^ c, (a & b) | (a & c) | (b & c)))
            elif len(grp) == 2:
                a, b = grp
                m.d.sync += r.eq(Cat(a ^ b, a & b))
            else:
                m.d.sync += r.eq(grp[0])
            ops.append((r, len(grp)))
        if not ops:
            r = Signal(1, name="fa_0", reset_less=True)
            ops.append((r, 0))
        level = 0
        while len(ops) > 1:
            level += 1
            nxt = []
            for j in range(0, len(ops), 2):
                if j + 1 < len(ops):
                    (a, ma), (b, mb) = ops[j], ops[j + 1]
                    r = Signal(bits_for(ma + mb), name=f"add{level}_{j // 2}", reset_less=True)
                    m.d.sync += r.eq(a + b)
                    nxt.append((r, ma + mb))
                else:
                    a, ma = ops[j]
                    r = Signal(a.shape(), name=f"add{level}_{j // 2}", reset_less=True)
                    m.d.sync += r.eq(a)
                    nxt.append((r, ma))
            ops = nxt
        value = ops[0][0]
        for d in range(self.latency - self.min_latency):
            r = Signal(value.shape(), name=f"delay_{d}", reset_less=True)
            m.d.sync += r.eq(value)
            value = r
        offset = Const(self.offset, count_shape(min(self.offset, 0), max(self.offset, 0)))
        m.d.sync += self.o.eq(value + offset)
        return m


class ArgMax(wiring.Component):
    """``o_class`` = index of the largest of the k counts packed in ``i`` (class c at ``[c*cw +: cw]``), lowest
    index on ties; ``o_counts`` = ``i`` delayed to match. Latency ``ceil(log2 k)`` cycles (0 for k == 1)."""

    def __init__(self, k: int, shape):
        self.k = int(k)
        self.count_shape = shape
        self.cw = shape.width
        self.class_width = bits_for(max(self.k - 1, 0))
        self.latency = log2_ceil(self.k)
        super().__init__({"i": In(self.k * self.cw), "o_class": Out(self.class_width),
                          "o_counts": Out(self.k * self.cw)})

    def elaborate(self, platform):
        m = Module()
        signed_counts = self.count_shape.signed

        def count(c):
            v = self.i[c * self.cw:(c + 1) * self.cw]
            return v.as_signed() if signed_counts else v

        items = [(Const(c, self.class_width), count(c)) for c in range(self.k)]
        level = 0
        while len(items) > 1:
            level += 1
            nxt = []
            for j in range(0, len(items), 2):
                idx = Signal(self.class_width, name=f"idx{level}_{j // 2}", reset_less=True)
                cnt = Signal(self.count_shape, name=f"cnt{level}_{j // 2}", reset_less=True)
                if j + 1 < len(items):
                    (ia, ca), (ib, cb) = items[j], items[j + 1]
                    take_b = cb > ca            # strict: equal counts keep the lower index (left)
                    m.d.sync += [idx.eq(Mux(take_b, ib, ia)), cnt.eq(Mux(take_b, cb, ca))]
                else:
                    ia, ca = items[j]
                    m.d.sync += [idx.eq(ia), cnt.eq(ca)]
                nxt.append((idx, cnt))
            items = nxt
        m.d.comb += self.o_class.eq(items[0][0])
        counts = self.i
        for d in range(self.latency):
            r = Signal(len(self.i), name=f"counts_d{d}", reset_less=True)
            m.d.sync += r.eq(counts)
            counts = r
        m.d.comb += self.o_counts.eq(counts)
        return m


class LgnCore(wiring.Component):
    """The streaming top. ``plan`` is the :class:`~lgn2hw.back._verilog.CorePlan` the emitter computed."""

    def __init__(self, plan):
        self.plan = plan
        members = {"in_valid": In(1)}
        if plan.features:
            members["in_features"] = In(plan.n_features * 8)
        elif plan.n_inputs:
            members["in_bits"] = In(plan.n_inputs)
        members["out_valid"] = Out(1)
        members["out_class"] = Out(plan.class_width)
        if plan.counts_port:
            members["out_counts"] = Out(plan.n_classes * plan.count_width)
        super().__init__(members)

    def elaborate(self, platform):
        p = self.plan
        m = Module()
        out_bits = Signal(max(p.n_var_outputs, 1), name="gate_out")
        if p.n_var_outputs:
            in_port = self.in_features if p.features else self.in_bits
            in_name = "i_in_features" if p.features else "i_in_bits"
            m.submodules.gates = Instance(p.gates_module, i_clk=ClockSignal("sync"), **{in_name: in_port},
                                          o_out_bits=out_bits)
        pcs = []
        for c in range(p.n_classes):
            bits = p.class_bits[c]
            pc = PopCount(len(bits), offset=p.class_offset[c], shape=p.shape, latency=p.popcount_latency)
            m.submodules[f"popcount_{c}"] = pc
            if bits:
                m.d.comb += pc.i.eq(Cat(*(out_bits[t] for t in bits)))
            pcs.append(pc)
        am = ArgMax(p.n_classes, p.shape)
        m.submodules.argmax = am
        m.d.comb += am.i.eq(Cat(*(pc.o for pc in pcs)))
        m.d.comb += self.out_class.eq(am.o_class)
        if p.counts_port:
            m.d.comb += self.out_counts.eq(am.o_counts)
        valid = self.in_valid
        for d in range(p.latency):
            r = Signal(name=f"valid_{d}")
            m.d.sync += r.eq(valid)
            valid = r
        m.d.comb += self.out_valid.eq(valid)
        return m
