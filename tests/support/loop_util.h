/* Helpers for loop tests: run with a watchdog, close cleanly, time. */
#ifndef TN_TEST_LOOP_UTIL_H
#define TN_TEST_LOOP_UTIL_H

#include <stdint.h>

#include "tornuv.h"

/* Creates a loop, asserting success. */
tn_ioloop_t *tn_test_loop_new(void);

/* Starts loop until tn_ioloop_stop; fails the test if that takes more than
 * timeout_ms (the watchdog stops the loop, so the test still ends). */
void tn_test_run(tn_ioloop_t *loop, uint64_t timeout_ms);

/* Asserts tn_ioloop_close(loop, flags) == 0. */
void tn_test_close(tn_ioloop_t *loop, int flags);

/* Monotonic milliseconds (independent of any loop). */
double tn_test_now_ms(void);

/* Sleeps the calling thread. */
void tn_test_sleep_ms(unsigned ms);

#endif /* TN_TEST_LOOP_UTIL_H */
