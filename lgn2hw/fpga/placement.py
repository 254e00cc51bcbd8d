"""A placement of the core's gate logic computed by lgn2hw, handed to nextpnr as ``BEL`` attributes.

nextpnr places a gate network as a bag of cells, at a density fixed in its ECP5 architecture code (HeAP's 0.75),
and randomly wired networks of a few thousand LUTs congest where it packs them. lgn2hw knows the structure (which
register belongs to which LUT, which cells form the gate pipeline, how the wiring cuts) and writes a placement
into the synthesized netlist (yosys' JSON, ``placed.json``) before place and route:

1. *Nodes*: every gate LUT of the gate module (``<gates>.g<level>_<i>``) together with the flip-flop it drives
   (``<gates>.f<bank>_<j>``, the register that closes its stage), every other register of the gate module (the
   input register and the registers that carry a bit past a stage) on its own, and the popcount's first adders
   (``<popcount>.fa<n>_c/_s``, LUT cells) with their registers. A register on its own takes part in the
   bisection but gets no site: nextpnr's timing-driven placement puts it between its source and its readers
   (fixed, such a register was the critical path of the placed cone with ``cin`` popcounts, 193.4 MHz, and
   197.9 MHz when left free; bench/results/placement.json). nextpnr's ECP5 packer pairs a flip-flop with the
   LUT that drives its data input (``ecp5/pack.cc``, ``pack_ffs``), so the two sit in the same slice at the same
   index (``SLICEA.K0`` with ``SLICEA.FF0``).
2. *Min-cut placement* (Breuer 1977): METIS' recursive bisection of the node graph, cut for cut with the sites of
   a rectangle of logic tiles (each cut across its longer side, whole tiles to each half, in proportion to the
   nodes), down to parts of about one tile.
3. *Density*: the rectangle holds ``nodes / density`` sites, as square as the device's rows allow, centred on the
   die with room for what nextpnr places itself (the popcount's carry adders, argmax, stream control). The
   density is chosen so that the worst cut of the bisection, counted as :mod:`lgn2hw.fpga.route` counts it, is
   at most ``TARGET_RATIO`` of the tracks across its cut line.

The constraints are hard: nextpnr binds a cell with a ``BEL`` attribute with user strength and never moves it;
YoWASP's nextpnr has no Python for regions (``docs/toolchain-notes.md``). The same netlist gives the same
placement: nodes are sorted by name, METIS runs with a fixed seed.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UsageError

PLACEMENTS = ("nextpnr", "lgn2hw", "auto")

_GATE_LUT = re.compile(r"(?:^|\.)gates\.g(\d+)_(\d+)$")
_GATE_FF = re.compile(r"(?:^|\.)gates\.f(\d+)_(\d+)$")
_COUNT_LUT = re.compile(r"(?:^|\.)popcount\.fa(\d+)_([cs])$")     # the popcount's first adders (LUT cells)


@dataclass(frozen=True)
class Grid:
    """The logic tiles of one device as nextpnr names their sites."""
    family: str
    device: str          # a device of this grid (lgn2hw.fpga.devices), for its routing tracks
    xs: tuple            # columns of logic tiles
    ys: tuple            # rows of logic tiles
    slots: int           # LUT + flip-flop pairs per tile
    lut: str             # LUT cell type in the synthesized netlist
    ff: tuple            # flip-flop cell types

    def bels(self, x: int, y: int, slot: int) -> tuple:
        """(LUT site, flip-flop site) of pair ``slot`` of tile (x, y)."""
        if self.family == "ecp5":
            site = f"X{x}/Y{y}/SLICE{'ABCD'[slot // 2]}"
            return f"{site}.K{slot % 2}", f"{site}.FF{slot % 2}"
        site = f"X{x}/Y{y}/lc{slot}"       # iCE40: one logic cell holds the LUT and its flip-flop
        return site, site


# Logic tile rows and columns, probed with nextpnr 0.11 (a LUT and its flip-flop given a BEL at every column and
# row in turn: nextpnr stops with "No Bel named ..." where there is no slice): on the LFE5U-85F the rows 10, 22,
# ..., 82 hold block RAM and DSP, rows 0-1 and 94 and columns 0-1 and 124-125 the IO ring.
_ECP5_85_ROWS = tuple(y for y in range(2, 94) if (y - 10) % 12 != 0)
GRIDS = {
    "LFE5U-85F": Grid("ecp5", "LFE5U-85F", tuple(range(2, 124)), _ECP5_85_ROWS, 8, "LUT4", ("TRELLIS_FF",)),
}
for _name in ("LFE5UM-85F", "LFE5UM5G-85F"):
    GRIDS[_name] = GRIDS["LFE5U-85F"]

# The region's density (nodes per LUT + flip-flop pair) is chosen so that the estimate of the bisection's worst
# cut (worst_ratio) is at most TARGET_RATIO, within DENSITY_RANGE: the calibration of lgn2hw.fpga.route says
# "routes" up to 0.48; the cone of 2,514 gate LUTs at density 0.5 (ratio 0.46) routed, but after 30,607 arc
# iterations of router1 (bench/results/placement.json)
TARGET_RATIO = 0.40
DENSITY_RANGE = (0.25, 0.75)


def grid_for(device_name: str) -> Grid:
    grid = GRIDS.get(device_name)
    if grid is None:
        raise UsageError(f"lgn2hw's placement knows the logic grid of {', '.join(sorted(GRIDS))}, "
                         f"not {device_name}", hint="use --placement nextpnr")
    return grid


def check_placement(placement: str) -> str:
    if placement not in PLACEMENTS:
        raise UsageError(f"placement must be one of {', '.join(PLACEMENTS)}, not {placement!r}")
    return placement


@dataclass
class Node:
    name: str            # the LUT's name, or the flip-flop's for a register on its own
    lut: str | None
    ff: str | None
    sources: list        # indices of source nodes
    depth: int = 0
    peers: list = None   # indices of nodes read by the same cell nextpnr places (a carry chain, a LUT): see _peers


def _top(doc: dict) -> str:
    tops = [n for n, m in doc["modules"].items() if str(m.get("attributes", {}).get("top", "0")).strip("0")]
    if len(tops) != 1:
        raise ValueError(f"the netlist has {len(tops)} top modules")
    return tops[0]


def _key(name: str) -> tuple:
    """Sort key of a gate-module cell name: (kind, level or bank, index)."""
    m = _COUNT_LUT.search(name)
    if m:
        return ("p", int(m.group(1)), 0 if m.group(2) == "c" else 1, name)
    m = _GATE_LUT.search(name)
    kind = "g" if m else "f"
    m = m or _GATE_FF.search(name)
    if m is None:
        return ("z", 0, 0, name)
    return (kind, int(m.group(1)), int(m.group(2)), name)


def nodes_of(doc: dict, grid: Grid) -> list:
    """The gate module's nodes (see the module docstring), in a fixed order, with their sources."""
    cells = doc["modules"][_top(doc)]["cells"]
    luts = sorted((n for n, c in cells.items() if c["type"] == grid.lut
                   and (_GATE_LUT.search(n) or _COUNT_LUT.search(n))), key=_key)
    out_port = {"LUT4": "Z", "SB_LUT4": "O"}[grid.lut]
    d_port = {"TRELLIS_FF": "DI"}.get(grid.ff[0], "D")
    driver: dict = {}
    for n in luts:
        driver[cells[n]["connections"][out_port][0]] = n
    # the gate module's registers, and the popcount's registers of its first adders
    ffs = sorted((n for n, c in cells.items() if c["type"] in grid.ff and (
        _GATE_FF.search(n) or (_COUNT_LUT.search(driver.get(c["connections"][d_port][0], "")) is not None))),
        key=_key)
    for n in ffs:
        driver[cells[n]["connections"]["Q"][0]] = n
    paired = {}                         # LUT -> the first flip-flop (by name) its output loads
    for n in ffs:
        src = driver.get(cells[n]["connections"][d_port][0])
        if src is not None and src in cells and cells[src]["type"] == grid.lut and src not in paired:
            paired[src] = n
    nodes, index = [], {}
    for n in luts:
        index[n] = len(nodes)
        if n in paired:
            index[paired[n]] = len(nodes)
        nodes.append(Node(n, n, paired.get(n), []))
    for n in ffs:
        if n not in index:
            index[n] = len(nodes)
            nodes.append(Node(n, None, n, []))
    for node in nodes:
        if node.lut is not None:
            bits = [b for p, bs in cells[node.lut]["connections"].items() if p != out_port for b in bs]
        else:
            bits = cells[node.ff]["connections"][d_port]
        srcs = {index[driver[b]] for b in bits if isinstance(b, int) and b in driver}
        me = index[node.name]
        node.sources = sorted(s for s in srcs if s != me)
    # depth: sources first (the gate module is a feed-forward pipeline; a cycle would be a bug elsewhere)
    order = _topological(nodes)
    for i in order:
        nodes[i].depth = 1 + max((nodes[s].depth for s in nodes[i].sources), default=-1)
    _peers(cells, nodes, index, driver, grid)
    return nodes


