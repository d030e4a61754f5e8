/* The IOStream state machine over a transport (see iostream.h for the
 * rules it keeps): reads and their delivery, the transport's events, the
 * write queue's hand-over and completion, close. The write entry points
 * are in iostream_write.c, the plain accessors in iostream_access.c, the
 * object itself in iostream_internal.h.
 *
 * Memory: the read buffer is allocated when the transport first asks for
 * space and released whenever a read leaves it empty, so an idle stream
 * holds no buffer. Results are delivered from the buffer itself on the next
 * drain (no copy); pointers into it are computed at delivery time, because
 * the transport may grow the buffer in between.
 *
 * Lifetime: the stream holds one reference for its transport (dropped in
 * on_closed) and one per scheduled delivery, so a user callback may close
 * its own stream; the memory goes when the last reference does. */
#include <string.h>

#include "iostream_internal.h"
#include "iostream_stream.h"
#include "loop_defer.h"
#include "pool.h"
#include "regex_internal.h"
#include "tornuv/transport.h"

static void do_close(tn_iostream_t *s, int cause);
static void eof_close(tn_iostream_t *s);
static int try_read(tn_iostream_t *s, int at_close);
static void complete_read(tn_iostream_t *s, size_t n, int status);

static void unref(tn_iostream_t *s)
{
    if (--s->refs > 0)
        return;
    tn__pool_put(s->loop, s->buf, s->cap);
    if (s->match)
        pcre2_match_data_free(s->match);
    tn_regex_free(s->cached_re);
    tn_free(s->cached_pattern);
    tn_free(s);
}

/* Deferral goes through the teardown-proof queue with an entry embedded in
 * the stream or the write, so it never needs memory: a completion the
 * stream promised cannot be lost to an allocation failure. It fails only
 * after the loop finished tearing down, and then the callback is dropped. */
static int defer(tn_iostream_t *s, tn__qnode_t *node, tn_callback_cb cb, void *arg)
{
    int err = tn__loop_defer_node(s->loop, node, cb, arg);
    if (err == 0)
        s->refs++;
    return err;
}

/* The largest piece of a write handed to the transport at once, once the OS
 * stopped taking bytes synchronously (the peer is slower than we are, so
 * the extra calls cost nothing that matters). */
#define WRITE_SLICE ((size_t)16 * 1024)

/* Streams give their read buffer back whenever it empties (an idle
 * connection holds none), which on a busy server would mean one malloc and
 * free of a whole chunk per request, and the allocator trimming and
 * regrowing its heap: the buffer goes back to the loop's pool instead
 * (pool.h), which keeps what a steady load reuses. */
static void release_buffer_if_empty(tn_iostream_t *s)
{
    if (s->len == 0 && s->buf != NULL && !s->delivering && !s->pinned) {
        tn__pool_put(s->loop, s->buf, s->cap);
        s->buf = NULL;
        s->start = s->cap = 0;
    }
}

static void update_reading(tn_iostream_t *s)
{
    if (s->closed)
        return;
    /* Tornado's rule: read only while a read is pending. A completed
     * read_some waiting for its delivery still counts: its consumer (the
     * HTTP parser) almost always asks for more from the callback, and
     * stopping and restarting the transport in between costs two system
     * calls per request. It stops once a chunk's worth is buffered (libuv
     * reads up to 32 times per wakeup; the buffer must not run away). */
    if (s->eof) {
        if (s->reading) {
            s->ops->read_stop(s->transport);
            s->reading = 0;
        }
        return;
    }
    int want = (s->kind != R_NONE &&
                (!s->delivering || (s->kind == R_SOME && s->len < s->opts.read_chunk_size))) ||
               (s->close_cb != NULL && s->len == 0);
    if (want && !s->reading) {
        /* A transport may refuse to read before its connect completed
         * (pipes do); on_connect asks again, and a broken transport reports
         * itself through its reads and writes. */
        if (s->ops->read_start(s->transport) == 0)
            s->reading = 1;
    } else if (!want && s->reading) {
        s->ops->read_stop(s->transport);
        s->reading = 0;
    }
}

