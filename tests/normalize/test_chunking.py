"""Weighted and NaN-containing streams give the same bits for any batching
(issue 13): partial_fit batch sizes, dask chunkings, thread counts; and the
values agree with a long-double reference."""

import numpy as np
import pytest

from fastgrad import Normalizer

N, D = 4500, 3


def stream(offset=0.0, seed=0):
    rng = np.random.default_rng(seed)
    X = offset + rng.standard_normal((N, D)) * np.array([1.0, 3.0, 0.5])
    X[rng.random((N, D)) < 0.05] = np.nan
    X[:300, 2] = np.nan  # a feature missing for whole blocks
    w = rng.random(N) * 2
    w[rng.random(N) < 0.1] = 0.0
    w[0] = 0.5  # a stream's first batch needs some weight
    return X, w


def bits(norm):
    return tuple(
        np.asarray(getattr(norm, k)).tobytes()
        for k in ("mean_", "var_", "scale_", "n_samples_seen_")
    )


def batched(X, w, size, n_threads=1):
    norm = Normalizer(n_threads=n_threads)
    for a in range(0, N, size):
        norm.partial_fit(X[a : a + size], sample_weight=None if w is None else w[a : a + size])
    return norm


def reference(X, w):
    """Weighted mean and variance in long double, NaN as missing; the data
    shifted by a sample first (exact in float64), or the reference's own
    rounding of the mean at a large offset would show in the variance."""
    shift = np.nanmin(X, axis=0)
    Xl = (X - shift).astype(np.longdouble)
    wl = np.ones(N, dtype=np.longdouble) if w is None else w.astype(np.longdouble)
    valid = ~np.isnan(X)
    W = (wl[:, None] * valid).sum(axis=0)
    mean = (wl[:, None] * np.where(valid, Xl, 0)).sum(axis=0) / W
    var = (wl[:, None] * np.where(valid, (Xl - mean) ** 2, 0)).sum(axis=0) / W
    return (mean + shift).astype(np.float64), var.astype(np.float64)


@pytest.mark.parametrize("weighted", [False, True])
def test_every_batching_gives_the_bits_of_one_fit(weighted):
    X, w = stream(offset=1e12)
    w = w if weighted else None
    whole = Normalizer().fit(X, sample_weight=w)
    for size in (1, 97, 256, 1000, 4097):
        assert bits(batched(X, w, size)) == bits(whole), size
    assert bits(Normalizer(n_threads=2).fit(X, sample_weight=w)) == bits(whole)
    mean, var = reference(X, w)
    np.testing.assert_allclose(whole.mean_, mean, rtol=1e-15 * 1e3, atol=0)
    np.testing.assert_allclose(whole.var_, var, rtol=1e-12, atol=0)


def test_uneven_batches_and_a_mixed_weighted_stream():
    X, w = stream(seed=1)
    cuts = [0, 5, 300, 301, 777, 2048, 2049, 4000, N]
    whole = Normalizer().fit(X, sample_weight=w)
    norm = Normalizer()
    for a, b in zip(cuts[:-1], cuts[1:]):
        norm.partial_fit(X[a:b], sample_weight=w[a:b])
    assert bits(norm) == bits(whole)
    # unweighted batches inside a weighted stream: the same for any batching
    one, two = Normalizer(), Normalizer()
    for a, b in zip(cuts[:-1], cuts[1:]):
        one.partial_fit(X[a:b], sample_weight=w[a:b] if a % 2 else None)
    for a in range(0, N, 300):
        sub = [(max(a, c0), min(a + 300, c1)) for c0, c1 in zip(cuts[:-1], cuts[1:])]
        for c0, c1 in sub:
            if c0 < c1:
                two.partial_fit(X[c0:c1], sample_weight=w[c0:c1] if _weighted(c0, cuts) else None)
    assert bits(one) == bits(two)


def _weighted(row, cuts):
    start = max(c for c in cuts[:-1] if c <= row)
    return start % 2 == 1


def test_dask_chunkings_weighted_and_nan():
    da = pytest.importorskip("dask.array")
    X, w = stream(offset=-3e6, seed=2)
    whole = Normalizer().fit(X, sample_weight=w)
    plain = Normalizer().fit(X)
    for chunks in (N, 1000, 333, 256, (100, 4000, 400), 4097):
        dX = da.from_array(X, chunks=(chunks, D))
        dw = da.from_array(w, chunks=(chunks,))
        assert bits(Normalizer().fit(dX, sample_weight=dw)) == bits(whole), chunks
        assert bits(Normalizer().fit(dX)) == bits(plain), chunks


def test_numpy_and_dask_batches_mixed_in_one_weighted_stream():
    da = pytest.importorskip("dask.array")
    X, w = stream(offset=7.0, seed=3)
    whole = Normalizer().fit(X, sample_weight=w)
    norm = Normalizer().partial_fit(X[:1000], sample_weight=w[:1000])
    norm.partial_fit(da.from_array(X[1000:3500], chunks=(611, D)), sample_weight=w[1000:3500])
    norm.partial_fit(X[3500:], sample_weight=w[3500:])
    assert bits(norm) == bits(whole)
