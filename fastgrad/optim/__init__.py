"""Optimizers, learning-rate schedules and mini-batches; :func:`fit` (the
training loop, :mod:`fastgrad.training`) is re-exported here, where the
course's week-2 code looks for it."""

from fastgrad.optim.batching import random_mini_batches
from fastgrad.optim.optimizers import Adam, GradientDescent, Momentum, Optimizer, RMSprop
from fastgrad.optim.schedules import ExponentialDecay, InverseTimeDecay, StepDecay
from fastgrad.training import FitResult, fit

__all__ = [
    "random_mini_batches",
    "Optimizer",
    "GradientDescent",
    "Momentum",
    "RMSprop",
    "Adam",
    "InverseTimeDecay",
    "StepDecay",
    "ExponentialDecay",
    "FitResult",
    "fit",
]
