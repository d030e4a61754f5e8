/* tornuv locks: Event, Condition, Semaphore, BoundedSemaphore, Lock. The
 * behaviours of Tornado's tornado.test.locks_test, plus the grant/cancel
 * races a callback API adds. */
#include <criterion/criterion.h>
#include <string.h>

#include "loop_util.h"
#include "memtransport.h"
#include "net_peer.h"

TestSuite(locks, .timeout = 30);

/* A log of completions: which waiter, with what status, in order. */
typedef struct {
    int who[128];
    int status[128];
    int n;
    int in_call; /* nonzero while a starter runs: completions must not */
} log_t;

typedef struct {
    log_t *log;
    int who;
} tag_t;

static tag_t tags[64];

static tag_t *tag(log_t *l, int who)
{
    tags[who].log = l;
    tags[who].who = who;
    return &tags[who];
}

static void record(tag_t *t, int status)
{
    log_t *l = t->log;
    cr_assert_eq(l->in_call, 0, "callback ran inside the call that started it");
    cr_assert_lt(l->n, 128);
    l->who[l->n] = t->who;
    l->status[l->n] = status;
    l->n++;
}

static void ev_cb(tn_event_t *ev, int status, void *arg)
{
    (void)ev;
    record(arg, status);
}

static void cond_cb(tn_condition_t *c, int status, void *arg)
{
    (void)c;
    record(arg, status);
}

static void sem_cb(tn_semaphore_t *s, int status, void *arg)
{
    (void)s;
    record(arg, status);
}

static void turns(tn_ioloop_t *loop, int n)
{
    for (int i = 0; i < n; i++)
        tn_mt_turn(loop);
}

/* ---- Event ---------------------------------------------------------------- */

/* tornado: locks_test EventTest test_event */
Test(locks, event_set_wakes_all_and_later_waits_complete_next_drain)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_event_t *ev;
    log_t l = {0};
    cr_assert_eq(tn_event_new(loop, &ev), 0);
    cr_assert_eq(tn_event_is_set(ev), 0);
    cr_assert_neq(tn_event_wait(ev, 0, ev_cb, tag(&l, 0)), 0);
    cr_assert_neq(tn_event_wait(ev, 0, ev_cb, tag(&l, 1)), 0);
    turns(loop, 2);
    cr_assert_eq(l.n, 0);
    l.in_call = 1;
    tn_event_set(ev);
    cr_assert_neq(tn_event_wait(ev, 0, ev_cb, tag(&l, 2)), 0);
    l.in_call = 0;
    cr_assert(tn_event_is_set(ev));
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(l.who[i], i);
        cr_assert_eq(l.status[i], 0);
    }
    tn_event_free(ev);
    tn_test_close(loop, 0);
}

/* tornado: locks_test EventTest test_event_wait_clear: a clear after the
 * set does not un-wake waiters already woken. */
Test(locks, event_clear_after_set_keeps_woken_waiters)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_event_t *ev;
    log_t l = {0};
    cr_assert_eq(tn_event_new(loop, &ev), 0);
    tn_event_wait(ev, 0, ev_cb, tag(&l, 0));
    tn_event_set(ev);
    tn_event_clear(ev);
    tn_event_wait(ev, 0, ev_cb, tag(&l, 1));
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.who[0], 0);
    cr_assert_eq(l.status[0], 0);
    tn_event_free(ev);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.status[1], TN_ECLOSED);
    tn_test_close(loop, 0);
}

/* tornado: locks_test EventTest test_event_timeout */
Test(locks, event_wait_timeout_then_set)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_event_t *ev;
    log_t l = {0};
    cr_assert_eq(tn_event_new(loop, &ev), 0);
    double t0 = tn_test_now_ms();
    tn_event_wait(ev, 20, ev_cb, tag(&l, 0));
    for (int i = 0; i < 200 && l.n == 0; i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.status[0], TN_ETIMEOUT);
    cr_assert_geq(tn_test_now_ms() - t0, 19.0);
    tn_event_set(ev);
    tn_event_wait(ev, 20, ev_cb, tag(&l, 1));
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.status[1], 0);
    tn_event_free(ev);
    tn_test_close(loop, 0);
}

