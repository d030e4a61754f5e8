/* Periodic callbacks: schedule arithmetic, counting, stopping and freeing
 * from the callback, jitter, close(all). */
#include <criterion/criterion.h>

#include "loop_util.h"
#include "periodic_sched.h"
#include "tornuv.h"

TestSuite(periodic, .timeout = 20);

/* tornado: ioloop_test TestPeriodicCallbackMath test_basic */
Test(periodic, schedule_basic)
{
    uint64_t next = 1010;
    uint64_t expect[] = {1020, 1030, 1040, 1050};
    for (int i = 0; i < 4; i++) {
        next = tn__periodic_next(next, next, 10);
        cr_assert_eq(next, expect[i]);
    }
}

/* tornado: ioloop_test TestPeriodicCallbackMath test_overrun
 * (seconds there, milliseconds here: the arithmetic is the same) */
Test(periodic, schedule_overrun_skips_missed_periods)
{
    uint64_t durations[] = {9, 9, 10, 11, 20, 20, 35, 35, 0, 0, 0};
    uint64_t expect[] = {1010, 1020, 1030, 1050, 1070, 1100, 1130, 1170, 1210, 1220, 1230};
    uint64_t next = 1000 + 10; /* started at 1000 */
    for (int i = 0; i < 11; i++) {
        cr_assert_eq(next, expect[i], "call %d at %llu", i, (unsigned long long)next);
        uint64_t now = next + durations[i];
        next = tn__periodic_next(next, now, 10);
    }
}

/* tornado: ioloop_test TestPeriodicCallbackMath test_clock_backwards */
Test(periodic, schedule_clock_backwards_still_advances)
{
    cr_assert_eq(tn__periodic_next(1010, 1000, 10), 1020);
    cr_assert_eq(tn__periodic_next(1010, 0, 10), 1020);
}

/* tornado: ioloop_test TestPeriodicCallbackMath test_jitter */
Test(periodic, jitter_scales_period_within_bounds)
{
    cr_assert_eq(tn__periodic_jitter(1000, 0, 0.9), 1000);
    cr_assert_eq(tn__periodic_jitter(1000, 0.5, 0.5), 1000);
    cr_assert_eq(tn__periodic_jitter(1000, 0.5, 0.0), 750);
    cr_assert_eq(tn__periodic_jitter(1000, 0.5, 0.999999), 1249);
    cr_assert_eq(tn__periodic_jitter(1, 0.9, 0.0), 1);
}

static void on_stop(tn_ioloop_t *loop, void *arg)
{
    tn_ioloop_stop(loop);
}

typedef struct {
    tn_ioloop_t *loop;
    int count;
    int limit;
    double times[16];
    int do_free;
} tick_t;

static void on_tick(tn_periodic_t *p, void *arg)
{
    tick_t *t = arg;
    if (t->count < 16)
        t->times[t->count] = tn_test_now_ms();
    if (++t->count == t->limit) {
        if (t->do_free)
            tn_periodic_free(p);
        else
            tn_periodic_stop(p);
        /* Leave the loop a little later, so an extra call would be seen. */
        tn_ioloop_call_later(t->loop, 30, on_stop, NULL);
    }
}

/* tornado: ioloop_test TestPeriodicCallback (counting, stop from callback) */
Test(periodic, counts_and_stops_from_its_own_callback)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_periodic_t *p = NULL;
    tick_t t = {0};
    t.loop = loop;
    t.limit = 5;
    cr_assert_eq(tn_periodic_new(loop, 10, on_tick, &t, &p), 0);
    cr_assert_eq(tn_periodic_is_running(p), 0);
    double t0 = tn_test_now_ms();
    cr_assert_eq(tn_periodic_start(p), 0);
    cr_assert_eq(tn_periodic_start(p), 0); /* idempotent */
    cr_assert_eq(tn_periodic_is_running(p), 1);
    tn_test_run(loop, 5000);
    cr_assert_eq(t.count, 5, "count %d", t.count);
    cr_assert_eq(tn_periodic_is_running(p), 0);
    /* First call one period after start, then anchored: the k-th call is
     * never earlier than start + k*period. */
    for (int i = 0; i < 5; i++)
        cr_assert_geq(t.times[i] - t0, 10.0 * (i + 1) - 1.0, "call %d at %.1f", i, t.times[i] - t0);
    /* Restart after stop works. */
    t.limit = 7;
    cr_assert_eq(tn_periodic_start(p), 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(t.count, 7);
    cr_assert_eq(tn_ioloop_alive_count(loop), 1);
    tn_periodic_free(p);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    tn_test_close(loop, 0);
}

