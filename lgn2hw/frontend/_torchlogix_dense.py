"""torchlogix's dense-layer decoding, shared by :mod:`.torchlogix` (dense models) and :mod:`.torchlogix_conv`
(convolutional models, whose tree nodes use the same parametrizations and whose dense layers are ``LogicDense``).

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

Connections: fixed ones store ``connections.indices`` (lut_rank, out); learnable ones store candidates
``connections.indices`` (candidates, lut_rank, out) with ``connections.weights`` of the same shape, and eval mode
wires the highest-weighted candidate.
"""
from __future__ import annotations

import numpy as np

from .. import gates
from ..errors import CheckpointError
from . import safe_pickle
from ._layers import Layer, float_matrix, int_tensor, is_tensor, positive_int

PARAM_CLASSES = {
    "torchlogix.parametrization.RawLUTParametrization": "raw",
    "torchlogix.parametrization.LightLUTParametrization": "light",
    "torchlogix.parametrization.WarpLUTParametrization": "warp",
}
LOGIC_DENSE = "torchlogix.layers.dense.LogicDense"
GROUP_SUM = "torchlogix.layers.groupsum.GroupSum"
FIXED = "torchlogix.connections.FixedDenseConnections"
LEARNABLE = "torchlogix.connections.LearnableDenseConnections"

KEY_HINT = ("a torchlogix LogicDense layer N holds N.weight and N.connections.indices "
            "(and N.connections.weights for learnable connections)")
_PARAM_HINT = ("pass --parametrization light or --parametrization warp: the value given to "
               "LogicDense(..., parametrization=...) when the model was built")
_SUPPORTED = {"raw": (2,), "light": (2, 4, 6), "warp": (1, 2, 4, 6)}


def parametrization(given, lut_rank: int, n_params: int, loc: str, key: str) -> str:
    """The parametrization of a layer: ``given`` (checked against the shapes), else the one the shapes fit."""
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


def gate_tables(param, weight):
    """LUT tables (lgn2hw convention) of the gates of ``weight`` (out, P) under a parametrization."""
    if param == "raw":     # difflogic ids; gates knows their tables directly
        return gates.tables_from_gate_ids(weight.argmax(dim=-1).numpy())
    return gates.tables_from_msb_first_rows(truth_rows(param, weight))


def _wiring(indices, cweights, ikey, cwkey, loc, out):
    """(out, k) wiring from fixed indices (k, out), or from learnable candidates (C, k, out) + their weights."""
    import torch
    if cweights is None:
        if is_tensor(indices) and indices.ndim == 3:
            raise CheckpointError(f"{ikey} has candidates (learnable connections) but no connections.weights",
                                  location=loc, hint=KEY_HINT)
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


def dense_layer(weight, indices, cweights, given, loc, wkey, ikey, cwkey, in_dim=None, lut_rank=None):
    """A validated :class:`Layer` from a layer's weight and connections, and its parametrization name."""
    w = float_matrix(weight, wkey, loc)
    fanin = _wiring(indices, cweights, ikey, cwkey, loc, w.shape[0])
    k = fanin.shape[1]
    if lut_rank is not None and lut_rank != k:
        raise CheckpointError(f"lut_rank {lut_rank} must match the wiring's {k} inputs per gate", location=loc)
    if not 1 <= k <= gates.MAX_ARITY:
        raise CheckpointError(f"{ikey} must wire 1..{gates.MAX_ARITY} inputs per gate, not {k}", location=loc)
    param = parametrization(given, k, w.shape[1], loc, wkey)
    return Layer(tables=gate_tables(param, w), fanin=fanin, in_dim=in_dim), param


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
    return dense_layer(weight, buffers.get("indices"), cw, param, loc, "weight", "connections.indices",
                       "connections.weights", in_dim=in_dim, lut_rank=a.get("lut_rank"))
