"""The routability estimate before synthesis (lgn2hw.fpga.route): random wiring against local wiring, the LUT
lower bound, and compile stopping within seconds with one error line (no tools run)."""
import time

import numpy as np
import pytest

import lgn2hw
from lgn2hw import gates
from lgn2hw.cli import main
from lgn2hw.errors import FitError, Lgn2hwError
from lgn2hw.fpga import route
from lgn2hw.fpga.devices import find_device
from lgn2hw.ir import Netlist
from lgn2hw.passes.lutmap import lut_map

from netlists import EXAMPLE

TWO_INPUT = np.array([1, 2, 4, 6, 7, 8, 9, 11, 13, 14])    # difflogic ids of the gates that read both inputs


def layered(width, layers=4, n_inputs=256, classes=4, radius=None, seed=0):
    """A network whose gates read two nets of the layer before: anywhere (random), or within ``radius`` of
    position i * n_prev / n (local)."""
    rng = np.random.default_rng(seed)
    specs, prev = [], n_inputs
    for _ in range(layers):
        if radius is None:
            idx = rng.integers(0, prev, (width, 2))
        else:
            centre = np.arange(width) * prev // width
            idx = np.clip(centre[:, None] + rng.integers(-radius, radius + 1, (width, 2)), 0, prev - 1)
        specs.append((gates.tables_from_gate_ids(rng.choice(TWO_INPUT, width)), idx))
        prev = width
    return lgn2hw.optimize(Netlist.from_layers(n_inputs, specs, classes))


@pytest.fixture(scope="module")
def random_net():
    return layered(3000)


@pytest.fixture(scope="module")
def local_net():
    return layered(3000, radius=8)


def test_random_wiring_needs_more_than_local_wiring(random_net, local_net):
    dev = find_device("LFE5U-85F")
    r = route.estimate(lut_map(random_net)[0], dev)
    loc = route.estimate(lut_map(local_net)[0], dev)
    assert r.gate_luts > 2000 and loc.gate_luts > 2000
    assert r.ratio > 2 * loc.ratio
    assert r.rent > 0.8 and loc.rent < 0.6          # Rent's rule: random ~1, local wiring well below
    assert loc.verdict == "routes" and r.verdict == "will not route"
    assert loc.fraction == 1.0 and 0 < r.fraction < 1
    assert r.demand > 0 and r.supply > 0 and r.levels[0]["level"] == 1


def test_the_estimate_is_fast_and_repeatable(random_net):
    dev = find_device("LFE5U-85F")
    mapped = lut_map(random_net)[0]
    t0 = time.monotonic()
    a = route.estimate(mapped, dev)
    assert time.monotonic() - t0 < 10
    assert a.as_dict() | {"seconds": 0} == route.estimate(mapped, dev).as_dict() | {"seconds": 0}


def test_block_rams_far_from_the_logic_add_demand(local_net):
    dev = find_device("LFE5U-85F")
    mapped = lut_map(local_net)[0]
    plain = route.estimate(mapped, dev)
    bits, blocks = route.ebr_plan(mapped, dev, None)
    assert bits > 0 and 0 < blocks <= dev.bram and route.ebr_plan(mapped, dev, 0) == (0, 0)
    assert route.ebr_plan(mapped, find_device("iCE40UP5K"), None) == (0, 0)
    with_ebr = route.estimate(mapped, dev, ebr_bits=bits, ebr_blocks=blocks)
    assert with_ebr.ratio > plain.ratio
    few = route.estimate(mapped, dev, ebr_bits=48, ebr_blocks=2)     # a core that sits across one row
    assert few.ratio <= plain.ratio + 0.05


def test_the_example_routes_where_it_was_built():
    nl = lgn2hw.optimize(lgn2hw.load(EXAMPLE))
    for name in ("iCE40HX8K", "iCE40UP5K", "LFE5U-85F"):
        assert route.estimate_model(nl, find_device(name)).verdict == "routes"


def test_compile_refuses_a_core_too_large_in_seconds(random_net, tmp_path):
    t0 = time.monotonic()
    with pytest.raises(FitError, match=r"^the design needs ~[\d,]+ LUT4, iCE40HX1K-TQ144 has 1,280$") as err:
        lgn2hw.compile(random_net, tmp_path / "out", device="iCE40HX1K", package="TQ144")
    assert time.monotonic() - t0 < 30 and not (tmp_path / "out").exists()
    assert err.value.hint.startswith("estimated before synthesis from ")


