"""Batch normalization of one layer's pre-activations, forward and backward.

For a layer with linear output ``U = W·A_prev`` of shape ``(n, m)`` (no bias:
β takes its place, since any bias is removed again by the mean):

    μ = mean_i U[:, i]        σ² = mean_i (U[:, i] − μ)²       (population, 1/m)
    Zn = (U − μ) / sqrt(σ² + ε)
    Z  = γ·Zn + β              γ, β of shape (n, 1)

In training mode μ and σ² are the batch's own, so every example's output
depends on every other example in the batch; at inference they are the
running averages kept by :class:`fastgrad.MLP`.
"""

import numpy as np


def forward(U, gamma, beta, epsilon, mean=None, var=None):
    """Normalize ``U`` (n, m) per row; batch statistics unless ``mean``/``var``.

    Returns ``(Z, Zn, centered, inv_std, mean, var)``: ``centered`` is
    ``U − μ`` and ``inv_std`` is ``1/sqrt(var + ε)`` of shape (n, 1).
    """
    if mean is None:
        mean = U.mean(axis=1, keepdims=True)
        centered = U - mean
        var = np.mean(centered**2, axis=1, keepdims=True)
    else:
        centered = U - mean
    inv_std = 1.0 / np.sqrt(var + epsilon)
    Zn = centered * inv_std
    return gamma * Zn + beta, Zn, centered, inv_std, mean, var


def backward(dZ, Zn, inv_std, gamma):
    """Gradients through a training-mode batch norm.

    ``dZ`` is ∂J/∂Z (n, m). Returns ``(dU, dgamma, dbeta)``; the mean and
    variance are differentiated too (they are functions of the batch):

        dU = inv_std · (dZn − mean_i dZn − Zn · mean_i(dZn · Zn)),  dZn = γ·dZ
    """
    dgamma = np.sum(dZ * Zn, axis=1, keepdims=True)
    dbeta = np.sum(dZ, axis=1, keepdims=True)
    dZn = dZ * gamma
    dU = inv_std * (
        dZn - dZn.mean(axis=1, keepdims=True) - Zn * np.mean(dZn * Zn, axis=1, keepdims=True)
    )
    return dU, dgamma, dbeta
