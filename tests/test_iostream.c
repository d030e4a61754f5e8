/* iostream over the in-memory transport: Tornado's read, write and close
 * rules, deterministically (input split at every byte boundary). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "loop_util.h"
#include "memtransport.h"

typedef struct {
    int reads, writes, closes;
    int status, write_status;
    char data[8192];
    size_t len;
    int order[8];
    int events;
    int close_error;
} ctx_t;

static void on_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    ctx_t *c = arg;
    (void)s;
    c->reads++;
    c->status = status;
    c->order[c->events++ % 8] = 'r';
    if (status == 0 && len <= sizeof(c->data)) {
        memcpy(c->data, data, len);
        c->len = len;
    }
}

static void on_write(tn_iostream_t *s, int status, void *arg)
{
    ctx_t *c = arg;
    (void)s;
    c->writes++;
    c->write_status = status;
    c->order[c->events++ % 8] = 'w';
}

static void on_close(tn_iostream_t *s, void *arg)
{
    ctx_t *c = arg;
    c->closes++;
    c->close_error = tn_iostream_error(s); /* the stream is freed after this */
    c->order[c->events++ % 8] = 'c';
}

/* Closes the stream and runs the loop until its close callback ran. */
static void finish(tn_ioloop_t *loop, tn_mt_t *mt, ctx_t *c)
{
    if (c->closes == 0) {
        tn_iostream_set_close_callback(mt->stream, on_close, c);
        tn_iostream_close(mt->stream);
        for (int i = 0; i < 5 && c->closes == 0; i++)
            tn_mt_turn(loop);
    }
    cr_assert_eq(c->closes, 1);
    tn_mt_free(mt);
    tn_test_close(loop, 0);
}

/* tornado: iostream_test test_read_until / future already resolved */
Test(iostream, buffered_result_is_delivered_on_the_next_drain_not_inline)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    cr_assert_eq(tn_iostream_read_bytes(mt->stream, 1, 0, on_read, &c), 0);
    cr_assert_eq(tn_mt_feed(mt, "ab\ncd\n", 6, 0), 6);
    tn_mt_turn(loop);
    cr_assert_eq(c.reads, 1);
    cr_assert_eq(tn_iostream_read_until(mt->stream, "\n", 1, 0, on_read, &c), 0);
    cr_assert_eq(c.reads, 1, "never inside the call");
    cr_assert_eq(tn_iostream_read_until(mt->stream, "\n", 1, 0, on_read, &c), TN_EALREADY);
    tn_mt_turn(loop);
    cr_assert_eq(c.reads, 2);
    cr_assert_eq(c.len, 2);
    cr_assert_eq(memcmp(c.data, "b\n", 2), 0);
    finish(loop, mt, &c);
}

static void read_lines(tn_iostream_t *s, int status, const char *data, size_t len, void *arg);

typedef struct {
    char got[64];
    size_t got_len;
    int lines;
} lines_t;

static void read_lines(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    lines_t *l = arg;
    if (status != 0)
        return;
    memcpy(l->got + l->got_len, data, len);
    l->got_len += len;
    l->lines++;
    tn_iostream_read_until(s, "\r\n", 2, 0, read_lines, l);
}

/* Delimiters straddling chunk boundaries are the classic bug. */
Test(iostream, read_until_at_every_split_point)
{
    static const char input[] = "alpha\r\nbe\rta\r\n\r\ngamma\r\n";
    size_t n = sizeof(input) - 1;
    for (size_t chunk = 1; chunk <= n; chunk++) {
        tn_ioloop_t *loop = tn_test_loop_new();
        tn_mt_t *mt = tn_mt_new(loop, NULL);
        lines_t l = {0};
        cr_assert_eq(tn_iostream_read_until(mt->stream, "\r\n", 2, 0, read_lines, &l), 0);
        /* The stream reads only while a read is pending, so feed what it
         * takes and let the loop deliver before offering more. */
        size_t off = 0;
        for (int turns = 0; off < n && turns < 200; turns++) {
            size_t k = n - off < chunk ? n - off : chunk;
            off += tn_mt_feed(mt, input + off, k, k);
            tn_mt_turn(loop);
        }
        cr_assert_eq(off, n, "chunk %zu", chunk);
        /* each line is delivered one drain after the read that found it */
        for (int turns = 0; l.lines < 4 && turns < 10; turns++)
            tn_mt_turn(loop);
        cr_assert_eq(l.lines, 4, "chunk %zu", chunk);
        cr_assert_eq(l.got_len, n);
        cr_assert_eq(memcmp(l.got, input, n), 0);
        ctx_t c = {0};
        finish(loop, mt, &c);
    }
}

