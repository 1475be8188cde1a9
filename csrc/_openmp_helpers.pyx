"""What the compiled build knows about OpenMP."""
from _openmp cimport FASTGRAD_OPENMP, omp_get_max_threads


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(FASTGRAD_OPENMP)


def max_threads():
    """OpenMP's default team size (respects ``OMP_NUM_THREADS``); 1 without OpenMP."""
    return omp_get_max_threads()
