"""A locally wired network of the 48K class, compiled for a board end to end: checkpoint -> bitstream.

    python -m bench.bench_board48k [--width 8000] [--board ulx3s-85f] [-o OUT]

The network is bench_route's synthetic local network (6 layers of WIDTH gates, each gate reading two nets within
24 positions of its own scaled position in the layer before; 400 inputs, 10 classes) after the default passes.
It goes through ``lgn2hw.compile`` as a user's ``lgn2hw compile --board B --ebr 0`` does: Verilog, synthesis of
the core, post-synthesis simulation against the interpreter, the board top with its UART harness, fit, place
and route at the board clock, bitstream. The row records each step's wall time (from report.json), the routed
Fmax, the resources and the post-synthesis comparison, and the machine's load before and after: this machine is
often shared, so a wall time is an upper bound. With two cores the post-synthesis simulation runs beside the board's
synthesis and place and route (``steps_beside``), so the step times add up to more than the compile's wall time.
Results: bench/results/board48k.json.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import write_json  # noqa: E402
from bench.bench_route import local_net  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=8000)
    ap.add_argument("--board", default="ulx3s-85f")
    ap.add_argument("--postsim", type=int, default=256)
    ap.add_argument("-o", "--output", type=Path, default=None, help="build directory (default: a temporary one)")
    args = ap.parse_args()

    import lgn2hw
    t0 = time.perf_counter()
    nl = local_net(args.width)
    net_s = time.perf_counter() - t0
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="lgn2hw-board48k-") as tmp:
        out = args.output or Path(tmp) / "out"
        t0 = time.perf_counter()
        res = lgn2hw.compile(nl, out, board=args.board, ebr=0, postsim=args.postsim, cache=False, force=True,
                             progress=lambda step, msg: print(f"{time.perf_counter() - t0:7.1f} s  {step}: {msg}",
                                                              flush=True))
        wall = time.perf_counter() - t0
        b = res.report["build"]
    row = {"network": f"local 6x{args.width} (radius 24, 400 inputs, 10 classes)", "board": args.board,
           "gates": args.width * 6, "live_gates": int(nl.n_nodes), "gate_luts": res.report.get("lut_map", {}).get("luts"),
           "ebr": 0, "cache": "off (every step run)", "compile_s": round(wall, 1), "network_s": round(net_s, 1),
           "times_s": b.get("times_s"), "steps_beside": b.get("steps_beside"), "fmax_mhz": b.get("pnr", {}).get("fmax_mhz"),
           "timing_driven": b.get("pnr", {}).get("timing_driven"),
           "wirelength_driven_fmax_mhz": b.get("pnr", {}).get("wirelength_driven_fmax_mhz"),
           "freq_target_mhz": b.get("freq_target_mhz"), "fit": b.get("fit"), "postsim": b.get("postsim"),
           "bitstream": bool(res.bitstream), "load_avg_start": [round(x, 2) for x in load0],
           "load_avg_end": [round(x, 2) for x in os.getloadavg()]}
    print({k: row[k] for k in ("compile_s", "fmax_mhz", "bitstream", "live_gates", "gate_luts")})
    print(f"wrote {write_json('board48k', {'rows': [row]})}")


if __name__ == "__main__":
    main()
