"""Finite differences of any Python callable, and the norms of the report."""
from cython.parallel cimport prange
from libc.math cimport INFINITY, fabs, isfinite, sqrt
from libc.stdlib cimport free, malloc

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
        except NonFiniteValue:
            raise
        except Exception as e:
            # f's own error: say where the check was (Python 3.11+ notes)
            if hasattr(e, "add_note"):
                side = "+" if theta[i] == plus else "-"
                e.add_note(f"fastgrad: raised while evaluating {name} at theta index {i} "
                           f"{side} epsilon ({name} was fine at theta itself)")
            raise
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

    Accepted: Python and NumPy real numbers (not bool, not float16), and
    real arrays holding exactly one value (a ``(1, 1)`` cost is common in
    course code), NumPy's or any that NumPy reads (a torch scalar). An int is taken (``max(0, x)`` is 0, an int, on its flat
    side); an f whose values are all whole numbers is caught from its
    values (:func:`fastgrad.gradcheck.calls.whole_number_values`).

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
    if isinstance(value, (np.float16, np.ndarray)) and value.dtype == np.float16:
        raise TypeError(
            f"{name} must return a float32 or float64 number, got float16: its ~3 digits "
            "cannot resolve a finite difference (every difference is rounding noise). "
            "Compute the value in float32 or float64 (e.g. float(np.sum(x, dtype=np.float32)))")
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
    if hasattr(value, "__array__"):
        # a torch/jax/cupy scalar: as NumPy reads it (a torch tensor that
        # requires grad refuses, and the message says what to return)
        try:
            arr = np.asarray(value)
        except Exception as e:
            raise TypeError(f"{name} returned a {type(value).__name__} that NumPy cannot "
                            f"read ({e}); return a float (e.g. loss.item())") from None
        if arr.dtype != object:
            return as_real_scalar(arr, name)
    raise TypeError(f"{name} must return a real number, got {type(value).__name__}")


cdef inline void _ssq_step(double v, double* scale, double* ssq) noexcept nogil:
    """One step of the scaled sum of squares of LAPACK's dnrm2: ‖v₁..v_k‖₂ =
    scale·√ssq, so huge or tiny entries neither overflow nor underflow."""
    cdef double a
    if v != 0.0:
        a = fabs(v)
        if scale[0] < a:
            ssq[0] = 1.0 + ssq[0] * (scale[0] / a) * (scale[0] / a)
            scale[0] = a
        else:
            ssq[0] += (a / scale[0]) * (a / scale[0])


cdef enum:
    # Entries per step of :func:`_three_norms_acc`' vectorized path.
    NORM_BLOCK = 64


cdef inline void _scan_worst(const double *x, const double *y, const unsigned char *skip,
                             Py_ssize_t lo, Py_ssize_t hi, double *top,
                             Py_ssize_t *best) noexcept nogil:
    """Entries lo:hi of ``np.argmax(|x − y|)`` (skipped entries count as −1):
    a NaN, or a value above ``top``, becomes the best; the first NaN stays."""
    cdef Py_ssize_t k
    cdef double e
    for k in range(lo, hi):
        if top[0] != top[0]:
            return
        if skip != NULL and skip[k]:
            continue
        e = fabs(x[k] - y[k])
        if e > top[0] or e != e:
            top[0] = e
            best[0] = k


