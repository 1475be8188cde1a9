"""Benchmark fastgrad.Normalizer against the tools a user would otherwise pick.

Side by side, in one run, on the same arrays:

* plain NumPy: ``X.mean(0)``, ``X.std(0)``, ``(X - mu) / sigma``;
* scikit-learn's ``StandardScaler`` (``fit`` and ``fit_transform``);
* fastgrad's ``Normalizer`` with 1 thread and with all threads;
* a plain memory copy of the same array, the bandwidth reference:
  ``np.copyto`` into a preallocated array and ``X.copy()`` (which, like
  ``fit_transform``, also pays for faulting in a fresh output array).

Prints markdown tables: seconds (best of ``--repeat``), then ratios.

    python bench/normalizer.py            # the three standard cases
    python bench/normalizer.py --quick    # small shapes, for a smoke run
"""
import argparse
import gc
import platform
import time

import numpy as np

from fastgrad import Normalizer
from fastgrad._openmp_helpers import openmp_enabled
from fastgrad._threads import effective_n_threads

CASES = [((1_000_000, 100), np.float64), ((1_000_000, 100), np.float32),
         ((100_000, 1000), np.float64)]
QUICK_CASES = [((100_000, 100), np.float64), ((100_000, 100), np.float32),
               ((10_000, 1000), np.float64)]


def best_time(fn, repeat):
    """Best wall-clock time of ``repeat`` calls (results dropped in between,
    so each call allocates its outputs afresh, as a user's call would)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - t0
        del result
        best = min(best, elapsed)
    return best


def numpy_fit(X):
    return X.mean(axis=0), X.std(axis=0)


def numpy_fit_transform(X):
    mu, sigma = X.mean(axis=0), X.std(axis=0)
    return (X - mu) / sigma


def run_case(shape, dtype, repeat, all_threads):
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    # An offset and per-feature scales, like real inputs before normalization.
    X = (rng.standard_normal(shape, dtype=np.float64) * rng.uniform(0.5, 5, shape[1])
         + rng.uniform(-100, 100, shape[1])).astype(dtype)
    out = np.empty_like(X)
    times = {}
    times["copyto"] = best_time(lambda: np.copyto(out, X), repeat)
    times["copy"] = best_time(lambda: X.copy(), repeat)
    del out
    rows = [
        ("NumPy", "1", lambda: numpy_fit(X), lambda: numpy_fit_transform(X)),
        ("sklearn StandardScaler", "1", lambda: StandardScaler().fit(X),
         lambda: StandardScaler().fit_transform(X)),
    ]
    for n in sorted({1, all_threads}):
        rows.append((
            "fastgrad Normalizer", str(n),
            lambda n=n: Normalizer(n_threads=n).fit(X),
            lambda n=n: Normalizer(n_threads=n).fit_transform(X),
        ))
    results = []
    for name, threads, fit, fit_transform in rows:
        results.append((name, threads, best_time(fit, repeat),
                        best_time(fit_transform, repeat)))
    return times, results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes (smoke run)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    args = parser.parse_args(argv)

    import sklearn

    all_threads = effective_n_threads(None)
    cases = QUICK_CASES if args.quick else CASES
    print(f"# fastgrad.Normalizer benchmark\n\n"
          f"{platform.processor() or platform.machine()}, {all_threads} thread(s) "
          f"available, OpenMP {'on' if openmp_enabled() else 'OFF'}; NumPy "
          f"{np.__version__}, scikit-learn {sklearn.__version__}; best of "
          f"{args.repeat}.\n")
    timing = ["| data | method | threads | fit (s) | fit+transform (s) |",
              "|---|---|---:|---:|---:|"]
    ratios = ["| data | threads | fit: × faster than sklearn | fit+transform: × faster "
              "than sklearn | fit ÷ copyto | fit ÷ X.copy() | fit+transform ÷ copyto "
              "| fit+transform ÷ X.copy() |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for shape, dtype in cases:
        label = f"{shape} {np.dtype(dtype).name}"
        times, results = run_case(shape, dtype, args.repeat, all_threads)
        timing.append(f"| {label} | np.copyto (preallocated) | 1 | {times['copyto']:.3f} | |")
        timing.append(f"| {label} | X.copy() | 1 | {times['copy']:.3f} | |")
        sk = next(r for r in results if r[0].startswith("sklearn"))
        for name, threads, t_fit, t_ft in results:
            timing.append(f"| {label} | {name} | {threads} | {t_fit:.3f} | {t_ft:.3f} |")
            if name.startswith("fastgrad"):
                ratios.append(
                    f"| {label} | {threads} | {sk[2] / t_fit:.1f} | {sk[3] / t_ft:.1f} "
                    f"| {t_fit / times['copyto']:.2f} | {t_fit / times['copy']:.2f} "
                    f"| {t_ft / times['copyto']:.2f} | {t_ft / times['copy']:.2f} |")
        gc.collect()
    print("\n".join(timing))
    print()
    print("\n".join(ratios))
    print("\nTargets: fit and fit+transform at least 3× faster than StandardScaler, "
          "and within 2× of a memory copy of the same array.")


if __name__ == "__main__":
    main()
