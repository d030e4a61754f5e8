/* Embedding: tornuv attached to a host-owned uv_loop_t, and the tracking
 * contract other shim modules rely on (tn__loop_track / defer). */
#include <criterion/criterion.h>
#include <uv.h>

#include "../shim/loop_internal.h"
#include "loop_util.h"
#include "sockpair.h"
#include "tornuv.h"
#include "tornuv/uv.h"

TestSuite(embed, .timeout = 20);

/* The host: its own loop, a repeating timer, and a watchdog. */
typedef struct {
    uv_loop_t uv;
    uv_timer_t timer;
    uv_timer_t watchdog;
    int ticks;
    int ticks_at_detach;
    int detached;
    int detach_inside_call;
    int in_detach_call;
    int watchdog_fired;
    tn_ioloop_t *loop;
    int cb_ran;
    int timeout_ran;
    int add_after_detach;
} host_t;

static void on_host_tick(uv_timer_t *t)
{
    host_t *h = t->data;
    h->ticks++;
    /* After tornuv detached, the host keeps ticking a few times, then closes
     * its own handles and lets uv_run return. */
    if (h->detached && h->ticks >= h->ticks_at_detach + 3) {
        uv_close((uv_handle_t *)&h->timer, NULL);
        uv_close((uv_handle_t *)&h->watchdog, NULL);
    }
}

static void on_host_watchdog(uv_timer_t *t)
{
    host_t *h = t->data;
    h->watchdog_fired = 1;
    uv_stop(&h->uv);
}

static void host_init(host_t *h)
{
    memset(h, 0, sizeof(*h));
    cr_assert_eq(uv_loop_init(&h->uv), 0);
    uv_timer_init(&h->uv, &h->timer);
    uv_timer_init(&h->uv, &h->watchdog);
    h->timer.data = h->watchdog.data = h;
    uv_timer_start(&h->timer, on_host_tick, 2, 2);
    uv_timer_start(&h->watchdog, on_host_watchdog, 5000, 0);
    uv_unref((uv_handle_t *)&h->watchdog);
}

static void on_detached(void *arg)
{
    host_t *h = arg;
    h->detached++;
    h->detach_inside_call = h->in_detach_call;
    h->ticks_at_detach = h->ticks;
}

static void on_tn_timeout(tn_ioloop_t *loop, void *arg)
{
    host_t *h = arg;
    h->timeout_ran++;
    h->in_detach_call = 1;
    cr_assert_eq(tn_ioloop_detach(loop, on_detached, h), 0);
    h->in_detach_call = 0;
    cr_assert_eq(tn_ioloop_detach(loop, on_detached, h), TN_EINVAL);
    h->add_after_detach = tn_ioloop_add_callback(loop, on_tn_timeout, h);
}

static void on_tn_callback(tn_ioloop_t *loop, void *arg)
{
    host_t *h = arg;
    h->cb_ran++;
    cr_assert_neq(tn_ioloop_call_later(loop, 10, on_tn_timeout, h), 0);
}

static int count_handles_cb_n;
static void count_handle(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (!uv_is_closing(handle))
        count_handles_cb_n++;
}

static int count_handles(uv_loop_t *uv)
{
    count_handles_cb_n = 0;
    uv_walk(uv, count_handle, NULL);
    return count_handles_cb_n;
}

