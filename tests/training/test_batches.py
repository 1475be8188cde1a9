"""fastgrad.training.batches (random_mini_batches, public as fastgrad.optim):
the batches partition the examples, are reproducible, and fit the model."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastgrad import MLP
from fastgrad.optim import random_mini_batches


def labelled_data(n_x, m, n_y=1):
    """Column j of X holds j in its first row, so a batch tells which examples it has."""
    rng = np.random.default_rng(m)
    X = rng.standard_normal((n_x, m))
    X[0] = np.arange(m)
    Y = np.vstack([np.arange(m)[None, :] * 10.0 + r for r in range(n_y)])
    return X, Y


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 300), batch_size=st.integers(1, 400), n_y=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_mini_batches_partition_the_examples(m, batch_size, n_y, seed):
    X, Y = labelled_data(3, m, n_y)
    batches = random_mini_batches(X, Y, batch_size, seed=seed)
    assert len(batches) == math.ceil(m / batch_size)
    sizes = [xb.shape[1] for xb, _ in batches]
    assert all(s == min(batch_size, m) for s in sizes[:-1])
    assert sizes[-1] == (m % batch_size or min(batch_size, m))
    order = np.concatenate([xb[0] for xb, _ in batches]).astype(int)
    np.testing.assert_array_equal(np.sort(order), np.arange(m))  # each example exactly once
    for xb, yb in batches:
        assert xb.shape[0] == 3 and yb.shape == (n_y, xb.shape[1])
        np.testing.assert_array_equal(xb, X[:, xb[0].astype(int)])  # whole columns
        np.testing.assert_array_equal(yb, Y[:, xb[0].astype(int)])  # labels follow


def test_mini_batches_are_reproducible_and_shuffled():
    X, Y = labelled_data(2, 300)
    a = random_mini_batches(X, Y, 64, seed=11)
    b = random_mini_batches(X, Y, 64, seed=11)
    c = random_mini_batches(X, Y, 64, seed=12)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    order = lambda batches: np.concatenate([x[0] for x, _ in batches])  # noqa: E731
    assert not np.array_equal(order(a), order(c))
    assert not np.array_equal(order(a), np.arange(300))
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    np.testing.assert_array_equal(order(random_mini_batches(X, Y, 64, seed=g1)),
                                  order(random_mini_batches(X, Y, 64, seed=g2)))


def test_mini_batches_batch_and_stochastic_extremes():
    X, Y = labelled_data(2, 50)
    (full,) = random_mini_batches(X, Y, batch_size=50, seed=0)
    assert full[0].shape == X.shape
    assert len(random_mini_batches(X, Y, batch_size=None, seed=0)) == 1
    sgd = random_mini_batches(X, Y, batch_size=1, seed=0)
    assert len(sgd) == 50 and all(xb.shape == (2, 1) for xb, _ in sgd)


def test_mini_batches_leave_inputs_and_global_rng_alone():
    X, Y = labelled_data(2, 40)
    X0, Y0 = X.copy(), Y.copy()
    state = np.random.get_state()[1].copy()
    batches = random_mini_batches(X, Y, 16, seed=None)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    for xb, yb in batches:
        xb[...] = -1
        yb[...] = -1
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


def test_mini_batches_accept_1d_labels():
    X, Y = labelled_data(2, 10)
    batches = random_mini_batches(X, Y[0], 4, seed=0)
    assert [yb.shape for _, yb in batches] == [(1, 4), (1, 4), (1, 2)]


@pytest.mark.parametrize("X_shape, Y_shape, batch_size, error, match", [
    ((2, 10), (1, 9), 4, ValueError, "Y must have shape"),
    ((2, 10), (10, 1), 4, ValueError, "Y must have shape"),
    ((10,), (1, 10), 4, ValueError, "X must have shape"),
    ((2, 0), (1, 0), 4, ValueError, "no examples"),
    ((2, 10), (1, 10), 0, ValueError, "batch_size"),
    ((2, 10), (1, 10), -3, ValueError, "batch_size"),
    ((2, 10), (1, 10), 2.5, TypeError, "batch_size"),
])
def test_mini_batches_bad_input(X_shape, Y_shape, batch_size, error, match):
    with pytest.raises(error, match=match):
        random_mini_batches(np.zeros(X_shape), np.zeros(Y_shape), batch_size, seed=0)


def test_model_layout_is_the_one_batches_use():
    # A batch is directly usable by the model (columns are examples).
    X, Y = labelled_data(2, 30)
    Y = (Y[:1] % 20 > 9).astype(float)
    model = MLP([2, 3, 1])
    params = model.init_params(seed=0)
    for xb, yb in random_mini_batches(X, Y, 8, seed=0):
        assert np.isfinite(model.cost(params, xb, yb))
