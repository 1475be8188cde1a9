"""The one training loop: epochs of mini-batch optimizer steps.

:func:`fit` (the course's week-2 loop) is this loop with every option;
:func:`~fastgrad.training.descent.gradient_descent` (week 1) is the same loop
run full-batch with :class:`~fastgrad.training.optimizers.GradientDescent`.

A step of the loop is one epoch: every mini-batch gives a cost and the
gradients at the current parameters, then one optimizer update. After the
epoch the loop records the epoch's cost (the batch costs averaged by batch
size, exactly the batch's cost when there is one batch) and calls
``callback(step, params, cost)`` with the parameters *after* the epoch's
updates; True stops the run, which returns those parameters.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad import _progress
from fastgrad._rng import as_generator
from fastgrad._typing import ArrayLike, Optimizer, Params, Seed
from fastgrad.nn.protocol import Model
from fastgrad.training.batches import check_xy, shuffled_batches
from fastgrad.training.checks import TrainingChecks
from fastgrad.training.results import (
    DivergenceError,
    FitResult,
    callback_stops,
    fresh_copy,
    optional_callable,
    require_methods,
)


def fit_data(model, params, X, Y):
    """Validated ``X``, ``Y`` and float64 copies of ``params``."""
    if hasattr(model, "check_data"):
        X, Y = model.check_data(X, Y)
    else:
        X, Y = check_xy(X, Y)
        for arr, name in ((X, "X"), (Y, "Y")):
            if not ac.all_finite(arr):
                raise ValueError(f"{name} contains NaN or inf")
    if hasattr(model, "check_params"):
        params = model.check_params(params)
    elif not isinstance(params, dict):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")
    return X, Y, fresh_copy(params)


class Loop:
    """The one training loop: its validated settings and what a run records.

    ``unit`` names a step in messages ("epoch" for :func:`fit`, "iteration"
    for ``gradient_descent``); ``record_every`` keeps the cost of every
    k-th step only.
    """

    def __init__(
        self,
        model,
        optimizer,
        *,
        num_epochs,
        batch_size,
        schedule=None,
        callback=None,
        progress=None,
        print_every=None,
        record_every=1,
        unit="epoch",
    ):
        require_methods(model, ("cost", "backward"), "a model")
        if isinstance(optimizer, type):  # its methods are there, unbound
            raise TypeError(
                f"optimizer must be an Optimizer instance, got the class {optimizer.__name__} "
                f"(construct it first, e.g. {optimizer.__name__}(0.001))"
            )
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
        self.model, self.optimizer, self.schedule, self.callback = (
            model,
            optimizer,
            schedule,
            callback,
        )
        self.progress, self.record_every, self.unit = progress, record_every, unit
        self.costs, self.rates = [], []

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
        # Restored if the run diverges, so a failed run leaves the model as it was.
        self.saved_stats = (
            (dict(self.model.running_mean), dict(self.model.running_var))
            if self.batchnorm
            else None
        )
        n_batches = 1 if self.full_batch else -(-m // self.batch_size)
        self.bar = _progress.epoch_bar(self.progress, self.num_epochs, self.num_epochs * n_batches)
        self.write = self.bar.write if self.bar is not None else print

    def run(self, params, X, Y, seed, checks=None):
        """Train ``params`` (validated float64 copies) on ``X``, ``Y``:
        ``(params, stopped)``, stopped being True when the callback said so."""
        self.start(X)
        rng = as_generator(seed)
        try:
            for epoch in range(self.num_epochs + 1):
                training = epoch < self.num_epochs
                batches = self.batches(X, Y, rng) if training else None
                if checks is not None:
                    checks(epoch, params, functools.partial(self.first_batch, X, Y, batches, rng))
                if not training:
                    break
                params, cost = self.epoch(epoch, params, batches, rng)
                self.report(epoch, cost)
                if callback_stops(self.callback, epoch, params, cost):
                    return params, True
        finally:
            if self.bar is not None:
                self.bar.close()
        return params, False

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

    def first_batch(self, X, Y, batches, rng):
        """The first batch of epoch 0 (a fresh shuffle when no epoch is trained)."""
        if self.full_batch:
            return X, Y
        return (batches if batches is not None else shuffled_batches(X, Y, self.batch_size, rng))[0]

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
        """One pass over ``batches``: ``(params, the epoch's cost)``."""
        lr = self.learning_rate(epoch)
        total = 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            for b, (Xb, Yb) in enumerate(batches):
                try:
                    cost, params = self.step(params, Xb, Yb, rng)
                except FloatingPointError as exc:
                    raise self.diverged(epoch, b, len(batches), lr, exc) from exc
                total += cost * Xb.shape[1]
        self.rates.append(lr)
        # One batch: its cost as computed ((J·m)/m can be one unit in the last place off).
        return params, (cost if len(batches) == 1 else total / self.m)

    def step(self, params, Xb, Yb, rng):
        """The cost on one batch and the parameters after one optimizer step."""
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

    def diverged(self, epoch, b, n_batches, lr, exc):
        """The DivergenceError for a NaN/inf in batch ``b`` of ``epoch``; puts
        the batch-norm running statistics back as they were."""
        if self.saved_stats is not None:
            self.model.running_mean, self.model.running_var = map(dict, self.saved_stats)
        where = f"{self.unit} {epoch}"
        if n_batches > 1:
            where += f" (batch {b + 1} of {n_batches})"
        return DivergenceError(
            f"training diverged in {where}: {exc}. The learning rate {lr:g} is probably too "
            f"large; try a smaller one (e.g. {lr / 10:g}), or check the inputs are normalized.",
            iteration=epoch,
        )

    def report(self, epoch, cost):
        """Record, print and draw the step's cost."""
        if epoch % self.record_every == 0:
            self.costs.append(cost)
        if self.print_every is not None and epoch % self.print_every == 0:
            self.write(f"Cost after epoch {epoch}: {cost:f}")
        if self.bar is not None:
            self.bar.update(1)
            if epoch % max(1, self.num_epochs // 100) == 0:
                self.bar.set_postfix_str(f"cost={cost:.4g}", refresh=False)


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
        Called after every epoch with the parameters after it and the epoch's
        cost (computed before its updates); returning True stops training, and
        ``fit`` returns those parameters (the convention of both loops, see
        :mod:`fastgrad.training`).
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
        ``.gradient_checks`` ``{epoch: report}``, and with batch norm the
        running statistics that go with ``.params`` (``.running_mean``,
        ``.running_var``).

    Raises
    ------
    ValueError, TypeError
        For bad arguments (each message names the argument).
    DivergenceError
        (a FloatingPointError) when a cost, a gradient or a parameter becomes
        NaN or inf; the message names the epoch and suggests a smaller
        learning rate.
    """
    loop = Loop(
        model,
        optimizer,
        num_epochs=num_epochs,
        batch_size=batch_size,
        schedule=schedule,
        callback=callback,
        progress=progress,
        print_every=print_every,
    )
    checks = TrainingChecks(model, check_gradients, loop.num_epochs, check_options)
    X, Y, params = fit_data(model, params, X, Y)
    params, stopped = loop.run(params, X, Y, seed, checks)
    stats = (None, None)
    if loop.batchnorm:
        stats = tuple(
            {l: np.array(a, dtype=np.float64) for l, a in d.items()}
            for d in (model.running_mean, model.running_var)
        )
    return FitResult(params, loop.costs, loop.rates, checks.reports, stopped, optimizer, *stats)
