"""fastgrad.nn.passes: the forward pass against an independent NumPy network
(hidden tanh/relu, dropout scales, batch norm in both modes), and the
backward pass against central differences of an independent NumPy cost."""
import numpy as np
import pytest
from scipy.special import expit

from fastgrad.nn import passes
from fastgrad.nn.model import MLP

G = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh}


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 10))
    Y = (rng.random((1, 10)) < 0.5).astype(float)
    return X, Y


def numpy_forward(params, X, hidden, scales=None, bn=(), stats=None, eps=1e-5):
    """[3, 5, 4, 1] with sigmoid output, written out."""
    A, Zs = X, []
    for l in (1, 2, 3):
        U = params[f"W{l}"] @ A
        if l in bn:
            mu, var = stats[l] if stats else (U.mean(axis=1, keepdims=True), U.var(axis=1, keepdims=True))
            Z = params[f"gamma{l}"] * (U - mu) / np.sqrt(var + eps) + params[f"beta{l}"]
        else:
            Z = U + params[f"b{l}"]
        Zs.append(Z)
        A = expit(Z) if l == 3 else G[hidden](Z) * (scales[l] if scales and l in scales else 1.0)
    return Zs, A


def numpy_cost(params, X, Y, hidden, l2, scales=None, bn=()):
    _, A = numpy_forward(params, X, hidden, scales, bn)
    m = Y.shape[1]
    bce = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    return bce + l2 / (2 * m) * sum(np.sum(params[f"W{l}"] ** 2) for l in (1, 2, 3))


CASES = [
    ("tanh", 0.0, None, ()),
    ("relu", 0.4, None, ()),
    ("tanh", 0.0, {1: 1.25, 2: 2.0}, ()),
    ("tanh", 0.3, None, (1, 2)),
]


def make(hidden, l2, bn, seed=1):
    model = MLP([3, 5, 4, 1], hidden=hidden, l2=l2, batchnorm=list(bn))
    params = model.init_params("xavier", seed=seed)
    rng = np.random.default_rng(seed)
    for l in bn:  # away from γ = 1, β = 0 so that both matter
        params[f"gamma{l}"] = rng.uniform(0.5, 1.5, params[f"gamma{l}"].shape)
        params[f"beta{l}"] = rng.standard_normal(params[f"beta{l}"].shape) * 0.3
    return model, params


def dropout_scales(scales, shape_for):
    """Per-unit dropout factors (0 or 1/keep_prob), fixed for the test."""
    if scales is None:
        return None
    rng = np.random.default_rng(9)
    return {l: (rng.random(shape_for(l)) < 0.7) * s for l, s in scales.items()}


@pytest.mark.parametrize("hidden, l2, scales, bn", CASES)
def test_forward_matches_numpy(data, hidden, l2, scales, bn):
    X, Y = data
    model, params = make(hidden, l2, bn)
    sc = dropout_scales(scales, lambda l: (model.layer_dims[l], X.shape[1]))
    cache = passes.forward(model, params, X, scales=sc)
    Zs, A = numpy_forward(params, X, hidden, sc, bn)
    for l in (1, 2, 3):
        np.testing.assert_allclose(cache.Z[l], Zs[l - 1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cache.A[3], A, rtol=1e-12)
    assert cache.A[0] is X


def test_inference_forward_uses_running_statistics_and_no_dropout(data):
    X, _ = data
    model = MLP([3, 5, 4, 1], hidden="tanh", keep_prob=0.5, batchnorm=[1])
    params = model.init_params(seed=0)
    model.running_mean[1] = np.linspace(-1, 1, 5)[:, None]
    model.running_var[1] = np.linspace(0.5, 2, 5)[:, None]
    sc = {1: np.zeros((5, X.shape[1])), 2: np.zeros((4, X.shape[1]))}   # would drop everything
    cache = passes.forward(model, params, X, scales=sc, training=False)
    stats = {1: (model.running_mean[1], model.running_var[1])}
    Zs, A = numpy_forward(params, X, "tanh", None, (1,), stats)
    np.testing.assert_allclose(cache.A[3], A, rtol=1e-12)


@pytest.mark.parametrize("hidden, l2, scales, bn", CASES)
def test_backward_matches_central_differences_of_a_numpy_cost(data, hidden, l2, scales, bn):
    X, Y = data
    model, params = make(hidden, l2, bn)
    sc = dropout_scales(scales, lambda l: (model.layer_dims[l], X.shape[1]))
    grads, deltas = passes.backward(model, params, passes.forward(model, params, X, scales=sc), Y, sc)
    assert list(grads) == ["d" + k for k in params]            # θ's order
    for key, value in params.items():
        num = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            h = 1e-6
            up = {**params, key: value.copy()}
            down = {**params, key: value.copy()}
            up[key][idx] += h
            down[key][idx] -= h
            num[idx] = (numpy_cost(up, X, Y, hidden, l2, sc, bn)
                        - numpy_cost(down, X, Y, hidden, l2, sc, bn)) / (2 * h)
        np.testing.assert_allclose(grads["d" + key], num, rtol=1e-5, atol=1e-8, err_msg=key)
    # The output layer's delta is (A − Y)/m for sigmoid + cross-entropy.
    Zs, A = numpy_forward(params, X, hidden, sc, bn)
    np.testing.assert_allclose(deltas[3], (A - Y) / X.shape[1], rtol=1e-12, atol=1e-15)
