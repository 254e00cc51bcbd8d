"""The real difflogic and torchlogix packages, imported for tests on a CPU-only Python 3.11.

``make setup`` installs them: torchlogix 0.2.2 with ``pip --no-deps`` and difflogic 0.1.0's sdist unpacked into
``.venv/src/difflogic-0.1.0`` by ``tools/fetch_sdist.py`` (its setup.py needs CUDA, so it is never built). Two
modules are stubbed before import, and nothing else:

* ``difflogic_cuda`` -- difflogic imports its CUDA extension at module top; layers built with
  ``implementation='python'`` never call it.
* ``torchlogix.circuit`` -- does not import on Python 3.11 and is only needed for circuit export.

The importers skip (``pytest.skip``) only when the package files are absent; conftest.py wraps them as the
session fixtures ``difflogic_lib`` and ``torchlogix_lib``.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIFFLOGIC_SRC = Path(os.environ.get("LGN2HW_DIFFLOGIC_SRC", ROOT / ".venv" / "src" / "difflogic-0.1.0"))


def import_difflogic():
    if not (DIFFLOGIC_SRC / "difflogic" / "difflogic.py").is_file():
        pytest.skip(f"difflogic 0.1.0 sources not found in {DIFFLOGIC_SRC} (run 'make setup')")
    sys.modules.setdefault("difflogic_cuda", types.ModuleType("difflogic_cuda"))
    if str(DIFFLOGIC_SRC) not in sys.path:
        sys.path.insert(0, str(DIFFLOGIC_SRC))
    return importlib.import_module("difflogic")


def import_torchlogix():
    if importlib.util.find_spec("torchlogix") is None:
        pytest.skip("torchlogix 0.2.2 is not installed (run 'make setup')")
    if "torchlogix.circuit" not in sys.modules:
        stub = types.ModuleType("torchlogix.circuit")
        stub.Circuit = None
        sys.modules["torchlogix.circuit"] = stub
    return importlib.import_module("torchlogix")


def quiet_forward(model, x):
    """The model's own eval forward; difflogic prints index dtypes on every call, which is swallowed."""
    import torch
    model.eval()
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        return model(x)


def exact_counts(out, tau: float):
    """GroupSum output * tau as int64, checking it is integral (the library divides integer counts by tau)."""
    import numpy as np
    scaled = out.double().numpy() * tau
    counts = np.rint(scaled)
    # float32 division by tau leaves a relative error ~6e-8: far below the 0.5 that would make rounding ambiguous
    assert counts.size == 0 or np.abs(counts - scaled).max() <= 1e-3, \
        "library output is not an integer count divided by tau"
    return counts.astype(np.int64)


def train_classifier(model, x, y, steps, batch, lr, seed=0, one_thread=True):
    """Adam on cross-entropy over random mini-batches of numpy ``x``/``y``, for the library models that tests and
    bench_conv train; returns the model in eval mode. ``one_thread``: torch on one thread meanwhile (small
    tensors: more threads only fight over the cores)."""
    import torch
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    threads = torch.get_num_threads()
    if one_thread:
        torch.set_num_threads(1)
    try:
        model.train()
        for _ in range(steps):
            pick = torch.randint(0, len(xt), (batch,), generator=gen)
            loss = torch.nn.functional.cross_entropy(model(xt[pick]), yt[pick])
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()
