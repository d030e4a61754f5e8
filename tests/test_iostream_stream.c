/* IOStream streaming reads (Tornado <= 5's streaming_callback, plus
 * TN_PAUSE/resume and caller-owned buffers): over the in-memory transport
 * at every split and chunk size, then over loopback TCP. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "loop_util.h"
#include "memtransport.h"
#include "net_peer.h"

TestSuite(iostream_stream, .timeout = 60);

typedef struct {
    char *got;
    size_t got_len, got_cap;
    int chunks, dones, closes;
    int done_status, close_error;
    uint64_t done_total;
    size_t max_chunk;
    int pause_every;  /* return TN_PAUSE from every n-th chunk */
    int abort_at;     /* return this chunk's negative code at chunk n */
    int cancel_at;    /* tn_iostream_stream_cancel from inside chunk n */
    int in_start;     /* set while tn_iostream_stream runs */
    int inline_calls; /* callbacks that ran inside a starter */
    int paused;
    char order[16];
    int events;
    /* after done: read the tail with read_bytes */
    size_t tail_want;
    char tail[64];
    size_t tail_len;
    int tail_reads;
} sctx_t;

static void mark(sctx_t *c, char e)
{
    if (c->events < (int)sizeof(c->order) - 1)
        c->order[c->events++] = e;
}

static void keep(sctx_t *c, const char *data, size_t len)
{
    if (c->got_len + len > c->got_cap) {
        c->got_cap = (c->got_len + len) * 2 + 64;
        c->got = realloc(c->got, c->got_cap);
        cr_assert_not_null(c->got);
    }
    memcpy(c->got + c->got_len, data, len);
    c->got_len += len;
}

static int on_chunk(tn_iostream_t *s, const char *data, size_t len, void *arg)
{
    sctx_t *c = arg;
    (void)s;
    if (c->in_start)
        c->inline_calls++;
    cr_assert_gt(len, 0);
    keep(c, data, len);
    if (len > c->max_chunk)
        c->max_chunk = len;
    c->chunks++;
    mark(c, 'k');
    if (c->abort_at && c->chunks == c->abort_at)
        return TN_ECALLBACK;
    if (c->cancel_at && c->chunks == c->cancel_at)
        cr_assert_eq(tn_iostream_stream_cancel(s), 0);
    if (c->pause_every && c->chunks % c->pause_every == 0) {
        c->paused = 1;
        return TN_PAUSE;
    }
    return TN_CONTINUE;
}

static void on_tail(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    sctx_t *c = arg;
    (void)s;
    c->tail_reads++;
    cr_assert_eq(status, 0);
    memcpy(c->tail, data, len);
    c->tail_len = len;
}

static void on_done(tn_iostream_t *s, int status, uint64_t total, void *arg)
{
    sctx_t *c = arg;
    if (c->in_start)
        c->inline_calls++;
    c->dones++;
    c->done_status = status;
    c->done_total = total;
    mark(c, 'd');
    cr_assert_eq(tn_iostream_reading(s), 0, "the read slot is free in on_done");
    if (c->tail_want)
        cr_assert_eq(tn_iostream_read_bytes(s, c->tail_want, 0, on_tail, c), 0);
}

static void on_close(tn_iostream_t *s, void *arg)
{
    sctx_t *c = arg;
    c->closes++;
    c->close_error = tn_iostream_error(s);
    mark(c, 'c');
}

static int start_stream(tn_iostream_t *s, uint64_t n, sctx_t *c)
{
    c->in_start = 1;
    int err = tn_iostream_stream(s, n, on_chunk, on_done, c);
    c->in_start = 0;
    return err;
}

static void close_and_settle(tn_ioloop_t *loop, tn_mt_t *mt, sctx_t *c)
{
    if (c->closes == 0) {
        tn_iostream_set_close_callback(mt->stream, on_close, c);
        tn_iostream_close(mt->stream);
    }
    for (int i = 0; i < 5 && c->closes == 0; i++)
        tn_mt_turn(loop);
    cr_assert_eq(c->closes, 1);
    tn_mt_free(mt);
    tn_test_close(loop, 0);
    free(c->got);
}

static void fill(char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + (i * 7 + i / 13) % 26);
}

/* tornado: iostream_test test_streaming_callback (read_bytes with a
 * streaming_callback), at every input split and several chunk sizes: the
 * chunks are exactly the first n bytes, none larger than read_chunk_size,
 * and the bytes past n stay for the next read. */
