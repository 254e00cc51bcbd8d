"""difflogic checkpoints (``difflogic.LogicLayer`` / ``GroupSum``), read without difflogic, CUDA or a GPU.

Two forms:

* **whole-model pickles** (``torch.save(model)`` of ``Sequential(Flatten?, LogicLayer, ..., GroupSum)``), only
  with ``--trust-pickle`` and only through :mod:`.safe_pickle`'s allow-list. The layer's ``in_dim``, wiring
  (``indices``, a plain attribute) and GroupSum's ``k`` and ``tau`` come from the pickle.
* **state dicts that carry the wiring**: ``N.weights`` float (out, 16) and ``N.indices`` int (2, out) per layer,
  in any key prefix (``module.``, ``model.``, ``layers.3``...), possibly inside a training wrapper
  (``{'model_state_dict': ...}``). The class count comes from ``--classes``; the input width from
  ``--input-shape``, else the largest index used. ``model.state_dict()`` alone has no ``indices`` (difflogic
  issue #34) and is refused with a note on what to save.

Eval semantics, as ``LogicLayer.forward_python`` in eval mode: gate ``weights[i].argmax()`` (torch's argmax,
first maximum on ties) applied to ``(x[indices[0][i]], x[indices[1][i]])``; GroupSum sums contiguous blocks
and divides by tau.
"""
from __future__ import annotations

from .. import gates
from ..errors import CheckpointError
from . import safe_pickle
from ._layers import (
    Layer,
    Model,
    build,
    float_matrix,
    group_keys,
    int_tensor,
    is_tensor,
    positive_float,
    positive_int,
    unwrap,
)

LOGIC_LAYER = "difflogic.difflogic.LogicLayer"
GROUP_SUM = "difflogic.difflogic.GroupSum"

_LEAVES = ("weights", "indices")
_KEY_HINT = "a difflogic state dict holds N.weights (out, 16) and N.indices (2, out) for each LogicLayer"
_WIRING_HINT = ("save the wiring next to the weights, e.g. sd = model.state_dict(); "
                "sd.update({f'{n}.indices': torch.stack(m.indices) for n, m in model.named_modules() "
                "if hasattr(m, 'indices')}); torch.save(sd, path) -- or save the whole model with "
                "torch.save(model, path) and pass --trust-pickle")


def detect(obj) -> bool:
    obj, _ = unwrap(obj)
    if isinstance(obj, safe_pickle.StandIn):
        return any(safe_pickle.is_stand_in(m, LOGIC_LAYER) for _, m in safe_pickle.flatten_modules(obj))
    if not isinstance(obj, dict) or not obj:
        return False
    keys = [k for k in obj if isinstance(k, str)]
    if any(k.endswith("connections.indices") for k in keys):
        return False     # torchlogix
    return any((k == "weights" or k.endswith(".weights")) and is_tensor(obj[k]) and obj[k].ndim == 2
               and obj[k].shape[-1] == 16 for k in keys)


def _tables(weights):
    """difflogic's eval rule: gate id = argmax over the 16 logits (torch's argmax, like the library)."""
    return gates.tables_from_gate_ids(weights.argmax(dim=-1).numpy())


def _layer(weights, indices, loc: str, wkey: str, ikey: str, in_dim=None) -> Layer:
    import torch
    w = float_matrix(weights, wkey, loc, cols=16)
    if isinstance(indices, (tuple, list)):
        if len(indices) != 2 or not all(is_tensor(t) and t.ndim == 1 for t in indices):
            raise CheckpointError(f"{ikey} must be two 1-D index tensors (a, b), not {type(indices).__name__} "
                                  f"of {len(indices)}", location=loc)
        if indices[0].shape != indices[1].shape:
            raise CheckpointError(f"{ikey}: a and b must have the same length, not {indices[0].shape[0]} and "
                                  f"{indices[1].shape[0]}", location=loc)
        indices = torch.stack([indices[0], indices[1]])
    idx = int_tensor(indices, ikey, loc, (2, w.shape[0]))
    return Layer(tables=_tables(w), fanin=idx.T.numpy().copy(), in_dim=in_dim)


