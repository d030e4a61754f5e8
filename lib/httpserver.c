/* HTTPServer: the server object. Options and their defaults, listening
 * through a TCPServer, stop, close_all_connections (idle connections close at
 * once, busy ones after their response, all of them at the deadline) and the
 * asynchronous free that waits for every connection to go. The per
 * connection work is in httpserver_conn.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "httpserver_internal.h"

const char *tn__hsrv_date(tn_httpserver_t *srv)
{
    uint64_t sec = tn_ioloop_time_ms(srv->loop) / 1000 + 1;
    if (sec != srv->date_sec) {
        srv->date_sec = sec;
        if (tn_http_date_format((int64_t)time(NULL), srv->date) != 0)
            srv->date[0] = 0;
    }
    return srv->date[0] ? srv->date : NULL;
}

/* ---- server ------------------------------------------------------------- */

int tn_httpserver_new(tn_ioloop_t *loop, const tn_httpserver_options_t *opts,
                      tn_httpserver_t **server_out)
{
    if (!loop || !opts || !server_out || (!opts->request_cb) == (!opts->delegate))
        return TN_EINVAL;
    tn_httpserver_t *srv = tn_calloc(1, sizeof *srv);
    if (!srv)
        return TN_ENOMEM;
    srv->loop = loop;
    srv->opts = *opts;
    tn_httpserver_options_t *o = &srv->opts;
    if (opts->delegate)
        srv->delegate = *opts->delegate;
#define DEF(f, v)                                                                                  \
    if (!o->f)                                                                                     \
    o->f = (v)
    DEF(max_header_size, TN_HTTP_DEFAULT_MAX_HEADER_SIZE);
    DEF(max_header_count, TN_HTTP_DEFAULT_MAX_HEADER_COUNT);
    DEF(max_body_size, TN_HTTP_DEFAULT_MAX_BODY_SIZE);
    DEF(max_chunk_ext_size, TN_HTTP_DEFAULT_MAX_CHUNK_EXT_SIZE);
    DEF(header_timeout_ms, TN_HTTP_DEFAULT_HEADER_TIMEOUT_MS);
    DEF(idle_timeout_ms, TN_HTTP_DEFAULT_IDLE_TIMEOUT_MS);
    DEF(write_timeout_ms, TN_HTTP_DEFAULT_WRITE_TIMEOUT_MS);
    DEF(close_linger_ms, TN_HTTP_DEFAULT_CLOSE_LINGER_MS);
    DEF(max_write_buffer, TN_HTTP_DEFAULT_MAX_WRITE_BUFFER);
#undef DEF
    srv->limits.max_header_size = o->max_header_size;
    srv->limits.max_header_count = o->max_header_count;
    srv->limits.max_body_size = o->max_body_size;
    srv->limits.max_chunk_ext_size = o->max_chunk_ext_size;
    int err = TN_ENOMEM;
    srv->server_header =
        tn_strndup(opts->server_header ? opts->server_header : TN_HTTP_SERVER_NAME,
                   strlen(opts->server_header ? opts->server_header : TN_HTTP_SERVER_NAME));
    srv->fields = tn_calloc(o->max_header_count, sizeof *srv->fields);
    if (!srv->server_header || !srv->fields)
        goto fail;
    if (opts->trusted_downstream) {
        size_t n = 0;
        while (opts->trusted_downstream[n])
            n++;
        srv->trusted = tn_calloc(n + 1, sizeof *srv->trusted);
        if (!srv->trusted)
            goto fail;
        for (size_t i = 0; i < n; i++) {
            const char *t = opts->trusted_downstream[i];
            srv->trusted[i] = tn_strndup(t, strlen(t));
            if (!srv->trusted[i])
                goto fail;
            srv->ntrusted++;
        }
    }
    o->server_header = srv->server_header;
    o->trusted_downstream = NULL;
    o->delegate = opts->delegate ? &srv->delegate : NULL;
    tn_tcpserver_options_t to;
    memset(&to, 0, sizeof to);
    to.handle_stream = tn__hconn_on_stream;
    to.arg = srv;
    to.max_connections = o->max_connections;
    to.ssl_options = o->ssl_options;
    /* The read buffer must hold a whole header section plus a read chunk. */
    to.stream_options.max_buffer_size = o->max_header_size + 2 * TN_IOSTREAM_DEFAULT_CHUNK;
    if ((err = tn_tcpserver_new(loop, &to, &srv->tcp)) != 0)
        goto fail;
    *server_out = srv;
    return 0;
fail:
    for (size_t i = 0; i < srv->ntrusted; i++)
        tn_free(srv->trusted[i]);
    tn_free(srv->trusted);
    tn_free(srv->fields);
    tn_free(srv->server_header);
    tn_free(srv);
    return err;
}

