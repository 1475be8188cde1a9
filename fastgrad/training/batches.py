"""Mini-batches in the course's layout: shuffle the example columns, cut
them into batches (``fastgrad.optim.random_mini_batches`` is public)."""

from __future__ import annotations

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._rng import as_generator


def check_xy(X, Y):
    X = np.asarray(X)
    Y = np.asarray(Y)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n_x, m) with examples as columns, got {X.shape}")
    m = X.shape[1]
    if Y.ndim == 1 and Y.shape[0] == m:
        Y = Y.reshape(1, m)
    if Y.ndim != 2 or Y.shape[1] != m:
        raise ValueError(
            f"Y must have shape (n_y, m={m}) to match X {X.shape} (examples are "
            f"columns in both), got {Y.shape}"
        )
    if m == 0:
        raise ValueError("X has no examples (m = 0)")
    return X, Y


def shuffled_batches(X, Y, batch_size, rng):
    """Shuffle the columns with ``rng`` and cut them into batches (no checks)."""
    m = X.shape[1]
    perm = rng.permutation(m)
    return [
        (X[:, idx], Y[:, idx])
        for idx in (perm[start : start + batch_size] for start in range(0, m, batch_size))
    ]


def random_mini_batches(X, Y, batch_size=64, seed=None):
    """Shuffle the examples and split them into mini-batches (course layout).

    Parameters
    ----------
    X : array_like of shape (n_x, m)
        Inputs, one example per column.
    Y : array_like of shape (n_y, m) or (m,)
        Labels, one example per column (a 1-D ``Y`` is read as one row).
    batch_size : int or None, default 64
        Examples per batch. ``m`` (or None) gives one batch (batch gradient
        descent), 1 gives stochastic gradient descent. The last batch holds
        the ``m mod batch_size`` remaining examples when that is not zero.
    seed : int, None or numpy.random.Generator
        The permutation is drawn from ``as_generator(seed)``; the global NumPy
        RNG is not used.

    Returns
    -------
    list of (X_batch, Y_batch)
        ``ceil(m / batch_size)`` pairs of new arrays, shapes ``(n_x, m_b)``
        and ``(n_y, m_b)``; together they hold every example exactly once.
    """
    X, Y = check_xy(X, Y)
    m = X.shape[1]
    batch_size = m if batch_size is None else ac.integer(batch_size, "batch_size", minimum=1)
    return shuffled_batches(X, Y, batch_size, as_generator(seed))
