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
    with pytest.raises(ValueError, match="constant"):
        init.lsuv(model, np.ones((3, 50)) * 0.0)
    with pytest.raises(ValueError, match="at least 2"):
        init.lsuv(model, X[:, :1])
    with pytest.raises(ValueError, match="X"):
        init.lsuv(model, X.T)
    with pytest.raises(TypeError, match="model"):
        init.lsuv("mlp", X)
    with pytest.raises(ValueError, match="max_iter"):
        init.lsuv(model, X, max_iter=0)
