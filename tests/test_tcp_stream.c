/* IOStream over real loopback TCP: large and mixed reads, flow control,
 * resets, half-close, partial writes (FAULTS.md F1, F2, F7, F18, F24). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include "loop_util.h"
#include "net_peer.h"
#include "tornuv.h"

TestSuite(tcp_stream, .timeout = 60);

typedef struct {
    tn_ioloop_t *loop;
    tn_iostream_t *s;
    int closes;
    int close_error;
    int stop_on_close;
    /* reads */
    int read_status;
    int reads_done;
    char *data;
    size_t len;
    size_t cap;
    /* writes */
    int writes_done;
    int write_status;
    int write_order_ok;
} conn_t;

static void on_close(tn_iostream_t *s, void *arg)
{
    conn_t *c = arg;
    c->closes++;
    c->close_error = tn_iostream_error(s);
    if (c->stop_on_close)
        tn_ioloop_stop(c->loop);
}

static void append(conn_t *c, const char *data, size_t len)
{
    if (c->len + len > c->cap) {
        c->cap = (c->len + len) * 2;
        c->data = realloc(c->data, c->cap);
    }
    memcpy(c->data + c->len, data, len);
    c->len += len;
}

static conn_t *wrap(tn_ioloop_t *loop, int fd)
{
    conn_t *c = calloc(1, sizeof(*c));
    c->loop = loop;
    c->write_order_ok = 1;
    cr_assert_eq(tn_iostream_from_socket(loop, fd, NULL, &c->s), 0);
    tn_iostream_set_close_callback(c->s, on_close, c);
    return c;
}

static void conn_free(conn_t *c)
{
    free(c->data);
    free(c);
}

/* ---- large read_until ---------------------------------------------------- */

static void on_big_line(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    conn_t *c = arg;
    c->read_status = status;
    c->reads_done++;
    if (status == 0)
        append(c, data, len);
    tn_iostream_close(s);
    c->stop_on_close = 1;
}

/* tornado: iostream_test TestIOStreamMixin test_large_read_until */
Test(tcp_stream, large_read_until_in_small_writes)
{
    enum { LINE = 4 * 1024 * 1024 };
    tn_ioloop_t *loop = tn_test_loop_new();
    int sfd, cfd;
    tn_test_tcp_pair(&sfd, &cfd);
    char *payload = malloc(LINE + 1);
    memset(payload, 'a', LINE);
    payload[LINE] = '\n';
    tn_peer_t peer = {.fd = cfd, .send = payload, .send_len = LINE + 1, .chunk = 1024};
    conn_t *c = wrap(loop, sfd);
    cr_assert_eq(tn_iostream_read_until(c->s, "\n", 1, 0, on_big_line, c), 0);
    double t0 = tn_test_now_ms();
    tn_peer_start(&peer);
    tn_test_run(loop, 20000);
    tn_peer_join(&peer);
    cr_assert_eq(c->read_status, 0);
    cr_assert_eq(c->len, (size_t)LINE + 1);
    cr_assert_eq(memcmp(c->data, payload, LINE + 1), 0);
    cr_assert_eq(c->closes, 1);
    /* Linear, not quadratic, in the number of chunks. */
    cr_assert_lt(tn_test_now_ms() - t0, 10000.0);
    tn_peer_free(&peer);
    free(payload);
    conn_free(c);
    tn_test_close(loop, 0);
}

/* ---- many mixed reads ---------------------------------------------------- */

typedef struct {
    conn_t *c;
    size_t total;
    unsigned rng;
    char into[8192];
} mixed_t;

static void mixed_next(mixed_t *m);

static unsigned next_rand(mixed_t *m)
{
    m->rng = m->rng * 1103515245u + 12345u;
    return (m->rng >> 8) & 0xffff;
}

static void on_mixed_bytes(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    mixed_t *m = arg;
    (void)s;
    cr_assert_eq(status, 0, "read failed: %s", tn_err_name(status));
    append(m->c, data, len);
    mixed_next(m);
}

