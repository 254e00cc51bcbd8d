"""Trainer: wall time and test accuracy of the CPU trainer on the packaged data sets.

    python -m bench.bench_train [--quick] [--threads N]

Each run trains from scratch in this process with the CLI's defaults unless its row says otherwise, records wall
time and this process's CPU time (steadier on a shared machine), then checks that the discretised network's
class counts equal the reference interpreter's on the whole test split. Then ``steps``: the time of one training
step (batch 64, forward, backward and Adam) of the full-MNIST network of examples/mnist_lgn_96.pt's recipe at twice
its width (4 x 8,000 gates on 3 x 20 x 20 input bits), with learnable wiring as lgn2hw computes it (rows of
samples gathered and scattered) and as plain indexing of the candidates (the formula, as the tests write it), and
with fixed local wiring; on 1 and 2 threads. Prints tables, writes bench/results/train.json (train_quick.json with
--quick)."""
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


def _plain_inputs(layer, x):
    """The learnable inputs by plain indexing: x[:, candidates] mixed over K (what the layer computed before)."""
    import torch
    if layer.candidates is None or not layer.training:
        idx = layer.chosen()
        return x[:, idx[0]], x[:, idx[1]]
    mix = torch.softmax(layer.select / layer.select_tau, dim=0)
    both = (x[:, layer.candidates] * mix).sum(dim=1)
    return both[:, 0], both[:, 1]


def _step_row(connections: str, how: str, threads: int, width: int, steps: int = 20) -> dict:
    import torch

    from lgn2hw.train import LogicNet
    from lgn2hw.train.model import LogicLayer
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = LogicNet(1200, [width] * 4, 10, tau=(width / 10) ** 0.5, input_shape=(3, 20, 20),
                   connections=connections, init="random", seed=0)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    x = (torch.rand(64, 1200) > 0.5).to(torch.uint8)
    y = torch.randint(0, 10, (64,))
    loss_fn = torch.nn.CrossEntropyLoss()
    own = LogicLayer.inputs
    if how == "plain indexing":
        LogicLayer.inputs = _plain_inputs
    try:
        for i in range(steps + 5):
            if i == 5:
                t0, c0 = time.perf_counter(), time.process_time()
            loss = loss_fn(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        wall, cpu = (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps
    finally:
        LogicLayer.inputs = own
        torch.set_num_threads(before)
    return {"connections": connections, "inputs": how, "layers": 4, "width": width, "batch": 64,
            "threads": threads, "ms_per_step": round(1000 * wall, 1), "cpu_ms_per_step": round(1000 * cpu, 1),
            "s_per_mnist_epoch": round(wall * 938, 1)}


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
    width = 400 if args.quick else 8000
    steps = [_step_row(c, how, t, width, 3 if args.quick else 20)
             for c, hows in (("learnable:8:local:3", ("rows of samples (lgn2hw)", "plain indexing")),
                             ("local:3", ("fixed",)))
             for how in hows for t in (1, 2)]
    print(table(steps, ["connections", "inputs", "width", "threads", "ms_per_step", "cpu_ms_per_step",
                        "s_per_mnist_epoch"]))
    path = write_json("train_quick" if args.quick else "train", {"rows": rows, "steps": steps})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
