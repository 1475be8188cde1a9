"""Independent plain-NumPy references for the tests.

Nothing here imports fastgrad: these are the yardsticks the compiled paths
are measured against. The finite-difference reference runs a full forward
pass per evaluation in extended precision (np.longdouble), so its own
rounding noise sits far below the float64 kernel's.
"""
import importlib.util
import pathlib
import sys
import types

import numpy as np
import pytest


def _register(name, filename):
    """tests/ is not on sys.path under --import-mode=importlib: load a shared
    test helper by path, once, so test modules can ``import`` it by name."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, pathlib.Path(__file__).with_name(filename))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# The bad-input corpus harness (tests/_corpus.py).
_register("fastgrad_tests_corpus", "_corpus.py")

LD = np.longdouble
EXTENDED = np.finfo(LD).eps < 1e-18


def _act(name, z):
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LD(0.01) * z if z.dtype == LD else 0.01 * z)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    return z


def ref_cost(theta, shapes, hidden, output, l2, X, Y, dtype=LD):
    """J(θ) by a full forward pass: ``shapes`` lists (name, shape) in θ order."""
    theta = np.asarray(theta, dtype=dtype)
    blocks, start = {}, 0
    for name, shape in shapes:
        size = int(np.prod(shape))
        blocks[name] = theta[start:start + size].reshape(shape)
        start += size
    A = np.asarray(X, dtype=dtype)
    Y = np.asarray(Y, dtype=dtype)
    L = len(shapes) // 2
    m = X.shape[1]
    for l in range(1, L + 1):
        Z = blocks[f"W{l}"] @ A + blocks[f"b{l}"]
        A = _act(hidden[l - 1], Z) if l < L else Z
    if output == "sigmoid":
        loss = np.sum(np.logaddexp(0, A) - Y * A)
    elif output == "softmax":
        zmax = A.max(axis=0)
        lse = zmax + np.log(np.sum(np.exp(A - zmax), axis=0))
        loss = np.sum(Y.sum(axis=0) * lse) - np.sum(Y * A)
    else:
        loss = np.sum((A - Y) ** 2) / 2
    reg = sum(np.sum(blocks[f"W{l}"] ** 2) for l in range(1, L + 1))
    return loss / m + l2 / (2 * m) * reg


def ref_numerical(theta, shapes, hidden, output, l2, X, Y, eps=1e-7):
    """Two-sided differences, one full forward pass per evaluation, θ±ε
    formed in extended precision (exactly ±ε away, as the kernel does)."""
    theta = np.asarray(theta, dtype=LD)
    out = np.empty(theta.size)
    for i in range(theta.size):
        tp = theta.copy()
        tm = theta.copy()
        tp[i] += LD(eps)
        tm[i] -= LD(eps)
        jp = ref_cost(tp, shapes, hidden, output, l2, X, Y)
        jm = ref_cost(tm, shapes, hidden, output, l2, X, Y)
        out[i] = float((jp - jm) / (2 * LD(eps)))
    return out


def ref_relative_difference(a, b):
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    den = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if den == 0 else float(np.linalg.norm(a - b) / den)


def ref_flatten(params, prefix=""):
    """θ in the course's order W1, b1, W2, b2, ... (C order)."""
    L = sum(1 for k in params if k.startswith(prefix + "W"))
    parts = []
    for l in range(1, L + 1):
        parts += [np.ravel(params[f"{prefix}W{l}"]), np.ravel(params[f"{prefix}b{l}"])]
    return np.concatenate(parts).astype(float)


def make_problem(dims, m, hidden="relu", output="sigmoid", seed=0, bias_scale=0.1):
    """Random (params, X, Y) for a network in the course layout."""
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * np.sqrt(2 / dims[l - 1])
        params[f"b{l}"] = bias_scale * rng.standard_normal((dims[l], 1))
    X = rng.standard_normal((dims[0], m))
    if output == "softmax":
        Y = np.eye(dims[-1])[:, rng.integers(0, dims[-1], m)]
    elif output == "sigmoid":
        Y = (rng.random((dims[-1], m)) < 0.5).astype(float)
    else:
        Y = rng.standard_normal((dims[-1], m))
    return params, X, Y


@pytest.fixture
def ref():
    return types.SimpleNamespace(
        cost=ref_cost, numerical=ref_numerical, rel=ref_relative_difference,
        flatten=ref_flatten, problem=make_problem, extended=EXTENDED,
    )


def _moons(m=120, seed=0):
    from sklearn.datasets import make_moons  # the test extra, independent of fastgrad.datasets

    X, y = make_moons(m, noise=0.2, random_state=seed)
    return X.T.copy(), y.reshape(1, -1).astype(float)


@pytest.fixture
def moons_xy():
    """``moons_xy(m, seed) -> (X (2, m), Y (1, m))`` from scikit-learn."""
    return _moons


@pytest.fixture
def setup():
    """A [2, 5, 2, 1] MLP, He parameters (seed 1) and 120 moons points."""
    from fastgrad import MLP

    X, Y = _moons()
    model = MLP([2, 5, 2, 1])
    return model, model.init_params("he", seed=1), X, Y


@pytest.fixture
def interrupted_child():
    """``run(code, what)``: start ``code`` in a child Python (from tests/, so
    it imports the installed fastgrad), send SIGINT 1.5 s after it prints
    "start", and require that it prints "interrupted" and exits 3 within
    10 s (the child catches KeyboardInterrupt around the long call)."""
    import signal
    import subprocess
    import time

    here = pathlib.Path(__file__).resolve().parent

    def run(code, what):
        p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=here)
        try:
            assert p.stdout.readline().strip() == "start"
            time.sleep(1.5)
            p.send_signal(signal.SIGINT)
            try:
                out, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{what} did not stop within 10 s of Ctrl-C")
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        assert out.strip() == "interrupted", (out, err[-2000:])
        assert p.returncode == 3

    return run