static void on_deliver(tn_ioloop_t *loop, void *arg)
{
    tn_iostream_t *s = arg;
    enum read_kind kind = s->kind;
    size_t n = s->deliver_len;
    int status = s->deliver_status;
    const char *data = status != 0 ? NULL : s->buf ? s->buf + s->start : "";
    tn_read_cb cb = s->cb;
    tn_consume_cb consume_cb = s->consume_cb;
    void *cb_arg = s->arg;
    char *into = s->into;

    if (s->drop_delivery) {
        /* A cancelled streaming read: its bytes stay for the next read. */
        s->drop_delivery = 0;
        status = TN_ECANCELED;
        cb = NULL;
        consume_cb = NULL;
    }

    /* Clear the read slot first so the callback may start the next read. */
    s->kind = R_NONE;
    s->delivering = 0;
    if (status != 0) {
        if (consume_cb)
            consume_cb(s, status, NULL, 0, cb_arg);
        else if (cb)
            cb(s, status, NULL, 0, cb_arg);
    } else if (kind == R_SOME) {
        size_t avail = s->len;
        s->pinned++;
        s->consuming = 1;
        size_t used = consume_cb(s, 0, data, avail, cb_arg);
        s->consuming = 0;
        s->pinned--;
        if (used > avail)
            used = avail;
        s->start += used;
        s->len -= used;
        /* Re-armed from inside: it waits for bytes beyond the ones just
         * shown. Armed later: whatever is buffered is shown at once. */
        s->some_seen = s->kind == R_SOME ? avail - used : 0;
        /* A read started inside the callback sees the buffer only now,
         * without the bytes the callback consumed. */
        if (s->kind != R_NONE && !s->delivering && !try_read(s, s->closed) && s->closed)
            complete_read(s, 0, TN_ECLOSED);
    } else if (kind == R_INTO) {
        s->some_seen = 0;
        if (n > 0)
            memcpy(into, data, n);
        s->start += n;
        s->len -= n;
        cb(s, 0, into, n, cb_arg);
    } else {
        s->some_seen = 0;
        s->start += n;
        s->len -= n;
        s->pinned++;
        cb(s, 0, data, n, cb_arg);
        s->pinned--;
    }
    if (s->len == 0 && !s->delivering)
        s->start = 0;
    release_buffer_if_empty(s);
    update_reading(s);
    /* A read asked for from the callback that the remaining bytes cannot
     * satisfy will never be: the peer is done sending. */
    if (s->eof && !s->closed && !s->delivering && s->kind != R_NONE)
        eof_close(s);
    (void)loop;
    unref(s);
}

static void complete_read(tn_iostream_t *s, size_t n, int status)
{
    s->delivering = 1;
    s->deliver_len = n;
    s->deliver_status = status;
    if (defer(s, &s->deliver_node, on_deliver, s) != 0) {
        /* The loop is gone: the read can never complete, so the stream must
         * not pretend it will. */
        s->delivering = 0;
        s->kind = R_NONE;
        do_close(s, TN_ENOMEM);
    }
}

/* Delimiter search resumes where the previous scan stopped, backed off by
 * delim_len - 1 so a delimiter straddling two chunks is still found: data
 * arriving a byte at a time is scanned once in total. */
static int find_delim(tn_iostream_t *s, size_t *end)
{
    /* An idle stream holds no buffer at all (NULL + 0 is undefined). */
    const char *b = s->buf ? s->buf + s->start : "";
    size_t from = s->scan;
    while (from + s->delim_len <= s->len) {
        const char *hit = memchr(b + from, s->delim[0], s->len - from - s->delim_len + 1);
        if (hit == NULL)
            break;
        size_t at = (size_t)(hit - b);
        if (memcmp(hit, s->delim, s->delim_len) == 0) {
            *end = at + s->delim_len;
            return 1;
        }
        from = at + 1;
    }
    s->scan = s->len >= s->delim_len ? s->len - s->delim_len + 1 : 0;
    return 0;
}

static int find_regex(tn_iostream_t *s, size_t *end)
{
    /* rc 0 means the match block was too small for the groups; the overall
     * match is still recorded, which is all a read needs. */
    int rc = pcre2_match(s->re->code, (PCRE2_SPTR)(s->buf ? s->buf + s->start : ""), s->len, 0, 0,
                         s->match, NULL);
    if (rc < 0)
        return 0;
    *end = (size_t)pcre2_get_ovector_pointer(s->match)[1];
    return 1;
}

