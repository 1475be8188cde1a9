"""Serial loop overhead: fastgrad's compiled loop and check_grad vs a bare Python loop.

python bench/loop_overhead.py
"""

import time

import numpy as np

from fastgrad import check_grad, numerical_gradient
from fastgrad.gradcheck import _generic_kernel

P = 200
theta = np.random.default_rng(0).standard_normal(P)


def f(t):
    return float(np.dot(t, t))


def bare(f, theta, eps=1e-7):
    t = theta.copy()
    g = np.empty(P)
    for i in range(P):
        o = t[i]
        t[i] = o + eps
        fp = f(t)
        t[i] = o - eps
        fm = f(t)
        t[i] = o
        g[i] = (fp - fm) / (2 * eps)
    return g


def kern(f):
    t = theta.copy()
    out = np.empty(P)
    _generic_kernel.central_differences(f, t, t, 1e-7, np.arange(P), out)


def best(fn, n=200):
    ts = []
    for _ in range(n):
        a = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - a)
    return np.median(ts) * 1e3, min(ts) * 1e3


for name, fn in [
    ("bare", lambda: bare(f, theta)),
    ("kernel", lambda: kern(f)),
    ("numerical_gradient", lambda: numerical_gradient(f, theta)),
    ("check_grad", lambda: check_grad(f, theta, 2 * theta, progress=False)),
]:
    print(name, "median {:.3f} ms, min {:.3f} ms".format(*best(fn)))
print("--- f of ~6 us (issue's scale)")
X = np.random.default_rng(1).standard_normal((10, 8))


def f6(t):
    W = t.reshape(20, 10)
    return float(np.sum(np.tanh(W @ X)))


for name, fn in [
    ("bare", lambda: bare(f6, theta)),
    ("kernel", lambda: kern(f6)),
    ("check_grad", lambda: check_grad(f6, theta, np.zeros(P), progress=False)),
]:
    print(name, "median {:.3f} ms, min {:.3f} ms".format(*best(fn)))
