"""Shared, vectorised netlist surgery for the passes: net substitution, compaction, input clean-up.

A pass describes what it found as a **substitution**: two arrays over all nets, ``target[net]`` (an earlier
net, or the net itself) and ``invert[net]`` (the net equals NOT target). :func:`resolve` follows chains,
:func:`substitute` rewires every reader (node inputs absorb an inversion into their table, output bits flip
their inversion flag) and :func:`compact` drops nodes nobody reads any more and renumbers the nets, keeping
topological order and the origin arrays.
"""
from __future__ import annotations

import numpy as np

from .. import gates
from ..errors import PassError
from ..ir.analysis import net_levels
from ..ir.netlist import Netlist


def slot_mask(arity: np.ndarray, kmax: int) -> np.ndarray:
    """(n, kmax) bool: which fanin slots are real inputs."""
    return np.arange(kmax)[None, :] < np.asarray(arity)[:, None]


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
    rows = neg.any(axis=1)
    if not rows.any():
        return tables
    for k in np.unique(arity[rows]):
        k = int(k)
        of_k = arity == k
        for j in range(k):
            sel = of_k & neg[:, j]
            if sel.any():
                tables[sel] = gates.negate_input(tables[sel], k, j)
    return tables


def rewire_rows(tables, fanin, arity, target, invert):
    """Rows of (tables, fanin) read through a resolved substitution: returns new (tables, fanin)."""
    used = slot_mask(arity, fanin.shape[1])
    f = fanin.astype(np.int64)
    neg = used & invert[f]
    new_f = np.where(used, target[f], 0)
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
    fanin = np.where(used, newnet[nl.fanin[idx, :kmax].astype(np.int64)], 0)
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
    lev = net_levels(nl)[nl.first_node_net:]
    if not lev.size:
        return []
    order = np.argsort(lev, kind="stable")
    cuts = np.flatnonzero(np.diff(lev[order])) + 1
    return np.split(order, cuts)


def _drop(tables, fanin, arity, sel, j, new_tables):
    """Remove slot j from the rows in ``sel`` whose new tables (arity - 1) are given."""
    tables[sel] = new_tables
    fanin[sel, j:-1] = fanin[sel, j + 1:]
    fanin[sel, -1] = 0
    arity[sel] -= 1


def clean_inputs(tables, fanin, arity):
    """Remove inputs that do not matter, in place on copies: constant nets (the table is cofactored), a net
    read twice (the slots are merged) and inputs the table does not depend on. Returns (tables, fanin, arity,
    slots removed). Nodes may end with arity 0 (constants)."""
    tables, fanin, arity = tables.copy(), fanin.astype(np.int64), arity.copy()
    kmax = fanin.shape[1]
    removed = 0
    changed = True
    while changed:
        changed = False
        for j in range(kmax - 1, -1, -1):
            active = arity > j
            if not active.any():
                continue
            # constant inputs
            for value in (0, 1):
                sel = (arity > j) & (fanin[:, j] == value)
                for k in np.unique(arity[sel]):
                    s = sel & (arity == k)
                    _drop(tables, fanin, arity, s, j, gates.fix_input(tables[s], int(k), j, value))
                    removed += int(s.sum())
                    changed = True
            # the same net in an earlier slot
            for i in range(j):
                active = arity > j
                sel = active & (fanin[:, i] == fanin[:, j])
                for k in np.unique(arity[sel]):
                    s = sel & (arity == k)
                    _drop(tables, fanin, arity, s, j, gates.merge_inputs(tables[s], int(k), i, j))
                    removed += int(s.sum())
                    changed = True
            # inputs the function ignores
            active = arity > j
            for k in np.unique(arity[active]):
                k = int(k)
                rows = np.flatnonzero(active & (arity == k))
                idle = ~gates.depends_on(tables[rows], k, j)
                if idle.any():
                    s = np.zeros(len(arity), dtype=bool)
                    s[rows[idle]] = True
                    _drop(tables, fanin, arity, s, j, gates.fix_input(tables[s], k, j, 0))
                    removed += int(s.sum())
                    changed = True
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
            sel = (arity > j) & (fanin[:, i] > fanin[:, j])
            if not sel.any():
                continue
            for k in np.unique(arity[sel]):
                s = sel & (arity == k)
                tables[s] = gates.swap_inputs(tables[s], int(k), i, j)
            fanin[sel, i], fanin[sel, j] = fanin[sel, j], fanin[sel, i].copy()
            swaps += int(sel.sum())
    return tables, fanin, swaps


def first_of_equal_rows(key: np.ndarray) -> np.ndarray:
    """For each row of an (n, c) integer array, the position of the first row equal to it (a stable lexsort
    and one comparison of neighbours; faster than ``np.unique(axis=0)``)."""
    n = key.shape[0]
    if not n:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(key.T[::-1]) if key.shape[1] else np.arange(n)
    s = key[order]
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (s[1:] != s[:-1]).any(axis=1)
    group_first = order[new_group]                 # stable: the smallest position of each group
    gid = np.cumsum(new_group) - 1
    out = np.empty(n, dtype=np.int64)
    out[order] = group_first[gid]
    return out
