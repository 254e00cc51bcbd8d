"""Many builds at once: a sweep over seeds and settings, each point one :func:`lgn2hw.api.compile`.

    plan = plan_sweep("model.pt", "out", board="ecp5", seeds="1-16", freq="200,250")
    result = run_sweep(plan, jobs=2)                 # or cluster="tcp://host:8786" (Dask distributed)
    result.best, result.rows

A sweep is a plan first (:class:`SweepPlan`: the points as data, with a digest), then a run. Points that differ
only in their seed share every step before place and route (the seed is an argument of nextpnr alone), so the
run builds each such *group* once up to the fit check (``OUT/shared/<group>/``, which fills the step cache) and
then fans the group's points out: each point restores synthesis and post-synthesis simulation from the step cache
and places and routes. A seed sweep synthesises once.

Executors: a local pool of processes (``jobs``), or a Dask distributed cluster (``cluster``: the scheduler's
address). Cluster workers must run the same lgn2hw, see the model and ``OUT`` at the same paths (a shared
filesystem), and have the tools; each worker is checked, and its YoWASP tools compiled (the WebAssembly cache
is per machine), before the first build. The step cache is each machine's own unless ``cache_dir`` names one
on the shared filesystem.

Outputs (``OUT/``): ``points/<name>/`` (a compile output per point), ``shared/<group>/``, ``sweep.json`` (the
plan and one row per point, rewritten as points finish), ``sweep.md`` (the table and the Pareto plot
``pareto.svg``: LUT4 against Fmax, latency as colour) and ``best/`` (the best point's outputs, without its
``build/`` folder), chosen by :data:`BEST_RULE`. A failed point is a row with its error; an interrupted sweep
(Ctrl-C, SIGTERM) ends the running builds and keeps the finished rows.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Lgn2hwError, UsageError

#: The axes a sweep can vary, in the order they nest (the seed innermost, so that a group's points are adjacent)
AXES = ("board", "pipeline", "freq", "popcount_style", "seed")
#: How a point's directory name shows each axis
_LABEL = {"board": "", "pipeline": "pipeline", "freq": "freq", "popcount_style": "", "seed": "seed"}
MAX_POINTS = 4096

BEST_RULE = ("among the finished points that meet their clock target, the highest Fmax, then the fewest LUT4, "
             "then the first in the sweep's order; when none meets its target, the same rule over all finished "
             "points")

#: Compile options a sweep passes through unchanged to every point (the axes are set per point)
FIXED_OPTIONS = ("top", "features", "lut_size", "max_fanout", "ebr", "strict_timing", "postsim", "postsim_sim",
                 "router", "nextpnr_opts", "pnr_timeout", "timeout", "timing_driven")


# --- axes ---------------------------------------------------------------------------------------------------
def parse_seeds(spec) -> list:
    """Seeds from ``"1-16"``, ``"1,3,7-9"``, an int or a list of ints; each >= 0, none twice."""
    if isinstance(spec, int):
        items = [spec]
    elif isinstance(spec, str):
        items = []
        for part in spec.split(","):
            part = part.strip()
            lo, sep, hi = part.partition("-")
            try:
                a, b = int(lo), int(hi) if sep else int(lo)
            except ValueError:
                raise UsageError(f"--seeds must be numbers and ranges like 1-16 or 1,3,7-9, not {spec!r}") from None
            if b < a:
                raise UsageError(f"--seeds range {part} runs backwards; write it as {b}-{a}")
            items += range(a, b + 1)
    else:
        try:
            items = [int(s) for s in spec]
        except (TypeError, ValueError):
            raise UsageError(f"seeds must be integers, not {spec!r}") from None
    return _distinct("--seeds", items, lambda s: s >= 0, "a seed >= 0")


def _split(spec) -> list:
    if isinstance(spec, str):
        return [s.strip() for s in spec.split(",")]
    if isinstance(spec, (int, float)):
        return [spec]
    return list(spec)


def _distinct(flag, items, ok, what) -> list:
    if not items:
        raise UsageError(f"{flag} must list at least one value")
    for v in items:
        if v == "" or not ok(v):
            raise UsageError(f"{flag} values must each be {what}, not {v!r}")
    seen = set()
    for v in items:
        if v in seen:
            raise UsageError(f"{flag} lists {v!r} twice")
        seen.add(v)
    return list(items)


def parse_axis(name: str, spec) -> list:
    """The values of one axis (``pipeline``, ``freq``, ``popcount_style`` or ``board``) from a comma-separated
    string or a list; seeds through :func:`parse_seeds`."""
    flag = "--" + name.replace("_", "-")
    if name == "seed":
        return parse_seeds(spec)
    items = _split(spec)
    if name == "pipeline":
        vals = []
        for v in items:
            if v == "auto":
                vals.append("auto")
                continue
            try:
                vals.append(int(v))
            except (TypeError, ValueError):
                raise UsageError(f"--pipeline values must each be 'auto' or a number of logic levels >= 0, "
                                 f"not {v!r}") from None
        return _distinct(flag, vals, lambda v: v == "auto" or v >= 0, "'auto' or a number of logic levels >= 0")
    if name == "freq":
        vals = []
        for v in items:
            try:
                vals.append(float(v))
            except (TypeError, ValueError):
                raise UsageError(f"--freq values must each be a clock in MHz, not {v!r}") from None
        return _distinct(flag, vals, lambda v: 1 <= v <= 2000, "a clock in MHz between 1 and 2000")
    if name == "popcount_style":
        from .back._popcount import STYLES
        return _distinct(flag, [str(v) for v in items], lambda v: v in STYLES, " or ".join(STYLES))
    if name == "board":
        return _distinct("--boards", [str(v) for v in items], bool, "a board name")
    raise UsageError(f"a sweep has no axis {name!r} (axes: {', '.join(AXES)})")


# --- the plan -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    index: int
    name: str                 # its directory under OUT/points/
    settings: dict            # axis -> value (every axis of the sweep, swept or not)
    group: str                # the name of the points that share every step before place and route

    def as_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "group": self.group, "settings": self.settings}


@dataclass
class SweepPlan:
    model: str                # the checkpoint path, as every point reads it
    out: Path
    target: dict              # {"board": ..., "device": ..., "package": ...}: the target when no board axis
    axes: dict                # axis -> list of values (one value: not swept)
    options: dict             # the fixed compile options
    points: list              # Point, in the sweep's order
    compile_args: dict = field(default_factory=dict)   # stop_after, passes, route_check, cache, load_options

    def groups(self) -> dict:
        """group name -> its points, in order."""
        out: dict = {}
        for p in self.points:
            out.setdefault(p.group, []).append(p)
        return out

    def as_dict(self) -> dict:
        return {"model": self.model, "target": self.target, "axes": self.axes, "options": self.options,
                "compile": {k: v for k, v in self.compile_args.items() if k != "cache"},
                "points": [p.as_dict() for p in self.points]}

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True, default=str).encode()).hexdigest()


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _point_name(settings: dict, swept: list, widths: dict) -> str:
    parts = []
    for axis in swept:
        v = settings[axis]
        text = str(v).zfill(widths["seed"]) if axis == "seed" else _fmt(v)
        parts.append(_LABEL[axis] + text)
    return "-".join(parts)


def plan_sweep(model, out, *, board: str | None = None, device: str | None = None, package: str | None = None,
               seeds="1", pipeline="auto", freq=None, popcount_style=None, boards=None, stop_after=None,
               passes: bool = True, route_check: bool = True, cache: bool = True, load_options: dict | None = None,
               **options) -> SweepPlan:
    """The sweep as data: every point's settings and directory, checked before anything runs (a bad axis, an
    unknown board, an option ``compile`` refuses is a :class:`UsageError` now, not in the middle of the run).
    ``freq=None`` and ``popcount_style=None`` mean compile's defaults; ``boards`` replaces ``board``."""
    from .api import CompileOptions, _target, compile_steps
    unknown = sorted(set(options) - set(FIXED_OPTIONS))
    if unknown:
        axis = {"seed": "seeds", "boards": "boards"}.get(unknown[0])
        raise UsageError(f"sweep takes no option {unknown[0]!r}" + (f" (the axis is {axis!r})" if axis else "")
                         + f"; options: {', '.join(FIXED_OPTIONS)}")
    if boards is not None and (board or device or package):
        raise UsageError("give either --boards or one target (--board or --device/--package), not both")
    if stop_after is not None and stop_after not in compile_steps():
        raise UsageError(f"stop after must be one of {', '.join(compile_steps())}, not {stop_after!r}")
    axes = {"board": parse_axis("board", boards) if boards is not None else [board],
            "pipeline": parse_axis("pipeline", pipeline),
            "freq": parse_axis("freq", freq) if freq is not None else [None],
            "popcount_style": parse_axis("popcount_style", popcount_style) if popcount_style is not None else [None],
            "seed": parse_seeds(seeds)}
    # every target found now (an unknown board, a device without its package: one line before any build)
    if boards is not None:
        for b in axes["board"]:
            _target(b, None, None)
    elif _target(board, device, package) is None:
        raise UsageError("a sweep needs a hardware target", hint="add --board, --device/--package or --boards")
    # compile's own checks on one option set per combination of the settings
    base = CompileOptions.from_kwargs(options)
    base.ebr_blocks()
    from .back import resolve_pipeline
    total = 1
    for vals in axes.values():
        total *= len(vals)
    if total > MAX_POINTS:
        raise UsageError(f"a sweep may have at most {MAX_POINTS} points, not {total:,}")
    points, combos = [], [{}]
    for axis in AXES:
        combos = [{**c, axis: v} for c in combos for v in axes[axis]]
    swept = [a for a in AXES if len(axes[a]) > 1] or ["seed"]
    widths = {"seed": len(str(max(axes["seed"])))}
    for i, s in enumerate(combos):
        resolve_pipeline(s["pipeline"], s["freq"])
        others = [a for a in swept if a != "seed"]         # a group: the points that differ only in their seed
        points.append(Point(i, _point_name(s, swept, widths), s, _point_name(s, others, widths) if others else "all"))
    opts = {k: getattr(base, k) for k in FIXED_OPTIONS}
    opts["nextpnr_opts"] = list(opts["nextpnr_opts"])
    return SweepPlan(model=str(model), out=Path(out),
                     target={"board": board, "device": device, "package": package}, axes=axes, options=opts,
                     points=points, compile_args={"stop_after": stop_after, "passes": passes,
                                                  "route_check": route_check, "cache": cache,
                                                  "load_options": load_options or {}})