Test(embed, attach_work_detach_host_timer_untouched_loop_closes)
{
    host_t h;
    host_init(&h);
    int host_handles = count_handles(&h.uv);
    cr_assert_eq(tn_ioloop_attach(&h.uv, &h.loop), 0);
    cr_assert_eq(tn_ioloop_uv(h.loop), &h.uv);
    cr_assert_eq(tn_ioloop_current(), h.loop);
    /* tornuv never runs a borrowed loop. */
    cr_assert_eq(tn_ioloop_start(h.loop), TN_EINVAL);
    cr_assert_eq(tn_ioloop_close(h.loop, 0), TN_EINVAL);
    cr_assert_eq(tn_ioloop_add_callback(h.loop, on_tn_callback, &h), 0);
    tn_ioloop_stop(h.loop); /* no-op: must not stop the host's uv_run */

    cr_assert_eq(uv_run(&h.uv, UV_RUN_DEFAULT), 0);
    cr_assert_eq(h.watchdog_fired, 0);
    cr_assert_eq(h.cb_ran, 1);
    cr_assert_eq(h.timeout_ran, 1);
    cr_assert_eq(h.add_after_detach, TN_EDETACHED);
    cr_assert_eq(h.detached, 1);
    cr_assert_eq(h.detach_inside_call, 0, "on_detached ran inside tn_ioloop_detach");
    cr_assert_geq(h.ticks, h.ticks_at_detach + 3, "host timer stopped after detach");
    cr_assert_eq(count_handles(&h.uv), 0);
    cr_assert_eq(uv_loop_close(&h.uv), 0);
    (void)host_handles;
}

/* A host with tornuv attached but idle exits uv_run by itself, also after
 * tornuv did some work. */
static void on_count(tn_ioloop_t *loop, void *arg)
{
    (*(int *)arg)++;
}

static void on_count_chain(tn_ioloop_t *loop, void *arg)
{
    if (++*(int *)arg < 5)
        tn_ioloop_add_callback(loop, on_count_chain, arg);
}

static void on_detached_flag(void *arg)
{
    (*(int *)arg)++;
}

Test(embed, idle_attached_loop_lets_host_uv_run_return)
{
    uv_loop_t uv;
    cr_assert_eq(uv_loop_init(&uv), 0);
    tn_ioloop_t *loop = NULL;
    cr_assert_eq(tn_ioloop_attach(&uv, &loop), 0);
    /* Would block forever (test timeout) if tornuv kept the loop alive. */
    cr_assert_eq(uv_run(&uv, UV_RUN_DEFAULT), 0);
    int n = 0;
    tn_ioloop_call_later(loop, 5, on_count, &n);
    tn_ioloop_add_callback(loop, on_count, &n);
    cr_assert_eq(uv_run(&uv, UV_RUN_DEFAULT), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(uv_run(&uv, UV_RUN_DEFAULT), 0);
    /* Queued callbacks alone keep the host running until they ran,
     * including callbacks they queue. */
    n = 0;
    tn_ioloop_add_callback(loop, on_count_chain, &n);
    cr_assert_eq(uv_run(&uv, UV_RUN_DEFAULT), 0);
    cr_assert_eq(n, 5);
    int detached = 0;
    cr_assert_eq(tn_ioloop_detach(loop, on_detached_flag, &detached), 0);
    cr_assert_eq(detached, 0);
    cr_assert_eq(uv_run(&uv, UV_RUN_DEFAULT), 0);
    cr_assert_eq(detached, 1);
    cr_assert_eq(uv_loop_close(&uv), 0);
}

/* Detach with every kind of live object: all are closed, none calls back
 * except as documented, and the host loop closes with 0. */
typedef struct {
    int timeouts;
    int handler_calls;
    int ticks;
    int work_done;
    int work_status;
    int detached;
} live_t;

static void on_live_timeout(tn_ioloop_t *loop, void *arg)
{
    ((live_t *)arg)->timeouts++;
}

static void on_live_handler(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    ((live_t *)arg)->handler_calls++;
}

static void on_live_tick(tn_periodic_t *p, void *arg)
{
    ((live_t *)arg)->ticks++;
}

static void live_work(void *arg)
{
    tn_test_sleep_ms(20);
}

static void on_live_work_done(tn_ioloop_t *loop, int status, void *arg)
{
    live_t *l = arg;
    l->work_done++;
    l->work_status = status;
}

static void on_live_detached(void *arg)
{
    ((live_t *)arg)->detached++;
}

Test(embed, detach_closes_every_live_object)
{
    uv_loop_t uv;
    cr_assert_eq(uv_loop_init(&uv), 0);
    tn_ioloop_t *loop = NULL;
    cr_assert_eq(tn_ioloop_attach(&uv, &loop), 0);
    live_t l = {0};
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[0], TN_READ, on_live_handler, &l), 0);
    cr_assert_neq(tn_ioloop_call_later(loop, 10000, on_live_timeout, &l), 0);
    tn_periodic_t *p = NULL;
    cr_assert_eq(tn_periodic_new(loop, 10000, on_live_tick, &l, &p), 0);
    tn_periodic_start(p);
    cr_assert_eq(tn_ioloop_run_in_executor(loop, live_work, on_live_work_done, &l), 0);
    cr_assert_eq(tn_ioloop_add_signal_handler(loop, 10, NULL, NULL), TN_EINVAL);
    cr_assert_eq(tn_ioloop_alive_count(loop), 4);
    cr_assert_eq(tn_ioloop_detach(loop, on_live_detached, &l), 0);
    cr_assert_eq(tn_ioloop_add_handler(loop, sv[1], TN_READ, on_live_handler, &l), TN_EDETACHED);
    cr_assert_eq(tn_ioloop_call_later(loop, 1, on_live_timeout, &l), 0);
    cr_assert_eq(uv_run(&uv, UV_RUN_DEFAULT), 0);
    cr_assert_eq(l.detached, 1);
    cr_assert_eq(l.timeouts, 0);
    cr_assert_eq(l.handler_calls, 0);
    cr_assert_eq(l.ticks, 0);
    cr_assert_eq(l.work_done, 1);
    cr_assert(l.work_status == 0 || l.work_status == TN_ECANCELED);
    cr_assert_eq(uv_loop_close(&uv), 0);
    tn_test_closesocket(sv[1]);
}

