/* A connected pair of in-memory IOStreams (tn_testing_stream_pair): two
 * transports, each end holding the bytes its peer wrote until its own stream
 * reads them.
 *
 * Flow: try_write copies what fits into the peer's inbound buffer (at most
 * capacity bytes) and returns the count, so the IOStream keeps the rest and
 * hands it to write, which stays pending until the peer's reads made room.
 * Deliveries to a stream run from the loop's queue (never inside the
 * writer's call), max_segment bytes per tn_iostream__on_read.
 *
 * Lifetime: both ends live in one allocation, freed once each end's stream
 * heard its close. Every deferred step has an embedded queue node; an end
 * never queues anything once it is closing, and its close notification is
 * queued last, so the memory outlives every queued step. Each end is
 * tracked by the loop, so tn_ioloop_close(TN_CLOSE_ALL_FDS) closes it and
 * tn_ioloop_alive_count counts it. */
#include <stdio.h>
#include <string.h>

#include "loop_defer.h"
#include "loop_internal.h"
#include "tornuv/testing.h"
#include "tornuv/transport.h"

#define TN__PAIR_DEFAULT_CAPACITY ((size_t)64 * 1024)

typedef struct pair_s pair_t;
typedef struct end_s end_t;

struct end_s {
    tn__handle_t track;
    pair_t *pair;
    end_t *peer;
    tn_iostream_t *stream;
    char *in; /* what the peer wrote, not read yet: in[in_start .. in_start+in_len) */
    size_t in_start, in_len;
    int reading;
    int closing;   /* ops->close was called */
    int peer_done; /* the peer shut down or closed: EOF after in drains */
    int eof_sent;
    /* The one pending asynchronous write (IOStream has one at a time). */
    const char *w_data;
    size_t w_len, w_off;
    int w_pending, w_status;
    tn__qnode_t deliver_node, wdone_node, close_node;
    int deliver_queued, wdone_queued;
};

struct pair_s {
    tn_ioloop_t *loop;
    size_t capacity, segment;
    int ends_closed;
    end_t end[2];
};

static void deliver(tn_ioloop_t *loop, void *arg);

static void schedule_deliver(end_t *e)
{
    if (e->closing || e->deliver_queued)
        return;
    if (tn__loop_defer_node(e->pair->loop, &e->deliver_node, deliver, e) == 0)
        e->deliver_queued = 1;
}

static void on_wdone(tn_ioloop_t *loop, void *arg)
{
    end_t *e = arg;
    (void)loop;
    e->wdone_queued = 0;
    if (e->closing)
        return; /* the stream's close fails what it still waited for */
    e->w_pending = 0;
    tn_iostream__on_write_done(e->stream, e->w_status);
}

static void complete_write(end_t *e, int status)
{
    e->w_status = status;
    if (e->closing || e->wdone_queued)
        return;
    if (tn__loop_defer_node(e->pair->loop, &e->wdone_node, on_wdone, e) == 0)
        e->wdone_queued = 1;
}

/* Copies up to len bytes into the peer's inbound buffer; returns how many
 * fit, or a negative code. */
static long push(end_t *e, const char *data, size_t len)
{
    end_t *p = e->peer;
    size_t cap = e->pair->capacity;
    if (p->closing)
        return TN_ECLOSED;
    if (p->in == NULL) {
        p->in = tn_malloc(cap);
        if (p->in == NULL)
            return TN_ENOMEM;
    }
    if (p->in_start > 0 && p->in_start + p->in_len + len > cap) {
        memmove(p->in, p->in + p->in_start, p->in_len);
        p->in_start = 0;
    }
    size_t room = cap - p->in_start - p->in_len;
    size_t n = len < room ? len : room;
    if (n > 0) {
        memcpy(p->in + p->in_start + p->in_len, data, n);
        p->in_len += n;
        if (p->reading)
            schedule_deliver(p);
    }
    return (long)n;
}

/* Moves more of e's pending write into the peer; completes it when done. */
static void pump_write(end_t *e)
{
    if (!e->w_pending || e->wdone_queued || e->closing)
        return;
    long n = push(e, e->w_data + e->w_off, e->w_len - e->w_off);
    if (n < 0) {
        complete_write(e, (int)n);
        return;
    }
    e->w_off += (size_t)n;
    if (e->w_off == e->w_len)
        complete_write(e, 0);
}

static void deliver(tn_ioloop_t *loop, void *arg)
{
    end_t *e = arg;
    (void)loop;
    e->deliver_queued = 0;
    while (!e->closing && e->reading && e->in_len > 0) {
        size_t want = e->in_len < e->pair->segment ? e->in_len : e->pair->segment;
        char *base = NULL;
        size_t room = 0;
        tn_iostream__on_alloc(e->stream, want, &base, &room);
        if (room == 0) {
            tn_iostream__on_read(e->stream, TN_ENOMEM);
            return;
        }
        size_t n = want < room ? want : room;
        memcpy(base, e->in + e->in_start, n);
        e->in_start += n;
        e->in_len -= n;
        if (e->in_len == 0)
            e->in_start = 0;
        tn_iostream__on_read(e->stream, (long)n);
        /* Room was made: the peer's waiting write moves on. */
        pump_write(e->peer);
    }
    if (!e->closing && e->reading && e->in_len == 0 && e->peer_done && !e->eof_sent) {
        e->eof_sent = 1;
        tn_iostream__on_read(e->stream, TN_EOF);
    }
}

