"""The training loop: Adam on the relaxed network, cross-entropy on GroupSum / tau, then discretise and save."""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field

import torch

from .. import wiring
from ..errors import UsageError
from ..wiring import SELECT_TAU
from .config import TrainConfig, default_tau, learning_rate
from .model import LogicNet


@dataclass
class TrainResult:
    model: LogicNet
    checkpoint: dict
    test_accuracy: float
    train_accuracy: float
    seconds: float
    history: list = field(default_factory=list)     # (epoch, mean loss, test accuracy of the discretised net)


def random_shift(x: torch.Tensor, shape, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Shift each image (the last two axes of ``shape``) by a random offset in [-max_shift, max_shift] along
    both axes, filling with zeros (the background bit)."""
    if max_shift <= 0 or len(shape) < 2:
        return x
    n = len(x)
    h, w = shape[-2], shape[-1]
    img = x.reshape(n, -1, h, w)
    pad = torch.nn.functional.pad(img, (max_shift, max_shift, max_shift, max_shift))
    span = 2 * max_shift + 1
    dy = torch.randint(0, span, (n,), generator=gen)
    dx = torch.randint(0, span, (n,), generator=gen)
    out = torch.empty_like(img)
    for oy in range(span):
        for ox in range(span):
            sel = torch.nonzero((dy == oy) & (dx == ox)).reshape(-1)
            if len(sel):
                out[sel] = pad[sel, :, oy:oy + h, ox:ox + w]
    return out.reshape(n, -1)


def _progress(total: int, quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="epoch", file=sys.stderr, dynamic_ncols=True, leave=False)


def train(config: TrainConfig, *, quiet: bool = True, eval_every: int = 1, log=None) -> TrainResult:
    """Train a network on ``config.dataset`` and return it with its native checkpoint (not yet written).

    Deterministic for a given config and thread count. Seeds PyTorch's global generator (Gumbel noise draws from
    it) and, when ``config.threads`` is set, sets PyTorch's thread count for the process. ``log(epoch, loss,
    test_accuracy)`` is called every ``eval_every`` epochs; a progress bar goes to stderr unless ``quiet``."""
    from .. import data
    from ..frontend.native import make_checkpoint

    config.check()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    start = time.perf_counter()
    options = {}
    if config.thresholds is not None:
        options["thresholds"] = config.thresholds
    if config.crop is not None:
        options["crop"] = config.crop
    ds = data.load(config.dataset, **options)
    k = ds.n_classes
    if config.width % k:
        raise UsageError(f"--width must be a multiple of the class count {k}, not {config.width}",
                         hint="GroupSum splits the last layer into one equal block per class")
    tau = config.tau if config.tau is not None else default_tau(config.width, k)
    torch.manual_seed(config.seed)
    model = LogicNet(ds.n_inputs, [config.width] * config.layers, k, tau=tau, input_shape=ds.input_shape,
                     connections=config.connections, init=config.init, parametrization=config.parametrization,
                     seed=config.seed)
    for layer in model.layers:
        layer.gumbel = config.gumbel
    x_train = torch.as_tensor(ds.train_bits)       # uint8; the network takes each batch to float32
    y_train = torch.as_tensor(ds.y_train, dtype=torch.int64)
    test_bits, y_test = ds.test_bits, ds.y_test
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(config.seed + 1)
    n = len(x_train)
    steps = 0
    total_steps = config.epochs * -(-n // config.batch_size)
    tau0, tau1 = SELECT_TAU
    history = []
    bar = _progress(config.epochs, quiet)
    try:
        for epoch in range(1, config.epochs + 1):
            model.train()
            order = torch.randperm(n, generator=gen)
            total = 0.0
            for i in range(0, n, config.batch_size):
                sel = order[i:i + config.batch_size]
                # learnable wiring: the selection's temperature falls geometrically from tau0 to tau1
                model.set_select_tau(tau0 * (tau1 / tau0) ** (steps / max(1, total_steps - 1)))
                for group in opt.param_groups:
                    group["lr"] = learning_rate(config, steps, total_steps)
                xb = random_shift(x_train[sel], ds.input_shape, config.shift, gen)
                loss = loss_fn(model(xb), y_train[sel])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(sel)
                steps += 1
            if epoch % eval_every == 0 or epoch == config.epochs:
                acc = float((model.counts(test_bits).argmax(1) == y_test).mean())
                history.append((epoch, total / n, acc))
                if bar is not None:
                    bar.set_postfix(loss=f"{total / n:.3f}", test=f"{acc:.3f}")
                if log is not None:
                    log(epoch, total / n, acc)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    test_acc = float((model.counts(test_bits).argmax(1) == y_test).mean())
    train_acc = float((model.counts(ds.train_bits).argmax(1) == ds.y_train).mean())
    seconds = time.perf_counter() - start
    cfg = asdict(config)
    cfg["thresholds"] = ds.extra.get("thresholds")
    cfg["crop"] = ds.extra.get("crop")
    provenance = {
        "dataset": ds.name,
        "encoding": ds.description,
        "split": ds.split,
        "train_size": int(len(ds.y_train)),
        "test_size": int(len(ds.y_test)),
        "test_accuracy": test_acc,
        "train_accuracy": train_acc,
        "epochs": config.epochs,
        "steps": steps,
        "seed": config.seed,
        "train_seconds": round(seconds, 2),
        "threads": torch.get_num_threads(),
        "torch_version": str(torch.__version__),
        "trainer": {**{key: value for key, value in cfg.items() if key not in ("threads",)}, "tau": tau},
        "gates": model.n_gates,
        "wiring": wiring.provenance(model.connections, ds.n_inputs, [config.width] * config.layers,
                                    ds.input_shape),
    }
    ck = make_checkpoint(n_inputs=ds.n_inputs, layers=model.checkpoint_layers(save_weights=config.save_weights),
                         k=k, tau=tau, input_shape=ds.input_shape, encoding=ds.encoding, provenance=provenance)
    return TrainResult(model, ck, test_acc, train_acc, seconds, history)


def save_checkpoint(ck: dict, path, force: bool = False) -> None:
    """Write a checkpoint atomically (nothing is left behind on failure), never over a file lgn2hw did not write
    unless ``force``."""
    from .._files import write_output
    try:
        write_output(path, lambda tmp: torch.save(ck, tmp), ".pt", force=force)
    except OSError as err:
        raise UsageError(f"cannot write the checkpoint ({err.strerror or err})", location=str(path)) from None
