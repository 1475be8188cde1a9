"""Turn ``n_threads`` into a thread count, and keep BLAS out of OpenMP's way."""
import contextlib
import operator

from fastgrad._openmp_helpers import max_threads, openmp_enabled


def effective_n_threads(n_threads=None):
    """Resolve ``n_threads`` once, in Python, before any kernel runs.

    ``None`` means the cores OpenMP would use (so ``OMP_NUM_THREADS`` is
    respected), ``-1`` all of them, a positive int that many; ``0`` and other
    negatives are errors. Without OpenMP the answer is always 1.
    """
    if n_threads is None:
        n = max_threads()
    else:
        try:
            n = operator.index(n_threads)
        except TypeError:
            raise TypeError(
                f"n_threads must be an int or None, got {type(n_threads).__name__}"
            ) from None
        if n == -1:
            n = max_threads()
        elif n <= 0:
            raise ValueError(f"n_threads must be a positive int, -1 or None, got {n}")
    if not openmp_enabled():
        return 1
    return max(1, n)


@contextlib.contextmanager
def single_threaded_blas():
    """Hold BLAS to one thread while an OpenMP region calls it.

    Every OpenMP thread issues its own small BLAS calls; a threaded BLAS
    underneath would start a second pool per call and the two would fight for
    the same cores. Without threadpoolctl this is a no-op (the calls are small
    enough that OpenBLAS stays single-threaded on its own).
    """
    controller = _controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


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
