"""Full-batch gradient descent, the course's week-1 loop: the one training
loop (:mod:`fastgrad.training.loop`) run full-batch with plain
:class:`~fastgrad.training.optimizers.GradientDescent` steps."""

from __future__ import annotations

from collections.abc import Callable

from fastgrad import _argcheck as ac
from fastgrad._typing import ArrayLike, Params
from fastgrad.nn.protocol import Model
from fastgrad.training.loop import Loop, fit_data
from fastgrad.training.optimizers import GradientDescent
from fastgrad.training.results import TrainResult, require_methods


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

    Iteration ``i`` computes the cost ``J(θ_i)`` and the gradients at
    ``θ_i``, then updates ``θ_{i+1} = θ_i − α·dθ``. It is
    ``fit(model, params, X, Y, optimizer=GradientDescent(learning_rate),
    num_epochs=num_iterations, batch_size=None)`` with an iteration for an
    epoch, so both stop, record and diverge alike.

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
        ``callback(i, params, cost)`` is called after *every* iteration ``i``
        with ``θ_{i+1}`` (the parameters after that iteration's update) and
        ``J(θ_i)`` (the cost that iteration computed, before its update).
        Treat ``params`` as read-only (copy what you keep). Return True to
        stop: the parameters returned are then ``θ_{i+1}``, those the
        callback was given.

    Returns
    -------
    TrainResult
        ``(params, costs)``: the final parameters (new float64 arrays) and
        the recorded costs (a list of floats).

    Raises
    ------
    DivergenceError
        If the cost or a parameter becomes NaN or infinite; the message
        names the iteration and suggests a smaller learning rate. A model
        with batch norm gets its running statistics back as they were.

    Notes
    -----
    As in :func:`fit`, a model with ``cost_and_grads`` (an MLP) computes the
    cost and the gradients in one pass and updates its batch-norm running
    statistics at every iteration; dropout masks are drawn afresh at every
    iteration (no seed), the same masks for the cost and the gradients.
    """
    require_methods(model, ("check_params", "check_data", "cost", "backward"))
    optimizer = GradientDescent(learning_rate)
    num_iterations = ac.integer(num_iterations, "num_iterations", minimum=0)
    record_every = ac.integer(record_every, "record_every", minimum=1)
    loop = Loop(
        model,
        optimizer,
        num_epochs=num_iterations,
        batch_size=None,
        callback=callback,
        progress=False,
        record_every=record_every,
        unit="iteration",
    )
    X, Y, params = fit_data(model, params, X, Y)
    params, _ = loop.run(params, X, Y, seed=None)
    return TrainResult(params, loop.costs)
