/* Inner loops of fastgrad.normalize._normalizer_kernel, in C so that they can carry
 * `#pragma omp simd` (Cython cannot emit pragmas).
 *
 * Every loop that is vectorized here runs across *independent* elements
 * (features in a row, or samples of one feature in the transform), so the
 * vector width never changes a result: each feature's sums are still added
 * one sample at a time, in sample order. The only vectorized reduction is
 * the finiteness check, a sum of `o - o` terms (0 for finite o, NaN
 * otherwise) whose value is 0 or NaN in any order.
 *
 * Without OpenMP the pragmas are ignored and the loops stay correct.
 */
#ifndef FASTGRAD_NORMALIZER_KERNELS_H
#define FASTGRAD_NORMALIZER_KERNELS_H

#include <stddef.h>
#include <stdlib.h> /* defines __GLIBC__ on glibc */

#if defined(_OPENMP) && !defined(_MSC_VER)
#define FG_PRAGMA(x) _Pragma(#x)
#define FG_SIMD FG_PRAGMA(omp simd)
#define FG_SIMD_SUM(acc) FG_PRAGMA(omp simd reduction(+:acc))
#else
#define FG_SIMD
#define FG_SIMD_SUM(acc)
#endif

/* On x86-64 Linux with GCC, the kernels are also compiled for AVX2 and the
 * loader picks the version for the running CPU (ifunc). Without FMA in the
 * target, AVX2 runs the very same IEEE operations per element as SSE2, four
 * lanes wide instead of two: the results are bitwise the same. float32 data
 * gains most (the float64 arithmetic is conversion-bound on SSE2). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) &&         \
    defined(__linux__) && defined(__GLIBC__) && !defined(FG_NO_DISPATCH)
#define FG_DISPATCH __attribute__((target_clones("avx2", "default")))
#else
#define FG_DISPATCH
#endif

#if defined(_MSC_VER)
#define FG_RESTRICT __restrict
#else
#define FG_RESTRICT __restrict__
#endif

/* ------------------------------------------------------------------------
 * Statistics of one chunk, shifted by its first sample.
 *
 * With K the chunk's first sample of a feature and d_i = x_i - K:
 *     mean = K + S1 / n,   M2 = S2 - S1 * (S1 / n),
 * except that the mean is returned relative to a per-feature reference R
 * (the first sample of the whole array): mean - R = (K - R) + S1 / n.
 * Written as an offset from R, a chunk mean keeps its digits at any offset
 * (near 1e12 a float64 mean itself is only known to 1e-4), so the chunk
 * merge, which subtracts chunk means, does not lose them.
 * S1 = sum d_i and S2 = sum d_i^2 added in sample order, in float64. One
 * read of the data. The cancellation in M2 is bounded because K is one of
 * the samples: M2 >= (K - mean)^2, so S2 / M2 = 1 + n (mean - K)^2 / M2
 * <= 1 + n, i.e. at most log10(n + 1) digits are lost (2.4 for a chunk of
 * 256) inside a chunk, whatever the offset or the outliers (the merge of
 * chunks is where offsets used to cost digits: see the reference R above,
 * and the tests at offset/sigma = 1e12). Subtracting K first also takes
 * a large common offset out before anything is squared.
 * ---------------------------------------------------------------------- */

/* Software prefetch for the row kernel. On short rows the hardware
 * prefetchers fall behind (measured: 800-byte rows read at half the
 * bandwidth of a flat sum); on long rows they keep up and an extra prefetch
 * only costs issue slots. Prefetch the row FG_PF_BYTES ahead when a row's
 * tile is shorter than FG_PF_MAX_ROW bytes. */
#define FG_PF_BYTES 3200
#define FG_PF_MAX_ROW 1024
#if defined(__GNUC__)
#define FG_PREFETCH(p) __builtin_prefetch(p)
#else
#define FG_PREFETCH(p) ((void)0)
#endif

