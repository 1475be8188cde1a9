"""fastgrad.optim.fit: the course's training loop, replayed by hand."""
import argparse
import math
import re
import sys

import numpy as np
import pytest

from fastgrad import MLP
from fastgrad.optim import (
    Adam,
    GradientDescent,
    InverseTimeDecay,
    Momentum,
    RMSprop,
    StepDecay,
    fit,
    random_mini_batches,
)


def test_full_batch_gd_is_the_plain_loop(setup):
    model, params, X, Y = setup
    lr, epochs = 0.05, 20
    result = fit(model, params, X, Y, optimizer=GradientDescent(lr), num_epochs=epochs,
                 batch_size=None)
    p, costs = {k: v.copy() for k, v in params.items()}, []
    for _ in range(epochs):
        costs.append(model.cost(p, X, Y))
        grads = model.backward(p, X, Y)
        p = {k: p[k] - lr * grads["d" + k] for k in p}
    np.testing.assert_allclose(result.costs, costs, rtol=1e-12)
    for k in params:
        np.testing.assert_allclose(result.params[k], p[k], rtol=1e-12)
    assert result.n_epochs == epochs and not result.stopped_early


@pytest.mark.parametrize("make", [lambda: Momentum(0.01), lambda: Adam(0.01),
                                  lambda: RMSprop(0.001)])
def test_mini_batch_fit_is_the_course_loop(setup, make):
    # Replay: each epoch reshuffles with the next draws of one Generator, the
    # epoch cost is Σ_b m_b·J_b / m with J_b computed before batch b's update.
    model, params, X, Y = setup
    m, epochs, batch_size = X.shape[1], 7, 32
    result = fit(model, params, X, Y, optimizer=make(), num_epochs=epochs,
                 batch_size=batch_size, seed=42)
    rng, opt, p, costs = np.random.default_rng(42), make(), params, []
    for _ in range(epochs):
        total = 0.0
        for xb, yb in random_mini_batches(X, Y, batch_size, seed=rng):
            total += model.cost(p, xb, yb) * xb.shape[1]
            p = opt.step(p, model.backward(p, xb, yb))
        costs.append(total / m)
    np.testing.assert_allclose(result.costs, costs, rtol=1e-12)
    for k in params:
        np.testing.assert_allclose(result.params[k], p[k], rtol=1e-12)
    assert result.optimizer.t == epochs * math.ceil(m / batch_size)


def test_fit_is_reproducible_and_leaves_inputs_alone(setup):
    model, params, X, Y = setup
    before = ({k: v.copy() for k, v in params.items()}, X.copy(), Y.copy())
    state = np.random.get_state()[1].copy()
    a = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=5, seed=3)
    b = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=5, seed=3)
    c = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=5, seed=4)
    np.testing.assert_array_equal(a.costs, b.costs)
    assert not np.array_equal(a.costs, c.costs)
    for k in params:
        np.testing.assert_array_equal(params[k], before[0][k])
        assert not np.shares_memory(a.params[k], params[k])
    np.testing.assert_array_equal(X, before[1])
    np.testing.assert_array_equal(Y, before[2])
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_zero_epochs_returns_a_copy(setup):
    model, params, X, Y = setup
    result = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=0)
    assert result.costs.shape == (0,) and result.n_epochs == 0
    for k in params:
        np.testing.assert_array_equal(result.params[k], params[k])
        assert not np.shares_memory(result.params[k], params[k])


def test_adam_trains_and_the_cost_falls(setup):
    model, params, X, Y = setup
    result = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=150, seed=0)
    assert result.costs[-1] < 0.5 * result.costs[0]
    accuracy = np.mean(model.predict(result.params, X) == Y)
    assert accuracy > 0.8


