"""The compiled two-sided gradient check of a dense network (fastgrad.MLP).

For every requested coordinate θ_p (a weight W[l][j,k] or a bias b[l][j]) the
kernel computes

    (J(θ + ε e_p) − J(θ − ε e_p)) / 2ε

incrementally and without cancellation:

* Only row j of Z[l] moves: ΔZ[l][j,:] = ±ε·A[l−1][k,:] (or ±ε for a bias).
  Everything before layer l is the unperturbed forward pass, computed once by
  the caller and shared read-only by all threads.
* The change of each activation is formed directly from exact identities,
  never as g(z + d) − g(z) of two rounded values:
      relu        d (both sides active), 0 (both off)
      tanh        tanh(z+d) − tanh(z) = tanh(d)·sech²(z) / (1 + tanh(z)·tanh(d))
      sigmoid     σ(z+d) − σ(z) = σ(z)σ(−z)·expm1(d) / (1 + σ(z)·expm1(d))
  with sech²(z) and σ(z)σ(−z) computed once per unit and example by the
  caller, and tanh(d), expm1(d) by short Taylor polynomials when |d| < 1e-3
  (truncation below 1e-17 relative; ε-sized deltas always are), so a
  tanh/sigmoid delta costs one division instead of two or three libm calls.
  The loss differences below use the same expm1 and a log1p polynomial for
  |x| < 1e-4 (next term x⁵/5, below 2e-17 relative).
* The changed row of A[l] moves Z[l+1] by the rank-1 term W[l+1][:,j] ⊗ ΔA[l][j,S]
  where S are the examples whose activation changed; later layers propagate
  the deltas with one GEMM each, over the rows (units) whose activation
  changed only.
* At the output only the changed loss terms are evaluated, again as exact
  differences:
      sigmoid+BCE  ℓ(z+d) − ℓ(z) = log1p(σ(z)·expm1(d)) − y·d
      softmax+CE   Δℓ = (Σy)·log1p(Σ_c p_c·expm1(d_c)) − Σ_c y_c·d_c
      linear+MSE   Δℓ = Σ_c d_c·((z_c − y_c) + d_c/2)
  and J(θ+) − J(θ−) = Σ_i (Δℓ_i⁺ − Δℓ_i⁻)/m + the L2 term, whose exact
  difference λ/(2m)·((w+ε)² − (w−ε)²) = 2λwε/m needs no arithmetic on J.
  Unchanged terms never enter the sum, so the rounding noise of the full
  cost is absent from the difference.

Batch norm on hidden layer l (Z = γ·(U − μ)/σ + β, U = W·A, batch μ and σ²):
a change ΔU of row j moves μ_j and σ_j, so the row's output changes on every
example; it is formed without cancellation as
      Δc = ΔU − mean(ΔU),  Δσ² = (2·Σ c·Δc + Σ Δc²)/m,  σ' = sqrt(σ² + Δσ²)
      ΔZ = γ·(Δc/σ' − c·Δσ²/(σ·σ'·(σ + σ')))          with c = U − μ,
where every term is itself O(ε). A γ coordinate moves the row by ±ε·Zn, a β
coordinate by ±ε. Below a batch-normalized layer every example is carried
(the batch statistics tie them together) and the exact linear maps and the
jets are not used (but see the batch-normalized tail below).

Large steps: when |d| > LARGE_DELTA (= 1; an ε·activation that large, e.g.
raw timestamps as features) expm1(d) can overflow and log1p(σ·expm1(d)) can
reach log1p(−1); those deltas switch to forms built from tails that cannot:
      σ(z+d) − σ(z)     a difference of the two small tails, σ(−z) − σ(−z−d)
                        for z ≥ 0 (tanh through tanh x = 2σ(2x) − 1)
      sigmoid+BCE       softplus(z+d) − softplus(z) − y·d with
                        softplus(x) = max(x, 0) + log1p(e^−|x|), max parts exact
      softmax+CE        (Σy)·(LSE(z+d) − LSE(z)) − Σ y·d from the output
                        pre-activations, shifted so no exponential overflows
For |d| ≤ 1 the expm1/log1p forms above are exact to rounding and are kept.

Dropout with frozen masks: a hidden unit's activation delta is multiplied
by its mask/keep_prob (0 for a dropped unit, which then changes nothing).

A coordinate whose perturbation moves a relu / leaky-relu pre-activation
across 0 (or off exactly 0) is flagged as a kink: the finite difference
there is not the derivative.

Taylor jets (_jets.pxi) of a smooth downstream network: when every hidden
layer after row j's layer t+1 is tanh, sigmoid or linear and none is batch
normalized, the change of example i's loss is an analytic function ψ_{j,i}(a)
of the change a of A[t+1][j, i] alone. One pass of truncated Taylor
arithmetic of order K per unit (K·m columns through each later layer: one
GEMM per layer, the tanh/sigmoid recurrences n·y_n = Σ k·z_k·w_{n−k} with
w = 1 − y² or y − y², the loss through softplus, log-sum-exp or the square)
gives c_1..c_K[j, i], shared by the n_t + 1 coordinates of the unit. Then
      ψ(a⁺) − ψ(a⁻) = (a⁺ − a⁻)·Σ_n c_n·Σ_{k<n} a⁺^k·a⁻^(n−1−k)
(all orders: a⁻ ≠ −a⁺ in general), with a± the exact activation changes of
row j above: still the two-sided difference at ε, never J(θ+) − J(θ−) of
two totals, O(m·K) per coordinate.
  Remainder and fallback: G[j, i] = max_{2≤n≤K} (|c_n|/C)^(1/(n−1)), C the
example's |c_1| floored at the unit's mean |c_1|, estimates the growth of
the coefficients (≈ 1/radius). If the coefficients beyond K keep that growth
with a factor 2 of margin (|c_n| ≤ C·(2G)^(n−1)), the neglected tail of an
example is ≤ C·|a|·q^K/(1 − q) with q = 2·G·max(|a⁺|, |a⁻|); the series is
used for an example only when q ≤ qmax = min(1/2, 2^(−56/K)), i.e. a tail
≤ 2^−55·C·|a|, below the rounding of the example's first term. Any other
example is propagated exactly as below (bits independent of the others).
The plan (fastgrad/gradcheck/jets.py) picks K ≥ 3 from ε·max|A| and builds
jets only for layers with at least K coordinates per unit.

Batch norm on the last hidden layer below row j (_bn_tail.pxi): row r moves
by the rank-1 change w_r·d (d = ΔA[t+1][j, :]), so its BN output change is
α_r·(d − mean d) + β_r·(U_r − μ_r) with α_r, β_r from ⟨U_r − μ_r, d − mean d⟩
and ‖d − mean d‖² (the formula above, every term O(ε)); with a piecewise-
linear activation and no kink within reach (checked per row with a margin
of 2) the output moves by two more GEMVs: three 2-column GEMMs per coordinate
instead of a propagation. Otherwise the coordinate is propagated exactly.

The exact linear maps (_maps.pxi) are built here too, in parallel, with the
arithmetic (and NumPy's matmul dispatch) of fastgrad/gradcheck/linear_maps.py
(the same bits wherever SciPy's BLAS rounds a GEMM as NumPy's does).

Each coordinate writes only its own output slot, and its arithmetic does not
depend on which thread runs it, so every thread count gives the same bits.
"""
from cython.parallel cimport parallel, prange, threadid
from libc.math cimport INFINITY, exp, expm1, fabs, log, log1p, sqrt, tanh
from libc.stdlib cimport calloc, free, malloc
from scipy.linalg.cython_blas cimport ddot, dgemm, dgemv

import os
import threading

import numpy as np

from fastgrad.nn._codes import Activation as _ACTIVATION_CODES, Output as _OUTPUT_CODES

# Activation and output codes (ACT_*, OUT_*): the one source, shared with the
# registry in fastgrad/nn/ through fastgrad.nn._codes.
include "nn/codes.pxi"

# The smallest run of coordinates handed to a thread at a time: small
# enough to balance the very unequal cost of first-layer and last-layer
# coordinates at the end of a run, and large enough that two threads never
# write the same cache line of the outputs (the one-byte kink flags of 8
# coordinates shared a line: 64 of them fill one). Runs start longer, at
# 1/TASK_SPLIT of what is left per thread (see _tasks): a thread takes its
# next run from a counter shared by all, and taking it every 64
# coordinates cost ~2% of a small check's run on two threads.
cdef enum:
    CHUNK_SIZE = 64
    TASK_SPLIT = 4

# Examples per first-update GEMM of the linear maps (_maps.pxi; MAP_CHUNK in
# fastgrad/gradcheck/linear_maps.py): fixed, so the bits do not depend on threads.
cdef enum:
    MAP_CHUNK = 16

# |d| above which deltas use the overflow-free forms (LARGE_DELTA in the
# module docstring; _LARGE_DELTA in fastgrad/gradcheck.py). An enum, so the
# C compiler sees a constant in the hot loops (a module-level double would be
# reloaded after every store).
cdef enum:
    LARGE_DELTA = 1


