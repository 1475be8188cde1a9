"""Input checks for :class:`fastgrad.Normalizer`: what the caller handed over,
as arrays the kernels can read, and whether any of it may be written.

The rule that keeps users' data safe: the Normalizer writes only to memory it
allocated itself, or -- with ``copy=False`` -- to a writeable floating-point
``numpy.ndarray`` the caller passed directly. Whether an array is "ours" is
decided from ``np.shares_memory`` with the caller's object, never from
"``np.asarray`` returned a new object": ``np.asarray(df)`` is a *view* of a
pandas 2 DataFrame (writeable) and of a pandas 3 one (read-only). Objects
that are not ndarrays (DataFrames, anything with ``__array__``) are never
treated as ours unless a dtype conversion made the copy here; Python lists
and tuples always give a new array.
"""

import numbers
import warnings

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._threads import effective_n_threads

__all__ = [
    "Data",
    "validate_data",
    "kernel_view",
    "check_sample_weight",
    "is_sparse",
    "SPARSE_CENTER_MSG",
]

# scikit-learn's wording, which users and its estimator checks search for.
SPARSE_CENTER_MSG = (
    "Cannot center sparse matrices: pass `with_mean=False` instead. See "
    "docstring for motivation and alternatives."
)

_KERNEL_DTYPES = (np.float32, np.float64)


def is_sparse(X):
    # A duck-typed check keeps scipy.sparse off the import path.
    return hasattr(X, "tocsr") and hasattr(X, "nnz") and hasattr(X, "format")


def column_names(X, what="X"):
    """Column names of a table (e.g. a pandas DataFrame) if all are strings.

    None when X has no columns, or none of its column names is a string
    (integer column labels are not feature names). Mixed string and
    non-string names raise TypeError, as in scikit-learn: silently dropping
    them would skip the check that transform gets the columns fit saw.
    """
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray):
        return None
    names = np.asarray(list(columns), dtype=object)
    if not len(names):
        return None
    is_str = np.array([isinstance(c, str) for c in names])
    if is_str.all():
        return names
    if is_str.any():
        types = sorted({type(c).__qualname__ for c in names})
        raise TypeError(
            "Feature names are only supported if all input features have string "
            f"names, but your input {what} has {types} as feature name / column "
            f"name types (e.g. {names[is_str][0]!r} and {names[~is_str][0]!r}). If "
            "you want feature names to be stored and validated, convert them all "
            f"to strings, e.g. {what}.columns = {what}.columns.astype(str). "
            "Otherwise remove the column names from your input data, or convert "
            "them all to a non-string data type."
        )
    return None


# Column dtype kinds a table may hold: bool, signed and unsigned integers,
# floats (numpy's, pandas' nullable Int64/Float64/boolean and pyarrow's
# numbers all report these kinds), and object columns (pandas' text columns
# report "O" too), which are converted to float64: numbers stored as objects
# convert, text fails there with a ValueError, as in scikit-learn.
_TABLE_KINDS = frozenset("biufO")


def check_column_dtypes(X, what="X"):
    """Refuse a table (pandas, dask or polars DataFrame) with non-numeric
    columns.

    Called before anything is converted: pandas turns datetime and timedelta
    columns into float ticks (nanoseconds since 1970, or durations) when asked
    for float64, which would be normalized silently as if they were
    measurements. Raises TypeError naming the columns (ValueError for
    complex columns, scikit-learn's wording); X is not touched.
    """
    if _is_polars(X):
        _refuse_polars_columns(X, what)
        return
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or isinstance(X, np.ndarray) or not hasattr(dtypes, "items"):
        return
    bad = {}
    for name, dtype in dtypes.items():
        kind = getattr(dtype, "kind", "O")
        categories = getattr(dtype, "categories", None)
        if categories is not None:  # a categorical converts as its categories do
            kind = getattr(categories.dtype, "kind", "O")
            dtype = f"category of {categories.dtype}"
        if kind not in _TABLE_KINDS:
            bad.setdefault(kind, []).append((name, dtype))
    _refuse_columns(bad, what)


def _is_polars(X):
    return type(X).__module__.partition(".")[0] == "polars"


