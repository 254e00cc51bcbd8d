"""Formal equivalence (lgn2hw.prove): proof time per design and per comparison.

    python -m bench.bench_verify [--model PATH] [--quick] [--rtl-timeout S]

For each design (examples/digits_lgn.pt, examples/mnist_lgn_96.pt and the shared 48K model), the core is compiled for
the bare LFE5U-85F through ECP5 synthesis (``--stop-after synth-core``, no post-synthesis simulation, no proof;
the synthesis may come from the step cache), then ``lgn2hw.verify`` runs the three comparisons: the netlist after
passes against the checkpoint (``ir``), the emitted Verilog against the checkpoint (``rtl``, bounded by
``--rtl-timeout``) and the mapped netlist against the emitted Verilog (``netlist``). Records each comparison's
status, method (lgn2hw.prove.METHODS) and proof time, and the wall time of each whole ``verify`` call (reading the
designs with yosys and writing the miters included).
Writes bench/results/verify.json (``verify_quick.json`` with ``--quick``: the digits example alone)."""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench._common import MODEL, ROOT, have_model, rel, write_json


def _one(model: Path, out: Path, load: dict, freq: float, rtl_timeout: float, ir_timeout: float) -> dict:
    import lgn2hw
    nl = lgn2hw.load(str(model), **load)
    t0 = time.monotonic()
    lgn2hw.compile(nl, out, device="LFE5U-85F", package="CABGA381", freq=freq, stop_after="synth-core",
                   postsim=0, prove=False, progress=lambda s, m: None)
    compile_s = time.monotonic() - t0
    row = {"model": rel(model), "gates": int(nl.n_nodes), "compile_s": round(compile_s, 1)}
    for what, timeout in (("ir", ir_timeout), ("rtl", rtl_timeout), ("netlist", 1800.0)):
        t0 = time.monotonic()
        res = lgn2hw.verify(nl, out, comparisons=(what,), timeout=timeout, replay=False)
        r = res[what]
        row[what] = r["status"]
        row[f"{what}_method"] = r.get("method")
        row[f"{what}_abc_s"] = r["seconds"]
        row[f"{what}_wall_s"] = round(time.monotonic() - t0, 1)
        print(f"{rel(model)}: {what:<8} {r['status']:<8} ABC {r['seconds']:7.1f} s, whole call "
              f"{row[f'{what}_wall_s']:7.1f} s", flush=True)
    row["all_three_wall_s"] = round(sum(row[f"{w}_wall_s"] for w in ("ir", "rtl", "netlist")), 1)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(MODEL))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rtl-timeout", type=float, default=900.0)
    ap.add_argument("--ir-timeout", type=float, default=600.0)
    ap.add_argument("--no-shared", action="store_true", help="the two examples alone")
    args = ap.parse_args()
    designs = [(ROOT / "examples" / "digits_lgn.pt", {}, 100.0)]
    if not args.quick:
        designs.append((ROOT / "examples" / "mnist_lgn_96.pt", {}, 100.0))
        if not args.no_shared and have_model(args.model, "the shared 48K model's rows"):
            designs.append((Path(args.model), {"classes": 10}, 250.0))
    rows = []
    with tempfile.TemporaryDirectory(prefix="lgn2hw-bench-verify-") as tmp:
        for i, (model, load, freq) in enumerate(designs):
            rows.append(_one(model, Path(tmp) / f"out{i}", load, freq, args.rtl_timeout, args.ir_timeout))
    name = "verify_quick" if args.quick else "verify"
    print(f"wrote {write_json(name, {'rows': rows, 'engine': 'abc &cec (yosys)', 'cores': os.cpu_count(), 'rtl_timeout_s': args.rtl_timeout, 'ir_timeout_s': args.ir_timeout})}")


if __name__ == "__main__":
    main()
