"""torchlogix 0.2.2 checkpoints made by the real package, read by lgn2hw, and compared with torchlogix's own
eval forward as integer class counts, sample for sample."""
import re

import numpy as np
import pytest
import torch

from lgn2hw import gates
from lgn2hw.cli import main
from lgn2hw.errors import CheckpointError
from lgn2hw.frontend import LoadOptions, load_model
from lgn2hw.ir import evaluate

from fixtures_libs import exact_counts, quiet_forward


def _net(tl, in_dim, widths, k, tau, param, rank, seed, learnable=False):
    from torchlogix.layers import GroupSum, LogicDense
    torch.manual_seed(seed)
    layers, prev = [], in_dim
    for i, w in enumerate(widths):
        conn = {"connections": "learnable", "connections_kwargs": {"num_candidates": 3}} \
            if learnable and i == 0 else {}
        layers.append(LogicDense(prev, w, lut_rank=rank, parametrization=param,
                                 parametrization_kwargs={"weight_init": "random"}, **conn))
        prev = w
    model = torch.nn.Sequential(*layers, GroupSum(k, tau))
    with torch.no_grad():
        for m in layers:
            if param == "raw":
                m.weight.mul_(3)
                m.weight[::5, 9] = m.weight[::5].max(dim=1).values    # argmax ties: the first index wins
            elif param == "light":
                m.weight.sub_(0.5)                                     # random init is in [0, 1): centre it
                m.weight[::6, 0] = 0.0                                  # exactly 0 is "off" (> 0 is strict)
    return model.eval()


def _bits(rng, n, width):
    return rng.integers(0, 2, (n, width)).astype(np.float32)


