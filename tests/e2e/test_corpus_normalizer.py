"""Bad-input corpus: fastgrad.Normalizer against scikit-learn's StandardScaler.

Each case gives one unusual or bad input and asserts a result equal to
StandardScaler's (to rounding) or a clear TypeError/ValueError naming the
argument; every input is byte-compared before and after the call.
"""
import fastgrad_tests_corpus as C  # tests/_corpus.py, registered by conftest.py

import numpy as np
import pandas as pd
import polars as pl
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import StandardScaler

from fastgrad import Normalizer

RNG = np.random.default_rng(10)
BASE = RNG.standard_normal((40, 3)) * [1.0, 10.0, 0.1] + [5.0, -3.0, 100.0]
SMALL_INT = RNG.integers(-50, 50, size=(40, 3))
COLS = ["age", "height", "weight"]


# -- the same data in every container and layout ----------------------------

def _variants():
    """name -> (builder returning the object handed in, float64 reference
    values, expected output dtype or None for 'float64')."""
    v = {}
    v["c_float64"] = (lambda: BASE.copy(), BASE, np.float64)
    v["fortran"] = (lambda: C.fortran(BASE), BASE, np.float64)
    v["strided"] = (lambda: C.strided(BASE), BASE, np.float64)
    v["negative_strides"] = (lambda: C.reversed_rows(BASE), BASE, np.float64)
    v["transposed_view"] = (lambda: np.ascontiguousarray(BASE.T).T, BASE, np.float64)
    v["read_only"] = (lambda: C.read_only(BASE), BASE, np.float64)
    v["read_only_fortran"] = (lambda: C.read_only(C.fortran(BASE)), BASE, np.float64)
    v["big_endian"] = (lambda: C.big_endian(BASE), BASE, np.float64)
    v["float32"] = (lambda: BASE.astype(np.float32), BASE.astype(np.float32).astype(float),
                    np.float32)
    v["float16"] = (lambda: BASE.astype(np.float16), BASE.astype(np.float16).astype(float),
                    np.float16)
    v["int64"] = (lambda: SMALL_INT.copy(), SMALL_INT.astype(float), np.float64)
    v["int8"] = (lambda: SMALL_INT.astype(np.int8), SMALL_INT.astype(float), np.float64)
    v["uint8"] = (lambda: (SMALL_INT + 60).astype(np.uint8), (SMALL_INT + 60).astype(float),
                  np.float64)
    v["bool"] = (lambda: SMALL_INT > 0, (SMALL_INT > 0).astype(float), np.float64)
    v["object_floats"] = (lambda: BASE.astype(object), BASE, np.float64)
    v["list_of_lists"] = (lambda: BASE.tolist(), BASE, np.float64)
    v["single_row"] = (lambda: BASE[:1].copy(), BASE[:1], np.float64)
    v["single_column"] = (lambda: BASE[:, :1].copy(), BASE[:, :1], np.float64)
    v["record_field_column"] = (lambda: C.record_field_column(BASE[:, 0])[1],
                                BASE[:, :1], np.float64)
    v["record_field_row"] = (lambda: C.record_field_row(BASE[:, 0])[1], BASE[:, 0][None, :],
                             np.float64)
    v["chunked_300_rows"] = (lambda: np.tile(BASE, (8, 1)) + np.arange(320)[:, None] * 1e-3,
                             np.tile(BASE, (8, 1)) + np.arange(320)[:, None] * 1e-3, np.float64)
    v["dataframe"] = (lambda: pd.DataFrame(BASE.copy(), columns=COLS), BASE, np.float64)
    v["dataframe_mixed_dtypes"] = (
        lambda: pd.DataFrame({"a": SMALL_INT[:, 0], "b": BASE[:, 1], "c": SMALL_INT[:, 2] > 0}),
        np.column_stack([SMALL_INT[:, 0], BASE[:, 1], SMALL_INT[:, 2] > 0]).astype(float),
        np.float64)
    v["dataframe_float32"] = (lambda: pd.DataFrame(BASE.astype(np.float32), columns=COLS),
                              BASE.astype(np.float32).astype(float), np.float32)
    v["frame_writable_view_pandas2"] = (lambda: C.FrameLikeView(BASE.copy(), COLS), BASE,
                                        np.float64)
    v["dataframe_int_column_names"] = (lambda: pd.DataFrame(BASE.copy()), BASE, np.float64)
    v["dataframe_nullable_Float64"] = (lambda: pd.DataFrame(BASE.copy(), columns=COLS,
                                                            dtype="Float64"), BASE, np.float64)
    v["polars"] = (lambda: pl.DataFrame(BASE.copy(), schema=COLS, orient="row"), BASE,
                   np.float64)
    v["polars_float32"] = (
        lambda: pl.DataFrame(BASE.astype(np.float32), schema=COLS, orient="row"),
        BASE.astype(np.float32).astype(float), np.float32)
    v["polars_mixed_dtypes"] = (
        lambda: pl.DataFrame({"a": SMALL_INT[:, 0], "b": BASE[:, 1], "c": SMALL_INT[:, 2] > 0}),
        np.column_stack([SMALL_INT[:, 0], BASE[:, 1], SMALL_INT[:, 2] > 0]).astype(float),
        np.float64)
    v["broadcast_rows_stride_0"] = (
        lambda: np.broadcast_to(BASE[3], (40, 3)), np.tile(BASE[3], (40, 1)), np.float64)
    v["broadcast_columns_stride_0"] = (
        lambda: np.broadcast_to(BASE[:, :1], (40, 3)), np.repeat(BASE[:, :1], 3, axis=1),
        np.float64)
    return v


