"""How a new batch of rows updates the running statistics: the reproducible
path (fixed global blocks of rows merged by a canonical tree,
:mod:`fastgrad.normalize.tree`) where it applies, else the masked/weighted
moments merged in arrival order (:mod:`fastgrad.normalize.stats`)."""

from typing import NamedTuple

import numpy as np

from fastgrad.normalize import dask_support, tree
from fastgrad.normalize.inputs import check_sample_weight
from fastgrad.normalize.stats import Moments, batch_moments, merge


class Previous(NamedTuple):
    """The state a partial_fit merges into."""

    moments: Moments
    tree_state: object  # tree.State or None once the reproducible path was left
    weighted: bool


def _finite(m):
    """No infinity or overflow reached the moments (NaN only where a
    feature saw nothing)."""
    seen = m.n > 0
    return bool(np.isfinite(m.dmean[seen]).all() and np.isfinite(m.m2).all())


def from_batch(data, sample_weight, n_threads, previous):
    """``(moments, tree_state, weighted)`` after the rows of ``data``
    (``previous`` is None for a fresh fit)."""
    old_tree = None if previous is None else previous.tree_state
    was_weighted = previous is not None and previous.weighted
    if not data.sparse and (previous is None or old_tree is not None) and data.A.shape[0] > 0:
        # Reproducible path: global blocks of rows, canonical tree (NaN and
        # weights included).
        w = check_sample_weight(
            sample_weight,
            data.A.shape[0],
            allow_zero=previous is not None and (previous.moments.n > 0).any(),
        )
        start = 0 if old_tree is None else old_tree.stop
        state = tree.chunk_state(data.A, start, n_threads, w)
        if old_tree is not None:
            state = tree.combine(old_tree, state)
        m = tree.finalize(state)
        if tree.is_finite(state) and _finite(m):
            return m, state, was_weighted or w is not None
        # Infinity or overflow: the masked path below words the error.
    batch, weighted = batch_moments(data, sample_weight, n_threads)
    if previous is None:
        return batch, None, weighted
    return merge(previous.moments, batch), None, weighted or was_weighted


def from_dask(X, sample_weight, sample_axis, previous, n_features=None):
    """``(moments, tree_state, weighted, n_features, feature_names)`` after
    the chunks of a dask collection (one pass, never gathered);
    ``n_features`` is the count a partial_fit expects."""
    old_tree = None if previous is None else previous.tree_state
    start = 0 if old_tree is None else old_tree.stop
    state, m, d, names = dask_support.fit_state(X, sample_axis, start, sample_weight=sample_weight)
    if n_features is not None and d != n_features:
        raise ValueError(
            f"X has {d} features, but Normalizer is expecting {n_features} features as input."
        )
    weighted = sample_weight is not None
    if state is not None and old_tree is not None:
        state = tree.combine(old_tree, state)
        m = tree.finalize(state)
    elif state is not None and previous is not None:
        m = merge(previous.moments, tree.finalize(state))
        state = None
    elif previous is not None:
        m = merge(previous.moments, m)
    if weighted and m is not None and not bool((m.n > 0).any()):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    if previous is not None:
        weighted = weighted or previous.weighted
    return m, state, weighted, d, names
