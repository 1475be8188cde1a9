"""The gradient checks' shared options, validated in one place.

Used by the MLP path, the generic cost-method path and ``check_grad``, so an
option means and refuses the same thing on every path.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from fastgrad._rng import as_generator
from fastgrad.gradcheck.parallel import check_workers
from fastgrad.gradcheck.report import check_thresholds

MODES = ("full", "sampled", "directional")


def epsilon(value):
    """ε as a positive finite float; bools and strings are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"epsilon must be a positive float, got {value!r} ({type(value).__name__})")
    eps = float(value)
    if not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"epsilon must be a positive finite float, got {value!r}")
    return eps


def mode(value):
    if not isinstance(value, str) or value not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {value!r}")
    return value


def k(value, mode):
    """``k`` per block for the cheap modes: None gives 10 sampled coordinates
    or 3 directions (None for a full check); otherwise a positive int,
    validated in every mode."""
    if value is None:
        return {"sampled": 10, "directional": 3}.get(mode)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"k must be a positive int or None, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"k must be a positive int, got {value!r}")
    return int(value)


def flag(value, name, allow_none=False):
    """True/False (or None where allowed); never a truthy string or number."""
    if (allow_none and value is None) or isinstance(value, (bool, np.bool_)):
        return value if value is None else bool(value)
    raise TypeError(
        f"{name} must be True or False{' or None' if allow_none else ''}, "
        f"got {value!r} ({type(value).__name__})"
    )


def workers(value, path="this check"):
    """Refuse a parallel request on a path that runs serially only (``value``
    already validated by :func:`fastgrad.gradcheck.parallel.check_workers`)."""
    if value is not None:
        raise ValueError(
            f"workers={value!r}: parallel evaluation is not available for {path}; "
            "use workers=None (serial)"
        )
    return None


def progress(value):
    return flag(value, "progress", allow_none=True)


_epsilon, _progress = epsilon, progress  # common() takes arguments of the same names


@dataclass(frozen=True)
class Common:
    """The options every callable check shares (``check_grad``, ``check_vjp``)."""

    epsilon: float
    workers: object  # None, an int >= 2 or an Executor
    thresholds: tuple
    thresholds_given: bool  # False: a float32 model may take lowprec's bands
    progress: bool | None
    raise_on_failure: bool
    rng: object  # numpy.random.Generator
    seed_given: bool = False  # a seed (or Generator) the caller can draw from too


def common(*, epsilon, workers, thresholds, progress, raise_on_failure, seed):
    """Validate the shared options in one place, in the order the messages
    are expected (ε first, the seed last)."""
    eps = _epsilon(epsilon)
    workers = check_workers(workers)
    raise_on_failure = flag(raise_on_failure, "raise_on_failure")
    given = thresholds is not None
    thresholds = check_thresholds(thresholds)
    progress = _progress(progress)
    rng = as_generator(seed)
    return Common(
        eps, workers, thresholds, given, progress, raise_on_failure, rng, seed is not None
    )


@dataclass(frozen=True)
class Settings:
    """A check's validated options, handed from the front door to a path."""

    epsilon: float
    n_threads: int
    mode: str
    k: int | None
    thresholds: tuple
    progress: bool | None
    raise_on_failure: bool
    started: float  # time.perf_counter() when the check began
    workers: object = None  # None, an int >= 2 or an Executor (parallel.check_workers)
