"""The front door of gradient checking: :func:`gradient_check` (an
:class:`fastgrad.MLP` through its compiled kernel, :mod:`fastgrad.gradcheck.mlp`;
any object with a ``cost`` method through :mod:`fastgrad.gradcheck.generic`),
:func:`check_grad` and :func:`numerical_gradient` (any Python callable).

Every path compares the two-sided finite difference of the cost with
backprop by ``‖a − n‖₂ / (‖a‖₂ + ‖n‖₂)`` and returns a
:class:`~fastgrad.gradcheck.report.GradCheckReport`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np

from fastgrad import _progress
from fastgrad._rng import as_generator
from fastgrad._threads import effective_n_threads, single_threaded_blas
from fastgrad._typing import ArrayLike, Params, ScalarFunction, Seed, Thresholds
from fastgrad.gradcheck import (
    _generic_kernel,
    generic,
    inputs,
    kinks,
    lowprec,
    mlp,
    options,
    parallel,
    structured,
)
from fastgrad.gradcheck.report import GradCheckReport, GradientCheckError, check_thresholds
from fastgrad.nn.model import MLP
from fastgrad.nn.protocol import CostModel
from fastgrad.nn.spec import sample_coordinates

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
    mode : {"full", "sampled", "directional"}
        ``full`` checks every coordinate. ``sampled`` checks ``k``
        coordinates (default 10) from *every* block, so no bias is missed.
        ``directional`` compares, for ``k`` random unit directions v inside
        every block, the difference of the cost along v with ``v·dθ`` (two
        cost evaluations per direction, like torch's fast mode); a block that
        fails is then checked in full so the report still points at entries.
    k : int, optional
        Coordinates (sampled) or directions (directional) per block.
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
    raises MemoryError with the estimate before allocating anything. A step
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
    thresholds = check_thresholds(thresholds)
    mode = options.mode(mode)
    k = options.k(k, mode)
    nt = effective_n_threads(n_threads)
    dropout = options.flag(dropout, "dropout")
    progress = options.progress(progress)
    raise_on_failure = options.flag(raise_on_failure, "raise_on_failure")
    _check_model_kind(model)
    opts = dict(mode=mode, k=k, seed=seed, n_threads=nt, dropout=dropout, progress=progress)
    if not isinstance(model, MLP):
        return generic.check_generic_model(
            model, params, grads, X, Y, eps, thresholds, raise_on_failure, **opts
        )
    settings = options.Settings(eps, nt, mode, k, thresholds, progress, raise_on_failure, t0)
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
    rng = as_generator(seed)
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


def numerical_gradient(f: ScalarFunction, theta: ArrayLike, *, epsilon: float = 1e-7) -> np.ndarray:
    """Two-sided numerical gradient of a scalar function.

    Parameters
    ----------
    f : callable
        ``f(theta) -> float``; receives a read-only array shaped like
        ``theta`` (copy it if ``f`` needs to write).
    theta : array_like, any shape
        The point. Not modified: the compiled loop perturbs a float64 working
        copy in place and restores every entry from its saved bits.
    epsilon : float, default 1e-7
        Absolute step. Coordinates where ``theta ± epsilon`` overflows or
        rounds back to ``theta`` are refused with a ValueError.

    Returns
    -------
    ndarray, shaped like ``theta``, float64 (empty for an empty ``theta``)

    Raises
    ------
    ValueError
        ``f`` returned NaN or inf (the message names the coordinate and the
        side), or a step cannot be taken.
    """
    _check_callable(f)
    eps = options.epsilon(epsilon)
    work = _as_theta(theta)
    flat = work.reshape(-1)
    blocks = [("theta", slice(0, flat.size), work.shape)]
    out = generic.central_differences(
        f,
        flat,
        generic.read_only(work),
        eps,
        np.arange(flat.size, dtype=np.intp),
        blocks,
        _argument_name(f),
        False,
        "fastgrad numerical_gradient",
    )
    return out.reshape(work.shape)


def _check_callable(f):
    if not callable(f):
        raise TypeError(f"f must be a callable f(theta) -> float, got {type(f).__name__}")


def _callable_name(f):
    return getattr(f, "__name__", type(f).__name__)


def _argument_name(f):
    """How messages name the user's callable: the argument ``f``, and its own name."""
    return f"f ({_callable_name(f)})"


