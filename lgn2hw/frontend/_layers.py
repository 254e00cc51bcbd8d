"""Shared pieces of the third-party frontends: unwrapping training checkpoints, grouping state-dict keys into
layers, tensor checks with located errors, and assembling validated layers into a netlist."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import CheckpointError
from ..ir import Netlist

#: Keys under which training scripts commonly keep the model inside a checkpoint dict.
WRAPPER_KEYS = ("model_state_dict", "state_dict", "model", "net", "network", "module")



def positive_int(v, what, loc):
    """``v`` if it is an int >= 1 (not a bool), else a located CheckpointError."""
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise CheckpointError(f"{what} must be a positive int, not {v!r}"[:160], location=loc)
    return v


def positive_float(v, what, loc):
    """``v`` as a float if it is a finite number > 0 (not a bool), else a located CheckpointError."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < float(v) < float("inf"):
        raise CheckpointError(f"{what} must be a positive number, not {v!r}"[:160], location=loc)
    return float(v)

def is_tensor(x) -> bool:
    import torch
    return isinstance(x, torch.Tensor)


def unwrap(obj):
    """The state dict or model inside a training wrapper (``{'model_state_dict': ..., 'epoch': ...}``), or
    ``obj`` itself. Returns (inner, path) where path names the wrapper keys taken."""
    path = []
    for _ in range(4):
        if not isinstance(obj, dict) or any(is_tensor(v) for v in obj.values()):
            break
        for key in WRAPPER_KEYS:
            if key in obj and not isinstance(obj[key], (str, int, float, bool, type(None))):
                obj = obj[key]
                path.append(key)
                break
        else:
            break
    return obj, path


def group_keys(sd: dict, leaves: tuple, *, hint: str) -> list:
    """Split a flat state dict into layers: ``prefix.leaf`` keys grouped by prefix, in the dict's order (or in
    numeric order when every prefix ends in a number). ``leaves`` lists the leaf names a layer may hold,
    longest match wins. Any other key is refused."""
    ordered = sorted(leaves, key=len, reverse=True)
    groups: dict[str, dict] = {}
    for key, value in sd.items():
        if not isinstance(key, str):
            raise CheckpointError(f"state dict keys must be strings, not {type(key).__name__} {key!r}"[:160])
        for leaf in ordered:
            if key == leaf or key.endswith("." + leaf):
                prefix = key[: len(key) - len(leaf)].rstrip(".")
                groups.setdefault(prefix, {})[leaf] = (key, value)
                break
        else:
            raise CheckpointError(f"unknown key {key!r} in the state dict"[:200], hint=hint)
    items = list(groups.items())
    tails = [re.fullmatch(r"(.*?)(\d+)", p) for p, _ in items]
    if items and all(tails) and len({t.group(1) for t in tails}) == 1:
        items.sort(key=lambda kv: int(re.fullmatch(r".*?(\d+)", kv[0]).group(1)))
    return items


def float_matrix(t, key: str, loc: str, cols=None):
    """A finite floating 2-D tensor (rows = gates); NaN/inf is reported at the first bad row."""
    import torch
    if not is_tensor(t):
        raise CheckpointError(f"{key} must be a tensor, not {type(t).__name__}", location=loc)
    if not t.is_floating_point() or t.ndim != 2 or (cols is not None and t.shape[1] != cols):
        want = f"[gates, {cols}]" if cols is not None else "[gates, n]"
        raise CheckpointError(f"{key} must be a float tensor {want}, not {str(t.dtype).replace('torch.', '')}"
                              f"{list(t.shape)}", location=loc)
    t = t.detach().cpu()
    bad = torch.nonzero(~torch.isfinite(t).all(dim=1)).flatten()
    if bad.numel():
        row = int(bad[0])
        val = t[row][~torch.isfinite(t[row])][0].item()
        raise CheckpointError(f"{key} must be finite, found {val}", location=f"{loc}[{row}]",
                              hint="the checkpoint was saved from a diverged run or is damaged")
    return t


