"""Harness for the bad-input corpus (tests/e2e/test_corpus_*.py).

Nothing here imports fastgrad: the references are plain NumPy (or
scikit-learn's StandardScaler), independent of the code under test.

A corpus case calls a public function with one bad (or unusual but valid)
argument and asserts EITHER a correct result (checked against a reference)
OR a clear exception: TypeError/ValueError (KeyError for a missing dict key,
MemoryError with an estimate for an impossible size) whose message names the
argument. Raw NumPy/Cython errors, OverflowError, ZeroDivisionError and
silent NaN are failures. Every argument is byte-compared before and after
the call (ndarray bytes of the whole base buffer + flags, DataFrame values,
sparse data/indices/indptr, masked data/mask, dict and list members).
"""
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent

# Messages that come straight from NumPy / Cython / Python internals: a user
# reading them cannot tell which argument was wrong.
RAW_MARKERS = (
    "buffer source array is read-only",
    "Buffer dtype mismatch",
    "Buffer has wrong number of dimensions",
    "could not broadcast",
    "setting an array element with a sequence",
    "object is not iterable",
    "has no len()",
    "object is not subscriptable",
    "unsupported operand type",
    "cannot convert float NaN to integer",
    "cannot convert float infinity to integer",
    "Python int too large to convert",
    "Maximum allowed dimension exceeded",
    "expected non-negative integer",
    "operands could not be",
    "Unable to allocate",
    "invalid literal for int()",
    "'NoneType' object",
    "not supported between instances",
    "only integer scalar arrays",
    "ufunc",
)

CLEAR_TYPES = (TypeError, ValueError)


# ---------------------------------------------------------------------------
# snapshots: bytes + flags of everything the caller handed in
# ---------------------------------------------------------------------------

def _root(arr):
    base = arr
    while isinstance(getattr(base, "base", None), np.ndarray):
        base = base.base
    return base


def _array_snap(arr):
    """Logical bytes, flags, and the bytes of the whole owning buffer (so a
    write through a record-field view into a neighbouring field is seen)."""
    root = _root(arr)
    snap = {
        "kind": "ndarray", "dtype": str(arr.dtype), "shape": arr.shape,
        "strides": arr.strides, "writeable": bool(arr.flags.writeable),
        "bytes": np.ascontiguousarray(arr).tobytes() if arr.dtype != object else
        repr(arr.tolist()),
    }
    if root is not arr and isinstance(root, np.ndarray) and root.dtype != object:
        snap["root"] = np.ascontiguousarray(root).view(np.uint8).tobytes() \
            if root.dtype.kind != "V" else root.tobytes()
    return snap


def values_bytes(values):
    """Comparable contents of an array-like: its bytes, or its values' repr
    where NumPy holds them as Python objects (pandas < 2.2 gives a nullable
    ``Float64`` column to NumPy as objects, whose bytes are pointers)."""
    arr = np.asarray(values)
    return arr.tobytes() if arr.dtype != object else repr(arr.tolist())


def snapshot(obj, _depth=0):
    """A comparable record of obj's contents (recursive for containers)."""
    if _depth > 4:
        return ("deep", id(obj))
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if isinstance(obj, np.ma.MaskedArray):
        return {"kind": "masked", "data": _array_snap(np.ma.getdata(obj)),
                "mask": _array_snap(np.ma.getmaskarray(obj)),
                "hard": bool(obj.hardmask)}
    if isinstance(obj, np.ndarray):
        return _array_snap(obj)
    if pd is not None and isinstance(obj, pd.DataFrame):
        cols = [(str(name), str(obj[name].dtype), values_bytes(obj[name].to_numpy(copy=True)))
                for name in obj.columns]
        return {"kind": "frame", "cols": cols, "index": repr(list(obj.index)),
                "shape": obj.shape}
    if pd is not None and isinstance(obj, pd.Series):
        return {"kind": "series", "dtype": str(obj.dtype),
                "bytes": values_bytes(obj.to_numpy(copy=True)), "index": repr(list(obj.index))}
    if type(obj).__module__.startswith("polars") and hasattr(obj, "schema"):
        return {"kind": "polars", "schema": repr(obj.schema),
                "cols": [(name, repr(obj[name].to_list())) for name in obj.columns]}
    if hasattr(obj, "tocsr") and hasattr(obj, "nnz"):  # scipy.sparse
        snap = {"kind": "sparse", "format": obj.format, "shape": obj.shape}
        for attr in ("data", "indices", "indptr", "row", "col", "offsets"):
            if hasattr(obj, attr) and isinstance(getattr(obj, attr), np.ndarray):
                snap[attr] = _array_snap(getattr(obj, attr))
        return snap
    if isinstance(obj, dict):
        return {"kind": "dict", "keys": list(obj.keys()),
                "items": [snapshot(v, _depth + 1) for v in obj.values()]}
    if isinstance(obj, (list, tuple)):
        return {"kind": type(obj).__name__, "items": [snapshot(v, _depth + 1) for v in obj]}
    if hasattr(obj, "_corpus_buffer"):  # a frame-like wrapper holding a view
        return {"kind": "wrapper", "buffer": _array_snap(obj._corpus_buffer)}
    if isinstance(obj, (int, float, complex, str, bytes, bool, type(None), np.generic)):
        return ("scalar", type(obj).__name__, repr(obj))
    return ("opaque", type(obj).__name__)


