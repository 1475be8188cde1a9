"""The training loops: :func:`fit` (mini-batches and any optimizer, the
course's week-2 loop) and :func:`gradient_descent` (full-batch, the course's
week-1 loop), with one divergence error and one set of argument rules.

Callbacks: ``fit`` calls ``callback(epoch, params, cost)`` after every epoch
and stops when it returns ``False``; ``gradient_descent`` keeps its
historical ``callback(i, cost, params)`` before each update, which stops
when it returns ``True`` (see the CHANGELOG).
"""

from fastgrad.training.descent import gradient_descent
from fastgrad.training.loop import fit
from fastgrad.training.results import DivergenceError, FitResult, TrainResult

__all__ = ["fit", "FitResult", "gradient_descent", "TrainResult", "DivergenceError"]
