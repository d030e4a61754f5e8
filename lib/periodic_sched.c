/* PeriodicCallback's schedule arithmetic (see periodic_sched.h). */
#include "periodic_sched.h"

uint64_t tn__periodic_next(uint64_t next, uint64_t now, uint64_t period)
{
    if (period == 0)
        period = 1;
    if (next <= now)
        return next + ((now - next) / period + 1) * period;
    return next + period;
}

uint64_t tn__periodic_jitter(uint64_t period, double jitter, double unit)
{
    if (jitter <= 0)
        return period;
    double scaled = (double)period * (1.0 + jitter * (unit - 0.5));
    return scaled < 1.0 ? 1 : (uint64_t)scaled;
}
