"""One model through every device family's board flow: LUT4, flip-flops, block RAM, Fmax and the build's wall time.

    python -m bench.bench_families [--model examples/mnist_lgn_96.pt] [--boards ulx3s-85f,tangnano9k,...]

Each board build is ``lgn2hw compile MODEL --board B`` (UART harness, the board clock as the target, 64
post-synthesis simulation samples), run afresh (no step cache), one after the other. A build that stops (the
design does not fit, a tool fails) is a row with its error. ``lut4`` is what the fit step counts from the
synthesized cells (:mod:`lgn2hw.fpga.families`: an ECP5 CCU2C as two, a Gowin ALU or a GateMate adder bit as
one); ``pnr_cells`` is nextpnr's own utilization report (its names differ per family)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import ROOT, table, write_json  # noqa: E402

#: board[@core MHz from the PLL]; the ULX3S row is the PLL build the issue asks for (core clock >= 100 MHz)
BOARDS = ("ulx3s-85f@100", "tangnano20k", "gatemate-evb", "tangnano9k", "ice40-hx8k-breakout")
# nextpnr's utilization entries worth a column: logic cells, flip-flops and block RAMs per family
PNR_KEYS = ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "ICESTORM_LC", "ICESTORM_RAM", "LUT4", "ALU", "DFF", "BSRAM",
            "CPE_L2T4", "CPE_LT_L", "CPE_LT_U", "CPE_FF", "CPE_ADDF", "RAM")


def build(model: Path, spec: str, out: Path) -> dict:
    import lgn2hw
    from lgn2hw.errors import Lgn2hwError
    board, _, core = spec.partition("@")
    t0, c0 = time.monotonic(), _cpu()
    row = {"board": board, "core_freq_mhz": float(core) if core else None}
    try:
        # ECP5 without counting tables, as README's routability table (with them the estimate refuses the example)
        res = lgn2hw.compile(model, out, board=board, postsim=64, cache=False,
                             core_freq=float(core) if core else None, ebr=0 if board.startswith("ulx3s") else "auto")
    except Lgn2hwError as err:
        row.update({"error": str(err).splitlines()[0][:160], "wall_s": round(time.monotonic() - t0, 1)})
        return row
    b = res.report["build"]
    row.update({"family": b["family"], "device": b["device"], "lut4": b["fit"]["lut4"][0],
                "ff": b["fit"]["ff"][0], "bram": b["fit"]["bram"][0], "io": b["fit"]["io"][0],
                "fmax_mhz": b["pnr"]["fmax_mhz"], "target_mhz": b["freq_target_mhz"],
                "postsim_equal": b["postsim"].get("equal"), "postsim_sim": b["postsim"].get("simulator"),
                "latency_cycles": b["latency_cycles"], "pll": b.get("pll"),
                "wall_s": round(time.monotonic() - t0, 1), "cpu_s": round(_cpu() - c0, 1),
                "step_s": b["times_s"],
                "pnr_cells": {k: v[0] for k, v in b["pnr"]["utilization"].items() if k in PNR_KEYS}})
    return row


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "examples" / "mnist_lgn_96.pt"))
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--quick", action="store_true", help="the small digits example on the Tang Nano 9K only")
    ap.add_argument("-o", "--out", default="families")
    ap.add_argument("--append", action="store_true", help="add the rows to the JSON already there")
    args = ap.parse_args(argv)
    model = Path(args.model)
    boards = args.boards.split(",")
    if args.quick:
        model, boards = ROOT / "examples" / "digits_lgn.pt", ["tangnano9k"]
    name = f"{args.out}_quick" if args.quick else args.out
    from bench._common import RESULTS
    old = RESULTS / f"{name}.json"
    rows = json.loads(old.read_text())["rows"] if args.append and old.is_file() else []
    with tempfile.TemporaryDirectory(prefix="lgn2hw-bench-families-") as tmp:
        for board in boards:
            print(f"== {board}", flush=True)
            rows.append(build(model, board, Path(tmp) / board))
            print(table([rows[-1]], [k for k in rows[-1] if k not in ("step_s", "pnr_cells", "pll")]), flush=True)
            write_json(name, {"model": os.path.relpath(model, ROOT), "rows": rows,
                              "load_avg_1min": os.getloadavg()[0]})
    print(table(rows, ["board", "family", "lut4", "ff", "bram", "fmax_mhz", "target_mhz", "wall_s", "error"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
