"""The training loops: :func:`fit` (mini-batches and any optimizer, the
course's week-2 loop) and :func:`gradient_descent` (full-batch, the course's
week-1 loop), with one divergence error and one set of argument rules.

One callback convention: ``callback(step, params, cost)``, and returning True
stops (as in ``scipy.optimize``). ``fit`` calls it after every epoch with the
epoch's cost; ``gradient_descent`` at every iteration with the cost of the
parameters before that iteration's update.
"""

from fastgrad.training.descent import gradient_descent
from fastgrad.training.loop import fit
from fastgrad.training.results import DivergenceError, FitResult, TrainResult

__all__ = ["fit", "FitResult", "gradient_descent", "TrainResult", "DivergenceError"]