/* Tries to satisfy the pending read from the buffer. at_close: the stream
 * is closing, so read_until_close completes with what there is. Returns 1
 * when the read was completed (or failed by closing the stream). */
static int try_read(tn_iostream_t *s, int at_close)
{
    size_t end = 0;
    switch (s->kind) {
    case R_UNTIL:
    case R_REGEX: {
        int found = s->kind == R_UNTIL ? find_delim(s, &end) : find_regex(s, &end);
        if ((found && s->max_bytes && end > s->max_bytes) ||
            (!found && s->max_bytes && s->len > s->max_bytes)) {
            /* Closing re-enters here with the stream closed; the read then
             * fails with TN_ECLOSED, its cause kept in s->error. */
            if (s->closed) {
                complete_read(s, 0, TN_ECLOSED);
            } else {
                tn_log(TN_LOG_INFO, "Unsatisfiable read, closing connection");
                do_close(s, TN_EUNSATISFIABLE);
            }
            return 1;
        }
        if (!found)
            return 0;
        complete_read(s, end, 0);
        return 1;
    }
    case R_BYTES:
    case R_INTO:
        if (s->len >= s->n || (s->partial && s->len > 0) || s->n == 0) {
            complete_read(s, s->len < s->n ? s->len : s->n, 0);
            return 1;
        }
        return 0;
    case R_SOME:
        if (s->len > s->some_seen) {
            complete_read(s, s->len, 0);
            return 1;
        }
        return 0;
    case R_CLOSE:
        if (at_close) {
            complete_read(s, s->len, 0);
            return 1;
        }
        return 0;
    default:
        return 0;
    }
}

static void on_write_complete(tn_ioloop_t *loop, void *arg)
{
    wnode_t *w = arg;
    tn_iostream_t *s = w->stream;
    if (w->cb)
        w->cb(s, w->status, w->arg);
    if (w->owned)
        tn__pool_put(s->loop, (void *)w->data, tn__pool_capacity(w->len));
    tn_free(w);
    (void)loop;
    unref(s);
}

/* Takes the head of the write queue and schedules its completion. */
static void finish_head(tn_iostream_t *s, int status)
{
    wnode_t *w = s->wq;
    s->wq = w->next;
    if (s->wq == NULL)
        s->wtail = NULL;
    s->unsent -= w->len - w->off;
    w->status = status;
    if (defer(s, &w->done, on_write_complete, w) != 0) {
        if (w->owned)
            tn__pool_put(s->loop, (void *)w->data, tn__pool_capacity(w->len));
        tn_free(w);
    }
}

void tn__iostream_flush(tn_iostream_t *s)
{
    while (s->wq != NULL && !s->in_flight && !s->closed) {
        wnode_t *w = s->wq;
        if (w->off < w->len) {
            tn_buf_t b = {w->data + w->off, w->len - w->off};
            long n = s->ops->try_write ? s->ops->try_write(s->transport, &b, 1) : 0;
            if (n < 0) {
                do_close(s, (int)n);
                return;
            }
            w->off += (size_t)n;
            s->unsent -= (size_t)n;
            if (w->off < w->len) {
                /* What the OS did not take goes out in slices, so
                 * write_buffered shows a slow peer's progress (HTTP's
                 * write timeout watches it) instead of one big write that
                 * only completes at its end. */
                size_t left = w->len - w->off;
                tn_buf_t rest = {w->data + w->off, left < WRITE_SLICE ? left : WRITE_SLICE};
                int err = s->ops->write(s->transport, &rest, 1);
                if (err != 0) {
                    do_close(s, err);
                    return;
                }
                s->in_flight = 1;
                s->in_flight_len = rest.len;
                return;
            }
        }
        finish_head(s, 0);
    }
    if (s->close_when_flushed && s->wq == NULL && !s->closed) {
        do_close(s, 0);
        return;
    }
    if (s->want_shutdown && !s->shut && s->wq == NULL && !s->closed) {
        s->shut = 1;
        int err = s->ops->shutdown ? s->ops->shutdown(s->transport) : TN_ENOTSUP;
        if (err != 0)
            do_close(s, err);
    }
}

