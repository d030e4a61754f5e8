/* TCPServer and the uv_tcp transport over real loopback sockets: listening,
 * accepting, addresses, stop, and the stream semantics that only real
 * sockets show (flow control, resets, half-close, partial writes). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#endif

#include "loop_util.h"
#include "net_peer.h"
#include "tornuv.h"
#include "tornuv/uv.h"

TestSuite(tcp, .timeout = 60);

typedef struct {
    tn_ioloop_t *loop;
    tn_tcpserver_t *server;
    tn_iostream_t *conn;
    char ip[64];
    int port;
    int accepted;
    int closes;
    int stop_on_close;
    int stop_on_accept;
} server_ctx_t;

static void on_conn_close(tn_iostream_t *stream, void *arg)
{
    server_ctx_t *c = arg;
    (void)stream;
    c->closes++;
    if (c->stop_on_close)
        tn_ioloop_stop(c->loop);
}

static void record_stream(tn_tcpserver_t *server, tn_iostream_t *stream, const char *ip, int port,
                          void *arg)
{
    server_ctx_t *c = arg;
    (void)server;
    snprintf(c->ip, sizeof(c->ip), "%s", ip);
    c->port = port;
    c->accepted++;
    c->conn = stream;
    tn_iostream_set_close_callback(stream, on_conn_close, c);
    if (c->stop_on_accept)
        tn_ioloop_stop(c->loop);
}

static tn_tcpserver_t *new_server(tn_ioloop_t *loop, tn_handle_stream_cb cb, void *arg)
{
    tn_tcpserver_options_t opts;
    tn_tcpserver_t *server = NULL;
    memset(&opts, 0, sizeof(opts));
    opts.handle_stream = cb;
    opts.arg = arg;
    cr_assert_eq(tn_tcpserver_new(loop, &opts, &server), 0);
    return server;
}

static int local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* ---- listen, accept, addresses ------------------------------------------ */

/* Accepts one raw client; handle_stream sees the client's address. */
static void accept_one_family(int family, const char *address, const char *expect_ip)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    server_ctx_t c = {.loop = loop, .stop_on_accept = 1};
    c.server = new_server(loop, record_stream, &c);
    cr_assert_eq(tn_tcpserver_listen(c.server, 0, address), 0);
    int port = tn_tcpserver_port(c.server);
    cr_assert_gt(port, 0);
    int fd = tn_peer_connect(family, port, NULL);
    cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
    tn_test_run(loop, 5000);
    cr_assert_eq(c.accepted, 1);
    cr_assert_str_eq(c.ip, expect_ip);
    cr_assert_eq(c.port, local_port(fd));
    char ip[64];
    int rport = 0;
    cr_assert_eq(tn_iostream_remote_address(c.conn, ip, sizeof(ip), &rport), 0);
    cr_assert_str_eq(ip, expect_ip);
    cr_assert_eq(rport, c.port);
    /* The peer leaves: the idle stream notices once it has a close callback. */
    tn_test_close_fd(fd);
    c.stop_on_close = 1;
    tn_test_run(loop, 5000);
    cr_assert_eq(c.closes, 1);
    tn_test_free_server(loop, c.server);
    tn_test_close(loop, 0);
}

/* tornado: tcpserver_test TCPServerTest test_handle_stream_coroutine_logging (accept path) */
Test(tcp, accept_ipv4)
{
    accept_one_family(AF_INET, "127.0.0.1", "127.0.0.1");
}

Test(tcp, accept_ipv6)
{
    accept_one_family(AF_INET6, "::1", "::1");
}

