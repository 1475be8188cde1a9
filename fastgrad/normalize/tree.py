"""Reproducible statistics: moments defined on fixed global blocks of rows,
merged by a canonical tree.

The rows are cut into blocks of ``B = CHUNK_SIZE`` (256) by their *global*
row index: block ``b`` holds rows ``b*B`` to ``(b+1)*B``. A full block's
moments come from the compiled kernel relative to the block's first sample,
so they depend on the block's rows only. Blocks are merged by a fixed binary
tree: node ``(level, k)`` covers blocks ``k*2**level`` to
``(k+1)*2**level`` and is always the merge of its two children
``(level-1, 2k)`` and ``(level-1, 2k+1)``. The statistics of ``N`` rows are
the maximal aligned nodes of the ``N // B`` full blocks folded left to right,
then the last partial block (``N % B`` rows). The tree's shape depends only
on ``N``, so one array, ``partial_fit`` batches of any sizes, dask chunks,
threads or worker processes give the same bits.

A :class:`TreeState` covers rows ``start`` to ``stop`` of the global
sequence: a list, in row order, of raw row segments (the parts of blocks its
edges cut, kept as they are, < B rows each) and complete nodes. Two adjacent
states combine (:func:`combine`) by joining raw segments into blocks and
merging sibling nodes; any combination order gives the same nodes.

Missing values (NaN) and ``sample_weight``: a block whose rows are all
unweighted and complete has its moments from the compiled kernel, with the
count ``B`` for every feature (``W`` None); any other block (a weighted row,
a NaN) from :func:`_masked_blocks`, a fixed-order NumPy form of the same
moments with a per-feature weight ``W``. Which form a block gets depends on
its own rows only, and merges with per-feature weights are the same
operations elementwise, so weighted and NaN streams get the same bits for any
batching too. Raw rows keep their weights (NaN marks an unweighted row).
"""

import numpy as np

from fastgrad.normalize import _normalizer_kernel
from fastgrad.normalize.inputs import kernel_view
from fastgrad.normalize.stats import Moments

__all__ = ["TreeState", "chunk_state", "combine", "finalize", "BLOCK"]

BLOCK = _normalizer_kernel.CHUNK_SIZE


def _merge(a, b, n_a, n_b):
    """Chan's update of ``(ref, dmean, m2)`` triples with counts ``n_a`` and
    ``n_b`` (Python numbers, the same for every feature, or per-feature
    weight arrays); the operations of :func:`fastgrad.normalize.stats.merge`,
    elementwise, so a vectorized merge of many pairs gives the bits of
    merging each pair alone, and an array of equal counts the bits of the
    number."""
    ref_a, dm_a, m2_a = a
    ref_b, dm_b, m2_b = b
    if np.ndim(n_a) == 0 and np.ndim(n_b) == 0:
        n = float(n_a + n_b)
        with np.errstate(all="ignore"):  # NaN/inf are detected by the caller
            delta = ((ref_b - ref_a) + dm_b) - dm_a
            dmean = dm_a + delta * (float(n_b) / n)
            m2 = m2_a + m2_b + delta * delta * (float(n_a) * float(n_b) / n)
        return ref_a, dmean, m2
    n_a, n_b = np.asarray(n_a, dtype=np.float64), np.asarray(n_b, dtype=np.float64)
    n = n_a + n_b
    with np.errstate(all="ignore"):
        delta = ((ref_b - ref_a) + dm_b) - dm_a
        dmean = dm_a + delta * (n_b / n)
        m2 = m2_a + m2_b + delta * delta * (n_a * n_b / n)
    # A side that saw nothing of a feature (all missing, or zero weights).
    a0, b0 = n_a == 0, n_b == 0
    ref = np.where(a0, ref_b, ref_a)
    dmean = np.where(a0, dm_b, np.where(b0, dm_a, dmean))
    m2 = np.where(a0, m2_b, np.where(b0, m2_a, m2))
    return ref, dmean, m2


def _weights(W, level, shape):
    """A node's per-feature weights (``W`` None: the full count)."""
    return np.full(shape, float(BLOCK << level)) if W is None else W


