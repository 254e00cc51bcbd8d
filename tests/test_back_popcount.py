"""The popcount tree in every style: Amaranth simulation over all inputs for small widths (plain and weighted,
offsets, latency exact to the cycle), the plan's arithmetic on large random classes, and the generated Verilog
under Icarus against Python's count of ones."""
from __future__ import annotations

import random
import subprocess

import pytest

from lgn2hw.back import PopCount
from lgn2hw.back._popcount import (
    STYLES,
    VerilogBuilder,
    _plan,
    build_popcount,
    merge_duplicates,
    place_order,
    popcount_latency,
    popcount_verilog,
)
from lgn2hw.errors import UsageError

from netlists import stream


def _run(dut, inputs):
    """One input per clock; returns the output seen after each clock edge (input t is out after ``latency``
    edges, i.e. at index t + latency - 1)."""
    return [o for (o,) in stream(dut, inputs, dut.i, [dut.o], dut.latency)]


def _weighted(v, weights):
    return sum(w for j, w in enumerate(weights) if v >> j & 1)


def _check_exhaustive(width, offset, every, style, weights=None, extra=0, relay=0, local=False):
    latency = popcount_latency(width, every, style, weights, relay=relay, local=local) + extra
    dut = PopCount(width, offset=offset, latency=latency, every=every, style=style, weights=weights, relay=relay,
                   local=local)
    inputs = list(range(1 << width))
    seen = _run(dut, inputs)
    ws = weights or [1] * width
    want = [_weighted(v, ws) + offset for v in inputs]
    got = [seen[t + latency - 1] for t in inputs]
    assert got == want
    if width and len(set(want)) > 1:
        # one edge sooner the samples are not there yet
        assert [seen[t + latency - 2] for t in range(1, len(inputs))] != want[1:]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("every", [1, 2, 3])
@pytest.mark.parametrize("width,offset", [(0, 3), (1, 0), (2, -1), (3, 0), (4, 2), (5, -5), (7, 0), (9, -3), (8, 0),
                                          (10, 1)])
def test_exhaustive(style, every, width, offset):
    _check_exhaustive(width, offset, every, style)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("weights,offset,every,extra", [
    ([2], 0, 1, 0), ([3], -1, 2, 1), ([2, 2, 2], 0, 2, 0), ([1, 2, 1, 3, 1], -4, 1, 0),
    ([4, 1, 1, 1, 2, 5, 1], 2, 2, 0), ([1, 1, 1, 1, 1, 1, 2, 2], 0, 3, 2), ([7, 6, 1, 1, 9, 1, 1, 1, 1], -20, 2, 0),
])
def test_exhaustive_weighted(style, weights, offset, every, extra):
    _check_exhaustive(len(weights), offset, every, style, weights, extra)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("every,relay", [(1, 1), (1, 2), (1, 9), (2, 1), (3, 2)])
@pytest.mark.parametrize("width,weights,offset", [(1, None, 0), (5, None, -5), (9, None, 2),
                                                  (7, [4, 1, 1, 1, 2, 5, 1], -3), (10, None, 1)])
def test_exhaustive_relayed(style, every, relay, width, weights, offset):
    # relay registers on the highest levels of the tree (carry-ins delayed to match); a later sample must not
    # show one edge sooner
    _check_exhaustive(width, offset, every, style, weights, relay=relay)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("every,relay", [(1, 0), (2, 0), (1, 1)])
@pytest.mark.parametrize("width,weights,offset", [(0, None, 1), (4, None, 0), (9, None, -2), (10, None, 1),
                                                  (7, [4, 1, 1, 1, 2, 5, 1], -3), (8, [1, 2, 1, 2, 1, 1, 3, 1], 0)])
def test_exhaustive_local(style, every, relay, width, weights, offset):
    # the tree that adds neighbours in the bits' order, carry-ins spread along it
    _check_exhaustive(width, offset, every, style, weights, relay=relay, local=True)


def test_relay_latency():
    # one register more per relayed level, never more than the tree has registered levels
    for style in STYLES:
        for width, every in ((1, 1), (9, 1), (40, 1), (40, 2), (800, 1)):
            base = popcount_latency(width, every, style)
            tree_levels = len(_plan(width, style=style).levels)
            registered = sum(1 for lv in range(1, tree_levels + 1) if lv % every == 0)
            for relay in (0, 1, 2, 30):
                assert popcount_latency(width, every, style, relay=relay) == base + min(relay, registered)


