"""What :func:`fastgrad.diagnose` returns: a per-layer report and its table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from fastgrad._notebook import ShownInFull
from fastgrad._plain import finite_or_none
from fastgrad._table import table


# -- report ----------------------------------------------------------------
@dataclass
class LayerReport:
    """One layer's statistics; ``None`` where a field does not apply."""

    layer: int
    units: int
    activation: str
    z_mean: float
    z_std: float
    a_mean: float
    a_std: float
    forward_scale: float
    dead: Optional[float]
    saturated: Optional[float]
    grad_W_norm: Optional[float]
    grad_b_norm: Optional[float]
    backward_scale: Optional[float]
    verdict: str


def _fmt(value, spec=".3g"):
    if value is None:
        return "-"
    if isinstance(value, float) and np.isnan(value):
        return "nan"
    return format(value, spec)


def _pct(value):
    return "-" if value is None else f"{100 * value:.0f}%"


class Diagnosis(ShownInFull):
    """The result of :func:`diagnose`: per-layer reports and a verdict.

    Attributes
    ----------
    layers : list of LayerReport
        ``layers[l - 1]`` describes layer ``l``.
    input_rms : float
        ``rms(X)``, the reference for the forward scale.
    cost : float or None
        The cost on the batch when ``Y`` was given.
    threshold : float
        T in the verdict rule.
    symmetric : list of int
        Layers whose units all have the same incoming weights and bias and
        the same outgoing weights (zeros, or any constant): they compute the
        same function and get the same gradient, so no training step can
        tell them apart.
    """

    def __init__(self, layers, input_rms, cost, threshold, model_repr, symmetric=(), steps=None):
        self.layers = list(layers)
        self.input_rms = input_rms
        self.cost = cost
        self.threshold = threshold
        self.model_repr = model_repr
        self.symmetric = list(symmetric)
        L = len(self.layers)
        self.steps = steps if steps is not None else ([None] * L, [None] * L)

    @property
    def sources(self):
        """Layers that alone scale the signal forward (``rms(Z[l]) /
        rms(A[l−1])``) or the error backward (``‖W[l]ᵀ dZ[l]‖ / ‖dZ[l]‖``) by
        more than T or less than 1/T (0 and infinity included), when they
        are few (at most a third of the layers, one or more, of two layers
        or more): a mis-scaled layer in a healthy stack, not an
        initialization too large or too small everywhere (then every layer
        is such, and the scales say it)."""
        T = self.threshold

        def off(x):
            return x is not None and not np.isnan(x) and (x > T or x < 1 / T)

        forward, backward = self.steps
        found = [r.layer for r, f, b in zip(self.layers, forward, backward) if off(f) or off(b)]
        few = len(self.layers) >= 2 and len(found) <= max(1, len(self.layers) // 3)
        return found if found and few else []

    @property
    def verdicts(self):
        """``[verdict of layer 1, ..., verdict of layer L]``."""
        return [r.verdict for r in self.layers]

    @property
    def healthy(self):
        """True if every layer is healthy."""
        return all(v == "healthy" for v in self.verdicts)

    @property
    def forward_scales(self):
        """``rms(Z[l]) / rms(X)`` for l = 1..L, as an array."""
        return np.array([r.forward_scale for r in self.layers])

    @property
    def backward_scales(self):
        """``‖dZ[l]‖ / ‖dZ[L]‖`` for l = 1..L (NaN without ``Y``)."""
        return np.array(
            [np.nan if r.backward_scale is None else r.backward_scale for r in self.layers]
        )

    def to_dict(self):
        """Plain Python data, strict JSON (None for a value that is not
        finite: a layer that overflowed)."""
        return {
            "model": self.model_repr,
            "input_rms": finite_or_none(self.input_rms),
            "cost": finite_or_none(self.cost),
            "threshold": self.threshold,
            "symmetric": list(self.symmetric),
            "sources": self.sources,
            "forward_steps": [finite_or_none(x) for x in self.steps[0]],
            "backward_steps": [finite_or_none(x) for x in self.steps[1]],
            "layers": [{k: finite_or_none(v) for k, v in asdict(r).items()} for r in self.layers],
        }

    def to_json(self, **kwargs):
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self):
        """One line: which layers are not healthy."""
        bad = {}
        for r in self.layers:
            if r.verdict != "healthy":
                bad.setdefault(r.verdict, []).append(r.layer)
        if not bad:
            return f"all {len(self.layers)} layers healthy"
        parts = []
        for verdict, layers in bad.items():
            parts.append(f"{verdict}: layers {_ranges(layers)}")
        return "; ".join(parts)

    def __str__(self):
        header = [
            "layer",
            "units",
            "act",
            "Z mean",
            "Z std",
            "A mean",
            "A std",
            "fwd scale",
            "dead",
            "sat",
            "|dW|",
            "bwd scale",
            "verdict",
        ]
        rows = [
            [
                str(r.layer),
                str(r.units),
                r.activation,
                _fmt(r.z_mean),
                _fmt(r.z_std),
                _fmt(r.a_mean),
                _fmt(r.a_std),
                _fmt(r.forward_scale),
                _pct(r.dead),
                _pct(r.saturated),
                _fmt(r.grad_W_norm),
                _fmt(r.backward_scale),
                r.verdict,
            ]
            for r in self.layers
        ]
        T = self.threshold
        out = [
            f"diagnosis of {self.model_repr} on a batch with rms(X) = {self.input_rms:.3g}"
            + ("" if self.cost is None else f", cost {self.cost:.6g}")
        ]
        out += table(header, rows, left={2, 12})
        out.append(
            f"fwd scale = rms(Z[l])/rms(X); bwd scale = |dZ[l]|/|dZ[L]|; "
            f"exploding if a scale > {T:g}, vanishing if < {1 / T:g}"
        )
        out.append("dead, sat: units dead or saturated on every example of the batch")
        out.append("verdict: " + self.summary())
        if self.sources and not self.healthy:
            out.append(self._source_line())
        if self.symmetric:
            which = (
                f"layer {self.symmetric[0]} has"
                if len(self.symmetric) == 1
                else f"layers {_ranges(self.symmetric)} have"
            )
            out.append(
                f"symmetric: {which} the same weights in and out of every unit (zeros or a "
                "constant): the units compute the same function and get the same gradient, "
                "so training never breaks the symmetry; draw random weights"
            )
        return "\n".join(out)

    def __repr__(self):
        return f"<Diagnosis of {self.model_repr}: {self.summary()}>"

    def _source_line(self):
        """Where the scales jump: each source layer's own factors, next to
        the range of the other layers'."""
        forward, backward = self.steps
        parts = []
        for l in self.sources:
            f, b = forward[l - 1], backward[l - 1]
            said = [f"rms(Z{l})/rms(A{l - 1}) = {f:.2g}"] if f is not None else []
            if b is not None and not np.isnan(b):
                said.append(f"|W{l}ᵀdZ{l}|/|dZ{l}| = {b:.2g}")
            parts.append(f"layer {l} ({', '.join(said)})")
        others = [
            x
            for l, x in enumerate(forward, start=1)
            if l not in self.sources and x is not None and np.isfinite(x)
        ]
        rest = ""
        if others:
            rest = f"; the other layers' rms(Z)/rms(A) are {min(others):.2g}..{max(others):.2g}"
        names = ", ".join(f"W{l}" for l in self.sources)
        look = f": look at the initialization of {names}"
        return "the scales jump at " + "; ".join(parts) + rest + look


def _ranges(layers):
    """[1, 2, 3, 7] -> '1-3, 7'."""
    out, start, prev = [], layers[0], layers[0]
    for l in layers[1:] + [None]:
        if l is not None and l == prev + 1:
            prev = l
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if l is not None:
            start = prev = l
    return ", ".join(out)
