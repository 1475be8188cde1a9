"""Gradient checks through a Python callable.

The paths of :mod:`fastgrad.gradcheck` that cannot use the compiled MLP
kernel: :func:`fastgrad.check_grad` and :func:`fastgrad.numerical_gradient`
on any ``f(theta)``, and :func:`fastgrad.gradient_check` on any object with a
``cost(params, X, Y)`` method. The loop itself is compiled
(``csrc/gradcheck/_generic_kernel.pyx``); this module validates, names coordinates in the
caller's terms and builds the report.

Guarantees
----------
* ``f`` (or ``cost``) receives a *read-only* view of the working copy of θ:
  a callable that writes to its argument gets a clear error instead of
  silently corrupting the check. Each perturbed coordinate is restored from
  its saved bits, and the whole working copy is compared bit for bit with
  the original at the end.
* The caller's arrays are never written (θ, gradients and parameters are
  copied to float64 first): ``f`` must compute from the argument it
  receives. When every numerical entry is exactly 0 while the gradient is
  not, the report says that ``f`` did not see the steps (a closure over
  the model's parameters), not that the backprop is wrong
  (:func:`unseen_steps`).
* After every difference ``f`` is called once more at θ itself (in this
  process, with ``workers`` too): a closure that stores its argument
  (``model.set_weights(ws)``) is left at θ.
* NaN or inf from ``f`` raises a ValueError naming the coordinate and the
  side (``+ epsilon`` or ``- epsilon``).
* ε stays absolute, as in the course. A coordinate where ``θ_i ± ε`` is not
  finite, or rounds back to ``θ_i`` (|θ_i| beyond ~2⁵²·ε), is refused before
  ``f`` is called, with the coordinate and what to do.
"""

import numpy as np

import fastgrad.gradcheck._generic_kernel as _generic_kernel
from fastgrad import _progress
from fastgrad.gradcheck import lowprec, parallel
from fastgrad.gradcheck.calls import check_untouched, wrote_error
from fastgrad.gradcheck.inputs import (
    check_steps,
    coordinate_name,
    step_error,
)
from fastgrad.gradcheck.report import GradCheckReport, build_blocks, noise_floor
from fastgrad.gradcheck.rounding import rounding_error


def read_only(arr):
    view = arr.view()
    view.flags.writeable = False
    return view


# -- the loops ----------------------------------------------------------------


def central_differences(call, flat, view, eps, coords, blocks, fname, progress, desc, values=None):
    """Numerical gradient at ``coords`` through the compiled loop, with the
    caller-facing errors. ``flat`` is the (writable) working θ, ``view`` what
    ``call`` receives (read-only views of ``flat``)."""
    coords = np.ascontiguousarray(coords, dtype=np.intp)
    check_steps(flat, eps, coords, blocks)
    saved = flat.copy()
    out = np.empty(coords.size)
    bar = _progress.Progress(coords.size, progress, desc)
    try:
        _generic_kernel.central_differences(
            call, flat, view, eps, coords, out, bar.update, fname, values
        )
    except _generic_kernel.NonFiniteValue as e:
        raise _non_finite_error(call, view, e, blocks, saved, eps, fname) from None
    except _generic_kernel.VanishingStep as e:  # pragma: no cover - check_steps refuses first
        raise step_error(blocks, e.index, e.theta_i, eps) from None
    except ValueError as e:
        if "read-only" in str(e):
            raise wrote_error(fname) from e
        raise
    finally:
        bar.close()
    check_untouched(flat, saved, fname)
    return out


def central_chunk(shipped, coords):
    """In a worker (:func:`fastgrad.gradcheck.parallel.run`): the serial
    loop on one chunk of coordinates."""
    f, st, flat, view, eps, fname, _ = shipped
    values = np.empty((coords.size, 2))
    out = central_differences(
        f, flat, view, eps, coords, st.blocks, fname, False, "", values=values
    )
    return out, values, None


