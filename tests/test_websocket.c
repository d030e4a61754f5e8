/* websocket_connect against tn_websocket_handler over loopback: echo of
 * every size class, close codes both ways, pings, limits, subprotocols and
 * compression; and the client against servers that misbehave (a wrong
 * accept value, no upgrade, silence, no Close reply). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop_util.h"
#include "net_peer.h"
#include "tornuv.h"
#include "websocket_proto.h"

TestSuite(websocket, .timeout = 60);

/* ---- server side ---------------------------------------------------------- */

typedef struct {
    int opens, closes, code, pongs, pings;
    char reason[128];
} srv_stats_t;

static srv_stats_t ss;

static void s_open(tn_websocket_t *ws, const tn_strview_t *args, size_t n)
{
    ss.opens++;
    if (n == 1) /* /ws/closer/CODE: close at once with that code */
        cr_assert_eq(tn_websocket_close(ws, atoi(args[0].base), "bye"), 0);
}

static void s_message(tn_websocket_t *ws, int binary, const char *d, size_t n)
{
    (void)tn_websocket_write_message(ws, d, n, binary, NULL, NULL);
}

static void s_ping(tn_websocket_t *ws, const char *d, size_t n)
{
    (void)ws;
    ss.pings++;
    cr_assert(n == 2 && memcmp(d, "hi", 2) == 0);
}

static void s_pong(tn_websocket_t *ws, const char *d, size_t n)
{
    (void)ws;
    (void)d;
    (void)n;
    ss.pongs++;
}

static void s_close(tn_websocket_t *ws, int code, const char *reason, size_t n)
{
    (void)ws;
    ss.closes++;
    ss.code = code;
    snprintf(ss.reason, sizeof ss.reason, "%.*s", (int)n, reason);
}

static int pick_second(tn_handler_t *h, void *state, const tn_strview_t *offered, size_t n)
{
    (void)h;
    (void)state;
    return n >= 2 ? 1 : -1;
}

static const tn_websocket_compression_t srv_deflate = {.level = 6, .no_context_takeover = 1};

static const tn_websocket_compression_t *s_deflate(tn_handler_t *h, void *state)
{
    (void)h;
    (void)state;
    return &srv_deflate;
}

static const tn_websocket_class_t echo_cls = {
    .name = "echo",
    .open = s_open,
    .on_message = s_message,
    .on_ping = s_ping,
    .on_pong = s_pong,
    .on_close = s_close,
    .select_subprotocol = pick_second,
    .get_compression_options = s_deflate,
};

static const tn_websocket_class_t small_cls = {
    .name = "small",
    .settings = {.max_message_size = 1000},
    .on_message = s_message,
    .on_close = s_close,
};

static const tn_websocket_class_t pinger_cls = {
    .name = "pinger",
    .settings = {.ping_interval_ms = 30, .ping_timeout_ms = 2000},
    .on_pong = s_pong,
    .on_close = s_close,
};

typedef struct {
    tn_ioloop_t *loop;
    tn_app_t *app;
    tn_httpserver_t *srv;
    int port;
} env_t;

static void env_start(env_t *e)
{
    memset(e, 0, sizeof *e);
    memset(&ss, 0, sizeof ss);
    e->loop = tn_test_loop_new();
    cr_assert_eq(tn_app_new(NULL, &e->app), 0);
    cr_assert_eq(
        tn_app_add_route(e->app, NULL, "/ws/echo", &tn_websocket_handler, (void *)&echo_cls, NULL),
        0);
    cr_assert_eq(tn_app_add_route(e->app, NULL, "/ws/closer/(\\d+)", &tn_websocket_handler,
                                  (void *)&echo_cls, NULL),
                 0);
    cr_assert_eq(tn_app_add_route(e->app, NULL, "/ws/small", &tn_websocket_handler,
                                  (void *)&small_cls, NULL),
                 0);
    cr_assert_eq(tn_app_add_route(e->app, NULL, "/ws/pinger", &tn_websocket_handler,
                                  (void *)&pinger_cls, NULL),
                 0);
    cr_assert_eq(tn_app_listen(e->app, e->loop, 0, "127.0.0.1", NULL, &e->srv), 0);
    e->port = tn_httpserver_port(e->srv);
}

