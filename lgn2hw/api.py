"""The Python API: what the ``lgn2hw`` command does, as calls for training scripts and notebooks.

    import lgn2hw
    net = lgn2hw.load("model.pt")                  # any checkpoint kind lgn2hw reads
    net = lgn2hw.optimize(net)                     # function-preserving passes
    counts = lgn2hw.predict(net, x)                # (N, classes) int64 class counts
    result = lgn2hw.compile(net, "out", board="ecp5")
    result.bitstream, result.report["build"]["pnr"]["fmax_mhz"]
    sweep = lgn2hw.sweep("model.pt", "sweep", board="ecp5", seeds="1-16", jobs=2)   # many builds, one table

Nothing here prints. Progress goes to the ``progress`` callback (``progress(step, message)``) when one is given,
and to the ``lgn2hw`` logger (INFO) otherwise; warnings to ``warn(message)`` or the logger (WARNING). Every
failure a user can cause raises an :class:`~lgn2hw.errors.Lgn2hwError`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from pathlib import Path

from .errors import UsageError

log = logging.getLogger("lgn2hw")


# --- load, optimize, predict --------------------------------------------------------------------------------
def load(path, *, format: str | None = None, classes: int | None = None, tau: float | None = None,
         trust_pickle: bool = False, parametrization: str | None = None, input_shape=None):
    """Read a checkpoint (lgn2hw, difflogic, torchlogix, or netlist text) into a :class:`~lgn2hw.ir.Netlist`.
    A whole-model pickle is read only with ``trust_pickle=True``, and then through an allow-list."""
    from .frontend import LoadOptions, load_model
    shape = tuple(int(d) for d in input_shape) if input_shape is not None else None
    return load_model(path, LoadOptions(fmt=format, classes=classes, tau=tau, trust_pickle=trust_pickle,
                                        parametrization=parametrization, input_shape=shape))


def optimize(netlist, *, passes=None, check: bool = False, dump_after: str | None = None, report: bool = False):
    """Run the optimisation passes (``lgn2hw.passes.DEFAULT`` unless ``passes``) to a fixpoint; class counts stay
    exactly equal. Returns the netlist, or ``(netlist, PassReport)`` with ``report=True``."""
    from .passes import DEFAULT, run_passes
    out, rep = run_passes(netlist, DEFAULT if passes is None else passes, check=check, dump_after=dump_after)
    return (out, rep) if report else out


ENGINES = ("ir", "rtl", "icarus")


def predict(netlist, x, *, raw: bool = False, engine: str = "ir", pipeline="auto", freq: float | None = None):
    """Class counts, ``(N, classes)`` int64, for ``x``: ``(N, n_inputs)`` 0/1 bits, or with ``raw=True`` raw
    features that the model's input encoding turns into bits. ``engine``: ``ir`` (the reference interpreter),
    ``rtl`` (the emitted Verilog under Verilator) or ``icarus``."""
    import numpy as np
    if engine not in ENGINES:
        raise UsageError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    x = np.asarray(x)
    if raw:
        enc = netlist.encoding
        if enc is None:
            raise UsageError("raw inputs need a model with an input encoding; this one takes bits",
                             hint="pass the (N, n_inputs) 0/1 array without --raw")
        if x.ndim < 2 or int(np.prod(x.shape[1:])) != enc.n_features:
            raise UsageError(f"raw inputs must have shape (N, {enc.n_features}), not {tuple(x.shape)}")
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise UsageError(f"raw inputs must be numeric, not {x.dtype}")
        x = enc.apply(x)
    if engine == "ir":
        from .ir import evaluate
        return evaluate(netlist, x)
    from .back import EmitOptions, resolve_pipeline
    from .back.rtlsim import simulate
    resolve_pipeline(pipeline, freq)
    opts = EmitOptions(pipeline=pipeline, freq_mhz=freq or EmitOptions.freq_mhz)
    return simulate(netlist, x, simulator="verilator" if engine == "rtl" else "icarus", options=opts).counts


# --- verify -------------------------------------------------------------------------------------------------
def verify(model, out, *, load_options: dict | None = None, comparisons=None, timeout: float | None = 300.0,
           replay: bool = True, progress=None) -> dict:
    """Prove the design ``compile`` wrote to ``out`` equal to ``model`` (a checkpoint path or the
    :class:`~lgn2hw.ir.Netlist` read from it, before passes) with ABC's equivalence checker: the netlist after
    passes, the emitted Verilog and the mapped netlist (:mod:`lgn2hw.prove`). Returns ``{comparison: {"status":
    "equal" | "different" | "unknown", "seconds", "counterexample", "replay"}}``."""
    from .ir import Netlist
    from .prove import COMPARISONS
    from .prove import verify as _verify
    nl = model if isinstance(model, Netlist) else load(model, **(load_options or {}))
    return _verify(nl, out, comparisons=tuple(comparisons or COMPARISONS), timeout=timeout, replay_cex=replay,
                   progress=_progress(progress))


# --- compile ------------------------------------------------------------------------------------------------
@dataclass
class CompileOptions:
    """Everything ``compile`` takes besides the model, the output and the target (the CLI's flags, by name)."""
    pipeline: object = "auto"          # logic levels per pipeline stage, or "auto" from freq
    freq: float | None = None          # target clock, MHz (default: the board clock, 100 for a bare device,
    #                                    250 for Verilog alone)
    top: str = "lgn_core"
    features: bool | None = None       # raw 8-bit features compared on chip (default: on for a board and a model
    #                                    with an input encoding)
    lut_size: int = 4
    popcount_style: str | None = None
    max_fanout: int | None = None      # readers of one gate register before it is copied (None: the target's)
    ebr: object = "auto"               # ECP5 block RAMs for counting tables: a count, or "auto"
    seed: int = 1
    strict_timing: bool = False
    postsim: int = 256                 # post-synthesis simulation samples (0: skip)
    postsim_sim: str = "auto"
    postsim_inputs: object = None      # (N, width) inputs for post-synthesis simulation; random when None
    router: str | None = None
    nextpnr_opts: tuple = ()
    pnr_timeout: float | None = None
    timeout: float | None = None       # any one tool run
    placement: str = "nextpnr"         # nextpnr, lgn2hw or auto (lgn2hw.fpga.placement)
    timing_driven: str = "auto"        # nextpnr's timing-driven placement: auto, on, off (flow.timing_driven_mode)
    core_freq: float | None = None     # board targets: core and harness clock from the board's PLL, MHz
    selftest: int = 0                  # board targets: samples stored for the on-board self-test
    selftest_inputs: object = None     # their inputs (N >= selftest rows; random when None)
    selftest_labels: object = None     # their labels (default: the interpreter's classes)

    @classmethod
    def from_kwargs(cls, options: dict) -> "CompileOptions":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise UsageError(f"compile takes no option {unknown[0]!r} (options: {', '.join(sorted(names))})")
        opts = cls(**options)
        opts.nextpnr_opts = tuple(str(a) for a in opts.nextpnr_opts)
        from .fpga.placement import check_placement
        check_placement(opts.placement)
        from .fpga.flow import check_timing_driven
        check_timing_driven(opts.timing_driven)
        if opts.max_fanout is not None and (isinstance(opts.max_fanout, bool) or not isinstance(opts.max_fanout, int)
                                            or opts.max_fanout < 0):
            raise UsageError(f"max fanout must be a non-negative integer (0: no limit), not {opts.max_fanout!r}")
        if opts.pnr_timeout is not None and not opts.pnr_timeout > 0:
            raise UsageError(f"pnr timeout must be a positive number of seconds, not {opts.pnr_timeout:g}")
        return opts

    def ebr_blocks(self) -> int | None:
        """None for "auto" (every block RAM of an ECP5 target, none otherwise), else a count >= 0."""
        if self.ebr == "auto":
            return None
        try:
            n = int(self.ebr)
        except (TypeError, ValueError):
            n = -1
        if n < 0:
            raise UsageError(f"--ebr must be 'auto' or a number of block RAMs >= 0, not {self.ebr!r}")
        return n


@dataclass
class CompileResult:
    out: Path                          # the output directory
    report: dict                       # what OUT/report.json holds
    verilog: list                      # paths of the Verilog files
    bitstream: Path | None             # the board bitstream (.bit / .bin), when the build made one

    def summary(self) -> dict:
        """The short summary of a hardware build (resources, Fmax, latency, bitstreams); {} for Verilog only."""
        from .fpga import summary
        return summary(self.report, self.out) if "build" in self.report else {}


def compile_steps() -> tuple:
    """The steps ``compile`` can stop after, in order (a plan holds the ones its target needs)."""
    from .fpga.flow import BUILD_STEPS
    return ("verilog",) + BUILD_STEPS


def compile(model, out, *, board: str | None = None, device: str | None = None, package: str | None = None,
            passes: bool = True, stop_after: str | None = None, force: bool = False, cache: bool = True,
            progress=None, warn=None, load_options: dict | None = None, route_check: bool = True,
            prove: bool | None = None, **options) -> CompileResult:
    """Compile ``model`` (a :class:`~lgn2hw.ir.Netlist`, or a checkpoint path read with ``load(path,
    **load_options)``) into the directory ``out``: Verilog and ``report.json``, and with a ``board`` or
    ``device`` the build through yosys and nextpnr to a bitstream. ``out`` must be absent, empty or an earlier
    lgn2hw output (``force=True`` writes into it anyway, keeping files lgn2hw does not write). It appears only
    when everything succeeded. ``cache``: reuse unchanged build steps from the step cache (True), run them all
    (False), or a directory to keep the cache in. Before synthesis, a LUT and routability estimate refuses a core
    that will not fit or route (``route_check=False`` skips it; :mod:`lgn2hw.fpga.route`). ``prove``: after the
    build, prove the design equal to its checkpoint (:data:`PROVE_COMPARISONS`, :func:`verify`;
    None: for a build that reached synthesis, up to :data:`lgn2hw.prove.PROVE_DEFAULT_MAX_GATES` gates); the result
    is ``report["verify"]``. ``options``: see :class:`CompileOptions`."""
    from . import _files
    from .ir import Netlist
    opts = CompileOptions.from_kwargs(options)
    steps = compile_steps()
    if stop_after is not None and stop_after not in steps:
        raise UsageError(f"stop after must be one of {', '.join(steps)}, not {stop_after!r}")
    from .back import resolve_pipeline
    resolve_pipeline(opts.pipeline, opts.freq)
    opts.ebr_blocks()
    say = _progress(progress)
    warn = warn or log.warning
    _files.check_output_dir(out, force)          # before any work
    target = _target(board, device, package)
    if target is None and stop_after not in (None, "verilog"):
        raise UsageError(f"stop after {stop_after} needs a hardware target", hint="add --board or --device")
    if prove:
        _prove_wanted(prove, None, Path(), target)      # a family the proof cannot model: said before any work
    if isinstance(model, Netlist):
        nl, name = model, "netlist"
    else:
        nl, name = load(model, **(load_options or {})), Path(model).name
    report = {"model": name, "steps": [], "layers_before_passes": {str(k): v for k, v in nl.layer_sizes().items()}}
    reference = nl
    if passes:
        nl, rep = optimize(nl, report=True)
        report["passes"] = rep.annotate({})
    freq = opts.freq
    pll = _pll(target, opts.core_freq)
    if opts.selftest and (target is None or target.board is None):
        raise UsageError("--selftest needs a board target (--board): the samples live in the board's harness")
    if target is not None and freq is None:
        freq = pll.fout_mhz if pll else target.board.clock_hz / 1e6 if target.board else 100.0
    features = opts.features if opts.features is not None else bool(target and target.board and nl.encoding)
    core = _emit(nl, target, opts, freq, features)
    report.update(core.report)
    say("verilog", f"{', '.join(sorted(core.files))}: {core.report['gates']} gates in "
                   f"{len(core.report['stages'])} stages, latency {core.latency} cycles")
    if (estimate := _precheck(nl, core.report, target, opts, stop_after, route_check, warn)) is not None:
        report["route_check"] = estimate
    out = Path(out)
    with _files.output_dir(out, force) as tmp:
        for fname, text in core.files.items():
            (tmp / fname).write_text(text)
        report["steps"].append("verilog")
        if target is not None and stop_after != "verilog":
            report["build"] = _build(nl, core, target, tmp, out, opts, freq, stop_after, cache, say, warn, pll)
            report["steps"] += report["build"]["steps"]
        (tmp / "report.json").write_text(_json(report))
        if _prove_wanted(prove, reference, tmp / "build" / f"{core.top}.syn.v", target):
            report["verify"] = _prove(reference, tmp, prove, opts, say, warn)
            (tmp / "report.json").write_text(_json(report))
        if "build" in report and "fit" in report["build"] and "pnr" in report["build"]:
            from .fpga import write_human_report
            write_human_report(tmp, report, nl)
    verilog = [out / f for f in sorted(core.files)]
    bits = [p for p in report.get("build", {}).get("bitstreams", {}) if p.endswith((".bit", ".bin"))]
    return CompileResult(out, report, verilog, out / bits[0] if bits else None)


def sweep(model, out, *, board: str | None = None, device: str | None = None, package: str | None = None,
          seeds="1", pipeline="auto", freq=None, popcount_style=None, boards=None, jobs: int = 1,
          cluster: str | None = None, cache: bool = True, cache_dir=None, stop_after: str | None = None,
          passes: bool = True, force: bool = False, route_check: bool = True, load_options: dict | None = None,
          on_event=None, warn=None, **options):
    """Many builds of ``model`` (a checkpoint path) into ``out``: one :func:`compile` per point of the axes
    ``seeds`` (``"1-16"`` or a list), ``pipeline``, ``freq``, ``popcount_style`` and ``boards`` (comma-separated
    strings or lists), ``jobs`` at a time on this machine or on the Dask cluster at ``cluster``; points that differ
    only in their seed synthesise once. ``cache_dir``: the step cache the builds share (default: each machine's).
    Returns a :class:`~lgn2hw.sweeps.SweepResult`; see :mod:`lgn2hw.sweeps` for the outputs and the best point."""
    from .sweeps import plan_sweep, run_sweep
    plan = plan_sweep(Path(model).resolve(), Path(out).resolve(), board=board, device=device, package=package,
                      seeds=seeds, pipeline=pipeline, freq=freq, popcount_style=popcount_style, boards=boards,
                      stop_after=stop_after, passes=passes, route_check=route_check,
                      cache=(str(Path(cache_dir).resolve()) if cache_dir is not None else True) if cache else False,
                      load_options=load_options, **options)
    return run_sweep(plan, jobs=jobs, cluster=cluster, force=force, on_event=on_event, warn=warn)


#: What ``compile`` proves: the netlist after passes and the emitted Verilog against the checkpoint, and the mapped
#: netlist against the emitted Verilog (bench/results/verify.json has the times).
PROVE_COMPARISONS = ("ir", "rtl", "netlist")


def _prove(nl, out: Path, prove, opts, say, warn) -> dict:
    """The proofs of a compile; a disproved design is a warning (an error with ``prove=True``), and so is a proof
    that could not be made when proving was the default rather than asked for."""
    from .errors import Lgn2hwError
    from .prove import report_lines
    from .prove import verify as _verify
    try:
        res = _verify(nl, out, comparisons=PROVE_COMPARISONS, progress=say, timeout=opts.timeout or 300.0)
    except Lgn2hwError as err:
        if prove:
            raise
        warn(f"no proof of equivalence: {err.message}")
        return {"error": err.message}
    bad = report_lines({w: r for w, r in res.items() if w in PROVE_COMPARISONS and isinstance(r, dict)
                        and r.get("status") == "different"})
    if bad:
        if prove:
            raise UsageError(f"the compiled design is not equal to its checkpoint: {bad[0]}",
                             hint="a compiler or synthesis bug; the counterexample and its replay are above")
        warn(bad[0])
    return res


def _prove_wanted(prove, nl, mapped: Path, target) -> bool:
    """``prove`` when given; by default only for a hardware build that reached synthesis, of a family whose cells
    the proof models, up to a size."""
    from .prove import PROVE_DEFAULT_MAX_GATES, PROVE_FAMILIES
    if prove is not None:
        if prove and target is not None and target.family not in PROVE_FAMILIES:
            raise UsageError(f"--prove models the mapped cells of {' and '.join(PROVE_FAMILIES)} netlists, not "
                             f"{target.family}", hint="leave proving to its default (off for this family)")
        return bool(prove)
    return (mapped.is_file() and target is not None and target.family in PROVE_FAMILIES
            and int(nl.n_nodes) <= PROVE_DEFAULT_MAX_GATES)


def _precheck(nl, core_report, target, opts, stop_after, enabled, warn):
    """The estimate before synthesis (LUTs, routing) for a build that goes on to place and route, or None."""
    if target is None or not enabled or stop_after in ("verilog", "synth-core", "postsim", "synth"):
        return None
    from .fpga.route import precheck
    return precheck(nl, core_report, target, lut_size=opts.lut_size, warn=warn)


def _json(data) -> str:
    import json
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _progress(callback):
    if callback is not None:
        return callback
    return lambda step, message: log.info("%s: %s", step, message)


def _target(board, device, package):
    if not (board or device or package):
        return None
    from .fpga import resolve_target
    return resolve_target(board, device, package)


def _emit(nl, target, opts: CompileOptions, freq, features):
    from .back import EmitOptions, emit_verilog
    eopts = EmitOptions.for_target(target.family if target else None, target.device.bram if target else 0,
                                   top=opts.top, pipeline=opts.pipeline, freq_mhz=freq, features=features,
                                   lut_size=opts.lut_size, popcount_style=opts.popcount_style,
                                   ebr_blocks=opts.ebr_blocks(), max_fanout=opts.max_fanout)
    return emit_verilog(nl, eopts)


def _selftest_data(nl, core, opts: CompileOptions):
    """(inputs, labels) for the self-test: the first ``selftest`` rows given, else random inputs of the core's
    kind (labels then the interpreter's classes); None without a self-test."""
    import numpy as np
    n = int(opts.selftest or 0)
    if n <= 0:
        return None
    if opts.selftest_inputs is not None:
        x = np.asarray(opts.selftest_inputs)
        if len(x) < n:
            raise UsageError(f"self-test needs {n} samples, the data holds {len(x)}")
        labels = None if opts.selftest_labels is None else np.asarray(opts.selftest_labels).reshape(-1)[:n]
        return x[:n].reshape(n, -1), labels
    rng = np.random.default_rng(0)
    raw = any(p["name"] == "in_features" for p in core.report["ports"])
    return (rng.integers(0, 256, (n, nl.encoding.n_features)) if raw else rng.integers(0, 2, (n, nl.n_inputs)),
            None)


def _pll(target, core_freq):
    """The PLL settings for ``core_freq`` on a board target (before any work), or None without one."""
    if core_freq is None:
        return None
    if target is None or target.board is None:
        raise UsageError("--core-freq needs a board target (--board): a bare device has no board clock")
    if not core_freq > 0:
        raise UsageError(f"core frequency must be a positive number of MHz, not {core_freq:g}")
    from .fpga.pll import plan_pll
    return plan_pll(target.family, target.device.name, target.board.clock_hz / 1e6, core_freq)


def _build(nl, core, target, tmp: Path, out: Path, opts: CompileOptions, freq, stop_after, cache, say, warn,
           pll=None):
    """The hardware build into ``tmp``; a failure keeps the tool logs beside ``out`` (``OUT.logs/``)."""
    from .errors import Lgn2hwError
    from .fpga import BuildOptions, compile_for_target
    bopts = BuildOptions(freq_mhz=freq, seed=opts.seed, strict_timing=opts.strict_timing,
                         postsim_samples=opts.postsim, postsim_inputs=opts.postsim_inputs,
                         postsim_sim=opts.postsim_sim, stop_after=stop_after, progress=say, warn=warn,
                         timeout_s=opts.timeout, router=opts.router, nextpnr_opts=opts.nextpnr_opts,
                         pnr_timeout_s=opts.pnr_timeout, cache=cache, placement=opts.placement, pll=pll,
                         timing_driven=opts.timing_driven, selftest=_selftest_data(nl, core, opts))
    try:
        return compile_for_target(nl, core, target, tmp, bopts)
    except Lgn2hwError as err:
        kept = _keep_logs(tmp / "build", Path(f"{str(out).rstrip('/')}.logs"))
        if kept is not None and err.log is not None:
            err.log = str(kept / Path(err.log).name)
            err.hint = (f"{err.hint}; " if err.hint else "") + f"see the logs in {kept}/"
        raise


def _keep_logs(build_dir: Path, dest: Path) -> Path | None:
    """Copy a failed build's logs to ``dest`` (an lgn2hw output like any other: never over a user's files)."""
    import shutil

    from . import _files
    from .errors import OutputError
    logs = sorted(build_dir.glob("*.log")) if build_dir.is_dir() else []
    if not logs:
        return None
    try:
        with _files.output_dir(dest) as tmp:
            for f in logs:
                shutil.copyfile(f, tmp / f.name)
    except (OutputError, OSError):
        return None
    return dest
