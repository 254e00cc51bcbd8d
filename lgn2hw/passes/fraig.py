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
_BIN_WORDS = 2              # 64-bit words of support bins per net (see _Cones)


def signatures(nl, patterns: int = 128, groups=None) -> np.ndarray:
    """(n_nets, patterns // 64) uint64: every net's value on fixed pseudo-random input patterns (bit p of the
    row is pattern p). ``groups`` are the netlist's :func:`level_groups <._rewire.level_groups>` when the
    caller has them already."""
    words = max(1, patterns // 64)
    rng = np.random.default_rng(_SEED)
    vals = np.empty((nl.n_nets, words), dtype=np.uint64)
    vals[0], vals[1] = 0, np.uint64(0xFFFFFFFFFFFFFFFF)
    vals[2:nl.first_node_net] = rng.integers(0, 1 << 63, (nl.n_inputs, words), dtype=np.uint64) * np.uint64(2) \
        + rng.integers(0, 2, (nl.n_inputs, words), dtype=np.uint64)
    first = nl.first_node_net
    for idx in rw.level_groups(nl) if groups is None else groups:
        a = nl.arity[idx]
        for k in np.unique(a):
            k = int(k)
            sel = idx[a == k]
            ins = [np.take(vals, nl.fanin[sel, j], axis=0) for j in range(k)]
            out = gates.evaluate_words(nl.tables[sel], k, ins)
            rw.put_rows(vals, first + sel, np.broadcast_to(out, (len(sel), words)))
    return vals


class _Cones:
    """Exact evaluation of small cones on every assignment of their primary-input support.

    Cones are read through the substitution decided so far (``target``/``invert``, lower levels only), so a
    later run of the pass sees exactly the cones this run saw: the pass is idempotent.

    A run walks a few hundred small cones of a netlist with tens of thousands of nodes, so the walks read the
    node arrays through memoryviews (plain ints, nothing converted up front: turning the whole netlist into
    Python lists costs more than all the walks and wakes the garbage collector), and the substitution -- the
    identity except for the few nets merged so far -- is read from a dict.

    Most candidates of a trained network depend on too many inputs to be proven. Every net also gets **support
    bins**, ``64 * _BIN_WORDS`` bits where input i sets bit ``i % (64 * _BIN_WORDS)`` (the OR over the net's
    inputs, one vectorised step per level): their count never exceeds the support size, so :meth:`too_wide`
    rejects nearly all of those candidates without a walk, and exactly as :meth:`equal` would.
    """

    def __init__(self, nl, target, invert, max_support: int, max_nodes: int):
        self.nl = nl
        self.first = nl.first_node_net
        self.fanin = memoryview(np.ascontiguousarray(nl.fanin))
        self.arity = memoryview(np.ascontiguousarray(nl.arity))
        self.tables = memoryview(np.ascontiguousarray(nl.tables))
        self.target, self.invert = target, invert
        self.merged = {}                # net -> (target, inverted): the nets merged so far
        self.max_support, self.max_nodes = max_support, max_nodes
        # word-major: gathering from each word is faster than gathering rows of a 2-D array
        self.bins = np.zeros((_BIN_WORDS, nl.n_nets), dtype=np.uint64)
        i = np.arange(nl.n_inputs) % (64 * _BIN_WORDS)
        self.bins[i // 64, 2 + np.arange(nl.n_inputs)] = np.left_shift(np.uint64(1), (i % 64).astype(np.uint64))

    def add_level(self, idx) -> None:
        """Bins of the nodes ``idx`` (one level), read through the substitution of the lower levels."""
        a, nets = self.nl.arity[idx], self.first + idx
        reads = [self.target[self.nl.fanin[idx, j]] * (a > j) for j in range(self.nl.kmax)]  # unused: net 0
        for bins in self.bins:
            out = np.zeros(len(idx), dtype=np.uint64)
            for f in reads:
                out |= bins[f]
            bins[nets] = out

    def too_wide(self, n, r) -> np.ndarray:
        """Whether the cone of each pair of nets (n[i], r[i]) surely reads more than ``max_support`` inputs, so
        that :meth:`equal` would refuse it."""
        count = np.zeros(len(n), dtype=np.int64)
        for bins in self.bins:
            count += np.bitwise_count(bins[n] | bins[r])
        return count > self.max_support

    def merge(self, n: int, r: int, negated: bool) -> None:
        """Record that net n is replaced by net r (NOT r when ``negated``)."""
        self.target[n], self.invert[n] = r, negated
        self.merged[n] = (r, negated)

    def cone(self, roots):
        """(node nets ascending, support input nets ascending), or None when too large."""
        first, fanin, arity, merged = self.first, self.fanin, self.arity, self.merged
        max_support, max_nodes = self.max_support, self.max_nodes
        seen, support, nodes = {0, 1}, [], []          # the constants are neither support nor nodes
        stack = [int(r) for r in roots]
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            if x < first:
                support.append(x)
                if len(support) > max_support:
                    return None
                continue
            nodes.append(x)
            if len(nodes) > max_nodes:
                return None
            i = x - first
            for j in range(arity[i]):
                f = fanin[i, j]
                m = merged.get(f)
                stack.append(f if m is None else m[0])
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
        first, fanin, merged = self.first, self.fanin, self.merged
        for x in nodes:
            i = x - first
            k = self.arity[i]
            ins = []
            for j in range(k):
                f = fanin[i, j]
                m = merged.get(f)
                ins.append(val[f] if m is None else val[m[0]] ^ (full if m[1] else 0))
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
        groups = rw.level_groups(nl)
        sig = signatures(nl, self.patterns, groups)
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
        # are those a second run would see. A candidate's cone only reaches lower levels, whose substitution is
        # final, so the candidates of one level are independent of each other.
        lev = np.zeros(nl.n_nets, dtype=np.int64)
        group_of = np.zeros(nl.n_nets, dtype=np.int64)
        for g, idx in enumerate(groups):
            group_of[first + idx] = g + 1
        merged = constants = candidates = 0
        for idx in groups:
            nets = first + idx
            a = nl.arity[idx]
            level = np.zeros(len(idx), dtype=np.int64)           # 1 + the deepest input's, 0 without inputs
            for j in range(nl.kmax):
                np.maximum(level, (lev[target[nl.fanin[idx, j]]] + 1) * (a > j), out=level)
            lev[nets] = level
            cones.add_level(idx)
            n = nets[is_cand[nets]]
            r = rep[n]
            ok = (group_of[r] <= group_of[n]) & (lev[r] <= lev[n])
            n, r = n[ok], r[ok]
            candidates += len(n)
            neg = phase[n] ^ phase[r]
            walk = ~cones.too_wide(n, r)
            for n1, r1, neg1 in zip(n[walk].tolist(), r[walk].tolist(), neg[walk].tolist()):
                if cones.equal(n1, r1, neg1):
                    cones.merge(n1, r1, neg1)
                    merged += 1
                    constants += r1 < 2
        stats.update(candidates=candidates, unproven=candidates - merged)
        if not merged:
            return nl, stats
        target, invert = rw.resolve(target, invert)
        rw.substitute(nl, target, invert)
        rw.compact(nl, target[first:] == np.arange(first, nl.n_nets))
        stats.update(changed=True, merged=merged, constants=constants)
        return nl, stats