VARIANTS = _variants()
TOL = {np.float64: (1e-10, 1e-12), np.float32: (2e-5, 2e-5), np.float16: (4e-3, 4e-3)}


def _sk(ref, **params):
    return StandardScaler(**params).fit(np.array(ref, dtype=float))


def _check_stats(norm, sk, ref):
    rtol, atol = 1e-10, 1e-12
    np.testing.assert_allclose(norm.mean_, sk.mean_, rtol=rtol, atol=atol * np.abs(sk.mean_).max())
    np.testing.assert_allclose(norm.var_, sk.var_, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(norm.scale_, sk.scale_, rtol=1e-9)
    assert np.all(np.asarray(norm.n_samples_seen_) == np.asarray(sk.n_samples_seen_))
    assert norm.n_features_in_ == np.asarray(ref).shape[1]


def _check_array(out, expected, dtype):
    if isinstance(out, pd.DataFrame):
        out = out.to_numpy()
    assert isinstance(out, np.ndarray), f"expected an ndarray, got {type(out).__name__}"
    assert out.dtype == dtype, f"output dtype {out.dtype}, expected {np.dtype(dtype)}"
    assert out.shape == expected.shape
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(out.astype(float), expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_fit_variant_matches_standardscaler(name):
    build, ref, _ = VARIANTS[name]
    X = build()
    out = C.call_and_classify(Normalizer().fit, X)
    norm = C.expect_ok(out)
    _check_stats(norm, _sk(ref), ref)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_fit_transform_variant_matches_standardscaler(name):
    build, ref, dtype = VARIANTS[name]
    X = build()
    out = C.call_and_classify(Normalizer().fit_transform, X)
    expected = _sk(ref).transform(np.array(ref, dtype=float))
    C.expect_ok(out, lambda res: _check_array(res, expected, dtype))


@pytest.mark.parametrize("name", list(VARIANTS))
def test_transform_variant_matches_standardscaler(name):
    build, ref, dtype = VARIANTS[name]
    train = ref + 0.5 * np.cos(np.arange(ref.size)).reshape(ref.shape)
    norm = Normalizer().fit(train)
    sk = _sk(train)
    X = build()
    out = C.call_and_classify(norm.transform, X)
    C.expect_ok(out, lambda res: _check_array(res, sk.transform(ref), dtype))


@pytest.mark.parametrize("name", list(VARIANTS))
def test_inverse_transform_variant_matches_standardscaler(name):
    build, ref, dtype = VARIANTS[name]
    train = ref * 3.0 + 1.0 + np.sin(np.arange(ref.size)).reshape(ref.shape)
    norm = Normalizer().fit(train)
    sk = _sk(train)
    X = build()
    out = C.call_and_classify(norm.inverse_transform, X)
    C.expect_ok(out, lambda res: _check_array(res, sk.inverse_transform(ref), dtype))


@pytest.mark.parametrize("name", [n for n in VARIANTS if n not in ("single_row",
                                                                   "record_field_row")])
def test_partial_fit_in_two_chunks_matches_standardscaler(name):
    build, ref, _ = VARIANTS[name]
    X = build()
    arr = np.asarray(X) if not isinstance(X, pd.DataFrame) else X
    half = len(ref) // 2
    first = arr.iloc[:half] if isinstance(arr, pd.DataFrame) else arr[:half]
    second = arr.iloc[half:] if isinstance(arr, pd.DataFrame) else arr[half:]
    norm = Normalizer()
    C.expect_ok(C.call_and_classify(norm.partial_fit, first))
    C.expect_ok(C.call_and_classify(norm.partial_fit, second))
    _check_stats(norm, _sk(ref), ref)


# -- the course layout: samples are columns ------------------------------------

@pytest.mark.parametrize("name", ["c_float64", "fortran", "strided", "read_only", "float32",
                                  "int64", "record_field_row"])
def test_sample_axis_1_matches_standardscaler_on_the_transpose(name):
    build, ref, dtype = VARIANTS[name]
    Xt = build()
    Xt = np.asarray(Xt).T  # (n_features, n_samples): a view, any layout
    out = C.call_and_classify(Normalizer(sample_axis=1).fit_transform, Xt)
    expected = _sk(ref).transform(ref).T
    C.expect_ok(out, lambda res: _check_array(res, expected, dtype))


# -- pandas --------------------------------------------------------------------

def test_dataframe_copy_true_never_writes_and_keeps_feature_names():
    df = pd.DataFrame(BASE.copy(), columns=COLS)
    norm = Normalizer()
    C.expect_ok(C.call_and_classify(norm.fit, df))
    assert list(norm.feature_names_in_) == COLS
    res = C.expect_ok(C.call_and_classify(norm.transform, df))
    _check_array(res, _sk(BASE).transform(BASE), np.float64)
    assert list(norm.get_feature_names_out()) == COLS


def test_pandas2_writable_view_copy_true_is_not_written():
    buf = BASE.copy()
    frame = C.FrameLikeView(buf, COLS)
    norm = Normalizer().fit(BASE)
    res = C.expect_ok(C.call_and_classify(norm.transform, frame))
    assert not np.shares_memory(res, buf), "the result aliases the caller's frame"
    np.testing.assert_array_equal(buf, BASE)


def test_pandas2_writable_view_fit_transform_is_not_written():
    buf = BASE.copy()
    res = C.expect_ok(C.call_and_classify(Normalizer().fit_transform, C.FrameLikeView(buf, COLS)))
    assert not np.shares_memory(res, buf)
    _check_array(res, _sk(BASE).transform(BASE), np.float64)


def test_dataframe_with_other_column_names_is_refused():
    norm = Normalizer().fit(pd.DataFrame(BASE, columns=COLS))
    out = C.call_and_classify(norm.transform, pd.DataFrame(BASE, columns=["a", "b", "c"]))
    C.expect_error(out, "feature names", "X")


def test_set_output_pandas_returns_a_frame_like_standardscaler():
    df = pd.DataFrame(BASE.copy(), columns=COLS, index=np.arange(100, 140))
    sk = StandardScaler().set_output(transform="pandas").fit(df)
    norm = Normalizer()
    out = C.call_and_classify(lambda d: norm.set_output(transform="pandas").fit(d).transform(d),
                              df)

    def check(res):
        exp = sk.transform(df)
        assert isinstance(res, pd.DataFrame)
        assert list(res.columns) == COLS and list(res.index) == list(exp.index)
        np.testing.assert_allclose(res.to_numpy(), exp.to_numpy(), rtol=1e-10, atol=1e-12)
    C.expect_ok(out, check)


def test_set_output_bad_value_is_refused():
    out = C.call_and_classify(lambda: Normalizer().set_output(transform="excel"))
    C.expect_error(out, "transform")


# -- NaN as missing, inf refused ------------------------------------------------

def _with_nans():
    X = BASE.copy()
    X[[0, 5, 6], 0] = np.nan
    X[3, 2] = np.nan
    return X


@pytest.mark.parametrize("layout", ["c", "fortran", "dataframe", "float32"])
def test_nan_is_ignored_in_fit_and_kept_by_transform(layout):
    X = _with_nans()
    obj = {"c": X, "fortran": C.fortran(X), "dataframe": pd.DataFrame(X, columns=COLS),
           "float32": X.astype(np.float32)}[layout]
    ref = np.asarray(obj, dtype=float)
    sk = StandardScaler().fit(ref)
    norm = Normalizer()
    out = C.call_and_classify(norm.fit_transform, obj)
    assert out.ok, f"NaN must be treated as missing (as StandardScaler does): {out.exc!r}"
    res = np.asarray(out.value, dtype=float)
    np.testing.assert_array_equal(np.isnan(res), np.isnan(ref))
    tol = 1e-10 if layout != "float32" else 2e-5
    np.testing.assert_allclose(res, sk.transform(ref), rtol=tol, atol=tol)
    np.testing.assert_allclose(norm.mean_, sk.mean_, rtol=tol)
    np.testing.assert_allclose(norm.var_, sk.var_, rtol=max(tol, 1e-9))
    np.testing.assert_array_equal(np.asarray(norm.n_samples_seen_), sk.n_samples_seen_)


@pytest.mark.parametrize("method", ["fit", "partial_fit", "fit_transform", "transform",
                                    "inverse_transform", "report"])
@pytest.mark.parametrize("bad", [np.inf, -np.inf], ids=["inf", "-inf"])
def test_infinity_is_refused_naming_X(method, bad):
    X = BASE.copy()
    X[7, 1] = bad
    norm = Normalizer().fit(BASE)
    out = C.call_and_classify(getattr(norm, method), X)
    C.expect_error(out, "X", extra="inf")


# -- inputs that are not numeric 2-D data ----------------------------------------

def _bad_inputs():
    strs = np.array([["a", "b", "c"]] * 4)
    obj = BASE[:4].astype(object)
    obj[1, 1] = "x"
    return {
        "complex": BASE.astype(complex) + 1j,
        "str_array": strs,
        "object_with_str": obj,
        "none": None,
        "scalar": 3.0,
        "1d": BASE[:, 0].copy(),
        "3d": BASE.reshape(40, 3, 1),
        "empty_rows": np.zeros((0, 3)),
        "empty_features": np.zeros((4, 0)),
        "dict": {"a": [1.0, 2.0]},
        "ragged_list": [[1.0, 2.0, 3.0], [1.0, 2.0]],
        "datetime": np.array([["2020-01-01"] * 3] * 4, dtype="datetime64[D]"),
        "string": "1,2,3",
        "series": pd.Series(BASE[:, 0]),
        "dataframe_with_text_column": pd.DataFrame({"a": BASE[:, 0], "b": ["x"] * 40,
                                                    "c": BASE[:, 2]}),
        "dataframe_categorical": pd.DataFrame({"a": BASE[:, 0],
                                               "b": pd.Categorical(["u", "v"] * 20),
                                               "c": BASE[:, 2]}),
    }


BAD_X = _bad_inputs()


@pytest.mark.parametrize("method", ["fit", "partial_fit", "fit_transform", "transform",
                                    "inverse_transform", "report"])
@pytest.mark.parametrize("bad", list(BAD_X))
def test_non_numeric_or_misshaped_X_is_refused_naming_X(method, bad):
    norm = Normalizer().fit(BASE)
    out = C.call_and_classify(getattr(norm, method), BAD_X[bad])
    C.expect_error(out, "X")


@pytest.mark.parametrize("method", ["transform", "inverse_transform", "report", "partial_fit"])
@pytest.mark.parametrize("shape", [(40, 2), (40, 4), (3, 40)], ids=["fewer", "more", "transposed"])
def test_wrong_number_of_features_is_refused_naming_X(method, shape):
    norm = Normalizer().fit(BASE)
    out = C.call_and_classify(getattr(norm, method), np.ones(shape))
    C.expect_error(out, "X", extra="feature")


@pytest.mark.parametrize("method", ["transform", "inverse_transform", "report"])
def test_not_fitted_is_a_clear_error(method):
    out = C.call_and_classify(getattr(Normalizer(), method), BASE)
    C.expect_error(out, "fit")


# -- masked arrays: honour the mask (as missing) or refuse ---------------------

@pytest.mark.parametrize("method", ["fit", "fit_transform", "transform"])
def test_masked_array_mask_is_honoured_or_refused(method):
    data = BASE.copy()
    data[2, 0] = 1e6  # the masked value: must not leak into the statistics
    X = np.ma.masked_array(data, mask=np.zeros_like(data, dtype=bool))
    X.mask[2, 0] = True
    norm = Normalizer().fit(BASE) if method == "transform" else Normalizer()
    out = C.call_and_classify(getattr(norm, method), X)
    if out.ok:
        as_nan = data.copy()
        as_nan[2, 0] = np.nan
        if method == "fit":
            np.testing.assert_allclose(norm.mean_, StandardScaler().fit(as_nan).mean_, rtol=1e-10)
        else:
            res = np.ma.filled(np.ma.asarray(out.value).astype(float), np.nan)
            sk = StandardScaler().fit(BASE if method == "transform" else as_nan)
            exp = sk.transform(as_nan)
            assert np.isnan(res[2, 0]) or np.ma.is_masked(np.ma.asarray(out.value)[2, 0]), \
                "the masked entry was transformed as if it were data"
            keep = ~np.isnan(exp)
            np.testing.assert_allclose(res[keep], exp[keep], rtol=1e-10)
    else:
        C.assert_clear_error(out.exc, "X", "mask")


# -- scipy.sparse -----------------------------------------------------------------

SPARSE_DENSE = np.where(RNG.random((30, 4)) < 0.6, 0.0, RNG.standard_normal((30, 4)) * 3)


@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "csr_array", "csc_array"])
def test_sparse_with_mean_false_scales_like_standardscaler(fmt):
    X = getattr(sp, fmt)(SPARSE_DENSE)
    sk = StandardScaler(with_mean=False).fit(X)
    norm = Normalizer(with_mean=False)
    out = C.call_and_classify(norm.fit_transform, X)

    def check(res):
        assert sp.issparse(res), f"expected sparse output, got {type(res).__name__}"
        np.testing.assert_allclose(res.toarray(), sk.transform(X).toarray(), rtol=1e-10,
                                   atol=1e-12)
        np.testing.assert_allclose(norm.var_, sk.var_, rtol=1e-10)
        np.testing.assert_allclose(norm.scale_, sk.scale_, rtol=1e-10)
    C.expect_ok(out, check)