def assert_unchanged(before, after, what):
    if before != after:
        detail = _diff(before, after)
        raise AssertionError(f"the caller's {what} was modified by the call: {detail}")


def _diff(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if k not in b:
                return f"{path}.{k} disappeared"
            if a[k] != b[k]:
                return _diff(a[k], b[k], f"{path}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _diff(x, y, f"{path}[{i}]")
    return f"{path or 'value'} differs"


# ---------------------------------------------------------------------------
# calling
# ---------------------------------------------------------------------------

class Outcome:
    """``kind`` is 'ok' (``value`` the result) or 'error' (``exc``)."""

    def __init__(self, kind, value=None, exc=None):
        self.kind, self.value, self.exc = kind, value, exc

    @property
    def ok(self):
        return self.kind == "ok"

    def __repr__(self):
        if self.ok:
            return f"<ok {type(self.value).__name__}>"
        return f"<error {type(self.exc).__name__}: {self.exc}>"


def call_and_classify(fn, *args, _inplace=(), **kwargs):
    """Call ``fn(*args, **kwargs)``; every positional and keyword argument
    (except the indices/names in ``_inplace``) must be bit-identical after the
    call, whatever the outcome. Returns an :class:`Outcome`."""
    snaps = {}
    for i, a in enumerate(args):
        if i not in _inplace:
            snaps[f"argument {i}"] = (a, snapshot(a))
    for k, v in kwargs.items():
        if k not in _inplace:
            snaps[f"argument {k}="] = (v, snapshot(v))
    try:
        value = fn(*args, **kwargs)
        out = Outcome("ok", value)
    except KeyboardInterrupt:  # pragma: no cover
        raise
    except BaseException as exc:  # noqa: BLE001 - classified below
        if isinstance(exc, AssertionError) and type(exc) is AssertionError:
            raise
        out = Outcome("error", exc=exc)
    for what, (obj, snap) in snaps.items():
        assert_unchanged(snap, snapshot(obj), what)
    return out


def _names_in(msg, names):
    for n in names:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n):
            if re.search(r"(?<![A-Za-z0-9_])" + re.escape(n) + r"(?![A-Za-z0-9_])", msg):
                return True
        elif n in msg:
            return True
    return False


_NEVER = (OverflowError, ZeroDivisionError, IndexError, FloatingPointError)


def assert_clear_error(exc, *argnames, types=CLEAR_TYPES, extra=None):
    """``exc`` is one of ``types`` (not a raw NumPy/Cython error) and its
    message names one of ``argnames``."""
    assert exc is not None, "expected an exception, the call returned normally"
    msg = str(exc)
    if isinstance(exc, KeyError) and exc.args:
        msg = str(exc.args[0])
    never = tuple(t for t in _NEVER if not any(issubclass(t, ok) for ok in types))
    assert isinstance(exc, types) and not isinstance(exc, never), (
        f"expected {' or '.join(t.__name__ for t in types)} naming "
        f"{argnames}, got {type(exc).__name__}: {msg}")
    named = _names_in(msg, argnames)
    assert named or not any(marker in msg for marker in RAW_MARKERS), \
        f"raw error message (does not say which argument is wrong): {type(exc).__name__}: {msg}"
    assert named, \
        f"error message does not name the argument {argnames!r}: {type(exc).__name__}: {msg}"
    if extra is not None:
        assert re.search(extra, msg, re.I), f"message lacks {extra!r}: {msg}"


def expect_error(outcome, *argnames, types=CLEAR_TYPES, extra=None):
    if outcome.ok:
        raise AssertionError(
            f"expected a clear error naming {argnames!r}, the call returned "
            f"{_short(outcome.value)}")
    assert_clear_error(outcome.exc, *argnames, types=types, extra=extra)


def expect_ok(outcome, check=None):
    """The call must succeed; ``check(value)`` verifies the result."""
    if not outcome.ok:
        exc = outcome.exc
        raise AssertionError(f"expected a result, got {type(exc).__name__}: {exc}") from exc
    assert_no_silent_nan(outcome.value)
    if check is not None:
        check(outcome.value)
    return outcome.value


def expect_ok_or_error(outcome, check, *argnames, types=CLEAR_TYPES):
    """Either a correct result (``check``) or a clear error naming the argument."""
    if outcome.ok:
        return expect_ok(outcome, check)
    assert_clear_error(outcome.exc, *argnames, types=types)
    return None


def assert_no_silent_nan(value, allow_nan_mask=None, _depth=0):
    if _depth < 3:
        if isinstance(value, dict):
            for v in value.values():
                assert_no_silent_nan(v, _depth=_depth + 1)
            return
        if isinstance(value, (list, tuple)):
            for v in value:
                assert_no_silent_nan(v, _depth=_depth + 1)
            return
        diff = getattr(value, "difference", None)
        if isinstance(diff, float):  # a gradient-check report
            assert not np.isnan(diff), f"the report says difference=nan: {value!r}"
            return
    arr = value
    if hasattr(value, "toarray") and hasattr(value, "nnz"):
        arr = value.data
    elif hasattr(value, "to_numpy") and not isinstance(value, np.ndarray):
        try:
            arr = value.to_numpy()
        except Exception:  # pragma: no cover
            return
    if isinstance(arr, np.ndarray) and arr.dtype.kind in "fc":
        bad = np.isnan(arr)
        if allow_nan_mask is not None:
            bad &= ~allow_nan_mask
        assert not bad.any(), "the result holds NaN the input did not ask for"
    if isinstance(arr, float):
        assert not np.isnan(arr), "the result is NaN"


def _short(value):
    text = repr(value)
    return text if len(text) < 200 else text[:200] + "..."


# ---------------------------------------------------------------------------
# input variants
# ---------------------------------------------------------------------------

def fortran(a):
    return np.asfortranarray(a)


def strided(a):
    """Same values, strided along both axes (a view into a bigger buffer)."""
    a = np.asarray(a)
    big = np.zeros((a.shape[0] * 2, a.shape[1] * 3), dtype=a.dtype)
    big[::2, ::3] = a
    return big[::2, ::3]


def reversed_rows(a):
    return np.ascontiguousarray(np.asarray(a)[::-1])[::-1]


def read_only(a):
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def record_field_column(values):
    """``rec["a"][:, None]``: one feature read through a packed 12-byte
    record, so its stride (12) is not a multiple of the item size (8)."""
    rec = np.zeros(len(values), dtype=[("a", "<f8"), ("b", "<i4")])
    rec["a"] = values
    rec["b"] = np.arange(len(values), dtype=np.int32) + 7
    return rec, rec["a"][:, None]


def record_field_row(values):
    rec = np.zeros(len(values), dtype=[("a", "<f8"), ("b", "<i4")])
    rec["a"] = values
    rec["b"] = 7
    return rec, rec["a"][None, :]


def big_endian(a):
    return np.asarray(a).astype(">f8")


class FrameLikeView:
    """What ``np.asarray(df)`` gives on pandas 2: a *writable view* of the
    frame's memory. The wrapper owns the buffer and exposes it through
    ``__array__`` (a view, no copy) and ``columns``, as a pandas 2 frame does."""

    def __init__(self, values, columns=None):
        self._corpus_buffer = values
        self.columns = columns if columns is not None else [f"c{i}" for i in
                                                             range(values.shape[1])]
        self.shape = values.shape

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self._corpus_buffer.dtype:
            return self._corpus_buffer.astype(dtype)
        return self._corpus_buffer  # the frame's own memory, writable

    def __len__(self):
        return self.shape[0]


# ---------------------------------------------------------------------------
# subprocess cases (impossible sizes, thread storms): a crash cannot kill pytest
# ---------------------------------------------------------------------------

_PRELUDE = """
import json, resource, sys, traceback
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
def _emit(kind, **kw):
    sys.stdout.write("\\n@@CORPUS@@" + json.dumps(dict(kind=kind, **kw)) + "\\n")
    sys.stdout.flush()
try:
{body}
    _emit("ok", value=repr(locals().get("RESULT"))[:2000], check=locals().get("CHECK"))
except BaseException as exc:
    _emit("error", type=type(exc).__name__,
          mro=[c.__name__ for c in type(exc).__mro__], msg=str(exc)[:2000])
"""


def run_limited(body, *, mem_bytes=1_500_000_000, timeout=60, env=None):
    """Run ``body`` (Python source; may set RESULT and CHECK) in a fresh
    interpreter under an address-space limit. Returns a dict with ``kind``
    ('ok', 'error' or 'crash'), ``rc``, ``stderr`` and the details."""
    code = _PRELUDE.format(limit=int(mem_bytes),
                           body=textwrap.indent(textwrap.dedent(body), "    "))
    full_env = dict(os.environ)
    full_env.setdefault("OPENBLAS_NUM_THREADS", "1")
    full_env.update(env or {})
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=timeout, env=full_env, cwd=str(HERE))
    except subprocess.TimeoutExpired as exc:
        return {"kind": "crash", "rc": None, "stderr": f"timed out after {timeout} s",
                "stdout": str(exc.stdout)}
    marker = proc.stdout.rfind("@@CORPUS@@")
    if marker < 0:
        return {"kind": "crash", "rc": proc.returncode, "stderr": proc.stderr[-2000:],
                "stdout": proc.stdout[-2000:]}
    out = json.loads(proc.stdout[marker + len("@@CORPUS@@"):].strip().splitlines()[0])
    out.update(rc=proc.returncode, stderr=proc.stderr[-2000:])
    return out


