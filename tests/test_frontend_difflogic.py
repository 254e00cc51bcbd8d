"""difflogic checkpoints made by the real difflogic 0.1.0 (CPU, python implementation), read by lgn2hw, and
compared with difflogic's own eval forward as integer class counts, sample for sample."""
import re

import numpy as np
import pytest
import torch

from lgn2hw.cli import main
from lgn2hw.errors import CheckpointError
from lgn2hw.frontend import LoadOptions, load_model
from lgn2hw.ir import evaluate

from fixtures_libs import exact_counts, quiet_forward


def _digits_bits():
    """Digits-like inputs: the 8x8 digits of scikit-learn, one bit per pixel (> 4 of 16)."""
    from sklearn.datasets import load_digits
    x = load_digits().data[:300]
    return (x > 4).astype(np.float32)


def _net(dl, in_dim, widths, k, tau, connections, seed):
    torch.manual_seed(seed)
    layers, prev = [torch.nn.Flatten()], in_dim
    for w in widths:
        layers.append(dl.LogicLayer(prev, w, device="cpu", implementation="python", connections=connections))
        prev = w
    layers.append(dl.GroupSum(k, tau, device="cpu"))
    model = torch.nn.Sequential(*layers)
    # trained-looking weights: a clear favourite gate per neuron, with some ties (argmax takes the first)
    with torch.no_grad():
        for m in model:
            if isinstance(m, dl.LogicLayer):
                m.weights.copy_(torch.randn_like(m.weights) * 3)
                m.weights[::7, 5] = m.weights[::7].max(dim=1).values   # ties between gate 5 and the max
    return model.eval()


def _state_dict_with_wiring(model):
    sd = model.state_dict()
    for name, m in model.named_modules():
        if hasattr(m, "indices"):
            sd[f"{name}.indices"] = torch.stack(m.indices)
    return sd


def _predict(tmp_path, ckpt, x, *extra):
    np.save(tmp_path / "x.npy", x.astype(np.uint8))
    out = tmp_path / "counts.npy"
    rc = main(["predict", str(ckpt), str(tmp_path / "x.npy"), "-o", str(out), *extra])
    assert rc == 0
    return np.load(out)


CASES = [  # (in_dim source, widths, k, tau, connections)
    ("random", [64, 60], 10, 1.0, "random"),      # k = 10, groups of 6
    ("random", [48, 40, 21], 7, 1.0, "unique"),   # odd group size 3
    ("digits", [128, 100], 10, 3.0, "random"),    # tau != 1, digits-like inputs
    ("digits", [96, 96, 75], 5, 1.0, "unique"),   # groups of 15
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[4]}-{'x'.join(map(str, c[1]))}-k{c[2]}")
@pytest.mark.parametrize("form", ["pickle", "state_dict", "wrapped"])
def test_matches_difflogic_eval(tmp_path, difflogic_lib, case, form):
    source, widths, k, tau, connections = case
    if source == "digits":
        x = _digits_bits()
    else:
        x = np.random.default_rng(len(widths)).integers(0, 2, (400, 20)).astype(np.float32)
    model = _net(difflogic_lib, x.shape[1], widths, k, tau, connections, seed=CASES.index(case))
    expect = exact_counts(quiet_forward(model, torch.from_numpy(x)), tau)
    path = tmp_path / "model.pt"
    extra = []
    if form == "pickle":
        torch.save(model, path)
        extra = ["--trust-pickle"]
    else:
        sd = _state_dict_with_wiring(model)
        if form == "wrapped":   # a training checkpoint around a DataParallel state dict
            sd = {"epoch": 7, "model_state_dict": {f"module.{key}": v for key, v in sd.items()},
                  "optimizer_state_dict": {"state": {}, "param_groups": [{"lr": 0.01}]}}
        torch.save(sd, path)
        extra = ["--classes", str(k), "--tau", str(tau), "--input-shape", str(x.shape[1])]
    got = _predict(tmp_path, path, x, *extra)
    assert got.dtype == np.int64 and got.shape == expect.shape
    assert np.array_equal(got, expect)
    # the library's predictions agree too (argmax ties aside, counts are what hardware computes)
    assert (got.argmax(1) == expect.argmax(1)).all()


def test_pickle_records_k_tau_and_input_width(tmp_path, difflogic_lib):
    model = _net(difflogic_lib, 30, [40, 36], 6, 2.5, "random", seed=1)
    torch.save(model, tmp_path / "m.pt")
    nl = load_model(tmp_path / "m.pt", LoadOptions(trust_pickle=True))
    assert (nl.n_inputs, nl.n_classes, nl.tau) == (30, 6, 2.5)
    assert nl.meta["source_format"] == "difflogic"


