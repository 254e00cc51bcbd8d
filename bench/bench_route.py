"""Calibration of the routability estimate (lgn2hw.fpga.route): its verdict and figures against nextpnr's measured
outcome, for designs of different sizes and wiring.

    python bench/bench_route.py [--model PATH] [--build NAME,...|all-new] [--seeds 3] [-o bench/results/route.json]

Designs: cones of the shared 48K model (the gates that reach the first B output bits of class 0, 535 to 3,449
gate LUTs, as ``bench_hwq --cones`` builds them), the whole model, synthetic networks with local wiring (6 layers;
gate i of a layer reads two nets within +-24 positions (or the radius named) of i * n_prev / n in the layer
before; 10 two-input gate kinds at random, seed 0) and random wiring, and the example. Every design gets the estimate (as ``lgn2hw info
--device D`` prints it, with METIS seeds 1..N to show its spread) and the measured nextpnr outcome: routed or not,
Fmax, router iterations, place-and-route wall time, and where the measurement comes from (``route_builds.json``:
built by this script; otherwise the earlier record it names, such as ``hwq_size.json`` or the shared findings).

``--build`` runs the yosys + nextpnr build of the named designs (one at a time, ``--ebr`` and clock as listed,
no post-synthesis simulation, no step cache, a place-and-route limit of ``--pnr-timeout`` seconds) and appends
each result to ``bench/results/route_builds.json`` as soon as it is done. The bar: no design the estimate calls
"routes" fails to route, and at most one that it calls "will not route" routes.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import MODEL, RESULTS, have_model, scrub  # noqa: E402

BUILDS = RESULTS / "route_builds.json"
TWO_INPUT = np.array([1, 2, 4, 6, 7, 8, 9, 11, 13, 14])
_FINDINGS = "shared findings (FINDINGS.md, measured with lgn2hw 2026-12-06)"

# name: (netlist recipe, device, ebr, freq MHz, nextpnr options)
DESIGNS = {
    "example-hx8k": (("example",), "iCE40HX8K", None, 12, ()),
    "example-up5k": (("example",), "iCE40UP5K", None, 12, ()),
    "example-85f": (("example",), "LFE5U-85F", "auto", 100, ()),
    "cone-c1b100": (("cone", 100), "LFE5U-85F", "auto", 250, ()),
    "cone-c1b200": (("cone", 200), "LFE5U-85F", "auto", 250, ()),
    "cone-c1b400": (("cone", 400), "LFE5U-85F", "auto", 250, ()),
    "cone-c1b400-no-tmdriv": (("cone", 400), "LFE5U-85F", "auto", 250, ("--no-tmdriv",)),
    "cone-c1": (("cone", None), "LFE5U-85F", "auto", 250, ()),
    "cone-c1-ebr0": (("cone", None), "LFE5U-85F", 0, 250, ()),
    "mnist48k": (("shared",), "LFE5U-85F", "auto", 250, ("--no-tmdriv",)),
    "mnist48k-ebr0": (("shared",), "LFE5U-85F", 0, 100, ()),
    "local-6x1000": (("local", 1000), "LFE5U-85F", 0, 100, ()),
    "local-6x1000-ebr": (("local", 1000), "LFE5U-85F", "auto", 100, ()),
    "local-6x2500": (("local", 2500), "LFE5U-85F", 0, 100, ()),
    "local-6x5000": (("local", 5000), "LFE5U-85F", 0, 100, ()),
    "local-6x5000-250": (("local", 5000), "LFE5U-85F", 0, 250, ()),
    "local-6x5000-ebr": (("local", 5000), "LFE5U-85F", "auto", 100, ()),
    "local-6x6500": (("local", 6500), "LFE5U-85F", 0, 100, ()),
    "local-6x2500-r250": (("local", 2500, 250), "LFE5U-85F", 0, 100, ()),
    "random-6x500": (("random", 500), "LFE5U-85F", 0, 100, ()),
    "random-6x1000": (("random", 1000), "LFE5U-85F", 0, 100, ()),
    "cone-c1b300": (("cone", 300), "LFE5U-85F", 0, 100, ()),
}

# outcomes measured before this script existed: design -> record
RECORDS = {
    "example-hx8k": {"routed": True, "fmax_mhz": 99.24, "pnr_s": 14.96, "source": "hwq_example.json (board, "
                     "pipeline 0)"},
    "example-up5k": {"routed": True, "fmax_mhz": 36.37, "pnr_s": 21.2, "source": "hwq_example.json (board, "
                     "pipeline 0)"},
    "cone-c1b100": {"routed": True, "fmax_mhz": 256.28, "pnr_s": 6.18, "source": "hwq_size.json"},
    "cone-c1b200": {"routed": True, "fmax_mhz": 224.11, "pnr_s": 8.39, "source": "hwq_size.json"},
    "cone-c1b400": {"routed": False, "pnr_s": 900, "iterations": "router2 iter=63, 1,384 wires overused",
                    "source": "hwq_size.json"},
    "cone-c1b400-no-tmdriv": {"routed": True, "fmax_mhz": 120.93, "pnr_s": 23.61, "source": "hwq_size.json"},
    "cone-c1": {"routed": False, "pnr_s": 900, "iterations": "router2 iter=17, 12,843 wires overused (and "
                "--no-tmdriv: iter=20, 8,161)", "source": "hwq_size.json"},
    "cone-c1-ebr0": {"routed": False, "pnr_s": 540, "iterations": "router1: 11,498 of 21,657 arcs left after "
                     "9 minutes", "source": _FINDINGS},
    "mnist48k": {"routed": False, "pnr_s": 650, "iterations": "router2 iter=1 left 93,248 wires overused; "
                 "stopped in iteration 2", "source": "hwq.json"},
    "mnist48k-ebr0": {"routed": False, "pnr_s": 400, "iterations": "router1: 105,678 of 111,822 arcs left "
                      "after 400 s", "source": _FINDINGS},
    "local-6x5000": {"routed": True, "fmax_mhz": 127.0, "pnr_s": 437, "iterations": "router1, 85,343 arcs in "
                     "73 s", "source": _FINDINGS + "; that network had 12,862 gate LUTs, this regeneration "
                     "of its recipe has the count in the table"},
    "local-6x5000-250": {"routed": True, "fmax_mhz": 194.6, "pnr_s": 361, "source": _FINDINGS},
    "local-6x5000-ebr": {"routed": False, "pnr_s": 1020, "iterations": "router1 68,760 of 72,062 arcs left "
                         "after 5.6 min; router2 stalled near 1,160 overused wires (iterations 14-15)",
                         "source": _FINDINGS},
}


def local_net(width: int, *, n_inputs=400, layers=6, radius=24, classes=10, seed=0, random=False):
    """The synthetic network: gate i reads two nets within ``radius`` of i * n_prev / n (``random``: anywhere)."""
    from lgn2hw import gates, optimize
    from lgn2hw.ir import Netlist
    rng = np.random.default_rng(seed)
    specs, prev = [], n_inputs
    for _ in range(layers):
        if random:
            idx = rng.integers(0, prev, (width, 2))
        else:
            centre = (np.arange(width) * prev) // width
            idx = np.clip(centre[:, None] + rng.integers(-radius, radius + 1, (width, 2)), 0, prev - 1)
        specs.append((gates.tables_from_gate_ids(rng.choice(TWO_INPUT, width)), idx))
        prev = width
    return optimize(Netlist.from_layers(n_inputs, specs, classes))


def netlist(recipe, cache: dict, model: Path | None):
    key = recipe
    if key in cache:
        return cache[key]
    kind = recipe[0]
    if kind == "example":
        import lgn2hw
        nl = lgn2hw.optimize(lgn2hw.load(ROOT / "examples" / "digits_lgn.pt"))
    elif kind in ("local", "random"):
        nl = local_net(recipe[1], random=kind == "random", radius=recipe[2] if len(recipe) > 2 else 24)
    else:
        if "shared" not in cache:
            from bench.bench_passes import mnist_netlist
            from lgn2hw.passes import DEFAULT, run_passes
            cache["shared"] = run_passes(mnist_netlist(model), DEFAULT)[0]
        nl = cache["shared"]
        if kind == "cone":
            from bench.bench_hwq import class_cones
            nl = class_cones(nl, 1, recipe[1])
    cache[key] = nl
    return nl


def estimate(name, nl, seeds: int) -> dict:
    from lgn2hw.fpga import route
    from lgn2hw.fpga.devices import find_device
    _, device, ebr, _, _ = DESIGNS[name]
    blocks = None if ebr == "auto" else (ebr or 0)
    runs = [route.estimate_model(nl, find_device(device), ebr_blocks=blocks, seed=s) for s in range(1, seeds + 1)]
    e = runs[0]
    return {"verdict": e.verdict, "ratio": e.ratio, "ratio_range": [min(r.ratio for r in runs),
                                                                   max(r.ratio for r in runs)],
            "verdicts": sorted({r.verdict for r in runs}), "demand": e.demand, "supply": e.supply, "level": e.level,
            "rent": e.rent, "fraction": e.fraction, "gate_luts": e.gate_luts, "lut4_estimate": e.lut4,
            "ebr_bits": e.ebr_bits, "estimate_s": e.seconds}


def _router(log: Path) -> dict:
    """Router iterations and the last progress line from a nextpnr log."""
    found = {}
    if not log.exists():
        return found
    for line in log.read_text(errors="replace").splitlines():
        m = re.match(r"Info:\s+(\d+) \|", line)
        if m:
            found["iterations"] = f"router1 {int(m.group(1)):,} arc iterations"
            found["router_last"] = line.replace("Info:", "").strip()
        m = re.search(r"iter=(\d+) .*overused=(\d+)", line)
        if m:
            found["iterations"] = f"router2 iter={m.group(1)}, {int(m.group(2)):,} wires overused"
    return found


def build(name, nl, pnr_timeout: float) -> dict:
    import lgn2hw
    _, device, ebr, freq, opts = DESIGNS[name]
    from lgn2hw.fpga.devices import find_device
    pkg = next(iter(find_device(device).packages))
    out = Path(tempfile.mkdtemp(prefix="route-", dir=ROOT / "build")) / "out"
    row = {"design": name, "device": f"{device}-{pkg}", "ebr": ebr, "freq_target_mhz": freq,
           "nextpnr_opts": " ".join(opts), "when": time.strftime("%Y-%m-%d %H:%M"), "source": "route_builds.json"}
    t0 = time.monotonic()
    try:
        r = lgn2hw.compile(nl, out, device=device, package=pkg, ebr=ebr if ebr is not None else "auto", freq=freq,
                           postsim=0, pnr_timeout=pnr_timeout, nextpnr_opts=opts, route_check=False, cache=False)
        b = r.report["build"]
        row.update(routed=True, fmax_mhz=b["pnr"]["fmax_mhz"], pnr_s=round(b["times_s"]["pnr"], 1),
                   synth_s=round(b["times_s"]["synth-core"], 1), lut4=b["synth"]["lut4"], ff=b["synth"]["ff"],
                   gate_luts=r.report["lut_map"]["luts"], **_router(out / "build" / "pnr.log"))
    except lgn2hw.Lgn2hwError as err:
        row.update(routed=False, error=scrub(str(err))[:300], **_router(Path(f"{out}.logs") / "pnr.log"))
        if getattr(err, "timed_out", False):
            row["pnr_s"] = pnr_timeout
    row["wall_s"] = round(time.monotonic() - t0, 1)
    return row


def load_builds() -> dict:
    return {r["design"]: r for r in json.loads(BUILDS.read_text())} if BUILDS.exists() else {}


def record_build(row: dict) -> None:
    rows = [r for r in (json.loads(BUILDS.read_text()) if BUILDS.exists() else []) if r["design"] != row["design"]]
    BUILDS.write_text(json.dumps(rows + [row], indent=2) + "\n")


def bar(rows) -> dict:
    measured = [r for r in rows if r.get("routed") is not None]
    false_routes = [r["design"] for r in measured if r["verdict"] == "routes" and not r["routed"]]
    false_fails = [r["design"] for r in measured if r["verdict"] == "will not route" and r["routed"]]
    return {"designs_measured": len(measured), "called_routes_but_failed": false_routes,
            "called_will_not_route_but_routed": false_fails,
            "met": not false_routes and len(false_fails) <= 1}


def print_table(rows) -> None:
    print(f"{'design':<24} {'device':<10} {'ebr':>4} {'LUTs':>6} {'ratio':>12} {'verdict':<15} {'rent':>5} "
          f"{'frac':>5} {'outcome':<9} {'Fmax':>6} {'pnr s':>6}  source")
    for r in rows:
        outcome = "-" if r.get("routed") is None else "routed" if r["routed"] else "no route"
        rng = r["ratio_range"]
        print(f"{r['design']:<24} {r['device'][:10]:<10} {str(r['ebr']):>4} {r['gate_luts']:>6} "
              f"{rng[0]:.2f}-{rng[1]:.2f}{'':>3} {r['verdict']:<15} {r['rent']:>5.2f} {r['fraction']:>5.2f} "
              f"{outcome:<9} {r.get('fmax_mhz') or '':>6} {r.get('pnr_s') or '':>6}  {r.get('source', '')[:40]}")


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=MODEL, help="the shared 48K model (cones and the whole model)")
    ap.add_argument("--build", default="", help="designs to build with yosys + nextpnr (comma-separated, or "
                                                "all-new: every design without a measured outcome)")
    ap.add_argument("--pnr-timeout", type=float, default=1800)
    ap.add_argument("--seeds", type=int, default=3, help="METIS seeds per estimate (the spread is reported)")
    ap.add_argument("-o", "--output", type=Path, default=RESULTS / "route.json")
    args = ap.parse_args()
    shared = have_model(args.model, "the cones and the whole 48K model")
    cache: dict = {}
    names = [n for n in DESIGNS if shared or DESIGNS[n][0][0] not in ("cone", "shared")]
    builds = load_builds()
    todo = [n for n in args.build.split(",") if n]
    if todo == ["all-new"]:
        todo = [n for n in names if n not in RECORDS and n not in builds]
    for name in todo:
        if name not in DESIGNS:
            raise SystemExit(f"unknown design {name!r}: {', '.join(DESIGNS)}")
        row = build(name, netlist(DESIGNS[name][0], cache, args.model), args.pnr_timeout)
        print(json.dumps(row), flush=True)
        record_build(row)
        builds[name] = row
    rows = []
    for name in names:
        recipe, device, ebr, freq, opts = DESIGNS[name]
        nl = netlist(recipe, cache, args.model)
        row = {"design": name, "device": device, "ebr": ebr, "freq_target_mhz": freq, "nextpnr_opts": " ".join(opts),
               **estimate(name, nl, args.seeds)}
        measured = builds.get(name) or RECORDS.get(name)
        if measured:
            row.update({k: v for k, v in measured.items() if k in ("routed", "fmax_mhz", "pnr_s", "iterations",
                                                                   "source", "wall_s", "error")})
        rows.append(row)
    print_table(rows)
    summary = bar(rows)
    print(json.dumps(summary))
    args.output.write_text(json.dumps({"when": time.strftime("%Y-%m-%d"), "rows": rows, "bar": summary,
                                       "thresholds": _thresholds()}, indent=2) + "\n")


def _thresholds() -> dict:
    from lgn2hw.fpga import route
    return {"routes_max": route.ROUTES_MAX, "will_not_route_min": route.WONT_ROUTE_MIN, "density": route.DENSITY}


if __name__ == "__main__":
    main_()
