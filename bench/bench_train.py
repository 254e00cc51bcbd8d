"""Trainer: wall time and test accuracy of the CPU trainer on the packaged data sets.

    python -m bench.bench_train [--quick] [--threads N]

Each run trains from scratch in this process with the CLI's defaults unless its row says otherwise, records wall
time and this process's CPU time (steadier on a shared machine), then checks that the discretised network's
class counts equal the reference interpreter's on the whole test split. Prints a table, writes
bench/results/train.json (train_quick.json with --quick)."""
from __future__ import annotations

import argparse
import time

import numpy as np


def _run(label: str, threads: int, **overrides) -> dict:
    import torch

    from lgn2hw import data
    from lgn2hw.frontend.native import to_netlist
    from lgn2hw.ir import evaluate
    from lgn2hw.passes import DEFAULT, run_passes
    from lgn2hw.train import TrainConfig, train

    cfg = TrainConfig(threads=threads, **overrides)
    t0, c0 = time.perf_counter(), time.process_time()
    result = train(cfg)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    ds = data.load(cfg.dataset, **({"thresholds": cfg.thresholds} if cfg.thresholds else {}))
    nl = to_netlist(result.checkpoint)
    exact = bool(np.array_equal(evaluate(nl, ds.test_bits), result.model.counts(ds.test_bits)))
    live, _ = run_passes(nl, DEFAULT)
    return {"run": label, "dataset": cfg.dataset, "layers": cfg.layers, "width": cfg.width,
            "gates": result.model.n_gates, "live_gates": live.n_nodes, "epochs": cfg.epochs, "threads": threads,
            "seconds": seconds, "cpu_seconds": cpu, "test_accuracy": result.test_accuracy,
            "train_accuracy": result.train_accuracy,
            "exact_vs_interp": exact, "torch": str(torch.__version__)}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny runs: only checks that the script runs")
    ap.add_argument("--threads", type=int, default=1, help="PyTorch threads (default: 1, as the CLI)")
    args = ap.parse_args()
    from bench._common import table, write_json
    if args.quick:
        plan = [("digits tiny", dict(dataset="digits", layers=2, width=100, epochs=2)),
                ("mnist5k tiny", dict(dataset="mnist5k", layers=2, width=100, epochs=1))]
    else:
        plan = [("digits default", dict(dataset="digits")),
                ("digits example", dict(dataset="digits", layers=6, width=600, epochs=80)),
                ("mnist5k", dict(dataset="mnist5k", layers=4, width=4000, epochs=30))]
    rows = []
    for label, overrides in plan:
        rows.append(_run(label, args.threads, **overrides))
        print(f"{label}: {rows[-1]['seconds']:.1f} s, test accuracy {rows[-1]['test_accuracy']:.4f}", flush=True)
    shown = [{**r, "exact_vs_interp": "yes" if r["exact_vs_interp"] else "NO"} for r in rows]
    print(table(shown, ["run", "dataset", "layers", "width", "gates", "live_gates", "epochs", "threads", "seconds",
                       "cpu_seconds", "test_accuracy", "exact_vs_interp"]))
    path = write_json("train_quick" if args.quick else "train", {"rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
