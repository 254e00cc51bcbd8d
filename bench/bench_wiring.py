"""Wiring on full MNIST: accuracy, live gates and LUTs of random, local and learnable wiring at equal gate counts.

    python -m bench.bench_wiring train --label L [trainer options] -o MODEL.pt   # one run, one row
    python -m bench.bench_wiring measure MODEL.pt [--label L]                     # a row for a trained model
    python -m bench.bench_wiring collect [ROW.json ...]                           # rows -> bench/results/wiring.json
    python -m bench.bench_wiring hw MODEL.pt -o OUT [--label L]                   # place and route (long)

``train`` trains with lgn2hw's CPU trainer (the same code and defaults as ``lgn2hw train --dataset mnist``; the
row records the equivalent command), logs every epoch's test accuracy of the discretised network and the elapsed
time, saves the checkpoint and then measures it as ``measure`` does. ``measure`` counts the live gates after the
default passes, runs ``lgn2hw compile MODEL --stop-after verilog`` for the LUTs after mapping (report.json
``lut_map.luts``) and evaluates the checkpoint on all 10,000 MNIST test images from the raw uint8 pixels through
the input encoding stored in the checkpoint (what ``lgn2hw predict MODEL X.npy --raw`` does). Each run writes its
row to ``--rows DIR`` (default /tmp/lgn2hw-wiring-rows) so that runs in parallel never write one file;
``collect`` merges the rows into bench/results/wiring.json, sorted by gates, wiring and label (the directory is
``$LGN2HW_WIRING_ROWS`` when set).

Place and route is not part of ``train`` or ``measure`` (it takes minutes to hours on this machine); each row
carries lgn2hw's routability estimate (``lgn2hw info --device LFE5U-85F --ebr 0``, seconds) and the compile
command. ``hw`` runs the build for the bare LFE5U-85F (CABGA381) at a 250 MHz target with popcounts in LUTs
(``--ebr 0``) and post-synthesis simulation on all 10,000 MNIST test images (the CLI's ``--postsim N`` draws
random inputs, so this goes through ``lgn2hw.compile(..., postsim_inputs=...)``) and writes a row with
``pnr``: routed or not, Fmax, resources, post-synthesis equality; ``collect`` merges it with the training row of
the same label.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS = Path(os.environ.get("LGN2HW_WIRING_ROWS", "/tmp/lgn2hw-wiring-rows"))
LGN2HW = [sys.executable, "-m", "lgn2hw"]


def build_flags(pnr: dict | None) -> str:
    """The options of a row's best build that differ from compile's defaults, as both commands spell them."""
    from lgn2hw.api import CompileOptions
    pnr = pnr or {}
    flags = []
    if isinstance(pnr.get("seed"), int) and pnr["seed"] != 1:
        flags.append(f"--seed {pnr['seed']}")
    for key, default in (("lut_size", CompileOptions.lut_size), ("pipeline", CompileOptions.pipeline),
                         ("max_fanout", None)):
        value = pnr.get(key)
        if isinstance(value, int) and value != default:
            flags.append(f"--{key.replace('_', '-')} {value}")
    return "".join(f" {f}" for f in flags)


def pnr_command(model: str, out: str, pnr: dict | None = None) -> str:
    """The place-and-route check of a row's network: post-synthesis simulation on all 10,000 test images."""
    return f"python -m bench.bench_wiring hw {model}{build_flags(pnr)} -o {out}"


def pnr_cli(model: str, out: str, pnr: dict | None = None) -> str:
    """The same build from the command line (its post-synthesis simulation draws random inputs)."""
    return (f"lgn2hw compile {model} --device LFE5U-85F --package CABGA381 --freq 250 --ebr 0{build_flags(pnr)} "
            f"-o {out}")


def cli_command(cfg, out: str) -> str:
    """The `lgn2hw train` command line that trains the same network as ``cfg``."""
    from lgn2hw.train import TrainConfig
    d = TrainConfig()
    parts = ["lgn2hw", "train", "--dataset", cfg.dataset]
    for name in ("layers", "width", "epochs", "lr", "lr_schedule", "tau", "batch_size", "seed", "connections", "init",
                 "parametrization", "crop", "shift", "gumbel"):
        value = getattr(cfg, name)
        if value is not None and value != getattr(d, name):
            parts += [f"--{name.replace('_', '-')}", str(value)]
    if cfg.thresholds is not None:
        parts += ["--thresholds", ",".join(f"{t:g}" for t in cfg.thresholds)]
    parts += ["--threads", str(cfg.threads), "-o", out]
    return " ".join(shlex.quote(p) for p in parts)


