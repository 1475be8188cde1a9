"""Weight initializers for dense layers, in the course's layout.

A weight matrix ``W[l]`` has shape ``(fan_out, fan_in) = (n_l, n_{l-1})``.
Every random initializer here is a special case of one rule,
:func:`variance_scaling`::

    Var(W) = scale / n,   n = fan_in | fan_out | (fan_in + fan_out) / 2

========================  ======================================  ==================
initializer               std of ``W``                            variance_scaling
========================  ======================================  ==================
``zeros``                 0                                       --
``random``                ``gain``  (``N(0, 1) · gain``)           --
``he``                    ``gain · sqrt(2 / fan_in)``             scale=2, fan_in
``xavier`` / ``lecun``    ``gain · sqrt(1 / fan_in)``             scale=1, fan_in
``glorot``                ``gain · sqrt(2 / (fan_in + fan_out))`` scale=1, fan_avg
``orthogonal``            ``gain · sqrt(1 / max(fan_in, fan_out))``  --
========================  ======================================  ==================

The course calls the std multiplier a hyper-parameter; here it is ``gain``
for the array initializers and ``scale`` in :func:`initialize_parameters`
(the same number: ``W = N(0, 1) · std(method) · scale``). In
:func:`variance_scaling` ``scale`` multiplies the *variance* (Keras'
convention), so ``he(shape) == variance_scaling(shape, 2.0)`` in
distribution.

Randomness: every function takes ``seed`` (an int, None, a
``numpy.random.Generator`` or a legacy ``numpy.random.RandomState``); the
global NumPy RNG is never touched. The course's ``np.random.seed(3)`` then
``np.random.randn(...) * np.sqrt(2 / n)`` is
``initialize_parameters(dims, "he", seed=np.random.RandomState(3))``, to the
bit (the layers draw in the same order, W1, W2, ...).

Coming from PyTorch or Keras: ``xavier`` is the course's (LeCun's
``1 / fan_in``); ``torch.nn.init.xavier_normal_`` and Keras' ``GlorotNormal``
are :func:`glorot`. The layout is PyTorch's ``nn.Linear.weight``, ``(out,
in)``; a Keras kernel ``(in, out)`` is ``he((n_out, n_in)).T``.
:func:`calculate_gain` is the ``gain`` of :func:`lecun`, :func:`xavier`,
:func:`glorot` and :func:`orthogonal`; :func:`he` already has ReLU's
``sqrt(2)``, so ``he(shape)`` is ``kaiming_normal_`` and ``he(shape,
gain=calculate_gain("relu"))`` doubles the variance.

This module is public as :mod:`fastgrad.init`. It lives in the network's
package because the network needs it (:meth:`MLP.init_params` draws from
:func:`initialize_parameters`) and it reads the network's activation
registry (:func:`calculate_gain`). The data-driven LSUV init is
:mod:`fastgrad.nn.lsuv`.
"""

import math

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._rng import as_draws, as_generator  # noqa: F401  (public here since 0.1)
from fastgrad.nn.activations import ACTIVATIONS

__all__ = [
    "variance_scaling",
    "zeros",
    "random",
    "he",
    "xavier",
    "lecun",
    "glorot",
    "orthogonal",
    "calculate_gain",
    "initialize_parameters",
    "as_generator",
    "ARRAY_INITIALIZERS",
    "METHODS",
    "TRUNCATED_NORMAL_STD",
]

# Std of N(0, 1) truncated to [-2, 2]: sqrt(1 - 4·φ(2) / (2Φ(2) - 1)).
# Dividing the target std by it makes the truncated draw's variance right
# (the same constant as TensorFlow's VarianceScaling).
TRUNCATED_NORMAL_STD = 0.87962566103423978
TRUNCATION = 2.0


# std of W[l] as a function of (fan_in, fan_out), before the gain/scale.
_STD = {
    "zeros": lambda fan_in, fan_out: 0.0,
    "random": lambda fan_in, fan_out: 1.0,  # N(0, 1) · scale
    "he": lambda fan_in, fan_out: np.sqrt(2.0 / fan_in),  # He et al. 2015, ReLU
    "xavier": lambda fan_in, fan_out: np.sqrt(1.0 / fan_in),  # LeCun / Xavier, tanh
    "lecun": lambda fan_in, fan_out: np.sqrt(1.0 / fan_in),
    "glorot": lambda fan_in, fan_out: np.sqrt(2.0 / (fan_in + fan_out)),  # Glorot & Bengio 2010
}
METHODS = tuple(_STD) + ("orthogonal",)

