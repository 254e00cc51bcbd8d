"""Small file helpers shared by every stage: atomic writes, so a failure never leaves a half-written output."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, suffix: str = ""):
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``, on error removed."""
    from .errors import signals_unwind
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with signals_unwind():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".part", dir=path.parent)
        os.close(fd)
        try:
            yield Path(tmp)
            os.chmod(tmp, 0o666 & ~_umask())     # mkstemp makes 0600; outputs get the usual permissions
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


# --- what lgn2hw may replace ---------------------------------------------------------------------------------
# An output path is written only when it is absent, empty, or an earlier output of lgn2hw: a directory carries
# MARKER (the list of what lgn2hw put there); a file is recognised by a record of its content that lgn2hw keeps
# under the cache directory when it writes it. Anything else needs ``force``, and even then a directory keeps every
# entry lgn2hw does not write itself.
MARKER = ".lgn2hw-output"


def _record(path: Path) -> Path:
    import hashlib

    from ._native import cache_dir
    key = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:32]
    return cache_dir() / "written" / key


def file_digest(path) -> str:
    """sha256 of a file's content, read in blocks."""
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _remember(path: Path) -> None:
    """Note that lgn2hw wrote ``path`` with its present content (best effort: no record only means that
    replacing it later needs ``--force``)."""
    with contextlib.suppress(OSError):
        rec = _record(path)
        rec.parent.mkdir(parents=True, exist_ok=True)
        rec.write_text(file_digest(path))


def _written_by_us(path: Path) -> bool:
    try:
        return _record(path).read_text() == file_digest(path)
    except OSError:
        return False


def check_output_file(path, force: bool = False) -> None:
    """Refuse (OutputError) to replace ``path`` unless it is absent, empty, lgn2hw's own earlier output, or
    ``force``; a directory is never replaced by a file."""
    from .errors import OutputError
    path = Path(path)
    if path.is_dir():
        raise OutputError("is a directory, not a file to write", location=str(path))
    if not path.exists() and not path.is_symlink():
        return
    if force or (path.is_file() and path.stat().st_size == 0) or _written_by_us(path):
        return
    raise OutputError("exists and was not written by lgn2hw; refusing to replace it", location=str(path),
                      hint="choose another output path, or pass --force to replace it")


def _listed(path: Path) -> list | None:
    """The entries an earlier lgn2hw output directory lists in its marker, or None (not one)."""
    import json
    try:
        data = json.loads((path / MARKER).read_text())
        return [str(n) for n in data["entries"] if "/" not in str(n) and str(n) not in ("", ".", "..")]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_output_dir(path, force: bool = False) -> None:
    """Refuse (OutputError) to write the directory ``path`` unless it is absent, empty, an earlier lgn2hw
    output, or ``force``."""
    from .errors import OutputError
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir():
        raise OutputError("exists and is not a directory; refusing to replace it", location=str(path),
                          hint="choose another output directory")
    if force or _listed(path) is not None or not any(path.iterdir()):
        return
    raise OutputError("holds files lgn2hw did not write; refusing to write into it", location=str(path),
                      hint="choose a new or empty directory, or pass --force to write into it (your files stay)")


@contextlib.contextmanager
def output_dir(path, force: bool = False):
    """Yield a temporary directory to fill; on success its entries become ``path``'s, with MARKER listing them,
    and only what an earlier lgn2hw output listed is replaced; on any error or signal the temporary directory is
    removed and ``path`` is left as it was. Checks :func:`check_output_dir` first."""
    import json
    import shutil

    from .errors import signals_unwind
    path = Path(path)
    check_output_dir(path, force)
    exists = path.is_dir()
    # a new directory is made beside its place and renamed into it (atomic); an existing one (".", a home
    # directory) cannot be swapped, so the build goes to a hidden folder inside it and its entries move out
    home = path if exists else path.parent
    home.mkdir(parents=True, exist_ok=True)
    with signals_unwind():          # a kill in the middle still removes the temporary directory
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.resolve().name or 'out'}.", suffix=".part", dir=home))
        os.chmod(tmp, 0o777 & ~_umask())      # mkdtemp makes it private; the result is an ordinary directory
        try:
            yield tmp
            entries = sorted(e.name for e in tmp.iterdir())
            (tmp / MARKER).write_text(json.dumps({"tool": "lgn2hw", "entries": entries}, indent=1) + "\n")
            if not exists:
                os.replace(tmp, path)
                return
            for name in _listed(path) or []:
                old = path / name
                if old.is_dir() and not old.is_symlink():
                    shutil.rmtree(old)
                elif old.exists() or old.is_symlink():
                    old.unlink()
            for name in entries + [MARKER]:
                dest = path / name
                if dest.is_dir() and not dest.is_symlink():     # --force over a user's folder of the same name
                    shutil.rmtree(dest)
                os.replace(tmp / name, dest)
            tmp.rmdir()
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def save_npy(path, array, force: bool = False) -> None:
    import numpy as np

    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, array)
    write_output(path, write, ".npy", force=force)


def write_text(path, text: str, force: bool = False) -> None:
    write_output(path, lambda tmp: Path(tmp).write_text(text), force=force)


def write_output(path, write, suffix: str = "", force: bool = False) -> None:
    """``write(tmp_path)`` into a temporary file that replaces ``path`` on success (same rules as above)."""
    check_output_file(path, force)
    with atomic_path(path, suffix) as tmp:
        write(tmp)
    _remember(Path(path))


def reset_output_dir(path, entries, force: bool = False) -> None:
    """Make ``path`` an lgn2hw output that lgn2hw fills in place, entry by entry, as work finishes (a sweep keeps
    the points that finished when it is interrupted): the checks of :func:`check_output_dir`, then what an
    earlier lgn2hw output listed is removed, and MARKER lists ``entries`` from now on."""
    import json
    import shutil
    path = Path(path)
    check_output_dir(path, force)
    path.mkdir(parents=True, exist_ok=True)
    listed = _listed(path)
    for name in sorted(set(listed or []) | set(entries)) if listed is not None or force else []:
        old = path / name
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        elif old.exists() or old.is_symlink():
            old.unlink()
    with atomic_path(path / MARKER) as tmp:
        tmp.write_text(json.dumps({"tool": "lgn2hw", "entries": sorted(entries)}, indent=1) + "\n")