@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "coo_matrix"])
@pytest.mark.parametrize("method", ["fit", "fit_transform", "partial_fit"])
def test_sparse_with_centering_is_refused_naming_with_mean(fmt, method):
    X = getattr(sp, fmt)(SPARSE_DENSE)
    out = C.call_and_classify(getattr(Normalizer(), method), X)
    C.expect_error(out, "with_mean", types=(ValueError,))


# -- sample_weight ----------------------------------------------------------------

WEIGHTS = RNG.random(40) * 3


@pytest.mark.parametrize("kind", ["float64", "int", "list", "float32", "with_zeros",
                                  "read_only"])
@pytest.mark.parametrize("method", ["fit", "fit_transform", "partial_fit"])
def test_sample_weight_matches_standardscaler(kind, method):
    w = {"float64": WEIGHTS, "int": np.arange(40) % 4 + 1, "list": list(WEIGHTS),
         "float32": WEIGHTS.astype(np.float32),
         "with_zeros": np.where(np.arange(40) % 5 == 0, 0.0, WEIGHTS),
         "read_only": C.read_only(WEIGHTS)}[kind]
    sk = StandardScaler().fit(BASE, sample_weight=np.asarray(w, dtype=float))
    norm = Normalizer()
    out = C.call_and_classify(getattr(norm, method), BASE.copy(), sample_weight=w)

    def check(res):
        np.testing.assert_allclose(norm.mean_, sk.mean_, rtol=1e-9)
        np.testing.assert_allclose(norm.var_, sk.var_, rtol=1e-8)
        if method == "fit_transform":
            np.testing.assert_allclose(res, sk.transform(BASE), rtol=1e-8, atol=1e-10)
    C.expect_ok(out, check)