def expect_limited_ok_or_error(out, *argnames, memory_estimate=True):
    """A subprocess case: a correct result (CHECK true) or a clear error naming
    the argument; a MemoryError must carry an estimate of the size."""
    assert out["kind"] != "crash", (
        f"the process died (exit {out['rc']}) instead of raising: {out['stderr'][-600:]}")
    if out["kind"] == "ok":
        assert out.get("check") is True, f"wrong result: {out}"
        return
    msg, mro = out["msg"], out["mro"]
    assert "OverflowError" not in mro, f"raw OverflowError: {msg}"
    if "MemoryError" in mro:
        assert not memory_estimate or re.search(r"\d+(\.\d+)?\s*(k|M|G|T|P|E)?i?B|bytes", msg), \
            f"MemoryError without an estimate of the size: {msg!r}"
        assert "Unable to allocate" not in msg, f"raw NumPy MemoryError: {msg}"
        return
    assert "TypeError" in mro or "ValueError" in mro, f"{out['type']}: {msg}"
    assert _names_in(msg, argnames), f"message does not name {argnames}: {msg}"


# ---------------------------------------------------------------------------
# independent references
# ---------------------------------------------------------------------------

LD = np.longdouble


def ref_forward_cost(params, X, Y, hidden, output, l2=0.0, dtype=LD):
    """J by a plain forward pass (course layout, b blocks (n, 1))."""
    L = sum(1 for k in params if k.startswith("W"))
    A = np.asarray(X, dtype=dtype)
    Y = np.asarray(Y, dtype=dtype)
    m = A.shape[1]
    Z = None
    for l in range(1, L + 1):
        W = np.asarray(params[f"W{l}"], dtype=dtype)
        b = np.asarray(params[f"b{l}"], dtype=dtype).reshape(-1, 1)
        Z = W @ A + b
        if l < L:
            h = hidden[l - 1]
            if h == "relu":
                A = np.maximum(Z, 0)
            elif h == "leaky_relu":
                A = np.where(Z > 0, Z, Z * dtype(0.01))
            elif h == "tanh":
                A = np.tanh(Z)
            elif h == "sigmoid":
                A = 1 / (1 + np.exp(-Z))
            else:
                A = Z
    if output == "sigmoid":
        loss = np.sum(np.logaddexp(dtype(0), Z) - Y * Z)
    elif output == "softmax":
        zmax = Z.max(axis=0)
        lse = zmax + np.log(np.sum(np.exp(Z - zmax), axis=0))
        loss = np.sum(Y.sum(axis=0) * lse) - np.sum(Y * Z)
    else:
        loss = np.sum((Z - Y) ** 2) / 2
    reg = sum(np.sum(np.asarray(params[f"W{l}"], dtype=dtype) ** 2) for l in range(1, L + 1))
    return loss / m + dtype(l2) / (2 * m) * reg


