"""The hidden-layer activations: one registry entry per activation.

Every consumer reads this registry: the model (``g``, ``g'``), the gradient
check (the kernel's integer ``code``, the exact ``delta`` of its NumPy twin,
the ``kernel_slope`` it is fed, the piecewise-linear ``slopes`` of the exact
linear maps), the diagnostics (``dead`` and ``saturated`` units), the
initializers (``gain``) and the CLI (the names). The integer codes are not
written here: they come from ``csrc/nn/codes.pxi`` through
:mod:`fastgrad.nn._codes`, the file the kernels include.

Adding an activation: one :class:`Activation` below, one member in
``csrc/nn/codes.pxi``, one case in the kernel's ``_act_delta``
(``csrc/gradcheck/_mlp_kernel.pyx``); ``tests/nn/test_registry.py`` proves
every consumer agrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.special import expit

from fastgrad import _argcheck as ac
from fastgrad.nn._codes import Activation as _Code

LEAKY_SLOPE = 0.01
# |d| above which activation and loss deltas switch from the expm1/log1p
# forms (exact to rounding for |d| ≤ 1) to difference-of-tails forms that
# cannot overflow or cancel (csrc/gradcheck/_mlp_kernel.pyx: LARGE_DELTA).
LARGE_DELTA = 1.0

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """Everything fastgrad knows about one hidden activation.

    Attributes
    ----------
    name : str
    code : int
        The kernel's code (``fastgrad.nn._codes.Activation``).
    g : callable ``g(z) -> a``
    g_prime : callable ``g_prime(z, a) -> g'(z)``, as backprop uses it.
    delta : callable ``delta(z, a, d) -> (g(z + d) − g(z), kinks)``
        The exact difference the check's NumPy path uses (the kernel's twin),
        without cancellation, overflow-free for large ``|d|``; ``kinks``
        marks entries whose pre-activation changed side of a kink.
    kernel_slope : callable ``kernel_slope(z, a) -> g'(z)``, ``a = g(z)``
        The factor the kernel reads for smooth activations, each part
        computed directly so it keeps full precision in saturation
        (``a`` is a part already at hand: σ(z) of σ(z)σ(−z)).
    slopes : (float, float) or None
        ``(slope for z > 0, slope for z <= 0)`` of a piecewise-linear
        activation; None for a smooth one.
    gain : callable ``gain(param=None) -> float``
        The init gain (PyTorch's ``calculate_gain``).
    saturated : callable ``saturated(a, tol) -> bool array`` or None
        Entries near an asymptote (diagnostics).
    dead_when_zero : bool
        A unit whose output is 0 on every example is dead (relu).
    """

    name: str
    code: int
    g: Callable[[Array], Array]
    g_prime: Callable[[Array, Array], Array]
    delta: Callable[[Array, Array, Array], tuple]
    kernel_slope: Callable[[Array, Array], Array]
    slopes: Optional[tuple]
    gain: Callable[..., float]
    saturated: Optional[Callable[[Array, float], Array]] = None
    dead_when_zero: bool = False

    @property
    def piecewise_linear(self) -> bool:
        """Whether the activation is piecewise linear (has kinks or is linear)."""
        return self.slopes is not None

    @property
    def has_kink(self) -> bool:
        """Whether ``θ ± ε`` can cross a point where ``g'`` jumps."""
        return self.slopes is not None and self.slopes[0] != self.slopes[1]


# -- the functions ----------------------------------------------------------
def _no_kinks(z):
    return np.zeros(z.shape, dtype=bool)


def _not_read(z, a):
    return np.zeros_like(z)  # the kernel does not read it for piecewise-linear layers


def _piecewise_delta(slope):
    def delta(z, a, d):
        zp = z + d
        both_on = (z > 0) & (zp > 0)
        both_off = (z < 0) & (zp < 0)
        kinks = ~(both_on | both_off) & (d != 0)
        straddle = np.where(zp > 0, zp, slope * zp) - np.where(z > 0, z, slope * z)
        return np.where(both_on, d, np.where(both_off, slope * d, straddle)), kinks

    return delta


def _sigmoid_stable(x):
    with np.errstate(over="ignore"):
        return np.where(
            x >= 0,
            1.0 / (1.0 + np.exp(-np.abs(x))),
            np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))),
        )


def _sigmoid_delta_large(z, d):
    """σ(z + d) − σ(z) as a difference of two tails (both on the side of z
    where σ is small), so nothing overflows and, for |d| > 1, nothing cancels."""
    zp = z + d
    return np.where(
        z >= 0, _sigmoid_stable(-z) - _sigmoid_stable(-zp), _sigmoid_stable(zp) - _sigmoid_stable(z)
    )


