"""Compile time and peak memory per stage against network size: load -> passes -> Verilog.

    python -m bench.bench_scale [--quick] [--model PATH]

Networks: random difflogic state dicts of 48K (400-8000x6-10), 384K (784-64000x6-10) and 1.28M (784-256000x5-10)
gates, written to a temporary .pth and read back through ``load_model`` like any checkpoint, and the trained
shared 48K MNIST model; the 1.28M network also with the passes off (random gates are mostly dead, so the
passes leave about a quarter of them; with the passes off every gate reaches the Verilog). Each network runs in a fresh process; the peak memory after each stage is that process's
peak so far (so it includes the stages before). Synthesis and place-and-route figures come from
``bench_build`` (bench/results/build.json) and are joined in RESULTS.md. Prints a table, writes
bench/results/scale.json (scale_quick.json with --quick)."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench._common import MODEL  # noqa: E402

PLAN = [("48K random", 400, 8000, 6), ("384K random", 784, 64000, 6), ("1.28M random", 784, 256000, 5)]
QUICK = [("6K random", 400, 1000, 6)]


def measure(model: str, shape: str, passes: str = "1") -> dict:
    import torch  # noqa: F401  (the import is not a stage)

    from bench._common import peak_rss_mb
    from lgn2hw.back import EmitOptions, emit_verilog
    from lgn2hw.frontend import LoadOptions, load_model
    from lgn2hw.passes import DEFAULT, run_passes
    row = {"python_base_mb": peak_rss_mb()}
    t0 = time.perf_counter()
    nl = load_model(model, LoadOptions(classes=10, input_shape=tuple(int(d) for d in shape.split(","))))
    t1 = time.perf_counter()
    row.update(gates=int(nl.n_nodes), load_s=t1 - t0, load_peak_mb=peak_rss_mb())
    opt = run_passes(nl, DEFAULT)[0] if passes == "1" else nl
    t2 = time.perf_counter()
    row.update(into_verilog=int(opt.n_nodes), passes_s=t2 - t1, passes_peak_mb=peak_rss_mb())
    del nl
    res = emit_verilog(opt, EmitOptions())
    t3 = time.perf_counter()
    row.update(gates_emitted=int(res.report["gates"]), verilog_s=t3 - t2, verilog_peak_mb=peak_rss_mb(),
               verilog_mb=sum(len(str(t).encode()) for t in res.files.values()) / 1e6,
               to_verilog_s=t3 - t0, peak_rss_mb=peak_rss_mb())
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one small network: only checks that the script runs")
    ap.add_argument("--model", type=Path, default=MODEL, help="trained difflogic state dict (default: shared model)")
    ap.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    from bench._common import have_model, in_subprocess, table, write_difflogic_state_dict, write_json
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, n_in, width, layers in (QUICK if args.quick else PLAN):
            path = Path(tmp) / f"{name.split()[0]}.pth"
            write_difflogic_state_dict(path, n_in, width, layers)
            shape = "1,20,20" if n_in == 400 else "1,28,28"
            for passes in ("1", "0") if name.startswith(("1.28M", "6K")) else ("1",):
                row = in_subprocess("bench.bench_scale", "--measure", str(path), shape, passes)
                label = f"{name} ({n_in}-{width}x{layers}-10)" + ("" if passes == "1" else ", passes off")
                rows.append({"network": label, "file_mb": path.stat().st_size / 1e6, **row})
            path.unlink()
    if not args.quick and have_model(args.model, "the 48K trained row"):
        rows.append({"network": "48K trained (shared MNIST)", "file_mb": args.model.stat().st_size / 1e6,
                     **in_subprocess("bench.bench_scale", "--measure", str(args.model), "1,20,20", "1")})
    print(table(rows, ["network", "gates", "into_verilog", "load_s", "passes_s", "verilog_s", "to_verilog_s",
                       "load_peak_mb", "passes_peak_mb", "peak_rss_mb", "verilog_mb"]))
    print(f"wrote {write_json('scale' + ('_quick' if args.quick else ''), {'rows': rows})}")


if __name__ == "__main__":
    sys.exit(main())
