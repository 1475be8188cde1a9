"""The front door of gradient checking: :func:`gradient_check` (an
:class:`fastgrad.MLP` through its compiled kernel, :mod:`fastgrad.gradcheck.mlp`;
any object with a ``cost`` method through :mod:`fastgrad.gradcheck.generic`),
:func:`check_grad` and :func:`numerical_gradient` (any Python callable,
:mod:`fastgrad.gradcheck.callable`).

Every path compares the two-sided finite difference of the cost with
backprop by ``‖a − n‖₂ / (‖a‖₂ + ‖n‖₂)`` and returns a
:class:`~fastgrad.gradcheck.report.GradCheckReport`.
"""

from __future__ import annotations

import time

import numpy as np

from fastgrad._rng import as_generator
from fastgrad._threads import effective_n_threads, single_threaded_blas
from fastgrad._typing import ArrayLike, Params, Seed, Thresholds, Workers
from fastgrad.gradcheck import cost_model, mlp, options, parallel
from fastgrad.gradcheck.report import GradCheckReport, check_thresholds
from fastgrad.nn.model import MLP
from fastgrad.nn.protocol import CostModel

MODES = options.MODES


def gradient_check(
    model: CostModel,
    params: Params,
    grads: Params,
    X: ArrayLike,
    Y: ArrayLike,
    *,
    epsilon: float = 1e-7,
    n_threads: int | None = None,
    workers: Workers = None,
    mode: str = "full",
    k: int | None = None,
    seed: Seed = None,
    dropout: bool = True,
    thresholds: Thresholds | None = None,
    progress: bool | None = None,
    raise_on_failure: bool = False,
) -> GradCheckReport:
    """Check backprop gradients against the two-sided numerical gradient.

    Parameters
    ----------
    model : fastgrad.MLP
        The network whose cost ``J`` is differentiated. Any object with a
        ``cost(params, X, Y)`` method also works (through the generic, slower
        path of :func:`check_grad`).
    params : dict
        ``{"W1": (n1, n0), "b1": (n1, 1), ...}``; a batch-normalized layer l
        has ``gamma{l}`` and ``beta{l}`` (``(n_l, 1)``) instead of ``b{l}``.
    grads : dict
        The gradients to check, ``{"dW1": (n1, n0), "db1": (n1, 1), ...}``;
        exactly one per parameter.
    X : array of shape (n_x, m)
        Inputs, examples as columns.
    Y : array of shape (n_L, m)
        Targets (``(m,)`` is accepted for one output unit).
    epsilon : float, default 1e-7
        The step ε of ``(J(θ+εe_i) − J(θ−εe_i)) / 2ε``.
    n_threads : int or None
        OpenMP threads; None uses the cores OpenMP would use (respecting
        ``OMP_NUM_THREADS``), -1 all usable cores; never more than the usable
        cores. The report is identical, to the bit, for every value.
    workers : None, int, concurrent.futures.Executor or dask.distributed.Client
        For a :class:`~fastgrad.MLP`: the coordinates split into shards run
        by the compiled kernel in other processes or on a dask cluster. The
        model, parameters, data, ε and frozen dropout factors are shipped
        once (a Client scatters them to every worker), each worker builds the
        forward pass once, and every shard propagates as the whole local run
        would, so the report is identical to the bit to ``workers=None``. An
        int N starts N processes for the check (a worker that dies has its
        shards rerun in a fresh pool, at most 3 times); dask reruns the tasks
        of a lost worker itself. In ``directional`` mode the directions run
        here and a failing block's full re-check is sharded. Models with a
        ``cost`` method: the calls of ``cost`` are spread over the workers as
        :func:`~fastgrad.check_grad` spreads ``f``'s (also identical bits).
    mode : {"full", "sampled", "directional"}
        ``full`` checks every coordinate. ``sampled`` checks ``k``
        coordinates (default 10) from *every* block, so no bias is missed.
        ``directional`` compares, for ``k`` random unit directions v inside
        every block, the difference of the cost along v with ``v·dθ`` (two
        cost evaluations per direction, like torch's fast mode); a block that
        fails is then checked in full so the report still points at entries.
    k : int, optional
        Coordinates (sampled) or directions (directional) per block; validated
        but unused by ``mode='full'``, which checks every coordinate.
    seed : int, None or numpy.random.Generator
        For ``sampled`` and ``directional``, and the dropout masks: for a
        model with ``keep_prob < 1`` it must be the int given to
        ``model.backward(..., seed=)``, so that θ+ε, θ−ε and the analytic
        gradient all see the same masks (a check whose masks are redrawn at
        every evaluation compares noise with noise, and is refused).
    dropout : bool, default True
        False checks with every unit kept (pass ``dropout=False`` to
        ``model.backward`` too).
    thresholds : (float, float), default (1e-6, 1e-3)
        Verdict boundaries: great below the first, bug from the second on.
    progress : bool or None
        Progress bar / ETA: None shows it for checks expected to take more
        than a couple of seconds; False never; True always. When stderr is
        not a terminal (CI logs, pipes) it is a few plain lines instead of a
        bar: one at the start, then at most one every 10 s.
    raise_on_failure : bool, default False
        Raise :class:`fastgrad.GradientCheckError` unless the verdict is great.

    Returns
    -------
    GradCheckReport

    Notes
    -----
    The check runs in pieces of about 0.2 s, so Ctrl-C stops it promptly. It
    needs memory in proportion to what it checks; a check that cannot fit
    raises MemoryError with the estimate before allocating anything. The
    threads' scratch and the Taylor jets' arrays of a finished check (at most
    16 MiB of each) are kept for the next one, which then maps no fresh pages. A step
    ε·activation above 1 uses overflow-free forms of the loss and activation
    differences (the finite difference stays finite whenever the cost is).

    Batch-normalized networks are checked by the same compiled kernel (every
    example is carried below a batch-norm layer, so they cost more per
    coordinate); the directional mode is not available for them. Nothing
    passed in is modified. Inputs in float32 are upcast to float64
    with a warning: a finite difference at ε = 1e-7 needs double precision.
    """
    t0 = time.perf_counter()
    eps = options.epsilon(epsilon)
    given_thresholds = thresholds
    thresholds = check_thresholds(thresholds)
    mode = options.mode(mode)
    k = options.k(k, mode)
    nt = effective_n_threads(n_threads)
    workers = parallel.check_workers(workers)
    dropout = options.flag(dropout, "dropout")
    progress = options.progress(progress)
    raise_on_failure = options.flag(raise_on_failure, "raise_on_failure")
    _check_model_kind(model)
    opts = dict(mode=mode, k=k, seed=seed, n_threads=nt, dropout=dropout, progress=progress)
    if not isinstance(model, MLP):
        # None stays None: the cost-method path picks float32 bands for a
        # float32 model unless the caller chose bands.
        bands = None if given_thresholds is None else thresholds
        return cost_model.check_generic_model(
            model, params, grads, X, Y, eps, bands, raise_on_failure, workers=workers, **opts
        )
    settings = options.Settings(
        eps, nt, mode, k, thresholds, progress, raise_on_failure, t0, workers=workers
    )
    return _check_mlp_model(model, params, grads, X, Y, settings, seed, dropout)