#: a reader of more nodes than this joins them in a path, not each to each (a clique grows as its square)
PEER_CLIQUE_MAX = 16


def _peers(cells: dict, nodes: list, index: dict, driver: dict, grid: Grid) -> None:
    """Set each node's ``peers``: the nodes read by the same cell that nextpnr places itself -- a whole carry
    chain (ECP5 ``CCU2C`` cells joined COUT to CIN: the popcount's adders) or another LUT. Joined in the graph
    that METIS cuts, the bits one adder sums land next to each other, and nextpnr puts the adder beside them;
    without, the bisection follows the gate wiring alone and an adder's inputs come from wherever their gates
    went (the placed cone's critical paths ran from a first adder's register to the next adder, 3.8 ns of
    routing: bench/results/placement.json)."""
    parent: dict = {}

    def find(a):
        while parent.get(a, a) != a:
            parent[a] = parent.get(parent[a], parent[a])
            a = parent[a]
        return a

    cin_of = {}
    carry = sorted(n for n, c in cells.items() if c["type"] == "CCU2C")
    for n in carry:
        for b in cells[n]["connections"].get("CIN", []):
            if isinstance(b, int):
                cin_of[b] = n
    for n in carry:
        for b in cells[n]["connections"].get("COUT", []):
            if isinstance(b, int) and b in cin_of:
                parent[find(cin_of[b])] = find(n)
    fixed = {n for node in nodes for n in (node.lut, node.ff) if n}
    groups: dict = {}
    for n in sorted(cells):
        c = cells[n]
        if n in fixed or (c["type"] != "CCU2C" and c["type"] != grid.lut):
            continue
        key = find(n) if c["type"] == "CCU2C" else n
        read = groups.setdefault(key, set())
        for port, bits in c["connections"].items():
            if port in ("CIN", "COUT", "S0", "S1", "Z", "O"):
                continue
            for b in bits:
                if isinstance(b, int) and b in driver and driver[b] in index:
                    read.add(index[driver[b]])
    pairs = set()
    for read in groups.values():
        members = sorted(read)
        if len(members) <= PEER_CLIQUE_MAX:
            pairs.update((a, b) for i, a in enumerate(members) for b in members[i + 1:])
        else:
            pairs.update(zip(members, members[1:]))
    for node in nodes:
        node.peers = []
    for a, b in sorted(pairs):
        nodes[a].peers.append(b)
        nodes[b].peers.append(a)


