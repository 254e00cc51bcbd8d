"""What bench/RESULTS.md reads from the results beyond the generic sections: the hardware tables (column specs),
the goals (a table of label, how to read the figure, comparison, threshold) and the closing paragraph (sentences
built from the measured figures)."""
from __future__ import annotations

import operator
import re
from pathlib import Path

from bench.render import derive, load, pick, picks

# --- hardware rows: lgn2hw's 48K builds against torchlogix's own Verilog -------------------------------------
# torchlogix 0.2.2's own Verilog through yosys 0.70 `synth_ecp5 -nowidelut`, from ../shared/FINDINGS.md (beside
# the repository); used only when bench_peers_hw has not written peers_hw.json.
TORCHLOGIX_CITED = {"tool": "torchlogix 0.2.2 get_verilog_code()", "lut4": 33129, "ccu2c": 60, "ff": 0,
                    "mapper": "ABC9", "synth_s": 31 * 60, "gates_kept": 31204,
                    "source": "cited from ../shared/FINDINGS.md"}


def torchlogix_hw(results: Path) -> dict:
    """torchlogix's Verilog through yosys (and nextpnr): peers_hw.json when measured, else the cited figure."""
    data = load(results, "peers_hw")
    row = ((data or {}).get("rows") or [None])[0] if isinstance(data, dict) else None
    if row and "lut4" in row:
        return {**row, "source": f"peers_hw.json, measured {data.get('when', '?')}"}
    t = TORCHLOGIX_CITED
    return {**t, "lut4_incl_ccu2c": t["lut4"] + 2 * t["ccu2c"]}


def hw_builds(results: Path, cones: bool, also: tuple = ()) -> list[dict]:
    """Every build row of ``also`` (e.g. build.json) and the bench_hwq files, with ``from`` (its JSON): the
    --cones sub-networks (models named like ``mnist48k-c1b200``), or the whole models."""
    rows = []
    for name in list(also) + sorted(p.stem for p in results.glob("hwq*.json")):
        data = load(results, name)
        for r in data.get("rows", []) if isinstance(data, dict) else data or []:
            if bool(re.search(r"-c\d+(b\d+)?$", str(r.get("model") or ""))) == cones:
                rows.append({**r, "from": f"{name}.json"})
    return rows


def lgn2hw_hw_rows(results: Path) -> list[dict]:
    """lgn2hw builds of the shared 48K model on an ECP5-85F that synthesized (routed, or stopped in place and
    route: then its area counts, its Fmax does not); ``lut4`` counts a CCU2C as two, as lgn2hw.fpga does."""
    return [r for r in hw_builds(results, cones=False, also=("build",))
            if "mnist" in str(r.get("model", "")) and "85F" in str(r.get("target", "")) and r.get("lut4") is not None
            and ("error" not in r or str(r["error"]).startswith("pnr:"))]


def row_note(r: dict) -> str:
    """A build row's own note, else why it stopped (and where the router was when it did)."""
    if r.get("note"):
        return r["note"]
    return (r.get("error", "") + (f"; router at the end: {r['router_last']}" if r.get("router_last") else ""))[:200]


def postsim_text(r: dict) -> str:
    """A build row's post-synthesis result in a few words (older rows recorded it as text)."""
    ps = r.get("postsim")
    if isinstance(ps, dict):
        return f"{ps['samples']} equal" if ps.get("equal") else "DIFFERENT" if ps.get("equal") is False else ""
    return str(ps or "")


def popcount_share(r: dict):
    """Share of the core's LUT4 (carry cells as two) in the class sums: the popcount trees, their block-RAM
    counting stage and the argmax, from the synthesized core's per-block counts (None for older rows)."""
    blocks = r.get("core_blocks") or {}
    core = sum(b.get("lut4", 0) for b in blocks.values())
    sums = sum(blocks.get(k, {}).get("lut4", 0) for k in ("popcount", "ebr", "argmax"))
    return round(sums / core, 3) if core else None


