"""Tests for fastgrad.Normalizer against independent NumPy references and
scikit-learn's StandardScaler."""
import io
import json
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from fastgrad.normalize import _normalizer_kernel as _normalizer
from fastgrad.normalize.normalizer import DistributionReport, Normalizer, NotFittedError

sklearn = pytest.importorskip("sklearn")  # in the test extra, so CI runs these
from sklearn.base import clone  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

# Tolerances, stated once.
# Statistics are accumulated in float64 for both dtypes and compared with a
# float64 NumPy reference computed on the same values, so one bound serves
# both; it allows eps * (|offset| / sigma) growth for offsets up to ~1e5 sigma.
STAT_RTOL = 1e-9
# Transformed values: float64 outputs carry the statistics' error; float32
# outputs are one float32 rounding of an exact float64 result.
TOL = {
    np.float64: dict(rtol=1e-9, atol=1e-9),
    np.float32: dict(rtol=1e-6, atol=1e-6),
}
# Against StandardScaler, which computes float32 transforms in float32.
SKLEARN_TOL = {
    np.float64: dict(rtol=1e-10, atol=1e-10),
    np.float32: dict(rtol=1e-5, atol=1e-5),
}

# Sizes that cross the kernels' chunk and block boundaries.
CHUNK = _normalizer.CHUNK_SIZE
FBLOCK = _normalizer.FEATURE_BLOCK


# ---------------------------------------------------------------------------
# Independent reference and helpers
# ---------------------------------------------------------------------------

def reference_stats(X, sample_axis=0):
    """Plain NumPy two-pass mean and population variance in float64."""
    A = np.asarray(X, dtype=np.float64)
    if sample_axis == 1:
        A = A.T
    mean = A.sum(axis=0) / A.shape[0]
    var = ((A - mean) ** 2).sum(axis=0) / A.shape[0]
    return mean, var


def reference_transform(X, mean, scale, sample_axis=0):
    A = np.asarray(X, dtype=np.float64)
    if sample_axis == 1:
        return (A - mean[:, None]) / scale[:, None]
    return (A - mean) / scale


def make_data(rng, shape, dtype=np.float64, offset=0.0, spread=1.0):
    n_features = shape[1]
    scales = spread * rng.uniform(0.5, 2.0, n_features)
    shifts = offset * rng.uniform(-1.0, 1.0, n_features)
    return (shifts + scales * rng.standard_normal(shape)).astype(dtype)


def layouts(X):
    """The same (n_samples, n_features) data in every layout the API accepts:
    (name, array, sample_axis)."""
    Xf = np.asfortranarray(X)
    padded = np.zeros((2 * X.shape[0], 3 * X.shape[1]), dtype=X.dtype)
    padded[::2, ::3] = X
    rowpad = np.zeros((2 * X.shape[0], X.shape[1]), dtype=X.dtype)
    rowpad[::2] = X
    return [
        ("C", X, 0),
        ("F", Xf, 0),
        ("strided", padded[::2, ::3], 0),
        ("row-strided", rowpad[::2], 0),
        ("reversed", X[::-1][::-1], 0),
        ("course", np.ascontiguousarray(X.T), 1),
        ("course-F", np.asfortranarray(X.T), 1),
    ]


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


# ---------------------------------------------------------------------------
# Statistics and transform against the NumPy reference
# ---------------------------------------------------------------------------

