/* FIFO wait lists with timeouts and cancellation (see waiters.h). */
#include "waiters.h"

enum { W_WAITING, W_GRANTED };

/* Ids are unique per thread (each loop lives on one), never 0. */
static _Thread_local tn_wait_id next_id;

void tn__waitable_init(tn__waitable_t *o, tn_ioloop_t *loop, void (*destroy)(void *))
{
    o->loop = loop;
    o->refs = 1;
    o->freed = 0;
    o->destroy = destroy;
}

static void waitable_unref(tn__waitable_t *o)
{
    if (--o->refs == 0)
        o->destroy(o);
}

void tn__waitable_release(tn__waitable_t *o)
{
    o->freed = 1;
    waitable_unref(o);
}

void tn__wq_init(tn__wq_t *wq, tn__waitable_t *owner, void (*deliver)(tn__waiter_t *),
                 int (*ungrant)(tn__waiter_t *))
{
    wq->owner = owner;
    wq->head = wq->tail = wq->granted = NULL;
    wq->deliver = deliver;
    wq->ungrant = ungrant;
}

static void unlink_waiting(tn__waiter_t *w)
{
    tn__wq_t *wq = w->wq;
    if (w->prev)
        w->prev->next = w->next;
    else
        wq->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        wq->tail = w->prev;
    w->prev = w->next = NULL;
}

static void unlink_granted(tn__waiter_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        w->wq->granted = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

static void on_deliver(tn_ioloop_t *loop, void *arg)
{
    tn__waiter_t *w = arg;
    tn__waitable_t *o = w->wq->owner;
    (void)loop;
    unlink_granted(w);
    w->wq->deliver(w);
    tn_free(w);
    waitable_unref(o);
}

static void on_timer(tn_ioloop_t *loop, void *arg)
{
    tn__waiter_t *w = arg;
    (void)loop;
    w->timer = 0;
    if (w->state == W_WAITING)
        tn__wq_grant(w, TN_ETIMEOUT);
}

static tn__waiter_t *new_waiter(tn__wq_t *wq, void (*cb)(void), void *arg)
{
    tn__waiter_t *w = tn_calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->wq = wq;
    w->id = ++next_id;
    w->cb = cb;
    w->arg = arg;
    wq->owner->refs++;
    return w;
}

tn__waiter_t *tn__wq_add(tn__wq_t *wq, uint64_t timeout_ms, void (*cb)(void), void *arg)
{
    tn__waiter_t *w = new_waiter(wq, cb, arg);
    if (w == NULL)
        return NULL;
    if (timeout_ms > 0) {
        w->timer = tn_ioloop_call_later(wq->owner->loop, timeout_ms, on_timer, w);
        if (w->timer == 0) {
            wq->owner->refs--;
            tn_free(w);
            return NULL;
        }
    }
    w->state = W_WAITING;
    w->prev = wq->tail;
    if (wq->tail)
        wq->tail->next = w;
    else
        wq->head = w;
    wq->tail = w;
    return w;
}

static void queue_delivery(tn__waiter_t *w, int status);

tn__waiter_t *tn__wq_add_granted(tn__wq_t *wq, void (*cb)(void), void *arg, int status)
{
    tn__waiter_t *w = new_waiter(wq, cb, arg);
    if (w != NULL)
        queue_delivery(w, status);
    return w;
}

tn__waiter_t *tn__wq_first(const tn__wq_t *wq)
{
    return wq->head;
}

void tn__wq_grant(tn__waiter_t *w, int status)
{
    unlink_waiting(w);
    if (w->timer != 0) {
        tn_ioloop_remove_timeout(w->wq->owner->loop, w->timer);
        w->timer = 0;
    }
    queue_delivery(w, status);
}

static void queue_delivery(tn__waiter_t *w, int status)
{
    tn__wq_t *wq = w->wq;
    w->state = W_GRANTED;
    w->status = status;
    w->next = wq->granted;
    if (wq->granted)
        wq->granted->prev = w;
    wq->granted = w;
    if (tn__loop_defer_node(wq->owner->loop, &w->node, on_deliver, w) != 0) {
        /* The loop finished tearing down: nothing can be delivered. */
        tn__waitable_t *o = wq->owner;
        unlink_granted(w);
        tn_free(w);
        waitable_unref(o);
    }
}

int tn__wq_cancel(tn__wq_t *wq, tn_wait_id id)
{
    if (id == 0)
        return TN_ENOTFOUND;
    for (tn__waiter_t *w = wq->head; w != NULL; w = w->next) {
        if (w->id == id) {
            tn__wq_grant(w, TN_ECANCELED);
            return 0;
        }
    }
    for (tn__waiter_t *w = wq->granted; w != NULL; w = w->next) {
        if (w->id != id)
            continue;
        if (w->status != 0)
            return TN_EALREADY; /* already ending with an error (a timeout) */
        if (wq->ungrant == NULL || wq->ungrant(w) != 0)
            return TN_EALREADY;
        w->status = TN_ECANCELED;
        return 0;
    }
    return TN_ENOTFOUND;
}

void tn__wq_close(tn__wq_t *wq, int status)
{
    while (wq->head != NULL)
        tn__wq_grant(wq->head, status);
}
