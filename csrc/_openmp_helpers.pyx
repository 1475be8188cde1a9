"""What the compiled build knows about OpenMP."""
from _openmp cimport FASTGRAD_OPENMP, FASTGRAD_SERIAL_BY_REQUEST, omp_get_max_threads

# An exported C symbol that no other library has: threadpoolctl recognises
# fastgrad's thread pool by it (fastgrad/_threads.py registers a controller
# for files named _openmp_helpers* that export it; scikit-learn has a module
# of the same name).
cdef extern from *:
    """
    #if defined(_WIN32)
    __declspec(dllexport)
    #else
    __attribute__((visibility("default")))
    #endif
    int fastgrad_openmp_build(void) { return FASTGRAD_OPENMP; }
    """
    int fastgrad_openmp_build() noexcept nogil


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(fastgrad_openmp_build())


def serial_requested():
    """True when a serial build was asked for (``FASTGRAD_NO_OPENMP=1`` at build time)."""
    return bool(FASTGRAD_SERIAL_BY_REQUEST)


def max_threads():
    """OpenMP's default team size (respects ``OMP_NUM_THREADS``); 1 without OpenMP."""
    return omp_get_max_threads()
