"""scikit-learn's metadata routing (SLEP006) and not-fitted error for
fastgrad's estimators, without importing scikit-learn: both are built from
scikit-learn's own classes the first time they are needed, which is only
ever when the user's code has scikit-learn at hand.

With ``sklearn.set_config(enable_metadata_routing=True)`` a Pipeline passes
``sample_weight`` to a step only if the step asked for it
(``set_fit_request(sample_weight=True)``), and refuses to go on when a step
that takes it did not say (``UnsetMetadataPassedError``): an estimator with
no ``get_metadata_routing`` would be fitted unweighted, silently.
"""

from __future__ import annotations

import inspect
import sys

__all__ = ["MetadataRouting", "not_fitted_error"]

# scikit-learn's sentinel for "leave this request as it is" (a plain str)
UNCHANGED = "$UNCHANGED$"
# the methods whose metadata a router may pass, as scikit-learn's transformers
_METHODS = ("fit", "partial_fit", "transform", "inverse_transform")
_DATA = {"self", "X", "y", "Y"}


def _metadata_params(cls, method):
    """The keyword parameters of ``cls.method`` that are metadata."""
    fn = getattr(cls, method, None)
    if fn is None:
        return []
    params = inspect.signature(fn).parameters.values()
    return [
        p.name
        for p in params
        if p.name not in _DATA and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


class MetadataRouting:
    """``get_metadata_routing`` and ``set_{method}_request``, as
    scikit-learn's ``BaseEstimator`` gives them (``clone`` keeps the
    requests: they live in ``_metadata_request``, as there)."""

    def get_metadata_routing(self):
        """The metadata each method takes, and what was requested.

        Returns
        -------
        sklearn.utils.metadata_routing.MetadataRequest
        """
        import copy

        current = getattr(self, "_metadata_request", None)
        return copy.deepcopy(current) if current is not None else self._default_requests()

    def _default_requests(self):
        from sklearn.utils.metadata_routing import MetadataRequest

        request = MetadataRequest(owner=type(self).__name__)
        for method in _METHODS:
            for param in _metadata_params(type(self), method):
                getattr(request, method).add_request(param=param, alias=None)
        return request

    def _set_request(self, method, **aliases):
        try:
            import sklearn
        except ImportError:  # pragma: no cover - sklearn is in the test extra
            raise ImportError(
                f"set_{method}_request is scikit-learn's metadata routing; it needs "
                "scikit-learn installed"
            ) from None
        if not sklearn.get_config().get("enable_metadata_routing", False):
            raise RuntimeError(
                "This method is only available when metadata routing is enabled. You "
                "can enable it using sklearn.set_config(enable_metadata_routing=True)."
            )
        request = getattr(self, "_metadata_request", None) or self._default_requests()
        for param, alias in aliases.items():
            if alias != UNCHANGED:
                getattr(request, method).add_request(param=param, alias=alias)
        self._metadata_request = request
        return self

    def set_fit_request(self, *, sample_weight=UNCHANGED):
        """Request ``sample_weight`` for :meth:`fit` from a router (a Pipeline),
        as scikit-learn's ``set_fit_request``: True, False, None (error if
        passed) or an alias. Only with metadata routing enabled.

        Returns
        -------
        self
        """
        return self._set_request("fit", sample_weight=sample_weight)

    def set_partial_fit_request(self, *, sample_weight=UNCHANGED):
        """As :meth:`set_fit_request`, for :meth:`partial_fit`."""
        return self._set_request("partial_fit", sample_weight=sample_weight)

    def set_transform_request(self, *, copy=UNCHANGED):
        """Request ``copy`` for :meth:`transform` (see :meth:`set_fit_request`)."""
        return self._set_request("transform", copy=copy)

    def set_inverse_transform_request(self, *, copy=UNCHANGED):
        """Request ``copy`` for :meth:`inverse_transform` (see :meth:`set_fit_request`)."""
        return self._set_request("inverse_transform", copy=copy)


_BOTH = {}


def not_fitted_error(base):
    """The class to raise for a not-fitted estimator: ``base`` (fastgrad's
    ``NotFittedError``), also a subclass of scikit-learn's ``NotFittedError``
    once scikit-learn is imported, so ``except NotFittedError`` written
    against either catches it. (Code that catches scikit-learn's class has
    imported it, so looking in ``sys.modules`` is enough.)"""
    sk = sys.modules.get("sklearn.exceptions")
    if sk is None or not hasattr(sk, "NotFittedError"):
        return base
    if base not in _BOTH:
        # named after this module's ``__getattr__``, so pickle finds it
        _BOTH[base] = type(
            base.__name__,
            (base, sk.NotFittedError),
            {"__module__": __name__, "__doc__": base.__doc__},
        )
    return _BOTH[base]


def __getattr__(name):
    # Unpickling the combined class in a process that has not built it yet.
    if name == "NotFittedError":
        import sklearn.exceptions  # noqa: F401

        from fastgrad.normalize.estimator import NotFittedError

        return not_fitted_error(NotFittedError)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
