/* HTTP1Connection: the connection state machine. Requests are parsed
 * straight from an IOStream's buffer and served one at a time per
 * connection; this file owns the parser callbacks, the request cycle, the
 * per-connection timer and the connection's close.
 *
 * A connection is a small state machine:
 *   HEAD  waiting for (the rest of) a request's header section;
 *   BODY  the request was handed to the application, its body is arriving;
 *   APP   the request is complete, the response is not finished yet;
 *   DRAIN the response is finished but more than max_write_buffer bytes are
 *         still unsent: the next request waits (pipelining cannot grow
 *         memory while the peer does not read);
 *   LINGER the connection is ending: the send side was shut down after the
 *         last response and input is read and dropped until the peer closes
 *         or close_linger_ms passes, so unread input does not turn the close
 *         into a reset that destroys the response in flight.
 * Reading is armed only in HEAD and BODY (and LINGER), so a request whose
 * response is pending stops the socket from being read: back-pressure.
 *
 * Responses produced while a read batch is being processed (the common
 * synchronous handler, and pipelined requests) are corked into one buffer
 * and written with one call when the batch ends.
 *
 * One timer per connection, re-armed lazily: it carries the deadline of the
 * current phase (idle, header, body, linger) and none while the application
 * works on a request. */
#include <stdio.h>
#include <string.h>

#include "httpserver_internal.h"
#include "pool.h"

/* ---- timers ------------------------------------------------------------- */

static void fail_request(conn_t *c, int status);

static void on_timer(tn_ioloop_t *loop, void *arg)
{
    conn_t *c = arg;
    c->timer = 0;
    if (c->deadline == 0 || c->closing)
        return;
    uint64_t now = tn_ioloop_time_ms(loop);
    if (now < c->deadline) {
        c->timer_at = c->deadline;
        c->timer = tn_ioloop_call_at(loop, c->deadline, on_timer, c);
        return;
    }
    c->deadline = 0;
    if (c->state == ST_BODY) {
        /* The body did not arrive in time: 408 unless a response started
         * (then the peer just sees the close), and the lingering close. */
        tn_log(TN_LOG_DEBUG, "HTTP request body from %s timed out", c->ip);
        fail_request(c, 408);
        return;
    }
    if (c->state != ST_LINGER)
        tn_log(TN_LOG_DEBUG, "HTTP connection from %s timed out", c->ip);
    tn__hconn_close(c);
}

/* The armed timer is moved only when the new deadline is earlier; a later
 * one is picked up when the timer fires (most deadlines only move later). */
static void set_deadline_at(conn_t *c, uint64_t at)
{
    tn_ioloop_t *loop = c->server->loop;
    c->deadline = at;
    if (c->timer != 0 && c->deadline < c->timer_at) {
        tn_ioloop_remove_timeout(loop, c->timer);
        c->timer = 0;
    }
    if (c->timer == 0) {
        c->timer_at = c->deadline;
        c->timer = tn_ioloop_call_at(loop, c->deadline, on_timer, c);
    }
}

void tn__hconn_set_deadline(conn_t *c, uint64_t ms)
{
    set_deadline_at(c, tn_ioloop_time_ms(c->server->loop) + ms);
}

void tn__hconn_clear_deadline(conn_t *c)
{
    c->deadline = 0; /* the timer, if armed, finds nothing to do */
}

void tn__hconn_arm_body_deadline(conn_t *c)
{
    uint64_t stall = tn_ioloop_time_ms(c->server->loop) + c->server->opts.idle_timeout_ms;
    set_deadline_at(c, c->body_deadline && c->body_deadline < stall ? c->body_deadline : stall);
}

/* ---- the write timeout ---------------------------------------------------- */

/* Looks at the output a few times per write timeout: bytes that left tornuv
 * since the last look are progress; none for write_timeout_ms while some
 * still wait is a peer that stopped reading (nginx's send_timeout). */
