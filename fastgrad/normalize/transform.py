"""The normalizer's transform: ``(x − mean_) · (1 / scale_)`` (or its
inverse) through the compiled kernel, written in place only where that is
allowed, refused before anything is written when it would meet infinity or
overflow; sparse matrices are scaled; the result wrapped as ``set_output``
asks."""

from __future__ import annotations

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad.normalize import _normalizer_kernel
from fastgrad.normalize.inputs import SPARSE_CENTER_MSG, kernel_view
from fastgrad.normalize.stats import feature_list


def constants(norm, inverse):
    """``(shift, factor)`` of the map ``(x - shift) * factor`` (or its inverse)."""
    d = norm.n_features_in_
    shift = norm.mean_ if norm.with_mean else np.zeros(d)
    if not norm.with_std:
        factor = np.ones(d)
    else:
        factor = norm.scale_ if inverse else 1.0 / norm.scale_
    return (
        np.ascontiguousarray(shift, dtype=np.float64),
        np.ascontiguousarray(factor, dtype=np.float64),
    )


def overflow_message(what, features, dtype, inverse):
    formula = "X * scale_ + mean_" if inverse else "(X - mean_) / scale_"
    kind = "inverse transform" if inverse else "transform"
    return (
        f"The {kind} of {what} overflows {np.dtype(dtype).name}: {formula} is "
        f"beyond ±{np.finfo(dtype).max:.4g} in feature(s) {feature_list(features)}. "
        f"{what} was not modified. Check that {what} is on the scale of the "
        "training data (or pass float64 data)."
    )


