"""Build figures: LUT4, FF, Fmax, latency and wall time per step for the example model and (when present) the
shared 48K-gate model, on a board and on a bare ECP5-85F; whether each fits iCE40 HX8K / UP5K.

    python bench/bench_build.py [--shared [PATH]] [-o bench/results/build.json]

``--shared`` alone builds the benchmark model (bench/_common.py: $LGN2HW_BENCH_MODEL or ../shared/models/).

Prints a table and writes JSON. A build that fails (a tool crash, a fit refusal) is recorded with its error line.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import MODEL, have_model, scrub  # noqa: E402
from lgn2hw.cli import main  # noqa: E402


def build(model, target_args, extra=()):
    out = Path(tempfile.mkdtemp(dir=ROOT / "build" if (ROOT / "build").is_dir() else None)) / "out"
    so, se = io.StringIO(), io.StringIO()
    t0 = time.monotonic()
    with contextlib.redirect_stdout(so), contextlib.redirect_stderr(se):
        rc = main(["compile", str(model), "-o", str(out), "--json", "--postsim", "64", *target_args, *extra])
    row = {"model": Path(model).name, "target": " ".join(target_args), "wall_s": round(time.monotonic() - t0, 1),
           "when": time.strftime("%Y-%m-%d")}
    if rc != 0:
        row["error"] = next((l for l in se.getvalue().splitlines() if l.startswith("lgn2hw: error:")), "failed")
        return row
    s = json.loads(so.getvalue())
    row.update({k: s[k] for k in ("lut4", "ff", "fmax_mhz", "freq_target_mhz", "latency_cycles", "latency_ns",
                                  "times_s")})
    return row


def main_():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, nargs="?", const=MODEL,
                    help="the shared 48K-gate difflogic model (state dict, 10 classes; alone: the benchmark model)")
    ap.add_argument("-o", "--output", default=str(ROOT / "bench" / "results" / "build.json"))
    args = ap.parse_args()
    example = ROOT / "examples" / "digits_lgn.pt"
    rows = []
    for tgt in (["--board", "ecp5"], ["--device", "LFE5U-85F", "--package", "CABGA381"],
                ["--board", "ice40-hx8k-breakout"], ["--board", "icebreaker"]):
        rows.append(build(example, tgt))
    if args.shared and have_model(args.shared, "the shared model's build", "--shared"):
        rows.append(build(args.shared, ["--device", "LFE5U-85F", "--package", "CABGA381"], ["--classes", "10"]))
    print(f"{'model':<34} {'target':<42} {'LUT4':>7} {'FF':>7} {'Fmax':>7} {'lat':>4} {'wall s':>7}")
    for r in rows:
        if "error" in r:
            print(f"{r['model']:<34} {r['target']:<42} {r['error']}")
        else:
            print(f"{r['model']:<34} {r['target']:<42} {r['lut4']:>7,} {r['ff']:>7,} {r['fmax_mhz']:>7} "
                  f"{r['latency_cycles']:>4} {r['wall_s']:>7}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(scrub(json.dumps(rows, indent=2)) + "\n")


if __name__ == "__main__":
    main_()