def test_highest_input_unused(tmp_path, difflogic_lib):
    """A state dict cannot say the input width: the largest index is used unless --input-shape says more;
    the pickle knows in_dim."""
    model = _net(difflogic_lib, 16, [24, 20], 4, 1.0, "random", seed=2)
    layer = model[1]
    a, b = layer.indices
    layer.indices = (torch.where(a == 15, 0, a), torch.where(b == 15, 0, b))   # input 15 now unused
    sd = _state_dict_with_wiring(model)
    torch.save(sd, tmp_path / "sd.pt")
    torch.save(model, tmp_path / "m.pt")
    assert load_model(tmp_path / "sd.pt", LoadOptions(classes=4)).n_inputs == 15
    assert load_model(tmp_path / "sd.pt", LoadOptions(classes=4, input_shape=(4, 4))).n_inputs == 16
    assert load_model(tmp_path / "m.pt", LoadOptions(trust_pickle=True)).n_inputs == 16
    with pytest.raises(CheckpointError, match=r"m\.pt: layer 1: --input-shape 3,5 has 15 values but layer 1 reads 16"):
        load_model(tmp_path / "m.pt", LoadOptions(trust_pickle=True, input_shape=(3, 5)))


def test_indices_as_a_pair(tmp_path, difflogic_lib):
    model = _net(difflogic_lib, 12, [16, 12], 3, 1.0, "unique", seed=3)
    sd = model.state_dict()
    sd["1.indices"], sd["2.indices"] = model[1].indices, model[2].indices     # tuples, as the attribute holds
    torch.save(sd, tmp_path / "sd.pt")
    x = np.random.default_rng(0).integers(0, 2, (200, 12))
    nl = load_model(tmp_path / "sd.pt", LoadOptions(classes=3, input_shape=(12,)))
    assert np.array_equal(evaluate(nl, x), exact_counts(quiet_forward(model, torch.from_numpy(x).float()), 1.0))


# --- refusals ----------------------------------------------------------------------------------------------

