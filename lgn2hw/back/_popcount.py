"""GroupSum in hardware: one pipelined popcount per class, written once and rendered twice.

:func:`build_popcount` describes the tree in terms of a tiny builder interface; :class:`VerilogBuilder` renders it
as generated Verilog text (what the emitter ships: a 48K model's last layer has 8,000 output bits, a 1.28M model
256,000, far too many for one Amaranth object per operation) and :class:`AmaranthBuilder` as Amaranth
statements (the :class:`~lgn2hw.back.PopCount` block that the unit tests simulate exhaustively).

The tree, designed for 4-input LUTs:

* level 1: full adders over groups of three bits -- the sum bit is XOR3 and the carry MAJ3, each a single LUT4
  (an output inversion flag folds into the same LUT), registered; two leftover bits form a half adder;
* levels 2..: a balanced binary tree of adders, each exactly as wide as the largest value it can hold (short
  carry chains); an odd operand is passed on;
* last level: add the class offset (GroupSum offsets and constant-one bits folded by the passes).

A register follows every ``every``-th level (default 2: a full adder and the first adder share a stage, as do
two adders of the tree) and the last one.

Every class uses the same number of levels (padding registers), so all counts arrive in the same cycle.
"""
from __future__ import annotations

from ._gates import bits_for, log2_ceil


DEFAULT_EVERY = 2


def _n_levels(width: int) -> int:
    return 1 + log2_ceil(max(1, -(-width // 3))) + 1


def popcount_latency(width: int, every: int = DEFAULT_EVERY) -> int:
    """Register levels of a popcount over ``width`` bits: the full adders, the adder tree and the offset are
    ``_n_levels`` logic levels, with a register after every ``every``-th of them and after the last."""
    return -(-_n_levels(width) // max(1, int(every)))


def build_popcount(b, bits: list, offset: int, out_width: int, latency: int, tag: str,
                   every: int = DEFAULT_EVERY):
    """Describe ``offset + popcount(bits)`` with builder ``b``; returns the output handle (``out_width`` bits,
    two's complement, ``latency`` registers after the bits; logic level i is registered when ``i % every == 0``
    and at the last level)."""
    every = max(1, int(every))
    n_levels = _n_levels(len(bits))

    def stage(level, expr, w, name):
        if level % every == 0 or level == n_levels:
            return b.reg(expr, w, name)
        return b.wire(expr, w, name)

    ops = []   # (handle, width, largest value)
    for t in range(0, len(bits), 3):
        grp = bits[t:t + 3]
        w = bits_for(len(grp))
        ops.append((stage(1, b.sum_bits(grp), w, f"{tag}_fa_{t // 3}"), w, len(grp)))
    if not ops:
        ops.append((b.const(0, 1), 1, 0))
    level = 1
    while len(ops) > 1:
        level += 1
        nxt = []
        for j in range(0, len(ops), 2):
            if j + 1 < len(ops):
                (x, _, mx), (y, _, my) = ops[j], ops[j + 1]
                w = bits_for(mx + my)
                nxt.append((stage(level, b.add(x, y, w), w, f"{tag}_l{level}_{j // 2}"), w, mx + my))
            elif level % every == 0:
                x, w, mx = ops[j]
                nxt.append((b.reg(x, w, f"{tag}_l{level}_{j // 2}"), w, mx))
            else:
                nxt.append(ops[j])
        ops = nxt
    value, w, _ = ops[0]
    for d in range(latency - popcount_latency(len(bits), every)):
        value = b.reg(value, w, f"{tag}_pad{d}")
    return stage(n_levels, b.add_const(value, offset, out_width), out_width, f"{tag}_count")


class VerilogBuilder:
    """Renders :func:`build_popcount` as Verilog: declarations plus one clocked block of assignments."""

    def __init__(self):
        self.decls = []
        self.assigns = []

    def sum_bits(self, grp):
        if len(grp) == 3:
            a, b, c = grp
            return f"{{({a} & {b}) | ({a} & {c}) | ({b} & {c}), {a} ^ {b} ^ {c}}}"
        if len(grp) == 2:
            a, b = grp
            return f"{{{a} & {b}, {a} ^ {b}}}"
        return grp[0]

    def const(self, value, width):
        return f"{width}'d{value}"

    def add(self, x, y, width):
        return f"{x} + {y}"           # evaluated at the width of the register it is assigned to

    def add_const(self, x, value, width):
        if value == 0:
            return x
        return f"{x} + {width}'d{value % (1 << width)}"   # two's complement modulo 2**width

    def reg(self, expr, width, name):
        self.decls.append(f"  reg [{width - 1}:0] {name};")
        self.assigns.append(f"    {name} <= {expr};")
        return name

    def wire(self, expr, width, name):
        self.decls.append(f"  wire [{width - 1}:0] {name} = {expr};")
        return name


class AmaranthBuilder:
    """Renders :func:`build_popcount` as Amaranth statements in module ``m`` (domain ``sync``, no reset)."""

    def __init__(self, m):
        self.m = m

    def sum_bits(self, grp):
        from amaranth.hdl import Cat
        if len(grp) == 3:
            a, b, c = grp
            return Cat(a ^ b ^ c, (a & b) | (a & c) | (b & c))
        if len(grp) == 2:
            a, b = grp
            return Cat(a ^ b, a & b)
        return grp[0]

    def const(self, value, width):
        from amaranth.hdl import Const
        return Const(value, width)

    def add(self, x, y, width):
        return x + y

    def add_const(self, x, value, width):
        from amaranth.hdl import Const
        return x + Const(value % (1 << width), width)

    def reg(self, expr, width, name):
        from amaranth.hdl import Signal
        r = Signal(width, name=name, reset_less=True)
        self.m.d.sync += r.eq(expr)
        return r

    def wire(self, expr, width, name):
        from amaranth.hdl import Signal
        r = Signal(width, name=name)
        self.m.d.comb += r.eq(expr)
        return r


def popcount_verilog(module: str, header: str, n_bits: int, class_bits: list, offsets: list, count_width: int,
                     latency: int, every: int = DEFAULT_EVERY) -> str:
    """A module ``module(clk, bits, counts)``: class c's count (``count_width`` bits, two's complement) at
    ``counts[c*count_width +: count_width]``, ``latency`` cycles after ``bits``."""
    b = VerilogBuilder()
    outs = []
    for c, positions in enumerate(class_bits):
        refs = [f"bits[{t}]" for t in positions]
        outs.append(build_popcount(b, refs, int(offsets[c]), count_width, latency, f"c{c}", every))
    k = len(class_bits)
    lines = [f"// {header}", f"module {module} (clk, bits, counts);", "  input clk;",
             f"  input [{max(n_bits, 1) - 1}:0] bits;", f"  output [{k * count_width - 1}:0] counts;"]
    lines += b.decls
    lines.append("  always @(posedge clk) begin")
    lines += b.assigns
    lines.append("  end")
    lines += [f"  assign counts[{c * count_width + count_width - 1}:{c * count_width}] = {o};"
              for c, o in enumerate(outs)]
    lines += ["endmodule", ""]
    return "\n".join(lines)
