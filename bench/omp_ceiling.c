/* The machine's own 2-thread scaling, as a ceiling for bench/gradcheck.py's
 * "2 threads vs 1": each thread runs a chain of dependent multiply-adds in
 * registers (no memory traffic, no serial part), so 1 thread doing two
 * chains against 2 threads doing one each can only lose to the machine
 * (other guests on the host, frequency, vCPU scheduling).
 *
 *   gcc -O2 -fopenmp bench/omp_ceiling.c -o /tmp/omp_ceiling && /tmp/omp_ceiling
 *
 * Prints, per round: seconds on 1 thread, on 2, and their ratio. */
#include <omp.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double chain(long n)
{
    double x = 1.0, y = 0.5;
    for (long i = 0; i < n; i++) {
        x = x * 0.9999999 + y;
        y = y * 0.9999998 + 1e-9;
    }
    return x + y;
}

int main(void)
{
    const long n = 40000000;
    double sink = 0.0;
    printf("1 thread s, 2 threads s, ratio\n");
    for (int round = 0; round < 15; round++) {
        double t = now();
#pragma omp parallel num_threads(1) reduction(+ : sink)
        {
            sink += chain(n);
            sink += chain(n);
        }
        double t1 = now() - t;
        t = now();
#pragma omp parallel num_threads(2) reduction(+ : sink)
        sink += chain(n);
        double t2 = now() - t;
        printf("%.3f %.3f %.3f\n", t1, t2, t1 / t2);
    }
    return sink == 0.0;  /* keeps the chains from being optimized away */
}
