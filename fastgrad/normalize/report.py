"""The train/test distribution report of a fitted Normalizer."""

from __future__ import annotations

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._notebook import ShownInFull
from fastgrad._table import markdown_table
from fastgrad.normalize.inputs import validate_for
from fastgrad.normalize.stats import batch_moments, is_constant

__all__ = ["DistributionReport", "compare"]


class DistributionReport(ShownInFull):
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
    empty : ndarray of bool
        Features with no values in the set (every entry missing, NaN): their
        test statistics are NaN, they are flagged, and the table says so
        instead of showing ``nan``.
    n_valid : ndarray of shape (n_features,), float64
        Non-missing values per feature in the set.
    train_mean, train_std, test_mean, test_std, scale : ndarray
        The statistics themselves (``train_std`` is ``sqrt(var_)``; ``scale``
        is ``scale_``).
    n_train, n_test : int
        Sample counts (``n_train`` the weight sum after a weighted fit).
    weighted : bool
        Whether the training statistics come from a weighted fit.
    """

    def __init__(
        self,
        *,
        train_mean,
        train_std,
        scale,
        constant,
        test_mean,
        test_std,
        n_train,
        n_test,
        mean_tol,
        std_tol,
        max_rows=10,
        feature_names=None,
        n_valid=None,
        weighted=False,
    ):
        self.weighted = bool(weighted)
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
        self.n_valid = (
            np.full(np.shape(test_mean), float(n_test))
            if n_valid is None
            else np.asarray(n_valid, dtype=np.float64)
        )
        self.empty = self.n_valid == 0
        self.mean_shift = (test_mean - train_mean) / scale
        self.std_ratio = test_std / scale
        spread_bad = np.where(
            self.constant,
            self.std_ratio > mean_tol,
            (self.std_ratio > std_tol) | (self.std_ratio < 1.0 / std_tol),
        )
        # A feature the set does not have at all is the largest shift there
        # is (NaN compares False, so it would otherwise pass silently).
        self.flagged = (np.abs(self.mean_shift) > mean_tol) | spread_bad | self.empty

    @property
    def ok(self):
        """True if no feature is flagged."""
        return not bool(self.flagged.any())

    def _name(self, j):
        return self.feature_names[j] if self.feature_names is not None else str(j)

    def __str__(self):
        d = self.mean_shift.size
        n_flag = int(self.flagged.sum())
        n = self.n_train
        # a weighted fit counts its weights (as scikit-learn's n_samples_seen_)
        train = f"a sample weight of {n:.6g}" if self.weighted else f"{int(n)} samples"
        head = (
            f"Distribution check: {self.n_test} samples against training statistics "
            f"from {train}, {d} features.\n"
            f"Numbers are what the fitted transform gives this set: mean in training "
            f"σ units (ideal 0) and std ratio (ideal 1).\n"
        )
        n_empty = int(self.empty.sum())
        if n_empty:
            names = ", ".join(self._name(j) for j in np.flatnonzero(self.empty)[:8])
            more = f", ... ({n_empty} in all)" if n_empty > 8 else ""
            head += (
                f"{n_empty} feature(s) have no values in X (every entry missing): {names}{more}.\n"
            )
        if n_flag:
            head += (
                f"{n_flag} of {d} feature(s) flagged (|mean shift| > "
                f"{self.mean_tol:g} σ or std ratio outside "
                f"[{1 / self.std_tol:.3g}, {self.std_tol:g}]"
                f"{', or no values' if n_empty else ''}).\n"
            )
        else:
            head += (
                f"No feature flagged (|mean shift| <= {self.mean_tol:g} σ, std "
                f"ratio within [{1 / self.std_tol:.3g}, {self.std_tol:g}]).\n"
            )
        order = np.lexsort((-np.abs(self.mean_shift), ~self.empty, ~self.flagged))
        shown = order[: self.max_rows]
        header = (
            "feature",
            "train mean",
            "train std",
            "X mean",
            "X std",
            "shift (σ)",
            "std ratio",
            "",
        )
        rows = []
        for j in shown:
            note = "FLAG" if self.flagged[j] else ""
            if self.constant[j]:
                note = (note + " const-in-train").strip()
            if self.empty[j]:
                note = (note + " no values in X").strip()
                rows.append(
                    (
                        self._name(j),
                        f"{self.train_mean[j]:.6g}",
                        f"{self.train_std[j]:.4g}",
                        "-",
                        "-",
                        "-",
                        "-",
                        note,
                    )
                )
                continue
            rows.append(
                (
                    self._name(j),
                    f"{self.train_mean[j]:.6g}",
                    f"{self.train_std[j]:.4g}",
                    f"{self.test_mean[j]:.6g}",
                    f"{self.test_std[j]:.4g}",
                    f"{self.mean_shift[j]:+.3f}",
                    f"{self.std_ratio[j]:.3f}",
                    note,
                )
            )
        lines = markdown_table(header, rows)
        tail = "" if d <= len(shown) else f"\n({d - len(shown)} more feature(s) not shown)"
        return head + "\n".join(lines) + tail

    def __repr__(self):
        return (
            f"<DistributionReport: {int(self.flagged.sum())} of "
            f"{self.mean_shift.size} features flagged, n_test={self.n_test}>"
        )


def compare(norm, X, *, mean_tol=0.25, std_tol=1.5, max_rows=10):
    """The :class:`DistributionReport` of ``X`` against a fitted normalizer
    (see :meth:`fastgrad.Normalizer.report`)."""
    norm.check_fitted()
    n_threads = norm.check_params()
    if norm.mean_ is None or norm.var_ is None:
        raise ValueError(
            "report() needs the training mean and spread; this Normalizer was "
            "fitted with with_std=False, so it has no var_."
        )
    mean_tol = ac.real(mean_tol, "mean_tol", low=0, low_open=True)
    std_tol = ac.real(std_tol, "std_tol", low=1, low_open=True)
    max_rows = ac.integer(max_rows, "max_rows", minimum=0)
    data = validate_for(norm, X, reset=False, stacklevel=4)
    m, _ = batch_moments(data, None, n_threads)
    names = getattr(norm, "feature_names_in_", None)
    n_train = norm.n_samples_seen_
    return DistributionReport(
        train_mean=norm.mean_.copy(),
        train_std=np.sqrt(norm.var_),
        scale=norm.scale_.copy(),
        constant=is_constant(norm.var_, norm.mean_, n_train),
        test_mean=m.mean,
        test_std=np.sqrt(m.var),
        n_train=n_train if np.ndim(n_train) == 0 else np.max(n_train),
        weighted=bool(getattr(norm, "_weighted", False)),
        n_test=data.A.shape[0],
        mean_tol=float(mean_tol),
        std_tol=float(std_tol),
        max_rows=int(max_rows),
        feature_names=None if names is None else list(names),
        n_valid=m.n.copy(),
    )