def _merge_nodes(a, b, W_a, W_b, level, shape):
    """Two sibling nodes (or arrays of them) of ``level``: value and weights."""
    if W_a is None and W_b is None:
        n = BLOCK << level
        return _merge(a, b, n, n), None
    W_a, W_b = _weights(W_a, level, shape), _weights(W_b, level, shape)
    return _merge(a, b, W_a, W_b), W_a + W_b


class TreeState:
    """Rows ``start:stop`` as raw segments and complete tree nodes.

    ``items`` holds, in row order, ``("raw", rows, w)`` with ``rows`` an
    ``(r, n_features)`` float32/float64 array and ``w`` None (unweighted)
    or its ``(r,)`` float64 weights (NaN: an unweighted row), and
    ``("node", level, k, (ref, dmean, m2), W)`` with ``W`` None (every
    feature counted fully) or the ``(n_features,)`` weights.
    """

    __slots__ = ("start", "stop", "n_features", "items")

    def __init__(self, start, stop, n_features, items):
        self.start, self.stop, self.n_features, self.items = start, stop, n_features, items


def _sum_rows(x):
    """``x.sum(axis=1)`` of ``(n_blocks, BLOCK, d)`` adding rows in order, so
    each block's bits depend on its rows only (never on how many blocks
    were summed at once, nor on NumPy's choice of pairwise summation)."""
    acc = x[:, 0, :].copy()
    for i in range(1, x.shape[1]):
        acc += x[:, i, :]
    return acc


