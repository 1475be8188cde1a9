"""Coordinates of a callable check spread over processes (``workers=``).

``workers=N`` starts a ``ProcessPoolExecutor`` of N processes for the check
(and shuts it down after; a worker that dies has its chunks rerun in a fresh
pool; they keep the memory ``f`` frees, see :mod:`fastgrad._malloc`);
``workers=`` also takes a ``dask.distributed.Client`` (``f``, θ and the data
are scattered once to every worker; dask reruns the tasks of a worker that
dies) and any ``concurrent.futures.Executor`` (a Ray pool, a
thread pool), which is used as is and left running. ``f`` is shipped with
cloudpickle (the ``parallel`` extra), so lambdas and closures work; processes
of ours that fork inherit it as it is, with nothing pickled; the
running of chunks is :mod:`fastgrad.gradcheck.distributed`.

Every worker runs the very loop of the serial check on its chunk of
coordinates, at the same θ and the same step, so the report is identical to
the bit to the serial run (for an ``f`` that is deterministic, and whose
results do not depend on the BLAS thread count: workers hold BLAS at one
thread so that N processes do not oversubscribe the cores).

Chunks: from the time of the one call of ``f`` at θ, chunks of at most
about 0.1 s of work each (at least 4 chunks per worker when there is enough
work), as many as a multiple of the workers, of equal sizes. With
``workers=N`` (processes started for the check), a check whose whole serial
run is estimated below 0.2 s stays serial: starting processes would cost
more than it saves.
"""

from __future__ import annotations

import math
import numbers
import time
from concurrent.futures import Executor

import numpy as np

from fastgrad.gradcheck import distributed

CHUNK_SECONDS = 0.1
SERIAL_BELOW = 0.2


def check_workers(value):
    """None, a positive int, an Executor or a dask.distributed.Client;
    returns it (1 -> None)."""
    if distributed.is_client(value):
        return distributed.usable_client(value)
    if value is None or isinstance(value, Executor):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            "workers must be None, a positive int, a concurrent.futures.Executor or a "
            f"dask.distributed.Client, got {value!r} ({type(value).__name__})"
        )
    if value < 1:
        raise ValueError(f"workers must be a positive int, got {value!r}")
    return None if value == 1 else int(value)


def plan(workers, n_coords, seconds_per_call, calls_per_coord=2):
    """(use_parallel, chunk size, n_workers) for ``n_coords`` coordinates."""
    if workers is None or n_coords < 2:
        return False, n_coords, 1
    n = distributed.n_workers(workers)
    per = max(seconds_per_call * calls_per_coord, 1e-7)
    own = not isinstance(workers, Executor) and not distributed.is_client(workers)
    if own and per * n_coords < SERIAL_BELOW:
        return False, n_coords, 1
    chunk = max(1, math.ceil(CHUNK_SECONDS / per))
    chunk = min(chunk, max(1, math.ceil(n_coords / (4 * n))))
    return True, chunk, n


def n_chunks(n_coords, chunk, n):
    """Chunks of at most ``chunk`` coordinates, as many as a multiple of the
    ``n`` workers and of equal sizes (to one coordinate): with 11 chunks of
    28 and one of 13 on two workers, one worker would finish 15 coordinates
    after the other."""
    k = math.ceil(n_coords / chunk)
    return min(n_coords, n * math.ceil(k / n))


def _unpack(data):
    """In a worker, once per check: θ's block views next to what was shipped."""
    f, st, flat, eps, fname, extra = data
    return f, st, flat, st.views(flat), eps, fname, extra


def run(workers, work, f, st, flat, eps, coords, fname, chunk, progress_bar=None, extra=None):
    """Run chunks of ``coords`` on ``workers``; results in coordinate order.

    ``work(shipped, coords)`` is the caller's serial loop on one chunk (a
    module-level function of the check's own module, so that it pickles by
    reference and this module needs none of the checks); ``shipped`` is
    ``(f, st, flat, st.views(flat), eps, fname, extra)``. It returns
    ``(numerical, values, steps)``, ``steps`` a tuple of arrays or None."""
    parts = np.array_split(coords, n_chunks(coords.size, chunk, distributed.n_workers(workers)))
    with distributed.Shards(workers, _unpack, (f, st, flat, eps, fname, extra)) as shards:
        results = shards.map(work, parts, [p.size for p in parts], progress_bar)
    out = np.concatenate([r[0] for r in results])
    values = np.concatenate([r[1] for r in results])
    steps = None
    if results[0][2] is not None:
        steps = tuple(np.concatenate([r[2][j] for r in results]) for j in range(len(results[0][2])))
    return out, values, steps, len(parts)


def describe(workers, n_workers, n_chunks, chunk):
    """The report's line about the parallel run."""
    return f"workers: {distributed.describe(workers)}, {n_chunks} chunks of <= {chunk} coordinates"


def timed(fn, *args):
    t = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - t
