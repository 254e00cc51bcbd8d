"""Shared helpers for bench scripts: the benchmark model, random layered networks, timing, peak memory, table and
JSON output."""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
#: Where write_json puts results; run_all.py --quick points it at a temporary directory.
RESULTS = Path(os.environ.get("LGN2HW_BENCH_RESULTS") or ROOT / "bench" / "results")
#: The trained 48K-gate MNIST model (a difflogic state dict): $LGN2HW_BENCH_MODEL, else shared/models/ in the
#: folder beside the repository's. Scripts take it as the default of --model (or --shared) and never copy it.
MODEL_ENV = "LGN2HW_BENCH_MODEL"
MODEL_DEFAULT = Path("..", "shared", "models", "mnist20x20_8000x6_mase.pth")      # relative to the repository
MODEL = Path(os.environ.get(MODEL_ENV) or (ROOT / MODEL_DEFAULT).resolve())


def rel(path) -> str:
    """A path as messages show it: relative to the repository when in it or beside it (``../shared/...``)."""
    path = Path(path).resolve()
    return os.path.relpath(path, ROOT) if path.is_relative_to(ROOT.parent) else str(path)


def scrub(text: str) -> str:
    """Text with this machine's paths of the repository and its parent folder made relative (for JSON and
    RESULTS.md: a tool's error line quotes the absolute path of the program it ran)."""
    text = text.replace(f"{ROOT}/", "")
    return text if ROOT.parent == ROOT.parent.parent else text.replace(f"{ROOT.parent}/", "../")


def have_model(path, part: str, flag: str = "--model") -> bool:
    """Whether the benchmark model is there; if not, one line on stderr says which part is skipped."""
    if Path(path).is_file():
        return True
    print(f"bench: {part} skipped: {_missing(path, flag)}", file=sys.stderr)
    return False


def need_model(path, flag: str = "--model") -> Path:
    """The benchmark model, or exit 1 with one ``bench: error:`` line."""
    if not Path(path).is_file():
        raise SystemExit(f"bench: error: {_missing(path, flag)}")
    return Path(path)


def _missing(path, flag: str) -> str:
    return f"benchmark model {rel(path)} not found (set {MODEL_ENV} or pass {flag} PATH)"


def random_network(n_inputs: int, width: int, layers: int, classes: int, seed: int = 0):
    from lgn2hw import gates
    from lgn2hw.ir import Netlist
    rng = np.random.default_rng(seed)
    built, prev = [], n_inputs
    for _ in range(layers):
        built.append((gates.tables_from_gate_ids(rng.integers(0, 16, width)), rng.integers(0, prev, (width, 2))))
        prev = width
    return Netlist.from_layers(n_inputs, built, classes)


def write_difflogic_state_dict(path, n_inputs: int, width: int, layers: int, seed: int = 0) -> None:
    """A difflogic-shaped state dict (keys ``i.weights``/``i.indices`` from 1, as the shared model) with random
    gates (argmax of Gaussian logits) and random wiring, for reading back through ``load_model``."""
    import torch
    g = torch.Generator().manual_seed(seed)
    sd, prev = {}, n_inputs
    for i in range(1, layers + 1):
        sd[f"{i}.weights"] = torch.randn(width, 16, generator=g)
        sd[f"{i}.indices"] = torch.randint(0, prev, (2, width), generator=g)
        prev = width
    torch.save(sd, path)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Reads VmHWM, which starts afresh at exec; getrusage's ru_maxrss does not (Linux carries the parent's peak
    at fork across exec), so a child of a large bench process would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_subprocess(module: str, *args: str) -> dict:
    """Run ``python -m module args`` and parse the JSON it prints last: one fresh process per measurement so
    peak memory is that measurement's own."""
    out = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> dict:
    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "numpy": np.__version__}


def table(rows: list[dict], columns: list[str]) -> str:
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(columns, widths)) for r in rows]
    return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v)


def write_json(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"machine": machine(), "when": time.strftime("%Y-%m-%d"), **payload}
    path.write_text(scrub(json.dumps(payload, indent=2, sort_keys=True)) + "\n")
    return path
