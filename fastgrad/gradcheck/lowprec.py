"""Checking float32 models.

A float32 model (``f`` returns float32, or the gradients are float32) cannot
be checked with ε = 1e-7: θ ± 1e-7 rounds back to θ in float32 for |θ| ≥ 1,
and the cost's own rounding (u = 2⁻²⁴ ≈ 6e-8 relative) divided by a tiny
step swamps the difference. The float32 check therefore:

* takes per coordinate the step ``h_i = max(epsilon, cbrt(u)·max(1, |θ_i|))``
  (cbrt(u) ≈ 3.9e-3: it balances the O(h²) truncation of the central
  difference against the O(u/h) rounding of a float32 cost), at the points
  ``fl32(θ_i ± h_i)`` that a float32 model actually sees, dividing by the
  step actually taken;
* grades with the bands ``great < 1e-3 <= check < 1e-2 <= bug`` (unless
  ``thresholds=`` is given): the difference of a correct float32 backprop
  sits around 1e-5..1e-4, a missing factor or a wrong sign at 1e-1 and
  above;
* states the step and the noise floor ``8·u·max|f|/min h`` (the slope error
  that the cost's rounding alone can cause) in the report.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fastgrad import _progress
from fastgrad.gradcheck import calls, inputs

U32 = float(np.finfo(np.float32).eps) / 2
STEP = float(np.cbrt(U32))
THRESHOLDS = (1e-3, 1e-2)


def is_float32(value):
    """True when ``value`` (f's output, or an array / structure of arrays) is float32."""
    if isinstance(value, Mapping):
        return any(is_float32(v) for v in value.values())
    if isinstance(value, (list, tuple)):  # of arrays or tensors, not nested lists
        return any(not isinstance(v, (list, tuple, Mapping)) and is_float32(v) for v in value)
    return inputs.numpy_dtype(value) == np.float32


def differences(call, flat, view, eps, coords, blocks, fname, progress, desc):
    """Central differences at float32 points; returns (numerical, values, h⁺, h⁻, note)."""
    theta = flat[coords]
    h = np.maximum(eps, STEP * np.maximum(1.0, np.abs(theta)))
    plus = (theta + h).astype(np.float32).astype(np.float64)
    minus = (theta - h).astype(np.float32).astype(np.float64)
    if not (np.isfinite(plus).all() and np.isfinite(minus).all()):
        j = int(np.argmax(~(np.isfinite(plus) & np.isfinite(minus))))
        raise inputs.step_error(blocks, int(coords[j]), float(theta[j]), float(h[j]))
    values = values_at(
        call,
        flat,
        view,
        coords,
        plus,
        minus,
        blocks,
        fname,
        progress,
        desc,
        lambda c: f"(float32 check, step {h[c]:.3g})",
    )
    out = (values[:, 0] - values[:, 1]) / (plus - minus)
    return out, values, plus - theta, theta - minus, h


def values_at(call, flat, view, coords, plus, minus, blocks, fname, progress, desc, what):
    """``f`` with coordinate ``coords[c]`` set to ``plus[c]``, then to
    ``minus[c]`` (the others at θ): (K, 2). ``what(c)`` says in an error
    which step was taken."""
    saved = flat.copy()
    values = np.empty((coords.size, 2))
    bar = _progress.Progress(coords.size, progress, desc)
    try:
        for c, i in enumerate(coords):
            for side, point in ((0, plus[c]), (1, minus[c])):
                flat[i] = point
                try:
                    v = calls.call_once(call, view, fname)
                except Exception as e:
                    if hasattr(e, "add_note"):  # say where the check was (3.11+)
                        where = inputs.coordinate_name(blocks, int(i))
                        e.add_note(
                            f"fastgrad: raised while evaluating {fname} at {where} "
                            f"{'+-'[side]} step {what(c)}"
                        )
                    raise
                finally:
                    flat[i] = saved[i]
                if not np.isfinite(v):
                    where = inputs.coordinate_name(blocks, int(i))
                    raise ValueError(
                        f"{fname} returned {v!r} at {where} {'+-'[side]} step {what(c)}: the "
                        "finite difference needs a finite value on both sides"
                    )
                values[c, side] = v
            if (c & 63) == 63:
                bar.update(c + 1)
        bar.update(coords.size)
    finally:
        bar.close()
    calls.check_untouched(flat, saved, fname)
    return values


def f32_chunk(shipped, coords):
    """In a worker (:func:`fastgrad.gradcheck.parallel.run`): the serial
    float32 loop on one chunk of coordinates."""
    f, st, flat, view, eps, fname, _ = shipped
    n, values, hp, hm, h = differences(f, flat, view, eps, coords, st.blocks, fname, False, "")
    return n, values, (hp, hm, h)


def note(h, values, f0):
    scale = max(float(np.max(np.abs(values))), abs(f0))
    floor = 8 * U32 * scale / float(np.min(h))
    return (
        f"float32 model: step max(epsilon, {STEP:.2g}*max(1,|theta|)) at float32 points "
        f"(here {np.min(h):.2g}..{np.max(h):.2g}); noise floor of a slope ~{floor:.1e} "
        f"(8*u32*max|f|/step)"
    )
