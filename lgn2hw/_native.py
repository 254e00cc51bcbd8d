"""Small C kernels (the interpreter's, the LUT mapper's), compiled once with the system C compiler and cached.

``load(source)`` returns the shared library as a ``ctypes.CDLL``, or None where there is no compiler or the
source does not build; callers then use their pure Python or numpy engine, which computes the same result.
The library lies in ``~/.cache/lgn2hw`` (``LGN2HW_CACHE`` moves it) under a name that hashes the source, the
compiler, the flags and the CPU.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# -march=native lets the word loops use the widest vectors the CPU has (AVX2/AVX-512: the interpreter's gates on
# the 48K model took 1.4x less time here); a compiler that refuses it gets the portable build.
_FLAG_SETS = (["-O3", "-march=native", "-shared", "-fPIC", "-std=c99"], ["-O3", "-shared", "-fPIC", "-std=c99"])
_loaded: dict = {}


def cache_dir() -> Path:
    return Path(os.environ.get("LGN2HW_CACHE") or Path.home() / ".cache" / "lgn2hw")


def cores() -> int:
    """The CPU cores this process may run on: its affinity where the OS tells it, else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _cpu_identity() -> bytes:
    """What -march=native depends on: the machine type and, where Linux tells, the CPU model and its flags. In
    the cache key, so that a cache directory shared between machines never hands one the other's instructions."""
    ident = os.uname().machine
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "flags", "Features")):
                    ident += "\n" + line.strip()
                elif not line.strip() and "flags" in ident:
                    break
    except OSError:
        pass
    return ident.encode()


def load(source: Path):
    """The compiled ``source`` as a ctypes library (built on first use, then cached), or None."""
    source = Path(source)
    if source in _loaded:
        return _loaded[source]
    lib = None
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    try:
        text = source.read_bytes()
    except OSError as err:
        # the C source ships in the package (pyproject's package-data): without it the Python engine would run
        # silently, tens of times slower, so a broken installation is said, not hidden
        from .errors import ToolchainError
        raise ToolchainError(f"lgn2hw's C source {source.name} cannot be read ({err.strerror})",
                             hint="reinstall lgn2hw (pip install --force-reinstall lgn2hw)") from None
    try:
        for flags in _FLAG_SETS:
            key = hashlib.sha256(text + " ".join([str(cc)] + flags).encode() + _cpu_identity()).hexdigest()[:16]
            path = cache_dir() / f"{source.stem.lstrip('_')}-{key}.so"
            if not path.exists() and cc:
                path.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
                    out = Path(tmp) / path.name
                    done = subprocess.run([cc, *flags, "-o", str(out), str(source)], capture_output=True,
                                          timeout=120)
                    if done.returncode == 0:
                        os.replace(out, path)
            if path.exists():
                lib = ctypes.CDLL(str(path))
                break
    except (OSError, subprocess.SubprocessError):
        lib = None
    _loaded[source] = lib
    return lib
