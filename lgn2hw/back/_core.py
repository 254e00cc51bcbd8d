"""Amaranth blocks of the core: the pipelined GroupSum popcount, the pipelined argmax and the streaming top.

* :class:`PopCount` -- ones in an n-bit vector plus a constant offset, the tree of :mod:`._popcount` rendered in
  Amaranth (the emitter writes the same tree as Verilog text).
* :class:`ArgMax` -- index of the largest of k counts as a balanced comparator tree, a register after every
  level. The left operand of every comparison always holds the lower class indices and wins unless the right
  one is strictly larger, so on equal counts the lowest class index wins (PyTorch's ``argmax`` rule).
* :class:`LgnCore` -- the stream: the generated datapath (gate stages and popcounts, an ``Instance``), the
  ArgMax and a valid shift register of the same length. One sample per clock, no stalls, fixed latency.
"""
from __future__ import annotations

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._gates import bits_for, log2_ceil
from ._popcount import DEFAULT_EVERY, DEFAULT_STYLE, AmaranthBuilder, build_popcount, popcount_latency


def count_shape(lo: int, hi: int):
    """The narrowest Amaranth shape holding every integer in lo..hi (unsigned unless lo < 0)."""
    if lo >= 0:
        return unsigned(bits_for(hi))
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi < (1 << (width - 1))):
        width += 1
    return signed(width)


class PopCount(wiring.Component):
    """``o = offset + sum(weights[j] * i[j])`` (``shape``, two's complement when signed), ``latency`` cycles
    after ``i``; ``weights`` default to all 1 (a plain popcount).

    The Amaranth rendering of :func:`~lgn2hw.back._popcount.build_popcount` -- the same tree the emitter writes
    as Verilog, in the same ``style`` -- for simulation in unit tests. ``latency`` may exceed
    :func:`popcount_latency` (padding)."""

    def __init__(self, width: int, *, offset: int = 0, shape=None, latency: int | None = None,
                 every: int = DEFAULT_EVERY, style: str = DEFAULT_STYLE, weights=None):
        self.width = int(width)
        self.offset = int(offset)
        self.every = int(every)
        self.style = style
        self.weights = None if weights is None else [int(w) for w in weights]
        total = self.width if self.weights is None else sum(self.weights)
        self.shape = shape if shape is not None else count_shape(min(self.offset, 0),
                                                                 max(self.offset + total, 0))
        try:
            self.min_latency = popcount_latency(self.width, self.every, self.style, self.weights)
        except Exception:
            self._MustUse__silence = True     # never elaborated: no "created but never used" warning
            raise
        self.latency = self.min_latency if latency is None else int(latency)
        if self.latency < self.min_latency:
            self._MustUse__silence = True     # never elaborated: no "created but never used" warning
            raise ValueError(f"latency must be >= {self.min_latency} for {self.width} bits, not {self.latency}")
        super().__init__({"i": In(self.width), "o": Out(self.shape)})

    def elaborate(self, platform):
        m = Module()
        bits = [self.i[j] for j in range(self.width)]
        out = build_popcount(AmaranthBuilder(m), bits, self.offset, self.shape.width, self.latency, "pc",
                             self.every, self.style, self.weights)
        m.d.comb += self.o.eq(out)
        return m


#: with ``split``, the registers each count passes before the first comparison (see :class:`ArgMax`)
SPLIT_COUNT_REGISTERS = 2


def argmax_latency(k: int, split: bool = False) -> int:
    """Cycles of :class:`ArgMax` for ``k`` classes: ``ceil(log2 k)`` (0 for k == 1); with ``split`` two a level
    and :data:`SPLIT_COUNT_REGISTERS` more before the first, where the counts are registered again (see
    ArgMax)."""
    levels = log2_ceil(int(k))
    return 2 * levels + SPLIT_COUNT_REGISTERS if split and levels else levels


