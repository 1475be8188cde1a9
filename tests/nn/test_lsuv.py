"""LSUV: every layer's pre-activations reach unit variance on the batch
(checked with an independent NumPy forward pass); reproducible; errors."""
import numpy as np
import pytest

from fastgrad import init
from fastgrad.nn.model import MLP


@pytest.mark.parametrize("hidden", ["relu", "tanh", "leaky_relu", "sigmoid"])
def test_lsuv_unit_variance_every_layer(hidden):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 256)) * 5.0 + 3.0
    model = MLP([20, 64, 64, 32, 1], hidden=hidden)
    X_before = X.copy()
    params = init.lsuv(model, X, seed=1, tol=0.05)
    np.testing.assert_array_equal(X, X_before)
    # Independent forward pass.
    g = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
         "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z), "sigmoid": lambda z: 1 / (1 + np.exp(-z))}[hidden]
    A = X
    for l in range(1, 5):
        Z = params[f"W{l}"] @ A + params[f"b{l}"]
        assert abs(Z.var() - 1.0) < 0.05, (l, Z.var())
        assert not params[f"b{l}"].any()
        A = g(Z)
        # LSUV only rescales an orthogonal matrix: rows stay orthogonal.
        W = params[f"W{l}"]
        G = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
        np.testing.assert_allclose(G, G[0, 0] * np.eye(len(G)), atol=1e-10 * G[0, 0])


def test_lsuv_reproducible_and_errors():
    X = np.random.default_rng(0).standard_normal((3, 50))
    model = MLP([3, 8, 1])
    a, b = init.lsuv(model, X, seed=4), init.lsuv(model, X, seed=4)
    np.testing.assert_array_equal(a["W1"], b["W1"])
    with pytest.raises(ValueError, match="every example"):
        init.lsuv(model, np.ones((3, 50)) * 0.0)
    with pytest.raises(ValueError, match="at least 2"):
        init.lsuv(model, X[:, :1])
    with pytest.raises(ValueError, match="X"):
        init.lsuv(model, X.T)
    with pytest.raises(TypeError, match="model"):
        init.lsuv("mlp", X)
    with pytest.raises(ValueError, match="max_iter"):
        init.lsuv(model, X, max_iter=0)


# -- found by a trial against the paper and torch (Mishkin & Matas 2016) ----

@pytest.mark.parametrize("dims,output", [([20, 64, 1], "sigmoid"), ([20, 64, 64, 5], "softmax")])
def test_identical_examples_are_refused_naming_x(dims, output):
    # Every example the same: a layer of several units has a block variance
    # (the units differ) though no unit varies over the batch; a 1-unit
    # output's variance is the product's rounding (~1e-31). Both were scaled.
    X = np.tile(np.random.default_rng(0).standard_normal((20, 1)), (1, 50))
    with pytest.raises(ValueError, match=r"^X: every example \(column\) of the batch is the same"):
        init.lsuv(MLP(dims, hidden="tanh", output=output), X, seed=0)


def test_examples_that_differ_by_rounding_only_are_refused_at_the_first_layer():
    # Distinct columns, but no unit of the 64 varies over them by more than
    # the product's rounding: the layer's block variance is the units'
    # differences, which says nothing about the data
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 1))
    X = x * (1 + 1e-16 * rng.integers(-2, 3, (1, 50)))
    assert not (X == X[:, :1]).all()
    with pytest.raises(ValueError, match=r"layer 1 is constant over the examples of X"):
        init.lsuv(MLP([20, 64, 64, 5], hidden="tanh", output="softmax"), X, seed=0)


@pytest.mark.parametrize("scale", [1e160, 1e-170, 1e-3, 1e3])
def test_any_finite_scale_of_x_reaches_unit_variance(scale):
    # np.var overflowed at rms 1e160 (and underflowed at 1e-170) and the
    # batch was called "constant".
    X = np.random.default_rng(0).standard_normal((20, 64)) * scale
    model = MLP([20, 8, 1], hidden="tanh")
    params = init.lsuv(model, X, seed=0)
    Z1 = params["W1"] @ (X / scale) * scale  # the product, without overflowing
    assert abs(np.var(Z1) - 1.0) < 0.1


def test_an_overflowing_product_names_the_layer():
    X = np.full((50, 4), 1.7e308) * np.array([1, 0.5, -1, 0.25])
    W = init.orthogonal((4, 50), seed=0)  # LSUV's start for seed=0
    with np.errstate(over="ignore"):
        assert not np.isfinite(W @ X).all()  # the premise
    with pytest.raises(ValueError, match="layer 1 overflows"):
        init.lsuv(MLP([50, 4, 1]), X, seed=0)


@pytest.mark.parametrize("bn_epsilon", [1e-5, 1.0])
def test_batch_normalized_layers_scale_the_product_before_the_normalization(bn_epsilon):
    # The variance after batch norm is sigma^2/(sigma^2 + eps): not homogeneous
    # in W, so the old loop crept towards 1 and returned 0.91 with tol=0.05,
    # silently. The linear output before the normalization is homogeneous.
    X = np.random.default_rng(0).standard_normal((20, 256))
    model = MLP([20, 64, 32, 1], batchnorm=True, bn_epsilon=bn_epsilon)
    params = init.lsuv(model, X, seed=0, tol=0.05)
    A = X
    for l in (1, 2):
        U = params[f"W{l}"] @ A
        assert abs(U.var() - 1.0) < 0.05
        mu, var = U.mean(axis=1, keepdims=True), U.var(axis=1, keepdims=True)
        Z = params[f"gamma{l}"] * (U - mu) / np.sqrt(var + bn_epsilon) + params[f"beta{l}"]
        A = np.maximum(Z, 0)
    Z3 = params["W3"] @ A + params["b3"]
    assert abs(Z3.var() - 1.0) < 0.05


def test_a_tol_below_rounding_warns_instead_of_pretending():
    X = np.random.default_rng(0).standard_normal((5, 40))
    with pytest.warns(RuntimeWarning, match=r"not within tol=1e-30 of 1"):
        init.lsuv(MLP([5, 7, 1]), X, seed=0, tol=1e-30, max_iter=2)


def test_lsuv_takes_a_randomstate_as_the_initializers_do():
    X = np.random.default_rng(0).standard_normal((3, 50))
    model = MLP([3, 8, 1])
    a = init.lsuv(model, X, seed=np.random.RandomState(4))
    b = init.lsuv(model, X, seed=np.random.RandomState(4))
    np.testing.assert_array_equal(a["W1"], b["W1"])
