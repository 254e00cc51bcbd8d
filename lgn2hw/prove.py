"""Formal equivalence of a compiled design with its checkpoint: proved for all 2^n inputs, not sampled.

The reference is the netlist read from the checkpoint, before any pass: :func:`reference_blif` writes it as a
gate-level BLIF (one ``.names`` per gate, straight from its truth table; a plain carry-save popcount per class with
the class offset; a linear argmax, the lowest class winning ties), with the port names of the core. Three designs
are compared with it:

=========== =======================================================================================================
``ir``      the netlist after the passes, written by the same writer
``rtl``     the emitted Verilog (``OUT/*.v``), read by yosys
``netlist`` yosys' mapped netlist after synthesis (``OUT/build/<top>.syn.v``): LUT4 / CCU2C / TRELLIS_FF or
            SB_LUT4 / SB_CARRY / SB_DFF cells with yosys' own models of the combinational cells
=========== =======================================================================================================

The pipeline is balanced (every path from an input bit to a count crosses the same number of registers), so the
registers are removed: a flip-flop cell is a buffer ``Q = D`` and a ``.latch`` in yosys' BLIF becomes one too.
The ECP5 block RAMs of the popcount (``DP16KD`` counting tables) are the ROMs they are: their ``INITVAL``
parameters decoded into one table per output bit, written as a multiplexer tree over the address bits in which
equal sub-tables are shared. What is compared: every bit of ``out_counts`` (each class count, offset included)
and of ``out_class`` (the argmax).

The engine is ABC's SAT-sweeping combinational equivalence checker (``miter`` then ``&cec -m``), run inside
yosys: YoWASP's yosys links ABC but ships no ``yosys-abc`` program, and its ``abc`` pass does not run scripts of
one's own, while ``abc9_exe -cwd DIR -script +CMDS`` runs any ABC commands in ``DIR``. ABC's output is not
captured there, so the result is read back from ``write_status`` and ``write_cex -n`` files
(docs/toolchain-notes.md). A disproved design gives a counterexample input vector, which :func:`replay` runs
through the interpreter (both netlists) and through simulation of the emitted Verilog or the mapped netlist.
"""
from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ToolchainError, UsageError

#: The comparisons, in the order they run.
COMPARISONS = ("ir", "rtl", "netlist")
WHAT = {"ir": "the netlist after passes", "rtl": "the emitted Verilog", "netlist": "the mapped netlist"}
ENGINE = "abc &cec (yosys)"
#: ``compile`` proves by default up to this many gates before passes; larger models need ``prove=True``
#: (``--prove``). Measured on 2 loaded cores: the digits example (3,600 gates) proved in 8-15 s, the 16,000-gate
#: MNIST network (5,878 live) not within 16 minutes.
PROVE_DEFAULT_MAX_GATES = 4_000


@dataclass
class Proof:
    """One comparison's result: ``status`` is ``"equal"`` or ``"different"``; ``counterexample`` the input bits
    (or 8-bit features) of a differing input, and ``replay`` what the interpreter and simulation give for it."""
    what: str
    status: str
    engine: str
    seconds: float
    counterexample: list | None = None
    replay: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = {"status": self.status, "engine": self.engine, "seconds": round(self.seconds, 2)}
        if self.counterexample is not None:
            d["counterexample"] = "".join(str(int(b)) for b in self.counterexample)
            d["replay"] = self.replay
        return d

    def line(self) -> str:
        if self.status == "equal":
            return f"proved equal ({self.engine}, {self.seconds:.1f} s)"
        return f"DIFFERENT ({self.engine}, {self.seconds:.1f} s): counterexample found"