# header, from torchlogix's row (peers_hw.json), from an lgn2hw build row; vs_torchlogix is set from lut4_incl_ccu2c
HW_COLUMNS = [
    ("design", "tool", lambda r: f"lgn2hw pipeline {r.get('pipeline', 'default')}"
     + (f" ({r['backend']})" if r.get("backend") else "")
     + (f", nextpnr {r['nextpnr_opts']}" if r.get("nextpnr_opts") else "")),
    ("from", "source", "from"),
    ("mapper", "mapper", lambda r: "ABC9 (-noabc9 given, ignored)" if "noabc9" in str(r.get("synth_flags", ""))
     else "ABC9"),
    ("lut4", "lut4", lambda r: r["lut4"] - 2 * r["ccu2c"] if r.get("ccu2c") is not None else None),
    ("ccu2c", "ccu2c", "ccu2c"),
    ("lut4_incl_ccu2c", "lut4_incl_ccu2c", "lut4"),
    ("vs_torchlogix", None, None),
    ("ff", "ff", "ff"),
    ("trellis_comb", "trellis_comb", lambda r: r.get("trellis_comb_after_pack") or r.get("trellis_comb")),
    ("fmax_mhz", "fmax_mhz", "fmax_mhz"),
    ("timing", lambda r: "whole network in one cycle, between registers of ours" if r.get("fmax_mhz") else
     f"combinational, longest path {r['comb_delay_ns']} ns" if r.get("comb_delay_ns") else
     "combinational (no timing figure)", lambda r: "clocked" if r.get("fmax_mhz") else "no routed Fmax"),
    ("latency_cycles", "latency_cycles", "latency_cycles"),
    ("synth_s", "synth_s", "synth_core_s"),
    ("pnr_s", "pnr_s", None),
    ("note", lambda r: r.get("pnr_error", ""), row_note),
]
PIPELINE_COLUMNS = ["model", "target", "pipeline", "levels_per_stage", "popcount_every", "lut4", "ccu2c", "ff",
                    ("popcount_lut_share", popcount_share), "freq_target_mhz", "fmax_mhz", "latency_cycles",
                    ("postsim", postsim_text), ("nextpnr_opts", lambda r: r.get("nextpnr_opts") or ""), "wall_s",
                    "from", ("note", row_note)]
CONE_COLUMNS = [("network", "model"), ("luts_mapped", lambda r: (r.get("lut_map") or {}).get("luts")),
                ("placement", lambda r: "wirelength-driven (--no-tmdriv)"
                 if "--no-tmdriv" in r.get("nextpnr_opts", "") else "timing-driven (default)"),
                "lut4", "ccu2c", "ff", ("routed", lambda r: "error" not in r), "fmax_mhz", "placement_fmax_mhz",
                "latency_cycles", ("postsim", postsim_text), "wall_s", "from", ("note", row_note)]


def hardware_table(results: Path) -> list[dict]:
    """torchlogix's row, then lgn2hw's 48K builds, each against torchlogix's LUT4-equivalents."""
    rows = (derive([torchlogix_hw(results)], [(h, tl) for h, tl, _ in HW_COLUMNS])
            + derive(lgn2hw_hw_rows(results), [(h, ours) for h, _, ours in HW_COLUMNS]))
    for r in rows:
        r["vs_torchlogix"] = r["lut4_incl_ccu2c"] / rows[0]["lut4_incl_ccu2c"]
    return rows


def pipeline_table(results: Path) -> list[dict]:
    rows = derive([r for r in hw_builds(results, cones=False) if r.get("lut4") is not None], PIPELINE_COLUMNS)
    return sorted(rows, key=lambda r: (r["model"], r["target"], str(r["pipeline"]), r["nextpnr_opts"]))


def cone_table(results: Path) -> list[dict]:
    return sorted(derive(hw_builds(results, cones=True), CONE_COLUMNS),
                  key=lambda r: (r["luts_mapped"] or 0, r["placement"]))


# --- the goals -----------------------------------------------------------------------------------------------
# A goal's reader: results -> (figure or None when not measured, the figure as shown, where it comes from).
def figure(name: str, path: str, key: str, shown, **match):
    """Reads ``key`` of ``name``.json: of the dict at the dotted ``path``, or of its first row that matches."""
    def read(results: Path):
        data = load(results, name)
        for part in filter(None, path.split(".")):
            data = (data or {}).get(part)
        row = pick(data, **match) if match else data
        if not row or row.get(key) is None:
            return None, f"not measured (no {name}.json figure)", f"{name}.json"
        v = row[key]
        return v, shown.format(v) if isinstance(shown, str) else shown(v, row), f"{name}.json"
    return read