/* tornado: iostream_test test_read_until_max_bytes (exactly at the limit
 * succeeds; the delimiter just past it fails and closes the stream) */
Test(iostream, read_until_max_bytes)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    tn_iostream_set_close_callback(mt->stream, on_close, &c);
    cr_assert_eq(tn_iostream_read_until(mt->stream, "def", 3, 6, on_read, &c), 0);
    tn_mt_feed(mt, "abcdefg", 7, 0);
    tn_mt_turn(loop);
    cr_assert_eq(c.reads, 1);
    cr_assert_eq(c.status, 0);
    cr_assert_eq(c.len, 6);
    cr_assert_eq(tn_iostream_read_until(mt->stream, "hi", 2, 2, on_read, &c), 0);
    tn_mt_feed(mt, "hi", 2, 0); /* buffer "ghi": delimiter ends at 3 > 2 */
    tn_mt_turn(loop);
    tn_mt_turn(loop);
    cr_assert_eq(c.reads, 2);
    cr_assert_eq(c.status, TN_ECLOSED);
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(c.order[1], 'r', "the read fails before the close callback");
    cr_assert_eq(c.order[2], 'c');
    tn_mt_free(mt);
    tn_test_close(loop, 0);
}

/* F23: no delimiter within max_bytes: unsatisfiable, error recorded */
Test(iostream, unsatisfiable_read_records_the_cause)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    int err = 0;
    cr_assert_eq(tn_iostream_read_until(mt->stream, "\n", 1, 8, on_read, &c), 0);
    tn_mt_feed(mt, "0123456789", 10, 1);
    err = tn_iostream_error(mt->stream);
    cr_assert_eq(err, TN_EUNSATISFIABLE);
    cr_assert(tn_iostream_closed(mt->stream));
    tn_mt_turn(loop);
    tn_mt_turn(loop);
    cr_assert_eq(c.status, TN_ECLOSED);
    tn_mt_free(mt);
    tn_test_close(loop, 0);
}

/* F3: close with a pending read the buffer can satisfy completes it;
 * read_until_close resolves with everything at EOF. */
Test(iostream, read_until_close_resolves_at_eof_then_close_callback)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    tn_iostream_set_close_callback(mt->stream, on_close, &c);
    cr_assert_eq(tn_iostream_read_until_close(mt->stream, on_read, &c), 0);
    tn_mt_feed(mt, "partial data", 12, 5);
    tn_mt_eof(mt, TN_EOF);
    tn_mt_turn(loop);
    tn_mt_turn(loop);
    cr_assert_eq(c.reads, 1);
    cr_assert_eq(c.status, 0);
    cr_assert_eq(c.len, 12);
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(c.order[0], 'r');
    cr_assert_eq(c.order[1], 'c');
    cr_assert_eq(c.close_error, 0, "EOF is a clean close");
    tn_mt_free(mt);
    tn_test_close(loop, 0);
}

