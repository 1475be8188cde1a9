"""Argument checks shared by the public functions (one home for the rules).

Every check names the argument and shows what it got, as
``"l2 must be a finite number >= 0, got '0.1' (str)"``. A value of the wrong
kind (a string where a number belongs, a bool where an int belongs, a float
where a size belongs) raises ``TypeError``; a value of the right kind out of
range raises ``ValueError``. ``bool`` is never a number here: ``True`` as a
learning rate or a layer size is a mistake, not a 1.
"""

import math
import numbers
import os

import numpy as np

from fastgrad import _argcheck_kernel


def got(value):
    """``"'0.1' (str)"``: the value and its type, for error messages."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _scalar(value):
    """A 0-d real ndarray as its Python scalar; anything else unchanged."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return value.item()
    return value


def is_real(value):
    value = _scalar(value)
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_int(value):
    value = _scalar(value)
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def real(
    value, name, *, low=None, high=None, low_open=False, high_open=False, finite=True, what=None
):
    """``value`` as a float, checked against ``[low, high]`` (open ends as asked).

    ``what`` overrides the range description in the message.
    """
    if not is_real(value):
        raise TypeError(f"{name} must be a real number, got {got(value)}")
    x = float(_scalar(value))
    ok = not math.isnan(x) and (not finite or math.isfinite(x))
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        if what is None:
            parts = []
            if low is not None and high is not None:
                parts.append(
                    f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
                )
            elif low is not None:
                parts.append(f"{'>' if low_open else '>='} {low:g}")
            elif high is not None:
                parts.append(f"{'<' if high_open else '<='} {high:g}")
            what = ("a finite number " if finite else "a number ") + " ".join(parts)
        raise ValueError(f"{name} must be {what.strip()}, got {value!r}")
    return x


def integer(value, name, *, minimum=None, what=None):
    """``value`` as an int (``int`` or a NumPy integer, never a bool or a float)."""
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {got(value)}")
    n = int(_scalar(value))
    if minimum is not None and n < minimum:
        raise ValueError(f"{name} must be {what or f'an int >= {minimum}'}, got {n}")
    return n


def _one_of(value, allowed, not_a_string, unknown):
    if not isinstance(value, str):
        raise TypeError(not_a_string)
    if value not in allowed:
        raise ValueError(unknown)
    return value


def choice(value, allowed, name):
    """``value`` if it is one of the strings ``allowed``."""
    listed = ", ".join(map(repr, allowed))
    return _one_of(
        value,
        allowed,
        f"{name} must be a string, one of {listed}; got {got(value)}",
        f"{name} must be one of {listed}, got {value!r}",
    )


def registry_name(value, allowed, what):
    """``value`` if it names one of a registry's entries (``allowed``):
    TypeError for a non-string, ValueError listing the choices otherwise."""
    listed = ", ".join(allowed)
    return _one_of(
        value,
        allowed,
        f"{what} must be a name, one of {listed}; got {value!r} ({type(value).__name__})",
        f"unknown {what} {value!r}; choose one of {listed}",
    )


def mapping(value, name, prefix="", *, kinds=dict):
    """``value`` if it is a parameter (``prefix="d"``: gradient) dict."""
    if not isinstance(value, kinds):
        raise TypeError(
            f"{name} must be a dict like {{'{prefix}W1': ..., '{prefix}b1': ...}}, got {got(value)}"
        )
    return value


