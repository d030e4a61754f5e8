/* TCPServer: server lifecycle and the accept path.
 *
 * Accepting uses libuv's own loop (uv_listen's connection callback). It
 * drains the backlog on each readiness event and, in libuv 1.44, absorbs
 * EMFILE itself with a reserve descriptor (uv__emfile_trick): it frees the
 * reserve, accepts and closes until EAGAIN, reopens the reserve and stops.
 * Excess connections see their connection closed; the listener keeps going
 * and nothing is reported to us.
 *
 * When libuv's reserve could not be reopened (another thread took the slot,
 * or the system table is full) libuv instead calls back with UV_EMFILE and
 * loops: accept fails with EMFILE even with an empty backlog (Linux takes the
 * descriptor before looking at the queue), so it would call back forever. The
 * only way out of that loop is to close the listener's handle. So the server
 * pauses the listener, nginx style: a duplicate of the socket (made in the
 * slot of our own reserve descriptor) keeps the port and the backlog, the
 * handle is closed, and 500 ms later the duplicate is opened again. One log
 * line per second at most says what happened.
 *
 * Pausing for max_connections uses libuv's "not yet accepted" state: when
 * the callback does not call uv_accept, libuv keeps the one accepted
 * descriptor and stops polling that listener; a later uv_accept collects it
 * and restarts polling. Everything else waits in the kernel backlog. On
 * Windows libuv keeps several accepts in flight and calls back once for each
 * that completed, so several connections can be held there: held counts
 * them, and a resume collects as many as the free slots allow. */
#include <string.h>

#include "tcpserver_internal.h"

#define TN__DEFAULT_BACKLOG 128
/* Retry delay after a connection could not be set up for lack of memory. */
#define TN__RETRY_MS 100
/* How long a listener rests when no descriptor is left (nginx: 500 ms). */
#define TN__EMFILE_PAUSE_MS 500

static void on_timer(uv_timer_t *timer);

static void server_finish(tn_tcpserver_t *server)
{
    tn__loop_untrack(server->loop, &server->track);
    for (tn__uvstream_t *t = server->conns; t != NULL; t = t->group_next) {
        t->group = NULL;
        t->on_closed = NULL;
    }
    tn_tcpserver_freed_cb cb = server->on_freed;
    void *arg = server->on_freed_arg;
    tn_free(server);
    if (cb != NULL)
        cb(arg);
}

static void handle_closed(tn_tcpserver_t *server)
{
    server->open_handles--;
    if (server->open_handles == 0 && server->freeing)
        server_finish(server);
}

static void listener_unlink_free(tn__listener_t *l)
{
    tn_tcpserver_t *server = l->server;
    if (l->prev != NULL)
        l->prev->next = l->next;
    else if (server->listeners == l)
        server->listeners = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    if (l->paused_fd != (uv_os_fd_t)-1)
        tn__close_fd(l->paused_fd);
    tn_free(l);
}

static void on_listener_close(uv_handle_t *handle)
{
    tn__listener_t *l = handle->data;
    tn_tcpserver_t *server = l->server;
    if (l->state == TN__L_PAUSING) {
        l->state = TN__L_PAUSED;
        if (!uv_is_active((uv_handle_t *)&server->timer))
            uv_timer_start(&server->timer, on_timer, TN__EMFILE_PAUSE_MS, 0);
    } else {
        listener_unlink_free(l);
    }
    handle_closed(server);
}

void tn__listener_close(tn__listener_t *l)
{
    switch (l->state) {
    case TN__L_ACTIVE:
        l->state = TN__L_CLOSING;
        uv_close(&l->uv.handle, on_listener_close);
        break;
    case TN__L_PAUSING:
        /* The close callback now finishes it (and closes the kept fd). */
        l->state = TN__L_CLOSING;
        break;
    case TN__L_PAUSED:
        listener_unlink_free(l);
        break;
    default:
        break;
    }
}

static void on_timer_close(uv_handle_t *handle)
{
    handle_closed(handle->data);
}

static void log_rate_limited(tn_tcpserver_t *server, const char *what, int err)
{
    uint64_t now = uv_now(tn__loop_uv(server->loop));
    if (server->last_error_log_ms != 0 && now - server->last_error_log_ms < 1000)
        return;
    server->last_error_log_ms = now ? now : 1;
    tn_log(TN_LOG_ERROR, "%s: %s (%s)", what, tn_strerror(err), tn_err_name(err));
}

static int at_capacity(const tn_tcpserver_t *server)
{
    return server->opts.max_connections != 0 && server->nconns >= server->opts.max_connections;
}

