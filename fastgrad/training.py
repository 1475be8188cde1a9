"""Plain full-batch gradient descent — the course's training loop.

Each iteration ``i`` computes the cost ``J`` of the current parameters on
the whole batch, then the gradients by backprop, then updates every block::

    W[l] ← W[l] − α · dW[l],   b[l] ← b[l] − α · db[l]

Optimizers with state (momentum, RMSprop, Adam) live in ``fastgrad.optim``.
"""
import math
from typing import NamedTuple

import numpy as np

from fastgrad import _argcheck as ac


class DivergenceError(FloatingPointError):
    """Gradient descent produced a NaN or infinite cost or parameter."""

    def __init__(self, message, iteration):
        super().__init__(message)
        self.iteration = iteration


class TrainResult(NamedTuple):
    """What :func:`gradient_descent` returns; unpacks as ``params, costs``."""

    params: dict
    """The final parameters (new arrays)."""
    costs: list
    """``costs[k]`` is the cost at iteration ``k · record_every`` (before
    that iteration's update), as in the course."""


def _check_int(value, name, minimum):
    return ac.integer(value, name, minimum=minimum)


def gradient_descent(model, params, X, Y, *, learning_rate, num_iterations,
                     record_every=1000, callback=None):
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
        ``callback(i, cost, params)`` is called at *every* iteration ``i``
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
    for attr in ("check_params", "check_data", "cost", "backward"):
        if not hasattr(model, attr):
            raise TypeError(f"model must be a fastgrad.MLP (no .{attr}), got {type(model).__name__}")
    alpha = ac.real(learning_rate, "learning_rate", low=0, low_open=True)
    num_iterations = _check_int(num_iterations, "num_iterations", 0)
    record_every = _check_int(record_every, "record_every", 1)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")

    # check_params may hand back the caller's arrays: copy before updating.
    params = {k: np.array(v, dtype=np.float64, copy=True) for k, v in model.check_params(params).items()}
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
            if callback is not None and callback(i, cost, params):
                break
            grads = model.backward(params, X, Y)
            for key, value in params.items():
                value -= alpha * grads["d" + key]
                if not np.all(np.isfinite(value)):
                    raise diverged(i, f"the update made {key} NaN or infinite (cost was {cost:.6g})")
    return TrainResult(params, costs)