static void on_write_timer(tn_ioloop_t *loop, void *arg)
{
    conn_t *c = arg;
    uint64_t limit = c->server->opts.write_timeout_ms;
    c->wtimer = 0;
    if (c->closing)
        return;
    size_t unsent = tn_iostream_write_buffered(c->stream);
    if (unsent == 0)
        return; /* everything reached the OS: nothing to watch */
    uint64_t now = tn_ioloop_time_ms(loop);
    uint64_t gone = c->out_queued - unsent;
    if (gone != c->out_gone) {
        c->out_gone = gone;
        c->out_moved_at = now;
    } else if (now - c->out_moved_at >= limit) {
        tn_log(TN_LOG_DEBUG, "HTTP connection from %s: write timed out with %llu bytes unsent",
               c->ip, (unsigned long long)unsent);
        tn__hconn_close(c);
        return;
    }
    uint64_t step = limit / 4 ? limit / 4 : 1;
    uint64_t at = c->out_moved_at + limit;
    if (at > now + step)
        at = now + step;
    c->wtimer = tn_ioloop_call_at(loop, at, on_write_timer, c);
}

void tn__hconn_watch_output(conn_t *c, size_t n)
{
    c->out_queued += n;
    if (c->wtimer || c->closing)
        return;
    size_t unsent = tn_iostream_write_buffered(c->stream);
    if (unsent == 0)
        return;
    tn_ioloop_t *loop = c->server->loop;
    uint64_t limit = c->server->opts.write_timeout_ms;
    c->out_gone = c->out_queued - unsent;
    c->out_moved_at = tn_ioloop_time_ms(loop);
    c->wtimer =
        tn_ioloop_call_at(loop, c->out_moved_at + (limit / 4 ? limit / 4 : 1), on_write_timer, c);
}

static void stop_timers(conn_t *c)
{
    tn_ioloop_t *loop = c->server->loop;
    if (c->timer) {
        tn_ioloop_remove_timeout(loop, c->timer);
        c->timer = 0;
    }
    if (c->wtimer) {
        tn_ioloop_remove_timeout(loop, c->wtimer);
        c->wtimer = 0;
    }
}

static void access_log(conn_t *c)
{
    tn_httpserver_t *srv = c->server;
    tn_http_request_t *r = &c->req;
    if (!srv->opts.access_log)
        return;
    tn_http_access_t e;
    e.method = r->line;
    e.method_len = r->method_len;
    e.uri = r->line + r->method_len + 1;
    e.uri_len = r->uri_len;
    e.remote_ip = r->remote_ip;
    e.status = r->status;
    e.bytes_sent = r->body_sent;
    uint64_t now = tn_ioloop_time_ms(srv->loop) * 1000;
    e.duration_us = now > r->start_us ? now - r->start_us : 0;
    srv->opts.access_log(&e, srv->opts.access_log_arg);
}

/* ---- simple error responses -------------------------------------------- */

static void send_error(conn_t *c, int status)
{
    char buf[256];
    const char *date = tn__hsrv_date(c->server);
    int n = snprintf(
        buf, sizeof buf, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n%s%s%s\r\n",
        status, tn_http_reason(status), date ? "Date: " : "", date ? date : "", date ? "\r\n" : "");
    if (n > 0 && (size_t)n < sizeof buf) {
        tn_buf_t b = {buf, (size_t)n};
        (void)tn__hconn_send(c, &b, 1, NULL, NULL);
    }
}

/* A request the parser rejected (400/413/431) or the application aborted. */
static void fail_request(conn_t *c, int status)
{
    tn_http_request_t *r = &c->req;
    c->fatal = 1;
    if (status && !(r->active && r->headers_written)) {
        tn_log(TN_LOG_INFO, "Malformed HTTP request from %s: %d", c->ip, status);
        send_error(c, status);
    }
    int answered = r->active && r->finished;
    tn__hreq_abandon(c);
    if (status || answered)
        tn__hconn_linger(c);
    else
        tn__hconn_close(c);
}