# --- the reference as BLIF -------------------------------------------------------------------------------------
class _Blif:
    """A small BLIF writer: nets are names, every gate a ``.names`` cover."""

    def __init__(self, stem: str = "w"):
        self.lines: list = []
        self.n = 0
        self.stem = stem

    def fresh(self, stem=None) -> str:
        self.n += 1
        return f"{stem or self.stem}{self.n}"

    def cover(self, ins, out, rows) -> str:
        uniq = list(dict.fromkeys(ins))
        if len(uniq) < len(ins):      # one net on two inputs (a constant twice): BLIF covers may not
            def hit(m, row):
                return all(r == "-" or int(r) == (m >> uniq.index(x)) & 1 for x, r in zip(ins, row))
            rows = ["".join(str((m >> j) & 1) for j in range(len(uniq)))
                    for m in range(1 << len(uniq)) if any(hit(m, r) for r in rows)]
            ins = uniq
        if not rows:                  # ABC refuses an empty cover with inputs: a constant 0 has none
            ins = ()
        self.lines.append(".names " + " ".join([*ins, out]))
        self.lines += [f"{r} 1" if ins else "1" for r in rows]
        return out

    def const(self, v: int) -> str:
        return "$true" if v else "$false"

    def xor3(self, a, b, c):
        return self.cover((a, b, c), self.fresh(), ("100", "010", "001", "111"))

    def maj(self, a, b, c):
        return self.cover((a, b, c), self.fresh(), ("11-", "1-1", "-11"))

    def xor2(self, a, b):
        return self.cover((a, b), self.fresh(), ("10", "01"))

    def and2(self, a, b):
        return self.cover((a, b), self.fresh(), ("11",))

    def mux(self, s, a, b):
        """s ? b : a"""
        return self.cover((s, a, b), self.fresh(), ("01-", "1-1"))


def _popcount(w: _Blif, bits, offset: int, width: int) -> list:
    """``offset + sum(bits)`` modulo 2**width, by carry-save reduction of columns (full adders on three bits of
    a column, the carry into the next), then one bit per column."""
    cols = [[] for _ in range(width)]
    cols[0] = list(bits)
    off = offset % (1 << width)
    for j in range(width):
        if (off >> j) & 1:
            cols[j].append(w.const(1))
    out = []
    for j in range(width):
        col = cols[j]
        while len(col) > 1:
            if len(col) >= 3:
                a, b, c = col.pop(0), col.pop(0), col.pop(0)
                s, carry = w.xor3(a, b, c), w.maj(a, b, c)
            else:
                a, b = col.pop(0), col.pop(0)
                s, carry = w.xor2(a, b), w.and2(a, b)
            col.append(s)
            if j + 1 < width:
                cols[j + 1].append(carry)
        out.append(col[0] if col else w.const(0))
    return out


def _greater(w: _Blif, a, b, signed: bool) -> str:
    """a > b for two equal-width two's complement (``signed``) or unsigned words, least significant bit first."""
    gt = w.const(0)
    for i in range(len(a)):
        top = signed and i == len(a) - 1
        rows = ("01-", "111", "001") if top else ("10-", "111", "001")   # sign bit: 0 > 1
        gt = w.cover((a[i], b[i], gt), w.fresh(), rows)
    return gt