Test(iostream_stream, nbytes_at_every_split_and_chunk_size)
{
    enum { N = 97, TAIL = 5 };
    char input[N + TAIL];
    fill(input, sizeof(input));
    static const size_t chunk_sizes[] = {1, 2, 7, 64, 0};
    for (size_t ci = 0; ci < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); ci++) {
        for (size_t split = 1; split <= sizeof(input); split++) {
            tn_ioloop_t *loop = tn_test_loop_new();
            tn_iostream_options_t o = {.read_chunk_size = chunk_sizes[ci]};
            tn_mt_t *mt = tn_mt_new(loop, &o);
            sctx_t c = {.tail_want = TAIL};
            cr_assert_eq(start_stream(mt->stream, N, &c), 0);
            size_t off = 0;
            for (int turns = 0; off < sizeof(input) && turns < 2000; turns++) {
                size_t k = sizeof(input) - off < split ? sizeof(input) - off : split;
                off += tn_mt_feed(mt, input + off, k, k);
                tn_mt_turn(loop);
            }
            for (int i = 0; i < 3; i++)
                tn_mt_turn(loop);
            cr_assert_eq(c.dones, 1, "split %zu chunk %zu", split, chunk_sizes[ci]);
            cr_assert_eq(c.done_status, 0);
            cr_assert_eq(c.done_total, N);
            cr_assert_eq(c.got_len, N);
            cr_assert_eq(memcmp(c.got, input, N), 0);
            size_t cap = chunk_sizes[ci] ? chunk_sizes[ci] : TN_IOSTREAM_DEFAULT_CHUNK;
            cr_assert_leq(c.max_chunk, cap);
            cr_assert_eq(c.tail_reads, 1);
            cr_assert_eq(c.tail_len, TAIL);
            cr_assert_eq(memcmp(c.tail, input + N, TAIL), 0);
            cr_assert_eq(c.inline_calls, 0);
            close_and_settle(loop, mt, &c);
        }
    }
}

/* Buffered bytes still come on a later drain, never inside the call; a
 * second read is refused while the streaming read lives. */
Test(iostream_stream, buffered_bytes_are_not_delivered_inline)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    sctx_t c = {0};
    cr_assert_eq(tn_iostream_read_bytes(mt->stream, 1, 0, on_tail, &c), 0);
    cr_assert_eq(tn_mt_feed(mt, "xhello", 6, 0), 6);
    tn_mt_turn(loop);
    cr_assert_eq(tn_iostream_buffered(mt->stream), 5);
    cr_assert_eq(start_stream(mt->stream, 5, &c), 0);
    cr_assert_eq(c.chunks + c.dones, 0);
    cr_assert_eq(tn_iostream_read_bytes(mt->stream, 1, 0, on_tail, &c), TN_EALREADY);
    cr_assert_eq(tn_iostream_stream(mt->stream, 1, on_chunk, on_done, &c), TN_EALREADY);
    cr_assert(tn_iostream_reading(mt->stream));
    tn_mt_turn(loop);
    tn_mt_turn(loop);
    cr_assert_eq(c.dones, 1);
    cr_assert_eq(c.got_len, 5);
    cr_assert_eq(memcmp(c.got, "hello", 5), 0);
    close_and_settle(loop, mt, &c);
}

Test(iostream_stream, argument_errors_and_closed_stream)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    sctx_t c = {0};
    cr_assert_eq(tn_iostream_stream(mt->stream, 5, NULL, on_done, &c), TN_EINVAL);
    cr_assert_eq(tn_iostream_stream(mt->stream, 5, on_chunk, NULL, &c), TN_EINVAL);
    cr_assert_eq(tn_iostream_stream_resume(mt->stream), TN_EINVAL);
    cr_assert_eq(tn_iostream_stream_cancel(mt->stream), TN_EINVAL);
    tn_iostream_set_close_callback(mt->stream, on_close, &c);
    tn_iostream_close(mt->stream);
    cr_assert_eq(start_stream(mt->stream, 5, &c), TN_ECLOSED);
    cr_assert_eq(start_stream(mt->stream, TN_UNTIL_CLOSE, &c), TN_ECLOSED);
    close_and_settle(loop, mt, &c);
    cr_assert_eq(c.dones, 0);
}

/* tornado: iostream_test test_streaming_until_close: chunks as they come,
 * then the final callback with success on EOF, before the close callback. */
