"""Optimizers take the course's gradient dicts (which also hold dZ1, dA1, ...)
and refuse loose arguments with messages that name them."""
import math

import numpy as np
import pytest

from fastgrad import course
from fastgrad.optim import (
    Adam,
    ExponentialDecay,
    GradientDescent,
    InverseTimeDecay,
    Momentum,
    RMSprop,
    StepDecay,
    fit,
    random_mini_batches,
)

PARAM_KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")


def course_problem():
    X, Y, params = course.gradient_check_n_test_case()
    _, cache = course.forward_propagation_n(X, Y, params)
    grads = course.backward_propagation_n(X, Y, cache, bugs=False)
    assert {"dZ1", "dA1", "dZ3", "dA2"} <= set(grads)  # the premise: the course's extras
    return X, Y, params, grads


def _bytes(d):
    return {k: np.asarray(v).tobytes() for k, v in d.items()}


@pytest.mark.parametrize("make", [lambda: GradientDescent(0.1), lambda: Momentum(0.1, 0.8),
                                  lambda: RMSprop(0.01), lambda: Adam(0.01)])
def test_course_gradient_dicts_are_accepted_and_extras_ignored(make):
    X, Y, params, grads = course_problem()
    only = {"d" + k: grads["d" + k] for k in PARAM_KEYS}
    before = (_bytes(params), _bytes(grads))
    a, b = make(), make()
    for _ in range(3):
        pa = a.step(params, grads)
        pb = b.step(params, only)
        assert list(pa) == list(params)
        for k in PARAM_KEYS:
            np.testing.assert_array_equal(pa[k], pb[k])
    assert (_bytes(params), _bytes(grads)) == before


def test_gradient_descent_step_with_course_grads_against_numpy():
    X, Y, params, grads = course_problem()
    new = GradientDescent(0.3).step(params, grads)
    for k in PARAM_KEYS:
        np.testing.assert_allclose(new[k], params[k] - 0.3 * grads["d" + k], rtol=1e-15)


def test_a_missing_parameter_gradient_is_still_named():
    X, Y, params, grads = course_problem()
    del grads["dW1"]
    with pytest.raises(KeyError, match="dW1"):
        GradientDescent(0.1).step(params, grads)


def test_a_gradient_for_a_parameter_that_does_not_exist_is_still_refused():
    X, Y, params, grads = course_problem()
    with pytest.raises(KeyError, match="dW4"):
        GradientDescent(0.1).step(params, {**grads, "dW4": np.zeros((1, 1))})


def test_fit_with_a_model_whose_backward_returns_the_course_dict():
    X, Y, params, _ = course_problem()

    class CourseModel:
        def cost(self, p, X, Y):
            return course.forward_propagation_n(X, Y, p)[0]

        def backward(self, p, X, Y):
            _, cache = course.forward_propagation_n(X, Y, p)
            return course.backward_propagation_n(X, Y, cache, bugs=False)

    result = fit(CourseModel(), params, X, Y, optimizer=GradientDescent(0.05), num_epochs=1,
                 batch_size=None, seed=0)
    _, cache = course.forward_propagation_n(X, Y, params)
    g = course.backward_propagation_n(X, Y, cache, bugs=False)
    for k in PARAM_KEYS:  # one full-batch step, column order does not matter
        np.testing.assert_allclose(result.params[k], params[k] - 0.05 * g["d" + k],
                                   rtol=1e-12, atol=1e-15)


# -- loose arguments --------------------------------------------------------------

BAD_REALS = [(True, TypeError), ("0.1", TypeError), (None, TypeError), ([0.1], TypeError),
             (1j, TypeError), (math.nan, ValueError), (math.inf, ValueError)]


@pytest.mark.parametrize("value,exc", BAD_REALS + [(-0.1, ValueError), (0.0, ValueError)])
@pytest.mark.parametrize("cls", [GradientDescent, Momentum, RMSprop, Adam])
def test_learning_rate_is_validated(cls, value, exc):
    with pytest.raises(exc, match="learning_rate"):
        cls(value)
    opt = cls(0.1)
    with pytest.raises(exc, match="learning_rate"):
        opt.learning_rate = value
    assert opt.learning_rate == 0.1


@pytest.mark.parametrize("make,name", [
    (lambda v: Momentum(0.1, beta=v), "beta"),
    (lambda v: RMSprop(0.1, beta2=v), "beta2"),
    (lambda v: RMSprop(0.1, epsilon=v), "epsilon"),
    (lambda v: Adam(0.1, beta1=v), "beta1"),
    (lambda v: Adam(0.1, beta2=v), "beta2"),
    (lambda v: Adam(0.1, epsilon=v), "epsilon"),
    (lambda v: InverseTimeDecay(v, 0.1), "learning_rate0"),
    (lambda v: InverseTimeDecay(0.1, v), "decay_rate"),
    (lambda v: StepDecay(0.1, v), "decay_rate"),
    (lambda v: ExponentialDecay(0.1, v), "rate"),
])
@pytest.mark.parametrize("value,exc", BAD_REALS)
def test_hyperparameters_are_validated(make, name, value, exc):
    with pytest.raises(exc, match=name):
        make(value)


@pytest.mark.parametrize("make,name,value", [
    (lambda v: Momentum(0.1, beta=v), "beta", 1.0),
    (lambda v: Adam(0.1, beta1=v), "beta1", -0.1),
    (lambda v: RMSprop(0.1, epsilon=v), "epsilon", 0.0),
    (lambda v: ExponentialDecay(0.1, v), "rate", 1.5),
    (lambda v: InverseTimeDecay(0.1, v), "decay_rate", -1.0),
])
def test_hyperparameters_out_of_range(make, name, value):
    with pytest.raises(ValueError, match=name):
        make(value)


@pytest.mark.parametrize("value,exc", [(True, TypeError), ("2", TypeError), (1.5, TypeError),
                                       (0, ValueError), (-3, ValueError)])
def test_integer_arguments_are_validated(value, exc):
    X = np.zeros((2, 5))
    Y = np.zeros((1, 5))
    with pytest.raises(exc, match="batch_size"):
        random_mini_batches(X, Y, batch_size=value)
    with pytest.raises(exc, match="time_interval"):
        StepDecay(0.1, 0.1, time_interval=value)
    if value != 0:
        with pytest.raises(exc, match="epoch"):
            InverseTimeDecay(0.1, 0.1)(value)


def test_fit_gradient_checks_a_model_whose_backward_returns_the_course_dict():
    X, Y, params, _ = course_problem()

    class CourseModel:
        def cost(self, p, X, Y):
            return course.forward_propagation_n(X, Y, p)[0]

        def backward(self, p, X, Y):
            _, cache = course.forward_propagation_n(X, Y, p)
            return course.backward_propagation_n(X, Y, cache, bugs=False)

    result = fit(CourseModel(), params, X, Y, optimizer=GradientDescent(0.05), num_epochs=1,
                 batch_size=None, seed=0, check_gradients=(0, 1))
    assert sorted(result.gradient_checks) == [0, 1]
    for report in result.gradient_checks.values():
        assert report.verdict == "great"
        assert [b.name for b in report.blocks] == ["d" + k for k in PARAM_KEYS]
