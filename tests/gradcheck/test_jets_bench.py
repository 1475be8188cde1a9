"""The benchmark's in-place NumPy loop (bench/_baselines.py) evaluates the
same cost as the model on the issue-15 networks: tanh, sigmoid and batch
norm (so the speed-ups in the README compare like with like)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from fastgrad import params_to_vector

_PATH = Path(__file__).resolve().parents[2] / "bench" / "_baselines.py"
_spec = importlib.util.spec_from_file_location("fastgrad_bench_baselines_jets", _PATH)
baselines = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(baselines)


@pytest.mark.parametrize(
    "hidden,bn", [("tanh", ()), ("sigmoid", ()), ("relu", (1, 2)), ("tanh", (2,))]
)
def test_the_in_place_loop_is_the_models_cost_and_difference(hidden, bn):
    model, params, X, Y = baselines.random_case((4, 5, 3, 1), m=6, seed=2, hidden=hidden,
                                                batchnorm=bn)
    theta = params_to_vector(params)
    J = baselines.InPlaceCost(model, theta, params, X, Y)
    assert J() == pytest.approx(model.cost(params, X, Y), rel=1e-12)
    num = baselines.inplace_loop(model, params, X, Y)
    ana = baselines.analytic_vector(model, params, X, Y)
    np.testing.assert_allclose(num, ana, rtol=1e-6, atol=1e-8)


def test_random_case_initializes_by_activation():
    model, params, _, _ = baselines.random_case((50, 40, 1), m=3, seed=0, hidden="tanh")
    assert np.std(params["W1"]) == pytest.approx(np.sqrt(1 / 50), rel=0.2)  # Xavier
    model, params, _, _ = baselines.random_case((50, 40, 1), m=3, seed=0)
    assert np.std(params["W1"]) == pytest.approx(np.sqrt(2 / 50), rel=0.2)  # He
