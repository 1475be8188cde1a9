# Included by _mlp_kernel.pyx: Taylor jets of the smooth downstream network.
#
# ψ_{j,i}(a) is the change of example i's loss when the activation of hidden
# unit j of layer t+1 (after its dropout scale) moves by a, everything else
# fixed. When every later hidden layer is smooth (tanh, sigmoid, linear) and
# none is batch normalized, ψ is analytic near 0 and one pass of truncated
# Taylor arithmetic (order K) per unit j through the downstream layers, over
# all m examples at once, gives its coefficients c_{1..K}[j, i]:
#
#   Z[t+2] = z + W[:, j]·a                    (order 1 only)
#   tanh   y' = (1 − y²)·z'   sigmoid   y' = y(1 − y)·z'   (n·y_n = Σ k z_k w_{n−k})
#   linear layers act order by order: one GEMM over the K·m columns
#   sigmoid+BCE  ℓ = softplus(z) − y·z,  softplus' = σ(z)
#   softmax+CE   ℓ = (Σy)·LSE(z) − Σ y_c z_c,  LSE' = Σ p_c z_c',  p_c' = p_c(z_c' − LSE')
#   linear+MSE   ℓ = ½Σ(z − y)²  (exactly quadratic in the jet)
#
# The first-order term of each loss is formed as (out − y)·e_1 (as the
# exact-difference forms do), never as a difference of two larger numbers.


cdef inline void _act_jet(int code, double y0, double w0, double *z, double *y, double *w,
                          int K) noexcept nogil:
    """Orders 1..K of g(z0 + Σ z_n aⁿ) into y[1..K] (y[0] = g(z0) given as y0,
    w0 = g'(z0)); w is scratch of K+1 entries. z and y are indexed 1..K."""
    cdef int n, k
    cdef double acc
    if code == ACT_LINEAR:
        for n in range(1, K + 1):
            y[n] = z[n]
        return
    y[0] = y0
    w[0] = w0
    for n in range(1, K + 1):
        acc = 0.0
        for k in range(1, n + 1):
            acc += k * z[k] * w[n - k]
        y[n] = acc / n
        if n == K:
            break
        # w = g' as a jet: 1 − y² (tanh) or y − y² (sigmoid), order n.
        acc = 0.0
        for k in range(0, n + 1):
            acc += y[k] * y[n - k]
        w[n] = -acc if code == ACT_TANH else y[n] - acc


cdef void _loss_jet(const Net *net, const double *D, Py_ssize_t i, int K, double *cf,
                    double *tmp) noexcept nogil:
    """Loss coefficients c_1..c_K (into cf[0..K−1]) of example i from the
    output pre-activation jets D[(c·K + n−1)·m + i]; tmp holds 3·(K+1)·n_L."""
    cdef int code = net.act[net.L - 1], n, k
    cdef Py_ssize_t c, nL = net.dims[net.L], m = net.m, Km = K * net.m
    cdef double acc, s0, zc, yc, ysum = net.ysum[i], Ln
    cdef double *s
    cdef double *w
    cdef double *e
    for n in range(K):
        cf[n] = 0.0
    if code == OUT_LINEAR:
        for c in range(nL):
            zc = net.Z[net.L - 1][c * m + i] - net.y[c * m + i]
            for n in range(1, K + 1):
                acc = zc * D[c * Km + (n - 1) * m + i]
                for k in range(1, n):
                    acc += 0.5 * D[c * Km + (k - 1) * m + i] * D[c * Km + (n - k - 1) * m + i]
                cf[n - 1] += acc
        return
    if code == OUT_SIGMOID:
        s = tmp
        w = tmp + (K + 1)
        e = tmp + 2 * (K + 1)
        for c in range(nL):
            zc = net.Z[net.L - 1][c * m + i]
            s0 = net.out[c * m + i]
            yc = net.y[c * m + i]
            for n in range(1, K + 1):
                e[n] = D[c * Km + (n - 1) * m + i]
            # σ as a jet, σ' = σ·σ(−z): w = s − s² by orders, w0 exact.
            _act_jet(ACT_SIGMOID, s0, s0 * _sigmoid(-zc), e, s, w, K)
            s[0] = s0
            for n in range(1, K + 1):
                acc = 0.0
                for k in range(1, n):
                    acc += k * e[k] * s[n - k]
                cf[n - 1] += (s0 - yc) * e[n] + acc / n
        return
    # softmax: p (nL×(K+1)) and E = z' − LSE' (nL×(K+1)) in tmp.
    s = tmp
    e = tmp + nL * (K + 1)
    for c in range(nL):
        s[c * (K + 1)] = net.out[c * m + i]
    for n in range(1, K + 1):
        Ln = 0.0
        acc = 0.0
        for c in range(nL):
            for k in range(1, n + 1):
                Ln += k * D[c * Km + (k - 1) * m + i] * s[c * (K + 1) + n - k]
            for k in range(1, n):
                acc += k * D[c * Km + (k - 1) * m + i] * s[c * (K + 1) + n - k]
        Ln = Ln / n
        # c_n = Σ_c (Σy·p_c − y_c)·e_{c,n} + Σy·(1/n)Σ_{k<n} k e_{c,k} p_{c,n−k}
        cf[n - 1] = ysum * acc / n
        for c in range(nL):
            cf[n - 1] += (ysum * net.out[c * m + i] - net.y[c * m + i]) * D[c * Km + (n - 1) * m + i]
        if n == K:
            break
        for c in range(nL):
            e[c * (K + 1) + n] = D[c * Km + (n - 1) * m + i] - Ln
            zc = 0.0
            for k in range(1, n + 1):
                zc += k * e[c * (K + 1) + k] * s[c * (K + 1) + n - k]
            s[c * (K + 1) + n] = zc / n