Test(iostream_stream, until_close_ends_cleanly_on_eof_before_close_callback)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    sctx_t c = {0};
    tn_iostream_set_close_callback(mt->stream, on_close, &c);
    cr_assert_eq(start_stream(mt->stream, TN_UNTIL_CLOSE, &c), 0);
    cr_assert_eq(tn_mt_feed(mt, "1234", 4, 0), 4);
    tn_mt_turn(loop);
    cr_assert_eq(tn_mt_feed(mt, "5678", 4, 0), 4);
    tn_mt_eof(mt, TN_EOF);
    for (int i = 0; i < 5; i++)
        tn_mt_turn(loop);
    cr_assert_eq(c.dones, 1);
    cr_assert_eq(c.done_status, 0);
    cr_assert_eq(c.done_total, 8);
    cr_assert_eq(c.got_len, 8);
    cr_assert_eq(memcmp(c.got, "12345678", 8), 0);
    cr_assert_eq(c.closes, 1);
    cr_assert_str_eq(c.order, "kkdc");
    close_and_settle(loop, mt, &c);
}

/* EOF before nbytes: TN_ECLOSED with what came; a reset says why. */
Test(iostream_stream, eof_or_reset_before_nbytes)
{
    for (int reset = 0; reset < 2; reset++) {
        tn_ioloop_t *loop = tn_test_loop_new();
        tn_mt_t *mt = tn_mt_new(loop, NULL);
        sctx_t c = {0};
        tn_iostream_set_close_callback(mt->stream, on_close, &c);
        cr_assert_eq(start_stream(mt->stream, 100, &c), 0);
        cr_assert_eq(tn_mt_feed(mt, "abc", 3, 0), 3);
        tn_mt_turn(loop);
        tn_mt_eof(mt, reset ? -104 : TN_EOF);
        for (int i = 0; i < 5; i++)
            tn_mt_turn(loop);
        cr_assert_eq(c.dones, 1);
        cr_assert_eq(c.done_status, TN_ECLOSED);
        cr_assert_eq(c.done_total, 3);
        cr_assert_eq(c.close_error, reset ? -104 : 0);
        cr_assert_str_eq(c.order, "kdc");
        close_and_settle(loop, mt, &c);
    }
}

/* TN_PAUSE stops the transport (the peer is throttled) with at most one
 * chunk buffered; resume continues on a later drain with nothing lost. */
Test(iostream_stream, pause_throttles_and_resume_loses_nothing)
{
    enum { N = 4096 };
    char input[N];
    fill(input, N);
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_iostream_options_t o = {.read_chunk_size = 256};
    tn_mt_t *mt = tn_mt_new(loop, &o);
    sctx_t c = {.pause_every = 1};
    cr_assert_eq(start_stream(mt->stream, N, &c), 0);
    size_t off = 0;
    for (int turns = 0; c.dones == 0 && turns < 500; turns++) {
        if (off < N)
            off += tn_mt_feed(mt, input + off, N - off, 100);
        tn_mt_turn(loop);
        if (c.paused && c.dones == 0) {
            /* paused: the transport is not read, at most a chunk waits */
            cr_assert_eq(mt->reading, 0);
            cr_assert_eq(tn_mt_feed(mt, input + off, N - off, 100), 0);
            cr_assert_leq(tn_iostream_buffered(mt->stream), 256);
            c.paused = 0;
            int before = c.chunks;
            cr_assert_eq(tn_iostream_stream_resume(mt->stream), 0);
            cr_assert_eq(tn_iostream_stream_resume(mt->stream), TN_EINVAL);
            cr_assert_eq(c.chunks, before, "never inside resume");
        }
    }
    cr_assert_eq(c.dones, 1);
    cr_assert_eq(c.done_status, 0);
    cr_assert_eq(c.got_len, N);
    cr_assert_eq(memcmp(c.got, input, N), 0);
    cr_assert_gt(c.chunks, N / 256 - 1);
    close_and_settle(loop, mt, &c);
}

/* A peer's EOF while paused with a chunk buffered: the chunk still comes
 * after resume, then the clean end. */
