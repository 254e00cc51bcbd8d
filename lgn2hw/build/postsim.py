"""Post-synthesis simulation: the mapped core netlist (yosys ``write_verilog`` after ``synth_<family>``) with
yosys' own cell models, run by Icarus on sample inputs; class counts (or classes) must equal the interpreter's,
sample for sample."""
from __future__ import annotations

import re

import numpy as np

from ..errors import ToolchainError
from ..ir import evaluate
from .toolchain import find_tool


def _inputs(nl, features: bool, opts):
    n = int(opts.postsim_samples)
    if opts.postsim_inputs is not None:
        x = np.asarray(opts.postsim_inputs)[:n]
        return x.reshape(len(x), -1).astype(np.uint8)
    rng = np.random.default_rng(0)
    if features:
        return rng.integers(0, 256, (n, nl.encoding.n_features)).astype(np.uint8)
    return rng.integers(0, 2, (n, nl.n_inputs)).astype(np.uint8)


def simulate_mapped(nl, core, bdir, syn_v: str, cells_dir, opts) -> dict:
    try:
        iverilog, vvp = find_tool("iverilog"), find_tool("vvp")
    except ToolchainError as err:
        if opts.warn:
            opts.warn(f"post-synthesis simulation skipped: {err.message}")
        return {"skipped": err.message}
    rep = core.report
    ports = {p["name"]: p["width"] for p in rep["ports"]}
    features = "in_features" in ports
    in_port = "in_features" if features else "in_bits"
    x = _inputs(nl, features, opts)
    want = evaluate(nl, nl.encoding.apply(x) if features else x)
    width = ports.get(in_port, 0)
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
    in_conn = f".{in_port}(stim[i])," if width else ""
    cnt_decl = f"wire [{k * cw - 1}:0] counts;" if has_counts else ""
    cnt_conn = ".out_counts(counts)," if has_counts else ""
    show = '$display("%0d %h", cls, counts);' if has_counts else '$display("%0d 0", cls);'
    (bdir / "postsim_tb.v").write_text(f"""`timescale 1ns/1ps
module postsim_tb;
  reg clk = 0, rst = 1, in_valid = 0;
  reg [{max(width, 1) - 1}:0] stim [0:{n - 1}];
  integer i = 0, seen = 0;
  wire out_valid; wire [{int(rep['class_width']) - 1}:0] cls; {cnt_decl}
  {core.top} dut(.clk(clk), .rst(rst), .in_valid(in_valid), {in_conn} {cnt_conn} .out_valid(out_valid),
                 .out_class(cls));
  always #5 clk = ~clk;
  always @(posedge clk) if (!rst && out_valid) begin {show} seen = seen + 1; end
  initial begin
    $readmemh("postsim.in.hex", stim);
    repeat (3) @(posedge clk); #1 rst = 0;
    for (i = 0; i < {n}; i = i + 1) begin in_valid = 1; @(posedge clk); #1; end
    in_valid = 0; i = 0;
    repeat ({int(core.latency) + 8}) @(posedge clk);
    $finish;
  end
endmodule
""")
    # yosys' cell models, copied without elaboration-time $error calls (Icarus 11 rejects them inside generate
    # blocks; they are only reached for cell modes a mapped netlist does not use)
    lib = bdir / "postsim_cells"
    lib.mkdir(exist_ok=True)
    for src in sorted(cells_dir.glob("*_sim.v")) + sorted(cells_dir.glob("*.vh")):
        (lib / src.name).write_text(re.sub(r"\$error\([^;]*\);", "", src.read_text()))
    log = bdir / "postsim.log"
    log.write_text("")
    iverilog.run(["-g2012", "-DNO_INCLUDES", "-DNO_ICE40_DEFAULT_ASSIGNMENTS", "-o", "postsim.vvp", "-I", "postsim_cells", "postsim_tb.v", syn_v,
                  "postsim_cells/cells_sim.v"], bdir, log, "postsim")
    vvp.run(["-n", "postsim.vvp"], bdir, log, "postsim")
    rows = [l.split() for l in log.read_text().splitlines() if l[:1].isdigit() and len(l.split()) == 2]
    if len(rows) != n:
        raise ToolchainError(f"post-synthesis simulation gave {len(rows)} outputs for {n} samples",
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
        raise ToolchainError(f"post-synthesis simulation differs from the interpreter on {first.size} of {n} "
                             f"samples, first sample {i}: class {int(cls[i])}, expected {int(want[i].argmax())}",
                             hint=f"a synthesis or backend bug; the netlist and log are in {bdir}")
    return {"samples": n, "equal": True, "compared": "counts and class" if has_counts else "class",
            "simulator": "icarus", "netlist": syn_v}