static void on_srv_freed(void *arg)
{
    tn_ioloop_stop(arg);
}

static void env_done(env_t *e)
{
    tn_httpserver_free(e->srv, on_srv_freed, e->loop);
    tn_test_run(e->loop, 5000);
    tn_app_free(e->app);
    tn_test_close(e->loop, 0);
}

/* ---- client side ---------------------------------------------------------- */

typedef struct {
    tn_ioloop_t *loop;
    tn_websocket_t *ws;
    int status;
    int connected;
    int msgs;
    char *last;
    size_t last_len;
    int last_binary;
    int closes, code;
    char reason[128];
    int pongs;
    int stop_on_message;
    int writes_done;
    double closed_at;
} cli_t;

static void c_message(tn_websocket_t *ws, int binary, const char *d, size_t n, void *arg)
{
    cli_t *c = arg;
    (void)ws;
    c->msgs++;
    free(c->last);
    c->last = malloc(n + 1);
    memcpy(c->last, d, n);
    c->last_len = n;
    c->last_binary = binary;
    if (c->stop_on_message)
        tn_ioloop_stop(c->loop);
}

static void c_pong(tn_websocket_t *ws, const char *d, size_t n, void *arg)
{
    cli_t *c = arg;
    (void)ws;
    cr_assert(n == 2 && memcmp(d, "hi", 2) == 0);
    c->pongs++;
    tn_ioloop_stop(c->loop);
}

static void c_close(tn_websocket_t *ws, int code, const char *reason, size_t n, void *arg)
{
    cli_t *c = arg;
    cr_assert_eq(ws, c->ws);
    c->closes++;
    c->code = code;
    c->closed_at = tn_test_now_ms();
    snprintf(c->reason, sizeof c->reason, "%.*s", (int)n, reason);
    c->ws = NULL;
    tn_ioloop_stop(c->loop);
}

static void on_connect(tn_websocket_t *ws, int status, void *arg)
{
    cli_t *c = arg;
    c->connected++;
    c->status = status;
    c->ws = ws;
    cr_assert_eq(ws == NULL, status != 0);
    tn_ioloop_stop(c->loop);
}

static tn_websocket_connect_options_t cli_opts(cli_t *c)
{
    tn_websocket_connect_options_t o = {0};
    o.events.on_message = c_message;
    o.events.on_pong = c_pong;
    o.events.on_close = c_close;
    o.arg = c;
    return o;
}

static void connect_to(cli_t *c, tn_ioloop_t *loop, const char *url,
                       const tn_websocket_connect_options_t *o)
{
    memset(c, 0, sizeof *c);
    c->loop = loop;
    cr_assert_eq(tn_websocket_connect(loop, url, o, on_connect, c), 0);
    tn_test_run(loop, 10000);
    cr_assert_eq(c->connected, 1);
}

static void close_client(cli_t *c, int code, const char *reason)
{
    cr_assert_eq(tn_websocket_close(c->ws, code, reason), 0);
    tn_test_run(c->loop, 10000);
    cr_assert_eq(c->closes, 1);
}

static void url(char *buf, size_t cap, const env_t *e, const char *path)
{
    snprintf(buf, cap, "ws://127.0.0.1:%d%s", e->port, path);
}

/* ---- tests --------------------------------------------------------------- */

static void on_write_done(tn_websocket_t *ws, int status, void *arg)
{
    (void)ws;
    cr_assert_eq(status, 0);
    ((cli_t *)arg)->writes_done++;
}

