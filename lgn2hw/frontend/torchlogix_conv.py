"""torchlogix 0.2.2 convolutional models (``LogicConv2d``, ``OrPooling2d``, ``Flatten``, ``LogicDense``,
``ResidualLogicBlock``, ``GroupSum``), unrolled into one flat netlist without torchlogix.

The model is run symbolically: an activation is a numpy array of net numbers shaped like the tensor the library
would compute for one sample ((C, H, W) for feature maps, (F,) after ``Flatten``), and every module appends its
nodes to the netlist and returns the nets of its output. Nothing is shared between positions: every kernel position
gets its own gates, so passes, backends and builds see an ordinary netlist.

Eval semantics, as torchlogix 0.2.2 computes them with ``training=False`` (layers/conv.py, connections.py, pool.py):

* ``LogicConv2d`` zero-pads its input by ``padding`` on every side, then runs one tree of LUTs per kernel and
  position. ``connections._indices_L0`` is (lut_rank, kernels, positions, leaves, 3) with the last axis
  ``(h, w, c)`` in the *padded* input; level-0 node ``f`` of kernel ``k`` at position ``p`` reads input ``j`` from
  ``x_padded[c, h, w]`` at ``_indices_L0[j, k, p, f]``. Level ``l >= 1`` node ``f`` reads the previous level's nodes
  ``_indices_L{l}[j, f]`` (lut_rank, nodes). ``tree_weights.{l}`` is (nodes, kernels, P): the gate of node ``f`` of
  kernel ``k`` is decoded from ``tree_weights[l][f, k]`` by the dense layers' parametrization rules (raw, light,
  warp; :mod:`._torchlogix_dense`). Positions are the row-major (h, w) grid of ``kernel_positions``; the output
  is (kernels, H', W').
  Padding reads net 0 (constant FALSE), so constant folding removes it.
* ``OrPooling2d`` in eval mode is ``max_pool2d`` of 0/1 values: the OR of each window. Padded cells read net 0
  (OR with 0 is the max over the real cells, which torch guarantees is never empty). A window becomes one
  k-input OR node when it has at most 6 cells, else a tree of such nodes.
* ``Flatten`` takes (C, H, W) to C order; ``LogicDense`` then reads that vector (decoded by
  :mod:`._torchlogix_dense`).
* ``ResidualLogicBlock`` returns ``main(x) + s - main(x) * s`` with ``s = shortcut(x)``: for 0/1 values the OR of
  the two branches, one 2-input OR node per element.
* torchlogix's own models ``ClgnMnist`` (and its Tiny/Small/Medium/Large sizes) and ``CNN`` are read like the
  Sequential they are; their ``DummyBinarization`` returns its input, so the model input must already be 0/1.

Origins: ``layer`` numbers the modules that create nodes (convolutions, poolings, dense layers, residual ORs) in
the order they run, from 1; ``index`` is a flat index within that module, in C order:

* conv: level ``l`` nodes follow all nodes of the levels before it; within a level the index is
  ``((k * H' + y) * W' + x) * nodes_l + f``.
* pooling: ``(c * H' + y) * W' + x`` for the root OR of a window; when a window needs a tree, the first-level
  nodes of all windows come first and the root of window ``w`` is numbered after them.
* dense: the gate index; residual OR: the flat (C, H, W) index.

``meta['torchlogix_layers']`` lists ``number=module path:kind`` for every such module. Inputs are the model input
flattened in PyTorch's C order: input bit ``(c * H + y) * W + x``.

Only whole-model pickles (``--trust-pickle``) are read: a state dict does not record a convolution's padding,
the pooling and flatten modules between layers, or the input shape, and a wrong guess would silently compute
something else.
"""
from __future__ import annotations

import numpy as np

from .. import gates
from ..errors import CheckpointError
from ..ir import Netlist
from ..ir.netlist import FIRST_INPUT_NET, NET_FALSE
from . import safe_pickle
from ._layers import float_matrix, int_tensor, is_tensor, positive_float, positive_int, unwrap
from ._torchlogix_dense import GROUP_SUM, LOGIC_DENSE, PARAM_CLASSES, dense_from_pickle, gate_tables, parametrization

