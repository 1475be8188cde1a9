"""The course's week-2 names in one place: the optimizers, the learning-rate
schedules, mini-batches and :func:`fit`. Their code lives in
:mod:`fastgrad.training` (the loop uses the optimizers, so they sit beside it);
this package only hands the names on."""

from fastgrad.training import FitResult, fit, optimizers, schedules
from fastgrad.training.batches import random_mini_batches
from fastgrad.training.optimizers import *  # noqa: F403
from fastgrad.training.schedules import *  # noqa: F403

__all__ = ["random_mini_batches", *optimizers.__all__, *schedules.__all__, "FitResult", "fit"]
