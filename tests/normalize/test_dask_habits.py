"""Dask users' habits, from a port of dask-ml's StandardScaler tests:
filtered collections (empty and unknown-size chunks), lazy results built
in a loop, partial_fit of frames, nullable columns, float32 frames,
weights filtered like X. References: the NumPy/pandas fit of the computed
data, bit for bit."""

import warnings

import numpy as np
import pytest

from fastgrad import Normalizer

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")
dask = pytest.importorskip("dask")


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def sorted_data():
    return np.sort(np.random.default_rng(0).standard_normal((1000, 2)), axis=0)


def test_empty_and_unknown_chunks_of_a_filter_transform():
    X = sorted_data()
    Xd = da.from_array(X, chunks=(250, 2))
    sel = Xd[Xd[:, 0] > 0.8]  # the first chunks are empty, sizes unknown
    ref = Normalizer().fit(X[X[:, 0] > 0.8])
    norm = Normalizer().fit(sel)
    assert norm.mean_.tobytes() == ref.mean_.tobytes()
    np.testing.assert_array_equal(norm.transform(sel).compute(), ref.transform(X[X[:, 0] > 0.8]))
    np.testing.assert_array_equal(
        norm.inverse_transform(norm.transform(sel)).compute(),
        ref.inverse_transform(ref.transform(X[X[:, 0] > 0.8])),
    )
    known = da.from_array(np.vstack([X[:300], X[300:]]), chunks=((300, 0, 700), (2,)))
    np.testing.assert_array_equal(Normalizer().fit(X).transform(known).compute(),
                                  Normalizer().fit(X).transform(X))
    ddf = dd.from_pandas(pd.DataFrame(X, columns=["a", "b"]), npartitions=4)
    out = Normalizer().fit(ddf).transform(ddf[ddf.a > 0.8]).compute()
    expect = Normalizer().fit(pd.DataFrame(X, columns=["a", "b"])).transform(
        pd.DataFrame(X[X[:, 0] > 0.8], columns=["a", "b"]))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(expect))


def test_a_lazy_result_keeps_the_statistics_it_was_built_with():
    X = np.random.default_rng(0).standard_normal((1000, 2))
    Xd = da.from_array(X, chunks=250)
    norm, outs = Normalizer(), []
    for k in (1, 2, 3):
        outs.append(norm.fit(X * k + k).transform(Xd))
    norm.set_params(with_mean=False)
    for k, got in zip((1, 2, 3), dask.compute(*outs)):
        np.testing.assert_array_equal(got, Normalizer().fit(X * k + k).transform(X))