#define FG_DEFINE_MOMENTS(T, SUF)                                              \
/* Tile of a (n_samples, n_features) array: rows x[0], x[rs], ..., each  */    \
/* with nf contiguous features; n_rows >= 1. K is the first row itself,  */    \
/* and mean / m2 hold S1 / S2 until the end, so any nf works without     */    \
/* scratch memory.                                                       */    \
FG_DISPATCH static void fg_moments_rows_##SUF(                                 \
    const T* x, ptrdiff_t rs, ptrdiff_t n_rows, ptrdiff_t nf,                  \
    const double* FG_RESTRICT ref,                                             \
    double* FG_RESTRICT mean, double* FG_RESTRICT m2)                          \
{                                                                              \
    const double n = (double)n_rows;                                           \
    const ptrdiff_t line = 64 / (ptrdiff_t)sizeof(T);                          \
    ptrdiff_t i, k, ahead = 0;                                                 \
    if (nf * (ptrdiff_t)sizeof(T) < FG_PF_MAX_ROW) {                           \
        ptrdiff_t row_bytes = (rs < 0 ? -rs : rs) * (ptrdiff_t)sizeof(T);      \
        ahead = row_bytes > 0 ? (FG_PF_BYTES + row_bytes - 1) / row_bytes : 0; \
    }                                                                          \
    FG_SIMD                                                                    \
    for (k = 0; k < nf; k++) {                                                 \
        mean[k] = 0.0;                                                         \
        m2[k] = 0.0;                                                           \
    }                                                                          \
    /* The first row adds exact zeros: start at the second. */                 \
    for (i = 1; i < n_rows; i++) {                                             \
        const T* FG_RESTRICT a = x + i * rs;                                   \
        if (ahead && i + ahead < n_rows) {                                     \
            const T* p = a + ahead * rs;                                       \
            for (k = 0; k < nf; k += line)                                     \
                FG_PREFETCH(p + k);                                            \
        }                                                                      \
        FG_SIMD                                                                \
        for (k = 0; k < nf; k++) {                                             \
            double d = (double)a[k] - (double)x[k];                            \
            mean[k] += d;                                                      \
            m2[k] += d * d;                                                    \
        }                                                                      \
    }                                                                          \
    FG_SIMD                                                                    \
    for (k = 0; k < nf; k++) {                                                 \
        double s1 = mean[k];                                                   \
        m2[k] = m2[k] - s1 * (s1 / n);                                         \
        mean[k] = ((double)x[k] - ref[k]) + s1 / n;                            \
    }                                                                          \
}                                                                              \
                                                                               \
