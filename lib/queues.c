/* Queue, LifoQueue and PriorityQueue over the shared wait lists
 * (waiters.c). The items live in one array: a ring for FIFO, a stack for
 * LIFO, a binary heap ordered by (cmp, insertion order) for PRIORITY.
 * Storage is reserved before anything changes, so an allocation failure
 * never leaves an item half-moved. */
#include "tornuv/queues.h"

#include "waiters.h"

typedef struct {
    void *item;
    uint64_t seq;
} entry_t;

struct tn_queue_s {
    tn__waitable_t w;
    tn__wq_t getters, putters, joiners;
    tn_queue_options_t opts;
    entry_t *items;
    size_t head, count, cap; /* head: FIFO ring start */
    uint64_t seq;
    size_t unfinished;
};

/* ---- storage ---------------------------------------------------------------- */

static int reserve(tn_queue_t *q, size_t extra)
{
    if (q->count + extra <= q->cap)
        return 0;
    size_t cap = q->cap ? q->cap * 2 : 8;
    while (cap < q->count + extra)
        cap *= 2;
    entry_t *n = tn_malloc(cap * sizeof(*n));
    if (n == NULL)
        return TN_ENOMEM;
    /* Unroll the ring so it starts at 0 again. */
    for (size_t i = 0; i < q->count; i++)
        n[i] = q->items[(q->head + i) % (q->cap ? q->cap : 1)];
    tn_free(q->items);
    q->items = n;
    q->cap = cap;
    q->head = 0;
    return 0;
}

static int before(const tn_queue_t *q, const entry_t *a, const entry_t *b)
{
    int c = q->opts.cmp(a->item, b->item);
    return c < 0 || (c == 0 && a->seq < b->seq);
}

static void heap_push(tn_queue_t *q, entry_t e)
{
    size_t i = q->count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(q, &e, &q->items[parent]))
            break;
        q->items[i] = q->items[parent];
        i = parent;
    }
    q->items[i] = e;
}

static entry_t heap_pop(tn_queue_t *q)
{
    entry_t top = q->items[0];
    entry_t last = q->items[--q->count];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->count)
            break;
        if (c + 1 < q->count && before(q, &q->items[c + 1], &q->items[c]))
            c++;
        if (!before(q, &q->items[c], &last))
            break;
        q->items[i] = q->items[c];
        i = c;
    }
    if (q->count > 0)
        q->items[i] = last;
    return top;
}

/* Room was reserved by the caller. */
static void store_push(tn_queue_t *q, entry_t e)
{
    if (q->opts.kind == TN_QUEUE_PRIORITY)
        heap_push(q, e);
    else if (q->opts.kind == TN_QUEUE_LIFO)
        q->items[q->count++] = e;
    else
        q->items[(q->head + q->count++) % q->cap] = e;
}

/* Puts back an item that a cancelled getter was handed: it comes out next
 * again (its original place in a priority queue). */
static void store_push_front(tn_queue_t *q, entry_t e)
{
    if (q->opts.kind == TN_QUEUE_FIFO) {
        q->head = (q->head + q->cap - 1) % q->cap;
        q->items[q->head] = e;
        q->count++;
    } else {
        store_push(q, e);
    }
}

static entry_t store_pop(tn_queue_t *q)
{
    if (q->opts.kind == TN_QUEUE_PRIORITY)
        return heap_pop(q);
    if (q->opts.kind == TN_QUEUE_LIFO)
        return q->items[--q->count];
    entry_t e = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return e;
}

/* ---- waiters ---------------------------------------------------------------- */

static void get_deliver(tn__waiter_t *w)
{
    ((tn_queue_get_cb)w->cb)((tn_queue_t *)w->wq->owner, w->status, w->status == 0 ? w->item : NULL,
                             w->arg);
}

static void put_deliver(tn__waiter_t *w)
{
    ((tn_queue_put_cb)w->cb)((tn_queue_t *)w->wq->owner, w->status, w->arg);
}