def _predict_cli(model: Path, workdir: Path) -> float:
    """Accuracy from `lgn2hw predict MODEL X.npy --raw --labels Y.npy` on the 10,000 test images as uint8."""
    from lgn2hw import data
    ds = data.load("mnist")
    x, y = workdir / "x_test.npy", workdir / "y_test.npy"
    if not x.exists():
        np.save(x, np.asarray(ds.x_test, dtype=np.uint8))
        np.save(y, np.asarray(ds.y_test))
    counts = workdir / "counts.npy"
    subprocess.run([*LGN2HW, "predict", str(model), str(x), "--raw", "--labels", str(y), "-o", str(counts)],
                   capture_output=True, text=True, check=True)
    return float((np.load(counts).argmax(1) == ds.y_test).mean())


def measure(model: Path, row: dict | None = None) -> dict:
    import torch

    from lgn2hw.frontend.native import to_netlist
    from lgn2hw.passes import DEFAULT, run_passes
    row = dict(row or {})
    ck = torch.load(model, weights_only=True)
    prov = ck.get("provenance", {})
    nl = to_netlist(ck)
    t0 = time.perf_counter()
    live, _ = run_passes(nl, DEFAULT)
    row["live_gates"] = int(live.n_nodes)
    row["passes_seconds"] = round(time.perf_counter() - t0, 2)
    with tempfile.TemporaryDirectory(prefix="lgn2hw-wiring-") as tmp:
        tmp = Path(tmp)
        out = tmp / "v"
        t0 = time.perf_counter()
        subprocess.run([*LGN2HW, "compile", str(model), "--stop-after", "verilog", "-o", str(out)],
                       capture_output=True, text=True, check=True)
        row["verilog_seconds"] = round(time.perf_counter() - t0, 2)
        rep = json.loads((out / "report.json").read_text())
        row["luts"] = int(rep["lut_map"]["luts"])
        row["lut_depth"] = rep["lut_map"].get("depth")
        row["test_accuracy_raw_predict"] = _predict_cli(model, tmp)
        # routability estimate before synthesis (seconds): the LUT-mapped netlist's cuts against the tracks
        info = subprocess.run([*LGN2HW, "info", str(model), "--device", "LFE5U-85F", "--ebr", "0", "--json"],
                              capture_output=True, text=True, check=True)
        route = json.loads(info.stdout).get("route") or {}
        row["route_estimate"] = {k: route.get(k) for k in ("verdict", "ratio", "demand", "supply", "rent",
                                                           "lut4", "lut4_min", "gate_luts")}
    row.setdefault("gates", prov.get("gates"))
    row.setdefault("test_accuracy", prov.get("test_accuracy"))
    row.setdefault("train_seconds", prov.get("train_seconds"))
    row.setdefault("threads", prov.get("threads"))
    row.setdefault("wiring", (prov.get("wiring") or {}).get("spec"))
    for key in ("layers", "width", "epochs", "lr", "lr_schedule", "init", "crop", "thresholds", "tau"):
        if key in (prov.get("trainer") or {}):
            row.setdefault(key, prov["trainer"][key])      # a checkpoint of `lgn2hw train`: its recipe
    row["model"] = str(model)
    row["checkpoint_bytes"] = model.stat().st_size
    row["pnr_command"] = pnr_command(str(model), f"build/{model.stem}-85f")
    row["pnr_cli"] = pnr_cli(str(model), f"build/{model.stem}-85f")
    return row


def train_one(args) -> dict:
    import torch

    from lgn2hw.train import TrainConfig, save_checkpoint, train
    thresholds = tuple(float(t) for t in args.thresholds.split(",")) if args.thresholds else None
    cfg = TrainConfig(dataset="mnist", layers=args.layers, width=args.width, epochs=args.epochs, lr=args.lr,
                      lr_schedule=args.lr_schedule, tau=args.tau, batch_size=args.batch_size, seed=args.seed, connections=args.connections,
                      threads=args.threads, thresholds=thresholds, crop=args.crop, shift=args.shift,
                      parametrization=args.parametrization, init=args.init)
    out = Path(args.output)
    t0, c0 = time.perf_counter(), time.process_time()

    def log(epoch, loss, acc):
        print(f"{args.label} epoch {epoch} loss {loss:.4f} test {acc:.4f} elapsed {time.perf_counter() - t0:.0f} s",
              flush=True)

    result = train(cfg, quiet=True, log=log)
    cpu = time.process_time() - c0
    save_checkpoint(result.checkpoint, out, force=True)
    row = {"label": args.label, "command": cli_command(cfg, str(out)), "dataset": "mnist", "wiring": args.connections,
           "layers": cfg.layers, "width": cfg.width, "gates": result.model.n_gates, "epochs": cfg.epochs,
           "crop": cfg.crop, "thresholds": list(thresholds) if thresholds else None, "lr": cfg.lr,
           "lr_schedule": cfg.lr_schedule, "init": cfg.init,
           "tau": result.checkpoint["provenance"]["trainer"]["tau"], "batch_size": cfg.batch_size,
           "threads": torch.get_num_threads(), "train_seconds": round(result.seconds, 1),
           "train_cpu_seconds": round(cpu, 1),
           "test_accuracy": result.test_accuracy, "train_accuracy": result.train_accuracy,
           "history": [[e, round(loss, 4), acc] for e, loss, acc in result.history],
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "note": args.note}
    print(f"{args.label}: trained in {result.seconds:.0f} s, test {result.test_accuracy:.4f}", flush=True)
    return measure(out, row)


