/* Event, Condition, Semaphore and Lock over the shared wait lists
 * (waiters.c): each object is a count or a flag plus one FIFO list. */
#include "waiters.h"

/* ---- Event ---------------------------------------------------------------- */

struct tn_event_s {
    tn__waitable_t w; /* first: waiters.c frees through it */
    tn__wq_t waiters;
    int set;
};

static void event_deliver(tn__waiter_t *w)
{
    ((tn_event_cb)w->cb)((tn_event_t *)w->wq->owner, w->status, w->arg);
}

int tn_event_new(tn_ioloop_t *loop, tn_event_t **out)
{
    if (loop == NULL || out == NULL)
        return TN_EINVAL;
    tn_event_t *ev = tn_calloc(1, sizeof(*ev));
    if (ev == NULL)
        return TN_ENOMEM;
    tn__waitable_init(&ev->w, loop, tn_free);
    /* Nothing to pass on: a woken waiter that is cancelled just ends. */
    tn__wq_init(&ev->waiters, &ev->w, event_deliver, NULL);
    *out = ev;
    return 0;
}

void tn_event_free(tn_event_t *ev)
{
    if (ev == NULL)
        return;
    tn__wq_close(&ev->waiters, TN_ECLOSED);
    tn__waitable_release(&ev->w);
}

void tn_event_set(tn_event_t *ev)
{
    ev->set = 1;
    tn__wq_close(&ev->waiters, 0);
}

void tn_event_clear(tn_event_t *ev)
{
    ev->set = 0;
}

int tn_event_is_set(const tn_event_t *ev)
{
    return ev->set;
}

tn_wait_id tn_event_wait(tn_event_t *ev, uint64_t timeout_ms, tn_event_cb cb, void *arg)
{
    if (cb == NULL || ev->w.freed)
        return 0;
    tn__waiter_t *w = ev->set ? tn__wq_add_granted(&ev->waiters, (void (*)(void))cb, arg, 0)
                              : tn__wq_add(&ev->waiters, timeout_ms, (void (*)(void))cb, arg);
    return w ? w->id : 0;
}

int tn_event_cancel(tn_event_t *ev, tn_wait_id id)
{
    int err = tn__wq_cancel(&ev->waiters, id);
    /* Woken already: Tornado's wait future would be done; keep its 0. */
    return err;
}

/* ---- Condition ------------------------------------------------------------ */

struct tn_condition_s {
    tn__waitable_t w;
    tn__wq_t waiters;
};

static void condition_deliver(tn__waiter_t *w)
{
    ((tn_condition_cb)w->cb)((tn_condition_t *)w->wq->owner, w->status, w->arg);
}

/* A notified waiter was cancelled before hearing it: the next one does. */
static int condition_ungrant(tn__waiter_t *w)
{
    tn__waiter_t *next = tn__wq_first(w->wq);
    if (next != NULL)
        tn__wq_grant(next, 0);
    return 0;
}

int tn_condition_new(tn_ioloop_t *loop, tn_condition_t **out)
{
    if (loop == NULL || out == NULL)
        return TN_EINVAL;
    tn_condition_t *c = tn_calloc(1, sizeof(*c));
    if (c == NULL)
        return TN_ENOMEM;
    tn__waitable_init(&c->w, loop, tn_free);
    tn__wq_init(&c->waiters, &c->w, condition_deliver, condition_ungrant);
    *out = c;
    return 0;
}

void tn_condition_free(tn_condition_t *c)
{
    if (c == NULL)
        return;
    tn__wq_close(&c->waiters, TN_ECLOSED);
    tn__waitable_release(&c->w);
}

tn_wait_id tn_condition_wait(tn_condition_t *c, uint64_t timeout_ms, tn_condition_cb cb, void *arg)
{
    if (cb == NULL || c->w.freed)
        return 0;
    tn__waiter_t *w = tn__wq_add(&c->waiters, timeout_ms, (void (*)(void))cb, arg);
    return w ? w->id : 0;
}

size_t tn_condition_notify(tn_condition_t *c, size_t n)
{
    size_t woken = 0;
    tn__waiter_t *w;
    while (woken < n && (w = tn__wq_first(&c->waiters)) != NULL) {
        tn__wq_grant(w, 0);
        woken++;
    }
    return woken;
}