static void on_close_callback(tn_ioloop_t *loop, void *arg)
{
    tn_iostream_t *s = arg;
    /* A read completion started by a callback that ran while the stream was
     * closing (satisfied from what was still buffered) is queued behind us:
     * let it go first, so the close callback stays the stream's last and
     * its user may free what the other callbacks use. */
    /* A streaming read that is paused or about to resume ends (or reads
     * what is left) first; its on_done may start another read. */
    while (s->streamer != NULL && tn__iostream_stream_on_close(s->streamer))
        ;
    if (s->delivering && defer(s, &s->close_node, on_close_callback, s) == 0) {
        unref(s);
        return;
    }
    tn_close_cb cb = s->close_cb;
    s->close_cb = NULL;
    if (cb)
        cb(s, s->close_arg);
    (void)loop;
    unref(s);
}

static void do_close(tn_iostream_t *s, int cause)
{
    if (s->closed)
        return;
    s->closed = 1;
    if (cause != 0 && s->error == 0)
        s->error = cause;
    /* A pending read the buffer can satisfy completes; others fail. */
    if (s->kind != R_NONE && !s->delivering && !try_read(s, 1))
        complete_read(s, 0, TN_ECLOSED);
    s->reading = 0;
    s->ops->close(s->transport);
}

/* The peer ended and nothing left can satisfy a read: close, after the
 * writes already queued have gone out (a half-closing client still gets its
 * response). */
static void eof_close(tn_iostream_t *s)
{
    if (s->closed)
        return;
    if (s->wq != NULL) {
        s->close_when_flushed = 1;
        return;
    }
    do_close(s, 0);
}

/* ---- events from the transport ---------------------------------------- */

void tn_iostream__on_alloc(tn_iostream_t *s, size_t suggested, char **base, size_t *len)
{
    size_t chunk = s->opts.read_chunk_size;
    (void)suggested;
    *len = 0;
    if (s->closed)
        return;
    /* Allow one byte past the cap so exceeding it is observed. */
    size_t room = s->opts.max_buffer_size + 1 - s->len;
    if (chunk > room)
        chunk = room;
    if (s->buf == NULL && chunk > 0) {
        s->buf = tn__pool_get(s->loop, chunk, &s->cap);
        if (s->buf == NULL) {
            s->cap = 0;
            return;
        }
        s->start = 0;
    }
    if (s->cap - s->start - s->len < chunk) {
        if (s->start > 0 && !s->delivering && !s->pinned) {
            memmove(s->buf, s->buf + s->start, s->len);
            s->start = 0;
        }
        if (s->cap - s->start - s->len < chunk) {
            size_t cap = s->start + s->len + chunk;
            if (cap < s->cap * 2 && s->cap * 2 <= s->opts.max_buffer_size + 1)
                cap = s->cap * 2;
            char *nb = tn_realloc(s->buf, cap);
            if (nb == NULL)
                return;
            s->buf = nb;
            s->cap = cap;
        }
    }
    /* A pooled buffer may be larger than asked for; one read still takes at
     * most read_chunk_size bytes (Tornado's read_chunk_size, and what bounds
     * a paused streaming read to one chunk). */
    size_t avail = s->cap - s->start - s->len;
    *base = s->buf + s->start + s->len;
    *len = avail < chunk ? avail : chunk;
}

void tn_iostream__on_read(tn_iostream_t *s, long nread)
{
    if (nread == 0 || s->closed) {
        release_buffer_if_empty(s);
        return;
    }
    if (nread < 0) {
        /* EOF with bytes still to hand over (a delivery under way, or data
         * no read has asked for yet): those come first. */
        /* A paused streaming read counts as a reader: its buffered chunk
         * still goes out when it resumes. */
        if (nread == TN_EOF && (s->half_close || s->streamer != NULL) &&
            (s->delivering || (s->kind == R_NONE && s->len > 0))) {
            s->eof = 1;
            update_reading(s);
            return;
        }
        do_close(s, nread == TN_EOF ? 0 : (int)nread);
        return;
    }
    s->len += (size_t)nread;
    if (s->len > s->opts.max_buffer_size) {
        tn_log(TN_LOG_WARN, "Reached maximum read buffer size, closing stream");
        do_close(s, TN_EBUFFULL);
        return;
    }
    if (s->kind != R_NONE && !s->delivering)
        try_read(s, 0);
    update_reading(s);
}

