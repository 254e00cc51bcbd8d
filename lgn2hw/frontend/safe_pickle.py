"""Whole-model pickles (``torch.save(model)``) read through an allow-list, without the classes they name.

A pickle is a program: its ``GLOBAL`` opcode imports any callable and ``REDUCE`` calls it. This reader runs
PyTorch's ``weights_only`` unpickler -- the one ``torch.load(weights_only=True)`` uses, which resolves names from a
fixed table and never imports anything -- and adds to that table a short list of model classes (difflogic's and
torchlogix's layers, a few torch containers). Each added name resolves to an inert :class:`StandIn` that
records the pickled state and has no behaviour: creating one runs ``object.__new__``, restoring its state is a
dict assignment. Any other name (``os.system``, ``builtins.exec``, a user's own ``Model`` class) stops the load
with a :class:`~lgn2hw.errors.CheckpointError` that names it. docs/security.md argues why this path is as safe as
``weights_only``.

:data:`ALLOWED` is the whole list, one static table; a frontend matches the stand-ins of the names it reads
with :func:`is_stand_in` and reads them back with :func:`attrs` (a module's pickled attributes),
:func:`children` (its sub-modules) and :func:`flatten_modules` (the leaves of a model in forward order).
"""
from __future__ import annotations

import io
import re
import warnings

from ..errors import CheckpointError


class StandIn:
    """An object of an allow-listed class, reduced to its class name and pickled state.

    Slots only, so unpickling can set nothing but ``state`` and ``args``; ``__setstate__`` stores the state it is
    given and calls nothing."""
    __slots__ = ("state", "args")
    qualified_name = "?"

    def __new__(cls, *args):
        obj = object.__new__(cls)
        obj.args = args
        obj.state = None
        return obj

    def __init__(self, *args):      # REDUCE on the class itself: no-op beyond __new__
        pass

    def __setstate__(self, state):
        self.state = state

    def __reduce__(self):           # never re-pickled as the real class
        raise TypeError("stand-ins cannot be pickled")

    def __repr__(self):
        return f"<stand-in {self.qualified_name}>"


#: Every class a whole-model pickle may name (``module.Class`` as the pickle spells it), by the reader that needs
#: it. Adding a name here is a security decision: docs/security.md argues why stand-ins are safe.
ALLOWED: tuple[str, ...] = (
    # torch containers and no-op modules around the logic layers; read only for `_modules` (or skipped)
    "torch.nn.modules.container.Sequential",
    "torch.nn.modules.container.ModuleList",
    "torch.nn.modules.container.ParameterList",          # LogicConv2d's tree weights
    "torch.nn.modules.flatten.Flatten",
    "torch.nn.modules.linear.Identity",                  # a residual block's shortcut
    # difflogic (difflogic.py)
    "difflogic.difflogic.LogicLayer",
    "difflogic.difflogic.GroupSum",
    # torchlogix dense layers (_torchlogix_dense.py, torchlogix.py)
    "torchlogix.layers.dense.LogicDense",
    "torchlogix.layers.groupsum.GroupSum",
    "torchlogix.connections.FixedDenseConnections",
    "torchlogix.connections.LearnableDenseConnections",
    "torchlogix.parametrization.RawLUTParametrization",
    "torchlogix.parametrization.LightLUTParametrization",
    "torchlogix.parametrization.WarpLUTParametrization",
    # torchlogix convolutional models (torchlogix_conv.py)
    "torchlogix.layers.conv.LogicConv2d",
    "torchlogix.layers.pool.OrPooling2d",
    "torchlogix.connections.FixedConvConnections",
    "torchlogix.modules.resblock.ResidualLogicBlock",
    "torchlogix.layers.binarization.DummyBinarization",
    "torchlogix.models.conv.ClgnMnist",
    "torchlogix.models.conv.ClgnMnistTiny",
    "torchlogix.models.conv.ClgnMnistSmall",
    "torchlogix.models.conv.ClgnMnistMedium",
    "torchlogix.models.conv.ClgnMnistLarge",
    "torchlogix.models.conv.CNN",
)

# One inert StandIn subclass per allowed name, made once.
_STAND_INS: dict[str, type] = {
    name: type(name.rsplit(".", 1)[-1], (StandIn,), {"__slots__": (), "qualified_name": name}) for name in ALLOWED}


def allowed_names() -> list[str]:
    return sorted(_STAND_INS)

_UNSUPPORTED = re.compile(r"GLOBAL (\S+?)(?: was not an allowed global| whose module)")


def load(data: bytes, source: str):
    """Unpickle a torch checkpoint; allow-listed classes become stand-ins, anything else is refused."""
    import torch
    entries = [(cls, name) for name, cls in _STAND_INS.items()]
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(entries):
            warnings.simplefilter("ignore")
            # weights_only=True selects torch's restricted unpickler; the context adds only our stand-ins.
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for bad files; all of them mean "cannot read safely"
        text = str(err)
        found = _UNSUPPORTED.search(text)
        if found:
            name = found.group(1) if "." in found.group(1) else f"builtins.{found.group(1)}"
            raise CheckpointError(
                f"the pickle needs {name}, which is not on the allow-list of classes lgn2hw reads",
                hint="lgn2hw reads whole models built from difflogic or torchlogix layers in torch.nn.Sequential; "
                     "for anything else save model.state_dict() together with the wiring") from None
        if "Can only" in text or "unrecognized function" in text:
            raise CheckpointError("the pickle uses an object in a way lgn2hw does not allow "
                                  f"({text.strip().splitlines()[-1][:120]})") from None
        first = text.strip().splitlines()
        detail = first[0] if first else type(err).__name__
        raise CheckpointError(f"not a readable PyTorch checkpoint ({detail[:120]})") from None


def is_stand_in(obj, *names: str) -> bool:
    """Whether ``obj`` is a stand-in (of one of ``names`` if given, matched on the class name's tail)."""
    if not isinstance(obj, StandIn):
        return False
    return not names or any(obj.qualified_name == n or obj.qualified_name.endswith("." + n) for n in names)


def attrs(obj: StandIn, what: str) -> dict:
    """The pickled attribute dict of a stand-in (a torch Module's ``__dict__``)."""
    state = obj.state
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict):
        state = state[0]
    if not isinstance(state, dict):
        raise CheckpointError(f"{what} ({obj.qualified_name}) must carry a dict of attributes, not "
                              f"{type(state).__name__}")
    return state


def children(obj: StandIn, what: str) -> list:
    """(name, child) pairs of a pickled torch Module, in registration order."""
    mods = attrs(obj, what).get("_modules")
    if mods is None:
        return []
    if not isinstance(mods, dict):
        raise CheckpointError(f"{what}: _modules must be a dict, not {type(mods).__name__}")
    return list(mods.items())


def flatten_modules(obj, what: str = "model") -> list:
    """The leaf modules of a pickled model in forward order, looking through Sequential/ModuleList containers.
    Returns (qualified path, stand-in) pairs."""
    out = []

    def walk(node, path):
        if is_stand_in(node, "torch.nn.modules.container.Sequential", "torch.nn.modules.container.ModuleList"):
            for name, child in children(node, path or what):
                walk(child, f"{path}.{name}" if path else str(name))
        else:
            out.append((path or what, node))
    walk(obj, "")
    return out
