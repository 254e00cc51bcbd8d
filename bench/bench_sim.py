"""Simulation throughput on the shared 48K-gate MNIST model: the reference interpreter, Verilator and Icarus
Verilog running lgn2hw's emitted core (default passes, default pipeline), vectors per second.

    python -m bench.bench_sim [--quick] [--model PATH] [--icarus-vectors N]

Each RTL simulator streams the MNIST bits through the core (cocotb testbench) and its class counts must equal
the interpreter's on every vector, or the script fails. Build time (compile of the testbench and core) is its own
column. ``--quick`` uses a small random network and a few vectors. Prints a table, writes
bench/results/sim.json (sim_quick.json with --quick)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._common import MODEL, ROOT  # noqa: E402


def _icarus_with_budget(args, n: int) -> dict:
    """Icarus in its own process group, killed after the budget (its vvp would outlive a plain timeout)."""
    cmd = [sys.executable, "-m", "bench.bench_sim", "--rtl-only", "icarus", "--icarus-vectors", str(n),
           "--model", str(args.model)] + (["--quick"] if args.quick else [])
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=ROOT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=args.icarus_budget)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        wall = time.perf_counter() - t0
        return {"engine": "icarus", "vectors": int(n), "build_s": None, "sim_s": None,
                "vectors_per_s": n / wall, "counts_equal": None,
                "note": f"did not finish {n} vectors in {wall:.0f} s: vectors_per_s is an upper bound"}
    if proc.returncode:
        raise SystemExit("icarus run failed")
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small random network, few vectors")
    ap.add_argument("--model", type=Path, default=MODEL, help="difflogic state dict (default: the shared model)")
    ap.add_argument("--icarus-vectors", type=int, default=20, help="vectors for Icarus (slow; default 20)")
    ap.add_argument("--icarus-budget", type=float, default=120.0,
                    help="seconds Icarus may take (build and run); beyond it the row records an upper bound")
    ap.add_argument("--rtl-only", choices=("verilator", "icarus"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    from bench._common import need_model, random_network, table, write_json
    from bench.bench_passes import mnist_bits, mnist_netlist
    from lgn2hw.back import EmitOptions
    from lgn2hw.back.rtlsim import RtlSim
    from lgn2hw.ir import evaluate
    from lgn2hw.passes import DEFAULT, run_passes
    bits, _ = mnist_bits()
    if args.quick:
        nl, name = random_network(400, 300, 3, 10), "random 400-300x3-10"
        bits, n_icarus = bits[:100], 20
    else:
        nl, name = mnist_netlist(need_model(args.model)), "shared 48K MNIST"
        n_icarus = args.icarus_vectors
    nl, _ = run_passes(nl, DEFAULT)
    evaluate(nl, bits[:64])
    t0 = time.perf_counter()
    want = evaluate(nl, bits)
    dt = time.perf_counter() - t0
    rows = [{"engine": "lgn2hw interpreter (C, 2 threads)", "vectors": len(bits), "build_s": 0.0, "sim_s": dt,
             "vectors_per_s": len(bits) / dt, "counts_equal": True}]
    work = Path(__file__).resolve().parent / "results" / ".sim_work"   # ignored by git; one directory per run
    work.mkdir(parents=True, exist_ok=True)
    for sim, n in (("verilator", len(bits)), ("icarus", n_icarus)):
        if sim != (args.rtl_only or "verilator"):
            continue                      # Icarus runs in its own process, under a time budget
        build = Path(tempfile.mkdtemp(prefix=f"{sim}-", dir=work))
        with RtlSim(nl, simulator=sim, options=EmitOptions(), build_dir=build) as rtl:
            rtl.build()
            res = rtl.run(bits[:n])
        equal = bool(np.array_equal(res.counts, want[:n]))
        shutil.rmtree(build, ignore_errors=True)
        if not equal:
            raise SystemExit(f"{sim}: class counts differ from the interpreter")
        rows.append({"engine": sim, "vectors": int(n), "build_s": res.build_seconds, "sim_s": res.sim_seconds,
                     "vectors_per_s": n / res.sim_seconds, "counts_equal": equal})
        if args.rtl_only:
            print(json.dumps(rows[-1]))
            return
        if sim == "verilator":
            rows.append(_icarus_with_budget(args, n_icarus))
    for r in rows:
        r["vs_interpreter"] = r["vectors_per_s"] / rows[0]["vectors_per_s"]
    print(f"{name}: {nl.n_nodes:,} gates after the passes")
    print(table(rows, ["engine", "vectors", "build_s", "sim_s", "vectors_per_s", "vs_interpreter", "counts_equal",
                       "note"]))
    print(f"wrote {write_json('sim' + ('_quick' if args.quick else ''), {'network': name, 'gates': int(nl.n_nodes), 'rows': rows})}")


if __name__ == "__main__":
    sys.exit(main())
