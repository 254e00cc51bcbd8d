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
    as Verilog, in the same ``style`` (and ``local`` order) -- for simulation in unit tests. ``latency`` may exceed
    :func:`popcount_latency` (padding)."""

    def __init__(self, width: int, *, offset: int = 0, shape=None, latency: int | None = None,
                 every: int = DEFAULT_EVERY, style: str = DEFAULT_STYLE, weights=None, relay: int = 0,
                 local: bool = False):
        self.width = int(width)
        self.relay = int(relay)
        self.local = bool(local)
        self.offset = int(offset)
        self.every = int(every)
        self.style = style
        self.weights = None if weights is None else [int(w) for w in weights]
        total = self.width if self.weights is None else sum(self.weights)
        self.shape = shape if shape is not None else count_shape(min(self.offset, 0),
                                                                 max(self.offset + total, 0))
        try:
            self.min_latency = popcount_latency(self.width, self.every, self.style, self.weights, relay=self.relay,
                                                local=self.local)
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
                             self.every, self.style, self.weights, relay=self.relay, local=self.local)
        m.d.comb += self.o.eq(out)
        return m


#: with ``split``, the registers each count passes before the first comparison (see :class:`ArgMax`)
SPLIT_COUNT_REGISTERS = 2

#: with ``split``, the bits of each count one LUT4 compares in the first cycle of a level (two of each count)
COMPARE_SLICE = 2


def split_level_cycles(count_width: int) -> int:
    """Cycles of one comparison level of a ``split`` :class:`ArgMax` on counts of ``count_width`` bits: one for
    the slices, one per level of the tree that combines them, one for the selection."""
    slices = -(-max(int(count_width), 1) // COMPARE_SLICE)
    return 1 + log2_ceil(slices) + 1


def argmax_latency(k: int, split: bool = False, count_width: int = 1) -> int:
    """Cycles of :class:`ArgMax` for ``k`` classes: ``ceil(log2 k)`` (0 for k == 1); with ``split``
    :func:`split_level_cycles` a level and :data:`SPLIT_COUNT_REGISTERS` more before the first, where the counts
    are registered again (see ArgMax)."""
    levels = log2_ceil(int(k))
    if split and levels:
        return levels * split_level_cycles(count_width) + SPLIT_COUNT_REGISTERS
    return levels


def _slice_compare(a, b):
    """``(b > a, b == a)`` of two unsigned slices of one or two bits, as plain gates: yosys maps a ``>`` of
    any width to a carry chain on ECP5, which with its way in and out took 1.5 ns of the 4 ns period."""
    if len(a) == 1:
        return b[0] & ~a[0], ~(a[0] ^ b[0])
    eq1 = ~(a[1] ^ b[1])
    return (b[1] & ~a[1]) | (eq1 & b[0] & ~a[0]), eq1 & ~(a[0] ^ b[0])


def _combine(lo, hi):
    """``(greater, equal)`` of two neighbouring slices as one, ``hi`` the more significant."""
    (g_lo, e_lo), (g_hi, e_hi) = lo, hi
    return g_hi | (e_hi & g_lo), e_hi & e_lo


def _select(take_b, b, a):
    """``Mux(take_b, b, a)``; for two constants (the class indices of the first level) each bit as ``take_b``,
    its complement or a constant. yosys maps a register fed by a multiplexer of constants to a flip-flop with a
    synchronous reset driven through an inverter (ECP5: the LSR pin, 0.4 ns of setup), which was the critical path
    of a 250 MHz build."""
    if not (isinstance(a, Const) and isinstance(b, Const)):
        return Mux(take_b, b, a)
    bits = []
    for k in range(len(a)):
        x, y = a.value >> k & 1, b.value >> k & 1
        bits.append(Const(x, 1) if x == y else take_b if y else ~take_b)
    return Cat(*bits)


class ArgMax(wiring.Component):
    """``o_class`` = index of the largest of the k counts packed in ``i`` (class c at ``[c*cw +: cw]``), lowest
    index on ties; ``o_counts`` = ``i`` delayed to match. Latency :func:`argmax_latency`.

    Without ``split`` a level is one cycle: a whole compare and a multiplexer. With ``split``, for fast clocks,
    no cycle holds more than one LUT level: a level first compares the counts in slices of
    :data:`COMPARE_SLICE` bits (greater and equal of each slice, one LUT4 each), then combines neighbouring
    slices in a tree, a register after each step (greater = greater_hi | equal_hi & greater_lo), and selects in
    its last cycle. A compare with carry chains in one cycle and the selection in the next was the critical path
    of every design measured at a 250 MHz target on ECP5 (208.9 MHz for a locally wired network of 12,042 gate
    LUTs: 2.0 ns of logic, 2.8 ns of routing). ``split`` also registers the counts :data:`SPLIT_COUNT_REGISTERS`
    times before the first level: each class's count comes from its own popcount, wherever that was placed, and
    the registers let place and route put stops on the way (with none, 3.4 ns of routing from a count to the
    comparator in the MNIST example)."""

    def __init__(self, k: int, shape, split: bool = False):
        self.k = int(k)
        self.count_shape = shape
        self.cw = shape.width
        self.class_width = bits_for(max(self.k - 1, 0))
        self.split = bool(split)
        self.latency = argmax_latency(self.k, self.split, self.cw)
        super().__init__({"i": In(self.k * self.cw), "o_class": Out(self.class_width),
                          "o_counts": Out(self.k * self.cw)})

    def _split_take_b(self, m, tag, ca, cb):
        """The registers of a split level's compare -> (b > a, cycles it took)."""
        def ordered(c):
            u = c.as_unsigned()
            # two's complement ordered as unsigned: the sign bit inverted
            return Cat(u[:-1], ~u[-1]) if self.count_shape.signed else u

        def registered(step, terms):
            """Each (greater, equal) in a register; the equal ones only while a step still combines them."""
            out = []
            for n, (g, e) in enumerate(terms):
                rg = Signal(name=f"gt{tag}_{step}_{n}", reset_less=True)
                m.d.sync += rg.eq(g)
                re = None
                if len(terms) > 1:
                    re = Signal(name=f"eq{tag}_{step}_{n}", reset_less=True)
                    m.d.sync += re.eq(e)
                out.append((rg, re))
            return out
        ua, ub = ordered(ca), ordered(cb)
        # (greater, equal) of each slice, least significant first
        terms = registered(0, [_slice_compare(ua[lo:lo + COMPARE_SLICE], ub[lo:lo + COMPARE_SLICE])
                               for lo in range(0, self.cw, COMPARE_SLICE)])
        step = 0
        while len(terms) > 1:
            step += 1
            pairs = [terms[n:n + 2] for n in range(0, len(terms), 2)]
            terms = registered(step, [_combine(*p) if len(p) == 2 else p[0] for p in pairs])
        return terms[0][0], 1 + step

    def elaborate(self, platform):
        m = Module()
        signed_counts = self.count_shape.signed

        def count(c):
            v = self.i[c * self.cw:(c + 1) * self.cw]
            return v.as_signed() if signed_counts else v

        def held(values, names, cycles):
            for d in range(cycles):
                regs = [Signal.like(v, name=f"{n}_r{d}") for v, n in zip(values, names)]
                m.d.sync += [r.eq(v) for r, v in zip(regs, values)]
                values = regs
            return values

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
        compare_cycles = split_level_cycles(self.cw) - 1
        level = 0
        while len(items) > 1:
            level += 1
            nxt = []
            for j in range(0, len(items), 2):
                tag = f"{level}_{j // 2}"
                idx = Signal(self.class_width, name=f"idx{tag}", reset_less=True)
                cnt = Signal(self.count_shape, name=f"cnt{tag}", reset_less=True)
                if j + 1 < len(items):
                    (ia, ca), (ib, cb) = items[j], items[j + 1]
                    if self.split:
                        take_b, cycles = self._split_take_b(m, tag, ca, cb)
                        assert cycles == compare_cycles
                        ca, cb = held((ca, cb), [f"ca{tag}", f"cb{tag}"], cycles)
                        if not isinstance(ia, Const):
                            ia, ib = held((ia, ib), [f"ia{tag}", f"ib{tag}"], cycles)
                    else:
                        take_b = cb > ca        # strict: equal counts keep the lower index (left)
                    m.d.sync += [idx.eq(_select(take_b, ib, ia)), cnt.eq(Mux(take_b, cb, ca))]
                else:
                    ia, ca = items[j]
                    if self.split:
                        if isinstance(ia, Const):       # a class index needs no register
                            (ca,) = held((ca,), [f"ca{tag}"], compare_cycles)
                        else:
                            ia, ca = held((ia, ca), [f"ia{tag}", f"ca{tag}"], compare_cycles)
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
