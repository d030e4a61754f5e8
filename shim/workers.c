/* Workers (see workers.h): N threads, each running its own IOLoop with the
 * servers its on_start set up, all accepting on one port.
 *
 * Start: worker 0 runs first and binds (so a port the system picks is known),
 * then the others start together; tn_workers_start waits for every on_start
 * with a semaphore. The values worker 0 publishes (port, shared sockets) are
 * written before it posts the semaphore and read after the main thread
 * waited on it, and the other workers are created after that: no lock.
 *
 * Stop: the main loop posts a stop request to each worker loop
 * (tn_ioloop_add_callback is thread-safe). On its thread a worker stops its
 * servers accepting, closes their connections gracefully, runs on_stop (on
 * a later drain, outside any server callback), stops and closes its loop,
 * and as its very last act posts its end to the main loop, which joins the
 * thread once all have ended and reports on_stopped. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#ifdef _WIN32
#include <winsock2.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#endif

#include "httpserver_tcp.h"
#include "tcpserver_internal.h"
#include "tornuv/workers.h"

#define MAX_SERVERS 8
#define MAX_SHARED 16

struct tn_worker_s {
    tn_workers_t *ws;
    unsigned index;
    uv_thread_t thread;
    int thread_started;
    tn_ioloop_t *loop; /* written on the worker's thread before the semaphore */
    int start_status;
    int ended; /* main thread: its end was received */
    tn_httpserver_t *http[MAX_SERVERS];
    tn_tcpserver_t *tcp[MAX_SERVERS];
    unsigned nhttp, ntcp;
    unsigned closing; /* HTTP servers still closing their connections */
};

struct tn_workers_s {
    tn_ioloop_t *main;
    tn_workers_options_t opts;
    char *address;
    unsigned count;
    int mode; /* TN_WORKERS_REUSEPORT or TN_WORKERS_SHARED */
    tn_worker_t *workers;
    uv_sem_t ready;
    int port;
    uv_os_sock_t shared[MAX_SHARED]; /* SHARED: worker 0's sockets, duplicated */
    unsigned nshared;
    unsigned exited;
    int stop_requested;
    int failed_start; /* set before the stop requests of a failed start */
    int signals;
};

static int reuseport_available(void)
{
#if defined(__linux__) && defined(SO_REUSEPORT)
    return 1;
#else
    return 0;
#endif
}

static void close_sock(uv_os_sock_t s)
{
#ifdef _WIN32
    closesocket(s);
#else
    close(s);
#endif
}

/* A second descriptor of the same listening socket, for another loop. */
static int dup_sock(uv_os_sock_t s, uv_os_sock_t *out)
{
#ifdef _WIN32
    WSAPROTOCOL_INFOW info;
    if (WSADuplicateSocketW(s, GetCurrentProcessId(), &info) != 0)
        return uv_translate_sys_error(WSAGetLastError());
    SOCKET d = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0,
                          WSA_FLAG_OVERLAPPED);
    if (d == INVALID_SOCKET)
        return uv_translate_sys_error(WSAGetLastError());
    *out = d;
#else
    int d = fcntl(s, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        return uv_translate_sys_error(errno);
    *out = d;
#endif
    return 0;
}

/* ---- listening ----------------------------------------------------------- */

static int listen_shared(tn_worker_t *wk, tn_tcpserver_t *server)
{
    tn_workers_t *ws = wk->ws;
    if (wk->index == 0) {
        int err = tn_tcpserver_listen(server, ws->opts.port, ws->address);
        if (err != 0)
            return err;
        ws->port = tn_tcpserver_port(server);
        for (tn__listener_t *l = server->listeners; l && ws->nshared < MAX_SHARED; l = l->next) {
            uv_os_fd_t fd;
            uv_os_sock_t d = (uv_os_sock_t)-1;
            if (l->is_pipe || uv_fileno(&l->uv.handle, &fd) != 0)
                continue;
            if ((err = dup_sock((uv_os_sock_t)fd, &d)) != 0)
                return err;
            ws->shared[ws->nshared++] = d;
        }
        return 0;
    }
    for (unsigned i = 0; i < ws->nshared; i++) {
        uv_os_sock_t d = (uv_os_sock_t)-1;
        int err = dup_sock(ws->shared[i], &d);
        if (err == 0 && (err = tn_tcpserver_add_socket(server, (tn_socket_t)d)) == TN_EINVAL)
            close_sock(d);
        if (err != 0)
            return err;
    }
    return ws->nshared > 0 ? 0 : TN_EINVAL;
}

static int listen_common(tn_worker_t *wk, tn_tcpserver_t *server)
{
    tn_workers_t *ws = wk->ws;
    if (ws->mode == TN_WORKERS_SHARED)
        return listen_shared(wk, server);
    /* The option is read by listen; setting it here spares every caller
     * (and the HTTP server's options) a reuse_port flag of their own. */
    server->opts.reuse_port = 1;
    int err = tn_tcpserver_listen(server, wk->index == 0 ? ws->opts.port : ws->port, ws->address);
    if (err == 0 && wk->index == 0)
        ws->port = tn_tcpserver_port(server);
    return err;
}

