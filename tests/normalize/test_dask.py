"""Normalizer on dask collections: the bits of the NumPy fit for any
chunking, scheduler and worker processes; lazy transforms; bounded memory."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastgrad import Normalizer

# Children run from tests/, not the checkout root, whose fastgrad/ would shadow
# the installed package in a non-editable install.
HERE = os.path.dirname(os.path.abspath(__file__))

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")
dask = pytest.importorskip("dask")

N = 10_007


def _data(n=N, d=5, seed=0, offset=1e9, sigma=2.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) * sigma + offset


def _bits(norm):
    return (
        norm.mean_.tobytes(),
        norm.var_.tobytes(),
        norm.scale_.tobytes(),
        repr(norm.n_samples_seen_),
    )


CHUNKINGS = [N, 1000, 97, 256, (3000, 1), ((1, 5000, 2, 4000, 1004), (2, 3))]


def test_dask_array_of_any_chunking_gives_the_bits_of_the_numpy_fit():
    X = _data()
    before = X.tobytes()
    expected = _bits(Normalizer().fit(X))
    for chunks in CHUNKINGS:
        with dask.config.set(scheduler="threads"):
            got = Normalizer().fit(da.from_array(X, chunks=chunks))
        assert _bits(got) == expected, chunks
    with dask.config.set(scheduler="synchronous"):
        assert _bits(Normalizer().fit(da.from_array(X, chunks=500))) == expected
    assert X.tobytes() == before
    # and against an independent two-pass long double reference
    Xl = (X - X[0]).astype(np.longdouble)
    var = ((Xl - Xl.mean(axis=0)) ** 2).mean(axis=0)
    got = Normalizer().fit(da.from_array(X, chunks=333))
    assert np.abs((got.var_ - var) / var).astype(float).max() <= 1e-12


def test_partial_fit_mixing_dask_and_numpy_batches():
    X = _data()
    expected = _bits(Normalizer().fit(X))
    norm = Normalizer()
    norm.partial_fit(da.from_array(X[:5000], chunks=333))
    norm.partial_fit(X[5000:7001])
    norm.partial_fit(da.from_array(X[7001:], chunks=(450, 2)))
    assert _bits(norm) == expected


def test_sample_axis_1_and_float32():
    X = _data(offset=10.0)
    expected = _bits(Normalizer().fit(X))
    got = Normalizer(sample_axis=1).fit(da.from_array(X.T.copy(), chunks=(2, 999)))
    assert _bits(got) == expected
    X32 = X.astype(np.float32)
    assert _bits(Normalizer().fit(da.from_array(X32, chunks=700))) == _bits(Normalizer().fit(X32))


def test_dask_dataframe_fit_and_lazy_transform():
    X = _data()
    frame = pd.DataFrame(X, columns=list("abcde"))
    ddf = dd.from_pandas(frame, npartitions=7)
    norm = Normalizer().fit(ddf)
    assert _bits(norm) == _bits(Normalizer().fit(X))
    assert list(norm.feature_names_in_) == list("abcde")
    out = norm.transform(ddf)
    assert isinstance(out, type(ddf))
    assert out.npartitions == ddf.npartitions
    got = out.compute()
    assert list(got.columns) == list("abcde")
    expected = (X - norm.mean_) * (1.0 / norm.scale_)
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=0, atol=1e-12)


def test_transform_is_lazy_keeps_chunks_and_matches_numpy():
    X = _data(offset=3.0)
    norm = Normalizer().fit(X)
    Xd = da.from_array(X, chunks=(1000, 2))
    Z = norm.transform(Xd)
    assert isinstance(Z, da.Array)
    assert Z.chunks == Xd.chunks
    assert np.array_equal(Z.compute(), norm.transform(X))
    # independent reference
    np.testing.assert_allclose(Z.compute(), (X - X.mean(0)) / X.std(0), rtol=1e-9, atol=1e-9)
    back = norm.inverse_transform(Z)
    assert back.chunks == Xd.chunks
    assert np.array_equal(back.compute(), norm.inverse_transform(norm.transform(X)))
    t = Normalizer(sample_axis=1).fit(X.T.copy())
    Zt = t.transform(da.from_array(X.T.copy(), chunks=(3, 800)))
    assert np.array_equal(Zt.compute(), t.transform(X.T.copy()))


def test_nan_in_a_dask_array_is_missing_and_keeps_the_bits():
    X = _data(n=3000, offset=0.0)
    X[17, 1] = np.nan
    norm = Normalizer().fit(da.from_array(X, chunks=700))
    assert _bits(norm) == _bits(Normalizer().fit(X))
    np.testing.assert_allclose(norm.mean_, np.nanmean(X, axis=0), rtol=0, atol=1e-14)
    np.testing.assert_allclose(norm.var_, np.nanvar(X, axis=0), rtol=1e-12)
    X[20, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        Normalizer().fit(da.from_array(X, chunks=700))


def test_sample_weight_with_dask_against_numpy_reference():
    X = _data(n=3000, offset=50.0)
    X[7, 0] = np.nan
    w = np.random.default_rng(1).uniform(0, 2, 3000)
    before = (X.tobytes(), w.tobytes())
    for weights in (w, da.from_array(w, chunks=450)):
        norm = Normalizer().fit(da.from_array(X, chunks=(700, 5)), sample_weight=weights)
        valid = ~np.isnan(X)
        W = (w[:, None] * valid).sum(axis=0)
        Xz = np.where(valid, X, 0.0)
        mean = (w[:, None] * Xz).sum(axis=0) / W
        var = (w[:, None] * valid * (Xz - mean) ** 2).sum(axis=0) / W
        np.testing.assert_allclose(norm.mean_, mean, rtol=1e-13)
        np.testing.assert_allclose(norm.var_, var, rtol=1e-11)
        np.testing.assert_allclose(norm.n_samples_seen_, W, rtol=1e-13)
    assert (X.tobytes(), w.tobytes()) == before


def test_fit_transform_of_a_dask_array_is_lazy():
    X = _data(offset=1.0)
    Xd = da.from_array(X, chunks=(2500, 5))
    Z = Normalizer().fit_transform(Xd)
    assert isinstance(Z, da.Array) and Z.chunks == Xd.chunks
    assert np.array_equal(Z.compute(), Normalizer().fit_transform(X))


def test_errors_name_the_argument():
    X = da.from_array(_data(n=100), chunks=30)
    with pytest.raises(ValueError, match="sample_weight"):
        Normalizer().fit(X, sample_weight=np.ones(99))
    with pytest.raises(ValueError, match="sample_weight"):
        Normalizer().fit(X, sample_weight=-np.ones(100))
    norm = Normalizer().fit(X)
    with pytest.raises(ValueError, match="features"):
        norm.partial_fit(da.from_array(_data(n=100, d=3), chunks=30))
    with pytest.raises(ValueError, match="features"):
        norm.transform(da.from_array(_data(n=100, d=3), chunks=30))


def test_fastgrad_import_does_not_import_dask():
    code = "import sys, fastgrad; fastgrad.Normalizer().fit([[1.0], [2.0]]); print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=HERE)
    assert out.stdout.strip() == "False"


def test_missing_dask_gives_a_clear_import_error():
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        import dask.array as da
        X = da.from_array(np.ones((10, 2)), chunks=5)
        for name in [m for m in sys.modules if m == "dask" or m.startswith("dask.")]:
            sys.modules[name] = None
        import fastgrad
        try:
            fastgrad.Normalizer().fit(X)
        except ImportError as err:
            print(err)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=HERE)
    assert "pip install 'fastgrad[dask]'" in out.stdout


@pytest.fixture(scope="module")
def cluster_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_local_cluster_with_worker_processes_gives_the_same_bits(cluster_client):
    X = _data()
    expected = _bits(Normalizer().fit(X))
    for chunks in (1000, 97 * 13, (3000, 1)):
        got = Normalizer().fit(da.from_array(X, chunks=chunks))
        assert _bits(got) == expected
    Z = Normalizer().fit(X).transform(da.from_array(X, chunks=2000))
    assert np.array_equal(Z.compute(), Normalizer().fit(X).transform(X))
    assert len(cluster_client.scheduler_info()["workers"]) == 2
    # weights and NaN on worker processes: the bits of the NumPy fit too
    X[::37, 2] = np.nan
    w = np.random.default_rng(5).uniform(0, 2, X.shape[0])
    expected = _bits(Normalizer().fit(X, sample_weight=w))
    for chunks in (1000, 97 * 13):
        dw = da.from_array(w, chunks=chunks)
        got = Normalizer().fit(da.from_array(X, chunks=(chunks, 5)), sample_weight=dw)
        assert _bits(got) == expected


def test_fitting_a_multi_gb_lazy_array_keeps_memory_bounded():
    code = textwrap.dedent(
        """
        import resource
        import dask
        import dask.array as da
        import numpy as np
        from fastgrad import Normalizer
        X = da.random.default_rng(0).standard_normal((3_000_000, 100), chunks=(125_000, 100))
        assert X.nbytes >= 2.4e9
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with dask.config.set(scheduler="threads", num_workers=2):
            norm = Normalizer().fit(X)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert norm.n_samples_seen_ == 3_000_000
        assert np.abs(norm.mean_).max() < 0.01 and np.abs(norm.scale_ - 1).max() < 0.01
        print((peak - base) / 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=HERE)
    grown_mb = float(out.stdout.strip().splitlines()[-1])
    assert grown_mb < 400, f"fit grew the process by {grown_mb:.0f} MB"


