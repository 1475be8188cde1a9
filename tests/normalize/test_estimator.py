"""Issue 10, StandardScaler parity: whatever scikit-learn's StandardScaler
accepts, Normalizer accepts with the same result to rounding (deviations are
documented in the Normalizer docstring and tested here as such).

Every input (X, sample_weight, sparse data/indices/indptr) is byte-compared
before and after.
"""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastgrad import Normalizer

sklearn = pytest.importorskip("sklearn")
sp = pytest.importorskip("scipy.sparse")
from sklearn.preprocessing import StandardScaler  # noqa: E402

TOL = {np.float64: dict(rtol=1e-11, atol=1e-11),
       np.float32: dict(rtol=2e-5, atol=2e-5),
       # scikit-learn rounds a float16 transform twice (after - and /).
       np.float16: dict(rtol=4e-3, atol=4e-3)}


def fingerprint(*objs):
    out = []
    for o in objs:
        if o is None:
            out.append(None)
        elif sp.issparse(o) and o.format == "coo":
            out.append((o.data.tobytes(), o.row.tobytes(), o.col.tobytes(), o.shape))
        elif sp.issparse(o):
            out.append((o.data.tobytes(), o.indices.tobytes(), o.indptr.tobytes(),
                        o.format, o.shape))
        else:
            a = np.asarray(o)
            out.append((a.tobytes(), a.dtype.str, a.shape))
    return out


def assert_same_fit(ours, sk):
    for name in ("mean_", "var_", "scale_"):
        a, b = getattr(ours, name), getattr(sk, name)
        if b is None:
            assert a is None, name
            continue
        assert_allclose(a, b, rtol=1e-11, atol=1e-13, equal_nan=True, err_msg=name)
    assert_allclose(np.asarray(ours.n_samples_seen_, dtype=float),
                    np.asarray(sk.n_samples_seen_, dtype=float), rtol=1e-12)
    assert np.shape(ours.n_samples_seen_) == np.shape(sk.n_samples_seen_)
    assert ours.n_features_in_ == sk.n_features_in_


def tol_for(dtype):
    return TOL.get(np.dtype(dtype).type, TOL[np.float64])


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


def data(rng, n=300, d=4, dtype=np.float64):
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + rng.uniform(-5, 5, d)
    if np.dtype(dtype).kind in "iub":
        X = np.round(X * 3)
        if np.dtype(dtype).kind == "u":
            X = np.abs(X)
        if np.dtype(dtype).kind == "b":
            X = X > 0
    return X.astype(dtype)


# ---------------------------------------------------------------------------
# Dense: with_mean / with_std, dtypes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64,
                                   np.int32, np.uint8, bool])
@pytest.mark.parametrize("with_mean", [True, False])
@pytest.mark.parametrize("with_std", [True, False])
def test_dense_parity(rng, dtype, with_mean, with_std):
    X = data(rng, dtype=dtype)
    before = fingerprint(X)
    kw = dict(with_mean=with_mean, with_std=with_std)
    sk = StandardScaler(**kw).fit(X)
    ours = Normalizer(**kw).fit(X)
    assert_same_fit(ours, sk)
    Zs, Zo = sk.transform(X), ours.transform(X)
    assert Zo.dtype == Zs.dtype  # float16 stays float16, ints become float64
    assert_allclose(Zo.astype(float), Zs.astype(float), **tol_for(Zs.dtype))
    Zf = ours.fit_transform(X)
    assert Zf.dtype == Zs.dtype
    assert_allclose(Zf.astype(float), Zs.astype(float), **tol_for(Zs.dtype))
    back_s, back_o = sk.inverse_transform(Zs), ours.inverse_transform(Zs)
    assert back_o.dtype == back_s.dtype
    assert_allclose(back_o.astype(float), back_s.astype(float),
                    **(tol_for(back_s.dtype) if back_s.dtype != np.float16
                       else dict(rtol=4e-3, atol=3e-2)))
    assert fingerprint(X) == before


