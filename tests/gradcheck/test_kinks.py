"""Kinks inside any f, from the one-sided differences (issue 12)."""

import numpy as np

from fastgrad import check_grad

EPS = 1e-7
W = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1]])


def relu_cost(t):
    return float(np.sum(W @ np.maximum(t, 0.0)))


def relu_grad(t):
    return (W.sum(axis=0)) * (t > 0)  # relu'(0) = 0, a subgradient


def test_relu_kink_is_counted_and_a_correct_gradient_passes():
    # theta[1] = 0.4e-7 lies within epsilon of the kink at 0: the central
    # difference is neither slope, so without kink handling the check fails
    theta = np.array([0.5, 0.4e-7, -0.3])
    g = relu_grad(theta)
    plain = (relu_cost(theta + EPS * np.eye(3)[1]) - relu_cost(theta - EPS * np.eye(3)[1])) / (
        2 * EPS
    )
    assert abs(plain - g[1]) > 0.1  # the premise: the difference is off at the kink
    rep = check_grad(relu_cost, theta, g)
    assert rep.n_kinks == 1
    assert rep.verdict == "great"
    assert rep.difference_all > 1e-3  # kinks included
    assert rep.blocks[0].n_kinks == 1
    assert any("kink of f" in h for h in rep.hints)
    assert "theta *" in str(rep)


def test_kink_with_a_value_outside_the_slopes_fails():
    theta = np.array([0.5, 0.4e-7, -0.3])
    g = relu_grad(theta)
    g[1] = 5.0  # neither slope (0 and 1.3), nor between them
    rep = check_grad(relu_cost, theta, g)
    assert rep.verdict == "bug"
    assert any("not a subgradient" in h and "theta[1]" in h for h in rep.hints)


def test_smooth_function_has_no_kinks():
    theta = np.linspace(-2, 2, 9)
    rep = check_grad(
        lambda t: float(np.sum(np.exp(t) * np.sin(3 * t))),
        theta,
        np.exp(theta) * (np.sin(3 * theta) + 3 * np.cos(3 * theta)),
    )
    assert rep.n_kinks == 0 and rep.verdict == "great"


def test_kinks_in_a_dict_and_in_sampled_mode():
    theta = {"a": np.array([0.2e-7, 1.0]), "b": np.array([[-0.5, 2.0]])}

    def f(t):
        return float(np.sum(np.abs(t["a"])) + np.sum(t["b"] ** 2))

    g = {"a": np.sign(theta["a"]), "b": 2 * theta["b"]}
    for mode in ("full", "sampled"):
        rep = check_grad(f, theta, g, mode=mode, k=5, seed=0)
        assert rep.verdict == "great"
        assert rep.n_kinks == 1
        assert [b.n_kinks for b in rep.blocks] == [1, 0]


class ReluModel:
    """A user's model seen only through cost(params, X, Y)."""

    def cost(self, params, X, Y):
        return float(np.sum(np.maximum(params["W1"] @ X, 0.0) * Y))


def test_kinks_in_gradient_check_on_a_cost_method():
    from fastgrad import gradient_check

    X = np.array([[1.0, 0.5], [2.0, -1.0]])
    Y = np.array([[1.0, 2.0]])
    W = np.array([[0.3, -0.15 + 0.2e-7]])  # W @ X[:, 0] = 0.3*1 - 0.3 + 0.4e-7: near 0
    Z = W @ X
    dW = ((Z > 0) * Y) @ X.T
    rep = gradient_check(ReluModel(), {"W1": W}, {"dW1": dW}, X, Y)
    assert rep.verdict == "great" and rep.n_kinks >= 1
    assert rep.difference_all > 1e-3  # the premise: the kink spoils the plain difference
    assert any("kink of the cost" in h for h in rep.hints)
    bad = gradient_check(ReluModel(), {"W1": W}, {"dW1": dW * 2}, X, Y)
    assert bad.verdict == "bug"
