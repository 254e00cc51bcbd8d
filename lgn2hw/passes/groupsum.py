"""GroupSum-aware folding: output bits that are known up to a constant become class offsets.

Class c counts ``class_offset[c] + sum(bit XOR invert)``. An output bit driven by a constant net only adds its
value (after inversion) to the offset; a net counted once plain and once inverted in the same class adds exactly
1 whatever its value (``x + (1 - x)``). Both kinds of bit are removed and their effect moved into
``class_offset``, so neither a gate nor a popcount input is spent on them.
"""
from __future__ import annotations

import numpy as np

from .base import Pass


class GroupSumFold(Pass):
    name = "groupsum"

    def run(self, nl):
        nets = nl.out_nets.astype(np.int64)
        cls = nl.out_class.astype(np.int64)
        inv = nl.out_invert
        offset = nl.class_offset.copy()
        drop = nets <= 1
        np.add.at(offset, cls[drop], (nets[drop] ^ inv[drop].astype(np.int64)))
        constants = int(drop.sum())
        # x and NOT x in the same class: pair them up in output order and count each pair as 1.
        pairs = 0
        rest = np.flatnonzero(~drop)
        if rest.size:
            key = cls[rest] * (nl.n_nets + 1) + nets[rest]
            order = np.lexsort((rest, key))
            r, k, pol = rest[order], key[order], inv[rest[order]]
            # rank of each bit among the bits of its (class, net) group with the same polarity
            grp_start = np.r_[True, k[1:] != k[:-1]]
            grp_id = np.cumsum(grp_start) - 1
            rank = np.zeros(len(r), dtype=np.int64)
            for p in (False, True):
                s = pol == p
                g = grp_id[s]
                first_of = np.r_[True, g[1:] != g[:-1]]
                pos = np.arange(s.sum())
                rank[s] = pos - np.maximum.accumulate(np.where(first_of, pos, 0))
            n_plain = np.bincount(grp_id[~pol], minlength=grp_id.max(initial=-1) + 1)
            n_inv = np.bincount(grp_id[pol], minlength=grp_id.max(initial=-1) + 1)
            n_pairs = np.minimum(n_plain, n_inv)
            paired = rank < n_pairs[grp_id]
            drop[r[paired]] = True
            per_group = n_pairs[grp_id[grp_start]]
            np.add.at(offset, cls[r[grp_start]], per_group)
            pairs = int(n_pairs.sum())
        if not drop.any():
            return nl, {"changed": False, "constant_bits": 0, "cancelled_pairs": 0}
        keep = ~drop
        nl.out_nets, nl.out_class, nl.out_invert = nl.out_nets[keep], nl.out_class[keep], nl.out_invert[keep]
        nl.class_offset = offset
        return nl, {"changed": True, "constant_bits": constants, "cancelled_pairs": pairs}
