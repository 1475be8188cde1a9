"""Calling the user's ``f`` on read-only views of θ, and the errors when
``f`` writes to its argument.

The lowest piece of the callable checks: :mod:`~fastgrad.gradcheck.generic`
(float64) and :mod:`~fastgrad.gradcheck.lowprec` (float32) both call through
it, so neither needs the other for it.
"""

import time

import numpy as np

import fastgrad.gradcheck._generic_kernel as _generic_kernel


def wrote_error(fname):
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
            raise wrote_error(fname) from e
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


def check_deterministic(call, view, fname, what="params", as_value=None, flat=None):
    """Two evaluations at θ must agree: an ``f`` that redraws dropout masks
    (or samples anything) at each call makes every difference noise. Returns
    the first value as ``f`` returned it, and the seconds of the second call.

    ``as_value(raw)`` turns a value into a float64 array (default: one real
    number, refusing anything else); a NaN or inf there is left to it or
    to the caller. Agreement is to 1e-13 of the largest magnitude (a
    threaded reduction may round differently from call to call). With
    ``flat`` (the working θ under ``view``), an ``f`` that wrote into its
    argument is named for that, not for the values it then returned."""
    if as_value is None:

        def as_value(raw):
            return np.float64(_generic_kernel.as_real_scalar(raw, fname))

    saved = None if flat is None else flat.copy()
    raw = call_raw(call, view, fname)
    if saved is not None:
        check_untouched(flat, saved, fname)
    a = np.asarray(as_value(raw), dtype=np.float64)
    if a.ndim == 0 and not np.isfinite(a):
        raise ValueError(f"{fname} returned {float(a)!r} at {what} itself: it must be finite there")
    t = time.perf_counter()
    b = np.asarray(as_value(call_raw(call, view, fname)), dtype=np.float64)
    t = time.perf_counter() - t
    if saved is not None:
        check_untouched(flat, saved, fname)
    with np.errstate(invalid="ignore"):
        scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
        same = a.shape == b.shape and bool(np.all(np.abs(a - b) <= 1e-13 * scale))
    if not same and a.shape == b.shape and np.array_equal(a, b, equal_nan=True):
        same = True
    if not same:
        if a.ndim == 0:
            seen = f"{float(a)!r} and {float(b)!r}"
        elif a.shape != b.shape:
            seen = f"outputs of shapes {a.shape} and {b.shape}"
        else:
            i = np.unravel_index(int(np.nanargmax(np.abs(a - b))), a.shape)
            seen = f"{a[i]!r} and {b[i]!r} at output index {tuple(int(k) for k in i)}"
        raise ValueError(
            f"{fname} is not deterministic: two calls with the same {what} gave {seen}. A "
            "function that redraws dropout masks (or samples anything) at every call makes "
            "the check compare noise with noise; freeze the masks (a fixed seed) or turn "
            "the randomness off for the check"
        )
    return raw, t
