/* FAULTS.md F17's pattern for the stream layer: one IOStream request/response
 * cycle (a line in, a large answer out, close) with the N-th tornuv
 * allocation failing, for N = 1, 2, 3, ... until a run completes without
 * the failure being hit. Every run must end cleanly: the starter returned
 * TN_ENOMEM, or the stream closed (close callback exactly once, each
 * completion at most once); the loop then serves a full cycle with the
 * allocator healthy again and closes with nothing alive. LeakSanitizer (the
 * --sanitize run) checks that nothing leaked. Over loopback TCP and over the
 * in-memory transport. The injector is tornuv/testing.h's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <uv.h>

#include "loop_util.h"
#include "memtransport.h"
#include "net_peer.h"
#include "tornuv.h"

TestSuite(faults_oom, .timeout = 120);

static long seen0;   /* the allocation count when the session began */
static int last_hit; /* the injected failure happened in the last session */

/* Runs stmt with injection paused (test scaffolding must not fail). */
#define UNINJECTED(stmt)                                                                           \
    do {                                                                                           \
        tn_testing_alloc_pause(1);                                                                 \
        stmt;                                                                                      \
        tn_testing_alloc_pause(0);                                                                 \
    } while (0)

enum { ANSWER = 256 * 1024 };
static char answer[ANSWER];

typedef struct {
    tn_ioloop_t *loop;
    int reads, read_status;
    int writes, write_status, write_err;
    int closes, close_error;
    int hung;
    int keep_running; /* the close callback does not stop the loop */
} cycle_t;

static void on_closed(tn_iostream_t *s, void *arg)
{
    cycle_t *c = arg;
    c->closes++;
    cr_assert_eq(c->closes, 1, "close callback twice");
    c->close_error = tn_iostream_error(s);
    if (!c->keep_running)
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
    seen0 = tn_testing_alloc_count();
    tn_testing_fail_alloc_after(fail_at);
    tn_ioloop_t *loop = NULL;
    int err = tn_ioloop_new(&loop);
    if (err != 0) {
        cr_assert_eq(err, TN_ENOMEM);
        tn_testing_fail_alloc_after(-1);
        last_hit = 1;
        return tn_testing_alloc_count() - seen0;
    }
    cycle_t c;
    int created = tcp_cycle(loop, &c, fail_at) == 0;
    last_hit = tn_testing_alloc_failed();
    if (created)
        check_outcome(&c, !last_hit, fail_at);
    long made = tn_testing_alloc_count() - seen0;
    /* The loop is healthy: a full cycle with the allocator working. */
    tn_testing_fail_alloc_after(-1);
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
    tn_testing_fail_alloc_after(-1);
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
    seen0 = tn_testing_alloc_count();
    tn_testing_fail_alloc_after(fail_at);
    tn_ioloop_t *loop = NULL;
    int err = tn_ioloop_new(&loop);
    if (err != 0) {
        cr_assert_eq(err, TN_ENOMEM);
        tn_testing_fail_alloc_after(-1);
        last_hit = 1;
        return tn_testing_alloc_count() - seen0;
    }
    cycle_t c;
    int created = mt_cycle(loop, &c, fail_at) == 0;
    last_hit = tn_testing_alloc_failed();
    if (created)
        check_outcome(&c, !last_hit, fail_at);
    long made = tn_testing_alloc_count() - seen0;
    tn_testing_fail_alloc_after(-1);
    cr_assert_eq(mt_cycle(loop, &c, fail_at), 0);
    check_outcome(&c, 1, fail_at);
    cr_assert_eq(tn_ioloop_close(loop, 0), 0);
    return made;
}

Test(faults_oom, memtransport_read_write_cycle_every_allocation_fails_cleanly)
{
    for (int i = 0; i < ANSWER; i++)
        answer[i] = (char)('a' + i % 26);
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
    tn_testing_fail_alloc_after(-1);
}

/* ---- accepting under allocation failure ----------------------------------- */

/* The same cycle on a connection the TCPServer accepted: a failure while
 * setting up the server, accepting, wrapping the connection or serving it
 * must leave the server usable, and the next client (allocator healthy
 * again) must be served in full. */

typedef struct {
    cycle_t cycle;
    int accepted;
} srv_t;

static void srv_accept(tn_tcpserver_t *server, tn_iostream_t *stream, const char *ip, int port,
                       void *arg)
{
    srv_t *v = arg;
    (void)server;
    (void)ip;
    (void)port;
    v->accepted++;
    memset(&v->cycle, 0, sizeof(v->cycle));
    v->cycle.loop = tn_iostream_loop(stream);
    v->cycle.keep_running = 1;
    tn_iostream_set_close_callback(stream, on_closed, &v->cycle);
    if (tn_iostream_read_until(stream, "\n", 1, 1024, on_line, &v->cycle) != 0)
        tn_iostream_close(stream);
}