def _smooth_delta(small, large):
    """The exact delta of a smooth activation: ``small`` (expm1 forms) where
    ``|d| <= LARGE_DELTA``, ``large`` (tails) beyond."""

    def delta(z, a, d):
        with np.errstate(over="ignore", invalid="ignore"):
            da = small(z, a, d)
        big = np.abs(d) > LARGE_DELTA
        if big.any():
            da[big] = large(z[big], d[big])
        return da, _no_kinks(z)

    return delta


def _tanh_small(z, a, d):
    u = np.tanh(d)
    return u / np.cosh(z) ** 2 / (1.0 + a * u)


def _tanh_large(z, d):  # tanh(x) = 2σ(2x) − 1
    return 2.0 * _sigmoid_delta_large(2.0 * z, 2.0 * d)


def _sigmoid_small(z, a, d):
    return -np.expm1(-d) * expit(z + d) * expit(-z)


def _sech2(z, a):
    """1/cosh(z)², in place in one temporary (the bits of ``1.0 / np.cosh(z) ** 2``)."""
    with np.errstate(over="ignore"):
        c = np.cosh(z)
        np.multiply(c, c, out=c)
        return np.divide(1.0, c, out=c)


def _leaky_gain(param=None):
    slope = LEAKY_SLOPE if param is None else ac.real(param, "param (the leaky_relu slope)")
    return math.sqrt(2.0 / (1.0 + float(slope) ** 2))


def _constant(value):
    def gain(param=None):
        return value

    return gain


# -- the registry -----------------------------------------------------------
ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "linear",
            int(_Code.ACT_LINEAR),
            g=lambda z: z.copy(),
            g_prime=lambda z, a: np.ones_like(z),
            delta=lambda z, a, d: (d.copy(), _no_kinks(z)),
            kernel_slope=_not_read,
            slopes=(1.0, 1.0),
            gain=_constant(1.0),
        ),
        Activation(
            "relu",
            int(_Code.ACT_RELU),
            g=lambda z: np.maximum(z, 0.0),
            g_prime=lambda z, a: (z > 0).astype(z.dtype),
            delta=_piecewise_delta(0.0),
            kernel_slope=_not_read,
            slopes=(1.0, 0.0),
            gain=_constant(math.sqrt(2.0)),
            dead_when_zero=True,
        ),
        Activation(
            "leaky_relu",
            int(_Code.ACT_LEAKY),
            g=lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
            g_prime=lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE),
            delta=_piecewise_delta(LEAKY_SLOPE),
            kernel_slope=_not_read,
            slopes=(1.0, LEAKY_SLOPE),
            gain=_leaky_gain,
        ),
        Activation(
            "tanh",
            int(_Code.ACT_TANH),
            g=np.tanh,
            g_prime=lambda z, a: 1.0 - a * a,
            delta=_smooth_delta(_tanh_small, _tanh_large),
            kernel_slope=_sech2,
            slopes=None,
            gain=_constant(5.0 / 3.0),
            saturated=lambda a, tol: np.abs(a) > 1.0 - tol,
        ),
        Activation(
            # σ'(z) = σ(z)·σ(−z); the second factor computed directly keeps
            # precision where σ(z) is close to 1.
            "sigmoid",
            int(_Code.ACT_SIGMOID),
            g=expit,
            g_prime=lambda z, a: a * expit(-z),
            delta=_smooth_delta(_sigmoid_small, _sigmoid_delta_large),
            kernel_slope=lambda z, a: a * expit(-z),
            slopes=None,
            gain=_constant(1.0),
            saturated=lambda a, tol: (a < tol) | (a > 1.0 - tol),
        ),
    )
}


def get(name) -> Activation:
    """The registry entry for ``name`` (an :class:`Activation` is returned as is).

    TypeError for a non-string, ValueError (listing the choices) for an
    unknown name.
    """
    if isinstance(name, Activation):
        return name
    return ACTIVATIONS[check_name(name, tuple(ACTIVATIONS), "hidden activation")]


def check_name(name, allowed, what):
    """``name`` if it is one of ``allowed`` (see :func:`fastgrad._argcheck.registry_name`)."""
    return ac.registry_name(name, allowed, what)


__all__ = ["Activation", "ACTIVATIONS", "LEAKY_SLOPE", "LARGE_DELTA", "get", "check_name"]
