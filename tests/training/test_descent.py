"""Full-batch gradient descent: against an independent NumPy training loop,
inputs untouched, divergence reported, symmetry of zeros/constant init."""
import numpy as np
import pytest
from scipy.special import expit

from fastgrad.datasets import make_circles, make_elongated
from fastgrad.nn.model import MLP
from fastgrad.training import DivergenceError, TrainResult, gradient_descent


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def reference_gd(params, X, Y, lr, iterations):
    """The course's loop for LINEAR->RELU->LINEAR->SIGMOID, written out."""
    W1, b1, W2, b2 = (params[k].copy() for k in ("W1", "b1", "W2", "b2"))
    m = X.shape[1]
    costs = []
    for _ in range(iterations):
        Z1 = W1 @ X + b1
        A1 = np.maximum(Z1, 0)
        Z2 = W2 @ A1 + b2
        A2 = expit(Z2)
        costs.append(float(-np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))))
        dZ2 = (A2 - Y) / m
        dW2, db2 = dZ2 @ A1.T, dZ2.sum(axis=1, keepdims=True)
        dZ1 = (W2.T @ dZ2) * (Z1 > 0)
        dW1, db1 = dZ1 @ X.T, dZ1.sum(axis=1, keepdims=True)
        W1 -= lr * dW1
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, costs


@pytest.fixture(scope="module")
def circles():
    return make_circles(60, noise=0.1, seed=0)


