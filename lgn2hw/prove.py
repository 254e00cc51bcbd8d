"""Formal equivalence of a compiled design with its checkpoint: proved for all 2^n inputs, not sampled.

The reference is the netlist read from the checkpoint, before any pass, written by lgn2hw as a gate-level BLIF
(one ``.names`` per gate, straight from its truth table) with the port names of the core. Three designs are
compared:

=========== =======================================================================================================
``ir``      the netlist after the passes, against the checkpoint
``rtl``     the emitted Verilog (``OUT/*.v``, read by yosys), against the checkpoint
``netlist`` yosys' mapped netlist after synthesis (``OUT/build/<top>.syn.v``: LUT4 / CCU2C / TRELLIS_FF / DP16KD
            or SB_LUT4 / SB_CARRY / SB_DFF cells with yosys' own models of the combinational cells), against the
            emitted Verilog (and so, with ``rtl``, against the checkpoint)
=========== =======================================================================================================

What is compared: every bit of ``out_counts`` (each class count, offset included) and of ``out_class`` (the
argmax, the lowest class on a tie). The pipeline is balanced (every path from an input bit to a count crosses the
same number of registers), so the registers are removed: a flip-flop cell is a buffer ``Q = D`` and a ``.latch``
in yosys' BLIF becomes one too. The ECP5 block RAMs of the popcount (``DP16KD`` counting tables) are the ROMs
they are: their ``INITVAL`` parameters decoded into one table per output bit, written as a multiplexer tree over
the address bits in which equal sub-tables are shared.

How (``METHODS``): two popcounts of different shapes over the same bits defeat SAT sweeping, so ``ir`` and
``rtl`` pair the counted bits first (see the comment above :data:`SIDE`): each bit the design counts with a bit
of the checkpoint, the checkpoint's other bits as constants or complementary pairs that the class offsets must
account for; the reference then adds the bits in the design's own adder tree. ``rtl`` and ``netlist`` prove the
gate module's output registers once (:data:`OUT_BITS`), each class count up to the argmax input with those
registers as free inputs, then the argmax with the counts as free inputs (:data:`ARGMAX_IN`). Without a pairing
(or those nets) the whole functions go into one miter.

The engine is ABC's SAT-sweeping combinational equivalence checker (``miter`` then ``&cec -m``), run inside
yosys: YoWASP's yosys links ABC but ships no ``yosys-abc`` program, and its ``abc`` pass does not run scripts of
one's own, while ``abc9_exe -cwd DIR -script +CMDS`` runs any ABC commands in ``DIR``. ABC's output is not
captured there, so the result is read back from ``write_status`` and ``write_cex -n`` files
(docs/toolchain-notes.md). A disproved design gives a counterexample input vector, which :func:`replay` runs
through the interpreter (both netlists) and through simulation of the emitted Verilog or the mapped netlist.
"""
from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ToolchainError, UsageError

#: The comparisons, in the order they run.
COMPARISONS = ("ir", "rtl", "netlist")
WHAT = {"ir": "the netlist after passes", "rtl": "the emitted Verilog", "netlist": "the mapped netlist"}
ENGINE = "abc &cec (yosys)"
#: ``compile`` proves by default up to this many gates before passes; larger models need ``prove=True``
#: (``--prove``). The times per design are in bench/results/verify.json: the digits example (3,600 gates) takes
#: under half a minute, larger models minutes.
PROVE_DEFAULT_MAX_GATES = 4_000


@dataclass
class Proof:
    """One comparison's result: ``status`` is ``"equal"`` or ``"different"``; ``counterexample`` the input bits
    (or 8-bit features) of a differing input, and ``replay`` what the interpreter and simulation give for it."""
    what: str
    status: str
    engine: str
    seconds: float
    counterexample: list | None = None
    replay: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = {"status": self.status, "engine": self.engine, "seconds": round(self.seconds, 2)}
        if self.counterexample is not None:
            d["counterexample"] = "".join(str(int(b)) for b in self.counterexample)
            d["replay"] = self.replay
        return d

    def line(self) -> str:
        if self.status == "equal":
            return f"proved equal ({self.engine}, {self.seconds:.1f} s)"
        return f"DIFFERENT ({self.engine}, {self.seconds:.1f} s): counterexample found"


# --- the reference as BLIF -------------------------------------------------------------------------------------
class _Blif:
    """A small BLIF writer: nets are names, every gate a ``.names`` cover."""

    def __init__(self, stem: str = "w"):
        self.lines: list = []
        self.n = 0
        self.stem = stem

    def fresh(self, stem=None) -> str:
        self.n += 1
        return f"{stem or self.stem}{self.n}"

    def cover(self, ins, out, rows) -> str:
        uniq = list(dict.fromkeys(ins))
        if len(uniq) < len(ins):      # one net on two inputs (a constant twice): BLIF covers may not
            def hit(m, row):
                return all(r == "-" or int(r) == (m >> uniq.index(x)) & 1 for x, r in zip(ins, row))
            rows = ["".join(str((m >> j) & 1) for j in range(len(uniq)))
                    for m in range(1 << len(uniq)) if any(hit(m, r) for r in rows)]
            ins = uniq
        if not rows:                  # ABC refuses an empty cover with inputs: a constant 0 has none
            ins = ()
        self.lines.append(".names " + " ".join([*ins, out]))
        self.lines += [f"{r} 1" if ins else "1" for r in rows]
        return out

    def const(self, v: int) -> str:
        return "$true" if v else "$false"

    def xor3(self, a, b, c):
        return self.cover((a, b, c), self.fresh(), ("100", "010", "001", "111"))

    def maj(self, a, b, c):
        return self.cover((a, b, c), self.fresh(), ("11-", "1-1", "-11"))

    def xor2(self, a, b):
        return self.cover((a, b), self.fresh(), ("10", "01"))

    def and2(self, a, b):
        return self.cover((a, b), self.fresh(), ("11",))

    def mux(self, s, a, b):
        """s ? b : a"""
        return self.cover((s, a, b), self.fresh(), ("01-", "1-1"))


def _popcount(w: _Blif, bits, offset: int, width: int) -> list:
    """``offset + sum(bits)`` modulo 2**width, by carry-save reduction of columns (full adders on three bits of
    a column, the carry into the next), then one bit per column."""
    cols = [[] for _ in range(width)]
    cols[0] = list(bits)
    off = offset % (1 << width)
    for j in range(width):
        if (off >> j) & 1:
            cols[j].append(w.const(1))
    out = []
    for j in range(width):
        col = cols[j]
        while len(col) > 1:
            if len(col) >= 3:
                a, b, c = col.pop(0), col.pop(0), col.pop(0)
                s, carry = w.xor3(a, b, c), w.maj(a, b, c)
            else:
                a, b = col.pop(0), col.pop(0)
                s, carry = w.xor2(a, b), w.and2(a, b)
            col.append(s)
            if j + 1 < width:
                cols[j + 1].append(carry)
        out.append(col[0] if col else w.const(0))
    return out


def _greater(w: _Blif, a, b, signed: bool) -> str:
    """a > b for two equal-width two's complement (``signed``) or unsigned words, least significant bit first."""
    gt = w.const(0)
    for i in range(len(a)):
        top = signed and i == len(a) - 1
        rows = ("01-", "111", "001") if top else ("10-", "111", "001")   # sign bit: 0 > 1
        gt = w.cover((a[i], b[i], gt), w.fresh(), rows)
    return gt


def _data_inputs(nl, ports: dict) -> list:
    """The names of the core's data input bits."""
    if "in_features" in ports:
        return [f"in_features[{i}]" for i in range(8 * nl.encoding.n_features)]
    return [f"in_bits[{i}]" for i in range(nl.n_inputs)]


