"""torchlogix 0.2.2 checkpoints (``LogicDense`` layers and ``GroupSum``), read without torchlogix.

State dict per ``LogicDense`` layer ``N``: ``N.weight`` (out, P) and the wiring buffer ``N.connections.indices``
(lut_rank, out); learnable connections store ``N.connections.indices`` (candidates, lut_rank, out) with
``N.connections.weights`` of the same shape, and eval mode wires the highest-weighted candidate. Whole-model
pickles (``--trust-pickle``) are read through :mod:`.safe_pickle`; they name the parametrization and k.

The eval rules of the three parametrizations (raw, light, warp) and of learnable connections are in
:mod:`._torchlogix_dense`, which the convolutional reader shares. Models with convolutional parts (``LogicConv2d``,
``OrPooling2d``, ``ResidualLogicBlock``) are detected and converted here too, by :mod:`.torchlogix_conv`.
"""
from __future__ import annotations

from ..errors import CheckpointError
from . import safe_pickle, torchlogix_conv
from ._layers import Model, build, group_keys, positive_float, positive_int, unwrap
from ._torchlogix_dense import GROUP_SUM, KEY_HINT, LOGIC_DENSE, dense_from_pickle, dense_layer

_LEAVES = ("weight", "connections.indices", "connections.weights", "_export_lut_ids",
           "connections._export_indices", "thresholds", "raw_diffs")


def detect(obj) -> bool:
    if torchlogix_conv.detect(obj):    # convolutional models (LogicConv2d, OrPooling2d) are read there
        return True
    obj, _ = unwrap(obj)
    if isinstance(obj, safe_pickle.StandIn):
        return any(safe_pickle.is_stand_in(m, LOGIC_DENSE) for _, m in safe_pickle.flatten_modules(obj))
    return isinstance(obj, dict) and any(isinstance(k, str) and k.endswith("connections.indices") for k in obj)


def from_state_dict(sd: dict, options) -> Model:
    groups = group_keys(sd, _LEAVES, hint=KEY_HINT)
    layers, params = [], []
    for li, (prefix, g) in enumerate(groups, start=1):
        loc = f"layer {li}"
        if "thresholds" in g or "raw_diffs" in g:
            key = (g.get("thresholds") or g.get("raw_diffs"))[0]
            raise CheckpointError(f"{key}: input binarization layers are not read by lgn2hw yet",
                                  hint="binarize the inputs before predicting and save a state dict of the "
                                       "logic layers and GroupSum only")
        for leaf in ("weight", "connections.indices"):
            if leaf not in g:
                have = next(iter(g.values()))[0]
                raise CheckpointError(f"{have} has no matching {prefix + '.' if prefix else ''}{leaf}",
                                      location=loc, hint=KEY_HINT)
        (wkey, w), (ikey, idx) = g["weight"], g["connections.indices"]
        cwkey, cw = g.get("connections.weights", (None, None))
        layer, param = dense_layer(w, idx, cw, options.parametrization, loc, wkey, ikey, cwkey)
        layer.name = prefix
        layers.append(layer)
        params.append(param)
    return Model(layers, meta={"torchlogix_form": "state_dict", "parametrization": ",".join(sorted(set(params)))})


def from_pickle(model, options) -> Model:
    layers, params, k, tau, beta = [], [], None, None, 0.0
    for path, mod in safe_pickle.flatten_modules(model):
        loc = f"layer {len(layers) + 1}"
        if k is not None:
            raise CheckpointError(f"module {path} follows GroupSum; GroupSum must come last")
        if safe_pickle.is_stand_in(mod, "torch.nn.modules.flatten.Flatten") and not layers:
            continue
        if safe_pickle.is_stand_in(mod, LOGIC_DENSE):
            layer, param = dense_from_pickle(mod, options, loc)
            layer.name = path
            layers.append(layer)
            params.append(param)
            continue
        if safe_pickle.is_stand_in(mod, GROUP_SUM):
            a = safe_pickle.attrs(mod, "GroupSum")
            k = positive_int(a.get("k"), "GroupSum k", f"module {path}")
            tau = positive_float(a.get("tau", 1.0), "GroupSum tau", f"module {path}")
            beta = a.get("beta", 0.0)
            continue
        name = mod.qualified_name if isinstance(mod, safe_pickle.StandIn) else type(mod).__name__
        raise CheckpointError(f"module {path} is a {name}, which lgn2hw cannot read in a torchlogix model",
                              hint="lgn2hw reads Sequential(Flatten?, LogicDense..., GroupSum)")
    if layers and k is None:
        raise CheckpointError("the model has no GroupSum, so its class count is unknown",
                              hint="append torchlogix GroupSum(k, tau), or save a state dict and pass --classes")
    meta = {"torchlogix_form": "pickle", "parametrization": ",".join(sorted(set(params)))}
    if k is not None and isinstance(beta, (int, float)) and beta != 0:
        meta["groupsum_beta"] = float(beta)     # added to every class alike: counts and argmax unchanged
    return Model(layers, k=k, tau=float(tau) if tau is not None else None, meta=meta)


def convert(obj, options):
    if torchlogix_conv.detect(obj):
        return torchlogix_conv.convert(obj, options)
    inner, path = unwrap(obj)
    if isinstance(inner, safe_pickle.StandIn):
        model = from_pickle(inner, options)
    elif isinstance(inner, dict):
        model = from_state_dict(inner, options)
    else:
        raise CheckpointError(f"a torchlogix checkpoint must be a state dict or a pickled model, not "
                              f"{type(inner).__name__}")
    if path:
        model.meta["wrapper"] = "/".join(path)
    return build(model, options, kind="torchlogix", k_hint="pass --classes K (the k of the model's GroupSum)")