cdef void _three_norms_acc(const double *x, const double *y, const unsigned char *skip,
                           Py_ssize_t n, double *st, double *top,
                           Py_ssize_t *best) noexcept nogil:
    """Feed x[0:n], y[0:n] to the three recurrences of ``st`` =
    (scale, ssq) of ‖x − y‖₂, of ‖x‖₂ and of ‖y‖₂: index order, each by
    :func:`_ssq_step`, so the bits are those of three separate passes, and
    feeding a vector in consecutive parts gives the bits of the whole. An
    entry with ``skip[i]`` nonzero (``skip`` may be NULL) is left out: the
    bits of the recurrence over the other entries alone. With ``best`` (not
    NULL), also ``np.argmax`` of ``|x − y|`` with skipped entries as −1
    (start with ``top = −1, best = 0``): ``best`` its index, ``top`` its value.

    The recurrence is bound by its divisions, and only its rare rescaling
    steps depend on the previous entry. So NORM_BLOCK entries at a time: when
    none of them raises a scale (every ``scale`` > 0 and no ``scale < |v|``),
    each entry takes the recurrence's other branch, ``ssq += (|v|/scale)²``
    with the same scale, and the divisions of the block are independent (the
    compiler vectorizes them) while the additions stay one by one in index
    order. A zero (or skipped) entry then adds ``(0/scale)² = +0``, which
    leaves ``ssq`` (≥ 1) unchanged, as skipping it does; a NaN adds NaN
    either way. Any other block runs the scalar recurrence. Same bits, ~2x
    faster. The argmax reads the block's ``|x − y|`` while they are at hand
    (a second pass over the arrays costs as much again): only a block with
    a value above ``top`` or a NaN is scanned."""
    cdef double s0 = st[0], q0 = st[1], s1 = st[2], q1 = st[3], s2 = st[4], q2 = st[5]
    cdef double t0[NORM_BLOCK]
    cdef double t1[NORM_BLOCK]
    cdef double t2[NORM_BLOCK]
    cdef Py_ssize_t i = 0, k
    cdef int grow, hit
    cdef double tp, g0, g1, g2, gh
    while i < n:
        grow = n - i < NORM_BLOCK or not (s0 > 0.0 and s1 > 0.0 and s2 > 0.0)
        if not grow:
            if skip == NULL:
                for k in range(NORM_BLOCK):
                    t0[k] = fabs(x[i + k] + (-1.0) * y[i + k])
                    t1[k] = fabs(x[i + k])
                    t2[k] = fabs(y[i + k])
            else:
                for k in range(NORM_BLOCK):
                    t0[k] = 0.0 if skip[i + k] else fabs(x[i + k] + (-1.0) * y[i + k])
                    t1[k] = 0.0 if skip[i + k] else fabs(x[i + k])
                    t2[k] = 0.0 if skip[i + k] else fabs(y[i + k])
            # t0 is |x − y| (x + (−1)·y is x − y exactly), 0 where skipped.
            # Counted in doubles (exact): GCC vectorizes that on baseline
            # x86-64 (SSE2), not an int OR of the comparisons.
            tp = top[0] if best != NULL else INFINITY
            g0 = g1 = g2 = gh = 0.0
            for k in range(NORM_BLOCK):
                g0 += 1.0 if s0 < t0[k] else 0.0
                g1 += 1.0 if s1 < t1[k] else 0.0
                g2 += 1.0 if s2 < t2[k] else 0.0
                gh += 0.0 if t0[k] <= tp else 1.0  # above tp, or NaN
            grow = g0 + g1 + g2 > 0.0
            hit = gh > 0.0
            if best != NULL and hit and not grow:
                _scan_worst(x, y, skip, i, i + NORM_BLOCK, top, best)
        if grow:
            if best != NULL:
                _scan_worst(x, y, skip, i, min(n, i + NORM_BLOCK), top, best)
            for k in range(i, min(n, i + NORM_BLOCK)):
                if skip != NULL and skip[k]:
                    continue
                _ssq_step(x[k] + (-1.0) * y[k], &s0, &q0)
                _ssq_step(x[k], &s1, &q1)
                _ssq_step(y[k], &s2, &q2)
        else:
            for k in range(NORM_BLOCK):
                t0[k] = (t0[k] / s0) * (t0[k] / s0)
                t1[k] = (t1[k] / s1) * (t1[k] / s1)
                t2[k] = (t2[k] / s2) * (t2[k] / s2)
            for k in range(NORM_BLOCK):
                q0 += t0[k]
                q1 += t1[k]
                q2 += t2[k]
        i += NORM_BLOCK
    st[0] = s0
    st[1] = q0
    st[2] = s1
    st[3] = q1
    st[4] = s2
    st[5] = q2