def _non_finite_error(call, view, e, blocks, saved, eps, fname):
    """The message for NaN/inf from ``f`` at θ ± ε·e_i; one more call at θ
    itself tells a value that is already non-finite without a perturbation."""
    where = coordinate_name(blocks, e.index)
    side = "+" if e.side > 0 else "-"
    try:
        at_theta = _generic_kernel.as_real_scalar(call(view), fname)
    except Exception:  # the diagnosis must not hide the real error
        at_theta = None
    if at_theta is not None and not np.isfinite(at_theta):
        return ValueError(
            f"{fname} returned {float(e.value)!r} at {where} {side} epsilon, and is already "
            f"{at_theta!r} at theta itself: the cost must be finite at theta (a log of 0, a "
            "division by 0 or an overflowing exp?)"
        )
    return ValueError(
        f"{fname} returned {float(e.value)!r} at {where} {side} epsilon ({where} = "
        f"{float(saved[e.index])!r}, epsilon={eps!r}, theta index {e.index}), though it is "
        f"finite at theta ({at_theta!r}): the finite difference needs a finite value on both "
        "sides. Is a log/division reaching 0 or an exp overflowing there?"
    )


def relative_difference(a, n):
    return _generic_kernel.relative_difference(
        np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(n, dtype=np.float64)
    )[0]


def numerical_at(
    coords, f32, pool, desc, *, call, flat, view, eps, blocks, fname, progress, level=0
):
    """Central differences at ``coords``, serial or over ``workers``.

    ``pool`` = (workers, seconds of one call, Structure of θ). Returns
    ``(numerical, values, steps, h, notes)``: ``values`` (K, 2) the costs at
    the two sides (for the kink test), ``steps`` = (h⁺, h⁻) and ``h`` the
    float32 steps (None for float64, where the step is ε), ``notes`` what the
    report says about a parallel run. ``level``: the float32 steps of
    :func:`lowprec.steps` (0, the first step, unless refining).
    """
    workers, t_call, st = pool
    args = (call, flat, view, eps, coords, blocks, fname, progress)
    use, chunk, n_workers = parallel.plan(workers, coords.size, t_call)
    if use:
        bar = _progress.Progress(coords.size, progress, desc)
        try:
            work = lowprec.f32_chunk if f32 else central_chunk
            n, values, st32, n_chunks = parallel.run(
                workers, work, call, st, flat, eps, coords, fname, chunk, bar, extra=level
            )
        finally:
            bar.close()
        notes = [parallel.describe(workers, n_workers, n_chunks, chunk)]
        hp, hm, h = st32 if f32 else (None, None, None)
    elif f32:
        n, values, hp, hm, h = lowprec.differences(*args, desc, level=level)
        notes = []
    else:
        values = np.empty((coords.size, 2))
        n = central_differences(*args, desc, values=values)
        hp = hm = h = None
        notes = []
    return n, values, (None if hp is None else (hp, hm)), h, notes


def refined_at(coords, analytic, first, f0, great, pool, use=None, **run):
    """A float32 check's blocks that are not great at the first step,
    differenced again at shorter steps (:func:`lowprec.refine`).

    ``first`` = (numerical, values, (h⁺, h⁻)) of :func:`numerical_at` at
    ``coords``, ``analytic`` the gradient there, ``f0`` the cost at θ,
    ``great`` the band a block must be below to keep its first steps
    (measured over the coordinates ``use``: the kinks that the verdict
    leaves out are left out). Returns (numerical, values, (h⁺, h⁻), how
    many coordinates kept a shorter step, None when no block was looked
    at); the values are those of the steps kept."""
    n, values, (hp, hm) = first
    flat, eps = run["flat"], run["eps"]
    starts = np.array([sl.start for _, sl, _ in run["blocks"]])
    groups = np.searchsorted(starts, coords, side="right")
    idx = np.flatnonzero(lowprec.not_great(analytic, n, groups, great, use=use))
    if idx.size == 0:
        return n, values, (hp, hm), None
    quiet = dict(run, progress=False)

    def floor(v, width):  # as the report counts it: the largest cost differenced
        return rounding_error(width, np.maximum(np.max(np.abs(v), axis=1), abs(f0)), lowprec.U32)

    def evaluate(pos, level):
        n2, v2, (hp2, hm2), *_ = numerical_at(
            coords[idx[pos]], True, pool, "", level=level, **quiet
        )
        return n2, v2, hp2, hm2

    first = (n[idx], values[idx], hp[idx], hm[idx])
    out = lowprec.refine(flat[coords[idx]], eps, first, evaluate, floor, groups[idx])
    n, values, hp, hm = (a.copy() for a in (n, values, hp, hm))
    n[idx], values[idx], hp[idx], hm[idx] = out[:4]
    return n, values, (hp, hm), int(np.count_nonzero(out[4]))


