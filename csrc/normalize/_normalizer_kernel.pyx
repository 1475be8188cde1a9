"""Compiled kernels behind :class:`fastgrad.Normalizer`.

Three kernels (and a finiteness check), all parallel over fixed tiles so
every thread count gives the same bits:

``moments``
    Per-feature mean and sum of squared deviations (M2) in one pass over the
    data. The samples are cut into chunks of ``CHUNK_SIZE``; each chunk's
    sums of ``x - K`` and ``(x - K)**2``, with ``K`` the chunk's first sample,
    give its mean and M2 in a single read (cancellation bounded by a factor
    ``CHUNK_SIZE + 1``, see ``_normalizer_kernel.h``), written to its own
    partial slot; the partials are merged serially, in chunk order, with
    Chan's update. Chunk means are carried as offsets from the array's first
    sample, so the merge keeps their digits at any offset. Every accumulator
    is float64, also for float32 data.
``affine``
    The fused elementwise map ``(x - shift) * factor`` (transform) or
    ``x * factor + shift`` (inverse), computed in float64, written to a new
    array or in place, with a finiteness check folded into the same pass.
``minmax``
    Per-feature minimum and maximum (NaN skipped), which decide before an
    in-place transform writes anything whether it would meet infinity or
    overflow (the map is monotonic per feature).

The inner loops are C (``_normalizer_kernel.h``): ``omp simd`` across
independent elements only, and an AVX2 clone picked at load time on x86-64
Linux (same bits as the SSE2 one).

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
from cython.parallel cimport prange

import numpy as np

# Samples per statistics chunk: the unit of determinism. Chunk boundaries
# depend only on the sample index, never on the thread count, and each chunk's
# per-feature sums run in sample order in both orientations, so C, Fortran and
# the course layout all produce the same partials.
cdef enum:
    _CHUNK_SIZE = 256
CHUNK_SIZE = _CHUNK_SIZE

# Features per statistics tile in the feature-rows orientation (four features
# at a time stream through it), and per merge task in both. In the sample-rows
# orientation a tile is a chunk of whole rows: one pass over contiguous memory.
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

cdef extern from "_normalizer_kernel.h" nogil:
    # Statistics of one chunk (see the header for the algorithm and its
    # error bound) and the fused affine map; both vectorized across
    # independent elements only.
    void fg_moments_rows_d(const double* x, Py_ssize_t rs, Py_ssize_t n_rows,
                           Py_ssize_t nf, const double* ref, double* mean, double* m2)
    void fg_moments_rows_f(const float* x, Py_ssize_t rs, Py_ssize_t n_rows,
                           Py_ssize_t nf, const double* ref, double* mean, double* m2)
    void fg_moments_cols_d(const double* x, Py_ssize_t fs, Py_ssize_t n,
                           Py_ssize_t nf, const double* ref, double* mean, double* m2)
    void fg_moments_cols_f(const float* x, Py_ssize_t fs, Py_ssize_t n,
                           Py_ssize_t nf, const double* ref, double* mean, double* m2)
    int fg_affine_rows_d(const double* x, Py_ssize_t xs, double* out, Py_ssize_t os,
                         Py_ssize_t n_rows, Py_ssize_t nf, const double* shift,
                         const double* factor, int inverse)
    int fg_affine_rows_f(const float* x, Py_ssize_t xs, float* out, Py_ssize_t os,
                         Py_ssize_t n_rows, Py_ssize_t nf, const double* shift,
                         const double* factor, int inverse)
    int fg_affine_feature_d(const double* x, double* out, Py_ssize_t n,
                            double shift, double factor, int inverse)
    int fg_affine_feature_f(const float* x, float* out, Py_ssize_t n,
                            double shift, double factor, int inverse)
    void fg_minmax_rows_d(const double* x, Py_ssize_t rs, Py_ssize_t n_rows,
                          Py_ssize_t nf, double* lo, double* hi)
    void fg_minmax_rows_f(const float* x, Py_ssize_t rs, Py_ssize_t n_rows,
                          Py_ssize_t nf, double* lo, double* hi)
    void fg_minmax_feature_d(const double* x, Py_ssize_t n, double* lo, double* hi)
    void fg_minmax_feature_f(const float* x, Py_ssize_t n, double* lo, double* hi)


cdef void _tile_moments(
    const floating[:, :] X,     # IN  see `transposed`
    bint transposed,            # IN
    Py_ssize_t r0,              # IN  first sample of the chunk
    Py_ssize_t r1,              # IN  one past the last sample
    Py_ssize_t f0,              # IN  first feature of the tile
    Py_ssize_t f1,              # IN  one past the last feature
    const double* ref,          # IN  [f1 - f0] per-feature reference values
    double* mean,               # OUT [f1 - f0] chunk means minus ref
    double* m2,                 # OUT [f1 - f0] chunk sums of squared deviations
) noexcept nogil:
    # Both orientations run the same operations in the same order per
    # feature (shift by the chunk's first sample, then sample order), so C,
    # Fortran and the course layout give the same partials.
    cdef Py_ssize_t stride = X.strides[0] // <Py_ssize_t>sizeof(floating)
    if transposed:
        if floating is double:
            fg_moments_cols_d(&X[f0, r0], stride, r1 - r0, f1 - f0, ref, mean, m2)
        else:
            fg_moments_cols_f(&X[f0, r0], stride, r1 - r0, f1 - f0, ref, mean, m2)
    else:
        if floating is double:
            fg_moments_rows_d(&X[r0, f0], stride, r1 - r0, f1 - f0, ref, mean, m2)
        else:
            fg_moments_rows_f(&X[r0, f0], stride, r1 - r0, f1 - f0, ref, mean, m2)


cdef void _merge_chunks(
    const double[:, ::1] part_mean,  # IN  (n_chunks, n_features)
    const double[:, ::1] part_m2,    # IN  (n_chunks, n_features)
    Py_ssize_t n_samples,            # IN
    Py_ssize_t f0,                   # IN  first feature to merge
    Py_ssize_t f1,                   # IN  one past the last
    double* mean,                    # OUT [n_features] mean minus ref (indexed from 0)
    double* m2,                      # OUT [n_features]
) noexcept nogil:
    # Chan, Golub & LeVeque's pairwise update, applied chunk by chunk in chunk
    # order, whatever thread computed each chunk. The means are offsets from
    # one reference per feature (the array's first sample), so `delta` keeps
    # its digits at any offset: with plain means near 1e12, each mean is only
    # known to 1e-4 and delta, of order sigma / 16, lost them (4.9e-6 relative
    # variance error at offset/sigma = 1e12, 1e5 rows).
    #
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
    double[::1] ref,            # OUT (n_features,)
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
    ref : ndarray of shape (n_features,), float64
        Output: the first sample of each feature, the reference the mean is
        given relative to.
    mean : ndarray of shape (n_features,), float64
        Output: the mean of each feature minus ``ref``. The mean itself is
        ``ref + mean``; keeping the two apart keeps the mean's low digits at
        large offsets, for the chunk merge here and for ``partial_fit``.
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
    cdef Py_ssize_t fblock = _FEATURE_BLOCK if transposed else n_features
    cdef Py_ssize_t n_fblocks = _n_blocks(n_features, fblock)
    cdef Py_ssize_t n_tasks = n_chunks * n_fblocks
    cdef Py_ssize_t n_mblocks = _n_blocks(n_features, _FEATURE_BLOCK)
    cdef Py_ssize_t t, c, fb, r0, r1, f0, f1
    cdef int n_merge_threads
    if n_samples == 0 or n_features == 0:
        return
    # One partial slot per chunk: a thread writes only the slots of the
    # chunks it owns, so the partials do not depend on who computed them.
    cdef double[:, ::1] part_mean = np.empty((n_chunks, n_features), dtype=np.float64)
    cdef double[:, ::1] part_m2 = np.empty((n_chunks, n_features), dtype=np.float64)
    for f0 in range(n_features):
        ref[f0] = X[f0, 0] if transposed else X[0, f0]
    n_threads = <int>min(<Py_ssize_t>n_threads, n_tasks)
    n_merge_threads = <int>min(<Py_ssize_t>n_threads, n_mblocks)

    for t in prange(n_tasks, nogil=True, schedule="static", num_threads=n_threads):
        c = t // n_fblocks
        fb = t - c * n_fblocks
        r0 = c * _CHUNK_SIZE
        r1 = min(r0 + _CHUNK_SIZE, n_samples)
        f0 = fb * fblock
        f1 = min(f0 + fblock, n_features)
        _tile_moments(X, transposed, r0, r1, f0, f1, &ref[f0], &part_mean[c, f0],
                      &part_m2[c, f0])

    # Features are independent in the merge, so splitting them over threads
    # keeps every feature's merge order fixed.
    for fb in prange(n_mblocks, nogil=True, schedule="static",
                     num_threads=n_merge_threads):
        f0 = fb * _FEATURE_BLOCK
        f1 = min(f0 + _FEATURE_BLOCK, n_features)
        _merge_chunks(part_mean, part_m2, n_samples, f0, f1, &mean[0], &m2[0])


def block_moments(
    const floating[:, :] X,      # IN  see `moments`
    bint transposed,             # IN
    double[:, ::1] part_ref,     # OUT (n_blocks, n_features) first sample of each block
    double[:, ::1] part_mean,    # OUT (n_blocks, n_features) block mean minus part_ref
    double[:, ::1] part_m2,      # OUT (n_blocks, n_features)
    int n_threads,               # IN  >= 1
):
    """Per-block moments of consecutive blocks of ``CHUNK_SIZE`` samples.

    Block ``c`` covers samples ``c * CHUNK_SIZE`` to ``(c + 1) * CHUNK_SIZE``
    (the last one may be shorter). Each block's statistics are relative to
    its own first sample, so they depend only on the block's samples: the
    same bits whatever array, chunk or batch the block was cut from, and for
    any thread count (one slot per block). ``fastgrad.normalize.tree`` merges
    them by a canonical tree.
    """
    cdef Py_ssize_t n_samples = X.shape[1] if transposed else X.shape[0]
    cdef Py_ssize_t n_features = X.shape[0] if transposed else X.shape[1]
    cdef Py_ssize_t n_chunks = _n_blocks(n_samples, _CHUNK_SIZE)
    cdef Py_ssize_t fblock = _FEATURE_BLOCK if transposed else n_features
    cdef Py_ssize_t n_fblocks = _n_blocks(n_features, fblock)
    cdef Py_ssize_t n_tasks = n_chunks * n_fblocks
    cdef Py_ssize_t t, c, fb, r0, r1, f0, f1, j
    if n_samples == 0 or n_features == 0:
        return
    n_threads = <int>min(<Py_ssize_t>n_threads, n_tasks)
    for t in prange(n_tasks, nogil=True, schedule="static", num_threads=n_threads):
        c = t // n_fblocks
        fb = t - c * n_fblocks
        r0 = c * _CHUNK_SIZE
        r1 = min(r0 + _CHUNK_SIZE, n_samples)
        f0 = fb * fblock
        f1 = min(f0 + fblock, n_features)
        for j in range(f0, f1):
            if transposed:
                part_ref[c, j] = X[j, r0]
            else:
                part_ref[c, j] = X[r0, j]
        _tile_moments(X, transposed, r0, r1, f0, f1, &part_ref[c, f0], &part_mean[c, f0],
                      &part_m2[c, f0])


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
) noexcept nogil:
    # Returns 1 if any output value is NaN or inf, else 0. Whole rows at a
    # time, so input and output are both streamed in address order.
    cdef Py_ssize_t xs = X.strides[0] // <Py_ssize_t>sizeof(floating)
    cdef Py_ssize_t os = out.strides[0] // <Py_ssize_t>sizeof(floating)
    if floating is double:
        return fg_affine_rows_d(&X[r0, 0], xs, &out[r0, 0], os, r1 - r0, X.shape[1],
                                shift, factor, inverse)
    else:
        return fg_affine_rows_f(&X[r0, 0], xs, &out[r0, 0], os, r1 - r0, X.shape[1],
                                shift, factor, inverse)


cdef int _affine_cols(
    const floating[:, :] Xt,  # IN  (n_features, n_samples)
    floating[:, :] out,       # OUT (n_features, n_samples), may alias Xt
    double shift,               # IN  this feature's shift
    double factor,              # IN  this feature's factor
    bint inverse,               # IN
    Py_ssize_t j,               # IN  feature
    Py_ssize_t s0,              # IN  first sample
    Py_ssize_t s1,              # IN  one past the last sample
) noexcept nogil:
    # Returns 1 if any output value is NaN or inf, else 0.
    if floating is double:
        return fg_affine_feature_d(&Xt[j, s0], &out[j, s0], s1 - s0, shift, factor,
                                   inverse)
    else:
        return fg_affine_feature_f(&Xt[j, s0], &out[j, s0], s1 - s0, shift, factor,
                                   inverse)


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
    cdef int n_bad = 0
    if n_samples == 0 or n_features == 0:
        return True
    if transposed:
        n_sblocks = _n_blocks(n_samples, _SAMPLE_BLOCK)
        n_tasks = n_features * n_sblocks
    else:
        n_sblocks = _n_blocks(n_samples, _CHUNK_SIZE)
        n_tasks = n_sblocks
    n_threads = <int>min(<Py_ssize_t>n_threads, n_tasks)

    for t in prange(n_tasks, nogil=True, schedule="static", num_threads=n_threads):
        if transposed:
            j = t // n_sblocks
            b = t - j * n_sblocks
            s0 = b * _SAMPLE_BLOCK
            s1 = min(s0 + _SAMPLE_BLOCK, n_samples)
            n_bad += _affine_cols(X, out, shift[j], factor[j], inverse, j, s0, s1)
        else:
            s0 = t * _CHUNK_SIZE
            s1 = min(s0 + _CHUNK_SIZE, n_samples)
            n_bad += _affine_rows(X, out, &shift[0], &factor[0], inverse, s0, s1)
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


def minmax(
    const floating[:, :] X,   # IN  see `transposed`
    bint transposed,            # IN
    double[::1] lo,             # OUT (n_features,)
    double[::1] hi,             # OUT (n_features,)
    int n_threads,              # IN  >= 1
):
    """Per-feature minimum and maximum, NaN skipped, in one read of X.

    Checks an in-place transform before it writes: the map is monotonic per
    feature, so the images of ``lo`` and ``hi`` tell whether any value would
    overflow, and an infinite ``lo``/``hi`` means X holds infinity.

    Parameters
    ----------
    X : ndarray of float32 or float64
        ``(n_samples, n_features)`` with unit stride along features, or
        ``(n_features, n_samples)`` with unit stride along samples when
        ``transposed``.
    transposed : bool
    lo, hi : ndarray of shape (n_features,), float64
        Output; NaN for a feature whose values are all NaN.
    n_threads : int
        OpenMP threads, at least 1; the result is exact, so it does not
        depend on it.
    """
    cdef Py_ssize_t n_samples = X.shape[1] if transposed else X.shape[0]
    cdef Py_ssize_t n_features = X.shape[0] if transposed else X.shape[1]
    cdef Py_ssize_t n_chunks, t, c, j, r0, r1, stride
    cdef double inf = float("inf")
    lo[:] = inf
    hi[:] = -inf
    if n_samples == 0 or n_features == 0:
        return
    cdef double[:, ::1] part_lo
    cdef double[:, ::1] part_hi
    if transposed:
        n_threads = <int>min(<Py_ssize_t>n_threads, n_features)
        for j in prange(n_features, nogil=True, schedule="static", num_threads=n_threads):
            if floating is double:
                fg_minmax_feature_d(&X[j, 0], n_samples, &lo[j], &hi[j])
            else:
                fg_minmax_feature_f(&X[j, 0], n_samples, &lo[j], &hi[j])
    else:
        # One partial slot per chunk of rows, combined serially (min and max
        # are exact, so the split never shows in the result).
        n_chunks = _n_blocks(n_samples, _SAMPLE_BLOCK)
        part_lo = np.full((n_chunks, n_features), inf)
        part_hi = np.full((n_chunks, n_features), -inf)
        stride = X.strides[0] // <Py_ssize_t>sizeof(floating)
        n_threads = <int>min(<Py_ssize_t>n_threads, n_chunks)
        for c in prange(n_chunks, nogil=True, schedule="static", num_threads=n_threads):
            r0 = c * _SAMPLE_BLOCK
            r1 = min(r0 + _SAMPLE_BLOCK, n_samples)
            if floating is double:
                fg_minmax_rows_d(&X[r0, 0], stride, r1 - r0, n_features,
                                 &part_lo[c, 0], &part_hi[c, 0])
            else:
                fg_minmax_rows_f(&X[r0, 0], stride, r1 - r0, n_features,
                                 &part_lo[c, 0], &part_hi[c, 0])
        for c in range(n_chunks):
            for j in range(n_features):
                if part_lo[c, j] < lo[j]:
                    lo[j] = part_lo[c, j]
                if part_hi[c, j] > hi[j]:
                    hi[j] = part_hi[c, j]
    for j in range(n_features):
        if lo[j] > hi[j]:  # only NaN seen
            lo[j] = float("nan")
            hi[j] = float("nan")