/* A wait cancelled after set woke it keeps its result; a waiting one gets
 * TN_ECANCELED; unknown ids are refused. */
Test(locks, event_cancel)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_event_t *ev;
    log_t l = {0};
    cr_assert_eq(tn_event_new(loop, &ev), 0);
    tn_wait_id a = tn_event_wait(ev, 0, ev_cb, tag(&l, 0));
    tn_wait_id b = tn_event_wait(ev, 0, ev_cb, tag(&l, 1));
    cr_assert_neq(a, b);
    cr_assert_eq(tn_event_cancel(ev, a), 0);
    tn_event_set(ev);
    cr_assert_eq(tn_event_cancel(ev, b), TN_EALREADY);
    cr_assert_eq(tn_event_cancel(ev, 0), TN_ENOTFOUND);
    tn_mt_turn(loop);
    cr_assert_eq(tn_event_cancel(ev, b), TN_ENOTFOUND);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.status[0], TN_ECANCELED);
    cr_assert_eq(l.status[1], 0);
    tn_event_free(ev);
    tn_test_close(loop, 0);
}

/* ---- Condition ------------------------------------------------------------ */

/* tornado: locks_test ConditionTest test_notify_1 / test_notify_n /
 * test_notify_all: FIFO, counts returned. */
Test(locks, condition_notify_fifo_and_counts)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_condition_t *c;
    log_t l = {0};
    cr_assert_eq(tn_condition_new(loop, &c), 0);
    cr_assert_eq(tn_condition_notify(c, 1), 0, "nobody waits: nothing is kept");
    for (int i = 0; i < 6; i++)
        cr_assert_neq(tn_condition_wait(c, 0, cond_cb, tag(&l, i)), 0);
    l.in_call = 1;
    cr_assert_eq(tn_condition_notify(c, 1), 1);
    l.in_call = 0;
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.who[0], 0);
    cr_assert_eq(tn_condition_notify(c, 2), 2);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 3);
    cr_assert_eq(l.who[1], 1);
    cr_assert_eq(l.who[2], 2);
    cr_assert_eq(tn_condition_notify_all(c), 3);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 6);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(l.who[i], i);
    tn_condition_free(c);
    tn_test_close(loop, 0);
}

/* tornado: locks_test ConditionTest test_wait_timeout /
 * test_notify_n_with_timeout: the middle waiter times out; notify(2) wakes
 * the first and the third. */
Test(locks, condition_notify_skips_timed_out_waiters)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_condition_t *c;
    log_t l = {0};
    cr_assert_eq(tn_condition_new(loop, &c), 0);
    tn_condition_wait(c, 0, cond_cb, tag(&l, 0));
    tn_condition_wait(c, 10, cond_cb, tag(&l, 1));
    tn_condition_wait(c, 0, cond_cb, tag(&l, 2));
    tn_condition_wait(c, 0, cond_cb, tag(&l, 3));
    for (int i = 0; i < 200 && l.n == 0; i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.who[0], 1);
    cr_assert_eq(l.status[0], TN_ETIMEOUT);
    cr_assert_eq(tn_condition_notify(c, 2), 2);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 3);
    cr_assert_eq(l.who[1], 0);
    cr_assert_eq(l.who[2], 2);
    cr_assert_eq(l.status[1], 0);
    tn_condition_free(c);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 4);
    cr_assert_eq(l.who[3], 3);
    cr_assert_eq(l.status[3], TN_ECLOSED);
    tn_test_close(loop, 0);
}

/* A timeout preempted by a notify: notified, and the timer never fires. */
Test(locks, condition_wait_timeout_preempted)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_condition_t *c;
    log_t l = {0};
    cr_assert_eq(tn_condition_new(loop, &c), 0);
    tn_condition_wait(c, 10, cond_cb, tag(&l, 0));
    tn_condition_notify(c, 1);
    tn_test_settle(loop, 40);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.status[0], 0);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0, "its timer is gone");
    tn_condition_free(c);
    tn_test_close(loop, 0);
}

static tn_condition_t *nested_c;

