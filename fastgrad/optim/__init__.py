"""Optimizers, learning-rate schedules and mini-batches; :func:`fit` (the
training loop, :mod:`fastgrad.training`) is re-exported here, where the
course's week-2 code looks for it. A new optimizer or schedule is one class
(and its name in its module's ``__all__``)."""

from fastgrad.optim import optimizers, schedules
from fastgrad.optim.optimizers import *  # noqa: F403
from fastgrad.optim.schedules import *  # noqa: F403
from fastgrad.training import FitResult, fit
from fastgrad.training.batches import random_mini_batches

__all__ = ["random_mini_batches", *optimizers.__all__, *schedules.__all__, "FitResult", "fit"]
