/* FAULTS.md section 6, the IOStream half: resets during writes (F1, F7),
 * closing while reads are pending or from inside callbacks (F3-F5), writes
 * after close (F6), read-buffer allocation failures and empty reads (F18,
 * F19), slow readers (F22), unbounded input (F23) and partial writes (F24).
 * Real loopback sockets where the fault lives in the kernel or libuv, the
 * in-memory transport where determinism matters. Every test checks that
 * each completion ran at most once, the close callback exactly once, and
 * that the loop still serves another connection afterwards. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop_util.h"
#include "memtransport.h"
#include "net_peer.h"
#include "tornuv.h"

TestSuite(faults, .timeout = 60);

/* Counts every callback of one stream; the callbacks themselves assert the
 * "at most once" and "nothing after the close callback" rules. */
typedef struct {
    tn_ioloop_t *loop;
    tn_iostream_t *s;
    int reads, read_status;
    char got[256];
    size_t got_len;
    int writes, write_status;
    int closes, close_error;
    int after_close; /* callbacks that ran after the close callback */
    int stop_on_close;
    char order[16];
    int norder;
} rec_t;

static void note(rec_t *r, char c)
{
    if (r->closes > 0)
        r->after_close++;
    if (r->norder < (int)sizeof(r->order) - 1)
        r->order[r->norder++] = c;
}

static void rec_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    rec_t *r = arg;
    (void)s;
    note(r, 'r');
    r->reads++;
    cr_assert_eq(r->reads, 1, "read callback ran twice");
    r->read_status = status;
    if (status == 0) {
        r->got_len = len < sizeof(r->got) ? len : sizeof(r->got);
        memcpy(r->got, data, r->got_len);
    } else {
        cr_assert_null(data);
        cr_assert_eq(len, 0);
    }
}

static void rec_write(tn_iostream_t *s, int status, void *arg)
{
    rec_t *r = arg;
    (void)s;
    note(r, 'w');
    r->writes++;
    r->write_status = status;
}

static void rec_close(tn_iostream_t *s, void *arg)
{
    rec_t *r = arg;
    note(r, 'c');
    r->closes++;
    cr_assert_eq(r->closes, 1, "close callback ran twice");
    r->close_error = tn_iostream_error(s);
    r->s = NULL; /* freed after this returns */
    if (r->stop_on_close)
        tn_ioloop_stop(r->loop);
}

static void rec_init(rec_t *r, tn_ioloop_t *loop, tn_iostream_t *s)
{
    memset(r, 0, sizeof(*r));
    r->loop = loop;
    r->s = s;
    tn_iostream_set_close_callback(s, rec_close, r);
}

/* SO_SNDBUF for the next tcp_stream's server end (0: leave it). */
static int next_sndbuf;

static rec_t *tcp_stream(tn_ioloop_t *loop, int *client, const tn_iostream_options_t *opts)
{
    int sfd;
    tn_iostream_t *s;
    tn_test_tcp_pair(&sfd, client);
    if (next_sndbuf > 0)
        cr_assert_eq(setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &next_sndbuf, sizeof(next_sndbuf)), 0);
    next_sndbuf = 0;
    cr_assert_eq(tn_iostream_from_socket(loop, sfd, opts, &s), 0);
    rec_t *r = calloc(1, sizeof(*r));
    rec_init(r, loop, s);
    return r;
}

/* Runs the loop until r's close callback ran (bounded). */
static void wait_closed(tn_ioloop_t *loop, rec_t *r)
{
    for (int i = 0; i < 400 && r->closes == 0; i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(r->closes, 1);
    cr_assert_eq(r->after_close, 0, "a callback ran after the close callback");
}

/* The loop still serves a fresh TCP connection: a line in, a line out. */
static void echo_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    (void)arg;
    cr_assert_eq(status, 0);
    cr_assert_eq(tn_iostream_write(s, data, len, NULL, NULL), 0);
}

