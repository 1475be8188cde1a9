"""Calling the user's ``f`` on read-only views of θ, and the errors when
``f`` writes to its argument.

The lowest piece of the callable checks: :mod:`~fastgrad.gradcheck.generic`
(float64) and :mod:`~fastgrad.gradcheck.lowprec` (float32) both call through
it, so neither needs the other for it.
"""

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