def _check_model_kind(model):
    """A model instance: an MLP, or any object with a ``cost`` method."""
    if isinstance(model, type):
        raise TypeError(
            f"model must be a model instance, got the class {model.__name__} "
            f"(construct it first, e.g. {model.__name__}([n_x, ..., n_L]))"
        )
    if not isinstance(model, MLP) and not callable(getattr(model, "cost", None)):
        raise TypeError(
            f"model must be a fastgrad.MLP or have a cost(params, X, Y) method, "
            f"got {type(model).__name__}"
        )


def _check_mlp_model(model, params, grads, X, Y, settings, seed, dropout):
    """The MLP path: validate against the model, freeze dropout, run the kernel."""
    params = model.check_params(params, "params", warn_downcast=True)
    grads = model.check_params(grads, "grads", prefix="d", warn_downcast=True)
    X, Y = model.check_data(X, Y, warn_downcast=True)
    scales = _frozen_dropout(model, X.shape[1], seed, dropout)
    if model.batchnorm and settings.mode == "directional":
        raise ValueError(
            "mode='directional' is not available for batch-normalized networks; "
            "use mode='full' or 'sampled'"
        )
    # a full check draws nothing: no Generator (and no OS entropy) for seed=None
    rng = None if seed is None and settings.mode == "full" else as_generator(seed)
    # BLAS stays on one thread for the whole check, set-up included and for
    # every n_threads: a threaded BLAS may round the set-up products
    # differently (n_threads=1 and 2 would then differ in the last bits), and
    # a threaded BLAS call in the set-up leaves its workers spinning for
    # ~0.1 s on the very cores the OpenMP kernel is about to use.
    with single_threaded_blas():
        return mlp.check_mlp(model, params, grads, X, Y, settings, rng, scales)


def _frozen_dropout(model, m, seed, dropout):
    """Frozen dropout factors for the check, or a refusal that says why."""
    if not dropout or not model.has_dropout:
        return None
    if seed is None:
        raise ValueError(
            f"{model!r} uses dropout: a gradient check whose masks are redrawn for every "
            "cost evaluation compares noise with noise. Freeze the masks by passing the same "
            "int seed to model.backward(..., seed=s) and gradient_check(..., seed=s), or "
            "check without dropout: dropout=False in both."
        )
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"with dropout, seed must be an int (the one given to model.backward) "
            f"so the same masks can be drawn again, got {type(seed).__name__}"
        )
    return model.dropout_scales(m, seed, True)


# The callable checks live in their own module; they are part of the front door.
from fastgrad.gradcheck.callable import check_grad, numerical_gradient  # noqa: E402,F401

__all__ = ["gradient_check", "check_grad", "numerical_gradient", "MODES"]