def test_schedule_sets_the_learning_rate_per_epoch(setup):
    model, params, X, Y = setup
    sched = StepDecay(0.01, decay_rate=1.0, time_interval=3)
    opt = GradientDescent(1.0)
    result = fit(model, params, X, Y, optimizer=opt, num_epochs=10, schedule=sched, seed=0)
    np.testing.assert_array_equal(result.learning_rates, [sched(e) for e in range(10)])
    assert opt.learning_rate == sched(9)
    # and it is the rate actually used: full batch GD replayed with it
    inv = InverseTimeDecay(0.05, 0.5)
    result = fit(model, params, X, Y, optimizer=GradientDescent(1.0), num_epochs=4,
                 batch_size=None, schedule=inv)
    p = params
    for e in range(4):
        grads = model.backward(p, X, Y)
        p = {k: p[k] - inv(e) * grads["d" + k] for k in p}
    for k in params:
        np.testing.assert_allclose(result.params[k], p[k], rtol=1e-12)


def test_bad_schedule_value_names_the_epoch(setup):
    model, params, X, Y = setup
    with pytest.raises(ValueError, match=r"schedule\(2\) returned -0.1"):
        fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=5,
            schedule=lambda e: 0.01 if e < 2 else -0.1)


def test_callback_sees_every_epoch_and_can_stop(setup):
    model, params, X, Y = setup
    seen = []

    def callback(epoch, p, cost):
        seen.append((epoch, cost, p["W1"].copy()))
        return True if epoch == 3 else None

    result = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=10, seed=0,
                 callback=callback)
    assert [e for e, _, _ in seen] == [0, 1, 2, 3]
    assert result.stopped_early and result.n_epochs == 4
    np.testing.assert_array_equal([c for _, c, _ in seen], result.costs)
    np.testing.assert_array_equal(seen[-1][2], result.params["W1"])


def test_divergence_stops_with_a_clear_error():
    # Least squares with a learning rate far beyond 2/λ_max: every step
    # multiplies the error, so it overflows within a few dozen epochs.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 50))
    Y = rng.standard_normal((1, 50))
    model = MLP([3, 4, 1], hidden="linear", output="linear")
    params = model.init_params("xavier", seed=0)
    with pytest.raises(FloatingPointError) as info:
        fit(model, params, X, Y, optimizer=GradientDescent(1e3), num_epochs=1000,
            batch_size=None)
    message = str(info.value)
    assert re.search(r"epoch \d+", message)
    assert "learning rate" in message and "too large" in message


def test_divergence_with_mini_batches_and_momentum_is_caught_too(setup):
    model, params, X, Y = setup
    with pytest.raises(FloatingPointError, match="epoch"):
        fit(model, params, X, Y, optimizer=Momentum(1e150), num_epochs=50, seed=0)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_epochs": -1}, ValueError, "num_epochs"),
    ({"num_epochs": 2.0}, TypeError, "num_epochs"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"print_every": 0}, ValueError, "print_every"),
    ({"optimizer": "adam"}, TypeError, "optimizer"),
    ({"optimizer": Adam}, TypeError, r"^optimizer must be an Optimizer instance, got the class Adam"),
    ({"schedule": 0.1}, TypeError, "schedule"),
    ({"callback": 1}, TypeError, "callback"),
    ({"progress": "yes"}, TypeError, "progress"),
    ({"check_gradients": (0, 99)}, ValueError, "check_gradients"),
    ({"check_gradients": 5}, TypeError, "check_gradients"),
    ({"check_gradients": (-1,)}, ValueError, "check_gradients"),
    ({"seed": 1.5}, TypeError, "seed"),
])
def test_bad_arguments(setup, kwargs, error, match):
    model, params, X, Y = setup
    args = {"optimizer": Adam(0.01), "num_epochs": 3, **kwargs}
    with pytest.raises(error, match=match):
        fit(model, params, X, Y, **args)