def _refuse_polars_columns(X, what):
    """The polars side of :func:`check_column_dtypes`: dates, times and
    durations (NumPy would give their ticks), nested, binary and object
    columns are refused; numbers, booleans, decimals and text (which
    converts if it holds numbers) go on. A LazyFrame holds no data yet."""
    if type(X).__name__ == "LazyFrame":
        raise TypeError(
            f"{what} is a polars LazyFrame, a query that holds no data yet; pass {what}.collect()."
        )
    schema = getattr(X, "schema", None)
    if schema is None or not hasattr(schema, "items"):
        return
    bad = {}
    for name, dtype in schema.items():
        if dtype.is_temporal():
            bad.setdefault("M", []).append((name, dtype))
        elif not (dtype.is_numeric() or type(dtype).__name__ in _POLARS_CONVERTIBLE):
            bad.setdefault("O", []).append((name, dtype))
    _refuse_columns(bad, what, polars=True)


# polars column types that convert to float64 as pandas' do (text only when it
# holds numbers, as in scikit-learn)
_POLARS_CONVERTIBLE = frozenset({"Decimal", "Boolean", "String", "Utf8", "Categorical", "Enum"})


def _refuse_columns(bad, what, polars=False):
    """Raise for the columns in ``bad`` (``{dtype kind: [(name, dtype)]}``)."""
    if not bad:
        return

    def listing(items, limit=8):
        text = ", ".join(f"{name!r} ({dtype})" for name, dtype in items[:limit])
        return text + (f", ... ({len(items)} in all)" if len(items) > limit else "")

    if "c" in bad and len(bad) == 1:
        raise ValueError(
            f"Complex data not supported: {what} has complex column(s) "
            f"{listing(bad['c'])}; Normalizer needs real numbers."
        )
    times = bad.get("M", []) + bad.get("m", [])
    if times and polars:
        raise TypeError(
            f"{what} has date/time/duration column(s) {listing(times)}; Normalizer "
            "needs real numbers and does not guess a time unit (NumPy would give "
            "ticks of the column's resolution). Convert them first, e.g. "
            f"{what}.with_columns((pl.col(c) - pl.col(c).min()).dt.total_seconds()) "
            "for a datetime column or pl.col(c).dt.total_seconds() for a duration, "
            "or drop them."
        )
    if times:
        raise TypeError(
            f"{what} has datetime/timedelta column(s) {listing(times)}; Normalizer "
            "needs real numbers and does not guess a time unit (pandas would give "
            "ticks of the column's resolution). Convert them first, e.g. "
            f"{what}[col] = ({what}[col] - {what}[col].min()).dt.total_seconds() "
            "for a datetime column or "
            f"{what}[col].dt.total_seconds() for a timedelta column, or drop them."
        )
    others = [item for kind in sorted(bad) for item in bad[kind]]
    raise TypeError(
        f"{what} has non-numeric column(s) {listing(others)}; Normalizer needs "
        "bool, integer or floating-point columns. Convert or drop them first."
    )


class Data:
    """One validated input.

    Attributes
    ----------
    arr : ndarray or sparse matrix
        X as float32/float64 (native byte order) in the caller's layout; for
        float16 input a float32 copy (exact) the kernels can read.
    A : ndarray or sparse matrix
        ``(n_samples, n_features)`` view of ``arr``.
    owned : bool
        ``arr`` was allocated here and may be overwritten.
    target : ndarray or None
        The caller's own ndarray when it is a writeable float16/32/64 array
        of X's shape (the only object ``copy=False`` may write to).
    out_dtype : numpy dtype
        dtype of the transform's output (float16 stays float16).
    names : ndarray of str or None
        Column names of a table.
    index, columns : object or None
        A DataFrame's index and columns (for pandas output).
    sparse : bool
    """

    def __init__(self, arr, A, owned, target, out_dtype, names, index, columns, sparse):
        self.arr = arr
        self.A = A
        self.owned = owned
        self.target = target
        self.out_dtype = out_dtype
        self.names = names
        self.index = index
        self.columns = columns
        self.sparse = sparse


def _refuse_masked(X, what):
    if isinstance(X, np.ma.MaskedArray):
        raise TypeError(
            f"{what} is a numpy.ma.MaskedArray; Normalizer does not read masks "
            "(the mask would be lost silently). Pass "
            f"{what}.filled(np.nan) to treat masked entries as missing values "
            "(NaN is ignored by fit and kept by transform), or "
            f"{what}.data to use the values under the mask."
        )


