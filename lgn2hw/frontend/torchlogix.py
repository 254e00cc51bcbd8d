"""torchlogix 0.2.2 checkpoints (``LogicDense`` layers and ``GroupSum``), read without torchlogix.

State dict per ``LogicDense`` layer ``N``: ``N.weight`` (out, P) and the wiring buffer ``N.connections.indices``
(lut_rank, out); learnable connections store ``N.connections.indices`` (candidates, lut_rank, out) with
``N.connections.weights`` of the same shape, and eval mode wires the highest-weighted candidate. Whole-model
pickles (``--trust-pickle``) are read through :mod:`.safe_pickle`; they name the parametrization and k.

The eval rules, as ``LogicDense.forward`` computes them with ``training=False`` (torchlogix/parametrization.py,
functional.py); a k-input neuron becomes one k-input LUT node:

* ``raw`` (lut_rank 2, P = 16 logits): one-hot of ``weight.argmax(-1)``: difflogic's gate ids.
* ``light`` (P = 2**k): entry ``e`` of the truth table is ``weight[e] > 0``; entry ``e`` is selected by the
  inputs with input 0 as its most significant bit.
* ``warp`` (P = 2**k Walsh coefficients): with ``X_j = 1 - 2 x_j`` the layer sums ``weight[i] * prod X_j`` over
  the basis terms in index order and outputs ``sum < 0``. The sum is rounded after every addition, so it is
  recomputed here with torch in the weight's dtype, term by term in the library's order: the sign of a sum
  close to zero is then the library's, not that of the exact sum.

light and warp store the same shapes; a state dict cannot tell them apart, hence ``--parametrization``.
"""
from __future__ import annotations

import numpy as np

from .. import gates
from ..errors import CheckpointError
from . import safe_pickle
from ._layers import (Layer, Model, build, float_matrix, group_keys, int_tensor, is_tensor, positive_float,
                      positive_int, unwrap)

PARAM_CLASSES = {
    "torchlogix.parametrization.RawLUTParametrization": "raw",
    "torchlogix.parametrization.LightLUTParametrization": "light",
    "torchlogix.parametrization.WarpLUTParametrization": "warp",
}
LOGIC_DENSE = "torchlogix.layers.dense.LogicDense"
GROUP_SUM = "torchlogix.layers.groupsum.GroupSum"
FIXED = "torchlogix.connections.FixedDenseConnections"
LEARNABLE = "torchlogix.connections.LearnableDenseConnections"
safe_pickle.allow(LOGIC_DENSE, GROUP_SUM, FIXED, LEARNABLE, *PARAM_CLASSES)

_LEAVES = ("weight", "connections.indices", "connections.weights", "_export_lut_ids",
           "connections._export_indices", "thresholds", "raw_diffs")
_KEY_HINT = ("a torchlogix LogicDense layer N holds N.weight and N.connections.indices "
             "(and N.connections.weights for learnable connections)")
_PARAM_HINT = ("pass --parametrization light or --parametrization warp: the value given to "
               "LogicDense(..., parametrization=...) when the model was built")
_SUPPORTED = {"raw": (2,), "light": (2, 4, 6), "warp": (1, 2, 4, 6)}


def detect(obj) -> bool:
    from . import torchlogix_conv      # convolutional models (LogicConv2d, OrPooling2d) are read there
    if torchlogix_conv.detect(obj):
        return True
    obj, _ = unwrap(obj)
    if isinstance(obj, safe_pickle.StandIn):
        return any(safe_pickle.is_stand_in(m, LOGIC_DENSE) for _, m in safe_pickle.flatten_modules(obj))
    return isinstance(obj, dict) and any(isinstance(k, str) and k.endswith("connections.indices") for k in obj)