Test(iostream_stream, eof_while_paused_keeps_the_buffered_chunk)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    sctx_t c = {.pause_every = 1};
    tn_iostream_set_close_callback(mt->stream, on_close, &c);
    cr_assert_eq(start_stream(mt->stream, TN_UNTIL_CLOSE, &c), 0);
    cr_assert_eq(tn_mt_feed(mt, "one", 3, 0), 3);
    tn_mt_turn(loop);
    cr_assert_eq(c.chunks, 1);
    /* Not reading while paused, but one read already queued more bytes
     * (simulate by resuming, feeding, pausing again). */
    c.pause_every = 0;
    cr_assert_eq(tn_iostream_stream_resume(mt->stream), 0);
    tn_mt_turn(loop);
    c.pause_every = 1;
    cr_assert_eq(tn_mt_feed(mt, "two", 3, 0), 3);
    tn_mt_turn(loop);
    cr_assert_eq(c.chunks, 2);
    /* Paused with an empty buffer, the stream still reads to notice the
     * peer leaving (a close callback is set): one chunk, then no more. */
    cr_assert_eq(tn_mt_feed(mt, "333", 3, 0), 3);
    cr_assert_eq(tn_mt_feed(mt, "x", 1, 0), 0, "paused: not reading");
    tn_mt_eof(mt, TN_EOF);
    tn_mt_turn(loop);
    cr_assert_eq(c.closes, 0);
    cr_assert_eq(c.dones, 0);
    c.pause_every = 0;
    cr_assert_eq(tn_iostream_stream_resume(mt->stream), 0);
    for (int i = 0; i < 5; i++)
        tn_mt_turn(loop);
    cr_assert_eq(c.dones, 1);
    cr_assert_eq(c.done_status, 0);
    cr_assert_eq(c.got_len, 9);
    cr_assert_eq(memcmp(c.got, "onetwo333", 9), 0);
    cr_assert_eq(c.closes, 1);
    close_and_settle(loop, mt, &c);
}

/* Closing the stream while paused ends the read before the close callback. */
Test(iostream_stream, close_while_paused)
{
    for (int until_close = 0; until_close < 2; until_close++) {
        tn_ioloop_t *loop = tn_test_loop_new();
        tn_mt_t *mt = tn_mt_new(loop, NULL);
        sctx_t c = {.pause_every = 1};
        tn_iostream_set_close_callback(mt->stream, on_close, &c);
        cr_assert_eq(start_stream(mt->stream, until_close ? TN_UNTIL_CLOSE : 10, &c), 0);
        cr_assert_eq(tn_mt_feed(mt, "abc", 3, 0), 3);
        tn_mt_turn(loop);
        cr_assert_eq(c.chunks, 1);
        tn_iostream_close(mt->stream);
        for (int i = 0; i < 5; i++)
            tn_mt_turn(loop);
        cr_assert_eq(c.dones, 1);
        cr_assert_eq(c.done_status, until_close ? 0 : TN_ECLOSED);
        cr_assert_str_eq(c.order, "kdc");
        close_and_settle(loop, mt, &c);
    }
}

/* A negative return aborts: the stream closes with it as its cause, the
 * final callback gets it, then the close callback. */
Test(iostream_stream, abort_from_chunk_becomes_the_close_cause)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_iostream_options_t o = {.read_chunk_size = 4};
    tn_mt_t *mt = tn_mt_new(loop, &o);
    sctx_t c = {.abort_at = 2};
    tn_iostream_set_close_callback(mt->stream, on_close, &c);
    cr_assert_eq(start_stream(mt->stream, 100, &c), 0);
    tn_mt_feed(mt, "aaaabbbbcccc", 12, 4);
    for (int i = 0; i < 6; i++) {
        tn_mt_feed(mt, "dddd", 4, 0);
        tn_mt_turn(loop);
    }
    cr_assert_eq(c.chunks, 2);
    cr_assert_eq(c.dones, 1);
    cr_assert_eq(c.done_status, TN_ECALLBACK);
    cr_assert_eq(c.done_total, 8);
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(c.close_error, TN_ECALLBACK);
    cr_assert_str_eq(c.order, "kkdc");
    close_and_settle(loop, mt, &c);
}

/* Cancel from inside a chunk, and from outside with a chunk already
 * queued for delivery: TN_ECANCELED, no chunk afterwards, and the bytes not
 * handed over are read by the next read, started from on_done. */