/* F6 and Tornado's test_write_zero_bytes */
Test(iostream, writes_complete_in_order_and_fail_after_close)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    mt->accept_limit = 3; /* partial try_write: the rest goes async */
    cr_assert_eq(tn_iostream_write(mt->stream, "hello", 5, on_write, &c), 0);
    cr_assert_eq(tn_iostream_write(mt->stream, "", 0, on_write, &c), 0);
    cr_assert(tn_iostream_writing(mt->stream));
    tn_mt_turn(loop);
    cr_assert_eq(c.writes, 0, "not complete until the async write is");
    mt->accept_limit = -1;
    tn_mt_complete_writes(mt, 0);
    tn_mt_turn(loop);
    cr_assert_eq(c.writes, 2);
    cr_assert_eq(c.write_status, 0);
    cr_assert_eq(mt->out_len, 5);
    cr_assert_eq(memcmp(mt->out, "hello", 5), 0);
    tn_iostream_close(mt->stream);
    cr_assert_eq(tn_iostream_write(mt->stream, "x", 1, on_write, &c), TN_ECLOSED);
    tn_iostream_close(mt->stream); /* F5: idempotent */
    finish(loop, mt, &c);
}

/* F1/F7: a write pending when the stream closes completes with TN_ECLOSED */
Test(iostream, pending_write_fails_with_closed)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    mt->accept_limit = 0;
    tn_iostream_set_close_callback(mt->stream, on_close, &c);
    cr_assert_eq(tn_iostream_write(mt->stream, "data", 4, on_write, &c), 0);
    tn_mt_eof(mt, -104 /* a reset */);
    tn_mt_turn(loop);
    tn_mt_turn(loop);
    cr_assert_eq(c.writes, 1);
    cr_assert_eq(c.write_status, TN_ECLOSED);
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(c.order[0], 'w');
    cr_assert_eq(c.order[1], 'c');
    tn_mt_free(mt);
    tn_test_close(loop, 0);
}

static void close_self(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    ctx_t *c = arg;
    (void)data;
    (void)len;
    c->reads++;
    c->status = status;
    tn_iostream_close(s);
    tn_iostream_close(s);
}

/* F4: a read callback closes its own stream */
Test(iostream, callback_may_close_its_own_stream)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    tn_iostream_set_close_callback(mt->stream, on_close, &c);
    cr_assert_eq(tn_iostream_read_bytes(mt->stream, 2, 0, close_self, &c), 0);
    tn_mt_feed(mt, "xyz", 3, 0);
    tn_mt_turn(loop);
    tn_mt_turn(loop);
    tn_mt_turn(loop);
    cr_assert_eq(c.reads, 1);
    cr_assert_eq(c.status, 0);
    cr_assert_eq(c.closes, 1);
    tn_mt_free(mt);
    tn_test_close(loop, 0);
}

Test(iostream, max_buffer_size_closes_with_buffer_full)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_iostream_options_t opts = {.max_buffer_size = 16};
    tn_mt_t *mt = tn_mt_new(loop, &opts);
    ctx_t c = {0};
    tn_iostream_set_close_callback(mt->stream, on_close, &c);
    cr_assert_eq(tn_iostream_read_until_close(mt->stream, on_read, &c), 0);
    tn_mt_feed(mt, "0123456789abcdefXYZ", 19, 4);
    cr_assert_eq(tn_iostream_error(mt->stream), TN_EBUFFULL);
    tn_mt_turn(loop);
    tn_mt_turn(loop);
    cr_assert_eq(c.closes, 1);
    tn_mt_free(mt);
    tn_test_close(loop, 0);
}

/* Back-pressure: with data buffered and no read pending, the stream stops
 * reading from the transport. */
Test(iostream, stops_reading_while_data_waits)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    cr_assert_eq(mt->reading, 0, "an idle stream does not read");
    cr_assert_eq(tn_iostream_read_bytes(mt->stream, 2, 0, on_read, &c), 0);
    cr_assert_eq(mt->reading, 1);
    tn_mt_feed(mt, "abcdef", 6, 0);
    cr_assert_eq(mt->reading, 0, "satisfied: stop reading");
    tn_mt_turn(loop);
    cr_assert_eq(c.reads, 1);
    cr_assert_eq(mt->reading, 0, "4 bytes still buffered, no read pending");
    cr_assert_eq(tn_iostream_buffered(mt->stream), 4);
    finish(loop, mt, &c);
}

/* tornado: iostream_test test_large_read_until: a 4 MiB line in 1 KiB
 * chunks is scanned in linear time. */
