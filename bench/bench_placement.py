"""nextpnr's placement against lgn2hw's (``compile --placement nextpnr|lgn2hw``, lgn2hw.fpga.placement) on the
same designs: Fmax, whether it routed, place-and-route and synthesis wall time.

    python bench/bench_placement.py [--model PATH] [--designs NAME,...] [--placements lgn2hw,nextpnr]
                                    [--pnr-timeout 1800] [-o bench/results/placement.json]

Designs (bench_route.py makes them): cones of the shared 48K model (the gates that reach the first B output bits
of class 0) and the synthetic locally wired network of 6 x 5,000 gates, all for the bare LFE5U-85F at 250 MHz
(one LUT level per stage) with the popcounts in LUTs (``--ebr 0``). Each row is one build through
``lgn2hw.compile`` (no post-synthesis simulation; the step cache shares the synthesis between the two
placements, so ``synth_s`` is 0 for the second), appended to the JSON as soon as it is done. A build that does not
route within ``--pnr-timeout`` is a row with ``routed: false``. The bars (issue 16): the largest cone that
routes at >= 200 MHz grows from ~1,000 gate LUTs to >= 2,500; the local network of >= 12,000 gate LUTs routes at
>= 250 MHz.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import MODEL, RESULTS, have_model, scrub  # noqa: E402

# name: (netlist recipe as bench_route.netlist takes it, device, ebr, freq MHz)
DESIGNS = {
    "cone-c1b200": (("cone", 200), "LFE5U-85F", 0, 250),
    "cone-c1b550": (("cone", 550), "LFE5U-85F", 0, 250),
    "cone-c1": (("cone", None), "LFE5U-85F", 0, 250),
    "local-6x5000": (("local", 5000), "LFE5U-85F", 0, 250),
}


def critical_path(log: Path) -> dict:
    """The last critical-path report of a nextpnr log: where it starts and ends, its routing and logic delays."""
    if not log.exists():
        return {}
    lines = log.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if "Critical path report for clock" in line]
    if not starts:
        return {}
    block, route, logic = [], 0.0, 0.0
    for line in lines[starts[-1] + 2:]:
        m = re.match(r"Info:\s+(clk-to-q|routing|logic|setup)\s+([\d.]+)\s+([\d.]+)\s+(.*)", line)
        if m:
            kind, delay = m.group(1), float(m.group(2))
            route += delay if kind == "routing" else 0.0
            logic += delay if kind != "routing" else 0.0
            block.append(m.group(4))
        elif not line.startswith("Info:    ") and block:
            break
    return {"critical_path": {"from": block[0] if block else None, "to": block[-1] if block else None,
                              "routing_ns": round(route, 2), "logic_ns": round(logic, 2)}}


def build(name: str, nl, placement: str, pnr_timeout: float, popcount_style: str | None = None,
          seed: int = 1) -> dict:
    import lgn2hw
    from bench.bench_route import _router
    from lgn2hw.fpga.devices import find_device
    _, device, ebr, freq = DESIGNS[name]
    pkg = next(iter(find_device(device).packages))
    (ROOT / "build").mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="placement-", dir=ROOT / "build"))
    out = tmp / "out"
    row = {"design": name, "placement": placement, "device": f"{device}-{pkg}", "ebr": ebr,
           "freq_target_mhz": freq, "when": time.strftime("%Y-%m-%d %H:%M")}
    if popcount_style:
        row["popcount_style"] = popcount_style
    if seed != 1:
        row["seed"] = seed
    t0 = time.monotonic()
    try:
        r = lgn2hw.compile(nl, out, device=device, package=pkg, ebr=ebr, freq=freq, postsim=0,
                           pnr_timeout=pnr_timeout, route_check=False, placement=placement,
                           popcount_style=popcount_style, seed=seed)
        b = r.report["build"]
        row.update(routed=True, fmax_mhz=b["pnr"]["fmax_mhz"], pnr_s=round(b["times_s"]["pnr"], 1),
                   place_s=round(b["times_s"].get("place", 0.0), 1), synth_s=round(b["times_s"]["synth-core"], 1),
                   cached=b["cached_steps"], lut4=b["synth"]["lut4"], ff=b["synth"]["ff"],
                   gate_luts=r.report["lut_map"]["luts"], latency_cycles=b["latency_cycles"],
                   **{k: v for k, v in b.get("placement", {}).items()
                      if k in ("cells_placed", "tiles", "nodes", "density", "ratio")},
                   **_router(out / "build" / "pnr.log"), **critical_path(out / "build" / "pnr.log"))
    except lgn2hw.Lgn2hwError as err:
        row.update(routed=False, error=scrub(str(err))[:300], **_router(Path(f"{out}.logs") / "pnr.log"))
        if getattr(err, "timed_out", False):
            row["pnr_s"] = pnr_timeout
    row["wall_s"] = round(time.monotonic() - t0, 1)
    shutil.rmtree(tmp, ignore_errors=True)
    return row


def record(path: Path, row: dict) -> None:
    data = json.loads(path.read_text()) if path.exists() else {"rows": []}
    key = ("design", "placement", "popcount_style", "seed")
    rows = [r for r in data["rows"] if [r.get(k) for k in key] != [row.get(k) for k in key]]
    data["rows"] = rows + [row]
    data["when"] = time.strftime("%Y-%m-%d")
    data["bars"] = bars(data["rows"])
    path.write_text(json.dumps(data, indent=2) + "\n")


def bars(rows) -> dict:
    """The two bars per placement: the largest cone routed at >= 200 MHz; local >= 12,000 gate LUTs >= 250 MHz."""
    out = {}
    for p in sorted({r["placement"] for r in rows}):
        mine = [r for r in rows if r["placement"] == p and r.get("routed")]
        cones = [r["gate_luts"] for r in mine if r["design"].startswith("cone") and r["fmax_mhz"] >= 200]
        local = [r for r in mine if r["design"].startswith("local") and r["gate_luts"] >= 12000]
        out[p] = {"largest_cone_200mhz_gate_luts": max(cones, default=None),
                  "local_12k_fmax_mhz": max((r["fmax_mhz"] for r in local), default=None)}
    out["met"] = {"cone_2500_at_200mhz": any((v.get("largest_cone_200mhz_gate_luts") or 0) >= 2500
                                             for k, v in out.items() if k != "met"),
                  "local_12k_at_250mhz": any((v.get("local_12k_fmax_mhz") or 0) >= 250
                                             for k, v in out.items() if k != "met")}
    return out


FRONTIER_WIDTHS = (100, 200, 300, 500, 800, 1200, 2000, 3000, 5000, 6500)
FRONTIER_DEVICES = ("iCE40HX8K", "LFE5U-85F")
# real nextpnr runs for the frontier: (wiring, width, device, package, freq MHz)
FRONTIER_BUILDS = (("random", 100, "iCE40HX8K", "CT256", 100), ("random", 300, "iCE40HX8K", "CT256", 100),
                   ("local", 300, "iCE40HX8K", "CT256", 100), ("local", 500, "iCE40HX8K", "CT256", 100))


def frontier(builds: bool, pnr_timeout: float) -> dict:
    """Synthetic 6-layer networks (400 inputs, 10 classes; bench_route.local_net) of random and local wiring against
    the estimate on each device: verdict, ratio, LUT estimate; the largest width called "routes" that also fits
    the device's LUTs; with ``builds``, a few real nextpnr runs (no block RAMs, bare device)."""
    import lgn2hw
    from bench.bench_route import local_net
    from lgn2hw.fpga import route
    from lgn2hw.fpga.devices import find_device
    rows, largest = [], {}
    for wiring in ("random", "local"):
        for width in FRONTIER_WIDTHS:
            nl = local_net(width, random=wiring == "random")
            for dev in FRONTIER_DEVICES:
                device = find_device(dev)
                e = route.estimate_model(nl, device, ebr_blocks=0)
                fits = e.lut4 <= device.lut4
                rows.append({"wiring": wiring, "width": width, "device": dev, "gate_luts": e.gate_luts,
                             "lut4_estimate": e.lut4, "fits": fits, "verdict": e.verdict,
                             "ratio": round(e.ratio, 3)})
                if fits and e.verdict == "routes":
                    key = f"{wiring} {dev}"
                    largest[key] = max(largest.get(key, 0), e.gate_luts)
    measured = []
    for wiring, width, dev, pkg, freq in (FRONTIER_BUILDS if builds else ()):
        nl = local_net(width, random=wiring == "random")
        (ROOT / "build").mkdir(exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="frontier-", dir=ROOT / "build"))
        row = {"wiring": wiring, "width": width, "device": f"{dev}-{pkg}", "freq_target_mhz": freq}
        t0 = time.monotonic()
        try:
            r = lgn2hw.compile(nl, tmp / "out", device=dev, package=pkg, freq=freq, postsim=0, ebr=0,
                               pnr_timeout=pnr_timeout, route_check=False)
            b = r.report["build"]
            row.update(routed=True, fmax_mhz=b["pnr"]["fmax_mhz"], pnr_s=round(b["times_s"]["pnr"], 1),
                       lut4=b["synth"]["lut4"], gate_luts=r.report["lut_map"]["luts"])
        except lgn2hw.Lgn2hwError as err:
            row.update(routed=False, error=scrub(str(err))[:300])
        row["wall_s"] = round(time.monotonic() - t0, 1)
        shutil.rmtree(tmp, ignore_errors=True)
        print(json.dumps(row), flush=True)
        measured.append(row)
    return {"estimates": rows, "largest_routes_gate_luts": largest, "builds": measured}


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=MODEL, help="the shared 48K model (for the cones)")
    ap.add_argument("--designs", default=",".join(DESIGNS))
    ap.add_argument("--placements", default="lgn2hw,nextpnr")
    ap.add_argument("--pnr-timeout", type=float, default=1800)
    ap.add_argument("--frontier", choices=("estimate", "builds"),
                    help="instead of the placements: the frontier of random and local wiring on iCE40 HX8K and the "
                         "LFE5U-85F from the estimate (and with 'builds' a few real nextpnr-ice40 runs)")
    ap.add_argument("--popcount-style", choices=("fa", "cin", "pack"), default=None,
                    help="the popcount's adder style (default: the family's, lgn2hw.back._popcount.RECOMMENDED)")
    ap.add_argument("--seeds", default="1", help="place-and-route seeds, one build each: 1,2,3 (default: 1)")
    ap.add_argument("-o", "--output", type=Path, default=RESULTS / "placement.json")
    args = ap.parse_args()
    if args.frontier:
        data = json.loads(args.output.read_text()) if args.output.exists() else {"rows": []}
        data["frontier"] = frontier(args.frontier == "builds", args.pnr_timeout)
        args.output.write_text(json.dumps(data, indent=2) + "\n")
        return
    from bench.bench_route import netlist
    shared = have_model(args.model, "the cones of the 48K model")
    cache: dict = {}
    for name in [n for n in args.designs.split(",") if n]:
        if name not in DESIGNS:
            raise SystemExit(f"bench: error: unknown design {name!r} ({', '.join(DESIGNS)})")
        recipe = DESIGNS[name][0]
        if recipe[0] == "cone" and not shared:
            continue
        nl = netlist(recipe, cache, args.model)
        for placement in args.placements.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                row = build(name, nl, placement, args.pnr_timeout, args.popcount_style, seed)
                print(json.dumps(row), flush=True)
                record(args.output, row)


if __name__ == "__main__":
    main_()
