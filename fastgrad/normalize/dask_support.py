"""Dask collections in :class:`fastgrad.Normalizer`.

``fit`` / ``partial_fit`` of a ``dask.array.Array`` or a dask DataFrame run
one pass over the chunks (a DataFrame, or an array whose chunk sizes are
unknown, is read once more before, for its partitions' lengths: the blocks
of rows are global): each chunk becomes a small
:class:`fastgrad.normalize.tree.TreeState` (the compiled kernel on its full
blocks, plus the raw rows of the at most two blocks its edges cut), and the
states are combined by a tree reduction; the data are never gathered. The
result is bitwise the one of ``fit`` on the same rows as a NumPy array,
whatever the chunking, the scheduler or the number of workers.

``transform`` / ``inverse_transform`` are lazy: ``map_blocks`` (arrays) or
``map_partitions`` (DataFrames) with the fitted parameters as they are when
``transform`` is called (a later fit of the same object does not change a
result not yet computed), same chunks, same kind of collection back.

Dask is optional (``pip install 'fastgrad[dask]'``): nothing here imports it
until a dask collection is passed.
"""

import copy as _copy

import numpy as np

from fastgrad.normalize import tree
from fastgrad.normalize.inputs import (
    _convert_dtype,
    check_column_dtypes,
    check_feature_names,
    check_sample_weight,
    column_names,
    validate_data,
)
from fastgrad.normalize.stats import dense_moments, masked_moments, merge

__all__ = ["is_dask_collection", "fit_state", "names_of", "transform"]

MISSING = (
    "{what} is a dask collection but dask is not importable ({err}); install the "
    "optional extra: pip install 'fastgrad[dask]' (dask[array,dataframe] and distributed)."
)


def is_dask_collection(X):
    """True for a dask Array or DataFrame, without importing dask."""
    mod = type(X).__module__ or ""
    return (mod == "dask" or mod.startswith(("dask.", "dask_expr"))) and hasattr(
        X, "__dask_graph__"
    )


def _require(what="X"):
    try:
        import dask
        import dask.array as da
    except ImportError as err:  # pragma: no cover - exercised without dask
        raise ImportError(MISSING.format(what=what, err=err)) from err
    return dask, da


def _is_frame(X):
    """A dask DataFrame (a dask Series answers ``columns`` too, by its meta's
    name lookup: its metadata is what tells)."""
    return hasattr(X, "map_partitions") and hasattr(getattr(X, "_meta", None), "columns")


def refuse_series(X, what):
    if hasattr(X, "map_partitions") and getattr(X, "ndim", 2) == 1:
        raise ValueError(
            f"Expected 2D array, got 1D array instead: {what} is a dask Series. Pass "
            f"{what}.to_frame() for one feature, or select columns with ddf[[name]]."
        )


def _rows(X, sample_axis, what="X"):
    """``(array of shape (n_samples, n_features) with one column chunk,
    column names or None)``."""
    _, da = _require(what)
    names = None
    refuse_series(X, what)
    if _is_frame(X):
        # The dtypes and column names are known without computing anything.
        check_column_dtypes(X, what)
        names = column_names(X, what)
        A = _numeric_frame(X).to_dask_array(lengths=True)
        if sample_axis == 1:
            raise ValueError(
                f"sample_axis=1 is for arrays of shape (n_x, m); {what} is a DataFrame "
                "(rows are samples): use sample_axis=0."
            )
    elif isinstance(X, da.Array):
        A = _checked_array(X, what)
    else:
        raise TypeError(
            f"{what} must be a dask Array or DataFrame, got {type(X).__name__}; "
            "compute it or pass a NumPy array."
        )
    if A.ndim != 2:
        raise ValueError(f"Expected 2D array, got {A.ndim}D array instead: {what}.shape={A.shape}.")
    if sample_axis == 1:
        A = A.T
    if any(np.isnan(c) for c in A.chunks[0]):
        A = _sized(A)
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"Found array with shape {A.shape}: {what} is empty.")
    if A.numblocks[1] > 1:
        A = A.rechunk({1: -1})
    return A, names


def _checked_array(X, what):
    """A dask Array the kernels can read, refused from its metadata (before
    any block is computed) when it is masked, complex, or dates/durations."""
    if isinstance(X._meta, np.ma.MaskedArray):
        raise TypeError(
            f"{what} is a dask array of numpy.ma.MaskedArray blocks; Normalizer does not "
            f"read masks (they would be lost silently). Pass da.ma.filled({what}, np.nan) "
            "to treat masked entries as missing values (NaN is ignored by fit and kept "
            f"by transform), or da.ma.getdata({what}) to use the values under the mask."
        )
    _convert_dtype(np.empty((0, 0), dtype=X.dtype), what)
    return X


