"""Input normalization: fit the mean and standard deviation on the training set,
then apply the *same* transform to train, dev and test data.

:class:`Normalizer` is a drop-in for :class:`sklearn.preprocessing.StandardScaler`
(same methods, fitted attributes and semantics, usable in a ``Pipeline``)
backed by compiled kernels from :mod:`fastgrad.normalize._normalizer_kernel`:

* statistics in one pass over the data, float64 accumulators for every input
  dtype, bitwise identical for any thread count;
* ``partial_fit`` merges chunks of a stream exactly as the kernel merges its
  own chunks (Chan, Golub & LeVeque's update);
* the transform is one fused pass ``(x - mean_) * (1 / scale_)``;
* samples are rows by default (scikit-learn), ``sample_axis=1`` takes the
  course's ``X`` of shape ``(n_x, m)`` (examples are columns).

The transform divides by the standard deviation σ, not the variance σ²: only
``(x - μ) / σ`` has unit variance.

The layers: :mod:`fastgrad.normalize.inputs` (what the caller passed, and
what may be written), :mod:`fastgrad.normalize.stats` (moments and their
merge), :mod:`fastgrad.normalize.io` (save/load), this module (the
estimator and the train/test report).
"""
import inspect
import numbers
import os
import sys

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad.normalize import _normalizer_kernel
from fastgrad.normalize import io as _normalizer_io
from fastgrad.normalize.inputs import (SPARSE_CENTER_MSG, check_sample_weight,
                                        kernel_view, validate_data)
from fastgrad.normalize.stats import (Moments, dense_moments, feature_list,
                                        is_constant, masked_moments, merge,
                                        sparse_moments)
from fastgrad._threads import effective_n_threads

__all__ = ["Normalizer", "NotFittedError", "DistributionReport"]

# Never more OpenMP threads than the machine has cores, whatever was asked
# (fastgrad._threads.effective_n_threads caps at the usable cores too).
_MAX_THREADS = max(1, os.cpu_count() or 1)


class NotFittedError(ValueError, AttributeError):
    """Raised when a :class:`Normalizer` is used before it is fitted.

    Subclasses both ``ValueError`` and ``AttributeError``, as scikit-learn's
    ``NotFittedError`` does, so code written for either keeps working.
    """


# ---------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------

class Normalizer:
    """Standardize features with statistics fitted on the training set.

    ``z = (x - mean_) / scale_``, where ``mean_`` and ``scale_`` (the
    population standard deviation σ, ``1/m`` normalization) come from the
    data passed to :meth:`fit` / :meth:`partial_fit`. Transform train, dev and
    test sets with the same fitted object; never refit on test data.
    :meth:`report` tells how far another set lies from the training
    statistics.

    Accepts what :class:`sklearn.preprocessing.StandardScaler` accepts, with
    the same results to rounding: NumPy arrays of any real dtype and layout,
    pandas DataFrames (pandas 2 and 3), lists, ``scipy.sparse`` matrices with
    ``with_mean=False``, NaN as a missing value, ``sample_weight``. The
    deviations are listed under Notes.

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract the mean. ``mean_`` is computed either way (unless
        ``with_std`` is False too). Must be False for sparse input.
    with_std : bool, default=True
        Divide by the standard deviation. If False, ``var_`` and ``scale_``
        are None.
    copy : bool, default=True
        If True, the caller's data is never written. If False,
        :meth:`transform` and :meth:`inverse_transform` write the result into
        X and return X when X is a writeable float16/float32/float64
        ``numpy.ndarray`` (any layout, including record-array fields); any
        other input (integers, DataFrames, lists, read-only arrays, sparse
        matrices) gives a new array, and the caller's object is not written.
        The input is checked (infinity, overflow of the result) before it is
        touched: on any error X is bit-identical.
    sample_axis : {0, 1}, default=0
        The axis along which samples lie. 0: ``X`` is ``(n_samples,
        n_features)`` (scikit-learn). 1: ``X`` is ``(n_features, n_samples)``,
        the course layout ``(n_x, m)`` with examples as columns. Every method
        returns arrays in the layout it was given.
    n_threads : int or None, default=None
        OpenMP threads; None or -1 use all cores (respecting
        ``OMP_NUM_THREADS``), larger values are capped at the cores there
        are. Results are bitwise identical for every value. Must be an int
        (not a bool, str or float).

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,), float64, or None
        Per-feature training mean; None if ``with_mean`` and ``with_std`` are
        both False. NaN for a feature whose values were all missing.
    var_ : ndarray of shape (n_features,), float64, or None
        Per-feature population variance (divided by ``n_samples_seen_``);
        None if ``with_std`` is False.
    scale_ : ndarray of shape (n_features,), float64, or None
        ``sqrt(var_)``, with 1.0 for features whose variance is
        indistinguishable from 0 at float64 precision (no division by zero,
        no amplified rounding noise). None if ``with_std`` is False.
    n_samples_seen_ : int, float or ndarray of shape (n_features,)
        Samples seen by :meth:`fit` or all :meth:`partial_fit` calls so far
        (the sum of the weights when ``sample_weight`` was given, then a
        float). An array when features have different counts (NaN entries
        are not counted), as in scikit-learn.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features,), object
        Column names, set only when fitted on a table whose columns are all
        strings (e.g. a pandas DataFrame).

    Notes
    -----
    Statistics: unweighted data without NaN goes through the compiled
    kernel. The samples are cut into chunks of
    ``fastgrad.normalize._normalizer_kernel.CHUNK_SIZE``; each chunk's mean and sum of squared
    deviations come from float64 sums of deviations from the chunk's first
    sample, in one read of the data (at most ``log10(CHUNK_SIZE + 1)``
    digits lost to cancellation inside a chunk), and the chunks are merged in
    order with Chan's update, their means carried as offsets from the first
    sample so the merge does not lose digits either. Measured against a
    two-pass extended-precision reference on the same float64 data
    (100,000 rows, one array or ``partial_fit`` batches of 7 to 1,000 rows),
    the relative error of ``var_`` stays below 2e-15 for offset/σ from 1e8
    to 1e14 (it was 3e-10 at 1e8 and 4.9e-6 at 1e12 before the means were
    carried as offsets). That is not "any offset": near offset/σ = 1e16 the
    float64 data themselves no longer resolve σ. float32 data keeps float32
    output, every accumulation is float64.

    Weighted data and features with NaN take a two-pass NumPy path over
    blocks of rows (same accuracy, deterministic; measured on 200,000 x 100
    float64, one thread: about 15x the kernel's time, still 4-8x faster than
    scikit-learn's weighted or NaN fit). Sparse input: implicit zeros are
    samples, stored NaN are missing.

    The transform multiplies by ``1 / scale_`` rather than dividing by
    ``scale_``, in float64 with one rounding to the output dtype: results may
    differ from scikit-learn's by one rounding (scikit-learn computes
    float32/float16 transforms in their own precision).

    Where scikit-learn's StandardScaler is not followed, on purpose:

    * a transform whose result overflows the output dtype, and infinity in
      the input, raise ValueError (scikit-learn returns ``inf``);
    * negative ``sample_weight`` is refused (scikit-learn accepts it and can
      produce a negative variance);
    * ``numpy.ma.MaskedArray`` is refused with a TypeError (scikit-learn drops
      the mask silently); ``X.filled(np.nan)`` makes masked entries missing;
    * sparse input keeps its format (scikit-learn's transform turns CSC into
      CSR), and the result is always a new matrix, also with ``copy=False``;
    * ``copy=False`` never writes into a DataFrame (pandas owns that memory);
    * ``set_output(transform="polars")`` is not supported.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgrad import Normalizer
    >>> X_train = np.array([[0.0, 10.0], [2.0, 10.0], [4.0, 10.0]])
    >>> norm = Normalizer().fit(X_train)
    >>> norm.mean_, norm.scale_
    (array([ 2., 10.]), array([1.63299316, 1.        ]))
    >>> norm.transform([[2.0, 10.0], [6.0, 10.0]])
    array([[0.        , 0.        ],
           [2.44948974, 0.        ]])
    """

    def __init__(self, *, with_mean=True, with_std=True, copy=True,
                 sample_axis=0, n_threads=None):
        # Stored as given: scikit-learn's clone() requires it, and validation
        # happens when the parameters are used.
        self.with_mean = with_mean
        self.with_std = with_std
        self.copy = copy
        self.sample_axis = sample_axis
        self.n_threads = n_threads

    # -- scikit-learn estimator protocol ------------------------------------

    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values() if p.name != "self")

    def get_params(self, deep=True):
        """Get the constructor parameters.

        Parameters
        ----------
        deep : bool, default=True
            Ignored (no sub-estimators); kept for scikit-learn compatibility.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor parameters; values are validated at the next fit.

        Returns
        -------
        self : Normalizer
        """
        valid = self._get_param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, key, value)
        return self

    def set_output(self, *, transform=None):
        """Choose the container :meth:`transform` and :meth:`fit_transform`
        return, as scikit-learn's ``set_output``.

        Parameters
        ----------
        transform : {"default", "pandas"} or None, default=None
            ``"pandas"``: a DataFrame whose columns are
            :meth:`get_feature_names_out` and whose index is X's index when X
            is a DataFrame (with ``sample_axis=1`` features are the index).
            ``"default"``: NumPy arrays (sparse stays sparse). None: unchanged.

        Returns
        -------
        self : Normalizer
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas"):
            raise ValueError(
                f"set_output: transform must be 'default', 'pandas' or None, got "
                f"{transform!r}."
            )
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def _output_kind(self):
        config = getattr(self, "_sklearn_output_config", {}).get("transform")
        if config is None and "sklearn" in sys.modules:
            # Honour scikit-learn's global set_config(transform_output=...).
            try:
                config = sys.modules["sklearn"].get_config().get("transform_output")
            except Exception:  # pragma: no cover - a broken sklearn import
                config = None
        return config if config in ("pandas",) else "default"

    def __repr__(self):
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.name != "self"
        }
        args = ", ".join(
            f"{k}={v!r}" for k, v in self.get_params().items()
            if not (v is defaults[k] or (type(v) is type(defaults[k]) and v == defaults[k]))
        )
        return f"{type(self).__name__}({args})"

    def __sklearn_is_fitted__(self):
        return hasattr(self, "n_samples_seen_")

    def __sklearn_tags__(self):
        # Called only by scikit-learn, so importing it here keeps it optional.
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(preserves_dtype=["float64", "float32"]),
            input_tags=InputTags(allow_nan=True, sparse=not self.with_mean),
            requires_fit=True,
        )

    def get_feature_names_out(self, input_features=None):
        """Output feature names: the input names (the transform is one-to-one).

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            If None, ``feature_names_in_`` when fitted on named columns, else
            ``["x0", "x1", ...]``.

        Returns
        -------
        names : ndarray of shape (n_features,), object
        """
        self._check_fitted()
        names_in = getattr(self, "feature_names_in_", None)
        if input_features is None:
            if names_in is not None:
                return names_in.copy()
            return np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)
        input_features = np.asarray(input_features, dtype=object)
        if input_features.shape != (self.n_features_in_,):
            raise ValueError(
                f"input_features should have length equal to n_features_in_ "
                f"({self.n_features_in_}), got {input_features.shape}."
            )
        if names_in is not None and not np.array_equal(input_features, names_in):
            raise ValueError("input_features is not equal to feature_names_in_.")
        return input_features

    # -- parameter and data checks ------------------------------------------

    def _check_params(self):
        """Validate the constructor parameters; return the thread count."""
        for name in ("with_mean", "with_std", "copy"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {value!r}.")
        axis = self.sample_axis
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral) \
                or axis not in (0, 1):
            raise ValueError(
                "sample_axis must be 0 (samples are rows, X of shape "
                "(n_samples, n_features), scikit-learn's layout) or 1 (samples "
                f"are columns, X of shape (n_x, m), the course's layout); got {axis!r}."
            )
        n_threads = self.n_threads
        if n_threads is not None and (
                isinstance(n_threads, (bool, np.bool_))
                or not isinstance(n_threads, numbers.Integral)):
            raise TypeError(
                "n_threads must be an int (a positive count, or -1 for all cores) "
                f"or None, got {n_threads!r} ({type(n_threads).__name__})."
            )
        return min(effective_n_threads(n_threads), _MAX_THREADS)

    def _check_fitted(self):
        if not hasattr(self, "n_samples_seen_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call "
                "'fit' (or 'partial_fit') with the training data before using it."
            )

    def _validate(self, X, *, reset, what="X"):
        """Check X and return a :class:`fastgrad.normalize.inputs.Data`."""
        axis = int(self.sample_axis)
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
                f"Expected 2D array, got {ndim}D array instead: "
                f"{what}.shape={data.arr.shape}."
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
        if data.sparse and self.with_mean:
            raise ValueError(SPARSE_CENTER_MSG)
        if reset:
            return data
        expected = self.n_features_in_
        if n_features != expected:
            hint = ""
            if n_samples == expected:
                hint = (f" The transposed array would fit: did you mean "
                        f"sample_axis={1 - axis}?")
            raise ValueError(
                f"{what} has {n_features} features, but {type(self).__name__} is "
                f"expecting {expected} features as input ({what}.shape={shape}, "
                f"samples along axis {axis}).{hint}"
            )
        fitted_names = getattr(self, "feature_names_in_", None)
        if data.names is not None and fitted_names is not None and \
                not np.array_equal(data.names, fitted_names):
            raise ValueError(
                f"The feature names of {what} differ from those seen in fit: "
                f"{list(data.names)} vs {list(fitted_names)}."
            )
        return data

    # -- statistics ----------------------------------------------------------

    def _moments(self, data, sample_weight, n_threads, what="X"):
        """Moments of one validated batch."""
        w = check_sample_weight(sample_weight, data.A.shape[0])
        if data.sparse:
            return sparse_moments(data.A, w, what), w is not None
        if w is None:
            return dense_moments(data.A, n_threads, what), False
        return masked_moments(data.A, w, what), True

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
            return Moments(np.where(n > 0, mean, 0.0), np.zeros(d),
                           np.where(n > 0, var * n, 0.0), n)

    def fit(self, X, y=None, sample_weight=None):
        """Compute the mean and standard deviation of the training set.

        Forgets any previous fit.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features), or (n_features, n_samples) if ``sample_axis=1``
            Training data, any real numeric dtype, C or Fortran order or
            strided; a DataFrame; CSR/CSC with ``with_mean=False``. NaN is a
            missing value (ignored); infinity is refused. Not modified.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), number or None
            Non-negative weight of each sample. Not modified.

        Returns
        -------
        self : Normalizer
        """
        n_threads = self._check_params()
        data = self._validate(X, reset=True)
        self._update(data, sample_weight, n_threads, reset=True)
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the statistics with one more chunk of training samples.

        Any number of chunks of any sizes give the statistics of their
        concatenation (up to rounding). On error the state is unchanged.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features), or (n_features, n_samples) if ``sample_axis=1``
            The next chunk. Not modified.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), number or None
            Non-negative weight of each sample. Not modified.

        Returns
        -------
        self : Normalizer
        """
        n_threads = self._check_params()
        first = not hasattr(self, "n_samples_seen_")
        data = self._validate(X, reset=first)
        self._update(data, sample_weight, n_threads, reset=first)
        return self

    def _update(self, data, sample_weight, n_threads, reset):
        batch, weighted = self._moments(data, sample_weight, n_threads)
        if reset:
            m = batch
        else:
            m = merge(self._state(), batch)
            weighted = weighted or getattr(self, "_weighted", False)
        n = m.n
        mean = m.mean
        keep_mean = self.with_mean or self.with_std
        if self.with_std:
            var = m.var
            with np.errstate(invalid="ignore"):
                scale = np.where(is_constant(var, mean, n), 1.0, np.sqrt(var))
        else:
            var = scale = None
        counts = n if weighted else n.astype(np.int64)
        if counts.min() == counts.max():
            counts = float(counts[0]) if weighted else int(counts[0])
        # Nothing is assigned before everything is computed: a failed
        # partial_fit leaves the state as it was.
        self._moments_state = m
        self._weighted = weighted
        self.mean_ = mean if keep_mean else None
        self.var_ = var
        self.scale_ = scale
        self.n_samples_seen_ = counts
        if reset:
            self.n_features_in_ = data.A.shape[1]
            if data.names is not None:
                self.feature_names_in_ = data.names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_

    # -- transforms ------------------------------------------------------------

    def _constants(self, inverse):
        d = self.n_features_in_
        shift = self.mean_ if self.with_mean else np.zeros(d)
        if not self.with_std:
            factor = np.ones(d)
        else:
            factor = self.scale_ if inverse else 1.0 / self.scale_
        return (np.ascontiguousarray(shift, dtype=np.float64),
                np.ascontiguousarray(factor, dtype=np.float64))

    def _overflow_message(self, what, features, dtype, inverse):
        formula = "X * scale_ + mean_" if inverse else "(X - mean_) / scale_"
        kind = "inverse transform" if inverse else "transform"
        return (
            f"The {kind} of {what} overflows {np.dtype(dtype).name}: {formula} is "
            f"beyond ±{np.finfo(dtype).max:.4g} in feature(s) {feature_list(features)}. "
            f"{what} was not modified. Check that {what} is on the scale of the "
            "training data (or pass float64 data)."
        )

    def _precheck(self, K, transposed, shift, factor, inverse, dtype, stats_ok, what,
                  n_threads):
        """Raise before anything is written if the map would meet infinity or
        overflow. The map is monotonic in x per feature (``factor > 0``, and
        rounding is monotonic), so each feature's extremes decide: one read of
        K (compiled, NaN skipped), no output."""
        d = len(shift)
        lo, hi = np.empty(d), np.empty(d)
        _normalizer_kernel.minmax(K, transposed, lo, hi, n_threads)
        inf = np.isinf(lo) | np.isinf(hi)
        if inf.any():
            raise ValueError(f"Input {what} contains infinity (in feature(s) "
                             f"{feature_list(np.flatnonzero(inf))}).")
        bad = np.zeros(lo.shape, dtype=bool)
        with np.errstate(over="ignore", invalid="ignore"):
            for x in (lo, hi):
                y = (x * factor + shift) if inverse else ((x - shift) * factor)
                y = y.astype(dtype)
                bad |= ~np.isfinite(y) & np.isfinite(x)
        bad &= stats_ok
        if bad.any():
            raise ValueError(self._overflow_message(what, np.flatnonzero(bad), dtype,
                                                    inverse))

    def _diagnose(self, K, out, transposed, stats_ok, inverse, what):
        """After the kernel flagged a non-finite output written to a separate
        array: infinity in X or an overflow is an error, NaN (missing) is not."""
        axis = 1 if transposed else 0
        inf = np.isinf(K).any(axis=axis)
        if inf.any():
            raise ValueError(f"Input {what} contains infinity (in feature(s) "
                             f"{feature_list(np.flatnonzero(inf))}).")
        bad = (~np.isfinite(out) & np.isfinite(K)).any(axis=axis) & stats_ok
        if bad.any():
            raise ValueError(self._overflow_message(what, np.flatnonzero(bad), out.dtype,
                                                    inverse))

    def _apply(self, data, copy, inverse, n_threads, what="X"):
        if data.sparse:
            return self._apply_sparse(data, inverse, what)
        shift, factor = self._constants(inverse)
        stats_ok = np.isfinite(shift) & np.isfinite(factor)
        K, transposed, copied = kernel_view(data.A)
        target = data.target if not copy else None
        # The kernel may write into K only if K is memory allocated here, or
        # the caller's own array with copy=False (checked first, below).
        direct = target is not None and not data.owned and not copied
        if direct or data.owned or copied:
            self._precheck(K, transposed, shift, factor, inverse, K.dtype, stats_ok, what,
                           n_threads)
            out = K
        else:
            ac.check_allocation(K.size * K.itemsize, what, f"the transformed {what}")
            out = np.empty(K.shape, dtype=K.dtype)
        if not _normalizer_kernel.affine(K, out, transposed, shift, factor, inverse, n_threads) \
                and out is not K:
            self._diagnose(K, out, transposed, stats_ok, inverse, what)
        res = out.T if transposed else out  # (n_samples, n_features)
        if self.sample_axis == 1:
            res = res.T
        if data.out_dtype != res.dtype:  # float16: one more rounding
            with np.errstate(over="ignore"):
                low = res.astype(data.out_dtype)
            over = np.isinf(low) & np.isfinite(res)
            if over.any():
                cols = np.flatnonzero(over.any(axis=1 if self.sample_axis == 1 else 0))
                raise ValueError(self._overflow_message(what, cols, data.out_dtype,
                                                        inverse))
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

    def _apply_sparse(self, data, inverse, what):
        if self.with_mean:
            raise ValueError(SPARSE_CENTER_MSG)
        M = data.arr
        counts = np.diff(np.asarray(M.indptr))
        major = np.repeat(np.arange(len(counts)), counts)
        minor = np.asarray(M.indices)
        feature_is_column = self.sample_axis == 0
        feat = minor if (M.format == "csr") == feature_is_column else major
        values = np.asarray(M.data, dtype=np.float64)
        if np.isinf(values).any():
            raise ValueError(f"Input {what} contains infinity (in feature(s) "
                             f"{feature_list(np.unique(feat[np.isinf(values)]))}).")
        out = M.copy()  # data, indices and indptr: nothing is shared
        if self.with_std:
            factor = self.scale_ if inverse else 1.0 / self.scale_
            with np.errstate(over="ignore", invalid="ignore"):
                new = (values * factor[feat]).astype(M.dtype)
            bad = ~np.isfinite(new) & np.isfinite(values) & np.isfinite(factor[feat])
            if bad.any():
                raise ValueError(self._overflow_message(
                    what, np.unique(feat[bad]), M.dtype, inverse))
            out.data = new
        return out

    def _wrap(self, data, res):
        """Apply ``set_output``: a DataFrame when asked for."""
        if self._output_kind() != "pandas":
            return res
        if data.sparse:
            raise ValueError("Pandas output does not support sparse data: the "
                             "transform of a sparse matrix is sparse. Use "
                             "set_output(transform='default').")
        import pandas as pd

        names = self.get_feature_names_out()
        index = data.index if data.index is not None and self.sample_axis == 0 else None
        if self.sample_axis == 0:
            return pd.DataFrame(res, columns=names, index=index, copy=False)
        columns = data.columns if data.columns is not None else None
        return pd.DataFrame(res, index=names, columns=columns, copy=False)

    def transform(self, X, copy=None):
        """Standardize X with the training statistics: ``(X - mean_) / scale_``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features), or (n_features, n_samples) if ``sample_axis=1``
            Data to transform (train, dev or test). NaN stays NaN; infinity,
            and results beyond the output dtype's range, are refused.
        copy : bool or None, default=None
            Overrides the ``copy`` parameter for this call.

        Returns
        -------
        X_tr : ndarray, sparse matrix or DataFrame, same shape and layout as X
            float32 for float32 input, float16 for float16, float64 otherwise.
        """
        self._check_fitted()
        n_threads = self._check_params()
        copy = self._check_copy(copy)
        data = self._validate(X, reset=False)
        return self._wrap(data, self._apply(data, copy, False, n_threads))

    def _check_copy(self, copy):
        copy = self.copy if copy is None else copy
        if not isinstance(copy, (bool, np.bool_)):
            raise TypeError(f"copy must be a bool or None, got {copy!r}.")
        return bool(copy)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit to X, then transform it (X is read twice and validated once).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features), or (n_features, n_samples) if ``sample_axis=1``
            Training data.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), number or None
            Non-negative weight of each sample (fit only).

        Returns
        -------
        X_tr : ndarray, sparse matrix or DataFrame, same shape and layout as X
        """
        n_threads = self._check_params()
        data = self._validate(X, reset=True)
        self._update(data, sample_weight, n_threads, reset=True)
        return self._wrap(data, self._apply(data, self.copy, False, n_threads))

    def inverse_transform(self, X, copy=None):
        """Undo the transform: ``X * scale_ + mean_``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features), or (n_features, n_samples) if ``sample_axis=1``
            Normalized data.
        copy : bool or None, default=None
            Overrides the ``copy`` parameter for this call.

        Returns
        -------
        X_orig : ndarray or sparse matrix, same shape and layout as X
        """
        self._check_fitted()
        n_threads = self._check_params()
        copy = self._check_copy(copy)
        data = self._validate(X, reset=False)
        return self._apply(data, copy, True, n_threads)

    # -- train/test check --------------------------------------------------------

    def report(self, X, *, mean_tol=0.25, std_tol=1.5, max_rows=10):
        """Compare another set's per-feature statistics with the training ones.

        The numbers are exactly what the fitted transform does to X: its
        per-feature mean and standard deviation *after* normalization with the
        training ``mean_`` and ``scale_`` (ideal: 0 and 1). That is the check
        that dev/test data come from the distribution the model was trained
        on. X's statistics are not stored; the Normalizer is unchanged — never
        refit on test data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_features, n_samples) if ``sample_axis=1``
            Dev or test data.
        mean_tol : float, default=0.25
            Flag a feature whose mean lies more than this many training σ from
            the training mean.
        std_tol : float, default=1.5
            Flag a feature whose standard deviation is more than ``std_tol``
            times, or less than ``1 / std_tol`` times, the training one.
        max_rows : int, default=10
            Rows in the ``str()`` table (flagged features first, then the
            largest shifts).

        Returns
        -------
        DistributionReport
        """
        self._check_fitted()
        n_threads = self._check_params()
        if self.mean_ is None or self.var_ is None:
            raise ValueError(
                "report() needs the training mean and spread; this Normalizer was "
                "fitted with with_std=False, so it has no var_."
            )
        mean_tol = ac.real(mean_tol, "mean_tol", low=0, low_open=True)
        std_tol = ac.real(std_tol, "std_tol", low=1, low_open=True)
        max_rows = ac.integer(max_rows, "max_rows", minimum=0)
        data = self._validate(X, reset=False)
        m, _ = self._moments(data, None, n_threads)
        names = getattr(self, "feature_names_in_", None)
        n_train = self.n_samples_seen_
        return DistributionReport(
            train_mean=self.mean_.copy(), train_std=np.sqrt(self.var_),
            scale=self.scale_.copy(),
            constant=is_constant(self.var_, self.mean_, n_train),
            test_mean=m.mean, test_std=np.sqrt(m.var),
            n_train=n_train if np.ndim(n_train) == 0 else np.max(n_train),
            n_test=data.A.shape[0],
            mean_tol=float(mean_tol), std_tol=float(std_tol), max_rows=int(max_rows),
            feature_names=None if names is None else list(names),
        )

    # -- persistence -------------------------------------------------------------

    def save(self, path):
        """Write the fitted Normalizer to ``path`` as a ``.npz`` archive.

        Arrays are stored bit for bit and the parameters as JSON text; nothing
        is pickled, so :meth:`load` never executes code from the file.

        Parameters
        ----------
        path : str or os.PathLike
            Destination; written as given (no suffix is appended).
        """
        self._check_fitted()
        self._check_params()
        _normalizer_io.save(self, path)

    @classmethod
    def load(cls, path):
        """Read a Normalizer written by :meth:`save`.

        Every entry's header is checked before anything is allocated, and
        the values against each other (shapes, counts, ``var_ >= 0``,
        ``scale_`` the square root of ``var_``, feature names).

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        Normalizer
            Fitted, with transforms bitwise identical to the saved one.

        Raises
        ------
        ValueError
            If the file is not a Normalizer file written by fastgrad, or is
            damaged, truncated or inconsistent; the message names the file
            and what is wrong.
        FileNotFoundError, PermissionError
            If ``path`` cannot be opened at all.
        """
        return _normalizer_io.load(cls, path)


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

class DistributionReport:
    """How far a data set lies from a Normalizer's training statistics.

    All arrays have shape ``(n_features,)``, float64.

    Attributes
    ----------
    mean_shift : ndarray
        ``(test_mean - train_mean) / scale``: the per-feature mean of the
        normalized set, in training σ units (ideal 0).
    std_ratio : ndarray
        ``test_std / scale``: the per-feature standard deviation of the
        normalized set (ideal 1; 0 for features constant in training).
    flagged : ndarray of bool
        Features with ``|mean_shift| > mean_tol``, or a std ratio outside
        ``[1/std_tol, std_tol]`` (for training-constant features: any spread
        beyond ``mean_tol``).
    constant : ndarray of bool
        Features constant in training (their scale is 1, so their numbers are
        in raw units).
    train_mean, train_std, test_mean, test_std, scale : ndarray
        The statistics themselves (``train_std`` is ``sqrt(var_)``; ``scale``
        is ``scale_``).
    n_train, n_test : int
        Sample counts.
    """

    def __init__(self, *, train_mean, train_std, scale, constant, test_mean, test_std,
                 n_train, n_test, mean_tol, std_tol, max_rows=10, feature_names=None):
        self.train_mean = train_mean
        self.train_std = train_std
        self.scale = scale
        self.test_mean = test_mean
        self.test_std = test_std
        self.n_train = n_train
        self.n_test = n_test
        self.mean_tol = mean_tol
        self.std_tol = std_tol
        self.max_rows = max_rows
        self.feature_names = feature_names
        self.constant = constant
        self.mean_shift = (test_mean - train_mean) / scale
        self.std_ratio = test_std / scale
        spread_bad = np.where(
            self.constant,
            self.std_ratio > mean_tol,
            (self.std_ratio > std_tol) | (self.std_ratio < 1.0 / std_tol),
        )
        self.flagged = (np.abs(self.mean_shift) > mean_tol) | spread_bad

    @property
    def ok(self):
        """True if no feature is flagged."""
        return not bool(self.flagged.any())

    def _name(self, j):
        return self.feature_names[j] if self.feature_names is not None else str(j)

    def __str__(self):
        d = self.mean_shift.size
        n_flag = int(self.flagged.sum())
        head = (
            f"Distribution check: {self.n_test} samples against training statistics "
            f"from {self.n_train} samples, {d} features.\n"
            f"Numbers are what the fitted transform gives this set: mean in training "
            f"σ units (ideal 0) and std ratio (ideal 1).\n"
        )
        if n_flag:
            head += (f"{n_flag} of {d} feature(s) flagged (|mean shift| > "
                     f"{self.mean_tol:g} σ or std ratio outside "
                     f"[{1 / self.std_tol:.3g}, {self.std_tol:g}]).\n")
        else:
            head += (f"No feature flagged (|mean shift| <= {self.mean_tol:g} σ, std "
                     f"ratio within [{1 / self.std_tol:.3g}, {self.std_tol:g}]).\n")
        order = np.lexsort((-np.abs(self.mean_shift), ~self.flagged))
        shown = order[: self.max_rows]
        rows = [("feature", "train mean", "train std", "X mean", "X std",
                 "shift (σ)", "std ratio", "")]
        for j in shown:
            note = "FLAG" if self.flagged[j] else ""
            if self.constant[j]:
                note = (note + " const-in-train").strip()
            rows.append((
                self._name(j), f"{self.train_mean[j]:.6g}", f"{self.train_std[j]:.4g}",
                f"{self.test_mean[j]:.6g}", f"{self.test_std[j]:.4g}",
                f"{self.mean_shift[j]:+.3f}", f"{self.std_ratio[j]:.3f}", note,
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
                 for r in rows]
        lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
        tail = "" if d <= len(shown) else f"\n({d - len(shown)} more feature(s) not shown)"
        return head + "\n".join(lines) + tail

    def __repr__(self):
        return (f"<DistributionReport: {int(self.flagged.sum())} of "
                f"{self.mean_shift.size} features flagged, n_test={self.n_test}>")