# --- one build (runs in a worker) ---------------------------------------------------------------------------
def _task(plan: SweepPlan, point: Point | None, group: str, out: Path, stop_after) -> dict:
    """Everything a worker needs for one build, as plain data (it crosses a process or a network)."""
    s = (point.settings if point is not None else plan.groups()[group][0].settings)
    target = dict(plan.target) if s["board"] is None else {"board": s["board"], "device": None, "package": None}
    options = {**plan.options, "pipeline": s["pipeline"], "freq": s["freq"], "popcount_style": s["popcount_style"],
               "seed": s["seed"]}
    ca = plan.compile_args
    return {"sweep": plan.digest(), "model": plan.model, "out": str(out), "target": target, "options": options,
            "stop_after": stop_after, "passes": ca["passes"], "route_check": ca["route_check"], "cache": ca["cache"],
            "load_options": ca["load_options"], "point": point.name if point is not None else None, "group": group}


def run_task(task: dict) -> dict:
    """One build through :func:`lgn2hw.api.compile`; its row (``status`` ok or failed, with ``error``). Only an
    interruption (Ctrl-C, SIGTERM) passes through."""
    from .api import compile
    from .fpga.toolchain import tagged
    warnings: list = []
    t0 = time.monotonic()
    row = {"point": task["point"], "group": task["group"], "out": task["out"], "host": _host()}
    try:
        with tagged(task["sweep"]):
            res = compile(task["model"], task["out"], **task["target"], passes=task["passes"],
                          stop_after=task["stop_after"], cache=task["cache"],
                          progress=lambda step, msg: None, warn=warnings.append, load_options=task["load_options"],
                          route_check=task["route_check"], **task["options"])
    except Lgn2hwError as err:
        row.update(status="failed", error=err.line(), error_step=err.step, wall_s=round(time.monotonic() - t0, 2))
        return row
    except Exception as err:      # a bug in one point is still a row
        row.update(status="failed", error=f"internal error: {type(err).__name__}: {err}",
                   wall_s=round(time.monotonic() - t0, 2))
        return row
    row.update(status="ok", wall_s=round(time.monotonic() - t0, 2), warnings=warnings, **_measures(res.report))
    return row


