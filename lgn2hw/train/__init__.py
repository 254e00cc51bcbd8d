"""CPU trainer with difflogic semantics: ``lgn2hw train --dataset digits -o model.pt``.

The network (:mod:`.model`) relaxes each two-input gate to a softmax mix of the 16 gates; the loop (:mod:`.loop`)
trains it with Adam on a data set that ships inside a Python package (:mod:`lgn2hw.data`), discretises it
(argmax per gate) and saves a native lgn2hw checkpoint with the input encoding and provenance.
"""
from __future__ import annotations

import os
import sys

from ..errors import UsageError
from .config import LR_SCHEDULES, PARAMETRIZATIONS, TrainConfig, default_tau

__all__ = ["TrainConfig", "TrainResult", "LogicLayer", "LogicNet", "train", "save_checkpoint", "default_tau",
           "PARAMETRIZATIONS", "add_arguments", "run_from_args"]

# PyTorch is imported only when training or the network is used, not to build the command line.
_LAZY = {"TrainResult": "loop", "train": "loop", "save_checkpoint": "loop", "LogicLayer": "model",
         "LogicNet": "model"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_D = TrainConfig()


def add_arguments(p):
    from ..data import DATASETS
    p.add_argument("--dataset", default=_D.dataset, choices=DATASETS,
                   help=f"data set shipped inside a Python package (default: {_D.dataset})")
    p.add_argument("-o", "--output", required=True, metavar="OUT.pt",
                   help="checkpoint to write (new, or an earlier lgn2hw output)")
    p.add_argument("--force", action="store_true", help="replace OUT.pt even if lgn2hw did not write it")
    p.add_argument("--layers", type=int, default=_D.layers, help=f"gate layers (default: {_D.layers})")
    p.add_argument("--width", type=int, default=_D.width,
                   help=f"gates per layer, a multiple of the class count (default: {_D.width})")
    p.add_argument("--epochs", type=int, default=_D.epochs, help=f"passes over the training set (default: {_D.epochs})")
    p.add_argument("--lr", type=float, default=_D.lr, help=f"Adam learning rate (default: {_D.lr})")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=_D.lr_schedule,
                   help="constant, or cosine: the rate falls from --lr to 0 over the run's steps "
                        f"(default: {_D.lr_schedule})")
    p.add_argument("--tau", type=float, default=None,
                   help="GroupSum temperature (default: sqrt(width / classes))")
    p.add_argument("--batch-size", type=int, default=_D.batch_size, help=f"default: {_D.batch_size}")
    p.add_argument("--seed", type=int, default=_D.seed,
                   help=f"wiring, initialisation and batch order (default: {_D.seed})")
    p.add_argument("--connections", default=_D.connections, metavar="KIND",
                   help="wiring: random (difflogic's), unique (random without repeated pairs), local[:R] (two "
                        "distinct nets within radius R of the gate's place on a 2-D sheet; R defaults to 2), "
                        "learnable[:K[:local[:R]]] (each input learns which of K candidates to read; K defaults "
                        f"to 8); see docs/training-for-hardware.md (default: {_D.connections})")
    p.add_argument("--init", choices=("random", "residual"), default=_D.init,
                   help=f"gate logits: Gaussian, or Gaussian favouring the pass-through gate A (default: {_D.init})")
    p.add_argument("--parametrization", choices=PARAMETRIZATIONS, default=_D.parametrization,
                   help="gate parameters: difflogic's 16-way softmax, or 4 per-entry logits as in Light-DLGN "
                        f"(default: {_D.parametrization})")
    p.add_argument("--thresholds", metavar="T1,T2,...",
                   help="thermometer thresholds on the raw pixel values: digits 0..16 (default: 1,4,7,10,13), "
                        "mnist 0..255 (default: 127.5, i.e. pixel / 255 > 0.5)")
    p.add_argument("--crop", type=int, metavar="S",
                   help="mnist: keep the centred S x S window (difflogic's recipe uses 20; default: all 28 x 28)")
    p.add_argument("--shift", type=int, default=_D.shift,
                   help=f"augment with random image shifts of up to this many pixels (default: {_D.shift})")
    p.add_argument("--gumbel", type=float, default=_D.gumbel,
                   help="scale of Gumbel noise on the 16 gate logits while training (softmax parametrization; "
                        f"default: {_D.gumbel})")
    p.add_argument("--save-weights", action="store_true",
                   help="store the float gate logits instead of the discretised gate ids")
    p.add_argument("--threads", type=int, default=1,
                   help="PyTorch CPU threads (default: 1, the fastest for small networks)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")


def config_from_args(args) -> TrainConfig:
    thresholds = None
    if args.thresholds is not None:
        try:
            thresholds = tuple(float(t) for t in args.thresholds.split(","))
        except ValueError:
            raise UsageError(f"--thresholds must be numbers separated by commas, not {args.thresholds!r}") from None
    return TrainConfig(dataset=args.dataset, layers=args.layers, width=args.width, epochs=args.epochs, lr=args.lr,
                       lr_schedule=args.lr_schedule, tau=args.tau, batch_size=args.batch_size, seed=args.seed,
                       connections=args.connections,
                       init=args.init, parametrization=args.parametrization, threads=args.threads,
                       save_weights=args.save_weights,
                       thresholds=thresholds, crop=args.crop, shift=args.shift, gumbel=args.gumbel)


def run_from_args(args):
    from pathlib import Path
    config = config_from_args(args)
    config.check()
    out = Path(args.output)
    from .._files import check_output_file
    check_output_file(out, args.force)      # before hours of training, not after
    parent = next((d for d in (out.absolute().parent, *out.absolute().parents) if d.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError("cannot write the checkpoint there (the directory is not writable)", location=str(out))
    from .loop import save_checkpoint, train
    log = None
    if not args.quiet and not sys.stderr.isatty():
        # no progress bar in a log file or a pipe: one line an epoch instead
        import time
        t0 = time.perf_counter()

        def log(epoch, loss, acc):
            print(f"epoch {epoch}/{config.epochs}: loss {loss:.4f}, test accuracy {acc:.4f}, "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    result = train(config, quiet=args.quiet, log=log)
    save_checkpoint(result.checkpoint, out, force=args.force)
    if not args.quiet:
        prov = result.checkpoint["provenance"]
        print(f"trained {result.model.n_gates} gates ({config.layers} x {config.width}) on {prov['dataset']} "
              f"in {result.seconds:.1f} s: test accuracy {result.test_accuracy:.4f} "
              f"({prov['test_size']} images), train {result.train_accuracy:.4f}")
        print(f"wrote {out}")
    sys.stdout.flush()
