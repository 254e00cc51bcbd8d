"""The bit-parallel interpreter against a naive sample-by-sample evaluator."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgn2hw.errors import UsageError
from lgn2hw.ir import evaluate, evaluate_outputs, interp

from netlists import naive_counts, random_layered


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), arity=st.sampled_from([2, 3, 6]), skip=st.booleans(),
       fold=st.booleans(), n=st.sampled_from([1, 63, 64, 65, 130]))
def test_interpreter_matches_naive(seed, arity, skip, fold, n):
    rng = np.random.default_rng(seed)
    nl = random_layered(rng, max_arity=arity, skip=skip, fold_outputs=fold)
    bits = rng.integers(0, 2, (n, nl.n_inputs))
    expect = naive_counts(nl, bits)
    assert (evaluate(nl, bits) == expect).all()
    outs = evaluate_outputs(nl, bits).astype(np.int64)
    per_class = np.stack([outs[:, nl.out_class == c].sum(1) for c in range(nl.n_classes)], 1) + nl.class_offset
    assert (per_class == expect).all()


def test_chunking_gives_the_same_counts(monkeypatch):
    rng = np.random.default_rng(1)
    nl = random_layered(rng, n_inputs=20, layers=4, width=40, classes=4, skip=True, fold_outputs=True)
    bits = rng.integers(0, 2, (3000, nl.n_inputs)).astype(bool)
    whole = evaluate(nl, bits)
    monkeypatch.setattr(interp, "_VALUE_BUDGET", 8 * nl.n_nets)   # one word (64 samples) per chunk
    assert (evaluate(nl, bits) == whole).all()
    assert (whole[:200] == naive_counts(nl, bits[:200])).all()


def test_dtypes_accepted():
    rng = np.random.default_rng(2)
    nl = random_layered(rng, n_inputs=8)
    bits = rng.integers(0, 2, (50, 8))
    ref = evaluate(nl, bits)
    for dt in (np.uint8, np.int8, np.int32, np.uint64, bool):
        assert (evaluate(nl, bits.astype(dt)) == ref).all()
    assert evaluate(nl, np.zeros((0, 8), np.uint8)).shape == (0, nl.n_classes)


@pytest.mark.parametrize("bits, pattern", [
    (np.zeros((4, 7), np.uint8), r"inputs must have shape \(N, 8\), not \(4, 7\)"),
    (np.zeros(8, np.uint8), r"inputs must have shape \(N, 8\), not \(8,\)"),
    (np.full((2, 8), 2), r"inputs must be 0 or 1, found 2"),
    (np.full((2, 8), -1), r"inputs must be 0 or 1, found -1"),
    (np.zeros((2, 8), np.float32), r"inputs must be an integer or bool array of 0/1, not float32"),
])
def test_bad_inputs(bits, pattern):
    nl = random_layered(np.random.default_rng(3), n_inputs=8)
    with pytest.raises(UsageError, match=pattern):
        evaluate(nl, bits)


@pytest.mark.needs("cc")
def test_c_kernel_is_built_where_a_compiler_exists():
    assert interp.native_kernel() is not None


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), arity=st.sampled_from([2, 4, 6]), fold=st.booleans(),
       n=st.sampled_from([1, 64, 200, 5000]))
def test_numpy_and_c_engines_agree(seed, arity, fold, n):
    rng = np.random.default_rng(seed)
    nl = random_layered(rng, max_arity=arity, skip=True, fold_outputs=fold)
    bits = rng.integers(0, 2, (n, nl.n_inputs))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LGN2HW_INTERP", "numpy")
        assert interp.native_kernel() is None
        ref = evaluate(nl, bits)
        ref_out = evaluate_outputs(nl, bits)
    assert (evaluate(nl, bits) == ref).all()
    assert (evaluate_outputs(nl, bits) == ref_out).all()
    if n <= 64:
        assert (ref == naive_counts(nl, bits)).all()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), width=st.sampled_from([16, 17, 33, 95, 400]),
       classes=st.integers(1, 3), n_inputs=st.sampled_from([7, 8, 9, 23, 64]), fold=st.booleans(),
       n=st.sampled_from([1, 7, 8, 63, 65, 130]))
def test_wide_classes_and_odd_shapes(seed, width, classes, n_inputs, fold, n):
    """Classes of 16 bits and more (the C engine adds them sixteen at a time) and input/sample counts that are
    not multiples of 8 (it packs eight by eight)."""
    rng = np.random.default_rng(seed)
    nl = random_layered(rng, n_inputs=n_inputs, layers=2, width=width, classes=classes, skip=True,
                        fold_outputs=fold)
    bits = rng.integers(0, 2, (n, nl.n_inputs))
    expect = naive_counts(nl, bits)
    assert (evaluate(nl, bits) == expect).all()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LGN2HW_INTERP", "numpy")
        assert (evaluate(nl, bits) == expect).all()
