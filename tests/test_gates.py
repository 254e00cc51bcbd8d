"""The gate table, checked exhaustively against its one definition: out = (id >> (3 - (2a + b))) & 1."""
import itertools

import numpy as np
import pytest

from lgn2hw import gates

# The difflogic table written out by hand from its documented meaning (not derived from gates.py).
EXPECTED = {
    0: lambda a, b: 0, 1: lambda a, b: a & b, 2: lambda a, b: a & (1 - b), 3: lambda a, b: a,
    4: lambda a, b: (1 - a) & b, 5: lambda a, b: b, 6: lambda a, b: a ^ b, 7: lambda a, b: a | b,
    8: lambda a, b: 1 - (a | b), 9: lambda a, b: 1 - (a ^ b), 10: lambda a, b: 1 - b,
    11: lambda a, b: a | (1 - b), 12: lambda a, b: 1 - a, 13: lambda a, b: (1 - a) | b,
    14: lambda a, b: 1 - (a & b), 15: lambda a, b: 1,
}


@pytest.mark.parametrize("gate_id", range(16))
def test_gate_ids_match_difflogic(gate_id):
    table = gates.tables_from_gate_ids([gate_id])
    for a, b in itertools.product((0, 1), repeat=2):
        assert gates.gate_truth(gate_id, a, b) == EXPECTED[gate_id](a, b)
        got = gates.evaluate(table, 2, [np.array([a]), np.array([b])])[0]
        assert got == EXPECTED[gate_id](a, b)


def test_gate_id_table_round_trip():
    ids = np.arange(16)
    assert (gates.gate_ids_from_tables(gates.tables_from_gate_ids(ids)) == ids).all()
    assert sorted(gates.TABLE_OF_GATE_ID.tolist()) == list(range(16))


def test_names():
    assert gates.GATE_NAMES[6] == "XOR" and gates.GATE_NAMES[9] == "XNOR" and gates.GATE_NAMES[14] == "NAND"
    assert gates.table_name(int(gates.tables_from_gate_ids([7])[0]), 2) == "OR"


def test_coefficients_reproduce_every_gate_on_bits_and_interpolate():
    coef = gates.gate_coefficients()
    for g, (a, b) in itertools.product(range(16), itertools.product((0, 1), repeat=2)):
        assert coef[g] @ [1, a, b, a * b] == EXPECTED[g](a, b)
    # On real values it is the expectation under independent Bernoulli inputs.
    a, b = 0.3, 0.8
    for g in range(16):
        expect = sum(EXPECTED[g](x, y) * (a if x else 1 - a) * (b if y else 1 - b)
                     for x, y in itertools.product((0, 1), repeat=2))
        assert coef[g] @ [1, a, b, a * b] == pytest.approx(expect)


def _all_inputs(k):
    m = np.arange(1 << k)
    return [(m >> j) & 1 for j in range(k)]


def _truth(tables, k):
    """(n, 2**k) outputs of each table on every input combination, through gates.evaluate."""
    ins = _all_inputs(k)
    return np.stack([gates.evaluate(tables, k, [np.full(len(tables), x[m]) for x in ins])
                     for m in range(1 << k)], axis=1)


@pytest.mark.parametrize("k", range(0, 5))
def test_algebra_exhaustive(k):
    mask = (1 << (1 << k)) - 1
    tables = np.arange(mask + 1, dtype=np.uint64) if k <= 4 else None
    truth = _truth(tables, k)
    m_all = np.arange(1 << k)
    # evaluate agrees with the LUT convention: bit m, m = sum in_j << j
    assert (truth == ((tables[:, None] >> m_all[None, :].astype(np.uint64)) & np.uint64(1))).all()
    assert (_truth(gates.negate_output(tables, k), k) == 1 - truth).all()
    for j in range(k):
        flipped = m_all ^ (1 << j)
        assert (_truth(gates.negate_input(tables, k, j), k) == truth[:, flipped]).all()
        c0, c1 = gates.cofactors(tables, k, j)
        assert (_truth(c0, k) == truth[:, m_all & ~(1 << j)]).all()
        assert (_truth(c1, k) == truth[:, m_all | (1 << j)]).all()
        dep = gates.depends_on(tables, k, j)
        assert (dep == (truth[:, m_all & ~(1 << j)] != truth[:, m_all | (1 << j)]).any(1)).all()
        for value in (0, 1):
            reduced = gates.fix_input(tables, k, j, value)
            assert (reduced <= np.uint64((1 << (1 << (k - 1))) - 1)).all()
            for m in range(1 << (k - 1)):
                low, high = m & ((1 << j) - 1), m >> j
                full = low | (value << j) | (high << (j + 1))
                assert (((reduced >> np.uint64(m)) & np.uint64(1)) == truth[:, full]).all()
        for i in range(k):
            swapped = gates.swap_inputs(tables, k, i, j)
            perm = np.array([(m & ~((1 << i) | (1 << j))) | (((m >> i) & 1) << j) | (((m >> j) & 1) << i)
                             for m in m_all])
            assert (_truth(swapped, k) == truth[:, perm]).all()


@pytest.mark.parametrize("k", range(0, 7))
def test_classify(k):
    rng = np.random.default_rng(k)
    mask = (1 << (1 << k)) - 1
    tables = rng.integers(0, mask + 1 if k < 6 else 2**63, size=2000, dtype=np.uint64) if k < 6 else \
        rng.integers(0, 2**63, size=2000, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, 2000).astype(np.uint64)
    specials = [0, mask]
    for j in range(k):
        buf = sum(1 << m for m in range(1 << k) if (m >> j) & 1)
        specials += [buf, mask ^ buf]
    tables = np.concatenate([np.array(specials, dtype=np.uint64), tables])
    kind, which = gates.classify(tables, k)
    truth = _truth(tables, k) if k <= 4 else None
    ins = _all_inputs(k)
    for t, kd, w in zip(tables.tolist(), kind.tolist(), which.tolist()):
        bits = [(t >> m) & 1 for m in range(1 << k)]
        if kd == 1:
            assert bits == [w] * (1 << k)
        elif kd == 2:
            assert bits == list(ins[w])
        elif kd == 3:
            assert bits == [1 - x for x in ins[w]]
        else:
            assert len(set(bits)) == 2 and all(bits != list(x) and bits != [1 - v for v in x] for x in ins)
    assert truth is None or truth.shape[0] == len(tables)
