"""The build flow: core synthesis -> post-synthesis simulation -> board top synthesis -> fit check -> place and
route -> bitstream. :func:`plan_build` turns a netlist, the backend's core and a target into a
:class:`~lgn2hw.fpga.plan.BuildPlan` (files and commands, with a digest) without running anything; :func:`run_plan`
looks every tool up, then runs the steps inside ``<out>/build/`` with relative paths (YoWASP's private /tmp) and
fixed seeds, restoring a step from the cache when its inputs and tool are unchanged. The same input gives the
same bitstream. The caller writes ``<out>`` atomically.

Steps and their products (in ``<out>/build/``):

=========== =====================================================================================================
synth-core  ``<core>.syn.v`` (mapped netlist, what post-synthesis simulation runs), ``synth-core.log``
postsim     the mapped core netlist simulated (Icarus or Verilator) on sample inputs, equal to the interpreter
synth       board targets: ``top.json`` with the mapped core inside the harness; ``synth.log``
fit         LUT4 / FF / IO / BRAM from the synthesized netlist against the target's capacity (FitError)
place       ``--placement lgn2hw|auto``: ``placed.json``, the netlist with lgn2hw's placement of the gate logic as
            ``BEL`` attributes (:mod:`lgn2hw.fpga.placement`)
pnr         nextpnr with ``--seed``, ``--freq`` and ``--report pnr.json``; ``pnr.log``
bitstream   ECP5: ``<name>.bit`` and ``<name>.svf``; iCE40: ``<name>.bin``; Gowin: ``<name>.fs``; GateMate:
            ``<name>.bit`` (copied to ``<out>/``; :mod:`.families` names the tools)
=========== =====================================================================================================
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import _native
from ..errors import FitError, Lgn2hwError, ToolchainError
from .boards import Target
from .families import FAMILIES
from .families import resources as _family_resources
from .plan import BuildPlan, Step, StepCache, cache_root
from .toolchain import current_tag, stoppable, tagged

SYNTH_CMD = {name: fam.synth for name, fam in FAMILIES.items()}


@dataclass
class BuildOptions:
    freq_mhz: float | None = None      # default: the board clock, or 100 MHz for a bare device
    seed: int = 1
    strict_timing: bool = False
    postsim_samples: int = 256
    postsim_inputs: object = None      # (N, width) uint8 sample inputs; random when None
    postsim_sim: str = "auto"          # post-synthesis simulator: auto, icarus or verilator (see postsim.py)
    stop_after: str | None = None      # the last step to run (BUILD_STEPS); None: all
    cache: object = True               # reuse finished steps from the step cache (plan.StepCache): True, False,
    #                                    or the cache's directory (default: plan.cache_root())
    progress: object = None            # callable(step, message)
    warn: object = None                # callable(message)
    timeout_s: float | None = None
    router: str | None = None          # nextpnr --router (router1, router2); None: nextpnr's default
    nextpnr_opts: tuple = ()           # further nextpnr arguments, passed as they are (e.g. ("--no-tmdriv",))
    pnr_timeout_s: float | None = None  # place and route alone; None: timeout_s
    placement: str = "nextpnr"         # nextpnr, lgn2hw (placement.py's BEL attributes) or auto (both, the faster)
    timing_driven: str = "auto"        # nextpnr's timing-driven placement: on, off, auto (timing_driven_mode)
    pll: object = None                 # board targets: lgn2hw.fpga.pll.Pll, the harness's clock from the PLL
    selftest: object = None            # board targets: (inputs, labels or None) stored for the self-test


# every step a build may have, in order; a plan holds the ones its target needs
BUILD_STEPS = ("synth-core", "postsim", "synth", "fit", "place", "pnr", "bitstream")
# place and route again, after "pnr", when its first result is not the one to keep (_pnr_again; see _keep_faster,
# _keep_timed)
PNR_AGAIN = ("pnr-nextpnr", "pnr-timed")

TIMING_DRIVEN = ("auto", "on", "off")
#: ``timing_driven="auto"``: a core of at least this many gate LUTs, for an ECP5 clock of at most
#: WIRELENGTH_FIRST_MHZ, is placed for wirelength alone first (nextpnr ``--no-tmdriv``), and again timing-driven
#: only when that misses the clock. Measured on the 48K-class local network for the ULX3S-85F at its 25 MHz clock
#: (bench/results/board48k.json, docs/toolchain-notes.md): place and route 337 s instead of 555 s, Fmax 39.0 MHz
#: instead of 51.7 MHz. Small cores and fast clocks keep timing-driven placement: it costs them little.
WIRELENGTH_FIRST_LUTS = 5000
WIRELENGTH_FIRST_MHZ = 50.0


def timing_driven_mode(family: str, gate_luts: int | None, freq: float, opts: "BuildOptions",
                       placement: str = "nextpnr") -> str:
    """``on``, ``off`` or ``off-then-on`` (wirelength-driven, then timing-driven if the clock is missed): how
    place and route weighs timing for ``opts.timing_driven`` (``placement``: the build's, see _placement). A
    ``--no-tmdriv`` among ``opts.nextpnr_opts`` is the user's own choice: off."""
    choice = check_timing_driven(opts.timing_driven)
    if "--no-tmdriv" in opts.nextpnr_opts:
        return "off"
    if choice != "auto":
        return choice
    if (family == "ecp5" and placement == "nextpnr" and freq <= WIRELENGTH_FIRST_MHZ
            and (gate_luts or 0) >= WIRELENGTH_FIRST_LUTS):
        return "off-then-on"
    return "on"


def check_timing_driven(value: str) -> str:
    if value not in TIMING_DRIVEN:
        from ..errors import UsageError
        raise UsageError(f"timing driven must be one of {', '.join(TIMING_DRIVEN)}, not {value!r}")
    return value


@dataclass
class BuildResult:
    report: dict = field(default_factory=dict)
    bitstreams: list = field(default_factory=list)


_SAY_LOCK = threading.Lock()


def _say(opts, step, message):
    if opts.progress:
        with _SAY_LOCK:             # one line at a time from a step running beside the others
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
    """LUT4 / FF / BRAM estimates from mapped cell counts (before packing); see :mod:`.families`."""
    return _family_resources(family, cells)


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


def _freq(target: Target, opts: BuildOptions) -> float:
    return float(opts.freq_mhz or (target.board.clock_hz / 1e6 if target.board else 100.0))


def plan_build(nl, core, target: Target, opts: BuildOptions, harness_cfg=None) -> BuildPlan:
    """The build of ``core`` for ``target`` as data: files and steps; nothing runs."""
    family, top = target.family, core.top
    fam = FAMILIES[family]
    syn_v = f"{top}.syn.v"
    files = {name: text for name, text in core.files.items()}
    sources = sorted(n for n in core.files if n.endswith(".v"))
    synth_opts = " ".join(o for o in (fam.core_synth_opts, fam.synth_opts, target.device.synth_opts) if o)
    files["synth-core.ys"] = ("".join(f"read_verilog {name}\n" for name in sources)
                              + f"{fam.synth} {synth_opts + ' ' if synth_opts else ''}-top {top}\n"
                              "tee -q -o core.stat.json stat -json\n"
                              "write_json core.json\n"
                              f"write_verilog -noattr {syn_v}\n")
    steps = [Step("synth-core", "yosys", ("-q", "-l", "synth-core.log", "synth-core.ys"),
                  inputs=(*sources, "synth-core.ys"),
                  outputs=(syn_v, "core.json", "core.stat.json", "synth-core.log", "synth-core.run.log"))]
    if opts.postsim_samples:
        from .postsim import plan_postsim
        steps.append(plan_postsim(nl, core, syn_v, opts))
    if target.board:
        board_files = _board_files(core, target, syn_v, harness_cfg, opts.pll)
        files.update(board_files)
        steps.append(Step("synth", "yosys", ("-q", "-l", "synth.log", "top.ys"),
                          inputs=(*sorted(board_files), syn_v),
                          outputs=(fam.board_json, "top.stat.json", "synth.log", "synth.run.log")))
        top_json = fam.board_json
    else:
        top_json = "core.json"
    steps.append(Step("fit", None, inputs=(top_json,), cache=False))
    freq = _freq(target, opts)
    placement = _placement(target, opts)
    if placement != "nextpnr":
        steps.append(Step("place", None, ("lgn2hw.fpga.placement", "density=auto", f"seed={opts.seed}"),
                          inputs=(top_json,), outputs=("placed.json",), cache=False))
    pnr_json = "placed.json" if placement != "nextpnr" else top_json
    args = ["--quiet", "--log", "pnr.log", "--json", pnr_json, "--seed", str(opts.seed), "--freq", f"{freq:g}",
            "--report", "pnr.json", "--timing-allow-fail", *target.device.pnr_args]
    if opts.router:
        args += ["--router", opts.router]
    args += list(opts.nextpnr_opts)
    timing = timing_driven_mode(family, (core.report.get("lut_map") or {}).get("luts"), freq, opts, placement)
    if timing != "on" and "--no-tmdriv" not in args:
        args.append("--no-tmdriv")
    constraints = f"top.{fam.constraints}" if target.board else None
    if family == "ecp5":
        args += ["--package", target.package, "--speed", target.speed]
        placed = "top.config" if target.board else None
        args += ["--lpf", "top.lpf", "--textcfg", "top.config"] if target.board else ["--out-of-context"]
    elif family == "ice40":
        placed = "top.asc"
        args += ["--package", target.package.lower()]
        args += ["--pcf", "top.pcf", "--asc", "top.asc"] if target.board else ["--asc", "top.asc"]
    elif family == "gowin":
        placed = "top.pnr.json"
        args += ["--write", placed] + (["--vopt", f"cst={constraints}"] if constraints else [])
    else:                       # gatemate: nextpnr writes the textual configuration gmpack packs
        placed = "top.config"
        # no-bridges: with CPEs in bridge mode, nextpnr-himbaechel-gatemate 0.11 failed to route the example
        # ("Failed to route arc ... COMBOUT2_int to ... D1_.._int") with either router and three seeds; without
        # them it routes (docs/toolchain-notes.md)
        args += ["--vopt", f"out={placed}", "--vopt", "no-bridges"] + (
            ["--vopt", f"ccf={constraints}"] if constraints else ["--vopt", "allow-unconstrained"])
    pnr = Step("pnr", fam.nextpnr, tuple(args), inputs=(pnr_json,) + ((constraints,) if constraints else ()),
               outputs=("pnr.json", "pnr.log", "pnr.run.log") + ((placed,) if placed else ()))
    steps.append(pnr)
    if placement == "auto":
        # the same run on nextpnr's own placement; the faster of the two is kept
        alt = list(args)
        alt[alt.index("--json") + 1] = top_json
        steps.append(_pnr_again(pnr, "pnr-nextpnr", alt, (top_json,) + ((constraints,) if constraints else ())))
    if timing == "off-then-on":
        # the same run placed for timing; run only when the first misses the clock
        steps.append(_pnr_again(pnr, "pnr-timed", [a for a in args if a != "--no-tmdriv"]))
    name = target.name
    bit = f"{name}.{fam.bitstream}"
    if family == "ecp5" and target.board:
        steps.append(Step("bitstream", "ecppack", ("--input", "top.config", "--bit", bit,
                                                   "--svf", f"{name}.svf"),
                          inputs=("top.config",), outputs=(bit, f"{name}.svf", "bitstream.run.log")))
    elif family == "ice40":
        steps.append(Step("bitstream", "icepack", ("top.asc", bit), inputs=("top.asc",),
                          outputs=(bit, "bitstream.run.log")))
    elif family == "gowin":
        gowin_family = target.device.pnr_device[-1].split("=", 1)[1]
        pack = ["-d", gowin_family, "-o", bit, *(target.board.pack_opts if target.board else ())]
        steps.append(Step("bitstream", "gowin_pack", (*pack, placed), inputs=(placed,),
                          outputs=(bit, "bitstream.run.log")))
    elif family == "gatemate":
        steps.append(Step("bitstream", "gmpack", (placed, bit), inputs=(placed,),
                          outputs=(bit, "bitstream.run.log")))
    if opts.stop_after:
        names = [s.name for s in steps]
        if opts.stop_after not in names:
            from ..errors import UsageError
            raise UsageError(f"stop after must be one of {', '.join(n for n in names if n not in PNR_AGAIN)} "
                             f"for {target.name}, not {opts.stop_after!r}")
        last = names.index(opts.stop_after) + 1
        while last < len(names) and names[last] in PNR_AGAIN:
            last += 1
        steps = steps[:last]
    return BuildPlan(files=files, steps=steps)


def _pnr_again(pnr: Step, name: str, args, inputs=None) -> Step:
    """``pnr`` once more, as step ``name`` (one of PNR_AGAIN) with ``args`` and ``inputs`` (``pnr``'s when None),
    each file it writes under a name of its own: ``pnr.json`` -> ``pnr-timed.json``, ``top.config`` ->
    ``top-timed.config``. :func:`_keep_again` copies them back to the usual names."""
    kind = name.split("-", 1)[1]
    files = {o: re.sub(r"^(pnr|top)\.", rf"\1-{kind}.", o) for o in pnr.outputs}

    def renamed(arg: str) -> str:       # an output as an argument of its own, or after "=" (GateMate's --vopt)
        head, eq, tail = arg.rpartition("=")
        return head + eq + files.get(tail, tail)
    return Step(name, pnr.tool, tuple(renamed(a) for a in args), inputs=pnr.inputs if inputs is None else inputs,
                outputs=tuple(files.values()))


def _keep_again(step: Step, bdir: Path) -> None:
    """The files of a :func:`_pnr_again` step, copied over the usual names (the bitstream step reads those)."""
    kind = step.name.split("-", 1)[1]
    for o in step.outputs:
        shutil.copyfile(bdir / o, bdir / o.replace(f"-{kind}.", ".", 1))


def run_build(nl, core, target: Target, out: Path, opts: BuildOptions, harness_cfg=None) -> BuildResult:
    """Plan the build of ``core`` (the backend's result) for ``target``, then run it in ``out``. An error carries
    what the build measured before it stopped (synthesis, post-synthesis simulation) as ``err.partial_report``."""
    return run_plan(plan_build(nl, core, target, opts, harness_cfg), nl, core, target, out, opts)


def run_plan(plan: BuildPlan, nl, core, target: Target, out: Path, opts: BuildOptions) -> BuildResult:
    rep: dict = {}
    try:
        return _run_plan(plan, nl, core, target, Path(out), opts, rep)
    except Lgn2hwError as err:
        err.partial_report = rep
        raise


def _run_plan(plan: BuildPlan, nl, core, target: Target, out: Path, opts: BuildOptions, rep: dict) -> BuildResult:
    tools = plan.check_tools()          # every tool found and version-checked before the first step runs
    if plan.step("postsim"):
        from .postsim import check_simulators
        check_simulators(opts.postsim_sim or "auto", opts.warn)
    bdir = out / "build"
    plan.write(bdir)
    family = target.family
    freq = _freq(target, opts)
    times: dict = {}
    cache = StepCache((cache_root() if opts.cache is True else Path(opts.cache)) if opts.cache else None)
    rep.update({"target": target.name, "family": family, "device": target.device.name,
                "package": target.package, "speed": target.speed, "board": target.board.name if target.board
                else None, "freq_target_mhz": freq, "seed": opts.seed, "times_s": times,
                "plan_digest": plan.digest(), "tools": dict(plan.tools), "steps": [s.name for s in plan.steps],
                "cached_steps": [],
                "pnr_options": {"router": opts.router, "extra": list(opts.nextpnr_opts),
                                "placement": _placement(target, opts)}})

    def run(step: Step, action, message: str):
        """Restore ``step`` from the cache or run ``action()``; its wall time goes to the report."""
        key = cache.key(step, bdir, plan.tools)
        hit = cache.restore(key, step, bdir)
        if hit is not None:
            _say(opts, step.name, f"{message} (cached, {hit['seconds']:.1f} s when run)")
            rep["cached_steps"].append(step.name)
            times[step.name] = 0.0
            return
        _say(opts, step.name, message)
        t0 = time.monotonic()
        done = action()
        times[step.name] = time.monotonic() - t0
        if done is not False:       # False: the step did not do its work (a simulation skipped), keep nothing
            cache.store(key, step, bdir, times[step.name], opts.warn)

    def tool_step(step: Step, timeout=None):
        return lambda: tools[step.tool].run(step.args, bdir, _tool_log(bdir / f"{step.name}.run.log"), step.name,
                                            timeout if timeout is not None else opts.timeout_s)

    stop, beside = threading.Event(), None
    try:
        with stoppable(stop):
            for step in plan.steps:
                if step.name == "bitstream" and beside is not None:    # no bitstream of a design not shown equal
                    beside.join()
                    beside = None
                if step.name == "synth-core":
                    run(step, tool_step(step), f"yosys {SYNTH_CMD[family]} on {core.top}")
                    core_counts = _cell_counts(bdir / "core.json", core.top)
                    rep["core"] = {"cells": core_counts["cells"], **resources(family, core_counts["cells"]),
                                   "blocks": {b: used for b, c in core_counts["blocks"].items()
                                              if (used := {k: v for k, v in resources(family, c).items() if v})}}
                elif step.name == "postsim":
                    from .postsim import run_postsim
                    aside = _beside_worth_it(plan, step)

                    def postsim(step=step, aside=aside):
                        run(step, lambda: run_postsim(nl, core, bdir, step, tools["yosys"], family, opts),
                            f"the mapped {core.top}, {opts.postsim_samples} samples"
                            + (", beside the next steps" if aside else ""))
                        rep["postsim"] = json.loads((bdir / "postsim.json").read_text())
                    if aside:
                        rep["steps_beside"] = [step.name]      # its time overlaps those of the next steps
                        beside = _Beside(postsim, stop, step.name)
                        continue
                    postsim()
                elif step.name == "synth":
                    run(step, tool_step(step), f"yosys {SYNTH_CMD[family]} on the board top")
                elif step.name == "fit":
                    if target.board:
                        counts = _cell_counts(bdir / FAMILIES[family].board_json, "top")
                        io = _board_io(bdir, family)
                    else:
                        counts = core_counts
                        io = 0 if FAMILIES[family].out_of_context else counts["port_bits"]
                    used = {**resources(family, counts["cells"]), "io": io}
                    rep["synth"] = {"cells": counts["cells"], **used}
                    rep["fit"] = fit_check(target, used, "the design")
                    _say(opts, "fit", ", ".join(f"{k} {u:,}/{c:,}" for k, (u, c) in rep["fit"].items()))
                elif step.name == "place":
                    from .placement import grid_for, write_placed
                    t0 = time.monotonic()
                    _say(opts, "place", f"lgn2hw's placement of the gate logic ({opts.placement})")
                    rep["placement"] = write_placed(bdir / top_json_of(plan), bdir / "placed.json",
                                                    grid_for(target.device.name), seed=opts.seed)
                    times["place"] = time.monotonic() - t0
                elif step.name == "pnr" and plan.step("pnr-nextpnr"):
                    try:        # --placement auto: a failure on lgn2hw's placement leaves nextpnr's to try
                        _place_and_route(step, run, tool_step, target, bdir, opts, freq, used, core.latency, rep)
                    except (ToolchainError, FitError) as err:
                        rep["placement"]["lgn2hw_error"] = str(err)
                elif step.name == "pnr":
                    _place_and_route(step, run, tool_step, target, bdir, opts, freq, used, core.latency, rep,
                                     final=not plan.step("pnr-timed"))
                elif step.name == "pnr-timed":
                    _keep_timed(step, run, tool_step, target, bdir, opts, freq, used, core.latency, rep)
                elif step.name == "pnr-nextpnr":
                    _keep_faster(step, run, tool_step, target, bdir, opts, freq, used, core.latency, rep)
                elif step.name == "bitstream":
                    run(step, tool_step(step), step.tool)
            if beside is not None:
                beside.join()
                beside = None
    except Lgn2hwError:
        if beside is not None:     # the error is that of the side that failed first; a failed place and route
            first = beside.failed_first      # keeps the simulation beside it (what the build measured)
            beside.thread.join()
            if first:
                raise beside.error from None
        raise
    except BaseException:          # Ctrl-C, SIGTERM: the tools beside end too
        if beside is not None:
            stop.set()
            beside.thread.join()
        raise
    finally:                       # in the plan's order, whichever side finished first
        order = [s.name for s in plan.steps]
        rep["cached_steps"].sort(key=order.index)
        times_in_order = sorted(times.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
        times.clear()
        times.update(times_in_order)
    result = BuildResult(rep)
    if plan.steps[-1].name == "bitstream":
        for p in plan.steps[-1].outputs:
            if not p.endswith(".log"):
                shutil.copyfile(bdir / p, out / p)
                result.bitstreams.append(p)
    if "pnr" in rep:
        rep["bitstreams"] = {p: _sha256(out / p) for p in result.bitstreams}
    return result


class _Beside:
    """A step run in a thread beside the build's next ones: post-synthesis simulation (a simulator and the
    interpreter) beside the board's synthesis and place and route (one nextpnr process), when there are two cores
    for them. Its failure sets ``stop``, which ends the build's running tool at once; a failure of the build's
    own steps lets it finish (the report keeps what was measured), Ctrl-C or SIGTERM ends it."""

    def __init__(self, work, stop: threading.Event, name: str):
        self.error: BaseException | None = None
        self.failed_first = False
        tag = current_tag()

        def body():
            try:
                with tagged(tag), stoppable(stop):
                    work()
            except BaseException as err:         # handed to the build's thread by join()
                self.error, self.failed_first = err, not stop.is_set()
                stop.set()

        self.thread = threading.Thread(target=body, name=f"lgn2hw-{name}", daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


def _beside_worth_it(plan: BuildPlan, step: Step) -> bool:
    """Whether ``step`` runs beside the build's next steps: two cores, and a long step after it (synthesis of the
    board, place and route)."""
    later = [s.name for s in plan.steps[plan.steps.index(step) + 1:]]
    return _native.cores() >= 2 and any(n in ("synth", "pnr") for n in later)


def top_json_of(plan: BuildPlan) -> str:
    """The synthesized netlist place and route reads (``top.json`` for a board, ``core.json`` out of context)."""
    return plan.step("fit").inputs[0]


def _placement(target: Target, opts: BuildOptions) -> str:
    """The placement a build uses: ``auto`` is nextpnr's alone where lgn2hw knows no grid for the device."""
    from .placement import GRIDS, check_placement
    placement = check_placement(opts.placement)
    if placement == "lgn2hw":
        from .placement import grid_for
        grid_for(target.device.name)            # a device without a known grid is a usage error, said early
    if placement == "auto" and target.device.name not in GRIDS:
        return "nextpnr"
    return placement


def _keep_faster(step, run, tool_step, target, bdir, opts, freq, used, latency, rep):
    """``--placement auto``: place and route again on nextpnr's placement, unless lgn2hw's routed and the estimate
    says nextpnr's will not; keep its files under the usual names when it is faster (or when lgn2hw's placement did
    not route)."""
    first = rep.get("pnr")
    from .route import WONT_ROUTE_MIN
    if first is not None and rep["placement"].get("ratio_at_nextpnr_density", 0) > WONT_ROUTE_MIN:
        # the estimate of the gate logic's cuts at nextpnr's density says its placement will not route: spare
        # the run (a doomed nextpnr run of a large design takes the better part of an hour)
        rep["placement"]["kept"] = "lgn2hw"
        rep["placement"]["nextpnr"] = "not run: the estimate at nextpnr's density says it will not route"
        return
    alt: dict = {}
    try:
        _place_and_route(step, run, tool_step, target, bdir, opts, freq, used, latency, alt)
    except ToolchainError as err:
        if first is None:
            raise
        rep["placement"]["nextpnr"] = {"error": str(err)}
        return
    fa = alt["pnr"]["fmax_mhz"] or 0.0
    fl = (first or {}).get("fmax_mhz") or 0.0
    rep["placement"]["fmax_mhz"] = {"lgn2hw": fl or None, "nextpnr": fa or None}
    if first is None or fa > fl:
        _keep_again(step, bdir)
        rep.update({k: alt[k] for k in ("pnr", "timing_met", "latency_cycles", "latency_ns",
                                        "throughput_samples_per_s")})
        rep["placement"]["kept"] = "nextpnr"
    else:
        rep["placement"]["kept"] = "lgn2hw"


def _keep_timed(step, run, tool_step, target, bdir, opts, freq, used, latency, rep):
    """``timing_driven="auto"`` on a large core at a slow clock: the wirelength-driven run met the clock, or place
    and route again timing-driven and keep that run, under the usual names."""
    first = rep["pnr"]
    if rep["timing_met"]:
        return
    _say(opts, "pnr", f"{first['fmax_mhz'] or 0:.1f} MHz placed for wirelength alone misses {freq:g} MHz: "
                      "placing for timing")
    _place_and_route(step, run, tool_step, target, bdir, opts, freq, used, latency, rep)
    _keep_again(step, bdir)
    rep["pnr"]["wirelength_driven_fmax_mhz"] = first["fmax_mhz"]


def _place_and_route(step, run, tool_step, target, bdir, opts, freq, used, latency, rep, final=True):
    """Run the place-and-route ``step`` and put its figures in ``rep``. ``final=False``: another run may follow
    when this one misses the clock, so a miss is neither an error nor a warning yet."""
    limit = opts.pnr_timeout_s or opts.timeout_s
    try:
        run(step, tool_step(step, limit), f"{step.tool} --freq {freq:g} --seed {opts.seed}"
                                          + (", placed for wirelength alone" if "--no-tmdriv" in step.args else ""))
    except ToolchainError as err:
        if err.timed_out:
            # docs/toolchain-notes.md: random trained wiring above a few thousand LUTs may never route when
            # placed for a fast clock; wirelength-driven placement routes more, slower
            raise ToolchainError(f"pnr: {step.tool} did not route within {limit:.0f} s",
                                 hint="a large trained network may not route at this clock: try a lower --freq, "
                                      "--router router2, or --nextpnr-opts=--no-tmdriv",
                                 step="pnr", tool=err.tool, log=bdir / step.outputs[1], timed_out=True) from None
        # packing can need more cells than synthesis suggests (iCE40: a flip-flop without a LUT takes a whole
        # logic cell); nextpnr then fails to place: say so as a fit error
        log_path = bdir / step.outputs[1]
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        m = re.search(r"Failed to expand region .* of (\d+) (\w+)", log)
        if m:
            raise FitError(f"the design needs {int(m.group(1)):,} {m.group(2)} after packing, {target.name} has "
                           f"{target.capacity['lut4']:,} logic cells (LUT4 {used['lut4']:,} and FF {used['ff']:,} "
                           f"share them)", hint="choose a larger device or board ('lgn2hw boards'), or a smaller "
                           "model", step="pnr") from None
        raise
    pnr = json.loads((bdir / step.outputs[0]).read_text())
    fmax = _fmax(pnr)
    util = {k: [v.get("used"), v.get("available")] for k, v in pnr.get("utilization", {}).items()
            if v.get("used")}
    rep["pnr"] = {"fmax_mhz": fmax, "utilization": dict(sorted(util.items())),
                  "timing_driven": "--no-tmdriv" not in step.args}
    rep["timing_met"] = bool(fmax is not None and fmax >= freq)
    if not rep["timing_met"] and final:
        msg = (f"timing not met: achieved {fmax:.1f} MHz, target {freq:g} MHz" if fmax is not None
               else f"timing unknown: nextpnr reported no clock, target {freq:g} MHz")
        if opts.strict_timing:
            raise ToolchainError(msg, hint="lower --freq, or add pipeline stages (--pipeline)", step="pnr")
        if opts.warn:
            opts.warn(msg + " (the bitstream may not work at this clock)")
    lat = int(latency)
    clk = min(freq, fmax) if fmax else freq
    rep["latency_cycles"] = lat
    rep["latency_ns"] = round(lat * 1e3 / clk, 2)
    rep["throughput_samples_per_s"] = round(clk * 1e6)   # one sample per cycle into the core


def _fmax(pnr: dict):
    values = [v.get("achieved") for v in pnr.get("fmax", {}).values() if v.get("achieved") is not None]
    return round(float(min(values)), 2) if values else None


def _board_io(bdir: Path, family: str) -> int:
    fam = FAMILIES[family]
    text = (bdir / f"top.{fam.constraints}").read_text()
    return len(re.findall(rf"^\s*({fam.pin_re})\b", text, flags=re.M))


def _board_files(core, target, syn_v, harness_cfg, pll=None) -> dict:
    """Amaranth prepares the board top (RTLIL, constraints, yosys script) around the mapped core, which the
    script reads as ``syn_v`` (written by the synth-core step, so it is not among these files)."""
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
    platform.add_file(syn_v, "")
    prepared = platform.prepare(BoardTop(harness_cfg, board, pll), name="top",
                                synth_opts=" ".join(o for o in (FAMILIES[target.family].synth_opts,
                                                                target.device.synth_opts) if o),
                                script_after_synth="tee -q -o top.stat.json stat -json")
    return {name: content for name, content in prepared.files.items()
            if not name.startswith("build_top") and name != syn_v}