def test_partial_fit_of_a_frame_checks_the_columns():
    pdf = pd.DataFrame(np.random.default_rng(0).standard_normal((300, 3)), columns=list("abc"))
    ddf = dd.from_pandas(pdf, npartitions=3)
    for other in (ddf[["c", "b", "a"]], ddf.rename(columns={"c": "z"})):
        norm = Normalizer().partial_fit(ddf)
        before = norm.mean_.copy()
        with pytest.raises(ValueError, match="feature names"):
            norm.partial_fit(other)
        np.testing.assert_array_equal(norm.mean_, before)  # nothing merged


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "boolean"])
def test_nullable_columns_with_na_as_in_pandas(dtype):
    values = {"Int64": [1, 2, None, 4], "Float64": [1.5, None, 2.5, 4.0],
              "boolean": [True, None, False, True]}[dtype]
    pdf = pd.DataFrame({"a": pd.array(values * 50, dtype=dtype), "b": np.arange(200.0)})
    ddf = dd.from_pandas(pdf, npartitions=3)
    ref, got = Normalizer().fit(pdf), Normalizer().fit(ddf)
    assert got.mean_.tobytes() == ref.mean_.tobytes()
    assert got.var_.tobytes() == ref.var_.tobytes()
    np.testing.assert_array_equal(np.asarray(got.transform(ddf).compute()),
                                  np.asarray(ref.transform(pdf)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_a_frame_transform_declares_the_dtype_it_computes(dtype):
    pdf = pd.DataFrame((np.random.default_rng(0).standard_normal((300, 2)) * 10).astype(dtype),
                       columns=["a", "b"])
    ddf = dd.from_pandas(pdf, npartitions=3)
    Z = Normalizer().fit(ddf).transform(ddf)
    assert Z.dtypes.tolist() == Z.compute().dtypes.tolist()
    assert Z.dtypes.tolist() == [np.float32 if dtype == np.float32 else np.float64] * 2


def test_weights_filtered_like_x():
    rng = np.random.default_rng(0)
    X, w = rng.standard_normal((1000, 2)), rng.uniform(0.5, 2, 1000)
    Xd, wd = da.from_array(X, chunks=250), da.from_array(w, chunks=250)
    mask = Xd[:, 0] > 0
    got = Normalizer().fit(Xd[mask], sample_weight=wd[mask])
    ref = Normalizer().fit(X[X[:, 0] > 0], sample_weight=w[X[:, 0] > 0])
    assert got.mean_.tobytes() == ref.mean_.tobytes()
    assert got.var_.tobytes() == ref.var_.tobytes()


def test_weight_errors_name_the_index_in_the_data():
    X = np.ones((600, 2))
    X[:, 0] = np.arange(600)
    w = np.ones(600)
    w[350] = np.nan
    with pytest.raises(ValueError, match=r"at index 350\)"):
        Normalizer().fit(da.from_array(X, chunks=100), sample_weight=da.from_array(w, chunks=100))
    w[350], w[420] = 1.0, -2.0
    with pytest.raises(ValueError, match=r"at index 420"):
        Normalizer().fit(da.from_array(X, chunks=100), sample_weight=da.from_array(w, chunks=100))


def test_feature_name_warnings_as_for_numpy_and_pandas():
    X = np.random.default_rng(0).standard_normal((100, 2))
    frame = pd.DataFrame(X, columns=["a", "b"])
    named = Normalizer().fit(frame)
    for call in (lambda: named.transform(da.from_array(X)),
                 lambda: Normalizer().fit(frame).partial_fit(da.from_array(X)),
                 lambda: Normalizer().fit(X).partial_fit(dd.from_pandas(frame, npartitions=2)),
                 lambda: Normalizer().fit(X).transform(dd.from_pandas(frame, npartitions=2))):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            call()
        assert [r.category for r in rec] == [UserWarning]
        assert "feature names" in str(rec[0].message)
        assert rec[0].filename == __file__  # points at the caller's line


# -- from a review of the above ----------------------------------------------

def test_set_output_pandas_does_not_reach_the_blocks():
    pdf = pd.DataFrame({"a": [0.0, 1, 2, 3], "b": [1.0, 3, 5, 7]})
    expect = (pdf.to_numpy() - pdf.to_numpy().mean(0)) / pdf.to_numpy().std(0)
    norm = Normalizer().fit(pdf)
    lazy = norm.transform(dd.from_pandas(pdf, npartitions=2))
    norm.set_output(transform="pandas")  # after the call: not seen by it
    np.testing.assert_allclose(lazy.compute().to_numpy(), expect, rtol=1e-15)
    np.testing.assert_allclose(
        norm.transform(dd.from_pandas(pdf, npartitions=2)).compute().to_numpy(), expect,
        rtol=1e-15)
    arr = Normalizer().fit(pdf.to_numpy()).set_output(transform="pandas").transform(
        da.from_array(pdf.to_numpy(), chunks=2))
    got = arr.compute()
    assert got.dtype == arr.dtype == np.float64
    np.testing.assert_allclose(got, expect, rtol=1e-15)


@pytest.mark.parametrize("dtype, values", [("boolean", [True, None, False, True]),
                                           ("Int64", [1, None, 3, 4]),
                                           ("Float32", [1.5, None, 2.0, 4.0])])
def test_a_single_nullable_column_whose_metadata_has_no_na(dtype, values):
    pdf = pd.DataFrame({"a": pd.array(values * 3, dtype=dtype)})
    ref = Normalizer().fit(pdf)
    got = Normalizer().fit(dd.from_pandas(pdf, npartitions=3))
    np.testing.assert_array_equal(got.mean_, ref.mean_)
    Z = got.transform(dd.from_pandas(pdf, npartitions=3))
    assert Z.dtypes.tolist() == Z.compute().dtypes.tolist()


def test_the_users_dask_arrays_keep_their_unknown_chunks():
    X = da.from_array(np.arange(20.0).reshape(10, 2), chunks=5)
    w = da.from_array(np.linspace(0.1, 1, 10), chunks=5)
    keep = X[:, 0] > 4
    Xf, wf = X[keep], w[keep]
    Normalizer().fit(Xf, sample_weight=wf)
    assert np.isnan(Xf.chunks[0]).all() and np.isnan(wf.chunks[0]).all()


def _never_computed(shape, dtype):
    """A dask array whose one block raises if anything computes it."""
    def boom():
        raise RuntimeError("a block was computed")

    return da.from_delayed(dask.delayed(boom)(), shape, dtype=dtype)


@pytest.mark.parametrize("dtype, exc, said", [
    (np.complex128, ValueError, r"^Complex data not supported"),
    ("datetime64[s]", TypeError, r"non-numeric dtype datetime64"),
    ("timedelta64[s]", TypeError, r"non-numeric dtype timedelta64"),
])
def test_a_dask_array_of_the_wrong_kind_is_refused_from_its_metadata(dtype, exc, said):
    X = _never_computed((20, 3), dtype)
    with pytest.raises(exc, match=said):
        Normalizer().fit(X)
    norm = Normalizer().fit(np.random.default_rng(0).standard_normal((20, 3)))
    with pytest.raises(exc, match=said):
        norm.transform(X)


def test_a_masked_dask_array_is_refused_not_read_without_its_mask():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    mask = X < -1
    Xm = da.ma.masked_array(da.from_array(X, chunks=50), mask=da.from_array(mask, chunks=50))
    with pytest.raises(TypeError, match=r"^X is a dask array of numpy.ma.MaskedArray blocks.*"
                                        r"da.ma.filled\(X, np.nan\)"):
        Normalizer().fit(Xm)
    norm = Normalizer().fit(X)
    with pytest.raises(TypeError, match="MaskedArray"):
        norm.transform(Xm)
    # what the message says to do: the masked entries are missing values
    filled = Normalizer().fit(da.ma.filled(Xm, np.nan))
    np.testing.assert_allclose(filled.mean_, [X[~mask[:, j], j].mean() for j in range(3)],
                               rtol=1e-12)


def test_a_dask_series_gets_the_2d_message():
    ddf = dd.from_pandas(pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0) ** 2}),
                         npartitions=2)
    with pytest.raises(ValueError, match=r"^Expected 2D array.*dask Series.*to_frame"):
        Normalizer().fit(ddf["a"])
    norm = Normalizer().fit(ddf[["a"]])
    with pytest.raises(ValueError, match=r"^Expected 2D array.*dask Series"):
        norm.transform(ddf["a"])
    assert norm.transform(ddf["a"].to_frame()).compute().shape == (10, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning before the real error
        with pytest.raises(ValueError, match=r"^Expected 2D array.*dask Series"):
            norm.partial_fit(ddf["a"])
