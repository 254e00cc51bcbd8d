"""Analyses: facts derived from a netlist when asked, never stored on it."""
from __future__ import annotations

import numpy as np

from .. import gates
from .netlist import FIRST_INPUT_NET, Netlist

#: Shortest block net_levels computes in one step; where blocks are shorter, chunks of this size are relaxed.
_MIN_BLOCK = 1024


def _slot_max(nl: Netlist, values, lo: int, hi: int) -> np.ndarray:
    """For nodes lo..hi-1: the largest ``values[net]`` (values >= 0; the nets themselves when ``values`` is
    None) over the node's input nets, 0 for a node without inputs. Column by column, unused slots masked by a
    multiplication: numpy is several times slower along a short last axis, and in ``np.where``."""
    arity = nl.arity[lo:hi]
    out = np.zeros(hi - lo, dtype=np.int64 if values is None else values.dtype)
    for j in range(nl.kmax):
        col = nl.fanin[lo:hi, j]
        np.maximum(out, (col if values is None else values[col]) * (arity > j), out=out)
    return out


def net_levels(nl: Netlist) -> np.ndarray:
    """Logic level of every net: 0 for constants and inputs, 1 + the deepest input for a node.

    Nodes are topologically ordered, so they split into consecutive **blocks** whose nodes read only nets before
    the block; a trained (layered) netlist has one block per layer. A block's levels follow from the earlier
    blocks in one vectorised step. ``reach[i]``, the deepest net read by nodes 0..i, is non-decreasing and
    below node i's own net, so the longest block starting at node s ends at the first node whose reach gets to
    node s (one binary search). Where the order is too interleaved for long blocks, a chunk of ``_MIN_BLOCK``
    nodes is relaxed instead until its levels stop changing (each round fixes one more level of the chunk). A
    netlist out of topological order (which :meth:`Netlist.check` rejects) is relaxed as one chunk."""
    lev = np.zeros(nl.n_nets, dtype=np.int32)
    n, first = nl.n_nodes, nl.first_node_net
    if not n:
        return lev
    reach = np.maximum.accumulate(_slot_max(nl, None, 0, n))
    ordered = not (reach >= first + np.arange(n)).any()
    s = 0
    while s < n:
        e = int(np.searchsorted(reach, first + s)) if ordered else s   # nodes s..e-1 read only nets before s
        block = e - s >= _MIN_BLOCK
        if not block:
            e = min(s + _MIN_BLOCK, n) if ordered else n
        done = False
        while not done:
            new = _slot_max(nl, lev, s, e) + (nl.arity[s:e] > 0)
            done = block or np.array_equal(new, lev[first + s:first + e])
            lev[first + s:first + e] = new
        s = e
    return lev


def level_groups(nl: Netlist) -> list:
    """Node indices grouped by logic level, lowest level first, ascending within a level: one array per level
    that has nodes. A layered netlist's nodes are in level order already, which saves the sort."""
    lev = net_levels(nl)[nl.first_node_net:]
    if not lev.size:
        return []
    step = np.diff(lev)
    if (step >= 0).all():
        order, cuts = np.arange(len(lev)), np.flatnonzero(step) + 1
    else:
        order = np.argsort(lev, kind="stable")
        cuts = np.flatnonzero(np.diff(lev[order])) + 1
    return np.split(order, cuts)


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
    for nodes in reversed(level_groups(nl)):
        nodes = nodes[live[first + nodes]]
        arity = nl.arity[nodes]
        for j in range(nl.kmax):
            live[nl.fanin[nodes[arity > j], j]] = True
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


def input_places(nl: Netlist):
    """(row, column) of every input bit on the model's input image, as float64 (n_inputs, 2), or None when the
    netlist has no image layout. An input encoding places a bit at the pixel its feature reads (a threshold of
    it); otherwise a 2-D or deeper ``input_shape`` places bit i at the last two coordinates of index i (channels
    stacked on one image)."""
    if nl.encoding is not None and len(nl.encoding.feature_shape) >= 2:
        shape, flat = tuple(nl.encoding.feature_shape), np.asarray(nl.encoding.feature, dtype=np.int64)
    elif nl.input_shape is not None and len(nl.input_shape) >= 2:
        shape, flat = tuple(nl.input_shape), np.arange(nl.n_inputs, dtype=np.int64)
    else:
        return None
    rows, cols = int(shape[-2]), int(shape[-1])
    pixel = flat % (rows * cols)
    return np.stack([pixel // cols, pixel % cols], axis=1).astype(np.float64)


def net_places(nl: Netlist):
    """A place on the input image for every net, float64 (n_nets, 2), or None (see :func:`input_places`): an
    input bit's pixel, a node's the mean of its non-constant inputs' places (a constant node takes the centre of
    the image). In a network with local wiring a gate's place is then near the pixels its cone reads, and gates
    with near places share most of their cone."""
    ins = input_places(nl)
    if ins is None:
        return None
    first = nl.first_node_net
    place = np.full((nl.n_nets, 2), np.nan)
    place[FIRST_INPUT_NET:first] = ins
    centre = ins.mean(axis=0) if len(ins) else np.zeros(2)
    fanin, arity = nl.fanin.tolist(), nl.arity.tolist()
    rows, cols = place[:, 0].tolist(), place[:, 1].tolist()
    for i in range(nl.n_nodes):
        r = c = 0.0
        k = 0
        for net in fanin[i][:arity[i]]:
            if net >= FIRST_INPUT_NET:
                r += rows[net]
                c += cols[net]
                k += 1
        rows[first + i], cols[first + i] = (r / k, c / k) if k else (float(centre[0]), float(centre[1]))
    place[:, 0], place[:, 1] = rows, cols
    return place
