"""Parameters as named blocks for the callable checks.

``theta`` (or a VJP's ``inputs``) is one array, a dict (any mapping) of arrays (any keys)
or a list/tuple of arrays. It becomes one float64 working vector ``flat``
with named blocks ``(name, slice, shape)``, and ``f`` receives the same
structure made of *read-only* views of ``flat`` (so a perturbed coordinate
is seen by ``f`` without copying, and ``f`` cannot write into the check).

A list or tuple counts as a structure when its items are array objects
(an ``ndarray``, anything NumPy reads through ``__array__`` or
``__array_interface__``: a jax or torch array, a pandas Series) or Python
numbers, and at least one item is an array of one dimension or more (or
every item is an ``ndarray``, 0-d ones included):
``[W1, W2]``, ``(w, 0.3)`` and ``(w, np.float64(0.3))`` are two blocks. A
list of numbers (``[1.0, 2.0]``, ``[np.float64(1.0), 2.0]``,
``[np.array(1.0), 2.0]``) or of lists (``[[1.0, 2.0]]``) is one array, as
NumPy reads it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fastgrad.gradcheck.inputs import numpy_dtype, real_array


def _read_only(arr):
    view = arr.view()
    view.flags.writeable = False
    return view


class FreshCall:
    """``f`` called with a new dict or list each time, over the same
    read-only views: an ``f`` that rebinds an entry (``p[k] =
    torch.tensor(p[k])``, ``p.pop(k)``) changes its own container, not the
    point every later call sees. (A class, not a closure, so it pickles.)"""

    def __init__(self, f, kind):
        self.f, self.kind = f, kind

    def __call__(self, view):
        if self.kind == "dict":
            return self.f(dict(view))
        if self.kind == "list":
            return self.f(list(view))
        return self.f(view)


def _is_array_object(v):
    """An array NumPy reads without guessing (not a nested list): ``v`` an
    instance, or a type."""
    kind = v if isinstance(v, type) else type(v)
    return (
        issubclass(kind, (np.ndarray, np.generic))
        or hasattr(kind, "__array__")
        or hasattr(kind, "__array_interface__")
    )


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_structure(value):
    """A mapping, or a list/tuple of blocks (see the module docstring): every
    item an array object or a Python number, one at least an array object
    that is not a NumPy scalar."""
    if isinstance(value, Mapping):
        return True
    if not isinstance(value, (list, tuple)) or not value:
        return False
    if all(isinstance(v, np.ndarray) for v in value):  # the usual case, first
        return True
    # by type first: a long list of plain numbers costs one pass in C
    kinds = set(map(type, value))
    if kinds <= {float, int}:
        return False
    if not all(_is_array_object(k) or k in (int, float) for k in kinds):
        return False
    return any(_is_array_object(v) and np.ndim(v) >= 1 for v in value)


class Structure:
    """The layout of ``theta``: its kind, keys, names and block slices.

    Attributes
    ----------
    kind : {"array", "dict", "list", "tuple"}
    keys : list      dict keys, or positions
    names : list     block names in the report
    blocks : list    ``(name, slice, shape)`` over ``flat``
    what : str       how messages name the whole (``"theta"``, ``"inputs"``)
    """

    def __init__(self, kind, keys, names, shapes, what="theta"):
        self.kind, self.keys, self.names = kind, list(keys), list(names)
        self.what = what
        self.blocks, start = [], 0
        for name, shape in zip(self.names, shapes):
            size = int(np.prod(shape, dtype=np.int64))
            self.blocks.append((name, slice(start, start + size), tuple(shape)))
            start += size
        self.size = start

    def views(self, flat):
        """``flat`` in the caller's structure, as read-only views."""
        parts = [_read_only(flat[sl].reshape(shape)) for _, sl, shape in self.blocks]
        if self.kind == "array":
            return parts[0]
        if self.kind == "dict":
            return dict(zip(self.keys, parts))
        return tuple(parts) if self.kind == "tuple" else list(parts)

    def copies(self, flat):
        """``flat`` in the caller's structure, as writable copies."""
        parts = [flat[sl].reshape(shape).copy() for _, sl, shape in self.blocks]
        if self.kind == "array":
            return parts[0]
        if self.kind == "dict":
            return dict(zip(self.keys, parts))
        return tuple(parts) if self.kind == "tuple" else list(parts)

    def flatten_like(self, value, name, warn=True):
        """A gradient of the same structure as one float64 (P,) vector."""
        if self.kind == "array":
            if is_structure(value):
                raise TypeError(
                    f"{name} must be an array like {self.what}, got a {type(value).__name__}"
                )
            arrays = [real_array(value, name, warn=warn, stacklevel=6)]
        elif self.kind == "dict":
            if not isinstance(value, Mapping):
                raise TypeError(
                    f"{name} must be a dict with the keys of {self.what} {self.keys}, "
                    f"got {type(value).__name__}"
                )
            missing = [k for k in self.keys if k not in value]
            extra = [k for k in value if k not in self.keys]
            if missing or extra:
                hint = ""
                if all(f"d{k}" in extra for k in missing):  # (the course's also holds dZ1, ...)
                    hint = (
                        f"; the course's dW1, db1, ... names: key them like {self.what} "
                        "(W1, b1, ...)"
                    )
                raise KeyError(
                    f"{name} keys do not match {self.what}: missing {missing}, unexpected {extra} "
                    f"(expected exactly {self.keys}){hint}"
                )
            arrays = [
                real_array(value[k], f"{name}[{k!r}]", warn=warn, stacklevel=6) for k in self.keys
            ]
        else:
            if not isinstance(value, (list, tuple)) or len(value) != len(self.keys):
                raise TypeError(
                    f"{name} must be a list/tuple of {len(self.keys)} arrays like {self.what}, "
                    f"got {type(value).__name__}"
                    + (f" of length {len(value)}" if isinstance(value, (list, tuple)) else "")
                )
            arrays = [
                real_array(v, f"{name}[{i}]", warn=warn, stacklevel=6) for i, v in enumerate(value)
            ]
        for arr, (bname, _, shape) in zip(arrays, self.blocks):
            if arr.shape != shape:
                hint = (
                    " (it looks transposed)"
                    if arr.ndim == 2 and arr.shape == shape[::-1] and arr.shape != shape
                    else ""
                )
                label = name if self.kind == "array" else f"{name} block {bname!r}"
                raise ValueError(
                    f"{label} has shape {arr.shape}, expected {shape} like {self.what}{hint}"
                )
        return np.concatenate([a.ravel() for a in arrays])