def _parametrization(given, lut_rank: int, n_params: int, loc: str, key: str) -> str:
    fits = [p for p, ranks in _SUPPORTED.items()
            if lut_rank in ranks and n_params == (16 if p == "raw" else 1 << lut_rank)]
    if given is not None:
        if given not in _SUPPORTED:
            raise CheckpointError(f"parametrization must be raw, light or warp, not {given!r}", location=loc)
        if lut_rank not in _SUPPORTED[given]:
            raise CheckpointError(f"a {given} layer must have lut_rank in "
                                  f"{', '.join(map(str, _SUPPORTED[given]))}, not {lut_rank}", location=loc)
        if given not in fits:
            want = 16 if given == "raw" else 1 << lut_rank
            raise CheckpointError(f"{key} of a {given} layer with lut_rank {lut_rank} must have {want} columns, "
                                  f"not {n_params}", location=loc,
                                  hint="check --parametrization" + (f" (the shape fits {' or '.join(fits)})"
                                                                     if fits else ""))
        return given
    if len(fits) == 1:
        return fits[0]
    if not fits:
        raise CheckpointError(f"{key} has {n_params} columns, which fits no torchlogix parametrization for "
                              f"lut_rank {lut_rank} (raw: 16 with lut_rank 2; light, warp: 2**lut_rank)",
                              location=loc)
    raise CheckpointError(f"the parametrization is ambiguous: light and warp both store {n_params} weights per "
                          f"gate for lut_rank {lut_rank}, and a state dict does not say which", location=loc,
                          hint=_PARAM_HINT)


def _walsh_signs(k: int) -> np.ndarray:
    """S[e, i] = prod of X_j over the inputs j of basis term i, at input pattern e, with X_j = 1 - 2 x_j;
    e and i both number input 0 as the most significant bit, so the sign is (-1)**popcount(i & e)."""
    e = np.arange(1 << k)[:, None]
    i = np.arange(1 << k)[None, :]
    parity = np.vectorize(lambda v: bin(v).count("1") & 1)(e & i)
    return 1 - 2 * parity


def truth_rows(param: str, weight) -> np.ndarray:
    """(out, 2**k) 0/1 eval truth tables, entry e selected with input 0 as the most significant bit."""
    import torch
    if param == "raw":
        ids = weight.argmax(dim=-1).numpy()
        return np.array([[gates.gate_truth(int(g), e >> 1, e & 1) for e in range(4)] for g in ids],
                        dtype=np.uint8).reshape(-1, 4)
    if param == "light":
        return (weight > 0).numpy().astype(np.uint8)
    # warp: the library's sum, term by term in its order, in the weight's dtype
    n, p = weight.shape
    k = p.bit_length() - 1
    signs = torch.as_tensor(_walsh_signs(k), dtype=weight.dtype)          # (E, P)
    rows = np.zeros((n, p), dtype=np.uint8)
    for lo in range(0, n, 4096):
        terms = weight[lo:lo + 4096, None, :] * signs[None, :, :]          # exact: products with +-1
        total = terms[..., 0]
        for i in range(1, p):
            total = total + terms[..., i]
        rows[lo:lo + 4096] = (-total > 0).numpy()                          # the library's (-x > 0)
    return rows


def _tables(param, weight):
    if param == "raw":     # difflogic ids; gates knows their tables directly
        return gates.tables_from_gate_ids(weight.argmax(dim=-1).numpy())
    return gates.tables_from_msb_first_rows(truth_rows(param, weight))


def _fanin(indices, cweights, ikey, cwkey, loc, out):
    """(out, k) wiring from fixed indices (k, out), or from learnable candidates (C, k, out) + their weights."""
    import torch
    if cweights is None:
        if is_tensor(indices) and indices.ndim == 3:
            raise CheckpointError(f"{ikey} has candidates (learnable connections) but no connections.weights",
                                  location=loc, hint=_KEY_HINT)
        idx = int_tensor(indices, ikey, loc, (None, out))
        return idx.T.numpy().copy()
    idx = int_tensor(indices, ikey, loc, (None, None, out))
    if not is_tensor(cweights) or tuple(cweights.shape) != tuple(idx.shape) or not cweights.is_floating_point():
        shape = list(cweights.shape) if is_tensor(cweights) else type(cweights).__name__
        raise CheckpointError(f"{cwkey} must be a float tensor shaped like {ikey} {list(idx.shape)}, not {shape}",
                              location=loc)
    cw = cweights.detach().cpu()
    bad = ~torch.isfinite(cw).all(dim=0).all(dim=0)
    if bad.any():
        raise CheckpointError(f"{cwkey} must be finite, found NaN or inf", location=f"{loc}[{int(bad.nonzero()[0])}]")
    chosen = cw.argmax(dim=0)                                              # (k, out), as resolve_connections
    lut = torch.arange(idx.shape[1])[:, None]
    gate = torch.arange(out)[None, :]
    return idx[chosen, lut, gate].T.numpy().copy()