def test_compile_refuses_a_core_that_will_not_route(random_net, tmp_path):
    with pytest.raises(route.RouteError, match=r"^the core will not route on LFE5U-85F-CABGA381: its wiring needs "
                                               r"~[\d,]+ wires across a cut that has ~[\d,]+ tracks") as err:
        lgn2hw.compile(random_net, tmp_path / "out", device="LFE5U-85F", package="CABGA381")
    assert isinstance(err.value, Lgn2hwError) and err.value.hint.endswith("; --no-route-check builds anyway")
    assert "local wiring" in err.value.hint and "larger device" not in err.value.hint    # the 85F is the largest
    with pytest.raises(route.RouteError) as err:
        lgn2hw.compile(random_net, tmp_path / "out", device="LFE5U-25F", package="CABGA381")
    assert err.value.hint.startswith("a larger device; ")
    assert not (tmp_path / "out").exists()
    # Verilog alone, or a build stopped before place and route, is not checked
    r = lgn2hw.compile(random_net, tmp_path / "v", device="LFE5U-85F", package="CABGA381", stop_after="verilog")
    assert "route_check" not in r.report


def test_route_check_false_goes_on_to_the_build(random_net, tmp_path, monkeypatch):
    import lgn2hw.fpga
    from lgn2hw.errors import ToolchainError

    def fake(*args):
        raise ToolchainError("stopped by the test")
    monkeypatch.setattr(lgn2hw.fpga, "compile_for_target", fake)
    with pytest.raises(ToolchainError, match="stopped by the test"):
        lgn2hw.compile(random_net, tmp_path / "out", device="LFE5U-85F", package="CABGA381", route_check=False)


def test_borderline_warns_and_goes_on(local_net, tmp_path, monkeypatch):
    import lgn2hw.fpga
    from lgn2hw.errors import ToolchainError
    monkeypatch.setattr(route, "ROUTES_MAX", 0.0)
    monkeypatch.setattr(route, "WONT_ROUTE_MIN", 100.0)
    monkeypatch.setattr(lgn2hw.fpga, "compile_for_target",
                        lambda *a: (_ for _ in ()).throw(ToolchainError("stopped by the test")))
    warnings = []
    with pytest.raises(ToolchainError):
        lgn2hw.compile(local_net, tmp_path / "out", device="LFE5U-85F", package="CABGA381", warn=warnings.append)
    assert len(warnings) == 1 and warnings[0].startswith("routing is borderline on LFE5U-85F-CABGA381: ")


def test_cli_info_prints_the_verdict_and_compile_stops(random_net, tmp_path, capsys):
    from lgn2hw.ir import dump
    path = tmp_path / "random.netlist"
    path.write_text(dump(random_net))
    assert main(["info", str(path), "--device", "LFE5U-85F"]) == 0
    out = capsys.readouterr().out
    assert "routing  will not route on LFE5U-85F: demand " in out
    assert "largest fraction of the network expected to route: " in out
    assert main(["info", str(EXAMPLE), "--board", "ice40-hx8k-breakout", "--json"]) == 0
    import json
    assert json.loads(capsys.readouterr().out)["route"]["verdict"] == "routes"
    code = main(["compile", str(path), "--device", "LFE5U-85F", "--package", "CABGA381", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("lgn2hw: error: the core will not route on LFE5U-85F-CABGA381")
    assert len([line for line in err.splitlines() if line.startswith("lgn2hw: error")]) == 1


@pytest.mark.parametrize("max_fanout", [0, 2])
def test_precheck_counts_every_gate_register_once(local_net, monkeypatch, max_fanout):
    # the flip-flops the estimate is given are the TRELLIS_FF cells of the gate module, input bank and copies
    # included, counted in the emitted Verilog
    from lgn2hw.back import EmitOptions, emit_verilog
    from lgn2hw.fpga.boards import resolve_target
    target = resolve_target(device="LFE5U-85F", package="CABGA381")
    opts = EmitOptions.for_target("ecp5", 0, freq_mhz=250)
    opts.max_fanout = max_fanout
    res = emit_verilog(lut_map(local_net, 4)[0], opts)
    seen = {}
    real = route.estimate
    monkeypatch.setattr(route, "estimate", lambda *a, **kw: seen.update(kw) or real(*a, **kw))
    route.precheck(local_net, res.report, target)
    cells = res.files[f"{opts.top}_gates.v"].count("TRELLIS_FF #(")
    assert bool(res.report["fanout"]["register_copies"]) == bool(max_fanout)
    assert seen["ff"] == cells
