"""Kinks of any function, from the two one-sided differences.

At a coordinate where ``f`` is smooth on ``[θ_i − ε, θ_i + ε]`` the forward
and backward slopes ``s₊ = (f(θ+εe) − f(θ))/h₊`` and ``s₋ = (f(θ) −
f(θ−εe))/h₋`` differ by about ``f''·ε`` (curvature) plus rounding. A kink
(relu, abs, max) inside the interval makes them differ by a jump of the
slope itself, independent of ε. A coordinate is a kink when

    |s₊ − s₋| > r·(|s₊| + |s₋| + G) + 2·noise,   r = max(1e-4, 25·h/max(1, |θ_i|))

with ``G`` the RMS of the numerical gradient over the checked coordinates
and ``noise = 8·u·max(|f±|, |f(θ)|)/min(h₊, h₋)`` (u the unit roundoff of
f's precision); the allowance r grows with the step h because the
curvature's share ``f''·h`` does (1e-4 at ε = 1e-7; ~0.1 for float32
steps, where only kinks that change the slope by more than ~10% are
seen). At a kink the central difference is not the derivative, so
a kink where the analytic value lies between the one-sided slopes (a
subgradient, within ``1e-6·(|s₊| + |s₋| + G) + 2·noise``) is left out of the
verdict and counted; one outside them stays in the verdict (it is not a
subgradient) and is named in a hint.

Cost: f(θ), which the check takes anyway (twice, to see that ``f`` is
deterministic).
"""

from __future__ import annotations

import numpy as np

U64 = float(np.finfo(np.float64).eps) / 2


def find(theta, eps, f0, values, numerical, analytic, unit_roundoff=U64, steps=None, scale=None):
    """(kink, subgradient) boolean masks over the checked coordinates.

    ``theta`` the checked coordinates' values, ``values`` (K, 2) the costs at
    θ ± ε, ``numerical``/``analytic`` (K,) the central differences and the
    gradient there; ``steps`` = (h⁺, h⁻) when the steps are not θ ± ε;
    ``scale`` the size of the values' rounding when it is not ``max |f|``
    (a VJP's ``Σ|u·y|``).
    """
    if steps is None:
        hp = (theta + eps) - theta
        hm = theta - (theta - eps)
    else:
        hp, hm = steps
    fp, fm = values[:, 0], values[:, 1]
    sp = (fp - f0) / hp
    sm = (f0 - fm) / hm
    if scale is None:
        scale = np.maximum(np.maximum(np.abs(fp), np.abs(fm)), abs(f0))
    noise = 8 * unit_roundoff * scale / np.minimum(hp, hm)
    G = float(np.sqrt(np.mean(numerical**2))) if numerical.size else 0.0
    size = np.abs(sp) + np.abs(sm) + G
    rel = np.maximum(1e-4, 25 * np.minimum(hp, hm) / np.maximum(1.0, np.abs(theta)))
    kink = np.abs(sp - sm) > rel * size + 2 * noise
    tol = 1e-6 * size + 2 * noise
    lo, hi = np.minimum(sp, sm) - tol, np.maximum(sp, sm) + tol
    sub = kink & (analytic >= lo) & (analytic <= hi)
    return kink, sub, sp, sm
