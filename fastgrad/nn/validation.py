"""Argument checks of the network: parameter dicts against the
:class:`~fastgrad.nn.spec.ParamSpec`, inputs and targets in the course's
layout, dropout and batch-norm settings."""

from __future__ import annotations

import warnings

import numpy as np

from fastgrad import _argcheck as ac


def finite_float64(value, name, *, warn_downcast=False):
    """``value`` as a float64 array of finite real numbers (a UserWarning
    when float32 input is upcast for a check, with ``warn_downcast``)."""
    ac.not_masked(value, name)
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        what = f"dtype {arr.dtype}"
        if arr.dtype.kind == "O" and arr.ndim == 0:  # None, or an object NumPy cannot read
            what = type(value).__name__
        raise TypeError(f"{name} must hold real numbers, got {what}")
    if warn_downcast and arr.dtype.kind == "f" and arr.dtype.itemsize < 8:
        warnings.warn(
            f"{name} is {arr.dtype}; the check upcasts it to float64. A finite "
            "difference with epsilon=1e-7 needs float64: in float32 (7 digits) "
            "θ±ε rounds back to θ and the numerical gradient is noise.",
            UserWarning,
            stacklevel=5,
        )
    arr = arr.astype(np.float64, copy=False)
    if not ac.all_finite(arr):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)})"
        )
    return arr


def param_dict(
    params, spec, name="params", *, prefix="", warn_downcast=False, layer_dims=(), batchnorm=()
):
    """Validate a parameter (or, with ``prefix="d"``, gradient) dict against
    ``spec``: exactly its keys, each finite and of its shape (a 1-D block is
    accepted for a ``(n, 1)`` non-W block). Returns new float64 arrays.
    ``layer_dims`` and ``batchnorm`` describe the model in messages."""
    ac.mapping(params, name, prefix)
    expected = [prefix + k for k in spec.shapes]
    parts = ac.key_mismatch(expected, params)
    if parts:
        if batchnorm:
            parts.append(
                f"batch-normalized layers {list(batchnorm)} have gamma and beta instead of b"
            )
        raise KeyError(
            f"{name} keys do not match the model {list(layer_dims)}: "
            + "; ".join(parts)
            + f" (expected exactly {expected})"
        )
    out = {}
    for key, shape in spec.shapes.items():
        full = prefix + key
        arr = finite_float64(params[full], f"{name}[{full!r}]", warn_downcast=warn_downcast)
        if not key.startswith("W") and arr.shape == shape[:1]:
            arr = arr.reshape(shape)
        if arr.shape != shape:
            hint = " (it looks transposed)" if arr.shape == shape[::-1] else ""
            raise ValueError(f"{name}[{full!r}] has shape {arr.shape}, expected {shape}{hint}")
        out[full] = arr
    return out


def inputs(X, n_x, *, warn_downcast=False):
    """``X`` of shape ``(n_x, m)``, examples as columns, m >= 1."""
    X = finite_float64(X, "X", warn_downcast=warn_downcast)
    if X.ndim != 2 or X.shape[0] != n_x:
        raise ValueError(
            f"X must have shape (n_x={n_x}, m) with examples as columns, got {X.shape}"
        )
    if X.shape[1] == 0:
        raise ValueError("X has no examples (m = 0)")
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        # NumPy < 2.3 multiplies an operand strided in both axes in its own
        # loop, not BLAS, which rounds differently: a contiguous copy gives
        # every layout of X the same bits.
        X = np.ascontiguousarray(X)
    return X