@pytest.mark.parametrize("bad", ["short", "long", "2d", "nan", "inf", "str", "complex", "none_in"])
@pytest.mark.parametrize("method", ["fit", "partial_fit", "fit_transform"])
def test_bad_sample_weight_is_refused_naming_it(bad, method):
    w = {"short": WEIGHTS[:-1], "long": np.ones(41), "2d": np.ones((40, 2)),
         "nan": np.where(np.arange(40) == 3, np.nan, 1.0),
         "inf": np.where(np.arange(40) == 3, np.inf, 1.0),
         "str": np.array(["1"] * 40), "complex": np.ones(40) + 1j,
         "none_in": [None] + [1.0] * 39}[bad]
    out = C.call_and_classify(getattr(Normalizer(), method), BASE.copy(), sample_weight=w)
    C.expect_error(out, "sample_weight")


# -- with_mean / with_std ---------------------------------------------------------

@pytest.mark.parametrize("with_mean,with_std", [(False, True), (True, False), (False, False)])
@pytest.mark.parametrize("name", ["c_float64", "fortran", "float32", "dataframe"])
def test_with_mean_with_std_match_standardscaler(with_mean, with_std, name):
    build, ref, dtype = VARIANTS[name]
    sk = StandardScaler(with_mean=with_mean, with_std=with_std).fit(ref)
    norm = Normalizer(with_mean=with_mean, with_std=with_std)
    out = C.call_and_classify(norm.fit_transform, build())
    C.expect_ok(out, lambda res: _check_array(res, sk.transform(ref), dtype))
    for attr in ("mean_", "var_", "scale_"):
        a, b = getattr(norm, attr), getattr(sk, attr)
        assert (a is None) == (b is None), f"{attr}: {a!r} vs StandardScaler's {b!r}"
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-9)


