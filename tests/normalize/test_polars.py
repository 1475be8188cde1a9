"""polars DataFrames in and out of the Normalizer, as scikit-learn (>= 1.4)
users pass and ask for them: ``set_output(transform="polars")``, the global
``set_config(transform_output="polars")``, a Pipeline's ``set_output``, and
polars columns a float64 array cannot hold faithfully (dates, durations,
lists, a LazyFrame). References are plain NumPy written here."""

import datetime as dt
import importlib.util

import numpy as np
import pandas as pd
import polars as pl
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastgrad_tests_corpus as C
from fastgrad import Normalizer

RNG = np.random.default_rng(3)
VALUES = RNG.standard_normal((30, 3)) * [1.0, 5.0, 0.01] + [2.0, -7.0, 40.0]
COLS = ["age", "height", "weight"]


def frame(values=VALUES, schema=COLS):
    return pl.DataFrame(values, schema=schema, orient="row")


def standardized(train, X=None):
    """(X − nanmean(train)) / nanstd(train), population std, 1 for constant."""
    train = np.asarray(train, dtype=float)
    X = train if X is None else np.asarray(X, dtype=float)
    std = np.nanstd(train, axis=0)
    return (X - np.nanmean(train, axis=0)) / np.where(std == 0, 1.0, std)


def test_polars_output_is_a_polars_frame_with_the_feature_names():
    X = frame()
    before = C.snapshot(X)
    out = Normalizer().set_output(transform="polars").fit_transform(X)
    assert isinstance(out, pl.DataFrame)
    assert out.columns == COLS
    assert out.dtypes == [pl.Float64] * 3
    np.testing.assert_allclose(out.to_numpy(), standardized(VALUES), rtol=1e-13, atol=1e-13)
    C.assert_unchanged(before, C.snapshot(X), "X")


def test_polars_output_of_transform_and_of_other_containers():
    norm = Normalizer().set_output(transform="polars").fit(frame())
    test = VALUES[:7] * 1.5 + 0.25
    for X in (frame(test), pd.DataFrame(test, columns=COLS)):
        out = norm.transform(X)
        assert isinstance(out, pl.DataFrame) and out.columns == COLS
        np.testing.assert_allclose(out.to_numpy(), standardized(VALUES, test), rtol=1e-12)
    out = Normalizer().set_output(transform="polars").fit_transform(VALUES)  # no names
    assert out.columns == ["x0", "x1", "x2"]
    # inverse_transform is not wrapped, as in scikit-learn
    assert isinstance(norm.inverse_transform(norm.transform(frame(test))), np.ndarray)


def test_polars_output_keeps_float32_and_missing_values():
    X = pl.DataFrame({"a": [1.0, 2.0, None, 4.0], "b": [1.0, float("nan"), 3.0, 5.0]},
                     schema={"a": pl.Float32, "b": pl.Float32})
    out = Normalizer().set_output(transform="polars").fit_transform(X)
    assert out.dtypes == [pl.Float32, pl.Float32]
    ref = np.array([[1.0, 2.0, np.nan, 4.0], [1.0, np.nan, 3.0, 5.0]]).T
    got = out.to_numpy().astype(float)
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, standardized(ref), rtol=2e-6, atol=2e-6)


def test_global_config_and_pipeline_ask_for_polars():
    with sklearn.config_context(transform_output="polars"):
        out = Normalizer().fit_transform(frame())
        assert isinstance(out, pl.DataFrame)
        # an explicit set_output wins over the global configuration
        assert isinstance(Normalizer().set_output(transform="default").fit_transform(frame()),
                          np.ndarray)
    pipe = make_pipeline(Normalizer(), StandardScaler()).set_output(transform="polars")
    out = pipe.fit_transform(frame())
    # Before scikit-learn 1.9 its StandardScaler reads a polars frame's column
    # names through the dataframe interchange protocol, which polars 2 dropped.
    sk_reads_names = hasattr(StandardScaler().fit(frame()), "feature_names_in_")
    names = COLS if sk_reads_names else [f"x{i}" for i in range(len(COLS))]
    assert isinstance(out, pl.DataFrame) and out.columns == names
    np.testing.assert_allclose(out.to_numpy(), standardized(VALUES), rtol=1e-12, atol=1e-12)
    assert clone(Normalizer().set_output(transform="polars")).output_kind() == "polars"


