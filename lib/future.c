/* Futures (see future.h): a status, an owned value, and a FIFO of done
 * callbacks dispatched from one embedded queue entry, so scheduling them
 * never allocates and never runs them inline. Each registered callback
 * holds a reference: a future somebody waits on stays alive until it is
 * done and they ran. */
#include "tornuv/future.h"

#include <string.h>

#include "loop_defer.h"

typedef struct cbnode_s {
    struct cbnode_s *next;
    tn_future_cb cb;
    void *arg;
    int embedded; /* part of a multi's state: not freed here */
} cbnode_t;

struct tn_future_s {
    tn_ioloop_t *loop;
    int refs;
    int status; /* TN_EPENDING until done */
    void *value;
    tn_value_free_fn free_fn;
    tn_future_t *source; /* whose value this one borrows */
    cbnode_t *cbs, *cbs_tail;
    int dispatch_queued;
    tn__qnode_t node;
};

int tn_future_new(tn_ioloop_t *loop, tn_future_t **out)
{
    if (loop == NULL || out == NULL)
        return TN_EINVAL;
    tn_future_t *f = tn_calloc(1, sizeof(*f));
    if (f == NULL)
        return TN_ENOMEM;
    f->loop = loop;
    f->refs = 1;
    f->status = TN_EPENDING;
    *out = f;
    return 0;
}

void tn_future_ref(tn_future_t *f)
{
    f->refs++;
}

void tn_future_unref(tn_future_t *f)
{
    if (f == NULL || --f->refs > 0)
        return;
    if (f->value != NULL && f->free_fn != NULL)
        f->free_fn(f->value);
    tn_future_unref(f->source);
    tn_free(f);
}

static void on_dispatch(tn_ioloop_t *loop, void *arg)
{
    tn_future_t *f = arg;
    (void)loop;
    /* Callbacks added while these run go to a fresh list and a later
     * drain. Each node's reference may be the last: f is not touched after
     * the final unref, and next is read before the callback runs (a multi
     * may free its embedded nodes from inside). */
    cbnode_t *n = f->cbs;
    f->cbs = f->cbs_tail = NULL;
    f->dispatch_queued = 0;
    while (n != NULL) {
        cbnode_t *next = n->next;
        int embedded = n->embedded;
        n->cb(f, n->arg);
        if (!embedded)
            tn_free(n);
        tn_future_unref(f);
        n = next;
    }
}

static void schedule(tn_future_t *f)
{
    if (f->cbs == NULL || f->dispatch_queued || f->status == TN_EPENDING)
        return;
    /* Fails only after the loop finished tearing down: then nothing runs. */
    if (tn__loop_defer_node(f->loop, &f->node, on_dispatch, f) == 0)
        f->dispatch_queued = 1;
}

static void add_node(tn_future_t *f, cbnode_t *n, tn_future_cb cb, void *arg)
{
    n->next = NULL;
    n->cb = cb;
    n->arg = arg;
    if (f->cbs_tail)
        f->cbs_tail->next = n;
    else
        f->cbs = n;
    f->cbs_tail = n;
    f->refs++;
    schedule(f);
}

int tn_future_add_done_callback(tn_future_t *f, tn_future_cb cb, void *arg)
{
    if (cb == NULL)
        return TN_EINVAL;
    cbnode_t *n = tn_calloc(1, sizeof(*n));
    if (n == NULL)
        return TN_ENOMEM;
    add_node(f, n, cb, arg);
    return 0;
}

int tn_future_resolve(tn_future_t *f, int status, void *value, tn_value_free_fn free_fn)
{
    if (f->status != TN_EPENDING)
        return TN_EALREADY;
    f->status = status == TN_EPENDING ? TN_EINVAL : status;
    f->value = value;
    f->free_fn = free_fn;
    schedule(f);
    return 0;
}

int tn_future_cancel(tn_future_t *f)
{
    return tn_future_resolve(f, TN_ECANCELED, NULL, NULL);
}

int tn_future_status(const tn_future_t *f)
{
    return f->status;
}

int tn_future_done(const tn_future_t *f)
{
    return f->status != TN_EPENDING;
}

void *tn_future_value(const tn_future_t *f)
{
    return f->value;
}

