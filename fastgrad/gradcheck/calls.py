"""Calling the user's ``f`` on read-only views of θ, and the errors when
``f`` writes to its argument.

The lowest piece of the callable checks: :mod:`~fastgrad.gradcheck.generic`
(float64) and :mod:`~fastgrad.gradcheck.lowprec` (float32) both call through
it, so neither needs the other for it.
"""

import contextlib
import inspect
import time

import numpy as np

import fastgrad.gradcheck._generic_kernel as _generic_kernel
from fastgrad.gradcheck.inputs import numpy_dtype


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


@contextlib.contextmanager
def left_at_theta(call, view, flat, fname):
    """``f`` once more at θ itself when the block ends, after every
    difference, also when the block ends in an error of ``f``'s or the
    check's: a closure that stores its argument (``model.set_weights(ws)``)
    is left at θ, not at the last point differenced. Its value is not used;
    after an error, an error of this call is dropped (the first one is the
    one to see). ``flat`` is put back to θ first."""
    saved = flat.copy()
    try:
        yield
    except Exception:
        flat[:] = saved
        try:
            call_raw(call, view, fname)
        except Exception:
            pass
        raise
    flat[:] = saved
    call_raw(call, view, fname)


def arity_error(f, fname, value, check="check_grad", name="theta", role="f"):
    """The TypeError for an ``f`` that cannot take ``value`` as its one
    argument (``f(W, b)`` checked at ``(W, b)``: the JAX ``check_grads``
    habit), or None when its signature accepts one argument (then a
    TypeError came from inside ``f``, and is the user's own). ``role``:
    ``"f"``, or ``"grad"`` for a gradient callable."""
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return None
    try:
        sig.bind(value)
        return None
    except TypeError:
        pass
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = [p.name for p in sig.parameters.values() if p.kind in kinds]
    if params:
        takes = f"takes {len(params)} positional argument(s) ({', '.join(params)})"
    else:
        takes = "takes no positional argument"
    star = "**" if isinstance(value, dict) else "*"
    if isinstance(value, (list, tuple, dict)):
        what = f"the {type(value).__name__} of {len(value)} arrays {name}"
        if role == "f":
            fix = (
                f"use {check}(lambda p: f({star}p), {name}, grad), or check_vjp(f, {name}, "
                f"grads), which calls f({star}inputs)"
            )
        else:
            fix = f"pass grad=lambda p: grad({star}p)"
    else:
        what, fix = f"the array {name}", f"{role} must take exactly one argument"
    return TypeError(
        f"{fname} {takes}, but {check} calls {role}({name}) with {what} as one "
        f"argument (it does not unpack {name}): {fix}"
    )


def check_untouched(flat, saved, fname):
    if not np.array_equal(flat.view(np.uint64), saved.view(np.uint64)):
        i = int(np.argmax(flat.view(np.uint64) != saved.view(np.uint64)))
        flat[...] = saved
        raise ValueError(
            f"{fname} modified its argument (theta index {i}); the result would "
            "be meaningless. f must not write to theta"
        )


# Two calls at θ may differ by this much of the value's magnitude (float64,
# float32) and still be taken for one function: a few hundred rounding
# errors of a reduction summed in another order, far below a sampled
# function's percents (which make every difference noise).
DETERMINISM_RTOL = {False: 1e-9, True: 1e-4}


def _is_float32(raw):
    if numpy_dtype(raw) == np.float32:  # (a torch tensor, without converting it)
        return True
    try:
        return np.asarray(raw).dtype == np.float32
    except (ValueError, TypeError, RuntimeError):
        return False


def check_deterministic(call, view, fname, what="params", as_value=None, flat=None):
    """Two evaluations at θ must agree: an ``f`` that redraws dropout masks
    (or samples anything) at each call makes every difference noise. Returns
    the first value as ``f`` returned it, and the seconds of the second call.

    ``as_value(raw)`` turns a value into a float64 array (default: one real
    number, refusing anything else); a NaN or inf there is left to the
    caller (a check that never uses f(θ) does not need it finite).
    Agreement is to ``DETERMINISM_RTOL`` of the largest magnitude: a
    threaded or GPU reduction sums in an order that changes from call to
    call, which moves the last digits (more of them for float32), while
    redrawn dropout masks move the value by percents. With ``flat`` (the
    working θ under ``view``), an ``f`` that wrote into its argument is
    named for that, not for the values it then returned."""
    saved = None if flat is None else flat.copy()
    raw = call_raw(call, view, fname)
    t = time.perf_counter()
    raw2 = call_raw(call, view, fname)
    t = time.perf_counter() - t
    if saved is not None:  # (a write in the first call also shows here)
        check_untouched(flat, saved, fname)
    rtol = DETERMINISM_RTOL[_is_float32(raw)]
    if as_value is None:  # one number: plain floats, no array machinery
        a = _generic_kernel.as_real_scalar(raw, fname)
        b = _generic_kernel.as_real_scalar(raw2, fname)
        if a == b or abs(a - b) <= rtol * max(abs(a), abs(b)) or (a != a and b != b):
            return raw, t
        _not_deterministic(fname, what, f"{a!r} and {b!r}")
    a = np.asarray(as_value(raw), dtype=np.float64)
    b = np.asarray(as_value(raw2), dtype=np.float64)
    if a.shape != b.shape:
        _not_deterministic(fname, what, f"outputs of shapes {a.shape} and {b.shape}")
    with np.errstate(invalid="ignore"):
        scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
        close = np.abs(a - b) <= rtol * scale
    if not (np.all(close) or np.array_equal(a, b, equal_nan=True)):
        i = np.unravel_index(int(np.argmin(close)), a.shape)
        where = f" at output index {tuple(int(k) for k in i)}" if a.ndim else ""
        _not_deterministic(fname, what, f"{a[i]!r} and {b[i]!r}{where}")
    return raw, t


def _not_deterministic(fname, what, seen):
    raise ValueError(
        f"{fname} is not deterministic: two calls with the same {what} gave {seen}. A "
        "function that redraws dropout masks (or samples anything) at every call makes "
        "the check compare noise with noise; freeze the masks (a fixed seed) or turn "
        "the randomness off for the check"
    )


def whole_number_values(f0, values, fname):
    """Refuse an ``f`` all of whose values (``f0`` at θ, ``values`` at the
    points θ ± ε·e_i) are whole numbers but not all equal: ``int()``,
    ``round()`` or a count. It moves by 0 or by at least 1 over 2ε, so its
    differences are 0 or ~1/ε, and every coordinate looks like a kink (left
    out of the verdict: a wrong gradient passed). A flat one (``max(0, x)``
    where every x < 0: all 0) has the right gradient, 0. Beyond 2**22 every
    float32 is whole, so large values say nothing."""
    if not float(f0).is_integer():  # the usual case, in O(1)
        return
    v = np.append(np.ravel(np.asarray(values, dtype=np.float64)), float(f0))
    v = v[np.isfinite(v)]
    if v.size < 2 or np.max(np.abs(v)) >= 2.0**22 or np.all(v == v[0]):
        return
    if np.all(v == np.round(v)):
        raise ValueError(
            f"{fname} returns whole numbers only (int(), round(), a count?): between "
            "theta + epsilon and theta - epsilon it changes by 0 or by at least 1, so its "
            "finite differences are 0 or ~1/epsilon. Return the value before rounding"
        )
