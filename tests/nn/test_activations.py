"""fastgrad.nn.activations: every entry's g, g', exact delta and kernel slope
against an independent long-double NumPy reference written here."""
import numpy as np
import pytest

from fastgrad.nn.activations import ACTIVATIONS, get

G = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
}


def test_the_reference_covers_the_registry():
    assert set(G) == set(ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_functions_match_the_reference(name):
    act = ACTIVATIONS[name]
    rng = np.random.default_rng(0)
    z = rng.standard_normal(200) * 3
    z[z == 0] = 0.5
    a = act.g(z)
    np.testing.assert_allclose(a, G[name](z.astype(np.longdouble)), rtol=1e-15, atol=1e-300)
    h = 1e-6
    ref = (G[name](z.astype(np.longdouble) + h) - G[name](z.astype(np.longdouble) - h)) / (2 * h)
    away = np.abs(z) > 1e-3  # off the kink
    np.testing.assert_allclose(act.g_prime(z, a)[away], ref[away], rtol=1e-7, atol=1e-12)
    for d in (1e-7, -3e-5, 0.4, 2.5, -7.0):  # small steps and the large-step forms
        da, kinks = act.delta(z, a, np.full_like(z, d))
        zl = z.astype(np.longdouble)
        np.testing.assert_allclose(da, G[name](zl + d) - G[name](zl), rtol=1e-12, atol=1e-17)
        assert np.array_equal(kinks, act.has_kink & (np.sign(z) != np.sign(z + d)))
    if act.piecewise_linear:
        on, off = act.slopes
        assert act.g_prime(np.array([2.0]), None)[0] == on
        assert act.g_prime(np.array([-2.0]), None)[0] == off
    else:  # the factor fed to the kernel: exact to rounding, also in saturation
        zl = z.astype(np.longdouble)
        exact = 1 / np.cosh(zl) ** 2 if name == "tanh" else G[name](zl) * G[name](-zl)
        np.testing.assert_allclose(act.kernel_slope(z, act.g(z)), exact, rtol=1e-14)


def test_get_names_the_choices():
    assert get("tanh") is ACTIVATIONS["tanh"]
    with pytest.raises(ValueError, match=r"unknown hidden activation 'gelu'; choose one of linear, "):
        get("gelu")
    with pytest.raises(TypeError, match=r"hidden activation must be a name, one of linear"):
        get(3)
