/* The schedule of a periodic callback, as a pure function so it can be
 * tested against Tornado's numbers without a clock. */
#ifndef TN_LIB_PERIODIC_SCHED_H
#define TN_LIB_PERIODIC_SCHED_H

#include <stdint.h>

/* Returns the deadline after `next`, given that the call due at `next`
 * finished at `now`. Runs stay anchored to next + k*period: a call that
 * overran skips the whole periods it missed (never bunching them), and a
 * clock that went backwards still advances by one period. period must be > 0.
 * Tornado: PeriodicCallback._update_next. */
uint64_t tn__periodic_next(uint64_t next, uint64_t now, uint64_t period);

/* Scales period by 1 + jitter * (unit - 0.5), unit in [0, 1); never below 1. */
uint64_t tn__periodic_jitter(uint64_t period, double jitter, double unit);

#endif /* TN_LIB_PERIODIC_SCHED_H */
