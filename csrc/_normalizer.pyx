"""Compiled kernels behind :class:`fastgrad.Normalizer`.

Two kernels, both parallel over fixed tiles so every thread count gives the
same bits:

``moments``
    Per-feature mean and sum of squared deviations (M2) in one pass over the
    data. The samples are cut into chunks of ``CHUNK_SIZE``; each chunk gets a
    two-pass estimate (sum, then deviations from the chunk mean while
    the chunk is still in cache) written to its own partial slot, and the
    partials are merged serially, in chunk order, with Chan's update. Every
    accumulator is float64, also for float32 data.
``affine``
    The fused elementwise map ``(x - shift) * factor`` (transform) or
    ``x * factor + shift`` (inverse), computed in float64, written to a new
    array or in place, with a finiteness check folded into the same pass.

The 2-D views are declared with general strides so that row-strided and
negatively strided arrays pass without a copy, but the kernels walk the
innermost axis through a raw pointer: the caller guarantees unit stride along
axis 1. Both accept the data in either orientation: ``transposed=False`` means an
``(n_samples, n_features)`` array whose features are contiguous (C order, the
scikit-learn layout), ``transposed=True`` an ``(n_features, n_samples)`` array
whose samples are contiguous (a Fortran-ordered sample-rows array seen through
its transpose, or the course's ``(n_x, m)`` layout as it is). Nothing here
validates: :mod:`fastgrad.normalizer` checks shapes, dtypes and thread counts
first.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc

import numpy as np

# Samples per statistics chunk: the unit of determinism. Chunk boundaries
# depend only on the sample index, never on the thread count, and each chunk's
# per-feature sums run in sample order in both orientations, so C, Fortran and
# the course layout all produce the same partials.
cdef enum:
    _CHUNK_SIZE = 256
CHUNK_SIZE = _CHUNK_SIZE

# Features per tile in the sample-rows orientation: a 256 x 256 float64 tile is
# 512 KiB, so the second (deviation) pass over a chunk reads from L2, not RAM.
cdef enum:
    _FEATURE_BLOCK = 256
FEATURE_BLOCK = _FEATURE_BLOCK

# Samples per transform task in the feature-rows orientation (64 KiB of
# float64 per task): long enough to stream, short enough to balance threads
# when there are few features.
cdef enum:
    _SAMPLE_BLOCK = 8192
SAMPLE_BLOCK = _SAMPLE_BLOCK


cdef inline Py_ssize_t _n_blocks(Py_ssize_t n, Py_ssize_t block) noexcept nogil:
    # The remainder block counts as a block of its own.
    return (n + block - 1) // block


# --------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------

# Why no correction term (the "corrected" two-pass algorithm also sums the
# deviations): with the chunk mean off by delta, the computed M2 is the exact
# one plus n * delta**2 (the cross term sums to zero). A float64 mean of at
# most CHUNK_SIZE samples is off by delta <~ CHUNK_SIZE * eps * max|x|, so the
# relative error of M2 is <~ (CHUNK_SIZE * eps * max|x| / sigma)**2: below
# float64 resolution until |x| / sigma ~ 1e7. Summing the deviations as well
# doubled the cost of the deviation pass.

cdef inline void _strip_sq_dev8(
    const floating* x,          # IN  first of 8 adjacent features in the first row
    Py_ssize_t row_stride,      # IN  elements between rows (may be negative)
    Py_ssize_t n_rows,          # IN
    const double* mu,           # IN  [8] chunk means
    double* m2,                 # OUT [8] sums of squared deviations
) noexcept nogil:
    # Eight running sums stay in registers across the rows: eight independent
    # addition chains hide the adder's latency, and no accumulator goes
    # through memory.
    cdef Py_ssize_t i, k
    cdef double m[8]
    cdef double q[8]
    cdef double d
    for k in range(8):
        m[k] = mu[k]
        q[k] = 0.0
    for i in range(n_rows):
        for k in range(8):
            d = x[k] - m[k]
            q[k] += d * d
        x += row_stride
    for k in range(8):
        m2[k] = q[k]


cdef inline double _strip_sq_dev1(
    const floating* x,          # IN  one feature in the first row
    Py_ssize_t row_stride,      # IN  elements between rows
    Py_ssize_t n_rows,          # IN
    double mu,                  # IN  chunk mean
) noexcept nogil:
    cdef Py_ssize_t i
    cdef double q = 0.0, d
    for i in range(n_rows):
        d = x[0] - mu
        q += d * d
        x += row_stride
    return q


cdef void _tile_moments_rows(
    const floating[:, :] X,     # IN  (n_samples, n_features)
    Py_ssize_t r0,              # IN  first sample of the chunk
    Py_ssize_t r1,              # IN  one past the last sample
    Py_ssize_t f0,              # IN  first feature of the tile
    Py_ssize_t f1,              # IN  one past the last feature
    double* mean,               # OUT [f1 - f0] chunk means
    double* m2,                 # OUT [f1 - f0] chunk sums of squared deviations
) noexcept nogil:
    cdef Py_ssize_t i, k, nf = f1 - f0
    cdef Py_ssize_t row_stride = X.strides[0] // <Py_ssize_t>sizeof(floating)
    cdef double n = <double>(r1 - r0)
    cdef const floating* xi
    cdef const floating* x0
    cdef const floating* x1
    cdef const floating* x2
    cdef const floating* x3

    for k in range(nf):
        mean[k] = 0.0
    # Features innermost, so the loop vectorizes across features while each
    # feature still adds its samples one by one in index order; four rows per
    # sweep keep the running sums in registers for four additions.
    i = r0
    while i + 4 <= r1:
        x0 = &X[i, f0]
        x1 = x0 + row_stride
        x2 = x1 + row_stride
        x3 = x2 + row_stride
        for k in range(nf):
            mean[k] = (((mean[k] + x0[k]) + x1[k]) + x2[k]) + x3[k]
        i += 4
    while i < r1:
        xi = &X[i, f0]
        for k in range(nf):
            mean[k] += xi[k]
        i += 1
    for k in range(nf):
        mean[k] = mean[k] / n
    # The deviation pass reads the tile again, now from cache, in strips of
    # eight features (per feature, still in sample order).
    k = 0
    while k + 8 <= nf:
        _strip_sq_dev8(&X[r0, f0 + k], row_stride, r1 - r0, &mean[k], &m2[k])
        k += 8
    while k < nf:
        m2[k] = _strip_sq_dev1(&X[r0, f0 + k], row_stride, r1 - r0, mean[k])
        k += 1


cdef void _feature_moments(
    const floating* x,          # IN  [n] one feature's contiguous samples
    Py_ssize_t n_int,           # IN
    double* mean,               # OUT scalar
    double* m2,                 # OUT scalar
) noexcept nogil:
    # Same operations in the same order as _tile_moments_rows, one feature.
    cdef Py_ssize_t i
    cdef double n = <double>n_int
    cdef double s = 0.0, mu, q = 0.0, d
    for i in range(n_int):
        s += x[i]
    mu = s / n
    for i in range(n_int):
        d = x[i] - mu
        q += d * d
    mean[0] = mu
    m2[0] = q


cdef void _feature_moments4(
    const floating* x0,         # IN  [n] four features' contiguous samples
    const floating* x1,         # IN
    const floating* x2,         # IN
    const floating* x3,         # IN
    Py_ssize_t n_int,           # IN
    double* mean,               # OUT [4]
    double* m2,                 # OUT [4]
) noexcept nogil:
    # A single feature's running sum is one dependent chain of additions
    # (latency-bound); four features interleaved give four independent chains
    # without changing any feature's summation order.
    cdef Py_ssize_t i
    cdef double n = <double>n_int
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef double q0 = 0.0, q1 = 0.0, q2 = 0.0, q3 = 0.0
    cdef double d0, d1, d2, d3, mu0, mu1, mu2, mu3
    for i in range(n_int):
        s0 += x0[i]
        s1 += x1[i]
        s2 += x2[i]
        s3 += x3[i]
    mu0 = s0 / n
    mu1 = s1 / n
    mu2 = s2 / n
    mu3 = s3 / n
    for i in range(n_int):
        d0 = x0[i] - mu0
        d1 = x1[i] - mu1
        d2 = x2[i] - mu2
        d3 = x3[i] - mu3
        q0 += d0 * d0
        q1 += d1 * d1
        q2 += d2 * d2
        q3 += d3 * d3
    mean[0] = mu0
    mean[1] = mu1
    mean[2] = mu2
    mean[3] = mu3
    m2[0] = q0
    m2[1] = q1
    m2[2] = q2
    m2[3] = q3


cdef void _tile_moments_cols(
    const floating[:, :] Xt,  # IN  (n_features, n_samples)
    Py_ssize_t r0,              # IN  first sample of the chunk
    Py_ssize_t r1,              # IN  one past the last sample
    Py_ssize_t f0,              # IN  first feature of the tile
    Py_ssize_t f1,              # IN  one past the last feature
    double* mean,               # OUT [f1 - f0]
    double* m2,                 # OUT [f1 - f0]
) noexcept nogil:
    cdef Py_ssize_t j = f0, n = r1 - r0
    while j + 4 <= f1:
        _feature_moments4(&Xt[j, r0], &Xt[j + 1, r0], &Xt[j + 2, r0],
                          &Xt[j + 3, r0], n, &mean[j - f0], &m2[j - f0])
        j += 4
    while j < f1:
        _feature_moments(&Xt[j, r0], n, &mean[j - f0], &m2[j - f0])
        j += 1


cdef void _merge_chunks(
    const double[:, ::1] part_mean,  # IN  (n_chunks, n_features)
    const double[:, ::1] part_m2,    # IN  (n_chunks, n_features)
    Py_ssize_t n_samples,            # IN
    Py_ssize_t f0,                   # IN  first feature to merge
    Py_ssize_t f1,                   # IN  one past the last
    double* mean,                    # OUT [n_features] (indexed from 0)
    double* m2,                      # OUT [n_features]
) noexcept nogil:
    # Chan, Golub & LeVeque's pairwise update, applied chunk by chunk in chunk
    # order, whatever thread computed each chunk:
    #   delta = mean_b - mean_a
    #   mean  = mean_a + delta * n_b / n
    #   M2    = M2_a + M2_b + delta^2 * n_a * n_b / n
    cdef Py_ssize_t c, j, n_chunks = part_mean.shape[0]
    cdef double n_a, n_b, n_ab, w_mean, w_m2, delta
    for j in range(f0, f1):
        mean[j] = part_mean[0, j]
        m2[j] = part_m2[0, j]
    n_a = <double>min(_CHUNK_SIZE, n_samples)
    for c in range(1, n_chunks):
        n_b = <double>(min((c + 1) * _CHUNK_SIZE, n_samples) - c * _CHUNK_SIZE)
        n_ab = n_a + n_b
        w_mean = n_b / n_ab
        w_m2 = n_a * n_b / n_ab
        for j in range(f0, f1):
            delta = part_mean[c, j] - mean[j]
            mean[j] = mean[j] + delta * w_mean
            m2[j] = m2[j] + part_m2[c, j] + delta * delta * w_m2
        n_a = n_ab


def moments(
    const floating[:, :] X,   # IN  see `transposed`
    bint transposed,            # IN
    double[::1] mean,           # OUT (n_features,)
    double[::1] m2,             # OUT (n_features,)
    int n_threads,              # IN  >= 1
):
    """Per-feature mean and sum of squared deviations, in one pass.

    Parameters
    ----------
    X : ndarray of float32 or float64
        ``(n_samples, n_features)`` with unit stride along features when
        ``transposed`` is False; ``(n_features, n_samples)`` with unit stride
        along samples when it is True. At least one sample and one feature.
    transposed : bool
        Which of the two orientations ``X`` is in.
    mean : ndarray of shape (n_features,), float64
        Output: the mean of each feature.
    m2 : ndarray of shape (n_features,), float64
        Output: ``sum_i (x_ij - mean_j)**2`` for each feature. The population
        variance is ``m2 / n_samples``. Tiny negative values from rounding are
        possible for constant features; the caller clips.
    n_threads : int
        OpenMP threads, at least 1. The result is bitwise the same for any
        value.

    Notes
    -----
    A NaN or inf anywhere in a feature makes that feature's mean or M2
    non-finite, so the caller detects bad input from the result without a
    separate pass over the data.
    """
    cdef Py_ssize_t n_samples = X.shape[1] if transposed else X.shape[0]
    cdef Py_ssize_t n_features = X.shape[0] if transposed else X.shape[1]
    cdef Py_ssize_t n_chunks = _n_blocks(n_samples, _CHUNK_SIZE)
    cdef Py_ssize_t n_fblocks = _n_blocks(n_features, _FEATURE_BLOCK)
    cdef Py_ssize_t n_tasks = n_chunks * n_fblocks
    cdef Py_ssize_t t, c, fb, r0, r1, f0, f1
    cdef int n_merge_threads
    if n_samples == 0 or n_features == 0:
        return
    # One partial slot per chunk: a thread writes only the slots of the
    # chunks it owns, so the partials do not depend on who computed them.
    cdef double[:, ::1] part_mean = np.empty((n_chunks, n_features), dtype=np.float64)
    cdef double[:, ::1] part_m2 = np.empty((n_chunks, n_features), dtype=np.float64)
    n_threads = <int>min(<Py_ssize_t>n_threads, n_tasks)
    n_merge_threads = <int>min(<Py_ssize_t>n_threads, n_fblocks)

    for t in prange(n_tasks, nogil=True, schedule="static", num_threads=n_threads):
        c = t // n_fblocks
        fb = t - c * n_fblocks
        r0 = c * _CHUNK_SIZE
        r1 = min(r0 + _CHUNK_SIZE, n_samples)
        f0 = fb * _FEATURE_BLOCK
        f1 = min(f0 + _FEATURE_BLOCK, n_features)
        if transposed:
            _tile_moments_cols(X, r0, r1, f0, f1, &part_mean[c, f0], &part_m2[c, f0])
        else:
            _tile_moments_rows(X, r0, r1, f0, f1, &part_mean[c, f0], &part_m2[c, f0])

    # Features are independent in the merge, so splitting them over threads
    # keeps every feature's merge order fixed.
    for fb in prange(n_fblocks, nogil=True, schedule="static",
                     num_threads=n_merge_threads):
        f0 = fb * _FEATURE_BLOCK
        f1 = min(f0 + _FEATURE_BLOCK, n_features)
        _merge_chunks(part_mean, part_m2, n_samples, f0, f1, &mean[0], &m2[0])


# --------------------------------------------------------------------------
# Transform
# --------------------------------------------------------------------------

cdef int _affine_rows(
    const floating[:, :] X,     # IN  (n_samples, n_features)
    floating[:, :] out,         # OUT (n_samples, n_features), may alias X
    const double* shift,        # IN  [n_features]
    const double* factor,       # IN  [n_features]
    bint inverse,               # IN
    Py_ssize_t r0,              # IN  first sample
    Py_ssize_t r1,              # IN  one past the last sample
    double* chk,                # scratch [>= n_features]
) noexcept nogil:
    # Returns 1 if any output value is NaN or inf, else 0. Whole rows at a
    # time, so input and output are both streamed in address order.
    cdef Py_ssize_t i, j, n_features = X.shape[1]
    cdef floating o
    cdef const floating* xi
    cdef floating* oi
    cdef int bad = 0
    for j in range(n_features):
        chk[j] = 0.0
    for i in range(r0, r1):
        xi = &X[i, 0]
        oi = &out[i, 0]
        # o - o is 0 for a finite o and NaN otherwise: summing it per feature
        # folds the finiteness check into the vectorized loop, with no branch
        # and no second read of the output.
        if inverse:
            for j in range(n_features):
                o = <floating>(xi[j] * factor[j] + shift[j])
                oi[j] = o
                chk[j] += o - o
        else:
            for j in range(n_features):
                o = <floating>((xi[j] - shift[j]) * factor[j])
                oi[j] = o
                chk[j] += o - o
    for j in range(n_features):
        if chk[j] != 0.0:  # NaN compares unequal to 0
            bad = 1
    return bad


cdef int _affine_cols(
    const floating[:, :] Xt,  # IN  (n_features, n_samples)
    floating[:, :] out,       # OUT (n_features, n_samples), may alias Xt
    double shift,               # IN  this feature's shift
    double factor,              # IN  this feature's factor
    bint inverse,               # IN
    Py_ssize_t j,               # IN  feature
    Py_ssize_t s0,              # IN  first sample
    Py_ssize_t s1,              # IN  one past the last sample
    double* chk,                # scratch [>= SAMPLE_BLOCK]
) noexcept nogil:
    # Returns 1 if any output value is NaN or inf, else 0.
    cdef Py_ssize_t i, n = s1 - s0
    cdef const floating* x = &Xt[j, s0]
    cdef floating* oj = &out[j, s0]
    cdef floating o
    cdef int bad = 0
    if inverse:
        for i in range(n):
            o = <floating>(x[i] * factor + shift)
            oj[i] = o
            chk[i] = o - o
    else:
        for i in range(n):
            o = <floating>((x[i] - shift) * factor)
            oj[i] = o
            chk[i] = o - o
    for i in range(n):
        if chk[i] != 0.0:
            bad = 1
    return bad


def affine(
    const floating[:, :] X,   # IN  see `transposed`
    floating[:, :] out,       # OUT same shape as X; may be X itself
    bint transposed,            # IN
    const double[::1] shift,    # IN  (n_features,)
    const double[::1] factor,   # IN  (n_features,)
    bint inverse,               # IN
    int n_threads,              # IN  >= 1
):
    """Fused per-feature affine map, parallel over samples.

    ``out = (X - shift) * factor`` (``inverse`` False, the transform) or
    ``out = X * factor + shift`` (``inverse`` True), evaluated in float64 and
    rounded once to ``X``'s dtype.

    Parameters
    ----------
    X : ndarray of float32 or float64
        ``(n_samples, n_features)`` with unit stride along features, or
        ``(n_features, n_samples)`` with unit stride along samples when
        ``transposed``.
    out : ndarray, same dtype and shape as X
        Output, unit stride along the same axis as X. Passing X itself
        transforms in place (each element is read before it is written).
    transposed : bool
        Which orientation X and out are in.
    shift, factor : ndarray of shape (n_features,), float64
        The per-feature constants (mean and 1/scale for the transform, mean
        and scale for the inverse).
    inverse : bool
        Which of the two maps to apply.
    n_threads : int
        OpenMP threads, at least 1. Every element is computed independently,
        so the result does not depend on it.

    Returns
    -------
    all_finite : bool
        False if any output value is NaN or inf (a NaN or inf in X, or an
        overflow); ``out`` is then fully written but should be discarded.
    """
    cdef Py_ssize_t n_samples = X.shape[1] if transposed else X.shape[0]
    cdef Py_ssize_t n_features = X.shape[0] if transposed else X.shape[1]
    cdef Py_ssize_t n_sblocks, n_tasks, t, j, b, s0, s1
    cdef Py_ssize_t n_scratch = _SAMPLE_BLOCK if transposed else n_features
    cdef int n_bad = 0
    cdef double* chk
    if n_samples == 0 or n_features == 0:
        return True
    if transposed:
        n_sblocks = _n_blocks(n_samples, _SAMPLE_BLOCK)
        n_tasks = n_features * n_sblocks
    else:
        n_sblocks = _n_blocks(n_samples, _CHUNK_SIZE)
        n_tasks = n_sblocks
    n_threads = <int>min(<Py_ssize_t>n_threads, n_tasks)

    chk = NULL  # each thread allocates its own below
    with nogil, parallel(num_threads=n_threads):
        chk = <double*>malloc(n_scratch * sizeof(double))
        if chk == NULL:
            with gil:
                raise MemoryError("fastgrad.Normalizer: no memory for thread scratch")
        for t in prange(n_tasks, schedule="static"):
            if transposed:
                j = t // n_sblocks
                b = t - j * n_sblocks
                s0 = b * _SAMPLE_BLOCK
                s1 = min(s0 + _SAMPLE_BLOCK, n_samples)
                n_bad += _affine_cols(X, out, shift[j], factor[j], inverse,
                                      j, s0, s1, chk)
            else:
                s0 = t * _CHUNK_SIZE
                s1 = min(s0 + _CHUNK_SIZE, n_samples)
                n_bad += _affine_rows(X, out, &shift[0], &factor[0], inverse,
                                      s0, s1, chk)
        free(chk)
    return n_bad == 0


cdef int _row_nonfinite(const floating* x, Py_ssize_t n) noexcept nogil:
    # x * 0 is 0 for finite x and NaN otherwise. Four partial sums keep four
    # independent addition chains; any NaN survives to the end.
    cdef Py_ssize_t i = 0
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    while i + 4 <= n:
        a0 += x[i] * 0.0
        a1 += x[i + 1] * 0.0
        a2 += x[i + 2] * 0.0
        a3 += x[i + 3] * 0.0
        i += 4
    while i < n:
        a0 += x[i] * 0.0
        i += 1
    return (a0 + a1 + a2 + a3) != 0.0


def all_finite(
    const floating[:, :] X,   # IN  any orientation; unit stride along axis 1
    int n_threads,              # IN  >= 1
):
    """True if no element of X is NaN or inf.

    Used before an in-place transform, so bad input is refused before the
    caller's array is touched.

    Parameters
    ----------
    X : ndarray of float32 or float64, 2-D, unit stride along axis 1
    n_threads : int
        OpenMP threads, at least 1.

    Returns
    -------
    bool
    """
    cdef Py_ssize_t n_rows = X.shape[0], n_cols = X.shape[1]
    cdef Py_ssize_t i
    cdef int n_bad = 0
    if n_rows == 0 or n_cols == 0:
        return True
    n_threads = <int>min(<Py_ssize_t>n_threads, n_rows)
    for i in prange(n_rows, nogil=True, schedule="static", num_threads=n_threads):
        n_bad += _row_nonfinite(&X[i, 0], n_cols)
    return n_bad == 0
