"""Functional reduction: merges only what an exhaustive proof confirms, including negated and constant cases."""
import itertools

import numpy as np

from lgn2hw import gates
from lgn2hw.ir import Netlist, evaluate
from lgn2hw.passes import DEFAULT, FunctionalReduce, run_passes

T = gates.tables_from_gate_ids
AND, OR, NAND, XOR, XNOR, A = 1, 7, 14, 6, 9, 3


def all_inputs(n):
    return np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.uint8)


def test_reconvergent_xor_merges_with_plain_and_negated_copies():
    # layer 1 on inputs a, b: n4 = a OR b, n5 = a NAND b, n6 = a XOR b, n7 = a XNOR b
    # layer 2: n8 = n4 AND n5 (= a XOR b), n9 = n6 (buffer), n10 = n7 (buffer), n11 = n4 (buffer)
    nl = Netlist.from_layers(2, [(T([OR, NAND, XOR, XNOR]), [[0, 1], [0, 1], [0, 1], [0, 1]]),
                                 (T([AND, A, A, A]), [[0, 1], [2, 2], [3, 3], [0, 0]])], 4)
    out, stats = FunctionalReduce().run(nl.copy())
    # n6 = XOR is the earliest of its class: n7 (its negation), n8 (the reconvergent cone) and the buffers n9,
    # n10 (negated) merge into it, n11 into n4; n5 is left for dead-gate elimination
    assert stats["merged"] == 5 and stats["changed"]
    assert out.n_nodes == 3 and out.tables.tolist() == T([OR, NAND, XOR]).tolist()
    assert out.out_nets.tolist() == [6, 6, 6, 4] and out.out_invert.tolist() == [False, False, True, False]
    x = all_inputs(2)
    np.testing.assert_array_equal(evaluate(out, x), evaluate(nl, x))
    full, report = run_passes(nl, DEFAULT, check=True)
    np.testing.assert_array_equal(evaluate(full, x), evaluate(nl, x))
    assert report.gates_live == 2       # a XOR b (counted once plain, once inverted, once via n8) and a OR b


def test_near_constant_cone_is_not_merged_without_proof():
    # a 12-input AND tree is 1 on one pattern of 4096: on 64 random patterns it looks like constant 0,
    # but the exhaustive proof must refuse to merge it (or any of its sub-trees)
    n = 12
    layers = [(T([AND] * 6), [[2 * i, 2 * i + 1] for i in range(6)]),
              (T([AND] * 3), [[0, 1], [2, 3], [4, 5]]),
              (T([AND, AND]), [[0, 1], [1, 2]]),
              (T([AND]), [[0, 1]])]
    nl = Netlist.from_layers(n, layers, 1)
    out, stats = FunctionalReduce(patterns=64).run(nl.copy())
    assert stats["candidates"] >= 1 and stats["merged"] == 0 and not stats["changed"]
    x = all_inputs(n)
    np.testing.assert_array_equal(evaluate(out, x), evaluate(nl, x))
    assert evaluate(out, x)[:, 0].sum() == 1


def test_support_limit_leaves_large_cones_alone():
    # two differently paired 16-input parity trees are equal, but their support exceeds the proof limit
    pair_a = [[2 * i, 2 * i + 1] for i in range(8)]
    pair_b = [[i, 15 - i] for i in range(8)]
    def halves(w):
        return [[2 * i, 2 * i + 1] for i in range(w)]
    layers = [(T([XOR] * 16), pair_a + pair_b),
              (T([XOR] * 8), halves(4) + [[8 + a, 8 + b] for a, b in halves(4)]),
              (T([XOR] * 4), halves(2) + [[4 + a, 4 + b] for a, b in halves(2)]),
              (T([XOR] * 2), [[0, 1], [2, 3]])]
    nl = Netlist.from_layers(16, layers, 2)
    out, stats = FunctionalReduce(max_support=12).run(nl.copy())
    assert stats["candidates"] >= 1 and stats["merged"] == 0
    assert out.n_nodes == nl.n_nodes
    x = np.random.default_rng(0).integers(0, 2, (500, 16)).astype(np.uint8)
    counts = evaluate(out, x)
    np.testing.assert_array_equal(counts[:, 0], counts[:, 1])     # they are equal, just not provably so here


def test_evaluate_bitsets_matches_evaluate():
    rng = np.random.default_rng(5)
    for k in range(0, 7):
        width = 1 << max(k, 3)
        pats = np.arange(width)
        cols = [((pats >> j) & 1).astype(np.uint8) for j in range(k)]
        as_int = [int(sum(int(b) << p for p, b in enumerate(c))) for c in cols]
        for _ in range(20):
            table = int(rng.integers(0, 1 << min(1 << k, 62))) & ((1 << (1 << k)) - 1)
            want = gates.evaluate(np.uint64(table), k, cols) if k else np.full(width, table & 1, dtype=np.uint8)
            got = gates.evaluate_bitsets(table, k, as_int, width)
            assert [(got >> p) & 1 for p in range(width)] == [int(v) for v in np.broadcast_to(want, (width,))]


def test_evaluate_words_matches_evaluate():
    rng = np.random.default_rng(6)
    for k in range(0, 7):
        n, words = 30, 3
        tables = rng.integers(0, 2**62, n, dtype=np.uint64) & gates.table_mask(k)
        bits = rng.integers(0, 2, (k, n, 64 * words)).astype(np.uint8)
        packed = [np.packbits(bits[j], axis=1, bitorder="little").view("<u8") for j in range(k)]
        got = np.broadcast_to(gates.evaluate_words(tables, k, packed), (n, words))
        got_bits = np.unpackbits(np.ascontiguousarray(got).view(np.uint8), axis=1, bitorder="little")
        want = gates.evaluate(tables[:, None], k, list(bits)) if k else \
            np.broadcast_to((tables & np.uint64(1)).astype(np.uint8)[:, None], (n, 64 * words))
        np.testing.assert_array_equal(got_bits, want)