@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    n_samples=st.integers(1, 3 * CHUNK + 7),
    n_features=st.integers(1, 40),
    log_spread=st.floats(-3, 3),
    offset_ratio=st.sampled_from([0.0, 1.0, 1e3, 1e5]),
    dtype=st.sampled_from([np.float64, np.float32]),
    layout=st.sampled_from(["C", "F", "strided", "course"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_fit_transform_match_numpy_reference(n_samples, n_features, log_spread,
                                              offset_ratio, dtype, layout, seed):
    rng = np.random.default_rng(seed)
    spread = 10.0 ** log_spread
    X = make_data(rng, (n_samples, n_features), dtype, offset_ratio * spread, spread)
    name, Xl, axis = next(item for item in layouts(X) if item[0] == layout)
    before = Xl.copy()

    norm = Normalizer(sample_axis=axis)
    Z = norm.fit_transform(Xl)

    mean, var = reference_stats(X)
    assert norm.n_samples_seen_ == n_samples
    assert norm.n_features_in_ == n_features
    assert_allclose(norm.mean_, mean, rtol=STAT_RTOL, atol=STAT_RTOL * spread)
    # The variance's absolute error scales with |mean| * eps, hence the atol.
    var_atol = STAT_RTOL * (spread ** 2 + (np.abs(mean).max() * spread))
    assert_allclose(norm.var_, var, rtol=STAT_RTOL, atol=var_atol)
    assert Z.dtype == dtype and Z.shape == Xl.shape
    ref = reference_transform(Xl, norm.mean_, norm.scale_, axis)
    # Outputs are in sigma units; rounding of x and mean_ (~eps * |x|) is
    # amplified by |x| / sigma.
    amp = 1.0 + np.abs(np.asarray(Xl, np.float64)).max() / norm.scale_.min()
    tol = TOL[dtype]
    assert_allclose(Z, ref, rtol=tol["rtol"], atol=tol["atol"] * amp)
    assert_array_equal(Xl, before)  # input never modified


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("with_mean, with_std",
                         [(True, True), (False, True), (True, False), (False, False)])
def test_matches_standard_scaler(rng, dtype, with_mean, with_std):
    X = make_data(rng, (2 * CHUNK + 17, FBLOCK + 9), dtype, offset=3.0)
    X[:, 5] = 2.5  # a constant feature
    ours = Normalizer(with_mean=with_mean, with_std=with_std).fit(X)
    theirs = StandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
    assert ours.n_samples_seen_ == theirs.n_samples_seen_
    for name in ("mean_", "var_", "scale_"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert_allclose(a, b, rtol=1e-12, err_msg=name)
    tol = SKLEARN_TOL[dtype]
    Z = ours.transform(X)
    assert Z.dtype == theirs.transform(X).dtype == dtype
    assert_allclose(Z, theirs.transform(X), **tol)
    assert_allclose(ours.inverse_transform(Z), theirs.inverse_transform(Z), **tol)


def test_divides_by_sigma_not_variance(rng):
    # The seeds' "divide by sigma^2" slip would leave variance 1/sigma^2.
    X = make_data(rng, (500, 4), spread=7.0, offset=3.0)
    Z = Normalizer().fit_transform(X)
    assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    assert_allclose(Z.var(axis=0), 1.0, rtol=1e-12)


def test_course_layout_train_dev_test(rng):
    # The course's X is (n_x, m): examples are columns.
    X_train = make_data(rng, (300, 5), offset=10.0).T
    X_test = make_data(rng, (40, 5), offset=10.0).T
    norm = Normalizer(sample_axis=1).fit(X_train)
    mu = X_train.mean(axis=1, keepdims=True)
    sigma = X_train.std(axis=1, keepdims=True)
    assert norm.mean_.shape == (5,)
    assert_allclose(norm.transform(X_train), (X_train - mu) / sigma, **TOL[np.float64])
    # Test data uses the training mu and sigma, not its own.
    assert_allclose(norm.transform(X_test), (X_test - mu) / sigma, **TOL[np.float64])
    assert norm.transform(X_test).shape == X_test.shape


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_layout_gives_the_same_result(rng, dtype):
    X = make_data(rng, (3 * CHUNK + 5, FBLOCK + 3), dtype, offset=2.0)
    base = Normalizer().fit(X)
    Z0 = base.transform(X)
    for name, Xl, axis in layouts(X):
        norm = Normalizer(sample_axis=axis).fit(Xl)
        assert_allclose(norm.mean_, base.mean_, rtol=1e-14, err_msg=name)
        assert_allclose(norm.var_, base.var_, rtol=1e-14, err_msg=name)
        Z = norm.transform(Xl)
        assert Z.shape == Xl.shape, name
        Zs = Z.T if axis == 1 else Z
        assert_allclose(Zs, Z0, rtol=1e-14, atol=1e-14, err_msg=name)
        back = norm.inverse_transform(Z)
        assert_allclose(back, Xl, **TOL[dtype], err_msg=name)


def test_output_keeps_input_memory_order(rng):
    X = make_data(rng, (100, 7))
    norm = Normalizer().fit(X)
    assert norm.transform(X).flags.c_contiguous
    assert norm.transform(np.asfortranarray(X)).flags.f_contiguous
    course = Normalizer(sample_axis=1).fit(X.T.copy())
    assert course.transform(X.T.copy()).flags.c_contiguous


# ---------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 2 * CHUNK), min_size=1, max_size=6),
    n_features=st.integers(1, 12),
    offset=st.sampled_from([0.0, 50.0, 1e4]),
    axis=st.sampled_from([0, 1]),
    seed=st.integers(0, 2**32 - 1),
)
def test_streaming_equals_one_shot(cuts, n_features, offset, axis, seed):
    rng = np.random.default_rng(seed)
    n = sum(cuts)
    X = make_data(rng, (n, n_features), offset=offset)
    stream = Normalizer(sample_axis=axis)
    start = 0
    for size in cuts:
        chunk = X[start:start + size]
        stream.partial_fit(chunk.T if axis == 1 else chunk)
        start += size
    one = Normalizer().fit(X)
    mean, var = reference_stats(X)
    assert stream.n_samples_seen_ == one.n_samples_seen_ == n
    scale = 1.0 + offset
    assert_allclose(stream.mean_, one.mean_, rtol=1e-13, atol=1e-13 * scale)
    assert_allclose(stream.var_, one.var_, rtol=1e-11, atol=1e-12 * scale)
    assert_allclose(stream.var_, var, rtol=STAT_RTOL, atol=STAT_RTOL * scale)


def test_fit_forgets_partial_fit(rng):
    X1, X2 = make_data(rng, (50, 3), offset=5.0), make_data(rng, (60, 3))
    norm = Normalizer().partial_fit(X1).partial_fit(X2)
    assert norm.n_samples_seen_ == 110
    norm.fit(X2)
    assert norm.n_samples_seen_ == 60
    assert_allclose(norm.mean_, reference_stats(X2)[0], rtol=1e-13)


def test_failed_partial_fit_leaves_state_unchanged(rng):
    X = make_data(rng, (40, 3))
    norm = Normalizer().partial_fit(X)
    state = {k: np.copy(v) for k, v in vars(norm).items() if k.endswith("_")}
    bad = X.copy()
    bad[3, 1] = np.inf  # NaN is a missing value (tests/normalize/test_estimator.py)
    with pytest.raises(ValueError, match="infinity"):
        norm.partial_fit(bad)
    with pytest.raises(ValueError, match="features"):
        norm.partial_fit(X[:, :2])
    for k, v in state.items():
        assert_array_equal(getattr(norm, k), v)


# ---------------------------------------------------------------------------
# Numerics: float32 with offsets, constant features
# ---------------------------------------------------------------------------

def test_float32_large_offset_keeps_variance(rng):
    X = (1e4 + rng.standard_normal((200_000, 3))).astype(np.float32)
    exact_var = reference_stats(X)[1]  # float64, on the float32 values
    # Why float64 accumulation matters: the textbook float32 E[x^2] - E[x]^2
    # is garbage here (E[x^2] ~ 1e8 has a float32 ulp of 8).
    naive = (X * X).mean(axis=0, dtype=np.float32) - X.mean(axis=0, dtype=np.float32) ** 2
    assert np.max(np.abs(naive / exact_var - 1)) > 1e-2

    norm = Normalizer().fit(X)
    assert_allclose(norm.var_, exact_var, rtol=1e-4)
    Z = norm.transform(X)
    assert Z.dtype == np.float32
    Z64 = Z.astype(np.float64)
    assert_allclose(Z64.mean(axis=0), 0.0, atol=1e-4)
    assert_allclose(Z64.std(axis=0), 1.0, rtol=1e-4)


def test_constant_and_near_constant_features(rng):
    n = 300
    X = rng.standard_normal((n, 5))
    X[:, 0] = 0.1  # constant; its float mean need not be exactly 0.1
    # Differs from a constant only at the last bits: numerically constant.
    X[:, 1] = 1e6 + np.spacing(1e6) * rng.integers(0, 3, n)
    X[:, 2] = 0.0
    X[:, 3] = 1e-8 * rng.standard_normal(n)  # tiny but real spread
    norm = Normalizer().fit(X)
    ref = StandardScaler().fit(X)
    assert_array_equal(norm.scale_[:3], 1.0)
    assert 0 < norm.var_[1]  # sigma == 0 would have missed it
    assert_allclose(norm.scale_[3], np.sqrt(reference_stats(X)[1][3]), rtol=1e-12)
    assert_allclose(norm.scale_, ref.scale_, rtol=1e-12)
    Z = norm.transform(X)
    assert np.isfinite(Z).all()
    assert_allclose(Z[:, :3], 0.0, atol=1e-9)
    assert_allclose(Z[:, 3].std(), 1.0, rtol=1e-12)


def test_single_sample_fit(rng):
    X = rng.standard_normal((1, 4))
    norm = Normalizer().fit(X)
    assert_array_equal(norm.var_, 0.0)
    assert_array_equal(norm.scale_, 1.0)
    assert_allclose(norm.transform(X), 0.0, atol=1e-15)


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(5 * CHUNK + 3, 2 * FBLOCK + 5), (CHUNK - 1, 3), (7, 1)])
def test_same_bits_for_any_thread_count(rng, dtype, shape):
    X = make_data(rng, shape, dtype, offset=100.0)
    for name, Xl, axis in layouts(X):
        runs = []
        for n_threads in (1, 2, 3):
            norm = Normalizer(sample_axis=axis, n_threads=n_threads)
            norm.partial_fit(Xl).partial_fit(Xl)
            runs.append((norm, norm.transform(Xl), norm.inverse_transform(Xl),
                         norm.report(Xl).mean_shift))
        for other in runs[1:]:
            for attr in ("mean_", "var_", "scale_"):
                assert_array_equal(getattr(runs[0][0], attr), getattr(other[0], attr),
                                   err_msg=f"{name} {attr}")
            for a, b in zip(runs[0][1:], other[1:]):
                assert_array_equal(a, b, err_msg=name)


