# The one place fastgrad talks to OpenMP. Without _OPENMP (a serial build)
# the functions fall back to a single thread, so every kernel still compiles
# and gives the same bits.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FASTGRAD_OPENMP 1
    #else
    #define FASTGRAD_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    static int omp_get_thread_num(void) { return 0; }
    #endif
    #ifdef FASTGRAD_SERIAL_REQUESTED
    #define FASTGRAD_SERIAL_BY_REQUEST 1
    #else
    #define FASTGRAD_SERIAL_BY_REQUEST 0
    #endif
    """
    bint FASTGRAD_OPENMP
    bint FASTGRAD_SERIAL_BY_REQUEST
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