cdef inline void _norms_start(double *st) noexcept nogil:
    cdef int k
    for k in range(3):
        st[2 * k] = 0.0
        st[2 * k + 1] = 1.0


cdef inline void _norms_end(const double *st, double *out) noexcept nogil:
    """``out`` = (difference, ‖x − y‖₂, ‖x‖₂, ‖y‖₂); the difference is 0
    when both norms are."""
    out[1] = st[0] * sqrt(st[1])
    out[2] = st[2] * sqrt(st[3])
    out[3] = st[4] * sqrt(st[5])
    out[0] = 0.0 if out[2] + out[3] == 0.0 else out[1] / (out[2] + out[3])


cdef void _whole_pass(const double **ap, const double **np_, const Py_ssize_t *size,
                      Py_ssize_t B, const unsigned char *sp, double *w_all,
                      double *w_use) noexcept nogil:
    """The norms over all blocks in order, as one vector: every entry
    (``w_all``) and the entries not skipped (``w_use``; = ``w_all`` when
    ``sp`` is NULL)."""
    cdef double st_all[6]
    cdef double st_use[6]
    cdef Py_ssize_t b, off = 0
    _norms_start(st_all)
    _norms_start(st_use)
    for b in range(B):
        if size[b]:
            _three_norms_acc(ap[b], np_[b], NULL, size[b], st_all, NULL, NULL)
            if sp != NULL:
                _three_norms_acc(ap[b], np_[b], sp + off, size[b], st_use, NULL, NULL)
        off += size[b]
    _norms_end(st_all, w_all)
    if sp == NULL:
        _norms_end(st_all, w_use)
    else:
        _norms_end(st_use, w_use)


cdef void _blocks_pass(const double **ap, const double **np_, const Py_ssize_t *size,
                       Py_ssize_t B, const unsigned char *sp, double *rows,
                       Py_ssize_t *worst, double *werr) noexcept nogil:
    """Each block's norms over its entries not skipped (``rows``, 4 per
    block) and its worst entry (``worst``, ``werr``)."""
    cdef double st[6]
    cdef Py_ssize_t b, off = 0
    for b in range(B):
        _norms_start(st)
        werr[b] = -1.0
        worst[b] = 0
        if size[b]:
            _three_norms_acc(ap[b], np_[b], NULL if sp == NULL else sp + off, size[b], st,
                             &werr[b], &worst[b])
        _norms_end(st, rows + 4 * b)
        off += size[b]


