"""Post-synthesis simulation speed and equality: the core synthesized by yosys for a bare ECP5-85F (``synth_ecp5``,
mapped netlist written as Verilog), simulated with yosys' cell models by Verilator and by Icarus, class counts
compared with the interpreter sample by sample.

    python -m bench.bench_postsim [--shared PATH] [--samples 5000] [--icarus N] [--only shared|example]
                                  [--work build/postsim] [--synth-only] [-o bench/results/postsim_48k.json]

Rows: the shared 48K-gate MNIST model on the first ``--samples`` MNIST-5k images with Verilator (and with Icarus on
the first ``--icarus`` images: it manages well under one image per second there), and the example model
(``examples/digits_lgn.pt``) on 256 random inputs with both, for the size at which ``auto`` switches.

A synthesis is kept in ``--work`` and reused by the next run when the emitted core is byte-identical (its recorded
time is that of the run that made it); results of simulators not run this time are kept from the earlier JSON when
the synthesized core is the same. Prints a table, writes the JSON. The shared model is only read, never copied.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import MODEL, have_model, scrub  # noqa: E402

EXAMPLE_MODEL = ROOT / "examples" / "digits_lgn.pt"
DEVICE, PACKAGE, FREQ = "LFE5U-85F", "CABGA381", 100.0


def _digest(files: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()


def _commit() -> str:
    try:
        rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
        return rev.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def synthesize(nl, work: Path):
    """Emit the core as ``lgn2hw compile --device LFE5U-85F --package CABGA381`` does, synthesize it (or reuse an
    earlier synthesis of the same core); returns (core, target, synthesis record)."""
    from lgn2hw.back import EmitOptions, emit_verilog
    from lgn2hw.fpga import BuildOptions, resolve_target, run_build
    target = resolve_target(None, DEVICE, PACKAGE)
    t0 = time.monotonic()
    core = emit_verilog(nl, EmitOptions(pipeline="auto", freq_mhz=FREQ))
    emit_s = time.monotonic() - t0
    digest = _digest(core.files)
    record_path = work / "synth.json"
    if record_path.is_file() and (work / "build" / f"{core.top}.syn.v").is_file():
        record = json.loads(record_path.read_text())
        if record.get("core_digest") == digest:
            return core, target, {**record, "reused": True}
    t0 = time.monotonic()
    rep = run_build(nl, core, target, work, BuildOptions(freq_mhz=FREQ, postsim_samples=0, cache=False,
                                                          stop_after="synth-core")).report
    record = {"core_digest": digest, "commit": _commit(), "gates": core.report["gates"],
              "latency_cycles": int(core.latency), "emit_s": round(emit_s, 1),
              "synth_core_s": round(rep["times_s"]["synth-core"], 1), "synth_flags": rep.get("synth_flags", ""),
              "lut4": rep["core"]["lut4"], "ff": rep["core"]["ff"], "cells": rep["core"]["cells"],
              "yosys": rep["tools"]["yosys"]}
    record_path.write_text(json.dumps(record, indent=1) + "\n")
    return core, target, {**record, "reused": False}


def postsim(nl, core, work: Path, inputs, simulator: str, timeout_s=None) -> dict:
    from lgn2hw.errors import Lgn2hwError
    from lgn2hw.fpga import BuildOptions
    from lgn2hw.fpga.postsim import simulate_mapped
    from lgn2hw.fpga.toolchain import require, share_dir
    opts = BuildOptions(postsim_samples=len(inputs) if inputs is not None else 256, postsim_inputs=inputs,
                        postsim_sim=simulator, timeout_s=timeout_s)
    t0 = time.monotonic()
    try:
        res = simulate_mapped(nl, core, work / "build", f"{core.top}.syn.v", share_dir(require("yosys")) / "ecp5",
                              opts)
    except Lgn2hwError as err:
        res = {"simulator": simulator, "samples": opts.postsim_samples, "error": err.message}
    res["wall_s"] = round(time.monotonic() - t0, 1)
    res.pop("netlist", None)
    return res


def run_model(name, nl, inputs, work, runs, previous, synth_only):
    core, target, synth = synthesize(nl, work)
    print(f"{name:<9} {synth['gates']:,} gates -> LUT4 {synth['lut4']:,}, FF {synth['ff']:,}, synth_ecp5 "
          f"{synth['synth_core_s']} s" + (" (reused)" if synth["reused"] else ""), flush=True)
    row = {"model": f"{name} ({synth['gates']:,} gates after passes)", "target": f"{target.name} (bare)",
           "synthesis": synth, "postsim": {}}
    if previous and previous.get("synthesis", {}).get("core_digest") == synth["core_digest"]:
        row["postsim"] = dict(previous.get("postsim", {}))
    if synth_only:
        return row
    for sim, n, timeout in runs:
        if n:
            res = postsim(nl, core, work, None if inputs is None else inputs[:n], sim, timeout)
            row["postsim"][sim] = res
            print_row(name, res)
    return row


def print_row(name, r):
    state = "equal" if r.get("equal") else r.get("error", "-")[:60]
    print(f"{name:<9} {r['simulator']:<10} {r['samples']:>6} {r.get('build_s', '-'):>8} {r.get('run_s', '-'):>8} "
          f"{r.get('vectors_per_s', '-'):>10}  {state}", flush=True)


def main():
    from bench.bench_passes import mnist_bits, mnist_netlist
    from lgn2hw.frontend import load_model
    from lgn2hw.passes import DEFAULT, run_passes
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=MODEL, help="the shared 48K model (skipped when absent)")
    ap.add_argument("--samples", type=int, default=5000, help="MNIST-5k images for Verilator (0: none)")
    ap.add_argument("--icarus", type=int, default=0, help="MNIST-5k images for Icarus (0: none)")
    ap.add_argument("--icarus-timeout", type=float, default=1800.0)
    ap.add_argument("--only", choices=("shared", "example"))
    ap.add_argument("--work", default=str(ROOT / "build" / "postsim"))
    ap.add_argument("--synth-only", action="store_true")
    ap.add_argument("-o", "--output", default=str(ROOT / "bench" / "results" / "postsim_48k.json"))
    args = ap.parse_args()
    work = Path(args.work).resolve()
    out = Path(args.output)
    previous = json.loads(out.read_text()) if out.is_file() else {}
    result = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "host": f"{os.cpu_count()} cores",
              "load_avg_1min_start_end": [round(os.getloadavg()[0], 1)], "rows": {}}
    print(f"{'model':<9} {'simulator':<10} {'samples':>6} {'build s':>8} {'run s':>8} {'vectors/s':>10}")
    if args.only in (None, "example") and EXAMPLE_MODEL.exists():
        nl, _ = run_passes(load_model(EXAMPLE_MODEL), DEFAULT)
        result["rows"]["example"] = run_model("example", nl, None, work / "example",
                                              [("verilator", 256, None), ("icarus", 256, None)],
                                              previous.get("rows", {}).get("example"), args.synth_only)
    if args.only in (None, "shared") and have_model(args.shared, "the shared model", "--shared"):
        nl, _ = run_passes(mnist_netlist(args.shared), DEFAULT)
        bits, _ = mnist_bits()
        bits = bits.astype(np.uint8)
        result["rows"]["mnist48k"] = run_model("mnist48k", nl, bits, work / "mnist48k",
                                               [("verilator", args.samples, None),
                                                ("icarus", args.icarus, args.icarus_timeout)],
                                               previous.get("rows", {}).get("mnist48k"), args.synth_only)
    for key, row in previous.get("rows", {}).items():
        result["rows"].setdefault(key, row)
    result["load_avg_1min_start_end"].append(round(os.getloadavg()[0], 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(scrub(json.dumps(result, indent=1)) + "\n")


if __name__ == "__main__":
    main()