def test_bad_data_and_params(setup):
    model, params, X, Y = setup
    with pytest.raises(ValueError, match="Y must have shape"):
        fit(model, params, X, Y[:, :-1], optimizer=Adam(0.01), num_epochs=1)
    with pytest.raises(ValueError, match="X"):
        fit(model, params, X.T, Y, optimizer=Adam(0.01), num_epochs=1)
    bad = {**params, "W1": params["W1"].copy()}
    bad["W1"][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit(model, bad, X, Y, optimizer=Adam(0.01), num_epochs=1)
    with pytest.raises(TypeError, match="model"):
        fit(object(), params, X, Y, optimizer=Adam(0.01), num_epochs=1)
    with pytest.raises(TypeError, match=r"^model must be a model instance, got the class MLP"):
        fit(MLP, params, X, Y, optimizer=Adam(0.01), num_epochs=1)


def test_print_every_prints_the_course_lines(setup, capsys):
    model, params, X, Y = setup
    result = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=7, print_every=3,
                 progress=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Cost after epoch {e}: {result.costs[e]:f}" for e in (0, 3, 6)]


def test_quiet_by_default_on_short_runs(setup, capsys):
    model, params, X, Y = setup
    fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=3)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_with_tqdm(setup, capsys):
    model, params, X, Y = setup
    fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=3, progress=True)
    assert "epoch" in capsys.readouterr().err


def test_progress_without_tqdm_is_not_an_error(setup, monkeypatch, capsys):
    model, params, X, Y = setup
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `from tqdm import ...` fail
    with pytest.warns(UserWarning, match="tqdm"):
        result = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=3, progress=True)
    assert result.n_epochs == 3
    fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=3, progress=None)


class Quadratic:
    """J(θ) = ½·mean over examples of Σ_K ‖K − x‖² for blocks W1, gamma1, beta1.

    A duck-typed model (no check_params/check_data), with batch-norm-style
    block names, whose minimizer is the mean of the columns of X.
    """

    def cost(self, params, X, Y):
        return 0.5 * sum(float(np.mean(np.sum((params[k] - X) ** 2, axis=0))) for k in params)

    def backward(self, params, X, Y):
        return {"d" + k: params[k] - X.mean(axis=1, keepdims=True) for k in params}


def test_fit_treats_every_block_alike():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 40)) + 2.0
    Y = np.zeros((1, 40))
    params = {k: np.zeros((3, 1)) for k in ("W1", "gamma1", "beta1")}
    result = fit(Quadratic(), params, X, Y, optimizer=Adam(0.05), num_epochs=300,
                 batch_size=None)
    for k in params:
        np.testing.assert_allclose(result.params[k], X.mean(axis=1, keepdims=True), atol=1e-3)


def test_check_gradients_validation_needs_no_checker(setup):
    # Epochs beyond the run are refused before any training or import.
    model, params, X, Y = setup
    with pytest.raises(ValueError, match=r"check_gradients asks for epochs \[4\]"):
        fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=3, check_gradients=(0, 4))
    with pytest.raises(TypeError, match="check_options"):
        fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=3, check_gradients=(0, 3),
            check_options=[1])


# -- the optimizers demo ----------------------------------------------------

def test_demo_comparison_orders_the_optimizers(moons_xy):
    from fastgrad.demos.optimizers import compare_optimizers

    X, Y = moons_xy(300, seed=3)
    _, results = compare_optimizers(X, Y, epochs=300, seed=3)
    cost = {name: r.costs[-1] for name, (r, _) in results.items()}
    accuracy = {name: acc for name, (_, acc) in results.items()}
    assert cost["adam"] < cost["momentum"] and cost["adam"] < cost["gd"]
    assert accuracy["adam"] >= max(accuracy["gd"], accuracy["momentum"])


def test_demo_plot_without_matplotlib_is_a_clear_error(monkeypatch, capsys, tmp_path):
    import importlib.util

    from fastgrad.demos import optimizers

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    args = argparse.Namespace(plot=str(tmp_path / "x.png"), epochs=1, seed=0,
                              learning_rate=0.0007, batch_size=64, print_every=1000)
    assert optimizers.run(args) == 2
    assert "matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("answer", ["stop", 1, 0.0])
