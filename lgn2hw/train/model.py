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

from .. import gates, wiring
from ..errors import CheckpointError, UsageError
from ..wiring import random_connections, unique_connections  # noqa: F401  (re-exported: the layer's own draws)

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


#: offset of the gate initialisation's seed from the wiring's, so that the two draw from different streams
_INIT_STREAM = 1 << 32


def _index_dtype(limit: int) -> torch.dtype:
    return torch.int16 if limit <= 2 ** 15 else torch.int32


class _MixCandidates(torch.autograd.Function):
    """The learnable inputs while training: ``out[:, m] = sum_k mix[k, m] * x[:, cand[k, m]]``.

    The same sum as indexing ``x`` with the candidates and reducing over K, computed with the samples along rows
    (``x`` transposed): gathering and scattering whole rows of samples is faster on a CPU than gathering columns,
    and no input gradient is computed for a layer that reads the (constant) input bits."""

    @staticmethod
    def forward(ctx, x, mix, cand):         # x (N, in), mix (K, M), cand (K, M) int64 -> (N, M)
        k, m = cand.shape
        rows = x.t().contiguous().index_select(0, cand.reshape(-1)).view(k, m, -1)     # (K, M, N)
        out = rows[0] * mix[0].unsqueeze(-1)
        for i in range(1, k):
            out.addcmul_(rows[i], mix[i].unsqueeze(-1))
        ctx.save_for_backward(rows, mix, cand)
        ctx.in_dim = x.shape[1]
        return out.t().contiguous()

    @staticmethod
    def backward(ctx, grad):                # grad (N, M)
        rows, mix, cand = ctx.saved_tensors
        k, m = cand.shape
        g = grad.t().contiguous()           # (M, N)
        grad_mix = (rows * g.unsqueeze(0)).sum(-1) if ctx.needs_input_grad[1] else None
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_xt = torch.zeros(ctx.in_dim, g.shape[1], dtype=g.dtype)
            grad_xt.index_add_(0, cand.reshape(-1), (mix.unsqueeze(-1) * g.unsqueeze(0)).reshape(k * m, -1))
            grad_x = grad_xt.t()
        return grad_x, grad_mix, None


class LogicLayer(nn.Module):
    """One layer of two-input gates. Its wiring is ``indices`` (2, out_dim), given or drawn from ``generator``
    (``connections``: random or unique); or, for learnable wiring, ``candidates`` (K, 2, out_dim): each input
    mixes its K candidate nets with ``softmax(select / select_tau)`` over K while training, and reads the
    highest-weighted one (the first on ties) in eval mode and in the checkpoint."""

    def __init__(self, in_dim: int, out_dim: int, *, connections: str = "random", init: str = "residual",
                 residual_logit: float = 5.0, parametrization: str = "softmax",
                 generator: torch.Generator | None = None, indices: torch.Tensor | None = None,
                 candidates: torch.Tensor | None = None):
        super().__init__()
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        self.in_dim, self.out_dim = in_dim, out_dim
        self.parametrization = parametrization
        if candidates is not None:
            self.register_buffer("candidates", candidates.to(torch.int64).clone())
            self.select = nn.Parameter(torch.zeros(candidates.shape, dtype=torch.float32))
            self.indices = None     # chosen() discretises the selection
        else:
            self.candidates = None
            self.select = None
            if indices is None:
                wire = unique_connections if connections == "unique" else random_connections
                indices = wire(in_dim, out_dim, gen)
            self.register_buffer("indices", indices.to(torch.int64).clone())
        self.select_tau = wiring.SELECT_TAU[0]   # softmax temperature of the learnable selection (training)
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

    def chosen(self) -> torch.Tensor:
        """The discretised wiring (2, out_dim): ``indices``, or the highest-weighted learnable candidates."""
        if self.candidates is None:
            return self.indices
        pick = self.select.detach().argmax(dim=0, keepdim=True)          # (1, 2, out_dim)
        return self.candidates.gather(0, pick)[0]

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

    def inputs(self, x: torch.Tensor):
        """The gates' two inputs, each (N, out_dim)."""
        if self.candidates is None or not self.training:
            idx = self.chosen()
            return x[:, idx[0]], x[:, idx[1]]
        mix = torch.softmax(self.select / self.select_tau, dim=0)           # (K, 2, out_dim)
        k = mix.shape[0]
        both = _MixCandidates.apply(x, mix.reshape(k, -1), self.candidates.reshape(k, -1))    # (N, 2 * out_dim)
        return both[:, :self.out_dim], both[:, self.out_dim:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.inputs(x)
        c = self.coefficients()
        return c[:, 0] + a * (c[:, 1] + c[:, 3] * b) + c[:, 2] * b


class LogicNet(nn.Module):
    """Layers of :class:`LogicLayer` followed by GroupSum(k, tau)."""

    def __init__(self, n_inputs: int, widths, k: int, *, tau: float = 1.0, input_shape=None,
                 connections: str = "random", init: str = "residual", parametrization: str = "softmax",
                 seed: int = 0):
        super().__init__()
        self.n_inputs, self.k, self.tau = int(n_inputs), int(k), float(tau)
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.connections = wiring.parse(connections)
        dims = [self.n_inputs, *[int(w) for w in widths]]
        # the wiring from its own stream, seeded with the seed (the same as `lgn2hw wiring --seed`), the gate
        # logits from another
        wires = wiring.network_connections(self.connections, self.n_inputs, dims[1:], input_shape=self.input_shape,
                                           classes=self.k, seed=seed)
        gen = torch.Generator().manual_seed(int(seed) + _INIT_STREAM)
        learnable = self.connections.kind == "learnable"
        self.layers = nn.ModuleList(
            LogicLayer(dims[i], dims[i + 1], init=init, parametrization=parametrization, generator=gen,
                       indices=None if learnable else wires[i], candidates=wires[i] if learnable else None)
            for i in range(len(dims) - 1))

    def set_select_tau(self, tau: float) -> None:
        """The learnable selection's softmax temperature, for every layer (the loop anneals it)."""
        for layer in self.layers:
            layer.select_tau = float(tau)

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
    def counts(self, bits, batch: int = 1024) -> np.ndarray:
        """Integer class counts of the discretised network on 0/1 inputs: (N, k) int64."""
        was = self.training
        self.eval()
        try:
            x = torch.as_tensor(np.asarray(bits))          # converted batch by batch: 60,000 MNIST images
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
            entry = {"indices": layer.chosen().to(_index_dtype(layer.in_dim)).clone()}
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
            for li, (layer, entry) in enumerate(zip(net.layers, layers, strict=True), start=1):
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