def _measures(report: dict) -> dict:
    b = report.get("build") or {}
    pnr = b.get("pnr") or {}
    fit = b.get("fit") or {}
    bits = {k: v for k, v in (b.get("bitstreams") or {}).items() if k.endswith((".bit", ".bin"))}
    return {"lut4": fit.get("lut4", [None])[0], "ff": fit.get("ff", [None])[0], "bram": fit.get("bram", [None])[0],
            "fmax_mhz": pnr.get("fmax_mhz"), "freq_target_mhz": b.get("freq_target_mhz"),
            "timing_met": b.get("timing_met"), "latency_cycles": b.get("latency_cycles", report.get("latency")),
            "latency_ns": b.get("latency_ns"), "cached_steps": b.get("cached_steps", []),
            "times_s": b.get("times_s", {}), "plan_digest": b.get("plan_digest"),
            "bitstream_sha256": next(iter(bits.values()), None), "target": b.get("target"),
            "postsim_equal": (b.get("postsim") or {}).get("equal")}


def _host() -> str:
    import socket
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_setup(probe: str, tools: list) -> dict:
    """Run once on each cluster worker before the sweep: it must see ``probe`` (a file in OUT, so OUT is on a
    filesystem it shares) and have every tool; asking each tool's version compiles the YoWASP WebAssembly into this
    machine's cache (a minute on a new machine) before the builds, not inside the first one's timing."""
    from . import __version__
    from .fpga.toolchain import identity_of, require
    got = {"host": _host(), "lgn2hw": __version__, "sees_out": os.path.isfile(probe), "tools": {}, "errors": []}
    t0 = time.monotonic()
    for name in tools:
        try:
            got["tools"][name] = identity_of(require(name))
        except Lgn2hwError as err:
            got["errors"].append(err.line())
    got["warm_s"] = round(time.monotonic() - t0, 2)
    return got