def test_n_threads_values(rng):
    X = make_data(rng, (20, 2))
    for ok in (None, -1, 1, 2):
        Normalizer(n_threads=ok).fit(X)
    with pytest.raises(ValueError, match="n_threads"):
        Normalizer(n_threads=0).fit(X)
    with pytest.raises(TypeError, match="n_threads"):
        Normalizer(n_threads=1.5).fit(X)


# ---------------------------------------------------------------------------
# Inputs are never modified; copy=False works in place
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_inputs_never_modified(rng, dtype):
    X = (make_data(rng, (CHUNK + 3, 6), offset=4.0) * 10).astype(dtype)
    for _, Xl, axis in layouts(X):
        before = Xl.copy()
        norm = Normalizer(sample_axis=axis)
        norm.fit(Xl)
        norm.partial_fit(Xl)
        norm.fit_transform(Xl)
        Z = norm.transform(Xl)
        norm.inverse_transform(Xl)
        norm.report(Xl)
        assert_array_equal(Xl, before)
        assert not np.shares_memory(Z, Xl)


def test_copy_false_transforms_in_place(rng):
    X = make_data(rng, (CHUNK + 9, 5), offset=3.0)
    norm = Normalizer(copy=False).fit(X)
    expected = Normalizer().fit(X).transform(X)
    for _, Xl, axis in layouts(X)[:2]:
        work = Xl.copy(order="K")
        out = norm.transform(work)
        assert out is work
        assert_allclose(work, expected, **TOL[np.float64])
        back = norm.inverse_transform(work, copy=False)
        assert back is work
        assert_allclose(work, Xl, **TOL[np.float64])
    # A per-call copy=True overrides the parameter.
    work = X.copy()
    out = norm.transform(work, copy=True)
    assert out is not work
    assert_array_equal(work, X)
    # Integer input cannot be overwritten with floats: a new array, input kept.
    Xi = np.arange(30).reshape(10, 3)
    ints = Normalizer(copy=False).fit(Xi)
    out = ints.transform(Xi)
    assert out.dtype == np.float64
    assert_array_equal(Xi, np.arange(30).reshape(10, 3))
    # A read-only array is not overwritten either.
    ro = X.copy()
    ro.flags.writeable = False
    assert norm.transform(ro) is not ro