Test(iostream, large_read_until_is_linear, .timeout = 20)
{
    enum { SIZE = 4 * 1024 * 1024 };
    char *line = tn_malloc(SIZE);
    cr_assert_not_null(line);
    memset(line, 'x', SIZE - 1);
    line[SIZE - 1] = '\n';
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    cr_assert_eq(tn_iostream_read_until(mt->stream, "\n", 1, 0, on_read, &c), 0);
    cr_assert_eq(tn_mt_feed(mt, line, SIZE, 1024), SIZE);
    tn_mt_turn(loop);
    cr_assert_eq(c.reads, 1);
    cr_assert_eq(c.status, 0);
    tn_free(line);
    finish(loop, mt, &c);
}

/* tornado: iostream_test test_read_until_regex / _max_bytes: the header
 * terminator regex at every split point, and the max_bytes rule. */
Test(iostream, read_until_regex_at_every_split_point_and_max_bytes)
{
    static const char input[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
    size_t n = sizeof(input) - 1, head = n - 4;
    for (size_t chunk = 1; chunk <= n; chunk++) {
        tn_ioloop_t *loop = tn_test_loop_new();
        tn_mt_t *mt = tn_mt_new(loop, NULL);
        ctx_t c = {0};
        cr_assert_eq(tn_iostream_read_until_regex(mt->stream, "\r?\n\r?\n", 0, on_read, &c), 0);
        size_t off = 0;
        for (int turns = 0; off < n && c.reads == 0 && turns < 200; turns++) {
            size_t k = n - off < chunk ? n - off : chunk;
            off += tn_mt_feed(mt, input + off, k, k);
            tn_mt_turn(loop);
        }
        cr_assert_eq(c.reads, 1, "chunk %zu", chunk);
        cr_assert_eq(c.status, 0);
        cr_assert_eq(c.len, head, "chunk %zu", chunk);
        cr_assert_eq(memcmp(c.data, input, head), 0);
        finish(loop, mt, &c);
    }

    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    tn_iostream_set_close_callback(mt->stream, on_close, &c);
    cr_assert_eq(tn_iostream_read_until_regex(mt->stream, "[(", 0, on_read, &c), TN_EINVAL);
    cr_assert_eq(tn_iostream_read_until_regex(mt->stream, "\r?\n\r?\n", 8, on_read, &c), 0);
    tn_mt_feed(mt, input, n, 0);
    tn_mt_turn(loop);
    tn_mt_turn(loop);
    cr_assert_eq(c.status, TN_ECLOSED);
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(c.close_error, TN_EUNSATISFIABLE);
    tn_mt_free(mt);
    tn_test_close(loop, 0);
}

/* One compiled pattern shared by two streams; groups beyond the match
 * block's size do not matter (only the match's end is used). */
Test(iostream, read_until_regex_compiled_is_shared)
{
    tn_regex_t *re;
    cr_assert_eq(tn_regex_compile("(", 1, &re), TN_EINVAL);
    cr_assert_eq(tn_regex_compile("(a+)(b)(c)?;", 12, &re), 0);
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *one = tn_mt_new(loop, NULL), *two = tn_mt_new(loop, NULL);
    ctx_t c1 = {0}, c2 = {0};
    cr_assert_eq(tn_iostream_read_until_regex_compiled(one->stream, re, 0, on_read, &c1), 0);
    cr_assert_eq(tn_iostream_read_until_regex_compiled(two->stream, re, 0, on_read, &c2), 0);
    cr_assert_eq(tn_iostream_read_until_regex_compiled(two->stream, re, 0, on_read, &c2),
                 TN_EALREADY);
    tn_mt_feed(one, "xxaab;tail", 10, 3);
    tn_mt_feed(two, "abc;", 4, 1);
    tn_mt_turn(loop);
    cr_assert_eq(c1.len, 6);
    cr_assert_eq(memcmp(c1.data, "xxaab;", 6), 0);
    cr_assert_eq(c2.len, 4);
    tn_regex_free(re);
    tn_iostream_set_close_callback(one->stream, on_close, &c1);
    tn_iostream_close(one->stream);
    for (int i = 0; i < 5 && c1.closes == 0; i++)
        tn_mt_turn(loop);
    cr_assert_eq(c1.closes, 1);
    tn_mt_free(one);
    finish(loop, two, &c2);
}

typedef struct {
    char got[512];
    size_t got_len;
    char into[5];
    int step;
} mixed_t;

static void mixed_next(tn_iostream_t *s, mixed_t *m);

static void on_mixed(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    mixed_t *m = arg;
    if (status != 0)
        return;
    cr_assert_leq(m->got_len + len, sizeof(m->got));
    memcpy(m->got + m->got_len, data, len);
    m->got_len += len;
    mixed_next(s, m);
}

static void mixed_next(tn_iostream_t *s, mixed_t *m)
{
    switch (m->step++ % 3) {
    case 0:
        tn_iostream_read_bytes(s, 7, 0, on_mixed, m);
        break;
    case 1:
        tn_iostream_read_into(s, m->into, sizeof(m->into), 0, on_mixed, m);
        break;
    default:
        tn_iostream_read_bytes(s, 9, 1, on_mixed, m);
        break;
    }
}

/* tornado: iostream_test test_many_mixed_reads, at every chunk size */
Test(iostream, mixed_read_bytes_and_read_into_keep_byte_order_at_every_split)
{
    char input[300];
    for (size_t i = 0; i < sizeof(input); i++)
        input[i] = (char)(i * 131 + 7);
    for (size_t chunk = 1; chunk <= 40; chunk++) {
        tn_ioloop_t *loop = tn_test_loop_new();
        tn_mt_t *mt = tn_mt_new(loop, NULL);
        mixed_t m = {0};
        mixed_next(mt->stream, &m);
        size_t off = 0;
        for (int turns = 0; off < sizeof(input) && turns < 2000; turns++) {
            size_t k = sizeof(input) - off < chunk ? sizeof(input) - off : chunk;
            off += tn_mt_feed(mt, input + off, k, k);
            tn_mt_turn(loop);
        }
        for (int turns = 0; m.got_len < sizeof(input) && turns < 100; turns++)
            tn_mt_turn(loop);
        cr_assert_eq(off, sizeof(input), "chunk %zu", chunk);
        /* only a read_bytes(7) or read_into(5) may still wait for more */
        cr_assert_geq(m.got_len, sizeof(input) - 6, "chunk %zu", chunk);
        cr_assert_eq(memcmp(m.got, input, m.got_len), 0, "chunk %zu", chunk);
        ctx_t c = {0};
        finish(loop, mt, &c);
    }
}

/* tornado: iostream_test test_small_reads_from_large_buffer: 1 000 short
 * lines pass through a 64-byte max_buffer_size, because the stream only
 * pulls data while a read is pending. */
Test(iostream, many_small_reads_through_a_small_buffer)
{
    enum { LINES = 1000 };
    static char input[LINES * 10];
    for (int i = 0; i < LINES; i++) {
        char line[16];
        snprintf(line, sizeof(line), "line %04d\n", i);
        memcpy(input + i * 10, line, 10);
    }
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_iostream_options_t opts = {.max_buffer_size = 64};
    tn_mt_t *mt = tn_mt_new(loop, &opts);
    size_t off = 0;
    int lines = 0;
    ctx_t c = {0};
    for (int turns = 0; off < sizeof(input) && turns < 20000; turns++) {
        if (!tn_iostream_reading(mt->stream)) {
            cr_assert_eq(tn_iostream_read_until(mt->stream, "\n", 1, 0, on_read, &c), 0);
        }
        size_t k = sizeof(input) - off < 16 ? sizeof(input) - off : 16;
        off += tn_mt_feed(mt, input + off, k, 16);
        tn_mt_turn(loop);
        if (c.reads > lines) {
            cr_assert_eq(c.status, 0);
            cr_assert_eq(c.len, 10);
            cr_assert_eq(memcmp(c.data, input + lines * 10, 10), 0, "line %d", lines);
            lines = c.reads;
        }
    }
    cr_assert_eq(off, sizeof(input));
    cr_assert_geq(lines, LINES - 16 / 10 - 1);
    cr_assert_leq(tn_iostream_buffered(mt->stream), 64);
    finish(loop, mt, &c);
}

/* Regression: bytes the transport took asynchronously used to stay counted
 * as unsent, so max_write_buffer_size refused writes forever after. */
Test(iostream, async_write_completion_releases_the_write_buffer_budget)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_iostream_options_t o = {0};
    o.max_write_buffer_size = 100;
    tn_mt_t *mt = tn_mt_new(loop, &o);
    ctx_t c = {0};
    char data[80];
    memset(data, 'w', sizeof data);
    mt->accept_limit = 10; /* 10 bytes now, 70 through ops->write */
    cr_assert_eq(tn_iostream_write(mt->stream, data, sizeof data, on_write, &c), 0);
    cr_assert_eq(tn_iostream_write_buffered(mt->stream), 70);
    cr_assert_eq(tn_iostream_write(mt->stream, data, 40, NULL, NULL), TN_EBUFFULL);
    tn_mt_complete_writes(mt, 0);
    tn_mt_turn(loop);
    cr_assert_eq(c.writes, 1);
    cr_assert_eq(tn_iostream_write_buffered(mt->stream), 0);
    mt->accept_limit = -1;
    cr_assert_eq(tn_iostream_write(mt->stream, data, sizeof data, NULL, NULL), 0);
    cr_assert_eq(mt->out_len, 160);
    finish(loop, mt, &c);
}

