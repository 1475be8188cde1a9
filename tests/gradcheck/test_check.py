"""Loose arguments to gradient_check get a TypeError/ValueError naming them,
and nothing the caller passed is written to."""
import numpy as np
import pytest

from fastgrad import MLP, check_grad, gradient_check


@pytest.fixture
def problem(ref):
    dims = [3, 4, 2]
    params, X, Y = ref.problem(dims, 5, hidden="tanh", output="softmax", seed=1)
    model = MLP(dims, hidden="tanh", output="softmax")
    return model, params, model.backward(params, X, Y), X, Y


def _snapshot(params, grads, X, Y):
    return ({k: v.tobytes() for k, v in params.items()},
            {k: v.tobytes() for k, v in grads.items()}, X.tobytes(), Y.tobytes())


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"epsilon": "1e-7"}, TypeError, "epsilon"),
    ({"epsilon": True}, TypeError, "epsilon"),
    ({"epsilon": np.True_}, TypeError, "epsilon"),
    ({"epsilon": None}, TypeError, "epsilon"),
    ({"epsilon": [1e-7]}, TypeError, "epsilon"),
    ({"epsilon": 1e-7j}, TypeError, "epsilon"),
    ({"epsilon": float("nan")}, ValueError, "epsilon"),
    ({"epsilon": float("inf")}, ValueError, "epsilon"),
    ({"epsilon": -1e-7}, ValueError, "epsilon"),
    ({"epsilon": 0.0}, ValueError, "epsilon"),
    ({"n_threads": True}, TypeError, "n_threads"),
    ({"n_threads": "2"}, TypeError, "n_threads"),
    ({"n_threads": 1.5}, TypeError, "n_threads"),
    ({"n_threads": 0}, ValueError, "n_threads"),
    ({"k": True, "mode": "sampled"}, TypeError, "k"),
    ({"k": True}, TypeError, "k"),
    ({"k": 2.0, "mode": "sampled"}, TypeError, "k"),
    ({"k": "3", "mode": "directional"}, TypeError, "k"),
    ({"k": 0, "mode": "sampled"}, ValueError, "k"),
    ({"k": -1, "mode": "directional"}, ValueError, "k"),
    ({"mode": "fast"}, ValueError, "mode"),
    ({"mode": ["full"]}, ValueError, "mode"),
    ({"dropout": "no"}, TypeError, "dropout"),
    ({"progress": "yes"}, TypeError, "progress"),
    ({"progress": 1}, TypeError, "progress"),
    ({"raise_on_failure": None}, TypeError, "raise_on_failure"),
])
def test_loose_arguments_are_refused_by_name(problem, kwargs, exc, name):
    model, params, grads, X, Y = problem
    before = _snapshot(params, grads, X, Y)
    with pytest.raises(exc, match=name):
        gradient_check(model, params, grads, X, Y, **kwargs)
    assert _snapshot(params, grads, X, Y) == before


def test_epsilon_message_shows_value_and_type(problem):
    model, params, grads, X, Y = problem
    with pytest.raises(TypeError, match=r"epsilon must be a positive float, got '1e-7' \(str\)"):
        gradient_check(model, params, grads, X, Y, epsilon="1e-7")


@pytest.mark.parametrize("eps", [1e-6, 1, np.float32(1e-4), np.int64(1)])
def test_real_numbers_are_accepted_as_epsilon(problem, ref, eps):
    model, params, grads, X, Y = problem
    report = gradient_check(model, params, grads, X, Y, epsilon=eps)
    assert report.epsilon == float(eps)
    expected = ref.numerical(ref.flatten(params), [(k, v.shape) for k, v in params.items()],
                             ["tanh"], "softmax", 0.0, X, Y, eps=float(eps))
    assert ref.rel(ref.flatten(report.numerical, "d"), expected) < 1e-9


@pytest.mark.parametrize("k", [1, np.int64(2)])
def test_int_k_is_accepted(problem, k):
    model, params, grads, X, Y = problem
    report = gradient_check(model, params, grads, X, Y, mode="sampled", k=k, seed=0)
    assert report.n_checked == sum(min(int(k), v.size) for v in params.values())


def test_check_grad_epsilon_is_strict_too():
    with pytest.raises(TypeError, match="epsilon"):
        check_grad(lambda t: float(np.sum(t ** 2)), np.ones(3), 2 * np.ones(3), epsilon="1e-7")


def test_generic_models_get_every_option(problem, monkeypatch):
    """gradient_check(obj_with_cost, ...) hands all options to the generic
    path (which honours or refuses each); it used to drop mode, k, seed,
    n_threads, dropout and progress."""
    import fastgrad.gradcheck.cost_model as cost_model

    model, params, grads, X, Y = problem
    calls = []
    monkeypatch.setattr(cost_model, "check_generic_model",
                        lambda *a, **kw: calls.append((a, kw)) or "report")

    class Wrapped:
        def cost(self, p, X, Y):
            return model.cost(p, X, Y)

    out = gradient_check(Wrapped(), params, grads, X, Y, epsilon=1e-6, mode="sampled", k=4,
                         seed=7, n_threads=1, dropout=False, progress=False,
                         thresholds=(1e-7, 1e-4), raise_on_failure=True, workers=1)
    assert out == "report"
    (args, kw), = calls
    assert args[5:] == (1e-6, (1e-7, 1e-4), True)
    assert kw == {"mode": "sampled", "k": 4, "seed": 7, "n_threads": 1, "dropout": False,
                  "progress": False, "workers": None}
    with pytest.raises(TypeError, match="k"):
        gradient_check(Wrapped(), params, grads, X, Y, mode="sampled", k=True)