Test(iostream_stream, cancel_inside_and_outside_keeps_the_rest_buffered)
{
    for (int outside = 0; outside < 2; outside++) {
        tn_ioloop_t *loop = tn_test_loop_new();
        tn_iostream_options_t o = {.read_chunk_size = 4};
        tn_mt_t *mt = tn_mt_new(loop, &o);
        sctx_t c = {.cancel_at = outside ? 0 : 1, .tail_want = 4};
        cr_assert_eq(start_stream(mt->stream, 100, &c), 0);
        cr_assert_eq(tn_mt_feed(mt, "abcdefgh", 8, 0), 4);
        if (outside) {
            /* the first chunk's delivery is queued: cancel it */
            cr_assert_eq(tn_iostream_stream_cancel(mt->stream), 0);
            cr_assert_eq(tn_iostream_stream_cancel(mt->stream), TN_EINVAL);
            cr_assert_eq(tn_iostream_stream_resume(mt->stream), TN_EINVAL);
        }
        for (int i = 0; i < 4; i++)
            tn_mt_turn(loop);
        cr_assert_eq(c.dones, 1);
        cr_assert_eq(c.done_status, TN_ECANCELED);
        cr_assert_eq(c.chunks, outside ? 0 : 1);
        /* outside: the dropped chunk is still buffered for the next read */
        cr_assert_eq(c.tail_reads, outside ? 1 : 0);
        if (!outside)
            tn_mt_feed(mt, "efgh", 4, 0);
        for (int i = 0; i < 3; i++)
            tn_mt_turn(loop);
        cr_assert_eq(c.tail_reads, 1);
        cr_assert_eq(memcmp(c.tail, outside ? "abcd" : "efgh", 4), 0);
        close_and_settle(loop, mt, &c);
    }
}

/* nbytes 0 completes with success and no chunk. */
Test(iostream_stream, zero_bytes)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    sctx_t c = {0};
    cr_assert_eq(start_stream(mt->stream, 0, &c), 0);
    cr_assert_eq(c.dones, 0);
    tn_mt_turn(loop);
    cr_assert_eq(c.dones, 1);
    cr_assert_eq(c.done_status, 0);
    cr_assert_eq(c.chunks, 0);
    close_and_settle(loop, mt, &c);
}

/* ---- caller-owned buffers ------------------------------------------------ */

typedef struct {
    sctx_t c;
    char bufs[3][5];
    int next_buf;
    char *lent[8]; /* lent and not returned */
    int nlent;
    int allocs, filleds;
    int pause_alloc_at; /* alloc returns len 0 at this call */
    long tn_allocs_during;
} ictx_t;

static long tn_alloc_count;
static void *count_malloc(size_t n)
{
    tn_alloc_count++;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n)
{
    tn_alloc_count++;
    return realloc(p, n);
}
static void *count_calloc(size_t a, size_t b)
{
    tn_alloc_count++;
    return calloc(a, b);
}

static int on_alloc(tn_iostream_t *s, size_t suggested, char **base, size_t *len, void *arg)
{
    ictx_t *x = arg;
    (void)s;
    cr_assert_eq(x->c.in_start, 0, "alloc never inside the starter");
    cr_assert_gt(suggested, 0);
    x->allocs++;
    if (x->pause_alloc_at && x->allocs == x->pause_alloc_at) {
        *len = 0;
        return 0;
    }
    *base = x->bufs[x->next_buf++ % 3];
    *len = sizeof(x->bufs[0]);
    x->lent[x->nlent++ % 8] = *base;
    return 0;
}

static int on_filled(tn_iostream_t *s, char *base, size_t len, void *arg)
{
    ictx_t *x = arg;
    (void)s;
    x->filleds++;
    cr_assert_eq(base, x->lent[(x->nlent - 1) % 8], "filled returns the buffer alloc lent");
    cr_assert_leq(len, sizeof(x->bufs[0]));
    keep(&x->c, base, len);
    return TN_CONTINUE;
}

static void on_into_done(tn_iostream_t *s, int status, uint64_t total, void *arg)
{
    ictx_t *x = arg;
    on_done(s, status, total, &x->c);
}

