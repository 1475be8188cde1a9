"""course.gradient_check_n with the student's own forward pass (issue 12)."""

import numpy as np
import pytest

from fastgrad import course


def student_forward(X, Y, parameters):
    """A student's network that is not the assignment's: tanh hidden layers."""
    m = X.shape[1]
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    Z1 = W1 @ X + b1
    A1 = np.tanh(Z1)
    Z2 = W2 @ A1 + b2
    A2 = np.tanh(Z2)
    Z3 = W3 @ A2 + b3
    A3 = 1 / (1 + np.exp(-Z3))
    cost = 1.0 / m * np.sum(-Y * np.log(A3) - (1 - Y) * np.log(1 - A3))
    return cost, (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)


def student_backward(X, Y, cache, dw2_factor=1.0):
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    m = X.shape[1]
    dZ3 = A3 - Y
    dW3 = dZ3 @ A2.T / m
    db3 = dZ3.sum(axis=1, keepdims=True) / m
    dZ2 = (W3.T @ dZ3) * (1 - A2**2)
    dW2 = dZ2 @ A1.T / m * dw2_factor
    db2 = dZ2.sum(axis=1, keepdims=True) / m
    dZ1 = (W2.T @ dZ2) * (1 - A1**2)
    dW1 = dZ1 @ X.T / m
    db1 = dZ1.sum(axis=1, keepdims=True) / m
    return {
        "dZ3": dZ3,
        "dW3": dW3,
        "db3": db3,
        "dZ2": dZ2,
        "dW2": dW2,
        "db2": db2,
        "dZ1": dZ1,
        "dW1": dW1,
        "db1": db1,
    }


def reference_difference(parameters, gradients, X, Y, eps=1e-7):
    """The assignment's own loop, written out independently."""
    keys = ["W1", "b1", "W2", "b2", "W3", "b3"]
    theta = np.concatenate([parameters[k].ravel() for k in keys])
    grad = np.concatenate([gradients["d" + k].ravel() for k in keys])

    def J(t):
        p, i = {}, 0
        for k in keys:
            n = parameters[k].size
            p[k] = t[i : i + n].reshape(parameters[k].shape)
            i += n
        return student_forward(X, Y, p)[0]

    approx = np.zeros_like(theta)
    for i in range(theta.size):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += eps
        tm[i] -= eps
        approx[i] = (J(tp) - J(tm)) / (2 * eps)
    return np.linalg.norm(grad - approx) / (np.linalg.norm(grad) + np.linalg.norm(approx))


def test_correct_tanh_backprop_is_great_with_forward():
    X, Y, parameters = course.gradient_check_n_test_case()
    before = {k: v.tobytes() for k, v in parameters.items()}
    _, cache = student_forward(X, Y, parameters)
    grads = student_backward(X, Y, cache)
    d = course.gradient_check_n(parameters, grads, X, Y, forward=student_forward)
    assert d < 1e-6
    ref = reference_difference(parameters, grads, X, Y)
    assert ref < 1e-6  # the student's own loop agrees
    # without forward= the assignment's relu network is assumed: a correct
    # tanh backprop does not match it
    assert course.gradient_check_n(parameters, grads, X, Y) > 1e-3
    assert {k: v.tobytes() for k, v in parameters.items()} == before


def test_doubled_dw2_is_flagged_with_forward(capsys):
    X, Y, parameters = course.gradient_check_n_test_case()
    _, cache = student_forward(X, Y, parameters)
    grads = student_backward(X, Y, cache, dw2_factor=2.0)
    d = course.gradient_check_n(parameters, grads, X, Y, forward=student_forward, print_msg=True)
    np.testing.assert_allclose(d, reference_difference(parameters, grads, X, Y), rtol=1e-5)
    out = capsys.readouterr().out
    assert "There is a mistake in the backward propagation!" in out
    assert "look at the backprop of: dW2" in out
    assert "dW2 is 2.00x the numerical gradient" in out
    assert "assumed" not in out


def test_without_forward_the_message_says_which_network_and_suggests_forward(capsys):
    X, Y, parameters = course.gradient_check_n_test_case()
    _, cache = student_forward(X, Y, parameters)
    grads = student_backward(X, Y, cache)
    course.gradient_check_n(parameters, grads, X, Y, print_msg=True)
    out = capsys.readouterr().out
    assert "assumed the assignment's network" in out and "RELU" in out
    assert "forward=forward_propagation_n" in out


def test_the_assignment_forward_works_as_forward():
    X, Y, parameters = course.gradient_check_n_test_case()
    cost, cache = course.forward_propagation_n(X, Y, parameters)
    grads = course.backward_propagation_n(X, Y, cache, bugs=False)
    d_own = course.gradient_check_n(parameters, grads, X, Y, forward=course.forward_propagation_n)
    assert d_own < 1e-6


