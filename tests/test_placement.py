"""lgn2hw's placement (lgn2hw.fpga.placement): BEL attributes on the gate LUTs and their flip-flops that nextpnr
honours, the same for the same netlist, and ``compile --placement``."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

import lgn2hw
from lgn2hw.errors import UsageError
from lgn2hw.fpga import placement

TWO_INPUT = np.array([1, 2, 4, 6, 7, 8, 9, 11, 13, 14])


def local_net(width=48, n_inputs=64, layers=4, classes=2, seed=0):
    """A small network whose gate i reads nets near i * n_prev / n in the layer before."""
    from lgn2hw import gates
    from lgn2hw.ir import Netlist
    rng = np.random.default_rng(seed)
    specs, prev = [], n_inputs
    for _ in range(layers):
        centre = (np.arange(width) * prev) // width
        idx = np.clip(centre[:, None] + rng.integers(-6, 7, (width, 2)), 0, prev - 1)
        specs.append((gates.tables_from_gate_ids(rng.choice(TWO_INPUT, width)), idx))
        prev = width
    return lgn2hw.optimize(Netlist.from_layers(n_inputs, specs, classes))


@pytest.fixture(scope="module")
def placed_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("place") / "out"
    r = lgn2hw.compile(local_net(), out, device="LFE5U-85F", package="CABGA381", freq=250, ebr=0, postsim=0, placement="lgn2hw")
    return r, out / "build"


@pytest.mark.needs("ecp5")
def test_compile_with_lgn2hw_placement_routes_with_every_gate_cell_where_it_was_put(placed_build):
    r, bdir = placed_build
    b = r.report["build"]
    assert b["pnr_options"]["placement"] == "lgn2hw"
    assert b["pnr"]["fmax_mhz"] > 0
    doc = json.loads((bdir / "placed.json").read_text())
    cells = doc["modules"][r.report["top"]]["cells"]
    bels = {n: c["attributes"]["BEL"] for n, c in cells.items() if "BEL" in c["attributes"]}
    gate_luts = [n for n, c in cells.items() if c["type"] == "LUT4" and placement._GATE_LUT.search(n)]
    assert gate_luts and all(n in bels for n in gate_luts)
    assert len(set(bels.values())) == len(bels) == b["placement"]["cells_placed"]
    # a flip-flop that a gate LUT drives sits in that LUT's slice at the same index (nextpnr's packer pairs them)
    driver = {c["connections"]["Z"][0]: n for n, c in cells.items() if n in bels and c["type"] == "LUT4"}
    pairs = 0
    for n, c in cells.items():
        if c["type"] == "TRELLIS_FF" and n in bels and c["connections"]["DI"][0] in driver:
            lut_bel = bels[driver[c["connections"]["DI"][0]]]
            assert bels[n] == lut_bel.replace(".K", ".FF")
            pairs += 1
    # at 250 MHz every gate LUT (and every first adder of the popcount, placed with them) is registered
    assert pairs == sum(1 for n in bels if cells[n]["type"] == "LUT4") > len(gate_luts)
    log = (bdir / "pnr.log").read_text()
    assert f"Placed {len(bels)} cells based on constraints" in log


@pytest.mark.needs("ecp5")
def test_placement_is_the_same_whatever_the_order_of_the_cells(placed_build):
    r, bdir = placed_build
    doc = json.loads((bdir / "core.json").read_text())
    grid = placement.grid_for("LFE5U-85F")
    first = placement.place(doc, grid)
    mod = next(m for m in doc["modules"].values() if m.get("attributes", {}).get("top"))
    items = list(mod["cells"].items())
    random.Random(3).shuffle(items)
    mod["cells"] = dict(items)
    assert placement.place(doc, grid) == first
    assert placement.place(doc, grid, seed=2) != first or len(first) < 16


def test_bad_placement_requests_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="placement must be one of"):
        lgn2hw.compile(local_net(), tmp_path / "a", device="LFE5U-85F", package="CABGA381", placement="vpr")
    with pytest.raises(UsageError, match="logic grid"):
        placement.grid_for("iCE40HX8K")
    assert not (tmp_path / "a").exists()


@pytest.mark.needs("ecp5")
def test_auto_keeps_the_faster_of_both_placements(tmp_path):
    r = lgn2hw.compile(local_net(width=32, layers=3), tmp_path / "out", device="LFE5U-85F", package="CABGA381", freq=250, ebr=0,
                       postsim=0, placement="auto")
    b = r.report["build"]
    both = b["placement"]["fmax_mhz"]
    assert set(both) == {"lgn2hw", "nextpnr"}
    assert b["pnr"]["fmax_mhz"] == max(v for v in both.values() if v)
    assert b["placement"]["kept"] == max(both, key=lambda k: both[k] or 0)
    report = json.loads((tmp_path / "out" / "build" / "pnr.json").read_text())
    assert round(min(v["achieved"] for v in report["fmax"].values()), 2) == b["pnr"]["fmax_mhz"]


def test_cli_placement_reaches_the_build_options(tmp_path, monkeypatch, capsys):
    """--placement arrives in BuildOptions as given (the build is stubbed); an unknown one is refused by the
    parser with exit status 1 (lgn2hw's own error line) or 2 (argparse), and nothing is written."""
    import lgn2hw.fpga
    from lgn2hw.cli import main
    from lgn2hw.errors import ToolchainError
    seen = {}

    def fake(nl, core, target, out, opts):
        seen["placement"] = opts.placement
        raise ToolchainError("stopped by the test")
    monkeypatch.setattr(lgn2hw.fpga, "compile_for_target", fake)
    example = str(Path(__file__).resolve().parents[1] / "examples" / "digits_lgn.pt")
    code = main(["compile", example, "--device", "LFE5U-85F", "--package", "CABGA381", "-o", str(tmp_path / "out"),
                 "--placement", "auto", "--no-route-check"])
    assert code == 1 and "stopped by the test" in capsys.readouterr().err
    assert seen == {"placement": "auto"}
    try:
        code = main(["compile", example, "--device", "LFE5U-85F", "--package", "CABGA381", "-o", str(tmp_path / "b"),
                     "--placement", "vpr"])
    except SystemExit as exc:
        code = exc.code
    assert code in (1, 2) and "vpr" in capsys.readouterr().err and not (tmp_path / "b").exists()


def _reader_spans(doc: dict, bels: dict) -> list:
    """For every cell left to nextpnr that reads two or more placed cells -- a whole ECP5 carry chain, or a LUT --
    the half-perimeter (tiles) of the placed cells it reads."""
    import re
    cells = doc["modules"][placement._top(doc)]["cells"]
    driver = {c["connections"][p][0]: n for n, c in cells.items() if n in bels for p in ("Z", "Q")
              if p in c["connections"]}
    head = {}
    cin = {c["connections"]["CIN"][0]: n for n, c in cells.items() if c["type"] == "CCU2C"}
    for n in sorted(n for n, c in cells.items() if c["type"] == "CCU2C"):
        if n not in head:
            chain, m = [], n
            while m is not None and m not in head:
                chain.append(m)
                m = cin.get(cells[m]["connections"]["COUT"][0])
            root = head.get(m, n) if m is not None else n
            head.update({x: root for x in chain})
    head.update({n: n for n, c in cells.items() if c["type"] == "LUT4" and n not in bels})
    reads: dict = {}
    for n, root in head.items():
        reads.setdefault(root, set()).update(driver[b] for p, bs in cells[n]["connections"].items()
                                             if p not in ("Z", "COUT", "S0", "S1") for b in bs if b in driver)
    spans = []
    for placed in reads.values():
        if len(placed) >= 2:
            xy = np.array([[int(v) for v in re.match(r"X(\d+)/Y(\d+)", bels[n]).groups()] for n in placed])
            spans.append(int(np.ptp(xy[:, 0]) + np.ptp(xy[:, 1])))
    return spans


@pytest.mark.needs("ecp5")
def test_the_bits_one_adder_sums_are_placed_together(placed_build, monkeypatch):
    """The placed cells one carry chain or LUT of nextpnr's reads (the popcount's first adders) lie closer together
    than when the bisection follows the gate wiring alone."""
    r, bdir = placed_build
    doc = json.loads((bdir / "core.json").read_text())
    grid = placement.grid_for("LFE5U-85F")
    spans = _reader_spans(doc, placement.place(doc, grid))

    def no_peers(cells, nodes, *rest):
        for node in nodes:
            node.peers = []
    monkeypatch.setattr(placement, "_peers", no_peers)
    alone = _reader_spans(doc, placement.place(doc, grid))
    assert spans and len(spans) == len(alone)
    assert sum(spans) < sum(alone), (spans, alone)