int tn_worker_listen_tcp(tn_worker_t *worker, tn_tcpserver_t *server)
{
    if (!worker || !server || worker->ntcp == MAX_SERVERS)
        return TN_EINVAL;
    int err = listen_common(worker, server);
    if (err == 0)
        worker->tcp[worker->ntcp++] = server;
    return err;
}

int tn_worker_listen_http(tn_worker_t *worker, tn_httpserver_t *server)
{
    if (!worker || !server || worker->nhttp == MAX_SERVERS)
        return TN_EINVAL;
    int err = listen_common(worker, tn__httpserver_tcp(server));
    if (err == 0)
        worker->http[worker->nhttp++] = server;
    return err;
}

tn_ioloop_t *tn_worker_loop(const tn_worker_t *worker)
{
    return worker->loop;
}

unsigned tn_worker_index(const tn_worker_t *worker)
{
    return worker->index;
}

/* ---- stopping (worker threads) ---------------------------------------- */

static void finish_stop(tn_ioloop_t *loop, void *arg)
{
    tn_worker_t *wk = arg;
    if (wk->ws->opts.on_stop)
        wk->ws->opts.on_stop(wk, wk->ws->opts.arg);
    tn_ioloop_stop(loop);
}

static void on_http_closed(tn_httpserver_t *server, int status, void *arg)
{
    tn_worker_t *wk = arg;
    (void)server;
    (void)status;
    if (--wk->closing == 0 && tn_ioloop_add_callback(wk->loop, finish_stop, wk) != 0)
        finish_stop(wk->loop, wk);
}

static void on_stop_request(tn_ioloop_t *loop, void *arg)
{
    tn_worker_t *wk = arg;
    for (unsigned i = 0; i < wk->ntcp; i++)
        tn_tcpserver_stop(wk->tcp[i]);
    wk->closing = 1; /* held until every server was asked */
    for (unsigned i = 0; i < wk->nhttp; i++) {
        tn_httpserver_stop(wk->http[i]);
        wk->closing++;
        if (tn_httpserver_close_all_connections(wk->http[i], wk->ws->opts.grace_ms, on_http_closed,
                                                wk) != 0)
            wk->closing--;
    }
    if (--wk->closing == 0)
        finish_stop(loop, wk);
}

/* ---- the worker thread ------------------------------------------------- */

static void on_worker_end(tn_ioloop_t *main, void *arg);

static void worker_main(void *arg)
{
    tn_worker_t *wk = arg;
    tn_workers_t *ws = wk->ws;
    tn_ioloop_t *loop = NULL;
    int err = tn_ioloop_new(&loop);
    if (err == 0) {
        tn_ioloop_make_current(loop);
        wk->loop = loop;
        err = ws->opts.on_start(wk, ws->opts.arg);
    }
    wk->start_status = err;
    uv_sem_post(&ws->ready);
    if (loop == NULL)
        return;
    if (err == 0)
        tn_ioloop_start(loop);
    if (tn_ioloop_close(loop, TN_CLOSE_ALL_FDS) != 0)
        tn_log(TN_LOG_ERROR, "worker %u: its loop did not close", wk->index);
    tn_ioloop_make_current(NULL);
    /* Read after the loop stopped: a failed start set it before asking this
     * worker to stop, and then joins the thread instead of listening. */
    if (!ws->failed_start && err == 0 && tn_ioloop_add_callback(ws->main, on_worker_end, wk) != 0)
        tn_log(TN_LOG_ERROR, "worker %u: the main loop is gone", wk->index);
}

static int start_thread(tn_worker_t *wk)
{
    int err = uv_thread_create(&wk->thread, worker_main, wk);
    if (err != 0)
        return err;
    wk->thread_started = 1;
    uv_sem_wait(&wk->ws->ready);
    return 0;
}

/* ---- the main side ------------------------------------------------------- */

static void on_signal(tn_ioloop_t *loop, int signum, void *arg)
{
    (void)loop;
    (void)signum;
    (void)tn_workers_stop(arg);
}

/* SIGINT and SIGTERM (Windows delivers SIGINT only; the other add fails
 * with TN_ENOTSUP there and is ignored). */
static void watch_signals(tn_workers_t *ws, int on)
{
    static const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        if (on)
            (void)tn_ioloop_add_signal_handler(ws->main, sigs[i], on_signal, ws);
        else
            tn_ioloop_remove_signal_handler(ws->main, sigs[i]);
    }
    ws->signals = on;
}

static void join_all(tn_workers_t *ws)
{
    for (unsigned i = 0; i < ws->count; i++) {
        if (ws->workers[i].thread_started) {
            uv_thread_join(&ws->workers[i].thread);
            ws->workers[i].thread_started = 0;
        }
    }
}