static void assert_still_serving(tn_ioloop_t *loop)
{
    int client;
    rec_t *r = tcp_stream(loop, &client, NULL);
    cr_assert_eq(tn_iostream_read_until(r->s, "\n", 1, 1024, echo_read, NULL), 0);
    cr_assert_eq(send(client, "ping\n", 5, 0), 5);
    char buf[8];
    size_t got = 0;
    for (int i = 0; i < 400 && got < 5; i++) {
        tn_test_settle(loop, 5);
        ssize_t n = recv(client, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
    }
    cr_assert_eq(got, 5);
    cr_assert_eq(memcmp(buf, "ping\n", 5), 0);
    tn_iostream_close(r->s);
    wait_closed(loop, r);
    close(client);
    free(r);
}

/* The same over the in-memory transport. */
static void assert_mt_still_serving(tn_ioloop_t *loop)
{
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    rec_t r;
    rec_init(&r, loop, mt->stream);
    cr_assert_eq(tn_iostream_read_until(mt->stream, "\n", 1, 0, rec_read, &r), 0);
    tn_mt_feed(mt, "ok\n", 3, 1);
    tn_mt_turn(loop);
    cr_assert_eq(r.reads, 1);
    cr_assert_eq(r.read_status, 0);
    cr_assert_eq(r.got_len, 3);
    tn_iostream_close(mt->stream);
    for (int i = 0; i < 5 && r.closes == 0; i++)
        tn_mt_turn(loop);
    cr_assert_eq(r.closes, 1);
    tn_mt_free(mt);
}

/* ---- F1: the peer resets while a large write is queued -------------------- */

/* libuv: test-tcp-close-reset.c, test-tcp-write-to-half-open-connection.c */
Test(faults, F1_reset_during_large_write)
{
    enum { BIG = 32 * 1024 * 1024 };
    tn_ioloop_t *loop = tn_test_loop_new();
    /* SIGPIPE must not kill the process: tn_ioloop_new ignored it. */
    struct sigaction sa;
    cr_assert_eq(sigaction(SIGPIPE, NULL, &sa), 0);
    cr_assert_eq(sa.sa_handler, SIG_IGN);
    int client;
    rec_t *r = tcp_stream(loop, &client, NULL);
    r->stop_on_close = 1;
    char *big = calloc(1, BIG);
    cr_assert_eq(tn_iostream_read_until(r->s, "\n", 1, 0, rec_read, r), 0);
    cr_assert_eq(tn_iostream_write(r->s, big, BIG, rec_write, r), 0);
    cr_assert_eq(tn_iostream_writing(r->s), 1, "the write should be queued, not sent");
    tn_peer_t peer = {.fd = client, .reset = 1, .reset_after_ms = 50};
    tn_peer_start(&peer);
    tn_test_run(loop, 20000);
    tn_peer_join(&peer);
    tn_test_settle(loop, 10);
    cr_assert_eq(r->writes, 1);
    cr_assert_eq(r->write_status, TN_ECLOSED);
    cr_assert_eq(r->reads, 1);
    cr_assert_eq(r->read_status, TN_ECLOSED);
    cr_assert_eq(r->closes, 1);
    cr_assert_eq(r->after_close, 0);
    /* Pending completions fail before the close callback runs. */
    cr_assert_eq(r->order[r->norder - 1], 'c', "order %s", r->order);
    cr_assert(r->close_error == -ECONNRESET || r->close_error == -EPIPE, "cause %s",
              tn_err_name(r->close_error));
    free(big);
    free(r);
    assert_still_serving(loop);
    tn_test_close(loop, 0);
}

/* ---- F3: close() while a read is pending ---------------------------------- */

/* tornado: iostream_test test_close_callback_with_pending_read,
 * test_future_delayed_close_callback; iostream.close resolves ready reads */
Test(faults, F3_close_with_pending_read)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    struct {
        int kind;
        const char *feed;
        int want_status;
        const char *want;
    } cases[] = {
        {0, "abc", TN_ECLOSED, NULL}, /* read_until, no delimiter yet */
        {1, "abc", TN_ECLOSED, NULL}, /* read_bytes(5), 3 buffered */
        {2, "abc", 0, "abc"},         /* read_until_close gets the buffer */
        {0, "ab\ncd", 0, "ab\n"},     /* satisfied, delivery queued: data first */
        {3, "", TN_ECLOSED, NULL},    /* read_bytes partial, nothing */
        {1, "abcde", 0, "abcde"},     /* read_bytes satisfied */
        {2, "", 0, ""},               /* read_until_close, empty */
        {0, "abc\n", 0, "abc\n"},     /* delimiter exactly at the end */
        {3, "xy", 0, "x"},            /* read_bytes partial: one byte */
        {1, "", TN_ECLOSED, NULL},    /* read_bytes, nothing */
        {0, "", TN_ECLOSED, NULL},    /* read_until, nothing */
        {2, "abcdef", 0, "abcdef"},   /* read_until_close, more */
        {0, "\n", 0, "\n"},           /* one byte */
        {1, "abcdefgh", 0, "abcde"},  /* read_bytes, surplus stays */
        {3, "z", 0, "z"},             /* read_bytes partial, one byte */
        {0, "no newline", TN_ECLOSED, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tn_mt_t *mt = tn_mt_new(loop, NULL);
        rec_t r;
        rec_init(&r, loop, mt->stream);
        int err = 0;
        switch (cases[i].kind) {
        case 0:
            err = tn_iostream_read_until(mt->stream, "\n", 1, 0, rec_read, &r);
            break;
        case 1:
            err = tn_iostream_read_bytes(mt->stream, 5, 0, rec_read, &r);
            break;
        case 2:
            err = tn_iostream_read_until_close(mt->stream, rec_read, &r);
            break;
        default:
            err = tn_iostream_read_some(mt->stream, NULL, NULL);
            cr_assert_eq(err, TN_EINVAL);
            err = tn_iostream_read_bytes(mt->stream, 64, 1, rec_read, &r);
            break;
        }
        cr_assert_eq(err, 0);
        tn_mt_feed(mt, cases[i].feed, strlen(cases[i].feed), 1);
        tn_iostream_close(mt->stream);
        /* Nothing runs inside close. */
        cr_assert_eq(r.reads + r.closes, 0, "case %zu: a callback ran inside close", i);
        for (int k = 0; k < 5 && r.closes == 0; k++)
            tn_mt_turn(loop);
        cr_assert_eq(r.reads, 1, "case %zu", i);
        cr_assert_eq(r.read_status, cases[i].want_status, "case %zu: status %s", i,
                     tn_err_name(r.read_status));
        if (cases[i].want != NULL) {
            cr_assert_eq(r.got_len, strlen(cases[i].want), "case %zu", i);
            cr_assert_eq(memcmp(r.got, cases[i].want, r.got_len), 0, "case %zu", i);
        }
        cr_assert_str_eq(r.order, "rc", "case %zu: order %s", i, r.order);
        cr_assert_eq(r.closes, 1);
        tn_mt_free(mt);
    }
    assert_mt_still_serving(loop);
    tn_test_close(loop, 0);
}

/* ---- F4: a read callback closes its own stream ---------------------------- */

typedef struct {
    rec_t r;
    int reads;
    size_t seen;
    int closed_seen, write_after;
} selfclose_t;

static void on_selfclose_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    selfclose_t *c = arg;
    c->reads++;
    cr_assert_eq(c->reads, 1, "read callback after the stream closed itself");
    cr_assert_eq(status, 0);
    c->seen = len;
    tn_iostream_close(s);
    /* The stream is still valid for the rest of this callback. */
    c->closed_seen = tn_iostream_closed(s);
    c->write_after = tn_iostream_write(s, data, len, NULL, NULL);
    tn_iostream_close(s);
    /* A read the leftover buffer cannot satisfy is refused at once. */
    cr_assert_eq(tn_iostream_read_bytes(s, 1 << 30, 0, rec_read, &c->r), TN_ECLOSED);
    /* data stays readable until the callback returns */
    volatile char sum = 0;
    for (size_t i = 0; i < len; i++)
        sum ^= data[i];
    (void)sum;
}

