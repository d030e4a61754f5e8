/* Client streams: tn_iostream_connect (numeric) and tn_tcpclient_connect
 * (resolving, Happy Eyeballs, timeout), over loopback only. */
#include <criterion/criterion.h>
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

#include "../shim/tcpclient_internal.h"
#include "loop_util.h"
#include "net_peer.h"
#include "tornuv.h"

TestSuite(tcpclient, .timeout = 60);

typedef struct {
    tn_ioloop_t *loop;
    tn_iostream_t *stream;
    int calls;
    int status;
    int closes;
    int close_error;
    int connected_before_write;
    int write_status;
    int writes;
    int stop_on_connect;
    int stop_on_close;
    double at_ms;
} client_t;

static void on_client_close(tn_iostream_t *s, void *arg)
{
    client_t *c = arg;
    c->closes++;
    c->close_error = tn_iostream_error(s);
    if (c->stop_on_close)
        tn_ioloop_stop(c->loop);
}

static void on_connected(tn_iostream_t *s, int status, void *arg)
{
    client_t *c = arg;
    c->calls++;
    c->status = status;
    c->stream = s;
    c->at_ms = tn_test_now_ms();
    if (c->stop_on_connect)
        tn_ioloop_stop(c->loop);
}

/* ---- tn_iostream_connect ------------------------------------------------- */

/* tornado: iostream_test TestIOStreamMixin test_connection_refused */
Test(tcpclient, connect_refused_reports_the_real_cause)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    client_t c = {.loop = loop, .stop_on_close = 1};
    tn_iostream_t *s = NULL;
    cr_assert_eq(tn_iostream_connect(loop, "127.0.0.1", tn_test_closed_port(AF_INET), NULL,
                                     on_connected, &c, &s),
                 0);
    cr_assert_not_null(s);
    tn_iostream_set_close_callback(s, on_client_close, &c);
    cr_assert_eq(c.calls, 0, "callback ran inside the starter");
    tn_test_run(loop, 5000);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(c.status, UV_ECONNREFUSED, "got %s", tn_err_name(c.status));
    cr_assert_eq(c.stream, s);
    tn_test_settle(loop, 10);
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(c.close_error, UV_ECONNREFUSED);
    cr_assert_eq(c.calls, 1);
    tn_test_close(loop, 0);
}

Test(tcpclient, connect_bad_address)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    client_t c = {.loop = loop};
    cr_assert_eq(tn_iostream_connect(loop, "localhost", 80, NULL, on_connected, &c, NULL),
                 TN_EINVAL);
    cr_assert_eq(tn_iostream_connect(loop, "127.0.0.1", 0, NULL, on_connected, &c, NULL),
                 TN_EINVAL);
    cr_assert_eq(tn_iostream_connect(loop, "::1", 70000, NULL, on_connected, &c, NULL), TN_EINVAL);
    cr_assert_eq(tn_tcpclient_connect(loop, NULL, 80, 0, NULL, on_connected, &c), TN_EINVAL);
    tn_test_settle(loop, 5);
    cr_assert_eq(c.calls, 0);
    tn_test_close(loop, 0);
}

static void on_written_check_order(tn_iostream_t *s, int status, void *arg)
{
    client_t *c = arg;
    c->writes++;
    c->write_status = status;
    c->connected_before_write = c->calls == 1;
    c->stop_on_close = 1;
    tn_iostream_close(s);
}

/* tornado: iostream_test TestIOStreamMixin test_write_while_connecting */
static void write_while_connecting(int family, const char *ip)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int port;
    int lfd = tn_test_raw_listener(family, 16, &port);
    client_t c = {.loop = loop};
    tn_iostream_t *s = NULL;
    cr_assert_eq(tn_iostream_connect(loop, ip, port, NULL, on_connected, &c, &s), 0);
    tn_iostream_set_close_callback(s, on_client_close, &c);
    cr_assert_eq(tn_iostream_write(s, "hello\n", 6, on_written_check_order, &c), 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(c.status, 0);
    cr_assert_eq(c.write_status, 0);
    cr_assert_eq(c.connected_before_write, 1, "write completed before connect");
    int afd = accept(lfd, NULL, NULL);
    cr_assert_geq(afd, 0);
    char buf[16];
    cr_assert_eq(recv(afd, buf, sizeof(buf), MSG_WAITALL), 6);
    cr_assert_eq(memcmp(buf, "hello\n", 6), 0);
    tn_test_close_fd(afd);
    tn_test_close_fd(lfd);
    cr_assert_eq(c.closes, 1);
    tn_test_close(loop, 0);
}

Test(tcpclient, write_while_connecting_ipv4)
{
    write_while_connecting(AF_INET, "127.0.0.1");
}

Test(tcpclient, write_while_connecting_ipv6)
{
    write_while_connecting(AF_INET6, "::1");
}