def int_tensor(t, key: str, loc: str, shape: tuple):
    """An integer tensor of the given shape (None = any size on that axis)."""
    if not is_tensor(t):
        raise CheckpointError(f"{key} must be a tensor, not {type(t).__name__}", location=loc)
    if t.is_floating_point() or t.is_complex() or t.dtype == _bool() or t.ndim != len(shape) or any(
            s is not None and s != d for s, d in zip(shape, t.shape)):
        want = "[" + ", ".join("n" if s is None else str(s) for s in shape) + "]"
        raise CheckpointError(f"{key} must be an integer tensor {want}, not {str(t.dtype).replace('torch.', '')}"
                              f"{list(t.shape)}", location=loc)
    return t.detach().cpu().to(dtype=_int64())


def _bool():
    import torch
    return torch.bool


def _int64():
    import torch
    return torch.int64


@dataclass
class Layer:
    """One validated logic layer: LUT tables (lgn2hw convention), fanin (width, arity) into the previous
    layer, and the input width the checkpoint declares (None when it cannot say)."""
    tables: np.ndarray
    fanin: np.ndarray
    in_dim: int | None = None
    name: str = ""


@dataclass
class Model:
    layers: list
    k: int | None = None
    tau: float | None = None
    meta: dict = field(default_factory=dict)


def build(model: Model, options, *, kind: str, k_hint: str) -> Netlist:
    """Check widths and wiring layer by layer, then make the netlist. The input width comes from the first
    layer's declared ``in_dim``, else from ``--input-shape``, else from the largest index used."""
    if not model.layers:
        raise CheckpointError(f"the {kind} checkpoint holds no logic layers")
    k = model.k if model.k is not None else options.classes
    if k is None:
        raise CheckpointError(f"a {kind} state dict does not record the class count", hint=k_hint)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise CheckpointError(f"the class count must be a positive int, not {k!r}")
    if options.classes is not None and model.k is not None and options.classes != model.k:
        raise CheckpointError(f"--classes {options.classes} contradicts the model's GroupSum k = {model.k}",
                              hint="leave out --classes for whole-model pickles")
    tau = options.tau if options.tau is not None else (model.tau if model.tau is not None else 1.0)
    shape = tuple(options.input_shape) if options.input_shape else None
    first = model.layers[0]
    n_inputs = first.in_dim
    if shape is not None:
        n_shape = int(np.prod(shape))
        if n_inputs is not None and n_inputs != n_shape:
            raise CheckpointError(f"--input-shape {','.join(map(str, shape))} has {n_shape} values but layer 1 "
                                  f"reads {n_inputs} inputs", location="layer 1")
        n_inputs = n_shape
    if n_inputs is None:
        n_inputs = int(first.fanin.max()) + 1 if first.fanin.size else 1
    # nets are int32: constants + inputs + one per gate must fit
    room = 2**31 - 3 - sum(len(layer.tables) for layer in model.layers)
    if n_inputs > room:
        where = "layer 1" if first.in_dim is not None or shape is not None else \
            f"layer 1[{int(np.argmax(first.fanin.max(axis=1)))}]"
        raise CheckpointError(f"the input width must be at most {room}, not {n_inputs}", location=where,
                              hint="the wiring or the declared input width is damaged")
    built = []
    width = n_inputs
    for li, layer in enumerate(model.layers, start=1):
        if layer.in_dim is not None and layer.in_dim != width:
            src = "the input" if li == 1 else f"layer {li - 1}'s output"
            raise CheckpointError(f"input width {layer.in_dim} must equal the width of {src}, {width}",
                                  location=f"layer {li}",
                                  hint="the layers do not chain; the checkpoint is inconsistent")
        fanin = layer.fanin
        if fanin.size and (fanin.min() < 0 or fanin.max() >= width):
            bad = int(np.argmax((fanin < 0).any(1) | (fanin >= width).any(1)))
            src = "the input" if li == 1 else f"layer {li - 1}"
            raise CheckpointError(f"input index must be in 0..{width - 1} (the width of {src}), not "
                                  f"{fanin[bad].tolist()}", location=f"layer {li}[{bad}]",
                                  hint="pass --input-shape if the model reads more inputs than its wiring shows"
                                  if li == 1 else "the wiring does not match the previous layer's width")
        built.append((layer.tables, fanin))
        width = len(layer.tables)
    if width % k:
        raise CheckpointError(f"the last layer's width {width} must be a multiple of the class count {k}",
                              hint="GroupSum splits the last layer into k equal blocks; check --classes")
    meta = {"source_format": kind, **model.meta}
    nl = Netlist.from_layers(n_inputs, built, k, tau=float(tau), input_shape=shape, meta=meta)
    nl.check()
    return nl