def _convert_dtype(arr, what):
    """Return ``(array, copied, out_dtype)`` with a kernel dtype."""
    kind = arr.dtype.kind
    if arr.dtype.type in _KERNEL_DTYPES:
        if not arr.dtype.isnative:
            return arr.astype(arr.dtype.newbyteorder("=")), True, arr.dtype.newbyteorder("=")
        return arr, False, arr.dtype
    if kind == "f":
        if arr.dtype.itemsize == 2:
            # float16 is held exactly by float32; the output goes back to
            # float16 (statistics are accumulated in float64 either way).
            return arr.astype(np.float32), True, np.dtype(np.float16)
        return arr.astype(np.float64), True, np.dtype(np.float64)
    if kind in "iub":
        return arr.astype(np.float64), True, np.dtype(np.float64)
    if kind in "OUS":
        # numbers held as objects or strings convert, as in scikit-learn
        try:
            return arr.astype(np.float64), True, np.dtype(np.float64)
        except (TypeError, ValueError) as exc:
            raise type(exc)(
                f"{what} has dtype {arr.dtype} and could not be converted to float64: {exc}"
            ) from exc
    if kind in "mM":
        elapsed = what if kind == "m" else f"({what} - {what}.min())"
        raise TypeError(
            f"{what} has non-numeric dtype {arr.dtype} (dates or durations); "
            "Normalizer needs real numbers and does not guess a time unit. "
            f"Convert first, e.g. {elapsed} / np.timedelta64(1, 's') for seconds."
        )
    if kind == "c":
        # ValueError with scikit-learn's wording, which its checks expect.
        raise ValueError(
            f"Complex data not supported: {what} has dtype {arr.dtype}; Normalizer "
            "needs real numbers."
        )
    raise TypeError(
        f"{what} has non-numeric dtype {arr.dtype}; Normalizer needs integer "
        "or floating-point numbers."
    )


def _dense(X, what):
    """``(arr, owned, target, out_dtype)`` for a dense input."""
    _refuse_masked(X, what)
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{what} could not be converted to a numeric array: {exc}") from exc
    if arr.dtype == object and hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):
        # pandas nullable columns (Int64, Float64, boolean) give objects with
        # pd.NA; ask pandas for float64 with NaN as the missing value.
        try:
            arr = np.asarray(X.to_numpy(dtype=np.float64, na_value=np.nan))
        except (TypeError, ValueError):
            pass
    arr, copied, out_dtype = _convert_dtype(arr, what)
    if isinstance(X, np.ndarray):
        owned = copied or not np.shares_memory(arr, X)
        target = (
            X
            if (
                X.dtype.kind == "f"
                and X.dtype.itemsize in (2, 4, 8)
                and X.flags.writeable
                and X.ndim == 2
            )
            else None
        )
    else:
        # A DataFrame, list or other array-like: np.asarray may have given a
        # view of its memory (pandas), so only a conversion made here is ours.
        owned = copied or isinstance(X, (list, tuple))
        target = None
    return arr, owned, target, out_dtype


def _sparse(X, what):
    """``(matrix, out_dtype)``: CSR or CSC (other formats become CSR) with
    canonical indices and a kernel dtype. The caller's matrix is never
    modified; a copy is made whenever anything must change."""
    fmt = X.format
    if fmt not in ("csr", "csc"):
        X = X.tocsr()
    data = np.asarray(X.data)
    _, copied, out_dtype = _convert_dtype(data[:0], what)
    if copied:
        X = X.astype(np.float32 if out_dtype == np.float16 else out_dtype)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X, out_dtype


def validate_data(X, what, sample_axis):
    """Check X's kind and dtype; return a :class:`Data` (shape not checked)."""
    check_column_dtypes(X, what)
    names = column_names(X, what) if sample_axis == 0 else None
    index = getattr(X, "index", None) if not isinstance(X, np.ndarray) else None
    columns = getattr(X, "columns", None) if not isinstance(X, np.ndarray) else None
    if is_sparse(X):
        M, out_dtype = _sparse(X, what)
        A = M if sample_axis == 0 else M.T
        return Data(M, A, False, None, out_dtype, None, None, None, True)
    try:
        arr, owned, target, out_dtype = _dense(X, what)
    except (TypeError, ValueError) as exc:
        named = _name_the_column(X, what, exc)
        if named is exc:
            raise
        raise named from exc
    A = arr if (arr.ndim != 2 or sample_axis == 0) else arr.T
    return Data(arr, A, owned, target, out_dtype, names, index, columns, False)


