"""Checking a layer's backward pass: vector-Jacobian products.

``check_vjp(f, inputs, grads, upstream)`` checks the gradients of the scalar
``⟨upstream, f(inputs)⟩`` with respect to every input, which is how custom
layers are tested (torch's ``grad_outputs``, chainer's ``y_grad``). The
numerical side is

    Σ upstream · (f(x + εe_i) − f(x − εe_i)) / step_i

with the difference of the two outputs taken elementwise *before* the dot
product: no cancellation between two large scalars.
"""

from __future__ import annotations

import inspect
import time

import numpy as np

import fastgrad.gradcheck._generic_kernel as _generic_kernel
from fastgrad import _progress
from fastgrad.gradcheck import (
    calls,
    generic,
    kinks,
    lowprec,
    options,
    parallel,
    structured,
)
from fastgrad.gradcheck.inputs import check_steps, coordinate_name, real_array
from fastgrad.gradcheck.rounding import noise_advice, rounding_error, typical_length


def _positional_names(f, n):
    """The names of ``f``'s first n positional parameters, when it has them."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in params if p.kind in kinds]
    return names[:n] if len(names) >= n else None


def _caller(f, kind):
    if kind == "array":
        return f
    if kind == "dict":
        return lambda v: f(**v)
    return lambda v: f(*v)


def _output(y, fname, where="at inputs"):
    if isinstance(y, (bool, np.bool_)):
        raise TypeError(f"{fname} must return an array of real numbers, got bool")
    try:
        arr = np.asarray(y)
    except ValueError as e:  # e.g. a tuple of outputs of different shapes
        raise TypeError(
            f"{fname} must return one array, got a {type(y).__name__} that NumPy cannot "
            f"stack ({e}); check each output with its own check_vjp, or concatenate them"
        ) from None
    except (TypeError, RuntimeError) as e:  # a torch tensor that requires grad
        raise TypeError(
            f"{fname} returned a {type(y).__name__} that NumPy cannot read ({e}); return "
            "an array (for torch: y.detach(), or compute under torch.no_grad())"
        ) from None
    if arr.dtype == np.float16:
        raise TypeError(
            f"{fname} must return float32 or float64 values, got float16: its ~3 digits "
            "cannot resolve a finite difference. Compute the output in float32 or float64"
        )
    if arr.dtype.kind in "iu":
        raise TypeError(
            f"{fname} must return floating-point values, got dtype {arr.dtype}: integer "
            "values change by 0 or by at least 1 between inputs + epsilon and inputs - "
            "epsilon, so the finite differences are 0 or ~1/epsilon. Return floats"
        )
    if arr.dtype.kind != "f":
        raise TypeError(f"{fname} must return an array of real numbers, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.float64, copy=True)  # f may return a view of its input
    if where is not None and not np.isfinite(arr).all():
        raise ValueError(f"{fname} returned NaN or inf {where}: the output must be finite")
    return arr


def check_vjp(
    f,
    inputs,
    grads,
    upstream=None,
    *,
    epsilon=1e-7,
    seed=None,
    workers=None,
    thresholds=None,
    progress=None,
    raise_on_failure=False,
):
    """Check the backward pass of an array-valued function (a layer).

    Parameters
    ----------
    f : callable
        ``f(x)`` for one array, ``f(*inputs)`` for a tuple/list, ``f(**inputs)``
        for a dict; returns an array (any shape). Its inputs are read-only
        float64 arrays, fastgrad's own copies: ``f`` must compute from them
        (``lambda b: layer(x, gamma, beta)`` ignores ``b``; the report says
        which input's differences are all exactly 0). ``f`` is called once
        more at ``inputs`` at the end, so a closure that stores its
        arguments is left at ``inputs``.
    inputs : array, tuple/list of arrays, or dict of arrays
        A tuple/list is made of arrays (ndarrays, jax or torch arrays) or
        Python numbers, as ``theta`` in :func:`fastgrad.check_grad`.
    grads : the same structure, or callable ``grads(upstream)``
        The gradients of ``⟨upstream, f(inputs)⟩`` (``Σ upstream * f(inputs)``)
        with respect to each input, from the user's backward pass; a callable
        gets the upstream array and returns them (how a random upstream is
        best used).
    upstream : array shaped like f's output, optional
        The upstream gradient ``dL/dy``. Default: 1 when ``f`` returns one
        number (its gradient, as ``y.backward()`` in PyTorch); otherwise
        standard normal draws from ``seed``
        (``np.random.default_rng(seed).standard_normal(y.shape)``), which
        needs ``seed`` or a callable ``grads``: fresh draws cannot be what
        precomputed gradients were computed for.
    epsilon : float, default 1e-7
    seed : int, None or numpy.random.Generator
        For the default ``upstream``.
    workers : None, int, concurrent.futures.Executor or dask.distributed.Client
        As for :func:`fastgrad.check_grad`: coordinates in chunks over
        processes or a dask cluster, identical bits to the serial run.
    thresholds, progress, raise_on_failure
        As for :func:`fastgrad.check_grad`.

    Returns
    -------
    GradCheckReport
        One block per input, named by its key, by ``f``'s parameter name for
        a tuple/list (``x``, ``w``, ``b`` for ``conv(x, w, b)``), else
        ``inputs[i]``; ``report.numerical[name]`` is the numerical VJP.

    Notes
    -----
    A float32 layer (``f`` returns float32, ``grads`` are float32, or every
    floating input is float32 and ``f`` casts a step below float32's spacing
    away, as a model's ``set_weights`` does) is checked with the step
    ``max(epsilon, cbrt(u32)·max(1, |x_i|))`` at float32 points and the
    bands (1e-3, 1e-2) unless ``thresholds`` is given. An input that is not
    great at that step (kinks that are subgradients left out; or most of it
    kinks) is differenced again at
    steps ``/4``, ``/16``, ... (at most ``/4**8``, never below ``epsilon``),
    each coordinate keeping the step whose difference is closest to the
    next shorter step's (the ladder stops once two agree within their
    rounding), and its kinks are found anew at the steps kept: a layer norm
    of inputs ~1e-3 bends over ~1e-3, and a first step of 0.0039 moves such
    an input by 400%. The analytic VJP decides only which inputs are looked
    at again, not which difference is kept. The report states the rule, the
    steps kept and the noise floor; each entry's rounding floor is that of
    its own step (:mod:`fastgrad.gradcheck.lowprec`).
    """
    t0 = time.perf_counter()
    if not callable(f):
        raise TypeError(f"f must be a callable returning an array, got {type(f).__name__}")
    o = options.common(
        epsilon=epsilon,
        workers=workers,
        thresholds=thresholds,
        progress=progress,
        raise_on_failure=raise_on_failure,
        seed=seed,
    )
    eps, workers, thresholds, progress = o.epsilon, o.workers, o.thresholds, o.progress
    names = None
    if isinstance(inputs, (list, tuple)) and structured.is_structure(inputs):
        names = _positional_names(f, len(inputs))
    st, flat = structured.flatten(inputs, "inputs", names=names, warn=False)
    if st.kind == "array":
        st.names = ["x"]
        st.blocks = [("x",) + st.blocks[0][1:]]
    view = st.views(flat)
    call = _caller(f, st.kind)
    fname = f"f ({getattr(f, '__name__', type(f).__name__)})"
    raw, t_call = calls.check_deterministic(
        call, view, fname, "inputs", lambda y: _output(y, fname, where=None), flat=flat
    )
    y0 = _output(raw, fname)
    if upstream is None:
        if y0.size == 1:
            u = np.ones(y0.shape)
        elif callable(grads) or o.seed_given:
            u = o.rng.standard_normal(y0.shape)
        else:
            raise ValueError(
                f"upstream is not given and {fname} returns an array of shape {y0.shape}: "
                "the default upstream is random, and without seed= it cannot be the one "
                "grads were computed for. Pass upstream= (the dL/dy your backward used), "
                "seed= (upstream is then np.random.default_rng(seed).standard_normal(shape)), "
                "or grads as a callable grads(upstream)"
            )
    else:
        u = real_array(upstream, "upstream", warn=False)
        if u.shape != y0.shape:
            raise ValueError(f"upstream has shape {u.shape}, expected {y0.shape} like f's output")
    if callable(grads):
        grads = grads(u.copy())
    f32, upcast = lowprec.model_precision(raw, grads, inputs, "inputs", (call, view, flat, fname))
    analytic = st.flatten_like(grads, "grads", warn=not f32)
    plus, minus, notes = _points(flat, eps, f32, y0)
    if f32 and not o.thresholds_given:
        thresholds = lowprec.THRESHOLDS
    if not f32:
        check_steps(flat, eps, np.arange(flat.size, dtype=np.intp), st.blocks)
    pool = (workers, t_call, st)
    with calls.left_at_theta(call, view, flat, fname):
        numerical, one = _evaluate(
            pool, call, flat, view, (u, plus, minus, y0), eps, fname, progress, notes
        )
        run = (call, view, fname)
        seen = {}  # the half-step looks taken: after a refinement, only new points
        sub, hints, noise = _kinks(
            flat, (plus, minus), u, y0, one, numerical, analytic, f32, eps, st, run, seen
        )
        if f32:
            numerical, one, plus, minus, refined = _refine(
                (flat, plus, minus, u, y0),
                (numerical, one, sub),
                analytic,
                thresholds[0],
                st,
                pool,
                run,
                eps,
            )
            if refined is not None:  # the kinks anew, at the steps kept
                sub, hints, noise = _kinks(
                    flat, (plus, minus), u, y0, one, numerical, analytic, f32, eps, st, run, seen
                )
            notes.insert(0, lowprec.note(plus - minus, float(np.max(np.abs(y0))), refined or 0))
    report = generic.build_report(
        title=f"vjp of {getattr(f, '__name__', type(f).__name__)}",
        analytic=analytic,
        numerical=numerical,
        checked=np.ones(flat.size, dtype=bool),
        blocks=st.blocks,
        prefix="",
        mode="vjp",
        eps=eps,
        thresholds=thresholds,
        seconds=time.perf_counter() - t0,
        raise_on_failure=False,
        notes=tuple(notes),
        kinks=sub,
        kink_text="sit on a kink of f (the one-sided slopes of <upstream, f> disagree)",
        extra_hints=hints,
        noise=noise,
        cap_at_noise=not o.thresholds_given,
        caller=(fname, "inputs", upcast),
        unmoved=(one == 0).all(axis=1),
    )
    report.upstream = u
    if o.raise_on_failure:
        report.raise_if_failed()
    return report


def _points(flat, eps, f32, y0):
    """θ ± step for every coordinate (float32: :func:`lowprec.points`, level 0)."""
    if not f32:
        return flat + eps, flat - eps, []
    plus, minus, _ = lowprec.points(flat, eps)
    return plus, minus, []


def _block_of(st, n):
    """Each coordinate's block index (P,)."""
    starts = np.array([sl.start for _, sl, _ in st.blocks])
    return np.searchsorted(starts, np.arange(n), side="right")


def _refine(at, first, analytic, great, st, pool, run, eps):
    """A float32 check's blocks that are not great at the first step
    (``first`` = (numerical, sides, kinks left out of the verdict)),
    differenced again at shorter steps (:func:`lowprec.refine`); ``at`` =
    (θ, θ⁺, θ⁻, u, y0). Returns (numerical, one, θ⁺, θ⁻, how many
    coordinates kept a shorter step, None when no block was looked at)."""
    flat, plus, minus, u, y0 = at
    numerical, one, sub = first
    groups = _block_of(st, flat.size)
    idx = np.flatnonzero(lowprec.not_great(analytic, numerical, groups, great, use=~sub))
    if idx.size == 0:
        return numerical, one, plus, minus, None
    call, view, fname = run
    out = float(np.sum(np.abs(u * y0)))

    def floor(values, width):  # as _kinks counts it: Σ|u·f| and this step's own change
        return rounding_error(width, out + np.max(np.abs(values), axis=1), lowprec.U32)

    def evaluate(pos, level):
        coords = idx[pos]
        p, m, _ = lowprec.points(flat[coords], eps, level)
        p_all, m_all = plus.copy(), minus.copy()
        p_all[coords], m_all[coords] = p, m
        n, o = _evaluate(
            pool, call, flat, view, (u, p_all, m_all, y0), eps, fname, False, [], coords
        )
        return n, o, p - flat[coords], flat[coords] - m

    first = (numerical[idx], one[idx], (plus - flat)[idx], (flat - minus)[idx])
    n, o, _, _, level = lowprec.refine(flat[idx], eps, first, evaluate, floor, groups[idx])
    numerical, one, plus, minus = numerical.copy(), one.copy(), plus.copy(), minus.copy()
    numerical[idx], one[idx] = n, o
    plus[idx], minus[idx], _ = lowprec.points(flat[idx], eps, level)
    return numerical, one, plus, minus, int(np.count_nonzero(level))


def _evaluate(pool, call, flat, view, points, eps, fname, progress, notes, coords=None):
    """(numerical, sides) of the coordinates ``coords`` (default: every one),
    serially or on the workers (``pool`` = (workers, seconds of one call,
    Structure)); appends to ``notes`` what the report says about a parallel
    run."""
    workers, t_call, st = pool
    if coords is None:
        coords = np.arange(flat.size, dtype=np.intp)
    coords = np.ascontiguousarray(coords, dtype=np.intp)
    use, chunk, n_workers = parallel.plan(workers, coords.size, t_call)
    if not use:
        return numerical_vjp(call, flat, view, points, st.blocks, fname, progress, coords)
    bar = _progress.Progress(coords.size, progress, "fastgrad check_vjp")
    try:
        numerical, one, _, n_chunks = parallel.run(
            workers, vjp_chunk, call, st, flat, eps, coords, fname, chunk, bar, extra=points
        )
    finally:
        bar.close()
    notes.append(parallel.describe(workers, n_workers, n_chunks, chunk))
    return numerical, one


def vjp_chunk(shipped, coords):
    """In a worker (:func:`fastgrad.gradcheck.parallel.run`): the serial
    loop on one chunk of coordinates."""
    f, st, flat, view, _, fname, points = shipped
    return (*numerical_vjp(f, flat, view, points, st.blocks, fname, False, coords), None)


def _kinks(flat, points, u, y0, one, numerical, analytic, f32, eps, st, run, seen):
    """(kinks left out of the verdict, hints, the report's ``noise``) from
    the one-sided sides; the sides' rounding is that of ``Σ|u·f|``. A
    flagged coordinate is looked at again at half the step
    (:func:`kinks.confirm`); ``run`` = (call, view, fname). ``seen``: the
    half-step looks taken before in this check, ``{coordinate: ((plus,
    minus), values)}``, updated: a coordinate whose step a refinement kept
    is not evaluated again."""
    plus, minus = points
    # per coordinate: the output's size plus what that coordinate's own step
    # moved (another block's large changes must not raise this one's floor)
    scale = float(np.sum(np.abs(u * y0))) + np.max(np.abs(one), axis=1)
    unit = lowprec.U32 if f32 else kinks.U64
    steps = (plus - flat, flat - minus)
    starts = np.array([sl.start for _, sl, _ in st.blocks])
    kink, sub, sp, sm, tol = kinks.find(
        flat,
        eps,
        0.0,
        one,
        numerical,
        analytic,
        unit,
        steps,
        scale=scale,
        block=np.searchsorted(starts, np.arange(flat.size), side="right")
        if starts.size > 1
        else None,
    )
    hints = []
    if kink.any():
        idx = np.flatnonzero(kink)
        half_plus, half_minus = flat.copy(), flat.copy()
        half_plus[idx] += steps[0][idx] / 2
        half_minus[idx] -= steps[1][idx] / 2
        if f32:
            half_plus = half_plus.astype(np.float32).astype(np.float64)
            half_minus = half_minus.astype(np.float32).astype(np.float64)
        hp2, hm2 = half_plus[idx] - flat[idx], flat[idx] - half_minus[idx]
        ok = (hp2 > 0) & (hp2 < steps[0][idx]) & (hm2 > 0) & (hm2 < steps[1][idx])
        if not ok.all():
            hints.append(
                f"{int((~ok).sum())} coordinate(s) flagged as kinks could not be looked at "
                "with half the step (epsilon is about one unit in the last place of the "
                "input there): a kink cannot be told from curvature; use a larger epsilon"
            )
        idx, hp2, hm2 = idx[ok], hp2[ok], hm2[ok]
    if kink.any() and idx.size:
        call, view, fname = run
        half = kinks.half_looks(
            seen,
            idx,
            np.stack([half_plus[idx], half_minus[idx]], axis=1),
            lambda new: numerical_vjp(
                call, flat, view, (u, half_plus, half_minus, y0), st.blocks, fname, False, idx[new]
            )[1],
        )
        sized = np.maximum(scale[idx], np.max(np.abs(half), axis=1))
        still, bend = kinks.confirm(
            one[idx], half, (steps[0][idx], steps[1][idx]), (hp2, hm2), sized, unit
        )
        kink, sub = kink.copy(), sub.copy()
        kink[idx] = still
        sub[idx] = still & kinks.subgradient(analytic[idx], sp[idx], sm[idx], tol[idx] + bend)
    noise = (
        rounding_error(steps[0] + steps[1], scale, unit),
        noise_advice(
            f32,
            eps,
            float(np.max(scale, initial=0.0)),
            numerical,
            unit,
            lambda: typical_length(flat, _block_of(st, flat.size)),
        ),
    )
    bad = kink & ~sub
    if not bad.any():
        return sub, hints, noise
    j = int(np.argmax(bad))
    blocks = st.blocks
    return (
        sub,
        hints
        + [
            f"{int(bad.sum())} coordinate(s) sit on a kink of f but the analytic value is not "
            f"between the one-sided slopes (first at {coordinate_name(blocks, j)}: analytic "
            f"{analytic[j]:.6g}, slopes {sm[j]:.6g} and {sp[j]:.6g}): not a subgradient"
        ],
        noise,
    )


def numerical_vjp(call, flat, view, points, blocks, fname, progress, coords):
    """Σ u·(f(θ+εe_i) − f(θ−εe_i)) / step_i for the coordinates ``coords``
    (the compiled loop ``_generic_kernel.vjp_differences``); ``points`` =
    (u, θ+ε, θ−ε, f(θ)) with the perturbed values of every coordinate.
    Returns (numerical, sides): ``sides[:, 0] = u·(f(θ+εe) − f(θ))`` and
    ``sides[:, 1] = u·(f(θ−εe) − f(θ))``, for the kink test. Every
    difference is taken elementwise before the product with ``u``; an output
    is copied only when it must be (a view of θ, a buffer ``f`` reuses,
    another dtype or layout)."""
    u, plus_all, minus_all, y0 = points
    coords = np.ascontiguousarray(coords, dtype=np.intp)
    P = coords.size
    saved = flat.copy()
    out = np.empty(P)
    one = np.empty((P, 2))

    def where(sign, i):
        return f"at {coordinate_name(blocks, i)} {'+' if sign > 0 else '-'} epsilon"

    def convert(y, sign, i, copy):
        if not (isinstance(y, np.ndarray) and y.dtype == np.float64):
            y, owned = _output(y, fname, where=None), True
        elif copy or np.may_share_memory(y, flat):
            y, owned = y.copy(), True
        else:
            owned = y.base is None and y.flags.c_contiguous
        if y.shape != u.shape:
            raise ValueError(
                f"{fname} returned shape {y.shape} {where(sign, i)} but {u.shape} at inputs"
            )
        return np.ascontiguousarray(y).reshape(-1), owned

    def non_finite(yp, ym, i):
        for sign, y in ((1, yp), (-1, ym)):
            if not np.isfinite(y).all():
                raise ValueError(f"{fname} returned NaN or inf {where(sign, i)}")

    bar = _progress.Progress(P, progress, "fastgrad check_vjp")
    try:
        _generic_kernel.vjp_differences(
            call,
            flat,
            view,
            u.ravel(),
            y0.ravel(),
            plus_all,
            minus_all,
            coords,
            out,
            one,
            u.shape,
            convert,
            non_finite,
            bar.update,
        )
    except ValueError as e:
        if "read-only" in str(e):
            raise calls.wrote_error(fname) from e
        raise
    finally:
        bar.close()
    calls.check_untouched(flat, saved, fname)
    return out, one