Test(tcpclient, close_while_connecting)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int port;
    int lfd = tn_test_raw_listener(AF_INET, 16, &port);
    client_t c = {.loop = loop, .stop_on_close = 1};
    tn_iostream_t *s = NULL;
    cr_assert_eq(tn_iostream_connect(loop, "127.0.0.1", port, NULL, on_connected, &c, &s), 0);
    tn_iostream_set_close_callback(s, on_client_close, &c);
    tn_iostream_close(s);
    tn_test_run(loop, 5000);
    tn_test_settle(loop, 10);
    cr_assert_eq(c.calls, 1);
    cr_assert_neq(c.status, 0);
    cr_assert_eq(c.closes, 1);
    tn_test_close_fd(lfd);
    tn_test_close(loop, 0);
}

/* ---- tn_tcpclient_connect ------------------------------------------------ */

Test(tcpclient, resolves_and_connects)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int port;
    int lfd = tn_test_raw_listener(AF_INET, 16, &port);
    client_t c = {.loop = loop, .stop_on_connect = 1};
    cr_assert_eq(tn_tcpclient_connect(loop, "localhost", port, 5000, NULL, on_connected, &c), 0);
    cr_assert_eq(c.calls, 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(c.status, 0, "got %s", tn_err_name(c.status));
    cr_assert_not_null(c.stream);
    char ip[64];
    int rport;
    cr_assert_eq(tn_iostream_remote_address(c.stream, ip, sizeof(ip), &rport), 0);
    cr_assert_str_eq(ip, "127.0.0.1");
    cr_assert_eq(rport, port);
    tn_iostream_close(c.stream);
    tn_test_settle(loop, 10);
    tn_test_close_fd(lfd);
    tn_test_close(loop, 0);
}

Test(tcpclient, refused_after_resolving)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    client_t c = {.loop = loop, .stop_on_connect = 1};
    cr_assert_eq(tn_tcpclient_connect(loop, "127.0.0.1", tn_test_closed_port(AF_INET), 5000, NULL,
                                      on_connected, &c),
                 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(c.status, UV_ECONNREFUSED, "got %s", tn_err_name(c.status));
    cr_assert_null(c.stream);
    tn_test_settle(loop, 10);
    tn_test_close(loop, 0);
}

/* tornado: iostream_test TestIOStreamMixin test_gaierror */
Test(tcpclient, resolver_error_is_reported)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    client_t c = {.loop = loop, .stop_on_connect = 1};
    /* An empty name is refused by libuv's resolver front end (no network
     * query happens; any name that reaches getaddrinfo could go to DNS, which
     * tests never contact). The error still arrives through the callback,
     * later, like any resolver failure. */
    cr_assert_eq(tn_tcpclient_connect(loop, "", 80, 5000, NULL, on_connected, &c), 0);
    cr_assert_eq(c.calls, 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(c.status, UV_EINVAL, "got %s", tn_err_name(c.status));
    cr_assert_null(c.stream);
    tn_test_settle(loop, 10);
    tn_test_close(loop, 0);
}

/* ---- timeout, deterministic: the resolver cannot run ---------------------- */

static uv_sem_t gate;

static void block_pool(void *arg)
{
    (void)arg;
    uv_sem_wait(&gate);
}

static void on_blocker_done(tn_ioloop_t *loop, int status, void *arg)
{
    int *n = arg;
    (void)loop;
    (void)status;
    (*n)++;
}

Test(tcpclient, timeout_while_resolving)
{
    enum { BLOCKERS = 130 };
    tn_ioloop_t *loop = tn_test_loop_new();
    int done = 0;
    cr_assert_eq(uv_sem_init(&gate, 0), 0);
    /* Occupy every thread-pool thread (libuv caps the pool at 1024, the
     * default is 4): the resolver request queues behind them. */
    for (int i = 0; i < BLOCKERS; i++)
        cr_assert_eq(tn_ioloop_run_in_executor(loop, block_pool, on_blocker_done, &done), 0);
    client_t c = {.loop = loop, .stop_on_connect = 1};
    double t0 = tn_test_now_ms();
    cr_assert_eq(tn_tcpclient_connect(loop, "localhost", 80, 100, NULL, on_connected, &c), 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(c.status, TN_ETIMEOUT, "got %s", tn_err_name(c.status));
    cr_assert_geq(c.at_ms - t0, 90.0);
    for (int i = 0; i < BLOCKERS; i++)
        uv_sem_post(&gate);
    for (int i = 0; i < 100 && done < BLOCKERS; i++)
        tn_test_settle(loop, 20);
    cr_assert_eq(done, BLOCKERS);
    tn_test_settle(loop, 10);
    cr_assert_eq(c.calls, 1);
    tn_test_close(loop, 0);
    uv_sem_destroy(&gate);
}

Test(tcpclient, loop_close_completes_pending_connect)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    cr_assert_eq(uv_sem_init(&gate, 0), 0);
    int done = 0;
    for (int i = 0; i < 130; i++)
        cr_assert_eq(tn_ioloop_run_in_executor(loop, block_pool, on_blocker_done, &done), 0);
    client_t c = {.loop = loop};
    cr_assert_eq(tn_tcpclient_connect(loop, "localhost", 80, 0, NULL, on_connected, &c), 0);
    tn_test_settle(loop, 20);
    cr_assert_eq(c.calls, 0);
    for (int i = 0; i < 130; i++)
        uv_sem_post(&gate);
    cr_assert_eq(tn_ioloop_close(loop, TN_CLOSE_ALL_FDS), 0);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(c.status, TN_ECLOSED, "got %s", tn_err_name(c.status));
    uv_sem_destroy(&gate);
}