def _name_the_column(X, what, exc):
    """``exc`` again, naming the first column of the table ``X`` whose
    values are not numbers (text in an object, string or category column);
    ``exc`` itself for anything else."""
    if not (hasattr(X, "columns") and hasattr(X, "iloc")):
        return exc
    for j, name in enumerate(X.columns):
        col = X.iloc[:, j]
        try:
            np.asarray(col, dtype=np.float64)
        except (TypeError, ValueError) as err:
            return type(exc)(
                f"{what} column {name!r} ({col.dtype}) holds values that are not numbers "
                f"({err}); Normalizer needs numbers: encode it (e.g. one-hot) or drop it"
            )
    return exc


def kernel_view(A):
    """Give the kernels a view with unit stride along one axis.

    ``A`` is ``(n_samples, n_features)``. Returns ``(K, transposed, copied)``:
    ``K`` is ``A`` itself when features are contiguous (C order), ``A.T`` when
    samples are contiguous (Fortran order, or the course layout seen through
    ``sample_axis=1``): no copy either way.

    The kernels step along the other axis in whole items (``stride //
    itemsize``), so any stride that is not a multiple of the item size (a
    field of a record array, e.g. ``rec["a"][:, None]``), and any misaligned
    data, are copied -- on length-1 axes too. Otherwise only an array strided
    along both axes is copied.
    """
    item = A.itemsize
    strides_ok = all(s % item == 0 for s in A.strides)
    if strides_ok and A.flags.aligned:
        if A.shape[1] == 1 or A.strides[1] == item:
            return A, False, False
        if A.shape[0] == 1 or A.strides[0] == item:
            return A.T, True, False
    ac.check_allocation(A.size * A.itemsize, "X", "a contiguous copy of X")
    return np.array(A, order="C"), False, True  # always a copy


def check_sample_weight(sample_weight, n_samples, allow_zero=False, offset=0):
    """Validate ``sample_weight`` as scikit-learn does; return float64 or None.

    Non-negative weights only (scikit-learn's StandardScaler also accepts
    negative weights, which make a "variance" that can be negative). All
    zeros only with ``allow_zero`` (a later batch of a stream that already
    has weight). ``offset``: where these weights start in the user's (a
    dask chunk's), for the index an error names.
    """
    if sample_weight is None:
        return None
    what = "sample_weight"
    _refuse_masked(sample_weight, what)
    if isinstance(sample_weight, (bool, np.bool_)):
        raise TypeError(
            f"{what} must be an array of numbers or a number, got {sample_weight!r} (bool)."
        )
    if is_sparse(sample_weight):
        raise TypeError(f"{what} must be a dense 1D array, got a sparse matrix.")
    if isinstance(sample_weight, numbers.Number):
        w = (
            np.full(n_samples, sample_weight, dtype=np.float64)
            if isinstance(sample_weight, numbers.Real)
            else np.asarray(sample_weight)
        )
    else:
        try:
            w = np.asarray(sample_weight)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{what} could not be converted to an array: {exc}") from exc
    if w.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {what} has dtype {w.dtype}.")
    if w.dtype.kind in "USV":
        raise TypeError(
            f"{what} must hold real numbers, got dtype {w.dtype} (convert text "
            f"with {what}.astype(float) first)."
        )
    if w.dtype.kind not in "biuf":
        try:
            w = w.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{what} must hold real numbers, got dtype {w.dtype} ({exc}).") from exc
    w = np.array(w, dtype=np.float64)  # our own copy; the caller's is kept
    if w.ndim != 1:
        raise ValueError(
            f"Sample weights must be 1D array or scalar, got {w.ndim}D array "
            f"({what}.shape={w.shape}). Expected either a scalar value or a 1D "
            f"array of length {n_samples}."
        )
    if w.shape != (n_samples,):
        raise ValueError(
            f"{what}.shape == {w.shape}, expected {(n_samples,)}!: {what} has "
            f"{w.shape[0]} entries but X has {n_samples} samples."
        )
    if np.isnan(w).any():
        raise ValueError(
            f"Input {what} contains NaN (at index {offset + int(np.flatnonzero(np.isnan(w))[0])})."
        )
    if np.isinf(w).any():
        raise ValueError(
            f"Input {what} contains infinity (at index "
            f"{offset + int(np.flatnonzero(np.isinf(w))[0])})."
        )
    if (w < 0).any():
        i = int(np.flatnonzero(w < 0)[0])
        raise ValueError(
            f"{what} must be non-negative, got {w[i]!r} at index {offset + i}: a negative "
            "weight makes the variance meaningless."
        )
    if not allow_zero and not (w > 0).any():
        raise ValueError(
            f"Sample weights must contain at least one non-zero number ({what} is all zeros)."
        )
    return w


