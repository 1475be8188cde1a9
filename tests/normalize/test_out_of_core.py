"""Out of core on one machine (issue 13): an on-disk array read through
dask in chunks, with a progress bar and bounded memory, gives the bits of
the in-memory fit (the recipe the README documents)."""

import io
import tracemalloc

import numpy as np
import pytest

from fastgrad import Normalizer

da = pytest.importorskip("dask.array")
diagnostics = pytest.importorskip("dask.diagnostics")
dask = pytest.importorskip("dask")


def bits(n):
    return tuple(
        np.asarray(getattr(n, k)).tobytes() for k in ("mean_", "var_", "scale_", "n_samples_seen_")
    )


def write(tmp_path, rows=150_000, d=8):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((rows, d)) * np.arange(1, d + 1) + 1e5
    X[rng.random(X.shape) < 0.001] = np.nan
    path = tmp_path / "big.npy"
    np.save(path, X)
    return path, X


def test_memmap_through_dask_has_the_bits_bounded_memory_and_a_bar(tmp_path):
    path, X = write(tmp_path)
    expected = bits(Normalizer().fit(X))
    ref = np.nanmean(X.astype(np.longdouble), axis=0).astype(np.float64)
    del X
    mm = np.load(path, mmap_mode="r")
    dX = da.from_array(mm, chunks=(4096, -1))  # ~256 KB chunks
    out = io.StringIO()
    # first use of the scheduler and the kernels (imports, thread pools)
    # is not what is measured
    warm = np.ones((600, 8))
    warm[0, 0] = np.nan
    with dask.config.set(scheduler="threads", num_workers=2):
        Normalizer().fit(da.from_array(warm, chunks=300))
    tracemalloc.start()
    try:
        with dask.config.set(scheduler="threads", num_workers=2):
            with diagnostics.ProgressBar(out=out, minimum=0):
                norm = Normalizer().fit(dX)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert bits(norm) == expected
    np.testing.assert_allclose(norm.mean_, ref, rtol=1e-14)
    assert "100%" in out.getvalue()
    # 9.6 MB on disk; what the fit holds at once is a few chunks and the
    # small tree states, not the array
    assert peak < 4_000_000, peak  # measured 1.5-2.1 MB


def test_zarr_and_hdf5_give_the_same_bits(tmp_path):
    zarr = pytest.importorskip("zarr")
    h5py = pytest.importorskip("h5py")
    path, X = write(tmp_path, rows=20_000, d=3)
    expected = bits(Normalizer().fit(X))
    z = zarr.open_array(str(tmp_path / "x.zarr"), mode="w", shape=X.shape, chunks=(3000, 3))
    z[:] = X
    assert bits(Normalizer().fit(da.from_zarr(str(tmp_path / "x.zarr")))) == expected
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("X", data=X, chunks=(2500, 3))
    with h5py.File(tmp_path / "x.h5", "r") as f:
        assert bits(Normalizer().fit(da.from_array(f["X"], chunks=(2500, 3)))) == expected