/* tornado: netutil_test TestPortAllocation test_same_port_allocation */
Test(tcp, localhost_binds_every_family_on_one_port)
{
    /* "localhost" takes the same multi-address path as a NULL address (one
     * socket per resolved address, the first's port reused) without binding
     * a wildcard address in a test. Here it resolves to 127.0.0.1 at least;
     * ::1 is bound too when the resolver lists it. */
    tn_ioloop_t *loop = tn_test_loop_new();
    server_ctx_t c = {.loop = loop, .stop_on_accept = 1};
    c.server = new_server(loop, record_stream, &c);
    cr_assert_eq(tn_tcpserver_listen(c.server, 0, "localhost"), 0);
    int port = tn_tcpserver_port(c.server);
    cr_assert_gt(port, 0);
    int fd = tn_peer_connect(AF_INET, port, NULL);
    cr_assert_geq(fd, 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(c.accepted, 1);
    tn_iostream_close(c.conn);
    tn_test_close_fd(fd);
    tn_test_free_server(loop, c.server);
    tn_test_close(loop, 0);
}

Test(tcp, two_families_share_an_ephemeral_port)
{
    /* Explicit version of the port-reuse rule: IPv4 on port 0, then IPv6 on
     * the port it got, IPV6_V6ONLY keeping them apart. */
    tn_ioloop_t *loop = tn_test_loop_new();
    server_ctx_t c = {.loop = loop, .stop_on_accept = 1};
    c.server = new_server(loop, record_stream, &c);
    cr_assert_eq(tn_tcpserver_listen(c.server, 0, "127.0.0.1"), 0);
    int port = tn_tcpserver_port(c.server);
    cr_assert_eq(tn_tcpserver_listen(c.server, port, "::1"), 0);
    int fd6 = tn_peer_connect(AF_INET6, port, NULL);
    cr_assert_geq(fd6, 0);
    tn_test_run(loop, 5000);
    cr_assert_str_eq(c.ip, "::1");
    int fd4 = tn_peer_connect(AF_INET, port, NULL);
    cr_assert_geq(fd4, 0);
    tn_test_run(loop, 5000);
    cr_assert_str_eq(c.ip, "127.0.0.1");
    cr_assert_eq(c.accepted, 2);
    tn_test_close_fd(fd4);
    tn_test_close_fd(fd6);
    tn_test_free_server(loop, c.server);
    tn_test_close(loop, TN_CLOSE_ALL_FDS);
}

Test(tcp, address_in_use)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    server_ctx_t c = {.loop = loop};
    tn_tcpserver_t *a = new_server(loop, record_stream, &c);
    tn_tcpserver_t *b = new_server(loop, record_stream, &c);
    cr_assert_eq(tn_tcpserver_listen(a, 0, "127.0.0.1"), 0);
    int err = tn_tcpserver_listen(b, tn_tcpserver_port(a), "127.0.0.1");
    cr_assert_eq(err, UV_EADDRINUSE, "got %s", tn_err_name(err));
    cr_assert_eq(tn_tcpserver_port(b), 0);
    tn_test_free_server(loop, a);
    tn_test_free_server(loop, b);
    tn_test_close(loop, 0);
}

Test(tcp, bad_arguments)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    server_ctx_t c = {.loop = loop};
    tn_tcpserver_options_t opts;
    tn_tcpserver_t *s = NULL;
    memset(&opts, 0, sizeof(opts));
    cr_assert_eq(tn_tcpserver_new(loop, &opts, &s), TN_EINVAL);
    s = new_server(loop, record_stream, &c);
    cr_assert_eq(tn_tcpserver_listen(s, -1, "127.0.0.1"), TN_EINVAL);
    cr_assert_eq(tn_tcpserver_listen(s, 65536, "127.0.0.1"), TN_EINVAL);
    /* A socket that is not listening is refused and left to the caller. */
    int fd = (int)socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(tn_tcpserver_add_socket(s, fd), TN_EINVAL);
    tn_test_close_fd(fd);
    tn_tcpserver_stop(s);
    tn_tcpserver_stop(s);
    cr_assert_eq(tn_tcpserver_listen(s, 0, "127.0.0.1"), TN_EINVAL);
    tn_test_free_server(loop, s);
    tn_test_close(loop, 0);
}