def test_copy_false_refuses_nan_before_touching_input(rng):
    X = make_data(rng, (50, 4))
    norm = Normalizer(copy=False).fit(X)
    bad = X.copy()
    bad[17, 2] = np.inf
    before = bad.copy()
    with pytest.raises(ValueError, match="infinity"):
        norm.transform(bad)
    assert_array_equal(bad, before)


# ---------------------------------------------------------------------------
# Bad input: clear errors
# ---------------------------------------------------------------------------

# NaN is a missing value, as in scikit-learn: tests/normalize/test_estimator.py.
@pytest.mark.parametrize("value, word", [(np.inf, "infinity"), (-np.inf, "infinity")])
@pytest.mark.parametrize("axis", [0, 1])
def test_inf_refused(rng, value, word, axis):
    X = make_data(rng, (2 * CHUNK, 5))
    bad = X.copy()
    bad[CHUNK + 3, 3] = value
    if axis == 1:
        X, bad = X.T.copy(), bad.T.copy()
    with pytest.raises(ValueError, match=rf"{word}.*feature\(s\) 3"):
        Normalizer(sample_axis=axis).fit(bad)
    norm = Normalizer(sample_axis=axis).fit(X)
    for method in (norm.transform, norm.inverse_transform, norm.report):
        with pytest.raises(ValueError, match=word):
            method(bad)


