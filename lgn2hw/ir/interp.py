"""Reference interpreter: bit-parallel evaluation of a netlist, 64 samples per machine word.

Two engines compute the same thing. The C kernel (``_kernel.c``, compiled once with the system C compiler and
cached) walks the nodes in order and spends a few bitwise instructions per node per 64 samples. The numpy
engine, used when no compiler is available or ``LGN2HW_INTERP=numpy``, groups nodes by logic level and evaluates
each level with a few whole-array operations. The interpreter is the golden model that RTL and synthesis
results are compared with, and the engine behind ``lgn2hw predict``.
"""
from __future__ import annotations

import ctypes
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .. import _native
from ..errors import UsageError
from .analysis import net_levels
from .netlist import FIRST_INPUT_NET, NET_TRUE, Netlist

ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
_VALUE_BUDGET = 256 << 20   # bytes of net values held at once; sets how many samples go per chunk
_CACHE_BUDGET = 4 << 20     # the C engine's chunk: about what stays in a core's L2/L3 share


def check_bits(nl: Netlist, bits) -> np.ndarray:
    """Validate an (N, n_inputs) array of 0/1 values (any integer or bool dtype) and return it as uint8."""
    arr = np.asarray(bits)
    if arr.ndim != 2 or arr.shape[1] != nl.n_inputs:
        raise UsageError(f"inputs must have shape (N, {nl.n_inputs}), not {tuple(arr.shape)}",
                         hint="one row per sample, flattened in PyTorch's C order; use --raw for raw features")
    if not (arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer)):
        raise UsageError(f"inputs must be an integer or bool array of 0/1, not {arr.dtype}",
                         hint="use --raw to apply the model's input encoding to raw features")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise UsageError(f"inputs must be 0 or 1, found {int(arr.min()) if arr.min() < 0 else int(arr.max())}",
                         hint="use --raw to apply the model's input encoding to raw features")
    return arr.astype(np.uint8, copy=False)


def _pack(bits: np.ndarray, words: int) -> np.ndarray:
    """(n, inputs) 0/1 -> (inputs, words) uint64, sample s in bit s%64 of word s//64."""
    n = bits.shape[0]
    padded = np.zeros((words * 64, bits.shape[1]), dtype=np.uint8)
    padded[:n] = bits
    packed = np.packbits(padded, axis=0, bitorder="little")      # (words*8, inputs) bytes
    return np.ascontiguousarray(packed.T).view("<u8")


def _schedule(nl: Netlist):
    """Evaluation groups: (arity, node indices, per-node constant minterm words) per level and arity."""
    lev = net_levels(nl)[nl.first_node_net:]
    order = np.lexsort((nl.arity, lev))
    groups = []
    if not order.size:
        return groups
    key = lev[order].astype(np.int64) * 8 + nl.arity[order]
    cuts = np.flatnonzero(np.diff(key)) + 1
    for idx in np.split(order, cuts):
        k = int(nl.arity[idx[0]])
        minterms = np.stack([np.where((nl.tables[idx] >> np.uint64(m)) & np.uint64(1), ALL_ONES, np.uint64(0))
                             for m in range(1 << k)], axis=0)[:, :, None]   # (2**k, nodes, 1)
        groups.append((k, idx, minterms))
    return groups


def _eval_group(vals, nl, k, idx, minterms):
    """Shannon expansion from the highest input down: v_m <- v_m ^ (x_j & (v_m ^ v_{m + 2**j}))."""
    v = list(minterms)
    for j in range(k - 1, -1, -1):
        x = vals[nl.fanin[idx, j]]
        half = 1 << j
        v = [v[m] ^ (x & (v[m] ^ v[m + half])) for m in range(half)]
    out = v[0]
    if out.shape[1] != vals.shape[1]:
        out = np.broadcast_to(out, (len(idx), vals.shape[1]))
    vals[nl.first_node_net + idx] = out


_KERNEL_SOURCE = Path(__file__).with_name("_kernel.c")
_kernel_cache: dict = {}


