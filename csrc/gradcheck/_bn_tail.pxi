# Included by _mlp_kernel.pyx: a batch-normalized last hidden layer below the
# perturbed row, in O(n·m) per coordinate instead of a propagation.
#
# Row j of hidden layer t+1 changes its activation by d (m,) on each side.
# The last hidden layer τ = t+2 is batch normalized, so every row r of it
# moves: ΔU_r = w_r·d (w = W[τ][:, j]), and with d̃ = d − mean(d), c_r = U_r − μ_r,
#     Δσ²_r = (2·w_r·⟨c_r, d̃⟩ + w_r²·‖d̃‖²)/m,   σ'_r = sqrt(σ_r² + Δσ²_r)
#     ΔZ_r  = α_r·d̃ + β_r·c_r,   α_r = γ_r·w_r/σ'_r,   β_r = −γ_r·Δσ²_r/(σ_r·σ'_r·(σ_r + σ'_r))
# (the exact formula of the module docstring, every term O(ε)). The row's
# activation is piecewise linear: while no ΔZ_ri reaches Z_ri's sign
# boundary, ΔA_ri = s_ri·ΔZ_ri with s the slope times the dropout scale, and
# the output pre-activation moves by
#     Δz_c,i = Σ_r W_L[c,r]·s_ri·(α_r·d̃_i + β_r·c_ri)
#            = d̃_i·(Sᵀ(W_L[c]⊙α))_i + ((S⊙C)ᵀ(W_L[c]⊙β))_i,
# three GEMVs over the layer per side and output: ⟨c_r, d̃⟩ for every r,
# then the two sums. No kink can be crossed when, for every row,
#     |α_r|·max|d̃|/min_i|Z_ri| + |β_r|·max_i(|c_ri|/|Z_ri|) ≤ 1/2
# (both per-row constants are precomputed); otherwise the coordinate is
# propagated exactly (which flags the kink if there is one).


cdef inline void _gemv_t(const double *A, Py_ssize_t rows, Py_ssize_t cols, const double *x,
                         double *y) noexcept nogil:
    """y (cols,) = Aᵀ·x for a row-major A (rows × cols)."""
    cdef int M = <int> cols, N = <int> rows, one = 1
    cdef double a = 1.0, b = 0.0
    cdef char *nt = b"N"
    # Row-major A is column-major Aᵀ (cols × rows): y = Aᵀ·x is a plain "N" GEMV.
    dgemv(nt, &M, &N, &a, <double *> A, &M, <double *> x, &one, &b, y, &one)


cdef inline void _gemv_n(const double *A, Py_ssize_t rows, Py_ssize_t cols, const double *x,
                         double *y) noexcept nogil:
    """y (rows,) = A·x for a row-major A (rows × cols)."""
    cdef int M = <int> cols, N = <int> rows, one = 1
    cdef double a = 1.0, b = 0.0
    cdef char *tr = b"T"
    dgemv(tr, &M, &N, &a, <double *> A, &M, <double *> x, &one, &b, y, &one)


cdef inline void _gemm_2(const double *A, Py_ssize_t rows, Py_ssize_t cols, const double *X,
                         double *Y, bint trans) noexcept nogil:
    """Y = op(A)·X for a row-major A (rows × cols) and two columns: X and Y
    hold one vector after the other (side + then −). op(A) = A (X: 2×cols,
    Y: 2×rows) or Aᵀ (X: 2×rows, Y: 2×cols)."""
    cdef int M = <int> (rows if not trans else cols), K = <int> (cols if not trans else rows)
    cdef int two = 2, lda = <int> cols
    cdef double a = 1.0, b = 0.0
    cdef char *tr = b"T"
    cdef char *nt = b"N"
    # Column-major: row-major A is Aᵀ (cols × rows) with leading dimension cols.
    dgemm(tr if not trans else nt, nt, &M, &two, &K, &a, <double *> A, &lda,
          <double *> X, &K, &b, Y, &M)


cdef bint _bn_tail(const Net *net, Scratch *sc, const Coord *c, double *total,
                   long long *fl) noexcept nogil:
    """Σ_i (Δℓ_i⁺ − Δℓ_i⁻) when the last hidden layer, batch normalized, is
    the one after the perturbed row (see above). da holds every example, in
    order. Returns False (nothing done) when a kink might be crossed."""
    cdef int L = net.L, tt = c.t + 1, side
    cdef Py_ssize_t i, r, o, m = net.m, n = net.dims[tt + 1], nin = net.dims[tt]
    cdef Py_ssize_t nL = net.dims[L]
    cdef const double *W = net.W[tt]
    cdef const double *WL = net.W[L - 1]
    cdef const double *sd = net.sd[tt]
    cdef double *dt = sc.bt                 # (2, m) d̃ of each side
    cdef double *p = sc.bt + 2 * m          # (2, n) ⟨c_r, d̃⟩
    cdef double *al = p + 2 * n             # (2, n) α_r
    cdef double *be = al + 2 * n            # (2, n) β_r
    cdef double *y1 = be + 2 * n            # (2, m)
    cdef double *y2 = y1 + 2 * m            # (2, m)
    cdef double *va = y2 + 2 * m            # (2, n) W_L[o]⊙α
    cdef double *vb = va + 2 * n            # (2, n) W_L[o]⊙β
    cdef double *out = sc.D                 # (nL, 2m) output deltas: + then −
    cdef double mu, dd[2], dmax[2], w, dvar, s2, g, q, worst
    for side in range(2):
        mu = 0.0
        for i in range(m):
            mu += sc.da[side * m + i]
        mu = mu / m
        dd[side] = 0.0
        dmax[side] = 0.0
        for i in range(m):
            dt[side * m + i] = sc.da[side * m + i] - mu
            dd[side] += dt[side * m + i] * dt[side * m + i]
            dmax[side] = max(dmax[side], fabs(dt[side * m + i]))
    _gemm_2(net.ucen[tt], n, m, dt, p, False)
    # α, β of every row in a branch-free (vectorizable) loop; the kink test
    # after it, on the largest ratio.
    worst = 0.0
    for side in range(2):
        for r in range(n):
            w = W[r * nin + c.j]
            g = net.gamma[tt][r]
            dvar = (2.0 * w * p[side * n + r] + w * w * dd[side]) / m
            s2 = sqrt(sd[r] * sd[r] + dvar)
            al[side * n + r] = g * w / s2
            be[side * n + r] = -g * dvar / (sd[r] * s2 * (sd[r] + s2))
            q = (fabs(al[side * n + r]) * dmax[side] * net.tail_zinv[r]
                 + fabs(be[side * n + r]) * net.tail_cz[r])
            worst = q if not (q <= worst) else worst  # a NaN sticks
    if not (worst <= 0.5):
        return False
    for o in range(nL):
        for side in range(2):
            for r in range(n):
                va[side * n + r] = WL[o * n + r] * al[side * n + r]
                vb[side * n + r] = WL[o * n + r] * be[side * n + r]
        _gemm_2(net.tail_s, n, m, va, y1, True)
        _gemm_2(net.tail_sc, n, m, vb, y2, True)
        for i in range(2 * m):
            out[o * 2 * m + i] = dt[i] * y1[i] + y2[i]
    fl[0] += 2 * 2 * n * m * (1 + 2 * nL) + 24 * n + 8 * m
    total[0] = 0.0
    for i in range(m):
        total[0] += (_out_delta_column(net, i, out + i, 2 * m)
                     - _out_delta_column(net, i, out + m + i, 2 * m))
    fl[0] += 2 * 8 * nL * m
    return True