cdef struct Net:
    int L                     # number of weight layers
    Py_ssize_t m              # examples
    Py_ssize_t *dims          # (L+1,) units per layer, dims[0] = n_x
    int *act                  # (L,) act[t] for layer t+1; act[L-1] is the output code
    double leaky
    double l2
    double eps
    const double **W          # (L,) W[t+1], each (dims[t+1], dims[t])
    const double **gamma      # (L,) γ[t+1] of a batch-normalized layer t+1, (dims[t+1],), or NULL
    Py_ssize_t *wofs          # (L,) offset of W[t+1] in θ (coordinates are numbered in θ)
    Py_ssize_t *bofs          # (L,) offset of b[t+1] in θ (of gamma[t+1], then beta, if bn)
    int *bn                   # (L,) 1 where layer t+1 is batch normalized
    const double **ucen       # (L,) U − μ of a batch-normalized layer t+1, (dims[t+1], m)
    const double **zn         # (L,) its normalized Zn, (dims[t+1], m)
    const double **sd         # (L,) its sqrt(σ² + ε), (dims[t+1],)
    const double **Z          # (L,) Z[t+1], each (dims[t+1], m)
    const double **A          # (L,) A[t], each (dims[t], m); A[0] = X; after dropout
    const double **G          # (L,) G[t+1] hidden activations before dropout, or unused
    const double **dG         # (L,) g'(Z[t+1]) of tanh (sech²) and sigmoid (σ(z)σ(−z)) layers
    const double **scale      # (L,) dropout mask/keep_prob of hidden layer t+1, or NULL
    const double *out         # (dims[L], m) output activation: σ(Z) or softmax(Z)
    const double *y           # (dims[L], m)
    const double *ysum        # (m,) Σ_c y[c, i]
    const double **sens       # (L,) per hidden layer t: (dims[t+1], m, dims[L]) output
                              #      sensitivity ∂Z[L]/∂A[t+1][j, i], or NULL
    const double **radius     # (L,) per hidden layer t: (dims[t+1], m) largest safe |ΔA|
    int *jet_order            # (L,) K of the Taylor jets of hidden layer t (0: none)
    int *jet_mode             # (L,) 1: Z-jets (in the pre-activation change), 0: A-jets
    double *jet_qmax          # (L,) largest accepted q = 2·G·|a| (see _jets.pxi)
    const double **jet        # (L,) per hidden layer t: (dims[t+1], m, K) coefficients of ψ, or NULL
    const double **jet_grow   # (L,) per hidden layer t: (dims[t+1], m) their growth G
    const double *tail_s      # batch-normalized last hidden layer (_bn_tail.pxi), or NULL:
                              #   (n, m) slope × dropout scale of its activation
    const double *tail_sc     #   (n, m) the same times U − μ
    const double *tail_zinv   #   (n,) 1 / min_i |Z_ri|
    const double *tail_cz     #   (n,) max_i |c_ri| / |Z_ri|


cdef struct Scratch:
    double *dz                # (2m,) pre-activation deltas of the perturbed row: + then −
    double *da                # (2m,) activation deltas of the perturbed row: + then −
    Py_ssize_t *S             # (m,) examples whose activation changed
    double *D                 # (nd, 2m) pre-activation deltas of one layer
    double *dA                # (nd, 2m) activation deltas, changed rows only
    double *Wg                # (nwg,) gathered columns of the next W
    Py_ssize_t *R             # (nd,) rows (units) whose activation changed
    double *bt                # (6m + 10·nd,) the batch-normalized tail's vectors
    # nd = widest layer after the first (only layers 2..L are ever held
    # whole), nwg = largest dims[l]·dims[l+1] for l ≥ 2 (the W gathered by a
    # propagation from layer l); see _scratch_sizes.


cdef inline double _tanh_small(double d) noexcept nogil:
    """tanh(d); the Taylor series through d⁵ when |d| < 1e-3 (next term 17d⁷/315)."""
    cdef double d2
    if fabs(d) < 1e-3:
        d2 = d * d
        return d * (1.0 + d2 * (-1.0 / 3.0 + d2 * (2.0 / 15.0)))
    return tanh(d)


cdef inline double _expm1_taylor(double d) noexcept nogil:
    """expm1(d) by its Taylor series through d⁵, for |d| < 1e-3 (next term d⁶/720)."""
    return d * (1.0 + d * (0.5 + d * (1.0 / 6.0 + d * (1.0 / 24.0 + d * (1.0 / 120.0)))))


cdef inline double _expm1_small(double d) noexcept nogil:
    """expm1(d); the Taylor series through d⁵ when |d| < 1e-3."""
    if fabs(d) < 1e-3:
        return _expm1_taylor(d)
    return expm1(d)


cdef inline double _log1p_small(double x) noexcept nogil:
    """log1p(x); the Taylor series through x⁴ when |x| < 1e-4 (next term x⁵/5)."""
    if fabs(x) < 1e-4:
        return x * (1.0 + x * (-0.5 + x * (1.0 / 3.0 + x * (-0.25))))
    return log1p(x)


cdef inline double _sigmoid(double x) noexcept nogil:
    """σ(x) without overflow."""
    cdef double e
    if x >= 0.0:
        return 1.0 / (1.0 + exp(-x))
    e = exp(x)
    return e / (1.0 + e)


cdef inline double _sigmoid_delta_large(double z, double d) noexcept nogil:
    """σ(z + d) − σ(z) as a difference of the two tails on z's small side."""
    if z >= 0.0:
        return _sigmoid(-z) - _sigmoid(-(z + d))
    return _sigmoid(z + d) - _sigmoid(z)


cdef double _smooth_delta_large(int code, double z, double d) noexcept nogil:
    """g(z + d) − g(z) of tanh or sigmoid for |d| > LARGE_DELTA (called
    through _large_act, never inlined)."""
    if code == ACT_TANH:  # tanh(x) = 2σ(2x) − 1
        return 2.0 * _sigmoid_delta_large(2.0 * z, 2.0 * d)
    return _sigmoid_delta_large(z, d)


cdef inline double _softplus_loss_delta(double z, double y, double s, double d) noexcept nogil:
    """s·(softplus(z + d) − softplus(z)) − y·d, any d, nothing overflows.

    softplus(x) = max(x, 0) + log1p(e^−|x|): the max parts differ by exactly
    d, z + d, −z or 0 and meet y·d first; the tails are small and accurate.
    """
    cdef double zp = z + d, relu
    if zp > 0.0:
        relu = d if z > 0.0 else zp
    else:
        relu = -z if z > 0.0 else 0.0
    return (s * relu - y * d) + s * (log1p(exp(-fabs(zp))) - log1p(exp(-fabs(z))))


cdef double _sigmoid_pair_large(double z, double y, double d) noexcept nogil:
    """ℓ(z+d) − ℓ(z−d) of sigmoid+BCE for |d| > LARGE_DELTA (called through
    _large_pair, never inlined)."""
    return _softplus_loss_delta(z, y, 1.0, d) - _softplus_loss_delta(z, y, 1.0, -d)


cdef double _sigmoid_loss_large(double z, double y, double d) noexcept nogil:
    """ℓ(z+d) − ℓ(z) of sigmoid+BCE for |d| > LARGE_DELTA (called through
    _large_loss, never inlined)."""
    return _softplus_loss_delta(z, y, 1.0, d)


# The rare large-step forms are reached through these pointers (set at import
# time) so the C compiler never inlines them into the hot small-step loops,
# where their size would cost every ε-sized delta a few percent.
ctypedef double (*_large3)(double, double, double) noexcept nogil
ctypedef double (*_large_act_t)(int, double, double) noexcept nogil
cdef _large3 _large_pair = _sigmoid_pair_large
cdef _large3 _large_loss = _sigmoid_loss_large
cdef _large_act_t _large_act = _smooth_delta_large


cdef inline double _act_delta(int code, double z, double a, double gp, double d, double slope,
                              int *kink) noexcept nogil:
    """g(z + d) − g(z) without cancellation; flags kinks of relu/leaky.

    ``a`` is g(z) and ``gp`` is g'(z) (used by tanh and sigmoid only).
    """
    cdef double zp, u, e
    if d == 0.0:
        return 0.0
    if code == ACT_LINEAR:
        return d
    if code == ACT_RELU or code == ACT_LEAKY:
        slope = 0.0 if code == ACT_RELU else slope
        zp = z + d
        if z > 0.0 and zp > 0.0:
            return d
        if z < 0.0 and zp < 0.0:
            return slope * d
        kink[0] = 1
        # Straddling the kink: the two sides are on different lines.
        return ((zp if zp > 0.0 else slope * zp)
                - (z if z > 0.0 else slope * z))
    if fabs(d) > LARGE_DELTA:
        return _large_act(code, z, d)
    if code == ACT_TANH:
        u = _tanh_small(d)
        return u * gp / (1.0 + a * u)
    # sigmoid
    e = _expm1_small(d)
    return gp * e / (1.0 + a * e)


cdef void _bn_delta(double *d, const double *c, double sd, double gamma,
                    Py_ssize_t m) noexcept nogil:
    """In place: ΔU of one batch-normalized row (m,) -> its ΔZ = γ·ΔZn."""
    cdef Py_ssize_t i
    cdef double mu = 0.0, cd = 0.0, dd = 0.0, dvar, sd2, dinv, inv2
    for i in range(m):
        mu += d[i]
    mu = mu / m
    for i in range(m):
        d[i] = d[i] - mu
        cd += c[i] * d[i]
        dd += d[i] * d[i]
    dvar = (2.0 * cd + dd) / m
    sd2 = sqrt(sd * sd + dvar)
    dinv = -dvar / (sd * sd2 * (sd + sd2))
    inv2 = gamma / sd2
    dinv = gamma * dinv
    for i in range(m):
        d[i] = d[i] * inv2 + c[i] * dinv


cdef inline double _out_delta_unit(int code, double z, double o, double y, double ysum,
                                   double d) noexcept nogil:
    """Loss change of one example when only output unit z moves by d (a
    softmax unit with |d| > LARGE_DELTA goes through _softmax_delta_large)."""
    if code == OUT_SIGMOID:
        if fabs(d) > LARGE_DELTA:
            return _large_loss(z, y, d)
        return _log1p_small(o * _expm1_small(d)) - y * d
    if code == OUT_SOFTMAX:
        return ysum * _log1p_small(o * _expm1_small(d)) - y * d
    return d * ((z - y) + 0.5 * d)


cdef inline double _sigmoid_pair(const double *z, double o, double y, double d) noexcept nogil:
    """ℓ(z+d) − ℓ(z−d) of sigmoid+BCE, o = σ(*z), with one expm1 and one log1p.

    With E = expm1(d) and E' = expm1(−d) = −E/(1+E):
        log1p(o·E) − log1p(o·E') = log1p(o·(E − E') / (1 + o·E'))
    and E − E' = E·(2+E)/(1+E); no step subtracts nearly equal numbers.
    """
    cdef double e, q
    if fabs(d) > LARGE_DELTA:  # z is read only here
        return _large_pair(z[0], y, d)
    e = _expm1_small(d)
    q = 1.0 + e
    return _log1p_small(o * (e * (2.0 + e) / q) / (1.0 - o * e / q)) - 2.0 * y * d