def end_tools(sweep: str) -> int:
    """On a worker: end the tool processes the builds of ``sweep`` are running (an interrupted sweep)."""
    from .fpga.toolchain import end_running_tools
    return end_running_tools(sweep)


# --- executors ----------------------------------------------------------------------------------------------
_LOCAL = {"stop": None, "busy": False}


def _init_local_worker(stop):
    import signal

    from .errors import Terminated

    def _terminate(signum, frame):
        if _LOCAL["busy"]:                  # unwinds the build: its tools end, its partial output goes
            raise Terminated(signum)
    _LOCAL["stop"] = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # the sweep's process decides; it ends the workers
    signal.signal(signal.SIGTERM, _terminate)


def _run_local(task: dict) -> dict:
    _LOCAL["busy"] = True
    try:
        if _LOCAL["stop"].is_set():         # queued before the sweep stopped
            return {"point": task["point"], "group": task["group"], "status": "not run"}
        return run_task(task)
    finally:
        _LOCAL["busy"] = False


class LocalExecutor:
    """A pool of ``jobs`` processes on this machine (started fresh, so that torch's threads are not forked)."""
    name = "local"

    def __init__(self, jobs: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        self.jobs = jobs
        ctx = multiprocessing.get_context("spawn")
        self.stop_event = ctx.Event()
        self.pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_local_worker,
                                        initargs=(self.stop_event,))

    def setup(self, probe, tools, warn) -> None:
        """Nothing to check: the workers are this machine's processes (its tools were checked already)."""

    def describe(self) -> dict:
        return {"executor": "local", "workers": self.jobs}

    def submit(self, task: dict):
        return self.pool.submit(_run_local, task)

    def stop(self) -> None:
        """End the running builds (SIGTERM: each unwinds, ending its tools) and drop the queued ones."""
        self.stop_event.set()
        for p in list((getattr(self.pool, "_processes", None) or {}).values()):
            if p.is_alive():
                p.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