static void conn_closed(tn__uvstream_t *t)
{
    tn_tcpserver_t *server = t->group;
    if (t->group_prev != NULL)
        t->group_prev->group_next = t->group_next;
    else
        server->conns = t->group_next;
    if (t->group_next != NULL)
        t->group_next->group_prev = t->group_prev;
    server->nconns--;
    /* Resume from a timer, not from inside this close callback, so
     * handle_stream never runs nested in another stream's teardown. */
    if (!server->stopped && server->opts.max_connections != 0 && !at_capacity(server) &&
        !uv_is_active((uv_handle_t *)&server->timer))
        uv_timer_start(&server->timer, on_timer, 0, 0);
}

/* Collects the connection libuv accepted on l and hands it to the
 * application. Returns nonzero if it must be retried later (the connection
 * is still held by libuv). */
static int accept_one(tn__listener_t *l)
{
    tn_tcpserver_t *server = l->server;
    tn__uvstream_t *t;
    tn_iostream_t *stream;
    char ip[64];
    int port = 0;

    int err = tn__uvstream_create(server->loop, l->is_pipe, AF_UNSPEC, &t);
    if (err != 0) {
        log_rate_limited(server, "accept: cannot set up connection", err);
        return 1;
    }
    err = uv_accept(&l->uv.stream, &t->uv.stream);
    if (err != 0) {
        tn__uvstream_discard(t);
        if (err != UV_ECONNABORTED && err != UV_ECONNRESET)
            log_rate_limited(server, "accept", err);
        return 0;
    }
    tn__uvstream_peer(t, ip, sizeof(ip), &port);
    t->group = server;
    t->on_closed = conn_closed;
    t->group_next = server->conns;
    if (server->conns != NULL)
        server->conns->group_prev = t;
    server->conns = t;
    server->nconns++;
    err = tn__uvstream_wrap(t, &server->opts.stream_options, &stream);
    if (err != 0) {
        log_rate_limited(server, "accept: cannot create stream", err);
        return 0;
    }
    if (server->opts.ssl_options != NULL) {
        tn_iostream_t *tls;
        err = tn_tls_stream_new(stream, server->opts.ssl_options, NULL,
                                &server->opts.stream_options, &tls);
        if (err != 0) {
            log_rate_limited(server, "accept: cannot set up TLS", err);
            tn_iostream_close(stream);
            return 0;
        }
        stream = tls;
    }
    server->opts.handle_stream(server, stream, ip, port, server->opts.arg);
    return 0;
}

static void on_timer(uv_timer_t *timer)
{
    tn_tcpserver_t *server = timer->data;
    tn__listener_t *next;
    for (tn__listener_t *l = server->listeners; l != NULL && !server->stopped; l = next) {
        next = l->next;
        if (l->state == TN__L_PAUSED) {
            int err = tn__listener_reopen(l);
            if (err != 0) {
                log_rate_limited(server, "accept: cannot resume listening", err);
                uv_timer_start(&server->timer, on_timer, TN__EMFILE_PAUSE_MS, 0);
            }
            continue;
        }
        while (l->held > 0 && l->state == TN__L_ACTIVE && !at_capacity(server) &&
               !server->stopped) {
            l->held--;
            if (accept_one(l)) {
                l->held++;
                uv_timer_start(&server->timer, on_timer, TN__RETRY_MS, 0);
                break;
            }
        }
    }
}

static void pause_listener(tn__listener_t *l, int status)
{
    tn_tcpserver_t *server = l->server;
    uv_os_fd_t fd = tn__listener_dup_for_pause(l);
    if (fd == (uv_os_fd_t)-1) {
        /* Not even one descriptor: libuv keeps retrying, nothing else to do
         * but say so (rarely). */
        log_rate_limited(server, "accept: out of file descriptors, cannot pause", status);
        return;
    }
    log_rate_limited(server, "accept: out of file descriptors, pausing for 500 ms", status);
    l->paused_fd = fd;
    l->state = TN__L_PAUSING;
    uv_close(&l->uv.handle, on_listener_close);
    /* The handle's descriptor is closed now: it refills our reserve. */
    tn__reserve_fd_open();
}

static void on_connection(uv_stream_t *ls, int status)
{
    tn__listener_t *l = ls->data;
    tn_tcpserver_t *server = l->server;
    if (l->state != TN__L_ACTIVE || server->stopped)
        return;
    if (status < 0) {
        /* The peer gave up before we accepted: nothing to report (Tornado). */
        if (status == UV_ECONNABORTED || status == UV_ECONNRESET || status == UV_EINTR ||
            status == UV_EAGAIN)
            return;
        if (status == UV_EMFILE || status == UV_ENFILE)
            pause_listener(l, status);
        else
            log_rate_limited(server, "accept", status);
        return;
    }
    if (at_capacity(server)) {
        l->held++;
        return;
    }
    if (accept_one(l)) {
        l->held++;
        uv_timer_start(&server->timer, on_timer, TN__RETRY_MS, 0);
    }
}