static int on_headers(tn__h1parser_t *p, void *arg)
{
    conn_t *c = arg;
    tn_httpserver_t *srv = c->server;
    tn_http_request_t *r = &c->req;
    size_t need = p->method_len + p->url_len + 2;
    int rc;

    tn__hreq_reset(r);
    if (need > r->line_cap) {
        char *nl = tn_realloc(r->line, need);
        if (!nl)
            return TN_ENOMEM;
        r->line = nl;
        r->line_cap = need;
    }
    memcpy(r->line, p->method, p->method_len);
    r->line[p->method_len] = 0;
    memcpy(r->line + p->method_len + 1, p->url, p->url_len);
    r->line[p->method_len + 1 + p->url_len] = 0;
    r->method_len = p->method_len;
    r->uri_len = p->url_len;
    if (tn_url_split(r->line + p->method_len + 1, p->url_len, &r->path, &r->query) != 0)
        return TN_EHTTP;
    r->version = p->version;
    if (!r->headers && (rc = tn_headers_new(&r->headers)) != 0)
        return rc;
    for (size_t i = 0; i < p->field_count; i++) {
        const tn__h1field_t *f = &p->fields[i];
        if ((rc = tn_headers_add(r->headers, f->name, f->name_len, f->value, f->value_len)) != 0)
            return rc;
    }
    memcpy(r->remote_ip, c->ip, sizeof r->remote_ip);
    r->protocol = tn_tls_is_tls(c->stream) ? "https" : "http";
    if (srv->opts.xheaders)
        tn__hreq_apply_xheaders(r, srv);
    r->is_head = tn__h1_token_eq(p->method, p->method_len, "head");
    r->keep_alive = p->keep_alive && !srv->opts.no_keep_alive && !srv->closing_all &&
                    (srv->opts.max_requests_per_connection == 0 ||
                     c->requests + 1 < srv->opts.max_requests_per_connection);
    r->max_body = srv->limits.max_body_size;
    r->body_timeout_ms = srv->opts.body_timeout_ms;
    uint64_t now = tn_ioloop_time_ms(srv->loop);
    r->start_ms = now;
    r->start_us = now * 1000;
    r->active = 1;
    c->state = ST_BODY;
    c->hdr_started = 0;

    if (p->frame.gzip && srv->opts.decompress_request && p->body_kind != TN__H1BODY_NONE &&
        (rc = tn__hbody_gzip_start(r)) != 0)
        return rc;
    /* Views into the header arena are taken once it no longer changes. */
    r->host = tn_headers_get(r->headers, "Host", &r->host_len);
    if (p->target.form == TN__H1TARGET_ABSOLUTE) {
        /* RFC 9112 3.2.2: an absolute-form target's authority wins over Host
         * (the parser checked it by the Host rules); r->line holds the URL. */
        r->host = r->line + p->method_len + 1 + (p->target.authority - p->url);
        r->host_len = p->target.authority_len;
    }
    if (!r->host) {
        r->host = "127.0.0.1";
        r->host_len = 9;
    }

    if (srv->opts.delegate) {
        if (srv->delegate.start_request &&
            (rc = srv->delegate.start_request(r, srv->opts.delegate_arg)) < 0)
            return rc;
        if (srv->delegate.headers_received &&
            (rc = srv->delegate.headers_received(r, srv->opts.delegate_arg)) < 0)
            return rc;
        if (c->closing || c->fatal)
            return TN_ECLOSED;
    } else if (srv->opts.headers_cb) {
        r->in_headers_cb = 1;
        srv->opts.headers_cb(r, srv->opts.request_arg);
        r->in_headers_cb = 0;
        if (c->closing || c->fatal)
            return TN_ECLOSED;
    }
    p->max_body = r->max_body;
    if (p->body_kind != TN__H1BODY_NONE) {
        c->body_start = tn_ioloop_time_ms(srv->loop);
        c->body_deadline = r->body_timeout_ms ? c->body_start + r->body_timeout_ms : 0;
        tn__hconn_arm_body_deadline(c);
        if (p->frame.expect_continue && r->version == 11 && !r->headers_written &&
            !(p->body_kind == TN__H1BODY_LENGTH && p->frame.content_length > p->max_body) &&
            !(r->continue_held = r->paused)) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            tn_buf_t b = {cont, sizeof cont - 1};
            if ((rc = tn__hconn_send(c, &b, 1, NULL, NULL)) != 0)
                return rc;
        }
    }
    return 0;
}

