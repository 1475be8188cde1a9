"""The output layers: one registry entry per output activation and its loss.

The model reads ``activation``, ``loss`` and ``dZ``; the gradient check
reads the kernel ``code`` and the exact ``loss_delta`` of its NumPy twin;
the CLI reads the names and ``random_targets``. Codes come from
``csrc/nn/codes.pxi`` through :mod:`fastgrad.nn._codes`.

Adding an output loss: one :class:`Output` below, one member in
``csrc/nn/codes.pxi``, one case in the kernel's ``_out_delta_unit`` /
``_out_delta_column`` (``csrc/gradcheck/_mlp_kernel.pyx``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logsumexp, softmax

from fastgrad.nn._codes import Output as _Code
from fastgrad.nn.activations import LARGE_DELTA, check_name

Array = np.ndarray


@dataclass(frozen=True)
class Output:
    """Everything fastgrad knows about one output layer.

    Attributes
    ----------
    name : str
    code : int
        The kernel's code (``fastgrad.nn._codes.Output``).
    loss_name : str
    min_units : int
    activation : callable ``activation(Z) -> A``
    loss : callable ``loss(ZL, Y) -> (m,)`` per-example losses, from the
        pre-activation in a stable form.
    dZ : callable ``dZ(A, Y, m) -> ∂J/∂Z[L]``
    loss_delta : callable ``loss_delta(ZL, A, Y, D) -> array``
        ``loss(ZL + D) − loss(ZL)`` without cancellation, overflow-free for
        large ``|D|`` (the kernel's twin): per entry for a loss that is a sum
        over units (sigmoid, linear), per example for softmax; the caller
        sums it.
    predict : callable ``predict(A) -> predictions``
    random_targets : callable ``random_targets(rng, n_out, m) -> Y``
        Targets of the right kind for a random test problem.
    """

    name: str
    code: int
    loss_name: str
    min_units: int
    activation: Callable[[Array], Array]
    loss: Callable[[Array, Array], Array]
    dZ: Callable[[Array, Array, int], Array]
    loss_delta: Callable[[Array, Array, Array, Array], Array]
    predict: Callable[[Array], Array]
    random_targets: Callable


# -- exact loss differences -------------------------------------------------
def _softplus_loss_delta(z, d, y, s):
    """s·(softplus(z + d) − softplus(z)) − y·d for large |d|.

    softplus(x) = max(x, 0) + log1p(e^−|x|): the max parts differ by d, z + d,
    −z or 0 (taken exactly and combined with y·d first), the tails are two
    small accurate numbers.
    """
    zp = z + d
    relu = np.where(zp > 0, np.where(z > 0, d, zp), np.where(z > 0, -z, 0.0))
    tail = np.log1p(np.exp(-np.abs(zp))) - np.log1p(np.exp(-np.abs(z)))
    return (s * relu - y * d) + s * tail


def _softmax_loss_delta_large(Z, D, Y):
    """(Σy)·(LSE(z + d) − LSE(z)) − Σ y·d per column, for large |d|.

    With a = z − max z and c* the argmax of a + d: LSE(z+d) − LSE(z) =
    a_c* + d_c* + log Σ e^(a+d − a_c* − d_c*) − log Σ e^a; no exponential
    overflows and d_c* meets y·d before anything else is added.
    """
    ysum = Y.sum(axis=0)
    A = Z - Z.max(axis=0)
    AD = A + D
    cs = np.argmax(AD, axis=0)
    cols = np.arange(Z.shape[1])
    top = AD[cs, cols]
    s1 = np.sum(np.exp(AD - top), axis=0)
    s0 = np.sum(np.exp(A), axis=0)
    return (
        ysum * A[cs, cols]
        + (ysum * D[cs, cols] - np.sum(Y * D, axis=0))
        + ysum * (np.log(s1) - np.log(s0))
    )


def _sigmoid_loss_delta(ZL, out, Y, dZ):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        dl = np.log1p(out * np.expm1(dZ)) - Y * dZ
    big = np.abs(dZ) > LARGE_DELTA
    if big.any():
        dl[big] = _softplus_loss_delta(ZL[big], dZ[big], Y[big], 1.0)
    return dl


def _softmax_loss_delta(ZL, out, Y, dZ):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        dl = Y.sum(axis=0) * np.log1p(np.sum(out * np.expm1(dZ), axis=0)) - np.sum(Y * dZ, axis=0)
    big = np.any(np.abs(dZ) > LARGE_DELTA, axis=0)
    if big.any():
        dl[big] = _softmax_loss_delta_large(ZL[:, big], dZ[:, big], Y[:, big])
    return dl


def _difference_dZ(A, Y, m):
    # sigmoid+BCE and linear+MSE share dJ/dZ = (A − Y)/m
    return (A - Y) / m


# -- the registry -----------------------------------------------------------
OUTPUTS: dict[str, Output] = {
    o.name: o
    for o in (
        Output(
            "sigmoid",
            int(_Code.OUT_SIGMOID),
            "binary cross-entropy",
            1,
            activation=expit,
            # BCE from the logit: softplus(z) − y·z, stable for any z.
            loss=lambda ZL, Y: np.sum(np.logaddexp(0.0, ZL) - Y * ZL, axis=0),
            dZ=_difference_dZ,
            loss_delta=_sigmoid_loss_delta,
            predict=lambda A: (A > 0.5).astype(np.int64),
            random_targets=lambda rng, n, m: (rng.random((n, m)) < 0.5).astype(float),
        ),
        Output(
            "softmax",
            int(_Code.OUT_SOFTMAX),
            "cross-entropy",
            2,
            activation=lambda Z: softmax(Z, axis=0),
            loss=lambda ZL, Y: np.sum(Y, axis=0) * logsumexp(ZL, axis=0) - np.sum(Y * ZL, axis=0),
            dZ=lambda A, Y, m: (np.sum(Y, axis=0, keepdims=True) * A - Y) / m,
            loss_delta=_softmax_loss_delta,
            predict=lambda A: np.argmax(A, axis=0),
            random_targets=lambda rng, n, m: np.eye(n)[:, rng.integers(0, n, m)],
        ),
        Output(
            "linear",
            int(_Code.OUT_LINEAR),
            "squared error",
            1,
            activation=lambda Z: Z.copy(),
            loss=lambda ZL, Y: 0.5 * np.sum((ZL - Y) ** 2, axis=0),
            dZ=_difference_dZ,
            loss_delta=lambda ZL, out, Y, dZ: dZ * ((ZL - Y) + 0.5 * dZ),
            predict=lambda A: A,
            random_targets=lambda rng, n, m: rng.standard_normal((n, m)),
        ),
    )
}


def get(name) -> Output:
    """The registry entry for ``name`` (an :class:`Output` is returned as is)."""
    if isinstance(name, Output):
        return name
    return OUTPUTS[check_name(name, tuple(OUTPUTS), "output")]


__all__ = ["Output", "OUTPUTS", "get"]
