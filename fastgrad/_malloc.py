"""Worker processes of ours keep the memory the user's function frees.

glibc's malloc serves a request above its mmap threshold (128 KiB at
start, raised as such blocks are freed, up to 32 MiB) with a fresh mmap,
and gives the heap's free top back to the OS above its trim threshold. A
NumPy function with temporaries of a few MiB can then page-fault on every
call, and whether it does depends on the process's allocation history: the
same f ran at 1.6 or 2.7 ms per call in a forked worker, and at 0.6 or 1.2
ms in the parent, from one run to the next. A process fastgrad starts to
call f thousands of times (``workers=N``) sets both thresholds, so that f
reuses its freed memory from the first call on. The user's own process is
never changed. Elsewhere than glibc this does nothing.
"""

import ctypes

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's own ceiling for its dynamic threshold
TRIM_THRESHOLD = 64 << 20


def keep_freed_memory():
    """In a process of ours: blocks below 32 MiB from the heap, and up to
    64 MiB of freed heap kept. Returns whether glibc took both settings."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (macOS; Windows has no CDLL(None))
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    return mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