def test_overflow_is_reported(rng):
    X = np.array([[1e308], [-1e308], [1e308]])
    with pytest.raises(ValueError, match="too large"):
        Normalizer().fit(X)


@pytest.mark.parametrize("X, match", [
    (np.zeros((0, 3)), r"0 sample\(s\)"),
    (np.zeros((4, 0)), r"0 feature\(s\)"),
    (np.zeros(5), "Expected 2D array, got 1D"),
    (np.zeros((2, 3, 4)), "Expected 2D array, got 3D"),
    (np.float64(3.0), "Expected 2D array, got 0D"),
])
def test_bad_shapes(X, match):
    with pytest.raises(ValueError, match=match):
        Normalizer().fit(X)


def test_empty_along_course_sample_axis():
    with pytest.raises(ValueError, match=r"0 sample\(s\).*sample_axis=1"):
        Normalizer(sample_axis=1).fit(np.zeros((3, 0)))


@pytest.mark.parametrize("X, exc, match", [
    (np.array([["a", "b"], ["c", "d"]]), ValueError, "dtype <U1 and could not be converted"),
    (np.array([[1 + 2j, 3j]]), ValueError, "Complex data not supported"),
    (np.array([["2024-01-01"]], dtype="datetime64[D]"), TypeError, "non-numeric"),
    (np.array([[1.0, {"a": 1}]], dtype=object), TypeError, "dtype object"),
    (np.array([[1.0, "x"]], dtype=object), ValueError, "dtype object"),
])
def test_non_numeric_dtypes(X, exc, match):
    with pytest.raises(exc, match=match):
        Normalizer().fit(X)


