"""The activation and output registry (fastgrad/nn/activations.py,
fastgrad/nn/outputs.py): every output entry is checked against an independent
NumPy reference written here (the activations in test_activations.py), and
every consumer (model, kernel, init, diagnostics, CLI) is shown to read the
same entry."""
import numpy as np
import pytest

import fastgrad
from fastgrad import MLP, cli, init
from fastgrad.nn import _codes
from fastgrad.nn.activations import ACTIVATIONS, LEAKY_SLOPE
from fastgrad.nn.outputs import OUTPUTS

# The reference definitions, in long double where they are evaluated.
G = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
}
GAIN = {"linear": 1.0, "relu": np.sqrt(2.0), "leaky_relu": np.sqrt(2 / (1 + 0.01**2)),
        "tanh": 5 / 3, "sigmoid": 1.0}
LOSS = {
    "sigmoid": (lambda Z: 1 / (1 + np.exp(-Z)),
                lambda A, Y: -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A), axis=0)),
    "softmax": (lambda Z: np.exp(Z) / np.sum(np.exp(Z), axis=0),
                lambda A, Y: -np.sum(Y * np.log(A), axis=0)),
    "linear": (lambda Z: Z, lambda A, Y: 0.5 * np.sum((A - Y) ** 2, axis=0)),
}


def test_the_registry_names_every_kernel_code_once():
    assert sorted(a.code for a in ACTIVATIONS.values()) == \
        sorted(int(c) for c in _codes.Activation)
    assert sorted(o.code for o in OUTPUTS.values()) == sorted(int(c) for c in _codes.Output)
    assert set(G) == set(ACTIVATIONS) and set(LOSS) == set(OUTPUTS)


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_output_losses_match_the_reference(name):
    out = OUTPUTS[name]
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((3, 7))
    Y = out.random_targets(rng, 3, 7)
    g, loss = LOSS[name]
    Zl = Z.astype(np.longdouble)
    np.testing.assert_allclose(out.activation(Z), g(Zl), rtol=1e-14)
    np.testing.assert_allclose(out.loss(Z, Y), loss(g(Zl), Y), rtol=1e-13)
    # dZ is the gradient of the mean loss.
    h = 1e-6
    num = np.zeros_like(Z)
    for idx in np.ndindex(Z.shape):
        e = np.zeros_like(Zl)
        e[idx] = h
        num[idx] = (np.sum(loss(g(Zl + e), Y)) - np.sum(loss(g(Zl - e), Y))) / (2 * h) / 7
    np.testing.assert_allclose(out.dZ(out.activation(Z), Y, 7), num, rtol=1e-7, atol=1e-12)
    for d in (1e-7, 0.3, -4.0):
        D = np.full_like(Z, d)
        ref = loss(g(Zl + D), Y) - loss(g(Zl), Y)
        got = out.loss_delta(Z, out.activation(Z), Y, D)  # per entry or per example
        assert float(np.sum(got)) == pytest.approx(float(np.sum(ref)), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_init_gain_is_the_registry_entry(name):
    assert init.calculate_gain(name) == pytest.approx(GAIN[name], rel=1e-15)
    assert init.calculate_gain(name) == ACTIVATIONS[name].gain()


def test_cli_offers_exactly_the_registry():
    assert set(cli.HIDDEN) == set(ACTIVATIONS)
    parser = cli.build_parser()
    check = parser._subparsers._group_actions[0].choices["check"]
    choices = next(a.choices for a in check._actions if "--output" in a.option_strings)
    assert set(choices) == set(OUTPUTS)


@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_model_kernel_and_diagnostics_read_the_same_entry(hidden, output):
    """The model's forward pass is the entry's g; the compiled kernel's
    numerical gradient (which switches on the entry's code) matches a
    long-double finite difference of the reference network; diagnose reports
    dead units for exactly the entries that say so."""
    model = MLP([3, 4, 2], hidden=hidden, output=output)
    assert model.activations[0] is ACTIVATIONS[hidden]
    assert model.output_layer is OUTPUTS[output]
    rng = np.random.default_rng(2)
    params = model.init_params("xavier", seed=2)
    X = rng.standard_normal((3, 5))
    Y = OUTPUTS[output].random_targets(rng, 2, 5)

    def J(p):
        A1 = G[hidden](p["W1"] @ X + p["b1"])
        A2 = LOSS[output][0](p["W2"] @ A1 + p["b2"])
        return np.sum(LOSS[output][1](A2, Y)) / 5

    P = {k: v.astype(np.longdouble) for k, v in params.items()}
    eps = 1e-7
    report = fastgrad.gradient_check(model, params, model.backward(params, X, Y), X, Y,
                                     epsilon=eps)
    for key in params:
        ref = np.zeros(params[key].shape)
        for idx in np.ndindex(ref.shape):
            up = {k: v.copy() for k, v in P.items()}
            dn = {k: v.copy() for k, v in P.items()}
            up[key][idx] += eps
            dn[key][idx] -= eps
            ref[idx] = (J(up) - J(dn)) / (2 * eps)
        np.testing.assert_allclose(report.numerical["d" + key], ref, rtol=1e-6, atol=1e-9)
    d = fastgrad.diagnose(model, params, X, Y)
    assert (d.layers[0].dead is not None) == ACTIVATIONS[hidden].dead_when_zero
    assert (d.layers[0].saturated is not None) == (ACTIVATIONS[hidden].saturated is not None)


def test_leaky_slope_is_the_kernels():
    model = MLP([1, 1, 1], hidden="leaky_relu", output="linear")
    params = {"W1": np.array([[1.0]]), "b1": np.array([[-5.0]]),
              "W2": np.array([[1.0]]), "b2": np.array([[0.0]])}
    X, Y = np.array([[1.0]]), np.array([[0.0]])
    r = fastgrad.gradient_check(model, params, model.backward(params, X, Y), X, Y)
    # J = ½(slope·(w·x + b))², dJ/db2 = slope·(w + b) · 1
    assert r.numerical["db2"][0, 0] == pytest.approx(LEAKY_SLOPE * -4.0, rel=1e-7)