_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")


# -- validation -------------------------------------------------------------
def _check_shape(shape):
    """``(fan_out, fan_in)`` as two positive ints."""
    if isinstance(shape, (str, bytes)):
        raise TypeError(f"shape must be a tuple (fan_out, fan_in), got {ac.got(shape)}")
    dims_of = getattr(shape, "shape", None)
    if dims_of is not None and len(tuple(dims_of)) >= 2:
        # torch's kaiming_normal_(W) habit: W itself, to be filled in place
        raise TypeError(
            f"shape must be a tuple (fan_out, fan_in), got an array of shape "
            f"{tuple(int(d) for d in dims_of)}; pass W.shape (fastgrad's initializers "
            "return a new array and never fill one in place)"
        )
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple (fan_out, fan_in), got {ac.got(shape)}") from None
    if len(dims) != 2:
        raise ValueError(f"shape must be two ints (fan_out, fan_in), got {shape!r}")
    for d in dims:
        if not ac.is_int(d):
            raise ValueError(
                f"shape must be two ints (fan_out, fan_in), got {shape!r} (holding {ac.got(d)})"
            )
    if dims[0] < 1 or dims[1] < 1:
        raise ValueError(f"shape must be positive (fan_out, fan_in), got {shape!r}")
    ac.check_allocation(8 * int(dims[0]) * int(dims[1]), "shape", f"a {shape!r} weight matrix")
    return int(dims[0]), int(dims[1])


# -- the general rule -------------------------------------------------------
def variance_scaling(shape, scale=1.0, mode="fan_in", distribution="normal", *, seed=None):
    """Weights whose variance is ``scale / n``.

    ``n`` is ``fan_in``, ``fan_out`` or ``(fan_in + fan_out) / 2`` by
    ``mode``; then, with ``std = sqrt(scale / n)``:

    - ``"normal"``: ``W ~ N(0, std²)``;
    - ``"truncated_normal"``: ``W ~ N(0, σ²)`` truncated to ``[-2σ, 2σ]``
      with ``σ = std / 0.87962566103423978`` (the std of a standard normal
      truncated at ±2), so ``Var(W) = std²`` exactly;
    - ``"uniform"``: ``W ~ U(-a, a)`` with ``a = sqrt(3 · scale / n)``.

    Parameters
    ----------
    shape : tuple of int
        ``(fan_out, fan_in)``, the shape of ``W[l]``.
    scale : float, default 1.0
        Variance multiplier (> 0): 2 gives He, 1 with ``fan_in`` gives
        LeCun/Xavier, 1 with ``fan_avg`` gives Glorot.
    mode : {"fan_in", "fan_out", "fan_avg"}
    distribution : {"normal", "truncated_normal", "uniform"}
    seed : int, None, numpy.random.Generator or numpy.random.RandomState

    Returns
    -------
    ndarray of float64, shape ``(fan_out, fan_in)``
    """
    fan_out, fan_in = _check_shape(shape)
    scale = ac.real(scale, "scale", low=0, low_open=True)
    ac.choice(mode, _MODES, "mode")
    ac.choice(distribution, _DISTRIBUTIONS, "distribution")
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    rng = as_draws(seed)
    std = math.sqrt(scale / n)
    if distribution == "normal":
        return rng.standard_normal((fan_out, fan_in)) * std
    if distribution == "uniform":
        limit = math.sqrt(3.0) * std  # Var(U(-a, a)) = a²/3
        return rng.uniform(-limit, limit, size=(fan_out, fan_in))
    return _truncated_standard_normal(rng, (fan_out, fan_in)) * (std / TRUNCATED_NORMAL_STD)


