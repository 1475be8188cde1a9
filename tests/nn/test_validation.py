"""Bad input gets a clear error naming the argument and the shapes."""
import numpy as np
import pytest

from fastgrad import MLP, check_grad, gradient_check


@pytest.fixture
def case(ref):
    dims = [3, 4, 2]
    params, X, Y = ref.problem(dims, 5, seed=0)
    model = MLP(dims)
    return model, params, model.backward(params, X, Y), X, Y


def test_missing_and_extra_gradient_keys(case):
    model, params, grads, X, Y = case
    g = dict(grads)
    del g["db2"]
    with pytest.raises(KeyError, match="missing.*db2"):
        gradient_check(model, params, g, X, Y)
    g = dict(grads, dW3=np.zeros((1, 1)))
    with pytest.raises(KeyError, match="unexpected.*dW3"):
        gradient_check(model, params, g, X, Y)
    p = dict(params)
    del p["W1"]
    with pytest.raises(KeyError, match="params.*missing.*W1"):
        gradient_check(model, p, grads, X, Y)


def test_shape_mismatch_and_transposed_gradient(case):
    model, params, grads, X, Y = case
    g = dict(grads, dW1=grads["dW1"].T)
    with pytest.raises(ValueError, match=r"dW1.*\(3, 4\).*expected \(4, 3\).*transposed"):
        gradient_check(model, params, g, X, Y)
    g = dict(grads, dW2=np.zeros((2, 5)))
    with pytest.raises(ValueError, match="dW2"):
        gradient_check(model, params, g, X, Y)
    with pytest.raises(ValueError, match=r"X must have shape \(n_x=3, m\)"):
        gradient_check(model, params, grads, X.T, Y)
    with pytest.raises(ValueError, match=r"Y must have shape \(n_L=2, m=5\)"):
        gradient_check(model, params, grads, X, Y[:, :4])


@pytest.mark.parametrize("where", ["params", "grads", "X", "Y"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_are_refused(case, where, bad):
    model, params, grads, X, Y = case
    params = {k: v.copy() for k, v in params.items()}
    grads = {k: v.copy() for k, v in grads.items()}
    X, Y = X.copy(), Y.copy()
    target = {"params": params["W2"], "grads": grads["db1"], "X": X, "Y": Y}[where]
    target.flat[1 % target.size] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        gradient_check(model, params, grads, X, Y)


def test_float32_is_upcast_with_a_warning(case, ref):
    model, params, grads, X, Y = case
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    with pytest.warns(UserWarning, match="float64"):
        report = gradient_check(model, p32, grads, X.astype(np.float32), Y)
    p64 = {k: v.astype(np.float64) for k, v in p32.items()}
    expected = gradient_check(model, p64, grads, X.astype(np.float32).astype(np.float64), Y)
    assert np.array_equal(report.numerical["dW1"], expected.numerical["dW1"])


def test_wrong_dtypes_and_types(case):
    model, params, grads, X, Y = case
    with pytest.raises(TypeError, match="X must hold real numbers"):
        gradient_check(model, params, grads, X.astype(str), Y)
    with pytest.raises(TypeError, match="params must be a dict"):
        gradient_check(model, [1, 2], grads, X, Y)
    with pytest.raises(TypeError, match="model must be"):
        gradient_check(object(), params, grads, X, Y)


def test_empty_x_and_bad_options(case):
    model, params, grads, X, Y = case
    with pytest.raises(ValueError, match="no examples"):
        gradient_check(model, params, grads, X[:, :0], Y[:, :0])
    for eps in (0, -1e-7, np.nan):
        with pytest.raises(ValueError, match="epsilon"):
            gradient_check(model, params, grads, X, Y, epsilon=eps)
    with pytest.raises(ValueError, match="mode"):
        gradient_check(model, params, grads, X, Y, mode="fast")
    with pytest.raises(ValueError, match="n_threads"):
        gradient_check(model, params, grads, X, Y, n_threads=0)
    with pytest.raises(ValueError, match="k must be"):
        gradient_check(model, params, grads, X, Y, mode="sampled", k=0)
    with pytest.raises(ValueError, match="thresholds"):
        gradient_check(model, params, grads, X, Y, thresholds=(1e-3, 1e-6))


def test_model_construction_errors():
    with pytest.raises(ValueError, match="unknown hidden activation 'relu6'.*relu, leaky_relu"):
        MLP([2, 3, 1], hidden="relu6")
    with pytest.raises(ValueError, match="hidden has 1 activations but layer_dims has 2"):
        MLP([2, 3, 3, 1], hidden=["relu"])
    with pytest.raises(ValueError, match="output"):
        MLP([2, 3, 1], output="tanh")
    with pytest.raises(ValueError, match="l2"):
        MLP([2, 3, 1], l2=-1)
    with pytest.raises(ValueError, match="layer_dims"):
        MLP([2])
    with pytest.raises(ValueError, match="softmax output needs at least 2"):
        MLP([2, 3, 1], output="softmax")


def test_check_grad_shape_errors():
    with pytest.raises(ValueError, match=r"grad has shape \(3, 2\), expected \(2, 3\).*transposed"):
        check_grad(lambda t: float(np.sum(t)), np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(TypeError, match="real number"):
        check_grad(lambda t: "x", np.ones(2), np.ones(2))
