"""Serial loop overhead: fastgrad's compiled loop, check_grad and check_vjp
against the bare Python loops a user writes, over fast functions (where an
overhead shows; ``user_code.py`` has the slow ones).

    OPENBLAS_NUM_THREADS=1 python bench/loop_overhead.py [--rounds 200]

Every round times each contender once (interleaved, so a change of load hits
all alike); the median and the best of the rounds are printed, with the ratio
to the bare loop. ``check_grad``/``check_vjp`` include their fixed costs (the
call at θ for the kink test, the kink test, the report).
"""

import argparse
import time

import numpy as np

from fastgrad import check_grad, check_vjp, numerical_gradient
from fastgrad.gradcheck import _generic_kernel

P = 200
EPS = 1e-7
theta = np.random.default_rng(0).standard_normal(P)
X = np.random.default_rng(1).standard_normal((10, 8))


def f_dot(t):
    return float(np.dot(t, t))


def f_net(t):
    W = t.reshape(20, 10)
    return float(np.sum(np.tanh(W @ X)))


def layer(t):
    return np.tanh(t.reshape(20, 10) @ X)


U = np.random.default_rng(2).standard_normal((20, 8))


def bare(f):
    t = theta.copy()
    g = np.empty(P)
    for i in range(P):
        o = t[i]
        t[i] = o + EPS
        fp = f(t)
        t[i] = o - EPS
        fm = f(t)
        t[i] = o
        g[i] = (fp - fm) / (2 * EPS)
    return g


def bare_vjp():
    t = theta.copy()
    g = np.empty(P)
    for i in range(P):
        o = t[i]
        t[i] = o + EPS
        yp = layer(t)
        t[i] = o - EPS
        ym = layer(t)
        t[i] = o
        g[i] = np.sum(U * (yp - ym)) / (2 * EPS)
    return g


def kern(f):
    t = theta.copy()
    out = np.empty(P)
    _generic_kernel.central_differences(f, t, t, EPS, np.arange(P), out)


def compare(title, contenders, rounds):
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            a = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - a)
    base = None
    print(title)
    for name, ts in times.items():
        med, best = np.median(ts) * 1e3, min(ts) * 1e3
        base = base or (med, best)
        print(f"  {name:20s} median {med:7.3f} ms (x{med / base[0]:.3f}), "
              f"best {best:7.3f} ms (x{best / base[1]:.3f})")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args(argv)
    for f, what in ((f_dot, "f = t.t"), (f_net, "f = sum(tanh(W @ X))")):
        t0 = time.perf_counter()
        for _ in range(1000):
            f(theta)
        us = (time.perf_counter() - t0) * 1e3
        compare(f"{P} coordinates, {what}, one f {us:.1f} us", {
            "bare loop": lambda f=f: bare(f),
            "kernel": lambda f=f: kern(f),
            "numerical_gradient": lambda f=f: numerical_gradient(f, theta),
            "check_grad": lambda f=f: check_grad(f, theta, np.zeros(P), progress=False),
        }, args.rounds)
    compare(f"{P} coordinates, layer tanh(W @ X) -> (20, 8), check_vjp", {
        "bare VJP loop": bare_vjp,
        "check_vjp": lambda: check_vjp(layer, theta, np.zeros(P), U, progress=False),
    }, args.rounds)


if __name__ == "__main__":
    main()