Test(websocket, echo_sizes_and_close_both_ways)
{
    env_t e;
    env_start(&e);
    char u[128];
    url(u, sizeof u, &e, "/ws/echo");
    cli_t c;
    tn_websocket_connect_options_t o = cli_opts(&c);
    connect_to(&c, e.loop, u, &o);
    cr_assert_eq(c.status, 0);
    cr_assert_str_eq(tn_websocket_subprotocol(c.ws), "");
    cr_assert_eq(tn_websocket_compressed(c.ws), 0);
    c.stop_on_message = 1;
    static const size_t sizes[] = {0, 125, 126, 65535, 65536, 1 << 20};
    char *p = malloc(1 << 20);
    for (size_t i = 0; i < 6; i++) {
        for (int binary = 0; binary < 2; binary++) {
            size_t n = sizes[i];
            for (size_t k = 0; k < n; k++)
                p[k] = binary ? (char)(k * 13 + i) : (char)('a' + (k + i) % 26);
            cr_assert_eq(tn_websocket_write_message(c.ws, p, n, binary, on_write_done, &c), 0);
            tn_test_run(e.loop, 10000);
            cr_assert_eq(c.last_len, n);
            cr_assert_eq(c.last_binary, binary);
            cr_assert_eq(memcmp(c.last, p, n), 0, "size %zu", n);
        }
    }
    cr_assert_eq(c.msgs, 12);
    cr_assert_eq(c.writes_done, 12);
    cr_assert_eq(tn_websocket_buffered_amount(c.ws), 0);
    free(p);
    tn_websocket_t *ws = c.ws;
    close_client(&c, 1000, "done");
    (void)ws;
    cr_assert_eq(c.code, 1000); /* the server echoed our code */
    tn_test_settle(e.loop, 50);
    cr_assert_eq(ss.opens, 1);
    cr_assert_eq(ss.closes, 1);
    cr_assert_eq(ss.code, 1000);
    cr_assert_str_eq(ss.reason, "done");
    free(c.last);
    env_done(&e);
}

Test(websocket, server_close_code_reaches_the_client)
{
    env_t e;
    env_start(&e);
    char u[128];
    url(u, sizeof u, &e, "/ws/closer/4001");
    cli_t c;
    tn_websocket_connect_options_t o = cli_opts(&c);
    connect_to(&c, e.loop, u, &o);
    cr_assert_eq(c.status, 0);
    tn_test_run(e.loop, 10000);
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(c.code, 4001);
    cr_assert_str_eq(c.reason, "bye");
    tn_test_settle(e.loop, 50);
    cr_assert_eq(ss.closes, 1);
    cr_assert_eq(ss.code, 4001); /* the client echoed it */
    env_done(&e);
}

Test(websocket, write_after_close_fails_cleanly)
{
    env_t e;
    env_start(&e);
    char u[128];
    url(u, sizeof u, &e, "/ws/echo");
    cli_t c;
    tn_websocket_connect_options_t o = cli_opts(&c);
    connect_to(&c, e.loop, u, &o);
    cr_assert_eq(tn_websocket_close(c.ws, 1001, NULL), 0);
    cr_assert_eq(tn_websocket_closing(c.ws), 1);
    cr_assert_eq(tn_websocket_write_message(c.ws, "x", 1, 0, on_write_done, &c), TN_ECLOSED);
    cr_assert_eq(tn_websocket_ping(c.ws, NULL, 0), TN_ECLOSED);
    cr_assert_eq(tn_websocket_close(c.ws, 1000, NULL), TN_ECLOSED);
    tn_test_run(e.loop, 10000);
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(c.code, 1001);
    cr_assert_eq(c.writes_done, 0);
    env_done(&e);
}

Test(websocket, bad_close_arguments_send_nothing)
{
    env_t e;
    env_start(&e);
    char u[128];
    url(u, sizeof u, &e, "/ws/echo");
    cli_t c;
    tn_websocket_connect_options_t o = cli_opts(&c);
    connect_to(&c, e.loop, u, &o);
    cr_assert_eq(tn_websocket_close(c.ws, 1005, NULL), TN_EINVAL);
    cr_assert_eq(tn_websocket_close(c.ws, 1000, "\xff"), TN_EINVAL);
    cr_assert_eq(tn_websocket_ping(c.ws, "x", 126), TN_EINVAL);
    cr_assert_eq(tn_websocket_closing(c.ws), 0);
    close_client(&c, 0, NULL);
    cr_assert_eq(c.code, TN_WS_CLOSE_NO_STATUS);
    env_done(&e);
}

