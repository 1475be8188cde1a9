"""Diagnostics: statistics against an independent NumPy forward/backward
pass, the course's deep linear example exactly, and the verdict on
constructed vanishing / exploding / healthy networks."""
import json
import warnings

import numpy as np
import pytest
from scipy.special import expit

from fastgrad import init
from fastgrad.diagnostics import Diagnosis, deep_linear_example, diagnose
from fastgrad.nn.model import MLP


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def reference_pass(params, X, Y, hidden):
    """Plain NumPy forward + backward for a ReLU/tanh net with a sigmoid/BCE output."""
    g, dg = {
        "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
        "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    }[hidden]
    L = len(params) // 2
    Zs, As = [None], [X]
    for l in range(1, L + 1):
        Z = params[f"W{l}"] @ As[-1] + params[f"b{l}"]
        Zs.append(Z)
        As.append(expit(Z) if l == L else g(Z))
    m = X.shape[1]
    dZ = [None] * (L + 1)
    dZ[L] = (As[L] - Y) / m
    for l in range(L - 1, 0, -1):
        dZ[l] = (params[f"W{l + 1}"].T @ dZ[l + 1]) * dg(Zs[l])
    dW = {l: dZ[l] @ As[l - 1].T for l in range(1, L + 1)}
    return Zs, As, dZ, dW


@pytest.mark.parametrize("hidden", ["relu", "tanh"])
def test_statistics_match_reference(hidden):
    rng = np.random.default_rng(0)
    dims = [6, 9, 7, 1]
    model = MLP(dims, hidden=hidden)
    params = model.init_params("he", seed=1)
    X = rng.standard_normal((6, 40)) * 2 + 0.5
    Y = (rng.random((1, 40)) < 0.5).astype(float)
    copies = {k: v.copy() for k, v in params.items()}
    X0 = X.copy()
    d = diagnose(model, params, X, Y)
    for k in params:
        np.testing.assert_array_equal(params[k], copies[k])
    np.testing.assert_array_equal(X, X0)
    Zs, As, dZ, dW = reference_pass(params, X, Y, hidden)
    x_rms = np.sqrt(np.mean(X ** 2))
    assert d.input_rms == pytest.approx(x_rms, rel=1e-12)
    for l, r in enumerate(d.layers, start=1):
        assert r.layer == l and r.units == dims[l]
        assert r.z_mean == pytest.approx(Zs[l].mean(), rel=1e-10, abs=1e-14)
        assert r.z_std == pytest.approx(Zs[l].std(), rel=1e-10)
        assert r.a_mean == pytest.approx(As[l].mean(), rel=1e-10)
        assert r.a_std == pytest.approx(As[l].std(), rel=1e-10)
        assert r.forward_scale == pytest.approx(np.sqrt(np.mean(Zs[l] ** 2)) / x_rms, rel=1e-10)
        assert r.grad_W_norm == pytest.approx(np.linalg.norm(dW[l]), rel=1e-10)
        assert r.grad_b_norm == pytest.approx(np.linalg.norm(dZ[l].sum(axis=1)), rel=1e-10)
        assert r.backward_scale == pytest.approx(np.linalg.norm(dZ[l]) / np.linalg.norm(dZ[-1]), rel=1e-10)
    assert d.cost == pytest.approx(model.cost(params, X, Y), rel=1e-12)


@pytest.mark.parametrize("weight", [1.5, 0.5])
@pytest.mark.parametrize("L", [1, 2, 7, 20, 30])
def test_deep_linear_example_is_exact(weight, L):
    """The course: g(z) = z, W[l] = w·I (l < L), W[L] = I  ->  ŷ = w^(L-1)·x."""
    model, params = deep_linear_example(L, weight)
    assert model.hidden == ("linear",) * (L - 1) and model.output == "linear"
    X = np.array([[1.0, 2.0, -3.0, 0.0], [1.0, -1.0, 5.0, 7.0]])
    y_hat, (Zs, As) = model.forward(params, X, return_cache=True)
    # 1.5^k · x is exact in float64 while 3^k · |x| < 2^53 (k <= 29, |x| <= 7 here).
    np.testing.assert_array_equal(y_hat, weight ** (L - 1) * X)
    for l in range(1, L):
        np.testing.assert_array_equal(Zs[l], weight ** l * X)
    d = diagnose(model, params, X)
    expected = [weight ** l for l in range(1, L)] + [weight ** (L - 1)]
    np.testing.assert_allclose(d.forward_scales, expected, rtol=1e-14)
    verdicts = ["exploding" if s > 100 else "vanishing" if s < 0.01 else "healthy" for s in expected]
    assert d.verdicts == verdicts


def test_deep_linear_gradients_grow_backwards_as_the_seeds_say():
    L = 12
    model, params = deep_linear_example(L, 1.5, width=3)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 10)), rng.standard_normal((3, 10))
    d = diagnose(model, params, X, Y)
    # dZ[L-1] = I·dZ[L], then ×1.5 per layer going back.
    expected = [1.5 ** (L - 1 - l) for l in range(1, L)] + [1.0]
    np.testing.assert_allclose(d.backward_scales, expected, rtol=1e-12)