LOGIC_CONV = "torchlogix.layers.conv.LogicConv2d"
OR_POOL = "torchlogix.layers.pool.OrPooling2d"
CONV_CONNECTIONS = "torchlogix.connections.FixedConvConnections"
RESBLOCK = "torchlogix.modules.resblock.ResidualLogicBlock"
PARAM_LIST = "torch.nn.modules.container.ParameterList"
IDENTITY = "torch.nn.modules.linear.Identity"
FLATTEN = "torch.nn.modules.flatten.Flatten"
DUMMY_BINARIZATION = "torchlogix.layers.binarization.DummyBinarization"
# torchlogix's own convolutional models: Sequential subclasses (ClgnMnist*), or a module whose forward runs its
# one child Sequential ``model`` (CNN). Their pickled state is read like a Sequential's.
MODEL_CLASSES = tuple(f"torchlogix.models.conv.{n}" for n in (
    "ClgnMnist", "ClgnMnistTiny", "ClgnMnistSmall", "ClgnMnistMedium", "ClgnMnistLarge", "CNN"))
SEQUENTIAL = ("torch.nn.modules.container.Sequential", "torch.nn.modules.container.ModuleList", *MODEL_CLASSES)

_CONV_NAMES = (LOGIC_CONV, OR_POOL, RESBLOCK)
_STATE_DICT_HINT = ("save the whole model (torch.save(model)) and pass --trust-pickle: a state dict does not "
                    "record a convolution's padding, the pooling and flatten between layers, or the input shape")
_SHAPE = ("lgn2hw reads Sequential(LogicConv2d | OrPooling2d | ResidualLogicBlock ..., Flatten, LogicDense ..., "
          "GroupSum)")


def _walk(obj):
    """Every stand-in in a pickled module tree (containers, residual blocks and their branches included)."""
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, safe_pickle.StandIn):
            yield node
            state = node.state
            if isinstance(state, tuple) and state and isinstance(state[0], dict):
                state = state[0]
            mods = state.get("_modules") if isinstance(state, dict) else None
            if isinstance(mods, dict):
                stack.extend(mods.values())


def detect(obj) -> bool:
    """A torchlogix model with convolutional parts: a pickle holding LogicConv2d, OrPooling2d or a residual
    block, or a state dict with a convolution's tree weights or receptive-field indices."""
    obj, _ = unwrap(obj)
    if isinstance(obj, safe_pickle.StandIn):
        return any(safe_pickle.is_stand_in(m, *_CONV_NAMES) for m in _walk(obj))
    return isinstance(obj, dict) and any(
        isinstance(k, str) and (".connections._indices_L" in k or k.startswith("connections._indices_L")
                                or ".tree_weights." in k or k.startswith("tree_weights.")) for k in obj)


def _flatten(obj) -> list:
    """(path, module) leaves in forward order, looking through containers and torchlogix's model classes."""
    out = []

    def walk(node, path):
        if safe_pickle.is_stand_in(node, *SEQUENTIAL):
            for name, child in safe_pickle.children(node, path or "model"):
                walk(child, f"{path}.{name}" if path else str(name))
        else:
            out.append((path or "model", node))
    walk(obj, "")
    return out


