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

__all__ = ["rounding_error", "noise_advice"]


def rounding_error(width, F, unit):
    """Each entry's rounding error, at the least: ``2·unit·F / width``, with
    ``F`` the largest magnitude of the values (or of the terms) that were
    differenced and ``width = h⁺ + h⁻`` the distance between the points."""
    return 2 * unit * F / width


def noise_advice(f32, eps, F, numerical, unit):
    """What lowers a check's rounding floor, for its note (``F`` the
    largest magnitude of the costs, ``numerical`` the differences)."""
    if f32:
        return "; check the function in float64 if you can"
    G = float(np.sqrt(np.mean(numerical**2))) if numerical.size else 0.0
    text = ""
    if F > 0 and G > 0:
        # The rounding falls as 1/eps and the truncation grows as eps**2; with
        # the third derivative taken to be of the gradient's size, they meet here.
        best = float(np.cbrt(unit * F / G))
        if best > 2 * eps:
            text += (
                f"; try epsilon={best:.0e} (the rounding falls as 1/epsilon, the "
                "truncation grows as epsilon**2)"
            )
    if F > 1e3 * G:
        text += (
            "; f is large next to its gradient: check away from a minimum, or subtract "
            "a constant part of f"
        )
    return text
