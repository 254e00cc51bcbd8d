"""The gate LUTs as the device's own 4-input LUT primitive, so that synthesis keeps them as they are.

The LUT mapper (:mod:`lgn2hw.passes.lutmap`) has already cut the gates into cones of at most four inputs. Written
as generic Verilog, every cone is logic again for yosys, which optimises it gate by gate and has ABC9 map it a
second time, to about the same LUT count: most of the synthesis time of a large core. Written as instances of the
family's LUT cell with its truth table as the INIT parameter, the cones are library cells: ``synth_ecp5`` /
``synth_ice40`` read the cell library as white boxes, do not flatten them, and ABC9 maps only the logic around
them (the popcounts, argmax and stream control), so the gates arrive in the mapped netlist one cell per LUT. No
``keep`` attribute is needed; ``docs/toolchain-notes.md`` says what the synthesis scripts do with the cells.

ECP5, iCE40 and Gowin index the INIT vector with the inputs read as a number, the first input least significant, as the IR
does (``out = (table >> m) & 1`` with ``m = sum(in_j << j)``); yosys' own cell models confirm it (ECP5 ``LUT4``:
``Z = INIT[{D, C, B, A}]``; iCE40 ``SB_LUT4``: ``O = LUT_INIT[{I3, I2, I1, I0}]``; Gowin ``LUT4``: a mux tree
that selects ``INIT[{I3, I2, I1, I0}]``). GateMate cores stay generic Verilog: ``synth_gatemate`` maps to
``CC_LUT1``..``CC_LUT4`` cells that nextpnr turns into its CPEs' 2-input LUT trees; instantiating them directly
has not been measured. A cone of k < 4 inputs leaves
the upper inputs tied to 0 and repeats its table over them, so the value is right whatever they carry. (Left
open they would save synthesis time, as ECP5's unused LSR does, but ``opt_lut_ins -tech lattice`` in yosys 0.70
aborts on a LUT4 with an open input.)

:data:`SIM_MODELS` are small behavioural models of the same two cells for RTL simulation of such a core (yosys'
libraries hold much more than one cell); the tests check them against yosys' own models.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError


@dataclass(frozen=True)
class LutCell:
    """A family's LUT primitive and the D flip-flop primitive its gate registers become."""
    family: str
    name: str           # the LUT primitive's module name
    param: str          # its truth-table parameter
    inputs: tuple       # input ports, the least significant INIT index bit first
    output: str
    ff_name: str        # the flip-flop primitive
    ff_pins: tuple      # its clock, data and output ports
    ff_params: str      # its parameters: what synthesis makes of a plain ``always @(posedge clk)`` (ECP5's LSR is
    #                     left unconnected: it reads as 0, and a constant connection per flip-flop cost ~8 % of the
    #                     48K core's synthesis time)
    size: int = 4

    def instance(self, name: str, out: str, table: int, k: int, ins) -> str:
        """One LUT: cell ``name`` drives ``out`` (a declared net) with the k-input ``table`` of the nets
        ``ins``."""
        init = _init_text(self.size, table, k)
        pins = [f".{port}({net})" for port, net in zip(self.inputs, ins)]
        pins += [f".{port}(1'b0)" for port in self.inputs[k:]]     # yosys' opt_lut_ins fails on an open input
        return f"  {self.name} #(.{self.param}({init})) {name} ({', '.join(pins)}, .{self.output}({out}));"

    def register(self, name: str, d: str, q: str) -> str:
        """One flip-flop: cell ``name`` loads ``d`` into wire ``q`` on every rising edge of ``clk``."""
        clk, din, out = self.ff_pins
        return f"  {self.ff_name}{self.ff_params} {name} (.{clk}(clk), .{din}({d}), .{out}({q}));"


