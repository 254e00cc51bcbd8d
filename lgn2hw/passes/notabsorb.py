"""NOT absorption: an inverter (or a buffer) disappears into whatever reads it.

Every node whose table is a copy or an inversion of one input becomes a wire to that input; a reader node
absorbs the inversion into its truth table (``gates.negate_input``), an output bit flips its inversion flag
(GroupSum counts it as ``1 - x``). Chains (double negation) are followed in one go.
"""
from __future__ import annotations

import numpy as np

from .. import gates
from . import _rewire as rw
from .base import Pass


class NotAbsorb(Pass):
    name = "not"

    def run(self, nl):
        target, invert = rw.identity(nl)
        first = nl.first_node_net
        nots = bufs = 0
        for k in np.unique(nl.arity):
            k = int(k)
            sel = np.flatnonzero(nl.arity == k)
            kind, which = gates.classify(nl.tables[sel], k)
            wire = (kind == 2) | (kind == 3)
            rows = sel[wire]
            target[first + rows] = nl.fanin[rows, which[wire]]
            invert[first + rows] = kind[wire] == 3
            nots += int((kind == 3).sum())
            bufs += int((kind == 2).sum())
        if not (nots or bufs):
            return nl, {"changed": False, "nots": 0, "buffers": 0}
        target, invert = rw.resolve(target, invert)
        rw.substitute(nl, target, invert)
        rw.compact(nl, target[first:] == np.arange(first, nl.n_nets))
        return nl, {"changed": True, "nots": nots, "buffers": bufs}
