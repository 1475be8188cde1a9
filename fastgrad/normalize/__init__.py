"""Input normalization: the :class:`Normalizer` estimator, its input checks,
statistics, persistence, distribution report and compiled kernel."""

from fastgrad.normalize.normalizer import DistributionReport, Normalizer, NotFittedError

__all__ = ["Normalizer", "NotFittedError", "DistributionReport"]
