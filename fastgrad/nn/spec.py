"""The parameter spec: the one place that knows parameter names, shapes and
their slices of the flat vector θ.

:class:`ParamSpec` describes a parameter set as ordered named blocks. The
course's order is layer by layer, and within a layer ``W``, ``b`` (then
``gamma``, ``beta`` for batch-normalized layers), each block flattened in C
order: the same θ the course's ``dictionary_to_vector`` builds, so a course
user's dicts work unchanged. A user's own model may use any string keys
(``ParamSpec.of(params)`` then keeps the dict's order).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from fastgrad import _argcheck as ac

_KINDS = ("W", "b", "gamma", "beta")
_KEY = re.compile(r"^(W|b|gamma|beta)([1-9][0-9]*)$")


def is_course_name(key, prefix=""):
    """Whether ``key`` is a course parameter name (``W3``, ``b1``, ``gamma2``,
    ``beta2``; with ``prefix="d"`` a gradient name such as ``dW3``)."""
    return _split_key(key, prefix) is not None


def _split_key(key, prefix=""):
    if not isinstance(key, str) or not key.startswith(prefix):
        return None
    match = _KEY.match(key[len(prefix) :])
    if match is None:
        return None
    return int(match.group(2)), _KINDS.index(match.group(1))


def parameter_order(keys, *, prefix=""):
    """Sort parameter names into θ's order (W1, b1, W2, b2, ...).

    Parameters
    ----------
    keys : iterable of str
        Names such as ``"W1"``, ``"b1"`` (or ``"dW1"`` with ``prefix="d"``).
    prefix : str
        ``"d"`` for gradient dicts.

    Raises
    ------
    ValueError
        If a key is not a parameter name.
    """
    parsed = []
    for key in keys:
        where = _split_key(key, prefix)
        if where is None:
            expected = ", ".join(prefix + k + "<l>" for k in _KINDS)
            raise ValueError(f"unexpected key {key!r}: parameter names look like {expected}")
        parsed.append((where, key))
    return [key for _, key in sorted(parsed)]


def _as_float_array(value, name):
    arr = np.asarray(ac.not_masked(value, name))
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def _check_dict(obj, name):
    ac.mapping(obj, name)


def _check_prefix(prefix, name="prefix"):
    if not isinstance(prefix, str):
        raise TypeError(f"{name} must be a str such as 'd', got {type(prefix).__name__}")


def _template_shape(value, key):
    """A template entry: an array (its shape) or a shape tuple of ints >= 0."""
    if not isinstance(value, tuple):
        return tuple(np.shape(value))
    for d in value:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
            raise ValueError(
                f"like[{key!r}] must be an array or a shape tuple of ints >= 0, got {value!r}"
            )
    return tuple(int(d) for d in value)


def params_to_vector(params: Mapping[str, Any], *, prefix: str = "") -> np.ndarray:
    """Concatenate every parameter block into one float64 vector θ.

    Parameters
    ----------
    params : dict of str -> ndarray
        ``{"W1": (n1, n0), "b1": (n1, 1), ...}``; with ``prefix="d"`` a
        gradient dict ``{"dW1", "db1", ...}``.

    Returns
    -------
    theta : ndarray of shape (P,), float64
        A new array (the inputs are not modified or aliased).
    """
    _check_dict(params, "params")
    _check_prefix(prefix)
    keys = parameter_order(params.keys(), prefix=prefix)
    if not keys:
        return np.zeros(0)
    return np.concatenate(
        [_as_float_array(params[k], k).astype(np.float64, copy=False).ravel() for k in keys]
    )


def vector_to_params(
    theta: Any, like: Mapping[str, Any], *, prefix: str | None = None
) -> dict[str, np.ndarray]:
    """Split θ back into named blocks shaped like ``like``.

    Parameters
    ----------
    theta : array_like of shape (P,) or (P, 1)
    like : dict of str -> ndarray or shape tuple
        The template: its keys give the names and order, its values the shapes.
    prefix : str, optional
        Prepended to each key of the result (``"d"`` to build a gradient dict).

    Returns
    -------
    dict of str -> ndarray
        Views into ``theta`` when it is a C-contiguous float64 array, so
        writing into a block writes into θ.
    """
    _check_dict(like, "like")
    if prefix is not None:
        _check_prefix(prefix)
    theta = _as_float_array(theta, "theta").astype(np.float64, copy=False)
    if theta.ndim == 2 and theta.shape[1] == 1:
        theta = theta[:, 0]
    if theta.ndim != 1:
        raise ValueError(f"theta must have shape (P,) or (P, 1), got {theta.shape}")
    keys = parameter_order(like.keys())
    shapes = [_template_shape(like[k], k) for k in keys]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    if sum(sizes) != theta.size:
        raise ValueError(
            f"theta has {theta.size} entries but the template's blocks hold {sum(sizes)}"
        )
    out, start = {}, 0
    for key, shape, size in zip(keys, shapes, sizes):
        out[(prefix or "") + key] = theta[start : start + size].reshape(shape)
        start += size
    return out


def block_slices(params):
    """``[(name, slice, shape), ...]`` of each block inside θ, in θ's order."""
    return ParamSpec.of(params).blocks


