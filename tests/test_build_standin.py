"""A tiny hand-written stand-in for the backend's core (test fixture only, never shipped): plain Verilog with
the backend's port contract, so the build flow and the harness can be tested on their own. Its own test checks
it against the reference interpreter under Icarus, so a harness or flow test that fails is not the stand-in's
fault."""
from __future__ import annotations

import shutil
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

from lgn2hw.ir import Netlist, evaluate


def random_netlist(seed=0, n_inputs=20, widths=(24, 18, 12), n_classes=3, encoding=False):
    rng = np.random.default_rng(seed)
    layers, prev = [], n_inputs
    for w in widths:
        layers.append((rng.integers(0, 16, w), rng.integers(0, prev, (w, 2))))
        prev = w
    enc = None
    if encoding:
        from lgn2hw.ir import InputEncoding
        n_feat = max(1, n_inputs // 2)
        enc = InputEncoding(rng.integers(0, n_feat, n_inputs).astype(np.int32),
                            rng.uniform(-2, 260, n_inputs).round(1), (n_feat,))
    nl = Netlist.from_layers(n_inputs, layers, n_classes, encoding=enc)
    nl.check()
    return nl


def standin_core(nl, counts=True, top="lgn_core"):
    """Verilog of a 2-cycle core: input register, LUT logic, class counts and first-max argmax registered."""
    k = nl.n_classes
    n_out = len(nl.out_nets)
    cw = max(1, int(max(n_out, 1) + int(nl.class_offset.max(initial=0))).bit_length())
    w = max(1, (k - 1).bit_length())
    lines = [f"module {top}(input clk, input rst, input in_valid, input [{nl.n_inputs - 1}:0] in_bits,",
             f"  output reg out_valid, output reg [{w - 1}:0] out_class" +
             (f", output reg [{k * cw - 1}:0] out_counts);" if counts else ");"),
             f"  reg [{nl.n_inputs - 1}:0] x; reg v1;",
             f"  wire [{nl.n_nets - 1}:0] n;",
             "  assign n[0] = 1'b0; assign n[1] = 1'b1;",
             f"  assign n[{nl.n_inputs + 1}:2] = x;"]
    for i in range(nl.n_nodes):
        a = int(nl.arity[i])
        sel = ", ".join(f"n[{int(nl.fanin[i, j])}]" for j in reversed(range(a)))
        lines.append(f"  localparam [{(1 << a) - 1}:0] T{i} = {1 << a}'d{int(nl.tables[i])};")
        lines.append(f"  assign n[{nl.first_node_net + i}] = T{i}[{{{sel}}}];" if a else
                     f"  assign n[{nl.first_node_net + i}] = T{i}[0];")
    lines.append(f"  reg [{cw - 1}:0] c [0:{k - 1}]; integer j; reg [{cw - 1}:0] best; reg [{w - 1}:0] arg;")
    lines.append("  always @* begin")
    for c in range(k):
        terms = [f"(n[{int(nl.out_nets[j])}] ^ 1'b{int(nl.out_invert[j])})" for j in range(n_out)
                 if nl.out_class[j] == c]
        lines.append(f"    c[{c}] = {cw}'d{int(nl.class_offset[c])}" + "".join(f" + {t}" for t in terms) + ";")
    lines += ["    best = c[0]; arg = 0;",
              f"    for (j = 1; j < {k}; j = j + 1) if (c[j] > best) begin best = c[j]; arg = j; end",
              "  end",
              "  always @(posedge clk) begin",
              "    if (rst) begin v1 <= 0; out_valid <= 0; end",
              "    else begin v1 <= in_valid; out_valid <= v1; end",
              "    if (in_valid) x <= in_bits;",
              "    out_class <= arg;"]
    if counts:
        lines.append("    out_counts <= {" + ", ".join(f"c[{c}]" for c in reversed(range(k))) + "};")
    lines += ["  end", "endmodule", ""]
    return SimpleNamespace(files={f"{top}.v": "\n".join(lines)}, top=top, latency=2, count_width=cw if counts else 0,
                           report={})


@pytest.mark.skipif(not shutil.which("iverilog"), reason="iverilog is not installed")
def test_standin_matches_interpreter(tmp_path):
    nl = random_netlist(3)
    core = standin_core(nl)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, (40, nl.n_inputs)).astype(np.uint8)
    want = evaluate(nl, x)
    (tmp_path / "core.v").write_text(core.files["lgn_core.v"])
    cw, k = core.count_width, nl.n_classes
    stim = "\n".join(f"    in_bits = {nl.n_inputs}'b{''.join(str(b) for b in row[::-1])}; @(posedge clk); #1;"
                     for row in x)
    (tmp_path / "tb.v").write_text(f"""`timescale 1ns/1ps
module tb; reg clk = 0, rst = 1, in_valid = 0; reg [{nl.n_inputs - 1}:0] in_bits;
wire out_valid; wire [{(k - 1).bit_length() - 1}:0] out_class; wire [{k * cw - 1}:0] out_counts;
lgn_core dut(clk, rst, in_valid, in_bits, out_valid, out_class, out_counts);
always #5 clk = ~clk;
always @(posedge clk) if (out_valid) $display("%0d %0h", out_class, out_counts);
initial begin @(posedge clk); #1 rst = 0; in_valid = 1;
{stim}
    in_valid = 0; repeat (4) @(posedge clk); $finish; end
endmodule
""")
    subprocess.run(["iverilog", "-o", "sim", "tb.v", "core.v"], cwd=tmp_path, check=True)
    out = subprocess.run(["vvp", "-n", "sim"], cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    rows = [l.split() for l in out.splitlines() if l and l[0].isdigit()]
    assert len(rows) == len(x)
    got = np.array([[(int(h, 16) >> (cw * c)) & ((1 << cw) - 1) for c in range(k)] for _, h in rows])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal([int(c) for c, _ in rows], want.argmax(1))
