"""torchlogix 0.2.2's own Verilog for the shared 48K MNIST model, through the same yosys and nextpnr as lgn2hw's
hardware rows (bench_hwq): the hardware-quality peer row.

    python -m bench.bench_peers_hw [--model PATH] [--pnr-timeout S] [--check-vectors N]

Steps, each timed, each result written to bench/results/peers_hw.json as soon as it is known (a long run keeps
what it measured):

1. export: ``Circuit.from_model(model, [1, 20, 20])`` -> ``simplify()`` -> ``get_verilog_code()`` (torchlogix's
   circuit.py imported from a patched temporary copy, see bench_peers).
2. check: Icarus runs torchlogix's Verilog on the first N MNIST-5k images and compares the ten class counts with
   lgn2hw's interpreter on the same network, sample for sample (under a time budget; the row says so when the
   budget runs out). This is what makes the row a like-for-like comparison.
3. synth: torchlogix's module inside a wrapper of ours that registers its inputs and its outputs (one clock,
   400 + 160 flip-flops, latency 2), so that nextpnr can time it: out of context, nextpnr times no
   port-to-port paths, and a bare combinational design gets no timing figure at all. The registers add no
   LUTs. yosys ``synth_ecp5 -nowidelut``. yosys 0.70's ``synth_ecp5`` (a wrapper of ``synth_lattice``) always
   maps LUTs with ABC9: it accepts ``-noabc9`` and ignores it, so lgn2hw's 48K builds (which pass ``-noabc9``) are
   mapped by ABC9 as well; the row records which mapper the log shows. About 30 minutes on this machine.
4. pnr: nextpnr-ecp5 ``--85k --package CABGA381 --speed 6 --out-of-context --freq 250``: LUT4/TRELLIS_COMB
   after packing and the Fmax of the wrapper's clock, i.e. of torchlogix's whole network as one cycle.

Tools run with cwd in the build directory (bench/work/peers_hw/, git-ignored) and relative paths. Long: tens of
minutes of one core; not part of ``make bench`` (``make bench-hw`` runs it).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import MODEL, ROOT  # noqa: E402

WORK = ROOT / "bench" / "work" / "peers_hw"
NAME = "peers_hw"


def export(model: Path, out_v: Path) -> dict:
    from bench.bench_peers import _patched_circuit, torchlogix_net
    with tempfile.TemporaryDirectory() as tmp:
        Circuit = _patched_circuit(Path(tmp))
        t0 = time.perf_counter()
        circ = Circuit.from_model(torchlogix_net(model), [1, 20, 20])
        before = len(circ.gates)
        circ.simplify()
        text = circ.get_verilog_code()
        dt = time.perf_counter() - t0
    out_v.write_text(text)
    top = re.search(r"^\s*module\s+(\w+)", text, flags=re.M).group(1)
    return {"export_s": round(dt, 2), "gates_before": before, "gates_kept": len(circ.gates), "top": top,
            "verilog_mb": round(len(text.encode()) / 1e6, 3)}


_TB = """`timescale 1ns/1ps
module tb;
  reg [399:0] inp;
  wire [159:0] scores_flat;
  reg [399:0] mem [0:{last}];
  integer k, c;
  {top} dut (.inp(inp), .scores_flat(scores_flat));
  initial begin
    $readmemb("vectors.mem", mem);
    for (k = 0; k <= {last}; k = k + 1) begin
      inp = mem[k];
      #10;
      for (c = 0; c < 10; c = c + 1) $write("%0d ", scores_flat[c*16 +: 16]);
      $write("\\n");
    end
    $finish;
  end
endmodule
"""


def check(model: Path, bdir: Path, verilog: str, top: str, n: int, budget: float) -> dict:
    """Icarus on torchlogix's Verilog against lgn2hw's interpreter (class counts, every sample)."""
    from bench.bench_passes import mnist_bits
    from lgn2hw.frontend import LoadOptions, load_model
    from lgn2hw.ir import evaluate
    if not shutil.which("iverilog") or not shutil.which("vvp"):
        return {"skipped": "iverilog not installed"}
    bits, _ = mnist_bits()
    x = np.asarray(bits[:n], dtype=np.uint8)
    want = evaluate(load_model(model, LoadOptions(classes=10, input_shape=(1, 20, 20))), x)
    # inp[i] is input bit i: the row is written most significant bit (bit 399) first
    (bdir / "vectors.mem").write_text("".join("".join(str(int(b)) for b in row[::-1]) + "\n" for row in x))
    (bdir / "tb.v").write_text(_TB.format(last=n - 1, top=top))
    t0 = time.perf_counter()
    subprocess.run(["iverilog", "-g2005", "-o", "tb.vvp", "tb.v", verilog], cwd=bdir, check=True,
                   capture_output=True)
    try:
        out = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=bdir, capture_output=True, text=True, timeout=budget,
                             check=True).stdout
    except subprocess.TimeoutExpired:
        return {"samples": n, "equal": None, "note": f"Icarus did not finish {n} vectors in {budget:.0f} s"}
    got = np.array([[int(v) for v in line.split()] for line in out.splitlines() if re.match(r"^\d", line)])
    equal = got.shape == want.shape and bool(np.array_equal(got, want))
    row = {"samples": n, "equal": equal, "sim_s": round(time.perf_counter() - t0, 1),
           "compared": "ten class counts per sample against lgn2hw's interpreter (no passes)"}
    if not equal and got.shape == want.shape:
        diff = got - want
        row["samples_differing"] = int((diff != 0).any(axis=1).sum())
        row["classes_differing"] = [int(c) for c in np.flatnonzero((diff != 0).any(axis=0))]
        if (diff == diff[0]).all():             # the same offset on every sample: a lost constant
            row["constant_offset_per_class"] = [int(v) for v in diff[0]]
    return row


_WRAP = """
// bench_peers_hw: torchlogix's module between input and output registers, so that nextpnr can time it
module registered (input clk, input [{ni}:0] inp, output reg [{no}:0] scores_flat);
  reg [{ni}:0] inp_q;
  wire [{no}:0] s;
  {top} dut (.inp(inp_q), .scores_flat(s));
  always @(posedge clk) begin
    inp_q <= inp;
    scores_flat <= s;
  end
endmodule
"""


def wrap(bdir: Path, verilog: str, top: str) -> str:
    """Write registered.v (torchlogix's Verilog + the wrapper); returns its name. The wrapper's top is
    ``registered``."""
    text = (bdir / verilog).read_text()
    ni = int(re.search(r"input\s+wire\s+\[(\d+):0\]\s+inp\b", text).group(1))
    no = int(re.search(r"output\s+reg\s+\[(\d+):0\]\s+scores_flat\b", text).group(1))
    (bdir / "registered.v").write_text(text + _WRAP.format(ni=ni, no=no, top=top))
    return "registered.v"


def synth(bdir: Path, verilog: str, top: str, timeout: float) -> dict:
    from lgn2hw.fpga.flow import _cell_counts, resources
    from lgn2hw.fpga.toolchain import require
    yosys = require("yosys")
    flags = "-nowidelut"
    (bdir / "synth.ys").write_text(f"read_verilog {verilog}\nsynth_ecp5 -top {top} {flags}\n"
                                   "tee -q -o stat.json stat -json\nwrite_json core.json\n")
    log = bdir / "synth.run.log"
    log.write_text("")
    dt = yosys.run(["-q", "-l", "synth.log", "synth.ys"], bdir, log, "synth", timeout)
    cells = _cell_counts(bdir / "core.json", top)["cells"]
    res = resources("ecp5", cells)
    text = (bdir / "synth.log").read_text(errors="replace")
    mapper = "ABC9" if "Executing ABC9 pass" in text else "ABC" if "Executing ABC pass" in text else "?"
    return {"synth_flags": flags, "mapper": mapper, "synth_s": round(dt, 1),
            "yosys": f"{yosys.kind} {yosys.version()}",
            "lut4": cells.get("LUT4", 0), "ccu2c": cells.get("CCU2C", 0), "ff": res["ff"],
            "lut4_incl_ccu2c": res["lut4"], "cells": cells}


def pnr(bdir: Path, timeout: float, freq: float = 250.0) -> dict:
    from lgn2hw.fpga.toolchain import require
    nextpnr = require("nextpnr-ecp5")
    args = ["--log", "pnr.log", "--json", "core.json", "--seed", "1", "--report", "pnr.json",
            "--timing-allow-fail", "--freq", f"{freq:g}", "--85k", "--package", "CABGA381", "--speed", "6",
            "--out-of-context"]
    log = bdir / "pnr.run.log"
    log.write_text("")
    row = {"nextpnr": f"{nextpnr.kind} {nextpnr.version()}", "pnr_args": " ".join(args)}
    t0 = time.monotonic()
    try:
        row["pnr_s"] = round(nextpnr.run(args, bdir, log, "pnr", timeout), 1)
    except Exception as err:                    # ToolchainError: timeout or failure; keep what the log says
        row["pnr_s"] = round(time.monotonic() - t0, 1)
        row["pnr_error"] = str(getattr(err, "message", err))[:300]
    text = (bdir / "pnr.log").read_text(errors="replace") if (bdir / "pnr.log").exists() else ""
    m = re.findall(r"TRELLIS_COMB:\s+(\d+)/\s*(\d+)", text)
    if m:
        row["trellis_comb"] = int(m[-1][0])
    m = re.findall(r"Max delay <async> -> <async>\s*:\s*([\d.]+) ns", text)
    if m:
        row["comb_delay_ns"] = float(m[-1])
    if (bdir / "pnr.json").exists():
        rep = json.loads((bdir / "pnr.json").read_text())
        util = rep.get("utilization", {})
        if "TRELLIS_COMB" in util:
            row["trellis_comb"] = util["TRELLIS_COMB"]["used"]
        row["trellis_ff"] = util.get("TRELLIS_FF", {}).get("used", 0)
        achieved = [v.get("achieved") for v in rep.get("fmax", {}).values() if v.get("achieved") is not None]
        row["fmax_mhz"] = round(min(achieved), 2) if achieved else None
        if "comb_delay_ns" not in row:
            for path in rep.get("critical_paths", []):
                if path.get("from") == "<async>" and path.get("to") == "<async>":
                    row["comb_delay_ns"] = round(sum(float(s.get("delay", 0)) for s in path.get("path", [])), 2)
    stages = re.findall(r"^Info: (Running \w+|Routing|.*placement.*)", text, flags=re.M)
    if "pnr_error" in row and stages:
        row["pnr_last_stage"] = stages[-1][:120]
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=MODEL, help="difflogic state dict (default: the shared model)")
    ap.add_argument("--synth-timeout", type=float, default=4 * 3600.0,
                    help="seconds before yosys is stopped (ABC9 needs ~30 min of one idle core)")
    ap.add_argument("--pnr-timeout", type=float, default=1800.0, help="seconds before nextpnr is stopped")
    ap.add_argument("--freq", type=float, default=250.0, help="nextpnr --freq (MHz; default: the Fmax goal)")
    ap.add_argument("--check-vectors", type=int, default=20, help="Icarus samples (0: no check)")
    ap.add_argument("--check-budget", type=float, default=180.0, help="seconds for the Icarus check")
    args = ap.parse_args()
    from bench._common import need_model, write_json
    need_model(args.model)
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    row = {"tool": "torchlogix 0.2.2 get_verilog_code()", "model": args.model.name,
           "target": "LFE5U-85F-6 CABGA381 (bare, out of context)",
           "command": "python -m bench.bench_peers_hw"}
    t0 = time.monotonic()

    def save(step):
        row["wall_s"] = round(time.monotonic() - t0, 1)
        row["done"] = step
        print(f"== {step} ({row['wall_s']:.0f} s)", flush=True)
        write_json(NAME, {"rows": [row]})

    row.update(export(args.model, WORK / "torchlogix.v"))
    save("export")
    if args.check_vectors:
        row["check"] = check(args.model, WORK, "torchlogix.v", row["top"], args.check_vectors, args.check_budget)
        save("check")
    row["wrapper"] = "input and output registers (ours), latency 2 cycles"
    row["latency_cycles"] = 2
    from lgn2hw.errors import ToolchainError
    try:
        row.update(synth(WORK, wrap(WORK, "torchlogix.v", row["top"]), "registered", args.synth_timeout))
    except ToolchainError as err:               # e.g. the timeout on a busy machine: keep the row, say why
        row["synth_error"] = str(getattr(err, "message", err))[:300]
        save("synth stopped")
        return 1
    save("synth")
    row.update(pnr(WORK, args.pnr_timeout, args.freq))
    save("pnr")
    print(json.dumps({k: v for k, v in row.items() if k != "cells"}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