/* ---- Happy Eyeballs ------------------------------------------------------ */

static struct sockaddr_storage make_addr(int family, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET6)
        uv_ip6_addr("::1", port, (struct sockaddr_in6 *)&ss);
    else
        uv_ip4_addr("127.0.0.1", port, (struct sockaddr_in *)&ss);
    return ss;
}

Test(tcpclient, primary_failure_starts_secondary_at_once)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int port4;
    int lfd = tn_test_raw_listener(AF_INET, 16, &port4);
    /* Primary (first address) is IPv6 where nobody listens; the secondary
     * delay is 10 s, so a quick success proves the failure started it. */
    struct sockaddr_storage a6 = make_addr(AF_INET6, tn_test_closed_port(AF_INET6));
    struct sockaddr_storage a4 = make_addr(AF_INET, port4);
    const struct sockaddr *addrs[] = {(struct sockaddr *)&a6, (struct sockaddr *)&a4};
    client_t c = {.loop = loop, .stop_on_connect = 1};
    double t0 = tn_test_now_ms();
    cr_assert_eq(tn__tcpclient_connect_addrs(loop, addrs, 2, 10000, 5000, NULL, on_connected, &c),
                 0);
    cr_assert_eq(c.calls, 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(c.status, 0, "got %s", tn_err_name(c.status));
    cr_assert_lt(c.at_ms - t0, 2000.0);
    char ip[64];
    int port;
    cr_assert_eq(tn_iostream_remote_address(c.stream, ip, sizeof(ip), &port), 0);
    cr_assert_str_eq(ip, "127.0.0.1");
    tn_iostream_close(c.stream);
    tn_test_settle(loop, 10);
    tn_test_close_fd(lfd);
    tn_test_close(loop, 0);
}

Test(tcpclient, primary_success_never_starts_secondary)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int port4, port6;
    int lfd4 = tn_test_raw_listener(AF_INET, 16, &port4);
    int lfd6 = tn_test_raw_listener(AF_INET6, 16, &port6);
    struct sockaddr_storage a4 = make_addr(AF_INET, port4);
    struct sockaddr_storage a6 = make_addr(AF_INET6, port6);
    const struct sockaddr *addrs[] = {(struct sockaddr *)&a4, (struct sockaddr *)&a6};
    client_t c = {.loop = loop, .stop_on_connect = 1};
    cr_assert_eq(tn__tcpclient_connect_addrs(loop, addrs, 2, 200, 5000, NULL, on_connected, &c), 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(c.status, 0);
    /* Past the secondary delay: it must not have started. */
    tn_test_settle(loop, 400);
    cr_assert_eq(c.calls, 1);
    cr_assert_lt(tn_test_accept_nowait(lfd6), 0, "the secondary family connected");
    tn_iostream_close(c.stream);
    tn_test_settle(loop, 10);
    tn_test_close_fd(lfd4);
    tn_test_close_fd(lfd6);
    tn_test_close(loop, 0);
}

Test(tcpclient, every_address_failing_reports_the_last_error)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    struct sockaddr_storage a[3] = {make_addr(AF_INET, tn_test_closed_port(AF_INET)),
                                    make_addr(AF_INET6, tn_test_closed_port(AF_INET6)),
                                    make_addr(AF_INET, tn_test_closed_port(AF_INET))};
    const struct sockaddr *addrs[] = {(struct sockaddr *)&a[0], (struct sockaddr *)&a[1],
                                      (struct sockaddr *)&a[2]};
    client_t c = {.loop = loop, .stop_on_connect = 1};
    cr_assert_eq(tn__tcpclient_connect_addrs(loop, addrs, 3, 300, 5000, NULL, on_connected, &c), 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(c.status, UV_ECONNREFUSED, "got %s", tn_err_name(c.status));
    tn_test_settle(loop, 10);
    tn_test_close(loop, 0);
}
