"""Issue 10, data safety: nothing a user hands the Normalizer is written unless
they asked for it (copy=False on their own float ndarray), and never on error.

Every test byte-compares each input before and after. References are plain
NumPy, written here.
"""
import fastgrad_tests_corpus as C  # tests/_corpus.py, registered by conftest.py
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastgrad import Normalizer
from fastgrad.normalize import normalizer as normalizer_module

pd = pytest.importorskip("pandas")


def snapshot(obj):
    """Bytes of an array-like's values, for before/after comparisons."""
    if isinstance(obj, pd.DataFrame):
        return [C.values_bytes(obj[c]) for c in obj.columns], list(obj.columns), \
            list(obj.index)
    return np.ascontiguousarray(np.asarray(obj)).tobytes()


def ref_stats(A):
    A = np.asarray(A, dtype=np.float64)
    mean = A.sum(axis=0) / A.shape[0]
    return mean, ((A - mean) ** 2).sum(axis=0) / A.shape[0]


@pytest.fixture
def rng():
    return np.random.default_rng(101)


# ---------------------------------------------------------------------------
# pandas DataFrames (pandas 3 installed: copy-on-write, read-only buffers)
# ---------------------------------------------------------------------------

class Pandas2Frame:
    """What a pandas 2 DataFrame looks like to NumPy: ``np.asarray(df)`` is a
    *writeable view* of the frame's memory, and there are named columns."""

    def __init__(self, values, columns):
        self._values = values
        self.columns = list(columns)
        self.index = list(range(values.shape[0]))
        self.shape = values.shape

    def __array__(self, dtype=None, copy=None):
        assert dtype is None or dtype == self._values.dtype
        return self._values  # the frame's own memory, writeable


def _frame_cases(rng):
    X = rng.standard_normal((300, 3)) * [1.0, 5.0, 0.1] + [2.0, -3.0, 1e4]
    df = pd.DataFrame(X.copy(), columns=["a", "b", "c"])
    mixed = pd.DataFrame({"a": X[:, 0].copy(), "b": (X[:, 1] * 10).astype(np.int64),
                          "c": X[:, 2].astype(np.float32)})
    f32 = pd.DataFrame(X.astype(np.float32), columns=["a", "b", "c"])
    return X, {"float64": df, "mixed": mixed, "float32": f32}


@pytest.mark.parametrize("kind", ["float64", "mixed", "float32"])
@pytest.mark.parametrize("copy", [True, False])
def test_dataframe_every_method_never_writes(rng, kind, copy):
    X, frames = _frame_cases(rng)
    df = frames[kind]
    before = snapshot(df)
    values = np.asarray(df, dtype=np.float64)
    mean, var = ref_stats(values)
    norm = Normalizer(copy=copy)
    norm.fit(df)
    assert_allclose(norm.mean_, mean, rtol=1e-12)
    assert_allclose(norm.var_, var, rtol=1e-10)
    assert list(norm.feature_names_in_) == ["a", "b", "c"]
    Z = norm.transform(df)
    # One ulp of a mean near 1e4 is 1.8e-12; divided by σ = 0.1 that is 1.8e-11 in Z,
    # whichever summation order (C or F layout: pandas 3 vs 2) rounded the mean.
    atol = 8 * np.finfo(np.float64).eps * float(np.max(np.abs(values) / np.sqrt(var)))
    tol = dict(rtol=1e-5, atol=1e-5) if kind == "float32" else dict(rtol=1e-10, atol=atol)
    assert_allclose(Z, (values - mean) / np.sqrt(var), **tol)
    norm.fit_transform(df)
    norm.partial_fit(df)
    norm.transform(df, copy=False)
    norm.inverse_transform(df)
    norm.inverse_transform(df, copy=False)
    norm.report(df)
    assert snapshot(df) == before