/* tornado: tcpserver_test TCPServerTest test_stop_twice */
Test(tcp, stop_twice_then_free)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    server_ctx_t c = {.loop = loop};
    tn_tcpserver_t *s = new_server(loop, record_stream, &c);
    cr_assert_eq(tn_tcpserver_listen(s, 0, "127.0.0.1"), 0);
    int port = tn_tcpserver_port(s);
    tn_tcpserver_stop(s);
    tn_tcpserver_stop(s);
    tn_test_settle(loop, 20);
    /* The listening socket is gone. */
    cr_assert_eq(tn_peer_connect(AF_INET, port, NULL), UV_ECONNREFUSED);
    tn_test_free_server(loop, s);
    tn_test_close(loop, 0);
}

Test(tcp, add_socket_accepts)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    server_ctx_t c = {.loop = loop, .stop_on_accept = 1};
    c.server = new_server(loop, record_stream, &c);
    int lfd = (int)socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(lfd, 16), 0);
    int port = local_port(lfd);
    cr_assert_eq(tn_tcpserver_add_socket(c.server, lfd), 0);
    cr_assert_eq(tn_tcpserver_port(c.server), port);
    int fd = tn_peer_connect(AF_INET, port, NULL);
    cr_assert_geq(fd, 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(c.accepted, 1);
    tn_test_close_fd(fd);
    tn_test_free_server(loop, c.server);
    tn_test_close(loop, TN_CLOSE_ALL_FDS);
}

#ifdef _WIN32
/* No SO_REUSEPORT on Windows: asking for it is refused up front. */
Test(tcp, reuse_port_is_not_supported)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    server_ctx_t c = {.loop = loop};
    tn_tcpserver_options_t opts;
    tn_tcpserver_t *a;
    memset(&opts, 0, sizeof(opts));
    opts.handle_stream = record_stream;
    opts.arg = &c;
    opts.reuse_port = 1;
    cr_assert_eq(tn_tcpserver_new(loop, &opts, &a), 0);
    cr_assert_eq(tn_tcpserver_listen(a, 0, "127.0.0.1"), TN_ENOTSUP);
    tn_test_free_server(loop, a);
    tn_test_close(loop, 0);
}
#else
Test(tcp, reuse_port_shares_a_port)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    server_ctx_t c = {.loop = loop};
    tn_tcpserver_options_t opts;
    tn_tcpserver_t *a, *b;
    memset(&opts, 0, sizeof(opts));
    opts.handle_stream = record_stream;
    opts.arg = &c;
    opts.reuse_port = 1;
    cr_assert_eq(tn_tcpserver_new(loop, &opts, &a), 0);
    cr_assert_eq(tn_tcpserver_new(loop, &opts, &b), 0);
    cr_assert_eq(tn_tcpserver_listen(a, 0, "127.0.0.1"), 0);
    cr_assert_eq(tn_tcpserver_listen(b, tn_tcpserver_port(a), "127.0.0.1"), 0);
    tn_test_free_server(loop, a);
    tn_test_free_server(loop, b);
    tn_test_close(loop, 0);
}
#endif

/* ---- stop inside handle_stream ------------------------------------------- */

typedef struct {
    tn_ioloop_t *loop;
    tn_tcpserver_t *server;
    int calls;
    int freeing;
} stopper_t;

static void on_stopper_close(tn_iostream_t *stream, void *arg)
{
    (void)stream;
    (void)arg;
}

static void on_freed_stop(void *arg)
{
    tn_ioloop_stop(arg);
}

static void stop_in_handle_stream(tn_tcpserver_t *server, tn_iostream_t *stream, const char *ip,
                                  int port, void *arg)
{
    stopper_t *st = arg;
    (void)ip;
    (void)port;
    st->calls++;
    if (st->freeing)
        tn_tcpserver_free(server, on_freed_stop, st->loop);
    else
        tn_tcpserver_stop(server);
    tn_iostream_set_close_callback(stream, on_stopper_close, st);
    tn_iostream_close(stream);
}