def validate_for(est, X, *, reset, what="X", warn_names=True, stacklevel=3):
    """Check X for a normalizer ``est`` (its ``sample_axis``, ``with_mean``
    and, unless ``reset``, the features it was fitted on); return a :class:`Data`.

    Unless ``reset``: feature names that differ from ``feature_names_in_``
    raise ValueError, and with ``warn_names`` a UserWarning says when only
    one of X and the fit had feature names (scikit-learn's wording; its
    ``inverse_transform`` does not check names, hence the switch);
    ``stacklevel`` points the warning at the caller's line.
    """
    axis = int(est.sample_axis)
    data = validate_data(X, what, axis)
    ndim = len(data.arr.shape)
    if ndim != 2:
        if ndim == 1:
            raise ValueError(
                f"Expected 2D array, got 1D array instead: {what}.shape={data.arr.shape}. "
                "Reshape your data either using X.reshape(-1, 1) if it has a "
                "single feature or X.reshape(1, -1) if it is a single sample "
                "(transpose both if you use sample_axis=1)."
            )
        raise ValueError(
            f"Expected 2D array, got {ndim}D array instead: {what}.shape={data.arr.shape}."
        )
    shape = data.arr.shape
    n_samples, n_features = data.A.shape
    if n_samples == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={shape}) while a minimum "
            f"of 1 is required. {what} is empty along its sample axis "
            f"(sample_axis={axis})."
        )
    if n_features == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={shape}) while a minimum "
            f"of 1 is required. {what} is empty along its feature axis "
            f"(sample_axis={axis})."
        )
    if data.sparse and est.with_mean:
        raise ValueError(SPARSE_CENTER_MSG)
    if reset:
        return data
    expected = est.n_features_in_
    if n_features != expected:
        hint = ""
        if n_samples == expected:
            hint = f" The transposed array would fit: did you mean sample_axis={1 - axis}?"
        raise ValueError(
            f"{what} has {n_features} features, but {type(est).__name__} is "
            f"expecting {expected} features as input ({what}.shape={shape}, "
            f"samples along axis {axis}).{hint}"
        )
    check_feature_names(est, data.names, what, warn_names, stacklevel + 1)
    return data


def check_feature_names(est, names, what="X", warn=True, stacklevel=3):
    """``names`` (X's column names, or None) against the ``feature_names_in_``
    of the fitted ``est``: different names (or order) raise ValueError; with
    ``warn``, a UserWarning when only one side has names (scikit-learn's
    wording)."""
    fitted_names = getattr(est, "feature_names_in_", None)
    if names is not None and fitted_names is not None:
        if not np.array_equal(names, fitted_names):
            raise ValueError(
                f"The feature names of {what} differ from those seen in fit: "
                f"{list(names)} vs {list(fitted_names)}."
            )
    elif warn and fitted_names is not None:
        # A plain array after a DataFrame fit: its columns cannot be checked.
        warnings.warn(
            f"{what} does not have valid feature names, but {type(est).__name__} "
            "was fitted with feature names",
            UserWarning,
            stacklevel=stacklevel,
        )
    elif warn and names is not None:
        warnings.warn(
            f"{what} has feature names, but {type(est).__name__} was fitted without feature names",
            UserWarning,
            stacklevel=stacklevel,
        )


def check_params(est, max_threads):
    """Validate a Normalizer's constructor parameters; return the thread
    count (at most ``max_threads``)."""
    for name in ("with_mean", "with_std", "copy"):
        value = getattr(est, name)
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {value!r}.")
    axis = est.sample_axis
    if (
        isinstance(axis, (bool, np.bool_))
        or not isinstance(axis, numbers.Integral)
        or axis not in (0, 1)
    ):
        raise ValueError(
            "sample_axis must be 0 (samples are rows, X of shape "
            "(n_samples, n_features), scikit-learn's layout) or 1 (samples "
            f"are columns, X of shape (n_x, m), the course's layout); got {axis!r}."
        )
    n_threads = est.n_threads
    if n_threads is not None and (
        isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral)
    ):
        raise TypeError(
            "n_threads must be an int (a positive count, or -1 for all cores) "
            f"or None, got {n_threads!r} ({type(n_threads).__name__})."
        )
    return min(effective_n_threads(n_threads), max_threads)