cdef double _softmax_delta_large(const Net *net, Py_ssize_t i, const double *D,
                                 Py_ssize_t ld, Py_ssize_t j, double dj) noexcept nogil:
    """(Σy)·(LSE(z+d) − LSE(z)) − Σ_c y_c·d_c of example i from the output
    pre-activations, for any size of d: d_c = D[c*ld], or, with D NULL, dj
    for unit j and 0 elsewhere.

    With a = z − max z and c* the argmax of a + d, LSE(z+d) − LSE(z) =
    a_c* + d_c* + log Σ e^(a+d − a_c* − d_c*) − log Σ e^a: no exponential
    overflows, and d_c* meets Σ y·d before anything else is added.
    """
    cdef Py_ssize_t c, cs = 0, n = net.dims[net.L], m = net.m
    cdef const double *Zl = net.Z[net.L - 1]
    cdef double zmax, d, top, s0 = 0.0, s1 = 0.0, lin = 0.0, ysum = net.ysum[i], dtop = 0.0
    zmax = Zl[i]
    for c in range(1, n):
        if Zl[c * m + i] > zmax:
            zmax = Zl[c * m + i]
    top = -INFINITY
    for c in range(n):
        d = (D[c * ld] if D != NULL else (dj if c == j else 0.0))
        if (Zl[c * m + i] - zmax) + d > top:
            top = (Zl[c * m + i] - zmax) + d
            cs = c
            dtop = d
    for c in range(n):
        d = (D[c * ld] if D != NULL else (dj if c == j else 0.0))
        s0 += exp(Zl[c * m + i] - zmax)
        s1 += exp(((Zl[c * m + i] - zmax) + d) - top)
        lin += net.y[c * m + i] * d
    return (ysum * (Zl[cs * m + i] - zmax) + (ysum * dtop - lin)
            + ysum * (log(s1) - log(s0)))


cdef double _out_delta_column(const Net *net, Py_ssize_t i, const double *D,
                              Py_ssize_t ld) noexcept nogil:
    """Loss change of example i when every output unit c moves by D[c*ld]."""
    cdef int code = net.act[net.L - 1]
    cdef Py_ssize_t c, n = net.dims[net.L], m = net.m
    cdef const double *Zl = net.Z[net.L - 1]
    cdef double d, total = 0.0, lin = 0.0, sm = 0.0
    if code == OUT_SOFTMAX:
        for c in range(n):
            if fabs(D[c * ld]) > LARGE_DELTA:
                return _softmax_delta_large(net, i, D, ld, 0, 0.0)
        for c in range(n):
            d = D[c * ld]
            sm += net.out[c * m + i] * _expm1_small(d)
            lin += net.y[c * m + i] * d
        return net.ysum[i] * _log1p_small(sm) - lin
    for c in range(n):
        d = D[c * ld]
        if d != 0.0:
            total += _out_delta_unit(code, Zl[c * m + i], net.out[c * m + i],
                                     net.y[c * m + i], 0.0, d)
    return total


cdef inline void _matmul(const double *Arow, const double *Brow, double *Crow,
                         int M, int N, int K) noexcept nogil:
    """C (M×N) = A (M×K) · B (K×N), all row-major and contiguous.

    BLAS is column-major: a row-major C = A·B is the column-major Cᵀ = Bᵀ·Aᵀ,
    so the operands are passed swapped.
    """
    cdef double one = 1.0, zero = 0.0
    cdef char *nt = b"N"
    dgemm(nt, nt, &N, &M, &K, &one, <double *> Brow, &N, <double *> Arow, &K,
          &zero, Crow, &N)


cdef inline bint _linear_downstream(const Net *net, int t, Py_ssize_t j, const Scratch *sc,
                                   Py_ssize_t ns) noexcept nogil:
    """True when no changed activation of row j reaches a kink downstream."""
    cdef const double *rad
    cdef Py_ssize_t s, m = net.m
    cdef double r
    if net.radius[t] == NULL:  # the last hidden layer: nothing downstream can kink
        return True
    rad = net.radius[t] + j * net.m
    for s in range(ns):
        r = rad[sc.S[s]]
        if not (fabs(sc.da[s]) < r and fabs(sc.da[m + s]) < r):
            return False
    return True


cdef inline double _sigmoid_terms(const Net *net, const Scratch *sc, Py_ssize_t s,
                                  double w) noexcept nogil:
    """Δℓ⁺ − Δℓ⁻ of example S[s] of a one-unit sigmoid output whose
    pre-activation moves by w·ΔA."""
    cdef Py_ssize_t i = sc.S[s], m = net.m
    if sc.da[m + s] == -sc.da[s]:
        return _sigmoid_pair(net.Z[net.L - 1] + i, net.out[i], net.y[i], w * sc.da[s])
    return (_out_delta_unit(OUT_SIGMOID, net.Z[net.L - 1][i], net.out[i], net.y[i], 0.0,
                            w * sc.da[s])
            - _out_delta_unit(OUT_SIGMOID, net.Z[net.L - 1][i], net.out[i], net.y[i], 0.0,
                              w * sc.da[m + s]))


cdef double _fast_output(const Net *net, int t, Py_ssize_t j, Scratch *sc,
                         Py_ssize_t ns) noexcept nogil:
    """Σ_i (Δℓ_i⁺ − Δℓ_i⁻) through the linear map of the downstream layers.

    The map of example i is a stored row of sens, or for the last hidden
    layer (radius NULL) column j of W[L] itself, the same for every example
    (nothing is stored for it).
    """
    cdef Py_ssize_t s, c, i, m = net.m, nL = net.dims[net.L], stride
    cdef const double *sv
    cdef double total = 0.0, w
    cdef double *dp = sc.D
    cdef double *dm = sc.D + nL
    if net.radius[t] == NULL:  # the last hidden layer: the map is W[L][:, j]
        sv = net.sens[t] + j
        if nL == 1 and net.act[net.L - 1] == OUT_SIGMOID:
            w = sv[0]
            for s in range(ns):
                total += _sigmoid_terms(net, sc, s, w)
            return total
        stride = net.dims[net.L - 1]
        for s in range(ns):
            i = sc.S[s]
            for c in range(nL):
                dp[c] = sv[c * stride] * sc.da[s]
                dm[c] = sv[c * stride] * sc.da[m + s]
            total += _out_delta_column(net, i, dp, 1) - _out_delta_column(net, i, dm, 1)
        return total
    if nL == 1 and net.act[net.L - 1] == OUT_SIGMOID:
        sv = net.sens[t] + j * m
        for s in range(ns):
            total += _sigmoid_terms(net, sc, s, sv[sc.S[s]])
        return total
    for s in range(ns):
        i = sc.S[s]
        sv = net.sens[t] + (j * m + i) * nL
        for c in range(nL):
            dp[c] = sv[c] * sc.da[s]
            dm[c] = sv[c] * sc.da[m + s]
        total += _out_delta_column(net, i, dp, 1) - _out_delta_column(net, i, dm, 1)
    return total


include "_jets.pxi"
include "_bn_tail.pxi"
include "_maps.pxi"


cdef struct Coord:
    int t                     # 0-based weight layer: the coordinate is in layer t+1
    int kind                  # 0 weight, 1 bias or beta, 2 gamma
    Py_ssize_t j              # row (unit) of layer t+1
    Py_ssize_t k              # column of a weight (its input unit), else -1
    double w                  # a weight's value (for the L2 term)
    bint all_examples         # a batch-normalized layer below ties examples together
    bint two_sided            # the − side is not the mirror of the + side


cdef inline void _locate(const Net *net, Py_ssize_t p, Coord *c) noexcept nogil:
    """Which block coordinate p lies in: layer t, weight (j, k) or bias j."""
    cdef int L = net.L, tt
    cdef Py_ssize_t idx, n_in
    c.t = 0
    c.kind = 0
    c.k = -1
    c.w = 0.0
    while c.t < L - 1 and p >= net.wofs[c.t + 1]:
        c.t += 1
    n_in = net.dims[c.t]
    if p >= net.bofs[c.t]:
        c.j = p - net.bofs[c.t]
        c.kind = 1
        if net.bn[c.t]:
            if c.j < net.dims[c.t + 1]:
                c.kind = 2
            else:
                c.j -= net.dims[c.t + 1]
    else:
        idx = p - net.wofs[c.t]
        c.j = idx // n_in
        c.k = idx - c.j * n_in
        c.w = net.W[c.t][idx]
    c.all_examples = False
    for tt in range(c.t + 1, L - 1):
        if net.bn[tt]:
            c.all_examples = True
    # Only a weight of a batch-normalized row moves the two sides differently;
    # everywhere else the − side is −dz and is never stored.
    c.two_sided = c.kind == 0 and net.bn[c.t]


cdef inline long long _row_delta(const Net *net, Scratch *sc, const Coord *c) noexcept nogil:
    """ΔZ[t+1][j, :] on the + side (dz[0:m]) and, if two-sided, the − side
    (dz[m:2m]). Returns the flops."""
    cdef Py_ssize_t i, m = net.m, j = c.j
    cdef int t = c.t
    cdef double eps = net.eps
    cdef const double *row
    cdef long long fl = m
    if c.kind == 1:
        for i in range(m):
            sc.dz[i] = eps
    elif c.kind == 2:
        row = net.zn[t] + j * m
        for i in range(m):
            sc.dz[i] = eps * row[i]
    else:
        row = net.A[t] + c.k * m
        for i in range(m):
            sc.dz[i] = eps * row[i]
    if c.two_sided:
        for i in range(m):
            sc.dz[m + i] = -sc.dz[i]
        _bn_delta(sc.dz, net.ucen[t] + j * m, net.sd[t][j], net.gamma[t][j], m)
        _bn_delta(sc.dz + m, net.ucen[t] + j * m, net.sd[t][j], net.gamma[t][j], m)
        fl += 16 * m
    return fl


