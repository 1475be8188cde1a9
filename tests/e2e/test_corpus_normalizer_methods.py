"""Bad-input corpus for the Normalizer (issue 10): every public method ×
dtypes, layouts, shapes, special values and containers. Each case asserts a
correct result (against a plain NumPy reference written here) or a clear
ValueError/TypeError, and that the input's bytes are unchanged.
"""
import fastgrad_tests_corpus as C  # tests/_corpus.py, registered by conftest.py
import numpy as np
import pytest

from fastgrad import Normalizer

pd = pytest.importorskip("pandas")
sp = pytest.importorskip("scipy.sparse")

N, D = 37, 4
_BASE = np.random.default_rng(77).standard_normal((N, D)) * [1.0, 3.0, 0.5, 10.0] \
    + [0.0, 5.0, -2.0, 100.0]


def _record():
    rec = np.zeros(N, dtype=[("a", "f8"), ("b", "i4")])
    rec["a"] = _BASE[:, 0]
    return rec["a"][:, None]


def _misaligned():
    buf = np.zeros(N * D * 8 + 1, dtype=np.uint8)
    X = buf[1:].view(np.float64).reshape(N, D)
    X[...] = _BASE
    return X


def _read_only():
    X = _BASE.copy()
    X.flags.writeable = False
    return X


def _with(value, where=(5, 1)):
    X = _BASE.copy()
    X[where] = value
    return X


def _all_nan_column():
    X = _BASE.copy()
    X[:, 2] = np.nan
    return X


OK = "ok"
# name -> (factory, expected outcome). The factory returns what the user
# passes in scikit-learn's layout (samples are rows).
INPUTS = {
    "float64_C": (lambda: _BASE.copy(), OK),
    "float64_F": (lambda: np.asfortranarray(_BASE), OK),
    "float32": (lambda: _BASE.astype(np.float32), OK),
    "float16": (lambda: _BASE.astype(np.float16), OK),
    "longdouble": (lambda: _BASE.astype(np.longdouble), OK),
    "big_endian": (lambda: _BASE.astype(">f8"), OK),
    "int64": (lambda: np.round(_BASE).astype(np.int64), OK),
    "int8": (lambda: np.clip(np.round(_BASE), -100, 100).astype(np.int8), OK),
    "uint8": (lambda: np.abs(np.round(_BASE)).astype(np.uint8), OK),
    "bool": (lambda: _BASE > 0, OK),
    "object_numbers": (lambda: _BASE.astype(object), OK),
    "object_strings": (lambda: np.full((N, D), "a", dtype=object),
                       (ValueError, "dtype object")),
    # None in an object array is NaN to NumPy (and to scikit-learn): missing.
    "object_none": (lambda: np.where(_BASE > 0, _BASE, None).astype(object), OK),
    # numbers as strings convert, as in scikit-learn; text does not
    "str_numbers": (lambda: _BASE.astype(str), OK),
    "str": (lambda: np.full((N, D), "a"), (ValueError, "could not be converted")),
    "complex": (lambda: _BASE.astype(complex), (ValueError, "Complex data not supported")),
    "datetime": (lambda: np.zeros((N, D), dtype="datetime64[s]"),
                 (TypeError, "non-numeric dtype")),
    "strided": (lambda: np.repeat(np.repeat(_BASE, 2, axis=0), 3, axis=1)[::2, ::3], OK),
    "negative_strides": (lambda: _BASE[::-1, ::-1], OK),
    "transposed_view": (lambda: np.ascontiguousarray(_BASE.T).T, OK),
    "read_only": (_read_only, OK),
    "broadcast_rows": (lambda: np.broadcast_to(_BASE[:1], (N, D)), OK),
    "record_field": (_record, OK),
    "misaligned": (_misaligned, OK),
    "single_row": (lambda: _BASE[:1].copy(), OK),
    "single_column": (lambda: _BASE[:, :1].copy(), OK),
    "empty_rows": (lambda: np.zeros((0, D)), (ValueError, r"0 sample\(s\)")),
    "empty_features": (lambda: np.zeros((N, 0)), (ValueError, r"0 feature\(s\)")),
    "one_d": (lambda: _BASE[:, 0].copy(), (ValueError, "Expected 2D array, got 1D")),
    "three_d": (lambda: np.zeros((2, 3, 4)), (ValueError, "Expected 2D array, got 3D")),
    "zero_d": (lambda: np.float64(3.0), (ValueError, "Expected 2D array, got 0D")),
    "none": (lambda: None, (ValueError, "Expected 2D array, got 0D")),
    "nan": (lambda: _with(np.nan), OK),
    "all_nan_column": (_all_nan_column, OK),
    "inf": (lambda: _with(np.inf), (ValueError, "infinity")),
    "minus_inf": (lambda: _with(-np.inf), (ValueError, "infinity")),
    "constant_column": (lambda: _with(7.0, (slice(None), 0)), OK),
    "list": (lambda: _BASE.tolist(), OK),
    "tuple": (lambda: tuple(map(tuple, _BASE.tolist())), OK),
    "ragged_list": (lambda: [[1.0, 2.0], [3.0]], (ValueError, "could not be converted")),
    "dataframe": (lambda: pd.DataFrame(_BASE.copy(), columns=list("abcd")), OK),
    "dataframe_mixed": (lambda: pd.DataFrame({"a": _BASE[:, 0].copy(),
                                              "b": np.round(_BASE[:, 1]).astype(int),
                                              "c": _BASE[:, 2].astype(np.float32),
                                              "d": _BASE[:, 3] > 100}), OK),
    "dataframe_nullable": (lambda: pd.DataFrame(
        {c: pd.array(np.where(np.arange(N) == 3, np.nan, _BASE[:, i]), dtype="Float64")
         for i, c in enumerate("abcd")}), OK),
    "dataframe_strings": (lambda: pd.DataFrame({c: ["x"] * N for c in "abcd"}),
                          (ValueError, r"^X column 'a' \(\w+\) holds values that are not "
                                       r"numbers")),
    "series": (lambda: pd.Series(_BASE[:, 0]), (ValueError, "Expected 2D array, got 1D")),
    "masked": (lambda: np.ma.masked_array(_BASE.copy(), mask=_BASE < 0),
               (TypeError, "MaskedArray")),
    "sparse_csr_centering": (lambda: sp.csr_matrix(_BASE),
                             (ValueError, "Cannot center sparse matrices")),
    "sparse_coo_centering": (lambda: sp.coo_array(_BASE),
                             (ValueError, "Cannot center sparse matrices")),
}