def _masked_blocks(A, w):
    """``(ref, dmean, m2, W)`` of each block of rows of ``A`` (the last one
    may be partial) with NaN as missing and weights ``w`` (None or NaN: 1):
    deviations from the block's first valid value per feature, two passes.
    Blocks without NaN skip the masking with the same operations on the same
    values, so a block's bits never depend on the blocks beside it."""
    r, d = A.shape
    nb = -(-r // BLOCK)
    if r == nb * BLOCK:
        X = np.asarray(A, dtype=np.float64).reshape(nb, BLOCK, d)
    else:  # a partial last block: padded with missing rows
        X = np.full((nb * BLOCK, d), np.nan)
        X[:r] = A
        X = X.reshape(nb, BLOCK, d)
    ww = np.ones(nb * BLOCK)
    if w is not None:
        ww[:r] = np.where(np.isnan(w), 1.0, w)
    ww = ww.reshape(nb, BLOCK, 1)
    # (min propagates NaN: one read, no mask, for the common complete case)
    valid = None if r == nb * BLOCK and not np.isnan(X.min()) else ~np.isnan(X)
    with np.errstate(all="ignore"):  # inf is refused by the caller
        if valid is None:
            ref = X[:, 0, :].copy()
            dev = X - ref[:, None, :]
            W = np.broadcast_to(_sum_rows(ww), (nb, d)).copy()
        else:
            seen = valid.any(axis=1)
            first = valid.argmax(axis=1)
            ref = np.where(seen, np.take_along_axis(X, first[:, None, :], axis=1)[:, 0, :], 0.0)
            ww = np.where(valid, ww, 0.0)
            dev = np.where(valid, X - ref[:, None, :], 0.0)
            W = _sum_rows(ww)
        has = W > 0
        t = ww * dev
        dmean = np.where(has, _sum_rows(t) / np.where(has, W, 1.0), 0.0)
        dev -= dmean[:, None, :]
        if valid is not None:
            dev[~valid] = 0.0
        np.multiply(ww, dev, out=t)
        t *= dev
        m2 = _sum_rows(t)
    return ref, dmean, m2, W


def _runs(idx, longest):
    """Consecutive runs ``(first, stop)`` of the sorted ints ``idx``, each at
    most ``longest`` long."""
    out = []
    for run in np.split(idx, np.flatnonzero(np.diff(idx) != 1) + 1):
        for j in range(0, run.size, longest):
            part = run[j : j + longest]
            out.append((int(part[0]), int(part[-1]) + 1))
    return out


def _block_parts(A, w, n_threads):
    """Per-block ``(ref, dmean, m2)`` arrays of shape ``(n_blocks, d)`` of
    ``A`` (rows), whose first row starts a block, and the blocks' weights
    (None when every block is unweighted and complete)."""
    r, d = A.shape
    nb = -(-r // BLOCK)
    weighted = None if w is None else ~np.isnan(np.resize(w, nb * BLOCK)).reshape(nb, BLOCK)
    if weighted is not None:
        weighted[-1, r - (nb - 1) * BLOCK :] = False  # np.resize repeats: not rows
    if weighted is not None and weighted.all(axis=1).all():
        ref, dm, m2 = np.zeros((nb, d)), np.zeros((nb, d)), np.zeros((nb, d))
        need = np.ones(nb, dtype=bool)
    else:
        K, transposed, _ = kernel_view(A)
        ref, dm, m2 = np.empty((nb, d)), np.empty((nb, d)), np.empty((nb, d))
        _normalizer_kernel.block_moments(K, transposed, ref, dm, m2, n_threads)
        # NaN (or inf) in a block always reaches its moments.
        need = ~(np.isfinite(dm) & np.isfinite(m2)).all(axis=1)
        if weighted is not None:
            need |= weighted.any(axis=1)
    if not need.any():
        return (ref, dm, m2), None
    sizes = np.minimum(BLOCK, r - BLOCK * np.arange(nb)).astype(np.float64)
    W = np.repeat(sizes[:, None], d, axis=1)
    group = max(1, (1 << 21) // (BLOCK * max(d, 1)))  # 16 MB per temporary
    for b0, b1 in _runs(np.flatnonzero(need), group):
        rows = slice(b0 * BLOCK, min(r, b1 * BLOCK))
        part = _masked_blocks(A[rows], None if w is None else w[rows])
        ref[b0:b1], dm[b0:b1], m2[b0:b1], W[b0:b1] = part
    return (ref, dm, m2), W


def _nodes_of_blocks(A, w, b0, n_threads):
    """The maximal aligned nodes of the full blocks in ``A`` (whose first
    row is the first row of block ``b0`` and whose length is a multiple of
    BLOCK), each pair of siblings merged level by level, vectorized."""
    parts, W = _block_parts(A, w, n_threads)
    d = A.shape[1]
    i0, i1 = b0, b0 + parts[0].shape[0]
    left, right = [], []
    level = 0
    while i0 < i1:
        if i0 % 2:
            left.append(("node", level, i0, tuple(p[0] for p in parts), _row(W, 0)))
            parts, W = tuple(p[1:] for p in parts), None if W is None else W[1:]
            i0 += 1
        if (i1 - i0) % 2:
            right.append(("node", level, i1 - 1, tuple(p[-1] for p in parts), _row(W, -1)))
            parts, W = tuple(p[:-1] for p in parts), None if W is None else W[:-1]
            i1 -= 1
        if i0 >= i1:
            break
        a = tuple(p[0::2] for p in parts)
        b = tuple(p[1::2] for p in parts)
        Wa, Wb = (None, None) if W is None else (W[0::2], W[1::2])
        parts, W = _merge_nodes(a, b, Wa, Wb, level, (a[0].shape[0], d))
        i0, i1 = i0 // 2, i1 // 2
        level += 1
    return left + right[::-1]


def _row(W, i):
    return None if W is None else W[i]


def chunk_state(A, start, n_threads=1, w=None):
    """State of the rows ``A`` (``(r, n_features)``, dense float32/64, NaN
    as missing) whose first row is global row ``start``, with weights ``w``
    (None: unweighted)."""
    r, d = A.shape
    stop = start + r
    b0 = -(-start // BLOCK)
    b1 = stop // BLOCK

    def raw(a, b):
        return ("raw", np.array(A[a:b], order="C"), None if w is None else w[a:b].copy())

    if b0 >= b1:
        return TreeState(start, stop, d, [raw(0, r)] if r else [])
    h = b0 * BLOCK - start
    t = b1 * BLOCK - start
    items = [raw(0, h)] if h else []
    items.extend(_nodes_of_blocks(A[h:t], None if w is None else w[h:t], b0, n_threads))
    if t < r:
        items.append(raw(t, r))
    return TreeState(start, stop, d, items)


def _push(stack, item, d):
    """Append a node, merging it with its left sibling while there is one."""
    while stack and stack[-1][0] == "node":
        _, lv, k, val, W = item
        _, lv0, k0, val0, W0 = stack[-1]
        if lv0 != lv or k0 % 2 or k0 + 1 != k:
            break
        stack.pop()
        val, W = _merge_nodes(val0, val, W0, W, lv, (d,))
        item = ("node", lv + 1, k0 // 2, val, W)
    stack.append(item)


def combine(s, t):
    """State of ``s`` followed by ``t`` (``s.stop == t.start``)."""
    if s.stop != t.start:
        raise ValueError(f"states are not adjacent: rows {s.start}:{s.stop} and {t.start}:{t.stop}")
    stack = []
    row = s.start
    pending = None  # (first row, list of raw items)
    for item in list(s.items) + list(t.items):
        if item[0] == "raw":
            if pending is None:
                pending = (row, [item])
            else:
                pending[1].append(item)
            row += item[1].shape[0]
            continue
        if pending is not None:
            _flush(stack, pending, s.n_features)
            pending = None
        _push(stack, item, s.n_features)
        row += BLOCK << item[1]
    if pending is not None:
        _flush(stack, pending, s.n_features)
    return TreeState(s.start, t.stop, s.n_features, stack)


def _join(raws):
    """Raw items as one: rows concatenated, weights too (NaN for the rows of
    an unweighted item when some other item is weighted)."""
    if len(raws) == 1:
        return raws[0][1], raws[0][2]
    A = np.concatenate([it[1] for it in raws], axis=0)
    if all(it[2] is None for it in raws):
        return A, None
    w = np.concatenate([np.full(it[1].shape[0], np.nan) if it[2] is None else it[2] for it in raws])
    return A, w


def _flush(stack, pending, d):
    """Turn joined raw rows into full blocks where they complete one."""
    r0, raws = pending
    A, w = _join(raws)
    r1 = r0 + A.shape[0]
    b0 = -(-r0 // BLOCK)
    b1 = r1 // BLOCK

    def raw(a, b):
        return ("raw", np.ascontiguousarray(A[a:b]), None if w is None else w[a:b])

    if b0 >= b1:
        stack.append(raw(0, A.shape[0]))
        return
    h, t = b0 * BLOCK - r0, b1 * BLOCK - r0
    if h:
        stack.append(raw(0, h))
    for item in _nodes_of_blocks(A[h:t], None if w is None else w[h:t], b0, 1):
        _push(stack, item, d)
    if t < A.shape[0]:
        stack.append(raw(t, A.shape[0]))


def finalize(state):
    """The :class:`Moments` of a state that starts at row 0: its nodes
    folded left to right, then the last partial block."""
    if state.start != 0:
        raise ValueError("a state must start at row 0 to give statistics")
    acc, n_acc = None, 0
    d = state.n_features
    for item in state.items:
        if item[0] == "node":
            val, n = item[3], (BLOCK << item[1]) if item[4] is None else item[4]
        else:
            parts, W = _block_parts(item[1], item[2], 1)
            val = tuple(p[0] for p in parts)
            n = item[1].shape[0] if W is None else W[0]
        if acc is None:
            acc, n_acc = val, n
        else:
            acc = _merge(acc, val, n_acc, n)
            n_acc = n_acc + n
    if acc is None:
        return Moments(np.zeros(d), np.full(d, np.nan), np.zeros(d), np.zeros(d))
    ref, dmean, m2 = acc
    n = np.broadcast_to(np.asarray(n_acc, dtype=np.float64), (d,)).copy()
    return Moments(
        np.array(np.broadcast_to(ref, (d,)), dtype=np.float64),
        np.where(n > 0, dmean, np.nan),
        np.where(n > 0, np.maximum(m2, 0.0), 0.0),
        n,
    )


def is_finite(state):
    """False if infinity (or an overflow) reached any node or raw row of
    ``state`` (NaN in raw rows is a missing value)."""
    for item in state.items:
        if item[0] == "raw":
            if np.isinf(item[1]).any():
                return False
        elif not all(np.isfinite(p).all() for p in item[3][1:]):
            return False
    return True