@pytest.mark.parametrize("copy", [True, False])
def test_pandas2_writeable_view_is_never_written(rng, copy):
    """pandas 2: np.asarray(df) is a writeable view of the frame. A result
    that 'is a new object' is not a reason to write to it."""
    X = rng.standard_normal((50, 3)) + 7.0
    backing = X.copy()
    frame = Pandas2Frame(backing, ["a", "b", "c"])
    before = backing.tobytes()
    norm = Normalizer(copy=copy).fit(frame)
    assert list(norm.feature_names_in_) == ["a", "b", "c"]
    Z = norm.transform(frame)
    assert not np.shares_memory(Z, backing)
    mean, var = ref_stats(X)
    assert_allclose(Z, (X - mean) / np.sqrt(var), rtol=1e-12, atol=1e-12)
    norm.fit_transform(frame)
    norm.inverse_transform(frame)
    norm.partial_fit(frame)
    assert backing.tobytes() == before


def test_pandas3_read_only_frame_works(rng):
    X = rng.standard_normal((40, 2))
    df = pd.DataFrame(X.copy(), columns=["x", "y"])
    arr = np.asarray(df)
    if arr.flags.writeable:  # pragma: no cover - pandas 2 installed
        pytest.skip("pandas without copy-on-write read-only views")
    before = snapshot(df)
    norm = Normalizer()
    out = norm.fit_transform(df)
    assert out.flags.writeable
    back = norm.inverse_transform(out)
    assert_allclose(back, X, rtol=1e-12, atol=1e-12)
    assert snapshot(df) == before


def test_set_output_pandas_and_feature_names(rng):
    X = rng.standard_normal((20, 3))
    df = pd.DataFrame(X.copy(), columns=["p", "q", "r"], index=np.arange(100, 120))
    before = snapshot(df)
    norm = Normalizer().set_output(transform="pandas")
    out = norm.fit_transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["p", "q", "r"]
    assert list(out.index) == list(range(100, 120))
    mean, var = ref_stats(X)
    assert_allclose(out.to_numpy(), (X - mean) / np.sqrt(var), rtol=1e-12, atol=1e-12)
    out2 = norm.transform(df)
    assert list(out2.index) == list(range(100, 120))
    assert list(norm.get_feature_names_out()) == ["p", "q", "r"]
    # An ndarray input: generic names, default index.
    plain = Normalizer().set_output(transform="pandas").fit(X)
    outp = plain.transform(X)
    assert list(outp.columns) == ["x0", "x1", "x2"]
    assert list(plain.get_feature_names_out()) == ["x0", "x1", "x2"]
    # Back to arrays.
    assert isinstance(norm.set_output(transform="default").transform(df), np.ndarray)
    with pytest.raises(ValueError, match="transform must be 'default', 'pandas'"):
        norm.set_output(transform="polars!")
    assert snapshot(df) == before


def test_set_output_in_a_pipeline(rng):
    from sklearn.pipeline import make_pipeline

    X = rng.standard_normal((30, 2))
    df = pd.DataFrame(X, columns=["u", "v"])
    pipe = make_pipeline(Normalizer()).set_output(transform="pandas")
    out = pipe.fit_transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["u", "v"]


def test_nullable_pandas_columns_are_missing_values():
    df = pd.DataFrame({"a": pd.array([1, None, 3, 5], dtype="Int64"),
                       "b": pd.array([0.5, 1.5, None, 2.5], dtype="Float64")})
    before = snapshot(df)
    norm = Normalizer().fit(df)
    assert_allclose(norm.mean_, [3.0, 1.5])
    assert_array_equal(norm.n_samples_seen_, [3, 3]) if np.ndim(norm.n_samples_seen_) \
        else None
    Z = norm.transform(df)
    assert np.isnan(Z[1, 0]) and np.isnan(Z[2, 1])
    assert snapshot(df) == before


# ---------------------------------------------------------------------------
# Strides that are not a multiple of the item size (record-array fields)
# ---------------------------------------------------------------------------

def _record(n, dtype="f8"):
    # Item size 12 (f8 + i4) or 6 (f4 + i2): not a multiple of the field's.
    rec = np.zeros(n, dtype=[("a", dtype), ("b", "i4" if dtype == "f8" else "i2")])
    rec["a"] = np.arange(n)
    rec["b"] = np.arange(n) * 3 + 1
    return rec