METHODS = ["fit", "partial_fit", "fit_transform", "transform", "inverse_transform",
           "report", "fit_weighted", "transform_copy_false", "inverse_copy_false"]


def fingerprint(X):
    if X is None or np.isscalar(X) and not isinstance(X, np.generic):
        return repr(X)
    if isinstance(X, pd.DataFrame):
        return [C.values_bytes(X[c]) for c in X.columns] + [repr(X.dtypes.tolist())]
    if isinstance(X, pd.Series):
        return C.values_bytes(X)
    if sp.issparse(X):
        return X.toarray().tobytes()
    if isinstance(X, np.ma.MaskedArray):
        return X.data.tobytes() + np.ma.getmaskarray(X).tobytes()
    if isinstance(X, (list, tuple)):
        return repr(X)
    return np.array(X, copy=True).tobytes() + np.asarray(X).dtype.str.encode()


def reference_stats(A):
    """Plain NumPy: NaN-aware population mean/variance, StandardScaler's bound."""
    A = np.asarray(A, dtype=np.float64)
    n = (~np.isnan(A)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(A, axis=0) / n
        var = np.nansum((A - mean) ** 2, axis=0) / n
        mean = np.where(n > 0, mean, np.nan)
        var = np.where(n > 0, var, np.nan)
        eps = np.finfo(np.float64).eps
        const = var <= n * eps * var + (n * mean * eps) ** 2
        scale = np.where(const, 1.0, np.sqrt(var))
    return mean, var, scale


def as_float(X):
    if isinstance(X, pd.DataFrame):
        return X.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.array(X, dtype=np.float64, copy=True)


def _tol(X):
    dt = getattr(X, "dtype", None)
    if dt is not None and np.dtype(dt) == np.float16:
        return dict(rtol=3e-3, atol=3e-3)
    if dt is not None and np.dtype(dt) == np.float32:
        return dict(rtol=1e-5, atol=1e-5)
    if isinstance(X, pd.DataFrame) and (X.dtypes == np.float32).any():
        return dict(rtol=1e-5, atol=1e-5)
    return dict(rtol=1e-10, atol=1e-10)


def _course_layout_applies(name):
    X = INPUTS[name][0]()
    return isinstance(X, np.ndarray) and np.ndim(X) == 2 and \
        not isinstance(X, np.ma.MaskedArray)


# The course layout (sample_axis=1) is exercised on every 2-D NumPy input
# (passed as the transposed view of the same data).
CASES = [(name, method, axis) for name in INPUTS for method in METHODS
         for axis in (0, 1) if axis == 0 or _course_layout_applies(name)]


@pytest.mark.parametrize("name, method, axis", CASES)
def test_corpus(name, method, axis):
    factory, expect = INPUTS[name]
    X = factory()
    if axis == 1:
        X = X.T  # a view: the course layout of the same data
    before = fingerprint(X)
    norm = Normalizer(sample_axis=axis)
    if method in ("transform", "inverse_transform", "report", "transform_copy_false",
                  "inverse_copy_false"):
        d = D
        if isinstance(X, (np.ndarray, pd.DataFrame)) and np.ndim(X) == 2 or sp.issparse(X):
            d = X.shape[1 - axis]
        elif isinstance(X, (list, tuple)):
            d = len(X[0])
        train = _BASE[:, :max(d, 1)] if d <= D else np.zeros((N, d))
        norm.fit(train if axis == 0 else train.T)
        if isinstance(X, pd.DataFrame) and expect == OK:
            norm = Normalizer().fit(pd.DataFrame(train, columns=X.columns))
    writes = False
    if method == "fit_weighted":
        n = len(X) if isinstance(X, (list, tuple)) else (
            np.shape(X)[axis] if np.ndim(X) == 2 or sp.issparse(X) else 1)
        weights = np.ones(n)

        def call(X):
            return norm.fit(X, sample_weight=weights)
    elif method.endswith("copy_false"):
        inner = norm.transform if method.startswith("transform") else norm.inverse_transform
        writes = (isinstance(X, np.ndarray) and not isinstance(X, np.ma.MaskedArray)
                  and X.dtype.kind == "f" and X.dtype.itemsize <= 8
                  and X.flags.writeable and X.ndim == 2)

        def call(X):
            return inner(X, copy=False)
    else:
        call = getattr(norm, method)
    if expect != OK:
        exc, match = expect
        with pytest.raises(exc, match=match):
            call(X)
        assert fingerprint(X) == before
        return
    A = as_float(X)
    A = A if axis == 0 else A.T
    out = call(X)
    if writes:
        assert out is X  # copy=False on the caller's float array: written in place
    else:
        assert fingerprint(X) == before
    if method == "fit_weighted":
        method = "fit"
        assert isinstance(norm.n_samples_seen_, (float, np.ndarray))
    method = {"transform_copy_false": "transform",
              "inverse_copy_false": "inverse_transform"}.get(method, method)
    if method in ("fit", "partial_fit", "fit_transform"):
        mean, var, scale = reference_stats(A)
        np.testing.assert_allclose(norm.mean_, mean, rtol=1e-12, atol=1e-12, equal_nan=True)
        np.testing.assert_allclose(norm.var_, var, rtol=1e-9, atol=1e-12, equal_nan=True)
        np.testing.assert_allclose(norm.scale_, scale, rtol=1e-9, atol=1e-12,
                                   equal_nan=True)
    if method in ("fit_transform", "transform", "inverse_transform"):
        got = np.asarray(out, dtype=np.float64)
        got = got if axis == 0 else got.T
        if method == "inverse_transform":
            ref = A * norm.scale_ + norm.mean_
        else:
            ref = (A - norm.mean_) / norm.scale_
        np.testing.assert_allclose(got, ref, equal_nan=True, **_tol(X))
        in_dtype = np.asarray(X).dtype if isinstance(X, np.ndarray) else None
        if in_dtype is not None and in_dtype.kind == "f" and in_dtype.itemsize <= 8 \
                and not writes:
            assert np.asarray(out).dtype == in_dtype.newbyteorder("=")
        if isinstance(X, np.ndarray) and not writes:
            assert not np.shares_memory(np.asarray(out), np.asarray(X))
    if method == "report":
        mean, var, _ = reference_stats(A)
        np.testing.assert_allclose(out.test_mean, mean, rtol=1e-12, atol=1e-12,
                                   equal_nan=True)
