/* The in-memory transport (see memtransport.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memtransport.h"

static int mt_read_start(void *t)
{
    ((tn_mt_t *)t)->reading = 1;
    return 0;
}

static int mt_read_stop(void *t)
{
    ((tn_mt_t *)t)->reading = 0;
    return 0;
}

static void append(tn_mt_t *mt, const char *p, size_t n)
{
    if (mt->out_len + n > mt->out_cap) {
        size_t cap = (mt->out_len + n) * 2 + 64;
        mt->out = realloc(mt->out, cap);
        cr_assert_not_null(mt->out);
        mt->out_cap = cap;
    }
    if (n > 0)
        memcpy(mt->out + mt->out_len, p, n);
    mt->out_len += n;
}

static long mt_try_write(void *t, const tn_buf_t *bufs, size_t nbufs)
{
    tn_mt_t *mt = t;
    size_t total = 0;
    for (size_t i = 0; i < nbufs; i++) {
        size_t n = bufs[i].len;
        if (mt->accept_limit >= 0 && total + n > (size_t)mt->accept_limit)
            n = (size_t)mt->accept_limit - total;
        append(mt, bufs[i].base, n);
        total += n;
        if (n < bufs[i].len)
            break;
    }
    return (long)total;
}

static int mt_write(void *t, const tn_buf_t *bufs, size_t nbufs)
{
    tn_mt_t *mt = t;
    for (size_t i = 0; i < nbufs; i++)
        append(mt, bufs[i].base, bufs[i].len);
    mt->pending_writes++;
    return 0;
}

static int mt_shutdown(void *t)
{
    ((tn_mt_t *)t)->shut = 1;
    return 0;
}

static void on_mt_closed(tn_ioloop_t *loop, void *arg)
{
    tn_mt_t *mt = arg;
    (void)loop;
    tn_iostream__on_closed(mt->stream);
}

static void mt_close(void *t)
{
    tn_mt_t *mt = t;
    cr_assert_eq(mt->closed, 0, "ops->close called twice");
    mt->closed = 1;
    mt->reading = 0;
    /* like uv_close: pending writes are cancelled, completion comes later */
    mt->pending_writes = 0;
    cr_assert_eq(tn__loop_defer_node(mt->loop, &mt->close_node, on_mt_closed, mt), 0);
}

static int mt_nodelay(void *t, int on)
{
    (void)t;
    (void)on;
    return 0;
}

static int mt_address(void *t, char *ip, size_t iplen, int *port)
{
    (void)t;
    if (iplen < 10)
        return TN_EINVAL;
    memcpy(ip, "127.0.0.1", 10);
    *port = 4242;
    return 0;
}

static const tn_transport_ops_t mt_ops = {mt_read_start, mt_read_stop, mt_try_write, mt_write,
                                          mt_shutdown,   mt_close,     mt_nodelay,   mt_address};

tn_mt_t *tn_mt_try_new(tn_ioloop_t *loop, const tn_iostream_options_t *opts)
{
    tn_mt_t *mt = calloc(1, sizeof(*mt));
    cr_assert_not_null(mt);
    mt->loop = loop;
    mt->accept_limit = -1;
    int err = tn_iostream_new(loop, &mt_ops, mt, opts, &mt->stream);
    if (err != 0) {
        cr_assert_eq(err, TN_ENOMEM);
        free(mt);
        return NULL;
    }
    return mt;
}

tn_mt_t *tn_mt_new(tn_ioloop_t *loop, const tn_iostream_options_t *opts)
{
    tn_mt_t *mt = tn_mt_try_new(loop, opts);
    cr_assert_not_null(mt);
    return mt;
}

size_t tn_mt_feed(tn_mt_t *mt, const char *data, size_t len, size_t chunk)
{
    size_t done = 0;
    if (chunk == 0)
        chunk = len;
    while (done < len && mt->reading && !mt->closed) {
        size_t want = len - done < chunk ? len - done : chunk;
        char *base;
        size_t room;
        tn_iostream__on_alloc(mt->stream, want, &base, &room);
        if (room == 0) {
            /* No buffer: report it as libuv does (UV_ENOBUFS). */
            if (!mt->closed)
                tn_iostream__on_read(mt->stream, -ENOBUFS);
            break;
        }
        if (want > room)
            want = room;
        memcpy(base, data + done, want);
        tn_iostream__on_read(mt->stream, (long)want);
        done += want;
    }
    return done;
}

void tn_mt_eof(tn_mt_t *mt, long err)
{
    if (!mt->closed)
        tn_iostream__on_read(mt->stream, err);
}

void tn_mt_complete_writes(tn_mt_t *mt, int status)
{
    while (mt->pending_writes > 0 && !mt->closed) {
        mt->pending_writes--;
        tn_iostream__on_write_done(mt->stream, status);
    }
}

static void stop_loop(tn_ioloop_t *loop, void *arg)
{
    (void)arg;
    tn_ioloop_stop(loop);
}

void tn_mt_turn(tn_ioloop_t *loop)
{
    cr_assert_eq(tn_ioloop_add_callback(loop, stop_loop, NULL), 0);
    cr_assert_eq(tn_ioloop_start(loop), 0);
}

void tn_mt_free(tn_mt_t *mt)
{
    free(mt->out);
    free(mt);
}