/* Resolves b like a, borrowing a's value. */
static void copy_result(tn_future_t *a, tn_future_t *b)
{
    if (b->status != TN_EPENDING)
        return;
    if (a->value != NULL) {
        tn_future_ref(a);
        b->source = a;
    }
    tn_future_resolve(b, a->status, a->value, NULL);
}

/* ---- from other threads ----------------------------------------------------- */

typedef struct {
    tn_future_t *f;
    int status;
    void *value;
    tn_value_free_fn free_fn;
} ts_t;

static void on_threadsafe(tn_ioloop_t *loop, void *arg)
{
    ts_t *t = arg;
    (void)loop;
    if (tn_future_resolve(t->f, t->status, t->value, t->free_fn) != 0 && t->value && t->free_fn)
        t->free_fn(t->value);
    tn_future_unref(t->f);
    tn_free(t);
}

int tn_future_resolve_threadsafe(tn_future_t *f, int status, void *value, tn_value_free_fn free_fn)
{
    ts_t *t = tn_malloc(sizeof(*t));
    if (t == NULL)
        return TN_ENOMEM;
    t->f = f;
    t->status = status;
    t->value = value;
    t->free_fn = free_fn;
    int err = tn_ioloop_add_callback(f->loop, on_threadsafe, t);
    if (err != 0)
        tn_free(t);
    return err;
}

/* ---- composition ------------------------------------------------------------ */

static void on_chain(tn_future_t *a, void *arg)
{
    tn_future_t *b = arg;
    copy_result(a, b);
    tn_future_unref(b);
}

int tn_future_chain(tn_future_t *a, tn_future_t *b)
{
    if (a == NULL || b == NULL)
        return TN_EINVAL;
    tn_future_ref(b);
    int err = tn_future_add_done_callback(a, on_chain, b);
    if (err != 0)
        tn_future_unref(b);
    return err;
}

typedef struct {
    tn_future_t *f, *out;
    tn_timeout_id timer;
    int flags, f_done, timer_done;
} wt_t;

static void wt_release(wt_t *w)
{
    if (!w->f_done || !w->timer_done)
        return;
    tn_future_unref(w->out);
    tn_free(w);
}

static void wt_on_done(tn_future_t *f, void *arg)
{
    wt_t *w = arg;
    if (!w->timer_done) {
        tn_ioloop_remove_timeout(f->loop, w->timer);
        w->timer_done = 1;
    }
    if (w->out->status == TN_EPENDING)
        copy_result(f, w->out);
    else if (f->status != 0 && f->status != TN_ECANCELED)
        tn_log(TN_LOG_WARN, "Future failed after its timeout: %s", tn_strerror(f->status));
    w->f_done = 1;
    wt_release(w);
}

static void wt_on_timer(tn_ioloop_t *loop, void *arg)
{
    wt_t *w = arg;
    (void)loop;
    w->timer_done = 1;
    tn_future_resolve(w->out, TN_ETIMEOUT, NULL, NULL);
    if (w->flags & TN_FUTURE_CANCEL_ON_TIMEOUT)
        tn_future_cancel(w->f);
    wt_release(w);
}

int tn_future_with_timeout(tn_future_t *f, uint64_t timeout_ms, int flags, tn_future_t **out)
{
    if (f == NULL || out == NULL)
        return TN_EINVAL;
    wt_t *w = tn_calloc(1, sizeof(*w));
    if (w == NULL)
        return TN_ENOMEM;
    int err = tn_future_new(f->loop, &w->out);
    if (err != 0) {
        tn_free(w);
        return err;
    }
    w->f = f;
    w->flags = flags;
    w->timer = tn_ioloop_call_later(f->loop, timeout_ms, wt_on_timer, w);
    if (w->timer == 0 || (err = tn_future_add_done_callback(f, wt_on_done, w)) != 0) {
        tn_ioloop_remove_timeout(f->loop, w->timer);
        tn_future_unref(w->out);
        tn_free(w);
        return err != 0 ? err : TN_ENOMEM;
    }
    tn_future_ref(w->out);
    *out = w->out;
    return 0;
}

typedef struct {
    tn_future_t *out;
    size_t n, remaining;
    int flags;
    tn_future_t **children;
    cbnode_t *nodes;
} multi_t;

