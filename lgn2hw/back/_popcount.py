"""GroupSum in hardware: one pipelined popcount per class, planned once and rendered twice.

:func:`_plan` decides the tree (which bits form which leaf, which operands each adder adds, which level is
registered); :func:`build_popcount` renders a plan through a tiny builder interface. :class:`VerilogBuilder`
writes generated Verilog text (what the emitter ships: a 48K model's last layer has 8,000 output bits, a 1.28M
model 256,000, far too many for one Amaranth object per operation) and :class:`AmaranthBuilder` Amaranth
statements (the :class:`~lgn2hw.back.PopCount` block that the unit tests simulate exhaustively). Both render the
same plan, so what is simulated is what is shipped.

Inputs are bits with positive integer weights (a net counted twice in one class is one bit of weight 2). A
weight-w bit enters the tree at the binary positions of w: column j holds the bits whose weight has bit j set.

The tree, designed for 4-input LUTs and short carry chains:

* level 1 (leaves): full adders over groups of three bits of one column -- the sum bit is XOR3 and the carry
  MAJ3, each a single LUT4 (an output inversion folds into the same LUT); one or two leftover bits form a
  smaller leaf;
* levels 2..: at each level the operands, ordered by their largest value, are added in pairs; every adder is
  exactly as wide as the largest value it can hold, and an odd operand is passed on. Operands of different
  columns are aligned by a shift (low zero bits are never added);
* last level: add the class offset (GroupSum offsets and constant-one bits folded by the passes).

Styles (``style=``):

* ``"fa"`` -- the tree above.
* ``"cin"`` -- the same tree, but about a quarter of the weight-1 bits are kept out of the leaves and enter
  the adders as their carry-in (``x + y + c``): a carry chain takes that bit for free, so the same tree
  counts more bits with fewer leaves. With operands of 2**k - 1 the adders stay exactly as wide as without.
  A carry-in used above a register passes through as many one-bit registers as its sample has.
* ``"pack"`` -- the ``cin`` tree with all adders of one level laid side by side in a few wide additions
  (at most :data:`PACK_COLUMNS` columns each). Between two adders one column holds the next adder's carry-in
  ``c`` in both operands: it adds ``2c + carry``, so its sum bit is the lower adder's carry out and its carry
  out is ``c``. A small adder alone costs a chain start and a carry-out cell and, below 5 result bits, yosys
  maps it to LUTs instead of ECP5 CCU2C; packed, each adder costs its width plus one column.

Measured (``bench/bench_popcount.py``, yosys 0.70 ``synth_ecp5 -nowidelut``, nextpnr 0.11 out of context on
LFE5U-85F-6, LUT4-equivalents = LUT4 + 2 x CCU2C). One 800-bit class, a register after every level: ``fa``
1,702 at 299 MHz, ``cin`` 1,477 at 277 MHz, ``pack`` 1,200 at 261 MHz (1,206 at 303 MHz with 12-column
chains); with a register after every second level all stay below 200 MHz. The shared 48K model's ten classes
(7,997 bits): ``fa`` 17,021 (19,667 TRELLIS_COMB) at 291 MHz; ``pack`` 12,429, with duplicates merged 12,233,
and with the inverted-bit hint 11,840 (13,286 TRELLIS_COMB) at 234 MHz -- at that size the clock is set by
routing between levels (about 2.5 ns), not by the chains; ``cin`` (merged, hint) 14,510 (16,504 TRELLIS_COMB)
at 263 MHz. ``pack`` is the smallest; ``cin`` is the smallest that met 250 MHz on its own. iCE40 (``synth_ice40``, 800 bits): ``pack`` 1,159
SB_LUT4 whatever the spacing, ``cin`` 997 (every level, but 1,619 flip-flops) or 1,224 (every second level),
``fa`` 1,327 or 1,545. :data:`RECOMMENDED` holds the resulting choice per family.

Order (``local=``): by default the operands of a level are ordered by their largest value, which keeps adders
narrow. A class's bits on a chip are spread over the whole network, though, and an adder that adds bits of
distant gates needs a long wire at every level. When the bits come in an order in which neighbours are near
each other (the emitter orders them along a Hilbert curve over their places on the input image, which is where
locally wired gates end up; :func:`place_order`), ``local`` forms the leaves in that order, adds neighbours at
every level, takes the carry-ins evenly along the bits and gives each to the adder that sits where it is.

A register follows every ``every``-th level (default 2: a full adder and the first adder share a stage, as do
two adders of the tree) and the last one; the number of registers is :func:`popcount_latency`. Every class of
a design is padded to the same latency (extra registers before the offset), so all counts arrive together.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..errors import UsageError
from ._gates import bits_for

DEFAULT_EVERY = 2
STYLES = ("fa", "cin", "pack")
DEFAULT_STYLE = "fa"
#: ``pack``: the most columns (adders plus one separating column each) in one carry chain.
PACK_COLUMNS = 24
#: Resolution of :func:`place_order`: a 2**bits x 2**bits grid over the places.
_HILBERT_BITS = 10
#: The measured best (style, every) per device family; see bench/bench_popcount.py and bench/results/popcount.json.
#: iCE40 keeps ``fa``: with ``pack`` the example model's core plus UART harness on the HX8K breakout board did not
#: route (nextpnr-ice40 still had 9,857 arcs to route after 20 minutes), with ``fa`` it routes.
RECOMMENDED = {"ecp5": ("pack", 1), "ice40": ("fa", 2)}
#: The style at fast clocks (where a register follows every level), per family. ECP5 takes ``cin``: in whole
#: designs at a 250 MHz target ``pack``'s wide chains, each gathering the bits of many adders, set the clock --
#: the 2,514-LUT cone of the shared 48K model with lgn2hw's placement 172.7 MHz with ``pack``, 197.9 with ``cin``
#: (bench/results/placement.json); examples/mnist_lgn_96.pt with nextpnr's 174.8 and 186.9 MHz -- at 5-16 % more LUT4.
FAST_STYLE = {"ecp5": "cin"}


@dataclass
class _Op:
    """An operand of the tree: ``value << shift``; ``value`` holds 0..``top``."""
    kind: str                  # "leaf", "add", "pass", "zero"
    top: int
    shift: int
    bits: tuple = ()           # leaf: input indices of one column
    args: tuple = ()           # add: (left, right) _Op; pass: (op,)
    cin: int | None = None     # add: input index added as carry-in

    @property
    def width(self) -> int:
        return bits_for(self.top)


@dataclass
class _Plan:
    levels: list = field(default_factory=list)   # levels[i]: the operands formed at logic level i + 1
    n_levels: int = 0                             # tree levels plus the offset level

    @property
    def result(self) -> _Op:
        return self.levels[-1][0]


def recommended_style(family: str) -> tuple[str, int]:
    """``(style, every)`` for a device family (``ecp5``, ``ice40``); the defaults for any other."""
    return RECOMMENDED.get(family, (DEFAULT_STYLE, DEFAULT_EVERY))


def check_style(style: str) -> str:
    if style not in STYLES:
        raise UsageError(f"popcount style must be {', '.join(STYLES[:-1])} or {STYLES[-1]}, not {style!r}",
                         hint="fa: full adders then an adder tree; cin: the same with bits entering as carry-in; "
                              "pack: cin with the adders of a level side by side in long carry chains")
    return style


def _weights(n: int, weights) -> list:
    if weights is None:
        return [1] * n
    w = [int(x) for x in weights]
    if len(w) != n:
        raise ValueError(f"{len(w)} weights for {n} bits")
    if any(x < 1 for x in w):
        raise ValueError("popcount weights must be positive integers")
    return w


def _carry_in_pool(col0: list, reserve: int, inverted, local: bool) -> tuple[list, list]:
    """``(rest, pool)``: the column-0 entries ``col0`` split into the leaves' bits and ``reserve`` carry-ins. By
    index: the last entries, plain bits before inverted ones, in the order the adders take them. ``local``: one
    entry from each of ``reserve`` equal runs of ``col0`` (a plain bit where the run has one), in order."""
    if not reserve:
        return list(col0), []
    if not local:
        if inverted is not None:
            col0 = [i for i in col0 if inverted[i]] + [i for i in col0 if not inverted[i]]
        return col0[:len(col0) - reserve], col0[len(col0) - reserve:]
    n = len(col0)
    pool = []
    for q in range(reserve):
        run = col0[q * n // reserve:(q + 1) * n // reserve]
        plain = [i for i in run if inverted is None or not inverted[i]] or run
        pool.append(plain[len(plain) // 2])
    taken = set(pool)
    return [i for i in col0 if i not in taken], pool


def _tree(weights: list, reserve: int, inverted=None, local: bool = False) -> tuple[_Plan, int]:
    """The tree with ``reserve`` column-0 entries kept for carry-ins (:func:`_carry_in_pool`); returns it and how
    many of them found no adder (the caller picks ``reserve`` so that this is 0). The adders of the lowest
    levels take them, as many as there are. ``local``: the bits come in an order in which neighbours are near
    each other on the chip (:func:`place_order`); leaves are then formed in that order, every level adds
    neighbours in it (instead of operands ordered by their largest value), and the carry-ins, taken along the
    bits, go to the adders in the order in which each sits between its two operands' bits."""
    columns = {}
    for i, w in enumerate(weights):
        j = 0
        while w:
            if w & 1:
                columns.setdefault(j, []).append(i)
            w >>= 1
            j += 1
    rest, pool = _carry_in_pool(columns.get(0, []), reserve, inverted, local)
    if reserve:
        columns[0] = rest
    leaves = []
    for j in sorted(columns):
        entries = columns[j]
        for t in range(0, len(entries), 3):
            grp = tuple(entries[t:t + 3])
            leaves.append(_Op("leaf", len(grp), j, bits=grp))
    if local:
        leaves.sort(key=lambda op: op.bits[0])      # columns interleaved where their bits are
    if not leaves:
        leaves.append(_Op("zero", 0, 0))
    plan = _Plan(levels=[leaves])
    ops = leaves
    left = len(pool)
    takers = []
    while len(ops) > 1:
        order = (list(range(len(ops))) if local else
                 sorted(range(len(ops)), key=lambda t: (ops[t].top << ops[t].shift, t)))
        nxt = []
        for p in range(0, len(order) - 1, 2):
            x, y = ops[order[p]], ops[order[p + 1]]
            s = min(x.shift, y.shift)
            take = s == 0 and left > 0
            left -= take
            top = (x.top << (x.shift - s)) + (y.top << (y.shift - s)) + take
            op = _Op("add", top, s, args=(x, y))
            if take:
                takers.append(op)
            nxt.append(op)
        if len(order) % 2:
            x = ops[order[-1]]
            nxt.append(_Op("pass", x.top, x.shift, args=(x,)))
        plan.levels.append(nxt)
        ops = nxt
    if local and takers:
        # where each adder sits along the bits: between its operands' last and first leaf bit
        last, first = {}, {}
        for level in plan.levels:
            for op in level:
                if op.kind == "leaf":
                    first[id(op)], last[id(op)] = op.bits[0], op.bits[-1]
                elif op.args:
                    first[id(op)], last[id(op)] = first[id(op.args[0])], last[id(op.args[-1])]
        takers.sort(key=lambda op: last[id(op.args[0])] + first[id(op.args[1])])
    for op, i in zip(takers, pool):
        op.cin = i
    plan.n_levels = len(plan.levels) + 1
    return plan, left


