"""A seed sweep against the same builds one after another: `lgn2hw sweep --seeds 1-N --jobs 2` and the same sweep on
a Dask cluster of 2 local worker processes, against N `lgn2hw compile --seed S` run in a row, on the same machine in
the same run.

    python -m bench.bench_sweep [--model PATH | --local WIDTH] [--board B | --device D --package P] [--seeds N]
                                [--jobs J] [--no-dask] [--no-sequential] [--quick] [-- COMPILE OPTIONS]

Each of the three runs starts with an empty step cache of its own, so each synthesises once at most: the sequential
builds restore synthesis from the cache of their first (what `compile` does today), the sweeps from their shared
build. Records the wall time of each run and its ratio to the sequential one, the 1-minute load average at the start
and end of each (the machine is shared), how many builds ran synthesis, and per seed the Fmax, LUT4 and bitstream
digest of every run (the sweeps' points must equal `compile --seed S`). Writes bench/results/sweep.json (with
--quick: sweep_quick.json, 2 seeds of a small network on the icestick).

--local WIDTH sweeps bench_route's synthetic locally wired network of 6 x WIDTH gates instead of a checkpoint (the
48K class: 8000); --no-sequential leaves out the compiles in a row, for a network whose builds take too long to run
twice, so that only the sweep and its Fmax spread are measured."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import RESULTS, ROOT, rel, write_json

EXAMPLE = ROOT / "examples" / "digits_lgn.pt"


def _load():
    return round(os.getloadavg()[0], 2)


def _run(cmd, env) -> tuple:
    """Run ``cmd``; its wall time, CPU time of it and its children, and the load before and after."""
    l0, r0, t0 = _load(), os.times(), time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    r1 = os.times()
    if proc.returncode != 0:
        raise SystemExit(f"bench: error: {' '.join(map(str, cmd[3:]))} failed:\n{proc.stderr[-2000:]}")
    cpu = (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
    return wall, cpu, [l0, _load()], proc


def _env(cache: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "LGN2HW_BUILD_CACHE": str(cache)}


def _point(report: dict) -> dict:
    b = report["build"]
    bits = [v for k, v in b["bitstreams"].items() if k.endswith((".bit", ".bin"))]
    return {"fmax_mhz": b["pnr"]["fmax_mhz"], "lut4": b["fit"]["lut4"][0], "bitstream": bits[0][:16] if bits else None,
            "synthesised": "synth-core" not in b["cached_steps"], "pnr_s": b["times_s"].get("pnr")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(EXAMPLE))
    ap.add_argument("--local", type=int, metavar="WIDTH", help="the synthetic local network of 6 x WIDTH gates")
    ap.add_argument("--no-sequential", action="store_true", help="skip the compiles in a row (the sweep only)")
    ap.add_argument("--sequential-from", metavar="NAME",
                    help="take the compiles in a row from results NAME.json (same model, target and options) "
                         "instead of running them again")
    ap.add_argument("--no-local", action="store_true", help="skip the sweep on local workers (Dask only)")
    ap.add_argument("--board", default="ecp5")
    ap.add_argument("--device")
    ap.add_argument("--package")
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask cluster run")
    ap.add_argument("--quick", action="store_true", help="2 seeds of a small network on the icestick")
    ap.add_argument("-o", "--name", default=None, help="results name (default: sweep, or sweep_quick)")
    ap.add_argument("options", nargs="*", help="further compile options for every build (after --), e.g. --ebr 0")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lgn2hw-bench-sweep-"))
    try:
        _bench(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _bench(args, tmp: Path) -> None:
    options = list(args.options)
    if args.quick:
        from bench._common import random_network
        from lgn2hw.ir import dump
        model = tmp / "tiny.txt"
        model.write_text(dump(random_network(12, 24, 2, 4, seed=3)))
        target, seeds, options = ["--board", "icestick"], 2, options + ["--postsim", "16"]
    elif args.local:
        from bench.bench_route import local_net
        from lgn2hw.ir import dump
        model = tmp / f"local-6x{args.local}.txt"
        model.write_text(dump(local_net(args.local)))
        target = ["--device", args.device, "--package", args.package] if args.device else ["--board", args.board]
        seeds = args.seeds
    else:
        model = Path(args.model)
        if not model.is_file():
            raise SystemExit(f"bench: error: {args.model}: no such model")
        target = ["--device", args.device, "--package", args.package] if args.device else ["--board", args.board]
        seeds = args.seeds
    lgn = [sys.executable, "-m", "lgn2hw"]
    runs, per_seed = [], {s: {"seed": s} for s in range(1, seeds + 1)}
    name = args.name or ("sweep_quick" if args.quick else "sweep")
    shown = ("(a 12x24x2 random network)" if args.quick else
             f"(the synthetic local 6x{args.local} network, radius 24)" if args.local else rel(model))
    cmd = " ".join(["lgn2hw sweep", shown, *target, *options, f"--seeds 1-{seeds}", f"--jobs {args.jobs}"])

    def save():           # after each run: an interrupted bench keeps what it measured
        key = "fmax_local" if args.no_sequential else "fmax_compile"
        fm = sorted(r[key] for r in per_seed.values() if r.get(key) is not None)
        return write_json(name, {"command": cmd, "model": shown,
                                 "runs": runs, "points": list(per_seed.values()), "cpus": os.cpu_count(),
                                 "fmax_spread_mhz": {"min": fm[0], "max": fm[-1], "spread": round(fm[-1] - fm[0], 2)}
                                 if fm else None})

    # 1. the builds one after another, as `compile --seed S` (the step cache: the first synthesises)
    seq_wall, seq_cpu, seq_load, synth = 0.0, 0.0, [_load(), None], 0
    if args.sequential_from:
        seq_wall = _sequential_from(RESULTS / f"{args.sequential_from}.json", cmd, seeds, runs, per_seed)
    for s in range(1, seeds + 1) if not (args.no_sequential or args.sequential_from) else ():
        out = tmp / "seq" / str(s)
        wall, cpu, _, _ = _run(lgn + ["compile", str(model), *target, *options, "--seed", str(s), "-o", str(out)],
                               _env(tmp / "cache-seq"))
        seq_wall += wall
        seq_cpu += cpu
        p = _point(json.loads((out / "report.json").read_text()))
        synth += p["synthesised"]
        per_seed[s].update(fmax_compile=p["fmax_mhz"], lut4=p["lut4"], bitstream_compile=p["bitstream"],
                           compile_wall_s=round(wall, 1))
        print(f"compile --seed {s}: {wall:.1f} s, Fmax {p['fmax_mhz']} MHz", flush=True)
    seq_load[1] = _load()
    if not (args.no_sequential or args.sequential_from):
        runs.append({"run": f"{seeds} x compile --seed S, one after another", "wall_s": round(seq_wall, 1),
                     "cpu_s": round(seq_cpu, 1), "vs_sequential": 1.0, "builds_that_synthesised": synth,
                     "load_start": seq_load[0], "load_end": seq_load[1]})
    save()

    # 2. the sweep on local workers, 3. the same on a Dask cluster of local worker processes
    modes = ([] if args.no_local else [("local", [])]) + ([] if args.no_dask else [("dask", None)])
    for mode, extra in modes:
        cluster = None
        if mode == "dask":
            from distributed import LocalCluster
            cluster = LocalCluster(n_workers=args.jobs, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
            extra = ["--cluster", cluster.scheduler_address]
        else:
            extra = ["--jobs", str(args.jobs)]
        out = tmp / f"sweep-{mode}"
        try:
            wall, cpu, load, _ = _run(lgn + ["sweep", str(model), *target, *options, "--seeds", f"1-{seeds}", *extra,
                                             "--cache-dir", str(tmp / f"cache-{mode}"), "-o", str(out)],
                                      _env(tmp / f"cache-{mode}"))
        finally:
            if cluster is not None:
                cluster.close()
        data = json.loads((out / "sweep.json").read_text())
        synth = sum(1 for r in list(data["shared"].values()) + data["rows"]
                    if r.get("status") == "ok" and "synth-core" in r.get("times_s", {})
                    and "synth-core" not in r.get("cached_steps", []))
        equal = None if args.no_sequential else True
        for r in data["rows"]:
            s = r["settings"]["seed"]
            if r.get("status") != "ok":              # a failed point is a row with its error
                per_seed[s][f"error_{mode}"] = r.get("error")
                if equal is not None:
                    equal = False
                continue
            p = _point(json.loads((out / "points" / r["point"] / "report.json").read_text()))
            per_seed[s].update({f"fmax_{mode}": p["fmax_mhz"], f"bitstream_{mode}": p["bitstream"],
                                f"pnr_s_{mode}": p["pnr_s"]})
            if args.no_sequential:
                per_seed[s].update(lut4=p["lut4"])
            else:
                equal &= (p["fmax_mhz"] == per_seed[s]["fmax_compile"]
                          and p["bitstream"] == per_seed[s]["bitstream_compile"])
        if mode == "local":
            _keep_report(out, RESULTS / name, {str(model): shown})
        runs.append({"run": f"lgn2hw sweep --seeds 1-{seeds} " + (f"--jobs {args.jobs}" if mode == "local" else
                                                                     f"--cluster (Dask, {args.jobs} local workers)"),
                     "wall_s": round(wall, 1), "cpu_s": round(cpu, 1) if mode == "local" else None,
                     "vs_sequential": round(wall / seq_wall, 3) if seq_wall else None,
                     "builds_that_synthesised": synth,
                     "points_equal_compile": equal, "best": data["best"], "load_start": load[0], "load_end": load[1],
                     "sweep_wall_s": data["wall_s"]})
        ratio = f" = {wall / seq_wall:.2f} x sequential" if seq_wall else ""
        print(f"sweep ({mode}): {wall:.1f} s{ratio}; synthesised {synth}x; points equal to compile --seed S: {equal}",
              flush=True)
        save()
    print(f"wrote {save()}")


def _sequential_from(path: Path, cmd: str, seeds: int, runs: list, per_seed: dict) -> float:
    """The compiles in a row of an earlier run of this bench (its JSON at ``path``), for the same sweep: its run
    row (marked as taken from there) into ``runs``, each seed's compile figures into ``per_seed``; its wall time."""
    if not path.is_file():
        raise SystemExit(f"bench: error: {path}: no such results")
    old = json.loads(path.read_text())
    if old["command"] != cmd or len(old["points"]) != seeds or not old["runs"] or "compile" not in old["runs"][0]["run"]:
        raise SystemExit(f"bench: error: {path} holds another sweep ({old['command']})")
    runs.append({**old["runs"][0], "taken_from": f"{path.name} (run {old.get('when', '?')})"})
    for p in old["points"]:
        per_seed[p["seed"]].update({k: p[k] for k in ("fmax_compile", "lut4", "bitstream_compile", "compile_wall_s")})
    return old["runs"][0]["wall_s"]


def _keep_report(out: Path, dest: Path, names: dict) -> None:
    """The local sweep's sweep.md and pareto.svg, kept beside the JSON (in a folder of the same name), with the
    model's path as ``names`` shows it (a temporary file's path means nothing later)."""
    dest.mkdir(parents=True, exist_ok=True)
    from bench._common import scrub
    for name in ("sweep.md", "pareto.svg"):
        text = (out / name).read_text()
        for path, shown in names.items():
            text = text.replace(path, shown)
        (dest / name).write_text(scrub(text))


if __name__ == "__main__":
    main()
