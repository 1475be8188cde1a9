"""Full-batch gradient descent: the course's week-1 training loop."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._typing import ArrayLike, Params
from fastgrad.nn.protocol import Model
from fastgrad.training.results import (
    DivergenceError,
    TrainResult,
    callback_stops,
    fresh_copy,
    optional_callable,
    require_methods,
)


def gradient_descent(
    model: Model,
    params: Params,
    X: ArrayLike,
    Y: ArrayLike,
    *,
    learning_rate: float,
    num_iterations: int,
    record_every: int = 1000,
    callback: Callable[[int, dict, float], bool | None] | None = None,
) -> TrainResult:
    """Train ``params`` by full-batch gradient descent.

    Parameters
    ----------
    model : fastgrad.MLP
        Anything with ``check_params``, ``check_data``, ``cost`` and
        ``backward`` like :class:`fastgrad.MLP`.
    params : dict
        ``{"W1": (n1, n0), "b1": (n1, 1), ...}``; not modified.
    X : array_like, shape (n_x, m)
    Y : array_like, shape (n_L, m)
    learning_rate : float
        α > 0.
    num_iterations : int
        Number of updates (>= 0).
    record_every : int, default 1000
        Record the cost at iterations 0, record_every, 2·record_every, ...
    callback : callable, optional
        ``callback(i, params, cost)`` is called at *every* iteration ``i``
        with the cost of ``params`` before the update. Treat ``params`` as
        read-only (copy what you keep). Return True to stop: the parameters
        are then returned without that iteration's update.

    Returns
    -------
    TrainResult
        ``(params, costs)``: the final parameters (new float64 arrays) and
        the recorded costs (a list of floats).

    Raises
    ------
    DivergenceError
        If the cost or a parameter becomes NaN or infinite; the message
        names the iteration and suggests a smaller learning rate.
    """
    require_methods(model, ("check_params", "check_data", "cost", "backward"))
    alpha = ac.real(learning_rate, "learning_rate", low=0, low_open=True)
    num_iterations = ac.integer(num_iterations, "num_iterations", minimum=0)
    record_every = ac.integer(record_every, "record_every", minimum=1)
    optional_callable(callback, "callback")
    params = fresh_copy(model.check_params(params))
    X, Y = model.check_data(X, Y)
    costs = []

    def diverged(i, what):
        return DivergenceError(
            f"gradient descent diverged at iteration {i}: {what}. The learning rate "
            f"{alpha:g} is too large for this problem; try a smaller one (e.g. {alpha / 10:g})"
            " or normalize the inputs.",
            iteration=i,
        )

    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(num_iterations):
            cost = model.cost(params, X, Y)
            if not math.isfinite(cost):
                raise diverged(i, f"the cost is {cost}")
            if i % record_every == 0:
                costs.append(cost)
            if callback_stops(callback, i, params, cost):
                break
            grads = model.backward(params, X, Y)
            for key, value in params.items():
                value -= alpha * grads["d" + key]
                if not np.all(np.isfinite(value)):
                    raise diverged(
                        i, f"the update made {key} NaN or infinite (cost was {cost:.6g})"
                    )
    return TrainResult(params, costs)