Test(websocket, ping_pong_both_ways)
{
    env_t e;
    env_start(&e);
    char u[128];
    url(u, sizeof u, &e, "/ws/echo");
    cli_t c;
    tn_websocket_connect_options_t o = cli_opts(&c);
    connect_to(&c, e.loop, u, &o);
    cr_assert_eq(tn_websocket_ping(c.ws, "hi", 2), 0);
    tn_test_run(e.loop, 10000);
    cr_assert_eq(c.pongs, 1);
    cr_assert_eq(ss.pings, 1);
    close_client(&c, 1000, NULL);
    env_done(&e);
}

Test(websocket, server_pings_on_an_interval)
{
    env_t e;
    env_start(&e);
    char u[128];
    url(u, sizeof u, &e, "/ws/pinger");
    cli_t c;
    tn_websocket_connect_options_t o = cli_opts(&c);
    connect_to(&c, e.loop, u, &o);
    tn_test_settle(e.loop, 250);
    cr_assert_geq(ss.pongs, 2, "pongs %d", ss.pongs); /* the client answered */
    cr_assert_eq(ss.closes, 0);
    close_client(&c, 1000, NULL);
    env_done(&e);
}

Test(websocket, message_size_limits_both_sides)
{
    env_t e;
    env_start(&e);
    char u[128];
    url(u, sizeof u, &e, "/ws/small");
    cli_t c;
    tn_websocket_connect_options_t o = cli_opts(&c);
    connect_to(&c, e.loop, u, &o);
    char big[1001];
    memset(big, 'b', sizeof big);
    cr_assert_eq(tn_websocket_write_message(c.ws, big, 1000, 0, NULL, NULL), 0);
    c.stop_on_message = 1;
    tn_test_run(e.loop, 10000);
    cr_assert_eq(c.last_len, 1000);
    cr_assert_eq(tn_websocket_write_message(c.ws, big, 1001, 0, NULL, NULL), 0);
    tn_test_run(e.loop, 10000);
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(c.code, 1009);
    cr_assert_eq(c.msgs, 1);
    free(c.last);
    env_done(&e);

    /* and the client's own limit */
    env_start(&e);
    url(u, sizeof u, &e, "/ws/echo");
    o = cli_opts(&c);
    o.settings.max_message_size = 100;
    connect_to(&c, e.loop, u, &o);
    cr_assert_eq(tn_websocket_write_message(c.ws, big, 101, 1, NULL, NULL), 0);
    tn_test_run(e.loop, 10000);
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(c.msgs, 0);
    tn_test_settle(e.loop, 50);
    cr_assert_eq(ss.code, 1009); /* the server got our 1009 */
    env_done(&e);
}

Test(websocket, subprotocol_headers_and_compression)
{
    env_t e;
    env_start(&e);
    char u[128];
    url(u, sizeof u, &e, "/ws/echo?x=1");
    cli_t c;
    tn_websocket_connect_options_t o = cli_opts(&c);
    static const char *const protos[] = {"v1.json", "v2.json", NULL};
    static const char *const hdrs[] = {"X-Token", "abc", NULL};
    static const tn_websocket_compression_t z = {.level = 9, .max_window_bits = 10};
    o.subprotocols = protos;
    o.headers = hdrs;
    o.compression = &z;
    connect_to(&c, e.loop, u, &o);
    cr_assert_eq(c.status, 0);
    cr_assert_str_eq(tn_websocket_subprotocol(c.ws), "v2.json");
    cr_assert_eq(tn_websocket_compressed(c.ws), 1);
    c.stop_on_message = 1;
    char msg[20000];
    for (int round = 0; round < 3; round++) {
        for (size_t k = 0; k < sizeof msg; k++)
            msg[k] = (char)('a' + (k / 7 + (size_t)round) % 5);
        cr_assert_eq(tn_websocket_write_message(c.ws, msg, sizeof msg, 0, NULL, NULL), 0);
        tn_test_run(e.loop, 10000);
        cr_assert_eq(c.last_len, sizeof msg);
        cr_assert_eq(memcmp(c.last, msg, sizeof msg), 0);
    }
    close_client(&c, 1000, NULL);
    free(c.last);
    env_done(&e);
}

