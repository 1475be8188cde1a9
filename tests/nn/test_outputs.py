"""Softmax cross-entropy with targets whose columns do not sum to 1.

fastgrad's softmax loss is ``Σ_k y_k · logsumexp(z) − Σ_k y_k z_k`` (see
fastgrad/model.py), so its gradient in z is ``(Σ_k y_k)·softmax(z) − y``.
One-hot targets hide the ``Σ_k y_k`` factor (it is 1); multi-hot, weighted
or all-zero columns do not. The reference here is a central difference of
that cost written in np.longdouble, independent of fastgrad's code.
"""
import numpy as np
import pytest

from fastgrad import MLP, gradient_check

LD = np.longdouble
ORDER = ("W1", "b1", "W2", "b2")


def ld_cost(p, X, Y, l2):
    """J = 1/m Σ_i [Σ_k y_ki · logsumexp_k z_ki − Σ_k y_ki z_ki] + l2/(2m) Σ‖W‖², all in
    long double."""
    m = X.shape[1]
    A1 = np.tanh(p["W1"] @ X + p["b1"])
    Z2 = p["W2"] @ A1 + p["b2"]
    zmax = Z2.max(axis=0)
    lse = zmax + np.log(np.sum(np.exp(Z2 - zmax), axis=0))
    loss = np.sum(Y, axis=0) * lse - np.sum(Y * Z2, axis=0)
    reg = l2 / (2 * m) * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
    return np.sum(loss) / m + reg


def ld_numerical(params, X, Y, l2, eps=1e-7):
    p0 = {k: np.asarray(v, dtype=LD) for k, v in params.items()}
    Xl, Yl = np.asarray(X, dtype=LD), np.asarray(Y, dtype=LD)
    out = {}
    for key in ORDER:
        g = np.empty(p0[key].shape, dtype=LD)
        for idx in np.ndindex(p0[key].shape):
            vals = []
            for sign in (1, -1):
                p = {k: v.copy() for k, v in p0.items()}
                p[key][idx] += sign * LD(eps)
                vals.append(ld_cost(p, Xl, Yl, LD(l2)))
            g[idx] = (vals[0] - vals[1]) / (2 * LD(eps))
        out["d" + key] = g.astype(np.float64)
    return out


def targets(kind, rng, n, m):
    if kind == "multi-hot":  # column sums 0..n
        Y = (rng.random((n, m)) < 0.5).astype(float)
        Y[:, 0] = 0.0
        Y[:, 1] = 1.0
        return Y
    if kind == "weighted":  # one-hot scaled by a per-example weight
        Y = np.eye(n)[:, rng.integers(0, n, m)]
        return Y * rng.uniform(0.2, 3.0, m)
    if kind == "soft-unnormalized":
        return rng.uniform(0.0, 1.0, (n, m))
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["multi-hot", "weighted", "soft-unnormalized"])
@pytest.mark.parametrize("l2", [0.0, 0.7])
def test_softmax_numerical_gradient_matches_long_double_reference(kind, l2):
    rng = np.random.default_rng(11)
    model = MLP([3, 4, 3], hidden="tanh", output="softmax", l2=l2)
    params = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal((4, 1)),
              "W2": rng.standard_normal((3, 4)), "b2": rng.standard_normal((3, 1))}
    X = rng.standard_normal((3, 6))
    Y = targets(kind, rng, 3, 6)
    assert not np.allclose(Y.sum(axis=0), 1.0)  # the premise
    ref = ld_numerical(params, X, Y, l2)
    grads = model.backward(params, X, Y)
    for key in ref:  # fastgrad's reference backprop agrees with the long double cost
        np.testing.assert_allclose(grads[key], ref[key], rtol=1e-6, atol=1e-9)
    for mode in ("full", "sampled"):
        report = gradient_check(model, params, grads, X, Y, mode=mode, k=3, seed=0)
        assert report.verdict == "great", (mode, str(report))
        for key in ref:
            got = report.numerical[key]
            use = ~np.isnan(got)
            np.testing.assert_allclose(got[use], ref[key][use], rtol=1e-8, atol=1e-10)
    report = gradient_check(model, params, grads, X, Y, mode="directional", k=3, seed=0)
    assert report.verdict == "great", str(report)


def test_a_backprop_without_the_target_sum_factor_is_caught():
    rng = np.random.default_rng(5)
    model = MLP([3, 4, 3], hidden="tanh", output="softmax")
    params = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal((4, 1)),
              "W2": rng.standard_normal((3, 4)), "b2": rng.standard_normal((3, 1))}
    X = rng.standard_normal((3, 6))
    Y = targets("multi-hot", rng, 3, 6)
    m = X.shape[1]
    # The usual one-hot shortcut dZ2 = (A2 − Y)/m, wrong for these targets.
    A1 = np.tanh(params["W1"] @ X + params["b1"])
    Z2 = params["W2"] @ A1 + params["b2"]
    A2 = np.exp(Z2 - Z2.max(axis=0)) / np.exp(Z2 - Z2.max(axis=0)).sum(axis=0)
    dZ2 = (A2 - Y) / m
    dZ1 = (params["W2"].T @ dZ2) * (1 - A1 ** 2)
    wrong = {"dW1": dZ1 @ X.T, "db1": dZ1.sum(axis=1, keepdims=True),
             "dW2": dZ2 @ A1.T, "db2": dZ2.sum(axis=1, keepdims=True)}
    for mode in ("full", "directional"):
        assert gradient_check(model, params, wrong, X, Y, mode=mode, seed=1).verdict == "bug"
