"""Training: the optimizers and learning-rate schedules, mini-batches, and
the one training loop (:mod:`fastgrad.training.loop`), used two ways:
:func:`fit` (mini-batches and any optimizer, the course's week-2 loop) and
:func:`gradient_descent` (full-batch plain gradient descent, week 1).

One callback convention: ``callback(step, params, cost)`` is called after
every step (an epoch of ``fit``, an iteration of ``gradient_descent``) with
the parameters after that step's update(s) and the step's cost (computed
before them); returning True stops (as in ``scipy.optimize``) and the run
returns the parameters the callback was given. A NaN or infinite cost,
gradient or parameter raises :class:`DivergenceError` naming the step.
"""

from fastgrad.training.descent import gradient_descent
from fastgrad.training.loop import fit
from fastgrad.training.results import DivergenceError, FitResult, TrainResult

__all__ = [
    "fit",
    "FitResult",
    "gradient_descent",
    "TrainResult",
    "DivergenceError",
]