static void nested_cb(tn_condition_t *c, int status, void *arg)
{
    record(arg, status);
    /* tornado: test_nested_notify: a woken waiter notifies the next */
    if (((tag_t *)arg)->who == 0)
        cr_assert_eq(tn_condition_notify(c, 1), 1);
}

Test(locks, condition_nested_notify_loses_nothing)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    log_t l = {0};
    cr_assert_eq(tn_condition_new(loop, &nested_c), 0);
    for (int i = 0; i < 3; i++)
        tn_condition_wait(nested_c, 0, nested_cb, tag(&l, i));
    tn_condition_notify(nested_c, 1);
    turns(loop, 3);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.who[0], 0);
    cr_assert_eq(l.who[1], 1);
    tn_condition_free(nested_c);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 3);
    tn_test_close(loop, 0);
}

/* A waiter notified but cancelled before its callback: the notification
 * goes to the next waiter. */
Test(locks, condition_cancel_after_notify_passes_it_on)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_condition_t *c;
    log_t l = {0};
    cr_assert_eq(tn_condition_new(loop, &c), 0);
    tn_wait_id a = tn_condition_wait(c, 0, cond_cb, tag(&l, 0));
    tn_condition_wait(c, 0, cond_cb, tag(&l, 1));
    tn_condition_wait(c, 0, cond_cb, tag(&l, 2));
    cr_assert_eq(tn_condition_notify(c, 1), 1);
    cr_assert_eq(tn_condition_cancel(c, a), 0);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.who[0], 0);
    cr_assert_eq(l.status[0], TN_ECANCELED);
    cr_assert_eq(l.who[1], 1);
    cr_assert_eq(l.status[1], 0);
    tn_condition_free(c);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 3);
    tn_test_close(loop, 0);
}

static long allocs;
static void *cnt_malloc(size_t n)
{
    allocs++;
    return malloc(n);
}
static void *cnt_calloc(size_t a, size_t b)
{
    allocs++;
    return calloc(a, b);
}
static void cnt_free(void *p)
{
    if (p)
        allocs--;
    free(p);
}

/* tornado: locks_test ConditionTest test_garbage_collection: 101
 * timed-out waiters leave nothing behind. */
Test(locks, condition_timed_out_waiters_leave_no_memory)
{
    cr_assert_eq(tn_replace_allocator(cnt_malloc, realloc, cnt_calloc, cnt_free), 0);
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_condition_t *c;
    log_t l = {0};
    cr_assert_eq(tn_condition_new(loop, &c), 0);
    static tag_t t;
    t.log = &l;
    long base = 0;
    /* Round one warms the loop's own timer and queue records up. */
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            base = allocs;
        for (int i = 0; i < 30; i++)
            cr_assert_neq(tn_condition_wait(c, 1, cond_cb, &t), 0);
        for (int i = 0; i < 200 && l.n < 30 * (round + 1); i++)
            tn_test_settle(loop, 5);
        cr_assert_eq(l.n, 30 * (round + 1));
        tn_test_settle(loop, 5);
    }
    cr_assert_leq(allocs - base, 0, "waiter memory back to the baseline: %ld", allocs - base);
    tn_condition_wait(c, 0, cond_cb, &t);
    cr_assert_eq(tn_condition_notify(c, 1), 1);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 61);
    cr_assert_eq(l.status[60], 0);
    tn_condition_free(c);
    tn_test_close(loop, 0);
    cr_assert_eq(tn_replace_allocator(malloc, realloc, calloc, free), 0);
}

/* ---- Semaphore ------------------------------------------------------------ */

/* tornado: locks_test SemaphoreTest test_acquire: the third acquire
 * waits; release hands it the permit; try_acquire in between is refused. */
