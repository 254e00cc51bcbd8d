"""The ``lgn2hw`` command: parse arguments, call the library, print. Nothing else lives here.

Every failure prints ``lgn2hw: error: ...`` as the first line on stderr (a hint may follow), exits with status
1 and leaves no output file behind; ``--debug`` adds the traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings

from . import __version__
from .errors import Lgn2hwError, UsageError
from .prove import PROVE_DEFAULT_MAX_GATES


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message, hint=f"see '{self.prog} --help'")


def _common(p):
    p.add_argument("--debug", action="store_true", help="show tracebacks and check IR invariants after every pass")


def _model_args(p):
    p.add_argument("model", help="checkpoint: lgn2hw, difflogic or torchlogix (.pt/.pth), or netlist text")
    p.add_argument("--format", dest="fmt", choices=("native", "netlist", "difflogic", "torchlogix"),
                   help="checkpoint kind (default: detected from the content)")
    p.add_argument("--classes", type=int, metavar="K", help="GroupSum class count, for state dicts that lack it")
    p.add_argument("--tau", type=float, help="GroupSum tau, for state dicts that lack it (only scales)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow whole-model pickles (read through an allow-list of known classes)")
    p.add_argument("--parametrization", choices=("raw", "light", "warp"),
                   help="torchlogix gate parametrization when the checkpoint cannot tell")
    p.add_argument("--input-shape", metavar="C,H,W", help="input shape when the checkpoint cannot tell")


def _load_options(args) -> dict:
    shape = None
    if getattr(args, "input_shape", None):
        try:
            shape = tuple(int(d) for d in args.input_shape.split(","))
        except ValueError:
            raise UsageError(f"--input-shape must be integers separated by commas, not {args.input_shape!r}") from None
    return {"format": args.fmt, "classes": args.classes, "tau": args.tau, "trust_pickle": args.trust_pickle,
            "parametrization": args.parametrization, "input_shape": shape}


def _load(args):
    from .api import load
    return load(args.model, **_load_options(args))


def _pass_args(p):
    p.add_argument("--no-passes", action="store_true", help="skip the optimisation passes (default: run them)")
    from .passes import DEFAULT, pass_names
    p.add_argument("--dump-after", metavar="PASS",
                   help=f"write the netlist text right after the last run of PASS ({', '.join(pass_names(DEFAULT))}) "
                        "to DIR/MODEL.after-PASS.netlist")
    p.add_argument("--dump-dir", metavar="DIR", default=".", help="directory for --dump-after (default: .)")
    _force_arg(p)


def _force_arg(p):
    if not any(a.dest == "force" for a in p._actions):
        p.add_argument("--force", action="store_true",
                       help="replace an output that exists and was not written by lgn2hw (a directory keeps the "
                            "files lgn2hw does not write)")


def _optimize(args, nl):
    """Run the default passes (unless --no-passes); returns (netlist, report or None)."""
    from pathlib import Path
    if args.no_passes:
        if args.dump_after:
            raise UsageError("--dump-after needs the passes; drop --no-passes")
        return nl, None
    from ._files import check_output_file, write_text
    from .api import optimize
    from .ir import dump
    path = Path(args.dump_dir) / f"{Path(args.model).stem}.after-{args.dump_after}.netlist"
    if args.dump_after:
        check_output_file(path, args.force)
    opt, report = optimize(nl, check=args.debug, dump_after=args.dump_after, report=True)
    if report.dumped is not None:
        write_text(path, dump(report.dumped), force=args.force)
        print(f"lgn2hw: wrote {path}", file=sys.stderr)
    return opt, report


# --- info ---------------------------------------------------------------------------------------------------
def add_info_parser(sub):
    p = sub.add_parser("info", help="describe a model: inputs, classes, layers, gates (trained and live after "
                                    "the optimisation passes), op histogram")
    _model_args(p)
    p.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--board", help="estimate LUTs and routability on this board's device (seconds, before "
                                   "synthesis)")
    g.add_argument("--device", help="the same on a bare part, e.g. LFE5U-85F")
    p.add_argument("--ebr", default="auto", metavar="N|auto",
                   help="ECP5 block RAMs the popcount would use, for the estimate (default: auto, as compile)")
    _pass_args(p)
    _common(p)
    p.set_defaults(func=cmd_info)


def cmd_info(args):
    from .ir.analysis import describe
    nl = _load(args)
    info = describe(nl)
    opt, report = _optimize(args, nl)
    if report is not None:
        report.annotate(info)
    route = None
    if args.board or args.device:
        from .fpga.boards import load_board
        from .fpga.devices import find_device
        from .fpga.route import estimate_model
        device = find_device(load_board(args.board).device if args.board else args.device)
        ebr = None if args.ebr == "auto" else _ebr_count(args.ebr)
        route = estimate_model(opt, device, ebr_blocks=ebr)
        info["route"] = route.as_dict()
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return
    print(f"inputs   {info['inputs']}" + (f"  (shape {tuple(info['input_shape'])})" if info["input_shape"] else ""))
    if info["encoding"]:
        print(f"encoding {info['encoding']['bits']} bits from {info['encoding']['features']} raw features "
              f"(shape {tuple(info['encoding']['feature_shape'])})")
    print(f"classes  {info['classes']}  (tau {info['tau']:g})")
    if (wiring := (info["provenance"] or {}).get("wiring")):
        print(f"wiring   {wiring['summary']}")
    print(f"gates    {info['gates_trained']} in {len(info['layers'])} layers, depth {info['depth']}"
          + (f"; {info['gates_live']} live after the passes" if report is not None else ""))
    for layer in info["layers"]:
        print(f"  layer {layer['layer']:>3}: {layer['gates']:>9} gates"
              + (f", {layer['live']:>9} live" if report is not None else ""))
    if report is not None:
        print(f"passes   {info['passes']['rounds']} rounds")
        for name, t in info["passes"]["per_pass"].items():
            print(f"  {name:<9} {t['runs']:>3} runs, {t['nodes_removed']:>9} nodes removed")
    print("ops")
    for name, count in info["op_histogram"].items():
        print(f"  {name:<14} {count:>9}")
    for line in route.lines() if route is not None else ():
        print(line)


def _ebr_count(text) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise UsageError(f"--ebr must be 'auto' or a number of block RAMs >= 0, not {text!r}")
    return n


# --- predict ------------------------------------------------------------------------------------------------
def add_predict_parser(sub):
    p = sub.add_parser("predict", help="class counts for a batch of inputs")
    _model_args(p)
    p.add_argument("inputs", help="INPUTS.npy: (N, n_inputs) 0/1, or (N, features) raw values with --raw")
    p.add_argument("-o", "--output", required=True, help="COUNTS.npy to write: (N, classes) int64")
    p.add_argument("--labels", help="LABELS.npy: also print accuracy")
    p.add_argument("--raw", action="store_true", help="inputs are raw features; apply the model's input encoding")
    p.add_argument("--engine", choices=("ir", "rtl", "icarus"), default="ir",
                   help="ir: reference interpreter (default); rtl: the emitted Verilog under Verilator; "
                        "icarus: the same under Icarus Verilog")
    p.add_argument("--pipeline", default="auto", metavar="N|auto",
                   help="RTL engines: logic levels per pipeline stage, or auto from --freq (default: auto)")
    p.add_argument("--freq", type=float, metavar="MHZ", help="RTL engines: target clock for --pipeline auto")
    _pass_args(p)
    _common(p)
    p.set_defaults(func=cmd_predict)


def _load_npy(path, what):
    import numpy as np
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError) as err:
        raise UsageError(f"{path}: {what} must be a .npy array file ({str(err).splitlines()[0][:100]})") from None


def cmd_predict(args):
    import numpy as np

    from ._files import check_output_file, save_npy
    from .api import predict
    check_output_file(args.output, args.force)
    nl = _load(args)
    x = _load_npy(args.inputs, "INPUTS")
    labels = None
    if args.labels:
        labels = np.asarray(_load_npy(args.labels, "LABELS")).reshape(-1)
        if len(labels) != len(x):
            raise UsageError(f"labels must have {len(x)} entries (one per input row), not {len(labels)}")
    nl, _ = _optimize(args, nl)
    counts = predict(nl, x, raw=args.raw, engine=args.engine, pipeline=args.pipeline, freq=args.freq)
    save_npy(args.output, counts, force=args.force)
    if labels is not None:
        acc = float((counts.argmax(axis=1) == labels).mean()) if len(labels) else float("nan")
        print(f"accuracy {acc:.4f} ({int((counts.argmax(axis=1) == labels).sum())}/{len(labels)})")
    print(f"wrote {args.output}: {counts.shape[0]} samples x {counts.shape[1]} classes")


# --- compile ------------------------------------------------------------------------------------------------
def add_compile_parser(sub):
    from .api import compile_steps
    p = sub.add_parser("compile", help="compile a model to hardware: Verilog and report.json in OUT/, and with a "
                                       "--board or --device the bitstream")
    _model_args(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output directory: new, empty or an earlier lgn2hw output (written when all succeeded)")
    p.add_argument("--stop-after", choices=compile_steps(), metavar="STEP",
                   help=f"last step to run: {', '.join(compile_steps())} (default: all the target needs)")
    p.add_argument("--pipeline", default="auto", metavar="N|auto",
                   help="logic levels per gate pipeline stage (0: none), or auto from --freq (default: auto)")
    p.add_argument("--freq", type=float, metavar="MHZ",
                   help="target clock (default: the board's clock, 100 MHz for a bare --device, 250 MHz for "
                        "Verilog alone)")
    p.add_argument("--top", default="lgn_core", help="name of the top Verilog module (default: lgn_core)")
    p.add_argument("--features", action="store_true", default=None,
                   help="stream raw 8-bit features and compare them on chip (models with an input encoding; "
                        "always on for a board)")
    p.add_argument("--lut-size", type=int, default=4, metavar="K",
                   help="map the gates to K-input LUT cones before pipelining (0: keep the gates; default: 4)")
    p.add_argument("--popcount-style", metavar="STYLE",
                   help="GroupSum popcount tree: fa, cin or pack (default: the one measured best for the target's "
                        "family, fa without a target)")
    p.add_argument("--max-fanout", type=int, metavar="N",
                   help="write a gate register read by more than N cells several times, each copy read by at most N "
                        "(default 0: never; 4 helped where gate-to-gate routing set the clock, docs/toolchain-notes.md)")
    p.add_argument("--ebr", default="auto", metavar="N|auto",
                   help="ECP5 block RAMs the popcount may use as 12-bit counting tables (auto: every block of an "
                        "ECP5 target, none otherwise; 0: none)")
    p.add_argument("--prove", action=argparse.BooleanOptionalAction, default=None,
                   help="prove the netlist after passes and the emitted Verilog equal to the checkpoint and the mapped "
                        "netlist equal to the emitted Verilog, with ABC (default: on for a build that reaches "
                        f"synthesis, up to {PROVE_DEFAULT_MAX_GATES:,} gates before passes)")
    _target_args(p)
    _pass_args(p)
    _common(p)
    p.set_defaults(func=cmd_compile)


def add_verify_parser(sub):
    p = sub.add_parser("verify", help="prove a compiled design equal to its checkpoint (ABC's equivalence checker)")
    _model_args(p)
    p.add_argument("out", metavar="OUT", help="the output directory of 'lgn2hw compile' for this model")
    p.add_argument("--only", metavar="WHAT", help="comparisons, separated by commas: ir, rtl, netlist (default: all)")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                   help="give up one proof after this long: status unknown (default: 300)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _common(p)
    p.set_defaults(func=cmd_verify)


def cmd_verify(args):
    from .api import verify
    only = [w.strip() for w in args.only.split(",")] if args.only else None
    res = verify(args.model, args.out, load_options=_load_options(args), comparisons=only, timeout=args.timeout,
                 progress=lambda step, msg: print(f"  {msg}", file=sys.stderr if args.json else sys.stdout,
                                                  flush=True))
    if args.json:
        print(json.dumps(res, indent=2, sort_keys=True))
    else:
        for what in ("ir", "rtl", "netlist"):
            r = res.get(what)
            if r is None:
                continue
            line = f"{what:<8} {r['status']} ({r['engine']}, {r['seconds']:.1f} s)"
            if r.get("counterexample"):
                line += f", counterexample {r['counterexample']}"
            print(line)
            for k, v in (r.get("replay") or {}).items():
                print(f"         {k}: {v}")
    differ = [w for w in ("ir", "rtl", "netlist") if (res.get(w) or {}).get("status") == "different"]
    if differ:      # a disproved design is a failed verification: exit status 1, like any other failure
        raise Lgn2hwError(f"not equal to the checkpoint: {', '.join(differ)} (counterexample above)")


def _target_args(p):
    g = p.add_argument_group("hardware target (with one, compile goes on to a bitstream)")
    g.add_argument("--board", help="board name or alias (ecp5, ice40, tangnano9k, ...); see 'lgn2hw boards'")
    g.add_argument("--device", help="bare part, e.g. LFE5U-85F or iCE40UP5K: the core alone, out of context")
    g.add_argument("--package", help="package of --device, e.g. CABGA381 or SG48")
    g.add_argument("--core-freq", type=float, metavar="MHZ",
                   help="board targets: run the core and its UART harness at this clock from the board's PLL "
                        "(ECP5, iCE40, Gowin; the highest frequency the PLL makes at or below MHZ; default: the "
                        "board clock); it is also the place-and-route target unless --freq is given")
    g.add_argument("--selftest", type=int, default=0, metavar="N",
                   help="board targets: store N samples and their classes in block RAM; the board runs them back "
                        "to back after reset and on 'lgn2hw run --selftest' (default: 0, none)")
    g.add_argument("--selftest-data", metavar="X.npy",
                   help="the self-test's inputs (its first N rows; default: random inputs)")
    g.add_argument("--selftest-labels", metavar="Y.npy",
                   help="their labels, for the accuracy (default: the interpreter's classes)")
    g.add_argument("--seed", type=int, default=1, help="place-and-route seed (default: 1)")
    g.add_argument("--strict-timing", action="store_true", help="fail when the clock target is not met")
    g.add_argument("--postsim", type=int, default=256, metavar="N",
                   help="samples for post-synthesis simulation of the mapped core (0: skip; default: 256)")
    g.add_argument("--postsim-sim", choices=("auto", "icarus", "verilator"), default="auto",
                   help="post-synthesis simulator (default: auto, Verilator for large cores when installed)")
    g.add_argument("--router", choices=("router1", "router2"),
                   help="nextpnr router (default: nextpnr's own, router1; router2 copes better with congestion)")
    g.add_argument("--nextpnr-opts", default="", metavar="ARGS",
                   help="further nextpnr arguments, as one string (e.g. '--no-tmdriv --tmg-ripup')")
    g.add_argument("--placement", choices=("nextpnr", "lgn2hw", "auto"), default="nextpnr",
                   help="who places the gate logic: nextpnr (default), lgn2hw (a min-cut placement given to nextpnr "
                        "as fixed sites; LFE5U-85F), or auto (both, the faster result kept)")
    g.add_argument("--timing-driven", choices=("auto", "on", "off"), default="auto",
                   help="nextpnr's timing-driven placement: on, off (wirelength alone, faster), or auto (default): "
                        "off first for large ECP5 cores at a slow clock, on again if that misses the "
                        "clock (the progress and report.json say which ran)")
    g.add_argument("--pnr-timeout", type=float, metavar="SECONDS",
                   help="stop place and route after this long with an error (default: no limit)")
    g.add_argument("--no-route-check", action="store_true",
                   help="build even when the estimate before synthesis says the core will not route (see "
                        "'lgn2hw info MODEL --device D')")
    g.add_argument("--no-cache", action="store_true",
                   help="run every build step, even one whose inputs and tools are unchanged since a finished run "
                        "(default: reuse it from ~/.cache/lgn2hw/steps)")
    g.add_argument("--json", action="store_true", help="print a JSON summary on stdout (progress goes to stderr)")


def _split_opts(text: str, flag: str) -> list:
    import shlex
    try:
        return shlex.split(text)
    except ValueError as err:
        raise UsageError(f"{flag} must be arguments as a shell would split them, not {text!r} ({err})") from None


def cmd_compile(args):
    from .api import compile
    out = sys.stderr if args.json else sys.stdout
    result = compile(
        args.model, args.output, board=args.board, device=args.device, package=args.package,
        passes=not args.no_passes, stop_after=args.stop_after, force=args.force, cache=not args.no_cache,
        load_options=_load_options(args), route_check=not args.no_route_check,
        progress=lambda step, msg: print(f"{step:<8} {msg}" if step == "verilog" else f"  {step:<10} {msg}",
                                         file=out, flush=True),
        warn=lambda msg: print(f"lgn2hw: warning: {msg}", file=sys.stderr, flush=True),
        pipeline=args.pipeline, freq=args.freq, top=args.top, features=args.features, lut_size=args.lut_size,
        popcount_style=args.popcount_style, max_fanout=args.max_fanout, ebr=args.ebr, seed=args.seed,
        strict_timing=args.strict_timing,
        postsim=args.postsim, postsim_sim=args.postsim_sim, router=args.router,
        nextpnr_opts=_split_opts(args.nextpnr_opts, "--nextpnr-opts"), pnr_timeout=args.pnr_timeout,
        placement=args.placement, timing_driven=args.timing_driven, core_freq=args.core_freq, selftest=args.selftest,
        selftest_inputs=_load_npy(args.selftest_data, "--selftest-data") if args.selftest_data else None,
        selftest_labels=_load_npy(args.selftest_labels, "--selftest-labels") if args.selftest_labels else None,
        prove=args.prove)
    summary = result.summary() if "pnr" in result.report.get("build", {}) else {}
    if args.json:
        print(json.dumps(summary or {"out": str(result.out), "steps": result.report["steps"]}, indent=2,
                         sort_keys=True))
        return
    for line in summary.get("lines", []):
        print(line)
    print(f"wrote {args.output}/")


# --- sweep --------------------------------------------------------------------------------------------------
def add_sweep_parser(sub):
    from .api import compile_steps
    p = sub.add_parser("sweep", help="many builds at once: seeds and settings, on this machine or a Dask cluster; "
                                     "a table, a Pareto plot and the best point in OUT/")
    _model_args(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output directory: points/, shared/, sweep.json, sweep.md, pareto.svg, best/")
    g = p.add_argument_group("axes (comma-separated values; the points are every combination)")
    g.add_argument("--seeds", default="1", metavar="LIST", help="place-and-route seeds, e.g. 1-16 or 1,3,7-9 "
                                                                 "(default: 1)")
    g.add_argument("--pipeline", default="auto", metavar="LIST", help="logic levels per stage, or auto (default)")
    g.add_argument("--freq", metavar="LIST", help="target clocks in MHz (default: the board's clock)")
    g.add_argument("--popcount-style", metavar="LIST", help="fa, cin, pack (default: the target family's)")
    g.add_argument("--boards", metavar="LIST", help="boards, instead of one --board or --device")
    t = p.add_argument_group("target and every point's options (as 'compile')")
    t.add_argument("--board", help="board name or alias (ecp5, ice40); see 'lgn2hw boards'")
    t.add_argument("--device", help="bare part, e.g. LFE5U-85F: the core alone, out of context")
    t.add_argument("--package", help="package of --device, e.g. CABGA381")
    t.add_argument("--stop-after", choices=compile_steps(), metavar="STEP",
                   help=f"last step of every point: {', '.join(compile_steps())}")
    t.add_argument("--ebr", default="auto", metavar="N|auto", help="ECP5 block RAMs for counting tables")
    t.add_argument("--lut-size", type=int, default=4, metavar="K", help="LUT cone size (default: 4)")
    t.add_argument("--max-fanout", type=int, metavar="N", help="readers of a gate register before it is copied "
                                                              "(see compile --help)")
    t.add_argument("--postsim", type=int, default=256, metavar="N", help="post-synthesis samples (default: 256)")
    t.add_argument("--router", choices=("router1", "router2"), help="nextpnr router")
    t.add_argument("--nextpnr-opts", default="", metavar="ARGS", help="further nextpnr arguments, as one string")
    t.add_argument("--timing-driven", choices=("auto", "on", "off"), default="auto",
                   help="nextpnr's timing-driven placement (default: auto, see compile --help)")
    t.add_argument("--pnr-timeout", type=float, metavar="SECONDS", help="stop one place and route after this long")
    t.add_argument("--strict-timing", action="store_true", help="a point that misses its clock fails")
    t.add_argument("--no-route-check", action="store_true", help="build even when the estimate says no route")
    x = p.add_argument_group("execution")
    x.add_argument("--jobs", "-j", type=int, default=2, metavar="N", help="builds at once on this machine "
                                                                          "(default: 2)")
    x.add_argument("--cluster", metavar="ADDRESS",
                   help="run the builds on the Dask distributed scheduler at ADDRESS (e.g. tcp://host:8786); "
                        "workers need lgn2hw, the tools, and MODEL and OUT at the same paths")
    x.add_argument("--cache-dir", metavar="DIR", help="the step cache the points share (default: each machine's "
                                                      "~/.cache/lgn2hw/steps; on a cluster, one on a shared disk)")
    x.add_argument("--no-cache", action="store_true", help="run every step of every point (synthesis N times)")
    _pass_args(p)
    _common(p)
    p.set_defaults(func=cmd_sweep)


def _point_line(r) -> str:
    if r["status"] != "ok":
        return f"{r['point']:<24} {r['status']}: {r.get('error', '')}"
    if r.get("fmax_mhz") is None:
        return f"{r['point']:<24} ok  LUT4 {r['lut4'] or 0:,}  {r['wall_s']:.1f} s"
    return (f"{r['point']:<24} ok  LUT4 {r['lut4']:,}  Fmax {r['fmax_mhz']} MHz "
            f"({'met' if r['timing_met'] else 'NOT met'})  latency {r['latency_cycles']} cyc  {r['wall_s']:.1f} s")


def cmd_sweep(args):
    from tqdm import tqdm

    from .api import sweep
    from .errors import Terminated
    bar = None
    finished = [0]
    total = [0]

    def on_event(kind, data):
        nonlocal bar
        if kind == "start":
            where = (f"Dask cluster {data['scheduler']}, {data['workers']} workers" if data["executor"] == "dask"
                     else f"{data['workers']} local workers")
            total[0] = data["points"]
            print(f"sweep    {data['points']} points on {where}", file=sys.stderr, flush=True)
            bar = tqdm(total=data["points"], unit="build", file=sys.stderr, dynamic_ncols=True)
        elif kind == "shared":
            bar.write(f"shared steps of {data['group']}: {data['wall_s']:.1f} s" if data["status"] == "ok"
                      else f"shared steps of {data['group']} failed: {data['error']}", file=sys.stderr)
        elif kind == "point":
            finished[0] += 1
            bar.write(_point_line(data), file=sys.stderr)
            bar.update(1)

    try:
        result = sweep(args.model, args.output, board=args.board, device=args.device, package=args.package,
                       seeds=args.seeds, pipeline=args.pipeline, freq=args.freq, popcount_style=args.popcount_style,
                       boards=args.boards, jobs=args.jobs, cluster=args.cluster, cache=not args.no_cache,
                       cache_dir=args.cache_dir, stop_after=args.stop_after, passes=not args.no_passes,
                       force=args.force, route_check=not args.no_route_check, load_options=_load_options(args),
                       on_event=on_event, warn=lambda msg: print(f"lgn2hw: warning: {msg}", file=sys.stderr,
                                                                 flush=True),
                       ebr=args.ebr, lut_size=args.lut_size, max_fanout=args.max_fanout, postsim=args.postsim,
                       router=args.router,
                       nextpnr_opts=_split_opts(args.nextpnr_opts, "--nextpnr-opts"), pnr_timeout=args.pnr_timeout,
                       strict_timing=args.strict_timing, timing_driven=args.timing_driven)
    except (KeyboardInterrupt, Terminated):
        if bar is not None:
            bar.close()
            bar = None
            print(f"lgn2hw: {finished[0]} of {total[0]} points finished; kept in {args.output}/sweep.json",
                  file=sys.stderr)
        raise
    finally:
        if bar is not None:
            bar.close()
    ok = [r for r in result.rows if r["status"] == "ok"]
    if not ok:
        first = next((r for r in result.rows if r.get("error")), {"error": "?"})
        raise Lgn2hwError(f"every point of the sweep failed; the first: {first['error']}",
                          hint=f"see {args.output}/sweep.md")
    if result.failed:
        print(f"lgn2hw: warning: {len(result.failed)} of {len(result.rows)} points failed (rows in "
              f"{args.output}/sweep.md)", file=sys.stderr)
    b = result.best
    if b is not None:
        print(f"best     {b['point']}: Fmax {b['fmax_mhz']} MHz, LUT4 {b['lut4']:,}, latency "
              f"{b['latency_cycles']} cycles -> {args.output}/best/")
    print(f"wall     {result.data['wall_s']:.1f} s for {len(result.rows)} builds")
    print(f"wrote {args.output}/sweep.json, sweep.md, pareto.svg")


# --- boards -------------------------------------------------------------------------------------------------
def add_boards_parser(sub):
    p = sub.add_parser("boards", help="list the boards and bare devices with their capacity")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    _common(p)
    p.set_defaults(func=cmd_boards)


def cmd_boards(args):
    from .fpga import DEVICES, list_boards
    boards, aliases = list_boards()
    if args.json:
        print(json.dumps({"boards": {b.name: {"device": b.device, "package": b.package, "clock_hz": b.clock_hz,
                                               "capacity": b.capacity, "description": b.description}
                                     for b in boards},
                          "aliases": aliases,
                          "devices": {d.name: {"family": d.family, "lut4": d.lut4, "ff": d.ff, "bram": d.bram,
                                               "packages": d.packages} for d in DEVICES.values()}},
                         indent=2, sort_keys=True))
        return
    print(f"{'board':<20} {'device':<13} {'package':<10} {'clock':>7} {'LUT4':>7} {'FF':>7} {'IO':>4} {'BRAM':>5}")
    for b in boards:
        names = [a for a, t in aliases.items() if t == b.name]
        c = b.capacity
        print(f"{b.name:<20} {b.device:<13} {b.package:<10} {b.clock_hz / 1e6:>4g} MHz {c['lut4']:>7,} "
              f"{c['ff']:>7,} {c['io']:>4} {c['bram']:>5}" + (f"  (alias: {', '.join(names)})" if names else ""))
    print("\nbare devices (--device D --package P): the core alone (out of context on ECP5; elsewhere its ports "
          "are pins)")
    for d in DEVICES.values():
        print(f"  {d.name:<13} {d.family:<8} {d.lut4:>7,} LUT4 {d.bram:>4} BRAM  packages "
              + ", ".join(f"{p} ({n} IO)" for p, n in d.packages.items()))


# --- flash --------------------------------------------------------------------------------------------------
def add_flash_parser(sub):
    p = sub.add_parser("flash", help="load a built bitstream onto a board with openFPGALoader")
    p.add_argument("out", metavar="OUT", help="the output directory of 'lgn2hw compile --board'")
    p.add_argument("--board", required=True, help="board name or alias")
    p.add_argument("--flash", dest="flash_memory", action="store_true",
                   help="write the configuration flash (persistent) instead of the FPGA's SRAM")
    p.add_argument("--dry-run", action="store_true", help="print the exact command instead of running it")
    _common(p)
    p.set_defaults(func=cmd_flash)


def cmd_flash(args):
    from .fpga import load_board
    from .fpga.flash import flash
    line = flash(args.out, load_board(args.board), flash_memory=args.flash_memory, dry_run=args.dry_run)
    print(line if args.dry_run else f"flashed: {line}")


# --- run ----------------------------------------------------------------------------------------------------
def add_run_parser(sub):
    p = sub.add_parser("run", help="stream samples through a board over its UART and collect the answers")
    p.add_argument("inputs", nargs="?",
                   help="INPUTS.npy: (N, n_inputs) 0/1 bits, or (N, features) 0..255 for a features design")
    p.add_argument("-o", "--output",
                   help="OUT.npy: (N, classes) counts when the design sends them, else (N,) classes")
    p.add_argument("--selftest", action="store_true",
                   help="instead: run the samples stored in the bitstream (compile --selftest N) back to back at "
                        "the core clock; print the accuracy, the mismatches and the samples/s the board measured")
    p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB1")
    p.add_argument("--baud", type=int, help="baud rate (default: the --board file's, else 115200)")
    p.add_argument("--board", help="the board the bitstream was built for: its UART baud rate ('lgn2hw boards')")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for an answer (default: 2)")
    _force_arg(p)
    _common(p)
    p.set_defaults(func=cmd_run)


def cmd_run(args):
    from ._files import check_output_file, save_npy
    from .fpga import protocol
    if args.selftest:
        if args.inputs or args.output:
            raise UsageError("--selftest takes no INPUTS or --output: the samples are in the bitstream")
        r = _with_port(args, protocol.selftest)
        print(f"self-test: {r.samples} samples, {r.correct} correct (accuracy {100 * r.accuracy:.2f} %), "
              f"{r.mismatches} mismatches against the compile-time classes"
              + (f" (first: sample {r.first_mismatch})" if r.mismatches else ""))
        print(f"measured: {r.cycles} cycles at {r.clock_hz / 1e6:g} MHz = {r.samples_per_s:,.0f} samples/s")
        if r.mismatches:
            raise protocol.HarnessError(f"the board gave {r.mismatches} of {r.samples} answers that differ from the "
                                        f"interpreter's (first: sample {r.first_mismatch})",
                                        hint="a timing or build problem: try a lower --core-freq or --freq")
        return
    if not args.inputs or not args.output:
        raise UsageError("run needs INPUTS and --output (or --selftest)")
    check_output_file(args.output, args.force)       # before minutes of streaming, not after
    x = _load_npy(args.inputs, "INPUTS")
    info, classes, counts = _with_port(args, lambda port: protocol.run(port, x))
    save_npy(args.output, counts if counts is not None else classes, force=args.force)
    print(f"wrote {args.output}: {len(classes)} answers, every one checked (CRC, status, class)")


def _with_port(args, action):
    if args.baud is None:
        from .fpga.boards import load_board
        args.baud = load_board(args.board).baud if args.board else 115200
    try:
        import serial
    except ImportError:
        raise UsageError("lgn2hw run needs pyserial", hint="pip install pyserial") from None
    try:
        port = serial.Serial(args.port, args.baud, timeout=args.timeout)
    except (serial.SerialException, OSError) as err:
        raise UsageError(f"cannot open {args.port}: {err}", hint="check the port name and its permissions") from None
    with port:
        port.reset_input_buffer()
        return action(port)


# --- train --------------------------------------------------------------------------------------------------
def add_train_parser(sub):
    from .train import add_arguments
    p = sub.add_parser("train", help="train a logic gate network on the CPU and save an lgn2hw checkpoint")
    add_arguments(p)
    _common(p)
    p.set_defaults(func=cmd_train)


def cmd_train(args):
    from .train import run_from_args
    run_from_args(args)


# --- wiring -------------------------------------------------------------------------------------------------
def add_wiring_parser(sub):
    p = sub.add_parser("wiring", help="write a network's wiring as index tensors for difflogic and torchlogix, "
                                      "to train elsewhere with lgn2hw's wiring kinds")
    p.add_argument("--inputs", required=True, metavar="N|C,H,W",
                   help="input bits: a count, or a shape (local wiring lays the input out on it)")
    p.add_argument("--width", type=int, required=True, help="gates per layer")
    p.add_argument("--layers", type=int, required=True, help="gate layers")
    p.add_argument("--connections", default="random", metavar="KIND",
                   help="random, unique, local[:R] or learnable[:K[:local[:R]]] (default: random)")
    p.add_argument("--classes", type=int, default=1, metavar="K",
                   help="GroupSum classes: local wiring deals the last layer's places out class by class "
                        "(default: 1)")
    p.add_argument("--seed", type=int, default=0, help="the wiring's seed, as in 'lgn2hw train --seed' (default: 0)")
    p.add_argument("-o", "--output", required=True, metavar="WIRING.pt", help="file to write (torch.save)")
    _force_arg(p)
    _common(p)
    p.set_defaults(func=cmd_wiring)


def cmd_wiring(args):
    from .wiring import describe_file, parse_inputs, write_wiring
    n_inputs, shape = parse_inputs(args.inputs)
    written = write_wiring(args.output, args.connections, n_inputs, [args.width] * max(args.layers, 0),
                           input_shape=shape, classes=args.classes, seed=args.seed, force=args.force)
    print(describe_file(written))
    print(f"wrote {args.output}")


# --- main ---------------------------------------------------------------------------------------------------
def build_parser():
    parser = _Parser(prog="lgn2hw", description="Compile trained logic gate networks to FPGA hardware.")
    parser.add_argument("--version", action="version", version=f"lgn2hw {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (add_info_parser, add_predict_parser, add_compile_parser, add_sweep_parser, add_train_parser,
                add_wiring_parser, add_boards_parser, add_flash_parser, add_run_parser, add_verify_parser):
        add(sub)
    return parser


def main(argv=None) -> int:
    """Run one command; SIGTERM and SIGHUP (a CI timeout, ``kill``, a closed terminal) unwind like Ctrl-C: the
    tools lgn2hw started end, partial outputs are removed, and one line says so."""
    import signal

    from .errors import Terminated, signals_unwind
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    if not debug:
        warnings.simplefilter("ignore")
    try:
        with signals_unwind(take=True):
            return _main(argv, debug)
    except Terminated as sig:
        print(f"lgn2hw: error: terminated by {signal.Signals(sig.args[0]).name}", file=sys.stderr)
        return 1


def _main(argv, debug) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            raise UsageError("a command is required", hint="see 'lgn2hw --help'")
        args.func(args)
        return 0
    except Lgn2hwError as err:
        if debug:
            import traceback
            traceback.print_exc()
        print(f"lgn2hw: error: {err.line()}", file=sys.stderr)
        hint = err.hint or (f"see the log {err.log}" if err.log else None)
        if hint:
            print(f"lgn2hw: hint: {hint}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`lgn2hw info MODEL | head`): stop quietly, and keep Python from complaining
        # about the unflushable stdout at exit.
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("lgn2hw: error: interrupted", file=sys.stderr)
        return 1
    except MemoryError:
        print("lgn2hw: error: out of memory", file=sys.stderr)
        return 1
    except Exception as err:  # a bug: still one line, the traceback with --debug
        if debug:
            import traceback
            traceback.print_exc()
        print(f"lgn2hw: error: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        print("lgn2hw: hint: rerun with --debug for the traceback and report it", file=sys.stderr)
        return 1


def entry() -> None:
    sys.exit(main())