static void on_mixed_into(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    mixed_t *m = arg;
    (void)s;
    (void)data;
    cr_assert_eq(status, 0, "read_into failed: %s", tn_err_name(status));
    append(m->c, m->into, len);
    mixed_next(m);
}

static void mixed_next(mixed_t *m)
{
    size_t left = m->total - m->c->len;
    if (left == 0) {
        m->c->stop_on_close = 1;
        tn_iostream_close(m->c->s);
        return;
    }
    size_t n = 1 + next_rand(m) % 8000;
    int partial = next_rand(m) & 1;
    if (n > left)
        n = left;
    if (next_rand(m) & 1)
        cr_assert_eq(tn_iostream_read_bytes(m->c->s, n, partial, on_mixed_bytes, m), 0);
    else
        cr_assert_eq(tn_iostream_read_into(m->c->s, m->into, n, partial, on_mixed_into, m), 0);
}

/* tornado: iostream_test TestIOStreamMixin test_many_mixed_reads */
Test(tcp_stream, many_mixed_reads_checked_by_hash)
{
    enum { SIZE = 1024 * 1024 };
    tn_ioloop_t *loop = tn_test_loop_new();
    int sfd, cfd;
    tn_test_tcp_pair(&sfd, &cfd);
    char *payload = malloc(SIZE);
    tn_test_random_bytes(payload, SIZE, 7);
    tn_peer_t peer = {.fd = cfd, .send = payload, .send_len = SIZE, .chunk = 3001};
    mixed_t m = {.total = SIZE, .rng = 42};
    m.c = wrap(loop, sfd);
    mixed_next(&m);
    tn_peer_start(&peer);
    tn_test_run(loop, 20000);
    tn_peer_join(&peer);
    cr_assert_eq(m.c->len, (size_t)SIZE);
    cr_assert_eq(tn_test_hash(m.c->data, SIZE), tn_test_hash(payload, SIZE));
    tn_peer_free(&peer);
    free(payload);
    conn_free(m.c);
    tn_test_close(loop, 0);
}

/* ---- flow control -------------------------------------------------------- */

typedef struct {
    conn_t *c;
    int issued;
    int done_at_check;
} flow_t;

static void on_flow_write(tn_iostream_t *s, int status, void *arg)
{
    conn_t *c = arg;
    (void)s;
    if (status != 0)
        c->write_status = status;
    c->writes_done++;
}

static void on_flow_check(tn_ioloop_t *loop, void *arg)
{
    flow_t *f = arg;
    (void)loop;
    f->done_at_check = f->c->writes_done;
}

static void on_flow_drain(tn_iostream_t *s, int status, void *arg)
{
    conn_t *c = arg;
    (void)status;
    c->stop_on_close = 1;
    tn_iostream_close(s);
}

/* tornado: iostream_test TestIOStreamMixin test_write_memoryview/flow control via futures */
Test(tcp_stream, slow_reader_holds_back_write_callbacks)
{
    enum { CHUNK = 64 * 1024, COUNT = 512 };
    tn_ioloop_t *loop = tn_test_loop_new();
    int sfd, cfd;
    tn_test_tcp_pair(&sfd, &cfd);
    char *chunk = malloc(CHUNK);
    tn_test_random_bytes(chunk, CHUNK, 3);
    conn_t *c = wrap(loop, sfd);
    flow_t f = {.c = c};
    for (int i = 0; i < COUNT; i++)
        cr_assert_eq(tn_iostream_write(c->s, chunk, CHUNK, on_flow_write, c), 0);
    /* The final write's callback is the signal to close. */
    cr_assert_eq(tn_iostream_write(c->s, "", 0, on_flow_drain, c), 0);
    tn_ioloop_call_later(loop, 300, on_flow_check, &f);
    /* The peer starts reading only after 800 ms. */
    tn_peer_t peer = {.fd = cfd, .read_delay_ms = 800};
    tn_peer_start(&peer);
    tn_test_run(loop, 30000);
    tn_peer_join(&peer);
    cr_assert_lt(f.done_at_check, COUNT, "all %d write callbacks ran before the peer read",
                 f.done_at_check);
    cr_assert_eq(c->writes_done, COUNT);
    cr_assert_eq(c->write_status, 0);
    cr_assert_eq(peer.recv_len, (size_t)CHUNK * COUNT);
    for (int i = 0; i < COUNT; i += 97)
        cr_assert_eq(memcmp(peer.recv + (size_t)i * CHUNK, chunk, CHUNK), 0);
    tn_peer_free(&peer);
    free(chunk);
    conn_free(c);
    tn_test_close(loop, 0);
}

