"""Turn ``n_threads`` into a thread count, and keep BLAS out of OpenMP's way."""

import contextlib
import operator
import os
import threading
import time

import numpy as np

from fastgrad._openmp_helpers import max_threads, openmp_enabled

# Linux cgroup CPU quotas (v2, then v1): a container limited to 2 CPUs on a
# 64-core host still sees 64 cores in its affinity mask.
_CGROUP_FILES = (
    ("/sys/fs/cgroup/cpu.max", None),
    ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
)


# A quota is read again after this many seconds: a check asks for it a few
# times (~0.1 ms of file reads each), and a quota changed under a running
# process (``docker update --cpus``) is still seen within a second.
CGROUP_SECONDS = 1.0
_CGROUP_READ = {}  # files -> (monotonic time, quota)


def _cgroup_quota():
    """:func:`_cgroup_cpus`, read at most once a second."""
    now = time.monotonic()
    seen = _CGROUP_READ.get(_CGROUP_FILES)
    if seen is None or now - seen[0] > CGROUP_SECONDS:
        seen = _CGROUP_READ[_CGROUP_FILES] = (now, _cgroup_cpus())
    return seen[1]


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
    quota = _cgroup_quota()
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
            raise TypeError(
                f"n_threads must be an int or None, got {n_threads!r} ({type(n_threads).__name__})"
            ) from None
        if n == -1:
            n = usable_cores()
        elif n <= 0:
            raise ValueError(f"n_threads must be a positive int, -1 or None, got {n}")
    if not openmp_enabled() or _STATE["forked"]:
        return 1
    n = int(max(1, min(n, thread_limit())))
    if n > 1:
        _STATE["parallel"] = True
    return n


# -- fork safety and threadpoolctl --------------------------------------------
# GNU libgomp keeps its worker threads after a parallel region; fork() copies
# only the calling thread, so a child's next parallel region waits for
# workers that do not exist and hangs (scikit-learn and PyTorch users meet
# this with multiprocessing's "fork" start method). A child forked after
# fastgrad asked for more than one thread therefore runs its kernels on one
# thread: the same results, and no hang. "limit" is the cap that
# threadpoolctl.threadpool_limits sets (see _FastgradController below).
_STATE = {"parallel": False, "forked": False, "limit": None}


def _after_fork_in_child():
    if _STATE["parallel"]:
        _STATE["forked"] = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def forked_serial():
    """True in a process forked after fastgrad ran a parallel region: its
    kernels run on one thread (see ``effective_n_threads``)."""
    return _STATE["forked"]


def thread_limit():
    """The most threads a kernel may use: the usable cores, or fewer under
    ``threadpoolctl.threadpool_limits`` (1 in a child forked after a
    parallel region, or without OpenMP)."""
    if not openmp_enabled() or _STATE["forked"]:
        return 1
    cores = usable_cores()
    return cores if _STATE["limit"] is None else min(cores, _STATE["limit"])


def set_thread_limit(n):
    """Cap fastgrad's threads at ``n`` (a positive int), or lift the cap (None).
    A cap at or above the usable cores is no cap."""
    if n is not None:
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive int or None, got {n!r}")
        n = None if n >= usable_cores() else int(n)
    _STATE["limit"] = n


def _register_with_threadpoolctl():
    """Make threadpoolctl.threadpool_limits(...) cap fastgrad's own pool.

    threadpoolctl >= 3.0 takes extra controllers (``threadpoolctl.register``).
    It finds libraries by file name among those loaded, then checks a symbol:
    fastgrad's ``_openmp_helpers`` extension exports ``fastgrad_openmp_build``
    (scikit-learn has a module of the same name, without that symbol). The
    controller reports ``user_api="openmp"``, ``internal_api="fastgrad"``, so
    ``threadpool_limits(1)`` and ``threadpool_limits(1, user_api="openmp")``
    both hold fastgrad to one thread. Returns the class, or None when
    threadpoolctl is missing or too old (then ``n_threads=`` is the knob).
    """
    try:
        import threadpoolctl
    except ImportError:
        return None
    if not hasattr(threadpoolctl, "register") or not hasattr(threadpoolctl, "LibController"):
        return None

    class _FastgradController(threadpoolctl.LibController):
        user_api = "openmp"
        internal_api = "fastgrad"
        filename_prefixes = ("_openmp_helpers",)
        check_symbols = ("fastgrad_openmp_build",)

        def get_num_threads(self):
            return thread_limit()

        def set_num_threads(self, num_threads):
            set_thread_limit(num_threads)

        def get_version(self):
            from fastgrad._version import __version__

            return __version__

        def set_additional_attributes(self):
            self.openmp = openmp_enabled()

    threadpoolctl.register(_FastgradController)
    return _FastgradController


_CONTROLLER_CLASS = _register_with_threadpoolctl()


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
            if _PIN["count"] == 0 and not _blas_single(controller):
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
                    if limiter is not None:
                        limiter.restore_original_limits()
                    elif not _blas_single(controller):
                        # one thread when the first entered, changed since
                        controller.limit(limits=1, user_api="blas")


def _blas_single(controller):
    """Whether every BLAS the controller knows runs on one thread already
    (``OPENBLAS_NUM_THREADS=1``): then there is nothing to set or restore,
    and ~0.2 ms of threadpoolctl bookkeeping per check is saved."""
    try:
        return all(
            lib.num_threads == 1 for lib in controller.lib_controllers if lib.user_api == "blas"
        )
    except Exception:  # noqa: BLE001  (an unreadable library: pin as before)
        return False


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