Test(iostream, shutdown_waits_for_queued_writes_then_refuses_more)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    mt->accept_limit = 0;
    cr_assert_eq(tn_iostream_write(mt->stream, "abc", 3, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_shutdown(mt->stream), 0);
    cr_assert_eq(mt->shut, 0, "not before the queued bytes left");
    cr_assert_eq(tn_iostream_write(mt->stream, "d", 1, NULL, NULL), TN_EFINISHED);
    tn_mt_complete_writes(mt, 0);
    cr_assert_eq(mt->shut, 1);
    cr_assert_eq(tn_iostream_shutdown(mt->stream), 0, "idempotent");
    finish(loop, mt, &c);
}

static int g_some_calls;
static size_t g_some_len;
static int g_some_rearm;

static size_t on_some(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    (void)data;
    (void)arg;
    g_some_calls++;
    g_some_len = status == 0 ? len : 0;
    if (g_some_rearm)
        cr_assert_eq(tn_iostream_read_some(s, on_some, NULL), 0);
    return len >= 4 ? 4 : 0; /* consumes whole 4-byte records only */
}

Test(iostream, read_some_rearmed_inside_waits_for_new_bytes)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    g_some_calls = 0;
    g_some_rearm = 1;
    cr_assert_eq(tn_iostream_read_some(mt->stream, on_some, NULL), 0);
    tn_mt_feed(mt, "ab", 2, 0);
    for (int i = 0; i < 5; i++)
        tn_mt_turn(loop);
    cr_assert_eq(g_some_calls, 1, "unconsumed bytes are not shown again without new ones");
    tn_mt_feed(mt, "cdef", 4, 0);
    tn_mt_turn(loop);
    cr_assert_eq(g_some_calls, 2);
    cr_assert_eq(g_some_len, 6, "the kept bytes come again with the new ones");
    tn_mt_turn(loop);
    cr_assert_eq(g_some_calls, 2);
    /* armed from outside: whatever is buffered is shown at once */
    g_some_rearm = 0;
    tn_mt_feed(mt, "g", 1, 0);
    tn_mt_turn(loop);
    cr_assert_eq(g_some_calls, 3);
    cr_assert_eq(g_some_len, 3);
    cr_assert_eq(tn_iostream_buffered(mt->stream), 3);
    cr_assert_eq(tn_iostream_read_some(mt->stream, on_some, NULL), 0);
    tn_mt_turn(loop);
    cr_assert_eq(g_some_calls, 4);
    cr_assert_eq(g_some_len, 3);
    finish(loop, mt, &c);
}