def lut_ratio(results: Path):
    ours, tl = lgn2hw_hw_rows(results), torchlogix_hw(results)
    if not ours:
        return None, "no 48K lgn2hw build row", "build.json, hwq*.json"
    best, ref = min(ours, key=lambda r: r["lut4"]), tl["lut4_incl_ccu2c"]
    src = "peers_hw.json" if tl["source"].startswith("peers_hw") else "FINDINGS"
    return best["lut4"] / ref, f"{best['lut4']:,} / {ref:,} = {best['lut4'] / ref:.2f}x", f"{best['from']} + {src}"


def best_fmax(results: Path):
    """The best routed Fmax; 0 (not met) when builds ran into place and route and none routed."""
    ours = lgn2hw_hw_rows(results)
    routed, tried = [r for r in ours if r.get("fmax_mhz")], [r for r in ours if r.get("router_last")]
    if routed:
        top = max(routed, key=lambda r: r["fmax_mhz"])
        return top["fmax_mhz"], f"{top['fmax_mhz']} MHz", top["from"]
    if tried:
        return 0.0, f"not routed (router at the end: {tried[-1]['router_last']})", tried[-1]["from"]
    return None, "no routed 48K build yet" if ours else "no 48K lgn2hw build row", "build.json, hwq*.json"


ONE_THREAD, TWO_THREADS = "lgn2hw interpreter (1*", "lgn2hw interpreter (2*"     # peers.json cpu rows
TRAINED, BIG, RANDOM = "48K trained*", "1.28M random (*)", "* random (*)"         # scale.json rows
# (id, goal, how to read the measured figure, comparison, threshold in the figure's unit)
GOALS = [
    ("lut4", "LUT4 <= 0.8x torchlogix's own Verilog (48K, ECP5-85F, CCU2C counted as 2 LUT4)", lut_ratio, "<=", 0.8),
    ("fmax", "Fmax >= 250 MHz on ECP5-85F (48K)", best_fmax, ">=", 250),
    ("verilog_48k", "48K trained -> Verilog < 3 s (load + passes + Verilog, after imports)",
     figure("scale", "rows", "to_verilog_s", "{:.2f} s", network=TRAINED), "<", 3),
    ("rtl_speed", ">= 5x faster than torchlogix's Circuit path to Verilog (48K)",
     figure("peers", "verilog.rows", "time_vs_torchlogix", "{:.1f}x", tool="lgn2hw*"), ">=", 5),
    ("cpu_1", "CPU inference >= 1.0x difflogic CompiledLogicNet (1 thread each)",
     figure("peers", "cpu.rows", "vs_difflogic", "{:.2f}x", tool=ONE_THREAD), ">=", 1.0),
    ("cpu_2", "CPU inference, lgn2hw on 2 threads vs CompiledLogicNet (1 thread; it has no threads)",
     figure("peers", "cpu.rows", "vs_difflogic", "{:.2f}x", tool=TWO_THREADS), ">=", 1.0),
    ("verilog_1m", "1.28M -> Verilog < 60 s", figure("scale", "rows", "to_verilog_s", "{:.1f} s", network=BIG),
     "<", 60),
    ("memory_1m", "1.28M -> Verilog < 6 GB peak",
     figure("scale", "rows", "peak_rss_mb", lambda v, r: f"{v / 1024:.2f} GB", network=BIG), "<", 6 * 1024),
    ("bench_time", "make bench < 30 minutes on 2 cores",
     figure("run_all", "", "total_s", lambda v, r: f"{v / 60:.1f} min ({r['when']})"), "<", 30 * 60),
]
COMPARE = {"<": operator.lt, "<=": operator.le, ">=": operator.ge}
SCALE_GOALS = ("verilog_48k", "verilog_1m", "memory_1m")          # the closing paragraph's verdict on scale


def goals(results: Path) -> list[dict]:
    """Each goal against its measured figure: met True/False, or None when the figure is missing."""
    rows = []
    for gid, goal, read, cmp, threshold in GOALS:
        value, shown, source = read(results)
        rows.append({"id": gid, "goal": goal, "measured": shown, "from": source,
                     "met": None if value is None else COMPARE[cmp](value, threshold)})
    return rows


# --- the closing paragraph: sentences from the measured figures ----------------------------------------------
def _freq_of(row: dict) -> str:
    """" at F MHz" from a row's nextpnr arguments, or nothing."""
    m = re.search(r"--freq (\S+)", str(row.get("pnr_args", "")))
    return f" at {m.group(1)} MHz" if m else ""


