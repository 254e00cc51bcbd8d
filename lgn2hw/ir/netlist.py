"""The netlist IR: a flat, array-based network of k-input LUT nodes feeding GroupSum class counts.

Nets are integers::

    0, 1                      the constants FALSE and TRUE
    2 .. 2+n_inputs-1         primary input bits, in PyTorch's C order of the model input
    2+n_inputs+i              the output of node i

Nodes are stored in topological order: every input net of node i is smaller than node i's own net. A node has an
arity k <= 6, a truth table in the LUT convention of :mod:`lgn2hw.gates`, and k input nets in
``fanin[i, :k]`` (unused slots hold net 0). Each node remembers where it came from: ``layer[i]`` and ``index[i]``
(``layer 3[17]``; layer -1 for nodes a pass created).

Outputs are the bits GroupSum counts. Class c's count is::

    class_offset[c] + sum(value(out_nets[j]) XOR out_invert[j] for j with out_class[j] == c)

Passes may fold constant output bits into ``class_offset`` and inverted ones into ``out_invert``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .. import gates
from ..errors import NetlistError

NET_FALSE = 0
NET_TRUE = 1
FIRST_INPUT_NET = 2


@dataclass(eq=False)
class InputEncoding:
    """How raw features become input bits: ``bit[i] = raw[feature[i]] > threshold[i]``.

    ``feature_shape`` is the shape of one raw sample (features are indexed in its flattened C order)."""
    feature: np.ndarray     # int32 (n_inputs,)
    threshold: np.ndarray   # float64 (n_inputs,)
    feature_shape: tuple

    @property
    def n_features(self) -> int:
        return int(np.prod(self.feature_shape, dtype=np.int64))

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """(N, n_features) raw values -> (N, n_inputs) uint8 bits."""
        raw = np.asarray(raw).reshape(len(raw), -1)
        return (raw[:, self.feature] > self.threshold).astype(np.uint8)

    def copy(self) -> "InputEncoding":
        return InputEncoding(self.feature.copy(), self.threshold.copy(), tuple(self.feature_shape))


@dataclass(eq=False)
class Netlist:
    n_inputs: int
    tables: np.ndarray        # uint64 (n,)
    arity: np.ndarray         # uint8 (n,)
    fanin: np.ndarray         # int32 (n, kmax)
    layer: np.ndarray         # int32 (n,)
    index: np.ndarray         # int32 (n,)
    out_nets: np.ndarray      # int32 (m,)
    out_class: np.ndarray     # int32 (m,)
    out_invert: np.ndarray    # bool (m,)
    class_offset: np.ndarray  # int64 (n_classes,)
    tau: float = 1.0
    input_shape: tuple | None = None
    encoding: InputEncoding | None = None
    meta: dict = field(default_factory=dict)

    # --- construction ---------------------------------------------------------------------------------------
    @classmethod
    def from_layers(cls, n_inputs: int, layers, n_classes: int, *, tau: float = 1.0, input_shape=None,
                    encoding=None, meta=None) -> "Netlist":
        """Build a layered network. ``layers`` is a list of ``(tables, fanin)`` where ``fanin`` is
        (out, k) indices into the previous layer's outputs (the primary inputs for the first layer) and
        ``tables`` the (out,) LUT tables. The last layer's outputs are split into ``n_classes`` contiguous
        GroupSum blocks."""
        all_tables, all_fanin, all_layer, all_index = [], [], [], []
        prev_base, prev_width = FIRST_INPUT_NET, n_inputs
        next_net = FIRST_INPUT_NET + n_inputs
        kmax = max([np.asarray(f).shape[1] if np.asarray(f).ndim == 2 else 0 for _, f in layers] + [0])
        for li, (tables, fanin) in enumerate(layers, start=1):
            tables = np.asarray(tables, dtype=np.uint64)
            fanin = np.asarray(fanin, dtype=np.int64).reshape(len(tables), -1)
            width, k = fanin.shape
            if fanin.size and (fanin.min() < 0 or fanin.max() >= prev_width):
                bad = int(np.argmax((fanin < 0).any(1) | (fanin >= prev_width).any(1)))
                raise NetlistError(f"input index must be in 0..{prev_width - 1}, not {int(fanin[bad].max())}",
                                   location=f"layer {li}[{bad}]")
            padded = np.zeros((width, kmax), dtype=np.int32)
            padded[:, :k] = fanin + prev_base
            all_tables.append(tables)
            all_fanin.append(padded)
            all_layer.append(np.full(width, li, dtype=np.int32))
            all_index.append(np.arange(width, dtype=np.int32))
            prev_base, prev_width = next_net, width
            next_net += width
        arity = np.concatenate([np.full(len(t), np.asarray(f).reshape(len(t), -1).shape[1], np.uint8)
                                for t, (_, f) in zip(all_tables, layers)]) if layers else np.zeros(0, np.uint8)
        if prev_width % n_classes:
            raise NetlistError(f"the last width must be a multiple of the class count {n_classes}, not {prev_width}",
                               hint="GroupSum splits the last layer into equal blocks, one per class")
        group = prev_width // n_classes
        return cls(
            n_inputs=n_inputs,
            tables=np.concatenate(all_tables) if layers else np.zeros(0, np.uint64),
            arity=arity,
            fanin=np.concatenate(all_fanin) if layers else np.zeros((0, 0), np.int32),
            layer=np.concatenate(all_layer) if layers else np.zeros(0, np.int32),
            index=np.concatenate(all_index) if layers else np.zeros(0, np.int32),
            out_nets=np.arange(prev_base, prev_base + prev_width, dtype=np.int32),
            out_class=(np.arange(prev_width, dtype=np.int32) // group).astype(np.int32),
            out_invert=np.zeros(prev_width, dtype=bool),
            class_offset=np.zeros(n_classes, dtype=np.int64),
            tau=float(tau), input_shape=tuple(input_shape) if input_shape is not None else None,
            encoding=encoding, meta=dict(meta or {}),
        )

    # --- basic facts ------------------------------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return int(len(self.tables))

    @property
    def n_classes(self) -> int:
        return int(len(self.class_offset))

    @property
    def n_nets(self) -> int:
        return FIRST_INPUT_NET + self.n_inputs + self.n_nodes

    @property
    def first_node_net(self) -> int:
        return FIRST_INPUT_NET + self.n_inputs

    @property
    def kmax(self) -> int:
        return int(self.fanin.shape[1]) if self.fanin.ndim == 2 else 0

    def node_net(self, i):
        return self.first_node_net + np.asarray(i)

    def origin(self, i: int) -> str:
        """Where node i came from, as ``layer 3[17]``."""
        if self.layer[i] < 0:
            return f"node {i} (created by a pass)"
        return f"layer {int(self.layer[i])}[{int(self.index[i])}]"

    def net_name(self, net: int) -> str:
        if net == NET_FALSE:
            return "0"
        if net == NET_TRUE:
            return "1"
        if net < self.first_node_net:
            return f"input {net - FIRST_INPUT_NET}"
        return self.origin(net - self.first_node_net)

    def copy(self) -> "Netlist":
        return replace(
            self, tables=self.tables.copy(), arity=self.arity.copy(), fanin=self.fanin.copy(),
            layer=self.layer.copy(), index=self.index.copy(), out_nets=self.out_nets.copy(),
            out_class=self.out_class.copy(), out_invert=self.out_invert.copy(),
            class_offset=self.class_offset.copy(),
            encoding=self.encoding.copy() if self.encoding is not None else None, meta=dict(self.meta))

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.tables, self.arity, self.fanin, self.layer, self.index,
                                      self.out_nets, self.out_class, self.out_invert, self.class_offset))

    def op_histogram(self, select: np.ndarray | None = None) -> dict:
        """Count of nodes per gate name (2-input gates by name, others as ``LUTk:table``), optionally only over
        the nodes where the boolean mask ``select`` is true."""
        hist: dict[str, int] = {}
        for k in np.unique(self.arity):
            sel = self.arity == k if select is None else (self.arity == k) & select
            tabs, counts = np.unique(self.tables[sel], return_counts=True)
            for t, c in zip(tabs, counts):
                name = gates.table_name(int(t), int(k))
                hist[name] = hist.get(name, 0) + int(c)
        return dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])))

    def layer_sizes(self) -> dict:
        """Nodes per origin layer (layer -1 collects nodes created by passes)."""
        layers, counts = np.unique(self.layer, return_counts=True)
        return {int(l): int(c) for l, c in zip(layers, counts)}

    # --- invariants -------------------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise NetlistError naming the first broken invariant: shapes and dtypes, arity <= 6, table within
        2**k bits, every node's inputs earlier than itself (so the graph is acyclic), outputs driven by
        existing nets, classes in range."""
        n = self.n_nodes
        if self.n_inputs < 0:
            raise NetlistError(f"input count must be >= 0, not {self.n_inputs}")
        for name, arr, dtype, shape in (
                ("tables", self.tables, np.uint64, (n,)), ("arity", self.arity, np.uint8, (n,)),
                ("layer", self.layer, np.int32, (n,)), ("index", self.index, np.int32, (n,)),
                ("out_class", self.out_class, np.int32, self.out_nets.shape),
                ("out_invert", self.out_invert, np.bool_, self.out_nets.shape),
                ("out_nets", self.out_nets, np.int32, self.out_nets.shape),
                ("class_offset", self.class_offset, np.int64, self.class_offset.shape)):
            if arr.dtype != dtype or arr.shape != shape:
                raise NetlistError(f"{name} must be {np.dtype(dtype).name}{list(shape)}, not "
                                   f"{arr.dtype.name}{list(arr.shape)}")
        if self.fanin.dtype != np.int32 or self.fanin.ndim != 2 or self.fanin.shape[0] != n:
            raise NetlistError(f"fanin must be int32[{n}, kmax], not {self.fanin.dtype.name}{list(self.fanin.shape)}")
        if self.n_classes < 1:
            raise NetlistError("a netlist needs at least one class")
        if n:
            bad = np.flatnonzero(self.arity > gates.MAX_ARITY)
            if bad.size:
                raise NetlistError(f"arity must be <= {gates.MAX_ARITY}, not {int(self.arity[bad[0]])}",
                                   location=self.origin(int(bad[0])))
            if self.arity.max() > self.kmax:
                bad = int(np.argmax(self.arity > self.kmax))
                raise NetlistError(f"arity {int(self.arity[bad])} exceeds the fanin width {self.kmax}",
                                   location=self.origin(bad))
            bad = np.flatnonzero(self.tables & ~gates.table_mask(self.arity) != 0)
            if bad.size:
                raise NetlistError(f"truth table 0x{int(self.tables[bad[0]]):x} has bits beyond 2**{int(self.arity[bad[0]])}",
                                   location=self.origin(int(bad[0])))
            own = self.node_net(np.arange(n))[:, None]
            used = np.arange(self.kmax)[None, :] < self.arity[:, None]
            bad_rows = (used & ((self.fanin < 0) | (self.fanin >= own))).any(1)
            if bad_rows.any():
                i = int(np.argmax(bad_rows))
                raise NetlistError(f"input nets must be earlier than the node's own net {int(own[i, 0])} "
                                   f"(topological order), not {self.fanin[i, :self.arity[i]].tolist()}",
                                   location=self.origin(i))
            if (~used & (self.fanin != 0)).any():
                i = int(np.argmax((~used & (self.fanin != 0)).any(1)))
                raise NetlistError("unused fanin slots must hold net 0", location=self.origin(i))
        if self.out_nets.size:
            bad = np.flatnonzero((self.out_nets < 0) | (self.out_nets >= self.n_nets))
            if bad.size:
                raise NetlistError(f"output bit {int(bad[0])} is driven by net {int(self.out_nets[bad[0]])}, "
                                   f"which does not exist (nets 0..{self.n_nets - 1})")
            bad = np.flatnonzero((self.out_class < 0) | (self.out_class >= self.n_classes))
            if bad.size:
                raise NetlistError(f"output bit {int(bad[0])} counts for class {int(self.out_class[bad[0]])}, "
                                   f"which must be in 0..{self.n_classes - 1}")
        if self.encoding is not None:
            e = self.encoding
            if e.feature.shape != (self.n_inputs,) or e.threshold.shape != (self.n_inputs,):
                raise NetlistError(f"input encoding must describe {self.n_inputs} bits, not {e.feature.shape[0]}")
            if self.n_inputs and (e.feature.min() < 0 or e.feature.max() >= e.n_features):
                raise NetlistError(f"input encoding refers to feature {int(e.feature.max())}, beyond "
                                   f"{e.n_features} features")