cdef void _act_jet_rows_small(int code, const double *y0, const double *w0, double *row,
                              const double *sv, int K, Py_ssize_t m) noexcept nogil:
    """_act_jet_rows for K ≤ 4: one branch-free pass over the examples with
    every order in registers (the loop vectorizes), w_n = y_n·(s − 2·y0) −
    Σ_{0<k<n} y_k·y_{n−k} with s = 1 for sigmoid, 0 for tanh."""
    cdef Py_ssize_t i, n
    cdef double z1, z2, z3, y1, y2, y3, w1, w2, w3, c
    cdef double sg = 1.0 if code == ACT_SIGMOID else 0.0
    cdef double third = 1.0 / 3.0
    cdef double *r1 = row
    cdef double *r2 = row + m
    cdef double *r3 = row + 2 * m
    cdef double *r4 = row + 3 * m
    if K == 1:
        for i in range(m):
            r1[i] = r1[i] * w0[i]
    elif K == 2:
        for i in range(m):
            z1 = r1[i]
            y1 = z1 * w0[i]
            w1 = y1 * (sg - 2.0 * y0[i])
            r2[i] = (2.0 * r2[i] * w0[i] + z1 * w1) * 0.5
            r1[i] = y1
    elif K == 3:
        for i in range(m):
            z1 = r1[i]
            z2 = r2[i]
            c = sg - 2.0 * y0[i]
            y1 = z1 * w0[i]
            w1 = y1 * c
            y2 = (2.0 * z2 * w0[i] + z1 * w1) * 0.5
            w2 = y2 * c - y1 * y1
            r3[i] = (3.0 * r3[i] * w0[i] + z1 * w2 + 2.0 * z2 * w1) * third
            r2[i] = y2
            r1[i] = y1
    else:
        for i in range(m):
            z1 = r1[i]
            z2 = r2[i]
            z3 = r3[i]
            c = sg - 2.0 * y0[i]
            y1 = z1 * w0[i]
            w1 = y1 * c
            y2 = (2.0 * z2 * w0[i] + z1 * w1) * 0.5
            w2 = y2 * c - y1 * y1
            y3 = (3.0 * z3 * w0[i] + z1 * w2 + 2.0 * z2 * w1) * third
            w3 = y3 * c - 2.0 * y1 * y2
            r4[i] = (4.0 * r4[i] * w0[i] + z1 * w3 + 2.0 * z2 * w2 + 3.0 * z3 * w1) * 0.25
            r3[i] = y3
            r2[i] = y2
            r1[i] = y1
    if sv != NULL:
        for n in range(K):
            for i in range(m):
                row[n * m + i] = row[n * m + i] * sv[i]