def _topological(nodes: list) -> list:
    indeg = [len(n.sources) for n in nodes]
    readers: list = [[] for _ in nodes]
    for i, n in enumerate(nodes):
        for s in n.sources:
            readers[s].append(i)
    ready = [i for i, d in enumerate(indeg) if d == 0]
    order = []
    while ready:
        i = ready.pop()
        order.append(i)
        for r in readers[i]:
            indeg[r] -= 1
            if indeg[r] == 0:
                ready.append(r)
    if len(order) != len(nodes):
        raise ValueError("the gate module's cells form a cycle")
    return order


def _graph(nodes: list):
    """CSR adjacency of the node graph for METIS (each node joined to its sources and its peers; parallel edges
    summed)."""
    n = len(nodes)
    pairs = {}
    for i, node in enumerate(nodes):
        for s in (*node.sources, *(p for p in (node.peers or ()) if p > i)):
            a, b = min(i, s), max(i, s)
            pairs[(a, b)] = pairs.get((a, b), 0) + 1
    adj: list = [[] for _ in range(n)]
    for (a, b), w in sorted(pairs.items()):
        adj[a].append((b, w))
        adj[b].append((a, w))
    xadj, adjncy, ew = [0], [], []
    for row in adj:
        row.sort()
        adjncy += [b for b, _ in row]
        ew += [w for _, w in row]
        xadj.append(len(adjncy))
    return xadj, adjncy, ew


