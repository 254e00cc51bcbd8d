"""Frontends: every checkpoint kind becomes a :class:`~lgn2hw.ir.Netlist`.

``load_model(path, options)`` reads a file without ever running code from it (unless the user passed
``--trust-pickle``, and even then through an allow-list), detects its kind from its content (``options.fmt``
overrides), and hands the object to that kind's converter.

What is registered where, all of it static: :data:`CONVERTERS` below lists the readers, in the order detection
tries them; :data:`.safe_pickle.ALLOWED` lists the classes a whole-model pickle may name. Importing a reader
registers nothing, and a reader that fails to import is a bug that fails ``import lgn2hw.frontend``.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError, Lgn2hwError
from ..ir import Netlist, parse
from . import difflogic, native, safe_pickle, torchlogix

TEXT_MAGIC = b"lgn2hw-netlist"


@dataclass
class LoadOptions:
    fmt: str | None = None              # force a kind: native, netlist, difflogic, torchlogix
    classes: int | None = None          # GroupSum k when the file does not say
    tau: float | None = None
    trust_pickle: bool = False          # allow whole-model pickles (through an allow-list)
    parametrization: str | None = None  # torchlogix: raw, light, warp
    input_shape: tuple | None = None


# Readers of already-loaded objects, tried in this order: kind -> (detect(obj) -> bool, convert(obj, options) ->
# Netlist). torchlogix covers the convolutional models too (torchlogix_conv.py, reached from torchlogix.py).
CONVERTERS: dict = {
    "native": (native.is_native, lambda obj, opts: native.to_netlist(obj)),
    "difflogic": (difflogic.detect, difflogic.convert),
    "torchlogix": (torchlogix.detect, torchlogix.convert),
}
FORMATS = ("native", "netlist", "difflogic", "torchlogix")


def read_weights_only(data: bytes, source: str):
    """torch.load with weights_only=True: tensors, containers and plain values only, never code."""
    import torch
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for bad files; all of them mean "cannot read safely"
        text = str(err).strip().splitlines()
        detail = text[0] if text else type(err).__name__
        if "weights_only" in str(err) or "Unsupported global" in str(err) or "GLOBAL" in str(err):
            found = re.search(r"GLOBAL (\S+?)(?: was not| whose)", str(err))
            name = found.group(1) if found else None
            if name is not None and "." not in name:
                name = f"builtins.{name}"     # torch's message leaves the module of builtins out
            if name is not None and name not in safe_pickle.allowed_names():
                raise CheckpointError(f"the file is a pickle that needs code to load ({name}, which lgn2hw "
                                      "never loads)", location=source,
                                      hint="lgn2hw reads state dicts, its own checkpoints and whole difflogic or "
                                           "torchlogix models") from None
            raise CheckpointError("the file is a pickle that needs code to load (a whole model"
                                  + (f": {name}" if name else "") + ")", location=source,
                                  hint="if you trust the file, pass --trust-pickle: lgn2hw then reads difflogic "
                                       "and torchlogix models through an allow-list of their classes") from None
        raise CheckpointError(f"not a readable PyTorch checkpoint ({detail[:120]})", location=source) from None


def load_model(path, options: LoadOptions | None = None) -> Netlist:
    options = options or LoadOptions()
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CheckpointError("no such file", location=source) from None
    except IsADirectoryError:
        raise CheckpointError("is a directory, not a checkpoint", location=source) from None
    except OSError as err:
        raise CheckpointError(f"cannot read ({err.strerror})", location=source) from None
    if not data:
        raise CheckpointError("the file is empty", location=source)
    if options.fmt not in (None, *FORMATS):
        raise CheckpointError(f"format must be one of {', '.join(FORMATS)}, not {options.fmt!r}")
    try:
        if options.fmt == "netlist" or (options.fmt is None and data.startswith(TEXT_MAGIC)):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise CheckpointError("netlist text must be UTF-8") from None
            return parse(text, source=source)
        if options.trust_pickle:
            obj = safe_pickle.load(data, source)     # whole models through the allow-list, as stand-ins
        else:
            obj = read_weights_only(data, source)
        if options.fmt is not None:
            _detect, convert = CONVERTERS[options.fmt]
            return convert(obj, options)
        for detect, convert in CONVERTERS.values():
            if detect(obj):
                return convert(obj, options)
        raise CheckpointError("not a checkpoint kind lgn2hw knows (lgn2hw, difflogic, torchlogix)",
                              hint="pass --format to name the kind")
    except Lgn2hwError as err:
        if not (err.location or "").startswith(source):
            err.at(source)
        raise