def test_matches_reference_loop(circles):
    X, Y = circles
    model = MLP([2, 6, 1])
    params = model.init_params("he", seed=3)
    before = {k: v.copy() for k, v in params.items()}
    X0, Y0 = X.copy(), Y.copy()
    result = gradient_descent(model, params, X, Y, learning_rate=0.3, num_iterations=200, record_every=50)
    assert isinstance(result, TrainResult)
    out, costs = result
    expected, ref_costs = reference_gd(params, X, Y.astype(float), 0.3, 200)
    for k in expected:
        np.testing.assert_allclose(out[k], expected[k], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(costs, ref_costs[::50], rtol=1e-12)
    assert len(costs) == 4
    # Inputs untouched, outputs are new arrays.
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
        assert not np.shares_memory(out[k], params[k])
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


def test_zero_iterations_returns_a_copy(circles):
    X, Y = circles
    model = MLP([2, 3, 1])
    params = model.init_params(seed=0)
    out, costs = gradient_descent(model, params, X, Y, learning_rate=0.1, num_iterations=0)
    assert costs == []
    for k in params:
        np.testing.assert_array_equal(out[k], params[k])
        assert out[k] is not params[k]


def test_callback_after_every_iteration_and_early_stop(circles):
    """The one convention: iteration i's callback gets the parameters after
    its update and the cost it computed before it; stopping at i = 7 returns
    the parameters the callback was given, those after 8 updates."""
    X, Y = circles
    model = MLP([2, 4, 1])
    params = model.init_params(seed=1)
    seen = []

    def callback(i, p, cost):
        seen.append((i, cost, {k: v.copy() for k, v in p.items()}))
        return i == 7

    out, costs = gradient_descent(model, params, X, Y, learning_rate=0.5, num_iterations=100,
                                  record_every=3, callback=callback)
    assert [i for i, _, _ in seen] == list(range(8))
    assert costs == [c for i, c, _ in seen if i % 3 == 0]
    ref_after_4, _ = reference_gd(params, X, Y.astype(float), 0.5, 4)
    ref_after_8, ref_costs = reference_gd(params, X, Y.astype(float), 0.5, 8)
    np.testing.assert_allclose([c for _, c, _ in seen], ref_costs, rtol=1e-12)
    for k in out:
        np.testing.assert_allclose(out[k], ref_after_8[k], rtol=1e-10, atol=1e-13)
        np.testing.assert_array_equal(seen[-1][2][k], out[k])
        np.testing.assert_allclose(seen[3][2][k], ref_after_4[k], rtol=1e-10, atol=1e-13)


def test_divergence_names_iteration_and_suggests_smaller_rate():
    X, Y = make_elongated(100, seed=0)
    model = MLP([2, 1], output="linear")
    params = model.init_params("zeros")
    with pytest.raises(DivergenceError) as info:
        gradient_descent(model, params, X, Y, learning_rate=0.1, num_iterations=10_000)
    msg = str(info.value)
    assert f"iteration {info.value.iteration}" in msg
    assert "smaller" in msg and "0.1" in msg
    assert 0 < info.value.iteration < 10_000
    assert isinstance(info.value, FloatingPointError)
    # The same run is fine with a learning rate below 2/λ_max.
    A = np.vstack([X, np.ones((1, 100))])
    lr = 1.0 / np.linalg.eigvalsh(A @ A.T / 100).max()
    _, costs = gradient_descent(model, params, X, Y, learning_rate=lr, num_iterations=50, record_every=1)
    assert np.all(np.diff(costs) <= 0)


@pytest.mark.parametrize("kwargs, exc, word", [
    ({"learning_rate": 0.0}, ValueError, "learning_rate"),
    ({"learning_rate": -1.0}, ValueError, "learning_rate"),
    ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
    ({"learning_rate": "0.1"}, TypeError, "learning_rate"),
    ({"num_iterations": -1}, ValueError, "num_iterations"),
    ({"num_iterations": 2.0}, TypeError, "num_iterations"),
    ({"record_every": 0}, ValueError, "record_every"),
    ({"callback": 3}, TypeError, "callback"),
])
def test_bad_arguments(circles, kwargs, exc, word):
    X, Y = circles
    model = MLP([2, 3, 1])
    args = {"learning_rate": 0.1, "num_iterations": 5} | kwargs
    with pytest.raises(exc, match=word):
        gradient_descent(model, model.init_params(seed=0), X, Y, **args)
    with pytest.raises(TypeError, match="model"):
        gradient_descent(object(), {}, X, Y, learning_rate=0.1, num_iterations=1)


def test_zeros_never_break_symmetry(circles):
    """Zeros: every hidden unit identical (here all exactly 0) after training;
    the cost stays at ln 2 for balanced labels."""
    X, Y = circles
    model = MLP([2, 10, 5, 1])
    out, costs = gradient_descent(model, model.init_params("zeros"), X, Y,
                                  learning_rate=0.5, num_iterations=300, record_every=100)
    for l in (1, 2):
        W = out[f"W{l}"]
        np.testing.assert_array_equal(W, np.broadcast_to(W[:1], W.shape))
    np.testing.assert_allclose(costs, np.log(2), rtol=1e-12)
    assert np.mean(model.predict(out, X) == Y) == pytest.approx(np.mean(Y == 0))


def test_constant_init_keeps_units_identical(circles):
    """The symmetry argument with non-zero equal weights: units of a layer
    start equal, get equal gradients, so stay equal — training moves them,
    but never apart."""
    X, Y = circles
    model = MLP([2, 6, 4, 1], hidden="tanh")
    params = {k: np.full(s, 0.3) for k, s in model.param_shapes().items()}
    out, costs = gradient_descent(model, params, X, Y, learning_rate=1.0, num_iterations=300)
    assert not np.allclose(out["W1"], 0.3)            # it did train
    for key in ("W1", "b1", "W2", "b2"):
        v = out[key]
        np.testing.assert_allclose(v, np.broadcast_to(v[:1], v.shape), rtol=1e-12, atol=1e-15)
    # ... and the identical units make it no better than one unit per layer.
    one = MLP([2, 1, 1, 1], hidden="tanh")
    small = {"W1": np.full((1, 2), 0.3), "b1": np.full((1, 1), 0.3),
             "W2": np.full((1, 1), 0.3 * 6), "b2": np.full((1, 1), 0.3),
             "W3": np.full((1, 1), 0.3 * 4), "b3": np.full((1, 1), 0.3)}
    assert model.cost(params, X, Y) == pytest.approx(one.cost(small, X, Y), rel=1e-12)


def test_batch_norm_running_statistics_follow_every_iteration(circles):
    """gradient_descent is fit's loop, so (unlike before it was) it updates the
    batch-norm running statistics each iteration, from the batch's Z1 at the
    parameters of that iteration: running = 0.9·running + 0.1·batch."""
    X, Y = circles
    model = MLP([2, 5, 1], batchnorm=[1])
    params = model.init_params(seed=2)
    thetas = [params]
    gradient_descent(model, params, X, Y, learning_rate=0.1, num_iterations=3,
                     callback=lambda i, p, cost: thetas.append({k: v.copy() for k, v in p.items()}))
    mean, var = np.zeros((5, 1)), np.ones((5, 1))
    for theta in thetas[:3]:
        Z1 = theta["W1"] @ X                       # a batch-normalized layer has no b1
        mean = 0.9 * mean + 0.1 * Z1.mean(axis=1, keepdims=True)
        var = 0.9 * var + 0.1 * Z1.var(axis=1, keepdims=True)
    np.testing.assert_allclose(model.running_mean[1], mean, rtol=1e-12)
    np.testing.assert_allclose(model.running_var[1], var, rtol=1e-12)


def test_divergence_message_is_the_loops_with_iteration_for_epoch():
    X, Y = make_elongated(100, seed=0)
    model = MLP([2, 1], output="linear")
    with pytest.raises(DivergenceError,
                       match=r"^training diverged in iteration \d+: .*learning rate 0\.1 is "
                             r"probably too large; try a smaller one \(e\.g\. 0\.01\)"):
        gradient_descent(model, model.init_params("zeros"), X, Y, learning_rate=0.1,
                         num_iterations=10_000)