def reference_blif(nl, ports: dict, count_width: int, count_signed: bool, name: str = "reference") -> str:
    """``nl`` (a :class:`~lgn2hw.ir.Netlist`) as a combinational BLIF model with the core's ports: ``in_bits[i]``
    (or ``in_features[8f+b]`` when ``ports`` has ``in_features``), ``out_counts[c*count_width+j]`` (when the
    core has that port) and ``out_class[j]``."""
    from .ir.netlist import FIRST_INPUT_NET
    w = _Blif()
    k = nl.n_classes
    n_in = nl.n_inputs
    features = "in_features" in ports
    inputs = []
    net = {0: w.const(0), 1: w.const(1)}
    if features:
        enc = nl.encoding
        inputs = [f"in_features[{i}]" for i in range(8 * enc.n_features)]
        for i in range(n_in):
            f = int(enc.feature[i])
            t = int(np.floor(enc.threshold[i]))
            bits = [f"in_features[{8 * f + b}]" for b in range(8)]
            out = f"x{i}"
            if t < 0:
                w.cover((), out, ("",))
            elif t >= 255:
                w.cover((), out, ())
            else:   # v > t: some bit set where t has 0, all bits above it equal to t's
                rows = []
                for j in range(8):
                    if not (t >> j) & 1:
                        rows.append("".join("-" if b < j else "1" if b == j else str((t >> b) & 1)
                                            for b in range(8)))
                w.cover(bits, out, rows)
            net[FIRST_INPUT_NET + i] = out
    else:
        inputs = [f"in_bits[{i}]" for i in range(n_in)]
        for i in range(n_in):
            net[FIRST_INPUT_NET + i] = inputs[i]
    base = FIRST_INPUT_NET + n_in
    for i in range(nl.n_nodes):
        k_i = int(nl.arity[i])
        ins = [net[int(x)] for x in nl.fanin[i, :k_i]]
        table = int(nl.tables[i])
        uniq = list(dict.fromkeys(ins))       # a gate may read one net twice; BLIF covers may not
        rows = []
        for m in range(1 << len(uniq)):
            full = sum(((m >> uniq.index(x)) & 1) << j for j, x in enumerate(ins))
            if (table >> full) & 1:
                rows.append("".join(str((m >> j) & 1) for j in range(len(uniq))))
        net[base + i] = w.cover(uniq, f"n{base + i}", rows)
    counts = []
    for c in range(k):
        bits = []
        for j in np.flatnonzero(nl.out_class == c):
            src = net[int(nl.out_nets[j])]
            bits.append(w.cover((src,), w.fresh("b"), ("0",) if nl.out_invert[j] else ("1",)))
        counts.append(_popcount(w, bits, int(nl.class_offset[c]), count_width))
    class_width = int(ports.get("out_class", 0))
    best, idx = counts[0], [w.const(0)] * class_width
    for c in range(1, k):
        take = _greater(w, counts[c], best, count_signed)
        best = [w.mux(take, a, b) for a, b in zip(best, counts[c])]
        idx = [w.mux(take, a, w.const((c >> j) & 1)) for j, a in enumerate(idx)]
    outputs = []
    body = []
    for j in range(class_width):
        o = f"out_class[{j}]"
        outputs.append(o)
        body.append(f".names {idx[j]} {o}\n1 1")
    if "out_counts" in ports:
        for c in range(k):
            for j in range(count_width):
                o = f"out_counts[{c * count_width + j}]"
                outputs.append(o)
                body.append(f".names {counts[c][j]} {o}\n1 1")
    head = [f".model {name}", ".inputs " + " ".join(inputs) if inputs else "", ".outputs " + " ".join(outputs),
            ".names $false", ".names $true", "1"]
    return "\n".join([h for h in head if h] + w.lines + body + [".end", ""])


# --- yosys: a design as a combinational BLIF ---------------------------------------------------------------------
# Flip-flop cells as buffers, Q = D, except where synthesis used the set/reset input to load a constant (yosys turns
# ``q <= c ? 1 : 0`` into a flip-flop with a synchronous set or reset): that input still decides Q. An input left
# open reads as 0 (yosys' BLIF ties undriven nets to ``$undef``, a constant 0).
_BUFFER_FFS = {
    "ecp5": "module TRELLIS_FF(input CLK, LSR, CE, DI, M, output Q);\n"
            "  parameter GSR = \"ENABLED\"; parameter CEMUX = \"1\"; parameter CLKMUX = \"CLK\";\n"
            "  parameter LSRMUX = \"LSR\"; parameter SRMODE = \"LSR_OVER_CE\"; parameter REGSET = \"RESET\";\n"
            "  parameter REGMODE = \"FF\";\n"
            "  wire lsr = (LSRMUX == \"INV\") ? ~LSR : (LSRMUX == \"0\") ? 1'b0 : (LSRMUX == \"1\") ? 1'b1 : LSR;\n"
            "  assign Q = lsr ? (REGSET == \"SET\") : DI;\nendmodule\n",
    "ice40": "".join(f"module {n}(input C, D, E, R, S, output Q);\n  assign Q = R ? 1'b0 : S ? 1'b1 : D;\nendmodule\n"
                     for n in ("SB_DFF", "SB_DFFE", "SB_DFFSR", "SB_DFFR", "SB_DFFSS", "SB_DFFS", "SB_DFFESR",
                               "SB_DFFER", "SB_DFFESS", "SB_DFFES", "SB_DFFN", "SB_DFFNE", "SB_DFFNSR", "SB_DFFNR",
                               "SB_DFFNSS", "SB_DFFNS", "SB_DFFNESR", "SB_DFFNER", "SB_DFFNESS", "SB_DFFNES")),
}
# yosys' own models of the combinational cells: (file under share/<family>/, module names)
_COMB_CELLS = {
    "ecp5": (("common_sim.vh", ("LUT4", "LUT2", "PFUMX", "L6MUX21")), ("ccu2c_sim.vh", ("CCU2C",))),
    "ice40": (("cells_sim.v", ("SB_LUT4", "SB_CARRY")),),
}
#: the families whose mapped netlists the proof models (compile proves others only when asked, and refuses)
PROVE_FAMILIES = tuple(_COMB_CELLS)