def _as_theta(theta, name="theta"):
    return inputs.as_theta(theta, name)


def check_grad(
    f: ScalarFunction,
    theta: ArrayLike | dict | list | tuple,
    grad: ArrayLike | dict | list | tuple | Callable,
    *,
    epsilon: float = 1e-7,
    mode: str = "full",
    k: int | None = None,
    seed: Seed = None,
    workers: int | None = None,
    thresholds: Thresholds | None = None,
    progress: bool | None = None,
    raise_on_failure: bool = False,
) -> GradCheckReport:
    """Check a gradient of any Python function ``f(theta) -> float``.

    Parameters
    ----------
    f : callable
        Receives ``theta``'s structure (an array, a dict or a list/tuple) made
        of read-only float64 arrays; must return one real number.
    theta : array_like, dict of arrays, or list/tuple of arrays
        The point. A dict may use any keys (``{"conv_w": ..., "db2": ...}``);
        the report has one block per key (per position for a list/tuple,
        ``theta[0]``, ...), named by it. A list counts as several blocks only
        when every item is an ndarray. Never modified.
    grad : same structure as ``theta``, or callable ``grad(theta)``
        The gradient to check (a callable receives a writable copy of theta).
    epsilon : float, default 1e-7
    mode : {"full", "sampled", "directional"}
        As for :func:`gradient_check`: ``sampled`` checks ``k`` coordinates
        (default 10) of every block, ``directional`` ``k`` random unit
        directions (default 3) inside every block, and a block that fails
        along them is then checked in full.
    k : int, optional
    seed : int, None or numpy.random.Generator
        For ``sampled`` and ``directional``.
    workers : None, int or concurrent.futures.Executor
        ``N`` evaluates the coordinates in N processes (``f`` shipped with
        cloudpickle: ``pip install fastgrad[parallel]``); an Executor is used
        as is. The report is identical to the bit to the serial one. A check
        estimated under 0.2 s stays serial with ``workers=N`` (see
        :mod:`fastgrad.gradcheck.parallel`). Not with ``mode="directional"``.
    thresholds : (float, float), default (1e-6, 1e-3)
    progress : bool or None
        As for :func:`gradient_check`.
    raise_on_failure : bool, default False

    Returns
    -------
    GradCheckReport
        One block per key/position (``"theta"`` for one array);
        ``report.numerical[name]`` is the numerical gradient of that block.

    Notes
    -----
    ``f`` is called once at θ itself (one extra evaluation for the whole
    check): its value gives the one-sided differences that find kinks
    (relu, abs, max inside θ ± ε; see :mod:`fastgrad.gradcheck.kinks`),
    and its dtype tells a float32 model. Kinks are counted and marked
    ``*``; where the gradient lies between the one-sided slopes (a
    subgradient) they are left out of the verdict. A float32 model (``f``
    returns float32 or ``grad`` is float32) is checked with a step
    ``max(epsilon, cbrt(u32)·max(1, |θ_i|))`` at float32 points and the bands
    (1e-3, 1e-2) unless ``thresholds`` is given; the report states the step
    and the noise floor (:mod:`fastgrad.gradcheck.lowprec`).
    """
    t0 = time.perf_counter()
    _check_callable(f)
    eps = options.epsilon(epsilon)
    mode = options.mode(mode)
    k = options.k(k, mode)
    workers = parallel.check_workers(workers)
    raise_on_failure = options.flag(raise_on_failure, "raise_on_failure")
    thresholds_given = thresholds
    thresholds = check_thresholds(thresholds)
    progress = options.progress(progress)
    rng = as_generator(seed)
    st, flat = structured.flatten(theta, "theta", warn=False)
    if callable(grad):
        grad = grad(st.copies(flat))
    view = st.views(flat)
    t_call = time.perf_counter()
    raw = generic.call_raw(f, view, _argument_name(f))
    t_call = time.perf_counter() - t_call
    f32 = lowprec.is_float32(raw) or lowprec.is_float32(grad)
    analytic = st.flatten_like(grad, "grad", warn=not f32)
    if not f32:
        for label, dt in structured.low_precision(theta):
            warnings.warn(
                f"{label} is {dt}; upcast to float64 (a finite difference "
                "with epsilon=1e-7 needs double precision)",
                UserWarning,
                stacklevel=2,
            )
    if f32:
        if mode == "directional":
            raise ValueError(
                "mode='directional' is not available for a float32 model (f returns float32 "
                "or grad is float32); use mode='full' or 'sampled'"
            )
        if thresholds_given is None:
            thresholds = lowprec.THRESHOLDS
    run = dict(
        call=f,
        flat=flat,
        eps=eps,
        blocks=st.blocks,
        fname=_argument_name(f),
        progress=progress,
        view=view,
        prefix="",
    )
    desc = "fastgrad check_grad"
    if mode == "directional":
        if workers is not None:
            raise ValueError(
                "workers= is not available with mode='directional' (a few directions per "
                "block run serially); use mode='full' or 'sampled' with workers, or workers=None"
            )
        found = generic.directional_run(analytic, k, rng, thresholds, desc, **run)
    else:
        found = coordinates_with_kinks(
            mode, k, rng, desc, analytic, raw, f32, (workers, t_call, st), **run
        )
    return generic.build_report(
        title=_callable_name(f),
        analytic=analytic,
        blocks=st.blocks,
        prefix="",
        eps=eps,
        thresholds=thresholds,
        seconds=time.perf_counter() - t0,
        raise_on_failure=raise_on_failure,
        **found,
    )


