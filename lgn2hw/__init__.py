"""lgn2hw: a hardware compiler for trained logic gate networks.

The API (see :mod:`lgn2hw.api`): ``load``, ``optimize``, ``predict``, ``compile``, ``sweep`` and their
results.
"""
__version__ = "0.1.0"

from .api import CompileOptions, CompileResult, compile, load, optimize, predict, sweep, verify  # noqa: E402
from .errors import Lgn2hwError  # noqa: E402
from .ir import Netlist  # noqa: E402

__all__ = ["__version__", "load", "optimize", "predict", "compile", "sweep", "verify", "CompileOptions",
           "CompileResult", "Lgn2hwError", "Netlist"]