def cell_models(share: Path, family: str) -> str:
    """Verilog models for reading a core or a mapped netlist as one combinational function: yosys' models of the
    family's combinational cells, every flip-flop cell a buffer, the block RAM a black box."""
    parts = ["`define ICE40_DEFAULT_ASSIGNMENT_0\n`define ICE40_DEFAULT_ASSIGNMENT_1\n"]
    for fname, names in _COMB_CELLS[family]:
        text = (share / family / fname).read_text()
        for name in names:
            m = re.search(rf"^(\(\*[^\n]*\*\)\s*)?module {name}\b.*?^endmodule\b", text, flags=re.S | re.M)
            if m is None:
                raise ToolchainError(f"yosys' {family}/{fname} has no model of {name}",
                                     hint="a yosys version this lgn2hw does not know")
            parts.append(re.sub(r"\bspecify\b.*?\bendspecify\b", "", m.group(0), flags=re.S) + "\n")
    parts.append(_BUFFER_FFS[family])
    if family == "ecp5":
        from .back._ebr import SIM_MODEL
        ports = re.search(r"module DP16KD \((.*?)\);", SIM_MODEL, flags=re.S).group(1)
        params = "".join(f"  parameter INITVAL_{i:02X} = 320'h0;\n" for i in range(64))
        parts.append(f"(* blackbox *)\nmodule DP16KD ({ports});\n  parameter DATA_WIDTH_A = 18;\n"
                     f"  parameter DATA_WIDTH_B = 18;\n{params}endmodule\n")
    return "".join(parts)


def _rom_tree(w: _Blif, table: list, addr: list, memo: dict) -> str:
    """A multiplexer tree over ``addr`` (least significant first) selecting ``table[a]`` (0/1), equal sub-tables
    shared: the size follows the number of distinct sub-tables, not the 2**len(addr) entries."""
    def node(lo: int, n: int) -> str:
        sub = tuple(table[lo:lo + n])
        key = (n, sub)
        if key in memo:
            return memo[key]
        if all(v == sub[0] for v in sub):
            out = w.const(sub[0])
        else:
            half = n // 2
            level = n.bit_length() - 2          # the address bit that splits this range
            out = w.mux(addr[level], node(lo, half), node(lo + half, half))
        memo[key] = out
        return out
    return node(0, len(table))


