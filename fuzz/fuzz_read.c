/* libFuzzer target: arbitrary bytes, cut into arbitrary pieces, through an
 * IOStream over an in-memory transport, consumed by a sequence of targeted
 * reads (read_until, read_until_regex, read_bytes, read_bytes partial,
 * read_into, read_some, read_until_close, and the streaming reads
 * tn_iostream_stream / _stream_into with chunk callbacks that go on, pause,
 * cancel or abort) with and without max_bytes, under a small
 * max_buffer_size.
 *
 * Input: 8 header bytes, then the payload.
 *   [0..1], [4..5] PRNG seed for piece sizes, read kinds, delimiters,
 *          patterns and read_some consumption
 *   [2]    max_buffer_size selector, [3] max_bytes selector
 *   [6]    read-kind mask (0 = all kinds; bit 7 = both streaming kinds),
 *   [7]    largest piece size
 * Checked after every input: the bytes the reads delivered are exactly a
 * prefix of the payload, and delivered + still buffered == fed; every read
 * completes at most once and respects its own contract (a read_until piece
 * ends at its delimiter's first occurrence and within max_bytes, read_bytes
 * gets exactly n or, partial, 1..n; a streaming read's chunks are 1..chunk
 * bytes, its final callback comes once, after them, with total == n on
 * success); the close callback runs exactly once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loop_defer.h"
#include "tornuv/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

enum {
    K_UNTIL,
    K_REGEX,
    K_BYTES,
    K_PARTIAL,
    K_INTO,
    K_SOME,
    K_CLOSE,
    K_STREAM,
    K_STREAM_INTO,
    K_COUNT
};

static const char *const delims[] = {"\n", "\r\n", "\r\n\r\n", "ab", "\0", "xyzzy", "aa", ";"};
static const size_t delim_lens[] = {1, 2, 4, 2, 1, 5, 2, 1};
static const char *const patterns[] = {"\\r?\\n\\r?\\n", "[0-9]+;", "a.c",  "\\n",
                                       "(ab|ba)+x",      "^.",      "z{3}", "[^a-z]"};

typedef struct {
    tn_ioloop_t *loop;
    tn_iostream_t *s;
    tn__qnode_t close_node;
    int reading, closed;

    const char *payload;
    size_t payload_len, fed;
    char *out;
    size_t out_len;

    uint64_t rng;
    int kind_mask;
    size_t max_bytes;
    size_t delim_i, pattern_i;

    /* the pending read */
    int pending, kind, partial;
    size_t n;
    char into[300];
    int closes;
    int stopped;
    int after_close_reads; /* reads started from callbacks while closing */
    /* the streaming read */
    uint64_t s_n, s_got;
    int s_paused, s_lent;
    size_t chunk_cap;
} fz_t;

static uint64_t next_rand(fz_t *f)
{
    uint64_t x = f->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f->rng = x;
    return x;
}

/* ---- the transport ----------------------------------------------------- */

static int t_read_start(void *t)
{
    ((fz_t *)t)->reading = 1;
    return 0;
}

static int t_read_stop(void *t)
{
    ((fz_t *)t)->reading = 0;
    return 0;
}

static long t_try_write(void *t, const tn_buf_t *bufs, size_t nbufs)
{
    long n = 0;
    (void)t;
    for (size_t i = 0; i < nbufs; i++)
        n += (long)bufs[i].len;
    return n;
}

static int t_write(void *t, const tn_buf_t *bufs, size_t nbufs)
{
    (void)t;
    (void)bufs;
    (void)nbufs;
    return TN_ENOTSUP;
}

static int t_shutdown(void *t)
{
    (void)t;
    return 0;
}

static void on_t_closed(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    tn_iostream__on_closed(((fz_t *)arg)->s);
}

static void t_close(void *t)
{
    fz_t *f = t;
    CHECK(!f->closed);
    f->closed = 1;
    f->reading = 0;
    CHECK(tn__loop_defer_node(f->loop, &f->close_node, on_t_closed, f) == 0);
}

static int t_nodelay(void *t, int on)
{
    (void)t;
    (void)on;
    return 0;
}

static int t_address(void *t, char *ip, size_t iplen, int *port)
{
    (void)t;
    (void)ip;
    (void)iplen;
    (void)port;
    return TN_ENOTSUP;
}

