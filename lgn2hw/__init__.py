"""lgn2hw: a hardware compiler for trained logic gate networks."""
__version__ = "0.1.0"

from .errors import Lgn2hwError  # noqa: E402
from .ir import Netlist  # noqa: E402

__all__ = ["__version__", "Lgn2hwError", "Netlist"]