class DaskExecutor:
    """A Dask distributed cluster at ``address`` (``dask scheduler`` and ``dask worker`` processes; one thread per
    worker process suits builds, ``dask worker ADDRESS --nworkers N --nthreads 1``)."""
    name = "dask"

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--cluster needs Dask distributed", hint="pip install 'lgn2hw[cluster]'") from None
        try:
            self.client = Client(address, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {err}",
                             hint="start one with 'dask scheduler' and workers with 'dask worker ADDRESS "
                                  "--nthreads 1'") from None
        self.address = address
        self.futures: list = []
        self.sweep = None
        self.workers: dict = {}

    def setup(self, probe: Path, tools: list, warn) -> None:
        """Every worker checked (same lgn2hw, sees OUT, has the tools) and its YoWASP tools compiled."""
        self.sweep = probe.read_text()
        self.workers = self._setup(str(probe), tools, warn)

    def _setup(self, probe: str, tools: list, warn) -> dict:
        from . import __version__
        from .errors import ToolchainError
        if not self.client.scheduler_info().get("workers"):
            self.client.wait_for_workers(1, timeout=60)
        got = self.client.run(worker_setup, probe, tools)
        if not got:
            raise UsageError(f"the Dask cluster at {self.address} has no workers")
        for addr, info in sorted(got.items()):
            if info["errors"]:
                raise ToolchainError(f"worker {addr}: {info['errors'][0]}")
            if not info["sees_out"]:
                raise UsageError(f"worker {addr} does not see the output directory {Path(probe).parent}",
                                 hint="cluster workers need the model and OUT at the same paths: put OUT on a "
                                      "filesystem they share")
            if info["lgn2hw"] != __version__:
                raise UsageError(f"worker {addr} runs lgn2hw {info['lgn2hw']}, this sweep {__version__}")
        ids = {json.dumps(i["tools"], sort_keys=True) for i in got.values()}
        if len(ids) > 1 and warn:
            warn("the cluster's workers have different tool versions; their builds may differ")
        return got

    def describe(self) -> dict:
        return {"executor": "dask", "scheduler": self.address, "workers": len(self.workers),
                "worker_tools_warm_s": {a: i["warm_s"] for a, i in sorted(self.workers.items())}}

    def submit(self, task: dict):
        key = f"lgn2hw-{task['point'] or 'shared-' + task['group']}-{os.urandom(4).hex()}"
        fut = self.client.submit(run_task, task, key=key, pure=False)
        self.futures.append(fut)
        return fut

    def stop(self) -> None:
        """Drop the queued builds and end the running ones' tools on every worker (a thread cannot be stopped;
        its build fails at once when its tool ends, and removes its partial output)."""
        import contextlib
        with contextlib.suppress(Exception):
            self.client.cancel(self.futures, force=True)
        with contextlib.suppress(Exception):
            self.client.run(end_tools, self.sweep)
        with contextlib.suppress(Exception):
            self.client.run(end_tools, self.sweep)
        self.close()

    def close(self) -> None:
        import contextlib
        with contextlib.suppress(Exception):
            self.client.close()


# --- the run ------------------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    out: Path
    rows: list                # one per point, in the sweep's order (status ok, failed, or not run)
    best: dict | None         # the chosen row, or None
    complete: bool            # False: interrupted
    data: dict                # what sweep.json holds

    @property
    def failed(self) -> list:
        return [r for r in self.rows if r["status"] == "failed"]


