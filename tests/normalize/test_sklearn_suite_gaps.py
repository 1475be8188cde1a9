"""Gaps found by running scikit-learn's own StandardScaler tests against
Normalizer: sparse statistics with weights, a constant sparse feature's
``var_``, scikit-learn's NotFittedError, metadata routing, numeric strings.
References are exact rational arithmetic (``fractions``) or scikit-learn."""
import os
import pickle
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastgrad import Normalizer
from fastgrad.normalize import NotFittedError

sklearn = pytest.importorskip("sklearn")
sp = pytest.importorskip("scipy.sparse")


def exact_weighted(x, w):
    """(mean, var) of a column with weights, exactly, rounded once."""
    W = sum(Fraction(float(a)) for a in w)
    mu = sum(Fraction(float(a)) * Fraction(float(b)) for a, b in zip(w, x)) / W
    var = sum(Fraction(float(a)) * (Fraction(float(b)) - mu) ** 2 for a, b in zip(w, x)) / W
    return float(mu), float(var)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("value", [1.0, 100.0, 1e-10, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_constant_sparse_feature_has_zero_variance(fmt, value, weighted):
    # Before: the implicit zeros' weight, w.sum() minus a bincount, was a
    # rounding remainder; times mean² it became var_ ~1e-16 and scale_ ~1e-8
    # (a transform of 9.5e7 instead of 1). Without weights var_ was 2e-50.
    X = sp.csr_matrix(np.full((10, 2), value)).asformat(fmt)
    X[:, 1] = 0.0  # a column of stored zeros: also constant
    w = np.full(10, 0.1) if weighted else None
    before = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    norm = Normalizer(with_mean=False).fit(X, sample_weight=w)
    assert_array_equal(norm.var_, [0.0, 0.0])
    assert_array_equal(norm.scale_, [1.0, 1.0])
    assert_array_equal(norm.mean_, [value, 0.0])
    assert_array_equal(norm.transform(X).toarray()[:, 0], np.full(10, value))
    assert_array_equal(X.data, before[0])
    assert_array_equal(X.indices, before[1])
    assert_array_equal(X.indptr, before[2])


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("offset, sigma", [(1e4, 1e-2), (1e8, 5.0), (0.0, 1.0)])
def test_sparse_weighted_variance_at_an_offset(fmt, offset, sigma):
    # A feature stored at every row: before, var_ was 1e-3 (1e4 ± 1e-2) and
    # 29% (1e8 ± 5) off.
    rng = np.random.default_rng(3)
    x = offset + sigma * rng.standard_normal(300)
    w = rng.uniform(0.5, 2.0, 300)
    norm = Normalizer(with_mean=False).fit(sp.csr_matrix(x[:, None]).asformat(fmt),
                                          sample_weight=w)
    mu, var = exact_weighted(x, w)
    assert abs(norm.var_[0] / var - 1) < 1e-13
    assert abs(norm.mean_[0] - mu) <= 1e-15 * (abs(mu) + np.sqrt(var))


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_weighted_with_implicit_zeros_and_nan(fmt):
    rng = np.random.default_rng(4)
    D = rng.standard_normal((200, 4)) + [0.0, 3.0, 1e3, 0.0]
    D[rng.random(D.shape) < 0.4] = 0.0
    D[5, 1] = D[9, 3] = np.nan
    w = rng.uniform(0.1, 3.0, 200)
    norm = Normalizer(with_mean=False).fit(sp.csr_matrix(D).asformat(fmt), sample_weight=w)
    for j in range(4):
        keep = ~np.isnan(D[:, j])
        mu, var = exact_weighted(D[keep, j], w[keep])
        assert abs(norm.var_[j] / var - 1) < 1e-13, j
        assert abs(norm.mean_[j] - mu) <= 1e-15 * (abs(mu) + np.sqrt(var)), j


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_partial_fit_matches_one_fit(fmt):
    rng = np.random.default_rng(5)
    D = 1e6 + rng.standard_normal((120, 3))
    D[:40, 2] = 0.0
    w = rng.uniform(0.5, 2.0, 120)
    S = sp.csr_matrix(D).asformat(fmt)
    whole = Normalizer(with_mean=False).fit(S, sample_weight=w)
    parts = Normalizer(with_mean=False)
    for a, b in ((0, 50), (50, 90), (90, 120)):
        parts.partial_fit(sp.csr_matrix(D[a:b]).asformat(fmt), sample_weight=w[a:b])
    for j in range(3):
        mu, var = exact_weighted(D[:, j], w)
        assert abs(whole.var_[j] / var - 1) < 1e-12
        assert abs(parts.var_[j] / var - 1) < 1e-12


def test_not_fitted_error_is_sklearns_too():
    from sklearn.exceptions import NotFittedError as SkNotFitted

    for call in (lambda n: n.transform(np.ones((2, 2))),
                 lambda n: n.inverse_transform(np.ones((2, 2))),
                 lambda n: n.get_feature_names_out()):
        with pytest.raises(SkNotFitted) as info:
            call(Normalizer())
        err = info.value
        assert isinstance(err, NotFittedError)
        assert isinstance(err, ValueError) and isinstance(err, AttributeError)
        assert "not fitted" in str(err)
        again = pickle.loads(pickle.dumps(err))
        assert type(again) is type(err) and str(again) == str(err)


def test_not_fitted_error_unpickles_in_a_fresh_process():
    from sklearn.exceptions import NotFittedError as SkNotFitted

    with pytest.raises(SkNotFitted) as info:
        Normalizer().transform(np.ones((2, 2)))
    blob = pickle.dumps(info.value)
    code = (
        "import pickle, sys\n"
        "e = pickle.loads(sys.stdin.buffer.read())\n"
        "from sklearn.exceptions import NotFittedError as S\n"
        "from fastgrad.normalize import NotFittedError as F\n"
        "print(isinstance(e, S), isinstance(e, F))\n"
    )
    # from tests/, not the checkout root, whose fastgrad/ would shadow the
    # installed package in a non-editable install (no compiled kernels there)
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True,
                         check=True, timeout=120, cwd=os.path.dirname(os.path.abspath(__file__)))
    assert out.stdout.split() == [b"True", b"True"]


@pytest.fixture
def routing():
    sklearn.set_config(enable_metadata_routing=True)
    yield
    sklearn.set_config(enable_metadata_routing=False)


def test_set_fit_request_needs_routing_enabled():
    with pytest.raises(RuntimeError, match="enable_metadata_routing=True"):
        Normalizer().set_fit_request(sample_weight=True)


def test_metadata_routing_in_a_pipeline(routing):
    from sklearn.base import clone
    from sklearn.exceptions import UnsetMetadataPassedError
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    y = X[:, 0]
    w = rng.uniform(0.1, 2.0, 20)
    assert (Normalizer().get_metadata_routing()._serialize()
            == StandardScaler().get_metadata_routing()._serialize())
    reg = LinearRegression().set_fit_request(sample_weight=True)
    # Unset: refused, as for StandardScaler (before: fitted unweighted, silently).
    with pytest.raises(UnsetMetadataPassedError):
        Pipeline([("s", Normalizer()), ("r", reg)]).fit(X, y, sample_weight=w)
    for requested, expect in ((True, np.average(X, axis=0, weights=w)),
                              (False, X.mean(axis=0))):
        norm = clone(Normalizer().set_fit_request(sample_weight=requested))
        pipe = Pipeline([("s", norm), ("r", reg)]).fit(X, y, sample_weight=w)
        assert_allclose(pipe[0].mean_, expect, rtol=1e-13)
        sk = clone(StandardScaler().set_fit_request(sample_weight=requested))
        assert (norm.get_metadata_routing()._serialize()
                == sk.get_metadata_routing()._serialize())
    with pytest.raises(TypeError):
        Normalizer().set_fit_request(copy=True)
    assert repr(Normalizer().set_transform_request(copy=True)) == "Normalizer()"


def test_numbers_as_strings_convert_as_in_sklearn():
    from sklearn.preprocessing import StandardScaler

    for X in ([["1", "2"], ["3", "5"]], np.array([[b"1", b"2.5"], [b"3", b"-5e3"]])):
        ours = Normalizer().fit(X)
        sk = StandardScaler().fit(X)
        assert_array_equal(ours.mean_, sk.mean_)
        assert_array_equal(ours.var_, sk.var_)
    with pytest.raises(ValueError, match="could not be converted to float64"):
        Normalizer().fit([["a", "2"], ["3", "5"]])
