/* IOLoop core: add_callback ordering and threading, start/stop, run_sync,
 * close, executor, signals. */
#include <criterion/criterion.h>
#include <string.h>
#include <uv.h>

#include "loop_util.h"
#include "sockpair.h"
#include "tornuv.h"
#include "tornuv/uv.h"

TestSuite(ioloop, .timeout = 20);

typedef struct {
    int log[64];
    int n;
} trace_t;

static void trace(trace_t *t, int v)
{
    if (t->n < 64)
        t->log[t->n++] = v;
}

typedef struct {
    trace_t *trace;
    int value;
    int stop;
} step_t;

static void on_step(tn_ioloop_t *loop, void *arg)
{
    step_t *s = arg;
    trace(s->trace, s->value);
    if (s->stop)
        tn_ioloop_stop(loop);
}

Test(ioloop, new_and_close_idle_loop)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    cr_assert_not_null(tn_ioloop_uv(loop));
    tn_test_close(loop, 0);
}

/* tornado: ioloop_test test_add_callback_return_sequence (FIFO among callbacks) */
Test(ioloop, callbacks_run_fifo_and_never_inside_add)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    trace_t t = {0};
    step_t steps[5];
    for (int i = 0; i < 5; i++) {
        steps[i] = (step_t){&t, i, i == 4};
        cr_assert_eq(tn_ioloop_add_callback(loop, on_step, &steps[i]), 0);
    }
    cr_assert_eq(t.n, 0, "a callback ran inside add_callback");
    tn_test_run(loop, 2000);
    cr_assert_eq(t.n, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(t.log[i], i);
    tn_test_close(loop, 0);
}

/* Callbacks added while the queue drains run in the next drain, i.e. after
 * the loop polled once more: an always-ready fd handler observes the gap. */
typedef struct {
    trace_t trace;
    step_t second;
} next_drain_t;

static void on_first(tn_ioloop_t *loop, void *arg)
{
    next_drain_t *nd = arg;
    trace(&nd->trace, 1);
    tn_ioloop_add_callback(loop, on_step, &nd->second);
}

static void on_writable(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    next_drain_t *nd = arg;
    if (nd->trace.n < 8)
        trace(&nd->trace, 100);
}

/* tornado: ioloop_test test_add_callback_from_callback (runs on a later iteration) */
Test(ioloop, callback_added_during_drain_runs_in_next_drain)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    next_drain_t nd = {0};
    nd.second = (step_t){&nd.trace, 2, 1};
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_WRITE, on_writable, &nd), 0);
    tn_ioloop_add_callback(loop, on_first, &nd);
    tn_test_run(loop, 2000);
    /* First iteration: the handler (poll phase), then the drain runs 1, which
     * queues 2; 2 must wait for the next drain, after another poll. */
    int pos1 = -1, pos2 = -1, polls_between = 0;
    for (int i = 0; i < nd.trace.n; i++) {
        if (nd.trace.log[i] == 1)
            pos1 = i;
        if (nd.trace.log[i] == 2)
            pos2 = i;
        if (pos1 >= 0 && pos2 < 0 && nd.trace.log[i] == 100)
            polls_between++;
    }
    cr_assert(pos1 >= 0 && pos2 > pos1);
    cr_assert_geq(polls_between, 1, "callback added during a drain ran in the same drain");
    tn_ioloop_remove_handler(loop, sv[0]);
    tn_test_closesocket(sv[0]);
    tn_test_closesocket(sv[1]);
    tn_test_close(loop, 0);
}

/* A callback that keeps re-adding itself must not starve timers or I/O. */
typedef struct {
    int spins;
    int timer_ran;
} spin_t;

static void on_spin(tn_ioloop_t *loop, void *arg)
{
    spin_t *s = arg;
    if (s->timer_ran) {
        tn_ioloop_stop(loop);
        return;
    }
    s->spins++;
    tn_ioloop_add_callback(loop, on_spin, s);
}

