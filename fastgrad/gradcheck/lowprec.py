"""Checking float32 models.

A float32 model (``f`` returns float32, the gradients are float32, or every
floating block of θ is float32 in :func:`~fastgrad.check_grad` and
:func:`~fastgrad.check_vjp` and ``f`` does not see a quarter of float32's
spacing, :func:`casts_steps_away`: a model whose ``set_weights`` casts back
to float32 sees no step of 1e-7 even when ``f`` returns a Python float) cannot
be checked with ε = 1e-7: θ ± 1e-7 rounds back to θ in float32 for |θ| ≥ 1,
and the cost's own rounding (u = 2⁻²⁴ ≈ 6e-8 relative) divided by a tiny
step swamps the difference. The float32 check therefore:

* takes per coordinate the step ``h_i = max(epsilon, cbrt(u)·max(1, |θ_i|))``
  (cbrt(u) ≈ 3.9e-3: it balances the O(h²) truncation of the central
  difference against the O(u/h) rounding of a float32 cost), at the points
  ``fl32(θ_i ± h_i)`` that a float32 model actually sees, dividing by the
  step actually taken (:func:`steps`, :func:`points`: one rule for
  ``check_grad``, ``check_vjp``, ``gradient_check`` on a cost method and
  the directional mode);
* differences again, at shorter steps, a block whose difference is not
  "great" at that step (:func:`refine`). The length over which f bends is
  not always 1: a layer norm or a softmax of inputs ~1e-3 is scale invariant,
  and a step of 0.0039 moves such an input by 400%; a tanh of the same small
  inputs bends over a length of 1, and a shorter step only adds rounding.
  The check cannot tell them apart from θ, but the differences can: each
  coordinate of the block goes on to ``h_i/4``, ``h_i/16``, ... (at most
  ``h_i/4**MAX_LEVEL``, never below epsilon, always at float32 points) while
  its difference still changes by more than ``AGREE`` times the two steps'
  rounding floors plus ``SETTLED`` of its size (``|slope|`` plus the RMS
  slope of its block), and stops before a step whose rounding floor exceeds
  ``ROUNDING_LIMIT`` of that size; it keeps the step whose difference is
  closest to the next shorter step's (where the truncation has died out and
  the rounding, inside f too, has not yet grown). The analytic gradient
  only decides which blocks are looked at again (those not great at the
  first step, leaving out the kinks that the verdict leaves out, and those
  where such kinks are most of the block, two or more: :func:`not_great`), never
  which difference is kept, so a wrong gradient gains nothing; a block
  that is great at the first step costs nothing more. The kinks of a
  block looked at again are found anew at the steps kept (a kink that a
  shorter step no longer straddles is no kink there);
* grades with the bands ``great < 1e-3 <= check < 1e-2 <= bug`` (unless
  ``thresholds=`` is given): the difference of a correct float32 backprop
  sits around 1e-5..1e-4, a missing factor or a wrong sign at 1e-1 and
  above;
* states the rule, the steps kept and the noise floor ``8·u·max|f|/min h``
  (the slope error that the cost's rounding alone can cause) in the report;
  each entry's rounding floor is that of the step it kept.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

from fastgrad import _progress
from fastgrad.gradcheck import calls, inputs, structured

U32 = float(np.finfo(np.float32).eps) / 2
STEP = float(np.cbrt(U32))
THRESHOLDS = (1e-3, 1e-2)
# The refinement of a block that is not great at the first step (see above);
# chosen on 3,000 random float32 layers with exact VJPs (mpmath).
SHRINK = 4.0  # each further step is the previous one / 4: truncation /16, rounding x4
MAX_LEVEL = 8  # at most 4**8 = 65536 times shorter (epsilon=1e-7 stops it first)
AGREE = 3.0  # two differences agree within 3x the sum of their rounding floors ...
SETTLED = 1e-4  # ... plus 1e-4 of the slope's size
ROUNDING_LIMIT = 0.1  # no step whose rounding floor is over 10% of the slope's size

RULE = (
    f"step max(epsilon, {STEP:.2g}*max(1,|x|)) at float32 points; a block not great "
    f"there is differenced again at steps /4, /16, ... (at most /{SHRINK**MAX_LEVEL:.0f}), "
    "each coordinate keeping the step whose difference is closest to the next one's"
)


def is_float32(value):
    """True when ``value`` (f's output, or an array / structure of arrays) is float32."""
    if isinstance(value, Mapping):
        return any(is_float32(v) for v in value.values())
    if isinstance(value, (list, tuple)):  # of arrays or tensors, not nested lists
        return any(not isinstance(v, (list, tuple, Mapping)) and is_float32(v) for v in value)
    return inputs.numpy_dtype(value) == np.float32


def is_float32_model(raw, grads, point, at):
    """Whether a check is a float32 model's: ``f``'s value ``raw`` at θ or
    the gradient ``grads`` is float32, or every floating block of ``point``
    (θ, a VJP's inputs, a cost's params) is float32 and ``f`` casts a step
    below float32's spacing away (:func:`casts_steps_away`; ``at`` =
    ``(call, view, flat, fname)``). A float32 θ alone is not enough: an
    ``f`` that computes in float64 from it is checked in float64, with
    float64's bands (float32 bands would let a gradient 0.05% off pass)."""
    if is_float32(raw) or is_float32(grads):
        return True
    return structured.all_float32(point) and casts_steps_away(*at, raw)


def model_precision(raw, grads, point, name, at):
    """``(f32, upcast)``: :func:`is_float32_model`, and otherwise the
    ``[(label, dtype)]`` of ``point``'s low-precision blocks, upcast to
    float64 with a warning at the caller of ``check_grad``/``check_vjp``."""
    if is_float32_model(raw, grads, point, at):
        return True, []
    upcast = structured.low_precision(point, name)
    for label, dt in upcast:
        warnings.warn(
            f"{label} is {dt}; upcast to float64 (a finite difference "
            "with epsilon=1e-7 needs double precision)",
            UserWarning,
            stacklevel=3,
        )
    return False, upcast


def casts_steps_away(call, view, flat, fname, raw):
    """True when ``f`` (``call(view)``, its value ``raw`` at θ) gives the same
    bits with every coordinate of ``flat`` (float32 values) moved by a
    quarter of its float32 spacing: ``f`` rounds θ to float32 first (Keras'
    ``set_weights``), so a float64 step is lost on it. One call of ``f``;
    ``flat`` is restored. False when θ is all zeros (no coordinate to tell
    by: float32 is as fine as float64 there)."""
    if not np.any(flat):
        return False
    saved = flat.copy()
    try:
        flat += 0.25 * np.spacing(np.abs(flat).astype(np.float32)).astype(np.float64)
        moved = calls.call_raw(call, view, fname)
    finally:
        flat[:] = saved
    try:
        return bool(
            np.array_equal(np.asarray(moved, dtype=np.float64), np.asarray(raw, dtype=np.float64))
        )
    except (TypeError, ValueError):
        return False


def steps(theta, eps, level=0):
    """The float32 step of each coordinate (any shape):
    ``max(epsilon, cbrt(u32)·max(1, |θ|) / 4**level)``; ``level`` 0 is the
    first step, the others those of :func:`refine`."""
    return np.maximum(eps, STEP * np.maximum(1.0, np.abs(theta)) / SHRINK**level)


def points(theta, eps, level=0):
    """``(fl32(θ + h), fl32(θ − h), h)`` with ``h = steps(θ, eps, level)``:
    the points a float32 model sees, as float64."""
    h = steps(theta, eps, level)
    with np.errstate(over="ignore"):
        plus = (theta + h).astype(np.float32).astype(np.float64)
        minus = (theta - h).astype(np.float32).astype(np.float64)
    return plus, minus, h


def refine(theta, eps, first, evaluate, floor, groups, widths=None):
    """Differences of the coordinates ``theta`` (K,) again at shorter steps
    (see the module docstring): ``first = (numerical, values, h⁺, h⁻)`` at
    level 0 (``values`` (K, 2), whatever the caller keeps of the two sides:
    the costs, or a VJP's one-sided changes); ``evaluate(pos, level)``
    returns the same four for the positions ``pos`` (into ``theta``) at that
    level; ``floor(values, width)`` each entry's rounding floor;
    ``groups`` (K,) each coordinate's block (its RMS slope is part of the
    size); ``widths(pos, level)`` the distance between the two points of
    that level (default: those of :func:`points` at ``theta``; 0 where the
    step rounds to nothing). Returns ``(numerical, values, h⁺, h⁻, level)``
    at the steps kept.

    Each coordinate goes on while its newest step is shorter than the one
    before (epsilon and float32's spacing bound it), has a rounding floor
    within ``ROUNDING_LIMIT`` of the size, and its difference disagrees with
    the one before by more than ``AGREE`` times their floors plus
    ``SETTLED`` of the size; it keeps the step whose difference is closest
    to the next one's. The floor counts only f's last rounding: rounding
    inside f (a cancellation) makes the differences of short steps wander,
    and the closest pair is then found before them. Every decision is made
    from the differences alone, coordinate by coordinate, so the result
    does not depend on how the evaluations were spread over workers."""
    cur = [np.array(a, dtype=np.float64, copy=True) for a in first]  # level k
    K = cur[0].size
    if widths is None:

        def widths(pos, level):
            plus, minus, _ = points(theta[pos], eps, level)
            return plus - minus

    best = [a.copy() for a in cur]
    level = np.zeros(K, dtype=np.intp)
    if K == 0:
        return (*best, level)
    fl = floor(cur[1], cur[2] + cur[3])
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    G = np.sqrt(np.bincount(inverse, weights=cur[0] ** 2) / counts)[inverse]
    gap = np.full(K, np.inf)  # |difference − the next step's| of the step kept
    active = np.arange(K)
    for k in range(1, MAX_LEVEL + 1):
        width = widths(active, k)
        active = active[(width > 0) & (width < (cur[2] + cur[3])[active])]  # it shrank
        if active.size == 0:
            break
        new = evaluate(active, k)
        fl_new = floor(new[1], new[2] + new[3])
        size = np.abs(new[0]) + G[active]
        usable = fl_new <= ROUNDING_LIMIT * size
        active, new, fl_new, size = (
            active[usable],
            [a[usable] for a in new],
            fl_new[usable],
            size[usable],
        )
        d = np.abs(new[0] - cur[0][active])
        closer = d < gap[active]  # the step before this one is the best so far
        at = active[closer]
        for b, c in zip(best, cur):
            b[at] = c[at]
        gap[at], level[at] = d[closer], k - 1
        go_on = d > AGREE * (fl[active] + fl_new) + SETTLED * size
        active = active[go_on]
        for c, n in zip(cur, new):
            c[active] = n[go_on]
        fl[active] = fl_new[go_on]
    return (*best, level)


def not_great(analytic, numerical, groups, great, use=None):
    """bool (K,): every coordinate of the groups (blocks) that
    :func:`refine` looks at again: those whose relative difference
    ``analytic`` vs ``numerical`` over the coordinates ``use`` (bool (K,),
    default all: the kinks that the verdict leaves out) is not below
    ``great`` (NaN included), and those where ``use`` leaves out more than
    half of the coordinates (two or more). A relu's kinks are the few pre-activations
    that a step crosses; when most of a block looks kinked, the step is more
    likely too long for the block (a layer norm of inputs ~1e-3 at a step
    of 0.0039 bends every way), and its verdict would rest on what is left."""
    use = np.ones(analytic.size, dtype=bool) if use is None else use
    out = np.zeros(analytic.size, dtype=bool)
    for g in np.unique(groups):
        m = groups == g
        a, n = analytic[m & use], numerical[m & use]
        den = np.linalg.norm(a) + np.linalg.norm(n)
        d = np.linalg.norm(a - n) / den if den > 0 else 0.0
        left = np.count_nonzero(m & ~use)
        out[m] = not d < great or (left >= 2 and 2 * left > np.count_nonzero(m))
    return out


def differences(call, flat, view, eps, coords, blocks, fname, progress, desc, level=0):
    """Central differences at float32 points (the steps of ``level``);
    returns (numerical, values, h⁺, h⁻, h)."""
    theta = flat[coords]
    plus, minus, h = points(theta, eps, level)
    if not (np.isfinite(plus).all() and np.isfinite(minus).all()):
        j = int(np.argmax(~(np.isfinite(plus) & np.isfinite(minus))))
        raise inputs.step_error(blocks, int(coords[j]), float(theta[j]), float(h[j]))
    values = values_at(
        call,
        flat,
        view,
        coords,
        plus,
        minus,
        blocks,
        fname,
        progress,
        desc,
        lambda c: f"(float32 check, step {h[c]:.3g})",
    )
    out = (values[:, 0] - values[:, 1]) / (plus - minus)
    return out, values, plus - theta, theta - minus, h


def values_at(call, flat, view, coords, plus, minus, blocks, fname, progress, desc, what):
    """``f`` with coordinate ``coords[c]`` set to ``plus[c]``, then to
    ``minus[c]`` (the others at θ): (K, 2). ``what(c)`` says in an error
    which step was taken."""
    saved = flat.copy()
    values = np.empty((coords.size, 2))
    bar = _progress.Progress(coords.size, progress, desc)
    try:
        for c, i in enumerate(coords):
            for side, point in ((0, plus[c]), (1, minus[c])):
                flat[i] = point
                try:
                    v = calls.call_once(call, view, fname)
                except Exception as e:
                    if hasattr(e, "add_note"):  # say where the check was (3.11+)
                        where = inputs.coordinate_name(blocks, int(i))
                        e.add_note(
                            f"fastgrad: raised while evaluating {fname} at {where} "
                            f"{'+-'[side]} step {what(c)}"
                        )
                    raise
                finally:
                    flat[i] = saved[i]
                if not np.isfinite(v):
                    where = inputs.coordinate_name(blocks, int(i))
                    raise ValueError(
                        f"{fname} returned {v!r} at {where} {'+-'[side]} step {what(c)}: the "
                        "finite difference needs a finite value on both sides"
                    )
                values[c, side] = v
            if (c & 63) == 63:
                bar.update(c + 1)
        bar.update(coords.size)
    finally:
        bar.close()
    calls.check_untouched(flat, saved, fname)
    return values


def f32_chunk(shipped, coords):
    """In a worker (:func:`fastgrad.gradcheck.parallel.run`): the serial
    float32 loop on one chunk of coordinates (``extra``: the level)."""
    f, st, flat, view, eps, fname, level = shipped
    n, values, hp, hm, h = differences(
        f, flat, view, eps, coords, st.blocks, fname, False, "", level=level or 0
    )
    return n, values, (hp, hm, h)


def note(width, scale, refined=0, directions=False):
    """The report's line on a float32 check: the rule, the steps kept
    (``width`` = h⁺ + h⁻ of each entry) and the noise floor of a slope
    ``8·u32·scale/min h`` (``scale`` the largest magnitude differenced)."""
    h = np.asarray(width, dtype=np.float64) / 2
    lo, hi = float(np.min(h, initial=np.inf)), float(np.max(h, initial=0.0))
    floor = 8 * U32 * scale / lo if lo > 0 and np.isfinite(lo) else 0.0
    rule = (
        f"directions of length max(epsilon, {STEP:.2g}*max(1,max|x|)) per block at float32 "
        "points, a block not great along them taken again along them at lengths /4, /16, ... "
        "as a coordinate is; a block still not great is checked coordinate by coordinate ("
        + RULE
        + ")"
        if directions
        else RULE
    )
    what = "direction(s) or coordinate(s)" if directions else "coordinate(s)"
    more = f"; {refined} {what} at a shorter step" if refined else ""
    return (
        f"float32 model: {rule} (here {lo:.2g}..{hi:.2g}{more}); noise floor of a slope "
        f"~{floor:.1e} (8*u32*max|f|/step)"
    )
