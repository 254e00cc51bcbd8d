"""The example model through the Gowin (Tang Nano 9K) and GateMate (evaluation board) flows with the real tools:
synthesis, post-synthesis simulation equal to the interpreter, fit, place and route with nextpnr-himbaechel, and
the bitstream from gowin_pack / gmpack. One build per family per session (each takes a few minutes; GateMate's
place and route about 5)."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import pytest

from lgn2hw.cli import main
from lgn2hw.fpga.families import FAMILIES, resources

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples" / "digits_lgn.pt"


def _build(tmp_path_factory, board):
    out = tmp_path_factory.mktemp(board) / "out"
    so, se = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(so), contextlib.redirect_stderr(se):
        rc = main(["compile", str(MODEL), "-o", str(out), "--board", board, "--postsim", "48", "--json"])
    assert rc == 0, se.getvalue()
    return out, json.loads(so.getvalue()), json.loads((out / "report.json").read_text())


def _check(out, summary, report, board, family, capacity):
    b = report["build"]
    assert b["target"] == board and b["family"] == family and summary["target"] == board
    bit = f"{board}.{FAMILIES[family].bitstream}"
    data = (out / bit).read_bytes()
    assert len(data) > 10_000 and b["bitstreams"][bit] == hashlib.sha256(data).hexdigest()
    for key, cap in capacity.items():
        assert b["fit"][key][1] == cap
    assert 0 < b["core"]["lut4"] < b["synth"]["lut4"] <= capacity["lut4"] and b["fit"]["ff"][0] > 0
    assert b["fit"]["io"][0] >= 3                       # clock, UART receive and transmit (and LEDs)
    assert b["fit"]["lut4"][0] == resources(family, b["synth"]["cells"])["lut4"]
    if family != "gatemate":    # synth_gatemate's LUT trees lose the instance names the blocks are told by
        assert b["core"]["blocks"]["gates"]["lut4"] > 0 and b["core"]["blocks"]["popcount"]["lut4"] > 0
    assert b["pnr"]["fmax_mhz"] > 0 and b["timing_met"] == (b["pnr"]["fmax_mhz"] >= b["freq_target_mhz"])
    assert b["postsim"]["equal"] is True and b["postsim"]["samples"] == 48
    assert b["postsim"]["compared"] == "counts and class"
    assert set(b["times_s"]) == {"synth-core", "postsim", "synth", "pnr", "bitstream"}
    assert f"on {board}" in (out / "report.md").read_text()


@pytest.mark.needs("yosys", "nextpnr-himbaechel-gowin", "gowin_pack")
def test_example_on_tang_nano_9k(tmp_path_factory):
    out, summary, report = _build(tmp_path_factory, "tangnano9k")
    _check(out, summary, report, "tangnano9k", "gowin", {"lut4": 8640, "ff": 6480, "io": 71, "bram": 26})
    b = report["build"]
    assert b["freq_target_mhz"] == 27.0 and report["lut_cells"]["cell"] == "LUT4"
    assert b["core"]["cells"].get("ALU", 0) > 0                      # the popcount's adders on the carry chain
    assert {"LUT4", "DFF"} <= set(b["pnr"]["utilization"])
    assert (out / "tangnano9k.fs").read_bytes().startswith(b"1111")   # gowin_pack writes the bitstream as text


@pytest.mark.needs("yosys", "nextpnr-himbaechel-gatemate", "gmpack")
def test_example_on_gatemate_evb(tmp_path_factory):
    out, summary, report = _build(tmp_path_factory, "gatemate-evb")
    _check(out, summary, report, "gatemate-evb", "gatemate", {"lut4": 20480, "ff": 20480, "io": 162, "bram": 32})
    b = report["build"]
    assert b["core"]["cells"].get("CC_ADDF", 0) > 0                  # the popcount's adders on the carry chain
    assert {"CPE_LT", "CPE_FF"} <= set(b["pnr"]["utilization"])
