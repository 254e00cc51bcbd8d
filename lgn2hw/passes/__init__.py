"""Optimisation passes: each a small module, all sharing the contract and driver of :mod:`.base`.

``DEFAULT`` is the pipeline ``lgn2hw predict``, ``info`` and the backends run; it is a plain list, so a caller
can run any sub-list or its own passes through :func:`run_passes`.
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
