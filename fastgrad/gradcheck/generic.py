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
  copied to float64 first).
* NaN or inf from ``f`` raises a ValueError naming the coordinate and the
  side (``+ epsilon`` or ``- epsilon``).
* ε stays absolute, as in the course. A coordinate where ``θ_i ± ε`` is not
  finite, or rounds back to ``θ_i`` (|θ_i| beyond ~2⁵²·ε), is refused before
  ``f`` is called, with the coordinate and what to do.
"""

import numpy as np

from fastgrad import _progress
from fastgrad.gradcheck import _generic_kernel
from fastgrad.gradcheck.inputs import (
    check_steps,
    coordinate_name,
    step_error,
)
from fastgrad.gradcheck.report import GradCheckReport, build_blocks


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
            raise _wrote_error(fname) from e
        raise
    finally:
        bar.close()
    check_untouched(flat, saved, fname)
    return out


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


def _wrote_error(fname):
    return ValueError(
        f"{fname} wrote into its argument: the check passes read-only views of theta "
        "(and of X, Y), since writing to them would corrupt the check. Copy first "
        "(t = t.copy()) if scratch space is needed"
    )


def call_raw(call, view, fname):
    """``call(view)`` as returned; a write into the read-only view becomes an
    error that says so."""
    try:
        return call(view)
    except ValueError as e:
        if "read-only" in str(e):
            raise _wrote_error(fname) from e
        raise


def call_once(call, view, fname):
    """``call(view)`` as one real number (see :func:`call_raw`)."""
    return _generic_kernel.as_real_scalar(call_raw(call, view, fname), fname)


def check_untouched(flat, saved, fname):
    if not np.array_equal(flat.view(np.uint64), saved.view(np.uint64)):
        i = int(np.argmax(flat.view(np.uint64) != saved.view(np.uint64)))
        flat[...] = saved
        raise ValueError(
            f"{fname} modified its argument (theta index {i}); the result would "
            "be meaningless. f must not write to theta"
        )


def relative_difference(a, n):
    return _generic_kernel.relative_difference(
        np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(n, dtype=np.float64)
    )[0]


def directional(
    call, flat, view, eps, grads_flat, blocks, k, rng, fname, progress, desc, prefix="d"
):
    """k random unit directions v inside every block.

    Each compares ``(J(θ⁺) − J(θ⁻)) / 2ε`` with ``g · (θ⁺ − θ⁻) / 2ε`` where
    ``θ± = fl(θ ± εv)`` are the points actually evaluated, so rounding the
    perturbation costs nothing. Returns ``{grad_name: (numerical, analytic,
    kinks)}`` (kinks all False: a callable has no kink detector).
    """
    saved = flat.copy()
    out = {}
    bar = _progress.Progress(k * len(blocks), progress, desc)
    done = 0
    try:
        for name, sl, shape in blocks:
            base = saved[sl]
            num, ana = np.empty(k), np.empty(k)
            for r in range(k):
                v = rng.standard_normal(shape).ravel()
                v /= np.linalg.norm(v)
                with np.errstate(over="ignore", invalid="ignore"):
                    plus, minus = base + eps * v, base - eps * v
                if not (np.isfinite(plus).all() and np.isfinite(minus).all()):
                    j = int(np.argmax(~(np.isfinite(plus) & np.isfinite(minus))))
                    raise step_error(blocks, sl.start + j, float(base[j]), eps)
                values = []
                for side, point in ((1, plus), (-1, minus)):
                    flat[sl] = point
                    try:
                        value = call_once(call, view, fname)
                    finally:
                        flat[sl] = base
                    if not np.isfinite(value):
                        raise ValueError(
                            f"{fname} returned {value!r} at {name} {'+' if side > 0 else '-'} "
                            f"epsilon·v (random direction {r} in {name}, epsilon={eps!r}): "
                            "the finite difference needs a finite value on both sides"
                        )
                    values.append(value)
                step = plus - minus
                if not np.any(step):
                    raise ValueError(
                        f"cannot take a finite difference along a direction in "
                        f"{name}: epsilon={eps!r} is below the float64 spacing of "
                        "every entry, so the step rounds to 0; use a larger "
                        "epsilon or rescale"
                    )
                num[r] = (values[0] - values[1]) / (2 * eps)
                ana[r] = float(np.dot(grads_flat[sl], step)) / (2 * eps)
                done += 1
                bar.update(done)
            out[prefix + name] = (num, ana, np.zeros(k, dtype=bool))
    finally:
        bar.close()
    check_untouched(flat, saved, fname)
    return out


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
):
    """The report of a callable check (raised as GradientCheckError when asked).

    ``kinks``: a mask over θ of checked coordinates left out of the verdict
    (kinks where the analytic value is a subgradient); None for none."""
    P = analytic.size
    diff_all = None
    if kinks is not None and kinks.any():
        use = checked & ~kinks
        diff = relative_difference(analytic[use], numerical[use])
        diff_all = relative_difference(analytic[checked], numerical[checked])
    kinks = np.zeros(P, dtype=bool) if kinks is None else kinks
    if diff_all is not None:
        pass
    elif directions is not None:
        nums, anas = (np.concatenate([v[i] for v in directions.values()]) for i in range(2))
        diff = relative_difference(anas, nums)
    elif checked.all():
        diff = relative_difference(analytic, numerical)
    else:
        diff = relative_difference(analytic[checked], numerical[checked])
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
    )
    if raise_on_failure:
        report.raise_if_failed()
    return report


def directional_run(
    analytic,
    k,
    rng,
    thresholds,
    desc,
    *,
    call,
    flat,
    eps,
    blocks,
    fname,
    progress,
    view=None,
    prefix="d",
):
    """Directions in every block; a block that fails is checked in full."""
    directions = directional(
        call, flat, view, eps, analytic, blocks, k, rng, fname, progress, desc, prefix
    )
    numerical = np.full(flat.size, np.nan)
    checked = np.zeros(flat.size, dtype=bool)
    failing, hints = [], []
    for name, sl, _ in blocks:
        num, ana, _ = directions[prefix + name]
        if relative_difference(ana, num) >= thresholds[0]:
            failing.append(name)
            coords = np.arange(sl.start, sl.stop)
            numerical[sl] = central_differences(
                call, flat, view, eps, coords, blocks, fname, progress, desc + f" ({prefix}{name})"
            )
            checked[sl] = True
            hints.append(f"{prefix}{name} failed along random directions; checked in full")
    return dict(
        numerical=numerical,
        checked=checked,
        mode="directional",
        directions=directions,
        failing=failing,
        extra_hints=hints,
    )