static size_t consume_all(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    (void)s;
    (void)status;
    (void)data;
    *(size_t *)arg += len;
    return len;
}

/* Regression: reading went on without bound while a read_some waited for
 * its delivery, so a fast peer overran max_buffer_size in one wakeup. */
Test(iostream, read_some_waiting_for_delivery_buffers_at_most_a_chunk)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_iostream_options_t o = {0};
    o.max_buffer_size = 200 * 1024;
    o.read_chunk_size = 64 * 1024;
    tn_mt_t *mt = tn_mt_new(loop, &o);
    ctx_t c = {0};
    static char big[1024 * 1024];
    size_t got = 0;
    cr_assert_eq(tn_iostream_read_some(mt->stream, consume_all, &got), 0);
    size_t fed = tn_mt_feed(mt, big, sizeof big, 16 * 1024);
    cr_assert(fed >= 64 * 1024 && fed <= 2 * 64 * 1024, "fed %zu", fed);
    cr_assert_eq(tn_iostream_closed(mt->stream), 0);
    tn_mt_turn(loop);
    cr_assert_eq(got, fed);
    finish(loop, mt, &c);
}

/* EOF read while a delivery was under way: the bytes come first, then a
 * read that cannot be satisfied fails and the stream closes (after its
 * queued writes). */
