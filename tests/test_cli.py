"""The CLI contract: output files and the one-line error with exit status 1, nothing written on failure."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from lgn2hw.cli import main
from lgn2hw.frontend.native import make_checkpoint
from lgn2hw.ir import InputEncoding

ERROR_LINE = r"^lgn2hw: error: "


@pytest.fixture
def model(tmp_path):
    rng = np.random.default_rng(0)
    layers, prev = [], 16
    for w in (24, 20):
        layers.append({"indices": torch.tensor(rng.integers(0, prev, (2, w))),
                       "gates": torch.tensor(rng.integers(0, 16, w))})
        prev = w
    enc = InputEncoding(np.arange(16, dtype=np.int32) // 2, np.tile([0.25, 0.75], 8), (2, 4))
    path = tmp_path / "model.pt"
    torch.save(make_checkpoint(n_inputs=16, layers=layers, k=4, tau=2.0, encoding=enc, input_shape=(16,),
                               provenance={"dataset": "unit"}), path)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_info_text_and_json(model, capsys):
    code, out, err = run(capsys, "info", model)
    assert code == 0 and err == ""
    assert "inputs   16" in out and "classes  4" in out and "layer   1:        24 gates" in out
    code, out, _ = run(capsys, "info", model, "--json")
    info = json.loads(out)
    assert code == 0
    assert info["inputs"] == 16 and info["classes"] == 4 and info["gates_trained"] == 44
    assert [l["gates"] for l in info["layers"]] == [24, 20]
    assert sum(info["op_histogram"].values()) == 44


def test_predict_writes_counts_and_accuracy(model, tmp_path, capsys):
    from lgn2hw.frontend import load_model
    from lgn2hw.ir import evaluate
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, (100, 16)).astype(np.bool_)
    np.save(tmp_path / "x.npy", x)
    labels = rng.integers(0, 4, 100)
    np.save(tmp_path / "y.npy", labels)
    code, out, err = run(capsys, "predict", model, tmp_path / "x.npy", "-o", tmp_path / "c.npy",
                         "--labels", tmp_path / "y.npy")
    assert code == 0, err
    counts = np.load(tmp_path / "c.npy")
    assert counts.dtype == np.int64 and counts.shape == (100, 4)
    assert (counts == evaluate(load_model(model), x)).all()
    acc = (counts.argmax(1) == labels).mean()
    assert f"accuracy {acc:.4f}" in out
    # --raw applies the model's encoding
    raw = rng.random((100, 2, 4))
    np.save(tmp_path / "raw.npy", raw)
    code, _, err = run(capsys, "predict", model, tmp_path / "raw.npy", "--raw", "-o", tmp_path / "c2.npy")
    assert code == 0, err
    bits = (raw.reshape(100, 8)[:, np.arange(16) // 2] > np.tile([0.25, 0.75], 8)).astype(np.uint8)
    assert (np.load(tmp_path / "c2.npy") == evaluate(load_model(model), bits)).all()


def _bad(tmp_path, model, case):
    x = np.zeros((5, 16), np.uint8)
    np.save(tmp_path / "x.npy", x)
    return {
        "missing model": ["info", tmp_path / "nope.pt"],
        "empty model": ["info", _write(tmp_path / "empty.pt", b"")],
        "random bytes": ["info", _write(tmp_path / "rnd.pt", bytes(range(256)) * 3)],
        "directory": ["info", tmp_path],
        "wrong width": ["predict", model, _npy(tmp_path / "w.npy", np.zeros((5, 15), np.uint8)), "-o", tmp_path / "o.npy"],
        "not 0/1": ["predict", model, _npy(tmp_path / "t.npy", np.full((5, 16), 3)), "-o", tmp_path / "o.npy"],
        "float bits": ["predict", model, _npy(tmp_path / "f.npy", np.zeros((5, 16))), "-o", tmp_path / "o.npy"],
        "not npy": ["predict", model, _write(tmp_path / "x.txt", b"hello"), "-o", tmp_path / "o.npy"],
        "pickled npy": ["predict", model, _npy(tmp_path / "p.npy", np.array([{}], dtype=object)), "-o", tmp_path / "o.npy"],
        "labels length": ["predict", model, tmp_path / "x.npy", "-o", tmp_path / "o.npy", "--labels",
                          _npy(tmp_path / "l.npy", np.zeros(3))],
        "raw shape": ["predict", model, tmp_path / "x.npy", "--raw", "-o", tmp_path / "o.npy"],
        "unknown option": ["predict", model, tmp_path / "x.npy", "--bogus", "-o", tmp_path / "o.npy"],
        "missing -o": ["predict", model, tmp_path / "x.npy"],
        "no command": [],
        "bad format": ["info", model, "--format", "onnx"],
        "unquoted nextpnr opts": ["compile", model, "--device", "LFE5U-25F", "--package", "CABGA256", "-o",
                                  tmp_path / "o.npy", "--nextpnr-opts", "'--no-tmdriv"],
        "bad router": ["compile", model, "--device", "LFE5U-25F", "--package", "CABGA256", "-o",
                       tmp_path / "o.npy", "--router", "router3"],
        "pnr timeout": ["compile", model, "--device", "LFE5U-25F", "--package", "CABGA256", "-o",
                        tmp_path / "o.npy", "--pnr-timeout", "0"],
    }[case]


def _write(path, data):
    path.write_bytes(data)
    return path


def _npy(path, arr):
    np.save(path, arr, allow_pickle=True)
    return path


CASES = ["missing model", "empty model", "random bytes", "directory", "wrong width", "not 0/1", "float bits",
         "not npy", "pickled npy", "labels length", "raw shape", "unknown option", "missing -o", "no command",
         "bad format", "unquoted nextpnr opts", "bad router", "pnr timeout"]


@pytest.mark.parametrize("case", CASES)
def test_errors_are_one_line(model, tmp_path, capsys, case):
    argv = _bad(tmp_path, model, case)
    code, out, err = run(capsys, *argv)
    assert code == 1
    lines = err.splitlines()
    assert lines and __import__("re").match(ERROR_LINE, lines[0]), err
    assert "Traceback" not in err
    assert all(l.startswith("lgn2hw: ") for l in lines)
    assert not (tmp_path / "o.npy").exists()
    assert not list(tmp_path.glob("*.part"))


def test_error_line_from_a_real_process(model, tmp_path):
    """Through a real interpreter: no library warning may come before the error line."""
    np.save(tmp_path / "x.npy", np.zeros((5, 15), np.uint8))
    proc = subprocess.run([sys.executable, "-m", "lgn2hw", "predict", str(model), str(tmp_path / "x.npy"),
                           "-o", str(tmp_path / "o.npy")], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == "lgn2hw: error: inputs must have shape (N, 16), not (5, 15)"
    assert not (tmp_path / "o.npy").exists()
    proc = subprocess.run([sys.executable, "-m", "lgn2hw", "predict", str(model), str(tmp_path / "x.npy"),
                           "-o", str(tmp_path / "o.npy"), "--debug"], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" in proc.stderr


def test_help_for_every_command():
    for cmd in ([], ["info"], ["predict"], ["train"]):
        proc = subprocess.run([sys.executable, "-m", "lgn2hw", *cmd, "--help"], capture_output=True, text=True)
        assert proc.returncode == 0 and "usage: lgn2hw" in proc.stdout


def test_nextpnr_options_reach_the_build_options(model, tmp_path, monkeypatch, capsys):
    """--router and --nextpnr-opts arrive in BuildOptions as given (the build itself is stubbed here; the
    flow tests run nextpnr)."""
    import lgn2hw.fpga
    seen = {}

    def fake(nl, core, target, out, opts):
        seen["router"], seen["opts"] = opts.router, opts.nextpnr_opts
        raise __import__("lgn2hw.errors", fromlist=["ToolchainError"]).ToolchainError("stopped by the test")
    monkeypatch.setattr(lgn2hw.fpga, "compile_for_target", fake)
    code, out, err = run(capsys, "compile", model, "--device", "LFE5U-25F", "--package", "CABGA256", "-o",
                         tmp_path / "out", "--router", "router2", "--nextpnr-opts", "--no-tmdriv --placer-heap-alpha 0.2")
    assert code == 1 and "stopped by the test" in err
    assert seen == {"router": "router2", "opts": ("--no-tmdriv", "--placer-heap-alpha", "0.2")}


def test_max_fanout_reaches_the_emitted_core(model, tmp_path, capsys):
    """`compile --max-fanout N` copies the registers read by more than N cells (report fanout), the default copies
    none, and a negative limit is one error line before any work."""
    reports = {}
    for limit in (None, 1):
        out = tmp_path / f"out{limit}"
        extra = [] if limit is None else ["--max-fanout", limit]
        code, _, err = run(capsys, "compile", model, "--device", "LFE5U-85F", "--package", "CABGA381", "--freq", 250,
                           "--stop-after", "verilog", *extra, "-o", out)
        assert code == 0, err
        reports[limit] = json.loads((out / "report.json").read_text())["fanout"]
    assert reports[None] == {"max": 0, "register_copies": 0}
    assert reports[1]["max"] == 1 and reports[1]["register_copies"] > 0
    code, _, err = run(capsys, "compile", model, "--device", "LFE5U-85F", "--package", "CABGA381", "--max-fanout", -1,
                       "-o", tmp_path / "bad")
    assert code == 1 and err.splitlines()[0] == ("lgn2hw: error: max fanout must be a non-negative integer "
                                                 "(0: no limit), not -1")
    assert not (tmp_path / "bad").exists()