static int on_body(tn__h1parser_t *p, const char *data, size_t len, void *arg)
{
    conn_t *c = arg;
    tn_http_request_t *r = &c->req;
    int rc;
    if (r->zs)
        rc = tn__hbody_inflate(c, data, len, 0);
    else
        rc = tn__hbody_deliver(c, data, len);
    if (rc < 0)
        return rc;
    if (c->closing || c->fatal)
        return TN_ECLOSED;
    /* A pause on the last byte of a Content-Length body does not stop the
     * parser: nothing would arrive to restart it, so the request completes
     * (the application holds its own handling until it resumes). */
    if (r->paused)
        c->parser.pause =
            !(p->body_kind == TN__H1BODY_LENGTH && p->body_bytes >= p->frame.content_length);
    else
        tn__hconn_arm_body_deadline(c);
    return 0;
}

static int on_complete(tn__h1parser_t *p, void *arg)
{
    conn_t *c = arg;
    tn_http_request_t *r = &c->req;
    (void)p;
    if (r->zs) {
        int rc = tn__hbody_inflate(c, NULL, 0, 1);
        if (rc < 0)
            return rc;
    }
    r->received = 1;
    return 0;
}

static const tn__h1parser_cbs_t k_cbs = {on_headers, on_body, on_complete};

/* ---- the request cycle --------------------------------------------------- */

/* The whole request is in: hand it over (outside llhttp). */
static void dispatch(conn_t *c)
{
    tn_httpserver_t *srv = c->server;
    tn_http_request_t *r = &c->req;
    c->state = ST_APP;
    tn__hconn_clear_deadline(c);
    r->delivered = 1;
    if (srv->opts.delegate) {
        if (srv->delegate.finish)
            srv->delegate.finish(r, srv->opts.delegate_arg);
    } else {
        srv->opts.request_cb(r, srv->opts.request_arg);
    }
    if (r->finished && c->state == ST_APP && !c->closing)
        tn__hconn_advance(c);
}

static void on_drained(tn_iostream_t *s, int status, void *arg)
{
    conn_t *c = arg;
    (void)s;
    if (status != 0 || c->closing || c->state != ST_DRAIN)
        return;
    c->state = ST_HEAD;
    tn__hconn_set_deadline(c, c->server->opts.idle_timeout_ms);
    tn__hconn_arm_read(c);
}

/* Between requests with nothing pipelined behind, a keep-alive connection
 * gives back what only a request needs (head buffer, header map, start line,
 * body, arguments): an idle connection holds its structs and nothing else. */
static void release_request_memory(conn_t *c)
{
    tn_http_request_t *r = &c->req;
    tn__hreq_free(r);
    r->headers = NULL;
    r->args = r->cookies = NULL;
    r->files = NULL;
    r->body = NULL;
    r->body_cap = 0;
    r->line = NULL;
    r->line_cap = 0;
    tn__pool_put(c->server->loop, c->head, c->head_cap);
    c->head = NULL;
    c->head_cap = 0;
    tn_headers_free(c->scratch);
    c->scratch = NULL;
}

static void begin_handover(conn_t *c);

/* Request and response are both complete: on to the next one. */
void tn__hconn_advance(conn_t *c)
{
    tn_httpserver_t *srv = c->server;
    tn_http_request_t *r = &c->req;
    int keep = r->keep_alive;
    access_log(c);
    c->requests++;
    r->active = 0;
    if (c->detach_cb) {
        if (!c->detaching)
            begin_handover(c);
        return;
    }
    if (!keep || srv->closing_all) {
        tn__hconn_linger(c);
        return;
    }
    tn__h1parser_next(&c->parser);
    c->state = ST_HEAD;
    tn__hconn_set_deadline(c, srv->opts.idle_timeout_ms);
    if (tn_iostream_buffered(c->stream) == 0)
        release_request_memory(c);
    size_t pending = tn_iostream_write_buffered(c->stream) + tn__hconn_corked(c);
    if (pending > srv->opts.max_write_buffer) {
        if (tn__hconn_flush_cork(c) != 0 ||
            tn_iostream_write(c->stream, NULL, 0, on_drained, c) != 0) {
            tn__hconn_close(c);
            return;
        }
        c->state = ST_DRAIN;
        return;
    }
    if (!c->in_batch)
        tn__hconn_arm_read(c);
}