void tn_iostream__on_write_done(tn_iostream_t *s, int status)
{
    s->in_flight = 0;
    if (s->wq == NULL)
        return;
    if (status != 0) {
        do_close(s, status);
        return;
    }
    /* The transport took the slice: it is no longer unsent
     * (max_write_buffer_size and write_buffered count only what waits). */
    s->unsent -= s->in_flight_len;
    s->wq->off += s->in_flight_len;
    s->in_flight_len = 0;
    if (s->wq->off == s->wq->len)
        finish_head(s, 0);
    tn__iostream_flush(s);
}

void tn_iostream__on_connect(tn_iostream_t *s, int status)
{
    if (status != 0) {
        do_close(s, status);
        return;
    }
    update_reading(s);
    tn__iostream_flush(s);
}

void tn_iostream__on_closed(tn_iostream_t *s)
{
    s->transport_closed = 1;
    s->closed = 1;
    /* Reads can no longer be satisfied by new data. */
    if (s->kind != R_NONE && !s->delivering && !try_read(s, 1))
        complete_read(s, 0, TN_ECLOSED);
    while (s->wq != NULL)
        finish_head(s, TN_ECLOSED);
    s->in_flight = 0;
    if (defer(s, &s->close_node, on_close_callback, s) != 0)
        s->close_cb = NULL;
    unref(s); /* the transport's reference */
}

/* ---- public API --------------------------------------------------------- */

int tn_iostream_new(tn_ioloop_t *loop, const tn_transport_ops_t *ops, void *t,
                    const tn_iostream_options_t *opts, tn_iostream_t **out)
{
    tn_iostream_t *s = tn_calloc(1, sizeof(*s));
    if (s == NULL)
        return TN_ENOMEM;
    s->loop = loop;
    s->ops = ops;
    s->transport = t;
    if (opts)
        s->opts = *opts;
    if (s->opts.max_buffer_size == 0)
        s->opts.max_buffer_size = TN_IOSTREAM_DEFAULT_MAX_BUFFER;
    if (s->opts.read_chunk_size == 0)
        s->opts.read_chunk_size = TN_IOSTREAM_DEFAULT_CHUNK;
    if (s->opts.read_chunk_size > s->opts.max_buffer_size / 2 && s->opts.max_buffer_size >= 2)
        s->opts.read_chunk_size = s->opts.max_buffer_size / 2;
    s->refs = 1;
    *out = s;
    return 0;
}

static int start_read(tn_iostream_t *s, enum read_kind kind, tn_read_cb cb, tn_consume_cb ccb,
                      void *arg)
{
    if (s->kind != R_NONE || (s->streamer != NULL && !s->stream_internal))
        return TN_EALREADY;
    s->kind = kind;
    s->cb = cb;
    s->consume_cb = ccb;
    s->arg = arg;
    s->scan = 0;
    if (s->consuming)
        return 0; /* on_deliver matches it once the consumption is known */
    if (try_read(s, s->closed))
        return 0;
    if (s->closed) {
        s->kind = R_NONE;
        return TN_ECLOSED;
    }
    if (s->eof) {
        /* Nothing more will arrive: the read fails (read_until_close gets
         * what is buffered) once queued writes are out, never inside
         * this call. */
        eof_close(s);
        return 0;
    }
    update_reading(s);
    return 0;
}

int tn_iostream_read_until(tn_iostream_t *s, const char *delim, size_t delim_len, size_t max_bytes,
                           tn_read_cb cb, void *arg)
{
    if (delim_len == 0 || delim_len > sizeof(s->delim) || cb == NULL)
        return TN_EINVAL;
    if (s->kind != R_NONE)
        return TN_EALREADY;
    memcpy(s->delim, delim, delim_len);
    s->delim_len = delim_len;
    s->max_bytes = max_bytes;
    return start_read(s, R_UNTIL, cb, NULL, arg);
}

static int start_regex(tn_iostream_t *s, const tn_regex_t *re, size_t max_bytes, tn_read_cb cb,
                       void *arg)
{
    if (s->match == NULL) {
        s->match = pcre2_match_data_create(1, NULL);
        if (s->match == NULL)
            return TN_ENOMEM;
    }
    s->re = re;
    s->max_bytes = max_bytes;
    return start_read(s, R_REGEX, cb, NULL, arg);
}

