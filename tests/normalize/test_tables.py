"""Tables as users hand them to the Normalizer: non-numeric columns
(datetime, timedelta) refused, column names of mixed types, and
scikit-learn's feature-name warnings. The reference is scikit-learn's
StandardScaler, or plain NumPy written here; every frame is compared
before and after the call."""

import re
import warnings

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


# -- datetime / timedelta columns and arrays -----------------------------------------------

_DATES = pd.to_datetime(["2020-01-01", "2021-01-01", "2022-01-01"])


@pytest.mark.parametrize(
    "columns, bad",
    [
        ({"a": _DATES, "b": [1.0, 2.0, 3.0]}, "'a'"),
        ({"b": [1.0, 2.0, 3.0], "when": _DATES.tz_localize("UTC")}, "'when'"),
        ({"t": pd.to_timedelta([1, 2, 3], unit="s"), "b": [1.0, 2.0, 3.0]}, "'t'"),
        ({"a": _DATES, "t": pd.to_timedelta([1, 2, 3], unit="D")}, "'a'.*'t'"),
        # a categorical converts as its categories do (kind "O" otherwise)
        ({"c": pd.Categorical(_DATES), "b": [1.0, 2.0, 3.0]}, r"'c' \(category of datetime"),
    ],
    ids=["datetime", "datetime-tz", "timedelta", "both", "categorical-dates"],
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
    # the same ValueError, naming the column
    with pytest.raises(ValueError, match=r"^X column 's' \(string\) holds values that are not "):
        Normalizer().fit(df)


def test_a_text_column_beside_a_nullable_one_is_named_with_its_cause():
    df = pd.DataFrame({"n": pd.array([1, None], dtype="Int64"), "s": ["x", "y"]})
    with pytest.raises((TypeError, ValueError), match=r"^X column 's' .* not numbers") as info:
        Normalizer().fit(df)
    assert info.value.__cause__ is not None and info.value.__cause__ is not info.value


def test_categorical_durations_are_refused_and_numeric_categories_taken():
    td = pd.Categorical(pd.to_timedelta([1, 2, 4], unit="h"))
    with pytest.raises(TypeError, match=r"'d' \(category of timedelta"):
        Normalizer().fit(pd.DataFrame({"d": td, "b": [1.0, 2.0, 3.0]}))
    df = pd.DataFrame({"k": pd.Categorical([3, 1, 3]), "b": [1.0, 2.0, 4.0]})
    ref = StandardScaler().fit(df)
    norm = Normalizer().fit(df)
    assert_allclose(norm.mean_, ref.mean_, rtol=1e-14)
    assert_allclose(norm.var_, ref.var_, rtol=1e-14)


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


# -- column names of mixed types -----------------------------------------------------------


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


# -- feature-name consistency between fit and transform ------------------------------------


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