def block_norms(list analytic, list numerical, const unsigned char[::1] skip=None,
                bint whole=False, int n_threads=1):
    """The report's norms of every block, and optionally over all of θ.

    For each block b, ``relative_difference(a_b[use], n_b[use])`` and the
    largest ``|a − n|`` there, to the bits of those computed one block at a
    time; with ``whole``, also ``relative_difference`` of the concatenated
    vectors, with and without the skipped entries, to the bits of the
    concatenation (the recurrence carries across blocks; nothing is
    concatenated). The whole-θ norms and the blocks' are separate passes:
    with ``n_threads`` ≥ 2 they run on two threads side by side.

    Parameters
    ----------
    analytic, numerical : lists of B ndarrays (n_b,) float64, C-contiguous
        IN  the blocks of ``a`` and ``n``, in θ order (views are fine).
    skip : ndarray (P,) uint8 (a bool array's bytes) or None
        IN  entries left out of the blocks' rows and of the whole-θ "use"
        norms (unchecked or at a kink); ``P = Σ n_b``.
    whole : bool
        Also the norms over θ.
    n_threads : int
        1, or 2 (or more) to run the two passes side by side; the bits do not
        depend on it.

    Returns
    -------
    rows : ndarray (B, 4) float64
        Per block: difference, ‖a − n‖₂, ‖a‖₂, ‖n‖₂ over its entries not skipped.
    worst : ndarray (B,) intp
        Per block: ``np.argmax`` of ``|a − n|`` with skipped entries as −1.
    worst_error : ndarray (B,) float64
        ``|a − n|`` there (−1 if every entry is skipped).
    whole_all, whole_use : ndarray (4,) float64 or None
        With ``whole``: difference, ‖a − n‖₂, ‖a‖₂, ‖n‖₂ over every entry, and
        over the entries not skipped.
    """
    cdef Py_ssize_t B = len(analytic), b, P = 0
    cdef double[:, ::1] rows
    cdef Py_ssize_t[::1] worst
    cdef double[::1] werr, w_all, w_use
    cdef const double[::1] av, nv
    cdef const double **ap
    cdef const double **np_
    cdef Py_ssize_t *size
    cdef const unsigned char *sp = NULL
    cdef Py_ssize_t part
    if len(numerical) != B:
        raise ValueError("analytic and numerical must have the same number of blocks")
    rows_arr = np.zeros((B, 4))
    worst_arr = np.zeros(B, dtype=np.intp)
    werr_arr = np.full(B, -1.0)
    all_arr, use_arr = np.zeros(4), np.zeros(4)
    rows, worst, werr, w_all, w_use = rows_arr, worst_arr, werr_arr, all_arr, use_arr
    ap = <const double **> malloc(max(B, 1) * sizeof(double *))
    np_ = <const double **> malloc(max(B, 1) * sizeof(double *))
    size = <Py_ssize_t *> malloc(max(B, 1) * sizeof(Py_ssize_t))
    if ap == NULL or np_ == NULL or size == NULL:
        free(ap)
        free(np_)
        free(size)
        raise MemoryError("block_norms: no memory for the block table")
    try:
        keep = []  # the memoryviews' owners stay alive through the nogil part
        for b in range(B):
            av, nv = analytic[b], numerical[b]
            if av.shape[0] != nv.shape[0]:
                raise ValueError(f"block {b}: analytic and numerical have different lengths")
            keep.append((analytic[b], numerical[b]))
            size[b] = av.shape[0]
            ap[b] = &av[0] if size[b] else NULL
            np_[b] = &nv[0] if size[b] else NULL
            P += size[b]
        if skip is not None:
            if skip.shape[0] != P:
                raise ValueError(f"skip must have one entry per coordinate ({P}), "
                                 f"got {skip.shape[0]}")
            if P:
                sp = &skip[0]
        with nogil:
            if n_threads >= 2 and whole and P:
                # prange, not threadid(): every part runs whatever team
                # OpenMP gives (OMP_THREAD_LIMIT, OMP_DYNAMIC)
                for part in prange(2, num_threads=2, schedule="static", chunksize=1):
                    if part == 0:
                        _whole_pass(ap, np_, size, B, sp, &w_all[0], &w_use[0])
                    else:
                        _blocks_pass(ap, np_, size, B, sp, &rows[0, 0], &worst[0], &werr[0])
            else:
                if whole:
                    _whole_pass(ap, np_, size, B, sp, &w_all[0], &w_use[0])
                if B:
                    _blocks_pass(ap, np_, size, B, sp, &rows[0, 0], &worst[0], &werr[0])
    finally:
        free(ap)
        free(np_)
        free(size)
    if not whole:
        return rows_arr, worst_arr, werr_arr, None, None
    return rows_arr, worst_arr, werr_arr, all_arr, use_arr


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
    cdef double st[6]
    cdef double out[4]
    if numerical.shape[0] != n:
        raise ValueError("analytic and numerical must have the same length")
    if n == 0:
        return 0.0, 0.0, 0.0, 0.0
    with nogil:
        _norms_start(st)
        _three_norms_acc(&analytic[0], &numerical[0], NULL, n, st, NULL, NULL)
        _norms_end(st, out)
    return out[0], out[1], out[2], out[3]


