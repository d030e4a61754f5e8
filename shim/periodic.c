/* PeriodicCallback over one uv_timer_t, re-armed after each call at the next
 * anchored deadline (lib/periodic_sched.c). A periodic is a tracked object:
 * close(all)/detach free it. Stopping or freeing from inside its own callback
 * is safe: the record outlives the callback until the timer's close callback. */
#include "ioloop_private.h"
#include "periodic_sched.h"

struct tn_periodic_s {
    uv_timer_t timer;
    tn__handle_t track;
    tn_ioloop_t *loop;
    uint64_t period_ms;
    double jitter;
    uint64_t next; /* deadline of the next call, loop milliseconds */
    tn_periodic_cb cb;
    void *arg;
    int running;
    int freed;
};

static uint64_t period_of(tn_periodic_t *p)
{
    double unit = (double)(tn__loop_random(p->loop) >> 11) / 9007199254740992.0;
    return tn__periodic_jitter(p->period_ms, p->jitter, unit);
}

static void on_tick(uv_timer_t *timer);

static void arm_at(tn_periodic_t *p, uint64_t now)
{
    uv_timer_start(&p->timer, on_tick, p->next > now ? p->next - now : 0, 0);
}

static void on_tick(uv_timer_t *timer)
{
    tn_periodic_t *p = timer->data;
    p->cb(p, p->arg);
    if (!p->running || p->freed)
        return;
    uint64_t now = tn_ioloop_time_ms(p->loop);
    p->next = tn__periodic_next(p->next, now, period_of(p));
    arm_at(p, now);
}

static void on_closed(uv_handle_t *h)
{
    tn_periodic_t *p = h->data;
    tn_ioloop_t *loop = p->loop;
    tn_free(p);
    tn__loop_handle_closed(loop);
}

static void on_close_request(tn__handle_t *h)
{
    tn_periodic_free(TN__CONTAINER_OF(h, tn_periodic_t, track));
}

int tn_periodic_new(tn_ioloop_t *loop, uint64_t period_ms, tn_periodic_cb cb, void *arg,
                    tn_periodic_t **out)
{
    if (loop == NULL || cb == NULL || out == NULL || period_ms == 0)
        return TN_EINVAL;
    if (loop->state != TN__LOOP_OPEN)
        return TN_EDETACHED;
    tn_periodic_t *p = tn_calloc(1, sizeof(*p));
    if (p == NULL)
        return TN_ENOMEM;
    p->loop = loop;
    p->period_ms = period_ms;
    p->cb = cb;
    p->arg = arg;
    uv_timer_init(loop->uv, &p->timer);
    p->timer.data = p;
    tn__loop_track(loop, &p->track, on_close_request);
    *out = p;
    return 0;
}

void tn_periodic_set_jitter(tn_periodic_t *p, double jitter)
{
    p->jitter = jitter < 0 ? 0 : jitter >= 1 ? 0.999 : jitter;
}

int tn_periodic_start(tn_periodic_t *p)
{
    if (p == NULL || p->freed)
        return TN_EINVAL;
    if (p->running)
        return 0;
    uint64_t now = tn_ioloop_time_ms(p->loop);
    p->running = 1;
    p->next = now + period_of(p);
    arm_at(p, now);
    return 0;
}

void tn_periodic_stop(tn_periodic_t *p)
{
    if (p == NULL || !p->running)
        return;
    p->running = 0;
    uv_timer_stop(&p->timer);
}

int tn_periodic_is_running(tn_periodic_t *p)
{
    return p != NULL && p->running;
}

void tn_periodic_free(tn_periodic_t *p)
{
    if (p == NULL || p->freed)
        return;
    tn_periodic_stop(p);
    p->freed = 1;
    tn__loop_untrack(p->loop, &p->track);
    tn__loop_close_handle(p->loop, (uv_handle_t *)&p->timer, on_closed);
}