static int tr_read_start(void *t)
{
    end_t *e = t;
    if (e->closing)
        return TN_ECLOSED;
    e->reading = 1;
    if (e->in_len > 0 || e->peer_done)
        schedule_deliver(e);
    return 0;
}

static int tr_read_stop(void *t)
{
    ((end_t *)t)->reading = 0;
    return 0;
}

static long tr_try_write(void *t, const tn_buf_t *bufs, size_t nbufs)
{
    end_t *e = t;
    size_t total = 0;
    if (e->closing)
        return TN_ECLOSED;
    if (e->w_pending)
        return 0; /* keep the order: behind the pending write */
    for (size_t i = 0; i < nbufs; i++) {
        long n = push(e, bufs[i].base, bufs[i].len);
        if (n < 0)
            return total > 0 ? (long)total : n;
        total += (size_t)n;
        if ((size_t)n < bufs[i].len)
            break;
    }
    return (long)total;
}

static int tr_write(void *t, const tn_buf_t *bufs, size_t nbufs)
{
    end_t *e = t;
    if (e->closing)
        return TN_ECLOSED;
    if (e->w_pending || nbufs != 1)
        return TN_EINVAL; /* IOStream writes one buffer at a time */
    e->w_pending = 1;
    e->w_data = bufs[0].base;
    e->w_len = bufs[0].len;
    e->w_off = 0;
    pump_write(e);
    return 0;
}

static int tr_shutdown(void *t)
{
    end_t *e = t;
    if (e->closing)
        return TN_ECLOSED;
    e->peer->peer_done = 1;
    schedule_deliver(e->peer);
    return 0;
}

static void on_end_closed(tn_ioloop_t *loop, void *arg)
{
    end_t *e = arg;
    pair_t *pair = e->pair;
    tn__loop_untrack(loop, &e->track);
    tn_iostream__on_closed(e->stream);
    if (++pair->ends_closed == 2) {
        tn_free(pair->end[0].in);
        tn_free(pair->end[1].in);
        tn_free(pair);
    }
}

static void tr_close(void *t)
{
    end_t *e = t;
    if (e->closing)
        return;
    e->closing = 1;
    e->reading = 0;
    end_t *p = e->peer;
    /* The peer reads what it already has, then end of file; a write of its
     * that can no longer arrive fails, as a write to a closed socket. */
    p->peer_done = 1;
    schedule_deliver(p);
    if (p->w_pending && !p->wdone_queued)
        complete_write(p, TN_ECLOSED);
    if (tn__loop_defer_node(e->pair->loop, &e->close_node, on_end_closed, e) != 0)
        on_end_closed(e->pair->loop, e); /* the loop is gone: finish here */
}

static int tr_set_nodelay(void *t, int on)
{
    (void)t;
    (void)on;
    return 0;
}

static int tr_remote_address(void *t, char *ip, size_t iplen, int *port)
{
    (void)t;
    if (port != NULL)
        *port = 0;
    if (ip != NULL && iplen > 0)
        snprintf(ip, iplen, "%s", "127.0.0.1");
    return 0;
}

static const tn_transport_ops_t pair_ops = {
    .read_start = tr_read_start,
    .read_stop = tr_read_stop,
    .try_write = tr_try_write,
    .write = tr_write,
    .shutdown = tr_shutdown,
    .close = tr_close,
    .set_nodelay = tr_set_nodelay,
    .remote_address = tr_remote_address,
};

static void on_loop_close(tn__handle_t *h)
{
    end_t *e = (end_t *)h;
    if (!e->closing)
        tn_iostream_close(e->stream);
}

int tn_testing_stream_pair(tn_ioloop_t *loop, const tn_testing_pair_options_t *opts,
                           tn_iostream_t **a, tn_iostream_t **b)
{
    tn_testing_pair_options_t o = {0};
    if (loop == NULL || a == NULL || b == NULL)
        return TN_EINVAL;
    if (tn__loop_closing(loop))
        return TN_EDETACHED;
    if (opts != NULL)
        o = *opts;
    pair_t *pair = tn_calloc(1, sizeof(*pair));
    if (pair == NULL)
        return TN_ENOMEM;
    pair->loop = loop;
    pair->capacity = o.capacity > 0 ? o.capacity : TN__PAIR_DEFAULT_CAPACITY;
    pair->segment =
        o.max_segment > 0 && o.max_segment < pair->capacity ? o.max_segment : pair->capacity;
    for (int i = 0; i < 2; i++) {
        pair->end[i].pair = pair;
        pair->end[i].peer = &pair->end[1 - i];
        int err = tn_iostream_new(loop, &pair_ops, &pair->end[i], &o.stream_options,
                                  &pair->end[i].stream);
        if (err != 0) {
            if (i == 1) {
                /* Closes through the normal path, freeing the pair with a
                 * stream-less second end counted as closed. */
                pair->ends_closed = 1;
                pair->end[1].closing = 1;
                tn__loop_track(loop, &pair->end[0].track, on_loop_close);
                tn_iostream_close(pair->end[0].stream);
            } else {
                tn_free(pair);
            }
            return err;
        }
    }
    for (int i = 0; i < 2; i++)
        tn__loop_track(loop, &pair->end[i].track, on_loop_close);
    *a = pair->end[0].stream;
    *b = pair->end[1].stream;
    return 0;
}
