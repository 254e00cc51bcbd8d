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
    family: str            # "ecp5" or "ice40"
    lut4: int
    ff: int
    bram: int
    packages: dict         # nextpnr package name -> user IO count
    nextpnr_device: str    # nextpnr's device flag, e.g. "--85k"
    tracks_per_tile: int = 0   # general-routing wires that cross a cut line at every tile (see below)
    cells_per_tile: int = 8    # LUT4 (and flip-flops) per logic tile
    bram_rows: int = 0         # rows of block RAM across the die

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
)}

PACKAGE_ALIASES = {"BG256": "CABGA256", "BG381": "CABGA381", "BG554": "CABGA554", "BG756": "CABGA756",
                   "MG285": "CSFBGA285"}
DEFAULT_SPEED = {"ecp5": "6", "ice40": ""}


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
