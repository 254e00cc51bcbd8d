"""Block RAM as a popcount stage: ECP5 DP16KD blocks as read-only tables that count 12 bits per port.

A DP16KD configured 4K x 4 has a 12-bit address and a 4-bit output per port, and two ports. Filled with the
number of ones of each address, one port turns 12 output bits of a class into a 4-bit count: 8 bits fewer for
the LUT popcount, at no LUT cost. The block's output register (``REGMODE "OUTREG"``) keeps it fast: its
clock-to-out without that register (~5.8 ns in nextpnr's ECP5 speed-6 model) alone exceeds a 250 MHz period.
Latency: two cycles (the address is registered inside the block, then the output register).

Inverted output bits are counted by a table of ``12 - ones(address)``; both ports of a block read the same
table, so a block serves two groups of the same polarity. The bits not grouped (and every bit counted with a
weight above one) pass through two flip-flops so that they meet the block outputs in the same cycle.

The table layout (``INITVAL_00`` .. ``INITVAL_3F``, 320 bits each, 20 bits per row of four 4-bit words: word
``a`` bit ``j`` at bit ``(a // 4) * 20 + (a % 4 >= 2) * 9 + (a % 2) * 4 + j``, address on ``AD[13:2]``) is the
one yosys' ECP5 memory mapper produces for an inferred 4K x 4 ROM; ``tests/test_back_ebr.py`` checks it
against yosys.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ADDR_BITS = 12          # bits counted per port
COUNT_BITS = 4          # width of a port's count
LATENCY = 2             # cycles from the bits to the counts
_WORDS = 1 << ADDR_BITS


@dataclass
class EbrPlan:
    """Which bits the blocks count. ``groups[g] = (class, positions, inverted)`` (positions index the bit
    vector given to :func:`plan_groups`); ``blocks[b] = (g_a, g_b or None)``."""
    groups: list = field(default_factory=list)
    blocks: list = field(default_factory=list)

    @property
    def grouped(self) -> set:
        return {p for _, pos, _ in self.groups for p in pos}


def plan_groups(class_of: list, invert: list, candidates: list, n_blocks: int) -> EbrPlan:
    """Choose up to ``n_blocks`` blocks' worth of 12-bit groups among the bit positions ``candidates`` (bit i
    belongs to class ``class_of[i]`` with inversion ``invert[i]``). Groups are taken round-robin over the
    classes, so every class gets a similar share when blocks are scarce; a group never mixes classes or
    polarities, and a block's two groups share a polarity."""
    plan = EbrPlan()
    if n_blocks <= 0:
        return plan
    pools: dict = {}
    for i in candidates:
        pools.setdefault((int(class_of[i]), bool(invert[i])), []).append(int(i))
    # every possible group, with its rank in its class (0 = first), per polarity
    ranked = {False: [], True: []}
    for (c, inv), pos in sorted(pools.items()):
        for r in range(len(pos) // ADDR_BITS):
            ranked[inv].append((r, c, tuple(pos[r * ADDR_BITS:(r + 1) * ADDR_BITS])))
    candidates_blocks = []
    for inv in (False, True):
        groups = sorted(ranked[inv])
        for j in range(0, len(groups), 2):
            pair = groups[j:j + 2]
            candidates_blocks.append((max(g[0] for g in pair), inv, pair))
    candidates_blocks.sort(key=lambda b: (b[0], b[1], b[2][0][1]))
    for _, inv, pair in candidates_blocks[:n_blocks]:
        ids = []
        for _, c, pos in pair:
            plan.groups.append((c, pos, inv))
            ids.append(len(plan.groups) - 1)
        plan.blocks.append((ids[0], ids[1] if len(ids) > 1 else None))
    return plan


def table_value(address: int, inverted: bool) -> int:
    ones = bin(address).count("1")
    return ADDR_BITS - ones if inverted else ones


def initvals(inverted: bool) -> list:
    """The 64 ``INITVAL_xx`` parameters (320-bit integers) of a counting table."""
    words = [0] * 64
    for a in range(_WORDS):
        v = table_value(a, inverted)
        base = (a // 4) * 20 + (9 if a % 4 >= 2 else 0) + (a % 2) * 4
        for j in range(COUNT_BITS):
            if (v >> j) & 1:
                bit = base + j
                words[bit // 320] |= 1 << (bit % 320)
    return words


_INIT_TEXT: dict = {}


def _init_params(inverted: bool) -> str:
    text = _INIT_TEXT.get(inverted)
    if text is None:
        text = ", ".join(f".INITVAL_{i:02X}(320'h{w:080X})" for i, w in enumerate(initvals(inverted)))
        _INIT_TEXT[inverted] = text
    return text


def ebr_verilog(module: str, header: str, n_bits: int, plan: EbrPlan, rest: list, rest_invert: list,
                cell=None) -> str:
    """A module ``module(clk, bits, counts, rest)``: group g's count at ``counts[4*g +: 4]`` and the bits
    ``rest`` (positions in ``bits``, inverted where ``rest_invert``) at ``rest[i]``, all ``LATENCY`` cycles
    after ``bits``. With a ``cell`` (:mod:`._lutcells`) the two registers of the ``rest`` bits are its
    flip-flop primitive."""
    n_groups = len(plan.groups)
    lines = [f"// {header}", f"module {module} (clk, bits, counts, rest);", "  input clk;",
             f"  input [{max(n_bits, 1) - 1}:0] bits;",
             f"  output [{max(COUNT_BITS * n_groups, 1) - 1}:0] counts;",
             f"  output [{max(len(rest), 1) - 1}:0] rest;"]
    for b, (ga, gb) in enumerate(plan.blocks):
        inv = plan.groups[ga][2]
        ports = []
        for side, g in (("A", ga), ("B", gb)):
            ports += [f".CLK{side}(clk)", f".CE{side}(1'b1)", f".OCE{side}(1'b1)", f".WE{side}(1'b0)",
                      f".RST{side}(1'b0)", f".CS{side}0(1'b0)", f".CS{side}1(1'b0)", f".CS{side}2(1'b0)",
                      f".AD{side}0(1'b0)", f".AD{side}1(1'b0)"]
            ports += [f".DI{side}{j}(1'b0)" for j in range(18)]
            if g is None:
                ports += [f".AD{side}{j + 2}(1'b0)" for j in range(ADDR_BITS)]
                continue
            pos = plan.groups[g][1]
            ports += [f".AD{side}{j + 2}(bits[{p}])" for j, p in enumerate(pos)]
            ports += [f".DO{side}{j}(counts[{COUNT_BITS * g + j}])" for j in range(COUNT_BITS)]
        params = (".DATA_WIDTH_A(4), .DATA_WIDTH_B(4), .REGMODE_A(\"OUTREG\"), .REGMODE_B(\"OUTREG\"), "
                  ".RESETMODE(\"SYNC\"), .ASYNC_RESET_RELEASE(\"SYNC\"), .CSDECODE_A(\"0b000\"), "
                  ".CSDECODE_B(\"0b000\"), .WRITEMODE_A(\"NORMAL\"), .WRITEMODE_B(\"NORMAL\"), .GSR(\"DISABLED\"), "
                  + _init_params(inv))
        lines.append(f"  DP16KD #({params}) count{b} ({', '.join(ports)});")
    if not n_groups:
        lines.append("  assign counts = 1'b0;")
    if rest:
        if cell is not None:
            lines.append(f"  wire [{len(rest) - 1}:0] rest_d0, rest_d1;")
            lines += [cell.register(f"rest_f0_{i}", f"bits[{p}]", f"rest_d0[{i}]") for i, p in enumerate(rest)]
            lines += [cell.register(f"rest_f1_{i}", f"rest_d0[{i}]", f"rest_d1[{i}]") for i in range(len(rest))]
        else:
            lines.append(f"  reg [{len(rest) - 1}:0] rest_d0, rest_d1;")
            src = ", ".join(f"bits[{p}]" for p in reversed(rest))
            lines.append(f"  always @(posedge clk) begin rest_d0 <= {{{src}}}; rest_d1 <= rest_d0; end")
        mask = "".join("1" if v else "0" for v in reversed(rest_invert))
        lines.append(f"  assign rest = rest_d1 ^ {len(rest)}'b{mask};")
    else:
        lines.append("  assign rest = 1'b0;")
    lines += ["endmodule", ""]
    return "\n".join(lines)


# A behavioural model of the part of DP16KD these tables use (read-only, 4-bit ports, NOREG or OUTREG), for
# simulating emitted RTL and mapped netlists; yosys ships DP16KD only as a black box.
SIM_MODEL = r"""
module DP16KD (
  input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
  input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
  input CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0,
  output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
  input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
  input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
  input CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0,
  output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
  parameter DATA_WIDTH_A = 18;
  parameter DATA_WIDTH_B = 18;
  parameter REGMODE_A = "NOREG";
  parameter REGMODE_B = "NOREG";
  parameter RESETMODE = "SYNC";
  parameter ASYNC_RESET_RELEASE = "SYNC";
  parameter CSDECODE_A = "0b000";
  parameter CSDECODE_B = "0b000";
  parameter WRITEMODE_A = "NORMAL";
  parameter WRITEMODE_B = "NORMAL";
  parameter GSR = "ENABLED";
  parameter INITVAL_00 = 320'h0; parameter INITVAL_01 = 320'h0; parameter INITVAL_02 = 320'h0; parameter INITVAL_03 = 320'h0;
  parameter INITVAL_04 = 320'h0; parameter INITVAL_05 = 320'h0; parameter INITVAL_06 = 320'h0; parameter INITVAL_07 = 320'h0;
  parameter INITVAL_08 = 320'h0; parameter INITVAL_09 = 320'h0; parameter INITVAL_0A = 320'h0; parameter INITVAL_0B = 320'h0;
  parameter INITVAL_0C = 320'h0; parameter INITVAL_0D = 320'h0; parameter INITVAL_0E = 320'h0; parameter INITVAL_0F = 320'h0;
  parameter INITVAL_10 = 320'h0; parameter INITVAL_11 = 320'h0; parameter INITVAL_12 = 320'h0; parameter INITVAL_13 = 320'h0;
  parameter INITVAL_14 = 320'h0; parameter INITVAL_15 = 320'h0; parameter INITVAL_16 = 320'h0; parameter INITVAL_17 = 320'h0;
  parameter INITVAL_18 = 320'h0; parameter INITVAL_19 = 320'h0; parameter INITVAL_1A = 320'h0; parameter INITVAL_1B = 320'h0;
  parameter INITVAL_1C = 320'h0; parameter INITVAL_1D = 320'h0; parameter INITVAL_1E = 320'h0; parameter INITVAL_1F = 320'h0;
  parameter INITVAL_20 = 320'h0; parameter INITVAL_21 = 320'h0; parameter INITVAL_22 = 320'h0; parameter INITVAL_23 = 320'h0;
  parameter INITVAL_24 = 320'h0; parameter INITVAL_25 = 320'h0; parameter INITVAL_26 = 320'h0; parameter INITVAL_27 = 320'h0;
  parameter INITVAL_28 = 320'h0; parameter INITVAL_29 = 320'h0; parameter INITVAL_2A = 320'h0; parameter INITVAL_2B = 320'h0;
  parameter INITVAL_2C = 320'h0; parameter INITVAL_2D = 320'h0; parameter INITVAL_2E = 320'h0; parameter INITVAL_2F = 320'h0;
  parameter INITVAL_30 = 320'h0; parameter INITVAL_31 = 320'h0; parameter INITVAL_32 = 320'h0; parameter INITVAL_33 = 320'h0;
  parameter INITVAL_34 = 320'h0; parameter INITVAL_35 = 320'h0; parameter INITVAL_36 = 320'h0; parameter INITVAL_37 = 320'h0;
  parameter INITVAL_38 = 320'h0; parameter INITVAL_39 = 320'h0; parameter INITVAL_3A = 320'h0; parameter INITVAL_3B = 320'h0;
  parameter INITVAL_3C = 320'h0; parameter INITVAL_3D = 320'h0; parameter INITVAL_3E = 320'h0; parameter INITVAL_3F = 320'h0;

  localparam [20479:0] INIT = {INITVAL_3F, INITVAL_3E, INITVAL_3D, INITVAL_3C, INITVAL_3B, INITVAL_3A, INITVAL_39,
    INITVAL_38, INITVAL_37, INITVAL_36, INITVAL_35, INITVAL_34, INITVAL_33, INITVAL_32, INITVAL_31, INITVAL_30,
    INITVAL_2F, INITVAL_2E, INITVAL_2D, INITVAL_2C, INITVAL_2B, INITVAL_2A, INITVAL_29, INITVAL_28, INITVAL_27,
    INITVAL_26, INITVAL_25, INITVAL_24, INITVAL_23, INITVAL_22, INITVAL_21, INITVAL_20, INITVAL_1F, INITVAL_1E,
    INITVAL_1D, INITVAL_1C, INITVAL_1B, INITVAL_1A, INITVAL_19, INITVAL_18, INITVAL_17, INITVAL_16, INITVAL_15,
    INITVAL_14, INITVAL_13, INITVAL_12, INITVAL_11, INITVAL_10, INITVAL_0F, INITVAL_0E, INITVAL_0D, INITVAL_0C,
    INITVAL_0B, INITVAL_0A, INITVAL_09, INITVAL_08, INITVAL_07, INITVAL_06, INITVAL_05, INITVAL_04, INITVAL_03,
    INITVAL_02, INITVAL_01, INITVAL_00};

  // 4-bit words only: word a, bit j at (a / 4) * 20 + (a % 4 >= 2) * 9 + (a % 2) * 4 + j
  function [3:0] word(input [11:0] a);
    integer base;
    begin
      base = (a / 4) * 20 + ((a % 4) >= 2 ? 9 : 0) + (a % 2) * 4;
      word = {INIT[base + 3], INIT[base + 2], INIT[base + 1], INIT[base]};
    end
  endfunction

  reg [3:0] qa, qb, ra, rb;
  wire [11:0] aa = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2};
  wire [11:0] ab = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2};
  always @(posedge CLKA) begin
    if (CEA) qa <= word(aa);
    if (OCEA) ra <= qa;
  end
  always @(posedge CLKB) begin
    if (CEB) qb <= word(ab);
    if (OCEB) rb <= qb;
  end
  wire [3:0] oa = (REGMODE_A == "OUTREG") ? ra : qa;
  wire [3:0] ob = (REGMODE_B == "OUTREG") ? rb : qb;
  assign {DOA3, DOA2, DOA1, DOA0} = oa;
  assign {DOB3, DOB2, DOB1, DOB0} = ob;
  assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4} = 14'b0;
  assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4} = 14'b0;
endmodule
"""