def test_a_dask_frame_is_checked_against_the_fit_like_a_pandas_one():
    import warnings

    df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [10.0, 20, 30, 50]})
    norm = Normalizer().fit(df)
    # reordered columns: an error, as for pandas (they were scaled by the
    # other column's statistics, silently)
    for X in (df[["b", "a"]], dd.from_pandas(df[["b", "a"]], npartitions=2)):
        with pytest.raises(ValueError, match=r"feature names of X differ.*\['b', 'a'\]"):
            norm.transform(X)
    got = norm.transform(dd.from_pandas(df, npartitions=2)).compute()
    expected = (df.to_numpy() - df.to_numpy().mean(axis=0)) / df.to_numpy().std(axis=0)
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-14)
    # a frame after an array fit: scikit-learn's warning, as for pandas
    plain = Normalizer().fit(df.to_numpy())
    with pytest.warns(UserWarning, match="X has feature names, but Normalizer was fitted without"):
        plain.transform(dd.from_pandas(df, npartitions=2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        norm.inverse_transform(dd.from_pandas(df, npartitions=2))
    when = pd.DataFrame({"a": pd.to_datetime(["2020-01-01"] * 4), "b": [1.0, 2, 3, 4]})
    with pytest.raises(TypeError, match="datetime/timedelta"):
        norm.transform(dd.from_pandas(when, npartitions=2))