CASES = [  # (parametrization, lut_rank, widths, k, tau)
    ("raw", 2, [64, 60], 10, 1.0),
    ("light", 2, [64, 50], 10, 1.0),
    ("warp", 2, [64, 45], 5, 2.0),
    ("light", 4, [48, 40], 10, 1.0),
    ("warp", 4, [48, 42], 7, 1.0),      # odd group size 6... and 7 classes
    ("light", 6, [40, 30], 3, 1.0),
    ("warp", 6, [40, 30], 3, 1.0),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-rank{c[1]}-k{c[3]}")
@pytest.mark.parametrize("form", ["state_dict", "pickle"])
def test_matches_torchlogix_eval(tmp_path, torchlogix_lib, case, form):
    param, rank, widths, k, tau = case
    rng = np.random.default_rng(CASES.index(case))
    x = _bits(rng, 400, 24)
    model = _net(torchlogix_lib, 24, widths, k, tau, param, rank, seed=CASES.index(case))
    expect = exact_counts(quiet_forward(model, torch.from_numpy(x)), tau)
    path = tmp_path / "model.pt"
    if form == "pickle":
        torch.save(model, path)
        extra = ["--trust-pickle"]
    else:
        torch.save({"state_dict": {f"model.{key}": v for key, v in model.state_dict().items()}, "step": 3}, path)
        extra = ["--classes", str(k), "--input-shape", "24"] + (["--parametrization", param]
                                                                if param != "raw" else [])
    np.save(tmp_path / "x.npy", x.astype(np.uint8))
    assert main(["predict", str(path), str(tmp_path / "x.npy"), "-o", str(tmp_path / "c.npy"), *extra]) == 0
    got = np.load(tmp_path / "c.npy")
    assert np.array_equal(got, expect)
    nl = load_model(path, LoadOptions(trust_pickle=form == "pickle", classes=None if form == "pickle" else k,
                                      parametrization=None if form == "pickle" or param == "raw" else param))
    assert set(nl.arity.tolist()) == {rank}
    assert nl.meta["parametrization"] == param


def test_learnable_connections(tmp_path, torchlogix_lib):
    model = _net(torchlogix_lib, 24, [48, 40], 4, 1.0, "warp", 2, seed=11, learnable=True)
    x = _bits(np.random.default_rng(1), 300, 24)
    expect = exact_counts(quiet_forward(model, torch.from_numpy(x)), 1.0)
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    torch.save(model, tmp_path / "m.pt")
    for path, opts in ((tmp_path / "sd.pt", LoadOptions(classes=4, parametrization="warp", input_shape=(24,))),
                       (tmp_path / "m.pt", LoadOptions(trust_pickle=True))):
        assert np.array_equal(evaluate(load_model(path, opts), x.astype(np.uint8)), expect)


def test_warp_sign_follows_float_rounding(tmp_path, torchlogix_lib):
    """Walsh sums near zero: the library rounds after every addition, in index order. The exact sum's sign
    differs for some gates; lgn2hw must follow the library, not the exact arithmetic."""
    model = _net(torchlogix_lib, 16, [64, 32], 4, 1.0, "warp", 2, seed=12)
    rng = np.random.default_rng(5)
    with torch.no_grad():
        for m in model[:2]:
            big = torch.tensor(rng.choice([3e7, -3e7, 1e8, -1e8], size=(m.weight.shape[0], 1)), dtype=torch.float32)
            small = torch.tensor(rng.choice([0.5, -0.5, 1.0, -1.0, 2.0], size=(m.weight.shape[0], 2)),
                                 dtype=torch.float32)
            m.weight.copy_(torch.cat([big, small, -big], dim=1))     # w0 + w1 X1 + w2 X0 - w0 X0X1
    exact_sign_differs = 0
    for m in model[:2]:
        w = m.weight.detach().double().numpy()
        for e in range(4):
            x0, x1 = 1 - 2 * (e >> 1), 1 - 2 * (e & 1)
            exact = w[:, 0] + w[:, 1] * x1 + w[:, 2] * x0 + w[:, 3] * x0 * x1
            f32 = ((np.float32(w[:, 0]) + np.float32(w[:, 1] * x1)) + np.float32(w[:, 2] * x0)) \
                + np.float32(w[:, 3] * x0 * x1)
            exact_sign_differs += int(((exact < 0) != (f32 < 0)).sum())
    assert exact_sign_differs > 0      # the case is really discriminating
    x = _bits(rng, 300, 16)
    expect = exact_counts(quiet_forward(model, torch.from_numpy(x)), 1.0)
    torch.save(model, tmp_path / "m.pt")
    assert np.array_equal(evaluate(load_model(tmp_path / "m.pt", LoadOptions(trust_pickle=True)),
                                   x.astype(np.uint8)), expect)


def test_msb_first_rows_helper():
    """The bit-order helper in gates: for 2 inputs, a row read first-entry-first is the difflogic gate id; for
    any k, entry e selects input j with bit k-1-j."""
    rows = np.array([[(g >> (3 - e)) & 1 for e in range(4)] for g in range(16)])
    assert np.array_equal(gates.tables_from_msb_first_rows(rows), gates.tables_from_gate_ids(np.arange(16)))
    rng = np.random.default_rng(0)
    for k in range(7):
        rows = rng.integers(0, 2, (20, 1 << k))
        tables = gates.tables_from_msb_first_rows(rows)
        for e in range(1 << k):
            inputs = [np.full(20, (e >> (k - 1 - j)) & 1) for j in range(k)]
            assert np.array_equal(gates.evaluate(tables, k, inputs), rows[:, e])


# --- refusals ----------------------------------------------------------------------------------------------

def _save_sd(tmp_path, tl, param="light", rank=2):
    model = _net(tl, 12, [16, 12], 3, 1.0, param, rank, seed=13)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    return tmp_path / "model.pt"


def _cli_error(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err.splitlines()
    assert rc == 1 and err and "Traceback" not in "\n".join(err)
    return err


def test_light_or_warp_is_ambiguous(tmp_path, capsys, torchlogix_lib):
    path = _save_sd(tmp_path, torchlogix_lib, "warp", 4)
    err = _cli_error(capsys, ["info", str(path), "--classes", "3"])
    assert re.match(r"^lgn2hw: error: .*model\.pt: layer 1: the parametrization is ambiguous: light and warp both "
                    r"store 16 weights per gate for lut_rank 4", err[0])
    assert err[1].startswith("lgn2hw: hint: pass --parametrization light or --parametrization warp")


def test_wrong_parametrization(tmp_path, capsys, torchlogix_lib):
    path = _save_sd(tmp_path, torchlogix_lib, "raw", 2)
    err = _cli_error(capsys, ["info", str(path), "--classes", "3", "--parametrization", "warp"])
    assert re.match(r"^lgn2hw: error: .*model\.pt: layer 1: 0\.weight of a warp layer with lut_rank 2 must have 4 "
                    r"columns, not 16$", err[0])
    assert "the shape fits raw" in err[1]


def test_pickle_contradicts_parametrization(tmp_path, torchlogix_lib):
    torch.save(_net(torchlogix_lib, 12, [16, 12], 3, 1.0, "light", 2, seed=14), tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=r"m\.pt: layer 1: --parametrization warp contradicts the model's light"):
        load_model(tmp_path / "m.pt", LoadOptions(trust_pickle=True, parametrization="warp"))


@pytest.mark.parametrize("mutate,pattern", [
    (lambda sd: sd["1.weight"].__setitem__((5, 2), float("-inf")), r"layer 2\[5\]: 1\.weight must be finite"),
    (lambda sd: sd["1.connections.indices"].__setitem__((0, 3), 99),
     r"layer 2\[3\]: input index must be in 0\.\.15 \(the width of layer 1\), not \[99, \d+\]"),
    (lambda sd: sd.__setitem__("0.connections.indices", sd["0.connections.indices"][:, :8]),
     r"layer 1: 0\.connections\.indices must be an integer tensor \[n, 16\], not int64\[2, 8\]"),
    (lambda sd: sd.__setitem__("2.thresholds", torch.zeros(3)),
     r"2\.thresholds: input binarization layers are not read by lgn2hw yet"),
    (lambda sd: sd.__setitem__("1.bias", torch.zeros(3)), r"unknown key '1\.bias' in the state dict"),
    (lambda sd: sd.pop("1.weight"), r"layer 2: 1\.connections\.indices has no matching 1\.weight"),
])
def test_located_errors(tmp_path, torchlogix_lib, mutate, pattern):
    model = _net(torchlogix_lib, 12, [16, 12], 3, 1.0, "light", 2, seed=15)
    sd = model.state_dict()
    mutate(sd)
    torch.save(sd, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(tmp_path / 'model.pt'))}: {pattern}"):
        load_model(tmp_path / "model.pt", LoadOptions(classes=3, parametrization="light"))


def test_groupsum_beta_is_a_uniform_offset(tmp_path, torchlogix_lib):
    from torchlogix.layers import GroupSum
    model = _net(torchlogix_lib, 24, [48, 40], 4, 2.0, "light", 2, seed=16)
    model[-1] = GroupSum(4, 2.0, beta=1.5)
    x = _bits(np.random.default_rng(2), 200, 24)
    out = quiet_forward(model, torch.from_numpy(x)).double().numpy()
    torch.save(model, tmp_path / "m.pt")
    nl = load_model(tmp_path / "m.pt", LoadOptions(trust_pickle=True))
    assert nl.meta["groupsum_beta"] == 1.5 and nl.tau == 2.0
    assert np.allclose((evaluate(nl, x.astype(np.uint8)) + 1.5) / 2.0, out, rtol=0, atol=1e-5)
