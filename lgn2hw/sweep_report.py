"""A sweep's human report: ``sweep.md`` (the table, the best point and why) and ``pareto.svg`` (LUT4 against
Fmax, latency in cycles as colour, the Pareto front drawn), written as plain SVG text: no plotting package."""
from __future__ import annotations

from html import escape

# colour-blind-safe palette (Okabe and Ito), one colour per distinct latency
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def _nice(lo: float, hi: float) -> tuple:
    """Axis range and ticks around [lo, hi]."""
    if hi <= lo:
        lo, hi = lo - 1, hi + 1
    span = hi - lo
    step = 10 ** len(str(int(span / 5))) / 10 if span >= 5 else 1
    for m in (1, 2, 5, 10):
        if span / (step * m) <= 6:
            step *= m
            break
    a = (lo // step) * step
    b = -(-hi // step) * step
    if a == lo:
        a -= step
    if b == hi:
        b += step
    ticks = []
    t = a
    while t <= b + 1e-9:
        ticks.append(t)
        t += step
    return a, b, ticks


def pareto_svg(rows: list, title: str = "") -> str:
    pts = [r for r in rows if r["status"] == "ok" and r.get("fmax_mhz") is not None and r.get("lut4") is not None]
    W, H, L, R, T, B = 640, 420, 70, 150, 40, 50
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="22" font-size="14">{escape(title)}</text>']
    if not pts:
        out.append(f'<text x="{L}" y="{H // 2}">no point was placed and routed</text></svg>')
        return "\n".join(out) + "\n"
    x0, x1, xt = _nice(min(r["lut4"] for r in pts), max(r["lut4"] for r in pts))
    y0, y1, yt = _nice(min(r["fmax_mhz"] for r in pts), max(r["fmax_mhz"] for r in pts))

    def X(v):
        return L + (v - x0) / (x1 - x0) * (W - L - R)

    def Y(v):
        return H - B - (v - y0) / (y1 - y0) * (H - T - B)
    out.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="#888"/>')
    for t in xt:
        out.append(f'<line x1="{X(t):.1f}" y1="{H - B}" x2="{X(t):.1f}" y2="{H - B + 4}" stroke="#888"/>'
                   f'<text x="{X(t):.1f}" y="{H - B + 17}" text-anchor="middle">{t:,.0f}</text>')
    for t in yt:
        out.append(f'<line x1="{L - 4}" y1="{Y(t):.1f}" x2="{L}" y2="{Y(t):.1f}" stroke="#888"/>'
                   f'<text x="{L - 7}" y="{Y(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    out.append(f'<text x="{(L + W - R) / 2:.0f}" y="{H - 12}" text-anchor="middle">LUT4 (after synthesis)</text>')
    out.append(f'<text transform="translate(18 {(T + H - B) / 2:.0f}) rotate(-90)" text-anchor="middle">'
               'Fmax (MHz, nextpnr)</text>')
    targets = sorted({r["freq_target_mhz"] for r in pts if r.get("freq_target_mhz")})
    for f in targets:
        if y0 <= f <= y1:
            out.append(f'<line x1="{L}" y1="{Y(f):.1f}" x2="{W - R}" y2="{Y(f):.1f}" stroke="#c00" '
                       f'stroke-dasharray="4 3"/><text x="{W - R - 4}" y="{Y(f) - 4:.1f}" text-anchor="end" '
                       f'fill="#c00">target {f:g} MHz</text>')
    front = sorted((r for r in pts if r.get("pareto")), key=lambda r: r["lut4"])
    if len(front) > 1:
        path = " ".join(f"{X(r['lut4']):.1f},{Y(r['fmax_mhz']):.1f}" for r in front)
        out.append(f'<polyline points="{path}" fill="none" stroke="#444" stroke-width="1"/>')
    lats = sorted({r.get("latency_cycles") for r in pts}, key=lambda v: (v is None, v))
    colour = {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(lats)}
    for r in pts:
        c = colour[r.get("latency_cycles")]
        ring = ' stroke="#000" stroke-width="1.5"' if r.get("pareto") else ' stroke="none"'
        out.append(f'<circle cx="{X(r["lut4"]):.1f}" cy="{Y(r["fmax_mhz"]):.1f}" r="5" fill="{c}" '
                   f'fill-opacity="0.8"{ring}><title>{escape(r["point"])}: {r["lut4"]:,} LUT4, '
                   f'{r["fmax_mhz"]} MHz, {r.get("latency_cycles")} cycles</title></circle>')
    lx = W - R + 15
    out.append(f'<text x="{lx}" y="{T + 4}">latency</text>')
    for i, v in enumerate(lats):
        y = T + 22 + 18 * i
        out.append(f'<circle cx="{lx + 5}" cy="{y - 4}" r="5" fill="{colour[v]}"/>'
                   f'<text x="{lx + 15}" y="{y}">{v} cycles</text>')
    y = T + 30 + 18 * len(lats)
    out.append(f'<circle cx="{lx + 5}" cy="{y - 4}" r="5" fill="white" stroke="#000" stroke-width="1.5"/>'
               f'<text x="{lx + 15}" y="{y}">Pareto front</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _cell(v, fmt="{}"):
    return "" if v is None else fmt.format(v)


def sweep_markdown(plan, data: dict, rows: list, best: dict | None) -> str:
    axes = {a: v for a, v in plan.axes.items() if v != [None]}
    swept = [a for a, v in axes.items() if len(v) > 1]
    ex = data.get("executor") or {}
    L = [f"# lgn2hw sweep: {plan.model}", ""]
    L += ["Axes: " + "; ".join(f"{a} {', '.join(_fmt(x) for x in v)}" for a, v in axes.items()) + ".",
          f"{len(rows)} points: {data['points_ok']} finished, {data['points_failed']} failed, "
          f"{data['points_not_run']} not run{'' if data.get('complete') else ' (the sweep was interrupted)'}. "
          f"Executor: {ex.get('executor', '?')} with {ex.get('workers', '?')} workers; wall {data['wall_s']:.1f} s "
          f"(load average {data.get('load_avg_start')} at the start, {data.get('load_avg_end')} at the end).", ""]
    if data.get("shared"):
        L += ["Shared steps (built once per group, then restored from the step cache by its points):", ""]
        for g, r in sorted(data["shared"].items()):
            ran = [s for s in r.get("times_s", {}) if s not in r.get("cached_steps", [])]
            L.append(f"- `{g}`: {r['status']}" + (f", ran {', '.join(ran) or 'nothing (all cached)'} in "
                                                   f"{r.get('wall_s', 0):.1f} s" if r["status"] == "ok"
                                                   else f": {r.get('error')}"))
        L.append("")
    head = ["point"] + swept + ["status", "LUT4", "FF", "Fmax MHz", "target", "met", "latency", "cached steps",
                                "wall s"]
    L += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        mark = " **best**" if best is not None and r["index"] == best["index"] else \
            (" (Pareto)" if r.get("pareto") else "")
        status = r["status"] if r["status"] != "failed" else f"failed: {r.get('error', '')}".replace("|", "/")
        lat = (f"{r['latency_cycles']} cyc, {r['latency_ns']} ns" if r.get("latency_ns") is not None
               else _cell(r.get("latency_cycles"), "{} cyc"))
        met = {True: "yes", False: "no"}.get(r.get("timing_met"), "")
        L.append("| " + " | ".join([f"`{r['point']}`{mark}"] + [_fmt(r["settings"][a]) for a in swept]
                                   + [status, _cell(r.get("lut4"), "{:,}"), _cell(r.get("ff"), "{:,}"),
                                      _cell(r.get("fmax_mhz")), _cell(r.get("freq_target_mhz"), "{:g}"), met, lat,
                                      ", ".join(r.get("cached_steps") or []), _cell(r.get("wall_s"), "{:.1f}")])
                 + " |")
    fm = [r["fmax_mhz"] for r in rows if r["status"] == "ok" and r.get("fmax_mhz") is not None]
    if len(fm) > 1:
        fm.sort()
        mid = fm[len(fm) // 2] if len(fm) % 2 else (fm[len(fm) // 2 - 1] + fm[len(fm) // 2]) / 2
        L += ["", f"Fmax over {len(fm)} points: min {fm[0]}, median {mid:g}, max {fm[-1]} MHz "
                  f"(spread {fm[-1] - fm[0]:.2f} MHz)."]
    L += ["", "![LUT4 against Fmax](pareto.svg)", "", f"Best point, by the rule: {data['best_rule']}."]
    L.append(f"Chosen: `{best['point']}` ({best['fmax_mhz']} MHz, {best['lut4']:,} LUT4), copied to `best/`."
             if best is not None else "None: no point was placed and routed.")
    L.append("")
    return "\n".join(L)