def bisect(nodes: list, leaf: int = 8, seed: int = 1):
    """(levels, part of each node): METIS' recursive bisection of the node graph into ``2**levels`` parts of
    about ``leaf`` nodes; part ``p`` is on the first side of its level-``l`` cut when bit ``levels - l`` of ``p``
    is 0 (as in :mod:`lgn2hw.fpga.route`)."""
    import pymetis
    levels = max(1, math.ceil(math.log2(max(2, len(nodes)) / leaf)))
    if len(nodes) < 2:
        return levels, np.zeros(len(nodes), np.int64)
    xadj, adjncy, ew = _graph(nodes)
    _, parts = pymetis.part_graph(1 << levels, pymetis.CSRAdjacency(xadj, adjncy), eweights=ew, recursive=True,
                                  options=pymetis.Options(seed=seed))
    return levels, np.asarray(parts, np.int64)


def worst_ratio(nodes: list, parts: np.ndarray, levels: int, grid: Grid, tracks: int) -> float:
    """The routing estimate of :mod:`lgn2hw.fpga.route` on this bisection, at density 1: the largest ratio of the
    nets a group's cut splits to the tracks across its cut line, over the groups of at least 128 nodes. At density
    ``d`` the ratio is this times ``sqrt(d)`` (a group's region grows as ``1/d``, its side as ``1/sqrt(d)``)."""
    src = np.array([s for i, n in enumerate(nodes) for s in n.sources] + list(range(len(nodes))), np.int64)
    pin = np.array([i for i, n in enumerate(nodes) for _ in n.sources] + list(range(len(nodes))), np.int64)
    worst = 0.0
    for lv in range(1, levels + 1):
        child = parts >> (levels - lv)
        parent = child >> 1
        key = np.unique(src * (1 << lv) + child[pin])
        net, ch = key >> lv, key & ((1 << lv) - 1)
        par_key, counts = np.unique(net * (1 << lv) + (ch >> 1), return_counts=True)
        cut_groups = (par_key[counts == 2]) & ((1 << lv) - 1)
        demand = np.bincount(cut_groups, minlength=1 << (lv - 1))
        size = np.bincount(parent, minlength=1 << (lv - 1))
        tiles = size / grid.slots
        side = np.sqrt(tiles if lv % 2 else tiles / 2)
        ok = size >= 128
        if ok.any():
            worst = max(worst, float(np.max(demand[ok] / (np.maximum(side[ok], 1.0) * tracks))))
    return worst


