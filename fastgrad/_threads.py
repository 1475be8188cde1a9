"""Turn ``n_threads`` into a thread count, and keep BLAS out of OpenMP's way."""
import contextlib
import operator
import os
import threading

import numpy as np

from fastgrad._openmp_helpers import max_threads, openmp_enabled


# Linux cgroup CPU quotas (v2, then v1): a container limited to 2 CPUs on a
# 64-core host still sees 64 cores in its affinity mask.
_CGROUP_FILES = (("/sys/fs/cgroup/cpu.max", None),
                 ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def _cgroup_cpus():
    """CPUs allowed by a cgroup quota, rounded up; None when there is none."""
    for first, second in _CGROUP_FILES:
        try:
            with open(first) as fh:
                fields = fh.read().split()
            if second is not None:
                with open(second) as fh:
                    fields = fields[:1] + fh.read().split()[:1]
            quota, period = fields[0], fields[1]
            if quota == "max" or int(quota) <= 0 or int(period) <= 0:
                return None
            return max(1, -(-int(quota) // int(period)))
        except (OSError, ValueError, IndexError):
            continue
    return None


def usable_cores():
    """The cores this process may run on: its CPU affinity where the OS tells
    (``os.sched_getaffinity``, which ``taskset`` and container cpusets
    restrict), else ``os.cpu_count()``, and no more than a cgroup CPU quota
    allows; at least 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = _cgroup_cpus()
    if quota is not None:
        n = min(n, quota)
    return max(1, n)


def effective_n_threads(n_threads=None):
    """Resolve ``n_threads`` once, in Python, before any kernel runs.

    ``None`` means the cores OpenMP would use (so ``OMP_NUM_THREADS`` is
    respected), ``-1`` all usable cores, a positive int that many. The answer
    never exceeds the usable cores (:func:`usable_cores`): more threads than
    cores only make a kernel slower, and thousands of them can exhaust memory
    inside the OpenMP runtime, which ends the process with no Python
    exception. ``0`` and other negatives are ValueErrors; anything but an int
    or None (``True``, ``"2"``, ``1.5``) is a TypeError. Without OpenMP the
    answer is always 1.
    """
    if n_threads is None:
        n = max_threads()
    else:
        if isinstance(n_threads, (bool, np.bool_)):
            raise TypeError(f"n_threads must be an int or None, got {n_threads!r} (bool)")
        try:
            n = operator.index(n_threads)
        except TypeError:
            raise TypeError(f"n_threads must be an int or None, got {n_threads!r} "
                            f"({type(n_threads).__name__})") from None
        if n == -1:
            n = usable_cores()
        elif n <= 0:
            raise ValueError(f"n_threads must be a positive int, -1 or None, got {n}")
    if not openmp_enabled():
        return 1
    return int(max(1, min(n, usable_cores())))


# BLAS is pinned to one thread process-wide, so concurrent checks from several
# Python threads share one pin: the first to enter records what was there and
# sets 1, the last to leave restores it. (Nested threadpoolctl limits entered
# and exited out of order would leave the process at 1 thread for good.)
_PIN_LOCK = threading.Lock()
_PIN = {"count": 0, "limiter": None}


@contextlib.contextmanager
def single_threaded_blas():
    """Hold BLAS to one thread while an OpenMP region calls it.

    Every OpenMP thread issues its own small BLAS calls; a threaded BLAS
    underneath would start a second pool per call and the two would fight for
    the same cores. A threaded BLAS may also round differently from a
    single-threaded one, so holding it at one thread is part of what makes
    results identical for every thread count. Re-entrant and thread-safe (a
    process-wide count under a lock): whatever the order in which concurrent
    users enter and leave, the limits in force before the first one entered
    are restored when the last one leaves. Without threadpoolctl this is a
    no-op (the calls are small enough that OpenBLAS stays single-threaded on
    its own).
    """
    with _PIN_LOCK:
        controller = _controller()
        if controller is None:
            pinned = False
        else:
            if _PIN["count"] == 0:
                _PIN["limiter"] = controller.limit(limits=1, user_api="blas")
            _PIN["count"] += 1
            pinned = True
    try:
        yield
    finally:
        if pinned:
            with _PIN_LOCK:
                _PIN["count"] -= 1
                if _PIN["count"] == 0:
                    limiter, _PIN["limiter"] = _PIN["limiter"], None
                    limiter.restore_original_limits()


_CONTROLLER = []


def _controller():
    """One ThreadpoolController per process: building one scans every loaded
    library, which costs milliseconds a check should not pay each time."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _CONTROLLER.append(None)
        else:
            _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]
