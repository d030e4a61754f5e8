/* HTTPServer with a request callback (Tornado's HTTPServer(handle_request)):
 *
 *   hello_http [--port N] [--address A] [--max-header-size N]
 *              [--max-body-size N] [--header-timeout MS] [--body-timeout MS]
 *              [--write-timeout MS] [--idle-timeout MS]
 *              [--no-keep-alive] [--xheaders] [--access-log] [--workers N]
 *              [--certfile FILE --keyfile FILE]
 *
 * GET and HEAD on any path answer 200 "Hello, world"; POST and PUT answer
 * "Got N bytes"; other methods get 405. Listens on 127.0.0.1:8888 by
 * default; with a certificate and key (PEM) it serves HTTPS only
 * (scripts/devcert.sh makes a local pair). SIGINT or SIGTERM stops it: no new connections,
 * in-flight requests get up to two seconds to finish, then the loop closes.
 * --workers N (default 1) serves from N loops on N threads, all accepting on
 * the one port (tornuv/workers.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_workers.h"
#include "tornuv.h"

static const char hello[] = "Hello, world";

static void on_request(tn_http_request_t *req, void *arg)
{
    size_t mlen;
    const char *m = tn_http_request_method(req, &mlen);
    (void)arg;
    if ((mlen == 3 && memcmp(m, "GET", 3) == 0) || (mlen == 4 && memcmp(m, "HEAD", 4) == 0)) {
        tn_http_response_send(req, 200, "text/plain", hello, sizeof hello - 1);
    } else if ((mlen == 4 && memcmp(m, "POST", 4) == 0) ||
               (mlen == 3 && memcmp(m, "PUT", 3) == 0)) {
        char body[64];
        size_t n;
        tn_http_request_body(req, &n);
        int k = snprintf(body, sizeof body, "Got %zu bytes", n);
        tn_http_response_send(req, 200, "text/plain", body, (size_t)k);
    } else {
        tn_http_response_send(req, 405, "text/plain", "Method Not Allowed", 18);
    }
}

static void on_access(const tn_http_access_t *e, void *arg)
{
    (void)arg;
    printf("%d %.*s %.*s (%s) %.2fms\n", e->status, (int)e->method_len, e->method, (int)e->uri_len,
           e->uri, e->remote_ip, (double)e->duration_us / 1000.0);
}

static void on_closed(tn_httpserver_t *server, int status, void *arg)
{
    (void)server;
    (void)status;
    tn_ioloop_stop(arg);
}

static void on_signal(tn_ioloop_t *loop, int signum, void *arg)
{
    tn_httpserver_t *server = arg;
    (void)signum;
    tn_httpserver_stop(server);
    if (tn_httpserver_close_all_connections(server, 2000, on_closed, loop) != 0)
        tn_ioloop_stop(loop);
}

/* ---- --workers N: one server per worker loop ---- */

#define MAX_WORKERS 64
static tn_httpserver_t *worker_servers[MAX_WORKERS];

/* A TLS context serves one loop thread: each worker builds its own from the
 * same files (the contexts count their users without locks). */
static const char *worker_certfile, *worker_keyfile;
static tn_tls_context_t *worker_tls[MAX_WORKERS];

static int worker_start(tn_worker_t *w, void *arg)
{
    unsigned i = tn_worker_index(w);
    tn_httpserver_options_t o = *(const tn_httpserver_options_t *)arg;
    int err = 0;
    if (worker_certfile != NULL) {
        tn_tls_options_t to = {.certfile = worker_certfile, .keyfile = worker_keyfile};
        if ((err = tn_tls_context_new_server(&to, &worker_tls[i])) != 0)
            return err;
        o.ssl_options = worker_tls[i];
    }
    err = tn_httpserver_new(tn_worker_loop(w), &o, &worker_servers[i]);
    if (err == 0 && (err = tn_worker_listen_http(w, worker_servers[i])) != 0)
        tn_httpserver_free(worker_servers[i], NULL, NULL);
    if (err != 0) {
        tn_tls_context_free(worker_tls[i]);
        worker_tls[i] = NULL;
    }
    return err;
}

static void worker_stop(tn_worker_t *w, void *arg)
{
    unsigned i = tn_worker_index(w);
    (void)arg;
    tn_httpserver_free(worker_servers[i], NULL, NULL);
    tn_tls_context_free(worker_tls[i]); /* its streams hold their own references */
    worker_tls[i] = NULL;
}

