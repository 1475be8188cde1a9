"""Parameter dicts <-> one flat vector θ, in the course's order.

The order is layer by layer, and within a layer ``W``, ``b`` (then ``gamma``,
``beta`` for batch-normalized layers), each block flattened in C order: the
same θ the course's ``dictionary_to_vector`` builds, so a course user's dicts
work unchanged.
"""
import re

import numpy as np

_KINDS = ("W", "b", "gamma", "beta")
_KEY = re.compile(r"^(W|b|gamma|beta)([1-9][0-9]*)$")


def _split_key(key, prefix=""):
    if not isinstance(key, str) or not key.startswith(prefix):
        return None
    match = _KEY.match(key[len(prefix):])
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
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(f"{name} is a masked array; its mask would be lost. Pass "
                        "value.filled(...) or the plain data")
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def _check_dict(obj, name):
    if not isinstance(obj, dict):
        raise TypeError(f"{name} must be a dict like {{'W1': ..., 'b1': ...}}, "
                        f"got {type(obj).__name__}")


def _check_prefix(prefix, name="prefix"):
    if not isinstance(prefix, str):
        raise TypeError(f"{name} must be a str such as 'd', got {type(prefix).__name__}")


def _template_shape(value, key):
    """A template entry: an array (its shape) or a shape tuple of ints >= 0."""
    if not isinstance(value, tuple):
        return tuple(np.shape(value))
    for d in value:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
            raise ValueError(f"like[{key!r}] must be an array or a shape tuple of ints >= 0, "
                             f"got {value!r}")
    return tuple(int(d) for d in value)


def params_to_vector(params, *, prefix=""):
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


def vector_to_params(theta, like, *, prefix=None):
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
        out[(prefix or "") + key] = theta[start:start + size].reshape(shape)
        start += size
    return out


def block_slices(params):
    """``[(name, slice, shape), ...]`` of each block inside θ, in θ's order."""
    keys = parameter_order(params.keys())
    out, start = [], 0
    for key in keys:
        shape = tuple(np.shape(params[key]))
        size = int(np.prod(shape, dtype=np.int64))
        out.append((key, slice(start, start + size), shape))
        start += size
    return out