int tn_iostream_read_until_regex(tn_iostream_t *s, const char *pattern, size_t max_bytes,
                                 tn_read_cb cb, void *arg)
{
    if (pattern == NULL || cb == NULL)
        return TN_EINVAL;
    if (s->kind != R_NONE)
        return TN_EALREADY;
    if (s->cached_pattern == NULL || strcmp(s->cached_pattern, pattern) != 0) {
        tn_regex_t *re;
        int err = tn_regex_compile(pattern, strlen(pattern), &re);
        if (err != 0)
            return err;
        char *copy = tn_strndup(pattern, strlen(pattern));
        if (copy == NULL) {
            tn_regex_free(re);
            return TN_ENOMEM;
        }
        tn_regex_free(s->cached_re);
        tn_free(s->cached_pattern);
        s->cached_re = re;
        s->cached_pattern = copy;
    }
    return start_regex(s, s->cached_re, max_bytes, cb, arg);
}

int tn_iostream_read_until_regex_compiled(tn_iostream_t *s, const tn_regex_t *re, size_t max_bytes,
                                          tn_read_cb cb, void *arg)
{
    if (re == NULL || cb == NULL)
        return TN_EINVAL;
    if (s->kind != R_NONE)
        return TN_EALREADY;
    return start_regex(s, re, max_bytes, cb, arg);
}

int tn_iostream_read_bytes(tn_iostream_t *s, size_t n, int partial, tn_read_cb cb, void *arg)
{
    if (cb == NULL)
        return TN_EINVAL;
    if (s->kind != R_NONE)
        return TN_EALREADY;
    s->n = n;
    s->partial = partial;
    return start_read(s, R_BYTES, cb, NULL, arg);
}

int tn_iostream_read_into(tn_iostream_t *s, char *buf, size_t len, int partial, tn_read_cb cb,
                          void *arg)
{
    if (cb == NULL || (buf == NULL && len > 0))
        return TN_EINVAL;
    if (s->kind != R_NONE)
        return TN_EALREADY;
    s->into = buf;
    s->n = len;
    s->partial = partial;
    return start_read(s, R_INTO, cb, NULL, arg);
}

int tn_iostream_read_until_close(tn_iostream_t *s, tn_read_cb cb, void *arg)
{
    if (cb == NULL)
        return TN_EINVAL;
    return start_read(s, R_CLOSE, cb, NULL, arg);
}

int tn_iostream_read_some(tn_iostream_t *s, tn_consume_cb cb, void *arg)
{
    if (cb == NULL)
        return TN_EINVAL;
    return start_read(s, R_SOME, NULL, cb, arg);
}

void tn_iostream_set_close_callback(tn_iostream_t *s, tn_close_cb cb, void *arg)
{
    s->close_cb = cb;
    s->close_arg = arg;
    update_reading(s);
}

void tn_iostream_close(tn_iostream_t *s)
{
    do_close(s, 0);
}

void tn_iostream_close_with(tn_iostream_t *s, int cause)
{
    do_close(s, cause);
}

/* ---- hooks for streaming reads (iostream_stream.c) ---------------------- */

tn__sread_t *tn__iostream_streamer(const tn_iostream_t *s)
{
    return s->streamer;
}

void tn__iostream_set_streamer(tn_iostream_t *s, tn__sread_t *sr)
{
    s->streamer = sr;
}

size_t tn__iostream_chunk_size(const tn_iostream_t *s)
{
    return s->opts.read_chunk_size;
}

int tn__iostream_stream_read(tn_iostream_t *s, char *into, size_t n, tn_read_cb cb, void *arg)
{
    if (s->kind != R_NONE)
        return TN_EALREADY;
    s->n = n;
    s->partial = 1;
    s->into = into;
    s->stream_internal = 1;
    int err = start_read(s, into != NULL ? R_INTO : R_BYTES, cb, NULL, arg);
    s->stream_internal = 0;
    return err;
}

int tn__iostream_cancel_read(tn_iostream_t *s)
{
    if (s->kind == R_NONE)
        return 0;
    if (s->delivering) {
        /* Completed but not handed over: the delivery is already queued,
         * so it runs and reports to nobody; the bytes stay buffered. */
        s->drop_delivery = 1;
        return 1;
    }
    s->kind = R_NONE;
    update_reading(s);
    return 0;
}