def hardware(model: Path, out: Path, label: str, timeout: float | None, placement: str = "nextpnr",
             seed: int = 1, popcount_style: str | None = None, router: str | None = None,
             max_fanout: int | None = None, lut_size: int | None = None, pipeline=None) -> dict:
    """Place and route for the bare LFE5U-85F at 250 MHz; post-synthesis simulation on the 10,000 test images."""
    import torch

    import lgn2hw
    from lgn2hw import data
    ck = torch.load(model, weights_only=True)
    crop = ck["provenance"]["trainer"].get("crop")
    thresholds = tuple(ck["provenance"]["trainer"].get("thresholds") or ())
    ds = data.load("mnist", **({"crop": crop} if crop else {}), **({"thresholds": thresholds} if thresholds else {}))
    from lgn2hw.api import CompileOptions
    lut_size = CompileOptions.lut_size if lut_size is None else lut_size          # compile's defaults, recorded
    pipeline = CompileOptions.pipeline if pipeline is None else pipeline
    t0 = time.perf_counter()
    row = {"label": label, "model": str(model)}
    try:
        res = lgn2hw.compile(str(model), str(out), device="LFE5U-85F", package="CABGA381", freq=250.0, ebr=0,
                             features=False, postsim=len(ds.y_test), postsim_inputs=ds.test_bits, force=True,
                             pnr_timeout=timeout, placement=placement, seed=seed, popcount_style=popcount_style,
                             router=router, max_fanout=max_fanout, lut_size=lut_size, pipeline=pipeline)
        b = res.report["build"]
        row["pnr"] = {"routed": b.get("pnr", {}).get("fmax_mhz") is not None, "fmax_mhz": b["pnr"]["fmax_mhz"],
                      "freq_target_mhz": b.get("freq_target_mhz"), "utilization": b["pnr"].get("utilization"),
                      "postsim": b.get("postsim"), "latency_cycles": res.report.get("latency"),
                      "placement": placement, "placement_report": b.get("placement"), "seed": seed,
                      "popcount_style": popcount_style or "the family's default",
                      "popcount_order": (res.report.get("popcount") or {}).get("order"),
                      "router": router or "nextpnr's default (router1)",
                      "max_fanout": max_fanout if max_fanout is not None else "the family's default",
                      "lut_size": lut_size, "pipeline": pipeline,
                      "seconds": round(time.perf_counter() - t0, 1)}
    except lgn2hw.errors.Lgn2hwError as err:        # not routed within the timeout, or a tool failed
        row["pnr"] = {"routed": False, "error": str(err).splitlines()[0], "seconds": round(time.perf_counter() - t0, 1)}
    return row


def write_row(row: dict, rows_dir: Path, suffix: str = "") -> Path:
    rows_dir.mkdir(parents=True, exist_ok=True)
    path = rows_dir / f"{row['label']}{suffix}.json"
    path.write_text(json.dumps(row, indent=2, sort_keys=True) + "\n")
    return path


COLUMNS = ["label", "wiring", "layers", "width", "gates", "live_gates", "luts", "route", "epochs", "threads",
           "train_seconds", "train_cpu_seconds", "test_accuracy", "test_accuracy_raw_predict"]


NOT_COMMITTED = " (not committed)"


def shown_model(model: str) -> tuple[str, str]:
    """A row's model as the committed results show it, and the path its commands use.

    A checkpoint in the project keeps its relative path and one under /tmp its path; any other (a scratch
    directory of this machine) is shown by its file name, marked as not committed, so that no machine path
    reaches the results."""
    path = model.removesuffix(NOT_COMMITTED)
    p = Path(path)
    if not p.is_absolute() or p.parts[1:2] == ("tmp",):
        return model, path
    from bench._common import ROOT
    if p.is_relative_to(ROOT):
        rel = str(p.relative_to(ROOT))
        return rel, rel
    return p.name + NOT_COMMITTED, p.name