cdef double _output_row(const Net *net, const Scratch *sc, const Coord *c) noexcept nogil:
    """Σ_i (Δℓ_i⁺ − Δℓ_i⁻) when the perturbed row is output unit j: only its
    loss terms change."""
    cdef int code = net.act[net.L - 1]
    cdef Py_ssize_t i, m = net.m, j = c.j
    cdef const double *Zt = net.Z[c.t] + j * m
    cdef double total = 0.0, dp, dm
    for i in range(m):
        if sc.dz[i] == 0.0:
            continue
        if code == OUT_SIGMOID:
            total += _sigmoid_pair(Zt + i, net.out[j * m + i], net.y[j * m + i], sc.dz[i])
            continue
        if code == OUT_SOFTMAX and fabs(sc.dz[i]) > LARGE_DELTA:
            total += (_softmax_delta_large(net, i, NULL, 0, j, sc.dz[i])
                      - _softmax_delta_large(net, i, NULL, 0, j, -sc.dz[i]))
            continue
        if code == OUT_SOFTMAX:
            dp = _out_delta_unit(code, Zt[i], net.out[j * m + i], net.y[j * m + i],
                                 net.ysum[i], sc.dz[i])
            dm = _out_delta_unit(code, Zt[i], net.out[j * m + i], net.y[j * m + i],
                                 net.ysum[i], -sc.dz[i])
        else:
            dp = _out_delta_unit(code, Zt[i], net.out[j * m + i], net.y[j * m + i],
                                 0.0, sc.dz[i])
            dm = _out_delta_unit(code, Zt[i], net.out[j * m + i], net.y[j * m + i],
                                 0.0, -sc.dz[i])
        total += dp - dm
    return total


cdef Py_ssize_t _hidden_row(const Net *net, Scratch *sc, const Coord *c,
                            int *kink) noexcept nogil:
    """Activation deltas of hidden row j: S[0:ns] the examples whose
    activation changed (every example when they are tied), da[s] the + side
    and da[m + s] the − side. Returns ns."""
    cdef int t = c.t, code = net.act[c.t]
    cdef Py_ssize_t i, ns = 0, m = net.m, j = c.j
    cdef const double *Zt = net.Z[t] + j * m
    cdef const double *At = net.G[t] + j * m
    cdef const double *gpr = net.dG[t] + j * m
    cdef const double *sv = NULL if net.scale[t] == NULL else net.scale[t] + j * m
    cdef double dp, dm, a, w2
    for i in range(m):
        dp = 0.0
        dm = 0.0
        a = sc.dz[i]
        w2 = sc.dz[m + i] if c.two_sided else -a
        if (a != 0.0 or w2 != 0.0) and (sv == NULL or sv[i] != 0.0):
            dp = _act_delta(code, Zt[i], At[i], gpr[i], a, net.leaky, kink)
            dm = _act_delta(code, Zt[i], At[i], gpr[i], w2, net.leaky, kink)
            if sv != NULL:
                dp = dp * sv[i]
                dm = dm * sv[i]
        if dp != 0.0 or dm != 0.0 or c.all_examples:
            sc.S[ns] = i
            sc.da[ns] = dp
            sc.da[m + ns] = dm
            ns += 1
    return ns


cdef Py_ssize_t _layer_deltas(const Net *net, Scratch *sc, int tt, Py_ssize_t ns,
                              int *kink, long long *fl) noexcept nogil:
    """Hidden layer tt+1: batch norm of D (if any), then the activation
    deltas of the changed rows into dA, their units into R. Returns nr."""
    cdef Py_ssize_t u, c, i, v, nr = 0, m = net.m, cols = 2 * ns
    cdef int code = net.act[tt]
    cdef double a
    cdef double *D = sc.D
    cdef double *tmp
    cdef const double *Zt = net.Z[tt]
    cdef const double *At = net.G[tt]
    cdef const double *gpr = net.dG[tt]
    cdef const double *sv = net.scale[tt]
    if net.bn[tt]:
        # Batch norm of every row (all_examples holds: S is 0..m−1).
        for u in range(net.dims[tt + 1]):
            a = net.gamma[tt][u]
            _bn_delta(D + u * cols, net.ucen[tt] + u * m, net.sd[tt][u], a, m)
            _bn_delta(D + u * cols + m, net.ucen[tt] + u * m, net.sd[tt][u], a, m)
        fl[0] += 16 * net.dims[tt + 1] * m
    for u in range(net.dims[tt + 1]):
        tmp = sc.dA + nr * cols
        v = 0
        for c in range(cols):
            i = sc.S[c if c < ns else c - ns]
            if sv != NULL and sv[u * m + i] == 0.0:
                tmp[c] = 0.0  # dropped: no delta, and no kink to report
                continue
            tmp[c] = _act_delta(code, Zt[u * m + i], At[u * m + i],
                                gpr[u * m + i], D[u * cols + c], net.leaky, kink)
            if sv != NULL:
                tmp[c] = tmp[c] * sv[u * m + i]
            if tmp[c] != 0.0:
                v = 1
        if v:
            sc.R[nr] = u
            nr += 1
    fl[0] += net.dims[tt + 1] * cols
    return nr


cdef double _propagate(const Net *net, Scratch *sc, const Coord *c, Py_ssize_t ns,
                       int *kink, long long *fl) noexcept nogil:
    """Σ_i (Δℓ_i⁺ − Δℓ_i⁻) when hidden row j's activations move by da on
    examples S: a rank-1 update of the next layer, then one GEMM per layer
    over the changed rows, then the output's loss columns."""
    cdef int L = net.L, tt = c.t + 1
    cdef Py_ssize_t u, s, v, r, i, nr, n_next, m = net.m, j = c.j, cols = 2 * ns
    cdef double a, total = 0.0
    cdef double *D = sc.D
    cdef const double *W
    # Rank-1 update of the next layer: D[u, c] = W[t+2][u, j] · ΔA[c];
    # columns 0..ns−1 hold the + side, ns..2ns−1 the − side.
    n_next = net.dims[tt + 1]
    W = net.W[tt]
    for u in range(n_next):
        a = W[u * net.dims[tt] + j]
        for s in range(ns):
            D[u * cols + s] = a * sc.da[s]
            D[u * cols + ns + s] = a * sc.da[m + s]
    fl[0] += 2 * n_next * ns
    while tt < L - 1:
        nr = _layer_deltas(net, sc, tt, ns, kink, fl)
        if nr == 0:
            break
        # Next pre-activation deltas: D = W[tt+2][:, R] · ΔA[R, :].
        n_next = net.dims[tt + 2]
        W = net.W[tt + 1]
        for v in range(n_next):
            for r in range(nr):
                sc.Wg[v * nr + r] = W[v * net.dims[tt + 1] + sc.R[r]]
        _matmul(sc.Wg, sc.dA, D, <int> n_next, <int> cols, <int> nr)
        fl[0] += 2 * n_next * nr * cols
        tt += 1
    if tt == L - 1:
        # Output layer reached: D holds (n_L, cols) output deltas.
        for s in range(ns):
            i = sc.S[s]
            total += (_out_delta_column(net, i, D + s, cols)
                      - _out_delta_column(net, i, D + ns + s, cols))
        fl[0] += 2 * 8 * net.dims[L] * ns
    return total


cdef double _coordinate(const Net *net, Scratch *sc, Py_ssize_t p, int *kink,
                        long long *flops, unsigned char *jetted) noexcept nogil:
    """(J(θ + ε e_p) − J(θ − ε e_p)) / 2ε for one coordinate p.

    The steps: locate p; the perturbed row's ΔZ; then either the output
    row's loss terms, or the hidden row's activation deltas carried to the
    output (through the exact linear map when one applies, else by
    propagation); finally the exact L2 difference.
    """
    cdef Coord c
    cdef Py_ssize_t ns
    cdef double total = 0.0
    cdef long long fl = 0
    cdef Py_ssize_t nf = 0, i
    _locate(net, p, &c)
    if c.t < net.L - 1 and net.jet[c.t] != NULL and net.jet_mode[c.t]:
        fl += 6 * net.m
        if _jet_output_z(net, &c, sc, &total):
            if jetted != NULL:
                jetted[0] = 1
        else:  # examples outside the series' radius: propagated exactly
            fl += _row_delta(net, sc, &c)
            ns = _hidden_row(net, sc, &c, kink)
            nf = 0
            for i in range(ns):
                if sc.bt[sc.S[i]] != 0.0:
                    sc.S[nf] = sc.S[i]
                    sc.da[nf] = sc.da[i]
                    sc.da[net.m + nf] = sc.da[net.m + i]
                    nf += 1
            if nf > 0:
                total += _propagate(net, sc, &c, nf, kink, &fl)
            if jetted != NULL:
                jetted[0] = 2
        flops[0] = fl
        total = total / net.m / (2.0 * net.eps)
        if c.kind == 0 and net.l2 != 0.0:
            total += net.l2 * c.w / net.m
        return total
    fl += _row_delta(net, sc, &c)
    if c.t == net.L - 1:
        total = _output_row(net, sc, &c)
        fl += 8 * net.m
    else:
        ns = _hidden_row(net, sc, &c, kink)
        fl += 2 * net.m
        if ns > 0 and net.sens[c.t] != NULL and _linear_downstream(net, c.t, c.j, sc, ns):
            # Every later hidden layer is piecewise linear and no pre-activation
            # there changes side (|ΔA| below the radius): the network after
            # row j is exactly linear, ΔZ[L][:, i] = sens[j, i, :]·ΔA[j, i].
            total = _fast_output(net, c.t, c.j, sc, ns)
            fl += 4 * net.dims[net.L] * ns + 8 * net.dims[net.L] * ns
        elif (ns > 0 and net.tail_s != NULL and c.t == net.L - 3
              and _bn_tail(net, sc, &c, &total, &fl)):
            if jetted != NULL:
                jetted[0] = 3
        elif ns > 0 and net.jet[c.t] != NULL:
            total = _jet_output(net, c.t, c.j, sc, ns, &nf)
            fl += 4 * net.jet_order[c.t] * ns
            if nf > 0:  # examples outside the series' accepted radius: exact
                total += _propagate(net, sc, &c, nf, kink, &fl)
            if jetted != NULL:
                jetted[0] = 1 if nf == 0 else 2
        elif ns > 0:
            total = _propagate(net, sc, &c, ns, kink, &fl)
    flops[0] = fl
    total = total / net.m / (2.0 * net.eps)
    if c.kind == 0 and net.l2 != 0.0:
        total += net.l2 * c.w / net.m
    return total


