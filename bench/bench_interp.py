"""Reference interpreter throughput and memory, and the memory of large IRs.

    python -m bench.bench_interp [--quick]

Each measurement runs in its own process so that its peak memory is its own. Prints a table, writes
bench/results/interp.json."""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def _measure(kind: str, engine: str, samples: int, width: int, layers: int, n_inputs: int):
    import os
    os.environ["LGN2HW_INTERP"] = "numpy" if engine == "numpy" else ""
    from bench._common import peak_rss_mb, random_network
    from lgn2hw.ir import evaluate
    base = peak_rss_mb()
    t0 = time.perf_counter()
    nl = random_network(n_inputs, width, layers, 10)
    nl.check()
    build = time.perf_counter() - t0
    row = {"kind": kind, "engine": engine, "gates": nl.n_nodes, "ir_mb": nl.nbytes() / 2**20,
           "build_s": build}
    if samples:
        x = np.random.default_rng(1).integers(0, 2, (samples, n_inputs), dtype=np.uint8)
        evaluate(nl, x[:64])            # compile/cache the kernel outside the timing
        t0 = time.perf_counter()
        evaluate(nl, x)
        dt = time.perf_counter() - t0
        row.update(samples=samples, seconds=dt, samples_per_s=samples / dt,
                   gate_evals_per_s=samples * nl.n_nodes / dt)
    row["peak_rss_mb"] = peak_rss_mb()
    row["python_base_mb"] = base
    print(json.dumps(row))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes: only checks that the script runs")
    ap.add_argument("--measure", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        kind, engine, samples, width, layers, n_inputs = args.measure
        _measure(kind, engine, int(samples), int(width), int(layers), int(n_inputs))
        return
    from bench._common import in_subprocess, table, write_json
    if args.quick:
        plan = [("48K-shape/8", "c", 2000, 1000, 6, 400), ("48K-shape/8", "numpy", 2000, 1000, 6, 400)]
    else:
        plan = [("48K (400-8000x6-10)", "c", 100_000, 8000, 6, 400),
                ("48K (400-8000x6-10)", "numpy", 20_000, 8000, 6, 400),
                ("1.28M IR (784-256000x5)", "c", 0, 256_000, 5, 784),
                ("1.28M (784-256000x5)", "c", 4096, 256_000, 5, 784)]
    rows = [in_subprocess("bench.bench_interp", "--measure", *map(str, p)) for p in plan]
    print(table(rows, ["kind", "engine", "gates", "samples", "seconds", "samples_per_s", "gate_evals_per_s",
                       "ir_mb", "build_s", "peak_rss_mb"]))
    print(f"wrote {write_json('interp' + ('_quick' if args.quick else ''), {'rows': rows})}")


if __name__ == "__main__":
    sys.exit(main())