def deep_relu(depth=30, width=64):
    return MLP([width] * depth + [1], hidden="relu")


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((64, 256))
    Y = (rng.random((1, 256)) < 0.5).astype(int)
    return X, Y


def test_he_keeps_scale_while_random_x10_explodes_and_tiny_vanishes(batch):
    X, Y = batch
    model = deep_relu()
    n = 64
    he = diagnose(model, model.init_params("he", seed=0), X, Y)
    big = diagnose(model, model.init_params("random", seed=0, scale=10.0), X, Y)
    tiny = diagnose(model, model.init_params("random", seed=0, scale=0.01), X, Y)

    assert he.healthy
    hidden = he.forward_scales[:-1]
    assert 0.1 < hidden.min() and hidden.max() < 10
    assert np.all((he.backward_scales > 0.1) & (he.backward_scales < 10))

    # Var(Z[l]) = n·scale²·E[A[l-1]²] = (n·scale²/2)·Var(Z[l-1]) for ReLU:
    # the forward scale grows by sqrt(n/2)·scale per layer.
    for d, scale in ((big, 10.0), (tiny, 0.01)):
        slope = np.polyfit(np.arange(1, 30), np.log10(d.forward_scales[:-1]), 1)[0]
        assert slope == pytest.approx(np.log10(np.sqrt(n / 2) * scale), abs=0.1)
    assert set(big.verdicts) == {"exploding"}
    assert set(tiny.verdicts) == {"vanishing"}
    assert np.all(np.isfinite(big.forward_scales)) and np.all(np.isfinite(tiny.backward_scales))


@pytest.mark.parametrize("factor", [1e3, 1e-3])
def test_one_mis_scaled_layer_is_named_with_its_own_factors(batch, factor):
    # He everywhere but W6: every layer's scale crosses T (the scales are
    # running products), yet only layer 6's own factors are off
    X, Y = batch
    model = MLP([64] * 12 + [1], hidden="relu")
    params = model.init_params("he", seed=0)
    params["W6"] = params["W6"] * factor
    d = diagnose(model, params, X, Y)
    assert not d.healthy and d.sources == [6]
    Zs, As, dZ, _ = reference_pass(params, X, Y.astype(float), "relu")
    rms = lambda a: np.sqrt(np.mean(a ** 2))  # noqa: E731
    forward = [rms(Zs[l]) / rms(As[l - 1]) for l in range(1, 13)]
    backward = [np.linalg.norm(params[f"W{l}"].T @ dZ[l]) / np.linalg.norm(dZ[l])
                for l in range(2, 13)]
    np.testing.assert_allclose(d.steps[0], forward, rtol=1e-12)
    np.testing.assert_allclose(d.steps[1][1:], backward, rtol=1e-12)
    line = str(d).splitlines()[-1]
    assert line.startswith("the scales jump at layer 6 (rms(Z6)/rms(A5) = ")
    assert line.endswith("look at the initialization of W6")
    assert json.loads(d.to_json(allow_nan=False))["sources"] == [6]


def test_a_saturating_tanh_layer_does_not_blame_the_next_one(batch):
    # W3 x1e4 saturates layer 3; dZ[3] then holds layer 3's tiny slope, which
    # is layer 3's, not W4's: only layer 3 is named
    X, Y = batch
    model = MLP([64] * 5 + [1], hidden="tanh")
    params = model.init_params("xavier", seed=0)
    params["W3"] = params["W3"] * 1e4
    d = diagnose(model, params, X, Y)
    assert d.sources == [3], (d.steps, d.summary())
    assert str(d).splitlines()[-1].endswith("look at the initialization of W3")


@pytest.mark.parametrize("factor", [0.0, 1e200])
def test_a_zeroed_or_overflowing_layer_is_named(batch, factor):
    X, Y = batch
    model = MLP([64] * 12 + [1], hidden="relu")
    params = model.init_params("he", seed=0)
    params["W6"] = params["W6"] * factor
    with np.errstate(over="ignore", invalid="ignore"):
        d = diagnose(model, params, X, Y)
    assert 6 in d.sources and "nan" not in str(d).splitlines()[-1]


@pytest.mark.parametrize("dims", [[64, 1], [64, 8, 1]])
def test_a_one_or_two_layer_network_prints(batch, dims):
    # one layer has no other to compare with: no source, and str() works
    X, Y = batch
    model = MLP(dims, hidden="relu")
    params = model.init_params("he", seed=0)
    params["W1"] = params["W1"] * 1000
    d = diagnose(model, params, X, Y)
    assert "diagnosis of" in str(d)
    assert d.sources == ([] if len(dims) == 2 else [1])


def test_an_init_off_everywhere_names_no_single_layer(batch):
    # random x10: every layer multiplies by ~sqrt(n/2)*10 = 57 (< T), and the
    # running product explodes; no layer is "the" source
    X, Y = batch
    model = deep_relu(depth=12)
    d = diagnose(model, model.init_params("random", seed=0, scale=10.0), X, Y)
    assert set(d.verdicts) == {"exploding"} and d.sources == []
    assert "jump" not in str(d)
    # ... nor when each layer's own factor is beyond T: all of them are
    d = diagnose(model, model.init_params("random", seed=0, scale=100.0), X, Y)
    assert d.sources == [] and "jump" not in str(d)