static void on_child(tn_future_t *child, void *arg)
{
    multi_t *m = arg;
    (void)child;
    if ((m->flags & TN_MULTI_FAIL_FAST) && child->status != 0)
        tn_future_resolve(m->out, child->status, NULL, NULL);
    if (--m->remaining > 0)
        return;
    int first = 0;
    for (size_t i = 0; i < m->n; i++) {
        int st = m->children[i]->status;
        if (st == 0)
            continue;
        if (first == 0)
            first = st;
        else if (st != TN_ECANCELED)
            tn_log(TN_LOG_WARN, "Multiple failures in multi: child %llu: %s", (unsigned long long)i,
                   tn_strerror(st));
    }
    tn_future_resolve(m->out, first, NULL, NULL);
    tn_future_unref(m->out);
    /* The children's references are dropped by their dispatch loops. */
    tn_free(m);
}

int tn_future_multi(tn_ioloop_t *loop, tn_future_t *const *children, size_t n, int flags,
                    tn_future_t **out)
{
    if (loop == NULL || out == NULL || (n > 0 && children == NULL))
        return TN_EINVAL;
    tn_future_t *f;
    int err = tn_future_new(loop, &f);
    if (err != 0)
        return err;
    if (n == 0) {
        tn_future_resolve(f, 0, NULL, NULL);
        *out = f;
        return 0;
    }
    /* One block: the state, the children and one callback node each, so
     * nothing can fail once the first callback is registered. */
    size_t size = sizeof(multi_t) + n * (sizeof(tn_future_t *) + sizeof(cbnode_t));
    multi_t *m = tn_calloc(1, size);
    if (m == NULL) {
        tn_future_unref(f);
        return TN_ENOMEM;
    }
    m->nodes = (cbnode_t *)(m + 1);
    m->children = (tn_future_t **)(m->nodes + n);
    m->out = f;
    m->n = m->remaining = n;
    m->flags = flags;
    tn_future_ref(f);
    memcpy(m->children, children, n * sizeof(*children));
    for (size_t i = 0; i < n; i++) {
        m->nodes[i].embedded = 1;
        add_node(children[i], &m->nodes[i], on_child, m);
    }
    *out = f;
    return 0;
}

int tn_future_sleep(tn_ioloop_t *loop, uint64_t ms, tn_future_t **out)
{
    tn_future_t *f;
    int err = tn_future_new(loop, &f);
    if (err != 0)
        return err;
    tn_future_ref(f); /* the timer's */
    if (tn_ioloop_call_later(loop, ms, tn_future_timeout_cb, f) == 0) {
        tn_future_unref(f);
        tn_future_unref(f);
        return TN_ENOMEM;
    }
    *out = f;
    return 0;
}

/* ---- adapters ---------------------------------------------------------------- */

void tn_future_read_cb(tn_iostream_t *s, int status, const char *data, size_t len, void *future)
{
    tn_future_t *f = future;
    tn_buf_t *b = NULL;
    (void)s;
    if (status == 0) {
        b = tn_malloc(sizeof(*b) + len + 1);
        if (b == NULL) {
            status = TN_ENOMEM;
        } else {
            char *copy = (char *)(b + 1);
            if (len > 0)
                memcpy(copy, data, len);
            copy[len] = '\0';
            b->base = copy;
            b->len = len;
        }
    }
    if (tn_future_resolve(f, status, b, tn_free) != 0)
        tn_free(b);
    tn_future_unref(f);
}

void tn_future_write_cb(tn_iostream_t *s, int status, void *future)
{
    (void)s;
    tn_future_resolve(future, status, NULL, NULL);
    tn_future_unref(future);
}

void tn_future_connect_cb(tn_iostream_t *stream, int status, void *future)
{
    /* Nobody would own a stream that a cancelled future refused. */
    if (tn_future_resolve(future, status, stream, NULL) != 0 && stream != NULL)
        tn_iostream_close(stream);
    tn_future_unref(future);
}

void tn_future_work_done_cb(tn_ioloop_t *loop, int status, void *future)
{
    (void)loop;
    tn_future_resolve(future, status, NULL, NULL);
    tn_future_unref(future);
}

void tn_future_timeout_cb(tn_ioloop_t *loop, void *future)
{
    (void)loop;
    tn_future_resolve(future, 0, NULL, NULL);
    tn_future_unref(future);
}