def collect(paths, name: str) -> Path:
    from bench._common import table, write_json
    rows, extra = [], []
    for p in paths:
        (extra if Path(p).name.endswith(".pnr.json") else rows).append(json.loads(Path(p).read_text()))
    by_label = {r["label"]: r for r in rows}
    for e in extra:         # a place-and-route row joins the training row of its label
        by_label.setdefault(e["label"], {"label": e["label"]}).update(e)
    rows = list(by_label.values())
    for r in rows:
        if r.get("model"):
            given = r["model"].removesuffix(NOT_COMMITTED)
            r["model"], path = shown_model(r["model"])
            if r.get("command"):        # the training command's output is the model
                r["command"] = r["command"].replace(given, path)
            out = f"build/{Path(path).stem}-85f"
            r["pnr_command"], r["pnr_cli"] = pnr_command(path, out, r.get("pnr")), pnr_cli(path, out, r.get("pnr"))
    rows.sort(key=lambda r: (r.get("gates") or 0, str(r.get("wiring")), r.get("label")))
    shown = [{**r, "route": "{verdict} {ratio}".format(**r["route_estimate"]) if r.get("route_estimate") else ""}
             for r in rows]
    print(table(shown, COLUMNS))
    return write_json(name, {"rows": rows, "columns": COLUMNS,
                             "pnr_note": "place and route not run here; see each row's pnr_command"})


def main():
    from lgn2hw.train.config import LR_SCHEDULES
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--label", required=True)
    t.add_argument("-o", "--output", required=True)
    t.add_argument("--connections", default="unique")
    t.add_argument("--layers", type=int, default=4)
    t.add_argument("--width", type=int, default=2000)
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--lr", type=float, default=0.01)
    t.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="constant")
    t.add_argument("--tau", type=float, default=None)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--thresholds", default=None)
    t.add_argument("--crop", type=int, default=None)
    t.add_argument("--shift", type=int, default=0)
    t.add_argument("--parametrization", default="softmax")
    t.add_argument("--init", default="residual")
    t.add_argument("--note", default="")
    t.add_argument("--rows", type=Path, default=ROWS)
    m = sub.add_parser("measure")
    m.add_argument("model", type=Path)
    m.add_argument("--label")
    m.add_argument("--rows", type=Path, default=ROWS)
    c = sub.add_parser("collect")
    c.add_argument("paths", nargs="*")
    c.add_argument("--rows", type=Path, default=ROWS)
    c.add_argument("--name", default="wiring")
    h = sub.add_parser("hw")
    h.add_argument("model", type=Path)
    h.add_argument("-o", "--output", type=Path, required=True)
    h.add_argument("--label")
    h.add_argument("--pnr-timeout", type=float, default=None)
    h.add_argument("--placement", default="nextpnr", help="nextpnr, lgn2hw or auto (compile --placement)")
    h.add_argument("--seed", type=int, default=1, help="place-and-route seed (compile --seed)")
    h.add_argument("--popcount-style", choices=("fa", "cin", "pack"), default=None)
    h.add_argument("--router", choices=("router1", "router2"), default=None, help="nextpnr's router (compile --router)")
    h.add_argument("--max-fanout", type=int, default=None, help="copies of gate registers (compile --max-fanout)")
    h.add_argument("--lut-size", type=int, default=None, help="LUT cone size, 0 keeps the gates (compile --lut-size)")
    h.add_argument("--pipeline", type=int, default=None, help="logic levels a stage (compile --pipeline; default auto)")
    h.add_argument("--rows", type=Path, default=ROWS)
    args = ap.parse_args()
    if args.cmd == "train":
        row = train_one(args)
        print(json.dumps({k: row[k] for k in COLUMNS if k in row}), flush=True)
        print(f"wrote {write_row(row, args.rows)}")
    elif args.cmd == "measure":
        label = args.label or args.model.stem
        old = args.rows / f"{label}.json"        # measured again: keep the training fields of the row
        row = measure(args.model, json.loads(old.read_text()) if old.exists() else {"label": label})
        print(json.dumps({k: row[k] for k in COLUMNS if k in row}), flush=True)
        print(f"wrote {write_row(row, args.rows)}")
    elif args.cmd == "hw":
        row = hardware(args.model, args.output, args.label or args.model.stem, args.pnr_timeout, args.placement,
                       args.seed, args.popcount_style, args.router, args.max_fanout,
                       args.lut_size, args.pipeline)
        print(json.dumps(row["pnr"]), flush=True)
        print(f"wrote {write_row(row, args.rows, '.pnr')}")
    else:
        paths = args.paths or sorted(args.rows.glob("*.json"))
        print(f"wrote {collect(paths, args.name)}")


if __name__ == "__main__":
    main()
