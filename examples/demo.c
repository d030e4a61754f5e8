/* The tornuv demo site (the README's main command):
 *
 *   demo [--port N] [--address A] [--static DIR] [--access-log]
 *        [--header-timeout MS] [--body-timeout MS] [--write-timeout MS]
 *        [--idle-timeout MS] [--certfile FILE --keyfile FILE] [--workers N]
 *
 * Serves the pages of demo_app.h on http://127.0.0.1:8888/ by default.
 * SIGINT or SIGTERM stops it: waiting chat polls are answered, in-flight
 * requests get up to two seconds, then the loop closes. --workers N (default
 * 1) serves from N loops on N threads on the one port, each with its own
 * application; the chat is shared by all of them (demo_app.h guards it). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "demo_app.h"
#include "serve_workers.h"

#ifndef TN_DEMO_STATIC_DIR
#define TN_DEMO_STATIC_DIR "examples/static"
#endif

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
    demo_chat_close();
    if (tn_httpserver_close_all_connections(server, 2000, on_closed, loop) != 0)
        tn_ioloop_stop(loop);
}

/* ---- --workers N: an application and a server per worker loop ---- */

#define MAX_WORKERS 64

typedef struct {
    const char *static_dir, *secret;
    const char *certfile, *keyfile; /* HTTPS: each worker builds its own context */
    tn_httpserver_options_t opts;
    tn_app_t *apps[MAX_WORKERS];
    tn_httpserver_t *servers[MAX_WORKERS];
    tn_tls_context_t *tls[MAX_WORKERS];
} demo_workers_t;

static void on_worker_server_freed(void *arg)
{
    tn_app_free(arg);
}

static int worker_start(tn_worker_t *w, void *arg)
{
    demo_workers_t *d = arg;
    unsigned i = tn_worker_index(w);
    tn_httpserver_options_t o = d->opts;
    int err = 0;
    /* A TLS context serves one loop thread (it counts its users without
     * locks): each worker loads the certificate itself. */
    if (d->certfile != NULL) {
        tn_tls_options_t to = {.certfile = d->certfile, .keyfile = d->keyfile};
        if ((err = tn_tls_context_new_server(&to, &d->tls[i])) != 0)
            return err;
        o.ssl_options = d->tls[i];
    }
    if ((err = demo_app_new(d->static_dir, d->secret, &d->apps[i])) != 0)
        goto fail;
    o.request_cb = tn_app_request_cb;
    o.request_arg = d->apps[i];
    if ((err = tn_httpserver_new(tn_worker_loop(w), &o, &d->servers[i])) != 0) {
        tn_app_free(d->apps[i]);
        goto fail;
    }
    if ((err = tn_worker_listen_http(w, d->servers[i])) != 0) {
        tn_httpserver_free(d->servers[i], on_worker_server_freed, d->apps[i]);
        goto fail;
    }
    return 0;
fail:
    tn_tls_context_free(d->tls[i]);
    d->tls[i] = NULL;
    return err;
}

