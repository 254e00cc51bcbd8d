"""The gate table: the one module that knows what a gate id or a truth table means.

Two views of the same thing live here:

* **difflogic gate ids** 0..15, as used by difflogic and torchlogix: the id *is* the truth table read over
  (a, b) = 00, 01, 10, 11, most significant bit first, so ``out = (id >> (3 - (2*a + b))) & 1``.
* **LUT tables**, the form the netlist IR stores for every node: a k-input node (k <= 6) has a table of
  2**k bits and ``out = (table >> m) & 1`` with ``m = sum(in_j << j)`` -- input 0 is the least significant
  select bit, as in an FPGA LUT's INIT value. For a 2-input gate input 0 is ``a`` and input 1 is ``b``.

Everything else (frontends, passes, interpreter, backend) converts through the functions below and never
spells out a gate's meaning itself. All functions take and return numpy arrays of ``uint64`` tables so they work
on a whole layer at once.
"""
from __future__ import annotations

import numpy as np

MAX_ARITY = 6

#: Names of the 16 two-input gates, indexed by difflogic id.
GATE_NAMES = (
    "FALSE", "AND", "A_AND_NOT_B", "A", "NOT_A_AND_B", "B", "XOR", "OR",
    "NOR", "XNOR", "NOT_B", "A_OR_NOT_B", "NOT_A", "NOT_A_OR_B", "NAND", "TRUE",
)


def gate_truth(gate_id: int, a: int, b: int) -> int:
    """Output of difflogic gate ``gate_id`` for inputs ``a``, ``b`` (the definition everything derives from)."""
    return (gate_id >> (3 - (2 * a + b))) & 1


def _table_of_gate_id(gate_id: int) -> int:
    table = 0
    for a in (0, 1):
        for b in (0, 1):
            if gate_truth(gate_id, a, b):
                table |= 1 << (a + 2 * b)
    return table


#: LUT table (2 inputs: in0 = a, in1 = b) of each difflogic gate id.
TABLE_OF_GATE_ID = np.array([_table_of_gate_id(i) for i in range(16)], dtype=np.uint64)
#: difflogic gate id of each 2-input LUT table (the inverse permutation).
GATE_ID_OF_TABLE = np.empty(16, dtype=np.int64)
GATE_ID_OF_TABLE[TABLE_OF_GATE_ID.astype(np.int64)] = np.arange(16)

# Bits of a 64-bit table where input j is 0.
_SELECT_ZERO = np.array([
    0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F,
    0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF, 0x00000000FFFFFFFF,
], dtype=np.uint64)


def table_mask(k) -> np.ndarray:
    """All-ones table of arity ``k`` (scalar or array): the 2**k valid bits."""
    k = np.asarray(k, dtype=np.uint64)
    width = np.left_shift(np.uint64(1), k)
    full = np.uint64(0xFFFFFFFFFFFFFFFF)
    return np.where(width >= 64, full, (np.left_shift(np.uint64(1), width % np.uint64(64))) - np.uint64(1)).astype(np.uint64)


