"""A build is a plan, then a run (the model is Amaranth's ``BuildPlan``).

A :class:`BuildPlan` is data: the files a build directory starts with and the :class:`Step` list, each step with
its tool, its arguments and the files it reads and writes. ``plan.digest()`` hashes all of it with the identity of
every tool, so two builds with the same digest run the same commands on the same inputs. :meth:`check_tools` looks
every tool up (and checks its version) before the first step runs, so a missing nextpnr is said in the first
second, not after synthesis.

:class:`StepCache` keeps the outputs of finished steps under ``~/.cache/lgn2hw/steps`` (``LGN2HW_BUILD_CACHE``
moves it), keyed by the step, its tool's identity and the content of every file it reads: a step whose inputs and
tool are unchanged is restored instead of run (a seed sweep synthesises once). The tools are deterministic (fixed
seeds), so a restored step gives the bytes a fresh run would. Builds running at once may share the cache: an entry
is written under a temporary name and renamed into place whole, so a reader sees all of it or none.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .._files import file_digest


@dataclass(frozen=True)
class Step:
    name: str                 # "synth-core", "postsim", "synth", "fit", "pnr", "bitstream"
    tool: str | None          # the external tool it runs; None: lgn2hw's own code (``params`` says what)
    args: tuple = ()          # the tool's arguments, relative paths only (YoWASP sees a private /tmp)
    inputs: tuple = ()        # files of the build directory the step reads
    outputs: tuple = ()       # files it writes: what the cache keeps and restores
    params: tuple = ()        # further facts its result depends on, as sorted (key, value) pairs
    uses: tuple = ()          # tools whose files it reads without running them (yosys' cell models)
    cache: bool = True        # False for steps that take no time (the fit check)

    def as_dict(self) -> dict:
        return {"name": self.name, "tool": self.tool, "args": list(self.args), "inputs": list(self.inputs),
                "outputs": list(self.outputs), "params": [list(p) for p in self.params], "uses": list(self.uses)}


@dataclass
class BuildPlan:
    files: dict               # name -> str or bytes: what the build directory starts with
    steps: list               # Step, in order
    tools: dict = field(default_factory=dict)   # name -> identity, filled in by check_tools()

    def tool_names(self) -> list:
        """The tools the steps run or read, in the order the steps first need them."""
        names = [t for s in self.steps for t in ((s.tool,) if s.tool else ()) + tuple(s.uses)]
        return list(dict.fromkeys(names))

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def check_tools(self) -> dict:
        """Every tool the plan needs, found and version-checked before anything runs; ``{name: Tool}``."""
        from ..errors import ToolchainError
        from .toolchain import identity_of, require
        found, missing = {}, []
        for name in self.tool_names():
            try:
                found[name] = require(name)
            except ToolchainError as err:
                missing.append(err)
        if missing:
            first = missing[0]
            if len(missing) > 1:     # one line names them all, so that one install round fixes the build
                first.message += f"; so {'is' if len(missing) == 2 else 'are'} " + \
                    " and ".join(e.tool or "?" for e in missing[1:])
                first.args = (first.line(),)
            raise first
        self.tools = {name: identity_of(tool) for name, tool in found.items()}
        return found

    def digest(self) -> str:
        """sha256 over the files, the steps and the tools' identities (call :meth:`check_tools` first)."""
        h = hashlib.sha256()
        for name in sorted(self.files):
            data = self.files[name]
            h.update(name.encode() + b"\0" + _sha256(data.encode() if isinstance(data, str) else data).encode())
        h.update(json.dumps({"steps": [s.as_dict() for s in self.steps], "tools": self.tools},
                            sort_keys=True).encode())
        return h.hexdigest()

    def write(self, bdir: Path) -> None:
        bdir.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (bdir / name).write_bytes(data.encode() if isinstance(data, str) else data)
        (bdir / "plan.json").write_text(json.dumps({"digest": self.digest(), "tools": self.tools,
                                                    "files": sorted(self.files),
                                                    "steps": [s.as_dict() for s in self.steps]},
                                                   indent=2, sort_keys=True) + "\n")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


#: The cache keeps at most this many bytes (``LGN2HW_BUILD_CACHE_MB`` changes it); the least recently used
#: steps go first. A 48K-gate core's synthesis is ~90 MB (netlist JSON and Verilog).
CACHE_LIMIT_MB = 4096


def cache_root() -> Path:
    from .._native import cache_dir
    return Path(os.environ.get("LGN2HW_BUILD_CACHE") or cache_dir() / "steps")


class StepCache:
    """Finished steps' outputs by key; ``StepCache(None)`` keeps nothing (``--no-cache``)."""

    def __init__(self, root: Path | None):
        self.root = Path(root) if root is not None else None

    def key(self, step: Step, bdir: Path, tools: dict) -> str | None:
        """The step's cache key: its definition, the identity of its tools (``tools``: name -> identity) and the
        content of every file it reads; None when the step is not cached."""
        if self.root is None or not step.cache:
            return None
        missing = [n for n in step.inputs if not (bdir / n).is_file()]
        if missing:
            return None
        return _sha256(json.dumps({"step": step.as_dict(),
                                   "tools": {t: tools.get(t) for t in (step.tool, *step.uses) if t},
                                   "inputs": {n: file_digest(bdir / n) for n in step.inputs}},
                                  sort_keys=True).encode())

    def restore(self, key: str | None, step: Step, bdir: Path) -> dict | None:
        """Copy a cached step's outputs into ``bdir``; its record (wall time of the run that made it), or None."""
        if key is None:
            return None
        entry = self.root / key
        try:
            meta = json.loads((entry / "step.json").read_text())
            for name in meta["outputs"]:
                shutil.copyfile(entry / name, bdir / name)
        except (OSError, ValueError, KeyError):
            return None
        with contextlib.suppress(OSError):
            os.utime(entry)                # recently used: pruned last
        return meta

    def store(self, key: str | None, step: Step, bdir: Path, seconds: float, warn=None) -> None:
        """Keep a finished step's outputs; a full or read-only cache is a warning, never a failed build."""
        if key is None:
            return
        outputs = [n for n in step.outputs if (bdir / n).is_file()]
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", suffix=".part", dir=self.root))
            try:
                for name in outputs:
                    shutil.copyfile(bdir / name, tmp / name)
                (tmp / "step.json").write_text(json.dumps({"step": step.name, "outputs": outputs,
                                                           "seconds": round(seconds, 2)}, sort_keys=True))
                os.replace(tmp, self.root / key)
                self.prune()
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
                if not (self.root / key).is_dir():
                    raise
        except OSError as err:
            if warn:
                warn(f"the build cache {self.root} cannot be written ({err.strerror}); step {step.name} not kept")

    def prune(self, limit_mb: float | None = None) -> None:
        """Remove the least recently used entries until the cache holds at most ``limit_mb`` megabytes."""
        limit = float(limit_mb if limit_mb is not None else os.environ.get("LGN2HW_BUILD_CACHE_MB", CACHE_LIMIT_MB))
        entries = []
        for entry in self.root.iterdir():
            if entry.is_dir() and not entry.name.startswith("."):
                try:        # another build (a sweep's point) may be pruning the same cache
                    size = sum(f.stat().st_size for f in entry.iterdir() if f.is_file())
                    entries.append((entry.stat().st_mtime, size, entry))
                except OSError:
                    continue
        total = sum(size for _, size, _ in entries)
        for _, size, entry in sorted(entries):
            if total <= limit * 1e6:
                break
            shutil.rmtree(entry, ignore_errors=True)
            total -= size