static void worker_stop(tn_worker_t *w, void *arg)
{
    demo_workers_t *d = arg;
    unsigned i = tn_worker_index(w);
    demo_chat_close(); /* this loop's waiting polls, and its place in the chat */
    tn_httpserver_free(d->servers[i], on_worker_server_freed, d->apps[i]);
    tn_tls_context_free(d->tls[i]); /* its streams hold their own references */
    d->tls[i] = NULL;
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1", *static_dir = TN_DEMO_STATIC_DIR;
    const char *certfile = NULL, *keyfile = NULL;
    int port = 8888, access_log = 0, nworkers = 1;
    tn_httpserver_options_t opts = {0};
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--port") == 0 && next) {
            port = atoi(next);
            i++;
        } else if (strcmp(argv[i], "--address") == 0 && next) {
            address = next;
            i++;
        } else if (strcmp(argv[i], "--static") == 0 && next) {
            static_dir = next;
            i++;
        } else if (strcmp(argv[i], "--certfile") == 0 && next) {
            certfile = next;
            i++;
        } else if (strcmp(argv[i], "--keyfile") == 0 && next) {
            keyfile = next;
            i++;
        } else if (strcmp(argv[i], "--access-log") == 0) {
            access_log = 1;
        } else if (strcmp(argv[i], "--header-timeout") == 0 && next) {
            opts.header_timeout_ms = strtoull(next, NULL, 10);
            i++;
        } else if (strcmp(argv[i], "--body-timeout") == 0 && next) {
            opts.body_timeout_ms = strtoull(next, NULL, 10);
            i++;
        } else if (strcmp(argv[i], "--write-timeout") == 0 && next) {
            opts.write_timeout_ms = strtoull(next, NULL, 10);
            i++;
        } else if (strcmp(argv[i], "--idle-timeout") == 0 && next) {
            opts.idle_timeout_ms = strtoull(next, NULL, 10);
            i++;
        } else if (strcmp(argv[i], "--workers") == 0 && next && atoi(next) >= 1 &&
                   atoi(next) <= MAX_WORKERS) {
            nworkers = atoi(next);
            i++;
        } else {
            fprintf(
                stderr,
                "usage: %s [--port N] [--address A] [--static DIR] [--access-log]\n"
                "          [--header-timeout MS] [--body-timeout MS] [--write-timeout MS]\n"
                "          [--idle-timeout MS] [--certfile FILE --keyfile FILE] [--workers N]\n",
                argv[0]);
            return 2;
        }
    }
    if (port < 0 || port > 65535 || (certfile == NULL) != (keyfile == NULL)) {
        fprintf(stderr, "demo: bad port, or --certfile without --keyfile\n");
        return 2;
    }
    /* With a certificate the demo serves HTTPS only. */
    tn_tls_context_t *tls = NULL;
    if (certfile != NULL) {
        tn_tls_options_t to = {.certfile = certfile, .keyfile = keyfile};
        int terr = tn_tls_context_new_server(&to, &tls);
        if (terr != 0) {
            fprintf(stderr, "demo: %s, %s: %s\n", certfile, keyfile, tn_strerror(terr));
            return 1;
        }
        opts.ssl_options = tls;
    }
    /* A per-run secret: signed cookies stay valid while the process lives. */
    char secret[64];
    srand((unsigned)time(NULL) ^ (unsigned)port);
    snprintf(secret, sizeof secret, "demo-%lx-%x-%x", (long)time(NULL), rand(), rand());

    if (access_log) /* the application logs each request at INFO */
        tn_log_set_level(TN_LOG_INFO);
    if (nworkers > 1) {
        static demo_workers_t d;
        d.static_dir = static_dir;
        d.secret = secret;
        d.certfile = certfile;
        d.keyfile = keyfile;
        d.opts = opts;
        d.opts.ssl_options = NULL;
        int wrc = example_serve_workers("demo", tls ? "https" : "http", worker_start, worker_stop,
                                        &d, port, address, (unsigned)nworkers);
        tn_tls_context_free(tls);
        return wrc;
    }
    tn_ioloop_t *loop;
    tn_app_t *app;
    tn_httpserver_t *server;
    int err = tn_ioloop_new(&loop);
    if (err == 0)
        err = demo_app_new(static_dir, secret, &app);
    if (err != 0) {
        fprintf(stderr, "demo: %s\n", tn_strerror(err));
        return 1;
    }
    err = tn_app_listen(app, loop, port, address, &opts, &server);
    if (err != 0) {
        fprintf(stderr, "demo: listen on %s:%d: %s\n", address, port, tn_strerror(err));
        tn_app_free(app);
        tn_ioloop_close(loop, TN_CLOSE_ALL_FDS);
        return 1;
    }
    tn_ioloop_add_signal_handler(loop, SIGINT, on_signal, server);
#ifdef SIGTERM
    tn_ioloop_add_signal_handler(loop, SIGTERM, on_signal, server);
#endif
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("demo: serving %s://%s:%d/ (static files from %s)\n", tls ? "https" : "http", address,
           tn_httpserver_port(server), static_dir);
    tn_ioloop_start(loop);
    printf("demo: stopping\n");
    tn_httpserver_free(server, NULL, NULL);
    int rc = tn_ioloop_close(loop, TN_CLOSE_ALL_FDS);
    tn_app_free(app);
    tn_tls_context_free(tls);
    return rc == 0 ? 0 : 1;
}
