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
"""

import numpy as np

from fastgrad.normalize import _normalizer_kernel
from fastgrad.normalize.inputs import kernel_view
from fastgrad.normalize.stats import Moments

__all__ = ["TreeState", "chunk_state", "combine", "finalize", "BLOCK"]

BLOCK = _normalizer_kernel.CHUNK_SIZE


def _merge(a, b, n_a, n_b):
    """Chan's update of ``(ref, dmean, m2)`` triples with counts ``n_a`` and
    ``n_b`` (Python numbers, the same for every feature); the operations of
    :func:`fastgrad.normalize.stats.merge`, elementwise, so a vectorized
    merge of many pairs gives the bits of merging each pair alone."""
    ref_a, dm_a, m2_a = a
    ref_b, dm_b, m2_b = b
    n = float(n_a + n_b)
    with np.errstate(all="ignore"):  # NaN/inf are detected by the caller
        delta = ((ref_b - ref_a) + dm_b) - dm_a
        dmean = dm_a + delta * (float(n_b) / n)
        m2 = m2_a + m2_b + delta * delta * (float(n_a) * float(n_b) / n)
    return ref_a, dmean, m2


class TreeState:
    """Rows ``start:stop`` as raw segments and complete tree nodes.

    ``items`` holds, in row order, ``("raw", rows)`` with ``rows`` an
    ``(r, n_features)`` float32/float64 array, and ``("node", level, k,
    (ref, dmean, m2))``.
    """

    __slots__ = ("start", "stop", "n_features", "items")

    def __init__(self, start, stop, n_features, items):
        self.start, self.stop, self.n_features, self.items = start, stop, n_features, items


def _block_parts(A, n_threads):
    """Per-block ``(ref, dmean, m2)`` arrays of shape ``(n_blocks, d)`` of
    ``A`` (rows), whose first row starts a block."""
    K, transposed, _ = kernel_view(A)
    nb = -(-A.shape[0] // BLOCK)
    d = A.shape[1]
    ref, dm, m2 = np.empty((nb, d)), np.empty((nb, d)), np.empty((nb, d))
    _normalizer_kernel.block_moments(K, transposed, ref, dm, m2, n_threads)
    return ref, dm, m2


def _nodes_of_blocks(A, b0, n_threads):
    """The maximal aligned nodes of the full blocks in ``A`` (whose first
    row is the first row of block ``b0`` and whose length is a multiple of
    BLOCK), each pair of siblings merged level by level, vectorized."""
    parts = _block_parts(A, n_threads)
    i0, i1 = b0, b0 + parts[0].shape[0]
    left, right = [], []
    level = 0
    while i0 < i1:
        n_child = BLOCK << level
        if i0 % 2:
            left.append(("node", level, i0, tuple(p[0] for p in parts)))
            parts = tuple(p[1:] for p in parts)
            i0 += 1
        if (i1 - i0) % 2:
            right.append(("node", level, i1 - 1, tuple(p[-1] for p in parts)))
            parts = tuple(p[:-1] for p in parts)
            i1 -= 1
        if i0 >= i1:
            break
        a = tuple(p[0::2] for p in parts)
        b = tuple(p[1::2] for p in parts)
        parts = _merge(a, b, n_child, n_child)
        i0, i1 = i0 // 2, i1 // 2
        level += 1
    return left + right[::-1]


def chunk_state(A, start, n_threads=1):
    """State of the rows ``A`` (``(r, n_features)``, dense float32/64,
    without NaN) whose first row is global row ``start``."""
    r, d = A.shape
    stop = start + r
    b0 = -(-start // BLOCK)
    b1 = stop // BLOCK
    if b0 >= b1:
        items = [("raw", np.array(A, order="C"))] if r else []
        return TreeState(start, stop, d, items)
    h = b0 * BLOCK - start
    t = b1 * BLOCK - start
    items = []
    if h:
        items.append(("raw", np.array(A[:h], order="C")))
    items.extend(_nodes_of_blocks(A[h:t], b0, n_threads))
    if t < r:
        items.append(("raw", np.array(A[t:], order="C")))
    return TreeState(start, stop, d, items)


def _push(stack, item):
    """Append a node, merging it with its left sibling while there is one."""
    while stack and stack[-1][0] == "node":
        _, lv, k, val = item
        _, lv0, k0, val0 = stack[-1]
        if lv0 != lv or k0 % 2 or k0 + 1 != k:
            break
        stack.pop()
        n = BLOCK << lv
        item = ("node", lv + 1, k0 // 2, _merge(val0, val, n, n))
    stack.append(item)


def combine(s, t):
    """State of ``s`` followed by ``t`` (``s.stop == t.start``)."""
    if s.stop != t.start:
        raise ValueError(f"states are not adjacent: rows {s.start}:{s.stop} and {t.start}:{t.stop}")
    stack = []
    row = s.start
    pending = None  # (first row, list of raw arrays)
    for item in list(s.items) + list(t.items):
        if item[0] == "raw":
            if pending is None:
                pending = (row, [item[1]])
            else:
                pending[1].append(item[1])
            row += item[1].shape[0]
            continue
        if pending is not None:
            _flush(stack, pending)
            pending = None
        _push(stack, item)
        row += BLOCK << item[1]
    if pending is not None:
        _flush(stack, pending)
    return TreeState(s.start, t.stop, s.n_features, stack)


def _flush(stack, pending):
    """Turn joined raw rows into full blocks where they complete one."""
    r0, arrays = pending
    A = arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0)
    r1 = r0 + A.shape[0]
    b0 = -(-r0 // BLOCK)
    b1 = r1 // BLOCK
    if b0 >= b1:
        stack.append(("raw", A))
        return
    h, t = b0 * BLOCK - r0, b1 * BLOCK - r0
    if h:
        stack.append(("raw", A[:h]))
    for item in _nodes_of_blocks(A[h:t], b0, 1):
        _push(stack, item)
    if t < A.shape[0]:
        stack.append(("raw", np.ascontiguousarray(A[t:])))


def finalize(state):
    """The :class:`Moments` of a state that starts at row 0: its nodes
    folded left to right, then the last partial block."""
    if state.start != 0:
        raise ValueError("a state must start at row 0 to give statistics")
    acc, n_acc = None, 0
    for item in state.items:
        if item[0] == "node":
            val, n = item[3], BLOCK << item[1]
        else:
            val = tuple(p[0] for p in _block_parts(item[1], 1))
            n = item[1].shape[0]
        if acc is None:
            acc, n_acc = val, n
        else:
            acc = _merge(acc, val, n_acc, n)
            n_acc += n
    d = state.n_features
    if acc is None:
        return Moments(np.zeros(d), np.full(d, np.nan), np.zeros(d), np.zeros(d))
    ref, dmean, m2 = acc
    return Moments(
        np.array(ref, dtype=np.float64),
        np.array(dmean, dtype=np.float64),
        np.maximum(m2, 0.0),
        np.full(d, float(n_acc)),
    )


def is_finite(state):
    """False if NaN or infinity reached any node or raw row of ``state``."""
    for item in state.items:
        if item[0] == "raw":
            if not np.isfinite(item[1]).all():
                return False
        elif not all(np.isfinite(p).all() for p in item[3][1:]):
            return False
    return True
