"""Defects found by a new-user trial: non-numeric table columns, column names
of mixed types, feature-name consistency warnings, the ``.npz`` suffix of
``save``, the report of a feature with no values, and the accuracy of
``var_`` at offsets near 1e9 σ. References are scikit-learn's StandardScaler,
plain NumPy, or exact rational arithmetic written here."""

import os
import re
import warnings
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastgrad import Normalizer

pd = pytest.importorskip("pandas")
sklearn_data = pytest.importorskip("sklearn.preprocessing")
StandardScaler = sklearn_data.StandardScaler


def _snapshot(df):
    """The frame's dtypes and a hash of every value (tz-aware columns give
    objects from to_numpy, so their bytes would be pointers)."""
    return [str(t) for t in df.dtypes], pd.util.hash_pandas_object(df).to_numpy().tobytes()


# ---------------------------------------------------------------------------
# 1. datetime / timedelta columns and arrays
# ---------------------------------------------------------------------------

_DATES = pd.to_datetime(["2020-01-01", "2021-01-01", "2022-01-01"])


@pytest.mark.parametrize(
    "columns, bad",
    [
        ({"a": _DATES, "b": [1.0, 2.0, 3.0]}, "'a'"),
        ({"b": [1.0, 2.0, 3.0], "when": _DATES.tz_localize("UTC")}, "'when'"),
        ({"t": pd.to_timedelta([1, 2, 3], unit="s"), "b": [1.0, 2.0, 3.0]}, "'t'"),
        ({"a": _DATES, "t": pd.to_timedelta([1, 2, 3], unit="D")}, "'a'.*'t'"),
    ],
    ids=["datetime", "datetime-tz", "timedelta", "both"],
)
def test_datetime_and_timedelta_columns_are_refused(columns, bad):
    df = pd.DataFrame(columns)
    before = _snapshot(df)
    with pytest.raises(TypeError):  # the reference refuses too
        StandardScaler().fit(df)
    with pytest.raises(TypeError, match=rf"X has datetime/timedelta column\(s\) {bad}"):
        Normalizer().fit(df)
    with pytest.raises(TypeError, match="datetime/timedelta"):
        Normalizer().partial_fit(df)
    assert _snapshot(df) == before
    # After a numeric fit, transform refuses the same table.
    norm = Normalizer().fit(np.arange(6.0).reshape(3, 2))
    with pytest.raises(TypeError, match=bad), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        norm.transform(df)
    assert _snapshot(df) == before


def test_pyarrow_timestamp_column_is_refused():
    pa = pytest.importorskip("pyarrow")
    df = pd.DataFrame(
        {"ts": pd.array(_DATES, dtype=pd.ArrowDtype(pa.timestamp("ns"))), "b": [1.0, 2.0, 3.0]}
    )
    with pytest.raises(TypeError, match=r"column\(s\) 'ts'"):
        Normalizer().fit(df)


@pytest.mark.parametrize("dtype", ["datetime64[D]", "datetime64[ns]", "timedelta64[s]"])
def test_datetime_and_timedelta_arrays_are_refused(dtype):
    X = np.arange(6).reshape(3, 2).astype(dtype)
    before = X.tobytes()
    with pytest.raises(TypeError, match=re.escape(f"X has non-numeric dtype {dtype}") + ".*time unit"):
        Normalizer().fit(X)
    assert X.tobytes() == before


def test_text_columns_give_scikit_learns_value_error():
    df = pd.DataFrame({"b": [1.0, 2.0], "s": pd.array(["x", "y"], dtype="string")})
    with pytest.raises(ValueError):
        StandardScaler().fit(df)
    with pytest.raises(ValueError, match="could not be converted"):
        Normalizer().fit(df)


def test_numeric_tables_are_still_accepted():
    pa = pytest.importorskip("pyarrow")
    values = np.array([[1.0, 0.0, 3.0], [4.0, 1.0, 5.0], [7.0, 1.0, 11.0]])
    df = pd.DataFrame(
        {
            "i": pd.array([1, 4, 7], dtype="Int64"),
            "bool": pd.array([False, True, True], dtype="boolean"),
            "f": pd.array([3.0, 5.0, 11.0], dtype="Float64"),
            "pa_i": pd.array([1, 4, 7], dtype=pd.ArrowDtype(pa.int64())),
            "pa_f": pd.array([3.0, 5.0, 11.0], dtype=pd.ArrowDtype(pa.float64())),
            "u8": np.array([1, 4, 7], dtype=np.uint8),
            "obj": np.array([1.0, 4.0, 7.0], dtype=object),
        }
    )
    ref = np.column_stack([values, values[:, 0], values[:, 2], values[:, 0], values[:, 0]])
    norm = Normalizer().fit(df)
    assert_allclose(norm.mean_, ref.mean(axis=0), rtol=1e-14)
    assert_allclose(norm.var_, ref.var(axis=0), rtol=1e-14)


# ---------------------------------------------------------------------------
# 2. column names of mixed types
# ---------------------------------------------------------------------------