cdef void _scratch_sizes(const Py_ssize_t[::1] dims, Py_ssize_t *nd,
                         Py_ssize_t *nwg) noexcept nogil:
    """Scratch extents the network needs (mirrored by _MLPKernel.scratch_bytes).

    The perturbed row's own layer is never held whole, so the deltas need
    the widest of layers 2..L (D also holds the 2·n_L output deltas of the
    linear-map path, within 2m·n_L); W is gathered for propagations out of
    hidden layers 2..L−1 only: dims[l]·dims[l+1] for l = 2..L−1.
    """
    cdef Py_ssize_t l, L = dims.shape[0] - 1
    nd[0] = 1
    nwg[0] = 1
    for l in range(2, L + 1):
        nd[0] = max(nd[0], dims[l])
    for l in range(2, L):
        nwg[0] = max(nwg[0], dims[l] * dims[l + 1])


cdef inline Py_ssize_t _scratch_doubles(Py_ssize_t m, Py_ssize_t nd,
                                        Py_ssize_t nwg) noexcept nogil:
    """Doubles (8 bytes each, as the intp parts) of one :func:`_alloc_scratch`."""
    return 11 * m + 4 * m * nd + nwg + 11 * nd


cdef int _alloc_scratch(Scratch *sc, Py_ssize_t m, Py_ssize_t nd, Py_ssize_t nwg) noexcept nogil:
    sc.dz = <double *> malloc(2 * m * sizeof(double))
    sc.da = <double *> malloc(2 * m * sizeof(double))
    sc.S = <Py_ssize_t *> malloc(m * sizeof(Py_ssize_t))
    sc.D = <double *> malloc(2 * m * nd * sizeof(double))
    sc.dA = <double *> malloc(2 * m * nd * sizeof(double))
    sc.Wg = <double *> malloc(nwg * sizeof(double))
    sc.R = <Py_ssize_t *> malloc(nd * sizeof(Py_ssize_t))
    sc.bt = <double *> malloc((6 * m + 10 * nd) * sizeof(double))
    return (sc.dz != NULL and sc.da != NULL and sc.S != NULL and sc.D != NULL
            and sc.dA != NULL and sc.Wg != NULL and sc.R != NULL and sc.bt != NULL)


cdef void _free_scratch(Scratch *sc) noexcept nogil:
    free(sc.dz)
    free(sc.da)
    free(sc.S)
    free(sc.D)
    free(sc.dA)
    free(sc.Wg)
    free(sc.R)
    free(sc.bt)


cdef void _free_net(Net *net) noexcept nogil:
    free(net.dims); free(net.act); free(net.wofs); free(net.bofs); free(net.bn)
    free(<void *> net.ucen); free(<void *> net.zn); free(<void *> net.sd)
    free(<void *> net.W); free(<void *> net.gamma)
    free(<void *> net.Z); free(<void *> net.A); free(<void *> net.G); free(<void *> net.scale)
    free(<void *> net.dG)
    free(<void *> net.sens); free(<void *> net.radius)
    free(<void *> net.jet); free(<void *> net.jet_grow); free(net.jet_order); free(net.jet_qmax)
    free(net.jet_mode)


