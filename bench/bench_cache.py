"""The build-step cache on the 48K model: the same compile twice, the second restoring synthesis and
post-synthesis simulation from the cache.

    python -m bench.bench_cache [--model PATH] [--stop-after STEP]

Each run is a fresh `lgn2hw compile` process for the bare LFE5U-85F (the core out of context, 250 MHz settings) into
a new directory, with a step cache of its own (an empty temporary one for the first run). Records each run's wall
time, its per-step times and which steps came from the cache, and checks that the two runs' products are
byte-identical. Writes bench/results/cache.json."""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import MODEL, need_model, rel, write_json


def _compile(model: Path, out: Path, cache: Path, stop_after: str) -> dict:
    env = {**os.environ, "LGN2HW_BUILD_CACHE": str(cache)}
    cmd = [sys.executable, "-m", "lgn2hw", "compile", str(model), "--classes", "10", "--device", "LFE5U-85F",
           "--package", "CABGA381", "--freq", "250", "--stop-after", stop_after, "-o", str(out)]
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    build = json.loads((out / "report.json").read_text())["build"]
    ps = build.get("postsim") or {}
    return {"wall_s": round(wall, 2), "synth_core_s": build["times_s"].get("synth-core"),
            "postsim_s": build["times_s"].get("postsim"), "cached_steps": ", ".join(build["cached_steps"]) or "none",
            "postsim": f"{ps['samples']} samples equal ({ps['simulator']})" if ps.get("equal") else ps.get("skipped"),
            "lut4": build["fit"]["lut4"][0], "plan_digest": build["plan_digest"][:16],
            "command": "lgn2hw " + " ".join(str(c) for c in cmd[3:]).replace(str(model), rel(model))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(MODEL))
    ap.add_argument("--stop-after", default="fit")
    args = ap.parse_args()
    model = need_model(args.model)
    with tempfile.TemporaryDirectory(prefix="lgn2hw-bench-cache-") as tmp:
        tmp = Path(tmp)
        runs = [{"run": i, **_compile(model, tmp / f"out{i}", tmp / "cache", args.stop_after)} for i in (1, 2)]
        same = all(filecmp.cmp(tmp / "out1" / "build" / name, tmp / "out2" / "build" / name, shallow=False)
                   for name in ("core.json", "lgn_core.syn.v", "postsim.json"))
    for i, r in enumerate(runs, 1):
        print(f"run {i}: {r['wall_s']:8.1f} s  cached: {r['cached_steps']}")
    command = runs[0].pop("command")
    runs[1].pop("command")
    print(f"wrote {write_json('cache', {'model': rel(model), 'command': command, 'runs': runs, 'products_identical': same})}")


if __name__ == "__main__":
    main()
