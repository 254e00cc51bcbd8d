"""Pipeline schedule of the gate logic: which stage computes each node and which nets each register bank holds.

Stages are counted in logic levels (``net_levels``): with ``levels_per_stage = N`` stage ``s >= 1`` computes the
nodes of levels ``(s-1)*N+1 .. s*N`` combinationally and ends in register bank ``s``. Bank 0 is the input
register. A net computed in stage ``p`` and read in stage ``q > p`` travels through banks ``p .. q-1``; nets the
popcount reads travel to the last bank ``S``. Those extra copies are the balancing registers for wires that skip
stages (inputs read by deep nodes, nodes read several levels later). Only live nodes are scheduled; nodes of
arity 0 and the nets 0/1 are constants and never registered.

Everything is computed with whole-array numpy operations, so scheduling a 1.28M-node netlist takes a fraction
of a second.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.analysis import live_nodes, net_levels
from ..ir.netlist import NET_TRUE, Netlist


@dataclass
class Schedule:
    levels_per_stage: int
    placement: str              # "asap" or "alap"
    n_stages: int               # S: gate stages after the input register (0 when no gate is live)
    const: np.ndarray           # int8 (n_nets,): 0/1 for constant nets (0, 1, arity-0 nodes), -1 otherwise
    emit: np.ndarray            # bool (n_nodes,): live, non-constant nodes that become logic
    level: np.ndarray           # int32 (n_nets,): logic level (0 for inputs and constants)
    stage: np.ndarray           # int32 (n_nets,): stage that computes the net (0 for inputs)
    level_pos: np.ndarray       # int64 (n_nets,): position of an emitted node in its level's vector
    banks: list                 # per bank b = 0..S: int64 array of the nets it holds, ascending
    bank_pos: list              # per bank: int64 (n_nets,) position of each net in the bank, -1 if absent

    def gates_per_stage(self) -> list:
        nodes_stage = self.stage[-len(self.emit):] if len(self.emit) else np.zeros(0, np.int32)
        counts = np.bincount(nodes_stage[self.emit], minlength=self.n_stages + 1) if self.emit.any() else \
            np.zeros(self.n_stages + 1, np.int64)
        return [int(c) for c in counts[1:self.n_stages + 1]]

    def registers_per_bank(self) -> list:
        return [int(len(b)) for b in self.banks]


def _ceil_div(a, b):
    return -(-a // b)


def alap_levels(nl: Netlist, emit: np.ndarray, level: np.ndarray) -> np.ndarray:
    """As-late-as-possible levels: every emitted node as close to the outputs as its readers allow (output nets
    at the depth, any other node one level below its earliest reader); inputs and constants stay at 0.
    A node's ALAP level is never below its ASAP level, so level order remains a topological order."""
    first = nl.first_node_net
    nodes = np.flatnonzero(emit)
    depth = int(level[first + nodes].max(initial=0))
    alap = level.copy()
    if not nodes.size:
        return alap
    alap[first + nodes] = depth
    used = np.arange(nl.kmax)[None, :] < nl.arity[nodes, None]
    src = nl.fanin[nodes][used].astype(np.int64)
    dst = np.broadcast_to((first + nodes)[:, None], used.shape)[used].astype(np.int64)
    keep = src >= first
    src, dst = src[keep], dst[keep]
    while True:     # relaxing all edges at once converges in depth + 1 rounds
        new = alap.copy()
        np.minimum.at(new, src, alap[dst] - 1)
        if np.array_equal(new, alap):
            return alap
        alap = new


def constant_nets(nl: Netlist) -> np.ndarray:
    """Per net: 0 or 1 for the constant nets and the nodes without inputs, -1 for the others."""
    const = np.full(nl.n_nets, -1, dtype=np.int8)
    const[0] = 0
    const[NET_TRUE] = 1
    zero_ary = np.flatnonzero(nl.arity == 0)
    const[nl.first_node_net + zero_ary] = (nl.tables[zero_ary] & np.uint64(1)).astype(np.int8)
    return const


def schedule(nl: Netlist, levels_per_stage: int, placement: str = "best") -> Schedule:
    """Assign every live node a stage and every bank its nets (see the module docstring). ``placement``:
    ``asap`` (each node at its logic level), ``alap`` (as late as its readers allow) or ``best`` (whichever
    needs fewer registers; ASAP on a tie)."""
    if placement == "best":
        a, b = schedule(nl, levels_per_stage, "asap"), schedule(nl, levels_per_stage, "alap")
        return b if sum(b.registers_per_bank()) < sum(a.registers_per_bank()) else a
    first = nl.first_node_net
    n_nets = nl.n_nets
    live = live_nodes(nl) if nl.n_nodes else np.zeros(0, bool)
    const = constant_nets(nl)
    emit = live & (nl.arity > 0)

    level = net_levels(nl)
    if placement == "alap":
        level = alap_levels(nl, emit, level)
    depth = int(level[first:][emit].max(initial=0))
    n = depth if levels_per_stage <= 0 else int(levels_per_stage)
    n = max(n, 1)
    stage = np.zeros(n_nets, dtype=np.int32)
    stage[first:] = np.where(emit, _ceil_div(level[first:], n), 0)
    n_stages = int(stage.max(initial=0))

    # Last bank each net must reach: a reader in stage q needs it in bank q-1 when it was computed earlier;
    # the popcount reads bank S.
    last = np.full(n_nets, -1, dtype=np.int64)
    nodes = np.flatnonzero(emit)
    if nodes.size:
        used = np.arange(nl.kmax)[None, :] < nl.arity[nodes, None]
        src = nl.fanin[nodes][used].astype(np.int64)
        q = np.broadcast_to(stage[first + nodes][:, None], used.shape)[used].astype(np.int64)
        skip = stage[src] < q
        np.maximum.at(last, src[skip], q[skip] - 1)
    outs = nl.out_nets.astype(np.int64)
    last[outs] = n_stages
    last[const >= 0] = -1

    # Position of each emitted node inside its level vector (node order within a level).
    level_pos = np.full(n_nets, -1, dtype=np.int64)
    if nodes.size:
        lv = level[first + nodes]
        order = np.argsort(lv, kind="stable")
        sorted_lv = lv[order]
        starts = np.searchsorted(sorted_lv, sorted_lv, side="left")
        level_pos[first + nodes[order]] = np.arange(len(order)) - starts

    banks, bank_pos = [], []
    for b in range(n_stages + 1):
        held = np.flatnonzero((stage <= b) & (last >= b))
        pos = np.full(n_nets, -1, dtype=np.int64)
        pos[held] = np.arange(len(held))
        banks.append(held)
        bank_pos.append(pos)
    return Schedule(levels_per_stage=n, placement=placement, n_stages=n_stages, const=const, emit=emit, level=level, stage=stage,
                    level_pos=level_pos, banks=banks, bank_pos=bank_pos)