static void on_spin_timer(tn_ioloop_t *loop, void *arg)
{
    ((spin_t *)arg)->timer_ran = 1;
}

Test(ioloop, self_readding_callback_does_not_starve_timers)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    spin_t s = {0};
    tn_ioloop_add_callback(loop, on_spin, &s);
    tn_ioloop_call_later(loop, 5, on_spin_timer, &s);
    tn_test_run(loop, 5000);
    cr_assert_eq(s.timer_ran, 1);
    cr_assert_gt(s.spins, 1);
    tn_test_close(loop, 0);
}

/* tornado: ioloop_test test_add_callback_wakeup_other_thread */
typedef struct {
    tn_ioloop_t *loop;
    double sent_ms;
    double ran_ms;
} wake_t;

static void on_woken(tn_ioloop_t *loop, void *arg)
{
    wake_t *w = arg;
    w->ran_ms = tn_test_now_ms();
    tn_ioloop_stop(loop);
}

static void wake_thread(void *arg)
{
    wake_t *w = arg;
    tn_test_sleep_ms(100); /* let the loop go to sleep in poll */
    w->sent_ms = tn_test_now_ms();
    cr_assert_eq(tn_ioloop_add_callback(w->loop, on_woken, w), 0);
}

static void on_never(tn_ioloop_t *loop, void *arg)
{
    *(int *)arg = 1;
    tn_ioloop_stop(loop);
}

Test(ioloop, add_callback_from_other_thread_wakes_sleeping_loop)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    wake_t w = {loop, 0, 0};
    int slept_out = 0;
    /* Without a wakeup the loop would sleep until this 5 s timeout. */
    tn_timeout_id far_id = tn_ioloop_call_later(loop, 5000, on_never, &slept_out);
    uv_thread_t th;
    cr_assert_eq(uv_thread_create(&th, wake_thread, &w), 0);
    cr_assert_eq(tn_ioloop_start(loop), 0);
    uv_thread_join(&th);
    cr_assert_eq(slept_out, 0);
    cr_assert_gt(w.ran_ms, 0);
    cr_assert_lt(w.ran_ms - w.sent_ms, 100.0, "woke after %.1f ms", w.ran_ms - w.sent_ms);
    tn_ioloop_remove_timeout(loop, far_id);
    tn_test_close(loop, 0);
}

/* tornado: ioloop_test test_add_callback_wakeup (from inside the loop) */
static void on_schedule_from_timeout(tn_ioloop_t *loop, void *arg)
{
    wake_t *w = arg;
    w->sent_ms = tn_test_now_ms();
    tn_ioloop_add_callback(loop, on_woken, w);
}

Test(ioloop, add_callback_from_timeout_runs_without_waiting)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    wake_t w = {loop, 0, 0};
    int slept_out = 0;
    tn_timeout_id far_id = tn_ioloop_call_later(loop, 5000, on_never, &slept_out);
    tn_ioloop_call_later(loop, 1, on_schedule_from_timeout, &w);
    cr_assert_eq(tn_ioloop_start(loop), 0);
    cr_assert_eq(slept_out, 0);
    cr_assert_lt(w.ran_ms - w.sent_ms, 10.0, "ran after %.1f ms", w.ran_ms - w.sent_ms);
    tn_ioloop_remove_timeout(loop, far_id);
    tn_test_close(loop, 0);
}

/* Many threads, many callbacks: uv_async_send coalesces, yet every callback
 * runs exactly once. */
#define FLOOD_THREADS 4
#define FLOOD_PER_THREAD 5000

typedef struct {
    tn_ioloop_t *loop;
    int *counter;
} flood_t;

static void on_flood(tn_ioloop_t *loop, void *arg)
{
    int *counter = arg;
    if (++*counter == FLOOD_THREADS * FLOOD_PER_THREAD)
        tn_ioloop_stop(loop);
}