/* ---- F24: tiny send buffer, many writes ---------------------------------- */

static int order_next;

static void on_ordered_write(tn_iostream_t *s, int status, void *arg)
{
    int idx = (int)(intptr_t)arg;
    (void)s;
    cr_assert_eq(status, 0);
    cr_assert_eq(idx, order_next, "write callback %d ran when %d was due", idx, order_next);
    order_next++;
}

static void on_last_write(tn_iostream_t *s, int status, void *arg)
{
    conn_t *c = arg;
    cr_assert_eq(status, 0);
    c->stop_on_close = 1;
    tn_iostream_close(s);
}

Test(tcp_stream, tiny_sndbuf_keeps_bytes_and_callbacks_in_order)
{
    enum { COUNT = 3000 };
    tn_ioloop_t *loop = tn_test_loop_new();
    int sfd, cfd;
    tn_test_tcp_pair(&sfd, &cfd);
    int small = 2048;
    cr_assert_eq(setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, (const char *)&small, sizeof(small)), 0);
    cr_assert_eq(setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, (const char *)&small, sizeof(small)), 0);
    conn_t *c = wrap(loop, sfd);
    size_t total = 0;
    static char expect[COUNT * 40];
    order_next = 0;
    for (int i = 0; i < COUNT; i++) {
        char rec[40];
        int n = snprintf(rec, sizeof(rec), "record %d %.*s\n", i, i % 17, "xxxxxxxxxxxxxxxxx");
        memcpy(expect + total, rec, (size_t)n);
        total += (size_t)n;
        cr_assert_eq(tn_iostream_write(c->s, rec, (size_t)n, on_ordered_write, (void *)(intptr_t)i),
                     0);
    }
    cr_assert_eq(tn_iostream_write(c->s, "", 0, on_last_write, c), 0);
    tn_peer_t peer = {.fd = cfd, .read_delay_ms = 50};
    tn_peer_start(&peer);
    tn_test_run(loop, 30000);
    tn_peer_join(&peer);
    cr_assert_eq(order_next, COUNT);
    cr_assert_eq(peer.recv_len, total);
    cr_assert_eq(memcmp(peer.recv, expect, total), 0);
    tn_peer_free(&peer);
    conn_free(c);
    tn_test_close(loop, 0);
}

/* ---- F1 / F7: peer reset while a large write is queued -------------------- */

static void on_reset_write(tn_iostream_t *s, int status, void *arg)
{
    conn_t *c = arg;
    (void)s;
    c->write_status = status;
    c->writes_done++;
}

static void on_reset_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    conn_t *c = arg;
    (void)s;
    (void)data;
    (void)len;
    c->read_status = status;
    c->reads_done++;
}

Test(tcp_stream, peer_reset_during_large_write)
{
    enum { BIG = 64 * 1024 * 1024 };
    tn_ioloop_t *loop = tn_test_loop_new();
    int sfd, cfd;
    tn_test_tcp_pair(&sfd, &cfd);
    char *big = calloc(1, BIG);
    conn_t *c = wrap(loop, sfd);
    c->stop_on_close = 1;
    cr_assert_eq(tn_iostream_read_until(c->s, "\n", 1, 0, on_reset_read, c), 0);
    cr_assert_eq(tn_iostream_write(c->s, big, BIG, on_reset_write, c), 0);
    tn_peer_t peer = {.fd = cfd, .reset = 1, .reset_after_ms = 100};
    tn_peer_start(&peer);
    tn_test_run(loop, 20000);
    tn_peer_join(&peer);
    tn_test_settle(loop, 20);
    cr_assert_eq(c->closes, 1);
    cr_assert_eq(c->writes_done, 1);
    cr_assert_neq(c->write_status, 0);
    cr_assert_eq(c->reads_done, 1);
    cr_assert_neq(c->read_status, 0);
    int err = c->close_error;
    cr_assert(err == UV_ECONNRESET || err == UV_EPIPE, "cause %s", tn_err_name(err));
    free(big);
    conn_free(c);
    tn_test_close(loop, 0);
}

