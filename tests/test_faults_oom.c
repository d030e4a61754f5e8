/* FAULTS.md F17's pattern for the stream layer: one IOStream request/response
 * cycle (a line in, a large answer out, close) with the N-th tornuv
 * allocation failing, for N = 1, 2, 3, ... until a run completes without
 * the failure being hit. Every run must end cleanly: the starter returned
 * TN_ENOMEM, or the stream closed (close callback exactly once, each
 * completion at most once); the loop then serves a full cycle with the
 * allocator healthy again and closes with nothing alive. LeakSanitizer (the
 * --sanitize run) checks that nothing leaked. Over loopback TCP and over the
 * in-memory transport. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop_util.h"
#include "memtransport.h"
#include "net_peer.h"
#include "tornuv.h"

TestSuite(faults_oom, .timeout = 120);

static long countdown = -1; /* the allocation that fails when it reaches 0 */
static long seen;
static int last_hit; /* the injected failure happened in the last session */

static int should_fail(void)
{
    seen++;
    if (countdown < 0)
        return 0;
    return countdown-- == 0;
}

static void *f_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n);
}

static void *f_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n);
}

static void *f_calloc(size_t c, size_t n)
{
    return should_fail() ? NULL : calloc(c, n);
}

/* Runs f with injection paused (test scaffolding must not fail). */
#define UNINJECTED(stmt)                                                                           \
    do {                                                                                           \
        long saved_ = countdown;                                                                   \
        countdown = -1;                                                                            \
        stmt;                                                                                      \
        countdown = saved_;                                                                        \
    } while (0)

enum { ANSWER = 256 * 1024 };
static char answer[ANSWER];

typedef struct {
    tn_ioloop_t *loop;
    int reads, read_status;
    int writes, write_status, write_err;
    int closes, close_error;
    int hung;
} cycle_t;

static void on_closed(tn_iostream_t *s, void *arg)
{
    cycle_t *c = arg;
    c->closes++;
    cr_assert_eq(c->closes, 1, "close callback twice");
    c->close_error = tn_iostream_error(s);
    tn_ioloop_stop(c->loop);
}

static void on_written(tn_iostream_t *s, int status, void *arg)
{
    cycle_t *c = arg;
    c->writes++;
    cr_assert_eq(c->writes, 1, "write callback twice");
    c->write_status = status;
    tn_iostream_close(s);
}

static void on_line(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    cycle_t *c = arg;
    c->reads++;
    cr_assert_eq(c->reads, 1, "read callback twice");
    c->read_status = status;
    if (status != 0)
        return;
    cr_assert_eq(len, 6);
    cr_assert_eq(memcmp(data, "hello\n", 6), 0);
    c->write_err = tn_iostream_write(s, answer, ANSWER, on_written, c);
    if (c->write_err != 0) {
        cr_assert_eq(c->write_err, TN_ENOMEM);
        tn_iostream_close(s);
    }
}

static void on_hung(tn_ioloop_t *loop, void *arg)
{
    ((cycle_t *)arg)->hung = 1;
    tn_ioloop_stop(loop);
}

/* What every run must show once the loop stopped. */
static void check_outcome(const cycle_t *c, int completed, long n)
{
    cr_assert_eq(c->hung, 0, "N=%ld: the cycle never ended", n);
    cr_assert_eq(c->closes, 1, "N=%ld: close callbacks %d", n, c->closes);
    if (completed) {
        cr_assert_eq(c->read_status, 0);
        cr_assert_eq(c->write_status, 0);
        cr_assert_eq(c->close_error, 0);
        return;
    }
    /* A failed run ends in a stream error: no memory for the read buffer
     * (libuv's UV_ENOBUFS), or TN_ENOMEM from a starter or a deferral. */
    int e = c->close_error;
    cr_assert(e == 0 || e == TN_ENOMEM || e == -ENOBUFS, "N=%ld: cause %s", n, tn_err_name(e));
    if (c->reads == 1 && c->read_status == 0 && c->write_err == 0)
        cr_assert_eq(c->writes, 1, "N=%ld: an accepted write never completed", n);
}

/* ---- over loopback TCP ---------------------------------------------------- */

/* One cycle on loop; returns 0 if it ran, TN_ENOMEM if the stream could not
 * be created. */