@pytest.mark.parametrize("dtype", ["f8", "f4"])
@pytest.mark.parametrize("shape", ["column", "row"])
def test_record_field_views_read_correctly(dtype, shape):
    rec = _record(300, dtype)
    view = rec["a"][:, None] if shape == "column" else rec["a"][None, :]
    axis = 0 if shape == "column" else 1
    before = rec.tobytes()
    norm = Normalizer(sample_axis=axis).fit(view)
    assert_allclose(norm.mean_, [149.5], rtol=1e-14)  # 0..299, was 37.87
    assert_allclose(norm.var_, [np.arange(300.0).var()], rtol=1e-12)
    Z = norm.transform(view)
    expect = (np.arange(300.0) - 149.5) / np.arange(300.0).std()
    assert_allclose(np.ravel(Z), expect, rtol=1e-6 if dtype == "f4" else 1e-12, atol=1e-6)
    assert rec.tobytes() == before


@pytest.mark.parametrize("dtype", ["f8", "f4"])
def test_record_field_copy_false_writes_only_its_field(dtype):
    """copy=False on a record field: the result goes into that field, and the
    neighbouring field keeps every byte (documented: copy=False writes into
    any writeable float ndarray, whatever its strides)."""
    rec = _record(300, dtype)
    b_before = rec["b"].copy()
    view = rec["a"][:, None]
    norm = Normalizer(copy=False).fit(view)
    out = norm.transform(view)
    assert out is view
    expect = (np.arange(300.0) - 149.5) / np.arange(300.0).std()
    assert_allclose(rec["a"], expect, rtol=1e-6 if dtype == "f4" else 1e-12, atol=1e-6)
    assert_array_equal(rec["b"], b_before)
    norm.inverse_transform(view)
    assert_allclose(rec["a"], np.arange(300.0), rtol=1e-6, atol=1e-4)
    assert_array_equal(rec["b"], b_before)


def test_kernel_view_copies_odd_strides_on_length_one_axes():
    from fastgrad.normalize.inputs import kernel_view

    rec = _record(10)
    for view in (rec["a"][:, None], rec["a"][None, :], rec["a"][:1, None]):
        K, _, copied = kernel_view(view)
        assert copied
        assert all(s % K.itemsize == 0 for s in K.strides)
    plain = np.zeros((5, 1))
    assert not kernel_view(plain)[2]
    assert not kernel_view(np.zeros((5, 4), order="F"))[2]


def test_misaligned_float_view(rng):
    buf = np.zeros(8 * 64 + 1, dtype=np.uint8)
    X = buf[1:].view(np.float64).reshape(16, 4)  # misaligned by one byte
    X[...] = rng.standard_normal((16, 4))
    before = buf.tobytes()
    norm = Normalizer().fit(X)
    mean, var = ref_stats(X)
    assert_allclose(norm.mean_, mean, rtol=1e-13, atol=1e-15)
    assert_allclose(norm.var_, var, rtol=1e-12)
    assert buf.tobytes() == before


# ---------------------------------------------------------------------------
# copy=False: check first, then write; on any error X is bit-identical
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, big", [(np.float64, 1e160), (np.float32, 1e10)])
@pytest.mark.parametrize("copy", [False, True])
@pytest.mark.parametrize("layout", ["C", "F", "course"])
def test_transform_overflow_leaves_input_bit_identical(dtype, big, copy, layout):
    train = np.array([[-1e-150, 0.0], [1e-150, 1.0]]) if dtype == np.float64 else \
        np.array([[-1e-30, 0.0], [1e-30, 1.0]])
    X = np.array([[1.0, 0.5], [np.nan, 0.25], [big, 0.0], [-2.0, 1.0]], dtype=dtype)
    axis = 0
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "course":
        X, train, axis = np.ascontiguousarray(X.T), train.T.copy(), 1
    norm = Normalizer(copy=copy, sample_axis=axis).fit(train)
    before = X.tobytes()
    with pytest.raises(ValueError) as info:
        norm.transform(X)
    msg = str(info.value)
    assert "transform of X overflows" in msg and "feature(s) 0" in msg
    assert "statistics" not in msg
    assert X.tobytes() == before