def from_pickle(model) -> Model:
    layers, k, tau = [], None, None
    mods = safe_pickle.flatten_modules(model)
    for path, mod in mods:
        loc = f"layer {len(layers) + 1}"
        if k is not None:
            raise CheckpointError(f"module {path} follows GroupSum; GroupSum must come last")
        if safe_pickle.is_stand_in(mod, "torch.nn.modules.flatten.Flatten"):
            if layers:
                raise CheckpointError(f"module {path}: Flatten between logic layers is not supported")
            continue
        if safe_pickle.is_stand_in(mod, LOGIC_LAYER):
            a = safe_pickle.attrs(mod, loc)
            params = a.get("_parameters")
            if not isinstance(params, dict) or "weights" not in params:
                raise CheckpointError("a LogicLayer must have a 'weights' parameter", location=loc)
            if "indices" not in a:
                raise CheckpointError("a LogicLayer must have its 'indices' attribute", location=loc)
            in_dim = positive_int(a.get("in_dim"), "in_dim", loc)
            layer = _layer(params["weights"], a["indices"], loc, "weights", "indices", in_dim=in_dim)
            layer.name = path
            layers.append(layer)
            continue
        if safe_pickle.is_stand_in(mod, GROUP_SUM):
            a = safe_pickle.attrs(mod, "GroupSum")
            k = positive_int(a.get("k"), "GroupSum k", f"module {path}")
            tau = positive_float(a.get("tau", 1.0), "GroupSum tau", f"module {path}")
            continue
        name = mod.qualified_name if isinstance(mod, safe_pickle.StandIn) else type(mod).__name__
        raise CheckpointError(f"module {path} is a {name}, which a difflogic model cannot hold here",
                              hint="lgn2hw reads Sequential(Flatten?, LogicLayer..., GroupSum)")
    if layers and k is None:
        raise CheckpointError("the model has no GroupSum, so its class count is unknown",
                              hint="append difflogic.GroupSum(k, tau) to the model, or save a state dict "
                                   "with the wiring and pass --classes")
    return Model(layers, k=k, tau=tau, meta={"difflogic_form": "pickle"})


def from_state_dict(sd: dict) -> Model:
    groups = group_keys(sd, _LEAVES, hint=_KEY_HINT)
    if groups and all("indices" not in g for _, g in groups):
        raise CheckpointError("this difflogic state dict has no wiring: LogicLayer keeps its connections in "
                              "a plain attribute (indices), which state_dict() does not save (difflogic "
                              "issue #34), so the network cannot be rebuilt from it", hint=_WIRING_HINT)
    layers = []
    for li, (prefix, g) in enumerate(groups, start=1):
        loc = f"layer {li}"
        for leaf in _LEAVES:
            if leaf not in g:
                other = g[_LEAVES[1 - _LEAVES.index(leaf)]][0]
                raise CheckpointError(f"{other} has no matching {prefix + '.' if prefix else ''}{leaf}",
                                      location=loc, hint=_WIRING_HINT if leaf == "indices" else _KEY_HINT)
        (wkey, w), (ikey, idx) = g["weights"], g["indices"]
        layer = _layer(w, idx, loc, wkey, ikey)
        layer.name = prefix
        layers.append(layer)
    return Model(layers, meta={"difflogic_form": "state_dict"})


def convert(obj, options):
    inner, path = unwrap(obj)
    if isinstance(inner, safe_pickle.StandIn):
        model = from_pickle(inner)
    elif isinstance(inner, dict):
        model = from_state_dict(inner)
    else:
        raise CheckpointError(f"a difflogic checkpoint must be a state dict or a pickled model, not "
                              f"{type(inner).__name__}")
    if path:
        model.meta["wrapper"] = "/".join(path)
    return build(model, options, kind="difflogic",
                 k_hint="pass --classes K (the k of the model's GroupSum)")