def native_kernel():
    """The compiled C kernel as a ctypes function, or None (no compiler, or ``LGN2HW_INTERP=numpy``)."""
    if os.environ.get("LGN2HW_INTERP", "").lower() == "numpy":
        return None
    if "fn" in _kernel_cache:
        return _kernel_cache["fn"]
    fn = None
    # lgn_pack writes the bytes of little-endian words; a big-endian host takes the numpy engine
    handle = _native.load(_KERNEL_SOURCE) if sys.byteorder == "little" else None
    if handle is not None:
        fn = handle.lgn_eval
        fn.restype = None
        fn.argtypes = [ctypes.c_int64] * 4 + [ctypes.c_void_p] * 4
        fn.count = handle.lgn_count
        fn.count.restype = None
        fn.count.argtypes = [ctypes.c_int64] * 4 + [ctypes.c_void_p] * 6
        fn.pack = handle.lgn_pack
        fn.pack.restype = None
        fn.pack.argtypes = [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 2
    _kernel_cache["fn"] = fn
    return fn


def _evaluate_words(nl: Netlist, bits: np.ndarray, consume):
    """Evaluate chunk by chunk; ``consume(start, stop, out_words)`` gets (n_out, words) output values."""
    n = bits.shape[0]
    kernel = native_kernel()
    if kernel is not None:
        _evaluate_words_native(kernel, nl, bits, consume)
        return
    words_per_chunk = max(1, min(32, _VALUE_BUDGET // (8 * max(nl.n_nets, 1))))
    groups = _schedule(nl)
    for start in range(0, n, words_per_chunk * 64):
        stop = min(n, start + words_per_chunk * 64)
        words = (stop - start + 63) // 64
        vals = np.empty((nl.n_nets, words), dtype=np.uint64)
        vals[0] = 0
        vals[NET_TRUE] = ALL_ONES
        vals[FIRST_INPUT_NET:nl.first_node_net] = _pack(bits[start:stop], words)
        for k, idx, minterms in groups:
            _eval_group(vals, nl, k, idx, minterms)
        out = vals[nl.out_nets]
        out ^= np.where(nl.out_invert, ALL_ONES, np.uint64(0))[:, None]
        consume(start, stop, out)


def _evaluate_words_native(kernel, nl: Netlist, bits: np.ndarray, consume, counts=None):
    """The C engine. Chunks of up to 4096 samples run on a small thread pool (ctypes releases the GIL)."""
    n = bits.shape[0]
    # Chunks small enough that the net values stay in cache (1,024-4,096 samples on 25K-gate models ran 1.3-1.4x
    # faster with 16 words than with 64 here), never more than the value budget.
    budget = min(_VALUE_BUDGET, _CACHE_BUDGET)
    words_per_chunk = max(1, min(64, budget // (8 * max(nl.n_nets, 1))))
    arity = np.ascontiguousarray(nl.arity, dtype=np.uint8)
    fanin = np.ascontiguousarray(nl.fanin, dtype=np.int32)
    tables = np.ascontiguousarray(nl.tables, dtype=np.uint64)
    # GroupSum: the output bits grouped by class, and counters wide enough for the largest class.
    by_class = np.argsort(nl.out_class, kind="stable")
    out_nets = np.ascontiguousarray(nl.out_nets[by_class], dtype=np.int32)
    invert = np.ascontiguousarray(nl.out_invert[by_class], dtype=np.uint8)
    sizes = np.bincount(nl.out_class, minlength=nl.n_classes)
    class_start = np.ascontiguousarray(np.concatenate([[0], np.cumsum(sizes)]), dtype=np.int64)
    width = max(1, int(sizes.max(initial=0)).bit_length())
    bits = np.ascontiguousarray(bits, dtype=np.uint8)
    local = threading.local()

    def run(start):
        stop = min(n, start + words_per_chunk * 64)
        words = (stop - start + 63) // 64
        if getattr(local, "words", None) != words:
            local.vals = np.empty((nl.n_nets, words), dtype=np.uint64)
            local.planes = np.zeros(words * (width + 1), dtype=np.uint64)
            local.words = words
        vals = local.vals
        vals[0] = 0
        vals[NET_TRUE] = ALL_ONES
        kernel.pack(stop - start, nl.n_inputs, words, bits[start:stop].ctypes.data,
                    vals[FIRST_INPUT_NET:].ctypes.data)
        kernel(nl.n_nodes, words, nl.kmax, nl.first_node_net, arity.ctypes.data, fanin.ctypes.data,
               tables.ctypes.data, vals.ctypes.data)
        if counts is not None:
            part = np.zeros((stop - start, nl.n_classes), dtype=np.int64)
            kernel.count(nl.n_classes, words, stop - start, width, class_start.ctypes.data, out_nets.ctypes.data,
                         invert.ctypes.data, vals.ctypes.data, local.planes.ctypes.data, part.ctypes.data)
            counts[start:stop] += part
        else:
            out = vals[nl.out_nets]
            out ^= np.where(nl.out_invert, ALL_ONES, np.uint64(0))[:, None]
            consume(start, stop, out)

    starts = range(0, n, words_per_chunk * 64)
    workers = min(len(starts), _threads())
    if workers <= 1:
        for start in starts:
            run(start)
        return
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(run, starts):
            pass


def _threads() -> int:
    env = os.environ.get("LGN2HW_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(8, _native.cores()))


def _unpack(words: np.ndarray, count: int) -> np.ndarray:
    """(rows, words) uint64 -> (rows, count) uint8 bits."""
    as_bytes = np.ascontiguousarray(words).view(np.uint8).reshape(words.shape[0], -1)
    return np.unpackbits(as_bytes, axis=1, bitorder="little", count=count)


def evaluate_outputs(nl: Netlist, bits) -> np.ndarray:
    """(N, n_out) uint8: each output bit as GroupSum counts it (after its inversion flag)."""
    bits = check_bits(nl, bits)
    result = np.zeros((bits.shape[0], len(nl.out_nets)), dtype=np.uint8)

    def consume(start, stop, out):
        result[start:stop] = _unpack(out, stop - start).T
    _evaluate_words(nl, bits, consume)
    return result


def _count_columns(rows: np.ndarray) -> list:
    """Bit-sliced popcount: (groups, rows, words) 0/1 planes -> list of P (groups, words) planes, the binary
    digits (least significant first) of how many rows have each bit set. Rows are added pairwise with a
    vectorised ripple-carry adder, log2(rows) rounds of whole-array operations."""
    planes = [rows]
    while planes[0].shape[1] > 1:
        if planes[0].shape[1] % 2:
            planes = [np.concatenate([p, np.zeros_like(p[:, :1])], axis=1) for p in planes]
        carry = None
        summed = []
        for p in planes:
            x, y = p[:, 0::2], p[:, 1::2]
            t = x ^ y
            if carry is None:
                summed.append(t)
                carry = x & y
            else:
                summed.append(t ^ carry)
                carry = (x & y) | (carry & t)
        summed.append(carry)
        planes = summed
    return [p[:, 0] for p in planes]


def evaluate(nl: Netlist, bits) -> np.ndarray:
    """(N, n_classes) int64 class counts (GroupSum sums before dividing by tau)."""
    bits = check_bits(nl, bits)
    counts = np.zeros((bits.shape[0], nl.n_classes), dtype=np.int64)
    counts += nl.class_offset
    if not len(nl.out_nets):
        return counts
    # Lay the output bits out as (class, slot): class c's bits in slots 0..size_c-1, the rest stay zero.
    order = np.argsort(nl.out_class, kind="stable")
    cls = nl.out_class[order]
    sizes = np.bincount(cls, minlength=nl.n_classes)
    slot = np.arange(len(order)) - np.concatenate([[0], np.cumsum(sizes)[:-1]])[cls]

    kernel = native_kernel()
    if kernel is not None:
        _evaluate_words_native(kernel, nl, bits, None, counts)
        return counts

    def consume(start, stop, out):
        grid = np.zeros((nl.n_classes, int(sizes.max()), out.shape[1]), dtype=np.uint64)
        grid[cls, slot] = out[order]
        for p, plane in enumerate(_count_columns(grid)):
            counts[start:stop] += _unpack(plane, stop - start).T.astype(np.int64) << p
    _evaluate_words(nl, bits, consume)
    return counts
