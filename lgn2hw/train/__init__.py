"""CPU trainer (difflogic semantics). Being written: see lgn2hw/train/loop.py."""


def add_arguments(p):
    p.add_argument("--dataset", default="digits")


def run_from_args(args):
    from ..errors import UsageError
    raise UsageError("training is not available yet")
