"""fastgrad.nn.batchnorm: the forward pass against the formulas in long
double, the backward pass against central differences of the forward."""
import numpy as np
import pytest

from fastgrad.nn import batchnorm as bn

EPS = 1e-5


@pytest.fixture
def layer():
    rng = np.random.default_rng(0)
    U = rng.standard_normal((4, 9)) * 3.0 + 1.0
    gamma = rng.uniform(0.5, 2.0, (4, 1))
    beta = rng.standard_normal((4, 1))
    return U, gamma, beta


def reference(U, gamma, beta, mean=None, var=None):
    U = U.astype(np.longdouble)
    if mean is None:
        mean = U.sum(axis=1, keepdims=True) / U.shape[1]
        var = ((U - mean) ** 2).sum(axis=1, keepdims=True) / U.shape[1]   # population, 1/m
    Zn = (U - mean) / np.sqrt(np.asarray(var, np.longdouble) + EPS)
    return gamma * Zn + beta, Zn


def test_training_forward_is_the_formula(layer):
    U, gamma, beta = layer
    Z, Zn, centered, inv_std, mean, var = bn.forward(U, gamma, beta, EPS)
    Z_ref, Zn_ref = reference(U, gamma, beta)
    np.testing.assert_allclose(Z, Z_ref.astype(float), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(Zn, Zn_ref.astype(float), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(mean, U.mean(axis=1, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(var, U.var(axis=1, keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(centered, U - U.mean(axis=1, keepdims=True), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(U.var(axis=1, keepdims=True) + EPS), rtol=1e-13)
    # Each row of Zn has mean 0 and (population) variance var/(var + ε).
    np.testing.assert_allclose(Zn.mean(axis=1), 0, atol=1e-14)


def test_inference_forward_uses_the_given_statistics(layer):
    U, gamma, beta = layer
    mean, var = np.full((4, 1), 0.5), np.full((4, 1), 2.0)
    Z, _, _, _, m_out, v_out = bn.forward(U, gamma, beta, EPS, mean, var)
    Z_ref, _ = reference(U, gamma, beta, mean, var)
    np.testing.assert_allclose(Z, Z_ref.astype(float), rtol=1e-13, atol=1e-14)
    assert m_out is mean and v_out is var
    # Per example: one column's output does not depend on the others.
    Z0, *_ = bn.forward(U[:, :1], gamma, beta, EPS, mean, var)
    np.testing.assert_allclose(Z0, Z[:, :1], rtol=1e-15)


def test_backward_matches_central_differences(layer):
    U, gamma, beta = layer
    R = np.random.default_rng(1).standard_normal(U.shape)     # J = Σ R ∘ Z, so ∂J/∂Z = R

    def J(U, gamma, beta):
        return float(np.sum(R * bn.forward(U, gamma, beta, EPS)[0]))

    _, Zn, _, inv_std, _, _ = bn.forward(U, gamma, beta, EPS)
    dU, dgamma, dbeta = bn.backward(R, Zn, inv_std, gamma)

    def numeric(arr, f):
        g = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            h = 1e-6 * max(1.0, abs(arr[idx]))
            up, down = arr.copy(), arr.copy()
            up[idx] += h
            down[idx] -= h
            g[idx] = (f(up) - f(down)) / (2 * h)
        return g

    np.testing.assert_allclose(dU, numeric(U, lambda u: J(u, gamma, beta)), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dgamma, numeric(gamma, lambda g: J(U, g, beta)), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dbeta, numeric(beta, lambda b: J(U, gamma, b)), rtol=1e-6, atol=1e-8)
    # The batch mean is subtracted, so shifting a row of U changes nothing:
    # each row of dU sums to zero.
    np.testing.assert_allclose(dU.sum(axis=1), 0, atol=1e-12)
