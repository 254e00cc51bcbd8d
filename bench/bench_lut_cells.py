"""Gate LUTs as device primitives against generic Verilog: core synthesis time and LUT counts for a bare ECP5-85F.

    python -m bench.bench_lut_cells [--model PATH] [--only example|shared] [--paths cells,generic]
                                    [--postsim 256] [--split] [--work build/lut_cells] [-o lut_cells]

For each model (the committed example ``examples/digits_lgn.pt`` and the shared 48K-gate MNIST model) the core is
emitted as ``lgn2hw compile MODEL --device LFE5U-85F --package CABGA381 --freq 250`` emits it, once with LUT and
flip-flop cells (``lut_cells``, what a target now gets: ``LUT4`` for the gate LUTs and the popcount's first
adders, ``TRELLIS_FF`` for the registers) and once as generic Verilog (what it got before), and synthesized by
the build's own ``synth-core`` step (``synth_ecp5``, no step cache). Recorded: the
step's wall time, the LUT4 count (CCU2C as two) overall and per block, how many of the gate module's instances
the mapped netlist holds, the LUTs ABC9 made, yosys' CPU time and the load average around it (the machine is
shared: wall times depend on what else runs), and with ``--postsim N`` post-synthesis simulation of the
primitive core against the interpreter. ``--split`` runs the same synthesis script once more with ``yosys -d``
and records where the time went (seconds per pass, ABC9 on its own). The shared model is only read, never copied.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import MODEL, RESULTS, have_model, write_json  # noqa: E402

EXAMPLE_MODEL = ROOT / "examples" / "digits_lgn.pt"
DEVICE, PACKAGE, FREQ = "LFE5U-85F", "CABGA381", 250.0


def emit(nl, target, cells: bool):
    """The core as ``compile --device`` emits it (EmitOptions.for_target), with or without LUT cells."""
    from lgn2hw.back import EmitOptions, emit_verilog
    opts = EmitOptions.for_target(target.family, target.device.bram, freq_mhz=FREQ)
    if not cells:
        opts = replace(opts, lut_cells=None)
    t0 = time.monotonic()
    core = emit_verilog(nl, opts)
    return core, time.monotonic() - t0


def _digest(files: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()


def _gate_cells(core_json: Path) -> int:
    mod = json.loads(core_json.read_text())["modules"]["lgn_core"]
    return sum(1 for name, c in mod["cells"].items()
               if c["type"] == "LUT4" and re.fullmatch(r"datapath\.gates\.g\d+_\d+", name))


def _abc9_luts(log: str) -> int | None:
    m = re.search(r"ABC RESULTS:\s+\$lut cells:\s+(\d+)", log)
    return int(m.group(1)) if m else None


# the passes of yosys' abc9 script (exported to ABC as XAIGER, mapped, read back and reintegrated)
ABC9_PASSES = ("abc9", "abc9_ops", "abc9_exe", "aigmap", "write_xaiger2", "read_aiger", "abc_ops_reintegrate")


def split(bdir: Path, work: Path) -> dict:
    """The synthesis script once more under ``yosys -d``: seconds per pass (the twelve largest, and ABC9's passes
    together), from yosys' own table of each pass's time without the passes it calls."""
    from lgn2hw.fpga.toolchain import require
    sdir = work / "split"
    shutil.rmtree(sdir, ignore_errors=True)
    shutil.copytree(bdir, sdir, ignore=shutil.ignore_patterns("*.json", "*.syn.v", "*.log", "postsim*"))
    wall = require("yosys").run(["-q", "-d", "-l", "split.log", "synth-core.ys"], sdir, sdir / "split.run.log",
                                "split")
    text = (sdir / "split.log").read_text()
    passes = {m.group(2): float(m.group(1)) for m in
              re.finditer(r"^\s+\d+%\s+\d+ calls\s+([\d.]+) sec (\S+)$", text[text.rfind("Time spent:"):], re.M)}
    top = {k: round(v, 1) for k, v in sorted(passes.items(), key=lambda kv: -kv[1])[:12]}
    return {"wall_s": round(wall, 1), "abc9_s": round(sum(passes.get(k, 0.0) for k in ABC9_PASSES), 1),
            "passes_s": round(sum(passes.values()), 1), "top_passes_s": top}


def run(name: str, nl, cells: bool, work: Path, postsim: int, do_split: bool) -> dict:
    from lgn2hw.fpga import BuildOptions, resolve_target, run_build
    target = resolve_target(None, DEVICE, PACKAGE)
    core, emit_s = emit(nl, target, cells)
    out = work / f"{name}-{'cells' if cells else 'generic'}"
    shutil.rmtree(out, ignore_errors=True)
    samples = postsim if cells else 0
    load0, cpu0 = os.getloadavg()[0], resource.getrusage(resource.RUSAGE_CHILDREN)
    rep = run_build(nl, core, target, out, BuildOptions(freq_mhz=FREQ, postsim_samples=0, stop_after="synth-core",
                                                        cache=False)).report
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = [round(load0, 1), round(os.getloadavg()[0], 1)]
    bdir = out / "build"
    log = (bdir / "synth-core.log").read_text()
    c = rep["core"]
    row = {"model": name, "path": "LUT4 and FF cells" if cells else "generic Verilog",
           "gates": core.report["gates"], "gate_luts_emitted": (core.report["lut_cells"] or {}).get("instances", 0),
           "emit_s": round(emit_s, 2), "synth_core_s": round(rep["times_s"]["synth-core"], 1),
           "synth_core_cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1),
           "load_avg_1min_start_end": load,
           "lut4": c["lut4"], "ff": c["ff"], "bram": c["bram"], "cells": c["cells"],
           "blocks_lut4": {b: v.get("lut4", 0) for b, v in c["blocks"].items()},
           "gate_cells_kept": _gate_cells(bdir / "core.json"), "abc9_luts": _abc9_luts(log),
           "yosys_time_spent": log[log.rfind("Time spent:"):].splitlines()[0] if "Time spent:" in log else None,
           "latency": int(core.latency), "yosys": rep["tools"]["yosys"], "core_digest": _digest(core.files),
           "command": "python -m bench.bench_lut_cells " + " ".join(sys.argv[1:]),
           "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if samples:         # the build's post-synthesis simulation of the mapped core, against the interpreter
        from lgn2hw.fpga.postsim import simulate_mapped
        from lgn2hw.fpga.toolchain import require, share_dir
        t0 = time.monotonic()
        ps = simulate_mapped(nl, core, bdir, f"{core.top}.syn.v", share_dir(require("yosys")) / target.family,
                             BuildOptions(postsim_samples=samples))
        row["postsim"] = {k: ps.get(k) for k in ("samples", "equal", "simulator", "build_s", "run_s")}
        row["postsim_s"] = round(time.monotonic() - t0, 1)
    if do_split:
        row["split"] = split(bdir, out)
    print(f"{name:<9} {row['path']:<16} synth-core {row['synth_core_s']:>7.1f} s  LUT4 {row['lut4']:>6,}  "
          f"gate cells kept {row['gate_cells_kept']:>6,}/{row['gate_luts_emitted']:,}  ABC9 LUTs "
          f"{row['abc9_luts']}" + (f"  postsim {row['postsim']['samples']} "
                                   f"{'equal' if row['postsim']['equal'] else 'DIFFERENT'}" if samples else ""),
          flush=True)
    return row


def main():
    import lgn2hw
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=MODEL, help="the shared 48K model (skipped when absent)")
    ap.add_argument("--only", choices=("shared", "example"))
    ap.add_argument("--postsim", type=int, default=256, help="post-synthesis samples for the LUT-cell core")
    ap.add_argument("--split", action="store_true", help="also time each synthesis pass (yosys -d, a second run)")
    ap.add_argument("--paths", default="cells,generic", help="which emissions to build: cells, generic or both")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "lut_cells")
    ap.add_argument("-o", "--output", default="lut_cells", help="result name under bench/results/")
    args = ap.parse_args()
    work = args.work.resolve()
    rows = []
    models = []
    if args.only in (None, "example"):
        models.append(("example", lambda: lgn2hw.optimize(lgn2hw.load(EXAMPLE_MODEL))))
    if args.only in (None, "shared") and have_model(args.model, "the shared model"):
        models.append(("mnist48k", lambda: lgn2hw.optimize(lgn2hw.load(args.model, classes=10))))
    for name, load in models:
        nl = load()
        for path in args.paths.split(","):
            rows.append(run(name, nl, path == "cells", work, args.postsim, args.split))
    earlier = RESULTS / f"{args.output}.json"
    if earlier.is_file():       # rows not run this time stay; a split of the same core is kept
        old = {(r["model"], r["path"]): r for r in json.loads(earlier.read_text())["rows"]}
        for r in rows:
            prev = old.pop((r["model"], r["path"]), {})
            if "split" not in r and "split" in prev and prev.get("core_digest") == r["core_digest"]:
                r["split"] = prev["split"]
                r["split_command"] = prev.get("split_command") or prev.get("command")
        rows += list(old.values())
    rows.sort(key=lambda r: (r["model"] != "example", r["model"], r["path"]))
    path = write_json(args.output, {"device": f"{DEVICE}-{PACKAGE} (bare)", "freq_mhz": FREQ, "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
