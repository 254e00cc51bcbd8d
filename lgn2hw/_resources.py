"""Files lgn2hw reads at run time (board files, cocotb testbenches, C sources) ship inside the package and are
found with :mod:`importlib.resources`, so a wheel works from any directory, not only a source checkout."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import ToolchainError


def package_path(*parts: str) -> Path:
    """The file or folder ``lgn2hw/<parts...>`` on disk. Tools (yosys, cocotb, the C compiler) need real paths,
    so an installation that keeps the package in a zip archive is refused with a clear error."""
    node = resources.files("lgn2hw").joinpath(*parts)
    path = Path(str(node))
    if not isinstance(node, Path) or not path.exists():
        raise ToolchainError(f"lgn2hw's package data {'/'.join(parts)} is missing ({node})",
                             hint="reinstall lgn2hw from its wheel or source (pip install --force-reinstall lgn2hw)")
    return path