class _Builder:
    """Appends nodes in topological order; each ``add`` returns the nets of the new nodes."""

    def __init__(self, n_inputs: int):
        self.n_inputs = n_inputs
        self.next_net = FIRST_INPUT_NET + n_inputs
        self.chunks = []          # (tables, fanin (n, k), layer, index)
        self.names = []           # (layer number, module path)

    def layer_number(self, path: str, kind: str) -> int:
        self.names.append((len(self.names) + 1, f"{path}:{kind}"))
        return len(self.names)

    def add(self, tables, fanin, layer: int, index) -> np.ndarray:
        fanin = np.asarray(fanin, dtype=np.int64)
        n = fanin.shape[0]
        tables = np.broadcast_to(np.asarray(tables, dtype=np.uint64), (n,))
        nets = np.arange(self.next_net, self.next_net + n, dtype=np.int64)
        if n:                                          # inputs are earlier nets: topological by construction
            self.chunks.append((tables.copy(), fanin, layer, np.asarray(index, dtype=np.int64)))
            self.next_net += n
        if self.next_net >= 2**31:
            raise CheckpointError(f"the unrolled model needs more than 2**31 nets ({self.next_net})",
                                  location=f"layer {layer}")
        return nets

    def netlist(self, out_nets, k: int, tau: float, input_shape, meta) -> Netlist:
        kmax = max([c[1].shape[1] for c in self.chunks] + [0])
        tables, arity, fanin, layer, index = [], [], [], [], []
        for t, f, li, idx in self.chunks:
            n, ar = f.shape
            pad = np.zeros((n, kmax), dtype=np.int32)
            pad[:, :ar] = f
            tables.append(t)
            arity.append(np.full(n, ar, dtype=np.uint8))
            fanin.append(pad)
            layer.append(np.full(n, li, dtype=np.int32))
            index.append(idx.astype(np.int32))

        def cat(parts, dtype, shape=(0,)):
            return np.concatenate(parts) if parts else np.zeros(shape, dtype=dtype)
        m = len(out_nets)
        nl = Netlist(
            n_inputs=self.n_inputs, tables=cat(tables, np.uint64), arity=cat(arity, np.uint8),
            fanin=cat(fanin, np.int32, (0, 0)), layer=cat(layer, np.int32), index=cat(index, np.int32),
            out_nets=np.asarray(out_nets, dtype=np.int32),
            out_class=(np.arange(m, dtype=np.int64) // (m // k)).astype(np.int32),
            out_invert=np.zeros(m, dtype=bool), class_offset=np.zeros(k, dtype=np.int64),
            tau=float(tau), input_shape=tuple(input_shape), meta=dict(meta))
        nl.check()
        return nl


def _int_attr(a: dict, name: str, loc: str, lo: int = 0):
    v = a.get(name)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise CheckpointError(f"{name} must be an int >= {lo}, not {v!r}"[:120], location=loc)
    return v


def _pair_attr(a: dict, name: str, loc: str, lo: int = 0, default=None):
    v = a.get(name, default)
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(e, int) and not isinstance(e, bool)
                                                             for e in v):
        pair = (int(v[0]), int(v[1]))
    elif isinstance(v, int) and not isinstance(v, bool):
        pair = (v, v)
    else:
        raise CheckpointError(f"{name} must be an int or a pair of ints, not {v!r}"[:120], location=loc)
    if min(pair) < lo:
        raise CheckpointError(f"{name} must be >= {lo}, not {v!r}", location=loc)
    return pair


def _shape(acts) -> str:
    return "(" + ", ".join(map(str, acts.shape)) + ")"


