"""lgn2hw's own checkpoint format: a dict of tensors and plain values, readable with
``torch.load(weights_only=True)``, that always carries the wiring.

Layout (version 1)::

    {
      "format": "lgn2hw.checkpoint", "version": 1,
      "n_inputs": int, "input_shape": [int, ...] | None,
      "layers": [                                    # in order; layer l reads layer l-1 (layer 1 the inputs)
        {"indices": int64 (arity, width),            # input positions in the previous layer
         one of: "weights": float (width, 16)        # difflogic parameters; eval gate = argmax
                 "gates": int64 (width,)             # difflogic gate ids 0..15
                 "tables": int64 (width,)},          # LUT truth tables (lgn2hw.gates convention), any arity <= 6
      ],
      "group_sum": {"k": int, "tau": float},
      "encoding": None | {"feature": int64 (n_inputs,), "threshold": float64 (n_inputs,),
                          "feature_shape": [int, ...]},
      "provenance": {"lgn2hw_version": str, "dataset": str, "test_accuracy": float, ...},
    }
"""
from __future__ import annotations

import numpy as np

from .. import __version__, gates
from ..errors import CheckpointError
from ..ir import InputEncoding, Netlist

FORMAT = "lgn2hw.checkpoint"
VERSION = 1


def is_native(obj) -> bool:
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def _np(t, name, loc):
    import torch
    if not isinstance(t, torch.Tensor):
        raise CheckpointError(f"{name} must be a tensor, not {type(t).__name__}", location=loc)
    return t.detach().cpu().numpy()


def layer_tables(layer: dict, loc: str):
    """(tables uint64 (width,), fanin int64 (width, arity)) of one checkpoint layer, validated."""
    if not isinstance(layer, dict) or "indices" not in layer:
        raise CheckpointError("a layer must be a dict with 'indices'", location=loc)
    idx = _np(layer["indices"], "indices", loc)
    if idx.ndim != 2 or not 0 <= idx.shape[0] <= gates.MAX_ARITY or not np.issubdtype(idx.dtype, np.integer):
        raise CheckpointError(f"indices must be an integer tensor (arity <= 6, width), not "
                              f"{idx.dtype}{list(idx.shape)}", location=loc)
    arity, width = idx.shape
    kinds = [k for k in ("weights", "gates", "tables") if k in layer]
    if len(kinds) != 1:
        raise CheckpointError(f"a layer must hold exactly one of weights, gates, tables, not {kinds or 'none'}",
                              location=loc)
    kind = kinds[0]
    val = _np(layer[kind], kind, loc)
    if kind == "weights":
        if arity != 2 or val.shape != (width, 16):
            raise CheckpointError(f"weights must be float[{width}, 16] with 2-input indices, not "
                                  f"{val.dtype}{list(val.shape)}", location=loc)
        bad = np.flatnonzero(~np.isfinite(val).all(axis=1))
        if bad.size:
            raise CheckpointError("weights must be finite, found NaN or inf", location=f"{loc}[{int(bad[0])}]")
        tables = gates.tables_from_gate_ids(val.argmax(axis=1))
    else:
        if val.shape != (width,) or not np.issubdtype(val.dtype, np.integer):
            raise CheckpointError(f"{kind} must be an integer tensor [{width}], not {val.dtype}{list(val.shape)}",
                                  location=loc)
        if kind == "gates":
            if arity != 2:
                raise CheckpointError(f"gate ids need 2-input indices, not {arity}", location=loc)
            bad = np.flatnonzero((val < 0) | (val > 15))
            if bad.size:
                raise CheckpointError(f"gate id must be in 0..15, not {int(val[bad[0]])}", location=f"{loc}[{int(bad[0])}]")
            tables = gates.tables_from_gate_ids(val)
        else:
            limit = 1 << (1 << arity) if arity < 6 else None
            bad = np.flatnonzero(val < 0) if limit is None else np.flatnonzero((val < 0) | (val >= limit))
            if arity < 6 and bad.size:
                raise CheckpointError(f"a {arity}-input table must be in 0..{limit - 1}, not {int(val[bad[0]])}",
                                      location=f"{loc}[{int(bad[0])}]")
            tables = val.astype(np.int64).view(np.uint64)
    return tables.astype(np.uint64), idx.T.astype(np.int64)


def to_netlist(ck: dict) -> Netlist:
    """Validate a native checkpoint dict and discretise it into a netlist."""
    version = ck.get("version")
    if version != VERSION:
        raise CheckpointError(f"checkpoint version must be {VERSION}, not {version!r}",
                              hint=f"this lgn2hw ({__version__}) reads version {VERSION}; "
                                   "upgrade lgn2hw to read newer checkpoints")
    n_inputs = ck.get("n_inputs")
    if not isinstance(n_inputs, int) or n_inputs < 1:
        raise CheckpointError(f"n_inputs must be a positive int, not {n_inputs!r}")
    layers = ck.get("layers")
    if not isinstance(layers, list) or not layers:
        raise CheckpointError("layers must be a non-empty list")
    gs = ck.get("group_sum") or {}
    k = gs.get("k")
    if not isinstance(k, int) or k < 1:
        raise CheckpointError(f"group_sum.k must be a positive int, not {k!r}")
    built = []
    width = n_inputs
    for li, layer in enumerate(layers, start=1):
        tables, fanin = layer_tables(layer, f"layer {li}")
        if fanin.size and (fanin.min() < 0 or fanin.max() >= width):
            bad = int(np.argmax((fanin < 0).any(1) | (fanin >= width).any(1)))
            raise CheckpointError(f"input index must be in 0..{width - 1} (the width of "
                                  f"{'the input' if li == 1 else f'layer {li - 1}'}), not {fanin[bad].tolist()}",
                                  location=f"layer {li}[{bad}]")
        built.append((tables, fanin))
        width = len(tables)
    if width % k:
        raise CheckpointError(f"the last layer's width {width} must be a multiple of the class count {k}",
                              hint="GroupSum splits the last layer into k equal blocks")
    enc = ck.get("encoding")
    encoding = None
    if enc is not None:
        feature = _np(enc["feature"], "encoding.feature", "encoding").astype(np.int32)
        threshold = _np(enc["threshold"], "encoding.threshold", "encoding").astype(np.float64)
        encoding = InputEncoding(feature, threshold, tuple(int(d) for d in enc["feature_shape"]))
    shape = ck.get("input_shape")
    nl = Netlist.from_layers(n_inputs, built, k, tau=float(gs.get("tau", 1.0)),
                             input_shape=tuple(shape) if shape else None, encoding=encoding,
                             meta=dict(ck.get("provenance") or {}))
    nl.check()
    return nl


def make_checkpoint(*, n_inputs: int, layers: list, k: int, tau: float = 1.0, input_shape=None,
                    encoding: InputEncoding | None = None, provenance: dict | None = None) -> dict:
    """Assemble a native checkpoint dict (``layers`` as in the format description)."""
    import torch
    enc = None
    if encoding is not None:
        enc = {"feature": torch.as_tensor(encoding.feature, dtype=torch.int64),
               "threshold": torch.as_tensor(encoding.threshold, dtype=torch.float64),
               "feature_shape": [int(d) for d in encoding.feature_shape]}
    prov = {"lgn2hw_version": __version__}
    prov.update(provenance or {})
    return {"format": FORMAT, "version": VERSION, "n_inputs": int(n_inputs),
            "input_shape": [int(d) for d in input_shape] if input_shape is not None else None,
            "layers": layers, "group_sum": {"k": int(k), "tau": float(tau)}, "encoding": enc,
            "provenance": prov}