Test(iostream_stream, into_caller_buffers_allocates_nothing_per_piece)
{
    enum { N = 200 };
    char input[N];
    fill(input, N);
    cr_assert_eq(tn_replace_allocator(count_malloc, count_realloc, count_calloc, free), 0);
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_iostream_options_t o = {.read_chunk_size = 64};
    tn_mt_t *mt = tn_mt_new(loop, &o);
    ictx_t x = {.pause_alloc_at = 3};
    x.c.in_start = 1;
    cr_assert_eq(tn_iostream_stream_into(mt->stream, N, on_alloc, on_filled, on_into_done, &x), 0);
    x.c.in_start = 0;
    cr_assert_eq(x.allocs, 0);
    tn_mt_turn(loop);
    cr_assert_eq(x.allocs, 1);
    long base_count = 0;
    for (int turns = 0; x.c.dones == 0 && turns < 400; turns++) {
        size_t off = x.c.got_len + tn_iostream_buffered(mt->stream);
        if (off < N)
            tn_mt_feed(mt, input + off, N - off, 3);
        if (turns == 4)
            base_count = tn_alloc_count;
        tn_mt_turn(loop);
        if (x.allocs == 3 && x.filleds == 2) {
            /* alloc gave no room: paused until resumed */
            cr_assert_eq(tn_iostream_stream_resume(mt->stream), 0);
        }
    }
    cr_assert_eq(x.c.dones, 1);
    cr_assert_eq(x.c.done_status, 0);
    cr_assert_eq(x.c.got_len, N);
    cr_assert_eq(memcmp(x.c.got, input, N), 0);
    cr_assert_geq(x.filleds, N / 5);
    /* the loop's own callback entries for tn_mt_turn allocate; nothing per
     * piece from the streaming read itself (one per turn at most) */
    cr_assert_leq(tn_alloc_count - base_count, 400);
    close_and_settle(loop, mt, &x.c);
    cr_assert_eq(tn_replace_allocator(malloc, realloc, calloc, free), 0);
}

/* ---- loopback ------------------------------------------------------------ */

typedef struct {
    tn_ioloop_t *loop;
    sctx_t c;
    unsigned long long hash;
    size_t max_buffered;
    int closed;
} lctx_t;

static tn_iostream_t *loop_stream;

static void resume_cb(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    cr_assert_eq(tn_iostream_stream_resume(loop_stream), 0);
}

static int on_loop_chunk(tn_iostream_t *s, const char *data, size_t len, void *arg)
{
    lctx_t *l = arg;
    keep(&l->c, data, len);
    l->c.chunks++;
    if (tn_iostream_buffered(s) > l->max_buffered)
        l->max_buffered = tn_iostream_buffered(s);
    if (l->c.chunks % 16 == 0) {
        /* a slow consumer: pause, resume 2 ms later */
        cr_assert_neq(tn_ioloop_call_later(l->loop, 2, resume_cb, l), 0);
        return TN_PAUSE;
    }
    return TN_CONTINUE;
}

static void on_loop_done(tn_iostream_t *s, int status, uint64_t total, void *arg)
{
    lctx_t *l = arg;
    (void)s;
    l->c.dones++;
    l->c.done_status = status;
    l->c.done_total = total;
}

static void on_loop_close(tn_iostream_t *s, void *arg)
{
    lctx_t *l = arg;
    (void)s;
    l->closed = 1;
    tn_ioloop_stop(l->loop);
}

Test(iostream_stream, loopback_until_close_with_pauses)
{
    enum { N = 3 * 1024 * 1024 + 17 };
    tn_ioloop_t *loop = tn_test_loop_new();
    int sfd, cfd;
    tn_test_tcp_pair(&sfd, &cfd);
    char *payload = malloc(N);
    tn_test_random_bytes(payload, N, 7);
    tn_peer_t peer = {.fd = cfd, .send = payload, .send_len = N, .chunk = 100000, .shutdown_wr = 1};
    lctx_t l = {.loop = loop};
    tn_iostream_options_t o = {.read_chunk_size = 16384};
    cr_assert_eq(tn_iostream_from_socket(loop, sfd, &o, &loop_stream), 0);
    tn_iostream_set_close_callback(loop_stream, on_loop_close, &l);
    cr_assert_eq(tn_iostream_stream(loop_stream, TN_UNTIL_CLOSE, on_loop_chunk, on_loop_done, &l),
                 0);
    tn_peer_start(&peer);
    tn_test_run(loop, 30000);
    tn_peer_join(&peer);
    cr_assert_eq(l.closed, 1);
    cr_assert_eq(l.c.dones, 1);
    cr_assert_eq(l.c.done_status, 0);
    cr_assert_eq(l.c.done_total, N);
    cr_assert_eq(l.c.got_len, N);
    cr_assert_eq(tn_test_hash(l.c.got, N), tn_test_hash(payload, N));
    /* bounded: at most a chunk or so waits while a chunk is handled */
    cr_assert_leq(l.max_buffered, 2 * 16384);
    tn_peer_free(&peer);
    free(payload);
    free(l.c.got);
    tn_test_close(loop, 0);
}
