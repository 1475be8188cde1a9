"""Shards of a check run by other processes or machines (``workers=``).

One :class:`Shards` per check ships the check's data once and runs
``work(obj, item)`` for every shard ``item``, where ``obj`` is built in the
worker from that data (``build(data)``) once per worker thread and cached
there under the check's token, so a worker that runs many shards builds the
expensive part (an MLP's forward pass and compiled net) once.

``workers`` is one of:

* an int N: a ``ProcessPoolExecutor`` of N processes, started for the check
  and shut down after; the data goes to each process once, when it starts
  (its initializer: inherited as is where processes fork, pickled where
  they spawn), and the shards carry only the check's token. A worker
  process that dies (killed, out of memory) breaks the pool; the shards not
  yet finished run again in a fresh pool, at most ``MAX_RETRIES`` times,
  then a RuntimeError says how many coordinates were left. Nothing is
  silently dropped.
* a ``dask.distributed.Client``: the data is scattered once to every worker
  (``broadcast=True``) and each shard is a task depending on it; dask itself
  reruns the tasks of a worker that dies (up to the scheduler's
  ``distributed.scheduler.allowed-failures``, then ``KilledWorker``). Dask
  keeps one copy of scattered data once its memory manager trims the
  broadcast, and cannot recompute it: if that copy dies with its worker,
  the shards not finished are cancelled, and the data is scattered again
  and those shards rerun, at most ``MAX_RETRIES`` times.
* any other ``concurrent.futures.Executor``: used as is and left running;
  the data is pickled with each shard (``submit`` has no scatter), the
  worker still builds once (and keeps what it built for the last two checks,
  as there is no way to reach every worker of a foreign executor after). A
  broken executor is reported, not retried (it is not ours to restart).

Results come back in shard order whatever order the shards finish in, so
the caller reassembles exactly what a serial run would have produced.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import (
    BrokenExecutor,
    CancelledError,
    Executor,
    ProcessPoolExecutor,
    as_completed,
    wait,
)

from fastgrad._malloc import keep_freed_memory

MAX_RETRIES = 3
# Checks whose built objects a worker keeps (a newer check evicts the oldest).
_KEEP = 2
_CACHE: OrderedDict = OrderedDict()  # token -> {thread id: built object}
_CACHE_LOCK = threading.Lock()
_RECEIVED = {}  # token -> (pickled payload or None, data or None), in a process of our own pool
# Manager threads of our pools that were let go without waiting: joined
# before the next pool forks, so that no fork happens while they run.
_DRAINING = []


def _receive(token, payload, data=None):
    """Initializer of our own pool's processes: the check's data, once (the
    objects themselves in a forked process, else their pickle, unpickled at
    the first shard so that an error there is the shard's, not a broken
    pool), and malloc settings for calling ``f`` over and over
    (:mod:`fastgrad._malloc`)."""
    keep_freed_memory()
    _RECEIVED.clear()
    _RECEIVED[token] = (payload, data)


def _join_draining():
    """Wait for the pools let go earlier to finish stopping (safe from
    several threads: each manager thread is popped by one of them)."""
    while True:
        try:
            manager = _DRAINING.pop()
        except IndexError:
            return
        manager.join()


def is_client(value):
    """Whether ``value`` is a ``dask.distributed.Client`` (without importing
    distributed: a program that made a Client has imported it already)."""
    mod = sys.modules.get("distributed")
    return mod is not None and isinstance(value, mod.Client)


def usable_client(client):
    """``client``, or a clear error for one the check cannot use: closed,
    asynchronous (its methods return coroutines), or with no workers (the
    shards would wait for ever)."""
    if getattr(client, "asynchronous", False):
        raise ValueError(
            "workers= is an asynchronous dask Client; the check waits for its shards, so "
            "pass a synchronous Client (Client(...) without asynchronous=True)"
        )
    if getattr(client, "status", "running") != "running":
        raise ValueError(
            f"workers= is a dask Client that is {client.status}: it cannot take work; pass "
            "a running Client, an int (fastgrad starts its own processes) or None"
        )
    if not sum(client.nthreads().values()):
        raise ValueError(
            "workers= is a dask Client with no workers: the shards would wait for ever; "
            "start workers first (client.wait_for_workers(n)) or pass workers=None"
        )
    return client


def n_workers(workers):
    """How many shards run at once on ``workers``."""
    if is_client(workers):
        return max(1, sum(workers.nthreads().values()))
    if isinstance(workers, Executor):
        return getattr(workers, "_max_workers", None) or 2
    return int(workers)


def describe(workers):
    if is_client(workers):
        return f"dask Client ({n_workers(workers)} worker threads)"
    if isinstance(workers, Executor):
        return f"{type(workers).__name__} ({n_workers(workers)} workers)"
    return f"{workers} processes"


def _cloudpickle():
    try:
        import cloudpickle
    except ImportError:
        raise ImportError(
            "workers= needs cloudpickle to ship the check to the worker processes: "
            "pip install 'fastgrad[parallel]' (or pip install cloudpickle)"
        ) from None
    return cloudpickle


def _built(token, payload, build):
    """The object ``build`` makes from ``payload``, once per (check, thread):
    a thread of its own because the built object (an MLP net with its
    linear maps) is not safe to run from two threads at once."""
    me = threading.get_ident()
    with _CACHE_LOCK:
        per = _CACHE.get(token)
        if per is not None and me in per:
            _CACHE.move_to_end(token)
            return per[me]
    if payload is None:
        payload, data = _RECEIVED[token]
    if payload is not None:
        import cloudpickle

        data = cloudpickle.loads(payload)
    obj = build(data)
    with _CACHE_LOCK:
        _CACHE.setdefault(token, {})[me] = obj
        _CACHE.move_to_end(token)
        while len(_CACHE) > _KEEP:
            _CACHE.popitem(last=False)
    return obj


def _forget(token):
    """In a worker, after the check: free what it built."""
    with _CACHE_LOCK:
        _CACHE.pop(token, None)


def _task(token, payload, build, work, item):
    """One shard, in a worker, with BLAS on one thread (N workers each with a
    threaded BLAS would fight for the same cores, and a threaded BLAS may
    round differently from the serial check's)."""
    from fastgrad._threads import single_threaded_blas

    with single_threaded_blas():
        return work(_built(token, payload, build), item)


class Shards:
    """One check's shipped data on ``workers``; use as a context manager."""

    def __init__(self, workers, build, data):
        self.workers, self.build, self.data = workers, build, data
        _cloudpickle()  # a missing extra is said before any work
        self._payload = None
        self.token = uuid.uuid4().hex
        self.retries = 0
        self.n_shards = 0
        self._pool = None  # our own ProcessPoolExecutor (workers=N)
        self._scattered = None  # the payload's future on a dask cluster
        self._shipped = False  # to a dask cluster (its workers build and cache)

    @property
    def payload(self):
        """The data, pickled once, when a worker needs it pickled."""
        if self._payload is None:
            try:
                self._payload = _cloudpickle().dumps(self.data)
            except Exception as e:  # a lock, an open file, a generator inside f
                raise TypeError(
                    f"workers= ({describe(self.workers)}) is sent f (or the model), theta "
                    "and the data pickled (cloudpickle), and they do not pickle: "
                    f"{type(e).__name__}: {e}. Keep locks, open files and generators out of "
                    "f, or run with workers=None"
                ) from e
        return self._payload

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.close(wait=exc_type is not None)

    def close(self, wait=True):
        """Free the check's data on the workers and stop our own pool. After
        a check that finished, its idle processes exit in the background
        (``wait=False``; ~3.5 ms sooner back to the caller); after an error
        the pool is joined before the error reaches the caller."""
        _forget(self.token)  # what a thread pool of this process built
        if self._pool is not None:
            manager = getattr(self._pool, "_executor_manager_thread", None)
            self._pool.shutdown(wait=wait, cancel_futures=True)
            if not wait and manager is not None:
                _DRAINING.append(manager)
            self._pool = None
        if self._shipped:
            client, self._scattered, self._shipped = self.workers, None, False
            try:
                client.run(_forget, self.token)
            except Exception:  # noqa: BLE001  (freeing memory is best effort)
                pass

    def map(self, work, items, sizes, bar=None):
        """``[work(obj, item) for item in items]`` run on the workers;
        ``bar.update`` gets the sum of ``sizes`` of the finished shards."""
        self.n_shards += len(items)
        run = self._map_client if is_client(self.workers) else self._map_executor
        return run(work, list(items), list(sizes), _Tally(sizes, bar))

    def _map_client(self, work, items, sizes, tally):
        results = [None] * len(items)
        pending = list(range(len(items)))
        while True:
            pending = self._run_on_client(work, items, pending, results, tally)
            if not pending:
                return results
            # The data's last copy died with a worker. Scattered data cannot
            # be recomputed, and dask's memory manager soon trims a broadcast
            # to one copy, so the scheduler forgets it and cancels every shard
            # not finished: ship the data again and rerun those shards.
            self._scattered = None
            self.retries += 1
            if self.retries > MAX_RETRIES:
                left = sum(sizes[i] for i in pending)
                raise RuntimeError(
                    f"the check's data was lost on the dask cluster {self.retries} times "
                    f"(its workers died); {left} of {sum(sizes)} coordinates were not "
                    "computed. Look for workers killed by the system (out of memory?)"
                )

    def _run_on_client(self, work, items, pending, results, tally):
        """Run the shards ``pending`` (indices into ``items``) into ``results``;
        return those dask cancelled because their data was lost."""
        from distributed import as_completed as dask_completed

        client = self.workers
        if self._scattered is None:
            self._scattered = client.scatter(self.payload, broadcast=True, hash=False)
            self._shipped = True
        futures = [
            client.submit(
                _task, self.token, self._scattered, self.build, work, items[i], pure=False
            )
            for i in pending
        ]
        where = {f.key: n for n, f in enumerate(futures)}
        lost, failed = [], None
        try:
            for fut in dask_completed(futures):
                n = where[fut.key]
                if fut.cancelled():  # we cancel nothing before raising: the data was lost
                    lost.append(pending[n])
                    continue
                try:
                    results[pending[n]] = fut.result()
                except Exception as e:  # an error in f, KilledWorker: the one a serial run meets
                    if isinstance(e, CancelledError) and fut.status != "error":
                        # finished, but its result died with its worker before
                        # it was collected (dask: "already forgotten"): run it
                        # again (a CancelledError that f raised has status "error")
                        lost.append(pending[n])
                        continue
                    client.cancel(futures[n + 1 :])
                    failed = _earliest_error(futures[:n], e)
                    break
                tally.done(pending[n])
            if failed is not None:
                raise failed  # outside the handler: its own __cause__/__context__ kept
        except BaseException:  # an error, Ctrl-C: stop the rest
            client.cancel(futures)
            raise
        return sorted(lost)

    def _executor(self):
        if isinstance(self.workers, Executor):
            return self.workers
        if self._pool is None:
            # Found once here, the BLAS controller is inherited by the forked
            # processes: each would otherwise spend ~3 ms looking for it.
            from fastgrad._threads import _controller

            _controller()
            # A fork while the last check's pool is still stopping would copy
            # a process with running threads (a deadlock hazard, and a
            # DeprecationWarning from Python 3.12 on): let it finish first.
            _join_draining()
            if multiprocessing.get_start_method() == "fork":
                # A forked process has the objects already: no pickling.
                initargs = (self.token, None, self.data)
            else:
                initargs = (self.token, self.payload)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, initializer=_receive, initargs=initargs
            )
        return self._pool

    def _map_executor(self, work, items, sizes, tally):
        results = [None] * len(items)
        pending = set(range(len(items)))
        while True:
            ex = self._executor()
            # our own processes got the payload when they started
            payload = None if ex is self._pool else self.payload
            futures, broken, failed = {}, None, None
            try:
                for i in sorted(pending):
                    futures[ex.submit(_task, self.token, payload, self.build, work, items[i])] = i
            except BrokenExecutor as e:
                # A worker died while shards were still being submitted: collect
                # what was submitted, then restart (or report, for the user's pool).
                if not futures and ex is not self._pool:
                    raise self._cannot_take_work(e) from e
                broken = e
            except RuntimeError as e:  # the user's executor was shut down
                if ex is self._pool:
                    raise
                raise self._cannot_take_work(e) from e
            try:
                for fut in as_completed(futures):
                    i = futures[fut]
                    try:
                        results[i] = fut.result()
                    except BrokenExecutor as e:
                        broken = e
                        continue
                    except Exception as e:  # an error in f: the one a serial run meets
                        order = list(futures)
                        for later in order[order.index(fut) + 1 :]:
                            later.cancel()
                        failed = _earliest_error(order[: order.index(fut)], e)
                        break
                    pending.discard(i)
                    tally.done(i)
                if failed is not None:
                    raise failed  # outside the handler: its own __cause__/__context__ kept
            except BaseException:  # an error in f, Ctrl-C: stop the rest, then let go
                _stop(futures)
                raise
            if not pending:
                return results
            self._restart(broken, sum(sizes[i] for i in pending), sum(sizes))

    def _cannot_take_work(self, e):
        return RuntimeError(
            f"workers={self.workers!r} cannot take work ({e}); pass an executor "
            "that is running, an int (fastgrad starts its own processes) or None"
        )

    def _restart(self, broken, left, total):
        """A fresh pool for the unfinished shards, or a clear error."""
        if isinstance(self.workers, Executor):
            raise RuntimeError(
                f"workers={self.workers!r} broke during the check ({broken}); {left} of "
                f"{total} coordinates were not computed. Pass workers=N (fastgrad restarts "
                "its own pool) or a dask.distributed.Client (dask retries lost tasks)"
            ) from broken
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self.retries += 1
        if self.retries > MAX_RETRIES:
            raise RuntimeError(
                f"worker processes died {self.retries} times during the check ({broken}); "
                f"{left} of {total} coordinates were not computed. Look for a worker "
                "killed by the system (out of memory?) or run with workers=None"
            ) from broken


def _earliest_error(earlier, err):
    """The error of the first of the ``earlier`` shards (in coordinate order)
    that fails, else ``err``: what a serial run would have raised, whichever
    shard happened to finish first. Waits for the earlier shards; one that
    never ran (a broken pool, data lost on dask) is passed over, so if it
    would have failed too, the error raised is a later shard's."""
    for fut in earlier:
        try:
            fut.result()
        except BrokenExecutor:
            continue
        except Exception as e:  # noqa: BLE001  (handed to the caller)
            if fut.cancelled():
                continue
            return e
    return err


def _stop(futures):
    """Cancel the shards not started and wait for the running ones, so none
    of them builds into the cache after the check has freed it."""
    for fut in futures:
        fut.cancel()
    wait(futures)


class _Tally:
    """Progress as shards finish, in whatever order."""

    def __init__(self, sizes, bar):
        self.sizes, self.bar, self.count = sizes, bar, 0

    def done(self, i):
        self.count += self.sizes[i]
        if self.bar is not None:
            self.bar.update(self.count)