def test_no_overflow_warnings_for_huge_activations(batch):
    X, Y = batch
    model = deep_relu(depth=50)
    params = model.init_params("random", seed=0, scale=10.0)  # activations ~1e90
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = diagnose(model, params, X, Y)
    assert d.forward_scales[-2] > 1e80
    assert np.isfinite(d.layers[-1].z_std)


def test_zeros_init_is_dead_and_vanishing(batch):
    X, Y = batch
    model = MLP([64, 32, 16, 1])
    d = diagnose(model, model.init_params("zeros"), X, Y)
    assert [r.dead for r in d.layers[:-1]] == [1.0, 1.0]
    assert d.verdicts == ["vanishing"] * 3
    assert d.layers[0].grad_W_norm == 0.0


def test_dead_and_saturated_fractions():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((5, 100))
    relu = MLP([5, 8, 1], hidden="relu")
    params = relu.init_params("he", seed=0)
    params["b1"][:3] = -1e3    # units 0..2 never fire
    d = diagnose(relu, params, X)
    Z1 = params["W1"] @ X + params["b1"]
    assert d.layers[0].dead == pytest.approx(np.mean(np.all(Z1 <= 0, axis=1)))
    assert d.layers[0].dead >= 3 / 8

    tanh = MLP([5, 10, 1], hidden="tanh")
    params = tanh.init_params("xavier", seed=0)
    params["b1"][:4] = 50.0    # units 0..3 pinned at +1
    d = diagnose(tanh, params, X)
    A1 = np.tanh(params["W1"] @ X + params["b1"])
    assert d.layers[0].saturated == pytest.approx(np.mean(np.all(np.abs(A1) > 0.99, axis=1)))
    assert d.layers[0].saturated >= 0.4
    assert d.layers[0].dead is None and d.layers[1].saturated is not None


def test_report_text_and_dict(batch):
    X, Y = batch
    model = MLP([64, 10, 1])
    d = diagnose(model, model.init_params("he", seed=0), X, Y)
    text = str(d)
    assert "verdict" in text and "fwd scale" in text
    assert len([line for line in text.splitlines() if line.strip().startswith(("1 ", "2 "))]) == 2
    data = d.to_dict()
    json.dumps(data)
    assert [row["verdict"] for row in data["layers"]] == d.verdicts
    assert isinstance(d, Diagnosis) and "healthy" in repr(d)
    no_y = diagnose(model, model.init_params("he", seed=0), X)
    assert no_y.cost is None and no_y.layers[0].grad_W_norm is None
    assert np.isnan(no_y.backward_scales).all()


def test_errors(batch):
    X, Y = batch
    model = MLP([64, 10, 1])
    params = model.init_params(seed=0)
    with pytest.raises(ValueError, match="threshold"):
        diagnose(model, params, X, threshold=1.0)
    with pytest.raises(ValueError, match="all zeros"):
        diagnose(model, params, np.zeros_like(X))
    with pytest.raises(TypeError, match="model"):
        diagnose("net", params, X)
    with pytest.raises(ValueError, match="X"):
        diagnose(model, params, X.T)
    with pytest.raises(ValueError, match="n_layers"):
        deep_linear_example(0)


def test_lsuv_network_is_healthy(batch):
    X, Y = batch
    model = deep_relu(depth=20)
    d = diagnose(model, init.lsuv(model, X, seed=0), X, Y)
    np.testing.assert_allclose([r.z_std ** 2 for r in d.layers], 1.0, atol=0.1)
    assert d.healthy


def test_module_is_callable_like_the_function():
    import fastgrad
    from fastgrad import MLP, datasets

    X, Y = datasets.make_circles(100, seed=0)
    model = MLP([2, 8, 8, 1])
    params = model.init_params("he", seed=0)
    a = fastgrad.diagnose(model, params, X, Y)
    b = fastgrad.diagnostics.diagnose(model, params, X, Y)
    assert a.to_dict() == b.to_dict()


def test_layers_after_an_overflow_are_not_called_healthy():
    # Z overflows to inf, then inf - inf is NaN: the forward scale is NaN,
    # which the verdict rule used to drop, leaving "healthy".
    import numpy as np

    from fastgrad import MLP, diagnose

    m = MLP([2, 2, 2, 2, 1], hidden="linear")
    p = {"W1": np.full((2, 2), 1e200), "W2": np.array([[1e200, -1e200], [1.0, 1.0]]),
         "W3": np.eye(2), "W4": np.ones((1, 2))}
    p.update({f"b{l}": np.zeros((p[f"W{l}"].shape[0], 1)) for l in range(1, 5)})
    with np.errstate(all="ignore"):
        Z2 = p["W2"] @ (p["W1"] @ np.ones((2, 3)))
    assert not np.isfinite(Z2).all()  # the premise, computed here
    d = diagnose(m, p, np.ones((2, 3)))
    assert d.verdicts == ["exploding"] * 4
    assert "layers 1-4" in d.summary()