def test_forward_must_be_callable_and_gradients_complete():
    X, Y, parameters = course.gradient_check_n_test_case()
    _, cache = student_forward(X, Y, parameters)
    grads = student_backward(X, Y, cache)
    with pytest.raises(TypeError, match="forward must be"):
        course.gradient_check_n(parameters, grads, X, Y, forward="forward_propagation_n")
    del grads["db2"]
    with pytest.raises(ValueError, match="db2"):
        course.gradient_check_n(parameters, grads, X, Y, forward=student_forward)


def test_a_float32_forward_is_judged_by_the_float32_band(capsys):
    # the course's 2e-7 is below float32's resolution: a correct float32
    # backprop was told "There is a mistake" above fastgrad's own GREAT
    X, Y, parameters = course.gradient_check_n_test_case()
    _, cache = student_forward(X, Y, parameters)
    grads = {k: v.astype(np.float32) for k, v in student_backward(X, Y, cache).items()}

    def forward32(X, Y, p):
        cost, cache = student_forward(X, Y, p)
        return np.float32(cost), cache

    d = course.gradient_check_n(parameters, grads, X, Y, forward=forward32, print_msg=True)
    out = capsys.readouterr().out
    assert 2e-7 < d < 1e-3
    assert "works perfectly fine" in out and "a float32 check" in out and "GREAT" in out
    bad = dict(grads, dW2=2 * grads["dW2"])
    course.gradient_check_n(parameters, bad, X, Y, forward=forward32, print_msg=True)
    assert "There is a mistake" in capsys.readouterr().out


def test_messages_name_the_students_forward():
    X, Y, parameters = course.gradient_check_n_test_case()

    def forward_propagation_n(X, Y, p):
        return float("nan"), None

    with pytest.raises(ValueError, match=r"^your forward \(forward_propagation_n\) returned nan"):
        course.gradient_check_n(parameters, {"d" + k: v for k, v in parameters.items()}, X, Y,
                                forward=forward_propagation_n)


def test_a_network_without_biases_has_a_gradient_vector():
    g = {"dW1": np.arange(6.0).reshape(3, 2), "dW2": np.array([[7.0, 8.0, 9.0]])}
    v = course.gradients_to_vector(g)
    np.testing.assert_array_equal(v.ravel(), [0.0, 1, 2, 3, 4, 5, 7, 8, 9])


def test_a_float32_check_says_inconclusive_in_its_check_band(capsys):
    # a float32 forward whose difference falls between fastgrad's float32
    # bands (1e-3, 1e-2) is no proof of a mistake: the message says so
    X, Y, parameters = course.gradient_check_n_test_case()
    _, cache = student_forward(X, Y, parameters)
    grads = student_backward(X, Y, cache)
    off = dict(grads, dW1=grads["dW1"] * 1.01)  # 1% off: ~0.005 with float32 noise

    def forward32(X, Y, p):
        cost, cache = student_forward(X, Y, p)
        return np.float32(cost), cache

    d = course.gradient_check_n(parameters, off, X, Y, forward=forward32, print_msg=True)
    out = capsys.readouterr().out
    assert 1e-3 <= d < 1e-2, d
    assert "works perfectly fine" in out and "inconclusive in float32" in out


def test_regularized_gradients_checked_against_the_assumed_network_are_named_l2(capsys):
    # the Regularization assignment's backprop (lambd = 0.7) through the
    # drop-in gradient_check_n without forward=: a − n is (0.7/m)·W in every
    # dW block, so the message names the L2 term and what to pass
    X, Y, parameters = course.gradient_check_n_test_case()
    lambd, m = 0.7, X.shape[1]
    _, cache = course.forward_propagation_n(X, Y, parameters)
    grads = course.backward_propagation_n(X, Y, cache, bugs=False)
    for l in (1, 2, 3):
        grads[f"dW{l}"] = grads[f"dW{l}"] + lambd / m * parameters[f"W{l}"]
    course.gradient_check_n(parameters, grads, X, Y, print_msg=True)
    out = capsys.readouterr().out
    assert "hold an L2 term" in out and "forward=" in out
    assert "dW1 holds an L2 term (lambda/m)*W1 with lambda = 0.7" in out

    def regularized(X, Y, parameters):
        cost, cache = course.forward_propagation_n(X, Y, parameters)
        l2 = lambd / (2 * m) * sum(np.sum(np.square(parameters[f"W{l}"])) for l in (1, 2, 3))
        return cost + l2, cache

    assert course.gradient_check_n(parameters, grads, X, Y, forward=regularized) < 2e-7
