"""Dead-gate elimination: remove every node whose value reaches no output bit."""
from __future__ import annotations

from ..ir.analysis import live_nodes
from . import _rewire as rw
from .base import Pass


class DeadGates(Pass):
    name = "dce"

    def run(self, nl):
        removed = rw.compact(nl, live_nodes(nl))
        return nl, {"changed": bool(removed), "removed": removed}
