"""Boards as data: ``lgn2hw/boards/<name>.yaml`` says which amaranth-boards platform to use, the part, the clock, the
UART and LED pins, the capacity and the programmer. A file holding only ``alias: <name>`` names another board.

A :class:`Target` is what a build aims at: a board (the core inside the UART harness) or a bare device (the core
alone, out of context, for resource and Fmax studies).
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from .devices import DEFAULT_SPEED, Device, find_device, find_package
from .families import FAMILIES

_KEYS = {"name", "description", "platform", "family", "device", "package", "speed", "clock", "uart", "leds",
         "capacity", "programmer", "pack_opts"}
_REQUIRED = _KEYS - {"speed", "pack_opts"}


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    platform: str            # "module:Class" in amaranth_boards
    family: str
    device: str
    package: str             # nextpnr package name
    speed: str
    clock: dict              # resource, hz (, hfosc_div)
    uart: dict               # resource+number, or rx/tx pins (+attrs); baud
    leds: dict               # resource+count, or resource+subsignals
    capacity: dict           # lut4, ff, io, bram
    programmer: dict         # tool, args, bitstream ("bit" or "bin")
    path: str = ""
    aliases: tuple = field(default=())
    pack_opts: tuple = ()    # options for the bitstream packer (Gowin: dual-purpose pins as GPIO)

    @property
    def clock_hz(self) -> int:
        return int(self.clock["hz"])

    @property
    def baud(self) -> int:
        return int(self.uart.get("baud", 115200))

    def platform_class(self):
        module, _, cls = self.platform.partition(":")
        try:
            return getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError) as err:
            raise UsageError(f"board {self.name}: platform {self.platform} cannot be loaded ({err})",
                             hint="install the fpga extra: pip install 'lgn2hw[fpga]'") from None


def boards_dir() -> Path:
    """The board files: ``LGN2HW_BOARDS`` (a folder of the user's own), else the ones shipped in the package."""
    override = os.environ.get("LGN2HW_BOARDS")
    if override:
        return Path(override)
    from .._resources import package_path
    return package_path("boards")


def _read(path: Path) -> dict:
    import yaml
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UsageError(f"not valid YAML ({str(err).splitlines()[0]})", location=str(path)) from None
    if not isinstance(data, dict):
        raise UsageError("a board file must be a YAML mapping", location=str(path))
    return data


def _validate(data: dict, path: Path) -> Board:
    loc = str(path)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise UsageError(f"unknown key {unknown[0]!r} (keys are {', '.join(sorted(_KEYS))})", location=loc)
    missing = sorted(_REQUIRED - set(data))
    if missing:
        raise UsageError(f"missing key {missing[0]!r}", location=loc)
    if data["name"] != path.stem:
        raise UsageError(f"name must match the file name {path.stem!r}, not {data['name']!r}", location=loc)
    if data["family"] not in FAMILIES:
        raise UsageError(f"family must be one of {', '.join(FAMILIES)}, not {data['family']!r}", location=loc)
    if ":" not in str(data["platform"]):
        raise UsageError(f"platform must be 'module:Class', not {data['platform']!r}", location=loc)
    try:
        dev = find_device(data["device"])
        package = find_package(dev, data["package"])
    except UsageError as err:
        raise err.at(loc) from None
    if dev.family != data["family"]:
        raise UsageError(f"device {dev.name} is {dev.family}, not {data['family']}", location=loc)
    clock = data["clock"]
    if not isinstance(clock, dict) or not isinstance(clock.get("resource"), str) or \
            not isinstance(clock.get("hz"), int) or clock["hz"] <= 0:
        raise UsageError("clock must be {resource: NAME, hz: POSITIVE INT}", location=loc)
    uart = data["uart"]
    if not isinstance(uart, dict) or not ("resource" in uart or ("rx" in uart and "tx" in uart)):
        raise UsageError("uart must name a resource or rx and tx pins", location=loc)
    if not isinstance(uart.get("baud", 115200), int) or uart.get("baud", 115200) <= 0:
        raise UsageError(f"uart baud must be a positive integer, not {uart.get('baud')!r}", location=loc)
    baud = uart.get("baud", 115200)
    if clock["hz"] < 4 * baud:
        raise UsageError("the clock must be at least 4 times the UART baud rate", location=loc)
    actual = clock["hz"] / round(clock["hz"] / baud)          # what the harness's integer divisor makes
    if abs(actual - baud) > 0.02 * baud:
        raise UsageError(f"uart baud {baud:,} is {actual:,.0f} with a {clock['hz']:,} Hz clock (more than 2 % off)",
                         location=loc, hint="choose a baud rate that divides the clock more evenly")
    leds = data["leds"]
    if not isinstance(leds, dict) or "resource" not in leds or not (
            isinstance(leds.get("count"), int) or isinstance(leds.get("subsignals"), list)):
        raise UsageError("leds must be {resource, count} or {resource, subsignals}", location=loc)
    cap = data["capacity"]
    want = {"lut4": dev.lut4, "ff": dev.ff, "io": dev.io(package), "bram": dev.bram}
    if not isinstance(cap, dict) or set(cap) != set(want):
        raise UsageError(f"capacity must give exactly {', '.join(want)}", location=loc)
    for key, value in want.items():
        if cap[key] != value:
            raise UsageError(f"capacity {key} of {dev.name} {package} is {value:,}, not {cap[key]!r}",
                             location=loc, hint="the figures come from the device data sheet")
    prog = data["programmer"]
    if not isinstance(prog, dict) or prog.get("tool") != "openFPGALoader" or \
            not isinstance(prog.get("args"), list) or prog.get("bitstream") not in ("bit", "bin", "fs"):
        raise UsageError("programmer must be {tool: openFPGALoader, args: [...], bitstream: bit|bin|fs}",
                         location=loc)
    ext = FAMILIES[data["family"]].bitstream
    if prog["bitstream"] != ext:
        article = "an" if data["family"][0] in "aei" else "a"
        raise UsageError(f"{article} {data['family']} bitstream is a .{ext} file, not .{prog['bitstream']}",
                         location=loc)
    return Board(name=data["name"], description=str(data["description"]), platform=str(data["platform"]),
                 family=data["family"], device=dev.name, package=package,
                 speed=str(data.get("speed", DEFAULT_SPEED[dev.family])), clock=dict(clock), uart=dict(uart),
                 leds=dict(leds), capacity=dict(cap), programmer={**prog, "args": [str(a) for a in prog["args"]]},
                 path=loc, pack_opts=tuple(str(o) for o in data.get("pack_opts", ())))


def _all_files() -> dict:
    d = boards_dir()
    if not d.is_dir():
        raise UsageError(f"the boards directory {d} does not exist", hint="LGN2HW_BOARDS must name a folder of board YAML files")
    return {p.stem: p for p in sorted(d.glob("*.yaml"))}


def load_board(name: str) -> Board:
    """The board called ``name`` (or an alias of it), validated."""
    files = _all_files()
    seen = []
    while True:
        if name not in files:
            raise UsageError(f"board must be one of {', '.join(files)}, not {name!r}",
                             hint="'lgn2hw boards' lists them; --device/--package build for a bare part")
        data = _read(files[name])
        if set(data) == {"alias"}:
            seen.append(name)
            if data["alias"] in seen:
                raise UsageError(f"alias loop {' -> '.join(seen + [data['alias']])}", location=str(files[name]))
            name = str(data["alias"])
            continue
        board = _validate(data, files[name])
        return Board(**{**board.__dict__, "aliases": tuple(seen)})


def list_boards() -> tuple[list, dict]:
    """(every board, validated; {alias: board name})."""
    files = _all_files()
    boards, aliases = [], {}
    for name, path in files.items():
        data = _read(path)
        if set(data) == {"alias"}:
            aliases[name] = load_board(name).name
        else:
            boards.append(_validate(data, path))
    return boards, aliases


@dataclass(frozen=True)
class Target:
    """A board, or a bare device (``board is None``)."""
    device: Device
    package: str
    speed: str
    board: Board | None = None

    @property
    def family(self) -> str:
        return self.device.family

    @property
    def name(self) -> str:
        return self.board.name if self.board else f"{self.device.name}-{self.package}"

    @property
    def capacity(self) -> dict:
        return {"lut4": self.device.lut4, "ff": self.device.ff, "io": self.device.io(self.package),
                "bram": self.device.bram}


def resolve_target(board: str | None = None, device: str | None = None, package: str | None = None,
                   speed: str | None = None) -> Target:
    if board and (device or package):
        raise UsageError("give either --board or --device/--package, not both")
    if board:
        b = load_board(board)
        return Target(find_device(b.device), b.package, b.speed, b)
    if not device:
        raise UsageError("a target is required: --board NAME, or --device PART --package PKG",
                         hint="'lgn2hw boards' lists the boards and devices")
    dev = find_device(device)
    if not package:
        raise UsageError(f"--device {dev.name} needs --package (one of {', '.join(dev.packages)})")
    return Target(dev, find_package(dev, package), str(speed or DEFAULT_SPEED[dev.family]))