class _Eval:
    """A builder that computes the value of the tree for one input, wrapping every signal to its declared width
    (a too-narrow adder or register shows up as a wrong count)."""

    def sum_bits(self, grp):
        return sum(grp)

    def const(self, value, width):
        return value

    def shl(self, x, k, width):
        return x << k

    def add(self, x, y, width, cin=None):
        return x + y + (cin or 0)

    def cat(self, parts):
        value, at = 0, 0
        for h, w, f in parts:
            assert 0 <= h < (1 << w)
            value |= h << at
            at += f
        return value

    def slice(self, x, lo, width):
        return (x >> lo) % (1 << width)

    def add_const(self, x, value, width):
        return x + value

    def reg(self, expr, width, name):
        return expr % (1 << width)

    wire = reg


@pytest.mark.parametrize("local", [False, True])
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("n", [11, 12, 13, 64, 127, 800, 8001])
def test_plan_arithmetic_random(style, n, local):
    rng = random.Random(n)
    weights = [1] * n if n % 2 else [rng.choice([1, 1, 1, 1, 2, 3, 4, 8]) for _ in range(n)]
    total = sum(weights)
    offset = -(n // 3)
    ow = (total + 2 * abs(offset)).bit_length() + 2
    inverted = [rng.random() < 0.3 for _ in range(n)]
    for p in (0.0, 1.0, 0.5, 0.1, 0.9):
        bits = [1 if rng.random() < p else 0 for _ in range(n)]
        inv = inverted if p > 0.4 else None
        lat = popcount_latency(n, 2, style, weights, inv, local=local)
        got = build_popcount(_Eval(), bits, offset, ow, lat, "t", 2, style, weights, inv, local=local)
        want = (sum(w for b, w in zip(bits, weights) if b) + offset) % (1 << ow)
        assert got == want


def test_plan_shape():
    # the full-adder tree: leaves of three bits, then a balanced tree, then the offset level
    assert [popcount_latency(w, 2) for w in (0, 1, 3, 4, 7, 13, 800)] == [1, 1, 1, 2, 2, 3, 6]
    assert popcount_latency(800, 1, "fa") == 11
    # cin: a quarter of the bits go in as carry-ins, the tree is never deeper than the fa tree
    for n in (3, 4, 7, 15, 31, 100, 800, 8000):
        fa, cin = _plan(n, style="fa"), _plan(n, style="cin")
        adds = [op for level in cin.levels for op in level if op.kind == "add"]
        used = sorted(op.cin for op in adds if op.cin is not None)
        leaf_bits = sorted(i for op in cin.levels[0] for i in op.bits)
        assert sorted(used + leaf_bits) == list(range(n))          # every bit exactly once
        assert cin.n_levels <= fa.n_levels
        if n >= 7:
            assert len(used) >= n // 5
    # an 800-bit class: 2**k - 1 operands keep every adder as narrow as without carry-ins
    top = _plan(800, style="cin").result
    assert top.top == 800 and top.width == 10


def test_local_tree_adds_neighbours():
    # every operand of the local tree covers one run of consecutive leaf bits, the two operands of an adder are
    # neighbouring runs, and the carry-ins are spread along the bits: each adder's carry-in lies within its run
    # or at most the run's length beside it
    for n in (100, 801, 8000):
        for style in ("fa", "cin", "pack"):
            plan = _plan(n, style=style, local=True)
            span = {id(op): (min(op.bits), max(op.bits)) for op in plan.levels[0]}
            cins, far = 0, 0
            for level in plan.levels[1:]:
                for op in level:
                    lo = min(span[id(x)][0] for x in op.args)
                    hi = max(span[id(x)][1] for x in op.args)
                    if op.kind == "add":
                        assert span[id(op.args[0])][1] < span[id(op.args[1])][0]
                    if op.cin is not None:
                        cins += 1
                        far += not lo - (hi - lo + 1) <= op.cin <= hi + (hi - lo + 1)
                    span[id(op)] = (lo, hi)
            assert span[id(plan.result)][1] <= n - 1
            assert far == 0 and (cins > n // 5 or style == "fa"), (n, style, far, cins)
            assert _plan(n, style=style, local=True).n_levels == _plan(n, style=style).n_levels


def test_place_order_follows_a_curve():
    # a 16 x 16 grid in raster order: the curve visits every point once, each step to a grid neighbour
    pts = [(r, c) for r in range(16) for c in range(16)]
    order = place_order(pts)
    assert sorted(order) == list(range(256))
    steps = [abs(pts[a][0] - pts[b][0]) + abs(pts[a][1] - pts[b][1]) for a, b in zip(order, order[1:])]
    assert set(steps) == {1}
    # any run of 4**k along it is a 2**k square
    for k in (1, 2, 3):
        for start in range(0, 256, 4 ** k):
            run = [pts[i] for i in order[start:start + 4 ** k]]
            assert max(r for r, _ in run) - min(r for r, _ in run) == 2 ** k - 1
            assert max(c for _, c in run) - min(c for _, c in run) == 2 ** k - 1
    # scale and offset do not matter; ties keep their order; fewer than two points are their own order
    assert place_order([(10 * r + 5, 0.5 * c) for r, c in pts]) == order
    assert place_order([(1, 1)] * 3) == [0, 1, 2] and place_order([]) == [] and place_order([(0, 0)]) == [0]


def test_carry_in_delays_are_kept_apart():
    # two classes counting the same bit as a delayed carry-in: their delay registers carry `keep`, so that
    # synthesis does not share them between the two trees
    b = VerilogBuilder()
    bits = [f"bits[{i}]" for i in range(40)]
    for c in range(2):
        build_popcount(b, bits, 0, 8, popcount_latency(40, 1, "cin"), f"c{c}", 1, "cin")
    kept = [d for d in b.decls if "_cin" in d]
    assert kept and all(d.startswith("  (* keep *) reg") for d in kept)
    assert not any("keep" in d for d in b.decls if "_cin" not in d)


def test_inverted_bits_stay_out_of_carry_ins():
    inverted = [i % 3 == 0 for i in range(100)]              # 34 inverted, 66 plain
    for style, local in (("cin", False), ("pack", False), ("cin", True)):
        plain = _plan(100, style=style, local=local)
        hinted = _plan(100, style=style, inverted=inverted, local=local)
        cins = [op.cin for level in hinted.levels for op in level if op.kind == "add" and op.cin is not None]
        assert len(cins) > 15 and not any(inverted[i] for i in cins)
        assert hinted.n_levels == plain.n_levels
        assert any(inverted[op.cin] for level in plain.levels for op in level
                   if op.kind == "add" and op.cin is not None)     # without the hint some would be
    with pytest.raises(ValueError, match=r"^3 inversion flags for 4 bits$"):
        _plan(4, style="cin", inverted=[True] * 3)


def test_weights_enter_at_binary_positions():
    plan = _plan(3, [2, 4, 6], "fa")
    leaves = plan.levels[0]
    assert sorted((op.shift, op.bits) for op in leaves) == [(1, (0, 2)), (2, (1, 2))]
    assert plan.result.top << plan.result.shift == 12


def test_bad_arguments():
    with pytest.raises(UsageError, match=r"^popcount style must be fa, cin or pack, not 'lut6'$"):
        popcount_latency(8, 2, "lut6")
    with pytest.raises(ValueError, match=r"^popcount weights must be positive integers$"):
        PopCount(3, weights=[1, 0, 1])
    with pytest.raises(UsageError, match=r"^popcount style must be"):
        PopCount(3, style="lut6")
    with pytest.raises(ValueError, match=r"^2 weights for 3 bits$"):
        popcount_latency(3, 2, "fa", [1, 1])
    with pytest.raises(ValueError, match=r"^latency must be >= 2 for 4 bits, not 1$"):
        PopCount(4, latency=1, every=2, style="cin")


def test_merge_duplicates():
    first, w = merge_duplicates([(5, False), (7, True), (5, False), (5, True), (7, True), (5, False)])
    assert first == [0, 1, 3] and w == [3, 2, 1]
    assert merge_duplicates([]) == ([], [])


@pytest.mark.needs("iverilog")
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("every,relay", [(2, 0), (1, 2)])
def test_verilog_under_icarus(tmp_path, style, every, relay):
    """The Verilog rendering of three classes (weights, negative offset, padding to a common latency) under
    Icarus, 200 random vectors, against Python's weighted count of ones plus offset."""
    rng = random.Random(7)
    sizes, offsets = [37, 5, 0], [-3, 0, 2]
    weights = [[rng.choice([1, 1, 1, 2, 3]) for _ in range(s)] for s in sizes]
    class_bits, start = [], 0
    for s in sizes:
        class_bits.append(list(range(start, start + s)))
        start += s
    n = start
    cw = 8
    lat = max(popcount_latency(s, every, style, w, relay=relay) for s, w in zip(sizes, weights))
    inverted = [[rng.random() < 0.5 for _ in range(s)] for s in sizes]      # an area hint: same counts
    text = popcount_verilog("pc", "test", n, class_bits, offsets, cw, lat, every, style, weights, inverted,
                            relay=relay)
    vectors = [rng.getrandbits(n) for _ in range(200)]
    k = len(sizes)
    tb = [
        "module tb;", "  reg clk = 0;", f"  reg [{n - 1}:0] bits;", f"  wire [{k * cw - 1}:0] counts;",
        "  pc dut (.clk(clk), .bits(bits), .counts(counts));", "  integer t;",
        f"  reg [{n - 1}:0] mem [0:{len(vectors) - 1}];",
        "  initial begin", '    $readmemh("vec.hex", mem);',
        f"    for (t = 0; t < {len(vectors) + lat}; t = t + 1) begin",
        f"      if (t < {len(vectors)}) bits = mem[t];",
        "      #1 clk = 1; #1 clk = 0;",
        f'      if (t >= {lat - 1}) $display("%0d %h", t - {lat - 1}, counts);',
        "    end", "    $finish;", "  end", "endmodule", ""]
    (tmp_path / "pc.v").write_text(text)
    (tmp_path / "tb.v").write_text("\n".join(tb))
    (tmp_path / "vec.hex").write_text("".join(f"{v:x}\n" for v in vectors))
    subprocess.run(["iverilog", "-o", "sim", "tb.v", "pc.v"], cwd=tmp_path, check=True, capture_output=True)
    out = subprocess.run(["vvp", "-n", "sim"], cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    got = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and int(parts[0]) < len(vectors):
            got[int(parts[0])] = int(parts[1], 16)
    assert sorted(got) == list(range(len(vectors)))
    for t, v in enumerate(vectors):
        for c in range(k):
            want = sum(w for j, w in zip(class_bits[c], weights[c]) if v >> j & 1) + offsets[c]
            assert got[t] >> (c * cw) & 0xFF == want % 256, (t, c)


def test_pack_chains():
    """pack: the adders of a level share carry chains of at most PACK_COLUMNS columns, one adder expression per
    chain; the fa and cin renderings keep one expression per adder."""
    import re

    from lgn2hw.back._popcount import PACK_COLUMNS
    adds = [op for level in _plan(800, style="pack").levels for op in level if op.kind == "add"]
    n_adds, n_cin = len(adds), sum(1 for op in adds if op.cin is not None)
    texts = {s: popcount_verilog("pc", "t", 800, [list(range(800))], [0], 10, 11, 1, s) for s in STYLES}
    chains = re.findall(r"reg \[(\d+):0\] c0_l\d+_p\d+;", texts["pack"])
    assert chains and all(int(hi) + 1 <= PACK_COLUMNS for hi in chains)
    assert sum(int(hi) + 1 for hi in chains) > 2 * len(chains)
    assert len(chains) < n_adds / 2                                     # two or more adders per chain
    assert len(chains) <= texts["pack"].count(" + ") <= 2 * len(chains)     # x + y, and + c with a carry-in
    assert texts["cin"].count(" + ") == n_adds + n_cin


def test_recommended_styles_are_valid():
    from lgn2hw.back._popcount import DEFAULT_EVERY, DEFAULT_STYLE, recommended_style
    for family in ("ecp5", "ice40"):
        style, every = recommended_style(family)
        assert style in STYLES and every >= 1
        popcount_latency(100, every, style)
    assert recommended_style("gowin") == (DEFAULT_STYLE, DEFAULT_EVERY)
