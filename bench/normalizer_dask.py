"""Normalizer on Dask: fastgrad vs dask-ml's StandardScaler vs
``X.mean(0)`` / ``X.var(0)`` in dask, on a lazily generated array and a
2-worker ``LocalCluster`` (worker processes), seconds and peak memory; the
same statistics in memory (today's NumPy fit); and whether each tool gives
the same bits for two chunkings.

    python bench/normalizer_dask.py [--rows 4000000] [--features 100] [--chunk-rows 100000]
        [--only fastgrad,dask-ml,dask] [--no-memory]

Peak memory is the largest resident set of any worker process during the
fit (each method gets a fresh cluster), plus the client's growth. dask-ml is
optional (``pip install dask-ml``); without it that row is skipped.
"""

import argparse
import resource
import time

import numpy as np


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _data(rows, features, chunk_rows):
    import dask.array as da

    return (
        da.random.default_rng(0).standard_normal((rows, features), chunks=(chunk_rows, features))
        * 3.0
        + 1e6
    )


def _fastgrad(X):
    from fastgrad import Normalizer

    n = Normalizer().fit(X)
    return n.mean_, n.var_


def _dask_ml(X):
    from dask_ml.preprocessing import StandardScaler

    s = StandardScaler().fit(X)
    return np.asarray(s.mean_), np.asarray(s.var_)


def _dask_reductions(X):
    import dask

    return tuple(np.asarray(v) for v in dask.compute(X.mean(axis=0), X.var(axis=0)))


def _on_cluster(fn, args):
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        X = _data(args.rows, args.features, args.chunk_rows)
        base = _peak_mb()
        t = time.perf_counter()
        fn(X)
        seconds = time.perf_counter() - t
        workers = client.run(_peak_mb)
    return seconds, max(workers.values()), _peak_mb() - base


def _same_bits(fn, args):
    import dask

    X1 = _data(200_003, 20, 10_000)
    X2 = X1.rechunk((7_777, 20))
    with dask.config.set(scheduler="threads"):
        a, b = fn(X1), fn(X2)
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=4_000_000)
    p.add_argument("--features", type=int, default=100)
    p.add_argument("--chunk-rows", type=int, default=100_000)
    p.add_argument("--only", default="fastgrad,dask-ml,dask", help="methods to run")
    p.add_argument("--no-memory", action="store_true", help="skip the in-memory rows")
    args = p.parse_args()
    only = set(args.only.split(","))
    gb = args.rows * args.features * 8 / 1e9
    print(
        f"dask array {args.rows:,} x {args.features} float64 ({gb:.1f} GB, generated lazily), "
        f"chunks of {args.chunk_rows:,} rows, LocalCluster 2 worker processes x 1 thread"
    )
    methods = [("fastgrad Normalizer.fit", _fastgrad)] if "fastgrad" in only else []
    try:
        import dask_ml  # noqa: F401

        if "dask-ml" in only:
            methods.append(("dask-ml StandardScaler.fit", _dask_ml))
    except ImportError:
        print("(dask-ml not installed: skipped)")
    if "dask" in only:
        methods.append(("dask X.mean(0), X.var(0)", _dask_reductions))
    print(
        f"{'method':<28} {'seconds':>8} {'worker peak MB':>15} {'client +MB':>11} "
        f"{'same bits, 2 chunkings':>23}"
    )
    for name, fn in methods:
        seconds, worker_mb, client_mb = _on_cluster(fn, args)
        print(
            f"{name:<28} {seconds:>8.2f} {worker_mb:>15.0f} {client_mb:>11.0f} "
            f"{str(_same_bits(fn, args)):>23}"
        )

    if args.no_memory:
        return
    from fastgrad import Normalizer
    from fastgrad.normalize.stats import dense_moments

    rows = min(args.rows, 1_000_000)
    X = np.random.default_rng(0).standard_normal((rows, args.features)) * 3.0 + 1e6
    nt = Normalizer().check_params()
    for label, fn in (
        ("in memory: Normalizer.fit (canonical tree)", lambda: Normalizer().fit(X)),
        ("in memory: sequential chunk merge (before)", lambda: dense_moments(X, nt, "X")),
    ):
        best = min(_timed(fn) for _ in range(5))
        print(f"{label:<44} {rows:,} x {args.features}, {nt} threads: {best * 1e3:.1f} ms")


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