/* tornado: tcpserver_test TCPServerTest test_stop_in_callback */
static void stop_in_callback(int freeing)
{
    enum { N = 20 };
    tn_ioloop_t *loop = tn_test_loop_new();
    stopper_t st = {.loop = loop, .freeing = freeing};
    tn_tcpserver_t *server = new_server(loop, stop_in_handle_stream, &st);
    st.server = server;
    cr_assert_eq(tn_tcpserver_listen(server, 0, "127.0.0.1"), 0);
    int port = tn_tcpserver_port(server);
    int fds[N];
    /* All connected (in the backlog) before the loop runs, so libuv accepts
     * them in one batch and the stop lands mid-batch. */
    for (int i = 0; i < N; i++) {
        fds[i] = tn_peer_connect(AF_INET, port, NULL);
        cr_assert_geq(fds[i], 0);
    }
    if (freeing)
        tn_test_run(loop, 5000);
    else
        tn_test_settle(loop, 100);
    cr_assert_eq(st.calls, 1);
    for (int i = 0; i < N; i++)
        tn_test_close_fd(fds[i]);
    if (!freeing)
        tn_test_free_server(loop, server);
    tn_test_settle(loop, 10);
    tn_test_close(loop, 0);
}

Test(tcp, stop_inside_handle_stream)
{
    stop_in_callback(0);
}

Test(tcp, free_inside_handle_stream)
{
    stop_in_callback(1);
}

/* ---- max_connections ----------------------------------------------------- */

typedef struct {
    tn_ioloop_t *loop;
    tn_iostream_t *streams[8];
    int n;
    int want;
} limit_ctx_t;

static void limit_accept(tn_tcpserver_t *server, tn_iostream_t *stream, const char *ip, int port,
                         void *arg)
{
    limit_ctx_t *lc = arg;
    (void)server;
    (void)ip;
    (void)port;
    lc->streams[lc->n++] = stream;
    if (lc->n == lc->want)
        tn_ioloop_stop(lc->loop);
}

Test(tcp, max_connections_pauses_and_resumes)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    limit_ctx_t lc = {.loop = loop, .want = 2};
    tn_tcpserver_options_t opts;
    tn_tcpserver_t *server;
    memset(&opts, 0, sizeof(opts));
    opts.handle_stream = limit_accept;
    opts.arg = &lc;
    opts.max_connections = 2;
    cr_assert_eq(tn_tcpserver_new(loop, &opts, &server), 0);
    cr_assert_eq(tn_tcpserver_listen(server, 0, "127.0.0.1"), 0);
    int port = tn_tcpserver_port(server);
    int fds[4];
    for (int i = 0; i < 4; i++)
        cr_assert_geq(fds[i] = tn_peer_connect(AF_INET, port, NULL), 0);
    tn_test_run(loop, 5000);
    tn_test_settle(loop, 100);
    cr_assert_eq(lc.n, 2, "accepted %d with max_connections 2", lc.n);
    cr_assert_eq(tn_tcpserver_connection_count(server), 2);
    /* One slot frees: exactly one more is accepted. */
    lc.want = 3;
    tn_iostream_close(lc.streams[0]);
    tn_test_run(loop, 5000);
    tn_test_settle(loop, 100);
    cr_assert_eq(lc.n, 3);
    lc.want = 4;
    tn_iostream_close(lc.streams[1]);
    tn_test_run(loop, 5000);
    cr_assert_eq(lc.n, 4);
    for (int i = 2; i < 4; i++)
        tn_iostream_close(lc.streams[i]);
    for (int i = 0; i < 4; i++)
        tn_test_close_fd(fds[i]);
    tn_test_free_server(loop, server);
    tn_test_settle(loop, 10);
    tn_test_close(loop, 0);
}

/* Descriptor exhaustion (RLIMIT_NOFILE, libuv's reserve fd) and descriptor
 * counting are POSIX notions: not on Windows (docs/WINDOWS.md). */