size_t tn_condition_notify_all(tn_condition_t *c)
{
    return tn_condition_notify(c, (size_t)-1);
}

int tn_condition_cancel(tn_condition_t *c, tn_wait_id id)
{
    return tn__wq_cancel(&c->waiters, id);
}

/* ---- Semaphore ------------------------------------------------------------ */

struct tn_semaphore_s {
    tn__waitable_t w;
    tn__wq_t waiters;
    unsigned value, initial;
    int bounded;
};

static void semaphore_deliver(tn__waiter_t *w)
{
    ((tn_semaphore_cb)w->cb)((tn_semaphore_t *)w->wq->owner, w->status, w->arg);
}

/* A permit goes to the oldest waiter, or back to the count. */
static void give_permit(tn_semaphore_t *s)
{
    tn__waiter_t *next = tn__wq_first(&s->waiters);
    if (next != NULL)
        tn__wq_grant(next, 0);
    else
        s->value++;
}

static int semaphore_ungrant(tn__waiter_t *w)
{
    give_permit((tn_semaphore_t *)w->wq->owner);
    return 0;
}

int tn_semaphore_new(tn_ioloop_t *loop, unsigned value, int bounded, tn_semaphore_t **out)
{
    if (loop == NULL || out == NULL)
        return TN_EINVAL;
    tn_semaphore_t *s = tn_calloc(1, sizeof(*s));
    if (s == NULL)
        return TN_ENOMEM;
    tn__waitable_init(&s->w, loop, tn_free);
    tn__wq_init(&s->waiters, &s->w, semaphore_deliver, semaphore_ungrant);
    s->value = s->initial = value;
    s->bounded = bounded != 0;
    *out = s;
    return 0;
}

void tn_semaphore_free(tn_semaphore_t *s)
{
    if (s == NULL)
        return;
    tn__wq_close(&s->waiters, TN_ECLOSED);
    tn__waitable_release(&s->w);
}

tn_wait_id tn_semaphore_acquire(tn_semaphore_t *s, uint64_t timeout_ms, tn_semaphore_cb cb,
                                void *arg)
{
    if (cb == NULL || s->w.freed)
        return 0;
    tn__waiter_t *w;
    if (s->value > 0 && tn__wq_first(&s->waiters) == NULL) {
        w = tn__wq_add_granted(&s->waiters, (void (*)(void))cb, arg, 0);
        if (w != NULL)
            s->value--;
    } else {
        w = tn__wq_add(&s->waiters, timeout_ms, (void (*)(void))cb, arg);
    }
    return w ? w->id : 0;
}

int tn_semaphore_try_acquire(tn_semaphore_t *s)
{
    if (s->value == 0 || tn__wq_first(&s->waiters) != NULL)
        return TN_EBUSY;
    s->value--;
    return 0;
}

int tn_semaphore_release(tn_semaphore_t *s)
{
    if (s->bounded && s->value >= s->initial)
        return TN_EINVAL;
    give_permit(s);
    return 0;
}

unsigned tn_semaphore_value(const tn_semaphore_t *s)
{
    return s->value;
}

int tn_semaphore_cancel(tn_semaphore_t *s, tn_wait_id id)
{
    return tn__wq_cancel(&s->waiters, id);
}

/* ---- Lock ----------------------------------------------------------------- */

int tn_lock_new(tn_ioloop_t *loop, tn_lock_t **out)
{
    return tn_semaphore_new(loop, 1, 1, out);
}

void tn_lock_free(tn_lock_t *l)
{
    tn_semaphore_free(l);
}

tn_wait_id tn_lock_acquire(tn_lock_t *l, uint64_t timeout_ms, tn_semaphore_cb cb, void *arg)
{
    return tn_semaphore_acquire(l, timeout_ms, cb, arg);
}

int tn_lock_release(tn_lock_t *l)
{
    return tn_semaphore_release(l);
}

int tn_lock_locked(const tn_lock_t *l)
{
    return l->value == 0;
}

int tn_lock_cancel(tn_lock_t *l, tn_wait_id id)
{
    return tn_semaphore_cancel(l, id);
}
