"""No file can make lgn2hw run code, and every bad file gives one error line.

A corpus of hostile and broken files goes through the CLI (``info`` and ``predict -o``), with and without
``--trust-pickle``: each must print ``lgn2hw: error: ...`` first on stderr, exit 1, write nothing and leave no
trace (the payloads would create a marker file). hypothesis then mutates valid checkpoints byte by byte: the
loader either returns a netlist that passes ``check()`` or raises an Lgn2hwError, never anything else.
"""
import builtins
import io
import os
import pickle
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lgn2hw.cli import main
from lgn2hw.errors import Lgn2hwError
from lgn2hw.frontend import LoadOptions, load_model
from lgn2hw.frontend.native import make_checkpoint

ERROR_LINE = re.compile(r"^lgn2hw: error: \S")


class SystemPayload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


class ExecPayload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.exec, (f"open({self.marker!r}, 'w').close()",))


def _save(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _difflogic_sd(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"0.weights": torch.randn(16, 16, generator=g), "0.indices": torch.randint(0, 12, (2, 16), generator=g),
            "1.weights": torch.randn(12, 16, generator=g), "1.indices": torch.randint(0, 16, (2, 12), generator=g)}


def _torchlogix_sd(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"0.weight": torch.randn(16, 4, generator=g), "0.connections.indices": torch.randint(0, 12, (2, 16), generator=g),
            "1.weight": torch.randn(12, 4, generator=g), "1.connections.indices": torch.randint(0, 16, (2, 12), generator=g)}


def _native():
    g = torch.Generator().manual_seed(0)
    layers = [{"indices": torch.randint(0, 12, (2, 16), generator=g), "gates": torch.randint(0, 16, (16,), generator=g)},
              {"indices": torch.randint(0, 16, (2, 12), generator=g), "gates": torch.randint(0, 16, (12,), generator=g)}]
    return make_checkpoint(n_inputs=12, layers=layers, k=3)


def _repack(data: bytes, new_pickle: bytes) -> bytes:
    """The same torch zip archive with data.pkl replaced (CRCs recomputed, so torch reads the new pickle)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for name in src.namelist():
            dst.writestr(name, new_pickle if name.endswith("/data.pkl") else src.read(name))
    return out.getvalue()


def _data_pkl(data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    return src.read(next(n for n in src.namelist() if n.endswith("/data.pkl")))


def _unicode(text):
    raw = text.encode()
    return b"X" + len(raw).to_bytes(4, "little") + raw


def _forge_first_numel(pk: bytes) -> bytes:
    """Claim 2**31-1 elements for the first storage (its numel follows the location string 'cpu')."""
    at = pk.index(b"cpuq\x06") + 5
    size = {ord("K"): 2, ord("M"): 3, ord("J"): 5}[pk[at]]
    return pk[:at] + b"J\xff\xff\xff\x7f" + pk[at + size:]


def _global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def corpus(marker: Path) -> dict:
    """name -> file content (bytes), or a callable making the path (for directories / missing files)."""
    m = str(marker)
    sd = _difflogic_sd()
    plain = _save(sd)
    items = {
        "reduce-os-system-top-level": _save(SystemPayload(m)),
        "reduce-exec-top-level": _save(ExecPayload(m)),
        "reduce-in-state-dict-value": _save({**sd, "1.weights": SystemPayload(m)}),
        "reduce-in-training-wrapper": _save({"epoch": 3, "model_state_dict": sd, "optimizer": ExecPayload(m)}),
        "reduce-in-nested-wrapper": _save({"state_dict": {"model": {**_torchlogix_sd(), "x": SystemPayload(m)}}}),
        "reduce-in-allow-listed-module": _save(torch.nn.Sequential(torch.nn.Flatten())),   # patched below
        "raw-pickle-protocol-0": _global("os", "system") + f"(S'touch {m}'\ntR.".encode(),
        "raw-pickle-protocol-2": pickle.dumps(SystemPayload(m), protocol=2),
        "zip-with-payload-pickle": _repack(plain, pickle.dumps(ExecPayload(m), protocol=2)),
        # allow-listed class names called with arguments and given hostile state: a stand-in, or refused
        "stand-in-abuse-global": _repack(plain, b"\x80\x02" + _global("torch.nn.modules.container", "Sequential")
                                         + b"(" + _unicode("touch") + b"tR}" + _unicode("__class__")
                                         + _global("os", "system") + b"sb."),
        "stand-in-abuse-state": _repack(plain, b"\x80\x02" + _global("difflogic.difflogic", "LogicLayer")
                                        + b"(" + _unicode("touch") + b"tR}" + _unicode("__class__")
                                        + _unicode("x") + _unicode("_modules") + b"K\x05" + b"ub."),
        "forged-storage-size": _repack(plain, _forge_first_numel(_data_pkl(plain))),
        "forged-tensor-shape": _repack(plain, _data_pkl(plain).replace(b"QK\x00K\x10K\x10\x86", b"QK\x00K\x10K\x11\x86", 1)),
        "truncated-10pct": plain[: len(plain) // 10],
        "truncated-50pct": plain[: len(plain) // 2],
        "truncated-last-byte": plain[:-1],
        "truncated-native": _save(_native())[:-200],
        "random-1-byte": b"\x80",
        "random-100-bytes": np.random.default_rng(1).bytes(100),
        "random-5000-bytes": np.random.default_rng(2).bytes(5000),
        "random-zip-magic": b"PK\x03\x04" + np.random.default_rng(3).bytes(400),
        "empty": b"",
        "text": b"hello, this is not a model\n",
        "netlist-magic-garbage": b"lgn2hw-netlist\x00\xff\xfe garbage",
        "npy-array": _npy(),
        "foreign-zip": _zip_of_text(),
        "plain-tensor": _save(torch.zeros(3)),
        "list-of-tensors": _save([torch.zeros(3)]),
        "state-dict-wrong-types": _save({"0.weights": [1.0] * 16, "0.indices": "nope"}),
        "directory": lambda p: p.mkdir(),
        "missing": lambda p: None,
    }
    # a whole-model pickle made only of allow-listed containers, with a payload as one module's attribute
    model = torch.nn.Sequential(torch.nn.Flatten())
    model[0].evil = SystemPayload(m)
    items["reduce-in-allow-listed-module"] = _save(model)
    return items


def _npy():
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 3)))
    return buf.getvalue()


def _zip_of_text():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "not a model")
    return buf.getvalue()


def _make(tmp_path, name, content):
    path = tmp_path / f"{name}.pt"
    if callable(content):
        content(path)
    else:
        path.write_bytes(content)
    return path


COMMANDS = ["info", "predict"]


def test_corpus_every_item_gives_one_error_line(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    items = corpus(marker)
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.zeros((4, 12), np.uint8))
    runs = 0
    for name, content in items.items():
        path = _make(tmp_path, name, content)
        before = sorted(os.listdir(tmp_path))
        for command in COMMANDS:
            for trust in ([], ["--trust-pickle"]):
                out = tmp_path / "out.npy"
                argv = [command, str(path), "--classes", "3", *trust]
                if command == "predict":
                    argv[2:2] = [str(inputs), "-o", str(out)]
                rc = main(argv)
                cap = capsys.readouterr()
                lines = cap.err.splitlines()
                where = f"{name} {command} {trust}"
                assert rc == 1, where
                assert lines and ERROR_LINE.match(lines[0]), (where, cap.err)
                assert "internal error" not in lines[0] and "Traceback" not in cap.err, (where, cap.err)
                assert len(lines) <= 2 and all(line.startswith("lgn2hw: ") for line in lines), (where, cap.err)
                assert not marker.exists(), f"{where}: the payload ran"
                assert not out.exists(), f"{where}: wrote an output"
                assert sorted(os.listdir(tmp_path)) == before, f"{where}: left files behind"
                runs += 1
    assert runs == len(items) * 4 and len(items) >= 30


def test_payload_error_names_the_global(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    path = _make(tmp_path, "evil", corpus(marker)["reduce-in-training-wrapper"])
    assert main(["info", str(path)]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert re.match(r"^lgn2hw: error: .*evil\.pt: the file is a pickle that needs code to load \(builtins\.exec, "
                    r"which lgn2hw never loads\)$", first), first
    assert main(["info", str(path), "--trust-pickle"]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert re.match(r"^lgn2hw: error: .*evil\.pt: the pickle needs builtins\.exec, which is not on the allow-list",
                    first), first
    assert not marker.exists()


@pytest.mark.parametrize("name", ["reduce-os-system-top-level", "reduce-in-state-dict-value", "truncated-50pct",
                                  "directory"])
def test_real_command_line(tmp_path, name):
    """The command-line entry point in a fresh process (no in-process state), for a few corpus items."""
    marker = tmp_path / "PWNED"
    path = _make(tmp_path, name, corpus(marker)[name])
    np.save(tmp_path / "x.npy", np.zeros((2, 12), np.uint8))
    for trust in ([], ["--trust-pickle"]):
        proc = subprocess.run([sys.executable, "-c", "from lgn2hw.cli import entry; entry()", "predict", str(path), str(tmp_path / "x.npy"),
                               "-o", str(tmp_path / "o.npy"), "--classes", "3", *trust],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
        lines = proc.stderr.splitlines()
        assert proc.returncode == 1 and lines and ERROR_LINE.match(lines[0]), proc.stderr
        assert "Traceback" not in proc.stderr
        assert not marker.exists() and not (tmp_path / "o.npy").exists()


def test_stand_ins_are_inert():
    """An allow-listed class name yields a stand-in that keeps state as data and cannot be re-pickled."""
    from lgn2hw.frontend import safe_pickle
    data = _save(torch.nn.Sequential(torch.nn.Flatten()))
    obj = safe_pickle.load(data, "m.pt")
    assert isinstance(obj, safe_pickle.StandIn) and obj.qualified_name.endswith("Sequential")
    assert not hasattr(obj, "__dict__")
    with pytest.raises(TypeError):
        pickle.dumps(obj)
    (name, child), = safe_pickle.children(obj, "model")
    assert name == "0" and child.qualified_name == "torch.nn.modules.flatten.Flatten"


def test_allow_list_is_one_static_table():
    """Every class name a reader matches stand-ins against is on safe_pickle.ALLOWED, and importing the readers
    adds nothing to it: the list a reviewer reads is the list the unpickler uses."""
    from lgn2hw.frontend import _torchlogix_dense as dense
    from lgn2hw.frontend import difflogic, safe_pickle
    from lgn2hw.frontend import torchlogix_conv as conv
    read = {difflogic.LOGIC_LAYER, difflogic.GROUP_SUM, dense.LOGIC_DENSE, dense.GROUP_SUM, dense.FIXED,
            dense.LEARNABLE, *dense.PARAM_CLASSES, conv.LOGIC_CONV, conv.OR_POOL, conv.CONV_CONNECTIONS,
            conv.RESBLOCK, conv.PARAM_LIST, conv.IDENTITY, conv.FLATTEN, conv.DUMMY_BINARIZATION, *conv.SEQUENTIAL}
    assert len(set(safe_pickle.ALLOWED)) == len(safe_pickle.ALLOWED)
    assert read == set(safe_pickle.ALLOWED)
    assert safe_pickle.allowed_names() == sorted(safe_pickle.ALLOWED)


def test_a_reader_that_fails_to_import_is_an_error():
    """A broken reader module stops ``import lgn2hw.frontend`` instead of leaving its kind silently unread."""
    code = ("import sys\n"
            "class Broken:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'lgn2hw.frontend.torchlogix_conv':\n"
            "            raise ImportError('torchlogix_conv is broken')\n"
            "sys.meta_path.insert(0, Broken())\n"
            "import lgn2hw.frontend\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "ImportError: torchlogix_conv is broken" in proc.stderr, proc.stderr


# --- fuzzing ----------------------------------------------------------------------------------------------

def _difflogic_pickle():
    from fixtures_libs import import_difflogic
    dl = import_difflogic()          # a visible skip of this base where difflogic is not fetched
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(),
                                dl.LogicLayer(12, 16, device="cpu", implementation="python"),
                                dl.LogicLayer(16, 12, device="cpu", implementation="python"),
                                dl.GroupSum(3, 1.0, device="cpu"))
    return _save(model), LoadOptions(trust_pickle=True)


# The valid files the fuzzing mutates: name -> () -> (bytes, options). Each is a parameter of every fuzz test, so
# a base that needs an optional package is a skip in the report where the package is missing, never a corpus that
# silently lost it.
BASES = {
    "native": lambda: (_save(_native()), LoadOptions()),
    "difflogic-state-dict": lambda: (
        _save({"model_state_dict": {f"module.{k}": v for k, v in _difflogic_sd().items()}}), LoadOptions(classes=3)),
    "torchlogix-state-dict": lambda: (_save(_torchlogix_sd()), LoadOptions(classes=3, parametrization="light")),
    "difflogic-pickle": _difflogic_pickle,
}


@pytest.fixture(scope="module", params=sorted(BASES))
def base(request):
    """(bytes, options) of one fuzz base, made once per module."""
    return BASES[request.param]()


def _check_load(tmp_path, data, options):
    path = tmp_path / "fuzz.pt"
    path.write_bytes(data)
    try:
        nl = load_model(path, options)
    except Lgn2hwError as err:
        assert str(err).startswith(str(path)), str(err)
        return "error"
    nl.check()
    return "ok"


def test_fuzz_bases_load(tmp_path, base):
    """The unmutated bases are valid, so mutations start from a file that reaches the converters."""
    data, options = base
    assert _check_load(tmp_path, data, options) == "ok"


edits = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(edits=edits, cut=st.one_of(st.none(), st.floats(0, 1)))
def test_fuzz_file_bytes(tmp_path, base, edits, cut):
    data, options = base
    buf = bytearray(data)
    for pos, byte in edits:
        buf[int(pos * len(buf))] = byte
    if cut is not None:
        buf = buf[: int(cut * len(buf))]
    _check_load(tmp_path, bytes(buf), options)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(edits=edits)
def test_fuzz_pickle_stream(tmp_path, base, edits):
    """Mutations inside data.pkl, repacked with valid CRCs, so that they reach the unpickler and converters."""
    data, options = base
    pk = bytearray(_data_pkl(data))
    for pos, byte in edits:
        pk[int(pos * len(pk))] = byte
    _check_load(tmp_path, _repack(data, bytes(pk)), options)
