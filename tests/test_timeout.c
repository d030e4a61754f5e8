/* Timeouts: call_later / call_at / remove_timeout ordering and safety. */
#include <criterion/criterion.h>

#include "loop_util.h"
#include "tornuv.h"

TestSuite(timeout, .timeout = 20);

typedef struct {
    int log[64];
    int n;
    tn_timeout_id ids[8];
    double fired_ms;
} rec_t;

typedef struct {
    rec_t *rec;
    int value;
} tag_t;

static void on_log(tn_ioloop_t *loop, void *arg)
{
    tag_t *t = arg;
    if (t->rec->n < 64)
        t->rec->log[t->rec->n++] = t->value;
}

static void on_log_stop(tn_ioloop_t *loop, void *arg)
{
    on_log(loop, arg);
    tn_ioloop_stop(loop);
}

static void on_stop(tn_ioloop_t *loop, void *arg)
{
    tn_ioloop_stop(loop);
}

Test(timeout, fires_once_after_its_delay)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rec_t rec = {0};
    tag_t t = {&rec, 1};
    double t0 = tn_test_now_ms();
    tn_timeout_id id = tn_ioloop_call_later(loop, 30, on_log_stop, &t);
    cr_assert_neq(id, 0);
    cr_assert_eq(tn_ioloop_alive_count(loop), 1);
    tn_test_run(loop, 2000);
    cr_assert_geq(tn_test_now_ms() - t0, 29.0);
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    tn_test_close(loop, 0);
}

Test(timeout, ids_are_unique_and_nonzero)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rec_t rec = {0};
    tag_t t = {&rec, 1};
    tn_timeout_id prev = 0;
    for (int i = 0; i < 1000; i++) {
        tn_timeout_id id = tn_ioloop_call_later(loop, 100000, on_log, &t);
        cr_assert_gt(id, prev);
        prev = id;
        tn_ioloop_remove_timeout(loop, id);
    }
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    cr_assert_eq(tn_ioloop_call_later(loop, 1, NULL, NULL), 0);
    tn_test_close(loop, 0);
    cr_assert_eq(rec.n, 0);
}

/* tornado: ioloop_test test_timeout_with_arguments (FIFO is tornuv's choice) */
Test(timeout, equal_deadlines_fire_in_fifo_order)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rec_t rec = {0};
    tag_t tags[10];
    uint64_t deadline = tn_ioloop_time_ms(loop) + 20;
    for (int i = 0; i < 10; i++) {
        tags[i] = (tag_t){&rec, i};
        cr_assert_neq(tn_ioloop_call_at(loop, deadline, i == 9 ? on_log_stop : on_log, &tags[i]),
                      0);
    }
    tn_test_run(loop, 2000);
    cr_assert_eq(rec.n, 10);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(rec.log[i], i);
    tn_test_close(loop, 0);
}

Test(timeout, earlier_deadline_fires_first)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rec_t rec = {0};
    tag_t a = {&rec, 1}, b = {&rec, 2}, c = {&rec, 3};
    tn_ioloop_call_later(loop, 40, on_log_stop, &c);
    tn_ioloop_call_later(loop, 20, on_log, &b);
    tn_ioloop_call_later(loop, 5, on_log, &a);
    tn_test_run(loop, 2000);
    cr_assert_eq(rec.n, 3);
    cr_assert(rec.log[0] == 1 && rec.log[1] == 2 && rec.log[2] == 3);
    tn_test_close(loop, 0);
}

/* F11: call_later(0) and past deadlines run on a later iteration, after the
 * callbacks already queued, never inside the call. */
Test(timeout, zero_and_past_deadlines_run_after_queued_callbacks)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rec_t rec = {0};
    tag_t a = {&rec, 1}, zero = {&rec, 2}, past = {&rec, 3}, last = {&rec, 4};
    tn_ioloop_add_callback(loop, on_log, &a);
    cr_assert_neq(tn_ioloop_call_later(loop, 0, on_log, &zero), 0);
    uint64_t now = tn_ioloop_time_ms(loop);
    cr_assert_neq(tn_ioloop_call_at(loop, now > 1000 ? now - 1000 : 0, on_log, &past), 0);
    cr_assert_eq(rec.n, 0, "a zero-delay timeout ran inside the call");
    tn_ioloop_call_later(loop, 10, on_log_stop, &last);
    tn_test_run(loop, 2000);
    cr_assert_eq(rec.n, 4);
    cr_assert(rec.log[0] == 1 && rec.log[1] == 2 && rec.log[2] == 3 && rec.log[3] == 4);
    tn_test_close(loop, 0);
}

/* A zero-delay timeout that re-arms itself must not starve I/O or other
 * timers (libuv 1.44's timer phase would loop on it forever). */
