"""fastgrad.training.results: what the loops return, their error, and the
callback rule both loops share."""
import numpy as np
import pytest

from fastgrad.training.results import (
    DivergenceError,
    FitResult,
    TrainResult,
    callback_stops,
    fresh_copy,
    optional_callable,
    require_methods,
)


def test_callback_rule():
    assert callback_stops(None, 0, {}, 1.0) is False
    seen = []
    assert callback_stops(lambda *a: seen.append(a), 3, {"W1": 1}, 0.5) is False
    assert seen == [(3, {"W1": 1}, 0.5)]
    assert callback_stops(lambda *a: np.bool_(True), 0, {}, 0.0) is True
    assert callback_stops(lambda *a: False, 0, {}, 0.0) is False
    for answer in (1, "stop", 0.0, [True]):
        with pytest.raises(TypeError, match=r"^callback must return None or False \(go on\) or True"):
            callback_stops(lambda *a, answer=answer: answer, 0, {}, 0.0)


def test_train_result_unpacks_as_params_and_costs():
    params, costs = TrainResult({"W1": np.ones(2)}, [1.0, 0.5])
    assert costs == [1.0, 0.5] and list(params) == ["W1"]


def test_fit_result_fields_and_repr():
    r = FitResult({"W1": np.ones(1)}, [0.9, 0.25], [0.1, 0.05], {0: "r"}, True, "Adam(0.1)")
    assert r.costs.dtype == np.float64 and r.n_epochs == 2
    np.testing.assert_array_equal(r.learning_rates, [0.1, 0.05])
    assert repr(r) == ("<FitResult: 2 epochs (stopped early) with 'Adam(0.1)', final cost 0.25, "
                       "gradient checks at epochs [0]>")
    assert repr(FitResult({}, [], [], {}, False, "GD")) == "<FitResult: 0 epochs with 'GD'>"


def test_divergence_error_is_a_floating_point_error_with_its_step():
    err = DivergenceError("diverged", iteration=7)
    assert isinstance(err, FloatingPointError) and err.iteration == 7 and str(err) == "diverged"


def test_fresh_copy_is_float64_and_unshared():
    a = np.arange(3, dtype=np.float32)
    out = fresh_copy({"W1": a})
    assert out["W1"].dtype == np.float64 and not np.shares_memory(out["W1"], a)
    out["W1"][0] = 5
    assert a[0] == 0


def test_argument_rules_name_what_is_missing():
    with pytest.raises(TypeError, match=r"^model must be a model \(no backward\(\) method\), got int$"):
        require_methods(3, ("backward",), "a model")
    with pytest.raises(TypeError, match=r"^schedule must be callable or None, got float$"):
        optional_callable(0.1, "schedule")
    optional_callable(None, "schedule")
