"""Reproducible statistics: the same bits for any batching and thread count,
checked against a two-pass extended-precision NumPy reference."""

import numpy as np
import pytest

from fastgrad import Normalizer
from fastgrad.normalize import tree

N = 10_007  # 39 full blocks of 256 and a partial one


def _data(offset=0.0, sigma=1.0, n=N, d=6, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) * sigma + offset).astype(dtype)


def _bits(norm):
    return (
        norm.mean_.tobytes(),
        norm.var_.tobytes(),
        norm.scale_.tobytes(),
        repr(norm.n_samples_seen_),
    )


def _reference(X):
    """Two-pass long double, after an exact shift by the first sample."""
    Xl = (X - X[0]).astype(np.longdouble)
    mu = Xl.mean(axis=0)
    var = ((Xl - mu) ** 2).mean(axis=0)
    return mu + X[0].astype(np.longdouble), var


@pytest.mark.parametrize("batch", [1, 97, 256, 1000, 4097])
def test_partial_fit_batches_give_the_bits_of_fit(batch):
    X = _data(offset=1e9, sigma=3.0)
    before = X.tobytes()
    whole = Normalizer().fit(X)
    streamed = Normalizer()
    for r in range(0, N, batch):
        streamed.partial_fit(X[r : r + batch])
    assert _bits(streamed) == _bits(whole)
    assert streamed.n_samples_seen_ == N
    assert X.tobytes() == before


def test_irregular_batches_layouts_and_threads_give_the_same_bits():
    X = _data(offset=-5e11, sigma=0.5, d=9)
    expected = _bits(Normalizer(n_threads=1).fit(X))
    rng = np.random.default_rng(3)
    cuts = np.sort(rng.choice(np.arange(1, N), 40, replace=False))
    streamed = Normalizer()
    for part in np.split(X, cuts):
        streamed.partial_fit(part)
    assert _bits(streamed) == expected
    for n_threads in (1, 2, 3, 7):
        assert _bits(Normalizer(n_threads=n_threads).fit(X)) == expected
        assert _bits(Normalizer(n_threads=n_threads).fit(np.asfortranarray(X))) == expected
        assert _bits(Normalizer(n_threads=n_threads, sample_axis=1).fit(X.T.copy())) == expected


def test_float32_input_same_bits_for_any_batching():
    X = _data(offset=100.0, dtype=np.float32)
    expected = _bits(Normalizer().fit(X))
    streamed = Normalizer()
    for r in range(0, N, 300):
        streamed.partial_fit(X[r : r + 300])
    assert _bits(streamed) == expected


@pytest.mark.parametrize("offset", [0.0, 1e4, 1e8, 1e12, -1e12])
@pytest.mark.parametrize("sigma", [1.0, 3.0])
def test_accuracy_against_long_double_two_pass(offset, sigma):
    X = _data(offset=offset, sigma=sigma, n=50_000, d=4, seed=5)
    mu, var = _reference(X)
    norm = Normalizer().fit(X)
    rel_var = np.abs((norm.var_ - var) / var).astype(np.float64)
    assert rel_var.max() <= 1e-12
    err_mean = np.abs(norm.mean_ - mu).astype(np.float64)
    assert (err_mean <= 1e-12 * np.maximum(np.abs(mu), np.sqrt(var)).astype(np.float64)).all()
    streamed = Normalizer()
    for r in range(0, X.shape[0], 777):
        streamed.partial_fit(X[r : r + 777])
    assert _bits(streamed) == _bits(norm)


def test_states_combine_in_any_order_to_the_same_nodes():
    X = _data(n=5000, d=3)
    cuts = [0, 1, 300, 511, 512, 1900, 4096, 4097, 5000]
    states = [tree.chunk_state(X[a:b], a) for a, b in zip(cuts[:-1], cuts[1:])]
    left = states[0]
    for s in states[1:]:
        left = tree.combine(left, s)
    while len(states) > 1:  # pairwise, as a dask tree reduction does
        states = [
            tree.combine(states[i], states[i + 1]) if i + 1 < len(states) else states[i]
            for i in range(0, len(states), 2)
        ]
    a, b = tree.finalize(left), tree.finalize(states[0])
    c = tree.finalize(tree.chunk_state(X, 0))
    for m in (a, b):
        for name in ("ref", "dmean", "m2", "n"):
            assert getattr(m, name).tobytes() == getattr(c, name).tobytes()
    with pytest.raises(ValueError, match="adjacent"):
        tree.combine(states[0], tree.chunk_state(X[:10], 10))


def test_nan_falls_back_to_the_masked_path_and_stays_correct():
    X = _data(n=3000, d=3)
    X[5, 1] = np.nan
    streamed = Normalizer()
    for r in range(0, 3000, 1000):
        streamed.partial_fit(X[r : r + 1000])
    np.testing.assert_allclose(streamed.mean_, np.nanmean(X, axis=0), rtol=0, atol=1e-14)
    np.testing.assert_allclose(streamed.var_, np.nanvar(X, axis=0), rtol=1e-12)
    assert list(streamed.n_samples_seen_) == [3000, 2999, 3000]


def test_infinity_in_a_later_batch_leaves_the_state_unchanged():
    X = _data(n=1000, d=2)
    norm = Normalizer().partial_fit(X[:600])
    before = _bits(norm)
    bad = X[600:].copy()
    bad[3, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        norm.partial_fit(bad)
    assert _bits(norm) == before
    norm.partial_fit(X[600:])
    assert _bits(norm) == _bits(Normalizer().fit(X))


def test_random_cuts_and_merge_orders_give_the_same_bits():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    X = _data(n=2600, d=3, offset=7e5)
    expected = tree.finalize(tree.chunk_state(X, 0))

    @hypothesis.settings(max_examples=40, deadline=None)
    @hypothesis.given(
        cuts=st.lists(st.integers(1, 2599), max_size=12, unique=True),
        seed=st.integers(0, 2**32 - 1),
    )
    def run(cuts, seed):
        edges = [0, *sorted(cuts), 2600]
        states = [tree.chunk_state(X[a:b], a) for a, b in zip(edges[:-1], edges[1:])]
        rng = np.random.default_rng(seed)
        while len(states) > 1:  # merge random adjacent pairs
            i = int(rng.integers(len(states) - 1))
            states[i : i + 2] = [tree.combine(states[i], states[i + 1])]
        got = tree.finalize(states[0])
        for name in ("ref", "dmean", "m2", "n"):
            assert getattr(got, name).tobytes() == getattr(expected, name).tobytes()

    run()
