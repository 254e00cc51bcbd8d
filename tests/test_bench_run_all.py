"""bench/run_all.py's report: RESULTS.md is rendered from whatever JSON exists, and each goal is judged from the
figure it names (met, not met, or not measured when the JSON is missing)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import run_all  # noqa: E402


def _peers(ours_s, tl_s, ours_cpu):
    rows = [{"tool": "difflogic CompiledLogicNet (gcc -O1, 1 thread)", "gates_evaluated": 48000, "compile_s": 150.0,
             "infer_s": 1.0, "samples_per_s": 100.0, "vs_difflogic": 1.0},
            {"tool": "lgn2hw interpreter (1 thread)", "gates_evaluated": 25000, "infer_s": 1 / ours_cpu,
             "samples_per_s": 100.0 * ours_cpu, "vs_difflogic": ours_cpu},
            {"tool": "lgn2hw interpreter (2 threads)", "gates_evaluated": 25000, "samples_per_s": 150.0,
             "vs_difflogic": 1.5}]
    bound = {"cycles_per_gate_per_64_samples": 30.0, "difflogic_cycles_per_gate_per_64_samples": 8.0,
             "x_over_64bit_floor": 30.0, "x_over_512bit_floor": 240.0}
    verilog = [{"tool": "torchlogix", "total_s": tl_s, "gates_kept": 31204, "peak_rss_mb": 360.0},
               {"tool": "lgn2hw", "total_s": ours_s, "gates_kept": 25675, "peak_rss_mb": 250.0,
                "time_vs_torchlogix": tl_s / ours_s, "memory_vs_torchlogix": 250 / 360,
                "gates_vs_torchlogix": 25675 / 31204}]
    return {"cpu": {"rows": rows, "instruction_bound": bound}, "verilog": {"rows": verilog},
            "chunks": [{"samples_per_chunk": 4096, "value_mb": 13.0, "samples_per_s": 100.0, "vs_4096": 1.0},
                       {"samples_per_chunk": 256, "value_mb": 0.8, "samples_per_s": 140.0, "vs_4096": 1.4}]}


def test_goals_follow_the_figures(tmp_path):
    (tmp_path / "peers.json").write_text(json.dumps(_peers(ours_s=1.0, tl_s=6.0, ours_cpu=0.5)))
    (tmp_path / "scale.json").write_text(json.dumps({"rows": [
        {"network": "48K trained (shared MNIST)", "to_verilog_s": 3.5, "peak_rss_mb": 250.0},
        {"network": "1.28M random (784-256000x5-10)", "to_verilog_s": 10.0, "peak_rss_mb": 7000.0}]}))
    g = {r["goal"].split(" (")[0]: r["met"] for r in run_all.goals(tmp_path)}
    assert g[">= 5x faster than torchlogix's Circuit path to Verilog"] is True        # 6.0 / 1.0
    assert g["CPU inference >= 1.0x difflogic CompiledLogicNet"] is False             # 0.5x
    assert g["48K trained -> Verilog < 3 s"] is False                                 # 3.5 s
    assert g["1.28M -> Verilog < 60 s"] is True
    assert g["1.28M -> Verilog < 6 GB peak"] is False                                 # 7000 MB
    assert g["LUT4 <= 0.8x torchlogix's own Verilog"] is None                         # no build.json


def test_hardware_goal_from_build_rows(tmp_path):
    (tmp_path / "build.json").write_text(json.dumps([
        {"model": "digits_lgn.pt", "target": "--board ecp5", "lut4": 100, "fmax_mhz": 400.0},
        {"model": "mnist20x20_8000x6_mase.pth", "target": "--device LFE5U-85F", "lut4": 26000, "fmax_mhz": 240.0}]))
    g = {r["goal"].split(" (")[0]: r for r in run_all.goals(tmp_path)}
    assert g["LUT4 <= 0.8x torchlogix's own Verilog"]["met"] is True                  # 26000 / 33129 = 0.78
    assert g["Fmax >= 250 MHz on ECP5-85F"]["met"] is False


def test_report_renders_every_json_and_marks_missing(tmp_path):
    (tmp_path / "peers.json").write_text(json.dumps({"machine": {}, "when": "2026-01-01",
                                                     **_peers(ours_s=1.0, tl_s=2.0, ours_cpu=2.0)}))
    out = run_all.write_report(tmp_path, tmp_path / "RESULTS.md", None)
    text = out.read_text()
    assert "\n| tool | " in text                                                     # name column comes first
    assert "(not run yet: no JSON)" in text                                           # scale.json etc. missing
    assert "**CPU inference (ahead)**" in text and "2.00x" in text
    assert ">= 5x faster than torchlogix's Circuit path to Verilog (48K) | 2.0x | no |" in text
