"""Finite differences of any Python callable, and the norms of the report."""
from libc.math cimport fabs, isfinite, sqrt

import numbers

import numpy as np


class NonFiniteValue(ValueError):
    """``f`` returned NaN or inf at a perturbed point.

    Attributes: ``index`` (the flat coordinate), ``side`` (+1 for θ+ε, −1 for
    θ−ε) and ``value``. The Python callers turn it into a message that names
    the coordinate in the caller's terms.
    """

    def __init__(self, index, side, value):
        self.index, self.side, self.value = index, side, value
        super().__init__(f"f returned {value!r} at theta[{index}] "
                         f"{'+' if side > 0 else '-'} epsilon")


class VanishingStep(ValueError):
    """``θ_i ± ε`` is not finite, or rounds back to ``θ_i`` on both sides."""

    def __init__(self, index, theta_i, eps):
        self.index, self.theta_i, self.eps = index, theta_i, eps
        super().__init__(f"theta[{index}] = {theta_i!r}: theta ± epsilon ({eps!r}) is not a "
                         "finite, distinct float64 step")


def central_differences(f, double[::1] theta, object view, double eps,
                        const Py_ssize_t[::1] coords, double[::1] out, progress=None,
                        name="f(theta)", double[:, ::1] values=None):
    """Two-sided differences of ``f`` at ``theta`` for the given coordinates.

    Parameters
    ----------
    f : callable
        Called as ``f(view)``; must return a real scalar (a Python or NumPy
        real number, or a real array holding one value).
    theta : (P,) float64, INOUT
        The working copy that is perturbed in place; every coordinate is
        restored to its saved original bits (not recomputed as
        ``(θ_i ± ε) ∓ ε``) before the next one is touched, also when ``f``
        raises.
    view : ndarray
        ``theta`` as the shape ``f`` expects (shares memory with ``theta``;
        the callers make it read-only so ``f`` cannot write to it).
    eps : float
        Step.
    coords : (K,) intp, IN
        Coordinates to differentiate.
    out : (K,) float64, OUT
        ``(f(θ + h e_i) − f(θ − h e_i)) / (2h)`` where ``2h`` is the step
        actually taken, ``(θ_i + ε) − (θ_i − ε)`` in floating point: dividing
        by the representable step rather than by ``2ε`` removes the error of
        rounding ``θ_i ± ε``.
    progress : callable, optional
        Called as ``progress(done)`` now and then.
    name : str
        How error messages call ``f``.
    values : (K, 2) float64, OUT, optional
        When given, ``f(θ + εe_i)`` and ``f(θ − εe_i)`` and the two points
        actually taken, for the kink test (the one-sided slopes); ``out`` is
        computed the same way with or without it.

    Raises
    ------
    VanishingStep
        When ``θ_i ± ε`` is not finite or the step taken is 0 (checked
        before ``f`` is called for that coordinate).
    NonFiniteValue
        When ``f`` returns NaN or inf (θ is restored first).
    TypeError, ValueError
        When ``f`` returns something that is not one real number.
    """
    cdef Py_ssize_t c, i, K = coords.shape[0]
    cdef double orig, plus, minus, fp, fm, step
    cdef bint keep = values is not None
    if out.shape[0] != K:
        raise ValueError("out must have one entry per coordinate")
    if keep and values.shape[0] != K:
        raise ValueError("values must have one row per coordinate")
    for c in range(K):
        i = coords[c]
        if i < 0 or i >= theta.shape[0]:
            raise IndexError(f"coordinate {i} out of range for {theta.shape[0]} entries")
        orig = theta[i]
        plus = orig + eps
        minus = orig - eps
        step = plus - minus
        if not (isfinite(plus) and isfinite(minus) and isfinite(step) and step > 0.0):
            raise VanishingStep(i, orig, eps)
        theta[i] = plus
        try:
            fp = _as_float(f(view), name)
            if not isfinite(fp):
                raise NonFiniteValue(i, 1, fp)
            theta[i] = minus
            fm = _as_float(f(view), name)
            if not isfinite(fm):
                raise NonFiniteValue(i, -1, fm)
        finally:
            theta[i] = orig
        out[c] = (fp - fm) / step
        if keep:
            values[c, 0] = fp
            values[c, 1] = fm
        if progress is not None and (c & 255) == 255:
            progress(c + 1)
    if progress is not None:
        progress(K)


cdef double _as_float(object value, object name) except? -1.0:
    if type(value) is float:
        return <double>value
    return as_real_scalar(value, name)


def as_real_scalar(value, name):
    """``value`` as a float if it is one real number, else a clear error.

    Accepted: Python and NumPy real numbers (not bool), and real arrays
    holding exactly one value (a ``(1, 1)`` cost is common in course code).

    Parameters
    ----------
    value : object
        IN  what the user's function returned.
    name : str
        How messages name the function (``"f (my_cost)"``).

    Returns
    -------
    float

    Raises
    ------
    TypeError
        A bool, a non-real dtype or another type.
    ValueError
        An array of more than one value, or a number beyond float64.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must return a real number, got bool {value!r}")
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"{name} returned {value!r}, too large for a float64") from None
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind not in "fiu":
            raise TypeError(f"{name} must return a real number, got an array/scalar of "
                            f"dtype {value.dtype}")
        if value.size != 1:
            raise ValueError(f"{name} must return one number (a scalar cost), got an array "
                             f"of shape {value.shape}")
        return float(value.reshape(()))
    raise TypeError(f"{name} must return a real number, got {type(value).__name__}")


cdef double _scaled_norm(const double *x, const double *y, Py_ssize_t n, double sign) noexcept nogil:
    """‖x + sign·y‖₂ (y may be NULL) by the scaled sum of squares of LAPACK's
    dnrm2, so huge or tiny entries neither overflow nor underflow."""
    cdef double scale = 0.0, ssq = 1.0, v, a
    cdef Py_ssize_t i
    for i in range(n):
        v = x[i] if y == NULL else x[i] + sign * y[i]
        if v != 0.0:
            a = fabs(v)
            if scale < a:
                ssq = 1.0 + ssq * (scale / a) * (scale / a)
                scale = a
            else:
                ssq += (a / scale) * (a / scale)
    return scale * sqrt(ssq)


def relative_difference(const double[::1] analytic, const double[::1] numerical):
    """‖a − n‖₂ / (‖a‖₂ + ‖n‖₂), 0 when both are zero.

    Serial and in a fixed order, so the result never depends on threads.

    Parameters
    ----------
    analytic : ndarray (n,) float64, C-contiguous
        IN  the backprop gradient ``a``.
    numerical : ndarray (n,) float64, C-contiguous
        IN  the finite-difference gradient ``n`` (same length).

    Returns
    -------
    (difference, norm_diff, norm_analytic, norm_numerical) : tuple of float
        Norms by the scaled sum of squares (no overflow or underflow).
    """
    cdef Py_ssize_t n = analytic.shape[0]
    cdef double d, na, nn
    if numerical.shape[0] != n:
        raise ValueError("analytic and numerical must have the same length")
    if n == 0:
        return 0.0, 0.0, 0.0, 0.0
    with nogil:
        d = _scaled_norm(&analytic[0], &numerical[0], n, -1.0)
        na = _scaled_norm(&analytic[0], NULL, n, 1.0)
        nn = _scaled_norm(&numerical[0], NULL, n, 1.0)
    if na + nn == 0.0:
        return 0.0, d, na, nn
    return d / (na + nn), d, na, nn
