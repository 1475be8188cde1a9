"""The forward and backward passes of :class:`~fastgrad.nn.model.MLP`, in
plain vectorized NumPy, written to be read: this is what a hand-written
backprop is compared with. Each reads the model's registry entries
(``activations``, ``output_layer``) and its settings (``batchnorm``, ``l2``,
running statistics)."""

from __future__ import annotations

import numpy as np

from fastgrad.nn import batchnorm as bn
from fastgrad.nn.spec import parameter_order


class ForwardCache:
    """One forward pass's intermediates (see :meth:`MLP.forward_cache`)."""

    def __init__(self, L, X):
        self.Z = [None] * (L + 1)
        self.G = [X] + [None] * L
        self.A = [X] + [None] * L
        self.Zn, self.centered, self.inv_std, self.mean, self.var = {}, {}, {}, {}, {}


def forward(model, params, X, *, scales=None, training=True):
    """Every intermediate of one forward pass (see :meth:`MLP.forward_cache`)."""
    L = model.n_layers
    c = ForwardCache(L, X)
    A = X
    for l in range(1, L + 1):
        U = params[f"W{l}"] @ A
        if l in model.batchnorm:
            stats = (None, None) if training else model.running_stats(l)
            Z, c.Zn[l], c.centered[l], c.inv_std[l], c.mean[l], c.var[l] = bn.forward(
                U, params[f"gamma{l}"], params[f"beta{l}"], model.bn_epsilon, *stats
            )
        else:
            Z = U + params[f"b{l}"]
        if l < L:
            G = model.activations[l - 1].g(Z)
            A = G * scales[l] if training and scales and l in scales else G
        else:
            G = A = model.output_layer.activation(Z)
        c.Z[l], c.G[l], c.A[l] = Z, G, A
    return c


def backward(model, params, c, Y, scales=None):
    """``(grads, deltas)`` through a forward cache (see :meth:`MLP.backprop`)."""
    m = Y.shape[1]
    L = model.n_layers
    dZ = model.output_layer.dZ(c.A[L], Y, m)
    grads = {}
    deltas = [None] * (L + 1)
    for l in range(L, 0, -1):
        W = params[f"W{l}"]
        if l in model.batchnorm:
            dZ, grads[f"dgamma{l}"], grads[f"dbeta{l}"] = bn.backward(
                dZ, c.Zn[l], c.inv_std[l], params[f"gamma{l}"]
            )
        else:
            grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True)
        deltas[l] = dZ
        grads[f"dW{l}"] = dZ @ c.A[l - 1].T + (model.l2 / m) * W
        if l > 1:
            dA = W.T @ dZ
            if scales and l - 1 in scales:
                dA = dA * scales[l - 1]
            dZ = dA * model.activations[l - 2].g_prime(c.Z[l - 1], c.G[l - 1])
    return {k: grads[k] for k in parameter_order(grads, prefix="d")}, deltas