def _gate_nets(w: _Blif, nl, ports: dict) -> tuple[list, list]:
    """``nl``'s gates in ``w``: returns the input port's bit names and, per output bit j of ``nl``, the net of its
    value as GroupSum counts it (inversion flag applied)."""
    from .ir.netlist import FIRST_INPUT_NET
    n_in = nl.n_inputs
    net = {0: w.const(0), 1: w.const(1)}
    inputs = _data_inputs(nl, ports)
    if "in_features" in ports:
        enc = nl.encoding
        for i in range(n_in):
            f = int(enc.feature[i])
            t = int(np.floor(enc.threshold[i]))
            bits = [f"in_features[{8 * f + b}]" for b in range(8)]
            out = f"{w.stem}x{i}"
            if t < 0:
                w.cover((), out, ("",))
            elif t >= 255:
                w.cover((), out, ())
            else:   # v > t: some bit set where t has 0, all bits above it equal to t's
                rows = []
                for j in range(8):
                    if not (t >> j) & 1:
                        rows.append("".join("-" if b < j else "1" if b == j else str((t >> b) & 1)
                                            for b in range(8)))
                w.cover(bits, out, rows)
            net[FIRST_INPUT_NET + i] = out
    else:
        for i in range(n_in):
            net[FIRST_INPUT_NET + i] = inputs[i]
    base = FIRST_INPUT_NET + n_in
    for i in range(nl.n_nodes):
        k_i = int(nl.arity[i])
        ins = [net[int(x)] for x in nl.fanin[i, :k_i]]
        table = int(nl.tables[i])
        uniq = list(dict.fromkeys(ins))       # a gate may read one net twice; BLIF covers may not
        rows = []
        for m in range(1 << len(uniq)):
            full = sum(((m >> uniq.index(x)) & 1) << j for j, x in enumerate(ins))
            if (table >> full) & 1:
                rows.append("".join(str((m >> j) & 1) for j in range(len(uniq))))
        net[base + i] = w.cover(uniq, f"{w.stem}n{base + i}", rows)
    out_bits = []
    for j in range(len(nl.out_nets)):
        src = net[int(nl.out_nets[j])]
        out_bits.append(w.cover((src,), w.fresh("b"), ("0",) if nl.out_invert[j] else ("1",)))
    return inputs, out_bits


def _argmax(w: _Blif, counts: list, class_width: int, signed: bool) -> list:
    """The index of the largest count, the lowest index on a tie (``class_width`` bits): a tournament of adjacent
    pairs, level by level, in which the right one wins only when strictly larger (so of equal counts the lower
    index stays, in every round). The core's argmax has this shape, which lets SAT sweeping match its comparators
    and multiplexers one by one; a linear scan is the same function but a different shape and was not proved in
    5 minutes for the MNIST example."""
    items = [([w.const((c >> j) & 1) for j in range(class_width)], counts[c]) for c in range(len(counts))]
    while len(items) > 1:
        nxt = []
        for j in range(0, len(items) - 1, 2):
            (ia, ca), (ib, cb) = items[j], items[j + 1]
            take = _greater(w, cb, ca, signed)
            nxt.append(([w.mux(take, a, b) for a, b in zip(ia, ib)], [w.mux(take, a, b) for a, b in zip(ca, cb)]))
        if len(items) % 2:
            nxt.append(items[-1])
        items = nxt
    return items[0][0]


def _model(name: str, inputs: list, outputs: dict, w: _Blif) -> str:
    """A BLIF model: ``outputs`` maps port bit names to nets (a name that is itself a net is driven by it)."""
    body = [f".names {src} {o}\n1 1" for o, src in outputs.items()]
    head = [f".model {name}", ".inputs " + " ".join(inputs) if inputs else "", ".outputs " + " ".join(outputs),
            ".names $false", ".names $true", "1"]
    return "\n".join([h for h in head if h] + w.lines + body + [".end", ""])


def _count_outputs(w: _Blif, counts: list, ports: dict, count_width: int, count_signed: bool) -> dict:
    """The core's compared ports from the class counts: ``out_class`` (the argmax) and ``out_counts``."""
    class_width = int(ports.get("out_class", 0))
    outputs = {f"out_class[{j}]": n for j, n in enumerate(_argmax(w, counts, class_width, count_signed))}
    if "out_counts" in ports:
        for c, word in enumerate(counts):
            outputs.update({f"out_counts[{c * count_width + j}]": n for j, n in enumerate(word)})
    return outputs


def reference_blif(nl, ports: dict, count_width: int, count_signed: bool, name: str = "reference") -> str:
    """``nl`` (a :class:`~lgn2hw.ir.Netlist`) as a combinational BLIF model with the core's ports: ``in_bits[i]``
    (or ``in_features[8f+b]`` when ``ports`` has ``in_features``), ``out_counts[c*count_width+j]`` (when the
    core has that port) and ``out_class[j]``. Each class count is a plain carry-save popcount."""
    w = _Blif()
    inputs, out_bits = _gate_nets(w, nl, ports)
    counts = []
    for c in range(nl.n_classes):
        bits = [out_bits[j] for j in np.flatnonzero(nl.out_class == c)]
        counts.append(_popcount(w, bits, int(nl.class_offset[c]), count_width))
    return _model(name, inputs, _count_outputs(w, counts, ports, count_width, count_signed), w)


# --- a proof in two parts: the counted bits, then how they are counted ---------------------------------------------
# A whole-function miter of two popcounts of different shapes (the checkpoint's bits in one order, the design's
# merged, folded and partly counted in block RAM) is hard for SAT sweeping: no internal net of one matches one of
# the other. So the bits are matched first. Every output bit the design counts is paired with an output bit of
# the checkpoint that has the same values on random inputs (same class), the checkpoint's remaining bits must be
# constants or pairs x, NOT x (GroupSum folding), and the class offsets must account for them exactly. A miter
# proves the pairing: the design's bits against their checkpoint bits, and the side conditions (the constants and
# pairs) as outputs that must be 0. For the emitted Verilog a second set of miters then proves the counting: the
# Verilog against the design's own netlist counted the way the design counts (the same inputs, the same adder
# tree from lgn2hw.back._popcount's plan, each adder a full-width sum written here), so SAT sweeping finds the
# Verilog's LUTs, block-RAM counts and adder words in the reference one by one. The pairing and the tree only
# guide the proof: a wrong pairing gives a counterexample (and the pairing is made again), and the tree is checked
# to add every input with its weight exactly once.
SIDE = "lgn2hw_side"
_SIM_ROWS = 2048         # a multiple of 8: the signatures are whole bytes


@dataclass
class Correspondence:
    """``match[i]``: the reference output bit paired with design bit i; ``consts``: (reference bit, value) left
    over; ``pairs``: (a, b) reference bits left over that are complements."""
    match: list
    consts: list
    pairs: list