static const tn_transport_ops_t ops = {t_read_start, t_read_stop, t_try_write, t_write,
                                       t_shutdown,   t_close,     t_nodelay,   t_address};

/* ---- reads ----------------------------------------------------------------- */

static void start_read(fz_t *f);

static void record(fz_t *f, const char *data, size_t len)
{
    CHECK(f->out_len + len <= f->payload_len);
    CHECK(len == 0 || memcmp(data, f->payload + f->out_len, len) == 0);
    memcpy(f->out + f->out_len, data, len);
    f->out_len += len;
}

static void check_piece(fz_t *f, const char *data, size_t len)
{
    switch (f->kind) {
    case K_UNTIL: {
        const char *d = delims[f->delim_i];
        size_t dl = delim_lens[f->delim_i];
        CHECK(len >= dl && memcmp(data + len - dl, d, dl) == 0);
        /* the first occurrence: none ends earlier */
        for (size_t i = 0; i + dl < len; i++)
            CHECK(memcmp(data + i, d, dl) != 0);
        if (f->max_bytes)
            CHECK(len <= f->max_bytes);
        break;
    }
    case K_REGEX:
        /* no pattern matches the empty string */
        CHECK(len > 0);
        if (f->max_bytes)
            CHECK(len <= f->max_bytes);
        break;
    case K_BYTES:
        CHECK(len == f->n);
        break;
    case K_PARTIAL:
        CHECK(len <= f->n && (len > 0 || f->n == 0));
        break;
    case K_INTO:
        if (f->partial)
            CHECK(len <= f->n && (len > 0 || f->n == 0));
        else
            CHECK(len == f->n);
        break;
    default:
        break;
    }
}

static void on_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    fz_t *f = arg;
    (void)s;
    CHECK(f->pending);
    CHECK(f->closes == 0);
    f->pending = 0;
    if (status != 0) {
        CHECK(status == TN_ECLOSED && data == NULL && len == 0);
        return;
    }
    if (f->kind == K_INTO)
        CHECK(data == f->into);
    check_piece(f, data, len);
    record(f, data, len);
    /* Reads started while closing are satisfied from what is left (or
     * refused) and still complete before the close callback; a few of them
     * are enough. */
    if (!f->stopped && (!f->closed || f->after_close_reads++ < 4))
        start_read(f);
}

static size_t on_some(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    fz_t *f = arg;
    (void)s;
    CHECK(f->pending);
    CHECK(f->closes == 0);
    f->pending = 0;
    if (status != 0) {
        CHECK(status == TN_ECLOSED && data == NULL && len == 0);
        return 0;
    }
    CHECK(len > 0);
    /* Consume some of it (possibly nothing); the rest stays buffered. */
    size_t used = (size_t)(next_rand(f) % (len + 1));
    record(f, data, used);
    if (!f->stopped && (!f->closed || f->after_close_reads++ < 4))
        start_read(f);
    return used;
}

/* What a chunk or filled callback answers: mostly go on, sometimes pause
 * (the driver resumes), cancel, or abort. */
static int chunk_answer(fz_t *f, tn_iostream_t *s)
{
    unsigned r = (unsigned)(next_rand(f) % 32);
    if (r < 6) {
        f->s_paused = 1;
        return TN_PAUSE;
    }
    if (r == 6) {
        CHECK(tn_iostream_stream_cancel(s) == 0);
        CHECK(tn_iostream_stream_cancel(s) == TN_EINVAL);
        return TN_CONTINUE;
    }
    if (r == 7)
        return TN_ECALLBACK;
    return TN_CONTINUE;
}

static void stream_piece(fz_t *f, const char *data, size_t len)
{
    CHECK(f->pending && f->closes == 0);
    CHECK(len > 0 && len <= f->chunk_cap);
    f->s_got += len;
    CHECK(f->s_n == TN_UNTIL_CLOSE || f->s_got <= f->s_n);
    record(f, data, len);
}

static int on_chunk(tn_iostream_t *s, const char *data, size_t len, void *arg)
{
    fz_t *f = arg;
    stream_piece(f, data, len);
    return chunk_answer(f, s);
}

