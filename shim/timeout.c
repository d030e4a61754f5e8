/* Timeouts: call_later / call_at / remove_timeout.
 *
 * Each pending timeout owns a uv_timer_t; libuv's timer heap orders equal
 * deadlines by start order, which gives FIFO. Ids (never reused, 0 invalid)
 * map to records through an id map, so remove_timeout of a fired, removed or
 * unknown id is a failed lookup, never a dangling pointer. A removed timer is
 * stopped at once (libuv then cannot run it, even if it was due in the same
 * iteration) and freed in its close callback.
 *
 * Two rules keep Tornado's ordering, where a timeout that becomes due runs
 * after the callbacks that were already queued:
 *   - a delay of 0 (or a past deadline) does not use a timer at all: the
 *     timeout joins the add_callback queue. This also avoids libuv 1.44's
 *     timer phase re-running a zero timer that re-arms itself forever;
 *   - a timer that fires while callbacks queued before this timer phase
 *     still wait joins the queue behind them instead of running first, and
 *     so do the timers after it in the same phase, so timeouts keep their
 *     relative order. Callbacks queued by the phase's own timers do not hold
 *     timers back (Tornado moves every due timeout to the ready list before
 *     running any). */
#include "ioloop_private.h"

typedef struct {
    uv_timer_t timer;
    tn__qnode_t node;
    tn__handle_t track;
    tn_ioloop_t *loop;
    tn_timeout_id id;
    tn_callback_cb cb;
    void *arg;
    int has_timer; /* timer initialised: freed in its close callback */
    int waiting;   /* node is in the callback queue */
} tn__timeout_t;

static void on_timer_closed(uv_handle_t *h)
{
    tn__timeout_t *t = h->data;
    tn_ioloop_t *loop = t->loop;
    tn_free(t);
    tn__loop_handle_closed(loop);
}

/* Ends a timeout's life (fired or cancelled): it leaves the map, the tracked
 * list and the queue, and its memory goes now or after the timer's close. */
static void retire(tn__timeout_t *t)
{
    tn_ioloop_t *loop = t->loop;
    tn__idmap_del(&loop->timeouts, t->id);
    if (t->waiting) {
        t->waiting = 0;
        tn__callbacks_unlink_node(loop, &t->node);
    }
    tn__loop_untrack(loop, &t->track);
    if (t->has_timer)
        tn__loop_close_handle(loop, (uv_handle_t *)&t->timer, on_timer_closed);
    else
        tn_free(t);
}

static void fire(tn__timeout_t *t)
{
    tn_ioloop_t *loop = t->loop;
    tn_callback_cb cb = t->cb;
    void *arg = t->arg;
    t->waiting = 0; /* the drain already unlinked the node */
    retire(t);
    cb(loop, arg);
}

static void on_queued(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    fire(arg);
}

static void wait_in_queue(tn__timeout_t *t)
{
    t->waiting = 1;
    t->node.cb = on_queued;
    t->node.arg = t;
    tn__callbacks_push_node(t->loop, &t->node);
}

static void on_timer(uv_timer_t *timer)
{
    tn__timeout_t *t = timer->data;
    tn_ioloop_t *loop = t->loop;
    if (!loop->in_timer_phase) {
        loop->in_timer_phase = 1;
        loop->phase_seq = tn__callbacks_seq(loop);
    }
    if (loop->deferring || tn__callbacks_head_seq(loop) < loop->phase_seq) {
        loop->deferring = 1;
        wait_in_queue(t);
        return;
    }
    fire(t);
}

static void on_close_request(tn__handle_t *h)
{
    retire(TN__CONTAINER_OF(h, tn__timeout_t, track));
}

static tn_timeout_id schedule(tn_ioloop_t *loop, uint64_t delay_ms, tn_callback_cb cb, void *arg)
{
    tn__timeout_t *t = tn_calloc(1, sizeof(*t));
    if (t == NULL)
        return 0;
    t->loop = loop;
    t->cb = cb;
    t->arg = arg;
    t->id = loop->next_timeout_id;
    if (tn__idmap_put(&loop->timeouts, t->id, t) != 0) {
        tn_free(t);
        return 0;
    }
    loop->next_timeout_id++;
    tn__loop_track(loop, &t->track, on_close_request);
    if (delay_ms == 0) {
        wait_in_queue(t);
        return t->id;
    }
    uv_timer_init(loop->uv, &t->timer);
    t->timer.data = t;
    t->has_timer = 1;
    uv_timer_start(&t->timer, on_timer, delay_ms, 0);
    return t->id;
}

tn_timeout_id tn_ioloop_call_later(tn_ioloop_t *loop, uint64_t delay_ms, tn_callback_cb cb,
                                   void *arg)
{
    if (loop == NULL || cb == NULL || loop->state != TN__LOOP_OPEN)
        return 0;
    /* Measure the delay from now, not from the start of this iteration. */
    uv_update_time(loop->uv);
    return schedule(loop, delay_ms, cb, arg);
}

tn_timeout_id tn_ioloop_call_at(tn_ioloop_t *loop, uint64_t deadline_ms, tn_callback_cb cb,
                                void *arg)
{
    if (loop == NULL || cb == NULL || loop->state != TN__LOOP_OPEN)
        return 0;
    uint64_t now = tn_ioloop_time_ms(loop);
    return schedule(loop, deadline_ms > now ? deadline_ms - now : 0, cb, arg);
}

void tn_ioloop_remove_timeout(tn_ioloop_t *loop, tn_timeout_id id)
{
    if (loop == NULL || id == 0)
        return;
    tn__timeout_t *t = tn__idmap_get(&loop->timeouts, id);
    if (t == NULL)
        return;
    if (t->has_timer)
        uv_timer_stop(&t->timer);
    retire(t);
}

void tn__timeouts_free(tn_ioloop_t *loop)
{
    tn__idmap_free(&loop->timeouts);
}