/* libuv handle.rst: memory only released after the close callback */
Test(faults, F4_read_callback_closes_its_own_stream)
{
    enum { FLOOD = 4 * 1024 * 1024 };
    tn_ioloop_t *loop = tn_test_loop_new();
    /* Real sockets: the peer keeps sending while the stream closes, so
     * libuv still has data to deliver in the same iteration. */
    int client;
    rec_t *r = tcp_stream(loop, &client, NULL);
    selfclose_t c = {0};
    r->stop_on_close = 1;
    cr_assert_eq(tn_iostream_read_bytes(r->s, 4096, 1, on_selfclose_read, &c), 0);
    char *flood = malloc(FLOOD);
    tn_test_random_bytes(flood, FLOOD, 4);
    tn_peer_t peer = {.fd = client, .send = flood, .send_len = FLOOD, .chunk = 1024};
    tn_peer_start(&peer);
    tn_test_run(loop, 20000);
    tn_peer_join(&peer);
    tn_test_settle(loop, 10);
    cr_assert_eq(c.reads, 1);
    cr_assert_gt(c.seen, 0);
    cr_assert_eq(c.closed_seen, 1);
    cr_assert_eq(c.write_after, TN_ECLOSED);
    cr_assert_eq(r->closes, 1);
    cr_assert_eq(r->reads, 0);
    tn_peer_free(&peer);
    free(flood);
    free(r);

    /* The same deterministically: the callback closes while more input is
     * buffered behind the delivered line. */
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    selfclose_t d = {0};
    rec_init(&d.r, loop, mt->stream);
    cr_assert_eq(tn_iostream_read_until(mt->stream, "\n", 1, 0, on_selfclose_read, &d), 0);
    tn_mt_feed(mt, "line\nrest of it", 15, 0);
    for (int k = 0; k < 5 && d.r.closes == 0; k++)
        tn_mt_turn(loop);
    cr_assert_eq(d.reads, 1);
    cr_assert_eq(d.seen, 5);
    cr_assert_eq(d.r.closes, 1);
    cr_assert_eq(d.r.reads, 0);
    tn_mt_free(mt);
    assert_still_serving(loop);
    tn_test_close(loop, 0);
}