static void on_worker_end(tn_ioloop_t *main, void *arg)
{
    tn_worker_t *wk = arg;
    tn_workers_t *ws = wk->ws;
    (void)main;
    wk->ended = 1;
    if (++ws->exited < ws->count)
        return;
    join_all(ws);
    if (ws->signals)
        watch_signals(ws, 0);
    if (ws->opts.on_stopped)
        ws->opts.on_stopped(ws, ws->opts.stopped_arg);
}

static void free_workers(tn_workers_t *ws)
{
    for (unsigned i = 0; i < ws->nshared; i++)
        close_sock(ws->shared[i]);
    uv_sem_destroy(&ws->ready);
    tn_free(ws->workers);
    tn_free(ws->address);
    tn_free(ws);
}

/* Some workers started, one failed: stop the running ones and wait. */
static void abort_start(tn_workers_t *ws)
{
    ws->failed_start = 1;
    for (unsigned i = 0; i < ws->count; i++) {
        tn_worker_t *wk = &ws->workers[i];
        if (wk->thread_started && wk->start_status == 0)
            (void)tn_ioloop_add_callback(wk->loop, on_stop_request, wk);
    }
    join_all(ws);
}

int tn_workers_start(tn_ioloop_t *main_loop, const tn_workers_options_t *opts, tn_workers_t **out)
{
    if (!main_loop || !opts || !opts->on_start || !out || opts->port < 0 || opts->port > 65535 ||
        opts->mode < TN_WORKERS_AUTO || opts->mode > TN_WORKERS_SHARED)
        return TN_EINVAL;
    if (opts->mode == TN_WORKERS_REUSEPORT && !reuseport_available())
        return TN_ENOTSUP;
    tn_workers_t *ws = tn_calloc(1, sizeof *ws);
    if (!ws)
        return TN_ENOMEM;
    ws->main = main_loop;
    ws->opts = *opts;
    if (!ws->opts.grace_ms)
        ws->opts.grace_ms = TN_WORKERS_DEFAULT_GRACE_MS;
    ws->count = opts->count ? opts->count : uv_available_parallelism();
    if (ws->count == 0)
        ws->count = 1;
    ws->mode = opts->mode != TN_WORKERS_AUTO ? opts->mode
               : reuseport_available()       ? TN_WORKERS_REUSEPORT
                                             : TN_WORKERS_SHARED;
    ws->workers = tn_calloc(ws->count, sizeof *ws->workers);
    if (opts->address)
        ws->address = tn_strndup(opts->address, strlen(opts->address));
    ws->opts.address = ws->address;
    if (!ws->workers || (opts->address && !ws->address) || uv_sem_init(&ws->ready, 0) != 0) {
        tn_free(ws->workers);
        tn_free(ws->address);
        tn_free(ws);
        return TN_ENOMEM;
    }
    for (unsigned i = 0; i < ws->count; i++) {
        ws->workers[i].ws = ws;
        ws->workers[i].index = i;
    }
    /* Worker 0 alone first: it binds the port the others take. */
    int err = start_thread(&ws->workers[0]);
    if (err == 0)
        err = ws->workers[0].start_status;
    for (unsigned i = 1; i < ws->count && err == 0; i++) {
        err = uv_thread_create(&ws->workers[i].thread, worker_main, &ws->workers[i]);
        if (err == 0)
            ws->workers[i].thread_started = 1;
    }
    for (unsigned i = 1; i < ws->count; i++)
        if (ws->workers[i].thread_started)
            uv_sem_wait(&ws->ready);
    for (unsigned i = 0; i < ws->count && err == 0; i++)
        err = ws->workers[i].start_status;
    if (err != 0) {
        abort_start(ws);
        free_workers(ws);
        return err;
    }
    if (opts->stop_on_signals)
        watch_signals(ws, 1);
    *out = ws;
    return 0;
}

int tn_workers_stop(tn_workers_t *workers)
{
    if (!workers)
        return TN_EINVAL;
    if (workers->stop_requested)
        return TN_EALREADY;
    workers->stop_requested = 1;
    for (unsigned i = 0; i < workers->count; i++) {
        tn_worker_t *wk = &workers->workers[i];
        if (tn_ioloop_add_callback(wk->loop, on_stop_request, wk) != 0)
            tn_log(TN_LOG_ERROR, "worker %u: cannot ask its loop to stop", i);
    }
    return 0;
}

void tn_workers_free(tn_workers_t *workers)
{
    if (!workers)
        return;
    join_all(workers);
    if (workers->signals)
        watch_signals(workers, 0);
    free_workers(workers);
}

int tn_workers_port(const tn_workers_t *workers)
{
    return workers->port;
}

unsigned tn_workers_count(const tn_workers_t *workers)
{
    return workers->count;
}

tn_ioloop_t *tn_workers_loop(const tn_workers_t *workers, unsigned i)
{
    if (i >= workers->count || workers->workers[i].ended)
        return NULL;
    return workers->workers[i].loop;
}