# ---------------------------------------------------------------------------
# sample_weight
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["float", "int", "scalar", "list", "with_zeros"])
def test_sample_weight_parity(rng, kind):
    X = data(rng)
    w = {"float": rng.uniform(0.1, 3.0, X.shape[0]),
         "int": rng.integers(1, 5, X.shape[0]),
         "scalar": 2.5,
         "list": list(rng.uniform(0.5, 1.5, X.shape[0])),
         "with_zeros": np.where(rng.random(X.shape[0]) < 0.3, 0.0, 1.7)}[kind]
    before = fingerprint(X, w)
    sk = StandardScaler().fit(X, sample_weight=w)
    ours = Normalizer().fit(X, sample_weight=w)
    assert_same_fit(ours, sk)
    assert_allclose(ours.transform(X), sk.transform(X), **TOL[np.float64])
    Zs = StandardScaler().fit_transform(X, sample_weight=w)
    Zo = Normalizer().fit_transform(X, sample_weight=w)
    assert_allclose(Zo, Zs, **TOL[np.float64])
    assert fingerprint(X, w) == before


def test_integer_weights_equal_repetition(rng):
    X = data(rng, n=50)
    w = rng.integers(0, 4, X.shape[0])
    w[0] = 1
    rep = np.repeat(X, w, axis=0)
    a = Normalizer().fit(X, sample_weight=w)
    b = Normalizer().fit(rep)
    assert_allclose(a.mean_, b.mean_, rtol=1e-13)
    assert_allclose(a.var_, b.var_, rtol=1e-12)
    assert a.n_samples_seen_ == float(w.sum())


def test_partial_fit_with_weights_parity(rng):
    X = data(rng, n=500)
    w = rng.uniform(0.0, 2.0, X.shape[0])
    before = fingerprint(X, w)
    sk, ours = StandardScaler(), Normalizer()
    for a, b in ((0, 7), (7, 200), (200, 201), (201, 500)):
        sk.partial_fit(X[a:b], sample_weight=w[a:b])
        ours.partial_fit(X[a:b], sample_weight=w[a:b])
    assert_same_fit(ours, sk)
    # Weighted and unweighted batches mixed.
    sk2, ours2 = StandardScaler(), Normalizer()
    sk2.partial_fit(X[:100])
    ours2.partial_fit(X[:100])
    sk2.partial_fit(X[100:], sample_weight=w[100:])
    ours2.partial_fit(X[100:], sample_weight=w[100:])
    assert_same_fit(ours2, sk2)
    assert fingerprint(X, w) == before


@pytest.mark.parametrize("w, exc, match", [
    ([1.0, 2.0], ValueError, r"sample_weight.shape == \(2,\), expected \(5,\)"),
    ([1.0, np.nan, 1.0, 1.0, 1.0], ValueError, "sample_weight contains NaN"),
    ([1.0, np.inf, 1.0, 1.0, 1.0], ValueError, "sample_weight contains infinity"),
    ([1.0, -2.0, 1.0, 1.0, 1.0], ValueError, "sample_weight must be non-negative"),
    ([0.0] * 5, ValueError, "at least one non-zero"),
    (np.ones((5, 1)), ValueError, "Sample weights must be 1D"),
    (["a"] * 5, TypeError, "sample_weight must hold real numbers"),
    ([1j] * 5, ValueError, "Complex data not supported: sample_weight"),
    (True, TypeError, "sample_weight must be an array of numbers"),
    (np.ma.masked_array(np.ones(5)), TypeError, "sample_weight is a numpy.ma.MaskedArray"),
])
def test_sample_weight_errors(w, exc, match):
    X = np.arange(10.0).reshape(5, 2)
    before = fingerprint(X, w if not np.isscalar(w) else None)
    for call in (lambda: Normalizer().fit(X, sample_weight=w),
                 lambda: Normalizer().partial_fit(X, sample_weight=w),
                 lambda: Normalizer().fit_transform(X, sample_weight=w)):
        with pytest.raises(exc, match=match):
            call()
    assert fingerprint(X, w if not np.isscalar(w) else None) == before


def test_failed_weighted_partial_fit_keeps_state(rng):
    X = data(rng, n=40)
    norm = Normalizer().partial_fit(X)
    state = {k: np.copy(v) for k, v in vars(norm).items() if k.endswith("_")}
    with pytest.raises(ValueError, match="non-negative"):
        norm.partial_fit(X, sample_weight=-np.ones(40))
    for k, v in state.items():
        assert_array_equal(getattr(norm, k), v)