int tn__listener_init(tn_tcpserver_t *server, int is_pipe, int family, tn__listener_t **out)
{
    int err;
    if (server->stopped)
        return TN_EINVAL;
    tn__listener_t *l = tn_calloc(1, sizeof(*l));
    if (l == NULL)
        return TN_ENOMEM;
    l->server = server;
    l->is_pipe = is_pipe ? 1 : 0;
    l->paused_fd = (uv_os_fd_t)-1;
    l->state = TN__L_ACTIVE;
    if (is_pipe)
        err = uv_pipe_init(tn__loop_uv(server->loop), &l->uv.pipe, 0);
    else
        err = uv_tcp_init_ex(tn__loop_uv(server->loop), &l->uv.tcp, (unsigned int)family);
    if (err != 0) {
        tn_free(l);
        return err;
    }
    l->uv.handle.data = l;
    server->open_handles++;
    *out = l;
    return 0;
}

static int listen_handle(tn__listener_t *l)
{
    tn_tcpserver_t *server = l->server;
    int backlog = server->opts.backlog > 0 ? server->opts.backlog : TN__DEFAULT_BACKLOG;
    return uv_listen(&l->uv.stream, backlog, on_connection);
}

int tn__listener_start(tn__listener_t *l)
{
    tn_tcpserver_t *server = l->server;
    int err = listen_handle(l);
    if (err != 0)
        return err;
    tn__reserve_fd_open();
    l->next = server->listeners;
    if (server->listeners != NULL)
        server->listeners->prev = l;
    server->listeners = l;
    return 0;
}

int tn__listener_reopen(tn__listener_t *l)
{
#ifdef _WIN32
    /* Listeners never pause on Windows (no descriptor limit to dance
     * around). */
    (void)l;
    return TN_ENOTSUP;
#else
    uv_loop_t *uv = tn__loop_uv(l->server->loop);
    int err;
    if (l->is_pipe)
        err = uv_pipe_init(uv, &l->uv.pipe, 0);
    else
        err = uv_tcp_init(uv, &l->uv.tcp);
    if (err != 0)
        return err;
    l->uv.handle.data = l;
    l->server->open_handles++;
    if (l->is_pipe)
        err = uv_pipe_open(&l->uv.pipe, (uv_file)l->paused_fd);
    else
        err = uv_tcp_open(&l->uv.tcp, (uv_os_sock_t)l->paused_fd);
    if (err == 0) {
        l->paused_fd = (uv_os_fd_t)-1;
        l->held = 0;
        l->state = TN__L_ACTIVE;
        err = listen_handle(l);
        if (err == 0)
            return 0;
        /* The handle owns the socket now: a failure ends this listener. */
        tn__listener_close(l);
        return err;
    }
    /* The socket is still ours: try again after the next pause. */
    l->state = TN__L_PAUSING;
    uv_close(&l->uv.handle, on_listener_close);
    return err;
#endif
}

static void on_loop_close(tn__handle_t *h)
{
    tn_tcpserver_t *server = (tn_tcpserver_t *)h;
    if (!server->freeing)
        tn_tcpserver_free(server, NULL, NULL);
}

int tn_tcpserver_new(tn_ioloop_t *loop, const tn_tcpserver_options_t *opts, tn_tcpserver_t **out)
{
    if (loop == NULL || opts == NULL || opts->handle_stream == NULL || out == NULL)
        return TN_EINVAL;
    if (tn__loop_closing(loop))
        return TN_EDETACHED;
    tn_tcpserver_t *server = tn_calloc(1, sizeof(*server));
    if (server == NULL)
        return TN_ENOMEM;
    server->loop = loop;
    server->opts = *opts;
    int err = uv_timer_init(tn__loop_uv(loop), &server->timer);
    if (err != 0) {
        tn_free(server);
        return err;
    }
    server->timer.data = server;
    server->open_handles = 1;
    tn__loop_track(loop, &server->track, on_loop_close);
    *out = server;
    return 0;
}

int tn_tcpserver_port(tn_tcpserver_t *server)
{
    return server->port;
}

size_t tn_tcpserver_connection_count(tn_tcpserver_t *server)
{
    return server->nconns;
}

void tn_tcpserver_stop(tn_tcpserver_t *server)
{
    tn__listener_t *next;
    if (server->stopped)
        return;
    server->stopped = 1;
    uv_timer_stop(&server->timer);
    for (tn__listener_t *l = server->listeners; l != NULL; l = next) {
        next = l->next;
        tn__listener_close(l);
    }
}

void tn_tcpserver_free(tn_tcpserver_t *server, tn_tcpserver_freed_cb on_freed, void *arg)
{
    if (server->freeing)
        return;
    tn_tcpserver_stop(server);
    server->freeing = 1;
    server->on_freed = on_freed;
    server->on_freed_arg = arg;
    uv_close((uv_handle_t *)&server->timer, on_timer_close);
}