def path_to_rtl(results, peers, **_) -> str:
    tl, ours = pick(peers["verilog"]["rows"], tool="torchlogix*"), pick(peers["verilog"]["rows"], tool="lgn2hw*")
    r = ours["time_vs_torchlogix"]
    runs = (f", the median of {peers['verilog']['rounds']} alternating fresh-process runs each"
            if peers["verilog"].get("rounds", 1) > 1 else "")
    stages = (f": load {ours['load_s']:.3f}, passes {ours['passes_s']:.2f}, Verilog {ours['verilog_s']:.2f} s"
              if all(k in ours for k in ("load_s", "passes_s", "verilog_s")) else "")
    speed = (f"{r:.1f}x faster than torchlogix's Circuit export ({ours['total_s']:.2f} s vs {tl['total_s']:.2f} s"
             f"{runs}{stages})" if r >= 1 else
             f"slower than torchlogix's Circuit export ({ours['total_s']:.2f} s vs {tl['total_s']:.2f} s{runs}, "
             f"{r:.2f}x its speed; lgn2hw's Verilog emission alone takes {ours['verilog_s']:.2f} s)")
    return (f"**Path to RTL**: on the same trained 48K network lgn2hw goes from checkpoint to Verilog {speed}, in "
            f"{ours['memory_vs_torchlogix']:.2f}x its peak memory, and keeps {ours['gates_kept']:,} gates where "
            f"torchlogix's simplify() keeps {tl['gates_kept']:,} ({ours['gates_vs_torchlogix']:.2f}x): both fold "
            "constants, drop dead gates and merge structural duplicates; lgn2hw also absorbs NOT gates with several "
            "consumers and NOTs feeding a class sum (into the popcount), and merges functionally equal gates.")


def hardware(results, **_) -> str:
    hw = hardware_table(results)
    tl, ours = hw[0], hw[1:]
    peers_hw = load(results, "peers_hw")
    chk = ((peers_hw or {}).get("rows") or [{}])[0].get("check") if isinstance(peers_hw, dict) else None
    s = (f"**Hardware**: torchlogix's own Verilog maps to {tl['lut4']:,} LUT4 + {tl['ccu2c']:,} CCU2C "
         f"({tl['lut4_incl_ccu2c']:,} LUT4-equivalents, {tl['from']}) and no flip-flops: one combinational "
         "block, the whole network and a behavioural adder per class in one clock period"
         + (f" ({tl['fmax_mhz']} MHz with its ports registered, after place and route)" if tl.get("fmax_mhz")
            else f" ({tl['timing'].split(', ', 1)[1]} after place and route)" if "longest" in tl["timing"] else "")
         + "."
         + (f" Between input and output registers of bench_peers_hw's ({tl['ff']:,} flip-flops) nextpnr placed it "
            f"({tl['trellis_comb']:,} TRELLIS_COMB) and did not finish routing it{_freq_of(tl['_row'])} "
            f"({tl['note'].removeprefix('pnr: ')})." if tl.get("note", "").startswith("pnr:") and tl.get("trellis_comb")
            else ""))
    if chk and chk.get("equal") is False:
        off = chk.get("constant_offset_per_class")
        s += (f" It is also not bit-exact: Icarus on {chk['samples']} MNIST images gives class counts that differ "
              "from lgn2hw's interpreter (whose counts equal difflogic's CompiledLogicNet's on every sample, above) "
              f"on {chk['samples_differing']} of them"
              + (f" (class {', '.join(str(c) for c, v in enumerate(off) if v)} always "
                 f"{', '.join(f'{v:+d}' for v in off if v)}: its simplify() drops last-layer gates that fold to "
                 "constants, one of them a constant 1)" if off else "") + ".")
    elif chk and chk.get("equal"):
        s += f" Its class counts equal difflogic's on {chk['samples']} MNIST images (Icarus)."
    if ours:
        best = min(ours, key=lambda r: r["lut4_incl_ccu2c"])
        s += (f" lgn2hw's best 48K build so far ({best['design']}, {best['from']}) takes "
              f"{best['lut4_incl_ccu2c']:,} LUT4-equivalents ({best['vs_torchlogix']:.2f}x torchlogix's) with "
              f"{best['ff']:,} flip-flops and a latency of {best['latency_cycles']} cycles"
              + (f", Fmax {best['fmax_mhz']} MHz" if best.get("fmax_mhz") else ", no routed Fmax yet") + "."
              + _class_sums(results, best["lut4_incl_ccu2c"], best["_row"].get("core_blocks")))
    return s


