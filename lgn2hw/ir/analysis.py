"""Analyses: facts derived from a netlist when asked, never stored on it."""
from __future__ import annotations

import numpy as np

from .. import gates
from .netlist import Netlist


def net_levels(nl: Netlist) -> np.ndarray:
    """Logic level of every net: 0 for constants and inputs, 1 + the deepest input for a node."""
    lev = np.zeros(nl.n_nets, dtype=np.int32)
    if not nl.n_nodes:
        return lev
    first = nl.first_node_net
    used = np.arange(nl.kmax)[None, :] < nl.arity[:, None]
    # Nodes are topologically ordered, so relaxing all nodes at once converges in depth + 1 rounds.
    while True:
        deepest = np.where(used, lev[nl.fanin], -1).max(axis=1, initial=-1) if nl.kmax else np.full(nl.n_nodes, -1)
        new = (deepest + 1).astype(np.int32)
        if np.array_equal(new, lev[first:]):
            return lev
        lev[first:] = new


def depth(nl: Netlist) -> int:
    """Logic depth: the largest node level."""
    lev = net_levels(nl)
    return int(lev[nl.first_node_net:].max(initial=0))


def fanout(nl: Netlist) -> np.ndarray:
    """Readers of every net: node inputs plus output bits."""
    used = np.arange(nl.kmax)[None, :] < nl.arity[:, None]
    fo = np.bincount(nl.fanin[used].astype(np.int64), minlength=nl.n_nets)
    fo += np.bincount(nl.out_nets.astype(np.int64), minlength=nl.n_nets)
    return fo[:nl.n_nets]


def live_nodes(nl: Netlist) -> np.ndarray:
    """Boolean mask of nodes whose value reaches an output bit."""
    first = nl.first_node_net
    live = np.zeros(nl.n_nets, dtype=bool)
    live[nl.out_nets] = True
    # Walk levels from the deepest down: every node's readers are deeper than it.
    lev = net_levels(nl)[first:]
    for level in range(int(lev.max(initial=0)), 0, -1):
        nodes = np.flatnonzero(lev == level)
        nodes = nodes[live[first + nodes]]
        if nodes.size:
            k_used = np.arange(nl.kmax)[None, :] < nl.arity[nodes, None]
            live[nl.fanin[nodes][k_used]] = True
    return live[first:]


def logic_nodes(nl: Netlist) -> np.ndarray:
    """Boolean mask of nodes that are real logic: not a constant, not a buffer or inverter of one input."""
    mask = np.ones(nl.n_nodes, dtype=bool)
    for k in np.unique(nl.arity):
        sel = nl.arity == k
        kind, _ = gates.classify(nl.tables[sel], int(k))
        mask[sel] = kind == 0
    return mask


def live_per_layer(nl: Netlist, *, logic_only: bool = True) -> dict:
    """Live nodes (reaching an output bit) per origin layer; ``logic_only`` leaves out constants and wires
    (buffers, inverters), which cost no gate once absorbed. Layer -1 collects nodes created by passes."""
    mask = live_nodes(nl)
    if logic_only:
        mask &= logic_nodes(nl)
    layers, counts = np.unique(nl.layer[mask], return_counts=True)
    return {int(l): int(c) for l, c in zip(layers, counts)}


def op_histogram(nl: Netlist, *, live_only: bool = False) -> dict:
    """Nodes per gate name (see :meth:`Netlist.op_histogram`), optionally only the live ones."""
    return nl.op_histogram(live_nodes(nl) if live_only else None)


def fanout_histogram(nl: Netlist) -> dict:
    """How many nodes have each fan-out (readers: node inputs and output bits)."""
    fo = fanout(nl)[nl.first_node_net:]
    values, counts = np.unique(fo, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def describe(nl: Netlist) -> dict:
    """A JSON-ready summary: inputs, classes, layers, gates per layer, op histogram, depth."""
    enc = nl.encoding
    return {
        "inputs": nl.n_inputs,
        "input_shape": list(nl.input_shape) if nl.input_shape else None,
        "encoding": None if enc is None else {"bits": nl.n_inputs, "features": enc.n_features,
                                              "feature_shape": list(enc.feature_shape)},
        "classes": nl.n_classes,
        "tau": float(nl.tau),
        "outputs": int(len(nl.out_nets)),
        "gates_trained": nl.n_nodes,
        "layers": [{"layer": l, "gates": c} for l, c in nl.layer_sizes().items()],
        "depth": depth(nl),
        "op_histogram": nl.op_histogram(),
        "provenance": nl.meta,
    }
