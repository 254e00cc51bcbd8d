"""Text form of a netlist: one line per fact, parsed back to an equal netlist.

::

    lgn2hw-netlist 1
    inputs 64
    input_shape 4 4 4
    classes 10
    tau 10.0
    encoding 8 8                  raw feature shape; then one 'enc FEATURE THRESHOLD' line per input bit
    enc 0 0.5
    n66 lut2 0x8 2 3 @1[0]        node net, arity, table (LUT convention), input nets, origin
    out 66 0                      output net and class; a trailing '~' counts it inverted
    offset 3 -2                   class offset (only non-zero ones)
    meta {"dataset": "digits"}
"""
from __future__ import annotations

import json

import numpy as np

from ..errors import NetlistError
from .netlist import InputEncoding, Netlist

MAGIC = "lgn2hw-netlist"
VERSION = 1


def dump(nl: Netlist) -> str:
    lines = [f"{MAGIC} {VERSION}", f"inputs {nl.n_inputs}"]
    if nl.input_shape is not None:
        lines.append("input_shape " + " ".join(str(int(d)) for d in nl.input_shape))
    lines += [f"classes {nl.n_classes}", f"tau {float(nl.tau)!r}"]
    if nl.encoding is not None:
        lines.append("encoding " + " ".join(str(int(d)) for d in nl.encoding.feature_shape))
        lines += [f"enc {int(f)} {float(t)!r}" for f, t in zip(nl.encoding.feature, nl.encoding.threshold)]
    first = nl.first_node_net
    for i in range(nl.n_nodes):
        k = int(nl.arity[i])
        ins = " ".join(str(int(x)) for x in nl.fanin[i, :k])
        lines.append(f"n{first + i} lut{k} 0x{int(nl.tables[i]):x}{' ' + ins if k else ''} "
                     f"@{int(nl.layer[i])}[{int(nl.index[i])}]")
    for net, c, inv in zip(nl.out_nets, nl.out_class, nl.out_invert):
        lines.append(f"out {int(net)} {int(c)}{' ~' if inv else ''}")
    for c, off in enumerate(nl.class_offset):
        if off:
            lines.append(f"offset {c} {int(off)}")
    if nl.meta:
        lines.append("meta " + json.dumps(nl.meta, sort_keys=True))
    return "\n".join(lines) + "\n"


def parse(text: str, *, source: str = "<netlist>") -> Netlist:
    """Parse :func:`dump` output; errors are located as ``SOURCE: line N``."""
    lines = text.splitlines()
    header = {}
    enc_shape = None
    enc_f, enc_t = [], []
    tables, arity, fanins, layer, index = [], [], [], [], []
    outs, out_cls, out_inv = [], [], []
    offsets = {}
    meta = {}
    lineno = 0

    def fail(msg, hint=None):
        raise NetlistError(msg, location=f"{source}: line {lineno}", hint=hint)

    try:
        for lineno, line in enumerate(lines, start=1):
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            key = w[0]
            if lineno == 1 or not header:
                if key != MAGIC:
                    fail(f"the first line must be '{MAGIC} {VERSION}', not {line[:40]!r}")
                if len(w) != 2 or w[1] != str(VERSION):
                    fail(f"netlist text version must be {VERSION}, not {' '.join(w[1:])!r}",
                         hint="this file was written by another lgn2hw version")
                header["magic"] = True
            elif key == "inputs":
                header["inputs"] = int(w[1])
            elif key == "input_shape":
                header["input_shape"] = tuple(int(x) for x in w[1:])
            elif key == "classes":
                header["classes"] = int(w[1])
            elif key == "tau":
                header["tau"] = float(w[1])
            elif key == "encoding":
                enc_shape = tuple(int(x) for x in w[1:])
            elif key == "enc":
                enc_f.append(int(w[1]))
                enc_t.append(float(w[2]))
            elif key.startswith("n") and key[1:].isdigit():
                k = int(w[1][3:]) if w[1].startswith("lut") else fail(f"node arity must be 'lutK', not {w[1]!r}")
                if not 0 <= k <= 6:
                    fail(f"node arity must be 0..6, not {k}")
                if len(w) != 4 + k:
                    fail(f"a lut{k} node line has {4 + k} fields, not {len(w)}")
                expected = 2 + header.get("inputs", 0) + len(tables)
                if int(key[1:]) != expected:
                    fail(f"node net must be n{expected} (nodes are numbered in order), not {key}")
                tables.append(int(w[2], 16))
                arity.append(k)
                fanins.append([int(x) for x in w[3:3 + k]])
                org = w[3 + k]
                if not (org.startswith("@") and org.endswith("]") and "[" in org):
                    fail(f"node origin must look like @LAYER[INDEX], not {org!r}")
                lay, idx = org[1:-1].split("[")
                layer.append(int(lay))
                index.append(int(idx))
            elif key == "out":
                if len(w) not in (3, 4) or (len(w) == 4 and w[3] != "~"):
                    fail("an out line is 'out NET CLASS [~]'")
                outs.append(int(w[1]))
                out_cls.append(int(w[2]))
                out_inv.append(len(w) == 4)
            elif key == "offset":
                offsets[int(w[1])] = int(w[2])
            elif key == "meta":
                meta = json.loads(line[len("meta"):])
            else:
                fail(f"unknown line kind {key!r}")
    except (ValueError, IndexError, json.JSONDecodeError) as err:
        fail(f"malformed line {lines[lineno - 1][:60]!r} ({err})")
    lineno = len(lines)
    for req in ("magic", "inputs", "classes"):
        if req not in header:
            fail(f"the netlist text has no '{req if req != 'magic' else MAGIC}' line")
    n_in, k_cls = header["inputs"], header["classes"]
    if k_cls < 1:
        fail(f"classes must be >= 1, not {k_cls}")
    offs = np.zeros(k_cls, dtype=np.int64)
    for c, v in offsets.items():
        if not 0 <= c < k_cls:
            fail(f"offset class must be in 0..{k_cls - 1}, not {c}")
        offs[c] = v
    kmax = max(arity, default=0)
    fan = np.zeros((len(tables), kmax), dtype=np.int32)
    for i, f in enumerate(fanins):
        fan[i, :len(f)] = f
    encoding = None
    if enc_shape is not None or enc_f:
        if enc_shape is None:
            fail("'enc' lines need an 'encoding SHAPE' line")
        encoding = InputEncoding(np.array(enc_f, dtype=np.int32), np.array(enc_t, dtype=np.float64), enc_shape)
    if any(t >= 1 << 64 for t in tables):
        fail("a truth table is wider than 64 bits")
    nl = Netlist(
        n_inputs=n_in, tables=np.array(tables, dtype=np.uint64), arity=np.array(arity, dtype=np.uint8),
        fanin=fan, layer=np.array(layer, dtype=np.int32), index=np.array(index, dtype=np.int32),
        out_nets=np.array(outs, dtype=np.int32), out_class=np.array(out_cls, dtype=np.int32),
        out_invert=np.array(out_inv, dtype=bool), class_offset=offs, tau=header.get("tau", 1.0),
        input_shape=header.get("input_shape"), encoding=encoding, meta=meta)
    try:
        nl.check()
    except NetlistError as err:
        raise err.at(source) from None
    return nl
