"""The MLP's directional check: the cost's difference along random unit
directions, formed from forward deltas with the registry's exact activation
and loss differences (the NumPy twin of the kernel's identities), never as
the difference of two full costs."""

from __future__ import annotations

import numpy as np


def directional(net, params, grads, blocks, k, rng):
    """k random unit directions inside every block; the difference of the cost
    along each.

    ``net`` is the check's :class:`fastgrad.gradcheck.mlp.KernelInputs`.
    Returns ``{grad_name: (numerical, analytic, kinks)}`` arrays of length k.
    """
    model, eps, m = net.model, net.epsilon, net.m
    out = {}
    for name, _, shape in blocks:
        num, ana, kink = np.empty(k), np.empty(k), np.zeros(k, dtype=bool)
        for r in range(k):
            v = rng.standard_normal(shape)
            v /= np.linalg.norm(v)
            sides = []
            for sign in (1.0, -1.0):
                dparams = {name: sign * eps * v}  # every other block stays put
                dl, kk = cost_delta(model, params, dparams, net)
                sides.append(dl)
                kink[r] |= kk
            l2 = 0.0
            if model.l2 and name.startswith("W"):
                l2 = model.l2 / (2 * m) * 4 * eps * float(np.sum(params[name] * v))
            num[r] = ((sides[0] - sides[1]) / m + l2) / (2 * eps)
            ana[r] = float(np.sum(grads["d" + name] * v))
        out["d" + name] = (num, ana, kink)
    return out


def cost_delta(model, params, dparams, net):
    """Σ_i Δloss_i when the parameters move by ``dparams`` (exact identities).

    ``dparams`` holds only the blocks that move; the layers before the first
    of them, and the products with blocks that do not move (exact zeros),
    are skipped.
    """
    cache, Y, scales = net.cache, net.Y, net.scales or {}
    L = model.n_layers
    dA = None  # ΔA of the layer below: None while it is exactly zero
    any_kink = False
    for l in range(1, L + 1):
        W, dW, db = params[f"W{l}"], dparams.get(f"W{l}"), dparams.get(f"b{l}")
        if dA is None and dW is None and db is None:
            continue
        dZ = None
        if dA is not None:
            dZ = (W if dW is None else W + dW) @ dA
        if dW is not None:
            dZ = dW @ cache.A[l - 1] if dZ is None else dZ + dW @ cache.A[l - 1]
        if db is not None:
            dZ = np.broadcast_to(db, (db.shape[0], net.m)).copy() if dZ is None else dZ + db
        if l < L:
            with np.errstate(over="ignore", invalid="ignore"):
                dA, kinks = model.activations[l - 1].delta(cache.Z[l], cache.G[l], dZ)
            if l in scales:  # frozen dropout: dropped units neither move nor kink
                dA *= scales[l]
                kinks &= scales[l] != 0
            any_kink |= bool(kinks.any())
    dl = model.output_layer.loss_delta(cache.Z[L], cache.A[L], Y, dZ)
    return float(np.sum(dl)), any_kink


def block_rows(blocks, directions, failing, relative_difference):
    """Blocks that passed along directions report the directional numbers."""
    full = {"d" + name for name, _ in failing}
    for b in blocks:
        if b.name in full:
            continue
        num, ana, kk = directions[b.name]
        use = ~kk
        b.difference = relative_difference(ana[use].copy(), num[use].copy())[0]
        err = np.abs(ana - num)
        b.max_abs_error = float(err.max())
        b.worst_index = (int(np.argmax(err)),)
        b.worst_numerical = float(num[b.worst_index[0]])
        b.worst_analytic = float(ana[b.worst_index[0]])
        b.n_checked = len(num)
        b.n_kinks = int(kk.sum())


def differences(directions, relative_difference):
    """(difference over every direction, difference leaving kinks out)."""
    nums, anas, kk = (np.concatenate([v[i] for v in directions.values()]) for i in range(3))
    diff_all = relative_difference(anas, nums)[0]
    diff = relative_difference(anas[~kk].copy(), nums[~kk].copy())[0]
    return diff_all, diff