def _sized(A):
    """``A`` with its unknown chunk sizes computed, on a new Array object over
    the same graph: ``compute_chunk_sizes`` writes to the array it is given
    (the user's), and ``Array.copy`` adds a copy of every block when there
    is one chunk."""
    import dask.array as da

    return da.Array(A.dask, A.name, A.chunks, meta=A._meta).compute_chunk_sizes()


def _has_extension(pdf):
    return not all(isinstance(dt, np.dtype) for dt in pdf.dtypes)


def _frame_array(pdf):
    """A pandas frame's values: nullable and pyarrow columns (pandas'
    extension dtypes, whose missing values are pd.NA) as float64 with NaN,
    decided by the dtypes, so every partition of a dask frame (with NA or
    without) and its metadata agree."""
    if _has_extension(pdf):
        try:
            return pdf.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            pass  # text: refused where the values are read, as for pandas
    return pdf.to_numpy()


def _float_frame(pdf):
    import pandas as pd

    return pd.DataFrame(_frame_array(pdf), index=pdf.index, columns=pdf.columns)


def _numeric_frame(X):
    """A dask frame whose partitions give ``_frame_array``'s values."""
    if not _has_extension(X._meta):
        return X
    return X.map_partitions(_float_frame, meta=_float_frame(X._meta))


def names_of(X):
    """Column names of a dask frame (None for an array), read from its
    metadata: nothing is computed."""
    return column_names(X, "X") if _is_frame(X) else None


def _as_rows(block):
    """A NumPy chunk as the kernels read it (float32/float64 rows)."""
    return validate_data(np.asarray(block), "X", 0).A


def _chunk_state(block, start, w=None, offset=0):
    A = _as_rows(block)
    if w is not None:
        w = np.array(w, dtype=np.float64).reshape(-1)
        if not (np.isfinite(w).all() and (w >= 0).all()):
            check_sample_weight(w, A.shape[0], offset=offset)  # raises, naming what is wrong
        # (a chunk whose weights are all zero is fine: the whole is checked)
    return tree.chunk_state(A, start, 1, w)


def _chunk_masked(block, w=None):
    """Moments of a chunk off the tree: only to word the error about
    infinity or an overflow that the tree met."""
    A = _as_rows(block)
    if w is None:
        return dense_moments(A, 1, "X")
    return masked_moments(A, np.array(w, dtype=np.float64).reshape(-1), "X")


def _weights(da, sample_weight, A, what):
    """``sample_weight`` (a 1-D dask or NumPy array, or a number) as a dask
    array chunked like the rows of ``A``."""
    n = A.shape[0]
    if np.ndim(sample_weight) == 0 and not isinstance(sample_weight, da.Array):
        w = da.full((n,), sample_weight, chunks=(A.chunks[0],), dtype=np.float64)
    else:
        w = (
            sample_weight
            if isinstance(sample_weight, da.Array)
            else da.from_array(np.asarray(sample_weight))
        )
        if w.ndim == 1 and any(np.isnan(c) for c in w.chunks[0]):
            w = _sized(w)  # as X's are
        if w.ndim != 1 or w.shape[0] != n:
            raise ValueError(
                f"sample_weight must have shape ({n},) like the samples of {what}, "
                f"got shape {w.shape}."
            )
        w = w.rechunk((A.chunks[0],))
    return w