def test_numeric_dtypes_accepted(rng):
    base = rng.integers(0, 50, (30, 3))  # exact in every dtype below
    expect = reference_stats(base)[0]
    for X in (base.astype(np.int32), base.astype(np.uint8), base.astype(np.float16),
              base.astype(">f8"), base.astype(object), base.tolist()):
        assert_allclose(Normalizer().fit(X).mean_, expect, rtol=1e-12)
    assert Normalizer().fit_transform(base.astype(np.float16)).dtype == np.float16
    assert Normalizer().fit_transform(base.astype(">f4")).dtype == np.float32
    assert Normalizer().fit_transform(base.astype(bool)).dtype == np.float64


def test_sparse_centering_refused():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(ValueError, match="Cannot center sparse matrices: pass "
                       "`with_mean=False` instead"):
        Normalizer().fit(sparse.csr_matrix(np.eye(3)))


def test_wrong_number_of_features(rng):
    X = make_data(rng, (20, 4))
    norm = Normalizer().fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but Normalizer is expecting 4"):
        norm.transform(X[:, :3])
    # A course-layout array passed in sklearn layout: the error suggests the fix.
    with pytest.raises(ValueError, match="did you mean sample_axis=1"):
        norm.transform(X[:7].T)
    with pytest.raises(ValueError, match="expecting 4"):
        norm.inverse_transform(X[:, :2])


def test_not_fitted():
    norm = Normalizer()
    for call in (lambda: norm.transform(np.ones((2, 2))),
                 lambda: norm.inverse_transform(np.ones((2, 2))),
                 lambda: norm.report(np.ones((2, 2))),
                 lambda: norm.save(io.BytesIO()),
                 norm.get_feature_names_out):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()
    assert issubclass(NotFittedError, ValueError)
    assert issubclass(NotFittedError, AttributeError)


@pytest.mark.parametrize("axis", [2, -1, True, 0.0, "rows", None])
def test_wrong_sample_axis(axis):
    with pytest.raises(ValueError, match="sample_axis must be 0 .* or 1"):
        Normalizer(sample_axis=axis).fit(np.ones((3, 2)))


@pytest.mark.parametrize("param", ["with_mean", "with_std", "copy"])
def test_bool_params_checked(param):
    with pytest.raises(TypeError, match=param):
        Normalizer(**{param: "yes"}).fit(np.ones((3, 2)))


# ---------------------------------------------------------------------------
# scikit-learn compatibility
# ---------------------------------------------------------------------------

def _estimator_checks():
    from sklearn.utils.estimator_checks import parametrize_with_checks

    # Normalizer deliberately does not inherit from sklearn.base.BaseEstimator
    # (scikit-learn is not a dependency); sklearn warns about that once.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return parametrize_with_checks([
            Normalizer(),
            Normalizer(with_mean=False),
            Normalizer(with_std=False, n_threads=1),
        ])


# Every check scikit-learn yields for a transformer runs. The array-API check
# skips itself unless SCIPY_ARRAY_API is set; Normalizer is NumPy-only and its
# tags say array_api_support=False. sample_axis=1 is not in the list: the
# checks feed (n_samples, n_features) data, which that layout reads transposed.
@pytest.mark.filterwarnings("ignore:Estimator Normalizer does not inherit")
@_estimator_checks()
def test_sklearn_estimator_checks(estimator, check):
    import sklearn

    if (getattr(check, "func", check).__name__ == "check_sample_weight_equivalence_on_sparse_data"
            and estimator.with_mean
            and sklearn.__version__.startswith("1.6.")):
        pytest.skip("scikit-learn 1.6 runs this check on estimators that refuse sparse "
                    "input, and passes only a TypeError (its issue #30139)")
    check(estimator)


def test_clone_and_params():
    norm = Normalizer(with_mean=False, sample_axis=1, n_threads=2, copy=False)
    twin = clone(norm)
    assert twin is not norm
    assert twin.get_params() == norm.get_params() == {
        "copy": False, "n_threads": 2, "sample_axis": 1,
        "with_mean": False, "with_std": True}
    assert repr(norm) == "Normalizer(copy=False, n_threads=2, sample_axis=1, with_mean=False)"
    assert repr(Normalizer()) == "Normalizer()"
    assert twin.set_params(with_std=False) is twin and twin.with_std is False
    with pytest.raises(ValueError, match="Invalid parameter 'scale'"):
        twin.set_params(scale=2)