def test_polars_output_refuses_what_it_cannot_hold_before_fitting():
    norm = Normalizer(with_mean=False).set_output(transform="polars")
    with pytest.raises(ValueError, match="Polars output does not support sparse"):
        norm.fit_transform(sp.random(10, 3, density=0.5, format="csr", random_state=0))
    assert not hasattr(norm, "n_samples_seen_")  # refused before the fit
    norm = Normalizer(sample_axis=1).set_output(transform="polars")
    with pytest.raises(ValueError, match="sample_axis=0"):
        norm.fit_transform(VALUES.T)
    assert not hasattr(norm, "n_samples_seen_")


def test_set_output_names_the_choices_and_needs_polars(monkeypatch):
    with pytest.raises(ValueError, match="'default', 'pandas', 'polars'"):
        Normalizer().set_output(transform="arrow")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "polars" else real(name, *a))
    with pytest.raises(ImportError, match="pip install polars"):
        Normalizer().set_output(transform="polars")


@pytest.mark.parametrize("column, kind", [
    (pl.Series("when", [dt.datetime(2024, 1, d) for d in range(1, 5)]), "date/time/duration"),
    (pl.Series("day", [dt.date(2024, 1, d) for d in range(1, 5)]), "date/time/duration"),
    (pl.Series("took", [dt.timedelta(seconds=s) for s in range(4)]), "date/time/duration"),
    (pl.Series("at", [dt.time(h) for h in range(4)]), "date/time/duration"),
    (pl.Series("vec", [[1.0], [2.0], [3.0], [4.0]]), "non-numeric"),
    (pl.Series("raw", [b"a", b"b", b"c", b"d"]), "non-numeric"),
])
def test_polars_columns_a_float_cannot_stand_for_are_refused(column, kind):
    X = pl.DataFrame([pl.Series("x", [1.0, 2.0, 3.0, 5.0]), column])
    before = C.snapshot(X)
    with pytest.raises(TypeError, match=kind) as info:
        Normalizer().fit(X)
    assert repr(column.name) in str(info.value)
    C.assert_unchanged(before, C.snapshot(X), "X")


def test_polars_numbers_booleans_decimals_and_numeric_text_convert():
    X = pl.DataFrame({
        "i": pl.Series([1, 2, None, 4], dtype=pl.Int32),
        "b": [True, False, True, True],
        "d": pl.Series([1.5, 2.5, 3.5, 5.5], dtype=pl.Decimal(10, 2)),
        "s": ["1", "2", "3", "5"],
    })
    ref = np.array([[1, 2, np.nan, 4], [1, 0, 1, 1], [1.5, 2.5, 3.5, 5.5], [1, 2, 3, 5]],
                   dtype=float).T
    norm = Normalizer().fit(X)
    assert list(norm.feature_names_in_) == ["i", "b", "d", "s"]
    np.testing.assert_allclose(norm.transform(X), standardized(ref), rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="could not be converted"):
        Normalizer().fit(pl.DataFrame({"s": ["one", "two"]}))


def test_a_lazyframe_is_refused_with_what_to_do():
    with pytest.raises(TypeError, match=r"LazyFrame.*X\.collect\(\)"):
        Normalizer().fit(frame().lazy())
    norm = Normalizer().fit(frame())
    with pytest.raises(TypeError, match=r"LazyFrame.*X\.collect\(\)"):
        norm.transform(frame().lazy())


def test_reordered_polars_columns_are_refused_as_pandas_ones():
    norm = Normalizer().fit(frame())
    with pytest.raises(ValueError, match="feature names"):
        norm.transform(frame().select(["weight", "age", "height"]))
