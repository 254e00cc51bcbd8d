"""Training options, free of PyTorch so that the command line can describe them without importing it."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import UsageError

PARAMETRIZATIONS = ("softmax", "light")
LR_SCHEDULES = ("constant", "cosine")


@dataclass
class TrainConfig:
    dataset: str = "digits"
    layers: int = 4
    width: int = 1000
    epochs: int = 60
    lr: float = 0.01
    lr_schedule: str = "constant"     # constant, or cosine: from lr down to 0 over the run's steps
    tau: float | None = None          # None: chosen from the class block size (see default_tau)
    batch_size: int = 64
    seed: int = 0
    connections: str = "unique"       # a wiring kind: random, unique, local[:R], learnable[:K[:local[:R]]]
    init: str = "residual"
    parametrization: str = "softmax"  # difflogic's 16 logits per gate, or 4 per-entry logits (Light-DLGN)
    threads: int | None = None
    save_weights: bool = False
    thresholds: tuple | None = None   # digits and mnist: thermometer thresholds on the raw pixel values
    crop: int | None = None           # mnist only: keep the centred crop x crop window
    gumbel: float = 0.0               # Gumbel noise on the gate logits in training
    shift: int = 0                    # augmentation: random image shifts of up to this many pixels (0: none)

    def check(self):
        """Raise UsageError for values that cannot train."""
        if not isinstance(self.shift, int) or self.shift < 0:
            raise UsageError(f"--shift must be a non-negative integer, not {self.shift!r}")
        for name in ("layers", "width", "epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be a positive integer, not {value!r}")
        for name in ("lr", "tau"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise UsageError(f"--{name} must be a positive number, not {value!r}")
        if not (isinstance(self.gumbel, (int, float)) and math.isfinite(self.gumbel) and self.gumbel >= 0):
            raise UsageError(f"--gumbel must be a non-negative number, not {self.gumbel!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise UsageError(f"--threads must be a positive integer, not {self.threads!r}")
        from ..wiring import parse
        parse(self.connections)
        if self.crop is not None and self.dataset != "mnist":
            raise UsageError("--crop applies to the mnist data set only")
        if self.thresholds is not None and self.dataset not in ("digits", "mnist"):
            raise UsageError("--thresholds applies to the digits and mnist data sets only")
        if self.parametrization not in PARAMETRIZATIONS:
            raise UsageError(f"--parametrization must be softmax or light, not {self.parametrization!r}")
        if self.save_weights and self.parametrization != "softmax":
            raise UsageError("--save-weights stores difflogic's 16 logits per gate; the light parametrization "
                             "has 4, so it saves gate ids", hint="drop --save-weights")
        if self.lr_schedule not in LR_SCHEDULES:
            raise UsageError(f"--lr-schedule must be {' or '.join(LR_SCHEDULES)}, not {self.lr_schedule!r}")
        if self.init not in ("random", "residual"):
            raise UsageError(f"--init must be random or residual, not {self.init!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise UsageError(f"--seed must be a non-negative integer, not {self.seed!r}")


def default_tau(width: int, k: int) -> float:
    """A tau that keeps GroupSum logits in a useful range: the square root of the gates per class."""
    return round(math.sqrt(width / k), 2)


def learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate of step ``step`` (0-based) of ``total_steps``: ``config.lr``, or for the cosine schedule
    ``lr * (1 + cos(pi * step / total_steps)) / 2``, which falls from lr at the first step towards 0."""
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * step / max(1, total_steps)))
    return config.lr