/* ---- F2: half-close after a complete request ------------------------------ */

static void on_response_written(tn_iostream_t *s, int status, void *arg)
{
    conn_t *c = arg;
    c->write_status = status;
    c->writes_done++;
    c->stop_on_close = 1;
    tn_iostream_close(s);
}

static void on_request(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    conn_t *c = arg;
    c->read_status = status;
    c->reads_done++;
    if (status != 0)
        return;
    append(c, data, len);
    cr_assert_eq(tn_iostream_write(s, "response\n", 9, on_response_written, c), 0);
}

Test(tcp_stream, half_close_after_complete_request_still_gets_response)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int sfd, cfd;
    tn_test_tcp_pair(&sfd, &cfd);
    conn_t *c = wrap(loop, sfd);
    tn_peer_t peer = {.fd = cfd, .send = "request\n", .send_len = 8, .shutdown_wr = 1};
    cr_assert_eq(tn_iostream_read_until(c->s, "\n", 1, 1024, on_request, c), 0);
    tn_peer_start(&peer);
    tn_test_run(loop, 10000);
    tn_peer_join(&peer);
    cr_assert_eq(c->read_status, 0);
    cr_assert_eq(c->write_status, 0);
    cr_assert_eq(peer.recv_len, 9);
    cr_assert_eq(memcmp(peer.recv, "response\n", 9), 0);
    cr_assert_eq(peer.eof, 1);
    cr_assert_eq(c->closes, 1);
    tn_peer_free(&peer);
    conn_free(c);
    tn_test_close(loop, 0);
}

/* ---- F18: the read buffer cannot be allocated ----------------------------- */

static int fail_big_allocs;

static void *failing_malloc(size_t n)
{
    if (fail_big_allocs && n >= 4096)
        return NULL;
    return malloc(n);
}

static void *failing_realloc(void *p, size_t n)
{
    if (fail_big_allocs && n >= 4096)
        return NULL;
    return realloc(p, n);
}

static void *failing_calloc(size_t k, size_t n)
{
    if (fail_big_allocs && k * n >= 4096)
        return NULL;
    return calloc(k, n);
}

Test(tcp_stream, read_buffer_allocation_failure_closes_only_that_stream)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    cr_assert_eq(tn_replace_allocator(failing_malloc, failing_realloc, failing_calloc, free), 0);
    int sfd, cfd, sfd2, cfd2;
    tn_test_tcp_pair(&sfd, &cfd);
    tn_test_tcp_pair(&sfd2, &cfd2);
    conn_t *c = wrap(loop, sfd);
    conn_t *other = wrap(loop, sfd2);
    c->stop_on_close = 1;
    cr_assert_eq(tn_iostream_read_until(c->s, "\n", 1, 0, on_reset_read, c), 0);
    fail_big_allocs = 1;
    cr_assert_eq(send(cfd, "hello\n", 6, 0), 6);
    tn_test_run(loop, 10000);
    fail_big_allocs = 0;
    cr_assert_eq(c->reads_done, 1);
    cr_assert_neq(c->read_status, 0);
    cr_assert_eq(c->close_error, UV_ENOBUFS, "cause %s", tn_err_name(c->close_error));
    cr_assert_eq(c->closes, 1);
    /* The other stream still works. */
    other->stop_on_close = 1;
    cr_assert_eq(tn_iostream_read_until(other->s, "\n", 1, 0, on_big_line, other), 0);
    cr_assert_eq(send(cfd2, "world\n", 6, 0), 6);
    tn_test_run(loop, 10000);
    cr_assert_eq(other->read_status, 0);
    cr_assert_eq(other->len, 6);
    tn_test_close_fd(cfd);
    tn_test_close_fd(cfd2);
    conn_free(c);
    conn_free(other);
    tn_test_close(loop, 0);
}