def _truncated_standard_normal(rng, shape):
    """N(0, 1) conditioned on ``|x| <= 2``, by redrawing the rejects."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > TRUNCATION
    while bad.any():  # ~4.6% rejected per round
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > TRUNCATION
    return out


# -- named initializers -----------------------------------------------------
def zeros(shape, *, gain=1.0, seed=None):
    """All-zero weights, ``W = 0`` of shape ``(fan_out, fan_in)``.

    Every unit of a layer then computes the same function and receives the
    same gradient, so they stay identical forever: symmetry is never broken.
    ``gain`` and ``seed`` are checked and have no effect (0 times any gain is
    0): every initializer of ``ARRAY_INITIALIZERS`` takes the same arguments.
    """
    fan_out, fan_in = _check_shape(shape)
    ac.real(gain, "gain", low=0, low_open=True)
    as_draws(seed)
    return np.zeros((fan_out, fan_in))


def random(shape, *, gain=1.0, seed=None):
    """``W = N(0, 1) · gain`` — the course's ``np.random.randn(...) * 10``
    with ``gain=10``. Not scaled by the layer width, so activations grow or
    shrink geometrically with depth."""
    fan_out, fan_in = _check_shape(shape)
    gain = ac.real(gain, "gain", low=0, low_open=True)
    return as_draws(seed).standard_normal((fan_out, fan_in)) * gain


def he(shape, *, gain=1.0, seed=None):
    """He / Kaiming normal: ``W = N(0, 1) · gain · sqrt(2 / fan_in)``.

    Keeps ``Var(Z)`` constant through ReLU layers (half the units are off,
    hence the 2). Equals ``variance_scaling(shape, 2·gain², "fan_in")``.
    """
    fan_out, fan_in = _check_shape(shape)
    gain = ac.real(gain, "gain", low=0, low_open=True)
    return as_draws(seed).standard_normal((fan_out, fan_in)) * (np.sqrt(2.0 / fan_in) * gain)


def xavier(shape, *, gain=1.0, seed=None):
    """Xavier as the course defines it (LeCun normal):
    ``W = N(0, 1) · gain · sqrt(1 / fan_in)``, for tanh layers.
    Equals ``variance_scaling(shape, gain², "fan_in")``."""
    fan_out, fan_in = _check_shape(shape)
    gain = ac.real(gain, "gain", low=0, low_open=True)
    return as_draws(seed).standard_normal((fan_out, fan_in)) * (np.sqrt(1.0 / fan_in) * gain)


def lecun(shape, *, gain=1.0, seed=None):
    """LeCun normal: ``W = N(0, 1) · gain · sqrt(1 / fan_in)`` (same rule as
    :func:`xavier`). Equals ``variance_scaling(shape, gain², "fan_in")``."""
    return xavier(shape, gain=gain, seed=seed)


def glorot(shape, *, gain=1.0, seed=None):
    """Glorot & Bengio (2010) normal:
    ``W = N(0, 1) · gain · sqrt(2 / (fan_in + fan_out))``.
    Equals ``variance_scaling(shape, gain², "fan_avg")``."""
    fan_out, fan_in = _check_shape(shape)
    gain = ac.real(gain, "gain", low=0, low_open=True)
    return as_draws(seed).standard_normal((fan_out, fan_in)) * (
        np.sqrt(2.0 / (fan_in + fan_out)) * gain
    )


def orthogonal(shape, *, gain=1.0, seed=None):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014).

    ``W = gain · Q`` where ``Q`` comes from the QR decomposition of a
    standard normal matrix, with the signs of ``diag(R)`` folded in so that
    ``Q`` is uniformly (Haar) distributed. If ``fan_out <= fan_in`` the rows
    are orthonormal (``W Wᵀ = gain² I``), otherwise the columns are
    (``Wᵀ W = gain² I``); either way every entry has variance
    ``gain² / max(fan_in, fan_out)`` and all singular values equal ``gain``.
    """
    fan_out, fan_in = _check_shape(shape)
    gain = ac.real(gain, "gain", low=0, low_open=True)
    rng = as_draws(seed)
    big, small = max(fan_out, fan_in), min(fan_out, fan_in)
    A = rng.standard_normal((big, small))
    Q, R = np.linalg.qr(A)  # Q: (big, small), orthonormal columns
    d = np.sign(np.diag(R))
    d[d == 0] = 1.0
    Q = Q * d  # makes the decomposition unique -> Haar-distributed Q
    W = Q if fan_out >= fan_in else Q.T
    return np.ascontiguousarray(W) * gain


ARRAY_INITIALIZERS = {
    "zeros": zeros,
    "random": random,
    "he": he,
    "xavier": xavier,
    "lecun": lecun,
    "glorot": glorot,
    "orthogonal": orthogonal,
}


