"""check_grad on a user's own NumPy code, against the loops one would write instead.

A user-written 3-layer tanh network (cost and backprop in NumPy, parameters
in a dict): fastgrad.check_grad serial and with workers=2, a bare Python
loop (the course's), scipy.optimize.approx_fprime (two-point, forward
difference) and numdifftools.Gradient (Richardson extrapolation). Prints the
median time of --repeat runs and each tool's relative difference
|a - n| / (|a| + |n|) against the (correct) backprop gradient.

    python bench/user_code.py [--m 2000] [--repeat 3]

Numbers depend on the machine and its load; run on an idle machine.
"""

import argparse
import time

import numpy as np

import fastgrad


def network(m, seed=0):
    r = np.random.default_rng(seed)
    X, Y = r.standard_normal((10, m)), r.standard_normal((1, m))
    sizes = [10, 16, 8, 1]
    p = {}
    for l in range(1, 4):
        p[f"W{l}"] = r.standard_normal((sizes[l], sizes[l - 1])) / np.sqrt(sizes[l - 1])
        p[f"b{l}"] = r.standard_normal((sizes[l], 1)) * 0.1
    return X, Y, p


def make(X, Y):
    def cost(p):
        A1 = np.tanh(p["W1"] @ X + p["b1"])
        A2 = np.tanh(p["W2"] @ A1 + p["b2"])
        out = p["W3"] @ A2 + p["b3"]
        return 0.5 * float(np.mean((out - Y) ** 2))

    def backprop(p):
        m = X.shape[1]
        A1 = np.tanh(p["W1"] @ X + p["b1"])
        A2 = np.tanh(p["W2"] @ A1 + p["b2"])
        d3 = (p["W3"] @ A2 + p["b3"] - Y) / m
        d2 = p["W3"].T @ d3 * (1 - A2**2)
        d1 = p["W2"].T @ d2 * (1 - A1**2)
        return {
            "W1": d1 @ X.T,
            "b1": d1.sum(1, keepdims=True),
            "W2": d2 @ A1.T,
            "b2": d2.sum(1, keepdims=True),
            "W3": d3 @ A2.T,
            "b3": d3.sum(1, keepdims=True),
        }

    return cost, backprop


def rel(a, n):
    return np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--m", type=int, default=2000, help="examples (sets the cost's time)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    X, Y, p = network(args.m)
    cost, backprop = make(X, Y)
    g = backprop(p)
    keys = list(p)
    shapes = [p[k].shape for k in keys]
    theta = np.concatenate([p[k].ravel() for k in keys])
    a = np.concatenate([g[k].ravel() for k in keys])

    def unflat(t):
        out, i = {}, 0
        for k, s in zip(keys, shapes):
            n = int(np.prod(s))
            out[k] = t[i : i + n].reshape(s)
            i += n
        return out

    J = lambda t: cost(unflat(t))  # noqa: E731

    def bare():
        t, n = theta.copy(), np.empty(theta.size)
        for i in range(theta.size):
            o = t[i]
            t[i] = o + 1e-7
            fp = J(t)
            t[i] = o - 1e-7
            fm = J(t)
            t[i] = o
            n[i] = (fp - fm) / 2e-7
        return n

    def flat(rep):
        return np.concatenate([rep.numerical[k].ravel() for k in keys])

    tools = {
        "bare Python loop": bare,
        "fastgrad check_grad": lambda: flat(fastgrad.check_grad(cost, p, g, progress=False)),
        "fastgrad check_grad workers=2": lambda: flat(
            fastgrad.check_grad(cost, p, g, progress=False, workers=2)
        ),
    }
    try:
        from scipy.optimize import approx_fprime

        tools["scipy approx_fprime"] = lambda: approx_fprime(theta, J, 1.5e-8)
    except ImportError:
        pass
    try:
        import numdifftools as nd

        tools["numdifftools Gradient"] = lambda: nd.Gradient(J)(theta)
    except ImportError:
        pass
    t0 = time.perf_counter()
    J(theta)
    print(
        f"3-layer tanh network 10-16-8-1, {theta.size} parameters, m={args.m}: "
        f"one cost {1e3 * (time.perf_counter() - t0):.2f} ms"
    )
    base = None
    for name, fn in tools.items():
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            n = fn()
            times.append(time.perf_counter() - t)
        med = float(np.median(times))
        base = base or med
        print(f"{name:32s} {med:8.3f} s  x{med / base:5.2f} vs bare   difference {rel(a, n):.1e}")


if __name__ == "__main__":
    main()