/* Runs the parser over what is buffered; returns the bytes consumed. */
static size_t process(conn_t *c, const char *data, size_t len)
{
    size_t off = 0;
    while (!c->closing && !c->fatal && (c->state == ST_HEAD || c->state == ST_BODY)) {
        tn_http_request_t *r = &c->req;
        if (r->paused)
            break;
        long long n = tn__h1parser_feed(&c->parser, data + off, len - off);
        if (n < 0) {
            if (c->closing)
                break;
            if (n == TN_ECLOSED) {
                tn__hconn_close(c);
            } else {
                int st = c->parser.status;
                if (st == 0)
                    st = n == TN_ETOOLARGE ? 413 : n == TN_EHTTP ? 400 : 0;
                if (n == TN_ENOMEM && !r->headers_written)
                    st = 500;
                fail_request(c, st);
            }
            break;
        }
        off += (size_t)n;
        if (tn__h1parser_done(&c->parser)) {
            dispatch(c);
            continue;
        }
        if (n == 0 || off == len)
            break;
    }
    /* The first bytes of a request start its header deadline. */
    if (c->state == ST_HEAD && !c->closing && !c->fatal && off < len && !c->hdr_started) {
        c->hdr_started = 1;
        tn__hconn_set_deadline(c, c->server->opts.header_timeout_ms);
    }
    return off;
}

static size_t on_data(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    conn_t *c = arg;
    (void)s;
    c->read_armed = 0;
    if (status != 0 || c->closing)
        return 0;
    if (c->state == ST_LINGER) {
        tn__hconn_arm_read(c);
        return len;
    }
    c->in_batch = 1;
    size_t used = process(c, data, len);
    c->in_batch = 0;
    if (c->closing) {
        (void)tn__hconn_flush_cork(c); /* drops it: the stream is going */
        return used;
    }
    if (tn__hconn_flush_cork(c) != 0) {
        tn__hconn_close(c);
        return used;
    }
    if (c->state == ST_LINGER) {
        tn__hconn_arm_read(c);
        return len; /* whatever followed is dropped */
    }
    if (c->state == ST_HEAD && used == len && !c->req.active && !c->hdr_started)
        release_request_memory(c);
    if (!c->fatal && (c->state == ST_HEAD || c->state == ST_BODY) && !c->req.paused)
        tn__hconn_arm_read(c);
    return used;
}

void tn__hconn_arm_read(conn_t *c)
{
    if (c->read_armed || c->closing)
        return;
    int err = tn_iostream_read_some(c->stream, on_data, c);
    if (err == 0)
        c->read_armed = 1;
    else if (err != TN_EALREADY)
        tn__hconn_close(c);
}

/* Graceful end: flush, FIN, drop input until the peer closes or a bound. */
void tn__hconn_linger(conn_t *c)
{
    if (c->closing || c->state == ST_LINGER)
        return;
    c->state = ST_LINGER;
    c->fatal = 1;
    if (tn__hconn_flush_cork(c) != 0 || tn_iostream_shutdown(c->stream) != 0) {
        tn__hconn_close(c);
        return;
    }
    tn__hconn_set_deadline(c, c->server->opts.close_linger_ms);
    if (!c->in_batch)
        tn__hconn_arm_read(c);
    else
        c->read_armed = 0;
}

void tn__hconn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    tn__hconn_clear_deadline(c);
    stop_timers(c);
    (void)tn__hconn_flush_cork(c);
    tn_iostream_close(c->stream);
}

/* Frees the connection and lets the server know it is gone. */
static void release_conn(conn_t *c)
{
    tn_httpserver_t *srv = c->server;
    c->closing = 1;
    stop_timers(c);
    tn__hreq_abandon(c);
    tn__hreq_free(&c->req);
    tn__h1parser_free(&c->parser);
    tn__pool_put(c->server->loop, c->head, c->head_cap);
    if (srv->cork_conn == c) {
        srv->cork_conn = NULL;
        srv->cork_len = 0;
    }
    tn_headers_free(c->scratch);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    tn_free(c);
    if (srv->nconns == 0 && srv->closing_all && srv->closed_pending) {
        srv->closed_pending = 0;
        if (srv->close_deadline) {
            tn_ioloop_remove_timeout(srv->loop, srv->close_deadline);
            srv->close_deadline = 0;
        }
        if (srv->closed_cb)
            srv->closed_cb(srv, 0, srv->closed_arg);
    }
    tn__hsrv_maybe_finish_free(srv);
}