/* The tracking contract, as a stream module uses it: a tracked object owning
 * a uv handle is closed by teardown, delivers a TN_ECLOSED completion through
 * tn__loop_defer, and untracks from its close callback. */
typedef struct {
    tn__handle_t track;
    uv_timer_t timer;
    tn_ioloop_t *loop;
    int *completions;
    int *last_status;
    int *closed;
} fake_stream_t;

static void on_fake_completion(tn_ioloop_t *loop, void *arg)
{
    fake_stream_t *s = arg;
    (*s->completions)++;
    *s->last_status = TN_ECLOSED;
}

static void on_fake_close_notified(tn_ioloop_t *loop, void *arg)
{
    fake_stream_t *s = arg;
    (*s->closed)++;
    free(s);
}

/* Untracks first, then still defers its user's close callback: the loop
 * must not finish tearing down in between. */
static void on_fake_closed(uv_handle_t *h)
{
    fake_stream_t *s = h->data;
    tn__loop_untrack(s->loop, &s->track);
    cr_assert_eq(tn__loop_defer(s->loop, on_fake_close_notified, s), 0);
}

static void fake_close(tn__handle_t *h)
{
    fake_stream_t *s = (fake_stream_t *)((char *)h - offsetof(fake_stream_t, track));
    cr_assert(tn__loop_closing(s->loop));
    cr_assert_eq(tn__loop_defer(s->loop, on_fake_completion, s), 0);
    uv_close((uv_handle_t *)&s->timer, on_fake_closed);
}

static void on_fake_timer(uv_timer_t *t)
{
}

static fake_stream_t *fake_stream_new(tn_ioloop_t *loop, int *completions, int *status, int *closed)
{
    fake_stream_t *s = calloc(1, sizeof(*s));
    s->loop = loop;
    s->completions = completions;
    s->last_status = status;
    s->closed = closed;
    uv_timer_init(tn__loop_uv(loop), &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, on_fake_timer, 100000, 0);
    tn__loop_track(loop, &s->track, fake_close);
    return s;
}

