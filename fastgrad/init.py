"""Weight initializers (a first cut; the initializers issue extends this).

``initialize_parameters`` returns the course's dict: ``W[l]`` of shape
``(n_l, n_{l-1})`` drawn by the chosen rule, ``b[l]`` zeros of shape
``(n_l, 1)``. ``seed`` is an int, None or a ``numpy.random.Generator``; the
global NumPy RNG is never touched.
"""
import numpy as np

# std of W[l] as a function of (fan_in, fan_out).
_STD = {
    "zeros": lambda fan_in, fan_out: 0.0,
    "random": lambda fan_in, fan_out: 1.0,                        # N(0, 1) · scale
    "he": lambda fan_in, fan_out: np.sqrt(2.0 / fan_in),          # He et al. 2015, ReLU
    "xavier": lambda fan_in, fan_out: np.sqrt(1.0 / fan_in),      # LeCun / Xavier, tanh
    "lecun": lambda fan_in, fan_out: np.sqrt(1.0 / fan_in),
    "glorot": lambda fan_in, fan_out: np.sqrt(2.0 / (fan_in + fan_out)),  # Glorot & Bengio 2010
}


def as_generator(seed):
    """An int, None or a Generator -> a ``numpy.random.Generator``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be an int, None or a numpy.random.Generator, got {type(seed).__name__}")


def initialize_parameters(layer_dims, method="he", *, seed=None, scale=1.0):
    """Parameters ``{"W1", "b1", ...}`` for ``layer_dims = [n_x, n_1, ..., n_L]``.

    ``W[l] = N(0, 1) · std(method) · scale``; ``b[l] = 0``.
    """
    if method not in _STD:
        raise ValueError(f"unknown init method {method!r}; choose one of {', '.join(_STD)}")
    rng = as_generator(seed)
    params = {}
    for l in range(1, len(layer_dims)):
        fan_in, fan_out = int(layer_dims[l - 1]), int(layer_dims[l])
        std = _STD[method](fan_in, fan_out) * float(scale)
        if method == "zeros":
            params[f"W{l}"] = np.zeros((fan_out, fan_in))
        else:
            params[f"W{l}"] = rng.standard_normal((fan_out, fan_in)) * std
        params[f"b{l}"] = np.zeros((fan_out, 1))
    return params