/* ---- F5: close twice, and from an error path plus user code --------------- */

static void on_error_then_close(tn_iostream_t *s, int status, const char *data, size_t len,
                                void *arg)
{
    rec_read(s, status, data, len, arg);
    /* The stream is closing because of the reset; the user closes too. */
    tn_iostream_close(s);
    tn_iostream_close_with(s, TN_ECALLBACK);
}

static void close_in_close_cb(tn_iostream_t *s, void *arg)
{
    tn_iostream_close(s);
    rec_close(s, arg);
}

/* libuv src/unix/core.c: a second uv_close aborts */
Test(faults, F5_close_twice_and_from_both_error_path_and_user)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    /* Twice in a row, with a cause in between (the first cause sticks);
     * the memory transport asserts ops->close ran once. */
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    rec_t r;
    rec_init(&r, loop, mt->stream);
    tn_iostream_close(mt->stream);
    tn_iostream_close_with(mt->stream, TN_ETIMEOUT);
    tn_iostream_close(mt->stream);
    for (int k = 0; k < 5 && r.closes == 0; k++)
        tn_mt_turn(loop);
    cr_assert_eq(r.closes, 1);
    cr_assert_eq(r.close_error, 0);
    tn_mt_free(mt);

    /* Real socket: the peer resets; the failing read's callback and then the
     * close callback both close again. */
    int client;
    rec_t *t = tcp_stream(loop, &client, NULL);
    tn_iostream_set_close_callback(t->s, close_in_close_cb, t);
    t->stop_on_close = 1;
    cr_assert_eq(tn_iostream_read_until(t->s, "\n", 1, 0, on_error_then_close, t), 0);
    struct linger lg = {1, 0};
    setsockopt(client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(client);
    tn_test_run(loop, 10000);
    tn_test_settle(loop, 10);
    cr_assert_eq(t->reads, 1);
    cr_assert_eq(t->read_status, TN_ECLOSED);
    cr_assert_eq(t->closes, 1);
    cr_assert_eq(t->close_error, -ECONNRESET, "cause %s", tn_err_name(t->close_error));
    free(t);
    assert_still_serving(loop);
    tn_test_close(loop, 0);
}

/* ---- F6: writing to a closed stream --------------------------------------- */

static void must_not_run(tn_iostream_t *s, int status, void *arg)
{
    (void)s;
    (void)status;
    (void)arg;
    cr_assert_fail("the callback of a refused write ran");
}