cdef class MLPNet:
    """The network as the kernel reads it: the typed contract of
    :func:`mlp_numerical_gradient`.

    Built once per check from per-layer arrays (every length is checked
    here, under the GIL, so a layout drift is an error instead of a read of
    the wrong memory); the kernel then reads it without the GIL. The arrays
    are kept alive by the object and are never written.

    Parameters
    ----------
    weights : list of L ndarrays, float64 C-contiguous
        IN  ``weights[t]`` is W[t+1] flattened, ``dims[t+1]·dims[t]`` (θ's
        blocks as they are: no (P,) copy of θ is needed).
    dims : ndarray (L+1,) intp
        IN  units per layer, ``dims[0] = n_x``.
    codes : ndarray (L,) intc
        IN  activation codes of the hidden layers, then the output code
        (``fastgrad.nn._codes``).
    leaky_slope, l2, eps : float
        The leaky-relu slope, the L2 strength λ and the step ε.
    Z : list of L ndarrays, float64 C-contiguous
        IN  ``Z[t]`` is the pre-activation of layer t+1, ``dims[t+1]·m``.
    A : list of L ndarrays
        IN  ``A[t]`` is the activation of layer t after dropout
        (``A[0] = X``), ``dims[t]·m``.
    G, slope : lists of L−1 ndarrays
        IN  hidden activations before dropout and their g'(Z) (read for
        tanh and sigmoid), ``dims[t+1]·m`` each.
    scale : list of L−1 (ndarray or None)
        IN  dropout mask/keep_prob of hidden layer t+1, ``dims[t+1]·m``.
    bn_centered, bn_normalized, bn_std : lists of L−1 (ndarray or None)
        IN  for a batch-normalized hidden layer t+1: ``U − μ`` and ``Zn``
        (``dims[t+1]·m``) and ``sqrt(σ² + ε)`` (``dims[t+1]``).
    out, y : ndarray (n_L·m,)
        IN  the output activation and the targets.
    ysum : ndarray (m,)
        IN  column sums of y.
    """
    cdef Net net
    cdef Py_ssize_t[::1] dims
    cdef list keep
    cdef list map_keep
    cdef list jet_keep
    cdef object jet_units
    cdef list tail_keep

    def __cinit__(self):
        self.net.dims = NULL
        self.net.act = NULL
        self.net.wofs = NULL
        self.net.bofs = NULL
        self.net.bn = NULL
        self.net.ucen = NULL
        self.net.zn = NULL
        self.net.sd = NULL
        self.net.W = NULL
        self.net.gamma = NULL
        self.net.Z = NULL
        self.net.A = NULL
        self.net.G = NULL
        self.net.dG = NULL
        self.net.scale = NULL
        self.net.sens = NULL
        self.net.radius = NULL
        self.net.jet = NULL
        self.net.jet_grow = NULL
        self.net.jet_order = NULL
        self.net.jet_qmax = NULL
        self.net.jet_mode = NULL
        self.net.tail_s = NULL

    def __dealloc__(self):
        _free_net(&self.net)
        if self.jet_keep:  # (None when a garbage-collected cycle was cleared first)
            _give_spares(self.jet_keep[0] + self.jet_keep[1])

    def __init__(self, list weights, dims, codes, double leaky_slope, double l2, double eps, *,
                 list Z, list A, list G, list slope, list scale, list bn_centered,
                 list bn_normalized, list bn_std, list gamma, out, y, ysum):
        cdef Py_ssize_t[::1] d = np.ascontiguousarray(dims, dtype=np.intp)
        cdef const int[::1] act = np.ascontiguousarray(codes, dtype=np.intc)
        cdef int L = d.shape[0] - 1, t
        cdef Py_ssize_t m, woff = 0
        if L < 1 or act.shape[0] != L:
            raise ValueError(f"codes has {act.shape[0]} entries, dims needs {L}")
        for lst, name, n in ((weights, "weights", L), (Z, "Z", L), (A, "A", L), (G, "G", L - 1),
                             (slope, "slope", L - 1), (gamma, "gamma", L - 1),
                             (scale, "scale", L - 1), (bn_centered, "bn_centered", L - 1),
                             (bn_normalized, "bn_normalized", L - 1), (bn_std, "bn_std", L - 1)):
            if len(lst) != n:
                raise ValueError(f"{name} has {len(lst)} layers, the network {n}")
        known = {int(v) for v in _ACTIVATION_CODES.__members__.values()}
        for t in range(L - 1):
            if act[t] not in known:
                raise ValueError(f"codes[{t}] = {act[t]} is not an activation code")
        if act[L - 1] not in {int(v) for v in _OUTPUT_CODES.__members__.values()}:
            raise ValueError(f"codes[{L - 1}] = {act[L - 1]} is not an output code")
        self.dims = d
        self.keep = []
        self.map_keep = []
        self.jet_keep = []
        m = np.asarray(ysum).shape[0]
        self.net.L = L
        self.net.m = m
        self.net.leaky = leaky_slope
        self.net.l2 = l2
        self.net.eps = eps
        self._allocate(L)
        for t in range(L + 1):
            self.net.dims[t] = d[t]
        for t in range(L):
            self.net.act[t] = act[t]
            self.net.bn[t] = t < L - 1 and bn_centered[t] is not None
            self.net.wofs[t] = woff
            self.net.bofs[t] = woff + d[t + 1] * d[t]
            woff = self.net.bofs[t] + d[t + 1] * (2 if self.net.bn[t] else 1)
        for t in range(L):
            self.net.W[t] = self._ptr(weights[t], d[t + 1] * d[t], f"weights[{t}]")
        self.net.out = self._ptr(out, d[L] * m, "out")
        self.net.y = self._ptr(y, d[L] * m, "y")
        self.net.ysum = self._ptr(ysum, m, "ysum")
        for t in range(L):
            self.net.Z[t] = self._ptr(Z[t], d[t + 1] * m, f"Z[{t}]")
            self.net.A[t] = self._ptr(A[t], d[t] * m, f"A[{t}]")
            if t == L - 1:
                continue
            self.net.G[t] = self._ptr(G[t], d[t + 1] * m, f"G[{t}]")
            self.net.dG[t] = self._ptr(slope[t], d[t + 1] * m, f"slope[{t}]")
            if scale[t] is not None:
                self.net.scale[t] = self._ptr(scale[t], d[t + 1] * m, f"scale[{t}]")
            if self.net.bn[t]:
                self.net.ucen[t] = self._ptr(bn_centered[t], d[t + 1] * m, f"bn_centered[{t}]")
                self.net.zn[t] = self._ptr(bn_normalized[t], d[t + 1] * m,
                                           f"bn_normalized[{t}]")
                self.net.sd[t] = self._ptr(bn_std[t], d[t + 1], f"bn_std[{t}]")
                self.net.gamma[t] = self._ptr(gamma[t], d[t + 1], f"gamma[{t}]")

    cdef void _allocate(self, int L) except *:
        self.net.dims = <Py_ssize_t *> malloc((L + 1) * sizeof(Py_ssize_t))
        self.net.act = <int *> malloc(L * sizeof(int))
        self.net.wofs = <Py_ssize_t *> malloc(L * sizeof(Py_ssize_t))
        self.net.bofs = <Py_ssize_t *> malloc(L * sizeof(Py_ssize_t))
        self.net.bn = <int *> malloc(L * sizeof(int))
        self.net.Z = <const double **> calloc(L, sizeof(double *))
        self.net.A = <const double **> calloc(L, sizeof(double *))
        self.net.G = <const double **> calloc(L, sizeof(double *))
        self.net.dG = <const double **> calloc(L, sizeof(double *))
        self.net.ucen = <const double **> calloc(L, sizeof(double *))
        self.net.zn = <const double **> calloc(L, sizeof(double *))
        self.net.sd = <const double **> calloc(L, sizeof(double *))
        self.net.W = <const double **> calloc(L, sizeof(double *))
        self.net.gamma = <const double **> calloc(L, sizeof(double *))
        self.net.scale = <const double **> calloc(L, sizeof(double *))
        self.net.sens = <const double **> calloc(L, sizeof(double *))
        self.net.radius = <const double **> calloc(L, sizeof(double *))
        self.net.jet = <const double **> calloc(L, sizeof(double *))
        self.net.jet_grow = <const double **> calloc(L, sizeof(double *))
        self.net.jet_order = <int *> calloc(L, sizeof(int))
        self.net.jet_mode = <int *> calloc(L, sizeof(int))
        self.net.jet_qmax = <double *> calloc(L, sizeof(double))
        if (self.net.dims == NULL or self.net.act == NULL or self.net.wofs == NULL
                or self.net.bofs == NULL or self.net.bn == NULL or self.net.Z == NULL
                or self.net.A == NULL or self.net.G == NULL or self.net.dG == NULL
                or self.net.ucen == NULL or self.net.zn == NULL or self.net.sd == NULL
                or self.net.W == NULL or self.net.gamma == NULL
                or self.net.scale == NULL or self.net.sens == NULL or self.net.radius == NULL
                or self.net.jet == NULL or self.net.jet_grow == NULL
                or self.net.jet_order == NULL or self.net.jet_qmax == NULL
                or self.net.jet_mode == NULL):
            raise MemoryError()

    cdef const double *_ptr(self, arr, Py_ssize_t n, str name, bint for_map=False) except NULL:
        """The data of a float64 C-contiguous 1-D array of exactly n entries
        (kept alive by this object)."""
        cdef const double[::1] view = arr
        if view.shape[0] != n or n == 0:
            raise ValueError(f"MLPNet: {name} has {view.shape[0]} entries, the network "
                             f"needs {n}")
        (self.map_keep if for_map else self.keep).append(arr)
        return &view[0]

    def set_linear_maps(self, list sens, list radius, fast):
        """Install the exact linear maps of the next :func:`mlp_numerical_gradient` runs.

        Parameters
        ----------
        sens, radius : lists of L (ndarray or None)
            IN  for a layer t with ``fast[t] == 1``: the output sensitivities
            ``(dims[t+1]·m·n_L,)`` and their safe radii ``(dims[t+1]·m,)``.
        fast : ndarray (L,) intp
            IN  1 where layer t has a stored map, 2 for the last hidden
            layer whose map is W[L] itself (nothing stored), 0 elsewhere.
        """
        cdef const Py_ssize_t[::1] f = np.ascontiguousarray(fast, dtype=np.intp)
        cdef int L = self.net.L, t
        cdef Py_ssize_t m = self.net.m, nL = self.dims[L]
        if f.shape[0] != L or len(sens) != L or len(radius) != L:
            raise ValueError(f"set_linear_maps needs {L} layers")
        self.map_keep = []
        for t in range(L):
            self.net.sens[t] = NULL
            self.net.radius[t] = NULL
            if f[t] == 2:
                if t != L - 2:
                    raise ValueError(f"fast[{t}] == 2 is only for the last hidden layer")
                # The last hidden layer's map is W[L] itself (see _fast_output).
                self.net.sens[t] = self.net.W[t + 1]
            elif f[t]:
                self.net.sens[t] = self._ptr(sens[t], self.dims[t + 1] * m * nL, f"sens[{t}]",
                                             True)
                self.net.radius[t] = self._ptr(radius[t], self.dims[t + 1] * m,
                                               f"radius[{t}]", True)

    def set_bn_tail(self, slope=None, slope_centered=None, zinv=None, cz=None):
        """Install (or, with no arguments, remove) the batch-normalized last
        hidden layer's constants (see _bn_tail.pxi): ``slope`` and
        ``slope_centered`` (n·m,), ``zinv`` and ``cz`` (n,)."""
        cdef int L = self.net.L
        cdef Py_ssize_t n, m = self.net.m
        self.net.tail_s = NULL
        self.tail_keep = []
        if slope is None:
            return
        if L < 3 or not self.net.bn[L - 2]:
            raise ValueError("set_bn_tail: the last hidden layer is not batch normalized")
        n = self.dims[L - 1]
        self.net.tail_sc = self._tail(slope_centered, n * m, "slope_centered")
        self.net.tail_zinv = self._tail(zinv, n, "zinv")
        self.net.tail_cz = self._tail(cz, n, "cz")
        self.net.tail_s = self._tail(slope, n * m, "slope")

    cdef const double *_tail(self, arr, Py_ssize_t n, str name) except NULL:
        cdef const double[::1] view = arr
        if view.shape[0] != n:
            raise ValueError(f"set_bn_tail: {name} has {view.shape[0]} entries, needs {n}")
        self.tail_keep.append(arr)
        return &view[0]

    def build_maps(self, layers, list sens, list radius, int n_threads):
        """Fill the exact linear maps of hidden ``layers`` (0-based t ≤ L − 3,
        every later hidden layer piecewise linear): ``sens[t]``
        (dims[t+1]·m·n_L,) and ``radius[t]`` (dims[t+1]·m,), with the
        arithmetic of ``linear_maps._layer_map`` (see _maps.pxi). Each
        (layer, chunk of MAP_CHUNK examples) is one task: its first update
        (one GEMM), then its examples; the bits do not depend on
        ``n_threads``."""
        cdef int L = self.net.L, t, tt
        cdef Py_ssize_t m = self.net.m, q, nq, ncs, widest = 1, n1max = 1, fmax = 1, wmax = 1
        cdef Py_ssize_t i0, ne, i
        cdef Py_ssize_t[::1] lay = np.asarray(sorted(int(x) for x in layers), dtype=np.intp)
        cdef Py_ssize_t nl = lay.shape[0]
        cdef double **pS = <double **> calloc(L, sizeof(double *))
        cdef double **pR = <double **> calloc(L, sizeof(double *))
        cdef double *a
        cdef double *b
        cdef double *r
        cdef double *F
        cdef double *WD
        cdef int failed = 0
        cdef int *failed_ptr = &failed
        if pS == NULL or pR == NULL:
            free(pS); free(pR)
            raise MemoryError()
        try:
            for q in range(nl):
                t = <int> lay[q]
                if t < 0 or t > L - 3:
                    raise ValueError(f"layers: {t} has no hidden layer after the next")
                for tt in range(t + 1, L - 1):
                    if (self.net.bn[tt] or not (self.net.act[tt] == ACT_RELU
                                                or self.net.act[tt] == ACT_LEAKY
                                                or self.net.act[tt] == ACT_LINEAR)):
                        raise ValueError(f"layers: layer {t}'s downstream is not piecewise linear")
                pS[t] = self._scratch_ptr(sens[t], self.dims[t + 1] * m * self.dims[L], "sens", t)
                pR[t] = self._scratch_ptr(radius[t], self.dims[t + 1] * m, "radius", t)
                n1max = max(n1max, self.dims[t + 1])
                fmax = max(fmax, MAP_CHUNK * self.dims[t + 3] * self.dims[t + 1])
                wmax = max(wmax, MAP_CHUNK * self.dims[t + 3] * self.dims[t + 2])
                for tt in range(t + 2, L + 1):
                    widest = max(widest, self.dims[tt])
            if nl == 0:
                return
            ncs = (m + MAP_CHUNK - 1) // MAP_CHUNK
            nq = nl * ncs
            with nogil, parallel(num_threads=<int> max(1, min(<Py_ssize_t> n_threads, nq))):
                a = <double *> malloc(widest * n1max * sizeof(double))
                b = <double *> malloc(widest * n1max * sizeof(double))
                r = <double *> malloc(n1max * sizeof(double))
                F = <double *> malloc(fmax * sizeof(double))
                WD = <double *> malloc(wmax * sizeof(double))
                if a == NULL or b == NULL or r == NULL or F == NULL or WD == NULL:
                    failed_ptr[0] = 1
                # Tasks in layer order: the first layers have the most steps.
                for q in prange(nq, schedule="dynamic", chunksize=1):
                    if failed_ptr[0]:
                        continue
                    t = <int> lay[q // ncs]
                    i0 = (q % ncs) * MAP_CHUNK
                    ne = min(<Py_ssize_t> MAP_CHUNK, m - i0)
                    _first_update(&self.net, t, i0, ne, WD, F, a)
                    for i in range(ne):
                        _example_map(&self.net, t, i0 + i,
                                     F + i * self.net.dims[t + 3] * self.net.dims[t + 1],
                                     a, b, r, pS[t], pR[t])
                free(a)
                free(b)
                free(r)
                free(F)
                free(WD)
            if failed:
                raise MemoryError("could not allocate the scratch of the linear maps")
        finally:
            free(pS); free(pR)

    cdef double *_scratch_ptr(self, arr, Py_ssize_t n, str name, int t) except NULL:
        """The data of a writable float64 array of exactly n entries."""
        cdef double[::1] view = arr
        if view.shape[0] != n or n == 0:
            raise ValueError(f"build_maps: {name}[{t}] has {view.shape[0]} entries, needs {n}")
        return &view[0]

    def jet_bytes(self, layers, orders):
        """Bytes of the coefficients stored for the jets of ``layers``."""
        return sum(8 * self.dims[t + 1] * self.net.m * (K + 1) for t, K in zip(layers, orders))

    def jet_scratch_bytes(self, int K):
        """Bytes of one thread's scratch while jets of order K are built."""
        cdef Py_ssize_t nd = 1, nwg = 1
        _scratch_sizes(self.dims, &nd, &nwg)
        return 8 * ((2 * nd + 2) * K * self.net.m + 3 * (K + 1) * (1 + self.dims[self.net.L]))

    def set_jets(self, layers, orders, qmax, int n_threads):
        """Build and install the Taylor jets of ``layers`` in one call (see
        :meth:`prepare_jets`, :meth:`build_jets`, :meth:`activate_jets`)."""
        n = self.prepare_jets(layers, orders, qmax)
        self.build_jets(0, n, n_threads)
        self.activate_jets()

    def prepare_jets(self, layers, orders, qmax):
        """Allocate the Taylor jets (coefficients of ψ_{j,i}, see _jets.pxi)
        of the hidden layers ``layers`` (0-based t), of order ``orders[i]``
        and accepted ``qmax[i]``; they take effect after :meth:`build_jets`
        of every unit and :meth:`activate_jets`. Returns the number of units
        to build. ``layers`` empty removes the jets.

        Every later hidden layer of such a layer must be smooth (tanh,
        sigmoid or linear) and free of batch norm; the last hidden layer
        (t = L − 2) needs a tanh or sigmoid activation of its own, without
        batch norm (Z-jets).
        """
        cdef int L = self.net.L, t, tt, code
        for t in range(L):
            self.net.jet[t] = NULL
            self.net.jet_grow[t] = NULL
            self.net.jet_order[t] = 0
        if self.jet_keep:
            _give_spares(self.jet_keep[0] + self.jet_keep[1])
        self.jet_keep = []
        self.jet_units = None
        layers = [int(t) for t in layers]
        if len(orders) != len(layers) or len(qmax) != len(layers):
            raise ValueError("orders and qmax need one entry per layer of layers")
        korder = np.zeros(L, dtype=np.intc)
        for t, K, qm in zip(layers, orders, qmax):
            code = self.net.act[t] if 0 <= t < L - 1 else -1
            if t < 0 or t > L - 2 or korder[t] or (t == L - 2 and (
                    self.net.bn[t] or not (code == ACT_TANH or code == ACT_SIGMOID))):
                raise ValueError(f"layers: {t} has no smooth downstream hidden layer "
                                 "(or, the last hidden layer, no smooth activation of its own)")
            if K < 1 or K > 32:
                raise ValueError(f"orders: K = {K} must be in [1, 32]")
            for tt in range(t + 1, L - 1):
                code = self.net.act[tt]
                if self.net.bn[tt] or not (code == ACT_TANH or code == ACT_SIGMOID
                                           or code == ACT_LINEAR):
                    raise ValueError(f"layers: layer {t}'s downstream is not smooth")
            korder[t] = K
            self.net.jet_qmax[t] = qm
            # Z-jets for a smooth, unnormalized unit: its own activation in the
            # series, and a coordinate's two steps are exactly ±δ.
            code = self.net.act[t]
            self.net.jet_mode[t] = (not self.net.bn[t] and (code == ACT_TANH or code == ACT_SIGMOID
                                                            or code == ACT_LINEAR))
        # Units of the first layers (the most downstream work) first.
        order = sorted(layers)
        units = [self.dims[t + 1] for t in order]
        coef, grow = [None] * L, [None] * L
        for t in layers:
            coef[t] = _spare_empty(self.dims[t + 1] * self.net.m * korder[t])
            grow[t] = _spare_empty(self.dims[t + 1] * self.net.m)
        self.jet_keep = [coef, grow, korder]
        self.jet_units = (np.repeat(np.array(order, dtype=np.intp), units),
                          np.concatenate([np.arange(n, dtype=np.intp) for n in units]
                                         or [np.empty(0, dtype=np.intp)]))
        return sum(units)

    def build_jets(self, Py_ssize_t start, Py_ssize_t stop, int n_threads,
                   ScratchPool pool=None):
        """Build the jets of units ``start:stop`` (of :meth:`prepare_jets`),
        in parallel; each unit is built by one thread from start to end, so
        the bits do not depend on ``n_threads`` or on the pieces. ``pool``
        (at least ``n_threads`` slots) keeps each thread's scratch for the
        next pieces; None allocates and frees it here."""
        cdef int L = self.net.L, Kmax = 1, t
        cdef Py_ssize_t m = self.net.m, q, nd = 1, nwg = 1
        cdef const Py_ssize_t[::1] qt, qj
        cdef const int[::1] korder
        cdef double *cur
        cdef double *nxt
        cdef double *tmp
        cdef double **cptr
        cdef double **gptr
        cdef double[::1] view
        cdef int failed = 0
        cdef int *failed_ptr = &failed
        cdef double **jbuf = NULL
        cdef Py_ssize_t *jsize = NULL
        cdef Py_ssize_t need
        cdef int tid
        if self.jet_units is None:
            raise ValueError("build_jets needs prepare_jets first")
        qt, qj = self.jet_units
        coef, grow, korder = self.jet_keep
        if start < 0 or stop > qt.shape[0] or start > stop:
            raise ValueError(f"start:stop = {start}:{stop} is outside 0:{qt.shape[0]}")
        if start == stop:
            return
        cptr = <double **> calloc(L, sizeof(double *))
        gptr = <double **> calloc(L, sizeof(double *))
        if cptr == NULL or gptr == NULL:
            free(cptr); free(gptr)
            raise MemoryError()
        for t in range(L):
            if coef[t] is not None:
                view = coef[t]
                cptr[t] = &view[0]
                view = grow[t]
                gptr[t] = &view[0]
                Kmax = max(Kmax, korder[t])
        _scratch_sizes(self.dims, &nd, &nwg)
        n_threads = <int> max(1, min(<Py_ssize_t> n_threads, stop - start))
        need = 2 * nd * Kmax * m + 2 * Kmax * m + 3 * (Kmax + 1) * (1 + self.net.dims[L])
        if pool is None:
            pool = ScratchPool(n_threads)
        if pool.n < n_threads:
            free(cptr); free(gptr)
            raise ValueError(f"pool has {pool.n} slots, the build {n_threads} threads")
        jbuf, jsize = pool.jet, pool.jet_size
        with nogil, parallel(num_threads=n_threads):
            tid = threadid()
            if jsize[tid] < need:
                free(jbuf[tid])
                jbuf[tid] = <double *> malloc(need * sizeof(double))
                jsize[tid] = need if jbuf[tid] != NULL else 0
            cur = jbuf[tid]
            nxt = NULL if cur == NULL else cur + nd * Kmax * m
            tmp = NULL if cur == NULL else nxt + nd * Kmax * m
            if cur == NULL:
                failed_ptr[0] = 1
            for q in prange(start, stop, schedule="dynamic", chunksize=1):
                if failed_ptr[0]:
                    continue
                _unit_jets(&self.net, <int> qt[q], qj[q], korder[qt[q]], cur, nxt, tmp,
                           cptr[qt[q]] + qj[q] * m * korder[qt[q]], gptr[qt[q]] + qj[q] * m)
        free(cptr)
        free(gptr)
        if failed:
            raise MemoryError("could not allocate the scratch of the Taylor jets")

    def jet_arrays(self, int t):
        """(coefficients (dims[t+1], m, K), growth (dims[t+1], m)) of the
        jets of hidden layer t as built (copies), or None."""
        if self.jet_units is None or self.jet_keep[0][t] is None:
            return None
        coef, grow, korder = self.jet_keep
        n, m = self.dims[t + 1], self.net.m
        return coef[t].reshape(n, m, korder[t]).copy(), grow[t].reshape(n, m).copy()

    def activate_jets(self):
        """Install the built jets for the next :func:`mlp_numerical_gradient` runs."""
        cdef int t
        cdef double[::1] view
        if self.jet_units is None:
            return
        coef, grow, korder = self.jet_keep
        for t in range(self.net.L):
            if coef[t] is not None:
                view = coef[t]
                self.net.jet[t] = &view[0]
                view = grow[t]
                self.net.jet_grow[t] = &view[0]
                self.net.jet_order[t] = korder[t]

    def scratch_bytes(self):
        """Bytes of one thread's scratch (see ``_scratch_sizes``)."""
        cdef Py_ssize_t nd = 1, nwg = 1, m = self.net.m
        _scratch_sizes(self.dims, &nd, &nwg)
        return 8 * _scratch_doubles(m, nd, nwg)


cdef class ScratchPool:
    """Per-thread scratch of :func:`mlp_numerical_gradient` and of
    :meth:`MLPNet.build_jets`, kept across the pieces of a run (and, through
    :func:`take_pool` and :func:`give_pool`, across checks): each thread
    allocates its slot on first use (so its pages are its own) and reuses it
    later, instead of a malloc and free per piece (blocks of >128 KiB are
    fresh mmaps in glibc: page faults in every piece, on every thread). A
    run on a network of other sizes frees the slots and allocates them anew.
    Freed with the pool. Use a pool from one Python thread at a time."""
    cdef Scratch *slots
    cdef int *ready
    cdef double **jet         # (n,) each thread's buffer for MLPNet.build_jets, or NULL
    cdef Py_ssize_t *jet_size # (n,) its doubles
    cdef int n
    cdef Py_ssize_t m, nd, nwg # the run slots' sizes: the network last run (−1 before)

    def __cinit__(self, int n_threads):
        self.n = max(1, n_threads)
        self.m = self.nd = self.nwg = -1
        self.slots = <Scratch *> calloc(self.n, sizeof(Scratch))
        self.ready = <int *> calloc(self.n, sizeof(int))
        self.jet = <double **> calloc(self.n, sizeof(double *))
        self.jet_size = <Py_ssize_t *> calloc(self.n, sizeof(Py_ssize_t))
        if self.slots == NULL or self.ready == NULL or self.jet == NULL or self.jet_size == NULL:
            raise MemoryError()

    def __dealloc__(self):
        cdef int i
        self._free_slots()
        for i in range(self.n):
            if self.jet != NULL:
                free(self.jet[i])
        free(self.slots)
        free(self.ready)
        free(self.jet)
        free(self.jet_size)

    cdef void _free_slots(self) noexcept:
        """Free every run slot (the next run allocates them again)."""
        cdef int i
        for i in range(self.n):
            if self.ready != NULL and self.slots != NULL and self.ready[i]:
                _free_scratch(&self.slots[i])
                self.ready[i] = 0

    @property
    def nbytes(self):
        """Bytes the pool holds now (the run slots and the jets' buffers)."""
        cdef int i
        cdef Py_ssize_t total = 0
        for i in range(self.n):
            if self.ready[i]:
                total += _scratch_doubles(self.m, self.nd, self.nwg) * 8
            total += self.jet_size[i] * 8
        return total


# One idle pool of a finished run, kept for the next (take_pool, give_pool):
# repeated checks of a network then reuse its threads' scratch instead of
# mapping fresh pages each time (a page fault, 1-2 µs on a virtual machine,
# costs as much as ~10 coordinates of a small check). At most
# IDLE_POOL_BYTES are kept.
IDLE_POOL_BYTES = 16 << 20
_idle = [None]
# Reentrant: a net freed by the garbage collector inside a locked section
# gives its arrays back (_give_spares) on the same thread.
_reuse_lock = threading.RLock()


def _after_fork_in_child():
    """A forked child starts with no reuse state (the lock may have been
    held by a thread of the parent that does not exist in the child)."""
    global _reuse_lock
    _reuse_lock = threading.RLock()
    _idle[0] = None
    del _spares[:]


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def take_pool(int n_threads):
    """A :class:`ScratchPool` with at least ``n_threads`` slots: the idle one
    when it is large enough (it then is no longer idle), else a new one."""
    with _reuse_lock:
        pool, _idle[0] = _idle[0], None
    if pool is not None and (<ScratchPool> pool).n >= n_threads:
        return pool
    return ScratchPool(n_threads)


def give_pool(ScratchPool pool):
    """Keep ``pool`` (done with) as the idle pool if it holds at most
    IDLE_POOL_BYTES; else it is freed when the caller drops it."""
    if pool.nbytes <= IDLE_POOL_BYTES:
        with _reuse_lock:
            _idle[0] = pool


# Jet arrays of dropped nets, kept for the next check's (_spare_empty): the
# same reuse as the idle pool's, at most IDLE_POOL_BYTES of them too.
_spares = []


def _spare_empty(Py_ssize_t n):
    """An uninitialized float64 array of ``n`` entries: a spare of between n
    and 2n entries (its head) if there is one, else a new array."""
    cdef Py_ssize_t i, best = -1
    spare = None
    with _reuse_lock:
        for i in range(len(_spares)):
            size = _spares[i].shape[0]
            if n <= size <= 2 * n and (best < 0 or size < _spares[best].shape[0]):
                best = i
        if best >= 0:
            spare = _spares.pop(best)
    return np.empty(n) if spare is None else spare[:n]


def _give_spares(arrays):
    """Keep the arrays of :func:`_spare_empty` (None entries skipped) for
    later ones, as long as all spares stay within IDLE_POOL_BYTES."""
    with _reuse_lock:
        held = sum(a.nbytes for a in _spares)
        for a in arrays:
            if a is None:
                continue
            base = a if a.base is None else a.base
            if held + base.nbytes <= IDLE_POOL_BYTES:
                _spares.append(base)
                held += base.nbytes


cdef long long _run_of_coordinates(const Net *net, Scratch *sc, Py_ssize_t lo, Py_ssize_t hi,
                                   Py_ssize_t start, const Py_ssize_t *cp, double *numerical,
                                   unsigned char *kinks, unsigned char *jp) noexcept nogil:
    """Slots lo:hi of :func:`mlp_numerical_gradient`'s outputs (coordinate
    ``start + c``, or ``cp[c]``); returns their flops."""
    cdef Py_ssize_t c
    cdef int kink
    cdef long long fl, total = 0
    for c in range(lo, hi):
        kink = 0
        fl = 0
        numerical[c] = _coordinate(net, sc, start + c if cp == NULL else cp[c], &kink, &fl,
                                   NULL if jp == NULL else jp + c)
        kinks[c] = kink
        total += fl
    return total


cdef Py_ssize_t _tasks(Py_ssize_t K, int n_threads, Py_ssize_t *bounds) noexcept nogil:
    """The runs of coordinates 0:K that threads take one at a time: each
    1/(TASK_SPLIT·n_threads) of the coordinates left, rounded up to a
    multiple of CHUNK_SIZE, and at least CHUNK_SIZE. Writes the boundaries
    (0, ..., K) to ``bounds`` unless it is NULL; returns the number of runs.
    Only the split depends on n_threads, not the bits: each coordinate is
    computed alone."""
    cdef Py_ssize_t s = 0, n = 0, size
    if bounds != NULL:
        bounds[0] = 0
    while s < K:
        size = (K - s) // (TASK_SPLIT * n_threads)
        size = max(<Py_ssize_t> CHUNK_SIZE, (size + CHUNK_SIZE - 1) // CHUNK_SIZE * CHUNK_SIZE)
        s = min(K, s + size)
        n += 1
        if bounds != NULL:
            bounds[n] = s
    return n


def mlp_numerical_gradient(
    MLPNet net,                       # IN  the network (its linear maps set)
    const Py_ssize_t[::1] coords,     # IN  (K,) coordinates of θ to evaluate, or None
    double[::1] numerical,            # OUT (K,) two-sided differences
    unsigned char[::1] kinks,         # OUT (K,) 1 where a relu kink was crossed
    int n_threads,
    unsigned char[::1] jetted=None,   # OUT (K,) optional, the path taken: 1 the Taylor jets for
                                      #     every example, 2 jets and some examples propagated,
                                      #     3 the batch-normalized tail, else 0
    Py_ssize_t start=0,               # IN  with coords None: the coordinates start .. start+K-1
    ScratchPool pool=None,            # IN  per-thread scratch kept across calls
):
    """Two-sided finite differences of an MLP cost for the given coordinates.

    Parameters
    ----------
    net : MLPNet
        The network; its arrays were checked when it was built.
    coords : ndarray (K,) intp or None
        Coordinates of θ to evaluate, each in ``[0, P)``; None for the
        contiguous range ``start, ..., start + K − 1`` (a full check's
        coordinates, with no (P,) index array to allocate and read).
    numerical : ndarray (K,) float64
        Receives ``(J(θ + ε e_p) − J(θ − ε e_p)) / 2ε`` for the c-th coordinate p.
    kinks : ndarray (K,) uint8 (or the bytes of a bool array, ``.view(np.uint8)``)
        Receives 1 where a relu/leaky-relu pre-activation changed side, else 0.
    n_threads : int
        OpenMP threads (capped at the number of chunks); the bits do not
        depend on it.
    start : int
        The first coordinate when ``coords`` is None.
    pool : ScratchPool or None
        Per-thread scratch kept between calls (at least ``n_threads`` slots;
        sized anew when the net has other sizes than its last); None
        allocates and frees it within the call.

    Returns
    -------
    flops : int
        The arithmetic performed for these coordinates (summed per thread:
        an integer sum, the same for every thread count).
    """
    cdef Py_ssize_t K = numerical.shape[0], c, nd = 1, nwg = 1, m = net.net.m, P, q, n_tasks
    cdef Py_ssize_t *bounds = NULL
    cdef Scratch *sc = NULL
    cdef long long total = 0
    cdef int failed = 0
    cdef int *failed_ptr = &failed
    cdef const Net *pnet = &net.net
    cdef unsigned char *jp = NULL
    cdef const Py_ssize_t *cp = NULL
    cdef Scratch *slots = NULL
    cdef int *ready = NULL
    cdef int tid
    if jetted is not None:
        if jetted.shape[0] != K:
            raise ValueError("jetted must have one entry per coordinate")
        if K > 0:
            jp = &jetted[0]
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if kinks.shape[0] != K or (coords is not None and coords.shape[0] != K):
        raise ValueError("coords, numerical and kinks must have one entry per coordinate")
    if K == 0:
        return 0
    P = net.net.bofs[net.net.L - 1] + net.dims[net.net.L] * (2 if net.net.bn[net.net.L - 1] else 1)
    if coords is None:
        if start < 0 or start + K > P:
            raise ValueError(f"coordinates {start}..{start + K - 1} are outside θ (P = {P})")
    else:
        cp = &coords[0]
        for c in range(K):
            if cp[c] < 0 or cp[c] >= P:
                raise ValueError(f"coords[{c}] = {cp[c]} is outside θ (P = {P})")
    _scratch_sizes(net.dims, &nd, &nwg)
    n_threads = <int> min(<Py_ssize_t> n_threads, (K + CHUNK_SIZE - 1) // CHUNK_SIZE)
    if pool is None:
        pool = ScratchPool(n_threads)
    if pool.n < n_threads:
        raise ValueError(f"pool has {pool.n} slots, the run {n_threads} threads")
    if (pool.m, pool.nd, pool.nwg) != (m, nd, nwg):
        # slots sized for another network would be overrun (or waste memory)
        pool._free_slots()
        pool.m, pool.nd, pool.nwg = m, nd, nwg
    slots, ready = pool.slots, pool.ready
    n_tasks = _tasks(K, n_threads, NULL)
    bounds = <Py_ssize_t *> malloc((n_tasks + 1) * sizeof(Py_ssize_t))
    if bounds == NULL:
        raise MemoryError()
    _tasks(K, n_threads, bounds)
    with nogil, parallel(num_threads=n_threads):
        # Each thread allocates (first touch) and owns its slot.
        tid = threadid()
        sc = &slots[tid]
        if not ready[tid]:
            if _alloc_scratch(sc, m, nd, nwg):
                ready[tid] = 1
            else:
                _free_scratch(sc)
                failed_ptr[0] = 1
        for q in prange(n_tasks, schedule="dynamic", chunksize=1):
            if failed_ptr[0]:
                continue
            total += _run_of_coordinates(pnet, sc, bounds[q], bounds[q + 1], start, cp,
                                         &numerical[0], &kinks[0], jp)
    free(bounds)

    if failed:
        raise MemoryError(
            f"could not allocate the gradient check's per-thread scratch "
            f"({8 * _scratch_doubles(m, nd, nwg):,} bytes per thread, {n_threads} "
            f"thread(s)); use mode='sampled', fewer examples or fewer threads")
    return total