static void flood_thread(void *arg)
{
    flood_t *f = arg;
    for (int i = 0; i < FLOOD_PER_THREAD; i++) {
        while (tn_ioloop_add_callback(f->loop, on_flood, f->counter) != 0)
            ;
        if (i % 1000 == 0)
            tn_test_sleep_ms(1);
    }
}

Test(ioloop, add_callback_from_many_threads_runs_each_once)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int counter = 0;
    flood_t f = {loop, &counter};
    uv_thread_t th[FLOOD_THREADS];
    for (int i = 0; i < FLOOD_THREADS; i++)
        cr_assert_eq(uv_thread_create(&th[i], flood_thread, &f), 0);
    tn_test_run(loop, 10000);
    for (int i = 0; i < FLOOD_THREADS; i++)
        uv_thread_join(&th[i]);
    cr_assert_eq(counter, FLOOD_THREADS * FLOOD_PER_THREAD);
    tn_test_close(loop, 0);
}

/* tornado: ioloop_test test_reentrant */
static void on_reenter(tn_ioloop_t *loop, void *arg)
{
    *(int *)arg = tn_ioloop_start(loop);
    tn_ioloop_stop(loop);
}

Test(ioloop, reentrant_start_is_refused)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int rc = 1;
    tn_ioloop_add_callback(loop, on_reenter, &rc);
    tn_test_run(loop, 2000);
    cr_assert_eq(rc, TN_EALREADY);
    cr_assert_eq(tn_ioloop_close(loop, 0), 0);
}

/* tornado: ioloop_test test_stop_before_start (start returns promptly) */
Test(ioloop, stop_before_start_returns_promptly)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int never = 0;
    tn_timeout_id far_id = tn_ioloop_call_later(loop, 3000, on_never, &never);
    tn_ioloop_stop(loop);
    double t0 = tn_test_now_ms();
    cr_assert_eq(tn_ioloop_start(loop), 0);
    cr_assert_lt(tn_test_now_ms() - t0, 500.0);
    cr_assert_eq(never, 0);
    /* The stop was consumed: the loop runs normally afterwards. */
    trace_t t = {0};
    step_t s = {&t, 7, 1};
    tn_ioloop_add_callback(loop, on_step, &s);
    tn_test_run(loop, 2000);
    cr_assert_eq(t.n, 1);
    tn_ioloop_remove_timeout(loop, far_id);
    tn_test_close(loop, 0);
}

Test(ioloop, current_is_set_by_start_and_restored)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_ioloop_make_current(NULL);
    cr_assert_null(tn_ioloop_current());
    tn_ioloop_t *seen = NULL;
    cr_assert_eq(tn_ioloop_add_callback(loop, NULL, NULL), TN_EINVAL);
    trace_t t = {{0}, 0};
    step_t s = {&t, 0, 1};
    tn_ioloop_add_callback(loop, on_step, &s);
    /* on_step stops; check current afterwards from inside a second run. */
    tn_test_run(loop, 2000);
    cr_assert_null(tn_ioloop_current());
    tn_ioloop_make_current(loop);
    seen = tn_ioloop_current();
    cr_assert_eq(seen, loop);
    tn_ioloop_make_current(NULL);
    tn_test_close(loop, 0);
}

static void on_check_current(tn_ioloop_t *loop, void *arg)
{
    *(tn_ioloop_t **)arg = tn_ioloop_current();
    tn_ioloop_stop(loop);
}

Test(ioloop, current_inside_running_loop)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_ioloop_t *seen = NULL;
    tn_ioloop_add_callback(loop, on_check_current, &seen);
    tn_test_run(loop, 2000);
    cr_assert_eq(seen, loop);
    tn_test_close(loop, 0);
}

/* run_sync */
static void sync_done_later(tn_ioloop_t *loop, void *arg)
{
    tn_sync_done(arg, -42);
}

