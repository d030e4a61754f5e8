/* wss://: websocket_connect over TLS against tn_websocket_handler on an
 * HTTPS server (test certificates generated at run time), and the
 * certificate check refusing a server the client does not trust. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop_util.h"
#include "tls_certs.h"
#include "tornuv.h"

TestSuite(websocket_tls, .timeout = 60);

static int server_closes, server_code;

static void s_message(tn_websocket_t *ws, int binary, const char *d, size_t n)
{
    (void)tn_websocket_write_message(ws, d, n, binary, NULL, NULL);
}

static void s_close(tn_websocket_t *ws, int code, const char *reason, size_t n)
{
    (void)ws;
    (void)reason;
    (void)n;
    server_closes++;
    server_code = code;
}

static const tn_websocket_compression_t z = {.level = 1};

static const tn_websocket_compression_t *s_deflate(tn_handler_t *h, void *state)
{
    (void)h;
    (void)state;
    return &z;
}

static const tn_websocket_class_t echo_cls = {
    .name = "echo",
    .on_message = s_message,
    .on_close = s_close,
    .get_compression_options = s_deflate,
};

typedef struct {
    tn_ioloop_t *loop;
    tn_websocket_t *ws;
    int status, msgs, closes, code;
    size_t last_len;
    int last_ok;
    char *expect;
} cli_t;

static void c_message(tn_websocket_t *ws, int binary, const char *d, size_t n, void *arg)
{
    cli_t *c = arg;
    (void)ws;
    c->msgs++;
    c->last_len = n;
    c->last_ok = binary && memcmp(d, c->expect, n) == 0;
    tn_ioloop_stop(c->loop);
}

static void c_close(tn_websocket_t *ws, int code, const char *reason, size_t n, void *arg)
{
    cli_t *c = arg;
    (void)ws;
    (void)reason;
    (void)n;
    c->closes++;
    c->code = code;
    c->ws = NULL;
    tn_ioloop_stop(c->loop);
}

static void on_connect(tn_websocket_t *ws, int status, void *arg)
{
    cli_t *c = arg;
    c->status = status;
    c->ws = ws;
    tn_ioloop_stop(c->loop);
}

static void on_freed(void *arg)
{
    tn_ioloop_stop(arg);
}

typedef struct {
    tn_ioloop_t *loop;
    tn_app_t *app;
    tn_httpserver_t *srv;
    tn_tls_context_t *sctx;
    int port;
} env_t;

static void env_start(env_t *e)
{
    memset(e, 0, sizeof *e);
    server_closes = server_code = 0;
    const tn_test_certs_t *k = tn_test_certs();
    tn_tls_options_t so = {.cert_pem = k->cert, .key_pem = k->key};
    cr_assert_eq(tn_tls_context_new_server(&so, &e->sctx), 0);
    e->loop = tn_test_loop_new();
    cr_assert_eq(tn_app_new(NULL, &e->app), 0);
    cr_assert_eq(
        tn_app_add_route(e->app, NULL, "/ws/echo", &tn_websocket_handler, (void *)&echo_cls, NULL),
        0);
    tn_httpserver_options_t ho = {0};
    ho.ssl_options = e->sctx;
    cr_assert_eq(tn_app_listen(e->app, e->loop, 0, "127.0.0.1", &ho, &e->srv), 0);
    e->port = tn_httpserver_port(e->srv);
}

static void env_done(env_t *e)
{
    tn_httpserver_free(e->srv, on_freed, e->loop);
    tn_test_run(e->loop, 5000);
    tn_app_free(e->app);
    tn_tls_context_free(e->sctx);
    tn_test_close(e->loop, 0);
}

Test(websocket_tls, wss_echo_with_compression)
{
    env_t e;
    env_start(&e);
    char path[512], url[128];
    tn_tls_options_t co = {.ca_file = tn_test_cert_path("ca.pem", path, sizeof path)};
    tn_tls_context_t *cctx;
    cr_assert_eq(tn_tls_context_new_client(&co, &cctx), 0);
    cli_t c = {.loop = e.loop};
    tn_websocket_connect_options_t o = {0};
    o.events.on_message = c_message;
    o.events.on_close = c_close;
    o.arg = &c;
    o.tls = cctx;
    o.server_hostname = "localhost";
    o.compression = &z;
    snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws/echo", e.port);
    cr_assert_eq(tn_websocket_connect(e.loop, url, &o, on_connect, &c), 0);
    tn_tls_context_free(cctx); /* the connection keeps its own reference */
    tn_test_run(e.loop, 10000);
    cr_assert_eq(c.status, 0, "%s", tn_strerror(c.status));
    cr_assert_eq(tn_websocket_compressed(c.ws), 1);
    size_t n = 1 << 20;
    c.expect = malloc(n);
    for (size_t i = 0; i < n; i++)
        c.expect[i] = (char)(i * 7 / 5);
    cr_assert_eq(tn_websocket_write_message(c.ws, c.expect, n, 1, NULL, NULL), 0);
    tn_test_run(e.loop, 10000);
    cr_assert_eq(c.msgs, 1);
    cr_assert_eq(c.last_len, n);
    cr_assert(c.last_ok);
    cr_assert_eq(tn_websocket_close(c.ws, 1000, "tls done"), 0);
    tn_test_run(e.loop, 10000);
    cr_assert_eq(c.closes, 1);
    cr_assert_eq(c.code, 1000);
    free(c.expect);
    env_done(&e);
    cr_assert_eq(server_closes, 1);
    cr_assert_eq(server_code, 1000);
}

Test(websocket_tls, untrusted_server_is_refused)
{
    env_t e;
    env_start(&e);
    char path[512], url[128];
    /* a CA that signed nothing the server has */
    tn_tls_options_t co = {.ca_file = tn_test_cert_path("other_ca.pem", path, sizeof path)};
    tn_tls_context_t *cctx;
    cr_assert_eq(tn_tls_context_new_client(&co, &cctx), 0);
    cli_t c = {.loop = e.loop};
    tn_websocket_connect_options_t o = {0};
    o.arg = &c;
    o.tls = cctx;
    snprintf(url, sizeof url, "wss://localhost:%d/ws/echo", e.port);
    cr_assert_eq(tn_websocket_connect(e.loop, url, &o, on_connect, &c), 0);
    tn_test_run(e.loop, 10000);
    cr_assert_eq(c.status, TN_ETLSVERIFY, "%s", tn_strerror(c.status));
    cr_assert_null(c.ws);
    tn_tls_context_free(cctx);
    env_done(&e);
    cr_assert_eq(server_closes, 0);
}
