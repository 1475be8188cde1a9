"""What the training loops return and raise, and the argument rules they share."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class DivergenceError(FloatingPointError):
    """Training produced a NaN or infinite cost, gradient or parameter.

    ``iteration`` is the iteration (``gradient_descent``) or the epoch
    (``fit``) where it happened.
    """

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


class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    params : dict of str -> ndarray
        The trained parameters (new arrays).
    costs : ndarray of shape (n_epochs,)
        Per epoch, the mean over its mini-batches of the cost on each batch
        (computed before that batch's update), weighted by batch size: with
        the course's mean cost per batch this is the mean loss over all ``m``
        examples. Full-batch, exactly the cost of the epoch's parameters.
    learning_rates : ndarray of shape (n_epochs,)
        The learning rate used in each epoch.
    gradient_checks : dict of int -> report
        ``{epoch: report}`` from ``fastgrad.gradient_check``; epoch ``e``
        means "after ``e`` epochs of training" (0 = at initialization).
    n_epochs : int
        Epochs actually run.
    stopped_early : bool
        True when ``callback`` returned True.
    optimizer : Optimizer
        The optimizer, with its state after training.
    running_mean, running_var : dict of int -> ndarray (n_l, 1), or None
        With batch norm, the model's running statistics after training: the
        ones that go with ``params`` at inference (copies: training the model
        again does not change them; ``model.running_mean =
        result.running_mean`` puts them back). None without batch norm.
    """

    def __init__(
        self,
        params,
        costs,
        learning_rates,
        gradient_checks,
        stopped_early,
        optimizer,
        running_mean=None,
        running_var=None,
    ):
        self.params = params
        self.running_mean, self.running_var = running_mean, running_var
        self.costs = np.asarray(costs, dtype=np.float64)
        self.learning_rates = np.asarray(learning_rates, dtype=np.float64)
        self.gradient_checks = gradient_checks
        self.n_epochs = len(self.costs)
        self.stopped_early = stopped_early
        self.optimizer = optimizer

    def __repr__(self):
        last = f", final cost {self.costs[-1]:.6g}" if self.n_epochs else ""
        checks = (
            f", gradient checks at epochs {sorted(self.gradient_checks)}"
            if self.gradient_checks
            else ""
        )
        early = " (stopped early)" if self.stopped_early else ""
        return f"<FitResult: {self.n_epochs} epochs{early} with {self.optimizer!r}{last}{checks}>"


def require_methods(model, names, what="a fastgrad.MLP"):
    if isinstance(model, type):  # its methods are there, unbound
        raise TypeError(
            f"model must be {what} instance, got the class {model.__name__} "
            "(construct it first, e.g. MLP([n_x, ..., n_L]))"
        )
    for attr in names:
        if not callable(getattr(model, attr, None)):
            raise TypeError(
                f"model must be {what} (no {attr}() method), got {type(model).__name__}"
            )


def optional_callable(fn, name):
    if fn is not None and not callable(fn):
        raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")


def callback_stops(callback, step, params, cost):
    """The one callback convention of both loops: ``callback(step, params,
    cost)``; returning True stops training (as in ``scipy.optimize``), None or
    False goes on. Anything else is refused rather than read as truthy."""
    if callback is None:
        return False
    answer = callback(step, params, cost)
    if answer is None or isinstance(answer, (bool, np.bool_)):
        return bool(answer)
    raise TypeError(
        f"callback must return None or False (go on) or True (stop), got {answer!r} "
        f"({type(answer).__name__})"
    )


def fresh_copy(params):
    """Float64 copies: check_params may hand back the caller's arrays."""
    return {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}