static void sync_fn_completes(tn_ioloop_t *loop, tn_sync_t *sync, void *arg)
{
    tn_ioloop_call_later(loop, 5, sync_done_later, sync);
}

static void sync_fn_never(tn_ioloop_t *loop, tn_sync_t *sync, void *arg)
{
    *(tn_sync_t **)arg = sync;
}

static void sync_fn_stops(tn_ioloop_t *loop, tn_sync_t *sync, void *arg)
{
    tn_ioloop_stop(loop);
}

/* tornado: ioloop_test TestIOLoopRunSync test_sync_result / test_timeout / test_stop_no_timeout */
Test(ioloop, run_sync_result_timeout_stop_and_reuse)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    cr_assert_eq(tn_ioloop_run_sync(loop, sync_fn_completes, NULL, 2000), -42);
    tn_sync_t *pending = NULL;
    double t0 = tn_test_now_ms();
    cr_assert_eq(tn_ioloop_run_sync(loop, sync_fn_never, &pending, 30), TN_ETIMEOUT);
    cr_assert_geq(tn_test_now_ms() - t0, 29.0);
    cr_assert_not_null(pending);
    tn_sync_done(pending, 0); /* late completion: ignored */
    cr_assert_eq(tn_ioloop_run_sync(loop, sync_fn_stops, NULL, 0), TN_ESTOPPED);
    /* Still reusable after all three outcomes. */
    cr_assert_eq(tn_ioloop_run_sync(loop, sync_fn_completes, NULL, 0), -42);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    tn_test_close(loop, 0);
}

static void sync_fn_nested(tn_ioloop_t *loop, tn_sync_t *sync, void *arg)
{
    *(int *)arg = tn_ioloop_run_sync(loop, sync_fn_completes, NULL, 0);
    tn_sync_done(sync, 0);
}

Test(ioloop, run_sync_inside_running_loop_is_refused)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int nested = 1;
    cr_assert_eq(tn_ioloop_run_sync(loop, sync_fn_nested, &nested, 2000), 0);
    cr_assert_eq(nested, TN_EALREADY);
    tn_test_close(loop, 0);
}

static void sync_never_done_cleanup(tn_ioloop_t *loop, tn_sync_t *sync, void *arg)
{
    (void)sync;
}

Test(ioloop, unfinished_sync_is_freed_with_loop)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    cr_assert_eq(tn_ioloop_run_sync(loop, sync_never_done_cleanup, NULL, 10), TN_ETIMEOUT);
    tn_test_close(loop, 0); /* ASan reports it if the handle leaked */
}

/* close */
static void on_nothing(tn_ioloop_t *loop, void *arg)
{
    *(int *)arg += 1;
}

/* tornado: ioloop_test test_close_file_object / all_fds */
Test(ioloop, close_reports_live_objects_and_close_all_closes_them)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int ran = 0;
    tn_ioloop_call_later(loop, 10000, on_nothing, &ran);
    tn_periodic_t *p = NULL;
    cr_assert_eq(tn_periodic_new(loop, 1000, (tn_periodic_cb)NULL, NULL, &p), TN_EINVAL);
    cr_assert_eq(tn_ioloop_alive_count(loop), 1);
    cr_assert_eq(tn_ioloop_close(loop, 0), TN_EBUSY);
    /* Nothing was freed: the loop still works. */
    trace_t t = {{0}, 0};
    step_t s = {&t, 0, 1};
    tn_ioloop_add_callback(loop, on_step, &s);
    tn_test_run(loop, 2000);
    cr_assert_eq(t.n, 1);
    cr_assert_eq(ran, 0);
    tn_test_close(loop, TN_CLOSE_ALL_FDS);
}

Test(ioloop, close_drops_callbacks_that_never_ran)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int ran = 0;
    for (int i = 0; i < 10; i++)
        tn_ioloop_add_callback(loop, on_nothing, &ran);
    tn_test_close(loop, 0);
    cr_assert_eq(ran, 0);
}