def build_report(
    *,
    title,
    analytic,
    numerical,
    checked,
    blocks,
    prefix,
    mode,
    eps,
    thresholds,
    seconds,
    directions=None,
    failing=(),
    extra_hints=(),
    raise_on_failure=False,
    kinks=None,
    kink_text=None,
    notes=(),
    noise=None,
    cap_at_noise=True,
    caller=None,
    unmoved=None,
):
    """The report of a callable check (raised as GradientCheckError when asked).

    ``kinks``: a mask over θ of checked coordinates left out of the verdict
    (kinks where the analytic value is a subgradient); None for none.
    ``noise``: ``(rounding (P,), advice)``, each numerical entry's rounding
    error and what to do when it limits the check (a string, or a function
    that makes it when it is needed; see
    :func:`~fastgrad.gradcheck.report.noise_floor`); None for none.
    ``cap_at_noise``: a difference at that floor is at most "check" (False
    when the user gave the bands). ``caller``: for the user's own ``f``,
    ``(fname, argument, upcast)`` (how messages name f and its argument,
    ``"theta"``, ``"inputs"`` or ``"params"``, and the ``(label, dtype)`` of
    the blocks upcast to float64): blocks whose every numerical entry is exactly 0 while the
    analytic ones are not are then said to be unseen by f
    (:func:`unseen_steps`), not blamed on the backprop. ``unmoved``: bool
    (P,), where f's value at θ ± step was f(θ) itself, bit for bit (None:
    not known; an entry of 0 then suffices, as in directional mode)."""
    P = analytic.size
    diff_all = None
    if kinks is not None and kinks.any():
        use = checked & ~kinks
        diff = relative_difference(analytic[use], numerical[use])
        diff_all = relative_difference(analytic[checked], numerical[checked])
    elif directions is not None:
        nums, anas = (np.concatenate([v[i] for v in directions.values()]) for i in range(2))
        diff = relative_difference(anas, nums)
    elif checked.all():
        diff = relative_difference(analytic, numerical)
    else:
        diff = relative_difference(analytic[checked], numerical[checked])
    kinks = np.zeros(P, dtype=bool) if kinks is None else kinks
    names = [prefix + name for name, _, _ in blocks]
    shapes = [shape for _, _, shape in blocks]
    rows = build_blocks(names, shapes, analytic, numerical, checked, kinks, thresholds=thresholds)
    n_checked = int(checked.sum())
    if directions is not None:
        full = {prefix + name for name in failing}
        for b in rows:
            if b.name in full:
                continue
            num, ana, _ = directions[b.name]
            err = np.abs(ana - num)
            w = int(np.argmax(err))
            b.difference = relative_difference(ana, num)
            b.max_abs_error = float(err[w])
            b.worst_index = (w,)
            b.worst_numerical, b.worst_analytic = float(num[w]), float(ana[w])
            b.n_checked, b.n_kinks, b.hint = len(num), 0, None
        n_checked += sum(len(v[0]) for v in directions.values())

    def floor():  # only asked for when a difference is not "great"
        advice = noise[1]() if callable(noise[1]) else noise[1]
        if directions is None:
            use = checked & ~kinks
            whole, per_block = noise_floor(noise[0], analytic, numerical, use, blocks)
            return whole, per_block, advice, cap_at_noise
        # the directions' floor; a failing block was checked in full
        nums, anas = (np.concatenate([v[i] for v in directions.values()]) for i in range(2))
        den = float(np.linalg.norm(anas) + np.linalg.norm(nums))
        whole = float(np.linalg.norm(noise[0])) / den if den > 0 else 0.0
        return whole, [np.inf] * len(blocks), advice, cap_at_noise

    unread, unread_hint = (), None
    if caller is not None:
        rounding = None if noise is None else noise[0]
        unread, unread_hint = unseen_steps(
            rows,
            analytic,
            numerical,
            checked,
            blocks,
            names,
            directions,
            failing,
            caller,
            unmoved,
            rounding,
        )
    report = GradCheckReport(
        title=title,
        difference=diff,
        difference_all=diff if diff_all is None else diff_all,
        numerical={n: numerical[sl].reshape(s) for n, (_, sl, s) in zip(names, blocks)},
        blocks=rows,
        n_params=P,
        n_checked=n_checked,
        n_kinks=int(np.count_nonzero(kinks & checked)),
        mode=mode,
        epsilon=eps,
        n_threads=1,
        seconds=seconds,
        flops=None,
        thresholds=thresholds,
        extra_hints=list(extra_hints),
        directions=directions,
        kink_text=kink_text,
        notes=notes,
        noise_floor=None if noise is None else floor,
        unread=unread,
        unread_hint=unread_hint,
    )
    if raise_on_failure:
        report.raise_if_failed()
    return report