static int on_alloc(tn_iostream_t *s, size_t suggested, char **base, size_t *len, void *arg)
{
    fz_t *f = arg;
    (void)s;
    CHECK(f->pending && !f->s_lent && suggested > 0);
    size_t n = (size_t)(next_rand(f) % (sizeof(f->into) + 1));
    if (n == 0 || (next_rand(f) & 7) == 0) {
        f->s_paused = 1;
        *len = 0;
        return 0;
    }
    f->s_lent = 1;
    *base = f->into;
    *len = n;
    return 0;
}

static int on_filled(tn_iostream_t *s, char *base, size_t len, void *arg)
{
    fz_t *f = arg;
    CHECK(f->s_lent && base == f->into);
    f->s_lent = 0;
    stream_piece(f, base, len);
    return chunk_answer(f, s);
}

static void on_stream_done(tn_iostream_t *s, int status, uint64_t total, void *arg)
{
    fz_t *f = arg;
    CHECK(f->pending && f->closes == 0);
    CHECK(total == f->s_got);
    CHECK(!tn_iostream_reading(s));
    if (status == 0 && f->s_n != TN_UNTIL_CLOSE)
        CHECK(total == f->s_n);
    CHECK(status == 0 || status == TN_ECLOSED || status == TN_ECANCELED || status == TN_ECALLBACK);
    f->pending = 0;
    f->s_paused = 0;
    f->s_lent = 0;
    if (!f->stopped && (!f->closed || f->after_close_reads++ < 4))
        start_read(f);
}

static void start_read(fz_t *f)
{
    int kind;
    do
        kind = (int)(next_rand(f) % K_COUNT);
    while (f->kind_mask && !(f->kind_mask & (1 << (kind >= K_STREAM ? 7 : kind))));
    size_t max = f->max_bytes;
    int err;
    f->kind = kind;
    f->pending = 1;
    switch (kind) {
    case K_UNTIL:
        f->delim_i = next_rand(f) % 8;
        err = tn_iostream_read_until(f->s, delims[f->delim_i], delim_lens[f->delim_i], max, on_read,
                                     f);
        break;
    case K_REGEX:
        f->pattern_i = next_rand(f) % 8;
        err = tn_iostream_read_until_regex(f->s, patterns[f->pattern_i], max, on_read, f);
        break;
    case K_BYTES:
    case K_PARTIAL:
        f->n = next_rand(f) % 300;
        err = tn_iostream_read_bytes(f->s, f->n, kind == K_PARTIAL, on_read, f);
        break;
    case K_INTO:
        f->n = next_rand(f) % (sizeof(f->into) + 1);
        f->partial = (int)(next_rand(f) & 1);
        err = tn_iostream_read_into(f->s, f->into, f->n, f->partial, on_read, f);
        break;
    case K_SOME:
        err = tn_iostream_read_some(f->s, on_some, f);
        break;
    case K_STREAM:
    case K_STREAM_INTO:
        f->s_n = (next_rand(f) & 3) == 0 ? TN_UNTIL_CLOSE : next_rand(f) % 2000;
        f->s_got = 0;
        f->s_paused = 0;
        if (kind == K_STREAM)
            err = tn_iostream_stream(f->s, f->s_n, on_chunk, on_stream_done, f);
        else
            err = tn_iostream_stream_into(f->s, f->s_n, on_alloc, on_filled, on_stream_done, f);
        break;
    default:
        err = tn_iostream_read_until_close(f->s, on_read, f);
        break;
    }
    if (err != 0) {
        /* Only a closed stream with nothing to satisfy the read refuses it
         * (read_until_close never does: it completes with what is left). */
        CHECK(err == TN_ECLOSED && f->closed && kind != K_CLOSE);
        CHECK(tn_iostream_buffered(f->s) == 0 || kind < K_STREAM);
        f->pending = 0;
    }
}

static void on_close(tn_iostream_t *s, void *arg)
{
    fz_t *f = arg;
    (void)s;
    CHECK(!f->pending);
    f->closes++;
}

/* ---- driving the loop ------------------------------------------------------ */

static void on_stop(tn_ioloop_t *loop, void *arg)
{
    (void)arg;
    tn_ioloop_stop(loop);
}