def _reduce(dask, parts, fn):
    """Pairwise tree of ``fn`` over delayed ``parts`` (order kept)."""
    delayed = dask.delayed(fn, pure=True)
    while len(parts) > 1:
        nxt = [delayed(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


def fit_state(X, sample_axis, start, what="X", sample_weight=None):
    """One pass over a dask collection.

    Returns ``(state, moments, n_features, names)``: ``state`` is the
    :class:`TreeState` of rows ``start:start + n`` (NaN as missing, weights
    carried; None when infinity or an overflow is met, which the masked path
    words as an error), ``moments`` the finalized moments when ``start == 0``.
    """
    dask, da = _require(what)
    A, names = _rows(X, sample_axis, what)
    blocks = A.to_delayed().ravel().tolist()
    weights = [None] * len(blocks)
    if sample_weight is not None:
        weights = _weights(da, sample_weight, A, what).to_delayed().ravel().tolist()
    offsets = np.concatenate([[0], np.cumsum(A.chunks[0])]).astype(int).tolist()
    chunk = dask.delayed(_chunk_state, pure=True)
    parts = [chunk(b, start + offsets[i], weights[i], offsets[i]) for i, b in enumerate(blocks)]
    (state,) = dask.compute(_reduce(dask, parts, tree.combine))
    m = tree.finalize(state) if start == 0 else None
    if not tree.is_finite(state):
        masked = dask.delayed(_chunk_masked, pure=True)
        parts = [masked(b, wb) for b, wb in zip(blocks, weights)]
        (m,) = dask.compute(_reduce(dask, parts, merge))
        state = None
    return state, m, A.shape[1], names


def _transform_block(block, norm, inverse, feature_axis, block_info=None):
    loc = block_info[0]["array-location"][feature_axis] if block_info else (0, block.shape[1])
    sub = _copy.copy(norm)
    f0, f1 = loc
    for name in ("mean_", "var_", "scale_"):
        value = getattr(norm, name)
        if value is not None:
            setattr(sub, name, value[f0:f1])
    n = norm.n_samples_seen_
    if isinstance(n, np.ndarray):
        sub.n_samples_seen_ = n[f0:f1]
    sub.n_features_in_ = f1 - f0
    if hasattr(sub, "feature_names_in_"):
        del sub.feature_names_in_
    block = np.asarray(block)
    if block.shape[1 - feature_axis] == 0:  # an empty chunk (a filter's)
        return np.empty(block.shape, dtype=_out_dtype(block.dtype))
    if inverse:
        return sub.inverse_transform(block, copy=True)
    return sub.transform(block, copy=True)


def _transform_frame(pdf, norm, inverse):
    import pandas as pd

    out = _transform_block(_frame_array(pdf), norm, inverse, 1)
    return pd.DataFrame(out, index=pdf.index, columns=pdf.columns)


def _out_dtype(dtype):
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float16, np.float32, np.float64) else np.dtype(np.float64)


def _frozen(norm):
    """What a lazy transform needs of ``norm``, as it is now: a copy with its
    own statistics and without the fit's running state (smaller graphs)."""
    sub = _copy.copy(norm)
    for name in ("mean_", "var_", "scale_", "n_samples_seen_"):
        value = getattr(norm, name, None)
        if isinstance(value, np.ndarray):
            setattr(sub, name, value.copy())
    for name in ("_tree_state", "_moments_state"):
        sub.__dict__.pop(name, None)
    # Each block gives an ndarray whatever set_output says: the collection
    # is the container (a pandas block would be reindexed into NaN).
    sub._sklearn_output_config = {"transform": "default"}
    return sub


def transform(norm, X, inverse, what="X"):
    """Lazy (inverse) transform of a dask collection, same chunks."""
    _, da = _require(what)
    axis = int(norm.sample_axis)
    d = norm.n_features_in_
    refuse_series(X, what)
    if _is_frame(X):
        if axis == 1:
            raise ValueError(
                f"sample_axis=1 is for arrays of shape (n_x, m); {what} is a DataFrame: "
                "use sample_axis=0."
            )
        if len(X.columns) != d:
            raise ValueError(
                f"{what} has {len(X.columns)} features, but Normalizer is expecting {d} "
                "features as input."
            )
        # As for a pandas frame: reordered columns would be scaled by the
        # wrong statistics, silently.
        check_column_dtypes(X, what)
        check_feature_names(norm, column_names(X, what), what, warn=not inverse, stacklevel=4)
        # the dtype the partitions will have (float32 stays float32)
        meta = X._meta.astype(_out_dtype(_frame_array(X._meta).dtype))
        return X.map_partitions(_transform_frame, _frozen(norm), inverse, meta=meta)
    if not isinstance(X, da.Array):
        raise TypeError(f"{what} must be a dask Array or DataFrame, got {type(X).__name__}.")
    X = _checked_array(X, what)
    if X.ndim != 2 or X.shape[1 - axis] != d:
        raise ValueError(
            f"{what} has shape {X.shape}: expected {d} features along axis {1 - axis} "
            f"(sample_axis={axis})."
        )
    check_feature_names(norm, None, what, warn=not inverse, stacklevel=4)
    return X.map_blocks(
        _transform_block,
        _frozen(norm),
        inverse,
        1 - axis,
        dtype=_out_dtype(X.dtype),
        meta=np.empty((0, 0), dtype=_out_dtype(X.dtype)),
    )
