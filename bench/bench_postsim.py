"""Post-synthesis simulation of the shared 48K-gate MNIST model: the core synthesized by yosys for a bare ECP5-85F
(``synth_ecp5``, mapped netlist written as Verilog), then simulated with yosys' cell models on all 5,000 MNIST-5k
images, class counts compared with the interpreter sample by sample.

    python -m bench.bench_postsim [--shared PATH] [--samples 5000] [--icarus N] [--work build/postsim48k]
                                  [--synth-only] [-o bench/results/postsim_48k.json]

The synthesis is kept in ``--work`` and reused by the next run when the emitted core is byte-identical (its
recorded time is the run that made it). ``--icarus N`` also runs Icarus on the first N images, for the rate
comparison. Prints a table, writes the JSON. The shared model is only read, never copied.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED_MODEL = Path("/work/shared/models/mnist20x20_8000x6_mase.pth")
DEVICE, PACKAGE, FREQ = "LFE5U-85F", "CABGA381", 100.0


def _digest(files: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()


def synthesize(nl, work: Path):
    """Emit the core as ``lgn2hw compile --device LFE5U-85F --package CABGA381`` does, synthesize it (or reuse an
    earlier synthesis of the same core); returns (core, target, synthesis record)."""
    from lgn2hw.back import EmitOptions, emit_verilog
    from lgn2hw.build import BuildOptions, resolve_target, run_build
    target = resolve_target(None, DEVICE, PACKAGE)
    t0 = time.monotonic()
    core = emit_verilog(nl, EmitOptions(pipeline="auto", freq_mhz=FREQ))
    emit_s = time.monotonic() - t0
    digest = _digest(core.files)
    record_path = work / "synth.json"
    if record_path.is_file() and (work / "build" / f"{core.top}.syn.v").is_file():
        record = json.loads(record_path.read_text())
        if record.get("core_digest") == digest:
            record["reused"] = True
            return core, target, record
    t0 = time.monotonic()
    rep = run_build(nl, core, target, work, BuildOptions(freq_mhz=FREQ, postsim_samples=0,
                                                          stop_after="synth-core")).report
    record = {"core_digest": digest, "gates": core.report["gates"], "latency_cycles": int(core.latency),
              "emit_s": round(emit_s, 1), "synth_core_s": round(rep["times_s"]["synth-core"], 1),
              "synth_wall_s": round(time.monotonic() - t0, 1), "synth_flags": rep["synth_flags"],
              "lut4": rep["core"]["lut4"], "ff": rep["core"]["ff"],
              "cells": rep["core"]["cells"], "yosys": rep["tools"]["yosys"]}
    record_path.write_text(json.dumps(record, indent=1) + "\n")
    record["reused"] = False
    return core, target, record


def postsim(nl, core, work: Path, bits, simulator: str) -> dict:
    from lgn2hw.build import BuildOptions
    from lgn2hw.build.flow import _share_dir
    from lgn2hw.build.postsim import simulate_mapped
    from lgn2hw.build.toolchain import require
    opts = BuildOptions(postsim_samples=len(bits), postsim_inputs=bits, postsim_sim=simulator)
    bdir = work / "build"
    t0 = time.monotonic()
    res = simulate_mapped(nl, core, bdir, f"{core.top}.syn.v", _share_dir(require("yosys")) / "ecp5", opts)
    res["wall_s"] = round(time.monotonic() - t0, 1)
    return res


def main():
    from bench.bench_passes import mnist_bits, mnist_netlist
    from lgn2hw.passes import DEFAULT, run_passes
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(SHARED_MODEL))
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--icarus", type=int, default=0, help="also run Icarus on the first N images")
    ap.add_argument("--work", default=str(ROOT / "build" / "postsim48k"))
    ap.add_argument("--synth-only", action="store_true")
    ap.add_argument("-o", "--output", default=str(ROOT / "bench" / "results" / "postsim_48k.json"))
    args = ap.parse_args()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    nl, _ = run_passes(mnist_netlist(Path(args.shared)), DEFAULT)
    bits, _ = mnist_bits()
    bits = bits[:args.samples].astype(np.uint8)
    core, target, synth = synthesize(nl, work)
    print(f"synthesis  {synth['gates']:,} gates -> LUT4 {synth['lut4']:,}, FF {synth['ff']:,}, "
          f"synth_ecp5 {synth['synth_core_s']} s" + (" (reused)" if synth["reused"] else ""), flush=True)
    if args.synth_only:
        return
    runs = []
    for sim, n in (("verilator", len(bits)), ("icarus", args.icarus)):
        if not n:
            continue
        r = postsim(nl, core, work, bits[:n], sim)
        runs.append(r)
        print(f"{sim:<10} {r['samples']:>5} samples, equal={r['equal']}, build {r.get('build_s')} s, "
              f"run {r.get('run_s')} s, {r.get('vectors_per_s')} vectors/s", flush=True)
    result = {"model": f"mnist48k ({synth['gates']:,} gates after passes)",
              "target": f"{target.name} (bare, out of context)", "synthesis": synth, "postsim": runs,
              "host": f"{os.cpu_count()} cores"}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