/* tornado: write on a closed stream raises StreamClosedError synchronously */
Test(faults, F6_write_to_closed_stream_is_refused_without_leak)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int client;
    rec_t *r = tcp_stream(loop, &client, NULL);
    tn_iostream_t *s = r->s;
    /* One write accepted before the close fails with TN_ECLOSED later... */
    static char big[16 * 1024 * 1024];
    cr_assert_eq(tn_iostream_write(s, big, sizeof(big), rec_write, r), 0);
    tn_iostream_close(s);
    /* ...later ones are refused at once (closed, not yet freed). */
    cr_assert_eq(tn_iostream_write(s, "x", 1, must_not_run, NULL), TN_ECLOSED);
    cr_assert_eq(tn_iostream_write_ref(s, "x", 1, must_not_run, NULL), TN_ECLOSED);
    tn_buf_t bufs[2] = {{"a", 1}, {"b", 1}};
    cr_assert_eq(tn_iostream_writev(s, bufs, 2, must_not_run, NULL), TN_ECLOSED);
    cr_assert_eq(tn_iostream_write(s, "", 0, must_not_run, NULL), TN_ECLOSED);
    wait_closed(loop, r);
    cr_assert_eq(r->writes, 1);
    cr_assert_eq(r->write_status, TN_ECLOSED);
    close(client);
    free(r);
    /* The same from inside the close callback is covered by F5; the loop
     * still serves. */
    assert_still_serving(loop);
    tn_test_close(loop, 0);
}

/* ---- F7: the write succeeds locally, the peer is already gone ------------- */

typedef struct {
    rec_t r;
    int first_status, second_status;
    int first, second;
} gone_t;

static void on_first(tn_iostream_t *s, int status, void *arg)
{
    gone_t *g = arg;
    (void)s;
    g->first++;
    g->first_status = status;
}

static void on_second(tn_iostream_t *s, int status, void *arg)
{
    gone_t *g = arg;
    (void)s;
    g->second++;
    g->second_status = status;
}

Test(faults, F7_write_to_vanished_peer_fails_asynchronously)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int sfd, client;
    tn_test_tcp_pair(&sfd, &client);
    tn_iostream_t *s;
    cr_assert_eq(tn_iostream_from_socket(loop, sfd, NULL, &s), 0);
    gone_t g = {0};
    /* The peer closes completely (FIN; its kernel answers data with RST). */
    close(client);
    tn_test_settle(loop, 20);
    /* Accepted by the local kernel: success. */
    cr_assert_eq(tn_iostream_write(s, "first", 5, on_first, &g), 0);
    tn_test_settle(loop, 50);
    cr_assert_eq(g.first, 1);
    cr_assert_eq(g.first_status, 0);
    /* Now the RST has arrived: the next write fails, but through its
     * callback, never synchronously as a crash or a SIGPIPE. */
    int err = tn_iostream_write(s, "second", 6, on_second, &g);
    cr_assert(err == 0 || err == TN_ECLOSED, "write returned %s", tn_err_name(err));
    rec_init(&g.r, loop, s);
    wait_closed(loop, &g.r);
    if (err == 0) {
        cr_assert_eq(g.second, 1);
        cr_assert_eq(g.second_status, TN_ECLOSED);
    }
    cr_assert_eq(g.first, 1);
    int cause = g.r.close_error;
    cr_assert(cause == -EPIPE || cause == -ECONNRESET, "cause %s", tn_err_name(cause));
    tn_test_settle(loop, 20);
    cr_assert_eq(g.r.closes, 1, "a second close callback");
    assert_still_serving(loop);
    tn_test_close(loop, 0);
}

/* ---- F18: no buffer for a read -------------------------------------------- */

static int fail_big_allocs;

static void *big_failing_malloc(size_t n)
{
    return fail_big_allocs && n >= 4096 ? NULL : malloc(n);
}

static void *big_failing_realloc(void *p, size_t n)
{
    return fail_big_allocs && n >= 4096 ? NULL : realloc(p, n);
}

static void *big_failing_calloc(size_t k, size_t n)
{
    return fail_big_allocs && k * n >= 4096 ? NULL : calloc(k, n);
}