static void on_stream_close(tn_iostream_t *s, void *arg)
{
    conn_t *c = arg;
    (void)s;
    c->closing = 1;
    if (c->detaching) {
        c->stream = NULL; /* the queued handover reports TN_ECLOSED and frees */
        return;
    }
    tn_http_detach_cb cb = c->detach_cb;
    void *cb_arg = c->detach_arg;
    release_conn(c);
    if (cb)
        cb(NULL, TN_ECLOSED, cb_arg);
}

/* ---- detach (upgrades) ---------------------------------------------------- */

/* Runs from the loop, outside every HTTP and application call: the
 * connection is released and its stream, with whatever the client sent
 * after the request still buffered, goes to the detach callback. */
static void handover(tn_ioloop_t *loop, void *arg)
{
    conn_t *c = arg;
    (void)loop;
    tn_http_detach_cb cb = c->detach_cb;
    void *cb_arg = c->detach_arg;
    tn_iostream_t *s = c->stream;
    if (s) {
        (void)tn__hconn_flush_cork(c);
        tn_iostream_set_close_callback(s, NULL, NULL);
    }
    release_conn(c);
    cb(s, s ? 0 : TN_ECLOSED, cb_arg);
}

/* The response to a detaching request is finished: no more reads, the
 * head goes out, the stream is handed over on the next loop turn. */
static void begin_handover(conn_t *c)
{
    tn__hconn_clear_deadline(c);
    if (!c->in_batch && tn__hconn_flush_cork(c) != 0) {
        tn__hconn_close(c);
        return;
    }
    if (tn_ioloop_add_callback(c->server->loop, handover, c) != 0) {
        tn__hconn_close(c); /* on_stream_close reports TN_ECLOSED */
        return;
    }
    c->detaching = 1;
}

int tn_http_request_detach(tn_http_request_t *req, tn_http_detach_cb cb, void *arg)
{
    conn_t *c = req ? req->conn : NULL;
    if (!c || !cb || !req->received)
        return TN_EINVAL;
    if (c->closing || c->fatal)
        return TN_ECLOSED;
    if (c->detach_cb)
        return TN_EALREADY;
    c->detach_cb = cb;
    c->detach_arg = arg;
    return 0;
}

void tn__hconn_on_stream(tn_tcpserver_t *tcp, tn_iostream_t *stream, const char *ip, int port,
                         void *arg)
{
    tn_httpserver_t *srv = arg;
    (void)tcp;
    (void)port;
    if (srv->freeing || srv->closing_all) {
        tn_iostream_close(stream);
        return;
    }
    conn_t *c = tn_calloc(1, sizeof *c);
    if (!c) {
        tn_iostream_close(stream);
        return;
    }
    c->server = srv;
    c->stream = stream;
    c->req.conn = c;
    snprintf(c->ip, sizeof c->ip, "%s", ip ? ip : "");
    if (tn__h1parser_init_shared(&c->parser, &srv->limits, &k_cbs, c, srv->fields) != 0) {
        tn_free(c);
        tn_iostream_close(stream);
        return;
    }
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    (void)tn_iostream_set_nodelay(stream, 1);
    tn_iostream_set_half_close(stream, 1);
    tn_iostream_set_close_callback(stream, on_stream_close, c);
    c->state = ST_HEAD;
    tn__hconn_set_deadline(c, srv->opts.idle_timeout_ms);
    tn__hconn_arm_read(c);
}

int tn_httpserver_handle_stream(tn_httpserver_t *server, tn_iostream_t *stream, const char *ip)
{
    size_t before = server->nconns;
    if (!stream)
        return TN_EINVAL;
    if (server->freeing || server->closing_all) {
        tn_iostream_close(stream);
        return TN_ECLOSED;
    }
    tn__hconn_on_stream(NULL, stream, ip, 0, server);
    return server->nconns > before ? 0 : TN_ENOMEM;
}
