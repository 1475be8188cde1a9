#!/usr/bin/env python
"""Where the time of a full MLP check goes, on 1 and 2 threads.

For each network of ``bench/gradcheck.py``'s ``issue15`` set (or
``--networks``), the median of ``--repeat`` full checks
(``gradient_check(..., n_threads=k)``, k = 1 and 2 interleaved), split into

* compiled: the nogil kernels, i.e. the build of the exact linear maps and
  Taylor jets (``KernelInputs._build``) and the run over the coordinates
  (``mlp._run_in_pieces``), both parallel;
* serial: everything else: validation, the forward pass, the plan and the
  report, in Python on one thread, and the report's norms (``block_norms``,
  compiled: the whole-θ pass and the blocks' side by side on two threads,
  each pass sequential).

The two phases are timed by wrapping those two functions (this script's
only use of fastgrad internals); the few Python steps inside them (the
memory check, the progress updates) count as compiled, so the serial part
is if anything understated. With the compiled part taking C₁ on one
thread and C₂ on two, two threads give 1.8x the whole check only if the
serial part S satisfies S + C₁ ≥ 1.8·(S + C₂), i.e. S ≤ (C₁ − 1.8·C₂)/0.8:
the last column. Run with BLAS pinned, as the README's table::

    OPENBLAS_NUM_THREADS=1 python bench/check_phases.py [--repeat 20]   # a markdown table

Interleaving is the stricter order: each 2-thread check starts after the
kernel's second thread slept through a 1-thread check, and waking a thread
whose virtual CPU was halted costs 0.2-0.9 ms on a virtual machine (an empty
parallel region after 20 ms of serial Python: 0.36 ms median here).
``--bench-order ROUNDS`` times instead as ``bench/gradcheck.py`` does (the
issue's measurement): 9 checks on 1 thread, then 9 on 2, medians, ROUNDS
times over, and prints how the ratio spreads from round to round.

``--floor`` adds, per network, the scaling of what no check can do without
(1 vs 2 threads, interleaved): the kernel's run alone on a built net
(``KernelInputs.run`` with its maps and jets kept), and a minimal pipeline
with no validation and no report (the forward pass and ``KernelInputs``,
the build and run of ``range(P)``, the report's norms as a full check takes
them: ``block_norms`` over the gradient blocks). If even the minimal
pipeline scales below 1.8x, removing Python around the kernel is not
enough: its set-up has to become parallel too.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gradcheck as G  # noqa: E402  (bench/gradcheck.py: the same networks)

import fastgrad  # noqa: E402
from fastgrad.gradcheck import mlp  # noqa: E402

SPENT = {"compiled": 0.0}


def _timed(fn):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT["compiled"] += time.perf_counter() - t

    return wrapper


mlp._run_in_pieces = _timed(mlp._run_in_pieces)
mlp.KernelInputs._build = _timed(mlp.KernelInputs._build)


def phases(case, repeat):
    """Median (whole, compiled) seconds of ``repeat`` checks on 1 and on 2
    threads, interleaved (1, 2, 1, 2, ...) so that a drift of the machine
    shows on both sides alike: ``{1: (whole, compiled), 2: (...)}``."""
    def check(n_threads):
        return fastgrad.gradient_check(case.model, case.params, case.grads, case.X, case.Y,
                                       n_threads=n_threads, progress=False)

    for _ in range(3):
        check(1), check(2)
    whole, compiled = {1: [], 2: []}, {1: [], 2: []}
    for _ in range(repeat):
        for n_threads in (1, 2):
            SPENT["compiled"] = 0.0
            t = time.perf_counter()
            check(n_threads)
            whole[n_threads].append(time.perf_counter() - t)
            compiled[n_threads].append(SPENT["compiled"])
    return {k: (float(np.median(whole[k])), float(np.median(compiled[k]))) for k in (1, 2)}


def floor(case, repeat):
    """Median ms on (1, 2) threads of the kernel's run alone and of the
    minimal pipeline (see the module docstring)."""
    from fastgrad._threads import single_threaded_blas
    from fastgrad.gradcheck._generic_kernel import block_norms

    blocks = case.model.spec.blocks
    grads = [np.ascontiguousarray(case.grads["d" + name]).reshape(-1) for name, _, _ in blocks]
    coords = range(sum(g.size for g in grads))

    def net_now():
        return mlp.KernelInputs(case.model, case.params, case.X, case.Y, 1e-7, None)

    with single_threaded_blas():
        built = net_now()

    def run_only(nt):
        built.run(coords, nt, False, "")

    def minimal(nt):
        with single_threaded_blas():
            numerical = net_now().run(coords, nt, False, "")[0]
        block_norms(grads, [numerical[sl] for _, sl, _ in blocks], None, True, nt)

    out = {}
    for name, fn in (("kernel run", run_only), ("minimal pipeline", minimal)):
        times = {1: [], 2: []}
        for _ in range(3):
            fn(1), fn(2)
        for _ in range(repeat):
            for nt in (1, 2):
                t = time.perf_counter()
                fn(nt)
                times[nt].append(time.perf_counter() - t)
        out[name] = tuple(float(np.median(times[nt])) * 1e3 for nt in (1, 2))
    return out


def bench_order(case, rounds, per=9):
    """Ratios (1 thread / 2 threads) of ``rounds`` rounds of bench/gradcheck.py's
    order: ``per`` checks on 1 thread, then ``per`` on 2, medians."""
    def check(n_threads):
        return fastgrad.gradient_check(case.model, case.params, case.grads, case.X, case.Y,
                                       n_threads=n_threads, progress=False)

    ratios = []
    for _ in range(rounds):
        medians = {}
        for n_threads in (1, 2):
            times = []
            for _ in range(per):
                t = time.perf_counter()
                check(n_threads)
                times.append(time.perf_counter() - t)
            medians[n_threads] = float(np.median(times))
        ratios.append(medians[1] / medians[2])
    return ratios


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--networks", default=",".join(G.ISSUE15))
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--floor", action="store_true",
                    help="also the kernel's run alone and a minimal pipeline, 1 vs 2 threads")
    ap.add_argument("--bench-order", type=int, default=0, metavar="ROUNDS",
                    help="instead: ROUNDS rounds of bench/gradcheck.py's order (9 checks on "
                         "1 thread, then 9 on 2), the spread of the ratio")
    args = ap.parse_args(argv)
    if args.bench_order:
        print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}, "
              f"fastgrad {fastgrad.__version__}, cores {os.cpu_count()}")
        print("| network | median | min | max | rounds below 1.8× |\n|---|---:|---:|---:|---:|")
        cases = [G.make_case(name) for name in args.networks.split(",")]
        warm = G.make_case("course")
        fastgrad.gradient_check(warm.model, warm.params, warm.grads, warm.X, warm.Y)
        for case in cases:
            r = bench_order(case, args.bench_order)
            print(f"| {case.label} | {np.median(r):.2f}× | {min(r):.2f}× | {max(r):.2f}× | "
                  f"{sum(x < 1.8 for x in r)} of {len(r)} |")
        return
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}, "
          f"fastgrad {fastgrad.__version__}, cores {os.cpu_count()}")
    head = ("| network | whole 1 thr | whole 2 thr | whole scaling | compiled 1 thr | "
            "compiled 2 thr | compiled scaling | serial (2 thr) | serial allowed for 1.8x |")
    print(head)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.networks.split(","):
        case = G.make_case(name)
        (w1, c1), (w2, c2) = phases(case, args.repeat).values()
        allowed = (c1 - 1.8 * c2) / 0.8
        print(f"| {case.label} | {w1 * 1e3:.2f} ms | {w2 * 1e3:.2f} ms | {w1 / w2:.2f}× | "
              f"{c1 * 1e3:.2f} ms | {c2 * 1e3:.2f} ms | {c1 / c2:.2f}× | "
              f"{(w2 - c2) * 1e3:.2f} ms | {allowed * 1e3:.2f} ms |")
    if args.floor:
        print("\n| network | what | 1 thr | 2 thr | scaling |\n|---|---|---:|---:|---:|")
        for name in args.networks.split(","):
            case = G.make_case(name)
            for what, (t1, t2) in floor(case, args.repeat).items():
                print(f"| {case.label} | {what} | {t1:.2f} ms | {t2:.2f} ms | {t1 / t2:.2f}× |")


if __name__ == "__main__":
    main()
