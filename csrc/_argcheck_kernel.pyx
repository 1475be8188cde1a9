"""Whole-array scans of :mod:`fastgrad._argcheck`, one pass and no
temporaries: ``np.isfinite(a).all()`` writes an a-sized bool array, and
``a.max()`` with ``a.min()`` read ``a`` twice (from memory, for the
arrays that do not fit in cache: a 3072x1024 weight matrix)."""
from libc.stdint cimport uint64_t

# Entries between two looks at the accumulated flags: an early exit
# without a test (and branch) per entry.
cdef enum:
    SCAN_BLOCK = 1024


def all_finite_f64(const double[::1] x):
    """True when no entry of ``x`` is NaN or ±inf.

    A double is NaN or ±inf exactly when its 11 exponent bits are all
    ones; adding one unit of the exponent to the exponent bits alone then
    carries into bit 63, and only then. So the test is integer AND, ADD and
    OR over the bits, which compilers vectorize on baseline x86-64 (SSE2),
    unlike a floating-point comparison reduced with OR.
    """
    cdef Py_ssize_t n = x.shape[0], i = 0, k, e
    cdef uint64_t acc = 0
    cdef const uint64_t *u
    if n == 0:
        return True
    u = <const uint64_t *> &x[0]
    with nogil:
        while i < n:
            e = i + SCAN_BLOCK if i + SCAN_BLOCK < n else n
            for k in range(i, e):
                acc |= (u[k] & 0x7FF0000000000000ULL) + 0x0010000000000000ULL
            if acc >> 63:
                break
            i = e
    return not (acc >> 63)
