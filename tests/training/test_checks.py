"""fit(check_gradients=...) with the real fastgrad.gradient_check.

Needs the gradient-check branch merged (``fastgrad.gradient_check``); it is
deliberately not skipped when that is missing.
"""
import warnings

import numpy as np
import pytest

from fastgrad import MLP, gradient_check
from fastgrad.optim import Adam, GradientDescent, fit, random_mini_batches


def first_batch(X, Y, batch_size, seed):
    return random_mini_batches(X, Y, batch_size, seed=np.random.default_rng(seed))[0]


def test_checks_at_initialization_and_after_training(setup):
    model, params, X, Y = setup
    n, bs, seed = 20, 32, 5
    result = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=n, batch_size=bs,
                 seed=seed, check_gradients=(0, n))
    assert sorted(result.gradient_checks) == [0, n]
    for report in result.gradient_checks.values():
        assert report.passed, str(report)
        assert str(report)

    # Both checks use the first mini-batch of epoch 0, at the params of that moment.
    Xc, Yc = first_batch(X, Y, bs, seed)
    at_init = gradient_check(model, params, model.backward(params, Xc, Yc), Xc, Yc)
    assert result.gradient_checks[0].difference == at_init.difference
    trained = result.params
    after = gradient_check(model, trained, model.backward(trained, Xc, Yc), Xc, Yc)
    assert result.gradient_checks[n].difference == after.difference


def test_checks_do_not_change_training(setup):
    model, params, X, Y = setup
    plain = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=6, seed=2)
    checked = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=6, seed=2,
                  check_gradients=(0, 3, 6))
    np.testing.assert_array_equal(plain.costs, checked.costs)
    assert sorted(checked.gradient_checks) == [0, 3, 6]
    assert plain.gradient_checks == {}


def test_check_gradients_true_and_full_batch(setup):
    model, params, X, Y = setup
    result = fit(model, params, X, Y, optimizer=GradientDescent(0.1), num_epochs=4,
                 batch_size=None, check_gradients=True)
    assert sorted(result.gradient_checks) == [0, 4]
    direct = gradient_check(model, params, model.backward(params, X, Y), X, Y)
    assert result.gradient_checks[0].difference == direct.difference


class DoubledW2(MLP):
    """The course's planted bug: dW2 multiplied by 2."""

    def backward(self, params, X, Y):
        grads = super().backward(params, X, Y)
        return {**grads, "dW2": 2 * grads["dW2"]}


def test_a_failing_check_is_kept_and_warned_about(setup):
    _, params, X, Y = setup
    model = DoubledW2([2, 5, 2, 1])
    with pytest.warns(UserWarning, match="gradient check after 0 epochs failed"):
        result = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=2, seed=0,
                     check_gradients=(0,))
    report = result.gradient_checks[0]
    assert not report.passed
    good = fit(MLP([2, 5, 2, 1]), params, X, Y, optimizer=Adam(0.01), num_epochs=2, seed=0,
               check_gradients=(0,))
    assert good.gradient_checks[0].difference < report.difference


def test_check_options_are_passed_on(setup):
    model, params, X, Y = setup
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a passing check warns about nothing
        result = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=1, seed=0,
                     check_gradients=(0,), check_options={"epsilon": 1e-7})
    assert result.gradient_checks[0].passed
