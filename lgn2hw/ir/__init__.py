"""The netlist IR and what works directly on it: invariants, text form, analyses, the reference interpreter."""
from .interp import evaluate, evaluate_outputs
from .netlist import FIRST_INPUT_NET, NET_FALSE, NET_TRUE, InputEncoding, Netlist
from .text import dump, parse

__all__ = ["NET_FALSE", "NET_TRUE", "FIRST_INPUT_NET", "InputEncoding", "Netlist", "dump", "parse",
           "evaluate", "evaluate_outputs"]