Test(iostream, eof_during_a_delivery_hands_over_the_bytes_first)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    tn_iostream_set_half_close(mt->stream, 1);
    tn_iostream_set_close_callback(mt->stream, on_close, &c);
    cr_assert_eq(tn_iostream_read_until(mt->stream, "\n", 1, 0, on_read, &c), 0);
    tn_mt_feed(mt, "line\nrest", 9, 0);
    tn_mt_eof(mt, TN_EOF);
    cr_assert_eq(c.closes, 0);
    tn_mt_turn(loop);
    cr_assert_eq(c.reads, 1);
    cr_assert_eq(c.len, 5);
    cr_assert_eq(tn_iostream_closed(mt->stream), 0, "still open: 4 bytes unread");
    cr_assert_eq(tn_iostream_write(mt->stream, "reply", 5, NULL, NULL), 0, "writes go on");
    cr_assert_eq(tn_iostream_read_until_close(mt->stream, on_read, &c), 0);
    for (int i = 0; i < 5 && c.closes == 0; i++)
        tn_mt_turn(loop);
    cr_assert_eq(c.reads, 2);
    cr_assert_eq(c.status, 0);
    cr_assert_eq(c.len, 4, "read_until_close got the rest");
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(mt->out_len, 5);
    tn_mt_free(mt);
    tn_test_close(loop, 0);
}

/* A read started inside a read_some callback is matched against the buffer
 * after the callback's consumption, not before (found by fuzz_read: the new
 * read was handed the consumed bytes again, and read past the buffer). */
static size_t consume_two_then_read(tn_iostream_t *s, int status, const char *data, size_t len,
                                    void *arg)
{
    cr_assert_eq(status, 0);
    cr_assert_eq(len, 6);
    cr_assert_eq(memcmp(data, "abcdef", 6), 0);
    cr_assert_eq(tn_iostream_read_bytes(s, 100, 1, on_read, arg), 0);
    return 2;
}

Test(iostream, read_started_in_read_some_callback_sees_only_unconsumed_bytes)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    ctx_t c = {0};
    cr_assert_eq(tn_iostream_read_some(mt->stream, consume_two_then_read, &c), 0);
    tn_mt_feed(mt, "abcdef", 6, 0);
    tn_mt_turn(loop);
    tn_mt_turn(loop);
    cr_assert_eq(c.reads, 1);
    cr_assert_eq(c.status, 0);
    cr_assert_eq(c.len, 4);
    cr_assert_eq(memcmp(c.data, "cdef", 4), 0);
    cr_assert_eq(tn_iostream_buffered(mt->stream), 0);
    finish(loop, mt, &c);
}