# -- constructor parameters -------------------------------------------------------

@pytest.mark.parametrize("param", ["with_mean", "with_std", "copy"])
@pytest.mark.parametrize("value", ["yes", 1, None, 0.0, "False"])
@pytest.mark.parametrize("method", ["fit", "fit_transform"])
def test_bool_parameters_refuse_non_bools(param, value, method):
    out = C.call_and_classify(getattr(Normalizer(**{param: value}), method), BASE)
    C.expect_error(out, param)


@pytest.mark.parametrize("value", [2, -1, "0", True, 1.0, None, [0]])
def test_sample_axis_refuses_other_values(value):
    out = C.call_and_classify(Normalizer(sample_axis=value).fit, BASE)
    C.expect_error(out, "sample_axis")


@pytest.mark.parametrize("value", [True, False, "2", 1.5, 0, -2, [2], np.float64(2.0), "all"])
@pytest.mark.parametrize("method", ["fit", "fit_transform"])
def test_n_threads_refuses_non_ints(value, method):
    out = C.call_and_classify(getattr(Normalizer(n_threads=value), method), BASE)
    C.expect_error(out, "n_threads")


@pytest.mark.parametrize("value", [2**31, 2**63 - 1, 10**30, np.int64(2), np.uint8(3), -1, None])
def test_n_threads_large_values_are_capped_not_overflowing(value):
    X = np.tile(BASE, (10, 1))
    norm = Normalizer(n_threads=value)
    out = C.call_and_classify(norm.fit_transform, X)
    C.expect_ok(out, lambda res: _check_array(res, _sk(X).transform(X), np.float64))


@pytest.mark.parametrize("value", ["no", 1, 0, "True"])
@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
def test_transform_copy_argument_refuses_non_bools(value, method):
    norm = Normalizer().fit(BASE)
    out = C.call_and_classify(getattr(norm, method), BASE.copy(), copy=value)
    C.expect_error(out, "copy")


# -- copy=False: in place when possible, never half-written -----------------------

@pytest.mark.parametrize("name", ["c_float64", "fortran", "strided", "float32",
                                  "record_field_column"])
@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
def test_copy_false_result_is_correct_and_only_the_input_itself_changes(name, method):
    build, ref, dtype = VARIANTS[name]
    norm = Normalizer().fit(ref * 2 + 1)
    sk = _sk(ref * 2 + 1)
    if name == "record_field_column":
        rec, X = C.record_field_column(ref[:, 0])
        neighbour = rec["b"].copy()
    else:
        X = build()
    before = np.array(X, copy=True)
    out = C.call_and_classify(getattr(norm, method), X, copy=False, _inplace=(0,))
    expected = getattr(sk, method)(ref)
    res = C.expect_ok(out, lambda r: _check_array(r, expected, dtype))
    now = np.asarray(X)
    assert np.array_equal(now, before) or np.array_equal(now, res), \
        "copy=False left the input neither unchanged nor equal to the result"
    if name == "record_field_column":
        np.testing.assert_array_equal(rec["b"], neighbour, err_msg="neighbouring field written")