/* libuv: test-tcp-alloc-cb-fail.c (alloc_cb returns an empty buffer, libuv
 * reports UV_ENOBUFS) */
Test(faults, F18_alloc_cb_without_buffer_closes_only_that_stream)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    cr_assert_eq(
        tn_replace_allocator(big_failing_malloc, big_failing_realloc, big_failing_calloc, free), 0);
    int c1, c2;
    rec_t *victim = tcp_stream(loop, &c1, NULL);
    rec_t *other = tcp_stream(loop, &c2, NULL);
    victim->stop_on_close = 1;
    cr_assert_eq(tn_iostream_read_until(victim->s, "\n", 1, 0, rec_read, victim), 0);
    fail_big_allocs = 1;
    cr_assert_eq(send(c1, "hello\n", 6, 0), 6);
    tn_test_run(loop, 10000);
    fail_big_allocs = 0;
    cr_assert_eq(victim->reads, 1);
    cr_assert_eq(victim->read_status, TN_ECLOSED);
    cr_assert_eq(victim->close_error, -ENOBUFS, "cause %s", tn_err_name(victim->close_error));
    tn_test_settle(loop, 10);
    cr_assert_eq(victim->closes, 1);
    /* The other stream is unaffected. */
    cr_assert_eq(other->closes, 0);
    cr_assert_eq(tn_iostream_read_until(other->s, "\n", 1, 0, rec_read, other), 0);
    cr_assert_eq(send(c2, "world\n", 6, 0), 6);
    for (int i = 0; i < 400 && other->reads == 0; i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(other->read_status, 0);
    cr_assert_eq(other->got_len, 6);
    tn_iostream_close(other->s);
    wait_closed(loop, other);
    close(c1);
    close(c2);
    free(victim);
    free(other);
    tn_replace_allocator(malloc, realloc, calloc, free);
    assert_still_serving(loop);
    tn_test_close(loop, 0);
}

/* ---- F19: read_cb with nread == 0 ----------------------------------------- */

/* libuv stream docs: nread 0 is EAGAIN, not EOF */
Test(faults, F19_zero_length_read_is_nothing_not_eof)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    /* Through the transport seam, as shim/uvstream.c reports it. */
    tn_mt_t *mt = tn_mt_new(loop, NULL);
    rec_t r;
    rec_init(&r, loop, mt->stream);
    cr_assert_eq(tn_iostream_read_bytes(mt->stream, 4, 0, rec_read, &r), 0);
    for (int i = 0; i < 3; i++) {
        char *base;
        size_t room;
        tn_iostream__on_alloc(mt->stream, 65536, &base, &room);
        cr_assert_gt(room, 0);
        tn_iostream__on_read(mt->stream, 0);
        tn_mt_turn(loop);
        cr_assert_eq(tn_iostream_closed(mt->stream), 0);
        cr_assert_eq(tn_iostream_reading(mt->stream), 1);
        cr_assert_eq(tn_iostream_buffered(mt->stream), 0);
        cr_assert_eq(mt->reading, 1);
        cr_assert_eq(r.reads + r.closes, 0);
    }
    /* Between two real chunks, too. */
    tn_mt_feed(mt, "ab", 2, 0);
    char *base;
    size_t room;
    tn_iostream__on_alloc(mt->stream, 65536, &base, &room);
    tn_iostream__on_read(mt->stream, 0);
    tn_mt_feed(mt, "cd", 2, 0);
    tn_mt_turn(loop);
    cr_assert_eq(r.reads, 1);
    cr_assert_eq(r.read_status, 0);
    cr_assert_eq(memcmp(r.got, "abcd", 4), 0);
    tn_iostream_close(mt->stream);
    for (int k = 0; k < 5 && r.closes == 0; k++)
        tn_mt_turn(loop);
    cr_assert_eq(r.closes, 1);
    cr_assert_eq(r.close_error, 0);
    tn_mt_free(mt);

    /* Over libuv: with a 16-byte read chunk, 16 bytes fill the buffer
     * exactly, so libuv reads again at once, gets EAGAIN and calls the read
     * callback with nread 0. The stream must keep waiting for the rest. */
    tn_iostream_options_t opts = {.read_chunk_size = 16};
    int client;
    rec_t *t = tcp_stream(loop, &client, &opts);
    cr_assert_eq(tn_iostream_read_bytes(t->s, 32, 0, rec_read, t), 0);
    cr_assert_eq(send(client, "0123456789abcdef", 16, 0), 16);
    tn_test_settle(loop, 50);
    cr_assert_eq(t->closes, 0);
    cr_assert_eq(t->reads, 0);
    cr_assert_eq(send(client, "ghijklmnopqrstuv", 16, 0), 16);
    for (int i = 0; i < 400 && t->reads == 0; i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(t->read_status, 0);
    cr_assert_eq(t->got_len, 32);
    cr_assert_eq(memcmp(t->got, "0123456789abcdefghijklmnopqrstuv", 32), 0);
    tn_iostream_close(t->s);
    wait_closed(loop, t);
    close(client);
    free(t);
    assert_still_serving(loop);
    tn_test_close(loop, 0);
}