def pick_best(rows: list) -> dict | None:
    """The best row by :data:`BEST_RULE`, or None when no finished point has an Fmax."""
    done = [r for r in rows if r["status"] == "ok" and r.get("fmax_mhz") is not None]
    pool = [r for r in done if r.get("timing_met")] or done
    if not pool:
        return None
    return min(pool, key=lambda r: (-r["fmax_mhz"], r["lut4"] if r["lut4"] is not None else 1 << 62, r["index"]))


def pareto(rows: list) -> list:
    """Indices of the finished points no other beats on both fewer LUT4 and higher Fmax."""
    pts = [r for r in rows if r["status"] == "ok" and r.get("fmax_mhz") is not None and r.get("lut4") is not None]
    front = []
    for r in pts:
        dominated = any(o["lut4"] <= r["lut4"] and o["fmax_mhz"] >= r["fmax_mhz"]
                        and (o["lut4"] < r["lut4"] or o["fmax_mhz"] > r["fmax_mhz"]) for o in pts)
        if not dominated:
            front.append(r["index"])
    return sorted(front)


SWEEP_FILES = ("points", "shared", "sweep.json", "sweep.md", "pareto.svg", "best")


def run_sweep(plan: SweepPlan, *, jobs: int = 1, cluster: str | None = None, force: bool = False,
              on_event=None, warn=None) -> SweepResult:
    """Run ``plan``: the shared steps of each group first, then its points, ``jobs`` at a time on this machine or
    on the Dask cluster at ``cluster``. ``on_event(kind, data)``: ``"start"`` (the executor), ``"shared"`` (a
    group's shared build finished: its row), ``"point"`` (a point finished: its row). Ctrl-C or SIGTERM ends the
    running builds; the finished rows stay in ``sweep.json`` and the interruption is raised again."""
    from . import _files
    from .api import load
    from .errors import Terminated
    if not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"--jobs must be a number of builds at once >= 1, not {jobs!r}")
    event = on_event or (lambda kind, data: None)
    warn = warn or (lambda msg: None)
    out = Path(plan.out)
    _files.check_output_dir(out, force)
    load(plan.model, **plan.compile_args["load_options"])          # a bad checkpoint: one line, before any build
    tools = _tools_needed(plan)
    if cluster is None:
        from .fpga.toolchain import require
        for name in tools:            # found and their version asked: missing tools said now, YoWASP compiled
            require(name)
    executor = DaskExecutor(cluster) if cluster else None      # an unreachable scheduler: said before OUT exists
    existed = out.exists()
    rows = [{"index": p.index, "point": p.name, "group": p.group, "settings": p.settings, "status": "not run"}
            for p in plan.points]
    shared: dict = {}
    data = {"plan_digest": plan.digest(), "plan": plan.as_dict(), "best_rule": BEST_RULE}
    t0 = time.monotonic()
    load0 = _loadavg()
    complete = started = False
    best = None
    probe = out / ".sweep-probe"
    try:
        _files.reset_output_dir(out, SWEEP_FILES, force)
        (out / "points").mkdir()
        probe.write_text(plan.digest())
        executor = executor or LocalExecutor(jobs)
        executor.setup(probe, tools, warn)
        data["executor"] = executor.describe()
        event("start", {**data["executor"], "points": len(plan.points)})
        started = True
        _drive(plan, executor, rows, shared, data, out, event)
        complete = True
    except (KeyboardInterrupt, Terminated):
        if executor is not None:
            executor.stop()
            executor = None
        raise
    finally:
        if executor is not None:
            executor.close()
        probe.unlink(missing_ok=True)
        if not started:                # nothing ran (a worker without the tools): no sweep output
            if not existed:
                shutil.rmtree(out, ignore_errors=True)
        else:
            data.update(wall_s=round(time.monotonic() - t0, 2), load_avg_start=load0, load_avg_end=_loadavg(),
                        complete=complete)
            best = _finish(out, plan, rows, shared, data)
    return SweepResult(out, rows, best, complete, data)