def _class_sums(results: Path, total: int, blocks: dict | None) -> str:
    """What the class sums cost: from the build's own per-block cell counts where the row has them, else from
    bench_back's yosys mapping of one 800-input popcount tree."""
    if blocks:
        get = lambda name, key="lut4": (blocks.get(name) or {}).get(key, 0)       # noqa: E731
        sums = get("popcount") + get("ebr") + get("argmax")
        return (f" Of its LUT4-equivalents the gates take {get('gates'):,} ({get('gates') / total:.0%}) and the "
                f"class sums {sums:,} ({sums / total:.0%}: popcount trees {get('popcount'):,}, argmax "
                f"{get('argmax'):,}), with {get('ebr', 'bram'):,} block RAMs counting bits beside them "
                "(per-block cell counts of the synthesized core).")
    tree = pick((load(results, "back") or {}).get("popcount_yosys"), design="tree*")
    if not tree:
        return ""
    one = tree["LUT4"] + 2 * tree.get("CCU2C", 0)
    bits = str(tree["design"]).split("(")[-1].split()[0]
    return (f" Fewer gates do not give fewer LUTs by themselves: one {bits}-input popcount tree alone maps to "
            f"{tree['LUT4']:,} LUT4 + {tree.get('CCU2C', 0):,} CCU2C ({one:,} LUT4-equivalents, back.json), so "
            f"the ten class sums are about {10 * one:,}, {10 * one / total:.0%} of that build.")


def routability(results, **_) -> str:
    def describe(r):
        where = "timing-driven" if r["placement"].startswith("timing") else "wirelength-driven"
        if r["routed"]:
            return f"{r['luts_mapped']:,} gate LUTs {where}: {r['fmax_mhz']} MHz"
        return f"{r['luts_mapped']:,} {where}: not routed ({r['note'].split(';')[0]})"
    cones = cone_table(results)
    return ("**Routability** (why no 48K build reaches 250 MHz): sub-networks of the same trained model (the gates "
            "reaching some of its output bits; the routability table above) on the same ECP5-85F give "
            + "; ".join(describe(r) for r in cones) + ". Every stage is one LUT level, so what fails is the wiring: "
            "each trained gate reads two arbitrary nets of the layer before, and where a build did not route, "
            "router2's overuse sat on the short general wires of the region the placer had packed "
            "(docs/toolchain-notes.md).") if cones else ""


def cpu_inference(results, peers, **_) -> str:
    cpu, b = peers["cpu"], peers["cpu"]["instruction_bound"]
    one, two, dl = (pick(cpu["rows"], tool=t) for t in (ONE_THREAD, TWO_THREADS, "difflogic*"))
    c2 = b.get("cycles_per_gate_per_64_samples_2_threads")
    per_gate = b["cycles_per_gate_per_64_samples"] / b["difflogic_cycles_per_gate_per_64_samples"]
    chunks = peers.get("chunks") or [{}]
    fastest = max(chunks[1:] or chunks, key=lambda r: r.get("samples_per_s", 0))
    d = chunks[0]
    return (
        f"**CPU inference ({'ahead' if one['vs_difflogic'] >= 1 else 'behind'})**: lgn2hw's interpreter runs at "
        f"{one['vs_difflogic']:.2f}x difflogic's CompiledLogicNet on one thread ({one['samples_per_s']:,.0f} vs "
        f"{dl['samples_per_s']:,.0f} samples/s) and {two['vs_difflogic']:.2f}x on two ({two['samples_per_s']:,.0f})"
        + (f", {cpu['timing']} at a 1-minute load average of {cpu['load_avg_1min']} on 2 cores"
           if cpu.get("timing") and cpu.get("load_avg_1min") is not None else "")
        + f", with no per-model compile where CompiledLogicNet first spends {dl['compile_s']:.0f} s in gcc. It "
        f"evaluates {one['gates_evaluated']:,} gates after its passes where CompiledLogicNet evaluates all "
        f"{dl['gates_evaluated']:,}, and spends {b['cycles_per_gate_per_64_samples']:.1f} cycles per gate per "
        "64-sample word " + (f"({c2:.1f} core cycles on two threads) " if c2 else "")
        + f"against CompiledLogicNet's {b['difflogic_cycles_per_gate_per_64_samples']:.1f}: "
        f"{b['x_over_64bit_floor']:.0f}x off one 64-bit bitwise instruction per gate per word, "
        f"{b['x_over_512bit_floor']:.0f}x off one AVX-512 instruction per gate per 512 samples. "
        f"Of the ratio, {dl['gates_evaluated'] / one['gates_evaluated']:.2f}x is evaluating "
        f"{one['gates_evaluated'] / dl['gates_evaluated']:.0%} of the gates and {1 / per_gate:.2f}x the cost per "
        f"gate per word ({per_gate:.2f}x CompiledLogicNet's, counting the class sums in lgn2hw's). CompiledLogicNet "
        "is straight-line C generated per model, one expression per gate with its wiring compiled in, 64 samples at "
        "a time; lgn2hw's kernel is one loop for every model that loads each node's arity, fan-in and table once "
        "per chunk of samples and runs the word loop in the CPU's widest vectors (-march=native), then adds each "
        "class's bits sixteen at a time through a carry-save tree."
        + (f" Its default chunk is {d['samples_per_chunk']:,} samples ({d['value_mb']:.1f} MB of net values, sized "
           "to stay in cache); in the chunk sweep (one thread) the fastest other size, "
           f"{fastest['samples_per_chunk']:,} samples, runs at {fastest['vs_default']:.2f}x the default's rate"
           + (", so the cost per gate is the instructions, not the cache." if fastest["vs_default"] <= 1.05 else ".")
           if "vs_default" in d else ""))


