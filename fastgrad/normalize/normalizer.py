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

import os

import numpy as np

from fastgrad.normalize import dask_support, inputs, transform
from fastgrad.normalize.estimator import Estimator, NotFittedError
from fastgrad.normalize.io import Persistence
from fastgrad.normalize.report import DistributionReport, compare
from fastgrad.normalize.update import RunningStatistics

__all__ = ["Normalizer", "NotFittedError", "DistributionReport"]

# Never more OpenMP threads than the machine has cores, whatever was asked
# (fastgrad._threads.effective_n_threads caps at the usable cores too).
_MAX_THREADS = max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------


class Normalizer(RunningStatistics, Persistence, Estimator):
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
    Statistics: the samples are cut into blocks of
    ``fastgrad.normalize._normalizer_kernel.CHUNK_SIZE`` (256) by their
    global index. A block of unweighted samples without NaN gets its mean
    and sum of squared deviations from the compiled kernel (float64 sums of
    deviations from the block's first sample, one read of the data); a block
    with NaN (missing) or weights from a fixed-order two-pass NumPy form with
    per-feature weights. Blocks are merged with Chan's update by a canonical
    tree whose shape depends only on the number of samples
    (:mod:`fastgrad.normalize.tree`), each mean carried as an offset from a
    sample so the merge loses no digits. Hence ``fit``, any sequence of
    ``partial_fit`` batches (also after :meth:`save`/:meth:`load`, which
    keep the tree), any thread count, and dask arrays or DataFrames of any
    chunking give bitwise identical ``mean_``, ``var_``, ``scale_`` and
    ``n_samples_seen_``, weights and NaN included. Measured against an
    exact rational reference (Gaussian data, offset/σ = 10**k for k = 0..14
    and 2.5e8..4e9; 1,000 to 100,000 rows), the relative error of ``var_``
    on the kernel's path stays below 3.1e-15 except for offsets of about
    5e8 to 2.2e9 σ. There float64 data are quantized at ``ulp(offset)``
    (about 1e-7 σ), the squared deviations are multiples of its square, and
    the rounding of each chunk's running sum of squares is biased (an odd
    square is 1 mod 4, so it always rounds the same way): up to 3.1e-14 for
    256 rows, 1.8e-14 for 1,000 rows, 5.2e-15 for 100,000 rows. With
    weights or NaN: below 1.6e-15 at any offset up to 1e14. float32 data
    keeps float32 output; every accumulation is float64. Sparse input (merged in arrival order, not on the tree):
    implicit zeros are samples, stored NaN are missing.

    Dask: ``fit``/``partial_fit`` of a ``dask.array.Array`` or a dask
    DataFrame read it in one pass (per-chunk tree states combined by a tree
    reduction, on any scheduler; a DataFrame, or an array of unknown chunk
    sizes, is read once more before, for its lengths);
    ``transform``/``inverse_transform``/``fit_transform`` of a dask
    collection are lazy, keep its chunks and use the statistics as they are
    at the call.
    Dask is optional: ``pip install 'fastgrad[dask]'``.

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
    * ``copy=False`` never writes into a DataFrame (pandas owns that memory).

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

    def _more_tags(self):
        # The same tags for scikit-learn < 1.6, which reads this instead.
        return {"allow_nan": True, "preserves_dtype": [np.float64, np.float32]}

    # -- parameter and data checks ------------------------------------------

    def check_params(self):
        """Validate the constructor parameters; return the thread count."""
        return inputs.check_params(self, _MAX_THREADS)

    # -- statistics (the bookkeeping: fastgrad.normalize.update) ---------------

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
        return self._fit_batch(X, sample_weight, reset=True)

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the statistics with one more chunk of training samples.

        Any number of chunks of any sizes give the statistics of their
        concatenation: bitwise those of ``fit`` on it, weights and NaN
        included (see Notes; sparse batches: up to rounding). On error the
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
        return self._fit_batch(X, sample_weight, reset=not hasattr(self, "n_samples_seen_"))

    def _fit_batch(self, X, sample_weight, reset):
        """fit (reset) or partial_fit: a dask collection in one pass, anything
        else validated and merged by the compiled kernel."""
        n_threads = self.check_params()
        if dask_support.is_dask_collection(X):
            self._update_dask(X, sample_weight, reset=reset)
            return self
        data = inputs.validate_for(self, X, reset=reset, stacklevel=4)
        self._update(data, sample_weight, n_threads, reset=reset)
        return self

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
        kind = transform.output_container(self, data)
        return transform.wrap(kind, self, data, transform.apply(self, data, copy, False, n_threads))

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
        kind = transform.output_container(self, data)
        self._update(data, sample_weight, n_threads, reset=True)
        return transform.wrap(
            kind, self, data, transform.apply(self, data, self.copy, False, n_threads)
        )

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
        data = inputs.validate_for(self, X, reset=False, warn_names=False)
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