/* Hands an item to the oldest waiting getter; 0 if there is none. */
static int hand_to_getter(tn_queue_t *q, void *item, uint64_t seq)
{
    tn__waiter_t *g = tn__wq_first(&q->getters);
    if (g == NULL)
        return 0;
    g->item = item;
    g->seq = seq;
    tn__wq_grant(g, 0);
    return 1;
}

/* A getter cancelled after it was handed an item: the next getter gets it,
 * or it goes back to the head of the queue. */
static int get_ungrant(tn__waiter_t *w)
{
    tn_queue_t *q = (tn_queue_t *)w->wq->owner;
    if (hand_to_getter(q, w->item, w->seq)) {
        w->item = NULL;
        return 0;
    }
    if (reserve(q, 1) != 0)
        return TN_ENOMEM; /* the grant stands: the item is not lost */
    store_push_front(q, (entry_t){w->item, w->seq});
    w->item = NULL;
    return 0;
}

static void destroy(void *self)
{
    tn_queue_t *q = self;
    tn_free(q->items);
    tn_free(q);
}

/* ---- public API ------------------------------------------------------------ */

int tn_queue_new(tn_ioloop_t *loop, const tn_queue_options_t *opts, tn_queue_t **out)
{
    if (loop == NULL || out == NULL)
        return TN_EINVAL;
    tn_queue_options_t o = {0};
    if (opts)
        o = *opts;
    if (o.kind < TN_QUEUE_FIFO || o.kind > TN_QUEUE_PRIORITY ||
        (o.kind == TN_QUEUE_PRIORITY && o.cmp == NULL))
        return TN_EINVAL;
    tn_queue_t *q = tn_calloc(1, sizeof(*q));
    if (q == NULL)
        return TN_ENOMEM;
    q->opts = o;
    tn__waitable_init(&q->w, loop, destroy);
    tn__wq_init(&q->getters, &q->w, get_deliver, get_ungrant);
    tn__wq_init(&q->putters, &q->w, put_deliver, NULL);
    tn__wq_init(&q->joiners, &q->w, get_deliver, NULL);
    *out = q;
    return 0;
}

void tn_queue_free(tn_queue_t *q)
{
    if (q == NULL)
        return;
    tn__wq_close(&q->getters, TN_ECLOSED);
    tn__wq_close(&q->putters, TN_ECLOSED);
    tn__wq_close(&q->joiners, TN_ECLOSED);
    while (q->count > 0) {
        entry_t e = store_pop(q);
        if (q->opts.free_item)
            q->opts.free_item(e.item);
    }
    tn__waitable_release(&q->w);
}

int tn_queue_full(const tn_queue_t *q)
{
    return q->opts.maxsize > 0 && q->count >= q->opts.maxsize;
}

int tn_queue_empty(const tn_queue_t *q)
{
    return q->count == 0;
}

size_t tn_queue_size(const tn_queue_t *q)
{
    return q->count;
}

size_t tn_queue_unfinished(const tn_queue_t *q)
{
    return q->unfinished;
}

/* Takes item in (room reserved, or a getter waiting): hands it over or
 * holds it. */
static void accept_item(tn_queue_t *q, void *item)
{
    uint64_t seq = q->seq++;
    q->unfinished++;
    if (!hand_to_getter(q, item, seq))
        store_push(q, (entry_t){item, seq});
}

int tn_queue_put_nowait(tn_queue_t *q, void *item)
{
    if (q->w.freed)
        return TN_ECLOSED;
    if (tn__wq_first(&q->getters) == NULL) {
        if (tn_queue_full(q))
            return TN_EBUFFULL;
        if (reserve(q, 1) != 0)
            return TN_ENOMEM;
    }
    accept_item(q, item);
    return 0;
}

