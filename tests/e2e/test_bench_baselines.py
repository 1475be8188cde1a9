"""The benchmark's reference loops are correct (not how fast they are).

``bench/`` is not a package, so ``bench/_baselines.py`` is loaded from its
path relative to this file. No torch or jax needed.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from fastgrad import MLP, params_to_vector

_PATH = Path(__file__).resolve().parents[2] / "bench" / "_baselines.py"
_spec = importlib.util.spec_from_file_location("fastgrad_bench_baselines", _PATH)
baselines = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(baselines)

# Two-sided differences with ε = 1e-7 on a well-conditioned float64 network
# land near 1e-8..1e-7; 1e-6 leaves room and still catches a wrong loop
# (a one-sided or mis-scaled difference is off by far more).
RTOL = 1e-6

LOOPS = [baselines.course_loop, baselines.inplace_loop]


@pytest.fixture
def tiny():
    return baselines.random_case((3, 4, 2, 1), m=5, seed=3)


def test_course_example_draws_like_the_course():
    model, params, X, Y = baselines.course_example()
    assert model.layer_dims == (4, 5, 3, 1)
    assert model.n_params == 47
    # np.random.seed(1); np.random.randn() starts 1.62434536, -0.61175641, ...
    assert X.shape == (4, 3)
    np.testing.assert_allclose(X[0, :2], [1.62434536, -0.61175641], rtol=1e-8)
    assert {k: v.shape for k, v in params.items()} == model.param_shapes()
    np.testing.assert_array_equal(Y, [[1.0, 1.0, 0.0]])
    # The global RNG is untouched.
    state = np.random.get_state()[1].copy()
    baselines.course_example()
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("loop", LOOPS)
def test_loop_matches_backprop_on_tiny_network(loop, tiny):
    model, params, X, Y = tiny
    analytic = baselines.analytic_vector(model, params, X, Y)
    numerical = loop(model, params, X, Y)
    assert numerical.shape == analytic.shape
    assert baselines.relative_difference(analytic, numerical) < RTOL


@pytest.mark.parametrize("loop", LOOPS)
def test_loop_matches_backprop_on_course_example(loop):
    model, params, X, Y = baselines.course_example()
    analytic = baselines.analytic_vector(model, params, X, Y)
    assert baselines.relative_difference(analytic, loop(model, params, X, Y)) < RTOL


@pytest.mark.parametrize("loop", LOOPS)
def test_loop_on_indices_equals_full_loop_there(loop, tiny):
    model, params, X, Y = tiny
    idx = np.array([0, 7, 12, model.n_params - 1])
    np.testing.assert_array_equal(loop(model, params, X, Y, indices=idx),
                                  loop(model, params, X, Y)[idx])


@pytest.mark.parametrize("loop", LOOPS)
def test_loop_leaves_params_alone(loop, tiny):
    model, params, X, Y = tiny
    before = {k: v.copy() for k, v in params.items()}
    loop(model, params, X, Y)
    for k in before:
        np.testing.assert_array_equal(params[k], before[k])


def test_costs_agree_with_the_model(tiny):
    model, params, X, Y = tiny
    expected = model.cost(params, X, Y)
    theta = params_to_vector(params)
    course_cost, _ = baselines.course_forward_cost(X, Y, params, model.n_layers)
    assert course_cost == pytest.approx(expected, rel=1e-12)
    assert baselines.InPlaceCost(model, theta, params, X, Y)() == pytest.approx(expected, rel=1e-12)
    f, grad = baselines.flat_cost_and_grad(model, params, X, Y)
    assert f(theta) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_array_equal(grad(theta), baselines.analytic_vector(model, params, X, Y))


def test_restrict_holds_the_other_coordinates(tiny):
    model, params, X, Y = tiny
    f, _ = baselines.flat_cost_and_grad(model, params, X, Y)
    theta = params_to_vector(params)
    idx = np.array([1, 5])
    x = theta[idx] + 0.25
    moved = theta.copy()
    moved[idx] = x
    assert baselines.restrict(f, theta, idx)(x) == f(moved)


def test_relative_difference():
    assert baselines.relative_difference([3.0, 4.0], [3.0, 4.0]) == 0.0
    assert baselines.relative_difference([0.0], [0.0]) == 0.0
    assert baselines.relative_difference([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.sqrt(2) / 2)


def test_forward_memory_bytes():
    # Z and A for layers of 5, 3 and 1 units, m = 3 columns, 8 bytes each.
    assert baselines.forward_memory_bytes((4, 5, 3, 1), 3) == 2 * (5 + 3 + 1) * 3 * 8


def test_random_case_is_he_initialized_and_reproducible():
    model, params, X, Y = baselines.random_case((20, 50, 50, 1), m=128, seed=0)
    assert model.n_params == 3651
    assert set(np.unique(Y)) <= {0.0, 1.0}
    assert all(np.all(params[f"b{l}"] == 0) for l in (1, 2, 3))
    _, params2, X2, _ = baselines.random_case((20, 50, 50, 1), m=128, seed=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(params["W1"], params2["W1"])
    assert isinstance(model, MLP)
