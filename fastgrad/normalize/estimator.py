"""The scikit-learn estimator protocol fastgrad's estimators share:
constructor parameters (``get_params``/``set_params``, the ``repr``),
``set_output``, feature names, and the not-fitted error."""

from __future__ import annotations

import importlib.util
import inspect
import sys

import numpy as np

from fastgrad.normalize.routing import MetadataRouting, not_fitted_error

__all__ = ["Estimator", "NotFittedError", "OUTPUTS"]

# The containers set_output offers, as scikit-learn's.
OUTPUTS = ("default", "pandas", "polars")


def _require_library(name):
    """ImportError now, at ``set_output``, rather than at the first transform."""
    if importlib.util.find_spec(name) is None:
        raise ImportError(
            f"set_output(transform={name!r}) needs {name}, which is not installed: "
            f"pip install {name}"
        )


class NotFittedError(ValueError, AttributeError):
    """Raised when a :class:`Normalizer` is used before it is fitted.

    Subclasses both ``ValueError`` and ``AttributeError``, as scikit-learn's
    ``NotFittedError`` does, so code written for either keeps working; once
    scikit-learn is imported, the error raised is also an instance of
    ``sklearn.exceptions.NotFittedError``.
    """


class Estimator(MetadataRouting):
    """Base class: the parameters are the constructor's keyword arguments,
    stored as given; a fitted object has ``n_samples_seen_``."""

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
        transform : {"default", "pandas", "polars"} or None, default=None
            ``"pandas"``: a DataFrame whose columns are
            :meth:`get_feature_names_out` and whose index is X's index when X
            is a DataFrame (with ``sample_axis=1`` features are the index).
            ``"polars"``: a polars DataFrame with those columns
            (``sample_axis=0`` only: polars has no index to hold features).
            ``"default"``: NumPy arrays (sparse stays sparse). None: unchanged.
            Without a call, scikit-learn's global
            ``set_config(transform_output=...)`` applies when scikit-learn is
            imported. A dask collection's transform is a dask collection
            whatever this says.

        Returns
        -------
        self : Normalizer
        """
        if transform is None:
            return self
        if transform not in OUTPUTS:
            raise ValueError(
                f"set_output: transform must be 'default', 'pandas', 'polars' or None, "
                f"got {transform!r}."
            )
        if transform != "default":
            _require_library(transform)
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def output_kind(self):
        """The container ``transform`` returns: "default", "pandas" or "polars"."""
        config = getattr(self, "_sklearn_output_config", {}).get("transform")
        if config is None and "sklearn" in sys.modules:
            # Honour scikit-learn's global set_config(transform_output=...).
            try:
                config = sys.modules["sklearn"].get_config().get("transform_output")
            except Exception:  # pragma: no cover - a broken sklearn import
                config = None
        return config if config in OUTPUTS else "default"

    def __repr__(self):
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.name != "self"
        }
        args = ", ".join(
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if not (v is defaults[k] or (type(v) is type(defaults[k]) and v == defaults[k]))
        )
        return f"{type(self).__name__}({args})"

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
        self.check_fitted()
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

    def check_fitted(self):
        """Raise :class:`NotFittedError` unless the estimator is fitted."""
        if not hasattr(self, "n_samples_seen_"):
            raise not_fitted_error(NotFittedError)(
                f"This {type(self).__name__} instance is not fitted yet. Call "
                "'fit' (or 'partial_fit') with the training data before using it."
            )