@pytest.mark.parametrize("layout", ["c", "fortran", "strided"])
def test_copy_false_overflow_leaves_input_bit_identical(layout):
    norm = Normalizer().fit(np.array([[0.0, 0.0], [1e-10, 1.0], [2e-10, 2.0]]))
    X = np.array([[1e300, 1.0], [1.0, 1.0], [-1e300, 2.0], [3.0, 3.0]])
    X = {"c": X, "fortran": C.fortran(X), "strided": C.strided(X)}[layout]
    before = C.snapshot(X)
    out = C.call_and_classify(norm.transform, X, copy=False, _inplace=(0,))
    C.assert_unchanged(before, C.snapshot(X), "X (transform(copy=False) that overflows)")
    C.expect_error(out, "X")
    assert "overflow" in str(out.exc).lower() or "too large" in str(out.exc).lower()


def test_copy_true_overflow_blames_the_transform_not_the_statistics():
    norm = Normalizer().fit(np.array([[0.0], [1e-10], [2e-10]]))
    out = C.call_and_classify(norm.transform, np.array([[1e300], [1.0]]))
    C.expect_error(out, "X")
    assert "statistics" not in str(out.exc), f"blames the statistics: {out.exc}"


def test_record_field_column_mean_is_read_with_the_right_stride():
    rec, col = C.record_field_column(np.arange(300.0))
    norm = Normalizer()
    C.expect_ok(C.call_and_classify(norm.fit, col))
    np.testing.assert_allclose(norm.mean_, [149.5], rtol=1e-14)
    np.testing.assert_allclose(norm.var_, [np.var(np.arange(300.0))], rtol=1e-12)


# -- numbers: precision at large offsets, the near-constant bound -----------------

@pytest.mark.parametrize("offset,n", [(1e8, 2000), (1e10, 5000), (1e12, 100_000)])
def test_variance_at_large_offset_within_1e_12(offset, n):
    rng = np.random.default_rng(int(np.log10(offset)))
    X = (offset + rng.standard_normal((n, 1))).astype(np.float64)
    mean, var = C.ref_moments(X)
    norm = Normalizer()
    C.expect_ok(C.call_and_classify(norm.fit, X))
    rel = abs(norm.var_[0] - var[0]) / var[0]
    assert rel <= 1e-12, f"relative variance error {rel:.2e} at offset {offset:g}"


@pytest.mark.parametrize("spread", [0.5, 4.0, 32.0, 200.0, 4096.0, 1e5])
def test_near_constant_feature_decision_matches_standardscaler(spread):
    # spread (in units of mean*eps) between eps·mean and n·eps·mean: below
    # StandardScaler's bound (n·mean·eps)² the feature is constant (scale 1).
    n = 1024
    rng = np.random.default_rng(3)
    mean = 1.0
    X = mean + np.round(rng.standard_normal((n, 1)) * spread) * np.finfo(float).eps * mean
    X = np.hstack([X, rng.standard_normal((n, 1))])
    sk = StandardScaler().fit(X)
    norm = Normalizer()
    C.expect_ok(C.call_and_classify(norm.fit, X))
    assert (norm.scale_[0] == 1.0) == (sk.scale_[0] == 1.0), \
        f"constant decision differs: {norm.scale_[0]!r} vs StandardScaler {sk.scale_[0]!r}"
    np.testing.assert_allclose(norm.scale_, sk.scale_, rtol=1e-6)


# -- report() -----------------------------------------------------------------------

@pytest.mark.parametrize("arg,value", [
    ("max_rows", -1), ("max_rows", "3"), ("max_rows", True), ("max_rows", 2.5),
    ("max_rows", None), ("mean_tol", np.nan), ("mean_tol", "0.1"), ("mean_tol", -1.0),
    ("mean_tol", True), ("std_tol", 1.0), ("std_tol", np.nan), ("std_tol", "2"),
    ("std_tol", None),
])
def test_report_bad_options_are_refused_naming_them(arg, value):
    norm = Normalizer().fit(BASE)
    out = C.call_and_classify(norm.report, BASE + 1.0, **{arg: value})
    C.expect_error(out, arg)


@pytest.mark.parametrize("name", ["c_float64", "fortran", "dataframe", "float32", "read_only"])
def test_report_numbers_match_a_numpy_reference(name):
    build, ref, _ = VARIANTS[name]
    train = ref * 0.5 - 2.0
    norm = Normalizer().fit(train)
    rep = C.expect_ok(C.call_and_classify(norm.report, build()))
    mu, var = C.ref_moments(train)
    tmu, tvar = C.ref_moments(ref)
    np.testing.assert_allclose(rep.mean_shift, (tmu - mu) / np.sqrt(var), rtol=1e-5)
    np.testing.assert_allclose(rep.std_ratio, np.sqrt(tvar / var), rtol=1e-5)


@pytest.mark.parametrize("value", [["a", "b"], ["a", "b", "c", "d"], "abc", None])
def test_get_feature_names_out_bad_input_features(value):
    norm = Normalizer().fit(pd.DataFrame(BASE, columns=COLS))
    out = C.call_and_classify(norm.get_feature_names_out, value)
    if value is None:
        C.expect_ok(out, lambda r: list(r) == COLS or (_ for _ in ()).throw(AssertionError(r)))
    else:
        C.expect_error(out, "input_features")


