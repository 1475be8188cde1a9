"""Checks of any Python callable: :func:`check_grad` (a scalar function of
an array, or of named blocks in a dict, list or tuple) and
:func:`numerical_gradient`; kinks, float32 models and ``workers`` are handled
by :mod:`~fastgrad.gradcheck.kinks`, :mod:`~fastgrad.gradcheck.lowprec` and
:mod:`~fastgrad.gradcheck.parallel`.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable

import numpy as np

import fastgrad.gradcheck._generic_kernel as _generic_kernel
from fastgrad._typing import ArrayLike, ScalarFunction, Seed, Thresholds, Workers
from fastgrad.gradcheck import (
    calls,
    directional,
    generic,
    inputs,
    kinks,
    lowprec,
    options,
    structured,
)
from fastgrad.gradcheck.report import GradCheckReport
from fastgrad.gradcheck.rounding import noise_advice, rounding_error, typical_length
from fastgrad.nn.spec import sample_coordinates


def numerical_gradient(f: ScalarFunction, theta: ArrayLike, *, epsilon: float = 1e-7) -> np.ndarray:
    """Two-sided numerical gradient of a scalar function.

    Parameters
    ----------
    f : callable
        ``f(theta) -> float``; receives a read-only array shaped like
        ``theta`` (copy it if ``f`` needs to write), and must compute from
        it: a closure over the caller's own arrays does not see the steps.
        ``f`` is called once more at ``theta`` at the end, so a closure
        that stores its argument (``model.set_weights(w)``) is left at
        ``theta``.
    theta : array_like, any shape
        The point. Not modified: the compiled loop perturbs a float64 working
        copy in place and restores every entry from its saved bits.
    epsilon : float, default 1e-7
        Absolute step. Coordinates where ``theta ± epsilon`` overflows or
        rounds back to ``theta`` are refused with a ValueError.

    Returns
    -------
    ndarray, shaped like ``theta``, float64 (empty for an empty ``theta``)
        For an ``f`` that returns float32, the differences are taken as
        :func:`check_grad` takes those of a block that is not great: a step
        of ``max(epsilon, cbrt(u32)·max(1, |θ_i|))`` between float32 points,
        then ``/4``, ``/16``, ... (at most ``/4**8``, never below epsilon)
        while the difference still changes by more than its rounding, each
        coordinate keeping the step whose difference is closest to the next
        shorter step's (see :mod:`fastgrad.gradcheck.lowprec`); at least
        twice the calls of a float64 ``f``.

    Raises
    ------
    ValueError
        ``f`` returned NaN or inf (the message names the coordinate and the
        side), a step cannot be taken, or two calls of ``f`` at ``theta``
        disagree (it samples something).
    TypeError
        ``f`` returned something else than one floating-point number
        (float16, whose 3 digits no difference can resolve, included), or
        its signature cannot take ``theta`` as its one argument.

    Warns
    -----
    RuntimeWarning
        ``f`` returned the same value at ``theta`` and at every point
        differenced (the result is all zeros): an ``f`` that ignores its
        argument (a closure over the model's parameters) looks so, and so
        does a float32 model whose ``theta`` was upcast (a float32 ``theta``
        is upcast here, as there is no gradient whose bands could follow a
        float32 step; :func:`check_grad` checks it as a float32 model).
    """
    _check_callable(f)
    eps = options.epsilon(epsilon)
    work = inputs.real_array(theta, "theta", stacklevel=3)
    flat = work.reshape(-1)
    if flat.size == 0:
        return np.zeros(work.shape)
    blocks = [("theta", slice(0, flat.size), work.shape)]
    view, fname = generic.read_only(work), _argument_name(f)
    raw, _ = _first_calls(f, f, view, fname, flat, "numerical_gradient")
    f0 = _generic_kernel.as_real_scalar(raw, fname)
    coords = np.arange(flat.size, dtype=np.intp)
    with calls.left_at_theta(f, view, flat, fname):
        if lowprec.is_float32(raw):  # epsilon=1e-7 is below float32's resolution
            run = dict(
                call=f, flat=flat, view=view, eps=eps, blocks=blocks, fname=fname, progress=False
            )
            pool = (None, 0.0, None)
            out, values, steps, *_ = generic.numerical_at(
                coords, True, pool, "fastgrad numerical_gradient", **run
            )
            # no gradient to compare with: every coordinate is refined, as check_grad
            # refines a block that is not great (great=0: no block is)
            out, values, *_ = generic.refined_at(
                coords, np.zeros(coords.size), (out, values, steps), f0, 0.0, pool, **run
            )
        else:
            values = np.empty((coords.size, 2))
            out = generic.central_differences(
                f,
                flat,
                view,
                eps,
                coords,
                blocks,
                fname,
                False,
                "fastgrad numerical_gradient",
                values=values,
            )
        calls.whole_number_values(f0, values, fname)
    if np.all(values == f0):  # (not at a symmetric point: f(θ ± h) equal, f(θ) not)
        low = structured.low_precision(theta)
        if low:  # the Keras habit: set_weights casts the step away
            low = (
                f" theta was {low[0][1]}, upcast to float64: a model that casts it back "
                "(set_weights) cannot see a step of epsilon; pass a larger epsilon (check_grad "
                "checks such a float32 theta as a float32 model, with float32 steps). "
                "Otherwise:"
            )
        warnings.warn(
            f"{fname} returned the same value at theta and at every theta ± step: the "
            "numerical gradient is all zeros. If f depends on theta, it did not see the "
            f"steps.{low or ''} numerical_gradient calls f with its own copy of theta and "
            "never writes to your arrays, so f must compute from the argument it receives "
            "(f = lambda W: net.loss(X, y)[0] ignores W; write f = lambda W: loss_with(W))",
            RuntimeWarning,
            stacklevel=2,
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


def _first_calls(f, call, view, fname, flat, check="check_grad"):
    """:func:`calls.check_deterministic` at θ (``call`` is ``f`` as the check
    calls it), with an ``f`` whose signature cannot take θ as its one
    argument named for that."""
    try:
        return calls.check_deterministic(call, view, fname, "theta", flat=flat)
    except TypeError as e:
        err = calls.arity_error(f, fname, view, check)
        if err is None:
            raise
        raise err from e


def _gradient(st, grad, f32, returned):
    """The analytic gradient as one float64 (P,) vector (``grad`` already
    evaluated when it was a callable: ``returned``); a pair that looks like
    (value, gradient), jax.value_and_grad's habit, is named for that."""
    try:
        return st.flatten_like(grad, "grad", warn=not f32)
    except (TypeError, ValueError, KeyError) as e:
        if not _value_and_gradient(grad) or not _fits(st, grad[1]):
            raise
        how = "grad returned" if returned else "grad is"
        raise TypeError(
            f"{how} a pair that looks like (value, gradient): a number, then "
            f"{type(grad[1]).__name__}. grad must be the gradient alone, shaped like theta "
            "(for jax.value_and_grad: grad=lambda p: value_and_grad(f)(p)[1])"
        ) from e


def _fits(st, value):
    """Whether ``value`` reads as a gradient of θ's structure."""
    try:
        st.flatten_like(value, "grad", warn=False)
    except (TypeError, ValueError, KeyError):
        return False
    return True


def _value_and_gradient(value):
    """A pair (a number, something else): jax.value_and_grad's result."""

    def scalar(v):
        return isinstance(v, (int, float, np.generic)) or getattr(v, "shape", None) == ()

    pair = isinstance(value, (tuple, list)) and len(value) == 2
    return pair and scalar(value[0]) and not scalar(value[1])


def check_grad(
    f: ScalarFunction,
    theta: ArrayLike | dict | list | tuple,
    grad: ArrayLike | dict | list | tuple | Callable,
    *,
    epsilon: float = 1e-7,
    mode: str = "full",
    k: int | None = None,
    seed: Seed = None,
    workers: Workers = None,
    thresholds: Thresholds | None = None,
    progress: bool | None = None,
    raise_on_failure: bool = False,
) -> GradCheckReport:
    """Check a gradient of any Python function ``f(theta) -> float``.

    Parameters
    ----------
    f : callable
        Receives ``theta``'s structure (an array, a dict or a list/tuple) made
        of read-only float64 arrays, as its one argument (a tuple is not
        unpacked: for ``f(W, b)`` pass ``lambda p: f(*p)``, or use
        :func:`check_vjp`); must return one real number computed from that
        argument: fastgrad differences its own copy of θ and never writes to
        the caller's arrays, so a closure over the model's parameters
        (``lambda W: net.loss(X, y)[0]``) does not see the steps (the report
        says so when every numerical entry is exactly 0).
    theta : array_like, dict of arrays, or list/tuple of arrays
        The point. A dict may use any keys (``{"conv_w": ..., "db2": ...}``);
        the report has one block per key (per position for a list/tuple,
        ``theta[0]``, ...), named by it. A list/tuple is several blocks when
        its items are arrays (ndarrays, or objects NumPy reads through
        ``__array__``/``__array_interface__``: jax or torch arrays) or
        Python numbers, one at least an array that is not a NumPy scalar
        (``(w, 0.3)`` is two blocks); a list of numbers, or of lists, is one
        array. Never modified.
    grad : same structure as ``theta``, or callable ``grad(theta)``
        The gradient to check (a callable receives a writable copy of theta
        and returns the gradient alone, not a ``(value, gradient)`` pair).
    epsilon : float, default 1e-7
    mode : {"full", "sampled", "directional"}
        As for :func:`gradient_check`: ``sampled`` checks ``k`` coordinates
        (default 10) of every block, ``directional`` ``k`` random unit
        directions (default 3) inside every block, and a block that fails
        along them is then checked in full.
    k : int, optional
        Unused by ``mode='full'`` (validated all the same).
    seed : int, None or numpy.random.Generator
        For ``sampled`` and ``directional``.
    workers : None, int, concurrent.futures.Executor or dask.distributed.Client
        ``N`` evaluates the coordinates in N processes (forked processes
        inherit ``f`` as it is, spawned ones get it by cloudpickle; either
        way ``pip install fastgrad[parallel]``; a process that dies has its
        chunks rerun; they keep the memory ``f`` frees, so its large
        temporaries do not page-fault at every call); an Executor is used
        as is (``f`` goes by cloudpickle); a Client gets
        ``f`` and θ scattered once to every worker (dask reruns the tasks of
        a lost worker). The report is identical to the bit to the serial one. A check
        estimated under 0.2 s stays serial with ``workers=N`` (see
        :mod:`fastgrad.gradcheck.parallel`). In ``directional`` mode the
        directions go to the workers the same way (one direction is one
        "coordinate" of the loop), and so does the full check of a block
        that fails along them.
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
    ``f`` is called twice at θ itself (two extra evaluations for the whole
    check): the two values must agree (an ``f`` that samples is refused),
    and the value gives the one-sided differences that find kinks
    (relu, abs, max inside θ ± ε; see :mod:`fastgrad.gradcheck.kinks`),
    and its dtype tells a float32 model. ``f`` is called once more at theta
    at the end (in this process, with ``workers`` too), so a closure that
    stores its argument (``model.set_weights(ws)``) is left at theta, not
    at the last point differenced. Kinks are counted and marked
    ``*``; where the gradient lies between the one-sided slopes (a
    subgradient) they are left out of the verdict. A float32 model (``f``
    returns float32, ``grad`` is float32, or every floating block of
    ``theta`` is float32 and ``f`` gives the same bits with every coordinate
    moved by a quarter of its float32 spacing: Keras' ``get_weights()``,
    whose model casts a float64 step back to float32 however ``f`` returns;
    one extra call tells. A float32 ``theta`` that ``f`` reads in float64 is
    upcast, with a warning, and checked in float64) is checked with a step
    ``max(epsilon, cbrt(u32)·max(1, |θ_i|))`` at float32 points and the bands
    (1e-3, 1e-2) unless ``thresholds`` is given; a block that is not great at
    that step (kinks left out as above; or most of it kinks) is differenced
    again at steps ``/4``, ``/16``, ... (at most ``/4**8``, never below
    ``epsilon``), each coordinate keeping the step whose difference is
    closest to the next shorter step's (the ladder stops once two agree
    within their rounding), and its kinks are found anew at the steps kept:
    a layer norm of inputs ~1e-3 bends over ~1e-3, not over 1. The analytic
    gradient decides only which blocks are looked at again, not which
    difference is kept. The report states the rule, the steps kept and the
    noise floor (:mod:`fastgrad.gradcheck.lowprec`). In ``directional`` mode a
    float32 model moves along each unit direction v by
    ``h = max(epsilon, cbrt(u32)·max(1, max|θ_b|))`` in its block b, at
    float32 points, and compares with ``g·(θ⁺ − θ⁻)/2h`` for the points
    actually taken; a block not great along its directions is taken again
    along the same directions at lengths ``h/4``, ``h/16``, ... (the rule
    above, a direction standing for a coordinate), and a block still not
    great is checked in full (the coordinate rule, without the kink test);
    kinks are not looked for along directions.
    """
    t0 = time.perf_counter()
    _check_callable(f)
    if callable(theta) and not isinstance(theta, type) and not callable(grad):
        raise TypeError(
            f"theta is a function ({_callable_name(theta)}) and grad is not: check_grad takes "
            "(f, theta, grad), the point before the gradient. scipy.optimize.check_grad(func, "
            "grad, x0) is fastgrad.check_grad(func, x0, grad)"
        )
    mode = options.mode(mode)
    k = options.k(k, mode)
    o = options.common(
        epsilon=epsilon,
        workers=workers,
        thresholds=thresholds,
        progress=progress,
        raise_on_failure=raise_on_failure,
        seed=seed,
    )
    st, flat = structured.flatten(theta, "theta", warn=False)
    returned = callable(grad)
    if returned:
        copies = st.copies(flat)
        try:
            grad = grad(copies)
        except TypeError as e:
            err = calls.arity_error(grad, f"grad ({_callable_name(grad)})", copies, role="grad")
            if err is None:
                raise
            raise err from e
    view = st.views(flat)
    call = structured.FreshCall(f, st.kind) if st.kind in ("dict", "list") else f
    fname = _argument_name(f)
    raw, t_call = _first_calls(f, call, view, fname, flat)
    f32, upcast = lowprec.model_precision(raw, grad, theta, "theta", (call, view, flat, fname))
    analytic = _gradient(st, grad, f32, returned)
    thresholds = lowprec.THRESHOLDS if f32 and not o.thresholds_given else o.thresholds
    run = dict(
        call=call,
        flat=flat,
        eps=o.epsilon,
        blocks=st.blocks,
        fname=fname,
        progress=o.progress,
        view=view,
    )
    desc = "fastgrad check_grad"
    pool = (o.workers, t_call, st)
    with calls.left_at_theta(call, view, flat, fname):
        if mode == "directional":
            found = directional.run_callable(
                analytic, k, o.rng, thresholds, desc, raw, f32, pool, prefix="", **run
            )
        else:
            found = coordinates_with_kinks(
                mode, k, o.rng, desc, analytic, raw, f32, pool, thresholds=thresholds, **run
            )
    return generic.build_report(
        title=_callable_name(f),
        analytic=analytic,
        blocks=st.blocks,
        prefix="",
        eps=o.epsilon,
        thresholds=thresholds,
        seconds=time.perf_counter() - t0,
        raise_on_failure=o.raise_on_failure,
        cap_at_noise=not o.thresholds_given,
        caller=(fname, "theta", upcast),
        **found,
    )


def coordinates_with_kinks(
    mode, k, rng, desc, analytic, raw, f32, pool, thresholds=lowprec.THRESHOLDS, **run
):
    """Every coordinate (``full``) or ``k`` per block (``sampled``), keeping
    f(θ ± εe_i) for the kink test (one more evaluation, f at θ itself).
    ``pool`` = (workers, seconds of one call, Structure of θ); a float32
    block whose difference is not below ``thresholds[0]`` at the first
    step is differenced again at shorter steps (:func:`lowprec.refine`)."""
    P = run["flat"].size
    coords = np.arange(P) if mode == "full" else sample_coordinates(run["blocks"], k, rng)
    coords = np.ascontiguousarray(coords, dtype=np.intp)
    f0 = _generic_kernel.as_real_scalar(raw, run["fname"])
    if not np.isfinite(f0):
        raise ValueError(f"{run['fname']} returned {f0!r} at theta itself: f must be finite there")
    n, values, steps, h, notes = generic.numerical_at(coords, f32, pool, desc, **run)
    calls.whole_number_values(f0, values, run["fname"])
    unit = lowprec.U32 if f32 else kinks.U64
    starts = np.array([sl.start for _, sl, _ in run["blocks"]])
    block = np.searchsorted(starts, coords, side="right") if starts.size > 1 else None

    seen = {}  # the float32 half-step looks taken: after a refinement, only new points

    def kinks_at(n, values, steps):
        """(kink, sub, s₊, s₋, hints) at these steps, curvature taken back
        by the half-step look (:func:`_confirm_kinks`)."""
        kink, sub, sp, sm, tol = kinks.find(
            run["flat"][coords],
            run["eps"],
            f0,
            values,
            n,
            analytic[coords],
            unit,
            steps,
            block=block,
        )
        if not kink.any():
            return kink, sub, sp, sm, []
        slopes = (analytic[coords], sp, sm, tol)
        kink, sub, half_hints = _confirm_kinks(
            kink, sub, coords, f0, values, steps, f32, unit, run, pool, slopes, seen
        )
        return kink, sub, sp, sm, half_hints

    kink, sub, sp, sm, half_hints = kinks_at(n, values, steps)
    if f32:
        first = (n, values, steps)
        n, values, steps, refined = generic.refined_at(
            coords, analytic[coords], first, f0, thresholds[0], pool, use=~sub, **run
        )
        if refined is not None:  # the kinks anew, at the steps kept
            kink, sub, sp, sm, half_hints = kinks_at(n, values, steps)
        scale = max(float(np.max(np.abs(values), initial=0.0)), abs(f0))
        notes.insert(0, lowprec.note(steps[0] + steps[1], scale, refined or 0))
    numerical = np.full(P, np.nan)
    checked = np.zeros(P, dtype=bool)
    numerical[coords], checked[coords] = n, True
    mask = np.zeros(P, dtype=bool)
    mask[coords[sub]] = True
    theta = run["flat"][coords]
    width = (theta + run["eps"]) - (theta - run["eps"]) if steps is None else steps[0] + steps[1]
    F = np.maximum(np.max(np.abs(values), axis=1), abs(f0))
    rounding = np.zeros(P)
    rounding[coords] = rounding_error(width, F, unit)
    advice = functools.partial(
        noise_advice,
        f32,
        run["eps"],
        float(np.max(F, initial=0.0)),
        n,
        unit,
        functools.partial(
            typical_length, run["flat"][coords], np.searchsorted(starts, coords, side="right")
        ),
    )
    hints = list(half_hints)
    bad = kink & ~sub
    if bad.any():
        j = int(np.argmax(bad))
        where = inputs.coordinate_name(run["blocks"], int(coords[j]))
        hints.append(
            f"{int(bad.sum())} coordinate(s) sit on a kink of f but the analytic value is not "
            f"between the one-sided slopes (first at {where}: analytic {analytic[coords[j]]:.6g}, "
            f"slopes {sm[j]:.6g} and {sp[j]:.6g}): not a subgradient"
        )
    unmoved = np.zeros(P, dtype=bool)
    unmoved[coords] = (values[:, 0] == f0) & (values[:, 1] == f0)
    return dict(
        numerical=numerical,
        checked=checked,
        unmoved=unmoved,
        mode="callable" if mode == "full" else mode,
        kinks=mask,
        kink_text="sit on a kink of f (the one-sided slopes disagree)",
        extra_hints=hints,
        notes=tuple(notes),
        noise=(rounding, advice),
    )


def _confirm_kinks(kink, sub, coords, f0, values, steps, f32, unit, run, pool, slopes, seen):
    """``(kink, sub, hints)`` with the flagged coordinates that are smooth at
    half the steps taken out (see :func:`kinks.confirm`): f at θ_i ± h_i/2,
    through the compiled loop (and ``workers``) in float64. Where half a
    step cannot be taken (the step is about one ulp of θ_i) the flag stays,
    and a hint says so. ``slopes`` = (analytic, s₊, s₋, tol) from
    :func:`kinks.find`: a kink's subgradient test is widened by what
    curvature moves the slopes. ``seen``: f at the float32 half-step
    points looked at before in this check, ``{coordinate: ((plus, minus),
    values)}``, updated: a coordinate whose step a refinement kept is not
    evaluated again."""
    flat, eps = run["flat"], run["eps"]
    idx = np.flatnonzero(kink)
    at = coords[idx]
    theta = flat[at]
    if steps is None:
        hp, hm = (theta + eps) - theta, theta - (theta - eps)
        plus, minus = theta + eps / 2, theta - eps / 2
    else:
        hp, hm = steps[0][idx], steps[1][idx]
        plus, minus = theta + hp / 2, theta - hm / 2
    if f32:  # the points a float32 model sees
        plus = plus.astype(np.float32).astype(np.float64)
        minus = minus.astype(np.float32).astype(np.float64)
    hp2, hm2 = plus - theta, theta - minus
    ok = (hp2 > 0) & (hp2 < hp) & (hm2 > 0) & (hm2 < hm)
    hints = []
    if not ok.all():
        hints.append(
            f"{int((~ok).sum())} coordinate(s) flagged as kinks could not be looked at "
            "with half the step (epsilon is about one unit in the last place of theta "
            "there): a kink cannot be told from curvature; use a larger epsilon"
        )
    idx, at = idx[ok], at[ok]
    if idx.size == 0:
        return kink, sub, hints
    if f32:
        pts, step = np.stack([plus[ok], minus[ok]], axis=1), hp2[ok]
        half = kinks.half_looks(
            seen,
            at,
            pts,
            lambda new: lowprec.values_at(
                run["call"],
                flat,
                run["view"],
                at[new],
                pts[new, 0],
                pts[new, 1],
                run["blocks"],
                run["fname"],
                False,
                "",
                lambda c: f"(half step {step[new][c]:.3g}, to tell a kink from curvature)",
            ),
        )
    else:
        half_run = dict(run, eps=eps / 2, progress=False)
        _, half, *_ = generic.numerical_at(at, False, pool, "", **half_run)
    full = values[idx]
    scale = np.maximum(np.max(np.abs(full), axis=1), np.max(np.abs(half), axis=1))
    still, bend = kinks.confirm(
        full - f0,
        half - f0,
        (hp[ok], hm[ok]),
        (hp2[ok], hm2[ok]),
        np.maximum(scale, abs(f0)),
        unit,
    )
    a, sp, sm, tol = (v[idx] for v in slopes)
    kink, sub = kink.copy(), sub.copy()
    kink[idx], sub[idx] = still, still & kinks.subgradient(a, sp, sm, tol + bend)
    return kink, sub, hints


__all__ = ["check_grad", "numerical_gradient"]
