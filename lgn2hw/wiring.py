"""Wiring kinds: which nets of the previous layer each two-input gate reads. One module for the trainer
(``lgn2hw train --connections``) and for ``lgn2hw wiring``, which writes the same index tensors for networks
trained with difflogic or torchlogix.

A kind is named by a short text (:func:`parse`):

* ``random``: difflogic's "random": the ``2 * width`` input slots cycle through all nets of the previous layer
  (each is read when ``2 * width >= in_dim``), in a random order. A gate may read one net twice.
* ``unique``: like ``random``, but no gate reads one net twice and no two gates read the same unordered pair (as far
  as the pairs allow); conflicts are redrawn deterministically.
* ``local:R`` (R defaults to 2): every layer is laid out on a 2-D **sheet**, and a gate reads two distinct nets
  drawn uniformly from the ``(2R+1) x (2R+1)`` window around its own place mapped onto the previous sheet, clipped
  to that sheet (a window of one net gives a gate that reads it twice).
* ``learnable:K`` (K defaults to 8) and ``learnable:K:local:R``: each of a gate's two inputs chooses among K
  candidate nets, drawn at random from the whole previous layer or from the local window; training learns a
  softmax selection over the candidates whose temperature is annealed, and the network is discretised to the
  highest-weighted candidate (as torchlogix's ``connections="learnable"`` does at eval time). The two inputs'
  candidates are disjoint where the window allows, so the chosen nets differ.

Sheets. The sheet of the input is its shape: ``(C, H, W)`` is an ``H x W`` sheet ``C`` deep (the channels are
stacked, so a place reads every channel there: all thermometer thresholds of a pixel), ``(H, W)`` is one deep, and
an input without a shape gets the sheet of a hidden layer of its width. A hidden layer of width ``n`` lies on
``rows x cols = n`` with ``rows`` the largest divisor of ``n`` not above its square root (1000 -> 25 x 40,
8000 -> 80 x 100; a width with no near-square factors, like 970 = 10 x 97, gives a strip). Gate ``i`` sits at
``divmod(i, cols)``; its centre ``(r + 1/2, c + 1/2)`` scaled to the previous sheet, rounded down, is the window's
centre. In the last layer the places are dealt out class by class (gate ``c * n/k + j`` of class ``c`` sits at
place ``j * k + c``), so every GroupSum class covers the whole sheet instead of a band of rows.

Every draw comes from one ``torch.Generator`` seeded with the seed, layer after layer, so a seed gives the same
wiring in ``lgn2hw train`` and in ``lgn2hw wiring``. The index tensors are int64 (2, width): row 0 the first input
of every gate, row 1 the second; learnable candidates are (K, 2, width), torchlogix's layout.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import UsageError

KINDS = ("random", "unique", "local", "learnable")
DEFAULT_RADIUS = 2
DEFAULT_CANDIDATES = 8
MAX_RADIUS = 64
MAX_CANDIDATES = 64
#: learnable selection: softmax temperature at the first and at the last training step (geometric in between)
SELECT_TAU = (1.0, 0.05)
_DRAW_BLOCK = 1 << 22         # random keys drawn at a time by the window draw
_SPELLING = "random, unique, local[:R] or learnable[:K[:local[:R]]]"


@dataclass(frozen=True)
class Spec:
    """A parsed wiring kind. ``radius`` is set for local wiring and learnable with a local pool, ``candidates``
    for learnable."""
    kind: str
    radius: int | None = None
    candidates: int | None = None

    @property
    def local(self) -> bool:
        return self.radius is not None

    def __str__(self) -> str:
        if self.kind == "local":
            return f"local:{self.radius}"
        if self.kind == "learnable":
            return f"learnable:{self.candidates}" + (f":local:{self.radius}" if self.local else "")
        return self.kind

    def summary(self) -> str:
        """One line for ``lgn2hw info``."""
        if self.kind == "random":
            return "random (difflogic's)"
        if self.kind == "unique":
            return "unique (random, no gate reads a net twice, no repeated pair)"
        side = 2 * (self.radius or 0) + 1
        if self.kind == "local":
            return f"local, radius {self.radius} (2 distinct nets from a {side}x{side} window)"
        pool = f"a {side}x{side} window" if self.local else "the whole previous layer"
        return (f"learnable, {self.candidates} candidates per input from {pool} (softmax selection annealed "
                f"{SELECT_TAU[0]:g} -> {SELECT_TAU[1]:g}, best kept)")


def _int(text: str, what: str, lo: int, hi: int, spec: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise UsageError(f"--connections {what} must be an integer in {lo}..{hi}, not {text!r} (in {spec!r})")
    return value


def parse(text) -> Spec:
    """``random``, ``unique``, ``local[:R]``, ``learnable[:K[:local[:R]]]`` (or a :class:`Spec`) -> Spec."""
    if isinstance(text, Spec):
        return text
    if not isinstance(text, str):
        raise UsageError(f"--connections must be {_SPELLING}, not {text!r}")
    parts = text.strip().lower().split(":")
    kind, rest = parts[0], parts[1:]
    if kind in ("random", "unique") and not rest:
        return Spec(kind)
    if kind == "local" and len(rest) <= 1:
        return Spec("local", radius=_int(rest[0], "radius", 0, MAX_RADIUS, text) if rest else DEFAULT_RADIUS)
    if kind == "learnable" and len(rest) <= 3 and (len(rest) < 2 or rest[1] == "local"):
        k = _int(rest[0], "candidate count", 2, MAX_CANDIDATES, text) if rest else DEFAULT_CANDIDATES
        radius = None
        if len(rest) >= 2:
            radius = _int(rest[2], "radius", 0, MAX_RADIUS, text) if len(rest) == 3 else DEFAULT_RADIUS
        return Spec("learnable", radius=radius, candidates=k)
    raise UsageError(f"--connections must be {_SPELLING}, not {text!r}")


# --- sheets ----------------------------------------------------------------------------------------------------
def sheet_shape(n: int) -> tuple:
    """``(rows, cols)`` with ``rows * cols == n`` and ``rows`` the largest divisor of ``n`` up to its square root."""
    if n < 1:
        raise UsageError(f"a layer must have at least one gate, not {n}")
    rows = math.isqrt(n)
    while n % rows:
        rows -= 1
    return rows, n // rows


def input_sheet(n_inputs: int, input_shape=None) -> tuple:
    """``(depth, rows, cols)`` of the input: its shape, channels stacked (see the module's description)."""
    if input_shape is None or len(input_shape) < 2:
        return (1, *sheet_shape(n_inputs))
    shape = tuple(int(d) for d in input_shape)
    if math.prod(shape) != n_inputs:
        raise UsageError(f"the input shape {shape} must hold {n_inputs} inputs, not {math.prod(shape)}")
    if len(shape) == 2:
        return (1, *shape)
    return (math.prod(shape[:-2]), shape[-2], shape[-1])


def sheets(n_inputs: int, widths, input_shape=None) -> list:
    """The input's sheet, then every layer's, as ``(depth, rows, cols)``."""
    return [input_sheet(n_inputs, input_shape)] + [(1, *sheet_shape(int(w))) for w in widths]


def places(width: int, classes: int = 1):
    """Place of every gate on its sheet (flat): the identity, or for the last layer (``classes`` > 1) dealt out
    class by class, so that each GroupSum block covers the sheet."""
    import torch
    i = torch.arange(width, dtype=torch.int64)
    if classes <= 1:
        return i
    if width % classes:
        raise UsageError(f"the last layer's width {width} must be a multiple of the class count {classes}")
    per = width // classes
    return (i % per) * classes + i // per


def _window_draw(prev, own, place, radius: int, count: int, gen):
    """For every gate: ``count`` nets of the previous sheet ``prev`` = (depth, rows, cols) drawn without
    replacement from the window of ``radius`` around its place (flat, on ``own`` = (rows, cols)), uniformly; a
    window with fewer nets than ``count`` is used in a random order and then repeated. -> int64 (width, count)"""
    import torch
    depth, rows, cols = prev
    own_rows, own_cols = own
    span = torch.arange(-radius, radius + 1, dtype=torch.int64)
    layer = torch.arange(depth, dtype=torch.int64)[None, :, None] * (rows * cols)
    slots = depth * len(span) ** 2
    out = torch.empty((len(place), count), dtype=torch.int64)
    step = max(1, _DRAW_BLOCK // slots)                       # bounded memory for wide windows and deep inputs
    for lo in range(0, len(place), step):
        p = place[lo:lo + step]
        # the centre of the gate's cell, scaled onto the previous sheet: floor((r + 1/2) * rows / own_rows)
        cr = torch.div((2 * torch.div(p, own_cols, rounding_mode="floor") + 1) * rows, 2 * own_rows,
                       rounding_mode="floor")
        cc = torch.div((2 * (p % own_cols) + 1) * cols, 2 * own_cols, rounding_mode="floor")
        wr = cr[:, None, None] + span[None, :, None]          # (n, S, 1)
        wc = cc[:, None, None] + span[None, None, :]          # (n, 1, S)
        ok = (wr >= 0) & (wr < rows) & (wc >= 0) & (wc < cols)
        flat = (wr.clamp(0, rows - 1) * cols + wc.clamp(0, cols - 1)).reshape(len(p), 1, -1)
        nets = (flat + layer).reshape(len(p), -1)             # (n, depth * S * S), channel-major
        ok = ok.reshape(len(p), 1, -1).expand(-1, depth, -1).reshape(len(p), -1)
        keys = torch.rand(nets.shape, generator=gen, dtype=torch.float64)
        keys[~ok] = 2.0                                       # outside the sheet: sorted last, never drawn
        order = torch.argsort(keys, dim=1, stable=True)
        pick = torch.arange(count, dtype=torch.int64)[None, :] % ok.sum(dim=1, keepdim=True)   # >= 1 (centre)
        out[lo:lo + step] = nets.gather(1, order.gather(1, pick))
    return out


def random_connections(in_dim: int, out_dim: int, gen):
    """difflogic's "random" wiring: the 2*out_dim input slots cycle through all inputs (every input is used when
    2*out_dim >= in_dim), in a random order. A gate may read the same input twice."""
    import torch
    slots = torch.randperm(2 * out_dim, generator=gen) % in_dim
    slots = torch.randperm(in_dim, generator=gen)[slots]
    return torch.stack([slots[:out_dim], slots[out_dim:]])


def unique_connections(in_dim: int, out_dim: int, gen):
    """Like :func:`random_connections`, but no gate reads one input twice and no two gates read the same
    unordered pair (as far as ``in_dim*(in_dim-1)/2`` pairs allow). Conflicts are re-drawn deterministically."""
    import torch
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


def layer_connections(spec, prev_sheet, width: int, gen, *, classes: int = 1):
    """One layer's wiring: int64 (2, width), or for learnable wiring the candidates (K, 2, width).
    ``prev_sheet`` is the previous layer's (depth, rows, cols); ``classes`` > 1 marks the last layer."""
    import torch
    spec = parse(spec)
    in_dim = math.prod(prev_sheet)
    if spec.kind == "random":
        return random_connections(in_dim, width, gen).to(torch.int64)
    if spec.kind == "unique":
        return unique_connections(in_dim, width, gen).to(torch.int64)
    own = sheet_shape(width)
    if spec.kind == "local":
        nets = _window_draw(prev_sheet, own, places(width, classes), spec.radius, 2, gen)
        return nets.T.contiguous()
    k = spec.candidates
    if spec.local:
        nets = _window_draw(prev_sheet, own, places(width, classes), spec.radius, 2 * k, gen)  # (width, 2K)
        return nets.T.reshape(2, k, width).transpose(0, 1).contiguous()
    return torch.randint(0, in_dim, (k, 2, width), generator=gen, dtype=torch.int64)


def network_connections(spec, n_inputs: int, widths, *, input_shape=None, classes: int = 1, seed: int = 0) -> list:
    """Every layer's wiring (see :func:`layer_connections`), drawn from one generator seeded with ``seed``."""
    import torch
    spec = parse(spec)
    widths = [int(w) for w in widths]
    if not widths or min(widths) < 1:
        raise UsageError(f"every layer must have at least one gate, not widths {widths}")
    gen = torch.Generator().manual_seed(int(seed))
    # random and unique need no sheets, only the widths (a shape that does not fit is then no error)
    layout = sheets(n_inputs, widths, input_shape if spec.local else None)
    return [layer_connections(spec, layout[i], w, gen, classes=classes if i == len(widths) - 1 else 1)
            for i, w in enumerate(widths)]


def provenance(spec, n_inputs: int, widths, input_shape=None) -> dict:
    """What a checkpoint records about its wiring (plain values: ``torch.load(weights_only=True)`` reads them)."""
    spec = parse(spec)
    out = {"kind": spec.kind, "spec": str(spec), "summary": spec.summary()}
    if spec.radius is not None:
        out["radius"] = spec.radius
    if spec.candidates is not None:
        out["candidates"] = spec.candidates
        out["select_tau"] = list(SELECT_TAU)
    if spec.local:
        out["sheets"] = [list(s) for s in sheets(n_inputs, widths, input_shape)]
    return out


# --- the wiring file -------------------------------------------------------------------------------------------
WIRING_FORMAT = "lgn2hw.wiring"
WIRING_VERSION = 1


def parse_inputs(text) -> tuple:
    """``784`` or ``1,28,28`` -> (n_inputs, input_shape or None)."""
    if isinstance(text, int):
        dims = (text,)
    else:
        try:
            dims = tuple(int(d) for d in str(text).split(","))
        except ValueError:
            dims = ()
    if not dims or min(dims) < 1 or len(dims) > 3:
        raise UsageError(f"--inputs must be a count or a shape C,H,W of positive integers, not {text!r}")
    return math.prod(dims), (dims if len(dims) > 1 else None)


def check_sizes(n_inputs: int, widths, classes: int = 1, seed: int = 0) -> None:
    """UsageError for sizes no network has."""
    if not widths:
        raise UsageError("--layers must be a positive integer, not 0")
    for name, value in (("inputs", n_inputs), ("width", min(widths)), ("classes", classes)):
        if not isinstance(value, int) or value < 1:
            raise UsageError(f"--{name} must be a positive integer, not {value!r}")
    if widths[-1] % classes:
        raise UsageError(f"--width must be a multiple of the class count {classes}, not {widths[-1]}",
                         hint="GroupSum splits the last layer into one equal block per class")
    if not isinstance(seed, int) or seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, not {seed!r}")


def describe_file(obj: dict) -> str:
    """One line about a wiring file's content."""
    widths = obj["widths"]
    size = f"{len(widths)} x {widths[0]}" if len(set(widths)) == 1 else "+".join(map(str, widths))
    shape = f" (shape {tuple(obj['input_shape'])})" if obj.get("input_shape") else ""
    sheets = obj["wiring"].get("sheets")
    where = ("; sheets " + ", ".join("x".join(map(str, s[1:] if s[0] == 1 else s)) for s in sheets)) if sheets else ""
    kinds = "torchlogix candidates" if obj["difflogic"] is None else "difflogic and torchlogix indices"
    return (f"{obj['connections']} wiring, seed {obj['seed']}: {size} gates on {obj['inputs']} inputs{shape}"
            f"{where}; {kinds}")


def wiring_file(spec, n_inputs: int, widths, *, input_shape=None, classes: int = 1, seed: int = 0) -> dict:
    """The content of a wiring file: every layer's index tensors in difflogic's and torchlogix's conventions.

    * ``difflogic``: per layer ``LogicLayer.indices``, a tuple of two int64 (width,) tensors (None for learnable
      wiring, which difflogic does not have);
    * ``torchlogix``: per layer ``LogicDense.connections.indices``, int64 (2, width), or for learnable wiring the
      candidates (K, 2, width) of ``connections="learnable"`` with ``num_candidates=K``;
    * the facts they were made from: ``connections``, ``seed``, ``inputs``, ``input_shape``, ``widths``,
      ``classes``, and ``wiring`` (as a checkpoint's provenance records it)."""
    from . import __version__
    spec = parse(spec)
    widths = [int(w) for w in widths]
    check_sizes(n_inputs, widths, classes, seed)
    layers = network_connections(spec, n_inputs, widths, input_shape=input_shape, classes=classes, seed=seed)
    fixed = spec.kind != "learnable"
    return {
        "format": WIRING_FORMAT, "version": WIRING_VERSION, "lgn2hw_version": __version__,
        "connections": str(spec), "seed": int(seed), "inputs": int(n_inputs),
        "input_shape": list(input_shape) if input_shape else None, "widths": widths, "classes": int(classes),
        "wiring": provenance(spec, n_inputs, widths, input_shape),
        "difflogic": [(idx[0].clone(), idx[1].clone()) for idx in layers] if fixed else None,
        "torchlogix": layers,
    }


def difflogic_reverse_tables(indices, in_dim: int) -> tuple:
    """For difflogic's CUDA layer: ``(given_x_indices_of_y_start, given_x_indices_of_y)``, the tables
    ``LogicLayer.__init__`` derives from its own wiring for the backward pass (for every input, the gates that
    read it, in gate order, a gate twice when it reads the input twice). A layer whose ``indices`` are replaced
    after construction needs them made again from the new wiring; the python implementation does not use them."""
    import torch
    a, b = (torch.as_tensor(t, dtype=torch.int64) for t in indices)
    reads = torch.stack([a, b], dim=1).reshape(-1)              # a[0], b[0], a[1], b[1], ...
    gates = torch.arange(len(a), dtype=torch.int64, device=a.device).repeat_interleave(2)
    order = torch.argsort(reads, stable=True)
    start = torch.zeros(in_dim + 1, dtype=torch.int64, device=a.device)
    start[1:] = torch.bincount(reads, minlength=in_dim).cumsum(0)
    return start, gates[order]


def write_wiring(path, spec, n_inputs: int, widths, *, input_shape=None, classes: int = 1, seed: int = 0,
                 force: bool = False) -> dict:
    """Write :func:`wiring_file` with ``torch.save`` (atomically; never over a file lgn2hw did not write unless
    ``force``) and return it."""
    import torch

    from ._files import check_output_file, write_output
    check_output_file(path, force)
    obj = wiring_file(spec, n_inputs, widths, input_shape=input_shape, classes=classes, seed=seed)
    try:
        write_output(path, lambda tmp: torch.save(obj, tmp), ".pt", force=force)
    except OSError as err:
        raise UsageError(f"cannot write the wiring ({err.strerror or err})", location=str(path)) from None
    return obj