# -- save / load --------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["str", "pathlib", "dataframe_fit"])
def test_save_load_round_trip_is_bitwise(tmp_path, kind):
    X = pd.DataFrame(BASE, columns=COLS) if kind == "dataframe_fit" else BASE
    norm = Normalizer().fit(X)
    path = tmp_path / "n.npz"
    C.expect_ok(C.call_and_classify(norm.save, str(path) if kind == "str" else path))
    back = C.expect_ok(C.call_and_classify(Normalizer.load, path))
    for attr in ("mean_", "var_", "scale_"):
        assert getattr(back, attr).tobytes() == getattr(norm, attr).tobytes()
    assert back.transform(BASE).tobytes() == norm.transform(BASE).tobytes()


@pytest.mark.parametrize("path", [None, 123, 1.5, b"\x00bad", ["a.npz"]], ids=repr)
def test_save_bad_path_is_refused_naming_path(tmp_path, path):
    norm = Normalizer().fit(BASE)
    out = C.call_and_classify(norm.save, path)
    C.expect_error(out, "path")


def _npz(tmp_path, **arrays):
    import io
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    p = tmp_path / "f.npz"
    p.write_bytes(buf.getvalue())
    return p


def _good_file(tmp_path, names=False):
    norm = Normalizer().fit(pd.DataFrame(BASE, columns=COLS) if names else BASE)
    p = tmp_path / "good.npz"
    norm.save(p)
    with np.load(p) as data:
        return {k: data[k] for k in data.files}