typedef struct {
    int rearms;
    int other_ran;
} rearm_t;

static void on_rearm(tn_ioloop_t *loop, void *arg)
{
    rearm_t *r = arg;
    if (r->other_ran) {
        tn_ioloop_stop(loop);
        return;
    }
    r->rearms++;
    tn_ioloop_call_later(loop, 0, on_rearm, r);
}

static void on_other(tn_ioloop_t *loop, void *arg)
{
    ((rearm_t *)arg)->other_ran = 1;
}

Test(timeout, rearming_zero_timeout_does_not_starve)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rearm_t r = {0};
    tn_ioloop_call_later(loop, 0, on_rearm, &r);
    tn_ioloop_call_later(loop, 5, on_other, &r);
    tn_test_run(loop, 5000);
    cr_assert_eq(r.other_ran, 1);
    cr_assert_gt(r.rearms, 1);
    tn_test_close(loop, 0);
}

/* A timeout that becomes due while callbacks queued before its timer phase
 * still wait runs after them (Tornado moves due timeouts to the end of the
 * ready list). */
static void on_slow_then_queue(tn_ioloop_t *loop, void *arg)
{
    tag_t *t = arg;
    tn_test_sleep_ms(15); /* the 5 ms timeout is due when this returns */
    tn_ioloop_add_callback(loop, on_log, t);
}

Test(timeout, due_timeout_waits_behind_older_callbacks)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rec_t rec = {0};
    tag_t cb = {&rec, 1}, timer = {&rec, 2};
    tn_ioloop_call_later(loop, 5, on_log_stop, &timer);
    tn_ioloop_add_callback(loop, on_slow_then_queue, &cb);
    tn_test_run(loop, 2000);
    cr_assert_eq(rec.n, 2);
    cr_assert_eq(rec.log[0], 1, "due timeout overtook an older queued callback");
    cr_assert_eq(rec.log[1], 2);
    tn_test_close(loop, 0);
}

/* Timeouts due together run before callbacks their own callbacks queue. */
static void on_log_and_queue(tn_ioloop_t *loop, void *arg)
{
    tag_t *t = arg;
    on_log(loop, t);
    tn_ioloop_add_callback(loop, on_log_stop, t + 2);
}

Test(timeout, timeouts_due_together_run_before_callbacks_they_queue)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rec_t rec = {0};
    tag_t tags[3] = {{&rec, 1}, {&rec, 2}, {&rec, 3}};
    uint64_t deadline = tn_ioloop_time_ms(loop) + 10;
    tn_ioloop_call_at(loop, deadline, on_log_and_queue, &tags[0]);
    tn_ioloop_call_at(loop, deadline, on_log, &tags[1]);
    tn_test_run(loop, 2000);
    cr_assert_eq(rec.n, 3);
    cr_assert(rec.log[0] == 1 && rec.log[1] == 2 && rec.log[2] == 3);
    tn_test_close(loop, 0);
}

/* tornado: ioloop_test test_remove_timeout_after_fire (F8, F10) */
static void on_remove_self(tn_ioloop_t *loop, void *arg)
{
    rec_t *rec = arg;
    rec->n++;
    tn_ioloop_remove_timeout(loop, rec->ids[0]);
    tn_ioloop_remove_timeout(loop, rec->ids[0]);
    tn_ioloop_stop(loop);
}

Test(timeout, remove_after_fire_twice_zero_and_unknown_are_harmless)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rec_t rec = {0};
    rec.ids[0] = tn_ioloop_call_later(loop, 1, on_remove_self, &rec);
    tn_test_run(loop, 2000);
    cr_assert_eq(rec.n, 1);
    tn_ioloop_remove_timeout(loop, rec.ids[0]); /* fired */
    tn_ioloop_remove_timeout(loop, 0);
    tn_ioloop_remove_timeout(loop, 987654321);
    tn_ioloop_remove_timeout(NULL, 1);
    /* A reused slot must not make an old id remove a new timeout. */
    tag_t t = {&rec, 5};
    tn_timeout_id fresh = tn_ioloop_call_later(loop, 1, on_log_stop, &t);
    tn_ioloop_remove_timeout(loop, rec.ids[0]);
    cr_assert_eq(tn_ioloop_alive_count(loop), 1);
    tn_test_run(loop, 2000);
    cr_assert_eq(rec.n, 2);
    cr_assert_eq(rec.log[1], 5);
    tn_ioloop_remove_timeout(loop, fresh);
    tn_test_close(loop, 0);
}

/* tornado: ioloop_test test_remove_timeout_from_timeout (F9) */
static void on_remove_other(tn_ioloop_t *loop, void *arg)
{
    rec_t *rec = arg;
    rec->log[rec->n++] = 1;
    tn_ioloop_remove_timeout(loop, rec->ids[1]);
}