Test(locks, semaphore_acquire_release_handoff)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_semaphore_t *s;
    log_t l = {0};
    cr_assert_eq(tn_semaphore_new(loop, 2, 0, &s), 0);
    l.in_call = 1;
    tn_semaphore_acquire(s, 0, sem_cb, tag(&l, 0));
    tn_semaphore_acquire(s, 0, sem_cb, tag(&l, 1));
    tn_semaphore_acquire(s, 0, sem_cb, tag(&l, 2));
    l.in_call = 0;
    cr_assert_eq(tn_semaphore_value(s), 0);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(tn_semaphore_try_acquire(s), TN_EBUSY);
    cr_assert_eq(tn_semaphore_release(s), 0);
    cr_assert_eq(tn_semaphore_value(s), 0, "handed to the waiter, not counted");
    cr_assert_eq(tn_semaphore_try_acquire(s), TN_EBUSY, "no barging");
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 3);
    cr_assert_eq(l.who[2], 2);
    cr_assert_eq(l.status[2], 0);
    cr_assert_eq(tn_semaphore_release(s), 0);
    cr_assert_eq(tn_semaphore_value(s), 1);
    cr_assert_eq(tn_semaphore_try_acquire(s), 0);
    cr_assert_eq(tn_semaphore_value(s), 0);
    tn_semaphore_free(s);
    tn_test_close(loop, 0);
}

/* tornado: locks_test SemaphoreTest test_acquire_timeout: the timed-out
 * waiter gets no permit; the next release goes to the live waiter. */
Test(locks, semaphore_acquire_timeout)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_semaphore_t *s;
    log_t l = {0};
    cr_assert_eq(tn_semaphore_new(loop, 1, 0, &s), 0);
    cr_assert_eq(tn_semaphore_try_acquire(s), 0);
    tn_semaphore_acquire(s, 10, sem_cb, tag(&l, 0));
    tn_semaphore_acquire(s, 0, sem_cb, tag(&l, 1));
    double t0 = tn_test_now_ms();
    for (int i = 0; i < 200 && l.n == 0; i++)
        tn_test_settle(loop, 5);
    cr_assert_geq(tn_test_now_ms() - t0, 9.0);
    cr_assert_eq(l.who[0], 0);
    cr_assert_eq(l.status[0], TN_ETIMEOUT);
    tn_semaphore_release(s);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.who[1], 1);
    cr_assert_eq(l.status[1], 0);
    cr_assert_eq(tn_semaphore_value(s), 0);
    tn_semaphore_free(s);
    tn_test_close(loop, 0);
}

/* tornado: locks_test SemaphoreTest test_acquire_timeout_preempted */
Test(locks, semaphore_release_preempts_timeout)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_semaphore_t *s;
    log_t l = {0};
    cr_assert_eq(tn_semaphore_new(loop, 0, 0, &s), 0);
    tn_semaphore_acquire(s, 10, sem_cb, tag(&l, 0));
    tn_semaphore_release(s);
    tn_test_settle(loop, 30);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.status[0], 0);
    tn_semaphore_free(s);
    tn_test_close(loop, 0);
}

/* tornado: SemaphoreTest test_release_unacquired and BoundedSemaphoreTest
 * test_release_unacquired. */
Test(locks, semaphore_over_release_bounded_or_not)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_semaphore_t *s, *b;
    cr_assert_eq(tn_semaphore_new(loop, 3, 0, &s), 0);
    cr_assert_eq(tn_semaphore_release(s), 0);
    cr_assert_eq(tn_semaphore_value(s), 4);
    cr_assert_eq(tn_semaphore_new(loop, 3, 1, &b), 0);
    cr_assert_eq(tn_semaphore_release(b), TN_EINVAL);
    cr_assert_eq(tn_semaphore_try_acquire(b), 0);
    cr_assert_eq(tn_semaphore_release(b), 0);
    cr_assert_eq(tn_semaphore_release(b), TN_EINVAL);
    cr_assert_eq(tn_semaphore_value(b), 3);
    tn_semaphore_free(s);
    tn_semaphore_free(b);
    tn_test_close(loop, 0);
}

/* Cancelling a waiter granted a permit but not yet called back passes the
 * permit on: to the next waiter, or back to the count. */