def _dp16kd_words(params: dict) -> list:
    """The 4,096 4-bit words of a DP16KD counting table from its ``INITVAL_xx`` parameters (binary strings from
    yosys' BLIF), in the layout of :mod:`lgn2hw.back._ebr`: word ``a`` bit ``j`` at bit
    ``(a // 4) * 20 + (a % 4 >= 2) * 9 + (a % 2) * 4 + j`` of the concatenation ``INITVAL_3F .. INITVAL_00``."""
    init = 0
    for i in range(64):
        v = params.get(f"INITVAL_{i:02X}", "0")
        init |= int(v, 2) << (320 * i)
    words = []
    for a in range(4096):
        base = (a // 4) * 20 + (9 if a % 4 >= 2 else 0) + (a % 2) * 4
        words.append((init >> base) & 0xF)
    return words


DATA_INPUTS = ("in_bits[", "in_features[")
COMPARED_OUTPUTS = ("out_counts[", "out_class[")


def combinational_blif(text: str) -> str:
    """yosys' BLIF with every ``.latch`` a buffer and every DP16KD counting table as a ROM (see the module
    docstring)."""
    out, w = [], _Blif("lgn2hw_rom")
    lines = text.splitlines()
    i = 0
    memo_by_table: dict = {}
    while i < len(lines):
        line = lines[i]
        if line.startswith(".inputs "):     # the data inputs stay; clk, rst, in_valid become constants
            names = line.split()[1:]
            keep = [n for n in names if n.startswith(DATA_INPUTS)]
            out.append(".inputs " + " ".join(keep))
            for n in names:
                if n not in keep:
                    out += [f".names {n}", "1"] if n == "in_valid" else [f".names {n}"]
            i += 1
            continue
        if line.startswith(".outputs "):    # the compared outputs: out_valid and any others go
            out.append(".outputs " + " ".join(n for n in line.split()[1:] if n.startswith(COMPARED_OUTPUTS)))
            i += 1
            continue
        if line.startswith(".latch "):
            d, q = line.split()[1:3]
            out += [f".names {d} {q}", "1 1"]
            i += 1
            continue
        if line.startswith(".subckt DP16KD "):
            pins = dict(p.split("=", 1) for p in line.split()[2:])
            params = {}
            i += 1
            while i < len(lines) and lines[i].startswith(".param "):
                _, key, value = lines[i].split(None, 2)
                params[key] = value.strip().strip('"')
                i += 1
            for side in "AB":
                width = int(params.get(f"DATA_WIDTH_{side}", "10010"), 2)
                douts = [pins.get(f"DO{side}{j}") for j in range(4)]
                if not any(douts):
                    continue
                if width != 4:
                    raise UsageError(f"a DP16KD port of data width {width}: only the 4-bit counting tables of "
                                     "lgn2hw's popcount can be modelled")
                addr = [pins.get(f"AD{side}{j + 2}", "$false") for j in range(12)]
                words = _dp16kd_words(params)
                key = tuple(words)
                memo = memo_by_table.setdefault((key, tuple(addr)), {})
                for j, o in enumerate(douts):
                    if o is None:
                        continue
                    bit = [(v >> j) & 1 for v in words]
                    src = _rom_tree(w, bit, addr, memo)
                    out += [f".names {src} {o}", "1 1"]
            continue
        if line.startswith(".end") and not line.startswith(".end "):
            out += w.lines
        out.append(line)
        i += 1
    return "\n".join(out) + "\n"


def design_blif(kind: str, bdir: Path, yosys, sources: list, top: str, family: str | None, share: Path | None,
                timeout=None) -> Path:
    """The emitted Verilog (``kind="rtl"``) or the mapped netlist (``"netlist"``) in ``bdir`` as a combinational
    BLIF ``<kind>.blif`` (see :func:`combinational_blif`)."""
    script = []
    if family:
        (bdir / "verify_cells.v").write_text(cell_models(share, family))
        script.append("read_verilog verify_cells.v")
    script += [f"read_verilog {s}" for s in sources]
    script += [f"hierarchy -top {top}", "proc", "flatten", "opt_clean", "techmap", "opt_clean",
               "dffunmap", "setundef -zero -undriven", "opt_clean",
               f"write_blif -param {kind}.yosys.blif"]
    (bdir / f"{kind}.ys").write_text("\n".join(script) + "\n")
    log = bdir / f"verify-{kind}.log"
    log.write_text("")
    yosys.run(["-q", "-l", f"verify-{kind}.yosys.log", f"{kind}.ys"], bdir, log, f"verify {kind}", timeout)
    raw = (bdir / f"{kind}.yosys.blif").read_text()
    blif = bdir / f"{kind}.blif"
    blif.write_text(combinational_blif(_top_only(raw, top)))
    return blif


def _top_only(text: str, top: str) -> str:
    """The top model of yosys' BLIF (black boxes come as further models)."""
    m = re.search(rf"^\.model {re.escape(top)}\n.*?^\.end$", text, flags=re.S | re.M)
    if m is None:
        raise ToolchainError(f"yosys wrote no model {top} to verify")
    return m.group(0) + "\n"


# --- ABC ---------------------------------------------------------------------------------------------------------
def abc_cec(gold: str, gate: str, bdir: Path, yosys, timeout=None) -> tuple:
    """Prove the BLIF files ``gold`` and ``gate`` (in ``bdir``, ports matched by name) equal with ABC's ``&cec``
    on their miter. Returns ``(equal, counterexample {input name: 0/1} or None, seconds)``."""
    bdir = Path(bdir)
    # abc9_exe runs ABC in -cwd on 'input.xaig' with a box library; ours are empty and unused
    (bdir / "input.xaig").write_bytes(b"aig 0 0 0 0 0\n")
    (bdir / "verify.box").write_text("lgn2hw_unused 1 0 1 1\n1\n")
    for f in ("verify.status", "verify.miter.blif"):
        (bdir / f).unlink(missing_ok=True)
    # the miter is written out for the order of its inputs, which the counterexample in the status file follows
    # (write_cex -n, which names them, fails an assertion in this ABC on larger miters)
    cmds = (f"miter,{gold},{gate};write_blif,verify.miter.blif;&get;&cec,-m;write_status,verify.status")
    log = bdir / "verify-abc.log"
    log.write_text("")
    t0 = time.monotonic()
    yosys.run(["-q", "-p", f"abc9_exe -cwd . -box verify.box -script +{cmds}"], bdir, log, "verify", timeout)
    seconds = time.monotonic() - t0
    status = (bdir / "verify.status").read_text().split() if (bdir / "verify.status").is_file() else []
    if status[:1] == ["snl_UNSAT"]:
        return True, None, seconds
    if status[:1] == ["snl_SAT"]:
        names = []
        with open(bdir / "verify.miter.blif") as f:
            for line in f:
                if line.startswith(".inputs"):
                    names = line.split()[1:]
                    while line.rstrip().endswith("\\"):
                        names = names[:-1]
                        line = next(f)
                        names += line.split()
                    break
        bits = [t for t in status if set(t) <= {"0", "1"} and len(t) == len(names)]
        if bits:
            return False, {n: int(b) for n, b in zip(names, bits[-1])}, seconds
    raise ToolchainError(f"verify: ABC gave no result ({' '.join(status) or 'no status file'}) for {gate}",
                         hint=f"see {log}", log=str(log))


# --- the whole check ---------------------------------------------------------------------------------------------
class _Core:
    """What simulation needs of a compiled core, read back from its report.json."""

    def __init__(self, report: dict):
        self.report = report
        self.top = report["top"]
        self.latency = int(report["latency"])


def _check_out(nl, out: Path) -> dict:
    """OUT's report.json, after checking that OUT is a compile output of this model."""
    rep_path = out / "report.json"
    if not out.is_dir():
        raise UsageError(f"{out} is not a directory", hint="give the output directory of 'lgn2hw compile'")
    if not rep_path.is_file():
        raise UsageError(f"{out} holds no report.json: not an output of 'lgn2hw compile'")
    try:
        rep = json.loads(rep_path.read_text())
    except ValueError:
        raise UsageError(f"{rep_path} is not JSON") from None
    want = {str(k): int(v) for k, v in nl.layer_sizes().items()}
    have = {str(k): int(v) for k, v in (rep.get("layers_before_passes") or {}).items()}
    ports = {p["name"]: p["width"] for p in rep.get("ports", [])}
    n_in = ports.get("in_bits", 8 * (nl.encoding.n_features if nl.encoding is not None else 0)
                     if "in_features" in ports else 0)
    if have != want or rep.get("classes") != nl.n_classes or (not ports.get("in_features") and n_in != nl.n_inputs):
        raise UsageError(f"{out} was not compiled from this model ({rep.get('model', '?')}: layers {have}, "
                         f"this model: layers {want})")
    return rep


def verify(nl, out, *, comparisons=COMPARISONS, timeout: float | None = 300.0, replay_cex: bool = True,
           progress=None, yosys=None) -> dict:
    """Prove the compiled design in ``out`` (an output of ``compile``) equal to the netlist ``nl`` read from its
    checkpoint, before passes. Returns ``{comparison: Proof.as_dict()}`` plus ``"reference"``; a comparison that
    cannot be made (no mapped netlist) is left out. ``timeout`` bounds each proof (then ``status: "unknown"``)."""
    import tempfile

    from .api import optimize
    from .fpga.toolchain import require, share_dir
    out = Path(out)
    rep = _check_out(nl, out)
    unknown = [c for c in comparisons if c not in COMPARISONS]
    if unknown:
        raise UsageError(f"comparison must be one of {', '.join(COMPARISONS)}, not {unknown[0]!r}")
    say = progress or (lambda step, msg: None)
    yosys = yosys or require("yosys")
    family = (rep.get("lut_cells") or {}).get("family") or (rep.get("build") or {}).get("family")
    syn_v = out / "build" / f"{rep['top']}.syn.v"
    if "netlist" in comparisons and not syn_v.is_file():
        comparisons = [c for c in comparisons if c != "netlist"]
    ports = {p["name"]: p["width"] for p in rep["ports"]}
    cw, signed = int(rep["count_width"]), bool(rep.get("count_signed"))
    result: dict = {"engine": ENGINE, "reference": "the checkpoint's gates before passes, written by lgn2hw"}
    with tempfile.TemporaryDirectory(prefix="lgn2hw-verify-") as tmp:
        w = Path(tmp)
        (w / "reference.blif").write_text(reference_blif(nl, ports, cw, signed))
        after = None
        rtl_ready = False

        def rtl_blif():
            nonlocal rtl_ready
            if not rtl_ready:
                for f in rep["files"]:
                    shutil.copyfile(out / f, w / f)
                design_blif("rtl", w, yosys, list(rep["files"]), rep["top"], family, share_dir(yosys) if family
                            else None, timeout)
                rtl_ready = True
            return "rtl.blif"

        for what in comparisons:
            if what == "ir":
                after = after or optimize(nl.copy())
                (w / "ir.blif").write_text(reference_blif(after, ports, cw, signed, "ir"))
                gold, gate = "reference.blif", "ir.blif"
            elif what == "rtl":
                gold, gate = "reference.blif", rtl_blif()
            else:
                shutil.copyfile(syn_v, w / "netlist.v")
                design_blif("netlist", w, yosys, ["netlist.v"], rep["top"], family, share_dir(yosys), timeout)
                gold, gate = rtl_blif(), "netlist.blif"
            say("verify", f"{WHAT[what]} against {'the emitted Verilog' if what == 'netlist' else 'the checkpoint'}")
            t0 = time.monotonic()
            try:
                equal, cex, seconds = abc_cec(gold, gate, w, yosys, timeout)
            except ToolchainError as err:
                if not err.timed_out:
                    raise
                proof = Proof(what, "unknown", ENGINE, time.monotonic() - t0)
                proof.replay = {"note": f"no proof within {timeout:g} s"}
                result[what] = proof.as_dict() | {"note": proof.replay["note"]}
                continue
            proof = Proof(what, "equal" if equal else "different", ENGINE, seconds)
            if not equal:
                proof.counterexample = _cex_vector(cex, ports)
                if replay_cex:
                    proof.replay = replay(nl, out, rep, proof.counterexample, what, w, after)
            result[what] = proof.as_dict()
            say("verify", f"{WHAT[what]}: {proof.line()}")
    return result


def report_lines(result: dict) -> list:
    """One line per comparison of a :func:`verify` result, for report.md and the build summary."""
    lines = []
    for what in COMPARISONS:
        r = result.get(what)
        if r is None:
            continue
        against = "the emitted Verilog" if what == "netlist" else "the checkpoint"
        if r["status"] == "equal":
            lines.append(f"{WHAT[what]} = {against}: proved equal ({r['engine']}, {r['seconds']:.1f} s)")
        elif r["status"] == "different":
            lines.append(f"{WHAT[what]} != {against}: counterexample {r['counterexample']} "
                         f"({r['engine']}, {r['seconds']:.1f} s); replay: {json.dumps(r.get('replay'))}")
        else:
            lines.append(f"{WHAT[what]} vs {against}: not proved ({r.get('note', 'unknown')})")
    return lines


def _cex_vector(cex: dict, ports: dict) -> list:
    """The input port's bits (``in_bits`` or ``in_features``) from ABC's named counterexample."""
    name = "in_features" if "in_features" in ports else "in_bits"
    width = int(ports.get(name, 0))
    return [int(cex.get(f"{name}[{i}]", 0)) for i in range(width)]


def replay(nl, out: Path, rep: dict, bits: list, what: str, workdir: Path, after=None) -> dict:
    """Run a counterexample through the interpreter (the netlists before and after passes) and through
    simulation of the emitted Verilog and of the mapped netlist (when there is one): what each gives."""
    from .ir import evaluate
    x = np.asarray(bits, dtype=np.uint8)[None, :]
    ports = {p["name"]: p["width"] for p in rep["ports"]}
    features = "in_features" in ports
    if features:     # in_features[8f+b]: bit b of feature f
        x = np.packbits(x.reshape(-1, 8), axis=1, bitorder="little").reshape(1, -1)
    xin = nl.encoding.apply(x) if features else x
    res = {"interpreter": _counts(evaluate(nl, xin))}
    if after is not None:
        res["interpreter_after_passes"] = _counts(evaluate(after, xin))
    family = (rep.get("lut_cells") or {}).get("family") or (rep.get("build") or {}).get("family")
    designs = [("rtl", "rtl_all.v")]
    if (out / "build" / f"{rep['top']}.syn.v").is_file():
        designs.append(("netlist", f"{rep['top']}.syn.v"))
    for name, fname in designs:
        if name == "rtl":
            (workdir / fname).write_text("".join((out / f).read_text() for f in rep["files"]))
        else:
            shutil.copyfile(out / "build" / fname, workdir / fname)
        res[f"simulation_{name}"] = _simulate(nl, rep, workdir, fname, x, family)
    return res


def _counts(c) -> dict:
    c = np.asarray(c)[0]
    return {"counts": [int(v) for v in c], "class": int(c.argmax())}


def _simulate(nl, rep, workdir: Path, fname: str, x, family) -> dict:
    """One sample through Icarus or Verilator (the post-synthesis simulation path, with yosys' cell models and
    lgn2hw's block RAM model): ``{"equal_to_interpreter": bool, ...}``."""
    from types import SimpleNamespace

    from .fpga.postsim import simulate_mapped
    from .fpga.toolchain import require, share_dir
    yosys = require("yosys")
    opts = SimpleNamespace(postsim_samples=1, postsim_inputs=x, postsim_sim="auto", warn=None, timeout_s=None)
    cells = share_dir(yosys) / (family or "ecp5")
    try:
        r = simulate_mapped(nl, _Core(rep), workdir, fname, cells, opts)
    except ToolchainError as err:
        if "differs from the interpreter" in err.message:
            return {"equal_to_interpreter": False, "message": err.message}
        return {"error": err.message}
    if "skipped" in r:
        return {"skipped": r["skipped"]}
    return {"equal_to_interpreter": True, "simulator": r["simulator"]}
