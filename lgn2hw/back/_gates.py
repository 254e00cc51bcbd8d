"""The gate logic as generated Verilog: one module with the input register, the gate stages and their banks.

Amaranth builds one Python object per operation, which costs ~50 s and 1 GB for 48K gates; this module instead
writes the gate logic directly as plain Verilog text, built with list comprehensions over whole levels, so a
1.28M-gate network is emitted in seconds. Amaranth then instantiates the module (``Instance``) beside the
popcount, argmax and stream control it builds itself.

Layout of the generated module (``<top>_gates``)::

    reg [..] f0;  always @(posedge clk) f0 <= in_features;         (only with on-chip input comparators)
    reg p0_0; ... always @(posedge clk) begin p0_0 <= in_bits[3]; ... end    bank 0: the input register
    wire l1_0 = (p0_0 & p0_3);                                      level 1, node 0 of the level
    wire l1_1; LUT4 #(.INIT(16'h6666)) g1_1 (.A(p0_1), ..., .Z(l1_1));   the same as a LUT primitive (a target)
    reg p1_0; ... always @(posedge clk) begin p1_0 <= l2_5; ... end       bank s closes stage s
    wire p1_0; TRELLIS_FF #(...) f1_0 (.CLK(clk), .DI(l2_5), .Q(p1_0), ...);    a register as a primitive (a target)
    wire p1_0_d1; TRELLIS_FF #(...) f1_0_d1 (.CLK(clk), .DI(l2_5), .Q(p1_0_d1), ...);   its copy (max_fanout)
    assign out_bits[t] = ~pS_i;                                     output bits with their inversion flags

A node is written from its table in the LUT convention of the IR (bit ``m`` of the table for
``m = sum(in_j << j)``) as a sum of products or, for a target family, as an instance of its LUT primitive with the
table as INIT (:mod:`._lutcells`; synthesis keeps those instead of mapping the logic again), so this module never
needs to know what a gate means. With ``max_fanout`` a register read by more than that many cells of the next stage
is written several times (``p<bank>_<i>_d<c>``, readers split in the order of their positions), so that a placer
can put each copy near its own readers. Every net is a scalar of its own (``l<level>_<i>``, ``p<bank>_<i>``): with
vectors, event-driven simulators such as Icarus re-evaluate every reader of a vector whenever any one of its bits
changes, which made a 700-gate core simulate at a few cycles per second.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir.netlist import FIRST_INPUT_NET, Netlist
from ._lutcells import LutCell, trivial
from ._schedule import Schedule

FEATURE_BITS = 8


def comparator_thresholds(nl: Netlist) -> np.ndarray:
    """Integer thresholds of the on-chip comparators, int64 (n_inputs,): ``bit = feature > T`` on uint8 features.

    For an integer feature x, ``x > t`` equals ``x > floor(t)``; T is clamped to -1 (always 1) .. 255 (always 0),
    and a NaN threshold (never true) becomes 255."""
    t = np.asarray(nl.encoding.threshold, dtype=np.float64)
    t = np.where(np.isnan(t), 255.0, t)
    return np.clip(np.floor(t), -1, 255).astype(np.int64)


_SOP_CACHE: dict = {}


def _sop_template(table: int, k: int) -> str:
    """A k-input LUT (IR convention: output = bit ``sum(in_j << j)`` of ``table``) as a sum of products over
    ``{0}``..``{k-1}``: the minterms of the ones, or the complement of the minterms of the zeros when there are
    fewer zeros. Plain AND/OR/NOT keeps synthesis away from shift cells (``table >> {b, a}`` made yosys build and
    techmap one ``$shr`` per gate, which crashed it on large cores)."""
    key = (table, k)
    hit = _SOP_CACHE.get(key)
    if hit is not None:
        return hit
    n = 1 << k
    ones = [m for m in range(n) if (table >> m) & 1]
    if not ones:
        text = "1'b0"
    elif len(ones) == n:
        text = "1'b1"
    else:
        invert = len(ones) > n // 2
        terms = [m for m in range(n) if m not in ones] if invert else ones

        def product(m):
            lits = [("{%d}" if (m >> j) & 1 else "~{%d}") % j for j in range(k)]
            return lits[0] if k == 1 else "(" + " & ".join(lits) + ")"

        text = " | ".join(product(m) for m in terms)
        if invert:
            text = f"~({text})"
    _SOP_CACHE[key] = text
    return text


def _lut_sop(table: int, k: int, ins) -> str:
    return _sop_template(table, k).format(*ins)


def _from_bank(sched: Schedule, nets: np.ndarray, q: int) -> np.ndarray:
    """Which of ``nets`` logic in stage q reads from bank q-1: not constant, and not computed in stage q itself."""
    own = (sched.stage[nets] == q) & (sched.level[nets] > 0)
    return ~own & (sched.const[nets] < 0)


def fanout_copies(nl: Netlist, sched: Schedule, max_fanout: int):
    """``(copies, lut_copy, carry_copy)`` for registers read by at most ``max_fanout`` cells each (0: no limit):
    per bank b an int64 array of how many times each of its registers is written (1: once), per emitted node and
    input the copy of the bank register that input reads (0: the register itself), and per bank q >= 1, for
    every register written there in bank order and copy order, the copy of bank q-1 it loads (a net carried past
    stage q; 0 for the others). A register's readers are stage q's nodes by level and position, then the carried
    registers and their copies by bank position; they are split into equal runs in that order. Banks are done
    from the last: a carried register's copies are readers of the bank before it."""
    first = nl.first_node_net
    S = sched.n_stages
    copies = [np.ones(len(sched.banks[b]), np.int64) for b in range(S + 1)]
    lut_copy = np.zeros((nl.n_nodes, max(nl.kmax, 1)), np.int64)
    carry_copy = [np.zeros(len(sched.banks[q]), np.int64) for q in range(S + 1)]
    if max_fanout <= 0 or S == 0:
        return copies, lut_copy, carry_copy
    nodes = np.flatnonzero(sched.emit)
    stage = sched.stage[first + nodes]
    for q in range(S, 0, -1):
        sel = nodes[stage == q]
        j = np.arange(nl.kmax)[None, :]
        used = j < nl.arity[sel, None]
        src = nl.fanin[sel].astype(np.int64)
        rn, rj = np.nonzero(used & _from_bank(sched, src, q))
        carried = np.asarray(sched.banks[q], np.int64)
        flat = np.repeat(np.arange(len(carried)), copies[q])           # bank q's registers, copies expanded
        c_flat = np.flatnonzero(_from_bank(sched, carried, q)[flat])
        carry_copy[q] = np.zeros(len(flat), np.int64)
        all_src = np.concatenate([src[rn, rj], carried[flat[c_flat]]])
        if not len(all_src):
            continue
        key1 = np.concatenate([sched.level[first + sel[rn]].astype(np.int64),
                               np.full(len(c_flat), np.iinfo(np.int32).max, np.int64)])
        key2 = np.concatenate([sched.level_pos[first + sel[rn]] * nl.kmax + rj, c_flat])
        order = np.lexsort((key2, key1, all_src))
        srt = all_src[order]
        start = np.flatnonzero(np.r_[True, srt[1:] != srt[:-1]])
        count = np.diff(np.r_[start, len(srt)])
        rank = np.arange(len(srt)) - np.repeat(start, count)
        n_cp = -(-count // max_fanout)
        copy = np.empty(len(srt), np.int64)
        copy[order] = rank * np.repeat(n_cp, count) // np.repeat(count, count)
        copies[q - 1][sched.bank_pos[q - 1][srt[start]]] = n_cp
        lut_copy[sel[rn], rj] = copy[:len(rn)]
        carry_copy[q][c_flat] = copy[len(rn):]
    return copies, lut_copy, carry_copy


def gates_verilog(nl: Netlist, sched: Schedule, module: str, header: str, *, features: bool = False,
                  invert: bool = True, cell: LutCell | None = None, max_fanout: int = 0):
    """Return ``(text, var_outputs, n_cells, n_copies)``: the Verilog of the gate module, the indices of the
    netlist's output bits that the module's ``out_bits`` carries, in order (constant output bits are left to the
    caller), the number of LUT cells in it and the number of register copies (``max_fanout``). With
    ``invert=False`` the bits leave without their inversion flags (the reader applies them). With a ``cell``
    (:mod:`._lutcells`) every node of at most ``cell.size`` inputs is an instance of
    that LUT primitive, named ``g<level>_<i>``, instead of a sum of products (a constant or a copy of one input
    stays a wire), and every bank register an instance of its flip-flop primitive, ``f<bank>_<i>``. With
    ``max_fanout`` > 0 a register has copies (:func:`fanout_copies`), each read by at most that many cells."""
    first = nl.first_node_net
    S = sched.n_stages
    lines = [f"// {header}", f"module {module} (clk, {'in_features' if features else 'in_bits'}, out_bits);",
             "  input clk;"]
    var_outputs = counted_outputs(nl, sched)
    n_out = len(var_outputs)
    if features:
        n_feat = nl.encoding.n_features
        lines.append(f"  input [{n_feat * FEATURE_BITS - 1}:0] in_features;")
    else:
        lines.append(f"  input [{max(nl.n_inputs, 1) - 1}:0] in_bits;")
    lines.append(f"  output [{max(n_out, 1) - 1}:0] out_bits;")

    const_lit = {0: "1'b0", 1: "1'b1"}

    copies, lut_copy, carry_copy = fanout_copies(nl, sched, max_fanout)

    def refs(nets: np.ndarray, q: int, copy: np.ndarray | None = None) -> list:
        """Verilog expressions for nets read by logic in stage q (bank q-1 or stage q's own level vectors);
        ``copy``: which copy of a bank register each reads (see :func:`fanout_copies`)."""
        nets = np.asarray(nets, dtype=np.int64)
        c = sched.const[nets]
        banked = _from_bank(sched, nets, q)
        own = ~banked & (c < 0)
        out = np.where(c == 1, const_lit[1], const_lit[0]).astype(object)
        if own.any():
            out[own] = [f"l{lv}_{lp}" for lv, lp in zip(sched.level[nets[own]].tolist(),
                                                         sched.level_pos[nets[own]].tolist())]
        if banked.any():
            cp = np.zeros(len(nets), np.int64) if copy is None else np.asarray(copy, np.int64)
            out[banked] = [f"p{q - 1}_{bp}_d{c}" if c else f"p{q - 1}_{bp}"
                           for bp, c in zip(sched.bank_pos[q - 1][nets[banked]].tolist(), cp[banked].tolist())]
        return out.tolist()

    # Bank 0: the input register (optionally behind the feature register and comparators).
    bank0 = sched.banks[0]
    if features:
        lines.append(f"  reg [{n_feat * FEATURE_BITS - 1}:0] f0;")
        lines.append("  always @(posedge clk) f0 <= in_features;")
        thresholds = comparator_thresholds(nl)
        src = []
        for net in bank0.tolist():
            i = net - FIRST_INPUT_NET
            t = int(thresholds[i])
            if t < 0:
                src.append("1'b1")
            elif t >= 255:
                src.append("1'b0")
            else:
                f = int(nl.encoding.feature[i])
                src.append(f"(f0[{f * FEATURE_BITS + FEATURE_BITS - 1}:{f * FEATURE_BITS}] > 8'd{t})")
    else:
        src = [f"in_bits[{net - FIRST_INPUT_NET}]" for net in bank0.tolist()]
    # On-chip comparators stay generic: synthesis merges equal ones (inputs of the same feature and threshold) with
    # their registers and drops constant ones, which flip-flop primitives would keep apart.
    _bank(lines, 0, [s for s, c in zip(src, copies[0].tolist()) for _ in range(c)], None if features else cell,
          copies[0])

    nodes = np.flatnonzero(sched.emit)
    n_cells = 0
    node_level = sched.level[first + nodes]
    for q in range(1, S + 1):
        lo, hi = (q - 1) * sched.levels_per_stage + 1, q * sched.levels_per_stage
        for lv in range(lo, hi + 1):
            sel = nodes[node_level == lv]
            if not sel.size:
                continue
            body = [None] * len(sel)
            for k in np.unique(nl.arity[sel]).tolist():
                grp = sel[nl.arity[sel] == k]
                operand = [refs(nl.fanin[grp, j], q, lut_copy[grp, j]) for j in range(k)]
                pos = sched.level_pos[first + grp].tolist()
                if cell is not None and k <= cell.size:
                    text = []
                    for p, t, ins in zip(pos, nl.tables[grp].tolist(), zip(*operand)):
                        wire = trivial(t, k)
                        if wire is None:
                            text.append(f"  wire l{lv}_{p};\n" + cell.instance(f"g{lv}_{p}", f"l{lv}_{p}", t, k, ins))
                            n_cells += 1
                        else:
                            text.append(f"  wire l{lv}_{p} = {wire.format(*ins)};")
                else:
                    text = [f"  wire l{lv}_{p} = {_lut_sop(int(t), k, ins)};"
                            for p, t, ins in zip(pos, nl.tables[grp].tolist(), zip(*operand))]
                for p, t in zip(pos, text):
                    body[p] = t
            lines.extend(body)
        flat = np.repeat(np.asarray(sched.banks[q], np.int64), copies[q])
        _bank(lines, q, refs(flat, q, carry_copy[q]), cell, copies[q])

    # Output bits from the last bank, with their inversion flags.
    if n_out:
        nets = nl.out_nets[var_outputs].astype(np.int64)
        pos = sched.bank_pos[S][nets].tolist()
        inv = nl.out_invert[var_outputs].tolist() if invert else [False] * len(pos)
        lines.extend(f"  assign out_bits[{t}] = {'~' if v else ''}p{S}_{p};"
                     for t, (p, v) in enumerate(zip(pos, inv)))
    else:
        lines.append("  assign out_bits = 1'b0;")
    lines.append("endmodule")
    lines.append("")
    return "\n".join(lines), var_outputs, n_cells, int(sum(int(c.sum()) - len(c) for c in copies))


def counted_outputs(nl: Netlist, sched: Schedule) -> np.ndarray:
    """Indices of the output bits that are not constant: the bits the gate module's ``out_bits`` carries, in
    order."""
    return np.flatnonzero(sched.const[nl.out_nets] < 0)


def _bank(lines: list, b: int, src: list, cell: LutCell | None = None, copies=None) -> None:
    """Register bank ``b`` loading ``src``: one ``always`` block, or with a ``cell`` one flip-flop primitive per
    register (synthesis then has no processes to turn into flip-flops and no flip-flops to map). ``copies[i]``
    > 1 writes register i that many times (``p<b>_<i>_d<c>``), ``src`` then holding one source per copy, in order;
    generic copies carry ``keep``, so that synthesis does not merge them back (it does not merge primitives)."""
    if not src:
        return
    n = [1] * len(src) if copies is None else [int(c) for c in copies]
    names = [(f"p{b}_{i}" + (f"_d{c}" if c else ""), f"f{b}_{i}" + (f"_d{c}" if c else ""), c)
             for i in range(len(n)) for c in range(n[i])]
    regs = [(q, name, s, c) for (q, name, c), s in zip(names, src, strict=True)]
    if cell is not None:
        lines.extend(f"  wire {q};" for q, _, _, _ in regs)
        lines.extend(cell.register(name, s, q) for q, name, s, _ in regs)
        return
    lines.extend(f"  (* keep *) reg {q};" if c else f"  reg {q};" for q, _, _, c in regs)
    lines.append("  always @(posedge clk) begin")
    lines.extend(f"    {q} <= {s};" for q, _, s, _ in regs)
    lines.append("  end")


def bits_for(n: int) -> int:
    """Bits of an unsigned number holding 0..n."""
    return max(1, int(n).bit_length())


def log2_ceil(n: int) -> int:
    return 0 if n <= 1 else math.ceil(math.log2(n))
