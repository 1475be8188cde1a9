"""Bad arguments to fastgrad.diagnose and fastgrad.train: a clear error
naming the argument; inputs never written."""
import numpy as np
import pytest

from fastgrad import MLP, diagnose, train
from fastgrad.diagnostics import deep_linear_example

NAN, INF = float("nan"), float("inf")


def snapshot(*arrays):
    return [(a.shape, a.dtype, a.tobytes()) for a in arrays]


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    model = MLP([2, 6, 1])
    params = model.init_params("he", seed=0)
    X = rng.standard_normal((2, 20))
    Y = (rng.random((1, 20)) < 0.5).astype(float)
    return model, params, X, Y


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(threshold=1), ValueError, r"threshold must be a finite number > 1, got 1"),
    (dict(threshold=0.5), ValueError, r"threshold"),
    (dict(threshold=NAN), ValueError, r"threshold"),
    (dict(threshold=INF), ValueError, r"threshold"),
    (dict(threshold=True), TypeError, r"threshold must be a real number, got True"),
    (dict(threshold="100"), TypeError, r"threshold must be a real number"),
    (dict(saturation_tol=0), ValueError, r"saturation_tol must be a finite number in \(0, 0.5\)"),
    (dict(saturation_tol=0.5), ValueError, r"saturation_tol"),
    (dict(saturation_tol=NAN), ValueError, r"saturation_tol"),
    (dict(saturation_tol=False), TypeError, r"saturation_tol must be a real number"),
])
def test_diagnose_bad_options(problem, kwargs, exc, match):
    model, params, X, Y = problem
    with pytest.raises(exc, match=match):
        diagnose(model, params, X, Y, **kwargs)


def test_diagnose_bad_model_and_data(problem):
    model, params, X, Y = problem
    with pytest.raises(TypeError, match=r"model must be a fastgrad.MLP, got \[2, 6, 1\]"):
        diagnose([2, 6, 1], params, X, Y)
    with pytest.raises(TypeError, match=r"X is a numpy masked array"):
        diagnose(model, params, np.ma.masked_array(X), Y)
    with pytest.raises(TypeError, match=r"Y is a numpy masked array"):
        diagnose(model, params, X, np.ma.masked_array(Y))
    with pytest.raises(ValueError, match=r"X contains NaN"):
        diagnose(model, params, X * np.nan, Y)
    with pytest.raises(ValueError, match=r"X must have shape"):
        diagnose(model, params, X.T, Y)
    with pytest.raises(ValueError, match=r"X is all zeros"):
        diagnose(model, params, np.zeros_like(X), Y)


def test_diagnose_does_not_write(problem):
    model, params, X, Y = problem
    before = snapshot(X, Y, *params.values())
    ro = {k: v.copy() for k, v in params.items()}
    Xr, Yr = X.copy(), Y.copy()
    for a in (*ro.values(), Xr, Yr):
        a.flags.writeable = False
    d = diagnose(model, ro, Xr, Yr)
    assert snapshot(X, Y, *params.values()) == before
    # forward scale of layer 1 = rms(Z1)/rms(X), computed here with plain NumPy
    Z1 = params["W1"] @ X + params["b1"]
    assert d.forward_scales[0] == pytest.approx(np.sqrt(np.mean(Z1**2) / np.mean(X**2)), rel=1e-12)


@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((0,), {}, ValueError, r"n_layers must be an int >= 1, got 0"),
    ((True,), {}, TypeError, r"n_layers must be an int, got True"),
    ((2.0,), {}, TypeError, r"n_layers must be an int"),
    ((3,), dict(width=0), ValueError, r"width must be an int >= 1"),
    ((3,), dict(width="2"), TypeError, r"width must be an int"),
    ((3,), dict(weight=NAN), ValueError, r"weight must be a finite number"),
    ((3,), dict(weight="1.5"), TypeError, r"weight must be a real number"),
    ((3,), dict(weight=True), TypeError, r"weight must be a real number"),
])
def test_deep_linear_example_bad(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        deep_linear_example(*args, **kwargs)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(learning_rate=0), ValueError, r"learning_rate must be a finite number > 0, got 0"),
    (dict(learning_rate=-0.1), ValueError, r"learning_rate"),
    (dict(learning_rate=NAN), ValueError, r"learning_rate"),
    (dict(learning_rate=INF), ValueError, r"learning_rate"),
    (dict(learning_rate=True), TypeError, r"learning_rate must be a real number, got True"),
    (dict(learning_rate="0.1"), TypeError, r"learning_rate must be a real number"),
    (dict(learning_rate=None), TypeError, r"learning_rate"),
    (dict(num_iterations=-1), ValueError, r"num_iterations must be an int >= 0"),
    (dict(num_iterations=10.0), TypeError, r"num_iterations must be an int, got 10.0"),
    (dict(num_iterations=True), TypeError, r"num_iterations must be an int"),
    (dict(record_every=0), ValueError, r"record_every must be an int >= 1"),
    (dict(record_every="1"), TypeError, r"record_every must be an int"),
    (dict(callback=3), TypeError, r"callback must be callable"),
])
def test_gradient_descent_bad(problem, kwargs, exc, match):
    model, params, X, Y = problem
    args = dict(learning_rate=0.1, num_iterations=5)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        train.gradient_descent(model, params, X, Y, **args)


def test_gradient_descent_bad_model_and_data(problem):
    model, params, X, Y = problem
    with pytest.raises(TypeError, match=r"model must be a fastgrad.MLP"):
        train.gradient_descent(object(), params, X, Y, learning_rate=0.1, num_iterations=1)
    with pytest.raises(TypeError, match=r"X is a numpy masked array"):
        train.gradient_descent(model, params, np.ma.masked_array(X), Y, learning_rate=0.1,
                               num_iterations=1)
    with pytest.raises(TypeError, match=r"params must be a dict"):
        train.gradient_descent(model, list(params.values()), X, Y, learning_rate=0.1,
                               num_iterations=1)


def test_gradient_descent_does_not_write(problem):
    model, params, X, Y = problem
    before = snapshot(X, Y, *params.values())
    ro = {k: v.copy() for k, v in params.items()}
    Xr, Yr = X.copy(), Y.copy()
    for a in (*ro.values(), Xr, Yr):
        a.flags.writeable = False
    result = train.gradient_descent(model, ro, Xr, Yr, learning_rate=0.1, num_iterations=3)
    assert snapshot(X, Y, *params.values()) == before
    # three plain gradient steps with the reference backprop, done here
    p = {k: v.copy() for k, v in params.items()}
    for _ in range(3):
        g = model.backward(p, X, Y)
        p = {k: v - 0.1 * g["d" + k] for k, v in p.items()}
    for k in p:
        np.testing.assert_allclose(result.params[k], p[k], rtol=1e-14, atol=1e-16)