def coordinates_with_kinks(
    mode, k, rng, desc, analytic, raw, f32, pool, *, call, flat, view, **run
):
    """Every coordinate (``full``) or ``k`` per block (``sampled``), keeping
    f(θ ± εe_i) for the kink test (one more evaluation, f at θ itself)."""
    P = flat.size
    coords = np.arange(P) if mode == "full" else sample_coordinates(run["blocks"], k, rng)
    coords = np.ascontiguousarray(coords, dtype=np.intp)
    f0 = _generic_kernel.as_real_scalar(raw, run["fname"])
    if not np.isfinite(f0):
        raise ValueError(f"{run['fname']} returned {f0!r} at theta itself: f must be finite there")
    args = (call, flat, view, run["eps"], coords, run["blocks"], run["fname"], run["progress"])
    notes, steps, unit = [], None, kinks.U64
    workers, t_call, st = pool
    use, chunk, n_workers = parallel.plan(workers, coords.size, t_call)
    if use:
        bar = _progress.Progress(coords.size, run["progress"], desc)
        try:
            n, values, st32, n_chunks = parallel.run(
                workers,
                "f32" if f32 else "central",
                call,
                st,
                flat,
                run["eps"],
                coords,
                run["fname"],
                chunk,
                bar,
            )
        finally:
            bar.close()
        if f32:
            hp, hm, h = st32
        notes.append(parallel.describe(workers, n_workers, n_chunks, chunk))
    elif f32:
        n, values, hp, hm, h = lowprec.differences(*args, desc)
    else:
        values = np.empty((coords.size, 2))
        n = generic.central_differences(*args, desc, values=values)
    if f32:
        notes.insert(0, lowprec.note(h, values, f0))
        steps, unit = (hp, hm), lowprec.U32
    kink, sub, sp, sm = kinks.find(
        flat[coords], run["eps"], f0, values, n, analytic[coords], unit, steps
    )
    numerical = np.full(P, np.nan)
    checked = np.zeros(P, dtype=bool)
    numerical[coords], checked[coords] = n, True
    mask = np.zeros(P, dtype=bool)
    mask[coords[sub]] = True
    hints = []
    bad = kink & ~sub
    if bad.any():
        j = int(np.argmax(bad))
        where = inputs.coordinate_name(run["blocks"], int(coords[j]))
        hints.append(
            f"{int(bad.sum())} coordinate(s) sit on a kink of f but the analytic value is not "
            f"between the one-sided slopes (first at {where}: analytic {analytic[coords[j]]:.6g}, "
            f"slopes {sm[j]:.6g} and {sp[j]:.6g}): not a subgradient"
        )
    return dict(
        numerical=numerical,
        checked=checked,
        mode="callable" if mode == "full" else mode,
        kinks=mask,
        kink_text="sit on a kink of f (the one-sided slopes disagree)",
        extra_hints=hints,
        notes=tuple(notes),
    )


__all__ = ["gradient_check", "check_grad", "numerical_gradient", "GradientCheckError", "MODES"]