def test_mixed_type_column_names_raise_like_scikit_learn():
    df = pd.DataFrame({0: [1.0, 2.0, 3.0], "b": [1.0, 2.0, 3.0]})
    with pytest.raises(TypeError, match="only supported if all input features have string"):
        StandardScaler().fit(df)
    for method in ("fit", "partial_fit", "fit_transform"):
        with pytest.raises(TypeError, match=r"\['int', 'str'\].*astype\(str\)"):
            getattr(Normalizer(), method)(df)
    # At transform time too (fitted on an array).
    norm = Normalizer().fit(df.to_numpy())
    with pytest.raises(TypeError, match="string names"):
        norm.transform(df)


def test_non_string_column_names_are_not_feature_names():
    df = pd.DataFrame({0: [1.0, 2.0, 3.0], 1: [1.0, 5.0, 3.0]})
    ref = StandardScaler().fit(df)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        norm = Normalizer().fit(df)
        norm.transform(df.to_numpy())
    assert not hasattr(ref, "feature_names_in_")
    assert not hasattr(norm, "feature_names_in_")
    assert_allclose(norm.var_, ref.var_, rtol=1e-14)


# ---------------------------------------------------------------------------
# 3. feature-name consistency between fit and transform
# ---------------------------------------------------------------------------


def _warnings_of(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def test_feature_name_warnings_match_scikit_learn():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    for fit_on, apply_to in ((df, X), (X, df)):
        ref = StandardScaler().fit(fit_on)
        norm = Normalizer().fit(fit_on)
        expected = [m.replace("StandardScaler", "Normalizer") for m in _warnings_of(
            lambda ref=ref: ref.transform(apply_to))]
        assert len(expected) == 1
        assert _warnings_of(lambda norm=norm: norm.transform(apply_to)) == expected
        assert _warnings_of(lambda norm=norm: norm.partial_fit(apply_to)) == expected
        assert _warnings_of(lambda norm=norm: norm.report(apply_to)) == expected
        # scikit-learn's inverse_transform does not check names.
        assert _warnings_of(lambda ref=ref: ref.inverse_transform(apply_to)) == []
        assert _warnings_of(lambda norm=norm: norm.inverse_transform(apply_to)) == []
    # Consistent inputs: no warning.
    assert _warnings_of(lambda: Normalizer().fit(df).transform(df)) == []
    assert _warnings_of(lambda: Normalizer().fit(X).transform(X)) == []


@pytest.mark.parametrize("columns", [["a", "c", "b"], ["a", "b", "z"]])
def test_reordered_or_renamed_columns_raise(columns):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 3))
    norm = Normalizer().fit(pd.DataFrame(X, columns=["a", "b", "c"]))
    with pytest.raises(ValueError, match="feature names"):
        StandardScaler().fit(pd.DataFrame(X, columns=["a", "b", "c"])).transform(
            pd.DataFrame(X, columns=columns))
    with pytest.raises(ValueError, match="feature names"):
        norm.transform(pd.DataFrame(X, columns=columns))


# ---------------------------------------------------------------------------
# 4. save appends .npz like np.savez
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["str", "path", "bytes"])
@pytest.mark.parametrize("name, written", [("norm2", "norm2.npz"), ("norm2.npz", "norm2.npz"),
                                           ("norm.v1", "norm.v1.npz")])
def test_save_appends_npz_like_np_savez(tmp_path, kind, name, written):
    # The reference: where np.savez puts a file of that name.
    np.savez(tmp_path / f"ref_{name}", a=np.zeros(1))
    assert (tmp_path / f"ref_{written}").exists()
    X = np.random.default_rng(2).standard_normal((30, 2))
    norm = Normalizer().fit(X)
    target = {"str": str(tmp_path / name), "path": tmp_path / name,
              "bytes": os.fsencode(tmp_path / name)}[kind]
    out = norm.save(target)
    assert os.fsdecode(out) == str(tmp_path / written)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("ref_")) == [written]
    loaded = Normalizer.load(tmp_path / written)
    assert np.array_equal(loaded.var_, norm.var_) and np.array_equal(loaded.mean_, norm.mean_)


def test_load_of_the_name_without_suffix_points_to_the_file(tmp_path):
    Normalizer().fit(np.arange(6.0).reshape(3, 2)).save(tmp_path / "norm2")
    with pytest.raises(FileNotFoundError, match=r"did you mean .*norm2\.npz"):
        Normalizer.load(tmp_path / "norm2")


# ---------------------------------------------------------------------------
# 5. report of a set where a feature has no values
# ---------------------------------------------------------------------------