def scale_sentence(results, scale, goal_rows, **_) -> str:
    rnd = picks(scale["rows"], network=RANDOM)
    if not rnd:
        return ""
    met = [g["met"] for g in goal_rows if g["id"] in SCALE_GOALS]
    steps = ", ".join(f"{r['network'].split()[0]} {r['to_verilog_s']:.1f} s" for r in rnd)
    return (f"**Scale ({'ahead of the goals' if met and all(met) else 'goals not all met'})**: load + passes + "
            f"Verilog take {steps} on random networks"
            + (f" ({rnd[-1]['verilog_s']:.1f} s of the largest is Verilog emission)" if "verilog_s" in rnd[-1] else "")
            + f"; the largest peaks at {rnd[-1]['peak_rss_mb'] / 1024:.2f} GB.")


def simulation(results, sim, **_) -> str:
    ours, vl, ic = (pick(sim["rows"], engine=e) for e in ("lgn2hw*", "verilator*", "icarus*"))
    if not (ours and vl and ic):
        return ""
    return (f"**Simulation** ({sim['gates']:,} gates): the interpreter evaluates {ours['vectors_per_s']:,.0f} "
            f"vectors/s, Verilator {vl['vectors_per_s']:,.0f} (after a {vl['build_s']:.0f} s build) and Icarus "
            + (f"under {ic['vectors_per_s']:,.2f}" if ic.get("note") else f"{ic['vectors_per_s']:,.1f}") + ".")


def bench_wall(results, run_all, **_) -> str:
    if not (run_all.get("scripts") and run_all.get("total_s")):
        return ""
    top = sorted((r for r in run_all["scripts"] if r.get("wall_s")), key=lambda r: -r["wall_s"])[:2]
    load_ = run_all.get("load_avg_1min_start_end")
    return (f"**make bench** took {run_all['total_s'] / 60:.1f} minutes ({run_all['when']}"
            + (f", 1-minute load average {load_[0]} to {load_[1]} on 2 cores" if load_ else "") + "), "
            + " and ".join(f"{r['script']} {r['wall_s'] / 60:.1f}" for r in top) + " minutes of it.")


def goal_verdicts(results, goal_rows, **_) -> str:
    behind = [g["goal"] for g in goal_rows if g["met"] is False]
    missing = [g["goal"] for g in goal_rows if g["met"] is None]
    return " ".join(([f"**Goals not met**: {'; '.join(behind)}."] if behind else [])
                    + ([f"**Not measured yet**: {'; '.join(missing)}."] if missing else []))


# (sentence, the JSON files it needs): the closing paragraph, in order
SUMMARY = [(path_to_rtl, ("peers",)), (hardware, ()), (routability, ()), (cpu_inference, ("peers",)),
           (scale_sentence, ("scale",)), (simulation, ("sim",)), (bench_wall, ("run_all",)), (goal_verdicts, ())]


def summary(results: Path, goal_rows: list[dict]) -> str:
    """The ahead/behind paragraph, assembled from the measured figures."""
    parts = []
    for sentence, needs in SUMMARY:
        data = {n: load(results, n) for n in needs}
        if all(data.values()):
            parts.append(sentence(results, goal_rows=goal_rows, **data))
    return " ".join(p for p in parts if p)