def _tools_needed(plan: SweepPlan) -> list:
    from .api import _target
    fams = set()
    for b in plan.axes["board"]:
        t = _target(b, None, None) if b else _target(plan.target["board"], plan.target["device"],
                                                   plan.target["package"])
        fams.add((t.family, bool(t.board)))
    names = ["yosys"]
    for fam, board in sorted(fams):
        names.append(f"nextpnr-{fam}")
        if board or fam == "ice40":
            names.append("ecppack" if fam == "ecp5" else "icepack")
    return list(dict.fromkeys(names))


def _drive(plan, executor, rows, shared, data, out: Path, event):
    """Submit each group's shared build, then its points when it is done; collect rows as builds finish."""
    done_q: queue.Queue = queue.Queue()
    pending = 0
    stop_after = plan.compile_args["stop_after"]
    pre_pnr = stop_after in ("verilog", "synth-core", "postsim", "synth", "fit")
    by_group = plan.groups()

    def submit(task, what):
        nonlocal pending
        fut = executor.submit(task)
        pending += 1
        fut.add_done_callback(lambda f, what=what: done_q.put((what, f)))

    def submit_points(group):
        for p in by_group[group]:
            submit(_task(plan, p, group, out / "points" / p.name, stop_after), ("point", p))

    for group, pts in by_group.items():
        # a group of one, a build that stops before place and route, or no cache: nothing to share
        if len(pts) > 1 and not pre_pnr and plan.compile_args["cache"]:
            submit(_task(plan, None, group, out / "shared" / group, "fit"), ("shared", group))
        else:
            submit_points(group)
    while pending:
        try:
            (kind, obj), fut = done_q.get(timeout=0.5)
        except queue.Empty:
            continue
        pending -= 1
        row = _result(fut, obj.name if kind == "point" else None, obj if kind == "shared" else obj.group)
        if kind == "shared":
            shared[obj] = row
            event("shared", row)
            if row["status"] == "ok":
                submit_points(obj)
            else:           # every point of the group would fail the same way: rows with the shared build's error
                for p in by_group[obj]:
                    rows[p.index].update(status="failed", error=f"shared steps: {row['error']}")
                    event("point", rows[p.index])
        else:
            rows[obj.index].update(row)
            event("point", rows[obj.index])
        _write_json(out, {**data, "shared": shared, "rows": rows})


def _result(fut, point, group) -> dict:
    """A finished future's row; an exception that crossed from the worker (a lost worker) is a failed row."""
    try:
        return fut.result()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:      # noqa: B036 - a worker's Terminated or a lost process is this build's end
        return {"point": point, "group": group, "status": "failed",
                "error": f"the build's worker ended: {type(err).__name__}: {err}".rstrip(": ")}


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _write_json(out: Path, data: dict) -> None:
    from ._files import atomic_path
    with atomic_path(out / "sweep.json") as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _finish(out: Path, plan: SweepPlan, rows: list, shared: dict, data: dict) -> dict | None:
    best = pick_best(rows)
    front = pareto(rows)
    for r in rows:
        r["pareto"] = r["index"] in front
    data.update(shared=shared, rows=rows, best=best["point"] if best else None,
                points_ok=sum(r["status"] == "ok" for r in rows),
                points_failed=sum(r["status"] == "failed" for r in rows),
                points_not_run=sum(r["status"] == "not run" for r in rows))
    if best is not None:
        from . import _files
        src = out / "points" / best["point"]
        with _files.output_dir(out / "best", force=True) as tmp:
            for f in sorted(src.iterdir()):
                if f.is_file() and f.name != _files.MARKER:
                    shutil.copyfile(f, tmp / f.name)
            (tmp / "POINT").write_text(best["point"] + "\n")
        data["best_dir"] = "best/"
    _write_json(out, data)
    from ._files import atomic_path
    from .sweep_report import pareto_svg, sweep_markdown
    with atomic_path(out / "pareto.svg") as tmp:
        tmp.write_text(pareto_svg(rows, title=f"{Path(plan.model).name}: LUT4 against Fmax"))
    with atomic_path(out / "sweep.md") as tmp:
        tmp.write_text(sweep_markdown(plan, data, rows, best))
    return best
