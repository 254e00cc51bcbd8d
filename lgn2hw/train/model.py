"""The trainable network: difflogic's relaxation of two-input logic gates, in plain PyTorch on the CPU.

Each gate holds 16 logits, one per difflogic gate id. In training mode the gate computes the softmax-weighted
mix of all 16 gates on real inputs in [0, 1]; because every gate is ``C[i] @ [1, a, b, ab]`` with ``C`` =
:func:`lgn2hw.gates.gate_coefficients`, the mix is ``softmax(w) @ C`` -- four coefficients per gate -- and a layer
costs four multiply-adds per gate and sample. In eval mode the gate is the argmax id (the first maximum wins, as
in ``torch.argmax`` and ``numpy.argmax``), whose integer coefficients give exact 0/1 outputs on 0/1 inputs.

GroupSum(k, tau): class ``c`` sums the contiguous block ``[c*n/k, (c+1)*n/k)`` of the last layer; the logits are
those sums divided by tau, the integer class counts are the sums themselves.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import gates
from ..errors import CheckpointError, UsageError

_COEF = torch.tensor(gates.gate_coefficients(), dtype=torch.float32)    # (16, 4)
RESIDUAL_GATE = gates.GATE_NAMES.index("A")     # the gate that passes its first input through


def _entry_gates() -> list:
    """The gate ids that are true on exactly one input pair, in the order (a, b) = 00, 01, 10, 11.

    A gate id is the sum of the ids of its true entries, and its relaxation the sum of their coefficient rows,
    which is what the 4-logit (Light-DLGN) parametrization builds on."""
    out = []
    for a in (0, 1):
        for b in (0, 1):
            out.append(next(g for g in range(16) if gates.gate_truth(g, a, b)
                            and sum(gates.gate_truth(g, x, y) for x in (0, 1) for y in (0, 1)) == 1))
    return out


_ENTRY_IDS = torch.tensor(_entry_gates(), dtype=torch.int64)              # (4,)
_ENTRY_COEF = _COEF[_ENTRY_IDS]                                           # (4, 4): P(a, b) in [1, a, b, ab]
# (16, 4) 0/1 truth of each gate on the four entries, in the same order
_TRUTH = torch.tensor([[gates.gate_truth(g, a, b) for a in (0, 1) for b in (0, 1)] for g in range(16)],
                           dtype=torch.float32)


def _index_dtype(limit: int) -> torch.dtype:
    return torch.int16 if limit <= 2 ** 15 else torch.int32


def random_connections(in_dim: int, out_dim: int, gen: torch.Generator) -> torch.Tensor:
    """difflogic's "random" wiring: the 2*out_dim input slots cycle through all inputs (every input is used when
    2*out_dim >= in_dim), in a random order. A gate may read the same input twice."""
    slots = torch.randperm(2 * out_dim, generator=gen) % in_dim
    slots = torch.randperm(in_dim, generator=gen)[slots]
    return torch.stack([slots[:out_dim], slots[out_dim:]])


def unique_connections(in_dim: int, out_dim: int, gen: torch.Generator) -> torch.Tensor:
    """Like :func:`random_connections`, but no gate reads one input twice and no two gates read the same
    unordered pair (as far as ``in_dim*(in_dim-1)/2`` pairs allow). Conflicts are re-drawn deterministically."""
    idx = random_connections(in_dim, out_dim, gen)
    if in_dim < 2:
        return idx
    a, b = idx[0].clone(), idx[1].clone()
    max_pairs = in_dim * (in_dim - 1) // 2
    for _ in range(100):
        lo, hi = torch.minimum(a, b), torch.maximum(a, b)
        key = lo * in_dim + hi
        bad = a == b
        if out_dim <= max_pairs:
            # every gate after the first with the same pair is a duplicate
            order = torch.argsort(key, stable=True)
            sk = key[order]
            dup = torch.zeros_like(bad)
            dup[order[1:]] = sk[1:] == sk[:-1]
            bad = bad | dup
        n = int(bad.sum())
        if not n:
            break
        # redraw the second input among the inputs that differ from the first
        offset = torch.randint(1, in_dim, (n,), generator=gen)
        b[bad] = (a[bad] + offset) % in_dim
    return torch.stack([a, b])


class LogicLayer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, *, connections: str = "random", init: str = "residual",
                 residual_logit: float = 5.0, parametrization: str = "softmax",
                 generator: torch.Generator | None = None):
        super().__init__()
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        self.in_dim, self.out_dim = in_dim, out_dim
        self.parametrization = parametrization
        wire = unique_connections if connections == "unique" else random_connections
        self.register_buffer("indices", wire(in_dim, out_dim, gen).to(torch.int64))
        if parametrization == "light":
            # one logit per truth-table entry; the entry is 1 when its logit is positive
            w = torch.randn(out_dim, 4, generator=gen)
            if init == "residual":
                w += residual_logit * (2 * _TRUTH[RESIDUAL_GATE] - 1)
        else:
            w = torch.randn(out_dim, 16, generator=gen)
            if init == "residual":
                w[:, RESIDUAL_GATE] += residual_logit
        self.weights = nn.Parameter(w)
        self.gumbel = 0.0       # scale of Gumbel noise added to the logits in training (0: none)

    def coefficients(self) -> torch.Tensor:
        """(out_dim, 4) coefficients of [1, a, b, ab] for each gate: soft in training, exact in eval."""
        coef = _COEF.to(self.weights.device)
        if self.parametrization == "light":
            if self.training:
                return torch.sigmoid(self.weights) @ _ENTRY_COEF
            return coef[self.gate_ids()]
        if self.training:
            w = self.weights
            if self.gumbel > 0:
                u = torch.rand_like(w).clamp_(1e-9, 1 - 1e-9)
                w = w - self.gumbel * torch.log(-torch.log(u))
            return torch.softmax(w, dim=-1) @ coef
        return coef[self.weights.argmax(dim=-1)]

    def gate_ids(self) -> torch.Tensor:
        """The discretised gates: argmax of the 16 logits, or the sum of the entries with a positive logit."""
        if self.parametrization == "light":
            return ((self.weights.detach() > 0).to(torch.int64) * _ENTRY_IDS).sum(dim=-1)
        return self.weights.detach().argmax(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x[:, self.indices[0]]
        b = x[:, self.indices[1]]
        c = self.coefficients()
        return c[:, 0] + a * (c[:, 1] + c[:, 3] * b) + c[:, 2] * b


class LogicNet(nn.Module):
    """Layers of :class:`LogicLayer` followed by GroupSum(k, tau)."""

    def __init__(self, n_inputs: int, widths, k: int, *, tau: float = 1.0, input_shape=None,
                 connections: str = "random", init: str = "residual", parametrization: str = "softmax",
                 seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(int(seed))
        self.n_inputs, self.k, self.tau = int(n_inputs), int(k), float(tau)
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        dims = [self.n_inputs, *[int(w) for w in widths]]
        self.layers = nn.ModuleList(
            LogicLayer(dims[i], dims[i + 1], connections=connections, init=init,
                       parametrization=parametrization, generator=gen)
            for i in range(len(dims) - 1))

    @property
    def n_gates(self) -> int:
        return sum(layer.out_dim for layer in self.layers)

    def sums(self, x: torch.Tensor) -> torch.Tensor:
        """GroupSum before dividing by tau: (N, k)."""
        x = x.reshape(len(x), -1).to(torch.float32)
        for layer in self.layers:
            x = layer(x)
        return x.reshape(len(x), self.k, -1).sum(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sums(x) / self.tau

    @torch.no_grad()
    def counts(self, bits, batch: int = 4096) -> np.ndarray:
        """Integer class counts of the discretised network on 0/1 inputs: (N, k) int64."""
        was = self.training
        self.eval()
        try:
            x = torch.as_tensor(np.asarray(bits), dtype=torch.float32)
            out = [self.sums(x[i:i + batch]).round().to(torch.int64) for i in range(0, len(x), batch)]
            return torch.cat(out).numpy() if out else np.zeros((0, self.k), np.int64)
        finally:
            self.train(was)

    # --- checkpoints ------------------------------------------------------------------------------------------
    def checkpoint_layers(self, *, save_weights: bool = False) -> list:
        """Layers in the native checkpoint format: compact integer ``gates`` (uint8) and ``indices`` (int16 or
        int32), or the float ``weights`` with ``save_weights``."""
        out = []
        for layer in self.layers:
            entry = {"indices": layer.indices.to(_index_dtype(layer.in_dim)).clone()}
            if save_weights:
                if layer.parametrization != "softmax":
                    raise UsageError("--save-weights stores difflogic's 16 logits per gate; the light "
                                     "parametrization has 4, so it saves gate ids",
                                     hint="drop --save-weights, or train with --parametrization softmax")
                entry["weights"] = layer.weights.detach().clone()
            else:
                entry["gates"] = layer.gate_ids().to(torch.uint8)
            out.append(entry)
        return out

    @classmethod
    def from_checkpoint(cls, ck: dict) -> "LogicNet":
        """Rebuild an eval-mode network from a native checkpoint whose layers hold ``gates`` or ``weights``."""
        layers = ck["layers"]
        widths = [int(layer["indices"].shape[1]) for layer in layers]
        gs = ck.get("group_sum") or {}
        net = cls(ck["n_inputs"], widths, gs["k"], tau=gs.get("tau", 1.0), input_shape=ck.get("input_shape"),
                  init="random")
        with torch.no_grad():
            for li, (layer, entry) in enumerate(zip(net.layers, layers), start=1):
                idx = entry["indices"]
                if idx.shape[0] != 2:
                    raise CheckpointError(f"the trainer's network has 2-input gates, not {idx.shape[0]}",
                                          location=f"layer {li}")
                layer.indices.copy_(idx.to(torch.int64))
                if "weights" in entry:
                    layer.weights.copy_(entry["weights"].to(torch.float32))
                elif "gates" in entry:
                    layer.weights.zero_()
                    layer.weights[torch.arange(layer.out_dim), entry["gates"].to(torch.int64)] = 1.0
                else:
                    raise CheckpointError("the trainer's network needs gates or weights, not tables",
                                          location=f"layer {li}")
        net.eval()
        return net
