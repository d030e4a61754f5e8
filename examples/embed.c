/* Embedding tornuv in a program that owns its libuv loop:
 *
 *   embed [port]
 *
 * The host runs its own uv_loop_t with its own work: a timer counting
 * seconds, and a plain TCP service on port+1 that greets each client with
 * one line. It attaches tornuv to that loop and serves the demo site's pages
 * (/hello among them) on port (default 8888) next to its own handles. On
 * SIGINT the host frees the HTTP server, detaches tornuv, closes its own
 * handles, and uv_loop_close() returns 0: nothing of tornuv is left behind.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "demo_app.h"
#include "tornuv/uv.h"

typedef struct {
    uv_loop_t uv;
    uv_timer_t tick;
    uv_tcp_t service;
    uv_signal_t sigint;
    unsigned seconds, greeted;
    tn_ioloop_t *tn;
    tn_app_t *app;
    tn_httpserver_t *http;
} host_t;

/* ---- the host's own work ------------------------------------------------ */

static void on_tick(uv_timer_t *t)
{
    host_t *h = t->data;
    h->seconds++;
}

typedef struct {
    uv_write_t req;
    uv_tcp_t conn;
} greet_t;

static void on_conn_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static void on_greeted(uv_write_t *req, int status)
{
    greet_t *g = req->data;
    (void)status;
    uv_close((uv_handle_t *)&g->conn, on_conn_closed);
}

static void on_service(uv_stream_t *server, int status)
{
    host_t *h = server->data;
    static const char line[] = "hello from the host's own service\n";
    if (status < 0)
        return;
    greet_t *g = malloc(sizeof *g);
    if (!g)
        return;
    uv_tcp_init(&h->uv, &g->conn);
    g->conn.data = g;
    g->req.data = g;
    if (uv_accept(server, (uv_stream_t *)&g->conn) != 0) {
        uv_close((uv_handle_t *)&g->conn, on_conn_closed);
        return;
    }
    h->greeted++;
    uv_buf_t b = uv_buf_init((char *)line, sizeof line - 1);
    if (uv_write(&g->req, (uv_stream_t *)&g->conn, &b, 1, on_greeted) != 0)
        uv_close((uv_handle_t *)&g->conn, on_conn_closed);
}

/* ---- shutdown: tornuv first, then the host's handles -------------------- */

static void on_detached(void *arg)
{
    host_t *h = arg;
    h->tn = NULL;
    tn_app_free(h->app);
    h->app = NULL;
    uv_close((uv_handle_t *)&h->tick, NULL);
    uv_close((uv_handle_t *)&h->service, NULL);
    uv_close((uv_handle_t *)&h->sigint, NULL);
}

static void on_http_freed(void *arg)
{
    host_t *h = arg;
    h->http = NULL;
    if (tn_ioloop_detach(h->tn, on_detached, h) != 0)
        on_detached(h);
}

static void on_sigint(uv_signal_t *s, int signum)
{
    host_t *h = s->data;
    (void)signum;
    uv_signal_stop(s);
    demo_chat_close();
    printf("embed: detaching tornuv (host ran %u s, greeted %u clients)\n", h->seconds, h->greeted);
    tn_httpserver_free(h->http, on_http_freed, h);
}

int main(int argc, char **argv)
{
    host_t h = {0};
    int port = argc > 1 ? atoi(argv[1]) : 8888;
    struct sockaddr_in addr;
    if (port <= 0 || port >= 65535) {
        fprintf(stderr, "usage: %s [port]\n", argv[0]);
        return 2;
    }
    /* The host's loop and handles. */
    uv_loop_init(&h.uv);
    uv_timer_init(&h.uv, &h.tick);
    h.tick.data = &h;
    uv_timer_start(&h.tick, on_tick, 1000, 1000);
    uv_tcp_init(&h.uv, &h.service);
    h.service.data = &h;
    uv_ip4_addr("127.0.0.1", port + 1, &addr);
    int err = uv_tcp_bind(&h.service, (const struct sockaddr *)&addr, 0);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&h.service, 128, on_service);
    if (err != 0) {
        fprintf(stderr, "embed: host service on 127.0.0.1:%d: %s\n", port + 1, uv_strerror(err));
        return 1;
    }
    uv_signal_init(&h.uv, &h.sigint);
    h.sigint.data = &h;
    uv_signal_start(&h.sigint, on_sigint, SIGINT);

    /* tornuv as a guest on the same loop. */
    err = tn_ioloop_attach(&h.uv, &h.tn);
    if (err == 0)
        err = demo_app_new(NULL, "embed-demo-secret", &h.app);
    if (err == 0)
        err = tn_app_listen(h.app, h.tn, port, "127.0.0.1", NULL, &h.http);
    if (err != 0) {
        fprintf(stderr, "embed: %s\n", tn_strerror(err));
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("embed: tornuv serves http://127.0.0.1:%d/hello, the host greets on port %d\n", port,
           port + 1);
    uv_run(&h.uv, UV_RUN_DEFAULT);
    err = uv_loop_close(&h.uv);
    printf("embed: uv_loop_close: %s\n", err == 0 ? "0 (clean)" : uv_err_name(err));
    return err == 0 ? 0 : 1;
}