tn_wait_id tn_queue_put(tn_queue_t *q, void *item, uint64_t timeout_ms, tn_queue_put_cb cb,
                        void *arg)
{
    if (cb == NULL || q->w.freed)
        return 0;
    int room = tn__wq_first(&q->getters) != NULL || !tn_queue_full(q);
    if (!room) {
        tn__waiter_t *w = tn__wq_add(&q->putters, timeout_ms, (void (*)(void))cb, arg);
        if (w == NULL)
            return 0;
        w->item = item;
        return w->id;
    }
    if (tn__wq_first(&q->getters) == NULL && reserve(q, 1) != 0)
        return 0;
    /* Allocated first (nothing can fail once the item moved), granted after
     * the getter it may wake, in Tornado's order. */
    tn__waiter_t *w = tn__wq_add(&q->putters, 0, (void (*)(void))cb, arg);
    if (w == NULL)
        return 0;
    accept_item(q, item);
    tn__wq_grant(w, 0);
    return w->id;
}

/* The next item, taking in the oldest waiting putter's item first (the
 * queue is full then), as Tornado's get_nowait does. */
static int take(tn_queue_t *q, entry_t *out)
{
    tn__waiter_t *p = tn__wq_first(&q->putters);
    if (p != NULL) {
        if (reserve(q, 1) != 0)
            return TN_ENOMEM;
        void *pitem = p->item;
        p->item = NULL;
        tn__wq_grant(p, 0);
        q->unfinished++;
        store_push(q, (entry_t){pitem, q->seq++});
    }
    if (q->count == 0)
        return TN_EEMPTY;
    *out = store_pop(q);
    return 0;
}

int tn_queue_get_nowait(tn_queue_t *q, void **item)
{
    if (item == NULL)
        return TN_EINVAL;
    if (q->w.freed)
        return TN_ECLOSED;
    entry_t e;
    int err = take(q, &e);
    if (err == 0)
        *item = e.item;
    return err;
}

tn_wait_id tn_queue_get(tn_queue_t *q, uint64_t timeout_ms, tn_queue_get_cb cb, void *arg)
{
    if (cb == NULL || q->w.freed)
        return 0;
    if (q->count == 0 && tn__wq_first(&q->putters) == NULL) {
        tn__waiter_t *w = tn__wq_add(&q->getters, timeout_ms, (void (*)(void))cb, arg);
        return w ? w->id : 0;
    }
    if (reserve(q, 1) != 0)
        return 0;
    tn__waiter_t *w = tn__wq_add(&q->getters, 0, (void (*)(void))cb, arg);
    if (w == NULL)
        return 0;
    /* Cannot fail now: an item or a putter is there and room is reserved.
     * The entry keeps its order for a cancel that puts it back. */
    entry_t e = {NULL, 0};
    take(q, &e);
    w->item = e.item;
    w->seq = e.seq;
    tn__wq_grant(w, 0);
    return w->id;
}

int tn_queue_cancel(tn_queue_t *q, tn_wait_id id)
{
    int err = tn__wq_cancel(&q->getters, id);
    if (err == TN_ENOTFOUND)
        err = tn__wq_cancel(&q->putters, id);
    if (err == TN_ENOTFOUND)
        err = tn__wq_cancel(&q->joiners, id);
    return err;
}

int tn_queue_task_done(tn_queue_t *q)
{
    if (q->unfinished == 0)
        return TN_EINVAL;
    if (--q->unfinished == 0)
        tn__wq_close(&q->joiners, 0);
    return 0;
}

tn_wait_id tn_queue_join(tn_queue_t *q, uint64_t timeout_ms, tn_queue_get_cb cb, void *arg)
{
    if (cb == NULL || q->w.freed)
        return 0;
    tn__waiter_t *w = q->unfinished == 0
                          ? tn__wq_add_granted(&q->joiners, (void (*)(void))cb, arg, 0)
                          : tn__wq_add(&q->joiners, timeout_ms, (void (*)(void))cb, arg);
    return w ? w->id : 0;
}