def test_pipeline(rng):
    from sklearn.linear_model import LogisticRegression

    X = make_data(rng, (300, 4), offset=100.0)
    y = (X[:, 0] - X[:, 0].mean() > 0).astype(int)
    ours = make_pipeline(Normalizer(), LogisticRegression()).fit(X, y)
    theirs = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-6, atol=1e-8)
    pipe = Pipeline([("norm", Normalizer()), ("again", Normalizer(with_mean=False))])
    Z = pipe.fit_transform(X)
    assert_allclose(Z.std(axis=0), 1.0, rtol=1e-12)
    assert clone(pipe).get_params()["norm__sample_axis"] == 0


def test_pickle_of_the_estimator_object(rng):
    # Users may pickle their own pipelines; save()/load() never pickles.
    X = make_data(rng, (30, 3))
    norm = Normalizer().fit(X)
    twin = pickle.loads(pickle.dumps(norm))
    assert_array_equal(twin.transform(X), norm.transform(X))


class _Table:
    """The two things Normalizer reads from a DataFrame: columns and values."""

    def __init__(self, values, columns):
        self._values, self.columns = values, columns

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._values, dtype=dtype)


def test_feature_names(rng):
    X = make_data(rng, (10, 3))
    norm = Normalizer().fit(_Table(X, ["a", "b", "c"]))
    assert list(norm.feature_names_in_) == ["a", "b", "c"]
    assert list(norm.get_feature_names_out()) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="feature names"):
        norm.transform(_Table(X, ["a", "c", "b"]))
    plain = Normalizer().fit(X)
    assert list(plain.get_feature_names_out()) == ["x0", "x1", "x2"]
    assert not hasattr(plain, "feature_names_in_")


# ---------------------------------------------------------------------------
# save / load
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    {}, {"with_mean": False}, {"with_std": False},
    {"with_mean": False, "with_std": False}, {"sample_axis": 1, "n_threads": 1},
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_load_round_trip(tmp_path, rng, params, dtype):
    X = make_data(rng, (CHUNK + 5, 4), dtype, offset=7.0)
    X[:, 2] = 1.5
    if params.get("sample_axis") == 1:
        X = X.T.copy()
    norm = Normalizer(**params).fit(X)
    # As np.savez: ".npz" is appended to a name that does not end with it.
    written = norm.save(tmp_path / "norm.fgn")
    path = tmp_path / "norm.fgn.npz"
    assert written == str(path) and path.exists()
    assert not (tmp_path / "norm.fgn").exists()
    loaded = Normalizer.load(path)
    assert loaded.get_params() == norm.get_params()
    for attr in ("mean_", "var_", "scale_", "n_samples_seen_", "n_features_in_"):
        a, b = getattr(loaded, attr), getattr(norm, attr)
        assert (a is None) == (b is None)
        if a is not None:
            assert_array_equal(a, b)
    assert_array_equal(loaded.transform(X), norm.transform(X))
    assert_array_equal(loaded.inverse_transform(X), norm.inverse_transform(X))
    with np.load(path, allow_pickle=False) as data:  # readable without pickle
        assert json.loads(str(data["meta"][()]))["format"] == "fastgrad.Normalizer"


def test_save_load_feature_names(tmp_path, rng):
    X = make_data(rng, (10, 2))
    Normalizer().fit(_Table(X, ["height", "weight"])).save(tmp_path / "n.npz")
    loaded = Normalizer.load(tmp_path / "n.npz")
    assert list(loaded.get_feature_names_out()) == ["height", "weight"]


