"""Hardware quality: pipeline setting -> LUT4, FF, Fmax, latency and wall time per build, for the example model on
iCE40 (HX8K, UP5K) and the shared 48K-gate MNIST model on a bare ECP5-85F and on the ULX3S-85F.

    python bench/bench_hwq.py [--shared [PATH]] [--pipelines 0,3]
                              [--only example|shared] [--shared-targets bare,ulx3s|none] [--cones 1:100,1,2]
                              [-o bench/results/hwq.json]

``--cones`` adds builds of the shared model cut down to the gates that reach its first C classes (one class: 3,449
LUT4 of 16,202) or the first B output bits of each, on the bare ECP5-85F: the same trained wiring at several
sizes, so that routed Fmax and routability can be read against size where the whole model does not route.

Every build runs post-synthesis simulation of the mapped core (Icarus) against the interpreter; for the shared
model on the MNIST-5k images (``--postsim N``: the first N of the 5,000). Each row is appended to the JSON as soon
as it is done (a long sweep keeps what it measured). A build that fails is recorded with its error line.
``--shared`` alone builds the benchmark model (bench/_common.py: $LGN2HW_BENCH_MODEL or ../shared/models/).
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import MODEL, have_model, scrub  # noqa: E402
from lgn2hw.errors import Lgn2hwError  # noqa: E402

EXAMPLE_TARGETS = [("ice40-hx8k-breakout", None, None), ("icebreaker", None, None)]
SHARED_TARGETS = [(None, "LFE5U-85F", "CABGA381"), ("ulx3s-85f", None, None)]


def _example():
    from lgn2hw.frontend import load_model
    from lgn2hw.passes import DEFAULT, run_passes
    nl = load_model(ROOT / "examples" / "digits_lgn.pt")
    nl, _ = run_passes(nl, DEFAULT)
    return nl, None


def _shared(path: Path, n_postsim: int):
    from bench.bench_passes import mnist_bits, mnist_netlist
    from lgn2hw.passes import DEFAULT, run_passes
    nl, _ = run_passes(mnist_netlist(path), DEFAULT)
    bits, _ = mnist_bits()
    return nl, bits[:n_postsim].astype(np.uint8)


def class_cones(nl, classes: int, bits: int | None = None):
    """The shared model cut down to its first ``classes`` classes (and of each only the first ``bits`` output
    bits, when given): those output bits, and, after the passes' dead-gate removal, only the gates that reach
    them. Trained sub-networks of one wiring, for Fmax and routability against size."""
    from lgn2hw.passes import DEFAULT, run_passes
    sub = nl.copy()
    sel = sub.out_class < classes
    if bits is not None:
        rank = np.zeros(len(sel), dtype=np.int64)
        for c in range(classes):
            mine = np.flatnonzero(sub.out_class == c)
            rank[mine] = np.arange(len(mine))
        sel &= rank < bits
    sub.out_nets, sub.out_class, sub.out_invert = sub.out_nets[sel], sub.out_class[sel], sub.out_invert[sel]
    sub.class_offset = sub.class_offset[:classes]
    sub.check()
    return run_passes(sub, DEFAULT)[0]


def _cone_spec(text: str):
    """``C`` (the first C classes) or ``C:B`` (their first B bits each) -> (C, B or None)."""
    c, _, b = text.partition(":")
    return int(c), int(b) if b else None


def _pnr_progress(log: Path) -> dict:
    """From a nextpnr log that ended early: the placement's Fmax estimate and the router's last progress line."""
    found = {}
    if not log.exists():
        return found
    for line in log.read_text(errors="replace").splitlines():
        m = re.search(r"Max frequency for clock '[^']*': ([0-9.]+) MHz", line)
        if m and "placement_fmax_mhz" not in found:
            found["placement_fmax_mhz"] = float(m.group(1))
        if re.search(r"iter=\d+ .*overused=", line) or re.match(r"Info:\s+\d+ \|", line):
            found["router_last"] = line.replace("Info:", "").strip()
    return found


def build(name, nl, inputs, target_spec, pipeline, freq, postsim, popcount_every=None, router=None,
          nextpnr_opts=(), timeout_s=None, synth_only=False):
    from lgn2hw.back import EmitOptions, emit_verilog
    from lgn2hw.fpga import BuildOptions, compile_for_target, resolve_target
    board, device, package = target_spec
    target = resolve_target(board, device, package)
    features = bool(target.board) and nl.encoding is not None
    if freq is None:
        freq = target.board.clock_hz / 1e6
    row = {"model": name, "target": target.name, "pipeline": pipeline, "popcount_every": popcount_every,
           "freq_target_mhz": freq, "when": time.strftime("%Y-%m-%d")}
    t0 = time.monotonic()
    try:
        core = emit_verilog(nl, EmitOptions.for_target(target.family, target.device.bram, pipeline=pipeline,
                                                       freq_mhz=freq, features=features,
                                                       popcount_every=popcount_every))
        row.update({"popcount_every": core.report["popcount_every"], "popcount": core.report["popcount"],
                    "lut_map": core.report["lut_map"]})
        row["emit_s"] = round(time.monotonic() - t0, 2)
        out = Path(tempfile.mkdtemp(prefix="hwq-", dir=ROOT / "build"))
        opts = BuildOptions(freq_mhz=freq, postsim_samples=postsim, postsim_inputs=None if features else inputs,
                            router=router, nextpnr_opts=tuple(nextpnr_opts), timeout_s=timeout_s,
                            stop_after="postsim" if synth_only else None, cache=False)   # times are measured
        row["router"] = router
        row["nextpnr_opts"] = " ".join(nextpnr_opts)
        rep = compile_for_target(nl, core, target, out, opts)
    except Lgn2hwError as err:
        row["error"] = str(err.message if hasattr(err, "message") else err)[:300]
        if "core" in locals():
            row["latency_cycles"] = int(core.latency)
        if "out" in locals():
            row.update(_pnr_progress(out / "build" / "pnr.log"))
        part = getattr(err, "partial_report", None) or {}
        if part.get("core"):            # synthesized (and maybe simulated) before it stopped
            row.update(_synth_fields(part))
        row["wall_s"] = round(time.monotonic() - t0, 1)
        return row
    row.update({"levels_per_stage": core.report["pipeline"]["levels_per_stage"],
                "placement": core.report["placement"], "gate_registers": core.report["gate_registers"],
                **_synth_fields(rep), "wall_s": round(time.monotonic() - t0, 1)})
    if synth_only:
        row.update({"latency_cycles": int(core.latency), "note": "synthesis and post-synthesis simulation only"})
        return row
    row.update({"fmax_mhz": rep["pnr"]["fmax_mhz"], "latency_cycles": rep["latency_cycles"],
                "latency_ns": rep["latency_ns"], "pnr_utilization": rep["pnr"]["utilization"]})
    return row


def _synth_fields(rep: dict) -> dict:
    """A build report's synthesis figures (the whole design: with a board, the harness too), post-synthesis
    simulation and step times; also for a report that stopped before place and route."""
    whole = rep.get("synth") or rep["core"]
    return {"lut4": whole["lut4"], "ff": whole["ff"], "ccu2c": whole["cells"].get("CCU2C", 0),
            "postsim": rep.get("postsim"), "synth_flags": rep.get("synth_flags"), "times_s": rep.get("times_s"),
            "core_blocks": rep["core"].get("blocks")}


def print_table(rows):
    print(f"{'model':<10} {'target':<22} {'pipe':>4} {'pc':>2} {'LUT4':>7} {'CCU2C':>6} {'FF':>7} {'Fmax':>7} "
          f"{'lat':>4} {'postsim':>10} {'wall s':>7}")
    for r in rows:
        head = f"{r['model']:<10} {r['target']:<22} {str(r['pipeline']):>4} {r['popcount_every']:>2}"
        if "error" in r:
            print(f"{head} {r['error']}")
            continue
        ps = r["postsim"] or {}
        eq = f"{ps['samples']} eq" if ps.get("equal") else ("skipped" if "skipped" in ps else "-")
        print(f"{head} {r['lut4']:>7,} {r['ccu2c']:>6,} {r['ff']:>7,} {r.get('fmax_mhz')!s:>7} {r['latency_cycles']:>4} "
              f"{eq:>10} {r['wall_s']:>7}")


def main_():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, nargs="?", const=MODEL,
                    help="the shared 48K-gate difflogic model (state dict, 10 classes; alone: the benchmark model)")
    ap.add_argument("--pipelines", default="0,3", help="comma-separated --pipeline values (default: 0,3)")
    ap.add_argument("--only", choices=("example", "shared"))
    ap.add_argument("--shared-targets", default="bare,ulx3s", help="bare, ulx3s or both (default)")
    ap.add_argument("--freq", type=float, default=250.0)
    ap.add_argument("--postsim", type=int, default=1000, help="post-synthesis samples (shared: MNIST-5k images)")
    ap.add_argument("--router", default="router2",
                    help="nextpnr router for the shared model (default router2: router1 did not finish its "
                         "48K routing in 40 minutes)")
    ap.add_argument("--cones", default="",
                    help="with --shared: also build sub-networks, comma-separated C or C:B (the gates reaching the "
                         "first C classes, or their first B output bits each; e.g. 1:100,1:400,1,2), on the bare "
                         "ECP5-85F: routed Fmax against network size on one trained wiring")
    ap.add_argument("--nextpnr-opts", default="", help="further nextpnr arguments for the shared model's builds "
                    "(e.g. '--no-tmdriv': wirelength-driven placement, which routes where timing-driven does not)")
    ap.add_argument("--timeout", type=float, help="seconds each tool run may take (a build that runs out is "
                    "recorded with the router's last progress line)")
    ap.add_argument("--synth-only", action="store_true", help="the shared model's builds stop after synthesis and "
                    "post-synthesis simulation (LUT4, FF, latency, equality; no place and route)")
    ap.add_argument("-o", "--output", default=str(ROOT / "bench" / "results" / "hwq.json"))
    args = ap.parse_args()
    pipelines = [p if p == "auto" else int(p) for p in args.pipelines.split(",")]
    extra = shlex.split(args.nextpnr_opts)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    # rows of other (model, target, pipeline) settings measured earlier stay; a new measurement replaces its own
    kept = json.loads(out.read_text()) if out.exists() else []
    rows = []

    def key(r):
        return (r["model"], r["target"], str(r["pipeline"]), r.get("nextpnr_opts", ""), r.get("note", ""))

    def record(row):
        rows.append(row)
        mine = {key(r) for r in rows}
        out.write_text(scrub(json.dumps([r for r in kept if key(r) not in mine] + rows, indent=2)) + "\n")
        print_table([row])

    if args.only in (None, "example"):
        nl, _ = _example()
        for spec in EXAMPLE_TARGETS:
            for p in pipelines:
                record(build("example", nl, None, spec, p, None if spec[0] else args.freq, 256))
    if args.shared and args.only in (None, "shared") and have_model(args.shared, "the shared model", "--shared"):
        nl, bits = _shared(args.shared, args.postsim)
        chosen = args.shared_targets.split(",")
        for spec in SHARED_TARGETS:
            if ("bare" if spec[0] is None else "ulx3s") not in chosen:
                continue
            for p in pipelines:
                record(build("mnist48k", nl, bits, spec, p, args.freq, args.postsim, router=args.router,
                             nextpnr_opts=extra, timeout_s=args.timeout, synth_only=args.synth_only))
        for spec in [_cone_spec(t) for t in args.cones.split(",") if t]:
            sub = class_cones(nl, *spec)
            name = f"mnist48k-c{spec[0]}" + (f"b{spec[1]}" if spec[1] else "")
            for p in pipelines:
                record(build(name, sub, bits, SHARED_TARGETS[0], p, args.freq, args.postsim, router=args.router,
                             nextpnr_opts=extra, timeout_s=args.timeout))
    print()
    print_table(rows)


if __name__ == "__main__":
    main_()
