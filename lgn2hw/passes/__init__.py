"""Optimisation passes: each a small module, all sharing the contract and driver of :mod:`.base`.

``DEFAULT`` is the pipeline :func:`lgn2hw.optimize` runs when it is not given ``passes``, and so the one
:func:`lgn2hw.compile` runs (unless ``passes=False``) and the command line's ``info``, ``predict`` and ``compile``
run (unless ``--no-passes``). Nothing else runs it: ``load`` returns the netlist as trained, ``predict`` computes
on the netlist it is given, and ``emit_verilog`` runs only :mod:`.lutmap`. It is a plain list, so a caller can
run any sub-list or its own passes through :func:`run_passes` (or ``lgn2hw.optimize(nl, passes=...)``).
"""
from .base import MAX_ROUNDS, Pass, PassReport, pass_names, run_passes
from .const import ConstantFold
from .dce import DeadGates
from .fraig import FunctionalReduce
from .groupsum import GroupSumFold
from .notabsorb import NotAbsorb
from .strash import StructuralHash

DEFAULT = [ConstantFold(), NotAbsorb(), StructuralHash(), FunctionalReduce(), GroupSumFold(), DeadGates()]

__all__ = ["DEFAULT", "MAX_ROUNDS", "Pass", "PassReport", "pass_names", "run_passes", "ConstantFold",
           "DeadGates", "FunctionalReduce", "GroupSumFold", "NotAbsorb", "StructuralHash"]