Test(websocket, connect_argument_errors)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    cli_t c = {0};
    tn_websocket_connect_options_t o = cli_opts(&c);
    static const char *const bad_urls[] = {"http://127.0.0.1/", "ws://",      "wss://",
                                           "ws://:80/",         "ws://h:0/",  "ws://h:99999/",
                                           "ws://h:8x/",        "ws://[::1/", "ws://h/a b"};
    for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++)
        cr_assert_eq(tn_websocket_connect(loop, bad_urls[i], &o, on_connect, &c), TN_EINVAL, "%s",
                     bad_urls[i]);
    static const char *const crlf[] = {"X-A", "1\r\nX-B: 2", NULL};
    o.headers = crlf;
    cr_assert_eq(tn_websocket_connect(loop, "ws://127.0.0.1:1/", &o, on_connect, &c), TN_EINVAL);
    static const char *const badname[] = {"X A", "1", NULL};
    o.headers = badname;
    cr_assert_eq(tn_websocket_connect(loop, "ws://127.0.0.1:1/", &o, on_connect, &c), TN_EINVAL);
    cr_assert_eq(c.connected, 0);
    tn_test_close(loop, 0);
}

/* ---- misbehaving servers ---------------------------------------------------- */

typedef struct {
    tn_ioloop_t *loop;
    int mode; /* 0 silent, 1 wrong accept, 2 plain 200, 3 101 then ignores Close */
    tn_iostream_t *conn;
} raw_t;

static void raw_head(tn_iostream_t *s, int status, const char *d, size_t n, void *arg)
{
    raw_t *r = arg;
    if (status != 0)
        return;
    char head[2048];
    cr_assert_lt(n, sizeof head);
    memcpy(head, d, n);
    head[n] = '\0';
    const char *k = strstr(head, "Sec-WebSocket-Key: ");
    cr_assert_not_null(k);
    char accept[TN__WS_ACCEPT_LEN + 1];
    cr_assert_eq(tn__ws_accept_value(k + 19, 24, accept), 0);
    if (r->mode == 1)
        accept[3] ^= 1;
    char resp[256];
    if (r->mode == 2)
        snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    else
        snprintf(resp, sizeof resp,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                 "Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                 accept);
    cr_assert_eq(tn_iostream_write(s, resp, strlen(resp), NULL, NULL), 0);
}

static void raw_close_cb(tn_iostream_t *s, void *arg)
{
    raw_t *r = arg;
    (void)s;
    r->conn = NULL;
}

static void raw_accept(tn_tcpserver_t *srv, tn_iostream_t *s, const char *ip, int port, void *arg)
{
    raw_t *r = arg;
    (void)srv;
    (void)ip;
    (void)port;
    r->conn = s;
    tn_iostream_set_close_callback(s, raw_close_cb, r);
    if (r->mode != 0)
        cr_assert_eq(tn_iostream_read_until(s, "\r\n\r\n", 4, 65536, raw_head, r), 0);
}

static tn_tcpserver_t *raw_server(raw_t *r, tn_ioloop_t *loop, int mode, int *port)
{
    memset(r, 0, sizeof *r);
    r->loop = loop;
    r->mode = mode;
    tn_tcpserver_options_t o = {0};
    o.handle_stream = raw_accept;
    o.arg = r;
    tn_tcpserver_t *srv;
    cr_assert_eq(tn_tcpserver_new(loop, &o, &srv), 0);
    cr_assert_eq(tn_tcpserver_listen(srv, 0, "127.0.0.1"), 0);
    *port = tn_tcpserver_port(srv);
    return srv;
}

static void raw_done(raw_t *r, tn_tcpserver_t *srv)
{
    if (r->conn)
        tn_iostream_close(r->conn);
    tn_tcpserver_free(srv, on_srv_freed, r->loop);
    tn_test_run(r->loop, 5000);
    tn_test_close(r->loop, 0);
}

Test(websocket, client_refuses_bad_handshakes)
{
    for (int mode = 1; mode <= 2; mode++) {
        tn_ioloop_t *loop = tn_test_loop_new();
        raw_t r;
        int port;
        tn_tcpserver_t *srv = raw_server(&r, loop, mode, &port);
        char u[64];
        snprintf(u, sizeof u, "ws://127.0.0.1:%d/", port);
        cli_t c;
        tn_websocket_connect_options_t o = cli_opts(&c);
        connect_to(&c, loop, u, &o);
        cr_assert_eq(c.status, TN_EHTTP, "mode %d: %d", mode, c.status);
        cr_assert_null(c.ws);
        raw_done(&r, srv);
    }
}

Test(websocket, connect_timeout_covers_the_handshake)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    raw_t r;
    int port;
    tn_tcpserver_t *srv = raw_server(&r, loop, 0, &port);
    char u[64];
    snprintf(u, sizeof u, "ws://127.0.0.1:%d/", port);
    cli_t c;
    tn_websocket_connect_options_t o = cli_opts(&c);
    o.connect_timeout_ms = 150;
    double t0 = tn_test_now_ms();
    connect_to(&c, loop, u, &o);
    double took = tn_test_now_ms() - t0;
    cr_assert_eq(c.status, TN_ETIMEOUT);
    cr_assert(took >= 100 && took < 3000, "took %.0f ms", took);
    raw_done(&r, srv);
}