def key_mismatch(expected, given):
    """``["missing [...]", "unexpected [...]"]`` for dict keys that differ from
    ``expected`` (empty when they match), for KeyError messages."""
    missing = [k for k in expected if k not in given]
    extra = [k for k in given if k not in expected]
    return ([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra else [])


def boolean(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {got(value)}")
    return bool(value)


def not_masked(value, name):
    """Refuse a masked array: ``np.asarray`` would drop its mask silently and
    the masked entries' hidden values would be used as data."""
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a numpy masked array; fastgrad does not honour masks (the hidden "
            f"values would be used as data). Pass {name}.filled(value) or drop the masked "
            "examples first."
        )
    if _is_sparse(value):
        raise TypeError(
            f"{name} is a scipy.sparse matrix; this function needs a dense array "
            f"(pass {name}.toarray())."
        )
    return value


def all_finite(arr):
    """True when the real array ``arr`` holds no NaN and no ±inf.

    One compiled pass over a contiguous float64 array (C or Fortran order),
    else two reductions (``max`` propagates a NaN, and an infinity is the
    max or the min); never ``np.isfinite(arr).all()``, which writes an
    arr-sized temporary (fresh pages, a cold cache) for every array checked."""
    if arr.size == 0 or arr.dtype.kind in "iub":
        return True
    if arr.dtype == np.float64 and (arr.flags.c_contiguous or arr.flags.f_contiguous):
        return _argcheck_kernel.all_finite_f64(arr.ravel(order="K"))
    return bool(np.isfinite(arr.max()) and np.isfinite(arr.min()))


def max_abs(arr, initial=0.0):
    """``max(|arr|)`` of a finite real array, ``initial`` if it is larger (or
    arr empty), without an arr-sized temporary (see :func:`all_finite`)."""
    if arr.size == 0:
        return float(initial)
    return max(float(initial), float(arr.max()), -float(arr.min()))


def _is_sparse(value):
    module = type(value).__module__ or ""
    return module.startswith("scipy.sparse") and hasattr(value, "toarray")


def sizes(value, name="layer_dims", *, minimum_len=2, what="[n_x, n_1, ..., n_L]"):
    """A sequence of positive ints (a list, tuple, range or 1-D integer array)."""
    if (
        isinstance(value, (str, bytes))
        or isinstance(value, (dict, set, frozenset))
        or not (hasattr(value, "__len__") and hasattr(value, "__getitem__"))
    ):
        raise TypeError(f"{name} must be a list of ints {what}, got {got(value)}")
    if isinstance(value, np.ndarray) and value.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D list of ints {what}, got an array of shape {value.shape}"
        )
    dims = list(value)
    if len(dims) < minimum_len:
        raise ValueError(
            f"{name} needs at least {minimum_len} entries (input and output "
            f"sizes) {what}, got {dims}"
        )
    for i, d in enumerate(dims):
        # ValueError (not TypeError) for an entry: the argument itself is the
        # right kind of thing, a list, with a bad value in it.
        if not is_int(d):
            raise ValueError(f"{name}[{i}] must be an int (a number of units), got {got(d)}")
        if int(d) < 1:
            raise ValueError(
                f"{name}[{i}] must be a positive number of units, got {int(d)} (in {name}={dims})"
            )
    return [int(d) for d in dims]


def available_memory():
    """Bytes this process can still allocate, as far as the OS tells:
    MemAvailable (or the available physical pages), and the room left under
    an address-space limit. None when unknown (then nothing is refused)."""
    limits = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    if not limits:
        try:
            limits.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/statm") as fh:
                used = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            limits.append(max(0, soft - used))
    except (ImportError, OSError, ValueError, IndexError, AttributeError):
        pass
    return min(limits) if limits else None


def fmt_bytes(n):
    """``n`` bytes as a short human-readable size (``"1.5 GB"``)."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def gib(n_bytes):
    return f"{n_bytes / 2**30:,.1f} GiB"


def check_allocation(n_bytes, name, what):
    """Refuse, before allocating, ``n_bytes`` that cannot fit in memory.

    A MemoryError naming ``name`` with the estimate, instead of NumPy's
    "Unable to allocate" (or an "array is too big" ValueError) from deep inside.
    """
    available = available_memory()
    limit = available if available is not None else 2**62
    if n_bytes > limit:
        have = (
            f"this machine has {gib(available)} available"
            if available is not None
            else "more than can be addressed"
        )
        raise MemoryError(f"{name}: {what} needs {gib(n_bytes)} ({n_bytes:,} bytes); {have}")