def _damaged(tmp_path, how):
    import json
    if how == "empty":
        p = tmp_path / "f.npz"
        p.write_bytes(b"")
        return p
    if how == "random_bytes":
        p = tmp_path / "f.npz"
        p.write_bytes(bytes(range(256)) * 4)
        return p
    if how == "single_npy":
        p = tmp_path / "f.npy"
        np.save(p, np.zeros(3))
        return p
    if how == "truncated_zip":
        good = _npz(tmp_path, **_good_file(tmp_path))
        data = good.read_bytes()
        good.write_bytes(data[: len(data) // 2])
        return good
    if how == "directory":
        d = tmp_path / "dir.npz"
        d.mkdir()
        return d
    arrays = _good_file(tmp_path, names=how == "names_wrong_length")
    meta = json.loads(str(arrays["meta"][()]))
    if how == "no_meta":
        del arrays["meta"]
    elif how == "negative_n_samples":
        meta["n_samples_seen_"] = -4
    elif how == "negative_var":
        arrays["var_"] = -np.abs(arrays["var_"])
    elif how == "nan_mean":
        arrays["mean_"] = np.full(3, np.nan)
    elif how == "mean_wrong_length":
        arrays["mean_"] = np.zeros(5)
    elif how == "names_wrong_length":
        arrays["feature_names_in_"] = np.array(["a", "b"])
    elif how == "scale_not_sqrt_var":
        arrays["scale_"] = arrays["scale_"] * 3
    elif how == "meta_not_json":
        arrays["meta"] = np.array("{not json")
    elif how == "meta_bad_param":
        meta["params"]["n_threads"] = "lots"
    elif how == "meta_wrong_version":
        meta["version"] = 99
    elif how == "n_features_mismatch":
        meta["n_features_in_"] = 7
    elif how == "object_array":
        import io
        buf = io.BytesIO()
        np.savez(buf, meta=np.array(json.dumps(meta)), mean_=np.array([1, "a", None], object))
        p = tmp_path / "f.npz"
        p.write_bytes(buf.getvalue())
        return p
    if how != "no_meta":
        arrays["meta"] = arrays.get("meta") if how == "meta_not_json" else np.array(json.dumps(meta))
    return _npz(tmp_path, **arrays)


DAMAGES = ["empty", "random_bytes", "single_npy", "truncated_zip", "no_meta",
           # (a float n_samples_seen_ is not damage: with sample_weight it is the sum of the
           # weights, as in scikit-learn)
           "negative_n_samples", "negative_var", "nan_mean",
           "mean_wrong_length", "names_wrong_length", "scale_not_sqrt_var", "meta_not_json",
           "meta_bad_param", "meta_wrong_version", "n_features_mismatch", "object_array"]


@pytest.mark.parametrize("how", DAMAGES)
def test_load_damaged_or_inconsistent_file_is_a_valueerror_naming_the_file(tmp_path, how):
    path = _damaged(tmp_path, how)
    out = C.call_and_classify(Normalizer.load, path)
    C.expect_error(out, str(path), types=(ValueError,))


@pytest.mark.parametrize("how", ["missing", "directory"])
def test_load_unreadable_path_names_the_path(tmp_path, how):
    path = tmp_path / "nothing.npz" if how == "missing" else _damaged(tmp_path, "directory")
    out = C.call_and_classify(Normalizer.load, path)
    C.expect_error(out, str(path), types=(ValueError, FileNotFoundError, IsADirectoryError))


@pytest.mark.parametrize("path", [None, 123, 1.5], ids=repr)
def test_load_bad_path_type_names_path(path):
    out = C.call_and_classify(Normalizer.load, path)
    C.expect_error(out, "path")


def test_load_forged_header_claiming_2_40_entries_is_refused_before_allocating(tmp_path):
    arrays = _good_file(tmp_path)
    p = _npz(tmp_path, **arrays)
    import zipfile
    forged = tmp_path / "forged.npz"
    with zipfile.ZipFile(p) as src, zipfile.ZipFile(forged, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "mean_.npy":
                data = data.replace(b"(3,)", b"(1099511627776,)".ljust(4))
                # keep the header length consistent: rewrite it properly
                header = ("{'descr': '<f8', 'fortran_order': False, 'shape': "
                          "(1099511627776,), }")
                header = header + " " * (118 - len(header)) + "\n"
                data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + \
                    header.encode() + b"\x00" * 24
            dst.writestr(info.filename, data)
    out = C.run_limited(f"""
        from fastgrad import Normalizer
        Normalizer.load({str(forged)!r})
    """, mem_bytes=1_500_000_000)
    assert out["kind"] == "error", f"a forged file was accepted or crashed: {out}"
    assert out["type"] == "ValueError", f"{out['type']}: {out['msg']}"
    assert str(forged) in out["msg"], out["msg"]


def test_n_threads_4000_under_a_memory_limit_does_not_kill_the_process():
    out = C.run_limited("""
        import numpy as np
        from fastgrad import Normalizer
        X = np.random.default_rng(0).standard_normal((1_000_000, 4))
        norm = Normalizer(n_threads=4000)
        Z = norm.fit_transform(X)
        RESULT = norm.mean_
        CHECK = bool(np.allclose(norm.mean_, X.mean(axis=0), rtol=1e-12, atol=1e-15)
                     and np.allclose(Z.mean(axis=0), 0.0, atol=1e-9))
    """, mem_bytes=1_500_000_000, timeout=60)
    C.expect_limited_ok_or_error(out, "n_threads")


def test_y_is_ignored_as_in_scikit_learn():
    norm = Normalizer()
    y = np.arange(40.0)
    C.expect_ok(C.call_and_classify(norm.fit, BASE, y))
    _check_stats(norm, _sk(BASE), BASE)
    res = C.expect_ok(C.call_and_classify(Normalizer().fit_transform, BASE, y))
    _check_array(res, _sk(BASE).transform(BASE), np.float64)


@pytest.mark.parametrize("layout", ["c", "dataframe"])
def test_nullable_frame_with_pd_NA_is_treated_as_missing(layout):
    df = pd.DataFrame(BASE.copy(), columns=COLS, dtype="Float64")
    df.iloc[4, 1] = pd.NA
    ref = BASE.copy()
    ref[4, 1] = np.nan
    sk = StandardScaler().fit(ref)
    norm = Normalizer()
    out = C.call_and_classify(norm.fit, df)
    assert out.ok, f"pd.NA must be treated as missing (as StandardScaler does): {out.exc!r}"
    np.testing.assert_allclose(norm.mean_, sk.mean_, rtol=1e-10)
    np.testing.assert_allclose(norm.var_, sk.var_, rtol=1e-9)


def test_transform_whose_output_cannot_fit_in_memory_raises_before_allocating():
    out = C.run_limited("""
        import numpy as np
        from fastgrad import Normalizer
        norm = Normalizer().fit(np.array([[0.0, 1.0], [2.0, 3.0]]))
        X = np.broadcast_to(np.array([1.0, 2.0]), (2**40, 2))  # 16 TiB, no memory of its own
        Z = norm.transform(X)
        RESULT = Z.shape
        CHECK = False
    """, mem_bytes=1_200_000_000, timeout=60)
    C.expect_limited_ok_or_error(out, "X")


@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
@pytest.mark.parametrize("copy", [True, False])
def test_nan_passes_through_transform_like_standardscaler(method, copy):
    X = _with_nans()
    norm = Normalizer().fit(BASE)
    sk = StandardScaler().fit(BASE)
    out = C.call_and_classify(getattr(norm, method), X, copy=copy, _inplace=() if copy else (0,))
    assert out.ok, f"NaN must pass through {method} (as StandardScaler): {out.exc!r}"
    exp = getattr(sk, method)(_with_nans())
    np.testing.assert_array_equal(np.isnan(out.value), np.isnan(exp))
    np.testing.assert_allclose(out.value, exp, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bad", ["inf", "wrong_features", "complex", "empty"])
def test_failed_partial_fit_leaves_the_state_unchanged(bad):
    norm = Normalizer().partial_fit(BASE[:20])
    before = {a: getattr(norm, a).tobytes() for a in ("mean_", "var_", "scale_")}
    n_before = norm.n_samples_seen_
    X = {"inf": np.where(np.eye(20, 3) > 0, np.inf, BASE[20:]), "wrong_features": BASE[20:, :2],
         "complex": BASE[20:] + 1j, "empty": BASE[:0]}[bad]
    C.expect_error(C.call_and_classify(norm.partial_fit, X), "X")
    assert {a: getattr(norm, a).tobytes() for a in before} == before
    assert norm.n_samples_seen_ == n_before


@pytest.mark.parametrize("params,name", [({"with_meen": True}, "with_meen"),
                                         ({"copy": "no"}, "copy"),
                                         ({"n_threads": "2"}, "n_threads")], ids=str)
def test_set_params_refuses_unknown_or_bad_values(params, name):
    norm = Normalizer()
    out = C.call_and_classify(lambda: norm.set_params(**params).fit(BASE))
    C.expect_error(out, name)
