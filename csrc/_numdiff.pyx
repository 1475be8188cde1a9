"""Finite differences of any Python callable, and the norms of the report."""
from libc.math cimport fabs, sqrt


def central_differences(f, double[::1] theta, object view, double eps,
                        const Py_ssize_t[::1] coords, double[::1] out, progress=None):
    """Two-sided differences of ``f`` at ``theta`` for the given coordinates.

    Parameters
    ----------
    f : callable
        Called as ``f(view)``; must return a real number.
    theta : (P,) float64, INOUT
        The working copy that is perturbed in place; every coordinate is
        restored to its exact original bits before the next one is touched.
    view : ndarray
        ``theta`` as the shape ``f`` expects (shares memory with ``theta``).
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
    """
    cdef Py_ssize_t c, i, K = coords.shape[0]
    cdef double orig, plus, minus, fp, fm
    for c in range(K):
        i = coords[c]
        orig = theta[i]
        plus = orig + eps
        minus = orig - eps
        theta[i] = plus
        try:
            fp = _as_float(f(view))
            theta[i] = minus
            fm = _as_float(f(view))
        finally:
            theta[i] = orig
        out[c] = (fp - fm) / (plus - minus)
        if progress is not None and (c & 255) == 255:
            progress(c + 1)
    if progress is not None:
        progress(K)


cdef double _as_float(object value) except? -1.0:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"f(theta) must return a real number, got {type(value).__name__}") from None


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

    Returns ``(difference, norm_diff, norm_analytic, norm_numerical)``.
    Serial and in a fixed order, so the result never depends on threads.
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