def precheck(K, transposed, shift, factor, inverse, dtype, stats_ok, what, n_threads):
    """Raise before anything is written if the map would meet infinity or
    overflow. The map is monotonic in x per feature (``factor > 0``, and
    rounding is monotonic), so each feature's extremes decide: one read of
    K (compiled, NaN skipped), no output."""
    d = len(shift)
    lo, hi = np.empty(d), np.empty(d)
    _normalizer_kernel.minmax(K, transposed, lo, hi, n_threads)
    inf = np.isinf(lo) | np.isinf(hi)
    if inf.any():
        raise ValueError(
            f"Input {what} contains infinity (in feature(s) {feature_list(np.flatnonzero(inf))})."
        )
    bad = np.zeros(lo.shape, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for x in (lo, hi):
            y = (x * factor + shift) if inverse else ((x - shift) * factor)
            y = y.astype(dtype)
            bad |= ~np.isfinite(y) & np.isfinite(x)
    bad &= stats_ok
    if bad.any():
        raise ValueError(overflow_message(what, np.flatnonzero(bad), dtype, inverse))


def check_output(K, out, transposed, stats_ok, inverse, what):
    """After the kernel flagged a non-finite output written to a separate
    array: infinity in X or an overflow is an error, NaN (missing) is not."""
    axis = 1 if transposed else 0
    inf = np.isinf(K).any(axis=axis)
    if inf.any():
        raise ValueError(
            f"Input {what} contains infinity (in feature(s) {feature_list(np.flatnonzero(inf))})."
        )
    bad = (~np.isfinite(out) & np.isfinite(K)).any(axis=axis) & stats_ok
    if bad.any():
        raise ValueError(overflow_message(what, np.flatnonzero(bad), out.dtype, inverse))


def apply(norm, data, copy, inverse, n_threads, what="X"):
    """The (inverse) transform of validated ``data``, written where ``copy`` allows."""
    if data.sparse:
        return apply_sparse(norm, data, inverse, what)
    shift, factor = constants(norm, inverse)
    stats_ok = np.isfinite(shift) & np.isfinite(factor)
    K, transposed, copied = kernel_view(data.A)
    target = data.target if not copy else None
    # The kernel may write into K only if K is memory allocated here, or
    # the caller's own array with copy=False (checked first, below).
    direct = target is not None and not data.owned and not copied
    if direct or data.owned or copied:
        precheck(K, transposed, shift, factor, inverse, K.dtype, stats_ok, what, n_threads)
        out = K
    else:
        ac.check_allocation(K.size * K.itemsize, what, f"the transformed {what}")
        out = np.empty(K.shape, dtype=K.dtype)
    if (
        not _normalizer_kernel.affine(K, out, transposed, shift, factor, inverse, n_threads)
        and out is not K
    ):
        check_output(K, out, transposed, stats_ok, inverse, what)
    res = out.T if transposed else out  # (n_samples, n_features)
    if norm.sample_axis == 1:
        res = res.T
    if data.out_dtype != res.dtype:  # float16: one more rounding
        with np.errstate(over="ignore"):
            low = res.astype(data.out_dtype)
        over = np.isinf(low) & np.isfinite(res)
        if over.any():
            cols = np.flatnonzero(over.any(axis=1 if norm.sample_axis == 1 else 0))
            raise ValueError(overflow_message(what, cols, data.out_dtype, inverse))
        res = low
    if direct:
        return target
    if target is not None:
        # copy=False on an array the kernel could not write directly (a
        # record-array field, float16, byte-swapped): the result was
        # checked, now it goes into the caller's array.
        np.copyto(target, res, casting="unsafe")
        return target
    return res


def apply_sparse(norm, data, inverse, what):
    """The transform of a sparse matrix (scaling only: centering would densify it)."""
    if norm.with_mean:
        raise ValueError(SPARSE_CENTER_MSG)
    M = data.arr
    counts = np.diff(np.asarray(M.indptr))
    major = np.repeat(np.arange(len(counts)), counts)
    minor = np.asarray(M.indices)
    feature_is_column = norm.sample_axis == 0
    feat = minor if (M.format == "csr") == feature_is_column else major
    values = np.asarray(M.data, dtype=np.float64)
    if np.isinf(values).any():
        raise ValueError(
            f"Input {what} contains infinity (in feature(s) "
            f"{feature_list(np.unique(feat[np.isinf(values)]))})."
        )
    out = M.copy()  # data, indices and indptr: nothing is shared
    if norm.with_std:
        factor = norm.scale_ if inverse else 1.0 / norm.scale_
        with np.errstate(over="ignore", invalid="ignore"):
            new = (values * factor[feat]).astype(M.dtype)
        bad = ~np.isfinite(new) & np.isfinite(values) & np.isfinite(factor[feat])
        if bad.any():
            raise ValueError(overflow_message(what, np.unique(feat[bad]), M.dtype, inverse))
        out.data = new
    return out


def output_container(norm, data):
    """The container ``set_output`` asks for X's transform ("default",
    "pandas" or "polars"), refused before anything is computed (or fitted)
    when X's transform cannot be put in it."""
    kind = norm.output_kind()
    if kind == "default":
        return kind
    if data.sparse:
        raise ValueError(
            f"{kind.capitalize()} output does not support sparse data: the "
            "transform of a sparse matrix is sparse. Use "
            "set_output(transform='default')."
        )
    if kind == "polars" and norm.sample_axis != 0:
        raise ValueError(
            "Polars output needs sample_axis=0: a polars DataFrame has no index to "
            "hold the feature names of sample_axis=1. Use set_output(transform='pandas') "
            "or 'default'."
        )
    return kind


def wrap(kind, norm, data, res):
    """Put ``res`` in the container ``kind`` (from :func:`output_container`)."""
    if kind == "default":
        return res
    names = norm.get_feature_names_out()
    if kind == "polars":
        import polars as pl

        return pl.DataFrame(res, schema=[str(n) for n in names], orient="row")
    import pandas as pd

    index = data.index if data.index is not None and norm.sample_axis == 0 else None
    if norm.sample_axis == 0:
        return pd.DataFrame(res, columns=names, index=index, copy=False)
    columns = data.columns if data.columns is not None else None
    return pd.DataFrame(res, index=names, columns=columns, copy=False)