def correspond(ref, design_class, design_sig: list, ref_sig: list | None = None):
    """Pair the design's counted bits (``design_class[i]``, ``design_sig[i]``) with ``ref``'s output bits, class by
    class; returns a :class:`Correspondence`, or a reason string when there is none."""
    from collections import deque
    ref_sig = ref_sig if ref_sig is not None else _signatures(ref)
    zero, one = bytes(_SIM_ROWS // 8), bytes([0xFF] * (_SIM_ROWS // 8))
    match = [-1] * len(design_sig)
    consts, pairs = [], []
    for c in range(ref.n_classes):
        pool: dict = {}
        for j in np.flatnonzero(ref.out_class == c):
            pool.setdefault(ref_sig[j], deque()).append(int(j))
        for i in np.flatnonzero(np.asarray(design_class) == c):
            q = pool.get(design_sig[i])
            if not q:
                return f"class {c}: a counted bit of the design has no bit of the checkpoint with its values"
            match[i] = q.popleft()
        left = sorted(j for q in pool.values() for j in q)
        rest = {}
        for j in left:
            if ref_sig[j] in (zero, one):
                consts.append((j, int(ref_sig[j] == one)))
            else:
                rest.setdefault(ref_sig[j], deque()).append(j)
        for j in left:
            q = rest.get(ref_sig[j])
            if not q or q[0] != j:
                continue
            q.popleft()
            partner = rest.get(bytes(b ^ 0xFF for b in ref_sig[j]))
            if not partner:
                return f"class {c}: a bit of the checkpoint that the design does not count is neither constant " \
                       "nor paired with its complement"
            pairs.append((j, partner.popleft()))
        if any(q for q in rest.values()):
            return f"class {c}: bits of the checkpoint left without a partner"
    return Correspondence(match, consts, pairs)


def _offsets_agree(ref, cor: Correspondence, offsets: list):
    """None when ``offsets`` (the design's) equal the checkpoint's plus its constant-one bits and one per pair
    left over; else the reason."""
    want = [int(o) for o in ref.class_offset]
    for j, v in cor.consts:
        want[int(ref.out_class[j])] += v
    for a, _ in cor.pairs:
        want[int(ref.out_class[a])] += 1
    for c, (have, need) in enumerate(zip(offsets, want)):
        if int(have) != need:
            return f"class {c}: the design's offset {int(have)} is not the checkpoint's {need}"
    return None


def _side_outputs(w: _Blif, bits: list, cor: Correspondence, extra=()) -> dict:
    """The miter's side conditions as outputs that must be 0: each constant bit against its value, each pair
    against complementarity, each ``extra`` (a, b) for equality."""
    outs = []
    for j, v in cor.consts:
        outs.append(bits[j] if v == 0 else w.cover((bits[j],), w.fresh(), ("0",)))
    for a, b in cor.pairs:
        outs.append(w.cover((bits[a], bits[b]), w.fresh(), ("00", "11")))
    for a, b in extra:
        outs.append(w.xor2(bits[a], bits[b]))
    return {f"{SIDE}[{i}]": n for i, n in enumerate(outs)}


def _add(w: _Blif, a: list, b: list, width: int, cin=None) -> list:
    """``a + b (+ cin)`` modulo 2**width, a ripple of full adders (words least significant bit first)."""
    out, carry = [], cin or w.const(0)
    for i in range(width):
        x = a[i] if i < len(a) else w.const(0)
        y = b[i] if i < len(b) else w.const(0)
        out.append(w.xor3(x, y, carry))
        carry = w.maj(x, y, carry)
    return out


def plan_sum(w: _Blif, plan, values: list, weights: list) -> tuple[list, int]:
    """The word ``sum(weights[i] * values[i])`` added in the shape of a popcount ``plan`` (``values``: one net per
    input), and its largest value. Every adder is as wide as the largest sum it can see, so nothing wraps; the
    plan is refused unless, followed from its root, it adds each input exactly ``weights[i]`` times."""
    from .back._gates import bits_for
    seen = [0] * len(values)

    def word(op) -> tuple[list, int]:         # (bits of value >> op.shift, largest value) of an operand
        if op.kind == "zero":
            return [w.const(0)], 0
        if op.kind == "leaf":
            grp = [values[i] for i in op.bits]
            for i in op.bits:
                seen[i] += 1 << op.shift
            if len(grp) == 3:
                return [w.xor3(*grp), w.maj(*grp)], 3
            if len(grp) == 2:
                return [w.xor2(*grp), w.and2(*grp)], 2
            return [grp[0]], 1
        if op.kind == "pass":
            x, = op.args
            bits, top = word(x)
            return [w.const(0)] * (x.shift - op.shift) + bits, top << (x.shift - op.shift)
        x, y = op.args
        (bx, tx), (by, ty) = word(x), word(y)
        bx, tx = [w.const(0)] * (x.shift - op.shift) + bx, tx << (x.shift - op.shift)
        by, ty = [w.const(0)] * (y.shift - op.shift) + by, ty << (y.shift - op.shift)
        top = tx + ty
        cin = None
        if op.cin is not None:
            cin = values[op.cin]
            seen[op.cin] += 1 << op.shift
            top += 1
        return _add(w, bx, by, bits_for(top), cin), top

    root = plan.result
    bits, top = word(root)
    if seen != [int(x) for x in weights]:
        raise ValueError("the popcount plan does not add each input with its weight exactly once")
    return [w.const(0)] * root.shift + bits, top << root.shift


def counting_blif(ref, ports: dict, cnt, cor: Correspondence, count_width: int, count_signed: bool,
                  cut: list | None = None, bit_inputs: tuple | None = None) -> list:
    """The checkpoint ``ref`` counted the way the design described by ``cnt`` (a
    :class:`lgn2hw.back._verilog.Counting`) counts: its bit ``match[t]`` for the design's out_bits[t], the
    block-RAM groups as popcounts of 12 bits, each class's inputs added in the design's tree, then its offset;
    plus the side conditions of the pairing (constants, pairs, merged duplicates) as outputs that must be 0.

    Returns one model, or with ``cut`` (net names, one per count bit) one per class and one more (see
    :data:`ARGMAX_IN`): model c has the outputs ``argmax.i[c*count_width+j]`` (class c's count) and, for c = 0,
    the side conditions; the last one takes the counts as the inputs ``cut`` and has the core's outputs.

    ``bit_inputs``: ``(names, of, flip)``: the counted bits come from the inputs ``names`` instead of gates, bit t
    from input ``of[t]`` inverted where ``flip[t]`` (the models then have no gates and no side conditions)."""
    from .back._ebr import COUNT_BITS
    from .back._popcount import _plan
    w = _Blif()
    if bit_inputs is None:
        inputs, bits = _gate_nets(w, ref, ports)
        value = {t: bits[cor.match[t]] for t in range(len(cnt.var_outputs))}
    else:
        names, of, flip = bit_inputs
        inputs = _data_inputs(ref, ports) + list(names)
        bits = []
        value = {t: (w.cover((names[of[t]],), w.fresh(), ("0",)) if flip[t] else names[of[t]])
                 for t in range(len(cnt.var_outputs))}
    group_count = {}
    for g, (_, positions, _) in enumerate(cnt.ebr.groups):
        group_count[g] = _popcount(w, [value[t] for t in positions], 0, COUNT_BITS)
    counts = []
    for c in range(ref.n_classes):
        vals = [value[x[1]] if x[0] == "bit" else group_count[x[1]][x[2]] for x in cnt.inputs[c]]
        if vals:
            plan = _plan(len(vals), cnt.weights[c], cnt.style, cnt.inverted[c], cnt.local)
            word, _ = plan_sum(w, plan, vals, cnt.weights[c])
        else:
            word = [w.const(0)]
        counts.append(_add(w, word[:count_width], [w.const((int(cnt.offsets[c]) >> j) & 1)
                                                   for j in range(count_width)], count_width))
    # every position is counted: once as itself or in a group, or through the position that stands for it
    counted = {x[1] for ins in cnt.inputs for x in ins if x[0] == "bit"} | cnt.ebr.grouped
    dups = []
    for t in range(len(cnt.var_outputs)):
        r = cnt.rep[t]
        if r not in counted or (r == t) != (t in counted):
            raise ValueError(f"out_bits[{t}] is not counted")
        if r != t:
            dups.append((cor.match[t], cor.match[r]))
    for c in range(ref.n_classes):
        mult = {}
        for t in cnt.class_bits[c]:
            mult[cnt.rep[t]] = mult.get(cnt.rep[t], 0) + 1
        have = {x[1]: wt for x, wt in zip(cnt.inputs[c], cnt.weights[c]) if x[0] == "bit"}
        have.update({t: 1 for gc, pos, _ in cnt.ebr.groups if gc == c for t in pos})
        if mult != have:
            raise ValueError(f"class {c}: the popcount inputs do not count each bit of the class once")
    side = _side_outputs(w, bits, cor, dups) if bit_inputs is None else {}
    if cut is None:
        outputs = _count_outputs(w, counts, ports, count_width, count_signed)
        outputs.update(side)
        return [_model("counting", inputs, outputs, w)]
    models = []
    for c, word in enumerate(counts):
        outputs = {f"{ARGMAX_IN}[{c * count_width + j}]": n for j, n in enumerate(word)}
        if c == 0:
            outputs.update(side)
        models.append(_model(f"counting_{c}", inputs, outputs, w))
    w2 = _Blif("m")
    words = [cut[c * count_width:(c + 1) * count_width] for c in range(len(counts))]
    models.append(_model("argmax", _data_inputs(ref, ports) + cut,
                         _count_outputs(w2, words, ports, count_width, count_signed), w2))
    return models


#: The nets of the emitted core's argmax input (the class counts, class c at ``[c*CW +: CW]``) in yosys' BLIF of it.
#: With them, the emitted Verilog is proved in parts: each class count up to there (one miter a class, as the
#: counts of all classes in one miter took 210 s for the MNIST example against 3 s for one), then the argmax and
#: the output ports with those nets as free inputs (the tournament of :func:`_argmax` against the core's).
ARGMAX_IN = "argmax.i"
CUT = "lgn2hw_cut"
#: The gate module's output bits in yosys' BLIF of the core (followed back to their registers, whose names survive
#: synthesis): with them the gate logic is proved once and each class count over free inputs.
OUT_BITS = "datapath.out_bits"
OB = "lgn2hw_ob"


def blif_outputs(blif: str, names) -> str:
    """A BLIF model with ``names`` as its outputs instead of its own (any net of it may be one)."""
    m = re.search(r"^\.outputs\b.*$", blif, flags=re.M)
    return blif[:m.start()] + ".outputs " + " ".join(names) + blif[m.end():]


def blif_roots(blif: str, nets) -> list | None:
    """Each of ``nets`` followed back through buffers (``.names a b`` / ``1 1``: yosys' aliases of one net) to the
    net that drives them all; None when a net is missing or two meet."""
    return _roots(blif.splitlines(), nets)[0]


def _roots(lines: list, nets, distinct: bool = True) -> tuple:
    driver: dict = {}
    for n, line in enumerate(lines):
        if line.startswith(".names "):
            driver[line.split()[-1]] = n
    roots = []
    for net in nets:
        seen = 0
        while net in driver and seen < 1000:
            head = lines[driver[net]].split()
            row = lines[driver[net] + 1] if driver[net] + 1 < len(lines) else ""
            if len(head) != 3 or row.strip() != "1 1" or head[1] in ("$false", "$true", "$undef"):
                break
            net, seen = head[1], seen + 1
        roots.append(net)
    if (distinct and len(set(roots)) != len(roots)) or any(r not in driver or r.startswith("$") for r in roots):
        return None, driver
    return roots, driver


def blif_cut(blif: str, nets, names) -> str | None:
    """A BLIF model cut at ``nets``: each is followed back to its root (:func:`blif_roots`), whose driver is
    removed; the roots become the inputs ``names``. None when :func:`blif_roots` finds no roots."""
    lines = blif.splitlines()
    roots, driver = _roots(lines, nets)
    if roots is None:
        return None
    drop = set()
    for r in roots:
        n = driver[r]
        drop.add(n)
        n += 1
        while n < len(lines) and lines[n] and not lines[n].startswith("."):
            drop.add(n)
            n += 1
    rename = dict(zip(roots, names))
    kept = (line if n in drop or not line.startswith(".names ") else
            " ".join(rename.get(t, t) for t in line.split()) for n, line in enumerate(lines) if n not in drop)
    text = "\n".join(kept) + "\n"
    text = re.sub(r"^(\.outputs\b.*)$", lambda m: " ".join(rename.get(t, t) for t in m.group(1).split()), text,
                  count=1, flags=re.M)
    m = re.search(r"^\.inputs\b.*$", text, flags=re.M)
    return text[:m.end()] + " " + " ".join(names) + text[m.end():]


def blif_probe(blif: str, probes: dict) -> str:
    """A BLIF model whose outputs are ``probes`` (output name -> a net of the model), each through a buffer."""
    text = blif_outputs(blif, list(probes))
    end = text.rindex("\n.end")
    return text[:end] + "".join(f"\n.names {net} {o}\n1 1" for o, net in probes.items()) + text[end:]


def bits_miter(ref, after, ports: dict, cor: Correspondence, positions=None) -> tuple[str, str]:
    """Two BLIF models with the outputs ``bit[i]``: ``after``'s output bit ``positions[i]`` (default: i), and the
    checkpoint's bit paired with it; the checkpoint's side conditions as outputs that must be 0 (constant 0 in the
    other model)."""
    w = _Blif()
    inputs, bits = _gate_nets(w, ref, ports)
    outputs = {f"bit[{i}]": bits[j] for i, j in enumerate(cor.match)}
    side = _side_outputs(w, bits, cor)
    outputs.update(side)
    gold = _model("reference_bits", inputs, outputs, w)
    w2 = _Blif("a")
    inputs2, bits2 = _gate_nets(w2, after, ports)
    positions = range(len(bits2)) if positions is None else positions
    outs2 = {f"bit[{i}]": bits2[int(j)] for i, j in enumerate(positions)}
    outs2.update({name: w2.const(0) for name in side})
    return gold, _model("after_bits", inputs2, outs2, w2)


def with_zero_outputs(blif: str, names) -> str:
    """A BLIF model with further outputs, each constant 0 (the design's side of the side conditions)."""
    names = list(names)
    if not names:
        return blif
    lines = blif.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".outputs"):
            lines[i] = line + " " + " ".join(names)
            break
    end = max(i for i, line in enumerate(lines) if line == ".end")
    lines[end:end] = [f".names {n}" for n in names]
    return "\n".join(lines) + "\n"