def _layer(weight, indices, cweights, given, loc, wkey, ikey, cwkey, in_dim=None, lut_rank=None):
    w = float_matrix(weight, wkey, loc)
    fanin = _fanin(indices, cweights, ikey, cwkey, loc, w.shape[0])
    k = fanin.shape[1]
    if lut_rank is not None and lut_rank != k:
        raise CheckpointError(f"lut_rank {lut_rank} must match the wiring's {k} inputs per gate", location=loc)
    if not 1 <= k <= gates.MAX_ARITY:
        raise CheckpointError(f"{ikey} must wire 1..{gates.MAX_ARITY} inputs per gate, not {k}", location=loc)
    param = _parametrization(given, k, w.shape[1], loc, wkey)
    return Layer(tables=_tables(param, w), fanin=fanin, in_dim=in_dim), param


def from_state_dict(sd: dict, options) -> Model:
    groups = group_keys(sd, _LEAVES, hint=_KEY_HINT)
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
                                      location=loc, hint=_KEY_HINT)
        (wkey, w), (ikey, idx) = g["weight"], g["connections.indices"]
        cwkey, cw = g.get("connections.weights", (None, None))
        layer, param = _layer(w, idx, cw, options.parametrization, loc, wkey, ikey, cwkey)
        layer.name = prefix
        layers.append(layer)
        params.append(param)
    return Model(layers, meta={"torchlogix_form": "state_dict", "parametrization": ",".join(sorted(set(params)))})


def dense_from_pickle(mod, options, loc: str):
    """One pickled ``LogicDense`` stand-in as a validated :class:`Layer` and its parametrization name."""
    a = safe_pickle.attrs(mod, loc)
    subs = dict(safe_pickle.children(mod, loc))
    pmod, cmod = subs.get("parametrization"), subs.get("connections")
    if not isinstance(pmod, safe_pickle.StandIn) or pmod.qualified_name not in PARAM_CLASSES:
        raise CheckpointError("a LogicDense layer must hold a raw, light or warp parametrization",
                              location=loc)
    if not safe_pickle.is_stand_in(cmod, FIXED, LEARNABLE):
        raise CheckpointError("a LogicDense layer must hold dense connections", location=loc)
    param = PARAM_CLASSES[pmod.qualified_name]
    if options.parametrization not in (None, param):
        raise CheckpointError(f"--parametrization {options.parametrization} contradicts the model's "
                              f"{param}", location=loc)
    ca = safe_pickle.attrs(cmod, loc)
    buffers, cparams = ca.get("_buffers") or {}, ca.get("_parameters") or {}
    weight = (a.get("_parameters") or {}).get("weight")
    cw = cparams.get("weights") if safe_pickle.is_stand_in(cmod, LEARNABLE) else None
    in_dim = positive_int(a.get("in_dim"), "in_dim", loc)
    return _layer(weight, buffers.get("indices"), cw, param, loc, "weight", "connections.indices",
                  "connections.weights", in_dim=in_dim, lut_rank=a.get("lut_rank"))


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
    from . import torchlogix_conv
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


def _register():
    from . import CONVERTERS, PICKLE_LOADERS
    CONVERTERS["torchlogix"] = (detect, convert)
    if safe_pickle.load not in PICKLE_LOADERS:
        PICKLE_LOADERS.append(safe_pickle.load)


_register()