# ---------------------------------------------------------------------------
# NaN as missing
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["C", "F", "course"])
def test_nan_is_missing_parity(rng, dtype, layout):
    X = data(rng, n=700, dtype=dtype)
    X[rng.random(X.shape) < 0.1] = np.nan
    X[:, 2] = np.nan          # a feature never seen
    X[3:, 3] = 1.0            # and one with a single NaN-free ... constant value
    X[:3, 3] = np.nan
    before = fingerprint(X)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # sklearn: 0/0 for feature 2
        sk = StandardScaler().fit(X)
    ours = Normalizer(sample_axis=1 if layout == "course" else 0)
    Xl = {"C": X, "F": np.asfortranarray(X), "course": np.ascontiguousarray(X.T)}[layout]
    ours.fit(Xl)
    assert_same_fit(ours, sk)
    assert isinstance(ours.n_samples_seen_, np.ndarray)  # per feature
    with np.errstate(all="ignore"):
        Zs = sk.transform(X)
    Zo = ours.transform(Xl)
    if layout == "course":
        Zo = Zo.T
    assert_array_equal(np.isnan(Zo), np.isnan(Zs))
    assert_allclose(Zo, Zs, equal_nan=True, **tol_for(dtype))
    back = ours.inverse_transform(ours.transform(Xl))
    keep = [0, 1, 3] if layout != "course" else slice(None)
    if layout == "course":
        back, Xl = back[[0, 1, 3]], Xl[[0, 1, 3]]
    else:
        back, Xl = back[:, keep], Xl[:, keep]
    assert_allclose(back, Xl, equal_nan=True, **tol_for(dtype))
    assert fingerprint(X) == before


def test_nan_partial_fit_parity(rng):
    X = data(rng, n=600)
    X[rng.random(X.shape) < 0.2] = np.nan
    sk, ours = StandardScaler(), Normalizer()
    for a in range(0, 600, 150):
        sk.partial_fit(X[a:a + 150])
        ours.partial_fit(X[a:a + 150])
    assert_same_fit(ours, sk)


