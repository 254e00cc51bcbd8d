"""Functional reduction: nodes that compute the same function as an earlier net (or its negation, or a
constant) over all inputs, although their structure differs.

Candidates come from simulation: every net is evaluated on the same fixed pseudo-random input patterns and nets
with equal signatures (up to inversion) are grouped. A candidate is only merged after an **exact proof**: both
cones are evaluated on every assignment of the primary inputs they depend on, which is done only when that
support is small (``max_support`` inputs). Unproven candidates are left alone, so the pass is exact whatever the
patterns. A node is merged only into a net of the same or a lower logic level, so logic depth never grows.
"""
from __future__ import annotations

import numpy as np

from .. import gates
from . import _rewire as rw
from .base import Pass

_SEED = 0x6C676E32          # fixed: the same netlist always gives the same patterns and the same result


def signatures(nl, patterns: int = 128) -> np.ndarray:
    """(n_nets, patterns // 64) uint64: every net's value on fixed pseudo-random input patterns (bit p of the
    row is pattern p)."""
    words = max(1, patterns // 64)
    rng = np.random.default_rng(_SEED)
    vals = np.empty((nl.n_nets, words), dtype=np.uint64)
    vals[0], vals[1] = 0, np.uint64(0xFFFFFFFFFFFFFFFF)
    vals[2:nl.first_node_net] = rng.integers(0, 1 << 63, (nl.n_inputs, words), dtype=np.uint64) * np.uint64(2) \
        + rng.integers(0, 2, (nl.n_inputs, words), dtype=np.uint64)
    first = nl.first_node_net
    for idx in rw.level_groups(nl):
        a = nl.arity[idx]
        for k in np.unique(a):
            k = int(k)
            sel = idx[a == k]
            out = gates.evaluate_words(nl.tables[sel], k, [vals[nl.fanin[sel, j]] for j in range(k)])
            vals[first + sel] = np.broadcast_to(out, (len(sel), words))
    return vals


class _Cones:
    """Exact evaluation of small cones on every assignment of their primary-input support.

    Cones are read through the substitution decided so far (``target``/``invert``, lower levels only), so a
    later run of the pass sees exactly the cones this run saw: the pass is idempotent."""

    def __init__(self, nl, target, invert, max_support: int, max_nodes: int):
        self.nl = nl
        self.first = nl.first_node_net
        self.fanin = nl.fanin.tolist()
        self.arity = nl.arity.tolist()
        self.tables = nl.tables.tolist()
        self.target, self.invert = target, invert
        self.max_support, self.max_nodes = max_support, max_nodes

    def cone(self, roots):
        """(node nets ascending, support input nets ascending), or None when too large."""
        first, fanin, arity, target = self.first, self.fanin, self.arity, self.target
        seen, support, nodes = set(), set(), []
        stack = [int(r) for r in roots]
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            if x < 2:
                continue
            if x < first:
                support.add(x)
                if len(support) > self.max_support:
                    return None
                continue
            nodes.append(x)
            if len(nodes) > self.max_nodes:
                return None
            i = x - first
            stack.extend(int(target[f]) for f in fanin[i][:arity[i]])
        return sorted(nodes), sorted(support)

    def equal(self, n: int, r: int, negated: bool) -> bool:
        """Whether net n equals net r (or NOT r) for every input assignment; False when not provable."""
        found = self.cone((n, r))
        if found is None:
            return False
        nodes, support = found
        width = 1 << len(support)
        full = (1 << width) - 1
        val = {0: 0, 1: full}
        for j, net in enumerate(support):
            val[net] = _VARIABLE[j] & full if j < len(_VARIABLE) else _variable(j, width)
        first, target, invert = self.first, self.target, self.invert
        for x in nodes:
            i = x - first
            k = self.arity[i]
            ins = [val[int(target[f])] ^ (full if invert[f] else 0) for f in self.fanin[i][:k]]
            val[x] = gates.evaluate_bitsets(self.tables[i], k, ins, width)
        return val[n] == ((val[r] ^ full) if negated else val[r])


def _variable(j: int, width: int) -> int:
    """Bit-set of input j over ``width`` patterns: pattern p has input j = bit j of p."""
    block = ((1 << (1 << j)) - 1) << (1 << j)        # 2**j zeros then 2**j ones
    period = 1 << (j + 1)
    out = 0
    for start in range(0, width, period):
        out |= block << start
    return out


_VARIABLE = [_variable(j, 1 << 12) for j in range(12)]


class FunctionalReduce(Pass):
    name = "fraig"

    def __init__(self, *, patterns: int = 128, max_support: int = 12, max_nodes: int = 400):
        if not 0 < max_support <= 12:
            raise ValueError("max_support must be in 1..12")
        self.patterns, self.max_support, self.max_nodes = patterns, max_support, max_nodes

    def __repr__(self) -> str:
        return f"FunctionalReduce(patterns={self.patterns}, max_support={self.max_support})"

    def run(self, nl):
        first = nl.first_node_net
        stats = {"changed": False, "merged": 0, "constants": 0, "candidates": 0, "unproven": 0}
        if not nl.n_nodes:
            return nl, stats
        sig = signatures(nl, self.patterns)
        phase = (sig[:, 0] & np.uint64(1)).astype(bool)
        canon = np.where(phase[:, None], ~sig, sig)
        rep = rw.first_of_equal_rows(canon.view(np.int64))
        is_cand = np.zeros(nl.n_nets, dtype=bool)
        is_cand[first:] = rep[first:] != np.arange(first, nl.n_nets)
        if not is_cand.any():
            return nl, stats
        target, invert = rw.identity(nl)
        cones = _Cones(nl, target, invert, self.max_support, self.max_nodes)
        # Decide level by level (levels of the netlist as rewritten so far), so that cones and depths seen here
        # are those a second run would see.
        lev = np.zeros(nl.n_nets, dtype=np.int64)
        group_of = np.zeros(nl.n_nets, dtype=np.int64)
        groups = rw.level_groups(nl)
        for g, idx in enumerate(groups):
            group_of[first + idx] = g + 1
        merged = constants = candidates = 0
        for idx in groups:
            nets = first + idx
            a = nl.arity[idx]
            used = rw.slot_mask(a, nl.kmax)
            f = target[nl.fanin[idx].astype(np.int64)]
            lev[nets] = 1 + np.where(used, lev[f], -1).max(axis=1, initial=-1)
            for n in nets[is_cand[nets]].tolist():
                r = int(rep[n])
                if group_of[r] > group_of[n] or lev[r] > lev[n]:
                    continue
                candidates += 1
                neg = bool(phase[n] ^ phase[r])
                if cones.equal(n, r, neg):
                    target[n], invert[n] = r, neg
                    merged += 1
                    constants += r < 2
        stats.update(candidates=candidates, unproven=candidates - merged)
        if not merged:
            return nl, stats
        target, invert = rw.resolve(target, invert)
        rw.substitute(nl, target, invert)
        rw.compact(nl, target[first:] == np.arange(first, nl.n_nets))
        stats.update(changed=True, merged=merged, constants=constants)
        return nl, stats
