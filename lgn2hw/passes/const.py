"""Constant propagation and gate simplification through the gate table's algebra.

One sweep over the logic levels, lowest first. For each node: read its inputs through what earlier levels
became, cofactor away constant inputs, merge an input net read twice (``a AND a = a``) and drop inputs its table
ignores -- the arity may shrink. A node left with no input is a constant, one that copies an input is a wire:
both are replaced by that net in every reader. Inverters stay (NOT absorption removes them); constant output bits
stay (GroupSum folding removes them).
"""
from __future__ import annotations

import numpy as np

from .. import gates
from . import _rewire as rw
from .base import Pass


class ConstantFold(Pass):
    name = "const"

    def run(self, nl):
        target, invert = rw.identity(nl)
        first = nl.first_node_net
        slots = constants = wires = 0
        tables, fanin, arity = nl.tables.copy(), nl.fanin.astype(np.int64), nl.arity.copy()
        for idx in rw.level_groups(nl):
            t, f, a = tables[idx], np.take(fanin, idx, axis=0), arity[idx]
            f = target[f] * rw.slot_mask(a, f.shape[1])         # unused slots read net 0
            t, f, a, removed = rw.clean_inputs(t, f, a)
            slots += removed
            tables[idx], arity[idx] = t, a
            rw.put_rows(fanin, idx, f)
            for k in np.unique(a):
                k = int(k)
                sel = np.flatnonzero(a == k)
                kind, which = gates.classify(t[sel], k)
                c = kind == 1
                target[first + idx[sel[c]]] = which[c]
                constants += int(c.sum())
                w = kind == 2
                target[first + idx[sel[w]]] = f[sel[w], which[w]]
                wires += int(w.sum())
        nl.tables, nl.fanin, nl.arity = tables, fanin.astype(np.int32), arity
        target, invert = rw.resolve(target, invert)
        rw.substitute(nl, target, invert)
        replaced = target[first:] != np.arange(first, nl.n_nets)
        rw.compact(nl, ~replaced)
        kmax = int(nl.arity.max(initial=0))
        if nl.fanin.shape[1] != kmax:
            nl.fanin = np.ascontiguousarray(nl.fanin[:, :kmax])
        changed = bool(slots or constants or wires)
        return nl, {"changed": changed, "inputs_removed": slots, "constants": constants, "wires": wires}