Test(periodic, free_from_its_own_callback)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_periodic_t *p = NULL;
    tick_t t = {0};
    t.loop = loop;
    t.limit = 3;
    t.do_free = 1;
    cr_assert_eq(tn_periodic_new(loop, 5, on_tick, &t, &p), 0);
    tn_periodic_start(p);
    tn_test_run(loop, 5000);
    cr_assert_eq(t.count, 3);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    tn_test_close(loop, 0);
}

/* A callback that overruns several periods is not called back to back to
 * catch up: the missed runs are skipped. */
static void on_slow_tick(tn_periodic_t *p, void *arg)
{
    tick_t *t = arg;
    if (t->count < 16)
        t->times[t->count] = tn_test_now_ms();
    if (t->count++ == 0)
        tn_test_sleep_ms(55); /* overrun five 10 ms periods */
    if (t->count == t->limit) {
        tn_periodic_stop(p);
        tn_ioloop_call_later(t->loop, 30, on_stop, NULL);
    }
}

Test(periodic, overrun_skips_instead_of_bunching)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_periodic_t *p = NULL;
    tick_t t = {0};
    t.loop = loop;
    t.limit = 3;
    cr_assert_eq(tn_periodic_new(loop, 10, on_slow_tick, &t, &p), 0);
    double t0 = tn_test_now_ms();
    tn_periodic_start(p);
    tn_test_run(loop, 5000);
    cr_assert_eq(t.count, 3);
    /* The first call (due at start + 10) ran until ~start + 65; the missed
     * runs at 20..60 are skipped and the next lands on the grid at start +
     * 70 rather than right away, then start + 80. */
    cr_assert_geq(t.times[1] - t0, 69.0, "second call at %.1f ms", t.times[1] - t0);
    cr_assert_geq(t.times[2] - t0, 79.0, "third call at %.1f ms", t.times[2] - t0);
    tn_periodic_free(p);
    tn_test_close(loop, 0);
}

Test(periodic, jitter_keeps_it_running)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_periodic_t *p = NULL;
    tick_t t = {0};
    t.loop = loop;
    t.limit = 5;
    cr_assert_eq(tn_periodic_new(loop, 10, on_tick, &t, &p), 0);
    tn_periodic_set_jitter(p, 0.5);
    double t0 = tn_test_now_ms();
    tn_periodic_start(p);
    tn_test_run(loop, 5000);
    cr_assert_eq(t.count, 5);
    /* Each jittered period is at least 7.5 ms and the schedule is anchored. */
    for (int i = 0; i < 5; i++)
        cr_assert_geq(t.times[i] - t0, 7.0 * (i + 1) - 1.0);
    tn_periodic_free(p);
    tn_test_close(loop, 0);
}

Test(periodic, invalid_period_and_close_all)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_periodic_t *p = NULL;
    tick_t t = {0};
    t.loop = loop;
    cr_assert_eq(tn_periodic_new(loop, 0, on_tick, &t, &p), TN_EINVAL);
    cr_assert_eq(tn_periodic_new(loop, 1000, on_tick, &t, &p), 0);
    tn_periodic_start(p);
    cr_assert_eq(tn_ioloop_close(loop, 0), TN_EBUSY);
    tn_test_close(loop, TN_CLOSE_ALL_FDS);
    cr_assert_eq(t.count, 0);
}