#ifndef _WIN32
/* ---- F15 / F16: out of file descriptors ----------------------------------- */

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int accept_log_lines;

static void count_accept_logs(int level, const char *message, void *arg)
{
    (void)level;
    (void)arg;
    if (strstr(message, "accept") != NULL)
        accept_log_lines++;
}

/* Lowers RLIMIT_NOFILE so that no new descriptor can be created. */
static struct rlimit exhaust_fds(void)
{
    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    int lowest = open("/dev/null", O_RDONLY);
    cr_assert_geq(lowest, 0);
    close(lowest);
    lim = old;
    lim.rlim_cur = (rlim_t)lowest;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
    cr_assert_lt(open("/dev/null", O_RDONLY), 0);
    return old;
}

/* Connects raw clients that were created before the limit was lowered. */
static void connect_prepared(int *fds, int n, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    a.sin_port = htons((uint16_t)port);
    for (int i = 0; i < n; i++)
        cr_assert_eq(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
}

/* Each excess client sees its connection end (EOF or reset). */
static void assert_dropped(int *fds, int n)
{
    for (int i = 0; i < n; i++) {
        char b;
        struct timeval tv = {5, 0};
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        ssize_t r = recv(fds[i], &b, 1, 0);
        cr_assert(r == 0 || (r < 0 && errno == ECONNRESET), "client %d: r=%zd errno=%d", i, r,
                  errno);
        tn_test_close_fd(fds[i]);
    }
}

static void emfile_scenario(int without_libuv_reserve)
{
    enum { N = 5 };
    tn_ioloop_t *loop = tn_test_loop_new();
    server_ctx_t c = {.loop = loop, .stop_on_accept = 1};
    c.server = new_server(loop, record_stream, &c);
    cr_assert_eq(tn_tcpserver_listen(c.server, 0, "127.0.0.1"), 0);
    int port = tn_tcpserver_port(c.server);
    accept_log_lines = 0;
    tn_log_set_handler(count_accept_logs, NULL);
    if (without_libuv_reserve) {
        /* F16: libuv's own reserve descriptor is gone, so libuv reports
         * UV_EMFILE to the server instead of absorbing it. */
        uv_loop_t *uv = tn_ioloop_uv(loop);
        cr_assert_geq(uv->emfile_fd, 0);
        close(uv->emfile_fd);
        uv->emfile_fd = -1;
    }
    int fds[N];
    for (int i = 0; i < N; i++)
        cr_assert_geq(fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
    struct rlimit old = exhaust_fds();
    connect_prepared(fds, N, port);
    double cpu0 = cpu_ms();
    tn_test_settle(loop, 300);
    double cpu_used = cpu_ms() - cpu0;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    cr_assert_eq(c.accepted, 0);
    /* No accept busy loop while saturated. */
    cr_assert_lt(cpu_used, 150.0, "%.1f ms of CPU in 300 ms", cpu_used);
    cr_assert_leq(accept_log_lines, 1, "%d accept log lines", accept_log_lines);
    if (without_libuv_reserve) {
        /* F16: the listener paused; the clients waited in the backlog and
         * are served once descriptors are back. */
        cr_assert_eq(accept_log_lines, 1);
        c.stop_on_accept = 0;
        tn_test_settle(loop, 800);
        cr_assert_eq(c.accepted, N);
        for (int i = 0; i < N; i++)
            tn_test_close_fd(fds[i]);
        c.accepted = 0;
        c.stop_on_accept = 1;
    } else {
        /* F15: libuv's reserve descriptor let it accept and drop them. */
        assert_dropped(fds, N);
    }
    /* Descriptors are back: the listener still works. */
    int fd = tn_peer_connect(AF_INET, port, NULL);
    cr_assert_geq(fd, 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(c.accepted, 1);
    tn_iostream_close(c.conn);
    tn_test_close_fd(fd);
    tn_log_set_handler(NULL, NULL);
    tn_test_free_server(loop, c.server);
    tn_test_settle(loop, 10);
    tn_test_close(loop, 0);
}

Test(tcp, emfile_with_libuv_reserve_drops_and_recovers)
{
    emfile_scenario(0);
}

Test(tcp, emfile_without_libuv_reserve_pauses_logs_once_and_recovers)
{
    emfile_scenario(1);
}

#endif /* !_WIN32 */

/* ---- teardown: close(all) and detach -------------------------------------- */

typedef struct {
    int closes;
    int detached;
} teardown_t;

static void on_teardown_close(tn_iostream_t *s, void *arg)
{
    (void)s;
    ((teardown_t *)arg)->closes++;
}

static void teardown_accept(tn_tcpserver_t *server, tn_iostream_t *stream, const char *ip, int port,
                            void *arg)
{
    (void)server;
    (void)ip;
    (void)port;
    tn_iostream_set_close_callback(stream, on_teardown_close, arg);
}

static void on_teardown_connected(tn_iostream_t *s, int status, void *arg)
{
    cr_assert_eq(status, 0);
    tn_iostream_set_close_callback(s, on_teardown_close, arg);
}

/* Listens, connects a client and accepts it, so the loop holds a server, a
 * connector-made stream and an accepted stream. */
static void live_objects(tn_ioloop_t *loop, teardown_t *td)
{
    tn_tcpserver_t *server = new_server(loop, teardown_accept, td);
    cr_assert_eq(tn_tcpserver_listen(server, 0, "127.0.0.1"), 0);
    cr_assert_eq(tn_iostream_connect(loop, "127.0.0.1", tn_tcpserver_port(server), NULL,
                                     on_teardown_connected, td, NULL),
                 0);
    tn_test_settle(loop, 50);
    cr_assert_geq(tn_ioloop_alive_count(loop), 3);
    cr_assert_eq(tn_ioloop_close(loop, 0), TN_EBUSY);
}

/* F25 */
Test(tcp, close_all_fds_closes_servers_and_streams)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    teardown_t td = {0};
    live_objects(loop, &td);
    cr_assert_eq(tn_ioloop_close(loop, TN_CLOSE_ALL_FDS), 0);
    cr_assert_eq(td.closes, 2);
}

static void on_detached(void *arg)
{
    ((teardown_t *)arg)->detached++;
}

Test(tcp, detach_closes_servers_and_streams)
{
    uv_loop_t uv;
    tn_ioloop_t *loop;
    teardown_t td = {0};
    cr_assert_eq(uv_loop_init(&uv), 0);
    cr_assert_eq(tn_ioloop_attach(&uv, &loop), 0);
    tn_tcpserver_t *server = new_server(loop, teardown_accept, &td);
    cr_assert_eq(tn_tcpserver_listen(server, 0, "127.0.0.1"), 0);
    cr_assert_eq(tn_iostream_connect(loop, "127.0.0.1", tn_tcpserver_port(server), NULL,
                                     on_teardown_connected, &td, NULL),
                 0);
    for (int i = 0; i < 50; i++)
        uv_run(&uv, UV_RUN_NOWAIT);
    cr_assert_eq(tn_ioloop_detach(loop, on_detached, &td), 0);
    for (int i = 0; i < 1000 && !td.detached; i++)
        uv_run(&uv, UV_RUN_ONCE);
    cr_assert_eq(td.detached, 1);
    cr_assert_eq(td.closes, 2);
    cr_assert_eq(uv_loop_close(&uv), 0);
}

#ifndef _WIN32
static int count_open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

Test(tcp, emfile_pause_repeats_quietly_and_free_while_paused_leaks_nothing)
{
    enum { N = 3 };
    tn_ioloop_t *loop = tn_test_loop_new();
    server_ctx_t c = {.loop = loop};
    c.server = new_server(loop, record_stream, &c);
    cr_assert_eq(tn_tcpserver_listen(c.server, 0, "127.0.0.1"), 0);
    int port = tn_tcpserver_port(c.server);
    uv_loop_t *uv = tn_ioloop_uv(loop);
    close(uv->emfile_fd);
    uv->emfile_fd = -1;
    accept_log_lines = 0;
    tn_log_set_handler(count_accept_logs, NULL);
    int fds[N];
    for (int i = 0; i < N; i++)
        cr_assert_geq(fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
    int before = count_open_fds();
    struct rlimit old = exhaust_fds();
    connect_prepared(fds, N, port);
    double cpu0 = cpu_ms();
    /* Several 500 ms pauses, each resume failing again. */
    tn_test_settle(loop, 1600);
    double cpu_used = cpu_ms() - cpu0;
    cr_assert_lt(cpu_used, 400.0, "%.1f ms of CPU in 1600 ms", cpu_used);
    cr_assert_geq(accept_log_lines, 1);
    cr_assert_leq(accept_log_lines, 2, "%d log lines in 1.6 s", accept_log_lines);
    cr_assert_eq(c.accepted, 0);
    tn_test_free_server(loop, c.server);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    tn_log_set_handler(NULL, NULL);
    for (int i = 0; i < N; i++)
        tn_test_close_fd(fds[i]);
    /* The listener (and its paused duplicate) is gone; only the reserve
     * descriptor may remain, which replaced libuv's closed one. */
    cr_assert_leq(count_open_fds(), before - N);
    tn_test_close(loop, 0);
}

/* ---- FAULTS #145: connect + reset storms ---------------------------------- */

typedef struct {
    tn_ioloop_t *loop;
    int accepted;
    int closed;
} storm_t;

static void on_storm_close(tn_iostream_t *s, void *arg)
{
    (void)s;
    ((storm_t *)arg)->closed++;
}

static void storm_accept(tn_tcpserver_t *server, tn_iostream_t *stream, const char *ip, int port,
                         void *arg)
{
    storm_t *st = arg;
    (void)server;
    (void)ip;
    (void)port;
    st->accepted++;
    tn_iostream_set_close_callback(stream, on_storm_close, st);
}

Test(tcp, reset_storm_leaks_no_descriptor)
{
    enum { ROUNDS = 20, PER_ROUND = 50 };
    tn_ioloop_t *loop = tn_test_loop_new();
    storm_t st = {.loop = loop};
    tn_tcpserver_t *server = new_server(loop, storm_accept, &st);
    cr_assert_eq(tn_tcpserver_listen(server, 0, "127.0.0.1"), 0);
    int port = tn_tcpserver_port(server);
    tn_test_settle(loop, 10);
    int baseline = count_open_fds();
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < PER_ROUND; i++) {
            int fd = tn_peer_connect(AF_INET, port, NULL);
            cr_assert_geq(fd, 0);
            struct linger lg = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            tn_test_close_fd(fd);
        }
        tn_test_settle(loop, 5);
    }
    for (int i = 0; i < 200 && st.closed < st.accepted; i++)
        tn_test_settle(loop, 10);
    /* Resets before accept are skipped; every accepted one closed once. */
    cr_assert_eq(st.closed, st.accepted);
    cr_assert_eq(tn_tcpserver_connection_count(server), 0);
    cr_assert_eq(count_open_fds(), baseline);
    /* Still serving. */
    int fd = tn_peer_connect(AF_INET, port, NULL);
    cr_assert_geq(fd, 0);
    int before = st.accepted;
    for (int i = 0; i < 200 && st.accepted == before; i++)
        tn_test_settle(loop, 5);
    cr_assert_eq(st.accepted, before + 1);
    tn_test_close_fd(fd);
    for (int i = 0; i < 200 && st.closed < st.accepted; i++)
        tn_test_settle(loop, 5);
    tn_test_free_server(loop, server);
    tn_test_close(loop, 0);
}
#endif /* !_WIN32 */