def test_callback_answers_other_than_none_or_a_bool_are_refused(setup, answer):
    # one convention for both loops: True stops, None/False go on; a truthy
    # string is not read as "stop"
    model, params, X, Y = setup
    with pytest.raises(TypeError, match="callback must return"):
        fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=3, seed=0,
            callback=lambda e, p, c: answer)


def test_callback_returning_false_goes_on(setup):
    model, params, X, Y = setup
    result = fit(model, params, X, Y, optimizer=Adam(0.01), num_epochs=3, seed=0,
                 callback=lambda e, p, c: False)
    assert not result.stopped_early and result.n_epochs == 3


def test_full_batch_epoch_cost_is_exactly_the_cost_of_the_epochs_parameters(setup):
    """With one batch the epoch's cost is that batch's cost itself, not
    (J·m)/m, which with an L2 term is one unit in the last place off for a
    few epochs in forty: the costs are the ones model.cost gives, to the bit."""
    _, _, X, Y = setup
    model = MLP([2, 5, 2, 1], l2=0.7)
    params = model.init_params("he", seed=1)
    X, Y = X[:, :99], Y[:, :99]
    thetas = [params]
    result = fit(model, params, X, Y, optimizer=GradientDescent(0.1), num_epochs=40,
                 batch_size=None,
                 callback=lambda e, p, cost: thetas.append({k: v.copy() for k, v in p.items()}))
    exact = [model.cost(theta, X, Y) for theta in thetas[:40]]
    assert [c.hex() for c in result.costs.tolist()] == [c.hex() for c in exact]


def test_fit_returns_the_batch_norm_statistics_of_its_params():
    # Full batch, 5 epochs: the running averages written out here from the
    # batch means and population variances of Z = W1 X at each epoch's params.
    from fastgrad import datasets

    X, Y = datasets.make_moons(120, noise=0.2, seed=0)
    model = MLP([2, 6, 1], batchnorm=[1])
    start = model.init_params(seed=0)
    result = fit(model, start, X, Y, optimizer=GradientDescent(0.1), num_epochs=5,
                 batch_size=None, progress=False)
    mean, var = np.zeros((6, 1)), np.ones((6, 1))
    p = {k: v.copy() for k, v in start.items()}
    for _ in range(5):
        Z = p["W1"] @ X
        mean = 0.9 * mean + 0.1 * Z.mean(axis=1, keepdims=True)
        var = 0.9 * var + 0.1 * Z.var(axis=1, keepdims=True)
        grads = model.backward(p, X, Y)
        p = {k: v - 0.1 * grads["d" + k] for k, v in p.items()}
    np.testing.assert_allclose(result.running_mean[1], mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(result.running_var[1], var, rtol=1e-12)

    # Training the model again moves its statistics, not the result's; put
    # back, they give the first run's predictions, also on a fresh model.
    predicted = model.forward(result.params, X)
    kept = [a.tobytes() for a in (*result.running_mean.values(), *result.running_var.values())]
    fit(model, model.init_params(seed=1), X, Y, optimizer=Adam(0.05), num_epochs=3,
        batch_size=32, seed=0, progress=False)
    assert not np.array_equal(model.forward(result.params, X), predicted)
    assert [a.tobytes() for a in (*result.running_mean.values(),
                                   *result.running_var.values())] == kept
    for m in (model, MLP([2, 6, 1], batchnorm=[1])):
        m.running_mean, m.running_var = result.running_mean, result.running_var
        assert m.forward(result.params, X).tobytes() == predicted.tobytes()
    assert fit(MLP([2, 6, 1]), MLP([2, 6, 1]).init_params(seed=0), X, Y,
               optimizer=Adam(0.01), num_epochs=1, progress=False).running_mean is None