def test_inverse_transform_overflow_is_named(rng):
    norm = Normalizer().fit(np.array([[-1e150], [1e150]]))
    X = np.array([[0.0], [1e160]])
    before = X.tobytes()
    for copy in (True, False):
        with pytest.raises(ValueError, match="inverse transform of X overflows float64"):
            norm.inverse_transform(X, copy=copy)
        assert X.tobytes() == before


@pytest.mark.parametrize("copy", [False, True])
def test_infinity_refused_before_writing(copy):
    norm = Normalizer(copy=copy).fit(np.arange(12.0).reshape(6, 2))
    X = np.array([[1.0, 2.0], [np.inf, 3.0], [4.0, np.nan]])
    before = X.tobytes()
    with pytest.raises(ValueError, match=r"infinity \(in feature\(s\) 0\)"):
        norm.transform(X)
    assert X.tobytes() == before


def test_float16_copy_false_overflow_untouched():
    norm = Normalizer().fit(np.array([[-1e-6], [1e-6]]))
    X = np.array([[1.0], [2.0]], dtype=np.float16)
    before = X.tobytes()
    with pytest.raises(ValueError, match="overflows float16"):
        norm.transform(X, copy=False)
    assert X.tobytes() == before


def test_copy_false_with_nan_keeps_nan_and_writes(rng):
    X = rng.standard_normal((40, 3))
    X[5, 1] = np.nan
    norm = Normalizer(copy=False).fit(X)
    work = X.copy()
    out = norm.transform(work)
    assert out is work
    mean = np.nanmean(X, axis=0)
    std = np.nanstd(X, axis=0)
    assert_allclose(work, (X - mean) / std, rtol=1e-12, atol=1e-12)
    assert np.isnan(work[5, 1])


# ---------------------------------------------------------------------------
# n_threads argument checks
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", [True, False, np.True_, "2", 1.5, 2.0, [2]])
def test_n_threads_type_refused(value):
    X = np.arange(6.0).reshape(3, 2)
    before = X.tobytes()
    with pytest.raises(TypeError, match="n_threads"):
        Normalizer(n_threads=value).fit(X)
    assert X.tobytes() == before


@pytest.mark.parametrize("value", [4000, 2**31, 2**63])
def test_huge_n_threads_capped(value, rng):
    X = rng.standard_normal((600, 3))
    ref = Normalizer(n_threads=1).fit(X)
    big = Normalizer(n_threads=value).fit(X)
    assert_array_equal(big.mean_, ref.mean_)
    assert_array_equal(big.var_, ref.var_)
    assert_array_equal(big.transform(X), ref.transform(X))
    assert big.check_params() <= normalizer_module._MAX_THREADS


@pytest.mark.parametrize("value", [0, -2])
def test_bad_n_threads_values(value):
    with pytest.raises(ValueError, match="n_threads"):
        Normalizer(n_threads=value).fit(np.ones((3, 2)))


def test_copy_argument_checked():
    norm = Normalizer().fit(np.arange(6.0).reshape(3, 2))
    with pytest.raises(TypeError, match="copy must be a bool"):
        norm.transform(np.ones((2, 2)), copy="no")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("transposed", [False, True])
def test_minmax_kernel_against_numpy(rng, dtype, transposed):
    from fastgrad.normalize import _normalizer_kernel as _normalizer

    X = rng.standard_normal((3 * 8192 + 17, 6)).astype(dtype)
    X[rng.random(X.shape) < 0.01] = np.nan
    X[:, 2] = np.nan
    X[100, 3] = np.inf
    X[7, 4] = -np.inf
    before = X.tobytes()
    K = np.ascontiguousarray(X.T) if transposed else X
    for n_threads in (1, 2, 3):
        lo, hi = np.empty(6), np.empty(6)
        _normalizer.minmax(K, transposed, lo, hi, n_threads)
        with np.errstate(invalid="ignore"):
            ref_lo = np.array([np.nan if np.isnan(c).all() else np.nanmin(c) for c in X.T])
            ref_hi = np.array([np.nan if np.isnan(c).all() else np.nanmax(c) for c in X.T])
        assert_array_equal(lo, ref_lo.astype(np.float64))
        assert_array_equal(hi, ref_hi.astype(np.float64))
    assert X.tobytes() == before