def _npz(path, **arrays):
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def test_load_refuses_files_that_are_not_ours(tmp_path, rng):
    norm = Normalizer().fit(make_data(rng, (10, 2)))
    good = tmp_path / "good.npz"
    norm.save(good)
    with np.load(good) as data:
        contents = {k: data[k] for k in data.files}
    meta = json.loads(str(contents["meta"][()]))

    text = tmp_path / "notes.txt"
    text.write_text("mean,std\n1,2\n")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(good.read_bytes()[:60])
    npy = tmp_path / "array.npy"
    np.save(npy, np.ones(3))
    pickled = tmp_path / "pickled.npz"
    with open(pickled, "wb") as fh:
        np.savez(fh, meta=np.array([{"format": "fastgrad.Normalizer"}], dtype=object))
    other = _npz(tmp_path / "other.npz", meta=np.array(json.dumps({"format": "x"})))
    no_meta = _npz(tmp_path / "nometa.npz", mean_=np.zeros(2))
    newer = _npz(tmp_path / "newer.npz", **{**contents, "meta": np.array(
        json.dumps({**meta, "version": 99}))})
    short = _npz(tmp_path / "short.npz", **{**contents, "scale_": np.ones(3)})
    zero = _npz(tmp_path / "zero.npz", **{**contents, "scale_": np.zeros(2)})
    for path in (text, damaged, npy, pickled, other, no_meta, newer, short, zero):
        with pytest.raises(ValueError, match="is not a fastgrad Normalizer file"):
            Normalizer.load(path)
    with pytest.raises(FileNotFoundError):
        Normalizer.load(tmp_path / "missing.npz")


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------

def test_report_numbers_and_table(rng):
    X_train = make_data(rng, (2000, 4), offset=10.0)
    X_test = make_data(rng, (500, 4), offset=10.0)
    X_test = X_test[:, :4].copy()
    X_test[:, 1] += 2.0 * X_train[:, 1].std()  # shifted by 2 sigma
    X_test[:, 3] = X_train[:500, 3]  # same distribution
    norm = Normalizer().fit(X_train)
    state = {k: np.copy(v) for k, v in vars(norm).items() if k.endswith("_")}
    rep = norm.report(X_test)
    assert isinstance(rep, DistributionReport)
    mu, var = reference_stats(X_train)
    tmu, tvar = reference_stats(X_test)
    assert_allclose(rep.mean_shift, (tmu - mu) / np.sqrt(var), rtol=1e-9, atol=1e-12)
    assert_allclose(rep.std_ratio, np.sqrt(tvar / var), rtol=1e-9)
    # The numbers are what the fitted transform does to the test set.
    Z = norm.transform(X_test)
    assert_allclose(rep.mean_shift, Z.mean(axis=0), atol=1e-9)
    assert_allclose(rep.std_ratio, Z.std(axis=0), rtol=1e-9)
    assert rep.flagged[1] and not rep.flagged[3]
    assert not rep.ok
    text = str(rep)
    assert "| feature" in text and "shift (σ)" in text and "FLAG" in text
    assert text.index("| 1 ") < text.index("| 3 ")  # flagged rows first
    # Reporting never refits.
    for k, v in state.items():
        assert_array_equal(getattr(norm, k), v)


def test_report_clean_set_and_course_layout(rng):
    X = make_data(rng, (4000, 3), offset=5.0)
    norm = Normalizer(sample_axis=1).fit(X[:3000].T)
    rep = norm.report(X[3000:].T)
    assert rep.ok and "No feature flagged" in str(rep)
    assert rep.n_test == 1000 and rep.n_train == 3000


def test_report_constant_feature_and_errors(rng):
    X = make_data(rng, (100, 2))
    X[:, 0] = 4.0
    norm = Normalizer().fit(X)
    test = X.copy()
    test[:, 0] = 4.0 + rng.standard_normal(100)
    rep = norm.report(test)
    assert rep.constant[0] and not rep.constant[1]
    assert rep.flagged[0] and "const-in-train" in str(rep)
    with pytest.raises(ValueError, match="with_std=False"):
        Normalizer(with_std=False).fit(X).report(X)
    with pytest.raises(ValueError, match="std_tol"):
        norm.report(X, std_tol=0.5)