Test(websocket, connection_refused)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    raw_t r;
    int port;
    tn_tcpserver_t *srv = raw_server(&r, loop, 0, &port);
    tn_tcpserver_free(srv, on_srv_freed, loop);
    tn_test_run(loop, 5000);
    char u[64];
    snprintf(u, sizeof u, "ws://127.0.0.1:%d/", port);
    cli_t c;
    tn_websocket_connect_options_t o = cli_opts(&c);
    connect_to(&c, loop, u, &o);
    cr_assert_lt(c.status, 0);
    cr_assert_neq(c.status, TN_ETIMEOUT);
    tn_test_close(loop, 0);
}

Test(websocket, close_timeout_when_the_peer_never_answers)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    raw_t r;
    int port;
    tn_tcpserver_t *srv = raw_server(&r, loop, 3, &port);
    char u[64];
    snprintf(u, sizeof u, "ws://127.0.0.1:%d/", port);
    cli_t c;
    tn_websocket_connect_options_t o = cli_opts(&c);
    o.settings.close_timeout_ms = 200;
    connect_to(&c, loop, u, &o);
    cr_assert_eq(c.status, 0);
    double t0 = tn_test_now_ms();
    cr_assert_eq(tn_websocket_close(c.ws, 1000, NULL), 0);
    tn_test_run(loop, 10000);
    double took = c.closed_at - t0;
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(c.code, TN_WS_CLOSE_ABNORMAL);
    cr_assert(took >= 150 && took < 3000, "took %.0f ms", took);
    raw_done(&r, srv);
}

Test(websocket, ping_timeout_closes_a_dead_peer)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    raw_t r;
    int port;
    tn_tcpserver_t *srv = raw_server(&r, loop, 3, &port);
    char u[64];
    snprintf(u, sizeof u, "ws://127.0.0.1:%d/", port);
    cli_t c;
    tn_websocket_connect_options_t o = cli_opts(&c);
    o.settings.ping_interval_ms = 40;
    o.settings.ping_timeout_ms = 150;
    connect_to(&c, loop, u, &o);
    cr_assert_eq(c.status, 0);
    double t0 = tn_test_now_ms();
    tn_test_run(loop, 10000);
    double took = c.closed_at - t0;
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(c.code, TN_WS_CLOSE_ABNORMAL);
    cr_assert(took >= 100 && took < 3000, "took %.0f ms", took);
    raw_done(&r, srv);
}