static void on_removed_one(tn_ioloop_t *loop, void *arg)
{
    rec_t *rec = arg;
    rec->log[rec->n++] = 2;
}

Test(timeout, timeout_removed_by_earlier_timeout_in_same_iteration_never_runs)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rec_t rec = {0};
    uint64_t deadline = tn_ioloop_time_ms(loop) + 10;
    rec.ids[0] = tn_ioloop_call_at(loop, deadline, on_remove_other, &rec);
    rec.ids[1] = tn_ioloop_call_at(loop, deadline, on_removed_one, &rec);
    tn_ioloop_call_later(loop, 40, on_stop, NULL);
    /* Both are due by the time the loop first looks at timers. */
    tn_test_sleep_ms(20);
    tn_test_run(loop, 2000);
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(rec.log[0], 1);
    tn_test_close(loop, 0);
}

/* The same when the removed one already waits behind queued callbacks. */
static void on_slow(tn_ioloop_t *loop, void *arg)
{
    tn_test_sleep_ms(20);
    tn_ioloop_add_callback(loop, on_remove_other, arg);
}

Test(timeout, waiting_due_timeout_can_be_removed)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rec_t rec = {0};
    rec.ids[1] = tn_ioloop_call_later(loop, 5, on_removed_one, &rec);
    tn_ioloop_add_callback(loop, on_slow, &rec);
    tn_ioloop_call_later(loop, 60, on_stop, NULL);
    tn_test_run(loop, 2000);
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(rec.log[0], 1);
    tn_test_close(loop, 0);
}

Test(timeout, remove_zero_delay_timeout_before_it_runs)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rec_t rec = {0};
    tag_t t = {&rec, 1}, end = {&rec, 9};
    tn_timeout_id id = tn_ioloop_call_later(loop, 0, on_log, &t);
    tn_ioloop_remove_timeout(loop, id);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    tn_ioloop_call_later(loop, 5, on_log_stop, &end);
    tn_test_run(loop, 2000);
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(rec.log[0], 9);
    tn_test_close(loop, 0);
}

Test(timeout, close_all_removes_pending_timeouts)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rec_t rec = {0};
    tag_t t = {&rec, 1};
    for (int i = 0; i < 100; i++)
        tn_ioloop_call_later(loop, (uint64_t)i * 10, on_log, &t);
    cr_assert_eq(tn_ioloop_alive_count(loop), 100);
    cr_assert_eq(tn_ioloop_close(loop, 0), TN_EBUSY);
    tn_test_close(loop, TN_CLOSE_ALL_FDS);
    cr_assert_eq(rec.n, 0);
}

/* Many timeouts with random delays fire in deadline order, each once. */
typedef struct {
    uint64_t deadline;
    uint64_t *last;
    int *count;
    int *bad;
} ordered_t;

static void on_ordered(tn_ioloop_t *loop, void *arg)
{
    ordered_t *o = arg;
    if (o->deadline < *o->last)
        (*o->bad)++;
    *o->last = o->deadline;
    if (++*o->count == 500)
        tn_ioloop_stop(loop);
}

Test(timeout, many_timeouts_fire_in_deadline_order)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    static ordered_t o[500];
    uint64_t last = 0;
    int count = 0, bad = 0;
    /* Far enough ahead that no deadline is already past (which would make
     * it a zero-delay timeout) however slowly the 500 are scheduled. */
    uint64_t base = tn_ioloop_time_ms(loop) + 200;
    unsigned seed = 12345;
    for (int i = 0; i < 500; i++) {
        seed = seed * 1103515245u + 12345u;
        o[i] = (ordered_t){base + 1 + (seed >> 16) % 50, &last, &count, &bad};
        cr_assert_neq(tn_ioloop_call_at(loop, o[i].deadline, on_ordered, &o[i]), 0);
    }
    tn_test_run(loop, 5000);
    cr_assert_eq(count, 500);
    cr_assert_eq(bad, 0);
    tn_test_close(loop, 0);
}

/* tornado: ioloop_test test_remove_timeout_from_timeout (different deadlines,
 * both already due when the loop first looks) */
Test(timeout, removal_by_earlier_due_timeout_with_later_deadline)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    rec_t rec = {0};
    uint64_t now = tn_ioloop_time_ms(loop);
    rec.ids[0] = tn_ioloop_call_at(loop, now + 10, on_remove_other, &rec);
    rec.ids[1] = tn_ioloop_call_at(loop, now + 20, on_removed_one, &rec);
    tn_ioloop_call_at(loop, now + 30, on_stop, NULL);
    tn_test_sleep_ms(30);
    tn_test_run(loop, 2000);
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(rec.log[0], 1);
    tn_test_close(loop, 0);
}