def vjp_differences(f, double[::1] theta, object view, const double[::1] u,
                    const double[::1] y0, const double[::1] plus_all,
                    const double[::1] minus_all, const Py_ssize_t[::1] coords,
                    double[::1] out, double[:, ::1] one, object shape, convert,
                    non_finite, progress=None):
    """Vector-Jacobian product by central differences, for ``check_vjp``.

    For each coordinate i of ``coords``: ``y± = f(view)`` at ``θ_i = plus_all[i]``
    and ``minus_all[i]``, then in one pass over the outputs

        out[c]    = Σ u·(y⁺ − y⁻) / (plus_all[i] − minus_all[i])
        one[c, 0] = Σ u·(y⁺ − y0),   one[c, 1] = Σ u·(y⁻ − y0)

    each difference taken elementwise before the product (no cancellation
    between two large sums), and no temporary array.

    Parameters
    ----------
    f : callable
        Called as ``f(view)``; returns the layer's output.
    theta : (P,) float64, INOUT
        The working θ, perturbed in place; every entry restored to its
        saved bits, also when ``f`` raises.
    view : object
        What ``f`` receives (read-only views of ``theta``).
    u, y0 : (n,) float64, IN
        The upstream gradient and ``f(θ)``, flattened.
    plus_all, minus_all : (P,) float64, IN
        The perturbed values of every coordinate.
    coords : (K,) intp, IN
    out : (K,) float64, OUT
    one : (K, 2) float64, OUT
    shape : tuple
        The shape of ``f(θ)``; an output of that shape, float64, C-contiguous
        and owning its memory is used in place (no copy).
    convert : callable
        ``convert(y, sign, i, copy) -> (flat float64 array, owned)`` for any
        other output: checks it, and copies it when it may alias θ (or when
        ``copy``). ``owned`` tells it cannot alias another output.
    non_finite : callable
        ``non_finite(y_plus, y_minus, i)``: called when a sum is not finite;
        raises naming the coordinate when an output holds NaN or inf.
    progress : callable, optional
        Called as ``progress(done)`` now and then.

    Notes
    -----
    ``f`` may return the same buffer at every call (a preallocated output):
    then y⁻ overwrites y⁺. Seen as two outputs sharing memory, the
    coordinate is evaluated again and every later output copied.
    """
    cdef Py_ssize_t c, i, j, K = coords.shape[0], n = u.shape[0]
    cdef double orig, d, a, b, dp
    cdef const double[::1] yp
    cdef const double[::1] ym
    cdef bint copy = False, owned_p, owned_m
    if out.shape[0] != K or one.shape[0] != K:
        raise ValueError("out and one must have one row per coordinate")
    for c in range(K):
        i = coords[c]
        orig = theta[i]
        while True:
            theta[i] = plus_all[i]
            try:
                rp = f(view)
                ap, owned_p = _plain(rp, shape, copy, convert, 1, i)
            finally:
                theta[i] = orig
            theta[i] = minus_all[i]
            try:
                rm = f(view)
                am, owned_m = _plain(rm, shape, copy, convert, -1, i)
            finally:
                theta[i] = orig
            if copy or (owned_p and owned_m and rp is not rm):
                break
            if not np.may_share_memory(ap, am):
                break
            copy = True  # f wrote y⁻ over y⁺: evaluate again, copying from now on
        yp = ap
        ym = am
        if yp.shape[0] != n or ym.shape[0] != n:
            raise ValueError("outputs must have as many entries as u")
        d = 0.0
        a = 0.0
        b = 0.0
        with nogil:
            for j in range(n):
                d += u[j] * (yp[j] - ym[j])
                a += u[j] * (yp[j] - y0[j])
                b += u[j] * (ym[j] - y0[j])
        if not (isfinite(d) and isfinite(a) and isfinite(b)):
            non_finite(ap, am, i)
        out[c] = d / (plus_all[i] - minus_all[i])
        one[c, 0] = a
        one[c, 1] = b
        if progress is not None and (c & 63) == 63:
            progress(c + 1)
    if progress is not None:
        progress(K)


cdef tuple _plain(object y, object shape, bint copy, object convert, int sign, Py_ssize_t i):
    """(flat float64 view, owns its memory) without a copy when ``y`` allows."""
    if (not copy and type(y) is np.ndarray and y.dtype == np.float64 and y.base is None
            and y.flags.c_contiguous and y.shape == shape):
        return y.reshape(-1), True
    return convert(y, sign, i, copy)
