"""Kinks of any function, from the two one-sided differences.

At a coordinate where ``f`` is smooth on ``[θ_i − ε, θ_i + ε]`` the forward
and backward slopes ``s₊ = (f(θ+εe) − f(θ))/h₊`` and ``s₋ = (f(θ) −
f(θ−εe))/h₋`` differ by about ``f''·ε`` (curvature) plus rounding. A kink
(relu, abs, max) inside the interval makes them differ by a jump of the
slope itself, independent of ε. A coordinate is a kink when

    |s₊ − s₋| > r·(|s₊| + |s₋| + G) + 2·noise,   r = max(1e-4, 2.5·h/max(1, |θ_i|))

with ``G`` the RMS of the numerical gradient over the checked coordinates
of the same block and ``noise = 8·u·max(|f±|, |f(θ)|)/min(h₊, h₋)`` (u the
unit roundoff of f's precision); the allowance r grows with the step h
because the curvature's share ``f''·h`` does (1e-4 at ε = 1e-7; ~0.01 for
float32 steps, where kinks that change the slope by less than a few % are
not seen); what curvature flags anyway, the half-step look below takes
back. At a kink the central difference is not the derivative, so
a kink where the analytic value lies between the one-sided slopes (a
subgradient, within ``1e-6·(|s₊| + |s₋| + G) + 2·noise``, and the
``f''·h/2`` by which curvature moves a slope from the derivative) is left
out of the verdict and counted; one outside them stays in the verdict (it
is not a subgradient) and is named in a hint.

Near a minimum (or wherever the gradient is small next to ``f''·h``) the
curvature alone passes that test at every coordinate, and a wrong gradient
would pass as "a subgradient". So a coordinate the test flags is looked at
again with half the steps (:func:`confirm`): four slopes over
``[−h, −h/2], [−h/2, 0], [0, h/2], [h/2, h]`` change at one rate ``f''``
where ``f`` is smooth (their successive differences over the spacing of
their midpoints agree), while a kink puts the whole jump into the one
interval that holds it. Only a coordinate whose rates disagree by more
than half their size (and the rounding) stays a kink.

Cost: f(θ), which the check takes anyway (twice, to see that ``f`` is
deterministic), and two more evaluations per flagged coordinate.
"""

from __future__ import annotations

import numpy as np

U64 = float(np.finfo(np.float64).eps) / 2


def find(
    theta,
    eps,
    f0,
    values,
    numerical,
    analytic,
    unit_roundoff=U64,
    steps=None,
    scale=None,
    block=None,
):
    """(kink, subgradient) boolean masks over the checked coordinates.

    ``theta`` the checked coordinates' values, ``values`` (K, 2) the costs at
    θ ± ε, ``numerical``/``analytic`` (K,) the central differences and the
    gradient there; ``steps`` = (h⁺, h⁻) when the steps are not θ ± ε;
    ``scale`` the size of the values' rounding when it is not ``max |f|``
    (a VJP's ``Σ|u·y|``); ``block`` (K,) each coordinate's block, so that
    ``G`` is its own block's RMS (a block of large slopes must not hide a
    small block's kinks); None: one block.
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
    if block is None or numerical.size == 0:
        G = float(np.sqrt(np.mean(numerical**2))) if numerical.size else 0.0
    else:
        _, inverse, counts = np.unique(block, return_inverse=True, return_counts=True)
        G = np.sqrt(np.bincount(inverse, weights=numerical**2) / counts)[inverse]
    size = np.abs(sp) + np.abs(sm) + G
    rel = np.maximum(1e-4, 2.5 * np.minimum(hp, hm) / np.maximum(1.0, np.abs(theta)))
    kink = np.abs(sp - sm) > rel * size + 2 * noise
    tol = 1e-6 * size + 2 * noise
    sub = kink & subgradient(analytic, sp, sm, tol)
    return kink, sub, sp, sm, tol


def subgradient(analytic, sp, sm, tol):
    """Whether ``analytic`` lies between the one-sided slopes, within ``tol``."""
    return (analytic >= np.minimum(sp, sm) - tol) & (analytic <= np.maximum(sp, sm) + tol)


def confirm(full, half, steps, half_steps, noise_scale, unit_roundoff=U64):
    """Which flagged coordinates are kinks after all (bool (K,)), and how
    far curvature moves a one-sided derivative from its slope (K,).

    The second: a slope over ``[0, h]`` is the derivative at ``0⁺`` plus
    ``f''·h/2``, so the slopes bracket a subgradient only to within that.
    It is the smaller of the two sides' changes of slope between their
    half steps (the side without the kink changes by curvature alone).

    ``full`` and ``half`` (K, 2): the one-sided changes ``f(θ + h⁺e) −
    f(θ)`` and ``f(θ − h⁻e) − f(θ)`` at the full steps ``steps = (h⁺, h⁻)``
    and at ``half_steps`` (about half of them); ``noise_scale`` (K,) the
    size of the values' rounding (``max |f|``). See the module docstring."""
    hp, hm = steps
    hp2, hm2 = half_steps
    with np.errstate(divide="ignore", invalid="ignore"):
        s_po = (full[:, 0] - half[:, 0]) / (hp - hp2)  # slope over [h/2, h]
        s_pi = half[:, 0] / hp2  # over [0, h/2]
        s_mi = -half[:, 1] / hm2  # over [-h/2, 0]
        s_mo = (half[:, 1] - full[:, 1]) / (hm - hm2)  # over [-h, -h/2]
        rates = np.stack(
            [
                (s_po - s_pi) / (hp / 2),
                (s_pi - s_mi) / ((hp2 + hm2) / 2),
                (s_mi - s_mo) / (hm / 2),
            ]
        )
        # Each slope over h/2 is off by ~2·u·F/(h/2) from its two values'
        # last rounding; a spread of rates (slope differences over spacings
        # of ~h/2) by twice that over h/2. A typical rounding, not a worst
        # case: a bound 4x larger put real kinks of an |f| ~ 1e7 back into
        # the verdict.
        h2 = np.minimum(hp2, hm2)
        noise = 2 * (4 * unit_roundoff * noise_scale / h2) / h2
        spread = rates.max(axis=0) - rates.min(axis=0)
        smooth = spread <= 0.5 * np.abs(rates).max(axis=0) + noise
        bend = np.minimum(np.abs(s_po - s_pi), np.abs(s_mi - s_mo))
    return ~smooth, np.where(np.isfinite(bend), bend, 0.0)


def half_looks(seen, coords, points, evaluate):
    """f's values at the half-step ``points`` (K, 2) of ``coords``: from
    ``seen`` (``{coordinate: (points, values)}``, the looks taken before in
    this check) where the points are the same, else ``evaluate(new)`` (the
    values of the coordinates the mask ``new`` selects), which ``seen``
    then keeps. A float32 refinement finds the kinks anew; the coordinates
    whose steps it kept are not evaluated twice."""
    out = np.empty((coords.size, 2))
    new = np.ones(coords.size, dtype=bool)
    for j, i in enumerate(coords.tolist()):
        old = seen.get(i)
        if old is not None and (old[0] == points[j]).all():
            out[j], new[j] = old[1], False
    if new.any():
        out[new] = evaluate(new)
        for j in np.flatnonzero(new).tolist():
            seen[int(coords[j])] = (points[j], out[j].copy())
    return out
