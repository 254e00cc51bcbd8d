"""The device families as data: how yosys synthesizes for each, which nextpnr places and routes it, which tool packs
the bitstream, the file types, and how mapped cells count as LUT4s, flip-flops and block RAMs.

===========  ================  ============================  ===================  ============  ===============
family       yosys             place and route               bitstream            constraints   cell models
===========  ================  ============================  ===================  ============  ===============
ecp5         synth_ecp5        nextpnr-ecp5                  ecppack ``.bit``     ``.lpf``      share/ecp5
ice40        synth_ice40       nextpnr-ice40                 icepack ``.bin``     ``.pcf``      share/ice40
gowin        synth_gowin       nextpnr-himbaechel (gowin)    gowin_pack ``.fs``   ``.cst``      share/gowin
gatemate     synth_gatemate    nextpnr-himbaechel (gatemate) gmpack ``.bit``      ``.ccf``      share/gatemate
===========  ================  ============================  ===================  ============  ===============

ECP5 alone has an out-of-context mode in nextpnr: on a bare device of the other families the core's ports are
pins, counted by the fit check. A Gowin ``ALU`` (one bit of a carry chain) takes a logic cell's LUT and is counted
as one LUT4 (its ``MUX2_LUT5``..``MUX2_LUT8`` wide-function muxes sit beside the LUTs and are not counted); yosys
maps GateMate logic to ``CC_LUT1``..``CC_LUT4`` and adder bits (``CC_ADDF``), each counted as one (nextpnr packs
them into CPEs). docs/toolchain-notes.md has what was measured.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str
    synth: str                # the yosys synthesis command
    core_synth_opts: str      # its options for the core alone (no I/O buffers: the harness or nextpnr adds them)
    nextpnr: str              # the place-and-route tool (lgn2hw.fpga.toolchain.TOOLS)
    packer: str               # the bitstream packer (same table)
    bitstream: str            # the bitstream file extension
    constraints: str          # the pin constraint file extension the Amaranth platform writes
    pin_re: str               # a line of that file that places one pin
    lut: dict                 # mapped cell type -> LUT4s it takes
    ff_prefixes: tuple        # mapped flip-flop cell types start with one of these
    bram: tuple               # mapped block RAM cell types
    carry: dict               # carry-chain cell type -> LUT4s it takes (share of the core's LUTs in the report)
    out_of_context: bool = False   # nextpnr can place the core without pins (bare device builds)
    default_speed: str = ""
    board_json: str = "top.json"   # what the board top's yosys script writes
    synth_opts: str = ""           # options for every synthesis of this family (core and board top)
    icarus_factor: float = 1.0     # Icarus' time per cycle on these cell models against ECP5's (postsim; GateMate:
    #                                the example's netlist took 0.35 s of CPU per cycle without -luttree, and 408 s
    #                                for 70 cycles with it on a loaded machine: ~60 times ECP5's model)


FAMILIES = {f.name: f for f in (
    Family("ecp5", "synth_ecp5", "", "nextpnr-ecp5", "ecppack", "bit", "lpf", r"LOCATE COMP",
           {"LUT4": 1, "CCU2C": 2, "TRELLIS_DPR16X4": 2}, ("TRELLIS_FF",), ("DP16KD", "PDPW16KD"), {"CCU2C": 2},
           out_of_context=True, default_speed="6"),
    Family("ice40", "synth_ice40", "", "nextpnr-ice40", "icepack", "bin", "pcf", r"set_io",
           {"SB_LUT4": 1}, ("SB_DFF",), ("SB_RAM40_4K",), {"SB_CARRY": 1}),
    Family("gowin", "synth_gowin", "-noiopads", "nextpnr-himbaechel-gowin", "gowin_pack", "fs", "cst", r"IO_LOC",
           {"LUT1": 1, "LUT2": 1, "LUT3": 1, "LUT4": 1, "ALU": 1}, ("DFF",), ("DP", "DPB", "SDP", "SDPB", "SP",
                                                                             "SPX9", "pROM"), {"ALU": 1},
           board_json="top.syn.json"),
    Family("gatemate", "synth_gatemate", "-noiopad", "nextpnr-himbaechel-gatemate", "gmpack", "bit", "ccf",
           r"^\s*NET\b", {"CC_LUT1": 1, "CC_LUT2": 1, "CC_LUT3": 1, "CC_L2T4": 1, "CC_L2T5": 1, "CC_LUT4": 1, "CC_MX2": 1,
                          "CC_MX4": 1, "CC_MX8": 1, "CC_ADDF": 1}, ("CC_DFF", "CC_DLT"),
           ("CC_BRAM_20K", "CC_BRAM_40K", "CC_FIFO_40K"), {"CC_ADDF": 1}, icarus_factor=60.0,
           # nextpnr-himbaechel-gatemate takes LUT trees (CC_L2T4/CC_L2T5), not the CC_LUT3 cells plain
           # synth_gatemate leaves ("Cell type 'CC_LUT3' is unsupported"); -nomx8 as in Peppercorn's flow
           synth_opts="-luttree -nomx8"),
)}


def family(name: str) -> Family:
    return FAMILIES[name]


def resources(name: str, cells: dict) -> dict:
    """LUT4 / FF / BRAM estimates from mapped cell counts (before packing)."""
    fam = FAMILIES[name]
    lut = sum(n * fam.lut.get(t, 0) for t, n in cells.items())
    ff = sum(n for t, n in cells.items() if t.startswith(fam.ff_prefixes) and
             (name != "gowin" or t in GOWIN_FFS))
    bram = sum(n for t, n in cells.items() if t in fam.bram or (name == "ice40" and t.startswith(fam.bram)))
    return {"lut4": lut, "ff": ff, "bram": bram}


def carry_luts(name: str, cells: dict) -> int:
    fam = FAMILIES[name]
    return sum(n * w for t, n in cells.items() for c, w in fam.carry.items() if t == c)


#: Gowin's flip-flop primitives (yosys share/gowin/cells_sim.v): DFF with optional enable (E), synchronous
#: (S/R) or asynchronous (P/C) set/reset, and negative-edge (N) variants.
GOWIN_FFS = frozenset(f"DFF{n}{s}{e}" for n in ("", "N") for s in ("", "S", "R", "P", "C") for e in ("", "E"))