def _cli_error(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err.splitlines()
    assert rc == 1 and err and "Traceback" not in "\n".join(err)
    return err


def test_state_dict_without_wiring_is_refused(tmp_path, capsys, difflogic_lib):
    model = _net(difflogic_lib, 12, [16, 12], 3, 1.0, "random", seed=4)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    err = _cli_error(capsys, ["info", str(tmp_path / "model.pt"), "--classes", "3"])
    assert re.match(r"^lgn2hw: error: .*model\.pt: this difflogic state dict has no wiring: LogicLayer keeps its "
                    r"connections in a plain attribute \(indices\), which state_dict\(\) does not save", err[0])
    assert err[1].startswith("lgn2hw: hint: save the wiring next to the weights")


def test_missing_classes(tmp_path, capsys, difflogic_lib):
    model = _net(difflogic_lib, 12, [16, 12], 3, 1.0, "random", seed=5)
    torch.save(_state_dict_with_wiring(model), tmp_path / "model.pt")
    err = _cli_error(capsys, ["info", str(tmp_path / "model.pt")])
    assert re.match(r"^lgn2hw: error: .*model\.pt: a difflogic state dict does not record the class count$", err[0])
    assert err[1] == "lgn2hw: hint: pass --classes K (the k of the model's GroupSum)"


def _sd(difflogic_lib, seed=6):
    return _state_dict_with_wiring(_net(difflogic_lib, 12, [16, 12], 3, 1.0, "random", seed=seed))


def _nan(sd):
    sd["2.weights"][7, 3] = float("nan")


def _inf(sd):
    sd["1.weights"][4, 0] = float("inf")


def _range(sd):
    sd["2.indices"][1, 7] = 16


def _negative(sd):
    sd["1.indices"][0, 2] = -1


def _shape(sd):
    sd["2.weights"] = sd["2.weights"][:10]


def _cols(sd):
    sd["1.weights"] = sd["1.weights"][:, :15]


def _unknown(sd):
    sd["2.bias"] = torch.zeros(12)


def _float_idx(sd):
    sd["1.indices"] = sd["1.indices"].float()


def _k(sd):
    pass


LOCATED = [
    (_nan, [], r"layer 2\[7\]: 2\.weights must be finite, found nan"),
    (_inf, [], r"layer 1\[4\]: 1\.weights must be finite, found inf"),
    (_range, [], r"layer 2\[7\]: input index must be in 0\.\.15 \(the width of layer 1\), not \[\d+, 16\]"),
    (_negative, [], r"layer 1\[2\]: input index must be in 0\.\.\d+ \(the width of the input\), not \[-1, \d+\]"),
    (_shape, [], r"layer 2: 2\.indices must be an integer tensor \[2, 10\], not int64\[2, 12\]"),
    (_cols, [], r"layer 1: 1\.weights must be a float tensor \[gates, 16\], not float32\[16, 15\]"),
    (_unknown, [], r"unknown key '2\.bias' in the state dict"),
    (_float_idx, [], r"layer 1: 1\.indices must be an integer tensor \[2, 16\], not float32\[2, 16\]"),
    (_k, ["--classes", "5"], r"the last layer's width 12 must be a multiple of the class count 5"),
]


@pytest.mark.parametrize("mutate,extra,pattern", LOCATED, ids=[m[0].__name__.strip("_") for m in LOCATED])
def test_located_errors(tmp_path, capsys, difflogic_lib, mutate, extra, pattern):
    sd = _sd(difflogic_lib)
    mutate(sd)
    path = tmp_path / "model.pt"
    torch.save(sd, path)
    out = tmp_path / "out.npy"
    np.save(tmp_path / "x.npy", np.zeros((3, 12), np.uint8))
    err = _cli_error(capsys, ["predict", str(path), str(tmp_path / "x.npy"), "-o", str(out),
                              *(extra or ["--classes", "3"])])
    assert re.match(rf"^lgn2hw: error: {re.escape(str(path))}: {pattern}", err[0]), err[0]
    assert not out.exists()


def test_pickle_width_mismatch(tmp_path, capsys, difflogic_lib):
    dl = difflogic_lib
    torch.manual_seed(0)
    model = torch.nn.Sequential(dl.LogicLayer(10, 16, device="cpu", implementation="python"),
                                dl.LogicLayer(14, 12, device="cpu", implementation="python"),
                                dl.GroupSum(3, device="cpu"))
    torch.save(model, tmp_path / "model.pt")
    err = _cli_error(capsys, ["info", str(tmp_path / "model.pt"), "--trust-pickle"])
    assert re.match(r"^lgn2hw: error: .*model\.pt: layer 2: input width 14 must equal the width of layer 1's "
                    r"output, 16$", err[0])
    assert err[1].startswith("lgn2hw: hint: ")


def test_pickle_needs_trust(tmp_path, capsys, difflogic_lib):
    torch.save(_net(difflogic_lib, 12, [16, 12], 3, 1.0, "random", seed=7), tmp_path / "model.pt")
    err = _cli_error(capsys, ["info", str(tmp_path / "model.pt")])
    assert re.match(r"^lgn2hw: error: .*model\.pt: the file is a pickle that needs code to load \(a whole model: "
                    r"torch\.nn\.modules\.container\.Sequential\)$", err[0])
    assert "--trust-pickle" in err[1]


def test_pickle_with_foreign_module_is_refused(tmp_path, capsys, difflogic_lib):
    model = _net(difflogic_lib, 12, [16, 12], 3, 1.0, "random", seed=8)
    model.insert(2, torch.nn.ReLU())
    torch.save(model, tmp_path / "model.pt")
    err = _cli_error(capsys, ["info", str(tmp_path / "model.pt"), "--trust-pickle"])
    assert re.match(r"^lgn2hw: error: .*model\.pt: the pickle needs torch\.nn\.modules\.activation\.ReLU, which is "
                    r"not on the allow-list", err[0])


def test_pickle_inside_training_wrapper(tmp_path, difflogic_lib):
    model = _net(difflogic_lib, 20, [32, 30], 5, 1.0, "unique", seed=9)
    torch.save({"epoch": 12, "model": model, "best_acc": 0.93}, tmp_path / "ckpt.pt")
    x = np.random.default_rng(9).integers(0, 2, (250, 20))
    nl = load_model(tmp_path / "ckpt.pt", LoadOptions(trust_pickle=True))
    assert nl.meta["wrapper"] == "model"
    assert np.array_equal(evaluate(nl, x), exact_counts(quiet_forward(model, torch.from_numpy(x).float()), 1.0))


def test_format_override(tmp_path, capsys, difflogic_lib):
    torch.save(_sd(difflogic_lib), tmp_path / "model.pt")
    assert load_model(tmp_path / "model.pt", LoadOptions(fmt="difflogic", classes=3)).n_nodes == 28
    err = _cli_error(capsys, ["info", str(tmp_path / "model.pt"), "--classes", "3", "--format", "torchlogix"])
    assert re.match(r"^lgn2hw: error: .*model\.pt: unknown key '1\.weights' in the state dict$", err[0])
    assert "LogicDense" in err[1]