def ref_flatten(params, prefix=""):
    L = sum(1 for k in params if k.startswith(prefix + "W"))
    parts = []
    for l in range(1, L + 1):
        parts += [np.ravel(np.asarray(params[f"{prefix}W{l}"], dtype=float)),
                  np.ravel(np.asarray(params[f"{prefix}b{l}"], dtype=float))]
    return np.concatenate(parts)


def ref_numerical(params, X, Y, hidden, output, l2=0.0, eps=1e-7):
    """Two-sided differences with θ±ε formed in extended precision."""
    keys = []
    L = sum(1 for k in params if k.startswith("W"))
    for l in range(1, L + 1):
        keys += [f"W{l}", f"b{l}"]
    out = {}
    for key in keys:
        base = np.asarray(params[key], dtype=LD)
        g = np.empty(base.shape)
        for idx in np.ndindex(base.shape):
            vals = []
            for sign in (1, -1):
                p = {k: np.asarray(v, dtype=LD) for k, v in params.items()}
                blk = base.copy()
                blk[idx] += sign * LD(eps)
                p[key] = blk
                vals.append(ref_forward_cost(p, X, Y, hidden, output, l2))
            g[idx] = float((vals[0] - vals[1]) / (2 * LD(eps)))
        out["d" + key] = g
    return out


