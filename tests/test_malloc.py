"""fastgrad._malloc: the processes fastgrad starts for ``workers=N`` take a
temporary of the user's f from the heap, not from a fresh mmap per call.

Both tests run in a fresh interpreter, whose malloc has glibc's starting
thresholds (a test process has raised its own by whatever it freed before)."""

import ctypes
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _glibc():
    try:
        ctypes.CDLL(None).mallinfo2  # noqa: B018  (glibc >= 2.33)
    except (OSError, AttributeError):
        return False
    return True


pytestmark = pytest.mark.skipif(not _glibc(), reason="glibc's malloc only (mallinfo2)")

MALLINFO = '''
import os
import numpy as np

def mmapped_growth(n_bytes):
    """Bytes glibc serves by mmap while a fresh array of n_bytes lives
    (self-contained: it is shipped by value to the worker processes)."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                    "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = MallInfo2
    before = mallinfo2().hblkhd
    a = np.ones(n_bytes // 8)
    grew = mallinfo2().hblkhd - before
    del a
    return grew
'''


def _run(code):
    out = subprocess.run([sys.executable, "-c", MALLINFO + code], capture_output=True,
                         text=True, cwd=HERE, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_keep_freed_memory_takes_a_24_mib_block_from_the_heap():
    code = """
from fastgrad import _malloc
print(mmapped_growth(24 << 20))
print(int(_malloc.keep_freed_memory()), mmapped_growth(24 << 20))
"""
    default, ok, ours = map(int, _run(code))
    assert default >= 24 << 20  # glibc's start: served by mmap
    assert ok == 1 and ours == 0


def test_the_first_call_of_f_in_our_workers_reuses_the_heap(tmp_path):
    """f allocates a 24 MiB temporary only in the worker processes (so the
    caller's malloc never raised its own threshold for them to inherit):
    at its very first call in each worker, glibc takes it from the heap."""
    code = f"""
import time
from fastgrad import check_grad
parent, seen = os.getpid(), set()

def f(t):
    if os.getpid() != parent and os.getpid() not in seen:
        seen.add(os.getpid())
        with open(os.path.join({str(tmp_path)!r}, str(os.getpid())), "w") as fh:
            fh.write(str(mmapped_growth(24 << 20)))
    time.sleep(0.02)  # enough work that workers=2 is not kept serial
    return float(np.sum(t ** 2))

theta = np.linspace(0.1, 0.8, 8)
print(check_grad(f, theta, 2 * theta, workers=2).verdict)
"""
    assert _run(code) == ["great"]
    grown = [int(p.read_text()) for p in tmp_path.iterdir()]
    assert len(grown) == 2 and grown == [0, 0]