def place_order(places) -> list:
    """Indices of ``places`` ((n, 2) coordinates, any scale) in the order of a Hilbert curve over their bounding
    box: consecutive entries are near each other, and every run of 2**k of them covers a compact region."""
    import numpy as np
    pts = np.asarray(places, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 2:
        return list(range(len(pts)))
    side = 1 << _HILBERT_BITS
    lo, span = pts.min(axis=0), np.ptp(pts, axis=0)
    span = np.where(span > 0, span, 1.0)
    x, y = (np.rint((pts - lo) / span * (side - 1)).astype(np.int64)).T
    d = np.zeros(len(pts), dtype=np.int64)
    s = side // 2
    while s:
        rx, ry = (x & s) > 0, (y & s) > 0
        d += s * s * ((3 * rx.astype(np.int64)) ^ ry.astype(np.int64))
        flip = ~ry & rx
        x, y = np.where(flip, side - 1 - x, x), np.where(flip, side - 1 - y, y)
        x, y = np.where(~ry, y, x), np.where(~ry, x, y)
        s //= 2
    return np.argsort(d, kind="stable").tolist()


def _plan(n: int, weights=None, style: str = DEFAULT_STYLE, inverted=None, local: bool = False) -> _Plan:
    """The tree for these bits (``local``: see :func:`_tree`); the emitter asks twice for each class (its
    latency, then its Verilog), so the last few plans are kept (a plan is never changed once made)."""
    return _cached_plan(int(n), None if weights is None else tuple(int(w) for w in weights), style,
                        None if inverted is None else tuple(bool(v) for v in inverted), bool(local))


@functools.lru_cache(maxsize=32)
def _cached_plan(n: int, weights, style: str, inverted, local: bool) -> _Plan:
    weights = _weights(n, weights)
    if inverted is not None and len(inverted) != n:
        raise ValueError(f"{len(inverted)} inversion flags for {n} bits")
    check_style(style)
    if style == "fa":
        return _tree(weights, 0, local=local)[0]
    # cin and pack: the largest reserve every bit of which finds an adder (fewer leaves, fewer adders: bisect).
    n0 = sum(1 for w in weights if w & 1)
    lo, hi = 0, n0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _tree(weights, mid, inverted, local)[1] == 0:
            lo = mid
        else:
            hi = mid - 1
    return _tree(weights, lo, inverted, local)[0]


def _span(op: _Op) -> int:
    """Columns an adder's operands take (aligned to its shift)."""
    return max(x.width + x.shift - op.shift for x in op.args)


def _packs(adds: list) -> list:
    """Adders of one level in order, cut into carry chains of at most PACK_COLUMNS columns."""
    packs, cols = [], 0
    for op in adds:
        need = _span(op) + 1
        if packs and cols + need <= PACK_COLUMNS:
            packs[-1].append(op)
            cols += need
        else:
            packs.append([op])
            cols = need
    return packs


def _relayed(n_levels: int, every: int, relay: int) -> list:
    """The tree levels whose registered results are registered once more (see :func:`build_popcount`): the
    ``relay`` highest registered levels of the tree (the offset level excluded)."""
    every = max(1, int(every))
    tree = [lv for lv in range(1, n_levels) if lv % every == 0]
    return tree[len(tree) - min(max(0, int(relay)), len(tree)):]


def popcount_latency(width: int, every: int = DEFAULT_EVERY, style: str = DEFAULT_STYLE, weights=None,
                     inverted=None, relay: int = 0, local: bool = False) -> int:
    """Register levels of a popcount over ``width`` bits (with ``weights``, one per bit, when given): the
    leaves, the adder tree and the offset are the plan's logic levels, with a register after every ``every``-th
    of them and after the last, and ``relay`` more (:func:`build_popcount`)."""
    n_levels = _plan(int(width), weights, style, inverted, local).n_levels
    return -(-n_levels // max(1, int(every))) + len(_relayed(n_levels, every, relay))


def build_popcount(b, bits: list, offset: int, out_width: int, latency: int, tag: str,
                   every: int = DEFAULT_EVERY, style: str = DEFAULT_STYLE, weights=None, inverted=None,
                   relay: int = 0, local: bool = False):
    """Describe ``offset + sum(weight * bit)`` with builder ``b``; returns the output handle (``out_width``
    bits, two's complement, ``latency`` registers after the bits; logic level i is registered when
    ``i % every == 0`` and at the last level). ``weights``: one positive int per bit, default all 1.
    ``inverted``: optional flags, one per bit, marking bits that are the complement of a register -- they are
    kept out of the carry-ins when possible (the value is the same either way; only the area differs).
    ``relay``: the results of the ``relay`` highest registered levels of the tree pass one more register before
    the level above reads them. The operands near the top of a class's tree come from bits spread over the
    whole network, so their wires are the longest; a relay register is a stop that place and route puts on the
    way (it adds no logic). ``local``: the bits are in an order in which neighbours are near each other on the
    chip (:func:`_tree`). The registers that delay a carry-in are kept apart from equal ones: another class that
    counts the same bit may delay it as often, and synthesis would otherwise share one register between the two
    trees, wherever they are."""
    every = max(1, int(every))
    plan = _plan(len(bits), weights, style, inverted, local)
    n_levels = plan.n_levels
    relayed = set(_relayed(n_levels, every, relay))
    min_latency = -(-n_levels // every) + len(relayed)
    if latency < min_latency:
        raise ValueError(f"latency must be >= {min_latency} for this popcount, not {latency}")

    def registered(level):
        return level % every == 0 or level == n_levels

    handle = {}   # id(_Op) -> builder handle
    delayed = {}  # (input index, registers) -> that bit through so many registers (carry-ins of later levels)

    def through(i, regs):
        if regs == 0:
            return bits[i]
        if (i, regs) not in delayed:
            # a builder may keep these registers from being merged with equal ones (VerilogBuilder)
            delayed[i, regs] = getattr(b, "kept_reg", b.reg)(through(i, regs - 1), 1, f"{tag}_cin{i}_d{regs}")
        return delayed[i, regs]

    def carry_in(i, level):
        # the sample a carry-in belongs to has passed every register below its level, relays included
        return through(i, sum(1 for lv in range(1, level) if registered(lv)) + sum(1 for lv in relayed if lv < level))

    def operands(op):
        """The two operands of an adder aligned to its shift: [(handle, width)] * 2."""
        out = []
        for x in op.args:
            h, wx = handle[id(x)], x.width
            if x.shift > op.shift:
                h, wx = b.shl(h, x.shift - op.shift, wx), wx + x.shift - op.shift
            out.append((h, wx))
        return out

    def pack_add(pack, level, name):
        """Adders side by side in one carry chain: adder i takes columns [base_i, base_i + p_i); between two
        adders a separating column holds the next carry-in c in both operands, so that it adds 2c + carry:
        its sum bit is the carry out of adder i (its top result bit) and its carry out is c."""
        xs, ys, bases = [], [], []
        col = 0
        first_cin = None
        for i, op in enumerate(pack):
            (hx, wx), (hy, wy) = operands(op)
            c = carry_in(op.cin, level) if op.cin is not None else None
            if i == 0:
                first_cin = c
            else:
                sep = c if c is not None else b.const(0, 1)
                xs.append((sep, 1, 1))
                ys.append((sep, 1, 1))
                col += 1
            p = max(wx, wy)
            bases.append(col)
            xs.append((hx, wx, p))
            ys.append((hy, wy, p))
            col += p
        if pack[-1].width > xs[-1][2]:        # the last adder's carry out needs a column of its own
            xs.append((b.const(0, 1), 1, 1))
            ys.append((b.const(0, 1), 1, 1))
            col += 1
        expr = b.add(b.cat(xs), b.cat(ys), col, first_cin)
        h = b.reg(expr, col, name) if registered(level) else b.wire(expr, col, name)
        for op, base in zip(pack, bases):
            handle[id(op)] = b.slice(h, base, op.width)

    for level, ops in enumerate(plan.levels, start=1):
        for t, op in enumerate(ops):
            name = f"{tag}_l{level}_{t}" if level > 1 else f"{tag}_fa_{t}"
            w = op.width
            if op.kind == "zero":
                handle[id(op)] = b.const(0, 1)
                continue
            if op.kind == "leaf":
                grp = [bits[i] for i in op.bits]
                # a builder may write a leaf adder whose result is registered its own way (CellBuilder)
                expr = getattr(b, "registered_sum_bits", b.sum_bits)(grp) if registered(level) else b.sum_bits(grp)
            elif op.kind == "pass":
                (x,) = op.args
                if not registered(level):
                    handle[id(op)] = handle[id(x)]
                    continue
                handle[id(op)] = b.reg(handle[id(x)], w, name)
                continue
            elif style == "pack":
                continue       # below, all adders of the level at once
            else:
                (hx, _), (hy, _) = operands(op)
                cin = carry_in(op.cin, level) if op.cin is not None else None
                expr = b.add(hx, hy, w, cin)
            handle[id(op)] = b.reg(expr, w, name) if registered(level) else b.wire(expr, w, name)
        if style == "pack":
            adds = [op for op in ops if op.kind == "add"]
            for q, pack in enumerate(_packs(adds)):
                pack_add(pack, level, f"{tag}_l{level}_p{q}")
        if level in relayed:
            for t, op in enumerate(ops):
                if op.kind != "zero":
                    handle[id(op)] = b.reg(handle[id(op)], op.width, f"{tag}_l{level}_{t}_relay")

    top = plan.result
    value, w = handle[id(top)], top.width
    for d in range(latency - min_latency):
        value = b.reg(value, w, f"{tag}_pad{d}")
    if top.shift:
        value = b.shl(value, top.shift, w)
    expr = b.add_const(value, offset, out_width)
    if registered(n_levels):
        return b.reg(expr, out_width, f"{tag}_count")
    return b.wire(expr, out_width, f"{tag}_count")    # pragma: no cover  (the last level is always registered)


def merge_duplicates(keys: list) -> tuple[list, list]:
    """Bits of one class given as hashable keys (e.g. ``(net, invert)``): the indices of the first occurrence
    of each key, in order, and how many times each occurs -- the ``weights`` to count them with."""
    first, count = {}, []
    order = []
    for i, k in enumerate(keys):
        if k in first:
            count[first[k]] += 1
        else:
            first[k] = len(order)
            order.append(i)
            count.append(1)
    return order, count


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

    def shl(self, x, k, width):
        return f"{{{x}, {k}'d0}}"

    def cat(self, parts):
        """``parts``: (handle, width, field width) from the least significant end; fields are zero-extended."""
        out = []
        for h, w, f in reversed(parts):
            out.append(h if f == w else f"{f - w}'d0, {h}")
        return "{" + ", ".join(out) + "}"

    def slice(self, x, lo, width):
        return f"{x}[{lo + width - 1}:{lo}]"

    def add(self, x, y, width, cin=None):
        # evaluated at the width of the register it is assigned to: every operand is extended to it first
        return f"{x} + {y}" if cin is None else f"{x} + {y} + {cin}"

    def add_const(self, x, value, width):
        if value == 0:
            return x
        return f"{x} + {width}'d{value % (1 << width)}"   # two's complement modulo 2**width

    def reg(self, expr, width, name):
        self.decls.append(f"  reg [{width - 1}:0] {name};")
        self.assigns.append(f"    {name} <= {expr};")
        return name

    def kept_reg(self, expr, width, name):
        """A register that synthesis does not merge with an equal one."""
        self.decls.append(f"  (* keep *) reg [{width - 1}:0] {name};")
        self.assigns.append(f"    {name} <= {expr};")
        return name

    def wire(self, expr, width, name):
        self.decls.append(f"  wire [{width - 1}:0] {name} = {expr};")
        return name


class CellBuilder(VerilogBuilder):
    """:class:`VerilogBuilder` whose registers are a device family's flip-flop primitive, one per bit, and whose
    registered full and half adders of input bits are two of its LUTs (:class:`._lutcells.LutCell`), with the
    inversion of an input (``{~bits[t]}``) folded into their tables. Synthesis then has no processes to turn into
    flip-flops and ABC9 no first level to map: it could not merge those LUTs with anything across the register
    anyway."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell
        self.n_adders = 0

    def registered_sum_bits(self, grp):
        if len(grp) < 2:
            return self.sum_bits(grp)
        name = f"fa{self.n_adders}"
        self.n_adders += 1
        k = len(grp)
        inv = [ref.startswith("{~") for ref in grp]
        ins = [ref[2:-1] if f else ref for ref, f in zip(grp, inv)]

        def table(f):      # f of the k input values after their inversion, as a k-input LUT table
            return sum(1 << m for m in range(1 << k) if f([((m >> j) & 1) ^ inv[j] for j in range(k)]))
        carry = table(lambda v: sum(v) >= 2)
        total = table(lambda v: sum(v) & 1)
        self.decls.append(f"  wire [1:0] {name};")
        self.decls.append(self.cell.instance(f"{name}_c", f"{name}[1]", carry, k, ins))
        self.decls.append(self.cell.instance(f"{name}_s", f"{name}[0]", total, k, ins))
        return name

    def kept_reg(self, expr, width, name):
        return self.reg(expr, width, name)     # flip-flop primitives are never merged

    def reg(self, expr, width, name):
        self.decls.append(f"  wire [{width - 1}:0] {name}_d = {expr};")
        self.decls.append(f"  wire [{width - 1}:0] {name};")
        self.decls.extend(self.cell.register(f"{name}_f{i}", f"{name}_d[{i}]", f"{name}[{i}]")
                          for i in range(width))
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

    def shl(self, x, k, width):
        from amaranth.hdl import Cat, Const
        return Cat(Const(0, k), x)

    def cat(self, parts):
        from amaranth.hdl import Cat, Const
        return Cat(*[h if f == w else Cat(h, Const(0, f - w)) for h, w, f in parts])

    def slice(self, x, lo, width):
        return x[lo:lo + width]

    def add(self, x, y, width, cin=None):
        return x + y if cin is None else x + y + cin

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
                     latency: int, every: int = DEFAULT_EVERY, style: str = DEFAULT_STYLE,
                     weights: list | None = None, inverted: list | None = None, cell=None, relay: int = 0,
                     local: bool = False) -> str:
    """A module ``module(clk, bits, counts)``: class c's count (``count_width`` bits, two's complement) at
    ``counts[c*count_width +: count_width]``, ``latency`` cycles after ``bits``. ``weights``: per class, one
    positive int per position in ``class_bits[c]`` (default: every bit counts once). ``inverted``: per class,
    one bool per position, True where ``bits[t]`` is driven by an inverted register (an area hint only).
    ``cell``: a family's primitives (:mod:`._lutcells`); the registers are then its flip-flops, and the bits
    arrive without their inversion: ``inverted`` says which to invert (see :class:`CellBuilder`). ``local``: each
    class's bits are in an order in which neighbours are near each other (:func:`build_popcount`)."""
    b = VerilogBuilder() if cell is None else CellBuilder(cell)
    outs = []
    for c, positions in enumerate(class_bits):
        inv = None if inverted is None else inverted[c]
        flip = inv if cell is not None and inv is not None else [False] * len(positions)
        # an inverted bit in braces: one bit wide wherever it is used (inside a sum, ~ would act at the sum's width)
        refs = [f"{{~bits[{t}]}}" if f else f"bits[{t}]" for t, f in zip(positions, flip)]
        w = None if weights is None else weights[c]
        outs.append(build_popcount(b, refs, int(offsets[c]), count_width, latency, f"c{c}", every, style, w, inv,
                                   relay, local))
    k = len(class_bits)
    lines = [f"// {header}", f"module {module} (clk, bits, counts);", "  input clk;",
             f"  input [{max(n_bits, 1) - 1}:0] bits;", f"  output [{k * count_width - 1}:0] counts;"]
    lines += b.decls
    if b.assigns:
        lines.append("  always @(posedge clk) begin")
        lines += b.assigns
        lines.append("  end")
    lines += [f"  assign counts[{c * count_width + count_width - 1}:{c * count_width}] = {o};"
              for c, o in enumerate(outs)]
    lines += ["endmodule", ""]
    return "\n".join(lines)