def targets(Y, n_out, m, output, *, warn_downcast=False):
    """``Y`` of shape ``(n_L, m)``; ``(m,)`` is accepted: 0/1 labels for one
    output unit, or integer class labels for a softmax output (one-hot)."""
    if Y is None:
        raise TypeError("Y is required: the targets of shape (n_L, m), one column per example of X")
    ac.not_masked(Y, "Y")
    Yarr = np.asarray(Y)
    if Yarr.ndim == 1 and Yarr.shape[0] == m:
        if n_out == 1:
            Yarr = Yarr.reshape(1, m)
        elif output == "softmax" and Yarr.dtype.kind == "b":
            raise ValueError(
                f"Y of {m} booleans is ambiguous for a softmax output with "
                f"{n_out} classes: pass integer class labels or one-hot "
                f"columns of shape ({n_out}, {m})"
            )
        elif output == "softmax" and Yarr.dtype.kind in "iu":
            if Yarr.size and (Yarr.min() < 0 or Yarr.max() >= n_out):
                raise ValueError(
                    f"Y class labels must lie in [0, {n_out}), got [{Yarr.min()}, {Yarr.max()}]"
                )
            onehot = np.zeros((n_out, m))
            onehot[Yarr, np.arange(m)] = 1.0
            Yarr = onehot
    Yarr = finite_float64(Yarr, "Y", warn_downcast=warn_downcast)
    if Yarr.shape != (n_out, m):
        raise ValueError(f"Y must have shape (n_L={n_out}, m={m}) to match X, got {Yarr.shape}")
    _targets_in_range(Yarr, output)
    return Yarr


# How far outside [0, 1] (or below 0) a target may lie and still be taken
# for a rounded soft label.
TARGET_SLACK = 1e-12


def _targets_in_range(Y, output):
    """Refuse targets for which the output's loss has no minimum: training
    on them drives the cost to -inf with no error (labels {1, 2} for a
    sigmoid output are the classic case)."""
    if Y.size == 0 or output not in ("sigmoid", "softmax"):
        return
    lo, hi = float(Y.min()), float(Y.max())
    # Rounding in computed soft labels (1 + 2e-16) is not a wrong label.
    slack = TARGET_SLACK
    if output == "sigmoid" and (lo < -slack or hi > 1.0 + slack):
        raise ValueError(
            f"Y must hold targets in [0, 1] for the sigmoid output's binary cross-entropy, "
            f"got values in [{lo!r}, {hi!r}] (labels {{1, 2}} or {{-1, 1}}? map them to 0 "
            "and 1 first, e.g. Y = (Y == Y.max()).astype(float))"
        )
    if output == "softmax" and lo < -slack:
        raise ValueError(
            f"Y must hold non-negative targets (one-hot columns, or class weights) for the "
            f"softmax output's cross-entropy, got a minimum of {lo!r}"
        )


def keep_prob(keep_prob, n_hidden):
    """One keep probability per hidden layer, each in (0, 1]."""
    if ac.is_real(keep_prob):
        if n_hidden == 0 and keep_prob != 1:
            raise ValueError("keep_prob < 1 needs a hidden layer to drop units from")
        values = [keep_prob] * n_hidden
    elif isinstance(keep_prob, (str, bytes, dict, set, frozenset)) or not hasattr(
        keep_prob, "__iter__"
    ):
        raise TypeError(
            "keep_prob must be a number in (0, 1] or a list with one per hidden "
            f"layer, got {ac.got(keep_prob)}"
        )
    else:
        values = list(keep_prob)
    if len(values) != n_hidden:
        raise ValueError(
            f"keep_prob has {len(values)} values but the network has {n_hidden} hidden layers"
        )
    what = "in (0, 1] (the probability of keeping a unit)"
    return tuple(ac.real(v, "keep_prob", low=0, low_open=True, high=1, what=what) for v in values)


def batchnorm_layers(batchnorm, n_hidden):
    """The batch-normalized hidden layers (1-based), sorted."""
    if batchnorm is True:
        return tuple(range(1, n_hidden + 1))
    if batchnorm is False or batchnorm is None:
        return ()
    if ac.is_int(batchnorm):
        batchnorm = [batchnorm]
    elif isinstance(batchnorm, (str, bytes, dict)) or not hasattr(batchnorm, "__iter__"):
        raise TypeError(
            "batchnorm must be a list of hidden-layer numbers (1-based) or True, "
            f"got {ac.got(batchnorm)}"
        )
    layers = list(batchnorm)
    for l in layers:
        if not ac.is_int(l):
            raise TypeError(f"batchnorm must list hidden-layer numbers (ints), got {ac.got(l)}")
        if not 1 <= l <= n_hidden:
            raise ValueError(
                f"batchnorm lists hidden layers 1..{n_hidden} (1-based; the "
                f"output layer is not normalized), got {l!r}"
            )
    if len(set(layers)) != len(layers):
        raise ValueError(f"batchnorm lists a layer twice: {layers}")
    return tuple(sorted(int(l) for l in layers))