# --- yosys: a design as a combinational BLIF ---------------------------------------------------------------------
# Flip-flop cells as buffers, Q = D, except where synthesis used the set/reset input to load a constant (yosys turns
# ``q <= c ? 1 : 0`` into a flip-flop with a synchronous set or reset): that input still decides Q. An input left
# open reads as 0 (yosys' BLIF ties undriven nets to ``$undef``, a constant 0).
_BUFFER_FFS = {
    "ecp5": "module TRELLIS_FF(input CLK, LSR, CE, DI, M, output Q);\n"
            "  parameter GSR = \"ENABLED\"; parameter CEMUX = \"1\"; parameter CLKMUX = \"CLK\";\n"
            "  parameter LSRMUX = \"LSR\"; parameter SRMODE = \"LSR_OVER_CE\"; parameter REGSET = \"RESET\";\n"
            "  parameter REGMODE = \"FF\";\n"
            "  wire lsr = (LSRMUX == \"INV\") ? ~LSR : (LSRMUX == \"0\") ? 1'b0 : (LSRMUX == \"1\") ? 1'b1 : LSR;\n"
            "  assign Q = lsr ? (REGSET == \"SET\") : DI;\nendmodule\n",
    "ice40": "".join(f"module {n}(input C, D, E, R, S, output Q);\n  assign Q = R ? 1'b0 : S ? 1'b1 : D;\nendmodule\n"
                     for n in ("SB_DFF", "SB_DFFE", "SB_DFFSR", "SB_DFFR", "SB_DFFSS", "SB_DFFS", "SB_DFFESR",
                               "SB_DFFER", "SB_DFFESS", "SB_DFFES", "SB_DFFN", "SB_DFFNE", "SB_DFFNSR", "SB_DFFNR",
                               "SB_DFFNSS", "SB_DFFNS", "SB_DFFNESR", "SB_DFFNER", "SB_DFFNESS", "SB_DFFNES")),
}
# yosys' own models of the combinational cells: (file under share/<family>/, module names)
_COMB_CELLS = {
    "ecp5": (("common_sim.vh", ("LUT4", "LUT2", "PFUMX", "L6MUX21")), ("ccu2c_sim.vh", ("CCU2C",))),
    "ice40": (("cells_sim.v", ("SB_LUT4", "SB_CARRY")),),
}
#: the families whose mapped netlists the proof models (compile proves others only when asked, and refuses)
PROVE_FAMILIES = tuple(_COMB_CELLS)


def cell_models(share: Path, family: str) -> str:
    """Verilog models for reading a core or a mapped netlist as one combinational function: yosys' models of the
    family's combinational cells, every flip-flop cell a buffer, the block RAM a black box."""
    parts = ["`define ICE40_DEFAULT_ASSIGNMENT_0\n`define ICE40_DEFAULT_ASSIGNMENT_1\n"]
    for fname, names in _COMB_CELLS[family]:
        text = (share / family / fname).read_text()
        for name in names:
            m = re.search(rf"^(\(\*[^\n]*\*\)\s*)?module {name}\b.*?^endmodule\b", text, flags=re.S | re.M)
            if m is None:
                raise ToolchainError(f"yosys' {family}/{fname} has no model of {name}",
                                     hint="a yosys version this lgn2hw does not know")
            parts.append(re.sub(r"\bspecify\b.*?\bendspecify\b", "", m.group(0), flags=re.S) + "\n")
    parts.append(_BUFFER_FFS[family])
    if family == "ecp5":
        from .back._ebr import SIM_MODEL
        ports = re.search(r"module DP16KD \((.*?)\);", SIM_MODEL, flags=re.S).group(1)
        params = "".join(f"  parameter INITVAL_{i:02X} = 320'h0;\n" for i in range(64))
        parts.append(f"(* blackbox *)\nmodule DP16KD ({ports});\n  parameter DATA_WIDTH_A = 18;\n"
                     f"  parameter DATA_WIDTH_B = 18;\n{params}endmodule\n")
    return "".join(parts)