# How the hint of :func:`unseen_steps` names what f receives, with the habit
# that ignores it.
_UNSEEN_EXAMPLES = {
    "theta": (
        "f",
        "argument",
        "f = lambda W: net.loss(X, y)[0] ignores W; write f = lambda W: loss_with(W)",
    ),
    "inputs": (
        "f",
        "arguments",
        "f = lambda b: layer(x, gamma, beta) ignores b; write f = lambda b: layer(x, gamma, b)",
    ),
    "params": (
        "the cost",
        "params",
        "a cost that reads self.W instead of params['W'] ignores them",
    ),
}


def unseen_steps(
    rows,
    analytic,
    numerical,
    checked,
    blocks,
    names,
    directions,
    failing,
    caller,
    unmoved=None,
    rounding=None,
):
    """``(names, hint)``: the blocks whose every numerical entry (or
    directional derivative) is exactly 0 while the analytic ones are not
    (and, where ``unmoved`` tells, f gave f(θ) itself on both sides: an f
    even about θ, f(θ + h) = f(θ − h) ≠ f(θ), did see its steps; and the
    analytic slope is above each entry's ``rounding``, else f's rounding
    hides the change),
    their rows' hints replaced by one that says f's value did not change
    when they moved; and, when that is every numerical entry of θ, the one
    hint that replaces them (f did not see the steps: a closure over the
    model's parameters, the CS231n habit). ``caller`` as for
    :func:`build_report`."""
    if directions is None and not np.any(numerical == 0):  # the usual case, in O(P)
        return (), None
    fname, what, upcast = caller
    full = set(failing)
    zero, nums = [], []
    for row, name, (bname, sl, _) in zip(rows, names, blocks):
        if directions is not None and bname not in full:
            num, ana, _ = directions[name]
        else:
            use = checked[sl]
            num, ana = numerical[sl][use], analytic[sl][use]
        nums.append(num)
        seen = unmoved is not None and directions is None and not unmoved[sl][checked[sl]].all()
        if rounding is not None and directions is None and num.size:
            # a change that f's rounding hides is no sign that f ignores the block
            seen = seen or bool(np.all(np.abs(ana) <= rounding[sl][use]))
        if num.size and not np.any(num) and np.any(ana) and not seen:
            zero.append(row)
    if not zero:
        return (), None
    who, one, example = _UNSEEN_EXAMPLES[what]
    for row in zero:
        row.hint = (
            f"{row.name}: {fname} returned the same value on both sides of every step of "
            f"{row.name} (its numerical entries are all exactly 0): does {who} read "
            f"{row.name}? fastgrad calls {who} with its own copies and never writes to your "
            f"arrays, so {who} must compute from what it receives. If {who} is right and does "
            f"not depend on {row.name}, the gradient of {row.name} should be zero"
        )
    if any(np.any(n) for n in nums) or len(zero) < sum(1 for n in nums if n.size):
        return [row.name for row in zero], None
    low = ""
    if upcast:  # the Keras habit: set_weights casts the step away
        low = (
            f" {', '.join(f'{label} ({dt})' for label, dt in upcast)} "
            f"{'was' if len(upcast) == 1 else 'were'} upcast to float64: a model that casts "
            "its weights back to float32 (set_weights) cannot see a step of epsilon; pass "
            "every block in float32 (a float32 model is checked with float32 steps) or a "
            "larger epsilon. Otherwise:"
        )
    hint = (
        f"{fname} returned the same value on both sides of every step (every numerical entry "
        f"is exactly 0): it did not see the steps.{low} fastgrad calls {who} with its own copy "
        f"of {what} and never writes to your arrays, so {who} must compute from the {one} it "
        f"receives: a closure over the model's parameters does not see the step ({example}). "
        f"If {who} truly does not depend on {what}, the gradient should be zero"
    )
    return [row.name for row in zero], hint
