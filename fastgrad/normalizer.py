"""Input normalization: fit the mean and standard deviation on the training set,
then apply the *same* transform to train, dev and test data.

:class:`Normalizer` is a drop-in for :class:`sklearn.preprocessing.StandardScaler`
(same methods, fitted attributes and semantics, usable in a ``Pipeline``)
backed by compiled kernels from :mod:`fastgrad._normalizer`:

* statistics in one pass over the data, float64 accumulators for every input
  dtype, bitwise identical for any thread count;
* ``partial_fit`` merges chunks of a stream exactly as the kernel merges its
  own chunks (Chan, Golub & LeVeque's update);
* the transform is one fused pass ``(x - mean_) * (1 / scale_)``;
* samples are rows by default (scikit-learn), ``sample_axis=1`` takes the
  course's ``X`` of shape ``(n_x, m)`` (examples are columns).

The transform divides by the standard deviation σ, not the variance σ²: only
``(x - μ) / σ`` has unit variance.
"""
import inspect
import json
import math
import numbers
import zipfile

import numpy as np

from fastgrad import _normalizer
from fastgrad._threads import effective_n_threads

__all__ = ["Normalizer", "NotFittedError", "DistributionReport"]

_FILE_FORMAT = "fastgrad.Normalizer"
_FILE_VERSION = 1
_EPS64 = np.finfo(np.float64).eps


class NotFittedError(ValueError, AttributeError):
    """Raised when a :class:`Normalizer` is used before it is fitted.

    Subclasses both ``ValueError`` and ``AttributeError``, as scikit-learn's
    ``NotFittedError`` does, so code written for either keeps working.
    """


# ---------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------

def _is_sparse(X):
    # A duck-typed check keeps scipy.sparse off the import path.
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def _as_float_array(X, what):
    """Return ``(array, converted)``: a float32/float64 native-endian ndarray
    and whether it is a new array (so it may be modified freely).

    float32 stays float32; every other numeric dtype becomes float64 (float16
    becomes float32, which holds it exactly).
    """
    if _is_sparse(X):
        raise TypeError(
            f"{what}: sparse input is not supported by Normalizer (centering "
            "would make it dense); pass a dense array, e.g. X.toarray()."
        )
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{what} could not be converted to a numeric array: {exc}") from exc
    converted = arr is not X and not (
        isinstance(X, np.ndarray) and np.shares_memory(arr, X)
    )
    kind = arr.dtype.kind
    if arr.dtype.type in (np.float32, np.float64):
        if not arr.dtype.isnative:
            arr, converted = arr.astype(arr.dtype.newbyteorder("=")), True
    elif kind == "f":
        target = np.float32 if arr.dtype == np.float16 else np.float64
        arr, converted = arr.astype(target), True
    elif kind in "iub":
        arr, converted = arr.astype(np.float64), True
    elif kind == "O":
        try:
            arr, converted = arr.astype(np.float64), True
        except (TypeError, ValueError) as exc:
            raise type(exc)(
                f"{what} has dtype object and could not be converted to float64: {exc}"
            ) from exc
    elif kind == "c":
        # ValueError with scikit-learn's wording, which its checks expect.
        raise ValueError(
            f"Complex data not supported: {what} has dtype {arr.dtype}; Normalizer "
            "needs real numbers."
        )
    else:
        raise TypeError(
            f"{what} has non-numeric dtype {arr.dtype}; Normalizer needs integer "
            "or floating-point numbers."
        )
    return arr, converted


def _kernel_view(A):
    """Give the kernels a view with unit stride along one axis.

    ``A`` is ``(n_samples, n_features)``. Returns ``(K, transposed, copied)``:
    ``K`` is ``A`` itself when features are contiguous (C order), ``A.T`` when
    samples are contiguous (Fortran order, or the course layout seen through
    ``sample_axis=1``): no copy either way. Only an array strided along both
    axes is copied.
    """
    # The kernels walk only the unit-stride axis; an axis of length 1 is never
    # walked, so its stride does not matter.
    item = A.itemsize
    if A.shape[1] == 1 or A.strides[1] == item:
        return A, False, False
    if A.shape[0] == 1 or A.strides[0] == item:
        return A.T, True, False
    return np.array(A, order="C"), False, True  # always a copy