def ref_relative_difference(a, b):
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    den = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if den == 0 else float(np.linalg.norm(a - b) / den)


def ref_backprop(params, X, Y, hidden, output, l2=0.0):
    """Plain float64 backprop (course layout) for dense networks."""
    L = sum(1 for k in params if k.startswith("W"))
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    m = X.shape[1]
    As, Zs = [X], [None]
    for l in range(1, L + 1):
        Z = params[f"W{l}"] @ As[-1] + np.reshape(params[f"b{l}"], (-1, 1))
        Zs.append(Z)
        if l < L:
            h = hidden[l - 1]
            A = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
                 "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
                 "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
                 "linear": lambda z: z}[h](Z)
            As.append(A)
    ZL = Zs[-1]
    if output == "sigmoid":
        AL = 1 / (1 + np.exp(-ZL))
        dZ = (AL - Y) / m
    elif output == "softmax":
        e = np.exp(ZL - ZL.max(axis=0))
        AL = e / e.sum(axis=0)
        dZ = (Y.sum(axis=0) * AL - Y) / m
    else:
        dZ = (ZL - Y) / m
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = dZ @ As[l - 1].T + l2 / m * params[f"W{l}"]
        grads[f"db{l}"] = dZ.sum(axis=1, keepdims=True)
        if l > 1:
            dA = params[f"W{l}"].T @ dZ
            Z = Zs[l - 1]
            h = hidden[l - 2]
            if h == "relu":
                d = (Z > 0).astype(float)
            elif h == "leaky_relu":
                d = np.where(Z > 0, 1.0, 0.01)
            elif h == "tanh":
                d = 1 - np.tanh(Z) ** 2
            elif h == "sigmoid":
                s = 1 / (1 + np.exp(-Z))
                d = s * (1 - s)
            else:
                d = np.ones_like(Z)
            dZ = dA * d
    return grads


def small_problem(dims=(3, 4, 2), m=5, seed=0, output="sigmoid", hidden="tanh"):
    """params, X, Y for a small dense network (smooth by default: no kinks)."""
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * np.sqrt(1 / dims[l - 1])
        params[f"b{l}"] = 0.1 * rng.standard_normal((dims[l], 1))
    X = rng.standard_normal((dims[0], m))
    if output == "softmax":
        Y = np.eye(dims[-1])[:, rng.integers(0, dims[-1], m)]
    elif output == "sigmoid":
        Y = (rng.random((dims[-1], m)) < 0.5).astype(float)
    else:
        Y = rng.standard_normal((dims[-1], m))
    return params, X, Y


def ref_moments(X, sample_weight=None):
    """Mean and population variance per feature (float64 data, samples are
    rows), two-pass in extended precision, NaN ignored."""
    X = np.asarray(X, dtype=LD)
    w = np.ones(X.shape[0], dtype=LD) if sample_weight is None else \
        np.asarray(sample_weight, dtype=LD)
    mask = ~np.isnan(X)
    W = w[:, None] * mask
    Xz = np.where(mask, X, 0)
    n = W.sum(axis=0)
    mean = (W * Xz).sum(axis=0) / n
    var = (W * np.where(mask, X - mean, 0) ** 2).sum(axis=0) / n
    return mean.astype(float), var.astype(float)




class ClosedPipe:
    """stdout whose reader went away (``fastgrad check | head -1``)."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        pass

    def fileno(self):
        raise ValueError("no file descriptor in this test")