def test_report_names_a_feature_with_no_values():
    rng = np.random.default_rng(3)
    train = rng.standard_normal((200, 3))
    test = rng.standard_normal((50, 3))
    test[:, 1] = np.nan
    before = test.tobytes()
    rep = Normalizer().fit(pd.DataFrame(train, columns=["p", "q", "r"])).report(
        pd.DataFrame(test, columns=["p", "q", "r"]))
    assert test.tobytes() == before
    assert rep.empty.tolist() == [False, True, False]
    assert rep.flagged[1] and not rep.ok
    assert rep.n_valid.tolist() == [50, 0, 50]
    text = str(rep)
    assert "nan" not in text.lower()
    assert "1 feature(s) have no values in X (every entry missing): q." in text
    row = next(line for line in text.splitlines() if line.startswith("| q "))
    assert "FLAG" in row and "no values in X" in row
    # The other features' numbers are plain NumPy statistics of the set.
    assert_allclose(rep.test_mean[[0, 2]], test[:, [0, 2]].mean(axis=0), rtol=1e-12)


# ---------------------------------------------------------------------------
# 6. accuracy of var_ over a sweep of offsets, against an exact reference
# ---------------------------------------------------------------------------

# Documented in Normalizer's Notes (relative error of var_, measured against
# an exact reference): on the kernel's path (unweighted, no NaN) up to 3.1e-15
# outside offsets of about 5e8..2.2e9 sigma; inside that band float64 data
# are quantized at ulp(offset) ~ 1e-7 sigma and the rounding of each chunk's
# running sum of squares is biased (squares of integers are 0 or 1 mod 4):
# up to 3.1e-14 for one chunk of 256 rows, 1.8e-14 at 1,000 rows, 5.2e-15 at
# 100,000 rows. With weights or NaN up to 1.6e-15. The old Notes said below
# 2e-15 for offsets 1e8..1e14, which the band cases here refute (the trial's
# 2e9 case: 9.5e-15). The bounds below leave a small margin over those
# measurements.
VAR_RTOL = 4e-14
VAR_RTOL_OUTSIDE_BAND = 5e-15
VAR_RTOL_MASKED = 2e-15
BAND = (5e8, 2.2e9)


def _exact_var(col):
    """Population variance of float64 values, exactly: every float64 is an
    integer over a power of two, so it is a ratio of Python integers."""
    ratios = [float(v).as_integer_ratio() for v in col]
    den = max(d for _, d in ratios)
    ints = [n * (den // d) for n, d in ratios]
    n, s, q = len(ints), sum(ints), sum(v * v for v in ints)
    return Fraction(n * q - s * s, n * n * den * den)


OFFSETS = [10.0**k for k in range(15)] + [2.5e8, 3e8, 4e8, 6e8, 8e8, 1.2e9, 1.6e9, 2e9, 2.1e9,
                                          4e9, 1.5e11]


def _exact_var_weighted(col, w):
    keep = ~np.isnan(col)
    col, w = col[keep], w[keep]
    xr = [float(v).as_integer_ratio() for v in col]
    wr = [float(v).as_integer_ratio() for v in w]
    dx, dw = max(d for _, d in xr), max(d for _, d in wr)
    xi = [n * (dx // d) for n, d in xr]
    wi = [n * (dw // d) for n, d in wr]
    W = sum(wi)
    S = sum(a * b for a, b in zip(wi, xi))
    Q = sum(a * b * b for a, b in zip(wi, xi))
    return Fraction(W * Q - S * S, W * W * dx * dx)


def _rel(got, ref):
    return abs(float((Fraction(float(got)) - ref) / ref))


@pytest.mark.parametrize("offset", OFFSETS)
def test_var_relative_error_over_offsets(offset):
    seeds = 30
    rng = np.random.default_rng(int(offset) % 2**32)
    X = rng.standard_normal((1000, seeds)) + offset  # one seed per column
    var = Normalizer().fit(X).var_
    err = max(_rel(var[j], _exact_var(X[:, j])) for j in range(seeds))
    bound = VAR_RTOL if BAND[0] <= offset <= BAND[1] else VAR_RTOL_OUTSIDE_BAND
    assert err <= bound, (offset, err)


@pytest.mark.parametrize("mode", ["nan", "weights"])
@pytest.mark.parametrize("offset", [1.0, 1e4, 1e8, 6e8, 1.5e9, 2e9, 1e11, 1e12, 1e14])
def test_var_relative_error_with_nan_or_weights(offset, mode):
    seeds = 12
    rng = np.random.default_rng(int(offset) % 2**32 + 1)
    X = rng.standard_normal((1000, seeds)) + offset
    w = np.ones(1000)
    if mode == "nan":
        X[rng.random(X.shape) < 0.1] = np.nan
        var = Normalizer().fit(X).var_
    else:
        w = rng.uniform(0.5, 2.0, 1000)
        var = Normalizer().fit(X, sample_weight=w).var_
    err = max(_rel(var[j], _exact_var_weighted(X[:, j], w)) for j in range(seeds))
    assert err <= VAR_RTOL_MASKED, (offset, err)


def test_var_of_the_trial_case():
    x = np.random.default_rng(2).standard_normal(1000) + 2e9
    got = Normalizer().fit(x[:, None]).var_[0]
    assert _rel(got, _exact_var(x)) <= VAR_RTOL
    # Fortran order (the other kernel) gives the same bits.
    assert Normalizer().fit(np.asfortranarray(np.column_stack([x, x]))).var_[1] == got
