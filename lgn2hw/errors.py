"""The error family. Every failure a user can cause is one of these; the CLI prints it as one line."""
from __future__ import annotations

import contextlib


class Lgn2hwError(Exception):
    """Base class: ``str(err)`` is the one-line message (with its location), ``err.hint`` an optional fix.

    Build errors also carry what a caller may act on without reading the text: ``step`` (the build step),
    ``tool`` (the external tool), ``log`` (the path of its log) and ``timed_out`` (a time limit ended it)."""

    def __init__(self, message: str, *, location: str | None = None, hint: str | None = None,
                 step: str | None = None, tool: str | None = None, log: str | None = None, timed_out: bool = False):
        self.message = message
        self.location = location
        self.hint = hint
        self.step = step
        self.tool = tool
        self.log = str(log) if log is not None else None
        self.timed_out = timed_out
        super().__init__(self.line())

    def line(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message

    def at(self, location: str) -> "Lgn2hwError":
        """Prefix a location (outermost first), e.g. the file name in front of ``layer 2[7]``."""
        self.location = f"{location}: {self.location}" if self.location else location
        self.args = (self.line(),)
        return self


class UsageError(Lgn2hwError):
    """Bad command-line arguments or input arrays."""


class CheckpointError(Lgn2hwError):
    """A checkpoint that cannot be read, is not of a known kind, or is inconsistent."""


class NetlistError(Lgn2hwError):
    """A netlist that breaks an IR invariant, or IR text that does not parse."""


class PassError(Lgn2hwError):
    """An optimisation pass that did not converge or broke an invariant."""


class ToolchainError(Lgn2hwError):
    """A missing, too old or failing external tool (yosys, nextpnr, simulators, programmers)."""


class FitError(Lgn2hwError):
    """A design that does not fit the chosen device."""


class OutputError(Lgn2hwError):
    """An output path lgn2hw may not write: it holds something lgn2hw did not write (``--force`` overrides)."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C, so that tool processes end and partial outputs go."""


#: the signals that end a process at once by default and that lgn2hw turns into :class:`Terminated`
UNWOUND_SIGNALS = ("SIGTERM", "SIGHUP")


def _raise_terminated(signum, frame):
    raise Terminated(signum)


@contextlib.contextmanager
def signals_unwind(take: bool = False):
    """While inside, SIGTERM and SIGHUP raise :class:`Terminated`, so that ``finally`` blocks remove temporary
    outputs and end tool processes. A library call (``take`` False) changes only a signal whose handler is the
    default, which would end the process with no cleanup; a handler the program set stays. The command line
    (``take`` True) owns the process and takes both. Only in the main thread (Python delivers signals there);
    the handlers before are restored on the way out."""
    import signal
    import threading
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for name in UNWOUND_SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None and (take or signal.getsignal(sig) == signal.SIG_DFL):
                saved[sig] = signal.signal(sig, _raise_terminated)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
