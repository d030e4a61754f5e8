/* The in-memory transport and loop helpers the connection-level fuzz
 * targets share: a peer whose reads are limited by `accept` bytes per write
 * (-1: everything), writes that complete when the target says so, and a
 * close that completes on the next loop turn. Header-only (static). */
#ifndef TN_FZ_TRANSPORT_H
#define TN_FZ_TRANSPORT_H

#include <stdlib.h>
#include <string.h>

#include "tornuv.h"
#include "tornuv/transport.h"

typedef struct {
    tn_ioloop_t *loop;
    tn_iostream_t *stream;
    int reading, closed, accept;
    size_t pending;
    size_t out;
} fz_t;

static int f_read_start(void *t)
{
    ((fz_t *)t)->reading = 1;
    return 0;
}

static int f_read_stop(void *t)
{
    ((fz_t *)t)->reading = 0;
    return 0;
}

static long f_try_write(void *t, const tn_buf_t *b, size_t n)
{
    fz_t *f = t;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += b[i].len;
    if (f->accept >= 0 && total > (size_t)f->accept)
        total = (size_t)f->accept;
    f->out += total;
    return (long)total;
}

static int f_write(void *t, const tn_buf_t *b, size_t n)
{
    fz_t *f = t;
    (void)b;
    (void)n;
    f->pending++;
    return 0;
}

static int f_shutdown(void *t)
{
    (void)t;
    return 0;
}

static void on_closed(tn_ioloop_t *loop, void *arg)
{
    fz_t *f = arg;
    (void)loop;
    tn_iostream__on_closed(f->stream);
}

static void f_close(void *t)
{
    fz_t *f = t;
    f->closed = 1;
    f->reading = 0;
    f->pending = 0;
    if (tn_ioloop_add_callback(f->loop, on_closed, f) != 0)
        abort();
}

static int f_nodelay(void *t, int on)
{
    (void)t;
    (void)on;
    return 0;
}

static int f_address(void *t, char *ip, size_t len, int *port)
{
    (void)t;
    if (len < 10)
        return TN_EINVAL;
    memcpy(ip, "127.0.0.1", 10);
    *port = 1;
    return 0;
}

static const tn_transport_ops_t k_ops = {f_read_start, f_read_stop, f_try_write, f_write,
                                         f_shutdown,   f_close,     f_nodelay,   f_address};

/* Feeds data in pieces of chunk bytes while the stream reads, turning the
 * loop between rounds; then EOF. */
static void fz_feed(fz_t *f, const uint8_t *data, size_t size, size_t chunk,
                    void (*between)(int spin, void *arg), void *arg);

static void stop_loop(tn_ioloop_t *loop, void *arg)
{
    (void)arg;
    tn_ioloop_stop(loop);
}

static void turn(tn_ioloop_t *loop)
{
    if (tn_ioloop_add_callback(loop, stop_loop, NULL) != 0 || tn_ioloop_start(loop) != 0)
        abort();
}

static void on_freed(void *arg)
{
    *(int *)arg = 1;
}

static void fz_log_quiet(int level, const char *msg, void *arg)
{
    (void)level;
    (void)msg;
    (void)arg;
}

static void fz_feed(fz_t *f, const uint8_t *data, size_t size, size_t chunk,
                    void (*between)(int spin, void *arg), void *arg)
{
    size_t off = 0;
    for (int spins = 0; off < size && !f->closed && spins < 4096; spins++) {
        while (off < size && f->reading && !f->closed) {
            size_t want = size - off < chunk ? size - off : chunk;
            char *base;
            size_t room;
            tn_iostream__on_alloc(f->stream, want, &base, &room);
            if (room == 0)
                break;
            if (want > room)
                want = room;
            memcpy(base, data + off, want);
            tn_iostream__on_read(f->stream, (long)want);
            off += want;
        }
        turn(f->loop);
        if (f->pending && !f->closed) {
            f->pending--;
            tn_iostream__on_write_done(f->stream, 0);
        }
        if (between)
            between(spins, arg);
    }
    if (!f->closed)
        tn_iostream__on_read(f->stream, TN_EOF);
    for (int i = 0; i < 4; i++)
        turn(f->loop);
}

#endif