Test(embed, tracked_objects_close_on_close_all_and_detach)
{
    int completions = 0, status = 0, closed = 0;
    /* One object alone: its untrack is the last event of the teardown. */
    tn_ioloop_t *loop = tn_test_loop_new();
    fake_stream_new(loop, &completions, &status, &closed);
    tn_test_close(loop, TN_CLOSE_ALL_FDS);
    cr_assert_eq(completions, 1);
    cr_assert_eq(closed, 1);
    completions = closed = 0;

    /* Owned loop, close(all). */
    loop = tn_test_loop_new();
    cr_assert_eq(tn__loop_closing(loop), 0);
    for (int i = 0; i < 10; i++)
        fake_stream_new(loop, &completions, &status, &closed);
    cr_assert_eq(tn_ioloop_alive_count(loop), 10);
    cr_assert_eq(tn_ioloop_close(loop, 0), TN_EBUSY);
    tn_test_close(loop, TN_CLOSE_ALL_FDS);
    cr_assert_eq(completions, 10);
    cr_assert_eq(closed, 10);
    cr_assert_eq(status, TN_ECLOSED);

    /* Borrowed loop, detach. */
    uv_loop_t uv;
    cr_assert_eq(uv_loop_init(&uv), 0);
    cr_assert_eq(tn_ioloop_attach(&uv, &loop), 0);
    for (int i = 0; i < 10; i++)
        fake_stream_new(loop, &completions, &status, &closed);
    int detached = 0;
    cr_assert_eq(tn_ioloop_detach(loop, on_detached_flag, &detached), 0);
    cr_assert_eq(uv_run(&uv, UV_RUN_DEFAULT), 0);
    cr_assert_eq(detached, 1);
    cr_assert_eq(completions, 20);
    cr_assert_eq(closed, 20);
    cr_assert_eq(uv_loop_close(&uv), 0);
}

/* add_callback from another thread racing with detach: every call either
 * runs its callback or returns TN_EDETACHED; nothing crashes. */
typedef struct {
    tn_ioloop_t *loop;
    uv_thread_t thread;
    uv_sem_t started;
    volatile int stop;
    int accepted;
    int refused;
} racer_t;

static void on_race(tn_ioloop_t *loop, void *arg)
{
    (*(int *)arg)++;
}

static int race_ran;

static void race_thread(void *arg)
{
    racer_t *r = arg;
    uv_sem_post(&r->started);
    while (!r->stop) {
        int rc = tn_ioloop_add_callback(r->loop, on_race, &race_ran);
        if (rc == 0)
            r->accepted++;
        else if (rc == TN_EDETACHED)
            r->refused++;
        if (r->refused > 100)
            break;
    }
}

static void on_race_detached(void *arg)
{
    racer_t *r = arg;
    /* The loop is freed right after this returns, and calling add_callback
     * on a freed loop is the caller's bug: end the racer thread first. */
    while (r->refused == 0)
        tn_test_sleep_ms(1);
    r->stop = 1;
    uv_thread_join(&r->thread);
}

static void on_start_detach(uv_timer_t *t)
{
    racer_t *r = t->data;
    cr_assert_eq(tn_ioloop_detach(r->loop, on_race_detached, r), 0);
    uv_close((uv_handle_t *)t, NULL);
}

Test(embed, cross_thread_add_callback_during_detach)
{
    uv_loop_t uv;
    cr_assert_eq(uv_loop_init(&uv), 0);
    racer_t r = {0};
    cr_assert_eq(tn_ioloop_attach(&uv, &r.loop), 0);
    uv_sem_init(&r.started, 0);
    cr_assert_eq(uv_thread_create(&r.thread, race_thread, &r), 0);
    uv_sem_wait(&r.started);
    uv_timer_t t;
    uv_timer_init(&uv, &t);
    t.data = &r;
    uv_timer_start(&t, on_start_detach, 20, 0);
    cr_assert_eq(uv_run(&uv, UV_RUN_DEFAULT), 0);
    cr_assert_gt(r.accepted, 0);
    cr_assert_gt(r.refused, 0);
    /* Everything accepted before the detach ran (queued callbacks still run
     * during teardown). */
    cr_assert_eq(race_ran, r.accepted);
    cr_assert_eq(uv_loop_close(&uv), 0);
    uv_sem_destroy(&r.started);
}
