"""The pass contract and the driver.

A pass is any object with a ``name`` (a short identifier) and a method::

    run(netlist) -> (netlist, stats)

``run`` may change the netlist it is given in place and return it (or return a new one); the driver always hands
it a private copy. ``stats`` is a dict of JSON-ready figures and must contain ``stats["changed"]``: whether the
pass changed anything at all. A pass does its whole job in one sweep (worklist or vectorised), never one change
per call; it must preserve every class count exactly, never add nodes and be idempotent.

:func:`run_passes` runs a plain list of passes round after round until a whole round changes nothing (a
fixpoint), raising :class:`PassError` if that takes more than ``max_rounds`` rounds. It records, per pass run,
the time, the stats and the node count per origin layer.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import NetlistError, PassError, UsageError
from ..ir.analysis import live_per_layer
from ..ir.netlist import Netlist

MAX_ROUNDS = 16


class Pass:
    """Convenience base class; any object with ``name`` and ``run`` is a pass."""
    name = "pass"

    def run(self, nl: Netlist):  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@dataclass
class PassReport:
    """What the driver saw: one entry per pass run, totals per pass, layer figures before and after."""
    rounds: int = 0
    time_s: float = 0.0
    gates_trained: int = 0
    gates_live: int = 0
    layers_trained: dict = field(default_factory=dict)   # origin layer -> nodes in the input netlist
    layers_live: dict = field(default_factory=dict)      # origin layer -> nodes reaching an output at the end
    runs: list = field(default_factory=list)             # {"round", "pass", "time_s", "nodes", "layers", stats}
    dumped: Netlist | None = None                        # the netlist after the last run of ``dump_after``

    def totals(self) -> dict:
        """Per pass: runs, total time, how many runs changed something, nodes removed in total."""
        out: dict = {}
        for r in self.runs:
            t = out.setdefault(r["pass"], {"runs": 0, "time_s": 0.0, "changed_runs": 0, "nodes_removed": 0})
            t["runs"] += 1
            t["time_s"] += r["time_s"]
            t["changed_runs"] += int(bool(r["stats"].get("changed")))
            t["nodes_removed"] += r["nodes_before"] - r["nodes"]
        for t in out.values():
            t["time_s"] = round(t["time_s"], 6)
        return out

    def as_dict(self) -> dict:
        return {
            "rounds": self.rounds, "time_s": round(self.time_s, 6),
            "gates_trained": self.gates_trained, "gates_live": self.gates_live,
            "layers": [{"layer": l, "trained": self.layers_trained.get(l, 0), "live": self.layers_live.get(l, 0)}
                       for l in sorted(set(self.layers_trained) | set(self.layers_live))],
            "passes": self.totals(),
            "runs": [{**r, "time_s": round(r["time_s"], 6)} for r in self.runs],
        }


    def annotate(self, info: dict) -> dict:
        """Add the optimisation figures to an :func:`lgn2hw.ir.analysis.describe` summary (in place):
        ``gates_live``, a ``live`` count per layer entry, and per-pass totals."""
        info["gates_live"] = self.gates_live
        for entry in info.get("layers", []):
            entry["live"] = self.layers_live.get(entry["layer"], 0)
        # Times are left out so that the same model always gives byte-identical output (bench/ measures them).
        totals = {name: {k: v for k, v in t.items() if k != "time_s"} for name, t in self.totals().items()}
        info["passes"] = {"rounds": self.rounds, "per_pass": totals,
                          "runs": [{"round": r["round"], "pass": r["pass"], "nodes": r["nodes"],
                                    "layers": {str(k): v for k, v in r["layers"].items()},
                                    "stats": r["stats"]} for r in self.runs]}
        return info


def pass_names(passes) -> list:
    return [p.name for p in passes]


def _layer_counts(nl: Netlist) -> dict:
    if not nl.n_nodes:
        return {}
    layers, counts = np.unique(nl.layer, return_counts=True)
    return {int(l): int(c) for l, c in zip(layers, counts)}


def run_passes(nl: Netlist, passes, *, check: bool = False, max_rounds: int = MAX_ROUNDS,
               dump_after: str | None = None):
    """Run ``passes`` to a fixpoint on a copy of ``nl``; returns ``(netlist, PassReport)``.

    ``check`` validates the IR invariants after every pass run (tests and ``--debug`` turn it on).
    ``dump_after`` names a pass; the report's ``dumped`` is the netlist right after its last run."""
    passes = list(passes)
    names = pass_names(passes)
    if dump_after is not None and dump_after not in names:
        raise UsageError(f"--dump-after must name a pass of the pipeline ({', '.join(names)}), not {dump_after!r}")
    if len(set(names)) != len(names):
        raise PassError(f"pass names must be unique in a pipeline, not {names}")
    report = PassReport(gates_trained=nl.n_nodes, layers_trained=_layer_counts(nl))
    start = time.perf_counter()
    cur = nl
    converged = not passes
    for rnd in range(1, max_rounds + 1 if passes else 1):
        changed_any = False
        for p in passes:
            t0 = time.perf_counter()
            before = cur.n_nodes
            out, stats = p.run(cur.copy())
            dt = time.perf_counter() - t0
            if not isinstance(stats, dict) or "changed" not in stats:
                raise PassError(f"pass {p.name!r} must return (netlist, stats) with stats['changed']")
            if check:
                try:
                    out.check()
                except NetlistError as err:
                    raise PassError(f"pass {p.name!r} broke an IR invariant: {err.line()}",
                                    hint="this is an lgn2hw bug; report it with the model") from None
                if out.n_nodes > before:
                    raise PassError(f"pass {p.name!r} grew the netlist from {before} to {out.n_nodes} nodes")
            report.runs.append({"round": rnd, "pass": p.name, "time_s": dt, "nodes_before": before,
                                "nodes": out.n_nodes, "layers": _layer_counts(out), "stats": stats})
            if dump_after == p.name:
                report.dumped = out
            changed_any |= bool(stats["changed"])
            cur = out
        report.rounds = rnd
        if not changed_any:
            converged = True
            break
    if not converged:
        raise PassError(f"passes did not reach a fixpoint within {max_rounds} rounds",
                        hint="a pass keeps reporting changes; rerun with --debug and report it")
    report.time_s = time.perf_counter() - start
    live = live_per_layer(cur)
    report.layers_live = live
    report.gates_live = int(sum(live.values()))
    if cur is nl:
        cur = nl.copy()
    return cur, report
