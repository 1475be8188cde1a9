# Included by _mlp_kernel.pyx: the exact linear maps of piecewise-linear
# downstream layers (fastgrad/gradcheck/linear_maps.py describes them),
# built in parallel with the same arithmetic as the NumPy reference there:
#   τ = t+2:  C = W[t+2] for every example; the first update is ONE GEMM per
#             chunk of MAP_CHUNK examples, (W[τ+1] ⊙ D_τ) stacked by example,
#             times W[t+2] (a fixed chunking: the bits do not depend on threads);
#   τ > t+2:  C_i = W[τ+1]·(D_τ,i ⊙ C_i), one GEMM per example;
#   radius[j, i] = min over τ, u of |Z_τ[u, i]| / |C_i[u, j]| (fmin: 0/0 skipped),
# with D_τ = the slope on each side of 0 times the dropout scale.


cdef void _np_matmul(const double *A, const double *B, double *C, Py_ssize_t M, Py_ssize_t N,
                     Py_ssize_t K) noexcept nogil:
    """C (M×N) = A (M×K)·B (K×N), row-major, dispatched as NumPy's matmul
    dispatches contiguous operands (the same BLAS routine for each shape): a product for
    K = 1, a dot for 1×1, a GEMV for one row or one column, else a GEMM."""
    cdef Py_ssize_t i, j
    cdef int n = <int> K, one = 1
    if K == 1:
        for i in range(M):
            for j in range(N):
                C[i * N + j] = A[i] * B[j]
    elif M == 1 and N == 1:
        C[0] = ddot(&n, <double *> A, &one, <double *> B, &one)
    elif M == 1:
        _gemv_t(B, K, N, A, C)
    elif N == 1:
        _gemv_n(A, M, K, B, C)
    else:
        _matmul(A, B, C, <int> M, <int> N, <int> K)


cdef inline double _slope(const Net *net, int tau, Py_ssize_t u, Py_ssize_t i) noexcept nogil:
    """D_τ[u, i] of hidden layer τ (1-based): slope × dropout scale."""
    cdef int code = net.act[tau - 1]
    cdef double z = net.Z[tau - 1][u * net.m + i], d
    if code == ACT_LINEAR:
        d = 1.0
    elif z > 0.0:
        d = 1.0
    else:
        d = net.leaky if code == ACT_LEAKY else 0.0
    if net.scale[tau - 1] != NULL:
        d = d * net.scale[tau - 1][u * net.m + i]
    return d


cdef inline void _shrink(const Net *net, int tau, Py_ssize_t i, const double *C, Py_ssize_t n1,
                         double *r) noexcept nogil:
    """r[j] = fmin(r[j], |Z_τ[u, i]| / |C[u, j]|) over the units u of layer τ."""
    cdef Py_ssize_t u, j, n = net.dims[tau]
    cdef double az, q
    for u in range(n):
        az = fabs(net.Z[tau - 1][u * net.m + i])
        for j in range(n1):
            q = az / fabs(C[u * n1 + j])
            if q < r[j]:  # fmin: a NaN quotient (0/0) never wins
                r[j] = q


cdef void _first_update(const Net *net, int t, Py_ssize_t i0, Py_ssize_t ne, double *WD,
                        double *out, double *D) noexcept nogil:
    """out (ne·n3 × n1) = (W[t+3] ⊙ D_{t+2}) stacked over examples i0..i0+ne−1,
    times W[t+2]: one GEMM per chunk of MAP_CHUNK examples. D: scratch of
    n2 (one example's slopes)."""
    cdef int tau = t + 2
    cdef Py_ssize_t i, v, u, n1 = net.dims[t + 1], n2 = net.dims[tau]
    cdef Py_ssize_t n3 = net.dims[tau + 1]
    cdef const double *W = net.W[tau]
    for i in range(ne):
        for u in range(n2):
            D[u] = _slope(net, tau, u, i0 + i)
        for v in range(n3):
            for u in range(n2):
                WD[(i * n3 + v) * n2 + u] = W[v * n2 + u] * D[u]
    _np_matmul(WD, net.W[t + 1], out, ne * n3, n1, n2)


cdef void _example_map(const Net *net, int t, Py_ssize_t i, const double *C1, double *a,
                       double *b, double *r, double *sens, double *radius) noexcept nogil:
    """sens[j, i, :] and radius[j, i] of one example from its C after the
    first update (C1, n3 × n1); a and b hold widest·n1, r n1."""
    cdef int L = net.L, tau = t + 2
    cdef Py_ssize_t j, u, c, m = net.m, n1 = net.dims[t + 1], nL = net.dims[L], n
    cdef double d
    cdef double *cur = a
    cdef double *nxt = b
    cdef double *tmp
    for j in range(n1):
        r[j] = INFINITY
    _shrink(net, tau, i, net.W[t + 1], n1, r)
    for j in range(net.dims[tau + 1] * n1):
        cur[j] = C1[j]
    tau += 1
    while tau < L:
        _shrink(net, tau, i, cur, n1, r)
        n = net.dims[tau]
        for u in range(n):
            d = _slope(net, tau, u, i)
            for j in range(n1):
                cur[u * n1 + j] = d * cur[u * n1 + j]
        _np_matmul(net.W[tau], cur, nxt, net.dims[tau + 1], n1, n)
        tmp = cur
        cur = nxt
        nxt = tmp
        tau += 1
    for j in range(n1):
        radius[j * m + i] = r[j] * 0.5  # RADIUS_MARGIN of linear_maps.py
        for c in range(nL):
            sens[(j * m + i) * nL + c] = cur[c * n1 + j]