static int tcp_cycle(tn_ioloop_t *loop, cycle_t *c, long n)
{
    int sfd, cfd;
    tn_iostream_t *s;
    memset(c, 0, sizeof(*c));
    c->loop = loop;
    UNINJECTED(tn_test_tcp_pair(&sfd, &cfd));
    /* A small send buffer: most of the answer takes the uv_write path. */
    int small = 4096;
    cr_assert_eq(setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    int err = tn_iostream_from_socket(loop, sfd, NULL, &s);
    if (err != 0) {
        cr_assert_eq(err, TN_ENOMEM, "N=%ld: %s", n, tn_err_name(err));
        close(sfd);
        close(cfd);
        return err;
    }
    tn_iostream_set_close_callback(s, on_closed, c);
    cr_assert_eq(tn_iostream_read_until(s, "\n", 1, 1024, on_line, c), 0);
    tn_peer_t peer = {.fd = cfd, .send = "hello\n", .send_len = 6};
    UNINJECTED(tn_peer_start(&peer));
    tn_timeout_id dog = 0;
    UNINJECTED(dog = tn_ioloop_call_later(loop, 10000, on_hung, c));
    cr_assert_neq(dog, 0);
    cr_assert_eq(tn_ioloop_start(loop), 0);
    tn_ioloop_remove_timeout(loop, dog);
    UNINJECTED(tn_peer_join(&peer));
    if (c->writes == 1 && c->write_status == 0)
        cr_assert_eq(peer.recv_len, (size_t)ANSWER, "N=%ld", n);
    UNINJECTED(tn_peer_free(&peer));
    return 0;
}

/* Returns how many allocations the run made. */
static long tcp_session(long fail_at)
{
    seen = 0;
    countdown = fail_at;
    tn_ioloop_t *loop = NULL;
    int err = tn_ioloop_new(&loop);
    if (err != 0) {
        cr_assert_eq(err, TN_ENOMEM);
        countdown = -1;
        last_hit = 1;
        return seen;
    }
    cycle_t c;
    int created = tcp_cycle(loop, &c, fail_at) == 0;
    last_hit = fail_at >= 0 && countdown < 0;
    if (created)
        check_outcome(&c, !last_hit, fail_at);
    long made = seen;
    /* The loop is healthy: a full cycle with the allocator working. */
    countdown = -1;
    cr_assert_eq(tcp_cycle(loop, &c, fail_at), 0);
    check_outcome(&c, 1, fail_at);
    cr_assert_eq(tn_ioloop_close(loop, 0), 0, "N=%ld: %zu objects alive", fail_at,
                 tn_ioloop_alive_count(loop));
    return made;
}

Test(faults_oom, tcp_read_write_cycle_every_allocation_fails_cleanly)
{
    for (int i = 0; i < ANSWER; i++)
        answer[i] = (char)('a' + i % 26);
    cr_assert_eq(tn_replace_allocator(f_malloc, f_realloc, f_calloc, free), 0);
    long total = tcp_session(-1);
    cr_assert_gt(total, 5);
    long n;
    for (n = 0; n < 10000; n++) {
        tcp_session(n);
        /* This run's injected failure was never reached, and every
         * allocation of the undisturbed run was covered: done. */
        if (!last_hit && n >= total)
            break;
    }
    cr_assert_lt(n, 10000);
    cr_log_info("%ld allocations, swept N = 0..%ld", total, n);
    countdown = -1;
    tn_replace_allocator(malloc, realloc, calloc, free);
}

/* ---- over the in-memory transport ----------------------------------------- */

static int mt_cycle(tn_ioloop_t *loop, cycle_t *c, long n)
{
    memset(c, 0, sizeof(*c));
    c->loop = loop;
    tn_mt_t *mt = tn_mt_try_new(loop, NULL);
    if (mt == NULL)
        return TN_ENOMEM;
    /* The transport takes 4 KiB per try_write: the rest goes through the
     * asynchronous ops->write path. */
    mt->accept_limit = 4096;
    tn_iostream_set_close_callback(mt->stream, on_closed, c);
    cr_assert_eq(tn_iostream_read_until(mt->stream, "\n", 1, 1024, on_line, c), 0);
    tn_mt_feed(mt, "hel", 3, 0);
    tn_mt_feed(mt, "lo\n", 3, 0);
    for (int i = 0; i < 20 && c->closes == 0; i++) {
        tn_mt_complete_writes(mt, 0);
        UNINJECTED(tn_mt_turn(loop));
    }
    cr_assert_eq(c->closes, 1, "N=%ld: never closed", n);
    if (c->writes == 1 && c->write_status == 0) {
        cr_assert_eq(mt->out_len, (size_t)ANSWER);
        cr_assert_eq(memcmp(mt->out, answer, ANSWER), 0);
    }
    tn_mt_free(mt);
    return 0;
}

static long mt_session(long fail_at)
{
    seen = 0;
    countdown = fail_at;
    tn_ioloop_t *loop = NULL;
    int err = tn_ioloop_new(&loop);
    if (err != 0) {
        cr_assert_eq(err, TN_ENOMEM);
        countdown = -1;
        last_hit = 1;
        return seen;
    }
    cycle_t c;
    int created = mt_cycle(loop, &c, fail_at) == 0;
    last_hit = fail_at >= 0 && countdown < 0;
    if (created)
        check_outcome(&c, !last_hit, fail_at);
    long made = seen;
    countdown = -1;
    cr_assert_eq(mt_cycle(loop, &c, fail_at), 0);
    check_outcome(&c, 1, fail_at);
    cr_assert_eq(tn_ioloop_close(loop, 0), 0);
    return made;
}

Test(faults_oom, memtransport_read_write_cycle_every_allocation_fails_cleanly)
{
    for (int i = 0; i < ANSWER; i++)
        answer[i] = (char)('a' + i % 26);
    cr_assert_eq(tn_replace_allocator(f_malloc, f_realloc, f_calloc, free), 0);
    long total = mt_session(-1);
    cr_assert_gt(total, 5);
    long n;
    for (n = 0; n < 10000; n++) {
        mt_session(n);
        if (!last_hit && n >= total)
            break;
    }
    cr_assert_lt(n, 10000);
    cr_log_info("%ld allocations, swept N = 0..%ld", total, n);
    countdown = -1;
    tn_replace_allocator(malloc, realloc, calloc, free);
}