/* tornado: ioloop_test test_add_callback_while_closing */
static void on_add_while_closing(tn_ioloop_t *loop, void *arg)
{
    int *rc = arg;
    rc[0] = tn_ioloop_add_callback(loop, on_nothing, &rc[1]);
    rc[2] = (int)tn_ioloop_call_later(loop, 0, on_nothing, &rc[1]);
}

Test(ioloop, add_callback_while_closing_is_refused)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int rc[3] = {1, 0, 1};
    int ran = 0;
    /* A live object makes close(all) run a teardown, during which the queued
     * callback runs and finds the loop closing. */
    tn_ioloop_call_later(loop, 10000, on_nothing, &ran);
    tn_ioloop_add_callback(loop, on_add_while_closing, rc);
    tn_test_close(loop, TN_CLOSE_ALL_FDS);
    cr_assert_eq(rc[0], TN_EDETACHED);
    cr_assert_eq(rc[1], 0, "a callback added while closing ran");
    cr_assert_eq(rc[2], 0);
    cr_assert_eq(ran, 0);
}

static void on_close_inside(tn_ioloop_t *loop, void *arg)
{
    *(int *)arg = tn_ioloop_close(loop, TN_CLOSE_ALL_FDS);
    tn_ioloop_stop(loop);
}

Test(ioloop, close_while_running_is_refused)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int rc = 0;
    tn_ioloop_add_callback(loop, on_close_inside, &rc);
    tn_test_run(loop, 2000);
    cr_assert_eq(rc, TN_EINVAL);
    tn_test_close(loop, 0);
}

/* time */
Test(ioloop, time_is_monotonic_milliseconds)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    uint64_t a = tn_ioloop_time_ms(loop);
    tn_test_sleep_ms(20);
    uint64_t b = tn_ioloop_time_ms(loop);
    cr_assert_geq(b - a, 19);
    cr_assert_lt(b - a, 1000);
    tn_test_close(loop, 0);
}

/* run_in_executor */
typedef struct {
    uv_thread_t loop_thread;
    int worked_elsewhere;
    int status;
    int done;
} work_t;

static void work_fn(void *arg)
{
    work_t *w = arg;
    uv_thread_t self = uv_thread_self();
    w->worked_elsewhere = !uv_thread_equal(&self, &w->loop_thread);
    tn_test_sleep_ms(5);
}

static void work_done(tn_ioloop_t *loop, int status, void *arg)
{
    work_t *w = arg;
    w->status = status;
    w->done++;
    tn_ioloop_stop(loop);
}

Test(ioloop, run_in_executor_runs_on_pool_and_completes_on_loop)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    work_t w = {uv_thread_self(), 0, 1, 0};
    cr_assert_eq(tn_ioloop_run_in_executor(loop, work_fn, work_done, &w), 0);
    cr_assert_eq(w.done, 0);
    cr_assert_eq(tn_ioloop_alive_count(loop), 1);
    tn_test_run(loop, 5000);
    cr_assert_eq(w.done, 1);
    cr_assert_eq(w.status, 0);
    cr_assert_eq(w.worked_elsewhere, 1);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    tn_test_close(loop, 0);
}

/* Work that cannot start before close(all) is cancelled; work already running
 * completes normally. The pool is occupied by blockers first. */
static uv_sem_t gate;

static void blocker_fn(void *arg)
{
    uv_sem_wait(&gate);
}

static void count_done(tn_ioloop_t *loop, int status, void *arg)
{
    int *counts = arg; /* [0] ok, [1] canceled */
    counts[status == 0 ? 0 : status == TN_ECANCELED ? 1 : 2]++;
}

static void open_gate_later(void *arg)
{
    tn_test_sleep_ms(200);
    for (int i = 0; i < 16; i++)
        uv_sem_post(&gate);
}

