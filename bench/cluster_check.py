"""Sharded checks: gradient_check (MLP, compiled kernel) and check_grad (a
callable taking ~5 ms) run locally, on 2 worker processes (``workers=2``)
and on a 2-worker dask ``LocalCluster`` (``workers=client``); seconds (best
of ``--repeat``) and whether each report equals the local one to the bit.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/cluster_check.py [--repeat 3]
        [--dims 64,128,64,1] [--m 256] [--f-ms 5] [--f-params 200]

BLAS is held at one thread everywhere (the environment above, inherited by
the workers; the checks pin it too), so the comparison is of processes, not
of BLAS threads. On a machine with 2 cores, 2 workers can at best halve the
time; what is left is the cost of shipping the data and starting the
shards. The cluster is started once, before the timings (its start-up,
~1-2 s, is not counted); ``workers=2`` starts its processes inside each
call (counted).
"""

import argparse
import time

import numpy as np


def _best(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _same(a, b):
    da, db = a.to_dict(), b.to_dict()
    keys = [k for k in da if k not in ("seconds", "notes")]
    return all(repr(da[k]) == repr(db[k]) for k in keys) and all(
        a.numerical[k].tobytes() == b.numerical[k].tobytes() for k in a.numerical
    )


def _mlp_case(dims, m):
    from fastgrad import MLP

    rng = np.random.default_rng(0)
    model = MLP(dims, hidden="tanh")
    params = model.init_params(seed=0)
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((dims[-1], m)) > 0.5).astype(float)
    grads = model.backward(params, X, Y)
    return model, params, grads, X, Y


def _slow_f(ms, n_params):
    """f(θ) costing about ``ms`` milliseconds of computation (not of memory
    traffic: its arrays stay in cache, so 2 workers do not just share the
    memory bandwidth): ``Σ tanh(A tanh(θ ⊙ X))²`` with X of a calibrated
    width; and its gradient."""
    rng = np.random.default_rng(1)
    A = rng.standard_normal((n_params, n_params)) / np.sqrt(n_params)
    theta = rng.standard_normal(n_params)
    cols = 16
    while True:
        X = rng.standard_normal((n_params, cols))
        t = time.perf_counter()
        for _ in range(5):
            np.sum(np.tanh(A @ np.tanh(theta[:, None] * X)) ** 2)
        took = (time.perf_counter() - t) / 5 * 1e3
        if took >= ms or cols > 1_000_000:
            break
        cols = int(cols * max(1.1, min(4.0, 0.9 * ms / max(took, 1e-3))))

    def f(t):
        return float(np.sum(np.tanh(A @ np.tanh(t[:, None] * X)) ** 2))

    def grad(t):
        u = np.tanh(t[:, None] * X)
        s = np.tanh(A @ u)
        du = A.T @ (2 * s * (1 - s**2))
        return np.sum(du * (1 - u**2) * X, axis=1)

    return f, grad, theta, took


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--dims", default="64,128,64,1")
    p.add_argument("--m", type=int, default=256)
    p.add_argument("--f-ms", type=float, default=5.0)
    p.add_argument("--f-params", type=int, default=200)
    args = p.parse_args()
    from distributed import Client, LocalCluster

    from fastgrad import check_grad, gradient_check

    dims = [int(v) for v in args.dims.split(",")]
    model, params, grads, X, Y = _mlp_case(dims, args.m)
    f, grad, theta, f_ms = _slow_f(args.f_ms, args.f_params)
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    try:
        runs = {
            f"gradient_check full, MLP({dims}) tanh, m={args.m}": lambda w: gradient_check(
                model, params, grads, X, Y, n_threads=1, workers=w, progress=False
            ),
            f"check_grad full, f of {f_ms:.1f} ms, P={args.f_params}": lambda w: check_grad(
                f, theta, grad, workers=w, progress=False
            ),
        }
        print(f"{'check':<48} {'workers':<16} {'seconds':>8} {'speed-up':>9} {'same bits':>10}")
        for name, run in runs.items():
            t_local, local = _best(lambda run=run: run(None), args.repeat)
            print(f"{name:<48} {'local':<16} {t_local:>8.3f} {1.0:>9.2f} {'-':>10}")
            for label, w in (("workers=2", 2), ("LocalCluster 2", client)):
                run(w)  # warm: imports in the workers
                t, rep = _best(lambda run=run, w=w: run(w), args.repeat)
                same = _same(local, rep)
                print(f"{'':<48} {label:<16} {t:>8.3f} {t_local / t:>9.2f} {str(same):>10}")
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
