"""Shared, vectorised netlist surgery for the passes: net substitution, compaction, input clean-up.

A pass describes what it found as a **substitution**: two arrays over all nets, ``target[net]`` (an earlier
net, or the net itself) and ``invert[net]`` (the net equals NOT target). :func:`resolve` follows chains,
:func:`substitute` rewires every reader (node inputs absorb an inversion into their table, output bits flip
their inversion flag) and :func:`compact` drops nodes nobody reads any more and renumbers the nets, keeping
topological order and the origin arrays.

Everything is vectorised over nodes and, where it matters, done one fanin slot (column) at a time: along the
short last axis of an (n, kmax) array numpy's broadcasting, reductions and fancy row indexing are several times
slower than the same work on whole columns (:func:`slot_mask`, :func:`put_rows`, ``np.take(a, rows, axis=0)``
for reading rows). Unused slots are masked by multiplying with the slot mask, which is faster than ``np.where``.
"""
from __future__ import annotations

import numpy as np

from .. import gates
from ..errors import PassError
from ..ir import analysis
from ..ir.netlist import Netlist


def slot_mask(arity: np.ndarray, kmax: int) -> np.ndarray:
    """(n, kmax) bool: which fanin slots are real inputs (built column by column)."""
    arity = np.asarray(arity)
    if not kmax:
        return np.zeros((len(arity), 0), dtype=bool)
    return np.stack([arity > j for j in range(kmax)], axis=1)


def put_rows(a: np.ndarray, idx: np.ndarray, values: np.ndarray) -> None:
    """``a[idx] = values`` for the rows ``idx`` of a 2-D array, one column at a time."""
    for j in range(a.shape[1]):
        a[idx, j] = values[:, j]


def identity(nl: Netlist):
    """A substitution that changes nothing."""
    return np.arange(nl.n_nets, dtype=np.int64), np.zeros(nl.n_nets, dtype=bool)


def resolve(target: np.ndarray, invert: np.ndarray):
    """Follow substitution chains to their ends (pointer jumping, log(chain) rounds); an inverted constant
    becomes the other constant."""
    target = np.asarray(target, dtype=np.int64).copy()
    invert = np.asarray(invert, dtype=bool).copy()
    while True:
        nxt = target[target]
        if np.array_equal(nxt, target):
            break
        invert = invert ^ invert[target]
        target = nxt
    flip = (target <= 1) & invert
    target[flip] ^= 1
    invert[flip] = False
    return target, invert


