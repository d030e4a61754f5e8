/* Micro-benchmark of IOStream's targeted reads, with no socket: a small
 * in-memory transport feeds synthetic records into a tn_iostream_t on a
 * real tn_ioloop_t, and a read chain (read_until / read_until_regex, each
 * completion starting the next read) consumes them.
 *
 *   micro_read [--mb N] [--quick]
 *
 * Each case streams at least N MiB (default 64; --quick: 16) through the
 * stream in transport chunks, as libuv would deliver them, and prints MB/s
 * and reads/s. A case that finishes in under 0.5 s (--quick: 0.1 s) runs
 * again with four times the bytes, up to 16 GiB, so fast cases are not
 * timed on a few milliseconds.
 * What is measured is the whole path a server pays per read: the
 * transport's copy into the read buffer, the delimiter or regex search, the
 * deferred completion through the loop's callback queue, and the
 * buffer's compaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tornuv.h"
#include "tornuv/transport.h"

enum { K_UNTIL, K_REGEX, K_REGEX_COMPILED };

typedef struct {
    const char *name;
    int kind;
    const char *delim; /* the delimiter or the pattern */
    size_t record;     /* record length (each ends with the delimiter) */
    size_t chunk;      /* bytes per transport delivery */
} bench_case_t;

typedef struct {
    tn_ioloop_t *loop;
    tn_iostream_t *stream;
    const bench_case_t *bc;
    tn_regex_t *re;
    char *src; /* records, repeated; src_len is a multiple of the record */
    size_t src_len;
    size_t total;     /* bytes to deliver */
    size_t delivered; /* bytes handed to the stream */
    size_t consumed;  /* bytes returned by reads */
    size_t reads;
    int reading, feed_queued, closed, failed;
} bench_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_feed(tn_ioloop_t *loop, void *arg);

static void queue_feed(bench_t *b)
{
    if (!b->feed_queued && b->reading && b->delivered < b->total) {
        b->feed_queued = 1;
        if (tn_ioloop_add_callback(b->loop, on_feed, b) != 0) {
            b->feed_queued = 0;
            b->failed = 1;
        }
    }
}

/* One transport delivery: what a uv_read_cb does for one recv. */
static void on_feed(tn_ioloop_t *loop, void *arg)
{
    bench_t *b = arg;
    (void)loop;
    b->feed_queued = 0;
    if (!b->reading || b->closed || b->delivered >= b->total)
        return;
    size_t want = b->bc->chunk;
    if (want > b->total - b->delivered)
        want = b->total - b->delivered;
    char *base;
    size_t room;
    tn_iostream__on_alloc(b->stream, want, &base, &room);
    if (room == 0) {
        b->failed = 1;
        tn_iostream__on_read(b->stream, TN_ENOMEM);
        return;
    }
    if (want > room)
        want = room;
    size_t done = 0;
    while (done < want) {
        size_t off = (b->delivered + done) % b->src_len;
        size_t n = b->src_len - off;
        if (n > want - done)
            n = want - done;
        memcpy(base + done, b->src + off, n);
        done += n;
    }
    b->delivered += want;
    tn_iostream__on_read(b->stream, (long)want);
    queue_feed(b);
}

static int t_read_start(void *t)
{
    bench_t *b = t;
    b->reading = 1;
    queue_feed(b);
    return 0;
}

static int t_read_stop(void *t)
{
    ((bench_t *)t)->reading = 0;
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
    return TN_EINVAL;
}

static int t_shutdown(void *t)
{
    (void)t;
    return 0;
}

static void on_transport_closed(tn_ioloop_t *loop, void *arg)
{
    bench_t *b = arg;
    (void)loop;
    tn_iostream__on_closed(b->stream);
}

static void t_close(void *t)
{
    bench_t *b = t;
    b->reading = 0;
    if (tn_ioloop_add_callback(b->loop, on_transport_closed, b) != 0)
        tn_iostream__on_closed(b->stream);
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
    if (iplen < 10)
        return TN_EINVAL;
    memcpy(ip, "127.0.0.1", 10);
    *port = 0;
    return 0;
}

static const tn_transport_ops_t ops = {t_read_start, t_read_stop, t_try_write, t_write,
                                       t_shutdown,   t_close,     t_nodelay,   t_address};

static void start_read(bench_t *b);

static void on_record(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    bench_t *b = arg;
    (void)s;
    (void)data;
    if (status != 0 || len != b->bc->record) {
        fprintf(stderr, "micro_read: %s: read %zu bytes, status %s (expected %zu)\n", b->bc->name,
                len, tn_err_name(status), b->bc->record);
        b->failed = 1;
        tn_ioloop_stop(b->loop);
        return;
    }
    b->reads++;
    b->consumed += len;
    if (b->consumed >= b->total)
        tn_ioloop_stop(b->loop);
    else
        start_read(b);
}