cdef void _act_jet_rows(int code, const double *y0, const double *w0, double *row,
                        double *yv, double *wv, double sc_n, const double *sv, int K,
                        Py_ssize_t m) noexcept nogil:
    """In place, one unit's row (K, m): the jets z_1..z_K of its pre-activation
    become those of its activation g(z) (times its dropout scale sv, or
    NULL), each order vectorized over the m examples. y0 = g(z0) and
    w0 = g'(z0) per example; yv and wv are (K, m) scratch."""
    cdef int n, k
    cdef Py_ssize_t i
    cdef double inv
    cdef const double *wk
    cdef double *yn
    cdef double *wn
    if code == ACT_LINEAR:
        if sv != NULL:
            for n in range(K):
                for i in range(m):
                    row[n * m + i] = row[n * m + i] * sv[i]
        return
    if K <= 4:
        _act_jet_rows_small(code, y0, w0, row, sv, K, m)
        return
    for n in range(1, K + 1):
        # n·y_n = Σ_{k=1..n} k·z_k·w_{n−k}   (w_0 = g'(z0))
        yn = yv + (n - 1) * m
        for i in range(m):
            yn[i] = n * row[(n - 1) * m + i] * w0[i]
        for k in range(1, n):
            wk = wv + (n - k - 1) * m
            for i in range(m):
                yn[i] += k * row[(k - 1) * m + i] * wk[i]
        inv = 1.0 / n
        for i in range(m):
            yn[i] = yn[i] * inv
        if n == K:
            break
        # w_n of 1 − y² (tanh) or y − y² (sigmoid): −Σ_{p=0..n} y_p·y_{n−p} (+ y_n).
        wn = wv + (n - 1) * m
        for i in range(m):
            wn[i] = -2.0 * y0[i] * yn[i]
        for k in range(1, n):
            for i in range(m):
                wn[i] -= yv[(k - 1) * m + i] * yv[(n - k - 1) * m + i]
        if code == ACT_SIGMOID:
            for i in range(m):
                wn[i] += yn[i]
    for n in range(K):
        if sv == NULL:
            for i in range(m):
                row[n * m + i] = yv[n * m + i]
        else:
            for i in range(m):
                row[n * m + i] = yv[n * m + i] * sv[i]


cdef void _unit_jets(const Net *net, int t, Py_ssize_t j, int K, double *cur, double *nxt,
                     double *tmp, double *coef, double *grow) noexcept nogil:
    """Coefficients c_{1..K}[j, i] of ψ_{j,i} (coef: (m, K) of unit j) and
    their growth G[j, i] = max_n (|c_n|/|c_1|)^{1/(n−1)} (grow: (m,)).

    cur and nxt hold one layer's jets, (units, K, m) row-major: row u is the
    K·m columns of one GEMM operand. tmp: 2·K·m + 3·(K+1)·(1 + n_L).
    """
    cdef int L = net.L, tau = t + 1, n
    cdef Py_ssize_t u, i, m = net.m, Km = K * net.m, nu, nn
    cdef const double *W
    cdef double *loss = tmp + 2 * Km
    cdef double *sw
    cdef double c1, g, r, wu
    cdef double *own = nxt  # (K, m): the unit's own activation jets (Z-jets only)
    nu = net.dims[tau + 1]
    W = net.W[tau]
    if net.jet_mode[t]:
        # Z-jets: the variable is the unit's pre-activation change δ; its
        # activation (times its dropout scale) as a jet in δ, per example.
        for i in range(Km):
            own[i] = 1.0 if i < m else 0.0
        _act_jet_rows(net.act[t], net.G[t] + j * m, net.dG[t] + j * m, own, tmp, tmp + Km,
                      1.0, NULL if net.scale[t] == NULL else net.scale[t] + j * m, K, m)
        for u in range(nu):
            wu = W[u * net.dims[tau] + j]
            for i in range(Km):
                cur[u * Km + i] = wu * own[i]
    else:
        # A-jets: Z[tau+1] (net.Z[tau]) moves by W[tau+1][:, j]·a: order 1 only.
        for u in range(nu):
            wu = W[u * net.dims[tau] + j]
            for i in range(m):
                cur[u * Km + i] = wu
            for i in range(m, Km):
                cur[u * Km + i] = 0.0
    while tau < L - 1:
        # Activation jets of hidden layer tau+1 (in place in cur), times dropout.
        for u in range(nu):
            _act_jet_rows(net.act[tau], net.G[tau] + u * m, net.dG[tau] + u * m, cur + u * Km,
                          tmp, tmp + Km, 1.0,
                          NULL if net.scale[tau] == NULL else net.scale[tau] + u * m, K, m)
        # Next layer: one GEMM over every order and example.
        nn = net.dims[tau + 2]
        _matmul(net.W[tau + 1], cur, nxt, <int> nn, <int> Km, <int> nu)
        sw = cur
        cur = nxt
        nxt = sw
        nu = nn
        tau += 1
    # G from the coefficients, relative to |c_1| floored at the unit's mean
    # |c_1| (an example whose first term happens to vanish keeps a growth
    # measured on the unit's scale instead of an infinite one).
    c1 = 0.0
    for i in range(m):
        _loss_jet(net, cur, i, K, coef + i * K, loss)
        c1 += fabs(coef[i * K])
    c1 = c1 / m
    for i in range(m):
        wu = max(fabs(coef[i * K]), c1)
        g = 0.0
        for n in range(2, K + 1):
            if coef[i * K + n - 1] != 0.0:
                if wu == 0.0:
                    g = INFINITY
                    break
                r = (fabs(coef[i * K + n - 1]) / wu) ** (1.0 / (n - 1))
                if r > g:
                    g = r
        grow[i] = g