CELLS = {
    "ecp5": LutCell("ecp5", "LUT4", "INIT", ("A", "B", "C", "D"), "Z", "TRELLIS_FF", ("CLK", "DI", "Q"),
                    ' #(.GSR("DISABLED"), .CEMUX("1"), .CLKMUX("CLK"), .LSRMUX("LSR"), .REGSET("RESET"))'),
    "ice40": LutCell("ice40", "SB_LUT4", "LUT_INIT", ("I0", "I1", "I2", "I3"), "O", "SB_DFF", ("C", "D", "Q"), ""),
    "gowin": LutCell("gowin", "LUT4", "INIT", ("I0", "I1", "I2", "I3"), "F", "DFF", ("CLK", "D", "Q"), ""),
}


def lut_cell(family: str | None) -> LutCell | None:
    """The primitives of ``family``, None for None; a family without them is a usage error."""
    if family is None:
        return None
    cell = CELLS.get(family)
    if cell is None:
        raise UsageError(f"LUT cells exist for {', '.join(sorted(CELLS))}, not {family!r}",
                         hint="leave lut_cells unset for generic Verilog")
    return cell


def lut_init(table: int, k: int, size: int = 4) -> int:
    """The INIT value of a ``size``-input LUT computing the k-input ``table`` of its first k inputs: bit m is the
    table's bit ``m mod 2**k``, so the unused upper inputs change nothing."""
    width = 1 << k
    table &= (1 << width) - 1
    init = 0
    for shift in range(0, 1 << size, width):
        init |= table << shift
    return init


def trivial(table: int, k: int) -> str | None:
    """``"1'b0"`` or ``"1'b1"`` when the k-input ``table`` is constant, ``"{j}"`` when it passes input j through,
    else None: such a node is a wire, not a LUT (the generic path's sum of products leaves it to synthesis to see
    that; a cell would stay a LUT)."""
    key = (table, k)
    if key not in _TRIVIAL:
        n = 1 << k
        table &= (1 << n) - 1
        found = "1'b0" if table == 0 else "1'b1" if table == (1 << n) - 1 else None
        for j in range(k):
            if found is None and all(((table >> m) & 1) == ((m >> j) & 1) for m in range(n)):
                found = "{%d}" % j
        _TRIVIAL[key] = found
    return _TRIVIAL[key]


_TRIVIAL: dict = {}
_INIT_CACHE: dict = {}


def _init_text(size: int, table: int, k: int) -> str:
    key = (size, table, k)
    text = _INIT_CACHE.get(key)
    if text is None:
        bits = 1 << size
        text = f"{bits}'h{lut_init(table, k, size):0{bits // 4}X}"
        _INIT_CACHE[key] = text
    return text


SIM_MODELS = {
    "ecp5": """module LUT4 (input A, input B, input C, input D, output Z);
  parameter [15:0] INIT = 16'h0000;
  assign Z = INIT[{D, C, B, A}];
endmodule
module TRELLIS_FF (input CLK, input LSR, input CE, input DI, input M, output reg Q);
  parameter GSR = "ENABLED";
  parameter CEMUX = "1";
  parameter CLKMUX = "CLK";
  parameter LSRMUX = "LSR";
  parameter SRMODE = "LSR_OVER_CE";
  parameter REGSET = "RESET";
  parameter LSRMODE = "LSR";
  always @(posedge CLK) if (LSR) Q <= 1'b0; else Q <= DI;     // the mode lgn2hw uses (LSR unconnected)
endmodule
""",
    "ice40": """module SB_LUT4 (input I0, input I1, input I2, input I3, output O);
  parameter [15:0] LUT_INIT = 16'h0000;
  assign O = LUT_INIT[{I3, I2, I1, I0}];
endmodule
module SB_DFF (input C, input D, output reg Q);
  always @(posedge C) Q <= D;
endmodule
""",
    "gowin": """module LUT4 (input I0, input I1, input I2, input I3, output F);
  parameter [15:0] INIT = 16'h0000;
  assign F = INIT[{I3, I2, I1, I0}];
endmodule
module DFF (input CLK, input D, output reg Q);
  parameter [0:0] INIT = 1'b0;
  always @(posedge CLK) Q <= D;
endmodule
""",
}