Test(locks, semaphore_cancel_granted_waiter_passes_the_permit)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_semaphore_t *s;
    log_t l = {0};
    cr_assert_eq(tn_semaphore_new(loop, 1, 1, &s), 0);
    tn_wait_id a = tn_semaphore_acquire(s, 0, sem_cb, tag(&l, 0));
    tn_wait_id b = tn_semaphore_acquire(s, 0, sem_cb, tag(&l, 1));
    tn_wait_id c = tn_semaphore_acquire(s, 5000, sem_cb, tag(&l, 2));
    cr_assert_eq(tn_semaphore_cancel(s, a), 0, "granted, not delivered");
    cr_assert_eq(tn_semaphore_value(s), 0, "went to b");
    cr_assert_eq(tn_semaphore_cancel(s, b), 0);
    cr_assert_eq(tn_semaphore_cancel(s, c), 0);
    cr_assert_eq(tn_semaphore_value(s), 1, "back to the count");
    cr_assert_eq(tn_semaphore_cancel(s, c), TN_EALREADY);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(l.status[i], TN_ECANCELED);
    cr_assert_eq(tn_semaphore_cancel(s, c), TN_ENOTFOUND);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0, "c's timer is gone");
    cr_assert_eq(tn_semaphore_try_acquire(s), 0);
    tn_semaphore_free(s);
    tn_test_close(loop, 0);
}

/* Timeout and release due in the same iteration: the grant wins, the
 * timer never runs, exactly one callback. */
Test(locks, semaphore_timeout_release_race)
{
    for (int round = 0; round < 20; round++) {
        tn_ioloop_t *loop = tn_test_loop_new();
        tn_semaphore_t *s;
        log_t l = {0};
        cr_assert_eq(tn_semaphore_new(loop, 0, 0, &s), 0);
        tn_semaphore_acquire(s, 2, sem_cb, tag(&l, 0));
        tn_test_sleep_ms(3); /* the timer is due at the next loop run */
        tn_semaphore_release(s);
        tn_test_settle(loop, 10);
        cr_assert_eq(l.n, 1);
        cr_assert_eq(l.status[0], 0);
        cr_assert_eq(tn_semaphore_value(s), 0);
        tn_semaphore_free(s);
        tn_test_close(loop, 0);
    }
}

/* ---- Lock ----------------------------------------------------------------- */

/* tornado: locks_test LockTest test_acquire_fifo: ten waiters get the lock
 * in order, each releasing it from its callback. */
static tn_lock_t *fifo_lock;

static void fifo_cb(tn_semaphore_t *s, int status, void *arg)
{
    record(arg, status);
    cr_assert(tn_lock_locked(s));
    cr_assert_eq(tn_lock_release(s), 0);
}

Test(locks, lock_fifo_and_release_unlocked)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    log_t l = {0};
    cr_assert_eq(tn_lock_new(loop, &fifo_lock), 0);
    cr_assert_eq(tn_lock_locked(fifo_lock), 0);
    cr_assert_eq(tn_lock_release(fifo_lock), TN_EINVAL, "release unlocked lock");
    for (int i = 0; i < 10; i++)
        cr_assert_neq(tn_lock_acquire(fifo_lock, 0, fifo_cb, tag(&l, i)), 0);
    turns(loop, 12);
    cr_assert_eq(l.n, 10);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(l.who[i], i);
        cr_assert_eq(l.status[i], 0);
    }
    cr_assert_eq(tn_lock_locked(fifo_lock), 0);
    tn_lock_free(fifo_lock);
    tn_test_close(loop, 0);
}

/* tornado: locks_test LockTest test_acquire_timeout */
Test(locks, lock_acquire_timeout_and_free_with_waiters)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_lock_t *lk;
    log_t l = {0};
    cr_assert_eq(tn_lock_new(loop, &lk), 0);
    cr_assert_eq(tn_lock_acquire(lk, 0, NULL, NULL), 0, "NULL cb refused");
    tn_lock_acquire(lk, 0, sem_cb, tag(&l, 0));
    tn_lock_acquire(lk, 10, sem_cb, tag(&l, 1));
    tn_wait_id w = tn_lock_acquire(lk, 0, sem_cb, tag(&l, 2));
    for (int i = 0; i < 200 && l.n < 2; i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.status[0], 0);
    cr_assert_eq(l.who[1], 1);
    cr_assert_eq(l.status[1], TN_ETIMEOUT);
    cr_assert_eq(tn_lock_cancel(lk, w), 0);
    tn_lock_free(lk);
    tn_mt_turn(loop);
    cr_assert_eq(l.n, 3);
    cr_assert_eq(l.status[2], TN_ECANCELED);
    tn_test_close(loop, 0);
}
