"""Hidden-layer activations and their derivatives, in plain NumPy.

Each entry maps a name to ``(g, g_prime)``, both taking the pre-activation
``Z`` (and the layer's output ``A = g(Z)`` where that is cheaper). The integer
codes are the ones the compiled kernels use.
"""
import numpy as np
from scipy.special import expit

LEAKY_SLOPE = 0.01

# Codes shared with csrc/_gradcheck.pyx.
CODES = {"linear": 0, "relu": 1, "leaky_relu": 2, "tanh": 3, "sigmoid": 4}
OUTPUT_CODES = {"sigmoid": 0, "softmax": 1, "linear": 2}


def _relu(z):
    return np.maximum(z, 0.0)


def _relu_prime(z, a):
    return (z > 0).astype(z.dtype)


def _leaky(z, slope=LEAKY_SLOPE):
    return np.where(z > 0, z, slope * z)


def _leaky_prime(z, a, slope=LEAKY_SLOPE):
    return np.where(z > 0, 1.0, slope)


def _tanh_prime(z, a):
    return 1.0 - a * a


def _sigmoid_prime(z, a):
    # σ'(z) = σ(z)·σ(−z); the second factor computed directly keeps precision
    # where σ(z) is close to 1.
    return a * expit(-z)


ACTIVATIONS = {
    "linear": (lambda z: z.copy(), lambda z, a: np.ones_like(z)),
    "relu": (_relu, _relu_prime),
    "leaky_relu": (_leaky, _leaky_prime),
    "tanh": (np.tanh, _tanh_prime),
    "sigmoid": (expit, _sigmoid_prime),
}
PIECEWISE_LINEAR = ("relu", "leaky_relu")


def check_name(name, allowed, what):
    """``name`` if it is one of ``allowed``; TypeError for a non-string,
    ValueError (listing the choices) for an unknown name."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a name, one of {', '.join(allowed)}; got {name!r} "
                        f"({type(name).__name__})")
    if name not in allowed:
        raise ValueError(f"unknown {what} {name!r}; choose one of {', '.join(allowed)}")
    return name


def delta(name, z, a, d):
    """``g(z + d) − g(z)`` without cancellation (NumPy twin of the kernel's).

    Returns ``(da, kinks)`` where ``kinks`` marks relu/leaky-relu entries whose
    pre-activation changed side (or left exactly 0).
    """
    kinks = np.zeros(z.shape, dtype=bool)
    if name == "linear":
        return d.copy(), kinks
    if name in PIECEWISE_LINEAR:
        slope = 0.0 if name == "relu" else LEAKY_SLOPE
        zp = z + d
        both_on = (z > 0) & (zp > 0)
        both_off = (z < 0) & (zp < 0)
        kinks = ~(both_on | both_off) & (d != 0)
        straddle = np.where(zp > 0, zp, slope * zp) - np.where(z > 0, z, slope * z)
        return np.where(both_on, d, np.where(both_off, slope * d, straddle)), kinks
    if name == "tanh":
        u = np.tanh(d)
        return u / np.cosh(z) ** 2 / (1.0 + a * u), kinks
    return -np.expm1(-d) * expit(z + d) * expit(-z), kinks
