"""The popcount and argmax blocks under Amaranth's simulator: exhaustive for small widths, ties included."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned
from amaranth.sim import Simulator

from lgn2hw.back import ArgMax, PopCount, count_shape, popcount_latency

from netlists import stream


def _unused(obj):
    """Blocks built only to read an attribute: tell Amaranth they are not meant to be elaborated."""
    obj._MustUse__silence = True
    return obj


def _signed_value(v, width):
    return v - (1 << width) if v >> (width - 1) else v


@pytest.mark.parametrize("width,offset,extra", [
    (0, 0, 0), (0, -2, 1), (1, 0, 0), (2, 3, 0), (3, 0, 0), (4, -5, 0), (5, 0, 2), (6, -1, 0), (7, 2, 0),
    (8, -8, 0), (9, 0, 0), (10, 4, 0),
])
@pytest.mark.parametrize("every", [1, 2, 3])
def test_popcount_exhaustive(width, offset, extra, every):
    latency = popcount_latency(width, every) + extra
    dut = PopCount(width, offset=offset, latency=latency, every=every)
    inputs = list(range(1 << width)) if width <= 10 else []
    seen = stream(dut, inputs, dut.i, [dut.o], latency)
    # seen[t] follows clock edge t+1; input t is out after `latency` edges, i.e. in seen[t + latency - 1].
    got = [seen[t + latency - 1][0] for t in range(len(inputs))]
    want = [bin(v).count("1") + offset for v in inputs]
    if dut.shape.signed:
        got = [_signed_value(v, dut.shape.width) if v >= 0 and v >> (dut.shape.width - 1) else v for v in got]
    assert got == want
    # nothing earlier: one edge sooner the first sample is not there yet (unless the count is constant)
    if width:
        assert [seen[t + latency - 2][0] for t in range(1, len(inputs))] != want[1:]


def test_popcount_shapes():
    assert count_shape(0, 0) == unsigned(1)
    assert count_shape(0, 800) == unsigned(10)
    assert count_shape(-1, 1) == signed(2)
    assert count_shape(-3, 4) == signed(4)
    assert count_shape(-4, 3) == signed(3)
    with pytest.raises(ValueError, match=r"^latency must be >= 3 for 4 bits, not 2$"):
        PopCount(4, latency=2, every=1)
    assert [popcount_latency(w, 2) for w in (1, 3, 4, 7, 13, 800)] == [1, 1, 2, 2, 3, 6]


def _check_argmax(k, shape, rows, split):
    """Stream the count vectors ``rows`` through the block: the class is numpy's (and PyTorch's) first maximum,
    the counts come out as they went in."""
    dut = ArgMax(k, shape, split=split)
    cw = shape.width
    packed = [sum((int(v) % (1 << cw)) << (c * cw) for c, v in enumerate(vals)) for vals in rows]
    lat = dut.latency
    if lat == 0:
        seen = []

        async def bench(ctx):
            for p in packed:
                ctx.set(dut.i, p)
                seen.append((ctx.get(dut.o_class), ctx.get(dut.o_counts)))
        sim = Simulator(dut)
        sim.add_testbench(bench)
        sim.run()
        got = seen
    else:
        seen = stream(dut, packed, dut.i, [dut.o_class, dut.o_counts], lat)
        got = [seen[t + lat - 1] for t in range(len(packed))]
    assert [g[0] for g in got] == [int(np.argmax(np.array(vals))) for vals in rows]
    assert [g[1] for g in got] == packed


def _argmax_case(k, shape, split=False):
    cw = shape.width
    lo, hi = (-(1 << (cw - 1)), (1 << (cw - 1)) - 1) if shape.signed else (0, (1 << cw) - 1)
    combos = list(itertools.product(range(lo, hi + 1), repeat=k))
    _check_argmax(k, shape, combos, split)
    assert any(len(set(v)) < k for v in combos) or k == 1   # ties were exercised


@pytest.mark.parametrize("k,shape", [
    (1, unsigned(2)), (2, unsigned(3)), (3, unsigned(2)), (4, unsigned(2)), (5, unsigned(1)), (3, signed(2)),
    (4, signed(2)),
])
def test_argmax_exhaustive_lowest_index_wins(k, shape):
    _argmax_case(k, shape)


@pytest.mark.parametrize("k,shape", [(2, unsigned(3)), (3, unsigned(2)), (5, unsigned(1)), (4, signed(2)),
                                     (2, unsigned(5)), (3, signed(3)), (2, signed(5))])
def test_split_argmax_exhaustive(k, shape):
    _argmax_case(k, shape, split=True)


def _random_argmax_case(k, shape, n, seed, split):
    """``n`` random count vectors (a third of them with the maximum repeated) streamed through the block."""
    rng = np.random.default_rng(seed)
    cw = shape.width
    lo, hi = (-(1 << (cw - 1)), (1 << (cw - 1))) if shape.signed else (0, 1 << cw)
    vals = rng.integers(lo, hi, size=(n, k))
    tie = rng.random(n) < 1 / 3
    other = rng.integers(0, k, size=n)
    vals[tie, other[tie]] = vals[tie].max(axis=1)
    _check_argmax(k, shape, vals.tolist(), split)


@pytest.mark.parametrize("k,shape", [(10, unsigned(11)), (10, signed(9)), (7, unsigned(8))])
def test_split_argmax_wide_counts(k, shape):
    # widths of real networks' counts, too wide for every combination: random vectors with ties
    _random_argmax_case(k, shape, 300, 1, split=True)


def test_split_argmax_latency():
    # the counts registered twice, then per level: one cycle for the 2-bit slices, one per step of the tree
    # that combines them, one for the selection
    assert [_unused(ArgMax(2, unsigned(w), split=True)).latency for w in (1, 2, 3, 4, 5, 8, 9, 11, 16, 17)] == \
        [4, 4, 5, 5, 6, 6, 7, 7, 7, 8]


def test_argmax_latency():
    assert [_unused(ArgMax(k, unsigned(4))).latency for k in (1, 2, 3, 4, 5, 8, 9, 10)] == [0, 1, 2, 2, 3, 3, 4, 4]
    assert [_unused(ArgMax(k, unsigned(4), split=True)).latency for k in (1, 2, 10)] == [0, 5, 14]
    assert _unused(ArgMax(10, unsigned(4))).class_width == 4
    assert _unused(ArgMax(1, unsigned(4))).class_width == 1