def tables_from_gate_ids(ids) -> np.ndarray:
    """LUT tables of an array of difflogic gate ids."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() > 15):
        raise ValueError("gate id must be in 0..15")
    return TABLE_OF_GATE_ID[ids.astype(np.int64)]


def gate_ids_from_tables(tables) -> np.ndarray:
    """difflogic gate ids of an array of 2-input LUT tables."""
    return GATE_ID_OF_TABLE[np.asarray(tables, dtype=np.uint64).astype(np.int64) & 15]


def tables_from_msb_first_rows(rows) -> np.ndarray:
    """LUT tables of k-input truth tables given as (n, 2**k) rows of 0/1 in the order torchlogix uses:
    entry ``e`` is the output for inputs ``x_j = (e >> (k - 1 - j)) & 1`` (input 0 is the most significant
    bit of the entry number). For k = 2 a row read as a binary number, first entry first, is the gate id."""
    rows = np.asarray(rows)
    if rows.ndim != 2 or rows.shape[1] not in (1 << k for k in range(MAX_ARITY + 1)):
        raise ValueError(f"rows must be (n, 2**k) with k <= {MAX_ARITY}, not {rows.shape}")
    k = rows.shape[1].bit_length() - 1
    out = np.zeros(rows.shape[0], dtype=np.uint64)
    for e in range(1 << k):
        m = sum(((e >> (k - 1 - j)) & 1) << j for j in range(k))
        out |= (rows[:, e] != 0).astype(np.uint64) << np.uint64(m)
    return out


def or_table(k: int) -> int:
    """LUT table of the k-input OR (k <= 6): every minterm but all-zeros is 1."""
    if not 1 <= k <= MAX_ARITY:
        raise ValueError(f"arity must be in 1..{MAX_ARITY}, not {k}")
    return int(table_mask(k)) & ~1


def gate_coefficients() -> np.ndarray:
    """(16, 4) float matrix C with ``gate_i(a, b) = C[i] @ [1, a, b, a*b]`` for real a, b in [0, 1].

    This is the probabilistic relaxation difflogic trains with: the gate's truth table weighted by
    P(a, b) for independent inputs."""
    # P(a,b) as polynomials in [1, a, b, ab]
    basis = {(0, 0): (1, -1, -1, 1), (0, 1): (0, 0, 1, -1), (1, 0): (0, 1, 0, -1), (1, 1): (0, 0, 0, 1)}
    coef = np.zeros((16, 4))
    for i in range(16):
        for (a, b), poly in basis.items():
            if gate_truth(i, a, b):
                coef[i] += poly
    return coef


def table_name(table: int, k: int) -> str:
    """Human name of a table: the gate name for k == 2, ``LUTk:0x..`` otherwise."""
    if k == 2:
        return GATE_NAMES[int(GATE_ID_OF_TABLE[int(table) & 15])]
    if k == 1:
        return {0: "FALSE", 1: "NOT", 2: "BUF", 3: "TRUE"}[int(table) & 3]
    if k == 0:
        return "TRUE" if int(table) & 1 else "FALSE"
    return f"LUT{k}:{int(table):0{max(1, (1 << k) // 4)}x}"


# --- algebra, vectorised over nodes of one arity -------------------------------------------------------------

def _u(x) -> np.ndarray:
    return np.asarray(x, dtype=np.uint64)


def cofactors(tables, k: int, j: int):
    """(t0, t1): tables of arity k with input j fixed to 0 resp. 1 (input j becomes a don't-care)."""
    t = _u(tables)
    s = np.uint64(1 << j)
    z = _SELECT_ZERO[j] & table_mask(k)
    c0 = t & z
    c1 = (t >> s) & z
    return c0 | (c0 << s), c1 | (c1 << s)


def depends_on(tables, k: int, j: int) -> np.ndarray:
    """Whether each table's output depends on input j."""
    c0, c1 = cofactors(tables, k, j)
    return c0 != c1


def negate_input(tables, k: int, j: int) -> np.ndarray:
    """Tables that compute the same function when input j arrives inverted (absorbs a NOT on input j)."""
    t = _u(tables)
    s = np.uint64(1 << j)
    z = _SELECT_ZERO[j] & table_mask(k)
    return ((t & z) << s) | ((t >> s) & z)


def negate_output(tables, k) -> np.ndarray:
    """Tables with the output inverted."""
    return ~_u(tables) & table_mask(k)


def _permute_bits(tables, k: int, source_of) -> np.ndarray:
    """New table whose bit m is the old table's bit source_of(m)."""
    t = _u(tables)
    out = np.zeros_like(t)
    for m in range(1 << k):
        out |= ((t >> np.uint64(source_of(m))) & np.uint64(1)) << np.uint64(m)
    return out


def swap_inputs(tables, k: int, i: int, j: int) -> np.ndarray:
    """Tables for the same function with inputs i and j exchanged."""
    if i == j:
        return _u(tables).copy()

    def source(m):
        bi, bj = (m >> i) & 1, (m >> j) & 1
        return (m & ~((1 << i) | (1 << j))) | (bi << j) | (bj << i)
    return _permute_bits(tables, k, source)


def fix_input(tables, k: int, j: int, value: int) -> np.ndarray:
    """Tables of arity k-1: input j tied to ``value`` and removed, inputs above j move down by one."""
    t = _u(tables)

    def source(m):
        low = m & ((1 << j) - 1)
        high = m >> j
        return low | (value << j) | (high << (j + 1))
    out = np.zeros_like(t)
    for m in range(1 << (k - 1)):
        out |= ((t >> np.uint64(source(m))) & np.uint64(1)) << np.uint64(m)
    return out


def merge_inputs(tables, k: int, i: int, j: int) -> np.ndarray:
    """Tables of arity k-1 for inputs i < j that always carry the same value (the same net): input j is
    removed and reads input i's value, inputs above j move down by one."""
    if not i < j < k:
        raise ValueError("merge_inputs needs i < j < k")
    t = _u(tables)

    def source(m):
        low = m & ((1 << j) - 1)
        high = m >> j
        return low | (((m >> i) & 1) << j) | (high << (j + 1))
    out = np.zeros_like(t)
    for m in range(1 << (k - 1)):
        out |= ((t >> np.uint64(source(m))) & np.uint64(1)) << np.uint64(m)
    return out


def evaluate_words(tables, k: int, inputs) -> np.ndarray:
    """Bit-parallel evaluation of n tables: ``inputs[j]`` is an (n, W) uint64 array holding input j's value in
    64*W patterns (one bit each); returns the (n, W) outputs. Shannon expansion from the highest input down."""
    t = _u(tables).reshape(-1, 1)
    ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    v = [np.where((t >> np.uint64(m)) & np.uint64(1), ones, np.uint64(0)) for m in range(1 << k)]
    for j in range(k - 1, -1, -1):
        x = inputs[j]
        half = 1 << j
        v = [v[m] ^ (x & (v[m] ^ v[m + half])) for m in range(half)]
    return v[0]


def evaluate_bitsets(table: int, k: int, inputs, width: int) -> int:
    """Evaluate one table on many input patterns at once, each input a Python int whose bit p is that input's
    value in pattern p (``width`` patterns); returns the output as such an int. Fast for a few thousand patterns."""
    full = (1 << width) - 1
    out = 0
    table = int(table)
    for m in range(1 << k):
        if (table >> m) & 1:
            term = full
            for j in range(k):
                term &= inputs[j] if (m >> j) & 1 else ~inputs[j]
            out |= term
    return out & full


def evaluate(tables, k: int, inputs) -> np.ndarray:
    """Reference evaluation on 0/1 values: ``inputs`` is a sequence of k integer arrays; returns 0/1 array."""
    m = np.zeros(np.broadcast(*inputs).shape if k else np.shape(tables), dtype=np.uint64)
    for j in range(k):
        m = m | (_u(inputs[j]) << np.uint64(j))
    return ((_u(tables) >> m) & np.uint64(1)).astype(np.uint8)


def classify(tables, k: int):
    """Describe each table as a constant or a (possibly inverted) copy of one input.

    Returns ``(kind, which)``: kind 0 = a real gate, 1 = constant (which = the value), 2 = buffer of input
    ``which``, 3 = inverter of input ``which``."""
    t = _u(tables)
    mask = table_mask(k)
    kind = np.zeros(t.shape, dtype=np.int8)
    which = np.zeros(t.shape, dtype=np.int64)
    is0, is1 = t == 0, t == mask
    kind[is0 | is1] = 1
    which[is1] = 1
    for j in range(k):
        ident = _SELECT_ZERO[j] & mask
        buf = t == (~ident & mask)
        inv = t == ident
        sel = (kind == 0) & buf
        kind[sel], which[sel] = 2, j
        sel = (kind == 0) & inv
        kind[sel], which[sel] = 3, j
    return kind, which
