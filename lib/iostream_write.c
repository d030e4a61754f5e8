/* The IOStream's write entry points: the queue of pending writes (copied
 * into pooled buffers, or referenced for the _ref variant), the write
 * buffer limit, and shutdown. Handing the queue to the transport and
 * completing each write stay with the state machine in iostream.c. */
#include <string.h>

#include "iostream_internal.h"
#include "pool.h"

static int queue_write(tn_iostream_t *s, const char *data, size_t len, int owned, tn_write_cb cb,
                       void *arg)
{
    wnode_t *w = tn_calloc(1, sizeof(*w));
    if (w == NULL)
        return TN_ENOMEM;
    w->stream = s;
    w->data = data;
    w->len = len;
    w->owned = owned;
    w->cb = cb;
    w->arg = arg;
    if (s->wtail)
        s->wtail->next = w;
    else
        s->wq = w;
    s->wtail = w;
    s->unsent += len;
    tn__iostream_flush(s);
    return 0;
}

static int check_write(const tn_iostream_t *s, size_t len)
{
    if (s->closed)
        return TN_ECLOSED;
    if (s->want_shutdown)
        return TN_EFINISHED;
    if (s->opts.max_write_buffer_size && s->unsent + len > s->opts.max_write_buffer_size)
        return TN_EBUFFULL;
    return 0;
}

int tn_iostream_writev(tn_iostream_t *s, const tn_buf_t *bufs, size_t nbufs, tn_write_cb cb,
                       void *arg)
{
    size_t total = 0;
    for (size_t i = 0; i < nbufs; i++)
        total += bufs[i].len;
    int err = check_write(s, total);
    if (err != 0)
        return err;
    char *copy = NULL;
    size_t cap = 0;
    if (total > 0) {
        /* Write copies come from the loop's pool (pool.h): no allocator
         * churn per response. */
        copy = tn__pool_get(s->loop, total, &cap);
        if (copy == NULL)
            return TN_ENOMEM;
        size_t off = 0;
        for (size_t i = 0; i < nbufs; i++) {
            if (bufs[i].len > 0)
                memcpy(copy + off, bufs[i].base, bufs[i].len);
            off += bufs[i].len;
        }
    }
    err = queue_write(s, copy, total, 1, cb, arg);
    if (err != 0)
        tn__pool_put(s->loop, copy, cap);
    return err;
}

int tn_iostream_write(tn_iostream_t *s, const void *data, size_t len, tn_write_cb cb, void *arg)
{
    tn_buf_t b = {data, len};
    return tn_iostream_writev(s, &b, 1, cb, arg);
}

int tn_iostream_write_ref(tn_iostream_t *s, const void *data, size_t len, tn_write_cb cb, void *arg)
{
    if (cb == NULL)
        return TN_EINVAL;
    int err = check_write(s, len);
    if (err != 0)
        return err;
    return queue_write(s, data, len, 0, cb, arg);
}

void tn_iostream_set_half_close(tn_iostream_t *s, int on)
{
    s->half_close = on != 0;
}

int tn_iostream_shutdown(tn_iostream_t *s)
{
    if (s->closed)
        return TN_ECLOSED;
    if (s->want_shutdown)
        return 0;
    s->want_shutdown = 1;
    tn__iostream_flush(s);
    return 0;
}
