"""The FPGA parts lgn2hw can target, as data: family, capacity and how nextpnr names them.

Capacities are the vendor data-sheet figures: LUT4 logic cells, flip-flops, block RAMs (ECP5 EBR of 18 kbit,
iCE40 EBR of 4 kbit) and user IOs per package. ECP5 packages are keyed by nextpnr's names; Lattice's short order
codes (``BG381``, ``MG285``) are accepted as aliases.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError


@dataclass(frozen=True)
class Device:
    name: str
    family: str            # "ecp5", "ice40", "gowin" or "gatemate" (lgn2hw.fpga.families)
    lut4: int
    ff: int
    bram: int
    packages: dict         # nextpnr package name -> user IO count
    nextpnr_device: str    # nextpnr's device flag, e.g. "--85k"
    tracks_per_tile: int = 0   # general-routing wires that cross a cut line at every tile (see below)
    cells_per_tile: int = 8    # LUT4 (and flip-flops) per logic tile
    bram_rows: int = 0         # rows of block RAM across the die
    pnr_device: tuple = ()     # nextpnr-himbaechel: the --device/--vopt arguments naming the part
    synth_opts: str = ""       # yosys synthesis options for the part (Gowin: -family)

    @property
    def pnr_args(self) -> tuple:
        return self.pnr_device or (self.nextpnr_device,)

    @property
    def tiles(self) -> int:
        """Logic tiles: the area the routing estimate (lgn2hw.fpga.route) places a design in."""
        return self.lut4 // self.cells_per_tile

    def io(self, package: str) -> int:
        return self.packages[package]


# Routing supply, approximate: ECP5 (Project Trellis' general-routing notes) has per tile 8 LUT outputs and
# unidirectional wires spanning 1, 2 and 6 tiles, about 84 of which cross a cut line at each tile;
# iCE40 (Project IceStorm's interconnect notes) has 48 span-4 and 24 span-12 tracks per channel and neighbour
# connections, about 80. The routing estimate is calibrated with these figures (bench/bench_route.py).
# ECP5 block RAMs sit in rows across the die; the row counts are read off the data sheet's die diagrams and are
# approximate (they set how far a core's counting tables are from its logic).
ECP5_TRACKS = 84
ICE40_TRACKS = 80
# Gowin and GateMate: not calibrated; the figures only keep the estimate from refusing what these parts route
# (Gowin's logic tile has 8 LUT4 like ECP5's and a comparable share of 1-, 2- and 8-tile wires; GateMate's CPE
# array has 1- to 4-CPE "SB" switch boxes).
GOWIN_TRACKS = 84
GATEMATE_TRACKS = 80
ECP5_BRAM_ROWS = {12288: 2, 24288: 2, 43848: 3, 83640: 4}


def _ecp5(name, flag, lut, bram, packages):
    return Device(name, "ecp5", lut, lut, bram, packages, flag, ECP5_TRACKS, bram_rows=ECP5_BRAM_ROWS[lut])


DEVICES = {d.name: d for d in (
    _ecp5("LFE5U-12F", "--12k", 12288, 32, {"CABGA256": 197, "CABGA381": 197, "CSFBGA285": 118}),
    _ecp5("LFE5U-25F", "--25k", 24288, 56, {"CABGA256": 197, "CABGA381": 197, "CSFBGA285": 118}),
    _ecp5("LFE5U-45F", "--45k", 43848, 108, {"CABGA256": 197, "CABGA381": 203, "CABGA554": 245,
                                               "CSFBGA285": 118}),
    _ecp5("LFE5U-85F", "--85k", 83640, 208, {"CABGA381": 205, "CABGA554": 259, "CABGA756": 365,
                                               "CSFBGA285": 118}),
    _ecp5("LFE5UM-85F", "--um-85k", 83640, 208, {"CABGA381": 205, "CABGA554": 259, "CABGA756": 365,
                                                   "CSFBGA285": 118}),
    _ecp5("LFE5UM5G-85F", "--um5g-85k", 83640, 208, {"CABGA381": 205, "CABGA554": 259, "CABGA756": 365,
                                                       "CSFBGA285": 118}),
    Device("iCE40HX1K", "ice40", 1280, 1280, 16, {"TQ144": 96, "VQ100": 72, "CB132": 95}, "--hx1k",
           ICE40_TRACKS),
    Device("iCE40HX8K", "ice40", 7680, 7680, 32, {"CT256": 206, "CB132": 95, "TQ144": 107, "BG121": 93},
           "--hx8k", ICE40_TRACKS),
    Device("iCE40UP5K", "ice40", 5280, 5280, 30, {"SG48": 39, "UWG30": 21}, "--up5k", ICE40_TRACKS),
    # Gowin (Project Apicula): the part number names package and speed grade, so each device here is the one
    # part the Sipeed boards carry; block RAMs are 18-kbit BSRAMs
    Device("GW1NR-9C", "gowin", 8640, 6480, 26, {"QN88P": 71}, "GW1NR-LV9QN88PC6/I5", GOWIN_TRACKS,
           pnr_device=("--device", "GW1NR-LV9QN88PC6/I5", "--vopt", "family=GW1N-9C"), synth_opts="-family gw1n"),
    Device("GW2AR-18C", "gowin", 20736, 15552, 46, {"QN88": 66}, "GW2AR-LV18QN88C8/I7", GOWIN_TRACKS,
           pnr_device=("--device", "GW2AR-LV18QN88C8/I7", "--vopt", "family=GW2A-18C"), synth_opts="-family gw2a"),
    # Cologne Chip GateMate (Project Peppercorn): 20,480 CPEs, each a LUT tree of up to 4 inputs (or an adder
    # bit) and a flip-flop; 32 block RAMs of 40 kbit
    Device("CCGM1A1", "gatemate", 20480, 20480, 32, {"CBGA324": 162}, "CCGM1A1", GATEMATE_TRACKS,
           pnr_device=("--device", "CCGM1A1")),
)}

PACKAGE_ALIASES = {"BG256": "CABGA256", "BG381": "CABGA381", "BG554": "CABGA554", "BG756": "CABGA756",
                   "MG285": "CSFBGA285"}
DEFAULT_SPEED = {"ecp5": "6", "ice40": "", "gowin": "", "gatemate": ""}


def find_device(name: str) -> Device:
    for key, dev in DEVICES.items():
        if key.lower() == str(name).lower():
            return dev
    raise UsageError(f"device must be one of {', '.join(DEVICES)}, not {name!r}",
                     hint="see 'lgn2hw boards' for the devices and boards lgn2hw knows")


def find_package(dev: Device, package: str) -> str:
    key = PACKAGE_ALIASES.get(str(package).upper(), str(package).upper())
    if key not in dev.packages:
        raise UsageError(f"package for {dev.name} must be one of {', '.join(dev.packages)}, not {package!r}")
    return key
