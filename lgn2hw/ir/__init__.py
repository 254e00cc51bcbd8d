"""The netlist IR and what works directly on it: invariants, text form, analyses, the reference interpreter."""
from .netlist import NET_FALSE, NET_TRUE, FIRST_INPUT_NET, InputEncoding, Netlist
from .text import dump, parse
from .interp import evaluate, evaluate_outputs

__all__ = ["NET_FALSE", "NET_TRUE", "FIRST_INPUT_NET", "InputEncoding", "Netlist", "dump", "parse",
           "evaluate", "evaluate_outputs"]