static void turn(tn_ioloop_t *loop)
{
    CHECK(tn_ioloop_add_callback(loop, on_stop, NULL) == 0);
    CHECK(tn_ioloop_start(loop) == 0);
}

static tn_ioloop_t *shared_loop;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t bufsizes[] = {16, 64, 256, 1024, 4096, 65536, 300, 17};
    static const size_t maxes[] = {0, 0, 1, 8, 64, 255, 1000, 4096};
    if (size < 8)
        return 0;
    if (shared_loop == NULL) {
        /* Buffer-full and unsatisfiable reads are expected here. */
        tn_log_set_level(TN_LOG_NONE);
        if (tn_ioloop_new(&shared_loop) != 0)
            return 0;
    }
    fz_t f;
    memset(&f, 0, sizeof(f));
    f.loop = shared_loop;
    f.rng = 0x9E3779B97F4A7C15ull ^
            ((uint64_t)data[0] << 8 | data[1] | (uint64_t)data[4] << 16 | (uint64_t)data[5] << 24);
    f.kind_mask = data[6];
    f.max_bytes = maxes[data[3] % 8];
    f.payload = (const char *)data + 8;
    f.payload_len = size - 8;
    f.out = malloc(f.payload_len + 1);
    size_t max_piece = (size_t)data[7] + 1;
    tn_iostream_options_t opts = {.max_buffer_size = bufsizes[data[2] % 8]};
    CHECK(tn_iostream_new(f.loop, &ops, &f, &opts, &f.s) == 0);
    /* the stream's own clamp: a chunk is at most half the buffer cap */
    f.chunk_cap = TN_IOSTREAM_DEFAULT_CHUNK;
    if (f.chunk_cap > opts.max_buffer_size / 2)
        f.chunk_cap = opts.max_buffer_size / 2;
    tn_iostream_set_close_callback(f.s, on_close, &f);
    start_read(&f);

    /* Feed while the stream wants data; otherwise let the loop deliver (the
     * callbacks start the next read). A stream that stays idle for a whole
     * drain with input left has nothing pending: give it a new read. */
    int idle_turns = 0;
    while (f.fed < f.payload_len && !f.closed && idle_turns < 4) {
        if (!f.reading) {
            turn(f.loop);
            if (f.s_paused && f.pending && !f.closed && !f.reading) {
                f.s_paused = 0;
                CHECK(tn_iostream_stream_resume(f.s) == 0);
                turn(f.loop);
            }
            if (!f.reading && !f.pending && !f.closed)
                start_read(&f);
            idle_turns = f.reading ? 0 : idle_turns + 1;
            continue;
        }
        size_t want = (size_t)(next_rand(&f) % max_piece) + 1;
        if (want > f.payload_len - f.fed)
            want = f.payload_len - f.fed;
        char *base;
        size_t room;
        tn_iostream__on_alloc(f.s, want, &base, &room);
        CHECK(room > 0);
        if (want > room)
            want = room;
        memcpy(base, f.payload + f.fed, want);
        f.fed += want;
        tn_iostream__on_read(f.s, (long)want);
        /* Now and then a zero-length read (EAGAIN), which changes nothing. */
        if ((next_rand(&f) & 15) == 0 && f.reading) {
            tn_iostream__on_alloc(f.s, 1, &base, &room);
            tn_iostream__on_read(f.s, 0);
        }
    }
    turn(f.loop);
    if (!f.closed)
        CHECK(f.out_len + tn_iostream_buffered(f.s) == f.fed);
    /* The peer goes away (EOF) if the stream still listens, else a local
     * close; both end in exactly one close callback. */
    f.stopped = (int)(next_rand(&f) & 1);
    if (!f.closed && f.reading)
        tn_iostream__on_read(f.s, TN_EOF);
    else if (!f.closed)
        tn_iostream_close(f.s);
    for (int i = 0; i < 16 && f.closes == 0; i++)
        turn(f.loop);
    CHECK(f.closes == 1);
    CHECK(!f.pending);
    CHECK(f.out_len <= f.fed);
    CHECK(memcmp(f.out, f.payload, f.out_len) == 0);
    CHECK(tn_ioloop_alive_count(f.loop) == 0);
    free(f.out);
    return 0;
}
