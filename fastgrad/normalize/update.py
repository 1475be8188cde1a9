"""How a new batch of rows updates the running statistics: the reproducible
path (fixed global blocks of rows merged by a canonical tree,
:mod:`fastgrad.normalize.tree`) where it applies, else the masked/weighted
moments merged in arrival order (:mod:`fastgrad.normalize.stats`)."""

from typing import NamedTuple

import numpy as np

from fastgrad.normalize import dask_support, tree
from fastgrad.normalize.stats import Moments, batch_moments, merge


class Previous(NamedTuple):
    """The state a partial_fit merges into."""

    moments: Moments
    tree_state: object  # tree.State or None once the reproducible path was left
    weighted: bool


def from_batch(data, sample_weight, n_threads, previous):
    """``(moments, tree_state, weighted)`` after the rows of ``data``
    (``previous`` is None for a fresh fit)."""
    old_tree = None if previous is None else previous.tree_state
    if (
        sample_weight is None
        and not data.sparse
        and (previous is None or old_tree is not None)
        and data.A.shape[0] > 0
    ):
        # Reproducible path: global blocks of rows, canonical tree.
        start = 0 if old_tree is None else old_tree.stop
        state = tree.chunk_state(data.A, start, n_threads)
        if old_tree is not None:
            state = tree.combine(old_tree, state)
        m = tree.finalize(state)
        if np.isfinite(m.dmean).all() and np.isfinite(m.m2).all():
            return m, state, previous is not None and previous.weighted
        # NaN (missing values), inf or overflow: the masked path below, which
        # also words the errors. Not reproducible across batchings from here on.
    batch, weighted = batch_moments(data, sample_weight, n_threads)
    if previous is None:
        return batch, None, weighted
    return merge(previous.moments, batch), None, weighted or previous.weighted


def from_dask(X, sample_weight, sample_axis, previous, n_features=None):
    """``(moments, tree_state, weighted, n_features, feature_names)`` after
    the chunks of a dask collection (one pass, never gathered);
    ``n_features`` is the count a partial_fit expects."""
    old_tree = None if previous is None else previous.tree_state
    start = 0 if old_tree is None else old_tree.stop
    if sample_weight is not None:
        m, d, names = dask_support.fit_weighted(X, sample_weight, sample_axis)
        state, old_tree = None, None
    else:
        state, m, d, names = dask_support.fit_state(X, sample_axis, start)
    if n_features is not None and d != n_features:
        raise ValueError(
            f"X has {d} features, but Normalizer is expecting {n_features} features as input."
        )
    weighted = sample_weight is not None
    if previous is not None:
        if state is not None and old_tree is not None:
            state = tree.combine(old_tree, state)
            m = tree.finalize(state)
        else:
            m = merge(previous.moments, m if m is not None else tree.finalize(state))
            state = None
        weighted = weighted or previous.weighted
    return m, state, weighted, d, names
