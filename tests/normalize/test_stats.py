"""Issue 10, numerics: the variance at large offsets once the statistics are
merged (kernel chunks and partial_fit batches), thread invariance, and the
near-constant-feature bound against scikit-learn."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastgrad import Normalizer
from fastgrad.normalize import _normalizer_kernel as _normalizer

sklearn = pytest.importorskip("sklearn")
from sklearn.preprocessing import StandardScaler  # noqa: E402

CHUNK = _normalizer.CHUNK_SIZE


def extended_reference(X):
    """Two-pass mean and variance in np.longdouble on the same float64 data.

    Each feature is first shifted by its first sample (exact in extended
    precision), so the reference does not lose the digits it is meant to
    check (a plain longdouble mean near 1e12 carries ~1e-7 absolute error).
    """
    L = np.asarray(X, dtype=np.longdouble)
    base = L[0].copy()
    D = L - base
    mean = D.sum(axis=0) / D.shape[0]
    var = ((D - mean) ** 2).sum(axis=0) / D.shape[0]
    return base + mean, var


def rel(a, b):
    a = np.asarray(a, dtype=np.longdouble)
    return np.max(np.abs(a - b) / np.abs(b))


def offset_data(ratio, n=100_000, d=3, seed=0):
    rng = np.random.default_rng(seed)
    sigma = rng.uniform(0.5, 2.0, d)
    offset = ratio * sigma * rng.choice([-1.0, 1.0], d)
    return offset + sigma * rng.standard_normal((n, d))


@pytest.mark.parametrize("ratio", [1e8, 1e12])
@pytest.mark.parametrize("layout", ["C", "F", "course"])
def test_variance_at_large_offsets(ratio, layout):
    X = offset_data(ratio)
    before = X.tobytes()
    mean_ref, var_ref = extended_reference(X)
    if layout == "C":
        norm = Normalizer().fit(X)
    elif layout == "F":
        norm = Normalizer().fit(np.asfortranarray(X))
    else:
        norm = Normalizer(sample_axis=1).fit(np.ascontiguousarray(X.T))
    assert rel(norm.var_, var_ref) <= 1e-12  # was 3e-10 (1e8), 4.9e-6 (1e12)
    assert rel(norm.mean_, mean_ref) <= 1e-15
    assert X.tobytes() == before


@pytest.mark.parametrize("ratio", [1e8, 1e12])
@pytest.mark.parametrize("cuts", ["even", "ragged", "tiny"])
def test_variance_at_large_offsets_partial_fit(ratio, cuts):
    X = offset_data(ratio, seed=1)
    mean_ref, var_ref = extended_reference(X)
    rng = np.random.default_rng(7)
    if cuts == "even":
        edges = np.arange(0, X.shape[0] + 1, 1000)
    elif cuts == "ragged":
        edges = np.unique(np.r_[0, np.sort(rng.integers(1, X.shape[0], 60)), X.shape[0]])
    else:
        edges = np.r_[np.arange(0, 2000, 7), np.arange(2000, X.shape[0], 9973), X.shape[0]]
    norm = Normalizer()
    for a, b in zip(edges[:-1], edges[1:]):
        norm.partial_fit(X[a:b])
    assert norm.n_samples_seen_ == X.shape[0]
    assert rel(norm.var_, var_ref) <= 1e-12
    assert rel(norm.mean_, mean_ref) <= 1e-15


def test_weighted_and_nan_paths_at_large_offsets():
    X = offset_data(1e12, n=20_000, seed=2)
    w = np.random.default_rng(3).integers(1, 4, X.shape[0]).astype(float)
    rep = np.repeat(X, w.astype(int), axis=0)
    mean_ref, var_ref = extended_reference(rep)
    norm = Normalizer().fit(X, sample_weight=w)
    assert rel(norm.var_, var_ref) <= 1e-12
    Xn = X.copy()
    Xn[::5, 1] = np.nan
    mean_ref, var_ref = extended_reference(Xn[~np.isnan(Xn[:, 1]), 1:2])
    norm = Normalizer().fit(Xn)
    assert rel(norm.var_[1:2], var_ref) <= 1e-12


@pytest.mark.parametrize("ratio", [0.0, 1e12])
def test_same_bits_for_any_thread_count_at_offsets(ratio):
    X = offset_data(ratio, n=7 * CHUNK + 5, d=5, seed=4)
    results = []
    for n_threads in (1, 2, 3):
        for arr, axis in ((X, 0), (np.asfortranarray(X), 0), (X.T.copy(), 1)):
            norm = Normalizer(n_threads=n_threads, sample_axis=axis).fit(arr)
            results.append((norm.mean_, norm.var_))
    for mean, var in results[1:]:
        assert_array_equal(mean, results[0][0])
        assert_array_equal(var, results[0][1])


def test_near_constant_feature_bound_matches_standard_scaler():
    """Features whose spread lies between mean*eps and n*mean*eps are
    'constant' for scikit-learn (scale_ 1); features above n*mean*eps are
    not. A bound n times stricter, or n times looser, changes scale_."""
    n = 100
    mean = 1000.0
    ulp = np.spacing(mean)  # 1.1e-13, about mean * eps / 2
    eps = np.finfo(np.float64).eps
    rng = np.random.default_rng(5)
    cols = []
    # std / (mean * eps): inside the band (1 .. n), then clearly above it.
    for k in (2, 8, 30, 60, 400, 3000):
        steps = np.round(rng.standard_normal(n) * k * mean * eps / ulp)
        cols.append(mean + steps * ulp)
    X = np.column_stack(cols)
    before = X.tobytes()
    std = X.std(axis=0)
    band = std / (mean * eps)
    assert ((band > 1) & (band < n)).sum() >= 3  # the band is exercised
    assert (band > 2 * n).sum() >= 1            # and the other side
    sk = StandardScaler().fit(X)
    ours = Normalizer().fit(X)
    assert_array_equal(ours.scale_ == 1.0, sk.scale_ == 1.0)
    assert_allclose(ours.scale_, sk.scale_, rtol=1e-6)
    assert (sk.scale_[band < n] == 1.0).all()
    assert (sk.scale_[band > 2 * n] != 1.0).all()
    # The transform against an exact reference: within one rounding of the
    # mean (an ulp of 1000) magnified by 1 / scale_. (scikit-learn's own
    # mean is off by up to 4 ulps here, so its transform is not the yardstick.)
    mean_ref = extended_reference(X)[0]
    expect = (X - mean_ref) / sk.scale_
    err = np.abs(ours.transform(X) - expect.astype(np.float64))
    assert (err <= ulp / sk.scale_ + 1e-9 * np.abs(expect)).all()
    assert X.tobytes() == before
