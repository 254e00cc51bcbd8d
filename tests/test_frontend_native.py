"""lgn2hw's own checkpoint format: save, load with weights_only, exact counts, located errors."""
import numpy as np
import pytest
import torch

from lgn2hw.errors import CheckpointError
from lgn2hw.frontend import load_model
from lgn2hw.frontend.native import make_checkpoint
from lgn2hw.ir import InputEncoding, evaluate


def _gate(gid, a, b):
    return (gid >> (3 - (2 * a + b))) & 1      # difflogic's definition, restated independently


def _reference_counts(n_inputs, layers_ids, k, x):
    """Evaluate a layered difflogic network directly from gate ids and wiring."""
    h = x.astype(np.int64)
    for gid, idx in layers_ids:
        h = _gate(gid[None, :], h[:, idx[0]], h[:, idx[1]])
    return h.reshape(len(x), k, -1).sum(-1)


def _random_network(rng, n_inputs=12, widths=(20, 30), k=5):
    layers, ids = [], []
    prev = n_inputs
    for w in widths:
        idx = rng.integers(0, prev, (2, w))
        weights = rng.normal(size=(w, 16)).astype(np.float32)
        ids.append((weights.argmax(1), idx))
        layers.append({"indices": torch.tensor(idx), "weights": torch.tensor(weights)})
        prev = w
    return layers, ids


@pytest.mark.parametrize("form", ["weights", "gates", "tables"])
def test_round_trip_exact(tmp_path, form):
    rng = np.random.default_rng(0)
    layers, ids = _random_network(rng)
    from lgn2hw import gates
    for layer, (gid, _idx) in zip(layers, ids):
        if form == "gates":
            del layer["weights"]
            layer["gates"] = torch.tensor(gid, dtype=torch.uint8)
            layer["indices"] = layer["indices"].to(torch.int16)
        elif form == "tables":
            del layer["weights"]
            layer["tables"] = torch.tensor(gates.tables_from_gate_ids(gid).astype(np.int64))
    enc = InputEncoding(np.arange(12, dtype=np.int32) % 4, np.linspace(0, 1, 12), (4,))
    ck = make_checkpoint(n_inputs=12, layers=layers, k=5, tau=3.0, input_shape=(12,), encoding=enc,
                         provenance={"dataset": "random"})
    path = tmp_path / "m.pt"
    torch.save(ck, path)
    torch.load(path, weights_only=True)          # the format is weights_only-loadable by construction
    nl = load_model(path)
    x = rng.integers(0, 2, (500, 12))
    assert (evaluate(nl, x) == _reference_counts(12, ids, 5, x)).all()
    assert nl.tau == 3.0 and nl.input_shape == (12,) and nl.meta["dataset"] == "random"
    assert nl.meta["lgn2hw_version"]
    raw = rng.normal(size=(40, 4))
    assert (nl.encoding.apply(raw) == (raw[:, enc.feature] > enc.threshold)).all()
    assert [int(l) for l in np.unique(nl.layer)] == [1, 2]


def _save(tmp_path, ck):
    path = tmp_path / "bad.pt"
    torch.save(ck, path)
    return path


def test_unknown_version(tmp_path):
    layers, _ = _random_network(np.random.default_rng(1))
    ck = make_checkpoint(n_inputs=12, layers=layers, k=5)
    ck["version"] = 99
    with pytest.raises(CheckpointError, match=r"bad\.pt: checkpoint version must be 1, not 99") as err:
        load_model(_save(tmp_path, ck))
    assert "upgrade" in err.value.hint


@pytest.mark.parametrize("mutate, pattern", [
    (lambda L: L[1]["weights"].__setitem__((7, 3), float("nan")), r"bad\.pt: layer 2\[7\]: weights must be finite"),
    (lambda L: L[1]["indices"].__setitem__((1, 4), 20), r"bad\.pt: layer 2\[4\]: input index must be in 0\.\.19"),
    (lambda L: L[0].__setitem__("weights", torch.zeros(20, 8)), r"bad\.pt: layer 1: weights must be float\[20, 16\]"),
    (lambda L: L[0].__setitem__("gates", torch.zeros(20, dtype=torch.int64)), r"layer 1: a layer must hold exactly one"),
    (lambda L: L.__setitem__(1, {"indices": L[1]["indices"], "weights": torch.zeros(25, 16)}),
     r"layer 2: weights must be float\[30, 16\]"),
])
def test_located_errors(tmp_path, mutate, pattern):
    layers, _ = _random_network(np.random.default_rng(2))
    mutate(layers)
    with pytest.raises(CheckpointError, match=pattern):
        load_model(_save(tmp_path, make_checkpoint(n_inputs=12, layers=layers, k=5)))


def test_class_count_must_divide(tmp_path):
    layers, _ = _random_network(np.random.default_rng(3))
    with pytest.raises(CheckpointError, match=r"last layer's width 30 must be a multiple of the class count 7"):
        load_model(_save(tmp_path, make_checkpoint(n_inputs=12, layers=layers, k=7)))


def test_pickled_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {marker}",))
    path = tmp_path / "evil.pt"
    torch.save({"format": "lgn2hw.checkpoint", "x": Payload()}, path)
    with pytest.raises(CheckpointError, match=r"evil\.pt: the file is a pickle that needs code to load"):
        load_model(path)
    assert not marker.exists()