static void on_server_freed(void *arg)
{
    *(int *)arg = 1;
}

/* One client against server; returns 1 if it got the whole answer. */
static int server_client(tn_ioloop_t *loop, srv_t *v, int port, long n)
{
    int before = v->accepted;
    tn_peer_t peer = {.family = AF_INET, .port = port, .send = "hello\n", .send_len = 6};
    UNINJECTED(tn_peer_start(&peer));
    /* Until the connection was served and closed, or the client gave up
     * (its connection dropped or never accepted: the peer times out). */
    for (int i = 0; i < 400; i++) {
        UNINJECTED(tn_test_settle(loop, 5));
        if (v->accepted > before && v->cycle.closes == 1)
            break;
    }
    UNINJECTED(tn_peer_join(&peer));
    int full = peer.recv_len == (size_t)ANSWER && memcmp(peer.recv, answer, ANSWER) == 0;
    if (v->accepted > before) {
        cr_assert_eq(v->cycle.closes, 1, "N=%ld: accepted connection never closed", n);
        check_outcome(&v->cycle, full, n);
    }
    UNINJECTED(tn_peer_free(&peer));
    return full;
}

static long server_session(long fail_at)
{
    seen0 = tn_testing_alloc_count();
    tn_testing_fail_alloc_after(fail_at);
    tn_ioloop_t *loop = NULL;
    int err = tn_ioloop_new(&loop);
    if (err != 0) {
        cr_assert_eq(err, TN_ENOMEM);
        tn_testing_fail_alloc_after(-1);
        last_hit = 1;
        return tn_testing_alloc_count() - seen0;
    }
    srv_t v = {0};
    tn_tcpserver_options_t opts = {.handle_stream = srv_accept, .arg = &v};
    tn_tcpserver_t *server = NULL;
    err = tn_tcpserver_new(loop, &opts, &server);
    if (err == 0) {
        err = tn_tcpserver_listen(server, 0, "127.0.0.1");
        cr_assert(err == 0 || err == TN_ENOMEM || err == UV_EAI_MEMORY, "N=%ld: listen %s", fail_at,
                  tn_err_name(err));
        if (err == 0)
            server_client(loop, &v, tn_tcpserver_port(server), fail_at);
    } else {
        cr_assert_eq(err, TN_ENOMEM);
    }
    last_hit = tn_testing_alloc_failed();
    long made = tn_testing_alloc_count() - seen0;
    tn_testing_fail_alloc_after(-1);
    if (server == NULL || tn_tcpserver_port(server) == 0) {
        if (server != NULL) {
            int freed = 0;
            tn_tcpserver_free(server, on_server_freed, &freed);
            for (int i = 0; i < 100 && !freed; i++)
                tn_test_settle(loop, 5);
            cr_assert_eq(freed, 1);
        }
        cr_assert_eq(tn_tcpserver_new(loop, &opts, &server), 0);
        cr_assert_eq(tn_tcpserver_listen(server, 0, "127.0.0.1"), 0);
    }
    /* Healthy again: the same server serves the next client in full. */
    cr_assert(server_client(loop, &v, tn_tcpserver_port(server), fail_at), "N=%ld", fail_at);
    int freed = 0;
    tn_tcpserver_free(server, on_server_freed, &freed);
    for (int i = 0; i < 100 && !freed; i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(freed, 1);
    cr_assert_eq(tn_ioloop_close(loop, 0), 0, "N=%ld: %zu objects alive", fail_at,
                 tn_ioloop_alive_count(loop));
    return made;
}

Test(faults_oom, server_accept_and_cycle_every_allocation_fails_cleanly)
{
    for (int i = 0; i < ANSWER; i++)
        answer[i] = (char)('a' + i % 26);
    long total = server_session(-1);
    cr_assert_gt(total, 5);
    long n;
    for (n = 0; n < 10000; n++) {
        server_session(n);
        if (!last_hit && n >= total)
            break;
    }
    cr_assert_lt(n, 10000);
    cr_log_info("server: %ld allocations, swept N = 0..%ld", total, n);
    tn_testing_fail_alloc_after(-1);
}

/* ---- connecting under allocation failure ---------------------------------- */

/* A client connects (tn_iostream_connect to a numeric address, or
 * tn_tcpclient_connect by name), writes one line and closes. Each N must end
 * with the connect callback exactly once (or a TN_ENOMEM return, then never),
 * and the listening side seeing the line, EOF or nothing. */

typedef struct {
    tn_ioloop_t *loop;
    int connects, connect_status;
    int writes, write_status;
    int closes;
    int done;
} client_t;

static void client_closed(tn_iostream_t *s, void *arg)
{
    client_t *c = arg;
    (void)s;
    c->closes++;
    cr_assert_eq(c->closes, 1, "client close callback twice");
    c->done = 1;
}

static void client_written(tn_iostream_t *s, int status, void *arg)
{
    client_t *c = arg;
    c->writes++;
    cr_assert_eq(c->writes, 1);
    c->write_status = status;
    tn_iostream_close(s);
}

static void client_connected(tn_iostream_t *s, int status, void *arg)
{
    client_t *c = arg;
    c->connects++;
    cr_assert_eq(c->connects, 1, "connect callback twice");
    c->connect_status = status;
    if (status != 0) {
        /* tn_tcpclient_connect hands no stream on failure; a stream from
         * tn_iostream_connect closes by itself. */
        if (s == NULL)
            c->done = 1;
        return;
    }
    tn_iostream_set_close_callback(s, client_closed, c);
    int err = tn_iostream_write(s, "hello\n", 6, client_written, c);
    if (err != 0) {
        cr_assert_eq(err, TN_ENOMEM);
        tn_iostream_close(s);
    }
}

/* Returns 1 if the line arrived. by_name: tn_tcpclient_connect. */
static int client_cycle(tn_ioloop_t *loop, int lfd, int port, int by_name, long n)
{
    client_t c = {.loop = loop};
    tn_iostream_t *s = NULL;
    int err = by_name
                  ? tn_tcpclient_connect(loop, "127.0.0.1", port, 5000, NULL, client_connected, &c)
                  : tn_iostream_connect(loop, "127.0.0.1", port, NULL, client_connected, &c, &s);
    if (err != 0) {
        cr_assert_eq(err, TN_ENOMEM, "N=%ld: connect returned %s", n, tn_err_name(err));
        cr_assert_eq(c.connects, 0);
        return 0;
    }
    if (s != NULL)
        tn_iostream_set_close_callback(s, client_closed, &c);
    for (int i = 0; i < 1000 && !c.done; i++)
        UNINJECTED(tn_test_settle(loop, 5));
    cr_assert_eq(c.done, 1, "N=%ld: the client never finished", n);
    cr_assert_eq(c.connects, 1, "N=%ld", n);
    cr_assert_leq(c.closes, 1);
    /* What reached the listener: the line, or the connection ended (or
     * never came). */
    char buf[16];
    size_t got = 0;
    int afd = accept(lfd, NULL, NULL);
    if (afd >= 0) {
        struct timeval tv = {5, 0};
        setsockopt(afd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        ssize_t r;
        while (got < sizeof(buf) && (r = recv(afd, buf + got, sizeof(buf) - got, 0)) > 0)
            got += (size_t)r;
        close(afd);
    }
    int line = got == 6 && memcmp(buf, "hello\n", 6) == 0;
    if (c.connect_status == 0 && c.write_status == 0 && c.writes == 1)
        cr_assert(line, "N=%ld: a completed write did not arrive", n);
    return line;
}

static long client_session(long fail_at, int by_name)
{
    seen0 = tn_testing_alloc_count();
    tn_testing_fail_alloc_after(fail_at);
    tn_ioloop_t *loop = NULL;
    int err = tn_ioloop_new(&loop);
    if (err != 0) {
        cr_assert_eq(err, TN_ENOMEM);
        tn_testing_fail_alloc_after(-1);
        last_hit = 1;
        return tn_testing_alloc_count() - seen0;
    }
    int port, lfd;
    UNINJECTED(lfd = tn_test_raw_listener(AF_INET, 8, &port));
    int line = client_cycle(loop, lfd, port, by_name, fail_at);
    last_hit = tn_testing_alloc_failed();
    if (!last_hit)
        cr_assert(line, "N=%ld: no failure injected, yet no line", fail_at);
    long made = tn_testing_alloc_count() - seen0;
    tn_testing_fail_alloc_after(-1);
    cr_assert(client_cycle(loop, lfd, port, by_name, fail_at), "N=%ld: healthy cycle", fail_at);
    close(lfd);
    tn_test_settle(loop, 5);
    cr_assert_eq(tn_ioloop_close(loop, 0), 0, "N=%ld: %zu objects alive", fail_at,
                 tn_ioloop_alive_count(loop));
    return made;
}

static void client_sweep(int by_name)
{
    long total = client_session(-1, by_name);
    cr_assert_gt(total, 3);
    long n;
    for (n = 0; n < 10000; n++) {
        client_session(n, by_name);
        if (!last_hit && n >= total)
            break;
    }
    cr_assert_lt(n, 10000);
    cr_log_info("%s: %ld allocations, swept N = 0..%ld", by_name ? "tcpclient" : "connect", total,
                n);
    tn_testing_fail_alloc_after(-1);
}

Test(faults_oom, iostream_connect_every_allocation_fails_cleanly)
{
    client_sweep(0);
}

Test(faults_oom, tcpclient_connect_every_allocation_fails_cleanly)
{
    client_sweep(1);
}
