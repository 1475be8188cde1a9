"""Small 2-D classification sets for the course's experiments.

Every generator returns the course layout: ``X`` of shape ``(2, m)``
(float64, examples as columns) and ``Y`` of shape ``(1, m)`` (int64 labels
0/1). They are drawn with NumPy from ``seed`` (an int, None or a
``numpy.random.Generator``); nothing is downloaded, scikit-learn is not
needed, and the global NumPy RNG is never touched.
"""

import math

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._rng import as_generator


def _check_m(m, name="m", minimum=1):
    m = ac.integer(m, name, minimum=minimum)
    # a data set is a few float64 rows of m values (X, Y and the draws behind them)
    ac.check_allocation(64 * m, name, f"a data set of {m:,} examples")
    return m


def _shuffled(rng, X, Y):
    order = rng.permutation(X.shape[1])
    return np.ascontiguousarray(X[:, order]), np.ascontiguousarray(Y[:, order])


def make_circles(m=300, *, noise=0.05, factor=0.8, seed=None):
    """Two concentric circles (the course's init assignment data).

    ``m // 2`` points (the rest go to the inner circle) are evenly spaced
    on the unit circle (label 0) and ``m - m // 2`` on a circle of radius
    ``factor`` (label 1), then shuffled; Gaussian noise of std ``noise`` is
    added to each coordinate. Same construction as scikit-learn's
    ``make_circles``.

    Parameters
    ----------
    m : int, default 300
    noise : float, default 0.05
    factor : float, default 0.8
        Inner radius, in ``(0, 1)``.
    seed : int, None or numpy.random.Generator

    Returns
    -------
    X : ndarray, shape (2, m)
    Y : ndarray of int64, shape (1, m)
    """
    m = _check_m(m)
    noise = ac.real(noise, "noise", low=0)
    factor = ac.real(factor, "factor", low=0)
    if not 0 < factor < 1:
        raise ValueError(f"factor must lie in (0, 1), got {factor!r}")
    rng = as_generator(seed)
    n_out = m // 2
    n_in = m - n_out
    t_out = np.linspace(0.0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2 * np.pi, n_in, endpoint=False)
    X = np.vstack(
        [
            np.concatenate([np.cos(t_out), factor * np.cos(t_in)]),
            np.concatenate([np.sin(t_out), factor * np.sin(t_in)]),
        ]
    )
    Y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])[None, :]
    X, Y = _shuffled(rng, X, Y)
    if noise:
        X = X + noise * rng.standard_normal(X.shape)
    return X, Y


def make_moons(m=300, *, noise=0.1, seed=None):
    """Two interleaving half circles (scikit-learn's ``make_moons``).

    Label 0: ``(cos t, sin t)``; label 1: ``(1 − cos t, 0.5 − sin t)``,
    ``t`` evenly spaced in ``[0, π]``; shuffled, then Gaussian noise of std
    ``noise`` on each coordinate.

    Returns
    -------
    X : ndarray, shape (2, m)
    Y : ndarray of int64, shape (1, m)
    """
    m = _check_m(m)
    noise = ac.real(noise, "noise", low=0)
    rng = as_generator(seed)
    n_a = m // 2
    n_b = m - n_a
    t_a = np.linspace(0.0, np.pi, n_a)
    t_b = np.linspace(0.0, np.pi, n_b)
    X = np.vstack(
        [
            np.concatenate([np.cos(t_a), 1.0 - np.cos(t_b)]),
            np.concatenate([np.sin(t_a), 0.5 - np.sin(t_b)]),
        ]
    )
    Y = np.concatenate([np.zeros(n_a, np.int64), np.ones(n_b, np.int64)])[None, :]
    X, Y = _shuffled(rng, X, Y)
    if noise:
        X = X + noise * rng.standard_normal(X.shape)
    return X, Y