def _nonfinite_message(what, A, features):
    """Say what is wrong with the features whose statistics are not finite."""
    sub = A[:, features]
    has_nan = np.isnan(sub).any(axis=0)
    has_inf = np.isinf(sub).any(axis=0)
    idx = np.asarray(features)
    if has_nan.any():
        cols = idx[has_nan]
        return f"Input {what} contains NaN (in feature(s) {_list(cols)})."
    if has_inf.any():
        cols = idx[has_inf]
        return f"Input {what} contains infinity (in feature(s) {_list(cols)})."
    return (
        f"Input {what} has values too large for float64: the statistics of "
        f"feature(s) {_list(idx)} overflow (inf)."
    )


def _list(idx, limit=8):
    idx = [int(i) for i in idx]
    text = ", ".join(map(str, idx[:limit]))
    return text + (f", ... ({len(idx)} in all)" if len(idx) > limit else "")


def _is_constant(var, mean, n):
    """True where a feature is indistinguishable from a constant.

    The bound is the error of a float64 two-pass variance (Chan, Golub &
    LeVeque), as in scikit-learn's ``_is_constant_feature``: the variance of a
    constant feature computed in floating point is not exactly zero, and
    ``sigma == 0`` would miss it and divide by noise.
    """
    bound = n * _EPS64 * var + (n * mean * _EPS64) ** 2
    return var <= bound


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

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract the mean. ``mean_`` is computed either way.
    with_std : bool, default=True
        Divide by the standard deviation. If False, ``var_`` and ``scale_``
        are None.
    copy : bool, default=True
        If False, :meth:`transform` and :meth:`inverse_transform` overwrite
        their input when it is a writeable float32/float64 ndarray (otherwise a
        new array is returned anyway). The input is checked for NaN/inf before
        it is touched.
    sample_axis : {0, 1}, default=0
        The axis along which samples lie. 0: ``X`` is ``(n_samples,
        n_features)`` (scikit-learn). 1: ``X`` is ``(n_features, n_samples)``,
        the course layout ``(n_x, m)`` with examples as columns. Every method
        returns arrays in the layout it was given.
    n_threads : int or None, default=None
        OpenMP threads; None or -1 use all cores (respecting
        ``OMP_NUM_THREADS``). Results are bitwise identical for every value.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,), float64, or None
        Per-feature training mean; None if ``with_mean`` and ``with_std`` are
        both False.
    var_ : ndarray of shape (n_features,), float64, or None
        Per-feature population variance (divided by ``n_samples_seen_``);
        None if ``with_std`` is False.
    scale_ : ndarray of shape (n_features,), float64, or None
        ``sqrt(var_)``, with 1.0 for features whose variance is
        indistinguishable from 0 at float64 precision (no division by zero,
        no amplified rounding noise). None if ``with_std`` is False.
    n_samples_seen_ : int
        Samples seen by :meth:`fit` or all :meth:`partial_fit` calls so far.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features,), object
        Column names, set only when fitted on a table whose columns are all
        strings (e.g. a pandas DataFrame).

    Notes
    -----
    Statistics: the samples are cut into chunks of
    ``fastgrad._normalizer.CHUNK_SIZE``; each chunk's mean and sum of squared
    deviations come from float64 sums of deviations from the chunk's first
    sample, in one read of the data (at most ``log10(CHUNK_SIZE + 1)`` digits
    lost to cancellation, whatever the offset), and
    the chunks are merged in order with Chan's update. float32 data keeps
    float32 output, but every accumulation is float64, so a large offset
    (``1e4 + N(0, 1)`` in float32) does not destroy the variance.

    The transform multiplies by ``1 / scale_`` rather than dividing by
    ``scale_``: results may differ from scikit-learn's by one rounding.

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
            input_tags=InputTags(allow_nan=False, sparse=False),
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
        return effective_n_threads(self.n_threads)

    def _check_fitted(self):
        if not hasattr(self, "n_samples_seen_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call "
                "'fit' (or 'partial_fit') with the training data before using it."
            )

    def _validate(self, X, *, reset, what="X"):
        """Check X and return ``(arr, A, converted)``.

        ``arr`` is X as a float ndarray in the caller's layout, ``A`` the
        ``(n_samples, n_features)`` view of it, ``converted`` whether ``arr``
        is a fresh array that may be overwritten.
        """
        names = _column_names(X)
        arr, converted = _as_float_array(X, what)
        axis = int(self.sample_axis)
        if arr.ndim != 2:
            if arr.ndim == 1:
                raise ValueError(
                    f"Expected 2D array, got 1D array instead: {what}.shape={arr.shape}. "
                    "Reshape your data either using X.reshape(-1, 1) if it has a "
                    "single feature or X.reshape(1, -1) if it is a single sample "
                    "(transpose both if you use sample_axis=1)."
                )
            raise ValueError(
                f"Expected 2D array, got {arr.ndim}D array instead: "
                f"{what}.shape={arr.shape}."
            )
        A = arr if axis == 0 else arr.T
        n_samples, n_features = A.shape
        if n_samples == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={arr.shape}) while a minimum "
                f"of 1 is required. {what} is empty along its sample axis "
                f"(sample_axis={axis})."
            )
        if n_features == 0:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum "
                f"of 1 is required. {what} is empty along its feature axis "
                f"(sample_axis={axis})."
            )
        if reset:
            return arr, A, converted, names
        expected = self.n_features_in_
        if n_features != expected:
            hint = ""
            if A.shape[0] == expected:
                other = 1 - axis
                hint = (f" The transposed array would fit: did you mean "
                        f"sample_axis={other}?")
            raise ValueError(
                f"{what} has {n_features} features, but {type(self).__name__} is "
                f"expecting {expected} features as input ({what}.shape={arr.shape}, "
                f"samples along axis {axis}).{hint}"
            )
        fitted_names = getattr(self, "feature_names_in_", None)
        if names is not None and fitted_names is not None and \
                not np.array_equal(names, fitted_names):
            raise ValueError(
                f"The feature names of {what} differ from those seen in fit: "
                f"{list(names)} vs {list(fitted_names)}."
            )
        return arr, A, converted, names

    # -- statistics ----------------------------------------------------------

    def _moments(self, A, n_threads, what):
        """Mean and M2 of the ``(n_samples, n_features)`` view A (float64)."""
        K, transposed, _ = _kernel_view(A)
        n_features = A.shape[1]
        mean = np.empty(n_features, dtype=np.float64)
        m2 = np.empty(n_features, dtype=np.float64)
        _normalizer.moments(K, transposed, mean, m2, n_threads)
        # A NaN or inf anywhere in a feature always reaches its statistics,
        # so this check costs O(n_features), not another pass over the data.
        bad = ~(np.isfinite(mean) & np.isfinite(m2))
        if bad.any():
            raise ValueError(_nonfinite_message(what, A, np.flatnonzero(bad)))
        return mean, np.maximum(m2, 0.0)

    def fit(self, X, y=None):
        """Compute the mean and standard deviation of the training set.

        Forgets any previous fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_features, n_samples) if ``sample_axis=1``
            Training data, any real numeric dtype, C or Fortran order or
            strided. NaN and inf are refused. Not modified.
        y : None
            Ignored.

        Returns
        -------
        self : Normalizer
        """
        n_threads = self._check_params()
        arr, A, _, names = self._validate(X, reset=True)
        self._update(A, n_threads, names, reset=True)
        return self

    def partial_fit(self, X, y=None):
        """Update the statistics with one more chunk of training samples.

        Any number of chunks of any sizes give the statistics of their
        concatenation (up to rounding). On error the state is unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_features, n_samples) if ``sample_axis=1``
            The next chunk. Not modified.
        y : None
            Ignored.

        Returns
        -------
        self : Normalizer
        """
        n_threads = self._check_params()
        first = not hasattr(self, "n_samples_seen_")
        arr, A, _, names = self._validate(X, reset=first)
        self._update(A, n_threads, names, reset=first)
        return self

    def _update(self, A, n_threads, names, reset):
        n_b = A.shape[0]
        mean_b, m2_b = self._moments(A, n_threads, "X")
        if reset:
            n, mean, m2 = n_b, mean_b, m2_b
        else:
            n_a = self.n_samples_seen_
            mean_a = self.mean_
            if mean_a is None:  # with_mean=with_std=False: nothing to merge
                mean_a = mean_b
            m2_a = self.var_ * n_a if self.var_ is not None else np.zeros_like(mean_b)
            # Chan, Golub & LeVeque's update, as in the kernel's chunk merge.
            n = n_a + n_b
            delta = mean_b - mean_a
            mean = mean_a + delta * (n_b / n)
            m2 = m2_a + m2_b + delta * delta * (float(n_a) * n_b / n)
        keep_mean = self.with_mean or self.with_std
        self.mean_ = mean if keep_mean else None
        if self.with_std:
            var = m2 / n
            self.var_ = var
            self.scale_ = np.where(_is_constant(var, mean, n), 1.0, np.sqrt(var))
        else:
            self.var_ = None
            self.scale_ = None
        self.n_samples_seen_ = int(n)
        if reset:
            self.n_features_in_ = A.shape[1]
            if names is not None:
                self.feature_names_in_ = names
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

    def _apply(self, arr, A, converted, copy, inverse, n_threads, what="X"):
        shift, factor = self._constants(inverse)
        K, transposed, copied = _kernel_view(A)
        if converted or copied:
            # Already our own array: transform it in place.
            out, in_place = K, True
        elif not copy and arr.flags.writeable:
            # Refuse bad input before the caller's array is touched.
            if not _normalizer.all_finite(K, n_threads):
                raise ValueError(_nonfinite_message(what, A, np.arange(A.shape[1])))
            out, in_place = K, True
        else:
            out, in_place = np.empty(K.shape, dtype=K.dtype), False
        if not _normalizer.affine(K, out, transposed, shift, factor, inverse, n_threads):
            features = np.flatnonzero(~np.isfinite(out).all(axis=1 if transposed else 0))
            if not in_place:  # the input is intact: say exactly what is wrong
                raise ValueError(_nonfinite_message(what, A, features))
            raise ValueError(
                f"Input {what} contains NaN or infinity, or its transform overflows "
                f"the float range (feature(s) {_list(features)})."
            )
        if in_place and not (converted or copied):
            return arr
        res = out.T if transposed else out  # (n_samples, n_features)
        return res if self.sample_axis == 0 else res.T

    def transform(self, X, copy=None):
        """Standardize X with the training statistics: ``(X - mean_) / scale_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_features, n_samples) if ``sample_axis=1``
            Data to transform (train, dev or test). NaN and inf are refused.
        copy : bool or None, default=None
            Overrides the ``copy`` parameter for this call.

        Returns
        -------
        X_tr : ndarray, same shape and layout as X
            float32 for float32 input, float64 otherwise.
        """
        self._check_fitted()
        n_threads = self._check_params()
        copy = self.copy if copy is None else copy
        arr, A, converted, _ = self._validate(X, reset=False)
        return self._apply(arr, A, converted, copy, False, n_threads)

    def fit_transform(self, X, y=None):
        """Fit to X, then transform it (X is read twice and validated once).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_features, n_samples) if ``sample_axis=1``
            Training data.
        y : None
            Ignored.

        Returns
        -------
        X_tr : ndarray, same shape and layout as X
        """
        n_threads = self._check_params()
        arr, A, converted, names = self._validate(X, reset=True)
        self._update(A, n_threads, names, reset=True)
        return self._apply(arr, A, converted, self.copy, False, n_threads)

    def inverse_transform(self, X, copy=None):
        """Undo the transform: ``X * scale_ + mean_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_features, n_samples) if ``sample_axis=1``
            Normalized data.
        copy : bool or None, default=None
            Overrides the ``copy`` parameter for this call.

        Returns
        -------
        X_orig : ndarray, same shape and layout as X
        """
        self._check_fitted()
        n_threads = self._check_params()
        copy = self.copy if copy is None else copy
        arr, A, converted, _ = self._validate(X, reset=False)
        return self._apply(arr, A, converted, copy, True, n_threads)

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
        if not (mean_tol > 0 and std_tol > 1):
            raise ValueError(
                f"mean_tol must be > 0 and std_tol > 1, got {mean_tol!r} and {std_tol!r}."
            )
        arr, A, _, _ = self._validate(X, reset=False)
        mean, m2 = self._moments(A, n_threads, "X")
        test_std = np.sqrt(m2 / A.shape[0])
        names = getattr(self, "feature_names_in_", None)
        return DistributionReport(
            train_mean=self.mean_.copy(), train_std=np.sqrt(self.var_),
            scale=self.scale_.copy(),
            constant=_is_constant(self.var_, self.mean_, self.n_samples_seen_),
            test_mean=mean, test_std=test_std,
            n_train=self.n_samples_seen_, n_test=A.shape[0],
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
        params = self.get_params()
        params = {k: (bool(v) if isinstance(v, np.bool_) else v) for k, v in params.items()}
        meta = {
            "format": _FILE_FORMAT,
            "version": _FILE_VERSION,
            "params": params,
            "n_samples_seen_": int(self.n_samples_seen_),
            "n_features_in_": int(self.n_features_in_),
        }
        arrays = {"meta": np.array(json.dumps(meta))}
        for name in ("mean_", "var_", "scale_"):
            value = getattr(self, name)
            if value is not None:
                arrays[name] = np.asarray(value, dtype=np.float64)
        if hasattr(self, "feature_names_in_"):
            arrays["feature_names_in_"] = np.asarray(self.feature_names_in_, dtype=str)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path):
        """Read a Normalizer written by :meth:`save`.

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
            If the file is not a Normalizer file written by fastgrad (or is
            damaged).
        """
        def bad(reason):
            return ValueError(f"{path!s} is not a fastgrad Normalizer file: {reason}.")

        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise bad(f"it could not be read as .npz without pickle ({exc})") from exc
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise bad("it holds a single array, not a .npz archive")
        with data:
            try:
                files = set(data.files)
                if "meta" not in files:
                    raise bad("there is no 'meta' entry")
                meta = json.loads(str(data["meta"][()]))
                if not isinstance(meta, dict) or meta.get("format") != _FILE_FORMAT:
                    raise bad("the 'meta' entry does not name the format")
                if meta.get("version") != _FILE_VERSION:
                    raise bad(f"unsupported version {meta.get('version')!r}")
                arrays = {name: data[name] for name in files - {"meta"}}
            except (KeyError, TypeError, ValueError, zipfile.BadZipFile) as exc:
                if isinstance(exc, ValueError) and "fastgrad Normalizer" in str(exc):
                    raise
                raise bad(f"it is damaged ({exc})") from exc
        try:
            est = cls(**meta["params"])
            n_threads_ok = est._check_params()
            del n_threads_ok
            n = int(meta["n_samples_seen_"])
            d = int(meta["n_features_in_"])
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(f"bad parameters ({exc})") from exc
        expect = {"mean_": est.with_mean or est.with_std,
                  "var_": est.with_std, "scale_": est.with_std}
        for name, present in expect.items():
            if present:
                value = arrays.get(name)
                if value is None or value.dtype != np.float64 or value.shape != (d,) \
                        or not np.isfinite(value).all():
                    raise bad(f"{name} is missing or not {d} finite float64 values")
                setattr(est, name, value)
            else:
                setattr(est, name, None)
        if est.with_std and not (est.scale_ > 0).all():
            raise bad("scale_ has non-positive values")
        est.n_samples_seen_ = n
        est.n_features_in_ = d
        if "feature_names_in_" in arrays:
            est.feature_names_in_ = arrays["feature_names_in_"].astype(object)
        return est


def _column_names(X):
    """Column names of a table (e.g. a pandas DataFrame) if all are strings."""
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray):
        return None
    names = np.asarray(list(columns), dtype=object)
    if len(names) and all(isinstance(c, str) for c in names):
        return names
    return None


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