def plan_region(grid: Grid, n_nodes: int, n_other: int, density: float) -> tuple:
    """(columns, rows, first column) of the rectangle of logic tiles for the gate nodes: ``n_nodes / density``
    pairs, as square as the rows allow, placed so that it and ``n_other`` further LUTs (placed by nextpnr,
    mostly to its right, where the last layer's bits are counted) are centred on the die."""
    tiles = max(1, math.ceil(n_nodes / (grid.slots * density)))
    rows = min(len(grid.ys), max(1, math.ceil(math.sqrt(tiles))))
    cols = math.ceil(tiles / rows)
    if cols > len(grid.xs):
        raise UsageError(f"the gate logic needs {cols} columns of logic tiles at density {density:g}; the device "
                         f"has {len(grid.xs)}", hint="use --placement nextpnr")
    other_cols = math.ceil(n_other / (grid.slots * 0.7 * rows))
    start = max(0, min(len(grid.xs) - cols, (len(grid.xs) - cols - other_cols) // 2))
    return cols, rows, start


def place(doc: dict, grid: Grid, density: float | None = None, seed: int = 1, info: dict | None = None) -> dict:
    """{cell name: BEL} for the gate module's cells of the synthesized netlist ``doc`` (yosys' JSON): min-cut
    placement, the node graph and the region's sites bisected together. ``density``: None chooses it from the
    estimate (TARGET_RATIO); ``info`` receives the figures."""
    nodes = nodes_of(doc, grid)
    if not nodes:
        return {}
    levels, parts = bisect(nodes, seed=seed)
    from .devices import find_device
    ratio1 = worst_ratio(nodes, parts, levels, grid, find_device(grid.device).tracks_per_tile)
    cells = doc["modules"][_top(doc)]["cells"]
    fixed = {n.lut for n in nodes if n.lut} | {n.ff for n in nodes if n.ff}
    n_other = sum(1 for n, c in cells.items() if n not in fixed and c["type"] == grid.lut)
    n_other += 2 * sum(1 for c in cells.values() if c["type"] == "CCU2C")
    if density is None:
        density = DENSITY_RANGE[1] if ratio1 <= 0 else (TARGET_RATIO / ratio1) ** 2
        # room in the region for what nextpnr places (the popcounts beside the bits they count): all of it at
        # the top density; without it, a local network's popcounts went outside, 50 tiles from their bits
        top = DENSITY_RANGE[1] * len(nodes) / (len(nodes) + n_other)
        density = float(min(max(density, DENSITY_RANGE[0]), max(top, DENSITY_RANGE[0])))
    if info is not None:
        from .route import DENSITY as HEAP_DENSITY
        info.update(nodes=len(nodes), density=round(density, 3), ratio=round(ratio1 * math.sqrt(density), 3),
                    ratio_at_nextpnr_density=round(ratio1 * math.sqrt(HEAP_DENSITY), 3))
    cols, rows, start = plan_region(grid, len(nodes), n_other, density)
    y0 = (len(grid.ys) - rows) // 2
    # sites: (column index, row index, slot), in tile order; depth orders the nodes of a leaf
    sites = np.array([(c, r, s) for c in range(cols) for r in range(rows) for s in range(grid.slots)], np.int64)
    result: dict = {}
    depth = np.array([n.depth for n in nodes], np.int64)

    # every node's neighbours (sources and readers) and the centre of the region its part holds so far: a cut's
    # two halves go to the sides their outside neighbours lie on (terminal propagation, Dunlop and Kernighan 1985;
    # METIS' labels say nothing about where a part lies)
    xadj, adjncy, _ = _graph(nodes)
    xadj, adjncy = np.asarray(xadj, np.int64), np.asarray(adjncy, np.int64)
    owner = np.repeat(np.arange(len(nodes)), np.diff(xadj))
    centre = np.tile(sites[:, :2].mean(axis=0), (len(nodes), 1))
    region = np.zeros(len(nodes), np.int64)        # an id of the region each node is in at the current level

    def pull(group: np.ndarray, rid: int, axis: int) -> float:
        """Mean coordinate along ``axis`` of the neighbours of ``group`` outside region ``rid`` (0 if none)."""
        mask = np.zeros(len(nodes), bool)
        mask[group] = True
        edges = mask[owner] & (region[adjncy] != rid)
        return float(centre[adjncy[edges], axis].mean()) if edges.any() else 0.0

    def split(members: np.ndarray, site_idx: np.ndarray, level: int, rid: int):
        """The two halves (members, sites) of one region, or None for a leaf."""
        if level == levels or len(members) <= 1 or len(site_idx) <= grid.slots:
            return None
        bit = (parts[members] >> (levels - level - 1)) & 1
        first, second = members[bit == 0], members[bit == 1]
        xy = sites[site_idx]
        axis = 0 if np.ptp(xy[:, 0]) >= np.ptp(xy[:, 1]) else 1     # cut across the longer side
        order = site_idx[np.lexsort((xy[:, 2], xy[:, 1 - axis], xy[:, axis]))]
        if len(first) and len(second) and pull(second, rid, axis) < pull(first, rid, axis):
            first, second = second, first
        # whole tiles to each side, so that a LUT and its flip-flop never straddle a cut
        lo = -(-len(first) // grid.slots) * grid.slots
        hi = len(order) - -(-len(second) // grid.slots) * grid.slots
        if lo > hi:
            return None
        k = round(len(order) * len(first) / max(1, len(members)))
        k = min(max((k // grid.slots) * grid.slots, lo), hi)
        return (first, order[:k]), (second, order[k:])

    def leaf(members: np.ndarray, site_idx: np.ndarray):
        if len(members) > len(site_idx):
            raise UsageError(f"{len(members)} gate cells for {len(site_idx)} sites in one part of the region",
                             hint="use --placement nextpnr, or a lower density")
        members = members[np.lexsort((members, depth[members]))]
        xy = sites[site_idx]
        site_idx = site_idx[np.lexsort((xy[:, 1], xy[:, 0], xy[:, 2]))]     # every tile's first slot first
        for j, i in enumerate(members.tolist()):
            c, r, s = sites[site_idx[j]].tolist()
            lut_bel, ff_bel = grid.bels(grid.xs[start + c], grid.ys[y0 + r], s)
            node = nodes[i]
            if node.lut:
                result[node.lut] = lut_bel
            if node.ff and node.lut:        # a register on its own is left to nextpnr (module docstring)
                result[node.ff] = ff_bel

    todo = [(np.arange(len(nodes), dtype=np.int64), np.arange(len(sites), dtype=np.int64))]
    for level in range(levels + 1):           # breadth first: every region of a level, then the next level
        nxt = []
        for rid, (members, site_idx) in enumerate(todo):
            halves = split(members, site_idx, level, rid) if level < levels else None
            if halves is None:
                leaf(members, site_idx)
            else:
                nxt.extend(halves)
        todo = nxt
        region[:] = -1                        # placed leaves are outside every region
        for rid, (members, site_idx) in enumerate(todo):
            region[members] = rid
            centre[members] = sites[site_idx, :2].mean(axis=0)
        if not todo:
            break
    return result


def write_placed(src: Path, dst: Path, grid: Grid, density: float | None = None, seed: int = 1) -> dict:
    """Read yosys' JSON ``src``, add the ``BEL`` attributes of :func:`place`, write ``dst``; return a summary."""
    doc = json.loads(Path(src).read_text())
    info: dict = {}
    bels = place(doc, grid, density, seed, info)
    cells = doc["modules"][_top(doc)]["cells"]
    for name, bel in bels.items():
        cells[name].setdefault("attributes", {})["BEL"] = bel
    Path(dst).write_text(json.dumps(doc))
    return {"cells_placed": len(bels), **info,
            "tiles": len({b.rsplit("/", 1)[0] for b in bels.values()})}
