"""Helpers test modules share: random netlists (layered networks of mixed-arity LUTs with the features passes
create: constants, inverted and offset outputs, inputs read from several layers back), the naive count they are
checked against, the committed example model, and a clocked stream through an Amaranth block."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lgn2hw import gates
from lgn2hw.ir import InputEncoding, Netlist

#: The trained example (committed): tests that read it fail, never skip, when it is missing.
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits_lgn.pt"


def random_layered(rng: np.random.Generator, *, n_inputs=None, layers=None, width=None, classes=None,
                   max_arity=2, skip=False, fold_outputs=False, encoding=False) -> Netlist:
    """A random layered netlist. With ``skip`` nodes may read any earlier net (constants, inputs, older layers);
    with ``fold_outputs`` output bits get random inversion flags, class offsets and a shuffled class map."""
    n_inputs = n_inputs or int(rng.integers(1, 24))
    n_layers = layers or int(rng.integers(1, 5))
    classes = classes or int(rng.integers(1, 6))
    tables, fanin, lay, idx = [], [], [], []
    first = 2 + n_inputs
    prev = np.arange(2, first)
    for li in range(1, n_layers + 1):
        w = width or int(rng.integers(1, 12))
        if li == n_layers:
            w = max(classes, (w // classes) * classes)
        base = first + len(tables)
        for i in range(w):
            k = int(rng.integers(0, max_arity + 1)) if max_arity > 2 else int(rng.choice([1, 2, 2, 2, 0]))
            if k == 2 and max_arity == 2:
                t = int(gates.tables_from_gate_ids([int(rng.integers(0, 16))])[0])
            else:
                t = int(rng.integers(0, 1 << min(1 << k, 63))) if k < 6 else int(rng.integers(0, 2**63))
            pool = np.arange(0, base) if skip else prev
            ins = rng.choice(pool, size=k) if k else np.zeros(0, int)
            tables.append(t)
            fanin.append(list(ins))
            lay.append(li)
            idx.append(i)
        prev = np.arange(base, base + w)
    kmax = max([len(f) for f in fanin] + [0])
    fan = np.zeros((len(tables), kmax), dtype=np.int32)
    for i, f in enumerate(fanin):
        fan[i, :len(f)] = f
    n_out = len(prev)
    out_class = (np.arange(n_out) // (n_out // classes)).astype(np.int32)
    out_nets = prev.astype(np.int32)
    out_invert = np.zeros(n_out, dtype=bool)
    offset = np.zeros(classes, dtype=np.int64)
    if fold_outputs:
        out_invert = rng.integers(0, 2, n_out).astype(bool)
        offset = rng.integers(-3, 4, classes).astype(np.int64)
        out_class = rng.integers(0, classes, n_out).astype(np.int32)
        extra = rng.integers(0, first + len(tables), size=int(rng.integers(0, 4))).astype(np.int32)
        out_nets = np.concatenate([out_nets, extra])
        out_class = np.concatenate([out_class, rng.integers(0, classes, len(extra)).astype(np.int32)])
        out_invert = np.concatenate([out_invert, rng.integers(0, 2, len(extra)).astype(bool)])
    enc = None
    if encoding:
        nf = int(rng.integers(1, 6))
        enc = InputEncoding(rng.integers(0, nf, n_inputs).astype(np.int32),
                            np.round(rng.normal(size=n_inputs), 3), (nf,))
    nl = Netlist(n_inputs=n_inputs, tables=np.array(tables, dtype=np.uint64),
                 arity=np.array([len(f) for f in fanin], dtype=np.uint8), fanin=fan,
                 layer=np.array(lay, dtype=np.int32), index=np.array(idx, dtype=np.int32),
                 out_nets=out_nets, out_class=out_class, out_invert=out_invert, class_offset=offset,
                 tau=float(rng.choice([1.0, 10.0, 0.5])), encoding=enc,
                 input_shape=(n_inputs,) if rng.integers(0, 2) else None)
    nl.check()
    return nl


def naive_counts(nl: Netlist, bits: np.ndarray) -> np.ndarray:
    """Sample-by-sample, node-by-node evaluation written independently of the bit-parallel interpreter."""
    counts = np.zeros((len(bits), nl.n_classes), dtype=np.int64)
    for s, row in enumerate(np.asarray(bits)):
        val = [0, 1] + [int(v) for v in row]
        for i in range(nl.n_nodes):
            m = 0
            for j in range(int(nl.arity[i])):
                m |= val[int(nl.fanin[i, j])] << j
            val.append((int(nl.tables[i]) >> m) & 1)
        counts[s] = nl.class_offset
        for net, c, inv in zip(nl.out_nets, nl.out_class, nl.out_invert):
            counts[s, c] += val[int(net)] ^ int(inv)
    return counts


def stream(dut, inputs, port, outputs, cycles_after):
    """Drive ``port`` of the Amaranth block ``dut`` with one input per clock and record ``outputs`` after every
    clock edge (``len(inputs) + cycles_after`` edges)."""
    from amaranth.sim import Simulator
    seen = []

    async def bench(ctx):
        for t in range(len(inputs) + cycles_after):
            if t < len(inputs):
                ctx.set(port, inputs[t])
            await ctx.tick()
            seen.append(tuple(ctx.get(o) for o in outputs))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen
