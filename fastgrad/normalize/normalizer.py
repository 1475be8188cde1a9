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

The layers, one direction: this module (the estimator) →
:mod:`fastgrad.normalize.inputs` (what the caller passed, and what may be
written) → :mod:`fastgrad.normalize.stats` (moments and their merge) and
:mod:`fastgrad.normalize.transform` (the map) → the compiled kernel
(``csrc/normalize/_normalizer_kernel.pyx``); beside them
:mod:`fastgrad.normalize.estimator` (the scikit-learn protocol),
:mod:`fastgrad.normalize.report` (train/test report) and
:mod:`fastgrad.normalize.io` (save/load).
"""

from __future__ import annotations

import numbers
import os

import numpy as np

from fastgrad._threads import effective_n_threads
from fastgrad.normalize import dask_support, inputs, transform, tree, update
from fastgrad.normalize import io as _normalizer_io
from fastgrad.normalize.estimator import Estimator, NotFittedError
from fastgrad.normalize.report import DistributionReport, compare
from fastgrad.normalize.stats import Moments, fitted_statistics

__all__ = ["Normalizer", "NotFittedError", "DistributionReport"]

# Never more OpenMP threads than the machine has cores, whatever was asked
# (fastgrad._threads.effective_n_threads caps at the usable cores too).
_MAX_THREADS = max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------


class Normalizer(Estimator):
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
    kernel. The samples are cut into blocks of
    ``fastgrad.normalize._normalizer_kernel.CHUNK_SIZE`` (256) by their
    global index; each block's mean and sum of squared deviations come from
    float64 sums of deviations from the block's first sample, in one read of
    the data (at most ``log10(CHUNK_SIZE + 1)`` digits lost to cancellation
    inside a block), and the blocks are merged with Chan's update by a
    canonical tree whose shape depends only on the number of samples
    (:mod:`fastgrad.normalize.tree`), each mean carried as an offset from a
    sample so the merge does not lose digits either. Hence ``fit``, any
    sequence of ``partial_fit`` batches, any thread count, and dask arrays
    of any chunking give bitwise identical ``mean_``, ``var_``, ``scale_``
    and ``n_samples_seen_``. Weighted batches and features with NaN take the
    masked path below: deterministic for given batches and any thread count,
    but not independent of the batching (a ``partial_fit`` stream that met
    one continues on that path). Measured against a
    two-pass extended-precision reference on the same float64 data
    (100,000 rows, one array or ``partial_fit`` batches of 7 to 1,000 rows),
    the relative error of ``var_`` stays below 2e-15 for offset/σ from 1e8
    to 1e14 (it was 3e-10 at 1e8 and 4.9e-6 at 1e12 before the means were
    carried as offsets). That is not "any offset": near offset/σ = 1e16 the
    float64 data themselves no longer resolve σ. float32 data keeps float32
    output, every accumulation is float64.

    Dask: ``fit``/``partial_fit`` accept a ``dask.array.Array`` or a dask
    DataFrame and read it in one pass (per-chunk states of the same block
    tree, combined by a tree reduction; works on the threaded scheduler and
    on ``dask.distributed`` workers; the bits of the NumPy fit).
    ``transform``/``inverse_transform``/``fit_transform`` of a dask
    collection are lazy and keep its chunks. Dask is optional:
    ``pip install 'fastgrad[dask]'``. A saved and reloaded Normalizer
    continues ``partial_fit`` by the sequential merge (not reproducible
    across batchings); so do streams with weights or NaN.

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

    def __init__(self, *, with_mean=True, with_std=True, copy=True, sample_axis=0, n_threads=None):
        # Stored as given: scikit-learn's clone() requires it, and validation
        # happens when the parameters are used.
        self.with_mean = with_mean
        self.with_std = with_std
        self.copy = copy
        self.sample_axis = sample_axis
        self.n_threads = n_threads

    # -- scikit-learn estimator protocol ------------------------------------

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

    # -- parameter and data checks ------------------------------------------

    def check_params(self):
        """Validate the constructor parameters; return the thread count."""
        for name in ("with_mean", "with_std", "copy"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {value!r}.")
        axis = self.sample_axis
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
        n_threads = self.n_threads
        if n_threads is not None and (
            isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral)
        ):
            raise TypeError(
                "n_threads must be an int (a positive count, or -1 for all cores) "
                f"or None, got {n_threads!r} ({type(n_threads).__name__})."
            )
        return min(effective_n_threads(n_threads), _MAX_THREADS)

    # -- statistics ----------------------------------------------------------

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

    def fit(self, X, y=None, sample_weight=None):
        """Compute the mean and standard deviation of the training set.

        Forgets any previous fit.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features), or (n_features, n_samples) if ``sample_axis=1``
            Training data, any real numeric dtype, C or Fortran order or
            strided; a DataFrame; CSR/CSC with ``with_mean=False``; a dask
            array or DataFrame (one pass, never gathered). NaN is a
            missing value (ignored); infinity is refused. Not modified.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), number or None
            Non-negative weight of each sample. Not modified.

        Returns
        -------
        self : Normalizer
        """
        n_threads = self.check_params()
        if dask_support.is_dask_collection(X):
            self._update_dask(X, sample_weight, reset=True)
            return self
        data = inputs.validate_for(self, X, reset=True)
        self._update(data, sample_weight, n_threads, reset=True)
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the statistics with one more chunk of training samples.

        Any number of chunks of any sizes give the statistics of their
        concatenation: bitwise those of ``fit`` on it for unweighted data
        without NaN (see Notes), up to rounding otherwise. On error the
        state is unchanged.

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
        n_threads = self.check_params()
        first = not hasattr(self, "n_samples_seen_")
        if dask_support.is_dask_collection(X):
            self._update_dask(X, sample_weight, reset=first)
            return self
        data = inputs.validate_for(self, X, reset=first)
        self._update(data, sample_weight, n_threads, reset=first)
        return self

    def _previous(self, reset):
        """What a new batch merges into: None for a fresh fit, else the
        running moments, the reproducible tree state (or None) and whether
        any batch so far was weighted."""
        if reset:
            return None
        return update.Previous(
            self._state(), getattr(self, "_tree_state", None), getattr(self, "_weighted", False)
        )

    def _update_dask(self, X, sample_weight, reset):
        """fit/partial_fit of a dask collection: one pass, chunk states
        combined by a tree reduction (fastgrad.normalize.dask_support)."""
        m, tree_state, weighted, d, names = update.from_dask(
            X,
            sample_weight,
            int(self.sample_axis),
            self._previous(reset),
            None if reset else self.n_features_in_,
        )
        self._commit(m, tree_state, weighted, reset, d, names)

    def _update(self, data, sample_weight, n_threads, reset):
        m, tree_state, weighted = update.from_batch(
            data, sample_weight, n_threads, self._previous(reset)
        )
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

    # -- transforms ------------------------------------------------------------

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
        self.check_fitted()
        n_threads = self.check_params()
        copy = self._check_copy(copy)
        if dask_support.is_dask_collection(X):
            return dask_support.transform(self, X, inverse=False)
        data = inputs.validate_for(self, X, reset=False)
        return transform.wrap(self, data, transform.apply(self, data, copy, False, n_threads))

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
        n_threads = self.check_params()
        if dask_support.is_dask_collection(X):
            self._update_dask(X, sample_weight, reset=True)
            return dask_support.transform(self, X, inverse=False)
        data = inputs.validate_for(self, X, reset=True)
        self._update(data, sample_weight, n_threads, reset=True)
        return transform.wrap(self, data, transform.apply(self, data, self.copy, False, n_threads))

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
        self.check_fitted()
        n_threads = self.check_params()
        copy = self._check_copy(copy)
        if dask_support.is_dask_collection(X):
            return dask_support.transform(self, X, inverse=True)
        data = inputs.validate_for(self, X, reset=False)
        return transform.apply(self, data, copy, True, n_threads)

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
        return compare(self, X, mean_tol=mean_tol, std_tol=std_tol, max_rows=max_rows)

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
        self.check_fitted()
        self.check_params()
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

    def restore_fitted_state(
        self,
        *,
        mean_,
        var_,
        scale_,
        n_samples_seen_,
        n_features_in_,
        feature_names_in_=None,
        weighted=False,
        tree_state=None,
    ):
        """Set the fitted attributes at once (what :meth:`load` reads from a
        file); the running moments come from the canonical ``tree_state``
        when there is one, else are rebuilt from the attributes."""
        self.mean_, self.var_, self.scale_ = mean_, var_, scale_
        self.n_samples_seen_ = n_samples_seen_
        self._tree_state = tree_state
        self._moments_state = None if tree_state is None else tree.finalize(tree_state)
        self.n_features_in_ = n_features_in_
        self._weighted = weighted
        if feature_names_in_ is not None:
            self.feature_names_in_ = feature_names_in_