def test_feature_unseen_in_first_batches():
    """Deviation, documented: when the first partial_fit batches hold only
    NaN for a feature, scikit-learn's mean_ stays NaN for good (0/0 in its
    update); the Normalizer gives the statistics of the values seen."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((400, 2)) + 3
    X[:200, 1] = np.nan
    ours = Normalizer()
    for a in range(0, 400, 100):
        ours.partial_fit(X[a:a + 100])
    seen = X[200:, 1]
    assert_allclose(ours.mean_, [X[:, 0].mean(), seen.mean()], rtol=1e-13)
    assert_allclose(ours.var_, [X[:, 0].var(), seen.var()], rtol=1e-12)
    assert_array_equal(ours.n_samples_seen_, [400, 200])
    with np.errstate(all="ignore"):
        sk = StandardScaler()
        for a in range(0, 400, 100):
            sk.partial_fit(X[a:a + 100])
    assert np.isnan(sk.mean_[1])  # if this starts failing, sklearn was fixed


def test_nan_with_weights_parity(rng):
    X = data(rng, n=200)
    X[rng.random(X.shape) < 0.15] = np.nan
    w = rng.uniform(0.2, 2.0, 200)
    sk = StandardScaler().fit(X, sample_weight=w)
    ours = Normalizer().fit(X, sample_weight=w)
    assert_same_fit(ours, sk)


def test_nan_only_in_transform(rng):
    X = data(rng)
    norm = Normalizer().fit(X)
    T = X[:10].copy()
    T[2, 1] = np.nan
    before = fingerprint(T)
    Z = norm.transform(T)
    assert np.isnan(Z[2, 1]) and np.isfinite(np.delete(Z.ravel(), 2 * 4 + 1)).all()
    assert_allclose(Z, StandardScaler().fit(X).transform(T), equal_nan=True,
                    **TOL[np.float64])
    assert fingerprint(T) == before


# ---------------------------------------------------------------------------
# scipy.sparse
# ---------------------------------------------------------------------------

def sparse_data(rng, fmt, n=400, d=5, nan=False, cls="matrix"):
    X = rng.standard_normal((n, d)) * 2 + 1
    X[rng.random((n, d)) < 0.6] = 0.0
    if nan:
        X[rng.random((n, d)) < 0.05] = np.nan
    maker = {("csr", "matrix"): sp.csr_matrix, ("csc", "matrix"): sp.csc_matrix,
             ("csr", "array"): sp.csr_array, ("csc", "array"): sp.csc_array}[fmt, cls]
    return maker(X)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("cls", ["matrix", "array"])
@pytest.mark.parametrize("with_std", [True, False])
@pytest.mark.parametrize("nan", [False, True])
def test_sparse_parity(rng, fmt, cls, with_std, nan):
    S = sparse_data(rng, fmt, nan=nan, cls=cls)
    before = fingerprint(S)
    kw = dict(with_mean=False, with_std=with_std)
    sk = StandardScaler(**kw).fit(S)
    ours = Normalizer(**kw).fit(S)
    assert_same_fit(ours, sk)
    for copy in (True, False):
        Z = ours.transform(S, copy=copy)
        assert sp.issparse(Z) and Z.format == fmt and type(Z) is type(S)
        assert not np.shares_memory(Z.data, S.data)
        assert_allclose(Z.toarray(), sk.transform(S).toarray(), equal_nan=True,
                        **TOL[np.float64])
        back = ours.inverse_transform(Z, copy=copy)
        assert back.format == fmt
        assert_allclose(back.toarray(), S.toarray(), equal_nan=True, **TOL[np.float64])
    Zf = Normalizer(**kw).fit_transform(S)
    assert_allclose(Zf.toarray(), sk.transform(S).toarray(), equal_nan=True,
                    **TOL[np.float64])
    assert fingerprint(S) == before


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_weights_and_partial_fit(rng, fmt):
    S = sparse_data(rng, fmt)
    w = rng.uniform(0.1, 2.0, S.shape[0])
    before = fingerprint(S, w)
    sk = StandardScaler(with_mean=False).fit(S, sample_weight=w)
    ours = Normalizer(with_mean=False).fit(S, sample_weight=w)
    assert_same_fit(ours, sk)
    R = S.tocsr()
    sk2, ours2 = StandardScaler(with_mean=False), Normalizer(with_mean=False)
    for a, b in ((0, 100), (100, 250), (250, 400)):
        part = R[a:b]
        sk2.partial_fit(part)
        ours2.partial_fit(part)
    assert_same_fit(ours2, sk2)
    # Dense and sparse batches of the same stream give the same statistics.
    mixed = Normalizer(with_mean=False).partial_fit(R[:200]).partial_fit(
        R[200:].toarray())
    assert_allclose(mixed.var_, ours2.var_, rtol=1e-12)
    assert fingerprint(S, w) == before


def test_sparse_non_canonical_and_other_formats(rng):
    dense = rng.standard_normal((30, 3))
    dense[dense < 0.3] = 0
    rows, cols = np.nonzero(dense)
    vals = dense[rows, cols]
    # Duplicates summed by scipy: value v stored as v/2 twice.
    coo = sp.coo_matrix((np.r_[vals / 2, vals / 2], (np.r_[rows, rows], np.r_[cols, cols])),
                        shape=dense.shape)
    csr = sp.csr_matrix((coo.data, (coo.row, coo.col)), shape=dense.shape)
    before = fingerprint(coo, csr)
    expect = StandardScaler(with_mean=False).fit(dense)
    for S in (coo, csr, sp.lil_matrix(dense), sp.coo_array(dense)):
        ours = Normalizer(with_mean=False).fit(S)
        assert_allclose(ours.var_, expect.var_, rtol=1e-12)
        assert_allclose(ours.transform(S).toarray(), expect.transform(dense),
                        **TOL[np.float64])
    assert fingerprint(coo, csr) == before


def test_sparse_centering_message_everywhere(rng):
    S = sparse_data(rng, "csr")
    msg = ("Cannot center sparse matrices: pass `with_mean=False` instead. See "
           "docstring for motivation and alternatives.")
    with pytest.raises(ValueError) as info:
        StandardScaler().fit(S)
    assert str(info.value) == msg
    fitted = Normalizer().fit(S.toarray())
    for call in (lambda: Normalizer().fit(S), lambda: Normalizer().partial_fit(S),
                 lambda: Normalizer().fit_transform(S), lambda: fitted.transform(S),
                 lambda: fitted.inverse_transform(S)):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == msg


def test_sparse_infinity_and_pandas_output(rng):
    S = sparse_data(rng, "csr").astype(np.float64)
    norm = Normalizer(with_mean=False).fit(S)
    bad = S.copy()
    bad.data[3] = np.inf
    before = fingerprint(bad)
    with pytest.raises(ValueError, match="infinity"):
        norm.transform(bad)
    with pytest.raises(ValueError, match="infinity"):
        Normalizer(with_mean=False).fit(bad)
    with pytest.raises(ValueError, match="infinity"):
        Normalizer(with_mean=False, with_std=False).fit(S).transform(bad)
    assert fingerprint(bad) == before
    with pytest.raises(ValueError, match="Pandas output does not support sparse"):
        Normalizer(with_mean=False).set_output(transform="pandas").fit_transform(S)


def test_sparse_float32_and_int(rng):
    S = sparse_data(rng, "csc").astype(np.float32)
    Z = Normalizer(with_mean=False).fit(S).transform(S)
    assert Z.dtype == np.float32
    assert_allclose(Z.toarray(),
                    StandardScaler(with_mean=False).fit(S).transform(S).toarray(),
                    **TOL[np.float32])
    Si = sp.csr_matrix(np.array([[0, 2], [3, 0], [0, 0]]))
    Zi = Normalizer(with_mean=False).fit_transform(Si)
    assert Zi.dtype == np.float64 and Si.dtype.kind == "i"


# ---------------------------------------------------------------------------
# Inputs refused with a clear error
# ---------------------------------------------------------------------------

def test_masked_array_refused(rng):
    X = np.ma.masked_array(data(rng, n=10), mask=np.zeros((10, 4), bool))
    X.mask[2, 1] = True
    before = fingerprint(X.data, X.mask)
    with pytest.raises(TypeError, match=r"MaskedArray.*filled\(np.nan\)"):
        Normalizer().fit(X)
    fitted = Normalizer().fit(X.filled(np.nan))  # the documented way
    assert fitted.n_samples_seen_[1] == 9
    for call in (fitted.transform, fitted.inverse_transform, fitted.partial_fit):
        with pytest.raises(TypeError, match="MaskedArray"):
            call(X)
    assert fingerprint(X.data, X.mask) == before


@pytest.mark.parametrize("X, exc, match", [
    (np.array([[1 + 2j, 3j], [1, 2]]), ValueError, "Complex data not supported"),
    (np.array([[1.0, object()], [2, 3]], dtype=object), TypeError, "dtype object"),
    (np.array([["a", "b"], ["c", "d"]], dtype=object), ValueError, "dtype object"),
    (np.array([["a", "b"], ["c", "d"]]), ValueError, "dtype <U1 and could not be converted"),
])
def test_complex_and_object_refused(X, exc, match):
    before = fingerprint(X) if X.dtype != object else None
    with pytest.raises(exc, match=match):
        Normalizer().fit(X)
    fitted = Normalizer().fit(np.ones((3, 2)) * [[1], [2], [3]])
    with pytest.raises(exc, match=match):
        fitted.transform(X)
    if before is not None:
        assert fingerprint(X) == before


def test_object_numbers_accepted_as_sklearn():
    X = np.array([[1, 2.5], [3, 4.0], [5, 1.0]], dtype=object)
    ours = Normalizer().fit(X)
    sk = StandardScaler().fit(X)
    assert_same_fit(ours, sk)
    assert_allclose(ours.transform(X), sk.transform(X), **TOL[np.float64])


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_course_layout(rng, fmt):
    X = rng.standard_normal((50, 4))
    X[X < 0.3] = 0.0
    S = (sp.csr_matrix if fmt == "csr" else sp.csc_matrix)(X.T)  # (n_x, m)
    before = fingerprint(S)
    norm = Normalizer(with_mean=False, sample_axis=1).fit(S)
    assert_allclose(norm.var_, X.var(axis=0), rtol=1e-12)
    Z = norm.transform(S)
    assert Z.format == fmt
    assert_allclose(Z.toarray(), (X / X.std(axis=0)).T, rtol=1e-12)
    assert_allclose(norm.inverse_transform(Z).toarray(), X.T, rtol=1e-12, atol=1e-15)
    assert_allclose(norm.report(S).test_mean, X.mean(axis=0), rtol=1e-12)
    assert fingerprint(S) == before