Test(ioloop, close_all_cancels_pending_executor_work)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    uv_sem_init(&gate, 0);
    int counts[3] = {0};
    /* libuv's default pool has 4 threads; 16 blockers leave most queued. */
    for (int i = 0; i < 16; i++)
        cr_assert_eq(tn_ioloop_run_in_executor(loop, blocker_fn, count_done, counts), 0);
    tn_test_sleep_ms(20);
    /* Release the running ones only after close(all) cancelled the rest. */
    uv_thread_t th;
    cr_assert_eq(uv_thread_create(&th, open_gate_later, NULL), 0);
    tn_test_close(loop, TN_CLOSE_ALL_FDS);
    uv_thread_join(&th);
    cr_assert_eq(counts[0] + counts[1], 16);
    cr_assert_eq(counts[2], 0);
    cr_assert_geq(counts[1], 1, "no pending work was cancelled");
    uv_sem_destroy(&gate);
}

#ifndef _WIN32
#include <signal.h>
static void on_signal(tn_ioloop_t *loop, int signum, void *arg)
{
    *(int *)arg = signum;
    tn_ioloop_stop(loop);
}

static void raise_usr1(tn_ioloop_t *loop, void *arg)
{
    raise(SIGUSR1);
}

Test(ioloop, signal_handler_runs_on_loop)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int got = 0;
    cr_assert_eq(tn_ioloop_add_signal_handler(loop, SIGUSR1, on_signal, &got), 0);
    tn_ioloop_add_callback(loop, raise_usr1, NULL);
    tn_test_run(loop, 2000);
    cr_assert_eq(got, SIGUSR1);
    tn_ioloop_remove_signal_handler(loop, SIGUSR1);
    tn_ioloop_remove_signal_handler(loop, SIGUSR1); /* harmless */
    tn_test_close(loop, 0);
}

static void on_signal_other(tn_ioloop_t *loop, int signum, void *arg)
{
    *(int *)arg = -signum;
    tn_ioloop_stop(loop);
}

Test(ioloop, second_signal_handler_replaces_first)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int first = 0, second = 0;
    cr_assert_eq(tn_ioloop_add_signal_handler(loop, 0, on_signal, &first), TN_EINVAL);
    cr_assert_eq(tn_ioloop_add_signal_handler(loop, SIGUSR2, on_signal, &first), 0);
    cr_assert_eq(tn_ioloop_add_signal_handler(loop, SIGUSR2, on_signal_other, &second), 0);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    raise(SIGUSR2);
    tn_test_run(loop, 2000);
    cr_assert_eq(first, 0);
    cr_assert_eq(second, -SIGUSR2);
    /* close(0) removes signal handlers itself. */
    tn_test_close(loop, 0);
}

Test(ioloop, sigpipe_is_ignored_after_new)
{
    signal(SIGPIPE, SIG_DFL);
    tn_ioloop_t *loop = tn_test_loop_new();
    struct sigaction sa;
    cr_assert_eq(sigaction(SIGPIPE, NULL, &sa), 0);
    cr_assert(sa.sa_handler == SIG_IGN);
    tn_test_close(loop, 0);
}
#else
#include <signal.h>
static void on_signal(tn_ioloop_t *loop, int signum, void *arg)
{
    (void)loop;
    *(int *)arg = signum;
}

/* Windows: libuv delivers SIGINT, SIGBREAK, SIGHUP and SIGWINCH only; a
 * handler for any other signal is refused instead of never running. */
Test(ioloop, only_deliverable_signals_are_accepted)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int got = 0;
    cr_assert_eq(tn_ioloop_add_signal_handler(loop, SIGTERM, on_signal, &got), TN_ENOTSUP);
    cr_assert_eq(tn_ioloop_add_signal_handler(loop, SIGINT, on_signal, &got), 0);
    tn_ioloop_remove_signal_handler(loop, SIGINT);
    tn_test_close(loop, 0);
    cr_assert_eq(got, 0);
}
#endif
