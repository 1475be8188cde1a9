"""What the generic (callable) gradient-check paths accept: θ, the
parameter and gradient dicts of a user's model (any string names), the
options that only an MLP can honour, and the steps θ ± ε that can be taken
(named in the caller's terms, ``"W1[2, 0]"``)."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad.nn.spec import ParamSpec


def check_n_threads(n_threads):
    """The callable is Python and runs on one thread: any valid ``n_threads``
    (None, -1 or a positive int) is accepted and the report says 1 thread."""
    if n_threads is None:
        return 1
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(
            f"n_threads must be an int or None, got {n_threads!r} ({type(n_threads).__name__})"
        )
    if n_threads == 0 or n_threads < -1:
        raise ValueError(f"n_threads must be a positive int, -1 or None, got {n_threads!r}")
    return 1


def check_dropout(dropout, model):
    """Only an MLP's masks can be frozen or switched off by fastgrad.

    ``dropout=True`` (the default: "check the training objective as it is")
    is accepted; the cost is then evaluated twice at θ and must agree, so a
    cost that redraws masks is refused. ``dropout=False`` asks fastgrad to
    keep every unit, which it cannot do inside another object: refused.
    """
    if dropout is None or isinstance(dropout, (bool, np.bool_)):
        if dropout is False or dropout is np.False_:
            raise ValueError(
                f"dropout=False cannot be applied to {type(model).__name__}: fastgrad can only "
                "switch off the dropout of a fastgrad.MLP. The object must freeze its own masks "
                "(or turn its dropout off) so that cost(params, X, Y) is deterministic; then "
                "leave dropout at its default"
            )
        return
    raise TypeError(f"dropout must be True or False, got {dropout!r} ({type(dropout).__name__})")


def numpy_dtype(value):
    """``value.dtype`` as a NumPy dtype, or None. A torch tensor's
    ``torch.float32`` is NumPy's float32 (matched by name); a dtype NumPy
    does not know (``torch.bfloat16``) is None."""
    dt = getattr(value, "dtype", None)
    if dt is None or isinstance(dt, np.dtype):
        return dt
    try:
        return np.dtype(str(dt).rsplit(".", 1)[-1])
    except TypeError:
        return None


def real_array(value, name, *, warn=True, stacklevel=4):
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array: a gradient check needs every entry "
            "(pass value.filled(...) or the unmasked data)"
        )
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError, RuntimeError) as e:  # RuntimeError: a torch grad tensor
        raise ValueError(
            f"{name} must be an array of real numbers; np.asarray({name}) failed: {e}"
        ) from None
    if arr.dtype.kind not in "fiu":
        if arr.dtype.kind == "b":
            what = "booleans (there is no step to take on a bool)"
        elif arr.dtype.kind == "O" and arr.ndim == 0:  # None, or an object NumPy cannot read
            what = type(value).__name__
        else:
            what = f"dtype {arr.dtype}"
        raise TypeError(f"{name} must hold real numbers, got {what}")
    if warn and arr.dtype.kind == "f" and arr.dtype.itemsize < 8:
        warnings.warn(
            f"{name} is {arr.dtype}; upcast to float64 (a finite difference "
            "with epsilon=1e-7 needs double precision)",
            UserWarning,
            stacklevel=stacklevel,
        )
    arr = np.array(arr, dtype=np.float64, order="C", copy=True)
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} contains NaN or inf (first at index {where}, {int(bad.sum())} in all)"
        )
    return arr


def as_theta(theta, name="theta"):
    """A float64 C-contiguous copy of ``theta`` (never a view of the caller's)."""
    return real_array(theta, name, stacklevel=5)


def check_generic_dicts(params, grads, warn=True):
    """Validate ``params`` / ``grads`` for an object with a cost method.

    The same rules as the MLP path: every parameter ``K`` has exactly one
    gradient ``"d" + K`` of the same shape (a 1-D ``(n,)`` gradient is
    accepted for a ``(n, 1)`` non-W block), no unexpected keys, real finite
    entries. Returns float64 copies ``(params, grads)`` in θ's order;
    ``warn=False`` leaves the float32 upcast warning to the caller (a
    float32 model is checked as one, not upcast with a warning).
    """
    ac.mapping(params, "params")
    ac.mapping(grads, "grads", "d")
    if not params:
        raise ValueError("params is empty: there is nothing to check")
    keys = ParamSpec.of(params).names  # the course's order, or the dict's for other names
    expected = ["d" + k for k in keys]
    parts = ac.key_mismatch(expected, grads)
    if parts:
        raise KeyError(
            "grads keys do not match params: "
            + "; ".join(parts)
            + f" (expected exactly {expected}, one 'd' + name per parameter)"
        )
    p_out, g_out = {}, {}
    for key in keys:
        p = real_array(params[key], f"params[{key!r}]", warn=warn, stacklevel=6)
        if p.size == 0:
            raise ValueError(
                f"params[{key!r}] is empty (shape {p.shape}): a block with no "
                "entries has nothing to check; leave it out of params and grads"
            )
        g = real_array(grads["d" + key], f"grads['d{key}']", warn=warn, stacklevel=6)
        if g.shape != p.shape:
            if (
                not key.startswith("W")
                and p.ndim == 2
                and p.shape[1] == 1
                and g.shape == p.shape[:1]
            ):
                g = g.reshape(p.shape)
            else:
                hint = (
                    " (it looks transposed)"
                    if g.ndim == 2 and g.shape == p.shape[::-1] and g.shape != p.shape
                    else ""
                )
                raise ValueError(
                    f"grads['d{key}'] has shape {g.shape}, expected {p.shape} "
                    f"like params[{key!r}]{hint}"
                )
        p_out[key], g_out["d" + key] = p, g
    return p_out, g_out


# -- naming coordinates ------------------------------------------------------


def coordinate_name(blocks, i):
    """Flat θ index -> ``"W1[2, 0]"`` (``blocks`` as from block_slices)."""
    for name, sl, shape in blocks:
        if sl.start <= i < sl.stop:
            if not shape:
                return name
            idx = np.unravel_index(i - sl.start, shape)
            return f"{name}[{', '.join(str(int(j)) for j in idx)}]"
    return f"theta[{i}]"  # pragma: no cover - callers pass valid indices


def check_steps(flat, eps, coords, blocks):
    """Refuse, before any call of ``f``, coordinates where ``θ_i ± ε`` is not
    a finite, distinct step (overflow near 1.8e308, or ε below the float64
    spacing at θ_i, where the difference would be 0/0)."""
    th = flat[coords]
    with np.errstate(over="ignore", invalid="ignore"):
        plus, minus = th + eps, th - eps
        step = plus - minus
    bad = ~(np.isfinite(plus) & np.isfinite(minus) & np.isfinite(step) & (step > 0))
    if bad.any():
        j = int(np.argmax(bad))
        raise step_error(blocks, int(coords[j]), float(th[j]), eps, int(bad.sum()))


def step_error(blocks, i, value, eps, count=1):
    where = coordinate_name(blocks, i)
    if np.isfinite(value + eps) and np.isfinite(value - eps):
        why = (
            f"epsilon={eps!r} is below the float64 spacing there ({np.spacing(value):.3g}), "
            "so theta ± epsilon rounds back to theta and the step is 0; use a larger "
            "epsilon or rescale that parameter"
        )
    else:
        why = (
            f"theta ± epsilon (epsilon={eps!r}) overflows float64; rescale that parameter "
            "(or use a smaller epsilon)"
        )
    more = f" ({count} coordinates in all)" if count > 1 else ""
    return ValueError(f"cannot take a finite difference at {where} = {float(value)!r}{more}: {why}")