/* nf features of a (n_features, n_samples) array, each with n contiguous */   \
/* samples: feature j starts at x + j * fs. Same operations in the same   */   \
/* order as fg_moments_rows, so both orientations give the same bits.    */    \
FG_DISPATCH static void fg_moments_cols_##SUF(                                 \
    const T* x, ptrdiff_t fs, ptrdiff_t n_int, ptrdiff_t nf,                   \
    const double* FG_RESTRICT ref,                                             \
    double* FG_RESTRICT mean, double* FG_RESTRICT m2)                          \
{                                                                              \
    const double n = (double)n_int;                                            \
    ptrdiff_t i, j = 0;                                                        \
    /* One feature's sums are dependent chains of additions; four features */  \
    /* interleaved give eight independent chains.                          */  \
    for (; j + 4 <= nf; j += 4) {                                              \
        const T* x0 = x + j * fs;                                              \
        const T* x1 = x0 + fs;                                                 \
        const T* x2 = x1 + fs;                                                 \
        const T* x3 = x2 + fs;                                                 \
        double k0 = x0[0], k1 = x1[0], k2 = x2[0], k3 = x3[0];                 \
        double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;                         \
        double q0 = 0.0, q1 = 0.0, q2 = 0.0, q3 = 0.0, d0, d1, d2, d3;         \
        for (i = 1; i < n_int; i++) {                                          \
            d0 = (double)x0[i] - k0; a0 += d0; q0 += d0 * d0;                  \
            d1 = (double)x1[i] - k1; a1 += d1; q1 += d1 * d1;                  \
            d2 = (double)x2[i] - k2; a2 += d2; q2 += d2 * d2;                  \
            d3 = (double)x3[i] - k3; a3 += d3; q3 += d3 * d3;                  \
        }                                                                      \
        mean[j] = (k0 - ref[j]) + a0 / n;                                      \
        m2[j] = q0 - a0 * (a0 / n);                                            \
        mean[j + 1] = (k1 - ref[j + 1]) + a1 / n;                              \
        m2[j + 1] = q1 - a1 * (a1 / n);                                        \
        mean[j + 2] = (k2 - ref[j + 2]) + a2 / n;                              \
        m2[j + 2] = q2 - a2 * (a2 / n);                                        \
        mean[j + 3] = (k3 - ref[j + 3]) + a3 / n;                              \
        m2[j + 3] = q3 - a3 * (a3 / n);                                        \
    }                                                                          \
    for (; j < nf; j++) {                                                      \
        const T* x0 = x + j * fs;                                              \
        double k0 = x0[0], a0 = 0.0, q0 = 0.0, d0;                             \
        for (i = 1; i < n_int; i++) {                                          \
            d0 = (double)x0[i] - k0; a0 += d0; q0 += d0 * d0;                  \
        }                                                                      \
        mean[j] = (k0 - ref[j]) + a0 / n;                                      \
        m2[j] = q0 - a0 * (a0 / n);                                            \
    }                                                                          \
}

/* ------------------------------------------------------------------------
 * Fused affine map, evaluated in float64 and rounded once to T:
 *     inverse == 0:  o = (x - shift) * factor
 *     inverse != 0:  o = x * factor + shift
 * Returns nonzero if any output is NaN or inf. `out` may equal `x` (each
 * element is read before it is written), never partially overlap it.
 * ---------------------------------------------------------------------- */