def _rom_tree(w: _Blif, table: list, addr: list, memo: dict) -> str:
    """A multiplexer tree over ``addr`` (least significant first) selecting ``table[a]`` (0/1), equal sub-tables
    shared: the size follows the number of distinct sub-tables, not the 2**len(addr) entries."""
    def node(lo: int, n: int) -> str:
        sub = tuple(table[lo:lo + n])
        key = (n, sub)
        if key in memo:
            return memo[key]
        if all(v == sub[0] for v in sub):
            out = w.const(sub[0])
        else:
            half = n // 2
            level = n.bit_length() - 2          # the address bit that splits this range
            out = w.mux(addr[level], node(lo, half), node(lo + half, half))
        memo[key] = out
        return out
    return node(0, len(table))


def _dp16kd_words(params: dict) -> list:
    """The 4,096 4-bit words of a DP16KD counting table from its ``INITVAL_xx`` parameters (binary strings from
    yosys' BLIF), in the layout of :mod:`lgn2hw.back._ebr`: word ``a`` bit ``j`` at bit
    ``(a // 4) * 20 + (a % 4 >= 2) * 9 + (a % 2) * 4 + j`` of the concatenation ``INITVAL_3F .. INITVAL_00``."""
    init = 0
    for i in range(64):
        v = params.get(f"INITVAL_{i:02X}", "0")
        init |= int(v, 2) << (320 * i)
    words = []
    for a in range(4096):
        base = (a // 4) * 20 + (9 if a % 4 >= 2 else 0) + (a % 2) * 4
        words.append((init >> base) & 0xF)
    return words


DATA_INPUTS = ("in_bits[", "in_features[")
COMPARED_OUTPUTS = ("out_counts[", "out_class[")


def combinational_blif(text: str) -> str:
    """yosys' BLIF with every ``.latch`` a buffer and every DP16KD counting table as a ROM (see the module
    docstring)."""
    out, w = [], _Blif("lgn2hw_rom")
    lines = text.splitlines()
    i = 0
    memo_by_table: dict = {}
    while i < len(lines):
        line = lines[i]
        if line.startswith(".inputs "):     # the data inputs stay; clk, rst, in_valid become constants
            names = line.split()[1:]
            keep = [n for n in names if n.startswith(DATA_INPUTS)]
            out.append(".inputs " + " ".join(keep))
            for n in names:
                if n not in keep:
                    out += [f".names {n}", "1"] if n == "in_valid" else [f".names {n}"]
            i += 1
            continue
        if line.startswith(".outputs "):    # the compared outputs: out_valid and any others go
            out.append(".outputs " + " ".join(n for n in line.split()[1:] if n.startswith(COMPARED_OUTPUTS)))
            i += 1
            continue
        if line.startswith(".latch "):
            d, q = line.split()[1:3]
            out += [f".names {d} {q}", "1 1"]
            i += 1
            continue
        if line.startswith(".subckt DP16KD "):
            pins = dict(p.split("=", 1) for p in line.split()[2:])
            params = {}
            i += 1
            while i < len(lines) and lines[i].startswith(".param "):
                _, key, value = lines[i].split(None, 2)
                params[key] = value.strip().strip('"')
                i += 1
            for side in "AB":
                width = int(params.get(f"DATA_WIDTH_{side}", "10010"), 2)
                douts = [pins.get(f"DO{side}{j}") for j in range(4)]
                if not any(douts):
                    continue
                if width != 4:
                    raise UsageError(f"a DP16KD port of data width {width}: only the 4-bit counting tables of "
                                     "lgn2hw's popcount can be modelled")
                addr = [pins.get(f"AD{side}{j + 2}", "$false") for j in range(12)]
                words = _dp16kd_words(params)
                key = tuple(words)
                memo = memo_by_table.setdefault((key, tuple(addr)), {})
                for j, o in enumerate(douts):
                    if o is None:
                        continue
                    bit = [(v >> j) & 1 for v in words]
                    src = _rom_tree(w, bit, addr, memo)
                    out += [f".names {src} {o}", "1 1"]
            continue
        if line.startswith(".end") and not line.startswith(".end "):
            out += w.lines
        out.append(line)
        i += 1
    return "\n".join(out) + "\n"


def design_blif(kind: str, bdir: Path, yosys, sources: list, top: str, family: str | None, share: Path | None,
                timeout=None) -> Path:
    """The emitted Verilog (``kind="rtl"``) or the mapped netlist (``"netlist"``) in ``bdir`` as a combinational
    BLIF ``<kind>.blif`` (see :func:`combinational_blif`)."""
    script = []
    if family:
        (bdir / "verify_cells.v").write_text(cell_models(share, family))
        script.append("read_verilog verify_cells.v")
    script += [f"read_verilog {s}" for s in sources]
    script += [f"hierarchy -top {top}", "proc", "flatten", "opt_clean", "techmap", "opt_clean",
               "dffunmap", "setundef -zero -undriven", "opt_clean",
               f"write_blif -param {kind}.yosys.blif"]
    (bdir / f"{kind}.ys").write_text("\n".join(script) + "\n")
    log = bdir / f"verify-{kind}.log"
    log.write_text("")
    yosys.run(["-q", "-l", f"verify-{kind}.yosys.log", f"{kind}.ys"], bdir, log, f"verify {kind}", timeout)
    raw = (bdir / f"{kind}.yosys.blif").read_text()
    blif = bdir / f"{kind}.blif"
    blif.write_text(combinational_blif(_top_only(raw, top)))
    return blif


def _top_only(text: str, top: str) -> str:
    """The top model of yosys' BLIF (black boxes come as further models)."""
    m = re.search(rf"^\.model {re.escape(top)}\n.*?^\.end$", text, flags=re.S | re.M)
    if m is None:
        raise ToolchainError(f"yosys wrote no model {top} to verify")
    return m.group(0) + "\n"


# --- ABC ---------------------------------------------------------------------------------------------------------
def abc_cec(gold: str, gate: str, bdir: Path, yosys, timeout=None) -> tuple:
    """Prove the BLIF files ``gold`` and ``gate`` (in ``bdir``, ports matched by name) equal with ABC's ``&cec``
    on their miter. Returns ``(equal, counterexample {input name: 0/1} or None, seconds)``."""
    bdir = Path(bdir)
    # abc9_exe runs ABC in -cwd on 'input.xaig' with a box library; ours are empty and unused
    (bdir / "input.xaig").write_bytes(b"aig 0 0 0 0 0\n")
    (bdir / "verify.box").write_text("lgn2hw_unused 1 0 1 1\n1\n")
    for f in ("verify.status", "verify.miter.blif"):
        (bdir / f).unlink(missing_ok=True)
    # the miter is written out for the order of its inputs, which the counterexample in the status file follows
    # (write_cex -n, which names them, fails an assertion in this ABC on larger miters)
    cmds = (f"miter,{gold},{gate};write_blif,verify.miter.blif;&get;&cec,-m;write_status,verify.status")
    log = bdir / "verify-abc.log"
    log.write_text("")
    t0 = time.monotonic()
    yosys.run(["-q", "-p", f"abc9_exe -cwd . -box verify.box -script +{cmds}"], bdir, log, "verify", timeout)
    seconds = time.monotonic() - t0
    status = (bdir / "verify.status").read_text().split() if (bdir / "verify.status").is_file() else []
    if status[:1] == ["snl_UNSAT"]:
        return True, None, seconds
    if status[:1] == ["snl_SAT"]:
        names = []
        with open(bdir / "verify.miter.blif") as f:
            for line in f:
                if line.startswith(".inputs"):
                    names = line.split()[1:]
                    while line.rstrip().endswith("\\"):
                        names = names[:-1]
                        line = next(f)
                        names += line.split()
                    break
        bits = [t for t in status if set(t) <= {"0", "1"} and len(t) == len(names)]
        if bits:
            return False, {n: int(b) for n, b in zip(names, bits[-1])}, seconds
    raise ToolchainError(f"verify: ABC gave no result ({' '.join(status) or 'no status file'}) for {gate}",
                         hint=f"see {log}", log=str(log))


# --- the whole check ---------------------------------------------------------------------------------------------
class _Core:
    """What simulation needs of a compiled core, read back from its report.json."""

    def __init__(self, report: dict):
        self.report = report
        self.top = report["top"]
        self.latency = int(report["latency"])


def _check_out(nl, out: Path) -> dict:
    """OUT's report.json, after checking that OUT is a compile output of this model."""
    rep_path = out / "report.json"
    if not out.is_dir():
        raise UsageError(f"{out} is not a directory", hint="give the output directory of 'lgn2hw compile'")
    if not rep_path.is_file():
        raise UsageError(f"{out} holds no report.json: not an output of 'lgn2hw compile'")
    try:
        rep = json.loads(rep_path.read_text())
    except ValueError:
        raise UsageError(f"{rep_path} is not JSON") from None
    want = {str(k): int(v) for k, v in nl.layer_sizes().items()}
    have = {str(k): int(v) for k, v in (rep.get("layers_before_passes") or {}).items()}
    ports = {p["name"]: p["width"] for p in rep.get("ports", [])}
    n_in = ports.get("in_bits", 8 * (nl.encoding.n_features if nl.encoding is not None else 0)
                     if "in_features" in ports else 0)
    if have != want or rep.get("classes") != nl.n_classes or (not ports.get("in_features") and n_in != nl.n_inputs):
        raise UsageError(f"{out} was not compiled from this model ({rep.get('model', '?')}: layers {have}, "
                         f"this model: layers {want})")
    return rep


def verify(nl, out, *, comparisons=COMPARISONS, timeout: float | None = 300.0, replay_cex: bool = True,
           progress=None, yosys=None) -> dict:
    """Prove the compiled design in ``out`` (an output of ``compile``) equal to the netlist ``nl`` read from its
    checkpoint, before passes. Returns ``{comparison: Proof.as_dict()}`` plus ``"reference"``; a comparison that
    cannot be made (no mapped netlist) is left out. ``timeout`` bounds each proof (then ``status: "unknown"``)."""
    import tempfile

    from .api import optimize
    from .fpga.toolchain import require, share_dir
    out = Path(out)
    rep = _check_out(nl, out)
    unknown = [c for c in comparisons if c not in COMPARISONS]
    if unknown:
        raise UsageError(f"comparison must be one of {', '.join(COMPARISONS)}, not {unknown[0]!r}")
    say = progress or (lambda step, msg: None)
    yosys = yosys or require("yosys")
    family = (rep.get("lut_cells") or {}).get("family") or (rep.get("build") or {}).get("family")
    syn_v = out / "build" / f"{rep['top']}.syn.v"
    if "netlist" in comparisons and not syn_v.is_file():
        comparisons = [c for c in comparisons if c != "netlist"]
    ports = {p["name"]: p["width"] for p in rep["ports"]}
    cw, signed = int(rep["count_width"]), bool(rep.get("count_signed"))
    result: dict = {"engine": ENGINE, "reference": "the checkpoint's gates before passes, written by lgn2hw"}
    with tempfile.TemporaryDirectory(prefix="lgn2hw-verify-") as tmp:
        w = Path(tmp)
        after = None
        cnt = None
        rows: list = []          # counterexamples that told apart bits the random inputs did not
        ready: set = set()

        def whole_reference():
            if "reference" not in ready:
                (w / "reference.blif").write_text(reference_blif(nl, ports, cw, signed))
                ready.add("reference")
            return "reference.blif"

        def rtl_blif():
            if "rtl" not in ready:
                for f in rep["files"]:
                    shutil.copyfile(out / f, w / f)
                design_blif("rtl", w, yosys, list(rep["files"]), rep["top"], family, share_dir(yosys) if family
                            else None, timeout)
                ready.add("rtl")
            return "rtl.blif"

        for what in comparisons:
            against = "the emitted Verilog" if what == "netlist" else "the checkpoint"
            say("verify", f"{WHAT[what]} against {against}")
            t0 = time.monotonic()
            method, note = "whole", None
            try:
                if what == "netlist":
                    shutil.copyfile(syn_v, w / "netlist.v")
                    design_blif("netlist", w, yosys, ["netlist.v"], rep["top"], family, share_dir(yosys), timeout)
                    texts = ((w / rtl_blif()).read_text(), (w / "netlist.blif").read_text(), nl.n_classes, cw,
                             int((rep.get("output_bits") or {}).get("counted", 0)))
                    parts, free = _netlist_parts(*texts)
                    equal, cex, failed = _prove_parts(parts, "netlist", w, yosys, timeout)
                    if not equal and failed in free:     # over free gate outputs: find an input without the cut
                        parts, _ = _netlist_parts(*texts, cut_bits=False)
                        equal, cex, failed = _prove_parts(parts, "netlist", w, yosys, timeout)
                    method = "parts" if len(parts) > 1 else "whole"
                    if not equal and failed == len(parts) - 1 and len(parts) > 1:
                        method = "whole"
                        equal, cex, _ = abc_cec(rtl_blif(), "netlist.blif", w, yosys, timeout)
                else:
                    after = after or optimize(nl.copy())
                    if what == "rtl":
                        cnt = cnt or _design_counting(after, rep)
                    # the gate module hands over its bits inverted only without counting blocks and LUT cells
                    invert_mode = cnt is not None and not cnt.ebr.groups and not rep.get("lut_cells")
                    equal, cex, method, note = _prove_by_bits(what, nl, after, cnt, ports, cw, signed, rows, w,
                                                              yosys, timeout, rtl_blif, invert_mode)
                    if method == "whole":
                        if what == "ir":
                            (w / "ir.blif").write_text(reference_blif(after, ports, cw, signed, "ir"))
                        equal, cex, _ = abc_cec(whole_reference(), "ir.blif" if what == "ir" else rtl_blif(), w,
                                                yosys, timeout)
            except ToolchainError as err:
                if not err.timed_out:
                    raise
                proof = Proof(what, "unknown", ENGINE, time.monotonic() - t0)
                proof.replay = {"note": f"no proof within {timeout:g} s"}
                result[what] = proof.as_dict() | {"note": proof.replay["note"], "method": METHODS[method]}
                continue
            proof = Proof(what, "equal" if equal else "different", ENGINE, time.monotonic() - t0)
            if not equal:
                proof.counterexample = _cex_vector(cex, ports)
                if replay_cex:
                    proof.replay = replay(nl, out, rep, proof.counterexample, what, w, after)
            result[what] = proof.as_dict() | {"method": METHODS[method]} | ({"note": note} if note else {})
            say("verify", f"{WHAT[what]}: {proof.line()}")
    return result


#: How a comparison was proved: the whole function of each side in one miter, or the counted bits paired first.
METHODS = {"whole": "one miter of the whole functions",
           "parts": "each class count up to the argmax, then the argmax with the counts cut",
           "bits": "counted bits paired with the checkpoint's, then the counts in the design's adder tree"}
#: Rounds of pairing: a counterexample that only shows a wrong pairing (two bits the random inputs did not tell
#: apart) joins the inputs the bits are told apart by, and the pairing is made again.
PAIRING_ROUNDS = 6


def _design_counting(after, rep: dict):
    """What the emitted core counts (:func:`lgn2hw.back._verilog.counting_plan`), from its options in report.json."""
    from .back._verilog import EmitOptions, counting_plan
    pc = rep.get("popcount") or {}
    lut_size = int((rep.get("lut_map") or {}).get("lut_size", 0))
    return counting_plan(after, EmitOptions(lut_size=lut_size, popcount_style=pc.get("style", "fa"),
                                            ebr_blocks=int(pc.get("ebr_blocks", 0)),
                                            popcount_order=pc.get("order", "index")))


def _prove_by_bits(what, nl, after, cnt, ports, cw, signed, rows, w: Path, yosys, timeout, rtl_blif,
                   invert_mode: bool = False) -> tuple:
    """Prove ``after`` (``what == "ir"``) or the emitted Verilog (``"rtl"``, counting as ``cnt`` says) equal to
    the checkpoint ``nl`` with the counted bits paired first (see the comment above :data:`SIDE`). Returns
    ``(equal, counterexample, method, note)``; ``method == "whole"`` when no pairing was found (``note`` says
    why), and the caller then proves the whole functions."""
    deadline = None if timeout is None else time.monotonic() + timeout
    if what == "ir":
        design, positions, offsets = after, np.arange(len(after.out_nets)), after.class_offset
    else:
        design, positions, offsets = cnt.netlist, cnt.var_outputs, cnt.offsets
    for _ in range(PAIRING_ROUNDS):
        extra = np.array(rows, dtype=np.uint8).reshape(-1, nl.n_inputs)
        ref_sig = _signatures(nl, extra)
        design_sig = _signatures(design, extra)
        cor = correspond(nl, design.out_class[positions], [design_sig[i] for i in positions], ref_sig)
        reason = cor if isinstance(cor, str) else _offsets_agree(nl, cor, offsets)
        if reason is None:
            try:
                if what == "ir":
                    gold, gate = bits_miter(nl, after, ports, cor)
                else:
                    rtl_text = (w / rtl_blif()).read_text()
                    pairs, free = _rtl_parts(nl, ports, cnt, cor, cw, signed, rtl_text, invert_mode)
            except ValueError as err:
                reason = str(err)
        if reason is not None:
            return None, None, "whole", f"bits not paired ({reason})"
        if what == "ir":
            pairs, free = [(gold, gate)], set()
        equal, cex, i = _prove_parts(pairs, what, w, yosys, None if deadline is None else
                                     max(1.0, deadline - time.monotonic()))
        if not equal and i in free:
            # a class count over free gate outputs differs: find the input that shows it without the cut
            pairs, _ = _rtl_parts(nl, ports, cnt, cor, cw, signed, rtl_text, invert_mode, cut_bits=False)
            equal, cex, i = _prove_parts(pairs, what, w, yosys, None if deadline is None else
                                         max(1.0, deadline - time.monotonic()))
        if equal:
            return True, None, "bits", None
        if len(pairs) > 2 and i == len(pairs) - 1:
            # the argmax differs from the tournament for some counts, which need not be counts any input gives
            return None, None, "whole", "the argmax, cut from the counts, differs from the reference's for some counts"
        x = _input_bits(nl, _cex_vector(cex, ports), ports)
        if _pairing_holds(nl, design, positions, cor, x):
            return False, cex, "bits", None     # the bits are as paired there: the design's counts differ
        rows.extend(_near(x))                   # 64 rows: whole bytes of signature
    return None, None, "whole", f"bits not paired in {PAIRING_ROUNDS} rounds"


def _prove_parts(pairs: list, stem: str, w: Path, yosys, timeout) -> tuple:
    """Prove each (reference, design) BLIF pair in turn within ``timeout`` in all: ``(True, None, None)``, or
    ``(False, counterexample, index of the pair)`` for the first that differs."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for i, (gold, gate) in enumerate(pairs):
        (w / f"{stem}_ref_{i}.blif").write_text(gold)
        (w / f"{stem}_dut_{i}.blif").write_text(gate)
        left = None if deadline is None else max(1.0, deadline - time.monotonic())
        equal, cex, _ = abc_cec(f"{stem}_ref_{i}.blif", f"{stem}_dut_{i}.blif", w, yosys, left)
        if not equal:
            return False, cex, i
    return True, None, None


def _netlist_parts(rtl: str, netlist: str, k: int, cw: int, n_var: int = 0, cut_bits: bool = True) -> tuple:
    """The (emitted Verilog, mapped netlist) BLIF pairs to prove: with the nets of the gate module's outputs
    (:data:`OUT_BITS`, as registers whose names survive synthesis) the gate logic once, then each class count up to
    the argmax with those registers as free inputs; without them each class count whole; then the outputs with the
    counts cut (:data:`ARGMAX_IN`). The whole functions when the netlist lost the names. Returns the pairs and the
    indices of those with free gate outputs (see :func:`_rtl_parts`)."""
    roots = blif_roots(rtl, [f"{ARGMAX_IN}[{j}]" for j in range(k * cw)])
    mapped = None if roots is None else blif_roots(netlist, roots)
    if mapped is None:
        return [(rtl, netlist)], set()
    cut = [f"{CUT}[{j}]" for j in range(k * cw)]
    ob = _out_bit_roots(rtl, n_var) if cut_bits and n_var else None
    ob = list(dict.fromkeys(ob)) if ob else None
    ob_mapped = blif_roots(netlist, ob) if ob else None
    parts, free = [], set()
    if ob_mapped is not None:
        names = [f"{OB}[{u}]" for u in range(len(ob))]
        parts.append((blif_probe(rtl, {f"{OB}_bit[{u}]": r for u, r in enumerate(ob)}),
                      blif_probe(netlist, {f"{OB}_bit[{u}]": r for u, r in enumerate(ob_mapped)})))
        rtl_side, net_side = blif_cut(rtl, ob, names), blif_cut(netlist, ob_mapped, names)
    else:
        rtl_side, net_side = rtl, netlist
    for c in range(k):
        idx = range(c * cw, (c + 1) * cw)
        if ob_mapped is not None:
            free.add(len(parts))
        parts.append((blif_probe(rtl_side, {cut[j]: roots[j] for j in idx}),
                      blif_probe(net_side, {cut[j]: mapped[j] for j in idx})))
    parts.append((blif_cut(rtl, roots, cut), blif_cut(netlist, mapped, cut)))
    return parts, free


def _rtl_parts(nl, ports, cnt, cor, cw, signed, rtl: str, invert_mode: bool, cut_bits: bool = True) -> tuple:
    """The (reference, design) BLIF pairs that prove the emitted Verilog. First the bits: each bit the gate module
    hands to the popcount, as the design's netlist (``cnt.netlist``, LUT-mapped) computes it, equals its paired
    checkpoint bit, and the checkpoint's bits left over are the constants and pairs they were taken for. Then the
    Verilog against the design's netlist counted in its own adder tree: when the core has the nets
    :data:`OUT_BITS` and :data:`ARGMAX_IN`, its gate logic once (LUT for LUT), each class count up to the argmax
    with the gate module's outputs as free inputs, then the argmax with the counts cut; else the counting in one
    pair. ``invert_mode``: the gate module hands over each bit with its inversion applied (else plain);
    ``cut_bits=False``: no cut at the gate module's outputs. Returns the pairs and the indices of those whose
    inputs include the gate module's outputs as free inputs (a counterexample there need not be one of the core)."""
    gold, gate = bits_miter(nl, cnt.netlist, ports, cor, cnt.var_outputs)
    parts = [(gold, gate)]
    own = Correspondence([int(j) for j in cnt.var_outputs], [], [])
    n_var = len(cnt.var_outputs)
    cut = [f"{CUT}[{k}]" for k in range(nl.n_classes * cw)]
    rtl_cut = blif_cut(rtl, [f"{ARGMAX_IN}[{k}]" for k in range(nl.n_classes * cw)], cut)
    ob = _out_bit_roots(rtl, n_var) if rtl_cut is not None and cut_bits else None
    if ob is not None:
        uniq = list(dict.fromkeys(ob))
        index = {r: u for u, r in enumerate(uniq)}
        names = [f"{OB}[{u}]" for u in range(len(uniq))]
        inv = cnt.netlist.out_invert[cnt.var_outputs].astype(bool)
        nets = cnt.netlist.out_nets[cnt.var_outputs]
        carried = {}          # root -> (net, inversion applied): what the gate module hands over
        for t, r in enumerate(ob):
            key = (int(nets[t]), bool(inv[t]) and invert_mode)
            if carried.setdefault(r, key) != key:
                ob = None     # one register for two different bits: not the core this code knows
                break
    if ob is not None:
        first = {}
        for t, r in enumerate(ob):
            first.setdefault(r, t)
        # the gate logic: each register of the gate module's outputs against the design's netlist
        w = _Blif()
        inputs, bits = _gate_nets(w, cnt.netlist, ports)
        outs = {}
        for u, r in enumerate(uniq):
            t = first[r]
            b = bits[int(cnt.var_outputs[t])]             # the value counted: net XOR inversion
            outs[f"{OB}_bit[{u}]"] = b if invert_mode or not inv[t] else w.cover((b,), w.fresh(), ("0",))
        parts.append((_model("gates", inputs, outs, w), blif_probe(rtl, {f"{OB}_bit[{u}]": r for u, r in enumerate(uniq)})))
        flip = [bool(inv[t]) and not invert_mode for t in range(n_var)]
        models = counting_blif(cnt.netlist, ports, cnt, own, cw, signed, cut,
                               (names, [index[r] for r in ob], flip))
        rtl_ob = blif_cut(rtl, uniq, names)
        free = set()
        for m in models[:-1]:
            outs = re.search(r"^\.outputs (.*)$", m, flags=re.M).group(1).split()
            free.add(len(parts))
            parts.append((m, blif_outputs(rtl_ob, outs)))
        parts.append((models[-1], rtl_cut))
        return parts, free
    models = counting_blif(cnt.netlist, ports, cnt, own, cw, signed, None if rtl_cut is None else cut)
    for i, m in enumerate(models):
        outs = re.search(r"^\.outputs (.*)$", m, flags=re.M).group(1).split()
        side = [n for n in outs if n.startswith(SIDE + "[")]
        if rtl_cut is None:
            design = with_zero_outputs(rtl, side)
        elif i == len(models) - 1:
            design = rtl_cut
        else:
            design = with_zero_outputs(blif_outputs(rtl, [n for n in outs if n not in side]), side)
        parts.append((m, design))
    return parts, set()


def _out_bit_roots(blif: str, n: int) -> list | None:
    """The registers behind the gate module's ``n`` output bits (:data:`OUT_BITS`), one per bit (two bits may
    share one), or None when the core has no such nets."""
    return _roots(blif.splitlines(), [f"{OUT_BITS}[{t}]" for t in range(n)], distinct=False)[0]


def _signatures(nl, extra=None, n_rows: int = _SIM_ROWS) -> list:
    """Each output bit's values on ``n_rows`` seeded random inputs and the rows ``extra``, as bytes. The share of
    ones in a row runs from 2 % to 98 % over the rows (the first row all 0, the second all 1): a deep network
    has bits that are 1 on almost every uniform input, and only inputs of other densities tell them apart."""
    from .ir.interp import evaluate_outputs
    rng = np.random.default_rng(0x1962)
    density = np.linspace(0.02, 0.98, n_rows)[:, None]
    x = (rng.random((n_rows, nl.n_inputs)) < density).astype(np.uint8)
    x[0], x[1] = 0, 1
    if extra is not None and len(extra):
        x = np.concatenate([x, extra])
    packed = np.packbits(evaluate_outputs(nl, x).T, axis=1)
    return [row.tobytes() for row in packed]


def _near(x: np.ndarray, n: int = 63) -> np.ndarray:
    """``x`` and ``n`` inputs one bit away from it (seeded): the rows a refuted pairing adds."""
    rng = np.random.default_rng(int(x.sum()) + 7)
    rows = np.repeat(x[None, :], n + 1, axis=0)
    flips = rng.integers(0, x.size, n)
    rows[np.arange(1, n + 1), flips] ^= 1
    return rows


def _input_bits(nl, vector: list, ports: dict) -> np.ndarray:
    """A counterexample (the input port's bits) as the netlist's input bits."""
    x = np.asarray(vector, dtype=np.uint8)[None, :]
    if "in_features" in ports:
        x = nl.encoding.apply(np.packbits(x.reshape(-1, 8), axis=1, bitorder="little").reshape(1, -1))
    return np.asarray(x, dtype=np.uint8).reshape(-1)


def _pairing_holds(nl, design, positions, cor: Correspondence, x) -> bool:
    """Whether, on input bits ``x``, each paired design bit equals its checkpoint bit and the constants and pairs
    left over are what they were taken for."""
    from .ir.interp import evaluate_outputs
    ref = evaluate_outputs(nl, x[None, :])[0]
    des = evaluate_outputs(design, x[None, :])[0][np.asarray(positions)]
    return (all(int(ref[j]) == int(d) for j, d in zip(cor.match, des))
            and all(int(ref[j]) == v for j, v in cor.consts) and all(ref[a] != ref[b] for a, b in cor.pairs))


def report_lines(result: dict) -> list:
    """One line per comparison of a :func:`verify` result, for report.md and the build summary."""
    lines = []
    for what in COMPARISONS:
        r = result.get(what)
        if r is None:
            continue
        against = "the emitted Verilog" if what == "netlist" else "the checkpoint"
        if r["status"] == "equal":
            lines.append(f"{WHAT[what]} = {against}: proved equal ({r['engine']}, {r['seconds']:.1f} s)")
        elif r["status"] == "different":
            lines.append(f"{WHAT[what]} != {against}: counterexample {r['counterexample']} "
                         f"({r['engine']}, {r['seconds']:.1f} s); replay: {json.dumps(r.get('replay'))}")
        else:
            lines.append(f"{WHAT[what]} vs {against}: not proved ({r.get('note', 'unknown')})")
    return lines


def _cex_vector(cex: dict, ports: dict) -> list:
    """The input port's bits (``in_bits`` or ``in_features``) from ABC's named counterexample."""
    name = "in_features" if "in_features" in ports else "in_bits"
    width = int(ports.get(name, 0))
    return [int(cex.get(f"{name}[{i}]", 0)) for i in range(width)]


def replay(nl, out: Path, rep: dict, bits: list, what: str, workdir: Path, after=None) -> dict:
    """Run a counterexample through the interpreter (the netlists before and after passes) and through
    simulation of the emitted Verilog and of the mapped netlist (when there is one): what each gives."""
    from .ir import evaluate
    x = np.asarray(bits, dtype=np.uint8)[None, :]
    ports = {p["name"]: p["width"] for p in rep["ports"]}
    features = "in_features" in ports
    if features:     # in_features[8f+b]: bit b of feature f
        x = np.packbits(x.reshape(-1, 8), axis=1, bitorder="little").reshape(1, -1)
    xin = nl.encoding.apply(x) if features else x
    res = {"interpreter": _counts(evaluate(nl, xin))}
    if after is not None:
        res["interpreter_after_passes"] = _counts(evaluate(after, xin))
    family = (rep.get("lut_cells") or {}).get("family") or (rep.get("build") or {}).get("family")
    designs = [("rtl", "rtl_all.v")]
    if (out / "build" / f"{rep['top']}.syn.v").is_file():
        designs.append(("netlist", f"{rep['top']}.syn.v"))
    for name, fname in designs:
        if name == "rtl":
            (workdir / fname).write_text("".join((out / f).read_text() for f in rep["files"]))
        else:
            shutil.copyfile(out / "build" / fname, workdir / fname)
        res[f"simulation_{name}"] = _simulate(nl, rep, workdir, fname, x, family)
    return res


def _counts(c) -> dict:
    c = np.asarray(c)[0]
    return {"counts": [int(v) for v in c], "class": int(c.argmax())}


def _simulate(nl, rep, workdir: Path, fname: str, x, family) -> dict:
    """One sample through Icarus or Verilator (the post-synthesis simulation path, with yosys' cell models and
    lgn2hw's block RAM model): ``{"equal_to_interpreter": bool, ...}``."""
    from types import SimpleNamespace

    from .fpga.postsim import simulate_mapped
    from .fpga.toolchain import require, share_dir
    yosys = require("yosys")
    opts = SimpleNamespace(postsim_samples=1, postsim_inputs=x, postsim_sim="auto", warn=None, timeout_s=None)
    cells = share_dir(yosys) / (family or "ecp5")
    try:
        r = simulate_mapped(nl, _Core(rep), workdir, fname, cells, opts)
    except ToolchainError as err:
        if "differs from the interpreter" in err.message:
            return {"equal_to_interpreter": False, "message": err.message}
        return {"error": err.message}
    if "skipped" in r:
        return {"skipped": r["skipped"]}
    return {"equal_to_interpreter": True, "simulator": r["simulator"]}
