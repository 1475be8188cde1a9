"""Mini-batch training with any optimizer: the course's week-2 loop."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad import _progress
from fastgrad._rng import as_generator
from fastgrad._typing import ArrayLike, Optimizer, Params, Seed
from fastgrad.nn.protocol import Model
from fastgrad.nn.spec import is_course_name
from fastgrad.training.batches import check_xy, shuffled_batches
from fastgrad.training.results import (
    DivergenceError,
    FitResult,
    callback_stops,
    fresh_copy,
    optional_callable,
    require_methods,
)


def _check_epochs(check_gradients, num_epochs):
    if check_gradients is None or check_gradients is False:
        return ()
    if check_gradients is True:
        return (0, num_epochs)
    if isinstance(check_gradients, (numbers.Integral, str)):
        raise TypeError(
            f"check_gradients must be a sequence of epochs such as (0, "
            f"{num_epochs}) or True, got {check_gradients!r}"
        )
    epochs = sorted({ac.integer(e, "check_gradients epoch", minimum=0) for e in check_gradients})
    late = [e for e in epochs if e > num_epochs]
    if late:
        raise ValueError(f"check_gradients asks for epochs {late} but num_epochs={num_epochs}")
    return tuple(epochs)


def _fit_data(model, params, X, Y):
    """Validated ``X``, ``Y`` and float64 copies of ``params``."""
    if hasattr(model, "check_data"):
        X, Y = model.check_data(X, Y)
    else:
        X, Y = check_xy(X, Y)
        for arr, name in ((X, "X"), (Y, "Y")):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or inf")
    if hasattr(model, "check_params"):
        params = model.check_params(params)
    elif not isinstance(params, dict):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")
    return X, Y, fresh_copy(params)


class _Fit:
    """One run of :func:`fit`: its validated settings and what it records."""

    def __init__(
        self,
        model,
        optimizer,
        *,
        num_epochs,
        batch_size,
        schedule,
        callback,
        progress,
        print_every,
        check_gradients,
        check_options,
    ):
        require_methods(model, ("cost", "backward"), "a model")
        if not (callable(getattr(optimizer, "step", None)) and hasattr(optimizer, "learning_rate")):
            raise TypeError(
                f"optimizer must be an Optimizer such as Adam(0.001), "
                f"got {type(optimizer).__name__}"
            )
        self.num_epochs = ac.integer(num_epochs, "num_epochs", minimum=0)
        self.batch_size = (
            None if batch_size is None else ac.integer(batch_size, "batch_size", minimum=1)
        )
        self.print_every = (
            None if print_every is None else ac.integer(print_every, "print_every", minimum=1)
        )
        optional_callable(schedule, "schedule")
        optional_callable(callback, "callback")
        if progress is not None and not isinstance(progress, bool):
            raise TypeError(f"progress must be True, False or None, got {progress!r}")
        self.check_at = _check_epochs(check_gradients, self.num_epochs)
        if check_options is not None and not isinstance(check_options, dict):
            raise TypeError(f"check_options must be a dict, got {type(check_options).__name__}")
        self.model, self.optimizer, self.schedule, self.callback = (
            model,
            optimizer,
            schedule,
            callback,
        )
        self.progress, self.check_options = progress, check_options
        self.costs, self.rates, self.reports = [], [], {}
        self.check_batch = None

    def start(self, X):
        """Per-run set-up once the data is known."""
        m = X.shape[1]
        self.m = m
        self.full_batch = self.batch_size is None or self.batch_size >= m
        self.batchnorm = bool(getattr(self.model, "batchnorm", ()))
        if self.batchnorm and (m < 2 or (not self.full_batch and self.batch_size < 2)):
            raise ValueError(
                "batch norm needs at least 2 examples per mini-batch (the variance "
                f"of one example is 0); got batch_size={self.batch_size}, m={m}"
            )
        # Restored if the run diverges, so a failed fit leaves the model as it was.
        self.saved_stats = (
            (dict(self.model.running_mean), dict(self.model.running_var))
            if self.batchnorm
            else None
        )
        n_batches = 1 if self.full_batch else -(-m // self.batch_size)
        self.bar = _progress.epoch_bar(self.progress, self.num_epochs, self.num_epochs * n_batches)
        self.write = self.bar.write if self.bar is not None else print

    def batches(self, X, Y, rng):
        """This epoch's mini-batches (a one-example leftover joins the batch
        before it under batch norm, whose statistics of one example are 0)."""
        if self.full_batch:
            return [(X, Y)]
        batches = shuffled_batches(X, Y, self.batch_size, rng)
        if self.batchnorm and len(batches) > 1 and batches[-1][0].shape[1] == 1:
            (Xa, Ya), (Xb, Yb) = batches[-2:]
            batches[-2:] = [(np.hstack([Xa, Xb]), np.hstack([Ya, Yb]))]
        return batches

    def gradient_check(self, epoch, params):
        """Check the gradients on the fixed check batch; warn when it fails."""
        from fastgrad.gradcheck import gradient_check  # training imports no checker at load

        model = self.model
        Xc, Yc = self.check_batch
        options = dict(self.check_options or {})
        if getattr(model, "has_dropout", False) and options.get("dropout", True):
            # Frozen masks: the same int seed for backprop and the check.
            options.setdefault("seed", 0)
            grads = model.backward(params, Xc, Yc, seed=options["seed"])
        else:
            grads = model.backward(params, Xc, Yc)
        if isinstance(grads, dict):  # as in step: the course's dZ1, dA1, ... are not checked
            grads = {
                k: v
                for k, v in grads.items()
                if not (
                    isinstance(k, str)
                    and k.startswith("d")
                    and k[1:] not in params
                    and not is_course_name(k[1:])
                )
            }
        report = gradient_check(model, params, grads, Xc, Yc, **options)
        self.reports[epoch] = report
        if not getattr(report, "passed", True):
            warnings.warn(
                f"gradient check after {epoch} epochs failed:\n{report}", UserWarning, stacklevel=3
            )

    def learning_rate(self, epoch):
        """Apply the schedule (if any) and return this epoch's learning rate."""
        if self.schedule is not None:
            lr = self.schedule(epoch)
            try:
                self.optimizer.learning_rate = lr
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"schedule({epoch}) returned {lr!r}, which is not a valid learning rate: {exc}"
                ) from None
        return self.optimizer.learning_rate

    def epoch(self, epoch, params, batches, rng):
        """One pass over ``batches``: ``(params, the epoch's mean cost)``."""
        model, lr = self.model, self.learning_rate(epoch)
        total = 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            for b, (Xb, Yb) in enumerate(batches):
                try:
                    cost, params = self._step(params, Xb, Yb, rng)
                except FloatingPointError as exc:
                    if self.saved_stats is not None:
                        model.running_mean, model.running_var = map(dict, self.saved_stats)
                    raise DivergenceError(
                        f"training diverged in epoch {epoch} (batch {b + 1} of {len(batches)}): "
                        f"{exc}. The learning rate {lr:g} is probably too large; try a smaller "
                        f"one (e.g. {lr / 10:g}), or check the inputs are normalized.",
                        iteration=epoch,
                    ) from exc
                total += cost * Xb.shape[1]
        self.rates.append(lr)
        return params, total / self.m

    def _step(self, params, Xb, Yb, rng):
        model = self.model
        if hasattr(model, "cost_and_grads"):
            # One forward pass; dropout masks from the run's generator;
            # batch-norm running statistics updated.
            cost, grads = model.cost_and_grads(params, Xb, Yb, seed=rng, update_running=True)
        else:
            cost = model.cost(params, Xb, Yb)
            grads = None
        if not math.isfinite(cost):
            raise FloatingPointError(f"the cost is {cost}")
        if grads is None:
            grads = model.backward(params, Xb, Yb)
        return cost, self.optimizer.step(params, grads)

    def report(self, epoch, epoch_cost):
        """Record, print and draw the epoch's cost."""
        self.costs.append(epoch_cost)
        if self.print_every is not None and epoch % self.print_every == 0:
            self.write(f"Cost after epoch {epoch}: {epoch_cost:f}")
        if self.bar is not None:
            self.bar.update(1)
            if epoch % max(1, self.num_epochs // 100) == 0:
                self.bar.set_postfix_str(f"cost={epoch_cost:.4g}", refresh=False)


def fit(
    model: Model,
    params: Params,
    X: ArrayLike,
    Y: ArrayLike,
    *,
    optimizer: Optimizer,
    num_epochs: int,
    batch_size: int | None = 64,
    seed: Seed = None,
    schedule: Callable[[int], float] | None = None,
    callback: Callable[[int, dict, float], bool | None] | None = None,
    progress: bool | None = None,
    print_every: int | None = None,
    check_gradients: bool | Sequence[int] | None = None,
    check_options: dict | None = None,
) -> FitResult:
    """Train ``params`` with mini-batch ``optimizer`` steps, as the course does.

    Each epoch shuffles the examples (from ``seed``), cuts them into
    mini-batches, and for each batch computes the cost, the gradients
    (``model.cost_and_grads`` when the model has it, else ``cost`` and
    ``backward``) and one ``optimizer.step``. Dropout masks are drawn from the
    same generator as the shuffles (so ``seed`` fixes the whole run), and
    batch-norm running statistics are updated after every batch (and put back
    as they were if the run diverges); with batch norm a one-example leftover
    batch joins the batch before it. The costs
    recorded are the training objective (with dropout on).

    Parameters
    ----------
    model : MLP or any object with ``cost(params, X, Y)`` and ``backward(params, X, Y)``
    params : dict of str -> ndarray
        Starting parameters (not modified).
    X : array_like of shape (n_x, m)
    Y : array_like of shape (n_y, m)
    optimizer : Optimizer
        Used as given: its state carries over if it was stepped before (pass a
        fresh one, or call ``reset()``, to start from scratch).
    num_epochs : int >= 0
    batch_size : int >= 1 or None, default 64
        None (or ``>= m``) is full-batch gradient descent (no shuffling).
    seed : int, None or numpy.random.Generator
        Drives the shuffles; the same seed gives the same run.
    schedule : callable ``schedule(epoch) -> learning_rate``, optional
        Called at the start of every epoch (0, 1, ...); the result is assigned
        to ``optimizer.learning_rate``.
    callback : callable ``callback(epoch, params, cost)``, optional
        Called after every epoch with that epoch's cost; returning True stops
        training (the convention of both loops, see :mod:`fastgrad.training`).
    progress : bool or None
        True shows a tqdm bar; None shows one only on long runs in a terminal
        (when tqdm is installed); False never does.
    print_every : int, optional
        Print ``Cost after epoch e: J`` for every epoch ``e`` divisible by it.
    check_gradients : sequence of int, or True, optional
        Epochs at which to run ``fastgrad.gradient_check`` on one fixed
        mini-batch (the first one of epoch 0): ``(0, N)`` checks at random
        initialization and again after ``N`` epochs; True means
        ``(0, num_epochs)``. A failed check is kept and warned about; checks
        after an early stop do not run. Checking does not change the training.
    check_options : dict, optional
        Keyword arguments passed on to ``fastgrad.gradient_check``. For a
        model with dropout the check freezes the masks with ``seed`` (default
        0) for both backprop and the check, unless ``dropout=False`` is given.

    Returns
    -------
    FitResult
        ``.params`` (new arrays), ``.costs`` per epoch, ``.learning_rates``,
        ``.gradient_checks`` ``{epoch: report}``.

    Raises
    ------
    ValueError, TypeError
        For bad arguments (each message names the argument).
    DivergenceError
        (a FloatingPointError) when a cost, a gradient or a parameter becomes
        NaN or inf; the message names the epoch and suggests a smaller
        learning rate.
    """
    run = _Fit(
        model,
        optimizer,
        num_epochs=num_epochs,
        batch_size=batch_size,
        schedule=schedule,
        callback=callback,
        progress=progress,
        print_every=print_every,
        check_gradients=check_gradients,
        check_options=check_options,
    )
    X, Y, params = _fit_data(model, params, X, Y)
    run.start(X)
    rng = as_generator(seed)
    stopped = False
    try:
        for epoch in range(run.num_epochs + 1):
            training = epoch < run.num_epochs
            if training:
                batches = run.batches(X, Y, rng)
            if epoch == 0 and run.check_at:
                # One fixed batch for every check, so the reports differ only by params.
                run.check_batch = (
                    (X, Y)
                    if run.full_batch
                    else (batches if training else shuffled_batches(X, Y, run.batch_size, rng))[0]
                )
            if epoch in run.check_at:
                run.gradient_check(epoch, params)
            if not training:
                break
            params, epoch_cost = run.epoch(epoch, params, batches, rng)
            run.report(epoch, epoch_cost)
            if callback_stops(callback, epoch, params, epoch_cost):
                stopped = True
                break
    finally:
        if run.bar is not None:
            run.bar.close()
    return FitResult(params, run.costs, run.rates, run.reports, stopped, optimizer)