/* ---- F22: slow reader, fast writer ---------------------------------------- */

typedef struct {
    rec_t *r;
    int done;
    int failed;
} slow_t;

static void on_slow_write(tn_iostream_t *s, int status, void *arg)
{
    slow_t *w = arg;
    (void)s;
    if (status == 0)
        w->done++;
    else
        w->failed++;
}

static void on_write_timeout(tn_ioloop_t *loop, void *arg)
{
    rec_t *r = arg;
    (void)loop;
    /* An application-level write timeout: the stream still has unsent data
     * after the deadline (nginx send_timeout). */
    if (r->s != NULL && tn_iostream_writing(r->s))
        tn_iostream_close_with(r->s, TN_ETIMEOUT);
}

/* tornado: max_write_buffer_size -> StreamBufferFullError; nginx send_timeout */
Test(faults, F22_slow_reader_is_bounded_and_times_out)
{
    enum { CHUNK = 64 * 1024, CAP = 1024 * 1024 };
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_iostream_options_t opts = {.max_write_buffer_size = CAP};
    int client;
    rec_t *r = tcp_stream(loop, &client, &opts);
    static char chunk[CHUNK];
    slow_t w = {.r = r};
    /* The client never reads: writes pile up to the cap, then are refused
     * synchronously while the stream stays open. */
    int queued = 0, refused = 0;
    for (int i = 0; i < 4096 && refused == 0; i++) {
        int err = tn_iostream_write(r->s, chunk, CHUNK, on_slow_write, &w);
        if (err == 0)
            queued++;
        else {
            cr_assert_eq(err, TN_EBUFFULL);
            refused++;
        }
        if (i % 16 == 0)
            tn_test_settle(loop, 1);
    }
    cr_assert_eq(refused, 1, "max_write_buffer_size never refused a write");
    cr_assert_eq(tn_iostream_closed(r->s), 0);
    tn_test_settle(loop, 50);
    /* Backpressure: the kernel buffers fill and later callbacks wait. */
    cr_assert_lt(w.done, queued, "every write completed although nobody reads");
    cr_assert_eq(w.failed, 0);
    cr_assert_eq(r->closes, 0);
    /* The write deadline closes it; every pending write fails once. */
    r->stop_on_close = 1;
    cr_assert_neq(tn_ioloop_call_later(loop, 100, on_write_timeout, r), 0);
    tn_test_run(loop, 10000);
    tn_test_settle(loop, 10);
    cr_assert_eq(r->closes, 1);
    cr_assert_eq(r->close_error, TN_ETIMEOUT);
    cr_assert_eq(w.done + w.failed, queued);
    cr_assert_gt(w.failed, 0);
    close(client);
    free(r);
    assert_still_serving(loop);
    tn_test_close(loop, 0);
}

/* ---- F23: endless input without a delimiter ------------------------------- */