def negate_slots(tables: np.ndarray, arity: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Tables with an inversion absorbed on every slot marked in ``neg`` (n, kmax)."""
    tables = tables.copy()
    for j in range(neg.shape[1]):             # negations of different slots commute
        rows = np.flatnonzero(neg[:, j])
        if not rows.size:
            continue
        ks = arity[rows]
        for k in np.unique(ks):
            sel = rows[ks == k]
            tables[sel] = gates.negate_input(tables[sel], int(k), j)
    return tables


def rewire_rows(tables, fanin, arity, target, invert):
    """Rows of (tables, fanin) read through a resolved substitution: returns new (tables, fanin)."""
    used = slot_mask(arity, fanin.shape[1])
    f = fanin.astype(np.int64)
    neg = used & invert[f]
    new_f = target[f] * used                  # unused slots read net 0
    return negate_slots(tables, arity, neg), new_f


def substitute(nl: Netlist, target: np.ndarray, invert: np.ndarray) -> None:
    """Rewire every node input and output bit of ``nl`` (in place) through a resolved substitution."""
    if nl.n_nodes:
        nl.tables, f = rewire_rows(nl.tables, nl.fanin, nl.arity, target, invert)
        nl.fanin = f.astype(np.int32)
    nets = nl.out_nets.astype(np.int64)
    nl.out_invert = nl.out_invert ^ invert[nets]
    nl.out_nets = target[nets].astype(np.int32)


def compact(nl: Netlist, keep: np.ndarray) -> int:
    """Remove the nodes not in ``keep`` (in place) and renumber nets; returns how many were removed.

    No kept node and no output bit may read a removed node (that is a pass bug and raises PassError)."""
    keep = np.asarray(keep, dtype=bool)
    removed = int(nl.n_nodes - keep.sum())
    if not removed:
        return 0
    first = nl.first_node_net
    idx = np.flatnonzero(keep)
    newnet = np.full(nl.n_nets, -1, dtype=np.int64)
    newnet[:first] = np.arange(first)
    newnet[first + idx] = first + np.arange(len(idx))
    arity = nl.arity[idx]
    kmax = int(arity.max(initial=0))
    used = slot_mask(arity, kmax)
    fanin = newnet[np.take(nl.fanin[:, :kmax], idx, axis=0)] * used
    outs = newnet[nl.out_nets.astype(np.int64)]
    if (fanin < 0).any() or (outs < 0).any():
        raise PassError("a kept node or output bit reads a removed node", hint="this is an lgn2hw bug; report it")
    nl.tables, nl.arity = nl.tables[idx], arity
    nl.fanin = fanin.astype(np.int32).reshape(len(idx), kmax)
    nl.layer, nl.index = nl.layer[idx], nl.index[idx]
    nl.out_nets = outs.astype(np.int32)
    return removed


def level_groups(nl: Netlist):
    """Node indices grouped by logic level, lowest level first, ascending within a level. Nodes of one level
    never read each other, and a substitution only ever points to a net of the same or a lower level."""
    return analysis.level_groups(nl)


def _drop(tables, fanin, arity, sel, j, op, *args) -> int:
    """Remove slot j from the rows in ``sel`` (a boolean mask), their new tables (arity k - 1) being
    ``op(tables, k, *args)`` per arity k. Returns how many rows lost a slot."""
    sel = np.flatnonzero(sel)
    if not sel.size:
        return 0
    ks = arity[sel]
    for k in np.unique(ks):
        s = sel[ks == k]
        tables[s] = op(tables[s], int(k), *args)
    for c in range(j, fanin.shape[1] - 1):
        fanin[sel, c] = fanin[sel, c + 1]
    fanin[sel, -1] = 0
    arity[sel] -= 1
    return int(sel.size)


def _has_removable_input(tables, fanin, arity) -> np.ndarray:
    """Rows with a constant input, a net read twice or an input the table ignores."""
    kmax = fanin.shape[1]
    found = np.zeros(len(arity), dtype=bool)
    for j in range(kmax):
        used = arity > j
        found |= used & (fanin[:, j] <= 1)
        for i in range(j):
            found |= used & (fanin[:, i] == fanin[:, j])
    for k in range(1, kmax + 1):
        rows = np.flatnonzero(arity == k)
        for j in range(k):
            found[rows[~gates.depends_on(tables[rows], k, j)]] = True
    return found


def clean_inputs(tables, fanin, arity):
    """Remove inputs that do not matter, in place on copies: constant nets (the table is cofactored), a net
    read twice (the slots are merged) and inputs the table does not depend on. Returns (tables, fanin, arity,
    slots removed). Nodes may end with arity 0 (constants).

    What remains is fixed by the node's function alone -- the first slot of every distinct non-constant net the
    function depends on, in slot order, and the table over them -- so the removals can be made in any order.
    Three sweeps from the highest slot down suffice: constants, then repeated nets, then ignored inputs (no
    sweep creates work for an earlier one: whether a function depends on a net does not change when inputs it
    ignores go). Only rows with something to remove take part."""
    tables, fanin, arity = tables.copy(), fanin.astype(np.int64), arity.copy()
    kmax = fanin.shape[1]
    rows = np.flatnonzero(_has_removable_input(tables, fanin, arity))
    if not rows.size:
        return tables, fanin, arity, 0
    t, f, a = tables[rows], np.take(fanin, rows, axis=0), arity[rows]
    removed = 0
    for j in range(kmax - 1, -1, -1):
        for value in (0, 1):
            removed += _drop(t, f, a, (a > j) & (f[:, j] == value), j, gates.fix_input, j, value)
    for j in range(kmax - 1, 0, -1):
        for i in range(j):
            removed += _drop(t, f, a, (a > j) & (f[:, i] == f[:, j]), j, gates.merge_inputs, i, j)
    for j in range(kmax - 1, -1, -1):
        # ascending arity: a row that loses slot j moves to a lower arity and is not looked at twice
        for k in range(j + 1, kmax + 1):
            s = np.flatnonzero(a == k)
            idle = np.zeros(len(a), dtype=bool)
            idle[s[~gates.depends_on(t[s], k, j)]] = True
            removed += _drop(t, f, a, idle, j, gates.fix_input, j, 0)
    tables[rows], arity[rows] = t, a
    put_rows(fanin, rows, f)
    return tables, fanin, arity, removed


def sort_inputs(tables, fanin, arity):
    """Put every node's input nets in ascending order, permuting its table to match (odd-even transposition
    sort, vectorised). Returns new (tables, fanin) and how many swaps were made."""
    tables, fanin = tables.copy(), fanin.copy()
    kmax = fanin.shape[1]
    swaps = 0
    for rnd in range(kmax):
        for i in range(rnd % 2, kmax - 1, 2):
            j = i + 1
            sel = np.flatnonzero((arity > j) & (fanin[:, i] > fanin[:, j]))
            if not sel.size:
                continue
            ks = arity[sel]
            for k in np.unique(ks):
                s = sel[ks == k]
                tables[s] = gates.swap_inputs(tables[s], int(k), i, j)
            fanin[sel, i], fanin[sel, j] = fanin[sel, j], fanin[sel, i]
            swaps += int(sel.size)
    return tables, fanin, swaps


def _packed_words(key: np.ndarray) -> list:
    """The columns of an (n, c) integer array packed, exactly, into as few int64 arrays as their value ranges
    allow: equal rows give equal packed rows and different rows different ones. A column spanning more than 63
    bits keeps its own word, unchanged."""
    words, word, used = [], None, 0
    for col in key.T.astype(np.int64):
        lo = int(col.min())
        bits = (int(col.max()) - lo).bit_length()
        if bits > 63:
            words.append(col)
            continue
        if word is None or used + bits > 63:
            if word is not None:
                words.append(word)
            word, used = np.zeros(len(col), dtype=np.int64), 0
        if bits:
            word |= (col - lo) << used
            used += bits
    if word is not None:
        words.append(word)
    return words


def first_of_equal_rows(key: np.ndarray) -> np.ndarray:
    """For each row of an (n, c) integer array, the position of the first row equal to it.

    The columns are packed into few words (:func:`_packed_words`) and the rows sorted by the first word with
    numpy's fast, unstable sort; only rows sharing their first word with another row are then sorted by all
    words. A group of equal rows is contiguous in that order and its first position is its smallest one. (A
    stable ``np.lexsort`` over all columns gives the same answer several times slower.)"""
    n = key.shape[0]
    if not n or not key.shape[1]:
        return np.zeros(n, dtype=np.int64)
    words = _packed_words(key)
    order = np.argsort(words[0])
    if len(words) > 1:
        w0 = words[0][order]
        same = w0[1:] == w0[:-1]
        tied = np.zeros(n, dtype=bool)
        tied[1:] |= same
        tied[:-1] |= same
        if tied.any():
            sub = order[tied]
            order[tied] = sub[np.lexsort([w[sub] for w in words[::-1]])]
    new_group = np.zeros(n, dtype=bool)
    new_group[0] = True
    for w in words:
        s = w[order]
        new_group[1:] |= s[1:] != s[:-1]
    group_first = np.minimum.reduceat(order, np.flatnonzero(new_group))
    out = np.empty(n, dtype=np.int64)
    out[order] = group_first[np.cumsum(new_group) - 1]
    return out