static int number(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!s || !*s)
        return -1;
    v = strtoull(s, &end, 10);
    if (*end)
        return -1;
    *out = v;
    return 0;
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--port N] [--address A] [--max-header-size N] [--max-body-size N]\n"
            "          [--header-timeout MS] [--body-timeout MS] [--write-timeout MS]\n"
            "          [--idle-timeout MS] [--no-keep-alive] [--workers N]\n"
            "          [--xheaders] [--access-log] [--certfile FILE --keyfile FILE]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    tn_httpserver_options_t opts;
    const char *address = "127.0.0.1", *certfile = NULL, *keyfile = NULL;
    tn_tls_context_t *tls = NULL;
    uint64_t port = 8888, v, nworkers = 1;
    tn_ioloop_t *loop;
    tn_httpserver_t *server;

    memset(&opts, 0, sizeof opts);
    opts.request_cb = on_request;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-keep-alive") == 0) {
            opts.no_keep_alive = 1;
        } else if (strcmp(a, "--xheaders") == 0) {
            opts.xheaders = 1;
        } else if (strcmp(a, "--access-log") == 0) {
            opts.access_log = on_access;
        } else if (strcmp(a, "--address") == 0 && next) {
            address = next;
            i++;
        } else if (strcmp(a, "--certfile") == 0 && next) {
            certfile = next;
            i++;
        } else if (strcmp(a, "--keyfile") == 0 && next) {
            keyfile = next;
            i++;
        } else if (number(next, &v) != 0) {
            return usage(argv[0]);
        } else if (strcmp(a, "--port") == 0 && v <= 65535) {
            port = v;
            i++;
        } else if (strcmp(a, "--max-header-size") == 0) {
            opts.max_header_size = (size_t)v;
            i++;
        } else if (strcmp(a, "--max-body-size") == 0) {
            opts.max_body_size = v;
            i++;
        } else if (strcmp(a, "--header-timeout") == 0) {
            opts.header_timeout_ms = v;
            i++;
        } else if (strcmp(a, "--body-timeout") == 0) {
            opts.body_timeout_ms = v;
            i++;
        } else if (strcmp(a, "--write-timeout") == 0) {
            opts.write_timeout_ms = v;
            i++;
        } else if (strcmp(a, "--idle-timeout") == 0) {
            opts.idle_timeout_ms = v;
            i++;
        } else if (strcmp(a, "--workers") == 0 && v >= 1 && v <= MAX_WORKERS) {
            nworkers = v;
            i++;
        } else {
            return usage(argv[0]);
        }
    }
    if ((certfile == NULL) != (keyfile == NULL))
        return usage(argv[0]);
    if (certfile != NULL) {
        tn_tls_options_t to = {.certfile = certfile, .keyfile = keyfile};
        int terr = tn_tls_context_new_server(&to, &tls);
        if (terr != 0) {
            fprintf(stderr, "hello_http: %s, %s: %s\n", certfile, keyfile, tn_strerror(terr));
            return 1;
        }
        opts.ssl_options = tls;
    }
    if (nworkers > 1) {
        worker_certfile = certfile;
        worker_keyfile = keyfile;
        int wrc = example_serve_workers("hello_http", tls ? "https" : "http", worker_start,
                                        worker_stop, &opts, (int)port, address, (unsigned)nworkers);
        tn_tls_context_free(tls);
        return wrc;
    }
    int err = tn_ioloop_new(&loop);
    if (err == 0)
        err = tn_httpserver_new(loop, &opts, &server);
    if (err != 0) {
        fprintf(stderr, "hello_http: %s\n", tn_strerror(err));
        return 1;
    }
    err = tn_httpserver_listen(server, (int)port, address);
    if (err != 0) {
        fprintf(stderr, "hello_http: listen on %s:%d: %s\n", address, (int)port, tn_strerror(err));
        tn_httpserver_free(server, NULL, NULL);
        tn_ioloop_close(loop, TN_CLOSE_ALL_FDS);
        return 1;
    }
    tn_ioloop_add_signal_handler(loop, SIGINT, on_signal, server);
#ifdef SIGTERM
    tn_ioloop_add_signal_handler(loop, SIGTERM, on_signal, server);
#endif
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("hello_http: listening on %s://%s:%d/\n", tls ? "https" : "http", address,
           tn_httpserver_port(server));
    fflush(stdout);
    tn_ioloop_start(loop);
    printf("hello_http: stopping\n");
    fflush(stdout);
    tn_httpserver_free(server, NULL, NULL);
    int rc = tn_ioloop_close(loop, TN_CLOSE_ALL_FDS) == 0 ? 0 : 1;
    tn_tls_context_free(tls);
    return rc;
}
