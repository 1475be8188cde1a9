"""How much of a finite difference the cost's own rounding can explain.

A central difference ``(f(θ + h⁺e) − f(θ − h⁻e)) / (h⁺ + h⁻)`` of values
that are each off by their last rounding (u·|f|, half an ulp) is off by
``2·u·max|f| / (h⁺ + h⁻)``: with ε = 1e-7 that is ~1e-9·max|f| per entry,
a lower bound (a sum of many terms, or cancellation inside f, adds more),
which a gradient far smaller than the cost (near a minimum, or under a
large constant part of f) cannot rise above. The report compares its
differences with that floor (:func:`fastgrad.gradcheck.report.noise_floor`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["rounding_error", "noise_advice", "typical_length"]


def rounding_error(width, F, unit):
    """Each entry's rounding error, at the least: ``2·unit·F / width``, with
    ``F`` the largest magnitude of the values (or of the terms) that were
    differenced and ``width = h⁺ + h⁻`` the distance between the points."""
    return 2 * unit * F / width


def typical_length(theta, groups=None):
    """The length over which the advice assumes f bends: the RMS ``|θ|`` over
    the blocks that are not all zeros (``groups`` (K,) each coordinate's
    block), at most 1. A scale-invariant layer of inputs ~1e-3 bends over
    ~1e-3, and a step of 1e-2 would move its inputs by 1000%; small biases
    beside weights of ~1 do not make θ's length small (the smallest block's
    RMS would)."""
    theta = np.asarray(theta, dtype=np.float64)
    if theta.size == 0:
        return 1.0
    if groups is None:
        groups = np.zeros(theta.size, dtype=np.intp)
    sq = np.bincount(groups, weights=theta**2)  # block indices: small ints >= 0
    counts = np.bincount(groups, minlength=sq.size)
    live = sq > 0
    if not live.any():
        return 1.0
    return float(min(1.0, np.sqrt(sq[live].sum() / counts[live].sum())))


def noise_advice(f32, eps, F, numerical, unit, length=1.0):
    """What lowers a check's rounding floor, for its note (``F`` the
    largest magnitude of the costs, ``numerical`` the differences,
    ``length`` the :func:`typical_length` of θ, or a function that gives
    it, called only when the advice needs it)."""
    if f32:
        return "; check the function in float64 if you can"
    G = float(np.sqrt(np.mean(numerical**2))) if numerical.size else 0.0
    text = ""
    if F > 0 and G > 0:
        length = length() if callable(length) else length
        # The rounding falls as 1/eps and the truncation grows as (eps/L)**2 for
        # an f that bends over a length L (a third derivative ~ G/L**2): they
        # meet at cbrt(unit*F*L**2/G). A step beyond a tenth of L is no advice.
        best = float(np.cbrt(unit * F * length**2 / G))
        if 2 * eps < best <= 0.1 * length:
            text += (
                f"; try epsilon={best:.0e} (the rounding falls as 1/epsilon, the "
                "truncation grows as epsilon**2)"
            )
        elif best > 0.1 * length and 2 * eps < 0.1 * length:
            text += (
                f"; an epsilon that lifts the differences above the rounding ({best:.0e}) "
                f"is beyond a tenth of the typical |theta| (~{length:.0e}), where the "
                "truncation may take over: try it, and compare"
            )
    if F > 1e3 * G:
        text += (
            "; f is large next to its gradient: check away from a minimum, or subtract "
            "a constant part of f"
        )
    return text
