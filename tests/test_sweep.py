"""``lgn2hw sweep``: a seed sweep of a small network on the iCE40HX1K (icestick) with the real tools synthesises
once and places and routes per seed, each point byte-equal to a separate ``compile --seed S``; the same sweep on a
Dask cluster of two worker processes started here gives the same rows; a failed point is a row; an interrupted
sweep keeps its finished rows; bad axes are one error line; the best-point rule and the Pareto front on rows."""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.dom.minidom
from pathlib import Path

import numpy as np
import pytest

import lgn2hw
from lgn2hw.cli import main
from lgn2hw.ir import dump
from lgn2hw.sweeps import BEST_RULE, pareto, parse_seeds, pick_best

from netlists import random_layered

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (1, 2, 3)
BOARD = "icestick"
SHARED = ["synth-core", "postsim", "synth"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    nl = random_layered(np.random.default_rng(7), n_inputs=12, layers=2, width=24, classes=4)
    path = tmp_path_factory.mktemp("tiny") / "tiny.txt"
    path.write_text(dump(nl))
    return path


@pytest.fixture(scope="module")
def local_sweep(tiny_model, tmp_path_factory):
    """The seed sweep on 2 local processes, with a step cache of its own (so its shared build really runs)."""
    base = tmp_path_factory.mktemp("sweep")
    out = base / "out"
    rc = main(["sweep", str(tiny_model), "--board", BOARD, "--seeds", "1-3", "--postsim", "16", "--jobs", "2",
               "--cache-dir", str(base / "cache"), "-o", str(out)])
    assert rc == 0
    return out


def _rows(out: Path) -> dict:
    return {r["settings"]["seed"]: r for r in json.loads((out / "sweep.json").read_text())["rows"]}


@pytest.mark.needs("ice40")
def test_seed_sweep_synthesises_once(local_sweep):
    data = json.loads((local_sweep / "sweep.json").read_text())
    assert data["complete"] and data["points_ok"] == len(SEEDS)
    shared = data["shared"]["all"]
    assert shared["status"] == "ok" and shared["cached_steps"] == []          # the shared build ran synthesis
    assert set(shared["times_s"]) >= set(SHARED) and "pnr" not in shared["times_s"]
    for seed, row in _rows(local_sweep).items():
        assert row["status"] == "ok", row
        assert row["cached_steps"] == SHARED                                  # ... and no point ran it again
        assert row["times_s"]["pnr"] > 0
        report = json.loads((local_sweep / "points" / f"seed{seed}" / "report.json").read_text())
        assert report["build"]["seed"] == seed
        assert re.search(rf"--seed {seed} ", (local_sweep / "points" / f"seed{seed}" / "build" / "pnr.log")
                         .read_text() + (local_sweep / "points" / f"seed{seed}" / "build" / "pnr.run.log").read_text())


@pytest.mark.needs("ice40")
def test_each_point_equals_compile_with_its_seed(local_sweep, tiny_model, tmp_path):
    rows = _rows(local_sweep)
    for seed in SEEDS:
        res = lgn2hw.compile(str(tiny_model), tmp_path / f"c{seed}", board=BOARD, seed=seed, postsim=16, cache=False)
        b = res.report["build"]
        assert b["cached_steps"] == []
        assert rows[seed]["fmax_mhz"] == b["pnr"]["fmax_mhz"]
        assert rows[seed]["lut4"] == b["fit"]["lut4"][0]
        digest = hashlib.sha256(res.bitstream.read_bytes()).hexdigest()
        assert rows[seed]["bitstream_sha256"] == digest
        assert hashlib.sha256((local_sweep / "points" / f"seed{seed}" / f"{BOARD}.bin").read_bytes()).hexdigest() \
            == digest


@pytest.mark.needs("ice40")
def test_sweep_outputs_table_plot_and_best(local_sweep):
    data = json.loads((local_sweep / "sweep.json").read_text())
    rows = list(_rows(local_sweep).values())
    met = [r for r in rows if r["timing_met"]] or rows
    want = max(met, key=lambda r: (r["fmax_mhz"], -r["lut4"], -r["index"]))     # the rule, written out again
    assert data["best"] == want["point"] and data["best_rule"] == BEST_RULE
    assert (local_sweep / "best" / "POINT").read_text().strip() == want["point"]
    assert (local_sweep / "best" / f"{BOARD}.bin").read_bytes() == \
        (local_sweep / "points" / want["point"] / f"{BOARD}.bin").read_bytes()
    md = (local_sweep / "sweep.md").read_text()
    for r in rows:
        assert re.search(rf"^\| `{r['point']}`.* \| {r['fmax_mhz']} \|", md, re.M), r["point"]
    assert "![LUT4 against Fmax](pareto.svg)" in md
    svg = xml.dom.minidom.parse(str(local_sweep / "pareto.svg"))
    assert len(svg.getElementsByTagName("circle")) >= len(rows)
    marker = json.loads((local_sweep / ".lgn2hw-output").read_text())
    assert {"points", "sweep.json", "best"} <= set(marker["entries"])


@pytest.mark.needs("ice40")
def test_dask_cluster_of_two_workers_gives_equal_rows(local_sweep, tiny_model, tmp_path, capsys):
    distributed = pytest.importorskip("distributed", reason="the cluster extra (pip install 'lgn2hw[cluster]')")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        out = tmp_path / "out"
        rc = main(["sweep", str(tiny_model), "--board", BOARD, "--seeds", "1-3", "--postsim", "16",
                   "--cluster", cluster.scheduler_address, "--cache-dir", str(tmp_path / "cache"), "-o", str(out)])
        captured = capsys.readouterr()
        assert rc == 0, captured.err
    data = json.loads((out / "sweep.json").read_text())
    assert data["executor"]["executor"] == "dask" and data["executor"]["workers"] == 2
    assert data["shared"]["all"]["cached_steps"] == []
    hosts = set()
    local = _rows(local_sweep)
    for seed, row in _rows(out).items():
        assert row["status"] == "ok" and row["cached_steps"] == SHARED
        for key in ("fmax_mhz", "lut4", "ff", "bitstream_sha256", "latency_cycles"):
            assert row[key] == local[seed][key], (seed, key)
        hosts.add(row["host"])
    assert data["best"] == json.loads((local_sweep / "sweep.json").read_text())["best"]
    with capsys.disabled():        # the cluster run's own output, for the record (pytest -s shows it)
        print("\n" + captured.err.replace("\r", "\n") + captured.out + (out / "sweep.md").read_text())
        print(f"workers used: {sorted(hosts)}")


@pytest.mark.needs("ice40")
def test_failed_point_is_a_row(tiny_model, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["sweep", str(tiny_model), "--board", BOARD, "--freq", "1,1500", "--strict-timing", "--postsim", "0",
               "--jobs", "2", "-o", str(out)])
    assert rc == 0
    err = capsys.readouterr().err
    assert "lgn2hw: warning: 1 of 2 points failed" in err
    rows = {r["settings"]["freq"]: r for r in json.loads((out / "sweep.json").read_text())["rows"]}
    assert rows[1.0]["status"] == "ok" and rows[1.0]["timing_met"]
    assert rows[1500.0]["status"] == "failed"
    assert re.fullmatch(r"timing not met: achieved [\d.]+ MHz, target 1500 MHz", rows[1500.0]["error"])
    assert not (out / "points" / rows[1500.0]["point"]).exists()          # a failed build leaves no output
    assert re.search(r"^\| `freq1500` \| 1500 \| failed: timing not met", (out / "sweep.md").read_text(), re.M)


@pytest.mark.needs("ice40")
def test_sigterm_keeps_finished_points(tiny_model, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "lgn2hw", "sweep", str(tiny_model), "--board", BOARD, "--seeds",
                             "1-6", "--postsim", "0", "--jobs", "1", "--cache-dir", str(tmp_path / "cache"),
                             "-o", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads((out / "sweep.json").read_text())["rows"][0]["status"] == "ok":
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    assert proc.poll() is None, "the sweep ended before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1] == "lgn2hw: error: terminated by SIGTERM"
    data = json.loads((out / "sweep.json").read_text())
    assert data["complete"] is False and data["points_ok"] >= 1 and data["points_not_run"] >= 1
    done = [r["point"] for r in data["rows"] if r["status"] == "ok"]
    assert sorted(p.name for p in (out / "points").iterdir()) == sorted(done)   # no half-written point
    assert (out / "sweep.md").is_file()
    assert _processes_in(tmp_path) == []                                    # the running build's tools ended


def _processes_in(folder: Path) -> list:
    """Processes whose working directory lies in ``folder`` (a build's tools run in its build directory)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(proc / "cwd")).is_relative_to(folder):
                found.append(proc.name)
        except OSError:
            continue
    return found


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "5-1"], r"--seeds range 5-1 runs backwards; write it as 1-5"),
    (["--seeds", "1,x"], r"--seeds must be numbers and ranges like 1-16 or 1,3,7-9, not '1,x'"),
    (["--seeds", "1,2,1"], r"--seeds lists 1 twice"),
    (["--freq", "0,200"], r"--freq values must each be a clock in MHz between 1 and 2000, not 0.0"),
    (["--pipeline", "2,-1"], r"--pipeline values must each be 'auto' or a number of logic levels >= 0, not -1"),
    (["--popcount-style", "fa,tree"], r"--popcount-style values must each be fa or cin or pack, not 'tree'"),
    (["--boards", "icestick,nope"], r"board must be one of .*, not 'nope'"),
    (["--boards", "icestick"], r"give either --boards or one target \(--board or --device/--package\), not both"),
    (["--jobs", "0"], r"--jobs must be a number of builds at once >= 1, not 0"),
    (["--cluster", "tcp://127.0.0.1:9"], r"cannot reach the Dask scheduler at tcp://127.0.0.1:9: .*"),
])
def test_bad_axes_are_one_error_line(argv, message, tmp_path, capsys):
    if argv[0] == "--cluster":
        pytest.importorskip("distributed", reason="the cluster extra")
    out = tmp_path / "out"
    model = ROOT / "examples" / "digits_lgn.pt"
    target = ["--board", "ice40"] if argv[0] != "--boards" or argv[1] == "icestick" else []
    assert main(["sweep", str(model), "-o", str(out)] + target + argv) == 1
    err = capsys.readouterr().err.splitlines()
    assert re.fullmatch(rf"lgn2hw: error: {message}", err[0]), err[0]
    assert not any(l.startswith("Traceback") for l in err)
    assert not out.exists()


def test_sweep_options_reach_every_point(tmp_path, monkeypatch):
    """compile's options given to sweep (here --timing-driven) are in the plan every point builds from; a value
    compile refuses is refused before anything runs."""
    from lgn2hw import cli
    from lgn2hw.sweeps import plan_sweep
    model = ROOT / "examples" / "digits_lgn.pt"
    plan = plan_sweep(model, tmp_path / "out", board="ice40", seeds="1-2", timing_driven="off")
    assert plan.options["timing_driven"] == "off" and len(plan.points) == 2
    from lgn2hw import api
    from lgn2hw.errors import UsageError
    seen = {}

    def sweep(*args, **kw):
        seen.update(kw)
        raise UsageError("stopped by the test")
    monkeypatch.setattr(api, "sweep", sweep)
    assert cli.main(["sweep", str(model), "-o", str(tmp_path / "o2"), "--board", "ice40",
                     "--timing-driven", "on"]) == 1
    assert seen["timing_driven"] == "on"
    with pytest.raises(UsageError, match="timing driven must be one of auto, on, off, not 'x'"):
        plan_sweep(model, tmp_path / "out", board="ice40", timing_driven="x")


def test_parse_seeds():
    assert parse_seeds("1-4") == [1, 2, 3, 4]
    assert parse_seeds("3,7-9, 12") == [3, 7, 8, 9, 12]
    assert parse_seeds(5) == [5]
    assert parse_seeds(range(2)) == [0, 1]


def _row(i, fmax, lut4, met, status="ok"):
    return {"index": i, "point": f"p{i}", "status": status, "fmax_mhz": fmax, "lut4": lut4, "timing_met": met}


def test_best_rule_and_pareto_front():
    rows = [_row(0, 210.0, 900, False), _row(1, 190.0, 800, True), _row(2, 190.0, 700, True),
            _row(3, 180.0, 600, True), _row(4, 250.0, 100, True, status="failed"), _row(5, 190.0, 700, True)]
    assert pick_best(rows)["point"] == "p2"            # meets its target; of the 190 MHz ones the fewest LUT4, first
    assert pareto(rows) == [0, 2, 3, 5]                # p5 ties p2: neither beats the other
    assert pick_best([_row(0, 150.0, 900, False), _row(1, 160.0, 990, False)])["point"] == "p1"
    assert pick_best([_row(0, None, 900, None)]) is None