#define FG_DEFINE_AFFINE(T, SUF)                                               \
/* Rows [0, n_rows) of a (n_samples, n_features) array; xs / os are the  */    \
/* row strides (elements) of x / out. Per-feature shift and factor.      */    \
FG_DISPATCH static int fg_affine_rows_##SUF(                                   \
    const T* x, ptrdiff_t xs, T* out, ptrdiff_t os,                            \
    ptrdiff_t n_rows, ptrdiff_t nf,                                            \
    const double* FG_RESTRICT shift, const double* FG_RESTRICT factor,         \
    int inverse)                                                               \
{                                                                              \
    T chk = 0;                                                                 \
    ptrdiff_t i, j;                                                            \
    for (i = 0; i < n_rows; i++) {                                             \
        const T* xi = x + i * xs;                                              \
        T* oi = out + i * os;                                                  \
        if (inverse) {                                                         \
            FG_SIMD_SUM(chk)                                                   \
            for (j = 0; j < nf; j++) {                                         \
                T o = (T)((double)xi[j] * factor[j] + shift[j]);               \
                oi[j] = o;                                                     \
                chk += o - o;                                                  \
            }                                                                  \
        } else {                                                               \
            FG_SIMD_SUM(chk)                                                   \
            for (j = 0; j < nf; j++) {                                         \
                T o = (T)(((double)xi[j] - shift[j]) * factor[j]);             \
                oi[j] = o;                                                     \
                chk += o - o;                                                  \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    return chk != 0; /* NaN compares unequal to 0 */                           \
}                                                                              \
                                                                               \
/* n contiguous samples of one feature. */                                     \
FG_DISPATCH static int fg_affine_feature_##SUF(                                \
    const T* x, T* out, ptrdiff_t n, double shift, double factor, int inverse) \
{                                                                              \
    T chk = 0;                                                                 \
    ptrdiff_t i;                                                               \
    if (inverse) {                                                             \
        FG_SIMD_SUM(chk)                                                       \
        for (i = 0; i < n; i++) {                                              \
            T o = (T)((double)x[i] * factor + shift);                          \
            out[i] = o;                                                        \
            chk += o - o;                                                      \
        }                                                                      \
    } else {                                                                   \
        FG_SIMD_SUM(chk)                                                       \
        for (i = 0; i < n; i++) {                                              \
            T o = (T)(((double)x[i] - shift) * factor);                        \
            out[i] = o;                                                        \
            chk += o - o;                                                      \
        }                                                                      \
    }                                                                          \
    return chk != 0;                                                           \
}

/* ------------------------------------------------------------------------
 * Per-feature minimum and maximum, NaN skipped: `v < lo ? v : lo` is false
 * for a NaN v (and maps to minpd/maxpd, which have exactly that rule). Used
 * to check an in-place transform before anything is written: the affine map
 * is monotonic per feature, so its extremes decide overflow. Min and max are
 * exact, so any split over threads gives the same bits.
 * ---------------------------------------------------------------------- */

#define FG_DEFINE_MINMAX(T, SUF)                                               \
/* Rows [0, n_rows) of a (n_samples, n_features) array, row stride rs;   */    \
/* lo / hi hold running values for the nf features (updated in place).   */    \
FG_DISPATCH static void fg_minmax_rows_##SUF(                                  \
    const T* x, ptrdiff_t rs, ptrdiff_t n_rows, ptrdiff_t nf,                  \
    double* FG_RESTRICT lo, double* FG_RESTRICT hi)                            \
{                                                                              \
    ptrdiff_t i, k;                                                            \
    for (i = 0; i < n_rows; i++) {                                             \
        const T* FG_RESTRICT a = x + i * rs;                                   \
        FG_SIMD                                                                \
        for (k = 0; k < nf; k++) {                                             \
            double v = (double)a[k];                                           \
            lo[k] = v < lo[k] ? v : lo[k];                                     \
            hi[k] = v > hi[k] ? v : hi[k];                                     \
        }                                                                      \
    }                                                                          \
}                                                                              \
                                                                               \
/* n contiguous samples of one feature. */                                     \
FG_DISPATCH static void fg_minmax_feature_##SUF(                               \
    const T* x, ptrdiff_t n, double* lo_out, double* hi_out)                   \
{                                                                              \
    double lo[4], hi[4];                                                       \
    ptrdiff_t i, l;                                                            \
    for (l = 0; l < 4; l++) { lo[l] = *lo_out; hi[l] = *hi_out; }              \
    for (i = 0; i + 4 <= n; i += 4) {                                          \
        for (l = 0; l < 4; l++) {                                              \
            double v = (double)x[i + l];                                       \
            lo[l] = v < lo[l] ? v : lo[l];                                     \
            hi[l] = v > hi[l] ? v : hi[l];                                     \
        }                                                                      \
    }                                                                          \
    for (; i < n; i++) {                                                       \
        double v = (double)x[i];                                               \
        lo[0] = v < lo[0] ? v : lo[0];                                         \
        hi[0] = v > hi[0] ? v : hi[0];                                         \
    }                                                                          \
    for (l = 1; l < 4; l++) {                                                  \
        lo[0] = lo[l] < lo[0] ? lo[l] : lo[0];                                 \
        hi[0] = hi[l] > hi[0] ? hi[l] : hi[0];                                 \
    }                                                                          \
    *lo_out = lo[0];                                                           \
    *hi_out = hi[0];                                                           \
}

FG_DEFINE_MOMENTS(double, d)
FG_DEFINE_MOMENTS(float, f)
FG_DEFINE_AFFINE(double, d)
FG_DEFINE_AFFINE(float, f)
FG_DEFINE_MINMAX(double, d)
FG_DEFINE_MINMAX(float, f)

#endif /* FASTGRAD_NORMALIZER_KERNELS_H */