cdef double _jet_output(const Net *net, int t, Py_ssize_t j, Scratch *sc,
                        Py_ssize_t ns, Py_ssize_t *nfall) noexcept nogil:
    """Σ_i (ψ(a⁺) − ψ(a⁻)) from the stored coefficients, each example as
    (a⁺ − a⁻)·Σ_n c_n·Σ_{k<n} a⁺^k a⁻^(n−1−k) (no difference of two sums).

    An example whose step is outside the accepted radius (q = 2·G·max|a⁺|,|a⁻|
    above qmax, see the module docstring) is left out and moved, in order,
    to the front of S/da: nfall of them, for the exact propagation.
    """
    cdef int K = net.jet_order[t], n
    cdef Py_ssize_t s, i, m = net.m, nf = 0
    cdef const double *cf
    cdef const double *gr = net.jet_grow[t] + j * m
    cdef double ap, am, h, pm, acc, total = 0.0, qmax = net.jet_qmax[t]
    for s in range(ns):
        i = sc.S[s]
        ap = sc.da[s]
        am = sc.da[m + s]
        # (the NaN of a 0·∞ fails the test too)
        if not (2.0 * gr[i] * max(fabs(ap), fabs(am)) <= qmax):
            sc.S[nf] = i
            sc.da[nf] = ap
            sc.da[m + nf] = am
            nf += 1
            continue
        cf = net.jet[t] + (j * m + i) * K
        h = 1.0
        pm = 1.0
        acc = cf[0]
        for n in range(2, K + 1):
            pm = pm * am
            h = ap * h + pm
            acc += cf[n - 1] * h
        total += (ap - am) * acc
    nfall[0] = nf
    return total


cdef bint _jet_output_z(const Net *net, const Coord *c, Scratch *sc, double *total) noexcept nogil:
    """Σ_i (ψ(δ_i) − ψ(−δ_i)) = Σ_i 2·Σ_{n odd} c_n·δ_iⁿ for the Z-jets of a
    weight (δ_i = ε·A[t][k, i]) or bias (δ_i = ε) of row j: the even terms
    cancel exactly and are never formed. Examples outside the accepted
    radius are marked in sc.bt (1.0) and False is returned; the caller
    propagates them."""
    cdef int K = net.jet_order[c.t], n
    cdef Py_ssize_t i, m = net.m
    cdef const double *cf = net.jet[c.t] + c.j * m * K
    cdef const double *gr = net.jet_grow[c.t] + c.j * m
    cdef const double *x = NULL if c.k < 0 else net.A[c.t] + c.k * m
    cdef double d, d2, acc, tot = 0.0, qmax = net.jet_qmax[c.t], eps = net.eps
    cdef bint ok = True
    for i in range(m):
        d = eps if x == NULL else eps * x[i]
        if not (2.0 * gr[i] * fabs(d) <= qmax):
            sc.bt[i] = 1.0
            ok = False
            continue
        sc.bt[i] = 0.0
        d2 = d * d
        acc = 0.0
        n = K - 1 if K % 2 == 0 else K  # the highest odd order
        while n >= 1:
            acc = acc * d2 + cf[i * K + n - 1]
            n -= 2
        tot += d * acc
    total[0] = 2.0 * tot
    return ok
