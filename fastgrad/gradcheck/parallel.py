"""Coordinates of a callable check spread over processes (``workers=``).

``workers=N`` starts a ``ProcessPoolExecutor`` of N processes for the check
(and shuts it down after); ``workers=`` also takes any
``concurrent.futures.Executor`` (a ``dask.distributed`` client's
``get_executor()``, a Ray pool, a thread pool), which is used as is and left
running. ``f`` is shipped once per chunk with cloudpickle (the ``parallel``
extra), so lambdas and closures work.

Every worker runs the very loop of the serial check on its chunk of
coordinates, at the same θ and the same step, so the report is identical to
the bit to the serial run (for an ``f`` that is deterministic, and whose
results do not depend on the BLAS thread count: workers hold BLAS at one
thread so that N processes do not oversubscribe the cores).

Chunks: from the time of the one call of ``f`` at θ, chunks of about 0.1 s
of work each (at least 4 chunks per worker when there is enough work, for
balance). With ``workers=N`` (processes started for the check), a check
whose whole serial run is estimated below 0.2 s stays serial: starting
processes would cost more than it saves.
"""

from __future__ import annotations

import math
import numbers
import time
from concurrent.futures import Executor, ProcessPoolExecutor

import numpy as np

CHUNK_SECONDS = 0.1
SERIAL_BELOW = 0.2


def check_workers(value):
    """None, a positive int, or an Executor; returns it (1 -> None)."""
    if value is None or isinstance(value, Executor):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            "workers must be None, a positive int or a concurrent.futures.Executor, "
            f"got {value!r} ({type(value).__name__})"
        )
    if value < 1:
        raise ValueError(f"workers must be a positive int, got {value!r}")
    return None if value == 1 else int(value)


def _cloudpickle():
    try:
        import cloudpickle
    except ImportError:
        raise ImportError(
            "workers= needs cloudpickle to ship f to the worker processes: "
            "pip install 'fastgrad[parallel]' (or pip install cloudpickle)"
        ) from None
    return cloudpickle


def plan(workers, n_coords, seconds_per_call, calls_per_coord=2):
    """(use_parallel, chunk size, n_workers) for ``n_coords`` coordinates."""
    if workers is None or n_coords < 2:
        return False, n_coords, 1
    if isinstance(workers, Executor):
        n = getattr(workers, "_max_workers", None) or 2
    else:
        n = workers
    per = max(seconds_per_call * calls_per_coord, 1e-7)
    if not isinstance(workers, Executor) and per * n_coords < SERIAL_BELOW:
        return False, n_coords, 1
    chunk = max(1, math.ceil(CHUNK_SECONDS / per))
    chunk = min(chunk, max(1, math.ceil(n_coords / (4 * n))))
    return True, chunk, n


def _run_chunk(payload, kind, coords):
    """In a worker: rebuild θ and its views, run the serial loop on ``coords``
    with BLAS held at one thread (N workers each with a threaded BLAS would
    fight for the same cores)."""
    from fastgrad._threads import single_threaded_blas

    with single_threaded_blas():
        return _chunk(payload, kind, coords)


def _chunk(payload, kind, coords):
    import cloudpickle

    from fastgrad.gradcheck import generic, lowprec

    f, st, flat, eps, fname, extra = cloudpickle.loads(payload)
    view = st.views(flat)
    if kind == "vjp":
        from fastgrad.gradcheck import vjp

        return vjp.numerical_vjp(f, flat, view, extra, st.blocks, fname, False, coords)
    if kind == "central":
        values = np.empty((coords.size, 2))
        out = generic.central_differences(
            f, flat, view, eps, coords, st.blocks, fname, False, "", values=values
        )
        return out, values, None
    n, values, hp, hm, h = lowprec.differences(
        f, flat, view, eps, coords, st.blocks, fname, False, ""
    )
    return n, values, (hp, hm, h)


def run(workers, kind, f, st, flat, eps, coords, fname, chunk, progress_bar=None, extra=None):
    """Run chunks of ``coords`` on ``workers``; results in coordinate order."""
    cp = _cloudpickle()
    payload = cp.dumps((f, st, flat, eps, fname, extra))
    own = not isinstance(workers, Executor)
    ex = ProcessPoolExecutor(max_workers=workers) if own else workers
    try:
        parts = [coords[i : i + chunk] for i in range(0, coords.size, chunk)]
        futures = [ex.submit(_run_chunk, payload, kind, p) for p in parts]
        results, done = [], 0
        for p, fut in zip(parts, futures):
            results.append(fut.result())
            done += p.size
            if progress_bar is not None:
                progress_bar.update(done)
    finally:
        if own:
            ex.shutdown(wait=True, cancel_futures=True)
    out = np.concatenate([r[0] for r in results])
    values = np.concatenate([r[1] for r in results])
    if kind == "vjp":
        return out, values, None, len(parts)
    steps = None
    if kind == "f32":
        steps = tuple(np.concatenate([r[2][j] for r in results]) for j in range(3))
    return out, values, steps, len(parts)


def describe(workers, n_workers, n_chunks, chunk):
    """The report's line about the parallel run."""
    who = (
        f"{n_workers} processes"
        if not isinstance(workers, Executor)
        else f"{type(workers).__name__} ({n_workers} workers)"
    )
    return f"workers: {who}, {n_chunks} chunks of <= {chunk} coordinates"


def timed(fn, *args):
    t = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - t