def _or_reduce(b: _Builder, windows: np.ndarray, layer: int) -> np.ndarray:
    """OR over the last axis of a net array with <= 6-input OR nodes; returns the nets, shape windows.shape[:-1]."""
    lead = windows.shape[:-1]
    cur = windows.reshape(-1, windows.shape[-1])
    n_windows = cur.shape[0]
    next_index = 0
    while cur.shape[1] > 1:
        width = cur.shape[1]
        chunks = -(-width // gates.MAX_ARITY)
        size = -(-width // chunks)
        padded = np.full((n_windows, chunks * size), NET_FALSE, dtype=np.int64)
        padded[:, :width] = cur
        fanin = padded.reshape(n_windows * chunks, size)
        if chunks == 1:     # the root: numbered by its window
            index = next_index + np.arange(n_windows)
        else:
            index = next_index + np.arange(n_windows * chunks)
        cur = b.add(gates.or_table(size), fanin, layer, index).reshape(n_windows, chunks)
        next_index += n_windows * chunks
    return cur.reshape(lead)


class _Converter:
    def __init__(self, options):
        self.options = options
        self.params = []
        self.b = None

    # --- modules ------------------------------------------------------------------------------------------
    def conv(self, mod, acts, path):
        loc = f"module {path}"
        a = safe_pickle.attrs(mod, loc)
        if a.get("conv_dimension", 2) != 2:
            raise CheckpointError("only 2-D logic convolutions are read", location=loc)
        subs = dict(safe_pickle.children(mod, loc))
        pmod, wmod, cmod = subs.get("parametrization"), subs.get("tree_weights"), subs.get("connections")
        if not isinstance(pmod, safe_pickle.StandIn) or pmod.qualified_name not in PARAM_CLASSES:
            raise CheckpointError("a LogicConv2d layer must hold a raw, light or warp parametrization", location=loc)
        if not safe_pickle.is_stand_in(wmod, PARAM_LIST):
            raise CheckpointError("a LogicConv2d layer must hold its tree weights in a ParameterList", location=loc)
        if not safe_pickle.is_stand_in(cmod, CONV_CONNECTIONS):
            raise CheckpointError("a LogicConv2d layer must hold FixedConvConnections", location=loc)
        param = PARAM_CLASSES[pmod.qualified_name]
        if self.options.parametrization not in (None, param):
            raise CheckpointError(f"--parametrization {self.options.parametrization} contradicts the model's "
                                  f"{param}", location=loc)
        rank = _int_attr(a, "lut_rank", loc, 1)
        depth = _int_attr(a, "tree_depth", loc, 1)
        channels = _int_attr(a, "channels", loc, 1)
        n_kernels = _int_attr(a, "num_kernels", loc, 1)
        pad = _int_attr(a, "padding", loc, 0)
        stride = _int_attr(a, "stride", loc, 1)
        in_hw = _pair_attr(a, "in_dim", loc, 1)
        rf = _pair_attr(a, "receptive_field_size", loc, 1)
        want = (channels, *in_hw)
        if acts.shape != want:
            raise CheckpointError(f"LogicConv2d(channels={channels}, in_dim={in_hw}) must read a {want} feature map, "
                                  f"not {_shape(acts)}", location=loc, hint="the model's modules do not chain")
        out_hw = tuple((d + 2 * pad - r) // stride + 1 for d, r in zip(in_hw, rf))
        if min(out_hw) < 1:
            raise CheckpointError(f"receptive field {rf} must fit the padded input {in_hw}+2*{pad}", location=loc)
        kp = a.get("kernel_positions")
        if kp is not None and tuple(kp) != out_hw:
            raise CheckpointError(f"kernel_positions {list(kp)} must be {list(out_hw)} for in_dim {in_hw}, "
                                  f"padding {pad}, stride {stride}, receptive field {rf}", location=loc)
        n_pos = out_hw[0] * out_hw[1]
        wparams = safe_pickle.attrs(wmod, loc).get("_parameters") or {}
        bufs = safe_pickle.attrs(cmod, loc).get("_buffers") or {}
        layer = self.b.layer_number(path, "LogicConv2d")
        lloc = f"layer {layer}"
        # level 0: receptive-field indices into the padded input
        leaves = rank ** (depth - 1)
        key0 = "connections._indices_L0"
        idx0 = int_tensor(bufs.get("_indices_L0"), key0, lloc, (rank, n_kernels, n_pos, leaves, 3)).numpy()
        ph, pw = in_hw[0] + 2 * pad, in_hw[1] + 2 * pad
        for axis, (name, hi) in enumerate((("h", ph), ("w", pw), ("channel", channels))):
            v = idx0[..., axis]
            if v.min() < 0 or v.max() >= hi:
                bad = np.argwhere((v < 0) | (v >= hi))[0]
                raise CheckpointError(f"{key0} {name} index must be in 0..{hi - 1}, not "
                                      f"{int(v[tuple(bad)])}", location=f"{lloc}[kernel {bad[1]}, position "
                                      f"{bad[2]}, node {bad[3]}]")
        padded = np.full((channels, ph, pw), NET_FALSE, dtype=np.int64)
        padded[:, pad:pad + in_hw[0], pad:pad + in_hw[1]] = acts
        fan = padded[idx0[..., 2], idx0[..., 0], idx0[..., 1]]             # (L, K, P, S)
        if sorted(wparams) != sorted(str(i) for i in range(depth)):
            raise CheckpointError(f"tree_weights must hold levels 0..{depth - 1} (tree_depth {depth}), not "
                                  f"{sorted(wparams)}"[:160], location=lloc)
        prev = None
        offset = 0
        for level in range(depth):
            nodes = rank ** (depth - 1 - level)
            wkey = f"tree_weights.{level}"
            w = wparams.get(str(level))
            if not is_tensor(w) or not w.is_floating_point() or tuple(w.shape[:2]) != (nodes, n_kernels) \
                    or w.ndim != 3:
                got = f"{str(w.dtype).replace('torch.', '')}{list(w.shape)}" if is_tensor(w) else type(w).__name__
                raise CheckpointError(f"{wkey} must be a float tensor [{nodes}, {n_kernels}, n], not {got}",
                                      location=lloc)
            p = parametrization(param, rank, w.shape[2], lloc, wkey)
            flat = float_matrix(w.reshape(nodes * n_kernels, w.shape[2]), wkey, lloc)
            tables = gate_tables(p, flat).reshape(nodes, n_kernels)            # [f, k]
            if level == 0:
                fanin = fan.transpose(1, 2, 3, 0)                             # (K, P, S, L)
            else:
                key = f"connections._indices_L{level}"
                idx = int_tensor(bufs.get(f"_indices_L{level}"), key, lloc, (rank, nodes)).numpy()
                if idx.min() < 0 or idx.max() >= prev.shape[2]:
                    raise CheckpointError(f"{key} must index 0..{prev.shape[2] - 1}, not {int(idx.max())}"
                                          if idx.max() >= prev.shape[2] else f"{key} must not be negative",
                                          location=lloc)
                fanin = prev[:, :, idx].transpose(0, 1, 3, 2)                 # (K, P, nodes, L)
            t = np.broadcast_to(tables.T[:, None, :], (n_kernels, n_pos, nodes)).reshape(-1)
            n = n_kernels * n_pos * nodes
            prev = self.b.add(t, fanin.reshape(n, rank), layer, offset + np.arange(n)).reshape(
                n_kernels, n_pos, nodes)
            offset += n
        self.params.append(param)
        return prev.reshape(n_kernels, *out_hw)

    def pool(self, mod, acts, path):
        loc = f"module {path}"
        a = safe_pickle.attrs(mod, loc)
        if acts.ndim != 3:
            raise CheckpointError(f"OrPooling2d must read a (C, H, W) feature map, not {_shape(acts)}", location=loc)
        kh, kw = _pair_attr(a, "kernel_size", loc, 1)
        sh, sw = _pair_attr(a, "stride", loc, 1) if a.get("stride") is not None else (kh, kw)
        ph, pw = _pair_attr(a, "padding", loc, 0, default=0)
        if ph > kh // 2 or pw > kw // 2:
            raise CheckpointError(f"pad must be at most half the kernel size {kh, kw}, not {ph, pw} "
                                  "(torch's max_pool2d refuses it too)", location=loc)
        c, h, w = acts.shape
        oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        if oh < 1 or ow < 1:
            raise CheckpointError(f"kernel {kh, kw} must fit the padded {h, w} input", location=loc)
        padded = np.full((c, h + 2 * ph, w + 2 * pw), NET_FALSE, dtype=np.int64)
        padded[:, ph:ph + h, pw:pw + w] = acts
        ys = (np.arange(oh) * sh)[:, None] + np.arange(kh)[None, :]            # (oh, kh)
        xs = (np.arange(ow) * sw)[:, None] + np.arange(kw)[None, :]            # (ow, kw)
        win = padded[:, ys[:, None, :, None], xs[None, :, None, :]]             # (c, oh, ow, kh, kw)
        win = win.reshape(c, oh, ow, kh * kw)
        if kh * kw == 1:
            return win[..., 0]
        return _or_reduce(self.b, win, self.b.layer_number(path, "OrPooling2d"))

    def dense(self, mod, acts, path):
        loc = f"module {path}"
        if acts.ndim != 1:
            raise CheckpointError(f"LogicDense must read a flat vector, not {_shape(acts)}", location=loc,
                                  hint="put torch.nn.Flatten() between the convolutional and the dense layers")
        layer_no = len(self.b.names) + 1
        lay, param = dense_from_pickle(mod, self.options, f"layer {layer_no}")
        if lay.in_dim != acts.shape[0]:
            raise CheckpointError(f"LogicDense in_dim {lay.in_dim} must equal the width of its input, "
                                  f"{acts.shape[0]}", location=loc, hint="the model's modules do not chain")
        if lay.fanin.size and (lay.fanin.min() < 0 or lay.fanin.max() >= lay.in_dim):
            bad = int(np.argmax((lay.fanin < 0).any(1) | (lay.fanin >= lay.in_dim).any(1)))
            raise CheckpointError(f"input index must be in 0..{lay.in_dim - 1}, not {lay.fanin[bad].tolist()}",
                                  location=f"layer {layer_no}[{bad}]")
        layer = self.b.layer_number(path, "LogicDense")
        self.params.append(param)
        return self.b.add(lay.tables, acts[lay.fanin], layer, np.arange(len(lay.tables)))

    def residual(self, mod, acts, path):
        loc = f"module {path}"
        subs = dict(safe_pickle.children(mod, loc))
        if "main" not in subs or "shortcut" not in subs:
            raise CheckpointError("a ResidualLogicBlock must hold main and shortcut modules", location=loc)
        out = self.run(subs["main"], acts, f"{path}.main")
        short = self.run(subs["shortcut"], acts, f"{path}.shortcut")
        if out.shape != short.shape:
            raise CheckpointError(f"the main branch gives {_shape(out)} but the shortcut {_shape(short)}",
                                  location=loc)
        layer = self.b.layer_number(path, "ResidualOR")
        fanin = np.stack([out.reshape(-1), short.reshape(-1)], axis=1)
        return self.b.add(gates.or_table(2), fanin, layer, np.arange(out.size)).reshape(out.shape)

    def run(self, mod, acts, path):
        """The output nets of ``mod`` applied to ``acts`` (GroupSum excluded)."""
        if safe_pickle.is_stand_in(mod, *SEQUENTIAL):
            for name, child in safe_pickle.children(mod, path):
                acts = self.run(child, acts, f"{path}.{name}" if path else str(name))
            return acts
        if safe_pickle.is_stand_in(mod, LOGIC_CONV):
            return self.conv(mod, acts, path)
        if safe_pickle.is_stand_in(mod, OR_POOL):
            return self.pool(mod, acts, path)
        if safe_pickle.is_stand_in(mod, LOGIC_DENSE):
            return self.dense(mod, acts, path)
        if safe_pickle.is_stand_in(mod, RESBLOCK):
            return self.residual(mod, acts, path)
        if safe_pickle.is_stand_in(mod, IDENTITY, DUMMY_BINARIZATION):    # DummyBinarization: x.float()
            return acts
        if safe_pickle.is_stand_in(mod, FLATTEN):
            a = safe_pickle.attrs(mod, f"module {path}")
            if (a.get("start_dim", 1), a.get("end_dim", -1)) != (1, -1):
                raise CheckpointError(f"Flatten must keep the batch axis and flatten the rest "
                                      f"(start_dim=1, end_dim=-1), not ({a.get('start_dim')}, {a.get('end_dim')})",
                                      location=f"module {path}")
            return acts.reshape(-1)
        if safe_pickle.is_stand_in(mod, GROUP_SUM):
            raise CheckpointError(f"module {path} is a GroupSum inside the network; GroupSum must come last",
                                  hint=_SHAPE)
        name = mod.qualified_name if isinstance(mod, safe_pickle.StandIn) else type(mod).__name__
        raise CheckpointError(f"module {path} is a {name}, which lgn2hw cannot read in a torchlogix model",
                              hint=_SHAPE)

    # --- the whole model ----------------------------------------------------------------------------------
    def input_shape(self, mods) -> tuple:
        """(C, H, W) from the first convolution reached before any node is made, else --input-shape."""
        given = tuple(self.options.input_shape) if self.options.input_shape else None
        found = None
        for path, mod in mods:
            first = mod
            while safe_pickle.is_stand_in(first, RESBLOCK, *SEQUENTIAL):
                kids = safe_pickle.children(first, path)
                key = "main" if safe_pickle.is_stand_in(first, RESBLOCK) else None
                first = dict(kids).get(key) if key else (kids[0][1] if kids else None)
            if safe_pickle.is_stand_in(first, IDENTITY, DUMMY_BINARIZATION):
                continue
            if safe_pickle.is_stand_in(first, LOGIC_CONV):
                a = safe_pickle.attrs(first, f"module {path}")
                found = (_int_attr(a, "channels", f"module {path}", 1), *_pair_attr(a, "in_dim", f"module {path}", 1))
            break
        if found is not None and given is not None and given != found:
            raise CheckpointError(f"--input-shape {','.join(map(str, given))} contradicts the model's "
                                  f"{','.join(map(str, found))} (channels and in_dim of its first LogicConv2d)")
        shape = found or given
        if shape is None:
            raise CheckpointError("the model does not record its input shape",
                                  hint="pass --input-shape C,H,W (the shape of one input sample)")
        if any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape):
            raise CheckpointError(f"input shape must be positive ints, not {shape}")
        return tuple(shape)

    def convert(self, model) -> Netlist:
        mods = _flatten(model)
        if not mods or not safe_pickle.is_stand_in(mods[-1][1], GROUP_SUM):
            raise CheckpointError("the model must end in a GroupSum, which gives the class count",
                                  hint="append torchlogix GroupSum(k, tau)")
        gpath, gsum = mods[-1]
        a = safe_pickle.attrs(gsum, "GroupSum")
        k = positive_int(a.get("k"), "GroupSum k", f"module {gpath}")
        tau = positive_float(a.get("tau", 1.0), "GroupSum tau", f"module {gpath}")
        beta = a.get("beta", 0.0)
        if self.options.classes is not None and self.options.classes != k:
            raise CheckpointError(f"--classes {self.options.classes} contradicts the model's GroupSum k = {k}",
                                  hint="leave out --classes for whole-model pickles")
        shape = self.input_shape(mods[:-1])
        n_inputs = int(np.prod(shape))
        self.b = _Builder(n_inputs)
        acts = (FIRST_INPUT_NET + np.arange(n_inputs, dtype=np.int64)).reshape(shape)
        for path, mod in mods[:-1]:
            acts = self.run(mod, acts, path)
        if acts.ndim != 1:
            raise CheckpointError(f"GroupSum must read a flat vector, not {_shape(acts)}",
                                  location=f"module {gpath}", hint="put torch.nn.Flatten() before GroupSum")
        if acts.shape[0] % k:
            raise CheckpointError(f"the last layer's width {acts.shape[0]} must be a multiple of the class count {k}",
                                  location=f"module {gpath}")
        if not self.b.names:
            raise CheckpointError("the torchlogix checkpoint holds no logic layers")
        tau = self.options.tau if self.options.tau is not None else float(tau)
        meta = {"source_format": "torchlogix", "torchlogix_form": "pickle",
                "parametrization": ",".join(sorted(set(self.params))) or "none",
                "torchlogix_layers": " ".join(f"{n}={p}" for n, p in self.b.names)}
        if isinstance(beta, (int, float)) and not isinstance(beta, bool) and beta != 0:
            meta["groupsum_beta"] = float(beta)     # added to every class alike: counts and argmax unchanged
        return self.b.netlist(acts, k, tau, shape, meta)


def convert(obj, options) -> Netlist:
    inner, path = unwrap(obj)
    if not isinstance(inner, safe_pickle.StandIn):
        raise CheckpointError("a convolutional torchlogix model can only be read from a whole-model pickle, "
                              "not from a state dict", hint=_STATE_DICT_HINT)
    nl = _Converter(options).convert(inner)
    if path:
        nl.meta["wrapper"] = "/".join(path)
    return nl
