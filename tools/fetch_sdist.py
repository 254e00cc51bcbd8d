"""Fetch and unpack a source distribution from the package index without building it.

Usage: python tools/fetch_sdist.py NAME VERSION DEST   (e.g. difflogic 0.1.0 .venv/src)

``pip download`` cannot fetch difflogic 0.1.0 on a machine without CUDA: its setup.py needs CUDA just to
prepare metadata. The tests only need its Python files, so this asks pip's own package finder (which honours
the user's index configuration) for the sdist link, downloads it with pip's session, checks the hash the index
published, and unpacks it to DEST/NAME-VERSION/. Nothing is built or executed. Prints the unpacked directory.
Re-running with the directory present does nothing.
"""
from __future__ import annotations

import hashlib
import io
import os
import sys
import tarfile
import zipfile


def _safe_members(names, dest):
    root = os.path.realpath(dest)
    for name in names:
        target = os.path.realpath(os.path.join(dest, name))
        if not (target == root or target.startswith(root + os.sep)):
            raise SystemExit(f"fetch_sdist: refusing archive member outside the target: {name}")


def fetch(name: str, version: str, dest: str) -> str:
    unpacked = os.path.join(dest, f"{name}-{version}")
    if os.path.isdir(unpacked):
        return unpacked
    from pip._internal.commands import create_command  # pip's finder; no public API exists for this

    cmd = create_command("download")
    options, _ = cmd.parse_args(["--no-deps", "--no-binary", ":all:", "--quiet", f"{name}=={version}"])
    with cmd.main_context():
        session = cmd.get_default_session(options)
        finder = cmd._build_package_finder(options=options, session=session)
        candidates = [c for c in finder.find_all_candidates(name)
                      if str(c.version) == version and not c.link.is_wheel]
        if not candidates:
            raise SystemExit(f"fetch_sdist: no sdist of {name}=={version} on the configured index")
        link = candidates[0].link
        resp = session.get(link.url_without_fragment if hasattr(link, "url_without_fragment") else link.url)
        resp.raise_for_status()
        data = resp.content
    expected = (link.hash_name, link.hash) if link.hash else (None, None)
    if expected[0]:
        got = hashlib.new(expected[0], data).hexdigest()
        if got != expected[1]:
            raise SystemExit(f"fetch_sdist: {link.filename}: {expected[0]} is {got}, index says {expected[1]}")
    os.makedirs(dest, exist_ok=True)
    tmp = unpacked + ".part"
    if link.filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            _safe_members(zf.namelist(), tmp)
            zf.extractall(tmp)
    else:
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            members = [m for m in tf.getmembers() if m.isfile() or m.isdir()]
            _safe_members([m.name for m in members], tmp)
            tf.extractall(tmp, members=members)
    # sdists hold one top-level directory NAME-VERSION/; move it into place
    inner = [os.path.join(tmp, d) for d in os.listdir(tmp)]
    os.replace(inner[0] if len(inner) == 1 and os.path.isdir(inner[0]) else tmp, unpacked)
    if os.path.isdir(tmp):
        os.rmdir(tmp)
    return unpacked


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__.strip().splitlines()[2])
    print(fetch(*sys.argv[1:]))
