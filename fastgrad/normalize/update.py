"""How a new batch of rows updates the running statistics: the reproducible
path (fixed global blocks of rows merged by a canonical tree,
:mod:`fastgrad.normalize.tree`) where it applies, else the masked/weighted
moments merged in arrival order (:mod:`fastgrad.normalize.stats`)."""

from typing import NamedTuple

import numpy as np

from fastgrad.normalize import dask_support, tree
from fastgrad.normalize.inputs import check_feature_names, check_sample_weight
from fastgrad.normalize.stats import Moments, batch_moments, fitted_statistics, merge


class RunningStatistics:
    """The Normalizer's running statistics: what a batch merges into, and
    the one place the fitted attributes are set (a mixin of
    :class:`fastgrad.Normalizer`)."""

    def _state(self):
        """The running moments; rebuilt from the public attributes for an
        object that was loaded from a file (or set by hand)."""
        state = getattr(self, "_moments_state", None)
        if state is not None:
            return state
        d = self.n_features_in_
        n = np.broadcast_to(np.asarray(self.n_samples_seen_, dtype=np.float64), (d,)).copy()
        mean = np.zeros(d) if self.mean_ is None else np.asarray(self.mean_, dtype=np.float64)
        var = np.zeros(d) if self.var_ is None else np.asarray(self.var_, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return Moments(
                np.where(n > 0, mean, 0.0), np.zeros(d), np.where(n > 0, var * n, 0.0), n
            )

    def _previous(self, reset):
        """What a new batch merges into: None for a fresh fit, else the
        running moments, the reproducible tree state (or None) and whether
        any batch so far was weighted."""
        if reset:
            return None
        return Previous(
            self._state(), getattr(self, "_tree_state", None), getattr(self, "_weighted", False)
        )

    def _update_dask(self, X, sample_weight, reset):
        """fit/partial_fit of a dask collection: one pass, chunk states
        combined by a tree reduction (fastgrad.normalize.dask_support).
        A partial_fit checks the column names first, as for pandas."""
        dask_support.refuse_series(X, "X")  # before the names' warning
        if not reset:
            check_feature_names(self, dask_support.names_of(X), "X", stacklevel=5)
        m, tree_state, weighted, d, names = from_dask(
            X,
            sample_weight,
            int(self.sample_axis),
            self._previous(reset),
            None if reset else self.n_features_in_,
        )
        self._commit(m, tree_state, weighted, reset, d, names)

    def _update(self, data, sample_weight, n_threads, reset):
        m, tree_state, weighted = from_batch(data, sample_weight, n_threads, self._previous(reset))
        self._commit(m, tree_state, weighted, reset, data.A.shape[1], data.names)

    def _commit(self, m, tree_state, weighted, reset, n_features, names):
        """Set the fitted attributes. Nothing is assigned before everything
        is computed: a failed partial_fit leaves the state as it was."""
        mean, var, scale, counts = fitted_statistics(m, weighted, self.with_mean, self.with_std)
        self._moments_state = m
        self._tree_state = tree_state
        self._weighted = weighted
        self.mean_, self.var_, self.scale_, self.n_samples_seen_ = mean, var, scale, counts
        if reset:
            self.n_features_in_ = n_features
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_


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