int tn_httpserver_listen(tn_httpserver_t *server, int port, const char *address)
{
    if (server->freeing)
        return TN_ECLOSED;
    return tn_tcpserver_listen(server->tcp, port, address);
}

int tn_httpserver_port(tn_httpserver_t *server)
{
    return tn_tcpserver_port(server->tcp);
}

void tn_httpserver_stop(tn_httpserver_t *server)
{
    if (server->tcp && !server->tcp_freed)
        tn_tcpserver_stop(server->tcp);
}

size_t tn_httpserver_connection_count(tn_httpserver_t *server)
{
    return server->nconns;
}

/* Idle connections (no request begun) close now; busy ones when their
 * response is done (keep-alive is off from here on). */
static void close_idle(tn_httpserver_t *srv)
{
    conn_t *c = srv->conns;
    while (c) {
        conn_t *next = c->next;
        if (!c->closing && !c->req.active && c->state != ST_LINGER &&
            (c->state == ST_HEAD || c->state == ST_DRAIN) && c->parser.scanned == 0)
            tn__hconn_close(c);
        c = next;
    }
}

static void on_close_deadline(tn_ioloop_t *loop, void *arg)
{
    tn_httpserver_t *srv = arg;
    (void)loop;
    srv->close_deadline = 0;
    for (conn_t *c = srv->conns; c; c = c->next)
        tn__hconn_close(c);
    if (srv->nconns == 0 && srv->closed_pending) {
        srv->closed_pending = 0;
        if (srv->closed_cb)
            srv->closed_cb(srv, 0, srv->closed_arg);
    }
}

int tn_httpserver_close_all_connections(tn_httpserver_t *server, uint64_t deadline_ms,
                                        tn_httpserver_closed_cb cb, void *arg)
{
    if (server->closing_all)
        return TN_EALREADY;
    server->closing_all = 1;
    server->closed_cb = cb;
    server->closed_arg = arg;
    server->closed_pending = 1;
    for (conn_t *c = server->conns; c; c = c->next)
        c->req.keep_alive = 0;
    close_idle(server);
    if (server->nconns == 0) {
        /* Reported later, never inside this call. */
        server->close_deadline = tn_ioloop_call_later(server->loop, 0, on_close_deadline, server);
        return server->close_deadline ? 0 : TN_ENOMEM;
    }
    if (deadline_ms) {
        server->close_deadline =
            tn_ioloop_call_later(server->loop, deadline_ms, on_close_deadline, server);
    }
    return 0;
}

static void on_tcp_freed(void *arg)
{
    tn_httpserver_t *srv = arg;
    srv->tcp_freed = 1;
    srv->tcp = NULL;
    tn__hsrv_maybe_finish_free(srv);
}

void tn__hsrv_maybe_finish_free(tn_httpserver_t *srv)
{
    if (!srv->freeing || !srv->tcp_freed || srv->nconns != 0)
        return;
    if (srv->close_deadline) {
        tn_ioloop_remove_timeout(srv->loop, srv->close_deadline);
        srv->close_deadline = 0;
    }
    tn_httpserver_freed_cb cb = srv->freed_cb;
    void *arg = srv->freed_arg;
    for (size_t i = 0; i < srv->ntrusted; i++)
        tn_free(srv->trusted[i]);
    tn_free(srv->trusted);
    tn_free(srv->fields);
    tn_free(srv->server_header);
    tn_free(srv->cork);
    tn_free(srv);
    if (cb)
        cb(arg);
}

void tn_httpserver_free(tn_httpserver_t *server, tn_httpserver_freed_cb on_freed, void *arg)
{
    if (!server || server->freeing)
        return;
    server->freeing = 1;
    server->freed_cb = on_freed;
    server->freed_arg = arg;
    server->closed_pending = 0;
    if (server->close_deadline) {
        tn_ioloop_remove_timeout(server->loop, server->close_deadline);
        server->close_deadline = 0;
    }
    for (conn_t *c = server->conns; c; c = c->next)
        tn__hconn_close(c);
    tn_tcpserver_free(server->tcp, on_tcp_freed, server);
}

tn_tcpserver_t *tn__httpserver_tcp(tn_httpserver_t *server)
{
    return server->tcp;
}