static void start_read(bench_t *b)
{
    const size_t max_bytes = 1024 * 1024;
    int err;
    if (b->bc->kind == K_UNTIL)
        err = tn_iostream_read_until(b->stream, b->bc->delim, strlen(b->bc->delim), max_bytes,
                                     on_record, b);
    else if (b->bc->kind == K_REGEX)
        err = tn_iostream_read_until_regex(b->stream, b->bc->delim, max_bytes, on_record, b);
    else
        err = tn_iostream_read_until_regex_compiled(b->stream, b->re, max_bytes, on_record, b);
    if (err != 0) {
        fprintf(stderr, "micro_read: %s: start: %s\n", b->bc->name, tn_err_name(err));
        b->failed = 1;
        tn_ioloop_stop(b->loop);
    }
}

/* Fills src with records of the case's length: for "\n" cases, text lines;
 * for header cases, an HTTP request head padded with X-Pad headers. */
static void make_records(bench_t *b)
{
    const bench_case_t *bc = b->bc;
    size_t nrec = (1024 * 1024) / bc->record;
    if (nrec == 0)
        nrec = 1;
    b->src_len = nrec * bc->record;
    b->src = malloc(b->src_len);
    if (b->src == NULL)
        exit(1);
    char *rec = malloc(bc->record);
    if (rec == NULL)
        exit(1);
    if (bc->record < 64 || strcmp(bc->delim, "\n") == 0) {
        for (size_t i = 0; i < bc->record; i++)
            rec[i] = (char)('a' + i % 26);
        rec[bc->record - 1] = '\n';
    } else {
        const char *head = "GET /hello?name=value HTTP/1.1\r\nHost: 127.0.0.1:8888\r\n"
                           "User-Agent: micro_read\r\nAccept: */*\r\n";
        size_t n = strlen(head);
        memcpy(rec, head, n);
        /* Pad with one X-Pad header so the head is exactly record bytes. */
        size_t pad = bc->record - n - 4; /* the final \r\n\r\n */
        memcpy(rec + n, "X-Pad: ", 7);
        memset(rec + n + 7, 'p', pad - 7);
        memcpy(rec + bc->record - 4, "\r\n\r\n", 4);
    }
    for (size_t i = 0; i < nrec; i++)
        memcpy(b->src + i * bc->record, rec, bc->record);
    free(rec);
}

static int run_case(const bench_case_t *bc, size_t mib, double min_s)
{
    bench_t b;
again:
    memset(&b, 0, sizeof(b));
    b.bc = bc;
    make_records(&b);
    b.total = (mib * 1024 * 1024) / bc->record * bc->record;
    if (tn_ioloop_new(&b.loop) != 0)
        return 1;
    if (bc->kind == K_REGEX_COMPILED &&
        tn_regex_compile(bc->delim, strlen(bc->delim), &b.re) != 0) {
        fprintf(stderr, "micro_read: %s: bad pattern\n", bc->name);
        return 1;
    }
    tn_iostream_options_t opts;
    memset(&opts, 0, sizeof(opts));
    opts.read_chunk_size = bc->chunk;
    if (tn_iostream_new(b.loop, &ops, &b, &opts, &b.stream) != 0)
        return 1;
    double t0 = now_s();
    start_read(&b);
    tn_ioloop_start(b.loop);
    double secs = now_s() - t0;
    tn_iostream_close(b.stream);
    tn_ioloop_close(b.loop, TN_CLOSE_ALL_FDS);
    tn_regex_free(b.re);
    free(b.src);
    if (b.failed || b.consumed != b.total) {
        fprintf(stderr, "micro_read: %s: failed after %zu of %zu bytes\n", bc->name, b.consumed,
                b.total);
        return 1;
    }
    if (secs < min_s && mib * 4 <= 16384) {
        mib *= 4;
        goto again;
    }
    printf("%-34s %9.1f MB/s %12.0f reads/s  (%zu MiB in %.2f s)\n", bc->name,
           (double)b.consumed / 1e6 / secs, (double)b.reads / secs, mib, secs);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    static const bench_case_t cases[] = {
        {"read_until \\n, 64 B lines", K_UNTIL, "\n", 64, 64 * 1024},
        {"read_until \\n, 1 KiB lines", K_UNTIL, "\n", 1024, 64 * 1024},
        {"read_until \\n, 64 KiB lines/16K", K_UNTIL, "\n", 64 * 1024, 16 * 1024},
        {"read_until \\r\\n\\r\\n, 512 B heads", K_UNTIL, "\r\n\r\n", 512, 64 * 1024},
        {"read_until_regex, 512 B heads", K_REGEX, "\r?\n\r?\n", 512, 64 * 1024},
        {"regex_compiled, 512 B heads", K_REGEX_COMPILED, "\r?\n\r?\n", 512, 64 * 1024},
        {"read_until_regex \\n, 64 B lines", K_REGEX, "\n", 64, 64 * 1024},
    };
    size_t mib = 64;
    double min_s = 0.5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            mib = 16;
            min_s = 0.1;
        } else if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc) {
            mib = (size_t)atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--mb N] [--quick]\n", argv[0]);
            return 2;
        }
    }
    if (mib == 0 || mib > 4096) {
        fprintf(stderr, "micro_read: --mb must be 1..4096\n");
        return 2;
    }
    int rc = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        rc |= run_case(&cases[i], mib, min_s);
    return rc;
}