def calculate_gain(activation, param=None):
    """The recommended std multiplier for an activation (PyTorch's values).

    It is the ``gain`` of :func:`lecun`/:func:`xavier`, :func:`glorot` and
    :func:`orthogonal` (``xavier(shape, gain=calculate_gain("tanh"))``);
    :func:`he` already holds ReLU's ``sqrt(2)``.

    ============  =================================
    activation    gain
    ============  =================================
    linear        1 (also PyTorch's conv1d .. conv_transpose3d names)
    sigmoid       1
    tanh          5/3
    relu          sqrt(2)
    leaky_relu    sqrt(2 / (1 + slope²)), slope = ``param`` (default 0.01)
    selu          3/4
    ============  =================================

    Parameters
    ----------
    activation : str
    param : float, optional
        The negative slope of ``leaky_relu``; not accepted for the others.

    Returns
    -------
    float
    """
    gains = {name: act.gain for name, act in ACTIVATIONS.items()}
    gains.update(_OTHER_GAINS)
    ac.choice(activation, tuple(gains), "activation")
    if param is not None and activation != "leaky_relu":
        raise ValueError(
            f"param is only used by leaky_relu, got param={param!r} for {activation!r}"
        )
    return gains[activation](param)


# Gains of activations an MLP does not offer (the MLP's own are in the
# registry), and PyTorch's names for the linear maps of its layers.
_OTHER_GAINS = {"selu": lambda param=None: 3.0 / 4.0}
_OTHER_GAINS.update(
    {f"conv{t}{d}d": (lambda param=None: 1.0) for t in ("", "_transpose") for d in (1, 2, 3)}
)


# -- whole networks ---------------------------------------------------------
def _check_layer_dims(layer_dims):
    return ac.sizes(layer_dims, "layer_dims")


def initialize_parameters(layer_dims, method="he", *, seed=None, scale=1.0):
    """Parameters ``{"W1", "b1", ..., "WL", "bL"}`` for a dense network.

    ``W[l]`` has shape ``(n_l, n_{l-1})`` and is ``N(0, 1) · std · scale``
    with ``std`` from ``method`` (see the module table: zeros 0, random 1,
    he ``sqrt(2/n_{l-1})``, xavier/lecun ``sqrt(1/n_{l-1})``, glorot
    ``sqrt(2/(n_{l-1}+n_l))``), or ``scale`` times a (semi-)orthogonal
    matrix for ``"orthogonal"``. ``b[l]`` is zeros of shape ``(n_l, 1)``.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``.
    method : str, default "he"
        One of zeros, random, he, xavier, lecun, glorot, orthogonal. For the
        data-dependent LSUV init call :func:`fastgrad.init.lsuv`.
    seed : int, None, numpy.random.Generator or numpy.random.RandomState
        Layers draw from one stream in order W1, W2, ...
    scale : float, default 1.0
        The std multiplier (> 0) the course tunes as a hyper-parameter;
        ``method="random", scale=10`` is the course's ``randn * 10``.

    Returns
    -------
    dict of str -> ndarray of float64
    """
    if not isinstance(method, str):
        raise TypeError(
            f"method must be an init name, one of {', '.join(METHODS)}; got {ac.got(method)}"
        )
    if method not in METHODS:
        hint = " (LSUV needs data: use fastgrad.init.lsuv(model, X))" if method == "lsuv" else ""
        raise ValueError(
            f"unknown init method {method!r}{hint}; choose one of {', '.join(METHODS)}"
        )
    dims = _check_layer_dims(layer_dims)
    scale = ac.real(scale, "scale", low=0, low_open=True)
    ac.check_allocation(
        8 * sum(dims[l] * (dims[l - 1] + 1) for l in range(1, len(dims))),
        "layer_dims",
        f"the parameters of a {dims} network",
    )
    rng = as_draws(seed)
    params = {}
    for l in range(1, len(dims)):
        fan_in, fan_out = dims[l - 1], dims[l]
        if method == "zeros":
            params[f"W{l}"] = np.zeros((fan_out, fan_in))
        elif method == "orthogonal":
            params[f"W{l}"] = orthogonal((fan_out, fan_in), gain=scale, seed=rng)
        else:
            std = _STD[method](fan_in, fan_out) * scale
            params[f"W{l}"] = rng.standard_normal((fan_out, fan_in)) * std
        params[f"b{l}"] = np.zeros((fan_out, 1))
    return params