def sample_coordinates(blocks, k, rng):
    """``k`` coordinates of θ from every block of ``blocks`` (all of a block
    smaller than ``k``), sorted within each block, drawn from ``rng``."""
    picked = []
    for _, sl, _ in blocks:
        size = sl.stop - sl.start
        take = min(k, size)
        picked.append(sl.start + np.sort(rng.choice(size, size=take, replace=False)))
    return np.concatenate(picked) if picked else np.zeros(0, dtype=np.intp)


class ParamSpec:
    """Ordered named parameter blocks and their slices of θ.

    Parameters
    ----------
    shapes : mapping of str -> tuple of int
        Block names to shapes, in θ's order.

    Attributes
    ----------
    names : list of str
    shapes : dict of str -> tuple
    blocks : list of (name, slice, shape)
        Each block's place in θ.
    size : int
        P, the length of θ.
    """

    def __init__(self, shapes: Mapping[str, tuple]):
        self.shapes = {str(k): tuple(int(d) for d in v) for k, v in shapes.items()}
        self.names = list(self.shapes)
        self.blocks, start = [], 0
        for name, shape in self.shapes.items():
            size = int(np.prod(shape, dtype=np.int64))
            self.blocks.append((name, slice(start, start + size), shape))
            start += size
        self.size = start

    @classmethod
    def for_mlp(cls, layer_dims, batchnorm=()) -> ParamSpec:
        """The spec of a dense network: ``W{l}`` ``(n_l, n_{l-1})`` and
        ``b{l}`` ``(n_l, 1)``, or ``gamma{l}``, ``beta{l}`` for a
        batch-normalized layer l, in the course's order."""
        shapes = {}
        for l in range(1, len(layer_dims)):
            n = layer_dims[l]
            shapes[f"W{l}"] = (n, layer_dims[l - 1])
            if l in batchnorm:
                shapes[f"gamma{l}"] = (n, 1)
                shapes[f"beta{l}"] = (n, 1)
            else:
                shapes[f"b{l}"] = (n, 1)
        return cls(shapes)

    @classmethod
    def of(cls, params: Mapping) -> ParamSpec:
        """The spec of a parameter dict: the course's order when every key is a
        course name, else the dict's own order (any string keys)."""
        keys = list(params)
        if all(is_course_name(k) for k in keys):
            keys = parameter_order(keys)
        elif not all(isinstance(k, str) for k in keys):
            bad = next(k for k in keys if not isinstance(k, str))
            raise TypeError(f"parameter names must be strings, got {bad!r} ({type(bad).__name__})")
        return cls({k: tuple(np.shape(params[k])) for k in keys})

    def gradient_names(self, prefix="d"):
        """The gradient name of every block: ``prefix + name``."""
        return [prefix + name for name in self.names]

    def layer_starts(self):
        """Where each weight layer's coordinates start in θ (course names)."""
        return [sl.start for name, sl, _ in self.blocks if name.startswith("W")]

    def __repr__(self):
        return f"ParamSpec({self.shapes})"


__all__ = [
    "ParamSpec",
    "params_to_vector",
    "vector_to_params",
    "parameter_order",
    "block_slices",
    "is_course_name",
    "sample_coordinates",
]
