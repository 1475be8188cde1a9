"""θ flattening in the course's order, and the course drop-ins."""
import numpy as np
import pytest

from fastgrad import MLP, course, params_to_vector, vector_to_params


def course_dictionary_to_vector(parameters):
    """The assignment's own helper, verbatim in spirit (fixed key list)."""
    keys, count = [], 0
    for key in ["W1", "b1", "W2", "b2", "W3", "b3"]:
        new_vector = np.reshape(parameters[key], (-1, 1))
        keys = keys + [key] * new_vector.shape[0]
        theta = new_vector if count == 0 else np.concatenate((theta, new_vector), axis=0)
        count += 1
    return theta, keys


def test_order_matches_the_course():
    X, Y, params = course.gradient_check_n_test_case()
    shuffled = {k: params[k] for k in ["b3", "W2", "W1", "b1", "W3", "b2"]}
    theta_ref, keys_ref = course_dictionary_to_vector(params)
    assert np.array_equal(params_to_vector(shuffled), theta_ref[:, 0])
    theta, keys = course.dictionary_to_vector(shuffled)
    assert theta.shape == (47, 1) and keys == keys_ref
    back = course.vector_to_dictionary(theta)
    for k in params:
        assert np.array_equal(back[k], params[k])


def test_vector_to_params_gives_views_any_depth(ref):
    params, _, _ = ref.problem([3, 4, 5, 6, 2], 2)
    theta = params_to_vector(params)
    views = vector_to_params(theta, params)
    for k in params:
        assert np.array_equal(views[k], params[k])
    views["W3"][0, 0] = 42.0
    assert 42.0 in theta
    grads = vector_to_params(theta, params, prefix="d")
    assert set(grads) == {"d" + k for k in params}
    assert np.array_equal(course.gradients_to_vector(dict(grads, dZ1=0, dA2=0))[:, 0], theta)
    with pytest.raises(ValueError, match="theta has 3 entries"):
        vector_to_params(np.zeros(3), params)
    with pytest.raises(ValueError, match="needs like="):
        course.vector_to_dictionary(np.zeros(10))


def test_course_forward_matches_the_model():
    X, Y, params = course.gradient_check_n_test_case()
    cost, _ = course.forward_propagation_n(X, Y, params)
    assert course.model_for(params).cost(params, X, Y) == pytest.approx(cost, rel=1e-12)


def test_model_cost_and_forward_against_plain_numpy(ref):
    dims = [4, 6, 3]
    params, X, Y = ref.problem(dims, 7, output="softmax", seed=3)
    model = MLP(dims, hidden="tanh", output="softmax", l2=0.5)
    Z1 = params["W1"] @ X + params["b1"]
    Z2 = params["W2"] @ np.tanh(Z1) + params["b2"]
    P = np.exp(Z2) / np.exp(Z2).sum(axis=0)
    expected = -np.sum(Y * np.log(P)) / 7 + 0.5 / 14 * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    assert model.cost(params, X, Y) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(model.forward(params, X), P, rtol=1e-12)
    labels = np.argmax(Y, axis=0)
    assert model.cost(params, X, labels) == pytest.approx(expected, rel=1e-12)
    assert np.array_equal(model.predict(params, X), np.argmax(P, axis=0))


def test_bce_is_stable_for_saturated_logits():
    model = MLP([1, 1], output="sigmoid")
    params = {"W1": np.array([[1.0]]), "b1": np.array([[0.0]])}
    X = np.array([[800.0, -800.0]])
    Y = np.array([[0.0, 1.0]])
    assert model.cost(params, X, Y) == pytest.approx(800.0)


@pytest.mark.parametrize("x, theta, eps", [(2, 4, 1e-7), (-3.5, 0.25, 1e-7), (2, 4, 1e-3)])
def test_the_one_dimensional_warm_up_gives_the_assignments_arithmetic(x, theta, eps, capsys):
    # the notebook's own loop, written out: J(θ) = θx, dJ/dθ = x
    j_plus, j_minus = (theta + eps) * x, (theta - eps) * x
    approx = (j_plus - j_minus) / (2 * eps)
    expected = np.linalg.norm(x - approx) / (np.linalg.norm(x) + np.linalg.norm(approx))
    assert course.gradient_check(x, theta, eps, True) == expected
    assert f"works perfectly fine! difference = {expected}" in capsys.readouterr().out


@pytest.mark.parametrize("args, exc, words", [
    (("2", 4), TypeError, "x must be a real number"),
    ((2, [1.0, 2.0]), ValueError, "theta must be one number"),
    ((2, np.inf), ValueError, "theta must be finite"),
    ((2, 4, 0.0), ValueError, "epsilon must be > 0"),
    ((True, 4), TypeError, "x must be a real number"),
])
def test_the_warm_up_refuses_what_is_not_one_number(args, exc, words):
    with pytest.raises(exc, match=words):
        course.gradient_check(*args)
