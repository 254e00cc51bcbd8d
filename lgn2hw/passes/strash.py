"""Structural hashing: nodes computing the same table on the same inputs become one node.

One sweep over the logic levels (a node and its duplicate read the same nets, so they sit on the same level).
Each node's inputs are read through what the lower levels merged into, then put in ascending net order with the
table permuted to match (commutative forms coincide). A node whose table is the negation of another's on the same
inputs merges too: its readers absorb the inversion (node inputs through their tables, output bits through their
inversion flag), so no inverter is created.
"""
from __future__ import annotations

import numpy as np

from .. import gates
from . import _rewire as rw
from .base import Pass


class StructuralHash(Pass):
    name = "strash"

    def run(self, nl):
        target, invert = rw.identity(nl)
        first = nl.first_node_net
        tables, fanin = nl.tables.copy(), nl.fanin.astype(np.int64)
        merged = negated = swaps = 0
        kmax = fanin.shape[1]
        for idx in rw.level_groups(nl):
            a = nl.arity[idx]
            t, f = rw.rewire_rows(tables[idx], np.take(fanin, idx, axis=0), a, target, invert)
            t, f, s = rw.sort_inputs(t, f, a)
            swaps += s
            tables[idx] = t
            rw.put_rows(fanin, idx, f)
            neg = gates.negate_output(t, a.astype(np.uint64))
            canon = np.minimum(t, neg)
            pol = canon != t
            key = np.column_stack([a.astype(np.int64), canon.view(np.int64), f]) if kmax else \
                np.column_stack([a.astype(np.int64), canon.view(np.int64)])
            rep = rw.first_of_equal_rows(key)
            dup = rep != np.arange(len(idx))
            if dup.any():
                target[first + idx[dup]] = first + idx[rep[dup]]
                invert[first + idx[dup]] = pol[dup] ^ pol[rep[dup]]
                merged += int(dup.sum())
                negated += int((pol[dup] ^ pol[rep[dup]]).sum())
        nl.tables, nl.fanin = tables, fanin.astype(np.int32)
        target, invert = rw.resolve(target, invert)
        rw.substitute(nl, target, invert)
        rw.compact(nl, target[first:] == np.arange(first, nl.n_nets))
        return nl, {"changed": bool(merged or swaps), "merged": merged, "merged_negated": negated,
                    "inputs_swapped": swaps}