/* tornado: iostream_test test_read_until_max_bytes*, test_large_read_until */
Test(faults, F23_no_delimiter_within_max_bytes_closes_and_stays_linear)
{
    enum { MAX = 256 * 1024 };
    tn_ioloop_t *loop = tn_test_loop_new();
    char *junk = malloc(MAX + 4096);
    memset(junk, 'x', MAX + 4096);
    /* A byte at a time, then in bigger pieces: one close, one failure. */
    size_t chunks[] = {1, 7, 4096};
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        tn_mt_t *mt = tn_mt_new(loop, NULL);
        rec_t r;
        rec_init(&r, loop, mt->stream);
        cr_assert_eq(tn_iostream_read_until(mt->stream, "\r\n\r\n", 4, MAX, rec_read, &r), 0);
        double t0 = tn_test_now_ms();
        size_t fed = tn_mt_feed(mt, junk, MAX + 4096, chunks[c]);
        double took = tn_test_now_ms() - t0;
        /* It stopped taking input as soon as the limit was passed. */
        cr_assert_leq(fed, (size_t)MAX + chunks[c], "chunk %zu: fed %zu", chunks[c], fed);
        cr_assert_gt(fed, (size_t)MAX);
        cr_assert_eq(mt->closed, 1);
        /* 256 Ki single bytes: a rescan from the start each time would take
         * minutes. */
        cr_assert_lt(took, 5000.0, "chunk %zu: %.0f ms", chunks[c], took);
        for (int k = 0; k < 5 && r.closes == 0; k++)
            tn_mt_turn(loop);
        cr_assert_eq(r.reads, 1);
        cr_assert_eq(r.read_status, TN_ECLOSED);
        cr_assert_eq(r.closes, 1);
        cr_assert_eq(r.close_error, TN_EUNSATISFIABLE);
        cr_assert_str_eq(r.order, "rc");
        tn_mt_free(mt);
    }
    free(junk);
    assert_mt_still_serving(loop);
    tn_test_close(loop, 0);
}

/* ---- F24: tiny send buffer, many queued writes ---------------------------- */

typedef struct {
    rec_t *r;
    int next;
    int bad_order;
    int failed;
} order_t;

typedef struct {
    order_t *o;
    int idx;
} wtag_t;

static void on_ordered(tn_iostream_t *s, int status, void *arg)
{
    wtag_t *t = arg;
    (void)s;
    if (status != 0)
        t->o->failed++;
    if (t->idx != t->o->next)
        t->o->bad_order++;
    t->o->next++;
}

/* libuv: test-tcp-write-queue-order.c */
Test(faults, F24_partial_writes_keep_bytes_and_callbacks_in_order)
{
    enum { COUNT = 2000 };
    tn_ioloop_t *loop = tn_test_loop_new();
    int client;
    int small = 2048;
    next_sndbuf = small;
    rec_t *r = tcp_stream(loop, &client, NULL);
    cr_assert_eq(setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    static char expect[COUNT * 300];
    static wtag_t tags[COUNT];
    order_t o = {.r = r};
    size_t total = 0;
    for (int i = 0; i < COUNT; i++) {
        char rec[300];
        int n = snprintf(rec, sizeof(rec), "record %d ", i);
        memset(rec + n, 'a' + i % 26, (size_t)(i % 250));
        n += i % 250;
        rec[n++] = '\n';
        memcpy(expect + total, rec, (size_t)n);
        total += (size_t)n;
        tags[i].o = &o;
        tags[i].idx = i;
        cr_assert_eq(tn_iostream_write(r->s, rec, (size_t)n, on_ordered, &tags[i]), 0);
    }
    cr_assert_eq(tn_iostream_writing(r->s), 1, "expected queued (partial) writes");
    tn_peer_t peer = {.fd = client, .read_delay_ms = 50, .read_limit = total};
    tn_peer_start(&peer);
    for (int i = 0; i < 2000 && o.next < COUNT; i++)
        tn_test_settle(loop, 5);
    tn_peer_join(&peer);
    cr_assert_eq(o.next, COUNT);
    cr_assert_eq(o.bad_order, 0);
    cr_assert_eq(o.failed, 0);
    cr_assert_eq(peer.recv_len, total);
    cr_assert_eq(memcmp(peer.recv, expect, total), 0);
    tn_peer_free(&peer);
    /* The peer has gone: the stream may have seen EOF already. */
    if (r->s != NULL)
        tn_iostream_close(r->s);
    wait_closed(loop, r);
    free(r);
    assert_still_serving(loop);
    tn_test_close(loop, 0);
}