def make_flower(m=400, *, petals=4, radius=4.0, noise=0.2, seed=None):
    """The course's planar "flower" data (``load_planar_dataset``).

    For class ``j`` in {0, 1}, ``m/2`` points with angle
    ``t = linspace(3.12·j, 3.12·(j+1)) + noise·N(0,1)`` and radius
    ``r = radius · sin(petals · t) + noise·N(0,1)`` at ``(r sin t, r cos t)``.
    The classes interleave as petals, so no straight line separates them.
    Unlike the course's version the examples are shuffled.

    Returns
    -------
    X : ndarray, shape (2, m)
    Y : ndarray of int64, shape (1, m)
    """
    m = _check_m(m, minimum=2)
    noise = ac.real(noise, "noise", low=0)
    radius = ac.real(radius, "radius", low=0)
    petals = _check_m(petals, "petals")
    rng = as_generator(seed)
    X = np.empty((2, m))
    Y = np.empty((1, m), np.int64)
    sizes = (m // 2, m - m // 2)
    start = 0
    for j, n in enumerate(sizes):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, n) + rng.standard_normal(n) * noise
        r = radius * np.sin(petals * t) + rng.standard_normal(n) * noise
        X[0, start : start + n] = r * np.sin(t)
        X[1, start : start + n] = r * np.cos(t)
        Y[0, start : start + n] = j
        start += n
    return _shuffled(rng, X, Y)


def make_elongated(m=500, *, noise=0.1, seed=None):
    """Two features on very different scales — the "elongated bowl" data.

    ``x1 ~ U(1, 1000)`` and ``x2 ~ U(0, 1)``; the label depends on both
    equally once rescaled::

        y = 1  if  (x1 − 500.5) / 999 + (x2 − 0.5) + noise · N(0, 1) > 0

    Unnormalized, the cost of a linear model is a long narrow valley: its
    curvature along ``w1`` is ~10⁶ times that along ``w2``.

    Returns
    -------
    X : ndarray, shape (2, m)
        Row 0 in [1, 1000], row 1 in [0, 1].
    Y : ndarray of int64, shape (1, m)
    """
    m = _check_m(m)
    noise = ac.real(noise, "noise", low=0)
    rng = as_generator(seed)
    x1 = rng.uniform(1.0, 1000.0, m)
    x2 = rng.uniform(0.0, 1.0, m)
    score = (x1 - 500.5) / 999.0 + (x2 - 0.5) + noise * rng.standard_normal(m)
    return np.vstack([x1, x2]), (score > 0).astype(np.int64)[None, :]


DATASETS = {
    "circles": make_circles,
    "moons": make_moons,
    "flower": make_flower,
    "elongated": make_elongated,
}


def train_test_split(X, Y, *, test_size=0.25, seed=None, shuffle=True):
    """Split the columns of ``X`` and ``Y`` into a train and a test part.

    Parameters
    ----------
    X : array_like, shape (n_x, m)
    Y : array_like, shape (n_y, m) or (m,)
    test_size : float in (0, 1) or int
        The fraction of examples, or their number, that go to the test part.
    seed : int, None or numpy.random.Generator
        Used only with ``shuffle=True``.
    shuffle : bool, default True
        If False the last ``test_size`` columns are the test part.

    Returns
    -------
    X_train, X_test, Y_train, Y_test : ndarray
        New arrays (copies); the inputs are not modified.
    """
    ac.not_masked(X, "X")
    ac.not_masked(Y, "Y")
    X = np.asarray(X)
    Y = np.asarray(Y)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n_x, m) with examples as columns, got {X.shape}")
    m = X.shape[1]
    if Y.ndim not in (1, 2) or Y.shape[-1] != m:
        raise ValueError(f"Y must have shape (n_y, m={m}) or (m,), got {Y.shape}")
    if not ac.is_real(test_size):
        raise TypeError(f"test_size must be a float in (0, 1) or an int, got {ac.got(test_size)}")
    if ac.is_int(test_size):
        n_test = int(test_size)
    else:
        fraction = ac.real(
            test_size,
            "test_size",
            low=0,
            high=1,
            low_open=True,
            high_open=True,
            what="a fraction in (0, 1) or an int",
        )
        n_test = int(math.ceil(fraction * m))
    if not 1 <= n_test <= m - 1:
        raise ValueError(
            f"test_size gives {n_test} test examples out of m={m}; "
            "both parts need at least one example"
        )
    shuffle = ac.boolean(shuffle, "shuffle")
    rng = as_generator(seed)  # checked even when shuffle=False
    order = rng.permutation(m) if shuffle else np.arange(m)
    train, test = order[: m - n_test], order[m - n_test :]
    return X[:, train].copy(), X[:, test].copy(), Y[..., train].copy(), Y[..., test].copy()