class ArgMax(wiring.Component):
    """``o_class`` = index of the largest of the k counts packed in ``i`` (class c at ``[c*cw +: cw]``), lowest
    index on ties; ``o_counts`` = ``i`` delayed to match. Latency :func:`argmax_latency`: a level a cycle, or with
    ``split``, for fast clocks, two: each level then compares the high and low halves of the counts in one cycle
    and combines them and selects in the next (a whole compare followed by a multiplexer does not fit a 4 ns clock
    period on ECP5). ``split`` also registers the counts :data:`SPLIT_COUNT_REGISTERS` times before the first
    level: each class's count comes from its own popcount, wherever that was placed, and without them the first
    comparison was the critical path of the MNIST example at a 250 MHz target (3.4 ns of routing from the count to
    the comparator's register); the registers let place and route put stops on the way. With one register, and gate
    registers copied (``max_fanout``), it was the critical path again (204.3 and 183.3 MHz with seeds 1 and 2, two
    counts 2.9-3.2 ns of routing from the comparator reading both); with two, 202.3 and 193.2 MHz without copies."""

    def __init__(self, k: int, shape, split: bool = False):
        self.k = int(k)
        self.count_shape = shape
        self.cw = shape.width
        self.class_width = bits_for(max(self.k - 1, 0))
        self.split = bool(split)
        self.latency = argmax_latency(self.k, self.split)
        super().__init__({"i": In(self.k * self.cw), "o_class": Out(self.class_width),
                          "o_counts": Out(self.k * self.cw)})

    def elaborate(self, platform):
        m = Module()
        signed_counts = self.count_shape.signed

        def count(c):
            v = self.i[c * self.cw:(c + 1) * self.cw]
            return v.as_signed() if signed_counts else v

        items = [(Const(c, self.class_width), count(c)) for c in range(self.k)]
        if self.split and self.k > 1:
            staged = []
            for c, (ic, cc) in enumerate(items):
                for s in range(SPLIT_COUNT_REGISTERS):
                    r = Signal.like(cc, name=f"cnt0_{c}" + (f"_{s}" if s else ""))
                    m.d.sync += r.eq(cc)
                    cc = r
                staged.append((ic, cc))
            items = staged
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
                    if self.split:
                        # first cycle: the high and low halves compared apart (two short carry chains);
                        # second: b > a = hi_gt | (hi_eq & lo_gt), then the selection
                        tag = f"{level}_{j // 2}"
                        h = self.cw // 2
                        hi_a, hi_b = (ca[h:].as_signed(), cb[h:].as_signed()) if signed_counts else (ca[h:], cb[h:])
                        hi_gt, hi_eq, lo_gt = (Signal(name=f"{n}{tag}", reset_less=True)
                                               for n in ("hi_gt", "hi_eq", "lo_gt"))
                        m.d.sync += [hi_gt.eq(hi_b > hi_a), hi_eq.eq(hi_b == hi_a),
                                     lo_gt.eq(cb[:h] > ca[:h] if h else 0)]
                        held = [Signal.like(x, name=f"{n}{tag}_r") for x, n in
                                ((ia, "ia"), (ca, "ca"), (ib, "ib"), (cb, "cb"))]
                        m.d.sync += [r.eq(x) for r, x in zip(held, (ia, ca, ib, cb))]
                        ia, ca, ib, cb = held
                        take_b = hi_gt | (hi_eq & lo_gt)
                    m.d.sync += [idx.eq(Mux(take_b, ib, ia)), cnt.eq(Mux(take_b, cb, ca))]
                else:
                    ia, ca = items[j]
                    if self.split:
                        hi, hc = (Signal.like(ia, name=f"ia{level}_{j // 2}_r"),
                                  Signal.like(ca, name=f"ca{level}_{j // 2}_r"))
                        m.d.sync += [hi.eq(ia), hc.eq(ca)]
                        ia, ca = hi, hc
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
        am = ArgMax(p.n_classes, p.shape, split=p.argmax_split)
        m.submodules.argmax = am
        counts = Signal(p.n_classes * p.count_width, name="counts")
        if p.n_var_outputs:
            in_port = self.in_features if p.features else self.in_bits
            in_name = "i_in_features" if p.features else "i_in_bits"
            m.submodules.datapath = Instance(p.datapath_module, i_clk=ClockSignal("sync"), **{in_name: in_port},
                                             o_counts=counts)
        else:   # every count is a constant
            m.d.comb += counts.eq(Cat(*(Const(o % (1 << p.count_width), p.count_width) for o in p.class_offset)))
        m.d.comb += am.i.eq(counts)
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