def _dtypes(value, name):
    """``[(label, dtype or None)]`` of the blocks of ``value``: a Python
    float is a float64 block, a nested list is None (NumPy reads it as
    float64 or int)."""
    if isinstance(value, Mapping):
        items = [(f"{name}[{k!r}]", v) for k, v in value.items()]
    elif is_structure(value):
        items = [(f"{name}[{i}]", v) for i, v in enumerate(value)]
    else:
        items = [(name, value)]
    return [(label, np.dtype(type(v)) if _is_number(v) else numpy_dtype(v)) for label, v in items]


def low_precision(value, name="theta"):
    """``[(label, dtype)]`` of the float16/float32 arrays in ``value``."""
    return [
        (label, dt)
        for label, dt in _dtypes(value, name)
        if dt is not None and dt.kind == "f" and dt.itemsize < 8
    ]


def all_float32(value):
    """True when every floating block of ``value`` (θ or a VJP's inputs) is
    float32, and there is one: the point of a float32 model (weights from
    Keras' ``get_weights()``, a float32 tensor) when ``f`` also casts a step
    below float32's spacing away (:func:`~fastgrad.gradcheck.lowprec.is_float32_model`)."""
    if isinstance(value, np.ndarray):  # one array, the usual case
        return bool(value.dtype == np.float32)
    floating = [dt for _, dt in _dtypes(value, "") if dt is not None and dt.kind == "f"]
    return bool(floating) and all(dt == np.float32 for dt in floating)


def flatten(value, name="theta", names=None, warn=True):
    """``value`` -> (Structure, flat float64 copy).

    ``names`` optionally names the positions of a list/tuple (a VJP's
    argument names); otherwise positions are ``name[i]``. ``warn=False``
    leaves the float32 upcast warning to the caller.
    """
    if isinstance(value, Mapping):
        if not value:
            raise ValueError(f"{name} is an empty dict: there is nothing to check")
        keys = list(value)
        arrays = [real_array(value[k], f"{name}[{k!r}]", warn=warn, stacklevel=6) for k in keys]
        labels = [str(k) for k in keys]
        kind = "dict"
    elif is_structure(value):
        keys = list(range(len(value)))
        arrays = [
            real_array(v, f"{name}[{i}]", warn=warn, stacklevel=6) for i, v in enumerate(value)
        ]
        labels = list(names) if names is not None else [f"{name}[{i}]" for i in keys]
        kind = "tuple" if isinstance(value, tuple) else "list"
    else:
        arr = real_array(value, name, warn=warn, stacklevel=6)
        if arr.size == 0:
            raise ValueError(f"{name} is empty (shape {arr.shape}): there is nothing to check")
        st = Structure("array", [None], [name], [arr.shape], what=name)
        return st, arr.reshape(-1)
    if len(set(labels)) != len(labels):
        raise ValueError(f"{name}: two blocks have the same name {labels}")
    for label, arr in zip(labels, arrays):
        if arr.size == 0:
            raise ValueError(f"{name} block {label!r} is empty (shape {arr.shape}): leave it out")
    st = Structure(kind, keys, labels, [a.shape for a in arrays], what=name)
    return st, np.concatenate([a.ravel() for a in arrays])
