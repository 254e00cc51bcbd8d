"""Routability before synthesis: wiring demand against routing supply, from the LUT-mapped netlist, in seconds.

A trained logic gate network fails on an FPGA by its wiring, not by its LUT count: every gate reads two nets that
may sit anywhere in the layer before. This module estimates, before yosys and nextpnr run, whether nextpnr will
route a core on a device, and stops a build that would not (``compile`` calls :func:`precheck`).

The model (Rent's rule measured by recursive bisection, as in Landman and Russo's and Donath's wiring estimates):

1. The wiring graph. One vertex per gate LUT and per input bit; every GroupSum class gets a binary popcount tree
   over its counted bits (a vertex per adder, weighted so that the tree has the popcount's LUTs, whose edges carry
   the partial count's width in wires). A net is a hyperedge: its driver and its readers.
2. Recursive min-cut bisection with METIS (``pymetis``; one call, ``recursive=True``: part ``p`` of ``2**L`` lies
   in the first half of every bisection that splits its ancestors exactly when the matching bit of ``p`` is 0).
   At every level and for every group, the *demand* is the number of wires crossing its bisection: the nets
   with pins on both sides, each counted with its width.
3. The *supply*: a group of ``n`` LUT-equivalents is placed in a region of ``n / (cells per tile * density)``
   tiles, a square or a 2:1 rectangle that its bisection cuts across the short way; the cut line is ``side``
   tiles long and ``tracks per tile`` wires cross it at every tile (:mod:`lgn2hw.fpga.devices`).
4. The ratio demand / supply, summed over the groups of a level, is taken at the worst level whose groups hold
   at least 128 LUT-equivalents (below that, a group fits a handful of tiles and local routing takes it).
   A random network cuts a constant fraction of its nets at every level (Rent exponent ``p`` near 1), so its
   ratio grows as ``n ** (p - 1/2)``: larger random networks are worse at every size. Locally wired networks
   have ``p`` near 1/2, and their ratio stays flat.
5. ECP5 block RAMs used as counting tables sit in a few fixed rows across the die. A core that needs the blocks
   of more rows than its region spans sends that excess share of its counted bits out of its region, to rows
   far away: each such bit adds a wire to every bisection of its group (it crosses the cut line or runs along
   it to the region's edge). A small core sits across one row and needs none.

Calibration (``bench/bench_route.py``, ``bench/results/route.json``): the thresholds below separate the measured
nextpnr outcomes of trained cones of the shared 48K model (535 to 3,449 gate LUTs), the whole model, locally
wired synthetic networks and the example. The model is an estimate: it knows nothing of timing-driven placement
or of nextpnr's router settings, and the band between the two thresholds is where those decide.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import FitError
from .devices import Device

#: ratio at or below which a design is expected to route with nextpnr's defaults
ROUTES_MAX = 0.48
#: ratio above which it is expected not to route at all; in between: borderline
WONT_ROUTE_MIN = 0.56
#: share of a region's logic sites a placed design fills (nextpnr's analytic placer spreads to about this)
DENSITY = 0.75
#: vertex weights are integers for METIS: this many units per LUT
_UNIT = 8
#: smallest group (LUT-equivalents) whose bisection counts towards the verdict
_MIN_GROUP = 128
#: finest groups the bisection goes down to (LUT-equivalents)
_LEAF = 48
#: LUT4s a popcount spends per counted bit, by family (measured: the shared model with ``--ebr 0`` on ECP5,
#: 12,053 LUT4 besides its 16,202 gate LUTs for 7,838 counted bits; the example on iCE40, 2,056 for 600)
POPCOUNT_LUTS = {"ecp5": 1.55, "ice40": 3.4}
#: a lower bound for the same, used to refuse a design as too large before synthesis (a full-adder tree needs at
#: least one LUT per counted bit minus the count's width; half of it leaves room for packing we do not model)
POPCOUNT_LUTS_MIN = 0.5
#: refuse before synthesis when the LUT estimate exceeds the device by this factor (or the lower bound does at all)
FIT_MARGIN = 1.2
#: LUT4s per bit counted by a block RAM (the adders of the 4-bit counts)
EBR_LUTS = 0.33

VERDICTS = ("routes", "borderline", "will not route")


class RouteError(FitError):
    """A design the routability estimate says nextpnr will not route on the chosen device."""


@dataclass
class Level:
    level: int          # 1: the first bisection (of the whole design)
    groups: int         # groups bisected at this level
    size: float         # mean group size, LUT-equivalents
    demand: float       # wires crossing the bisections, summed over the groups
    supply: float       # tracks across the cut lines, summed over the groups
    ratio: float


@dataclass
class RouteEstimate:
    device: str
    family: str
    verdict: str
    ratio: float            # demand / supply at the worst level
    demand: int             # wires crossing the worst level's cuts
    supply: int             # tracks across them
    level: int              # the worst level (1: the first bisection)
    rent: float             # Rent exponent fitted to the cuts of all levels
    fraction: float         # largest fraction of the network the device is expected to route
    gate_luts: int
    counted_bits: int
    ebr_bits: int
    lut4: int               # LUT4 estimate of the core (gates, popcounts)
    lut4_min: int           # a lower bound for the same
    capacity_lut4: int
    seconds: float
    levels: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list:
        """The verdict and its figures, a few lines for ``lgn2hw info``."""
        out = [f"routing  {self.verdict} on {self.device}: demand {self.demand:,} wires across the level-{self.level} "
               f"cuts against {self.supply:,} tracks (ratio {self.ratio:.2f}; routes <= {ROUTES_MAX:.2f}, will not "
               f"route > {WONT_ROUTE_MIN:.2f})",
               f"  LUT4 ~{self.lut4:,} (at least {self.lut4_min:,}) of {self.capacity_lut4:,}: {self.gate_luts:,} gate "
               f"LUTs, {self.counted_bits:,} counted bits" + (f" ({self.ebr_bits:,} in block RAMs)"
                                                               if self.ebr_bits else ""),
               f"  Rent exponent {self.rent:.2f}; largest fraction of the network expected to route: "
               f"{100 * self.fraction:.0f} %  ({self.seconds:.1f} s)"]
        return out


# --- the wiring graph ---------------------------------------------------------------------------------------
def _graph(mapped, popcount_luts: float):
    """(vertex weights, pins): pins are rows (hyperedge, vertex, width). Vertices: inputs, LUT nodes, popcount
    adders."""
    from ..ir.netlist import FIRST_INPUT_NET
    n_in, n_nodes = mapped.n_inputs, mapped.n_nodes
    base = n_in                                           # vertex of node i: base + i; of input j: j
    weights = [np.full(n_in, max(1, _UNIT // 2), np.int64), np.full(n_nodes, _UNIT, np.int64)]
    # gate nets: driver plus readers, one hyperedge per net
    k = mapped.fanin.shape[1] if mapped.fanin.ndim == 2 else 0
    used = (np.arange(k)[None, :] < mapped.arity[:, None]) if k else np.zeros((n_nodes, 0), bool)
    reader = np.broadcast_to(np.arange(n_nodes)[:, None], used.shape)[used] + base
    src = mapped.fanin[used].astype(np.int64) - FIRST_INPUT_NET   # vertex of the driving net (-2, -1: constants)
    keep = src >= 0
    reader, src = reader[keep], src[keep]
    edges = [np.stack([src, src, np.ones_like(src)], 1), np.stack([src, reader, np.ones_like(src)], 1)]
    next_vertex = n_in + n_nodes
    next_edge = int(mapped.n_nets)
    # popcount trees: per class, pair the counted bits up to the root
    tree_weight = max(1, round(_UNIT * popcount_luts))
    pc_weights = []
    for c in range(mapped.n_classes):
        nets = mapped.out_nets[mapped.out_class == c].astype(np.int64) - FIRST_INPUT_NET
        level = [(int(v), 1) for v in nets if v >= 0]      # (vertex, width of its count)
        while len(level) > 1:
            nxt = []
            for i in range(0, len(level) - 1, 2):
                (a, wa), (b, wb) = level[i], level[i + 1]
                v = next_vertex
                next_vertex += 1
                pc_weights.append(tree_weight)
                for child, width in ((a, wa), (b, wb)):
                    edges.append(np.array([[next_edge, child, width], [next_edge, v, width]], np.int64))
                    next_edge += 1
                nxt.append((v, max(wa, wb) + 1))
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
    weights.append(np.asarray(pc_weights, np.int64))
    pins = np.concatenate(edges) if edges else np.zeros((0, 3), np.int64)
    return np.concatenate(weights), pins


def _csr(n: int, pins: np.ndarray):
    """A weighted graph for METIS from the hyperedges: every reader joined to its driver (the net's first pin),
    weights summed over parallel edges, no self loops."""
    order = np.lexsort((pins[:, 1], pins[:, 0]))
    p = pins[order]
    first = np.ones(len(p), bool)
    first[1:] = p[1:, 0] != p[:-1, 0]
    driver = p[np.maximum.accumulate(np.where(first, np.arange(len(p)), 0)), 1]
    u, v, w = driver, p[:, 1], p[:, 2]
    keep = u != v
    u, v, w = u[keep], v[keep], w[keep]
    a = np.concatenate([u, v])
    b = np.concatenate([v, u])
    ww = np.concatenate([w, w])
    key = a * n + b
    order = np.argsort(key, kind="stable")
    key, ww = key[order], ww[order]
    uniq, start = np.unique(key, return_index=True)
    wsum = np.add.reduceat(ww, start) if len(ww) else ww
    a, b = uniq // n, uniq % n
    xadj = np.zeros(n + 1, np.int64)
    np.add.at(xadj, a + 1, 1)
    return np.cumsum(xadj), b, wsum


def _bisect(n: int, weights: np.ndarray, pins: np.ndarray, levels: int, seed: int) -> np.ndarray:
    """Part of each vertex, 0 .. 2**levels - 1, from METIS' recursive bisection."""
    import pymetis
    xadj, adjncy, ew = _csr(n, pins)
    opts = pymetis.Options(seed=seed)
    graph = pymetis.CSRAdjacency(xadj.tolist(), adjncy.tolist())
    _, parts = pymetis.part_graph(1 << levels, graph, vweights=weights.tolist(),
                                  eweights=np.maximum(ew, 1).tolist(), recursive=True, options=opts)
    return np.asarray(parts, np.int64)


def _level_cuts(parts, weights, pins, levels: int, ebr_w: np.ndarray):
    """Per level: (groups, mean size, demand per group, size per group)."""
    out = []
    width = np.zeros(int(pins[:, 0].max()) + 1 if len(pins) else 1)
    width[pins[:, 0]] = pins[:, 2]
    for lv in range(1, levels + 1):
        child = parts >> (levels - lv)
        parent = child >> 1
        size = np.bincount(parent, weights=weights, minlength=1 << (lv - 1)) / _UNIT
        # a net is cut at its parent's bisection when its pins lie in both children of that parent
        pc = child[pins[:, 1]]
        key = np.unique(pins[:, 0] * (1 << levels) + pc)
        net, ch = key >> levels, key & ((1 << levels) - 1)
        par_key = net * (1 << levels) + (ch >> 1)
        uk, counts = np.unique(par_key, return_counts=True)
        cut = uk[counts == 2]
        demand = np.zeros(1 << (lv - 1))
        if len(cut):
            np.add.at(demand, cut & ((1 << levels) - 1), width[cut >> levels])
        demand += np.bincount(parent, weights=ebr_w, minlength=1 << (lv - 1))
        out.append((lv, size, demand))
    return out


def _lut_estimate(family: str, gate_luts: int, counted: int, ebr_bits: int) -> tuple:
    rest = max(0, counted - ebr_bits)
    est = gate_luts + POPCOUNT_LUTS.get(family, 1.55) * rest + EBR_LUTS * ebr_bits
    low = gate_luts + POPCOUNT_LUTS_MIN * rest
    return int(round(est)), int(round(low))


def ebr_plan(mapped, device: Device, ebr_blocks: int | None) -> tuple:
    """(bits, blocks) the backend would count in block RAMs (ECP5; ``ebr_blocks`` None: every block), from its
    own plan: groups of 12 bits of one class and polarity, two per block, over the bits counted once."""
    if device.family != "ecp5":
        return 0, 0
    from ..back._ebr import ADDR_BITS, plan_groups
    blocks = device.bram if ebr_blocks is None else min(int(ebr_blocks), device.bram)
    nets = mapped.out_nets.astype(np.int64)
    live = np.flatnonzero(nets >= 2)                                # the constant nets aside
    key = nets[live] * 2 * max(mapped.n_classes, 1) + mapped.out_class[live] * 2 + mapped.out_invert[live]
    _, first, count = np.unique(key, return_index=True, return_counts=True)
    once = np.sort(live[first[count == 1]])                         # a bit counted twice has weight 2: no block
    plan = plan_groups(mapped.out_class.tolist(), mapped.out_invert.tolist(), once.tolist(), blocks)
    return len(plan.groups) * ADDR_BITS, len(plan.blocks)


def estimate(mapped, device: Device, *, ebr_bits: int = 0, ebr_blocks: int = 0, ff: int | None = None,
             seed: int = 1) -> RouteEstimate:
    """Estimate the routability of the LUT-mapped netlist ``mapped`` (:func:`lgn2hw.passes.lutmap.lut_map`) as a
    core on ``device``: ``ebr_bits`` output bits counted in ``ebr_blocks`` block RAMs, ``ff`` flip-flops if
    known (they take logic sites too)."""
    t0 = time.monotonic()
    family = device.family
    counted = int(len(mapped.out_nets))
    lut4, lut4_min = _lut_estimate(family, mapped.n_nodes, counted, ebr_bits)
    pc_luts = POPCOUNT_LUTS.get(family, 1.55) * (max(0, counted - ebr_bits) + EBR_LUTS * ebr_bits) / max(counted, 1)
    weights, pins = _graph(mapped, pc_luts)
    n = len(weights)
    total = weights.sum() / _UNIT
    area_mult = max(1.0, (ff or 0) / max(lut4, 1))       # sites per LUT-equivalent
    tiles_per_unit = area_mult / (device.cells_per_tile * DENSITY)
    # block RAM input bits that must leave the core's region (see the module docstring, 5.)
    ebr_w = np.zeros(n)
    if ebr_bits and device.bram and device.bram_rows:
        side = math.sqrt(total * tiles_per_unit)
        spacing = math.sqrt(device.tiles) / device.bram_rows
        rows_needed = ebr_blocks / (device.bram / device.bram_rows)
        leave = max(0.0, 1.0 - max(1.0, side / spacing) / rows_needed) if rows_needed > 0 else 0.0
        from ..ir.netlist import FIRST_INPUT_NET
        drv = mapped.out_nets.astype(np.int64) - FIRST_INPUT_NET
        drv = drv[drv >= 0]
        if len(drv):
            np.add.at(ebr_w, drv, leave * ebr_bits / len(drv))
    levels = int(np.clip(math.floor(math.log2(max(total, 2) / _LEAF)), 1, 14))
    parts = _bisect(n, weights, pins, levels, seed)
    rows = []
    for lv, size, demand in _level_cuts(parts, weights, pins, levels, ebr_w):
        tiles = np.minimum(size * tiles_per_unit, device.tiles)
        side = np.sqrt(tiles if lv % 2 else tiles / 2)     # odd levels cut squares, even levels 2:1 rectangles
        supply = np.maximum(side, 1.0) * device.tracks_per_tile
        d, s = float(demand.sum()), float(supply.sum())
        rows.append(Level(lv, len(size), float(size.mean()), d, s, d / s if s else 0.0))
    counted_rows = [r for r in rows if r.size >= _MIN_GROUP] or rows[:1]
    worst = max(counted_rows, key=lambda r: r.ratio)
    rent = _rent(rows)
    ratio = worst.ratio
    verdict = VERDICTS[0] if ratio <= ROUTES_MAX else VERDICTS[1] if ratio <= WONT_ROUTE_MIN else VERDICTS[2]
    fraction = _fraction(ratio, rent, lut4_min, device.lut4)
    return RouteEstimate(device.name, family, verdict, round(ratio, 3), int(round(worst.demand)),
                         int(round(worst.supply)), worst.level, round(rent, 3), round(fraction, 3), mapped.n_nodes,
                         counted, int(ebr_bits), lut4, lut4_min, device.lut4, round(time.monotonic() - t0, 2),
                         [asdict(r) for r in rows])


def _options(est: RouteEstimate, device: Device) -> list:
    """What may make a design route, for the error's hint: only the options that apply to it."""
    from .devices import DEVICES
    out = []
    if any(d.family == device.family and d.lut4 > device.lut4 for d in DEVICES.values()):
        out.append("a larger device")
    if est.ratio <= 1.15 * WONT_ROUTE_MIN:
        out.append("a lower --freq with --nextpnr-opts=--no-tmdriv (wirelength-driven placement)")
    if est.ebr_bits:
        out.append("--ebr 0 (block-RAM counters far from the logic add wiring)")
    out.append("a network trained with local wiring (lgn2hw train --connections local)")
    return out


def _rent(rows) -> float:
    """Rent exponent: slope of log(cut per bisection) against log(group size) over the levels."""
    pts = [(math.log(r.size), math.log(r.demand / r.groups)) for r in rows if r.demand > 0 and r.size >= 16]
    if len(pts) < 2:
        return 0.5
    x, y = np.array(pts).T
    return float(np.clip(np.polyfit(x, y, 1)[0], 0.0, 1.0))


def _fraction(ratio: float, rent: float, lut4_min: int, capacity: int) -> float:
    """Largest share of the network that stays within both the LUTs and the routing threshold: the ratio scales
    as size ** (rent - 1/2), so a fraction f of the network has ratio ratio * f ** (rent - 1/2)."""
    f = min(1.0, capacity / max(lut4_min, 1))
    if ratio > ROUTES_MAX and rent > 0.5:
        f = min(f, (ROUTES_MAX / ratio) ** (1.0 / (rent - 0.5)))
    elif ratio > ROUTES_MAX:
        f = 0.0
    return f


# --- entry points ---------------------------------------------------------------------------------------------
def estimate_model(nl, device: Device, *, lut_size: int = 4, ebr_blocks: int | None = None, seed: int = 1):
    """Map ``nl`` (after the passes) to LUTs and estimate it on ``device`` as the backend would build it by
    default (``ebr_blocks`` None: every block RAM of an ECP5 device)."""
    from ..passes.lutmap import lut_map
    mapped = lut_map(nl, lut_size)[0] if lut_size else nl
    bits, blocks = ebr_plan(mapped, device, ebr_blocks)
    return estimate(mapped, device, ebr_bits=bits, ebr_blocks=blocks, seed=seed)


def precheck(nl, core_report: dict, target, *, lut_size: int = 4, warn=None) -> dict:
    """The check ``compile`` runs after emitting the core and before synthesis: LUTs and routing. Raises
    :class:`~lgn2hw.errors.FitError` when the LUT lower bound exceeds the device, or the estimate exceeds it by
    ``FIT_MARGIN``; :class:`RouteError` when the
    estimate says the design will not route; warns when it is borderline. Returns the estimate as a dict."""
    from ..passes.lutmap import lut_map
    device = target.device
    mapped = lut_map(nl, lut_size)[0] if lut_size else nl
    pc = core_report.get("popcount", {})
    # gate_registers holds every bank, the input bank included
    ff = int(core_report.get("gate_registers", 0)) + int((core_report.get("fanout") or {}).get("register_copies", 0))
    est = estimate(mapped, device, ebr_bits=int(pc.get("ebr_bits", 0)), ebr_blocks=int(pc.get("ebr_blocks", 0)),
                   ff=ff or None)
    if est.lut4_min > device.lut4 or est.lut4 > FIT_MARGIN * device.lut4:
        # the grammar of the fit step's error (flow.fit_check), which refused such designs after synthesis
        raise FitError(f"the design needs ~{max(est.lut4, est.lut4_min):,} LUT4, {target.name} has {device.lut4:,}",
                       hint=f"estimated before synthesis from {est.gate_luts:,} gate LUTs and {est.counted_bits:,} "
                            "counted bits; choose a larger device or board ('lgn2hw boards'), or a smaller model")
    if est.verdict == VERDICTS[2]:
        raise RouteError(f"the core will not route on {target.name}: its wiring needs ~{est.demand:,} wires across "
                         f"a cut that has ~{est.supply:,} tracks (ratio {est.ratio:.2f}, limit {WONT_ROUTE_MIN:.2f}); "
                         f"about {100 * est.fraction:.0f} % of this network would route",
                         hint="; ".join(_options(est, device)) + "; --no-route-check builds anyway")
    if est.verdict == VERDICTS[1] and warn:
        warn(f"routing is borderline on {target.name}: ~{est.demand:,} wires across a cut of ~{est.supply:,} "
             f"tracks (ratio {est.ratio:.2f}); place and route may not finish (a lower --freq with "
             f"--nextpnr-opts=--no-tmdriv helps)")
    elif est.lut4 > device.lut4 and warn:
        warn(f"the core may need ~{est.lut4:,} LUT4, {target.name} has {device.lut4:,}")
    return est.as_dict()
