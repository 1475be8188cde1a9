"""Optimizers, learning-rate schedules, mini-batches and the training loop."""
from fastgrad.optim.optimizers import *  # noqa: F401,F403
from fastgrad.optim.optimizers import __all__  # noqa: F401
