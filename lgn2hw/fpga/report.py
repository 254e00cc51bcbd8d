"""Build reports: the ``build`` section of report.json, a short summary, and ``report.md`` with PNG plots."""
from __future__ import annotations

import time
from pathlib import Path

from .families import carry_luts
from .flow import BuildOptions, run_build
from .harness import config_for, uart_divisor, with_selftest


def compile_for_target(nl, core, target, out: Path, opts: BuildOptions) -> dict:
    """Run the build for ``target`` into ``out``; returns the report's ``build`` section."""
    t0 = time.monotonic()
    cfg = None
    if target.board:
        b = target.board
        hz = round(opts.pll.fout_mhz * 1e6) if opts.pll else b.clock_hz     # the harness's clock
        cfg = config_for(nl, core, uart_divisor(hz, b.baud), timeout_cycles=hz // 50)
        if opts.selftest is not None:
            cfg = with_selftest(cfg, nl, opts.selftest[0], opts.selftest[1], clock_hz=hz)
    result = run_build(nl, core, target, out, opts, cfg)
    rep = result.report
    if opts.pll is not None:
        rep["pll"] = opts.pll.as_dict()
    if cfg is not None:
        rep["harness"] = {"baud": target.board.baud, "divisor": cfg.divisor, "mode": "features" if cfg.raw_features
                          else "bits", "sample_bytes": cfg.sample_bytes, "counts": bool(cfg.count_width),
                          "count_bytes": cfg.count_bytes, "answer_frame_bytes": 4 + cfg.info().answer_bytes,
                          "selftest_samples": len(cfg.selftest_samples)}
    core_lut = rep["core"]["lut4"]
    carry = carry_luts(target.family, rep["core"]["cells"])
    rep["carry_lut_share"] = round(carry / core_lut, 4) if core_lut else 0.0
    rep["times_s"] = {k: round(v, 2) for k, v in rep["times_s"].items()}
    rep["wall_s"] = round(time.monotonic() - t0, 2)
    return rep


def summary(report: dict, out) -> dict:
    b = report["build"]
    fit = b["fit"]
    lines = [f"target   {b['target']} ({b['device']} {b['package']})",
             "used     " + ", ".join(f"{k.upper()} {u:,}/{c:,} ({100 * u / c:.1f}%)" for k, (u, c) in fit.items()
                                    if c),
             f"timing   Fmax {b['pnr']['fmax_mhz']} MHz, target {b['freq_target_mhz']:g} MHz"
             + ("" if b["timing_met"] else " (NOT MET)"),
             f"latency  {b['latency_cycles']} cycles = {b['latency_ns']} ns",
             "postsim  " + (f"{b['postsim']['samples']} samples equal to the interpreter"
                            if b.get("postsim", {}).get("equal") else b.get("postsim", {}).get("skipped", "off")),
             "time     " + ", ".join(f"{k} {v:.1f} s" for k, v in b["times_s"].items())]
    if report.get("verify"):
        from ..prove import report_lines
        lines += [f"proof    {line}" for line in report_lines(report["verify"])]
    for name in b["bitstreams"]:
        if name.endswith((".bit", ".bin")):
            lines.append(f"bitstream {Path(out) / name}")
    return {"lines": lines, "target": b["target"], "lut4": fit["lut4"][0], "ff": fit["ff"][0], "io": fit["io"][0],
            "bram": fit["bram"][0], "fmax_mhz": b["pnr"]["fmax_mhz"], "freq_target_mhz": b["freq_target_mhz"],
            "timing_met": b["timing_met"], "latency_cycles": b["latency_cycles"], "latency_ns": b["latency_ns"],
            "postsim": b.get("postsim"), "times_s": b["times_s"],
            "bitstreams": {str(Path(out) / k): v for k, v in b["bitstreams"].items()}}


def _plots(out: Path, report: dict, nl) -> list:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    b = report["build"]
    fig, ax = plt.subplots(figsize=(6, 2.6))
    names = [k.upper() for k in b["fit"]]
    share = [100 * u / c if c else 0 for u, c in b["fit"].values()]
    ax.barh(names, share, color="#4a7ab5")
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"% of {b['target']}")
    fig.tight_layout()
    fig.savefig(out / "resources.png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    made.append("resources.png")
    hist = nl.op_histogram()
    if hist:
        fig, ax = plt.subplots(figsize=(6, 3))
        keys = list(hist)[:16]
        ax.bar(range(len(keys)), [hist[k] for k in keys], color="#6a9a58")
        ax.set_xticks(range(len(keys)), keys, rotation=60, ha="right", fontsize=8)
        ax.set_ylabel("gates after passes")
        fig.tight_layout()
        fig.savefig(out / "ops.png", dpi=100, metadata={"Software": None})
        plt.close(fig)
        made.append("ops.png")
    return made


def write_human_report(out: Path, report: dict, nl) -> None:
    """``report.md``: the numbers of report.json in tables, and PNG plots beside it."""
    b = report["build"]
    plots = _plots(out, report, nl)
    L = [f"# lgn2hw build report: {report.get('model', '')} on {b['target']}", ""]
    L += ["## Resources (after synthesis, before place and route)", "", "| resource | used | capacity | share |",
          "|---|---:|---:|---:|"]
    for k, (u, c) in b["fit"].items():
        L.append(f"| {k.upper()} | {u:,} | {c:,} | {100 * u / c:.1f} % |" if c else f"| {k.upper()} | {u:,} | 0 | |")
    L += ["", f"Core alone: {b['core']['lut4']:,} LUT4, {b['core']['ff']:,} FF; carry-chain (popcount and argmax "
          f"adders) share of the core's LUTs: {100 * b['carry_lut_share']:.1f} %.", ""]
    blocks = b["core"].get("blocks") or {}
    if blocks and b["core"]["lut4"]:
        L += ["| core block | LUT4 (carry cells as 2) | share | FF | block RAM |", "|---|---:|---:|---:|---:|"]
        for name, r in blocks.items():
            L.append(f"| {name} | {r.get('lut4', 0):,} | {100 * r.get('lut4', 0) / b['core']['lut4']:.1f} % | "
                     f"{r.get('ff', 0):,} | {r.get('bram', 0):,} |")
        L.append("")
    if "resources.png" in plots:
        L += ["![resources](resources.png)", ""]
    L += ["## Timing and throughput", "", "| | |", "|---|---|",
          f"| Fmax (nextpnr) | {b['pnr']['fmax_mhz']} MHz |", f"| target | {b['freq_target_mhz']:g} MHz |",
          f"| met | {'yes' if b['timing_met'] else 'NO'} |",
          f"| latency | {b['latency_cycles']} cycles, {b['latency_ns']} ns |",
          f"| core throughput | {b['throughput_samples_per_s']:,} samples/s (one per cycle) |", ""]
    if "harness" in b:
        h = b["harness"]
        per = 10 * (5 + h["sample_bytes"] + h["answer_frame_bytes"]) / h["baud"]   # 10 bits per byte
        L += [f"Board harness: UART {h['baud']} baud, {h['mode']} samples of {h['sample_bytes']} bytes; the UART "
              f"limits a board to about {1 / per:,.0f} samples/s.", ""]
    L += ["## Post-synthesis simulation", ""]
    ps = b.get("postsim") or {}
    sim = {"icarus": "Icarus", "verilator": "Verilator"}.get(ps.get("simulator"), ps.get("simulator") or "Icarus")
    L += [f"{ps['samples']} samples through the mapped netlist `{ps['netlist']}` ({sim}, yosys cell models): "
          f"{ps['compared']} equal to the reference interpreter." if ps.get("equal") else
          f"Not run: {ps.get('skipped', 'disabled (--postsim 0)')}.", ""]
    if report.get("verify"):
        from ..prove import report_lines
        L += ["## Formal equivalence", ""] + [f"- {line}" for line in report_lines(report["verify"])] + [""]
    layers = nl.layer_sizes()
    before = {int(k): v for k, v in report.get("layers_before_passes", {}).items()}
    L += ["## Gates per layer", "", "| layer | before passes | after passes |", "|---:|---:|---:|"]
    L += [f"| {'new' if k < 0 else k} | {before.get(k, 0):,} | {layers.get(k, 0):,} |"
          for k in sorted(set(layers) | set(before))]
    hist = nl.op_histogram()
    if hist:
        L += ["", "| operation | gates |", "|---|---:|"] + [f"| {k} | {v:,} |" for k, v in hist.items()]
    if "ops.png" in plots:
        L += ["", "![operations](ops.png)"]
    L += ["", "## Wall time per step", "", "| step | s |", "|---|---:|"]
    L += [f"| {k} | {v:.1f} |" for k, v in b["times_s"].items()]
    L += ["", "## Bitstreams", ""] + [f"- `{k}` sha256 `{v}`" for k, v in b["bitstreams"].items()]
    L += ["", "Tools: " + ", ".join(f"{k} ({v})" for k, v in b["tools"].items()), ""]
    (out / "report.md").write_text("\n".join(L))
