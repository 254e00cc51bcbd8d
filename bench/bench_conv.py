"""Convolutional torchlogix models: bit-exactness, unrolled size, and an ECP5 build of a small conv MNIST model.

    python -m bench.bench_conv [--quick] [--no-build] [--steps N]

Trains convolutional logic gate networks with the real torchlogix 0.2.2 package (installed by ``make setup``) on
the packaged data sets -- digits as 2x8x8 thermometer channels (raw, light, warp) and MNIST-5k (1x20x20) -- saves
each as a whole-model pickle, reads it with lgn2hw, and compares integer class counts with torchlogix's own eval
forward on every test image: the interpreter on the unrolled netlist, and again after the default passes. Reports
gates trained (unrolled: every kernel position its own gates) and live (after passes), accuracy, and times.

Unless ``--no-build``, the MNIST-5k model is compiled to Verilog (the backend, ``--pipeline auto``) and built
out of context for an ECP5 LFE5U-25F with the YoWASP tools (``lgn2hw.fpga.flow``): LUT4, FF and Fmax from
nextpnr. Prints tables, writes bench/results/conv.json.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))      # fixtures_libs: the real torchlogix and the training loop


def _torchlogix():
    from fixtures_libs import import_torchlogix  # the package with its circuit-export stub
    return import_torchlogix()


def _train(model, x, y, steps, batch, lr, seed=0):
    from fixtures_libs import train_classifier  # the loop the conv tests train with (all threads here)
    return train_classifier(model, x, y, steps, batch, lr, seed, one_thread=False)


def digits_model(param, k_num):
    import torch
    from torchlogix.layers import GroupSum, LogicConv2d, LogicDense, OrPooling2d
    return torch.nn.Sequential(
        LogicConv2d(in_dim=8, channels=2, num_kernels=k_num, tree_depth=2, receptive_field_size=3, padding=1,
                    parametrization=param),
        OrPooling2d(2, 2), torch.nn.Flatten(),
        LogicDense(k_num * 16, 800, parametrization=param), LogicDense(800, 500, parametrization=param),
        GroupSum(10, 10.0))


def mnist_model(k_num):
    import torch
    from torchlogix.layers import GroupSum, LogicConv2d, LogicDense, OrPooling2d
    return torch.nn.Sequential(
        LogicConv2d(in_dim=20, channels=1, num_kernels=k_num, tree_depth=2, receptive_field_size=3),
        OrPooling2d(2, 2),
        LogicConv2d(in_dim=9, channels=k_num, num_kernels=2 * k_num, tree_depth=2, receptive_field_size=3,
                    connections_kwargs={"channel_group_size": 2}),
        OrPooling2d(2, 2, 1), torch.nn.Flatten(),
        LogicDense(2 * k_num * 16, 1000), LogicDense(1000, 800),
        GroupSum(10, 16.0))


def measure(name, model, ds, shape, tau, steps, lr, work: Path):
    import contextlib
    import io

    import torch

    from lgn2hw.frontend import LoadOptions, load_model
    from lgn2hw.ir import evaluate
    from lgn2hw.ir.analysis import live_nodes, logic_nodes
    from lgn2hw.passes import DEFAULT, run_passes
    xtr = ds.train_bits.reshape(-1, *shape).astype(np.float32)
    xte = ds.test_bits.reshape(-1, *shape).astype(np.float32)
    t0 = time.perf_counter()
    model = _train(model, xtr, ds.y_train, steps, 128, lr)
    t_train = time.perf_counter() - t0
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        lib = model(torch.from_numpy(xte)).double().numpy() * tau
    expect = np.rint(lib).astype(np.int64)
    assert np.abs(expect - lib).max() < 1e-3
    path = work / f"{name}.pt"
    torch.save(model, path)
    t0 = time.perf_counter()
    nl = load_model(path, LoadOptions(trust_pickle=True))
    t_load = time.perf_counter() - t0
    got = evaluate(nl, ds.test_bits)
    t0 = time.perf_counter()
    opt, _ = run_passes(nl, DEFAULT)
    t_pass = time.perf_counter() - t0
    got_opt = evaluate(opt, ds.test_bits)
    live = int((live_nodes(opt) & logic_nodes(opt)).sum())
    row = {"model": name, "input": "x".join(map(str, shape)), "test_images": len(xte),
           "equal_ir": int((got == expect).all(1).sum()), "equal_passes": int((got_opt == expect).all(1).sum()),
           "exact": "yes" if np.array_equal(got, expect) and np.array_equal(got_opt, expect) else "NO",
           "accuracy": float((expect.argmax(1) == ds.y_test).mean()),
           "gates_trained": int(nl.n_nodes), "gates_live": live,
           "train_s": round(t_train, 1), "load_s": round(t_load, 3), "passes_s": round(t_pass, 2)}
    return row, opt


def build(opt, work: Path, quick: bool) -> dict:
    from lgn2hw.back import EmitOptions, emit_verilog
    from lgn2hw.data import load_mnist5k
    from lgn2hw.fpga.boards import resolve_target
    from lgn2hw.fpga.flow import BuildOptions, run_build
    target = resolve_target(device="LFE5U-25F", package="CABGA256")
    core = emit_verilog(opt, EmitOptions(pipeline="auto", freq_mhz=100.0))
    out = work / "build_mnist_conv"
    shutil.rmtree(out, ignore_errors=True)
    bits = load_mnist5k().test_bits[:64]
    t0 = time.perf_counter()
    res = run_build(opt, core, target, out, BuildOptions(freq_mhz=100.0, postsim_samples=0 if quick else 64,
                                                         postsim_inputs=bits, cache=False))
    rep = res.report
    return {"target": rep["target"], "lut4": rep["synth"].get("lut4"), "ff": rep["synth"].get("ff"),
            "fmax_mhz": rep["pnr"]["fmax_mhz"], "latency_cycles": rep["latency_cycles"],
            "throughput_samples_per_s": rep["throughput_samples_per_s"],
            "postsim": rep.get("postsim"), "build_s": round(time.perf_counter() - t0, 1),
            "tools": rep.get("tools")}


def main(argv=None):
    from bench._common import table, write_json
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few training steps, small models: checks the script runs")
    ap.add_argument("--no-build", action="store_true", help="skip the ECP5 build")
    ap.add_argument("--steps", type=int, default=None, help="training steps per model (default 300, quick 20)")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    _torchlogix()
    from lgn2hw.data import load_digits, load_mnist5k
    steps = args.steps or (20 if args.quick else 300)
    work = ROOT / "bench" / "results" / ".conv_work"
    work.mkdir(parents=True, exist_ok=True)
    digits = load_digits(thresholds=(4.0, 10.0))
    mnist = load_mnist5k()
    rows, mnist_opt = [], None
    for param in ("raw", "light", "warp"):
        torch.manual_seed(1)
        row, _ = measure(f"digits_conv_{param}", digits_model(param, 4 if args.quick else 16), digits, (2, 8, 8),
                         10.0, steps, 0.05, work)
        rows.append(row)
        print(row, flush=True)
    torch.manual_seed(2)
    row, mnist_opt = measure("mnist5k_conv_raw", mnist_model(4 if args.quick else 8), mnist, (1, 20, 20), 16.0,
                             steps, 0.1, work)
    rows.append(row)
    print(row, flush=True)
    print()
    print(table(rows, ["model", "input", "test_images", "equal_ir", "equal_passes", "exact", "accuracy",
                       "gates_trained", "gates_live", "train_s", "load_s", "passes_s"]))
    built = None
    if not args.no_build:
        built = build(mnist_opt, work, args.quick)
        print()
        print(table([{"model": "mnist5k_conv_raw", **{k: v for k, v in built.items() if k not in ("tools",)},
                      "postsim": ("equal" if built["postsim"].get("equal") else "DIFFERS")
                      if isinstance(built["postsim"], dict) else "not run"}],
                    ["model", "target", "lut4", "ff", "fmax_mhz", "latency_cycles", "throughput_samples_per_s",
                     "postsim", "build_s"]))
    payload = {"steps": steps, "models": rows, "ecp5_build": built}
    if args.quick:
        print("(quick run: nothing written)")
    else:
        print("wrote", write_json("conv", payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
