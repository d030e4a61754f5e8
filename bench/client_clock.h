/* The clocks the client benchmarks report: the process's CPU seconds (user +
 * system) and monotonic wall seconds. */
#ifndef TN_BENCH_CLIENT_CLOCK_H
#define TN_BENCH_CLIENT_CLOCK_H

#include <sys/resource.h>
#include <time.h>

static inline double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static inline double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
