/* The client's exchanges: connections (new or from the keep-alive pool),
 * sending the request and its body, reading the response through the
 * strict parser, the dead-connection retry, and redirects. */
#include <stdio.h>
#include <string.h>

#include "httpclient_internal.h"
#include "tornuv/tcpclient.h"

static void exchange_done(tn_fetch_t *f, int leftover);

/* ---- the pool ------------------------------------------------------------ */

static void pool_unlink(hc_conn_t *conn)
{
    tn_httpclient_t *c = conn->client;
    if (!conn->idle)
        return;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        c->idle = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
    conn->idle = 0;
    c->nidle--;
    tn_ioloop_remove_timeout(c->loop, conn->idle_timer);
    conn->idle_timer = 0;
}

static void conn_close(hc_conn_t *conn)
{
    pool_unlink(conn);
    conn->closing = 1;
    tn_iostream_close(conn->stream);
}

static void on_idle_timeout(tn_ioloop_t *loop, void *arg)
{
    hc_conn_t *conn = arg;
    (void)loop;
    conn->idle_timer = 0;
    conn_close(conn);
}

static void pool_put(hc_conn_t *conn)
{
    tn_httpclient_t *c = conn->client;
    size_t same = 0;
    hc_conn_t *i;
    for (i = c->idle; i; i = i->next)
        if (strcmp(i->origin, conn->origin) == 0)
            same++;
    /* Unsolicited bytes were ruled out by the caller (the exchange's own
     * bytes are still in the read buffer while its callback runs). */
    if (c->freeing || same >= c->o.max_idle_per_host || tn_iostream_closed(conn->stream)) {
        conn_close(conn);
        return;
    }
    conn->idle_timer = tn_ioloop_call_later(c->loop, c->o.idle_timeout_ms, on_idle_timeout, conn);
    if (!conn->idle_timer) {
        conn_close(conn);
        return;
    }
    conn->idle = 1;
    conn->prev = NULL;
    conn->next = c->idle;
    if (c->idle)
        c->idle->prev = conn;
    c->idle = conn;
    c->nidle++;
}

/* The most recently used idle connection to origin that still looks alive
 * (no EOF seen, nothing unsolicited buffered). */
static hc_conn_t *pool_take(tn_httpclient_t *c, const char *origin)
{
    for (hc_conn_t *i = c->idle; i; i = i->next) {
        if (strcmp(i->origin, origin) != 0)
            continue;
        if (tn_iostream_closed(i->stream) || tn_iostream_buffered(i->stream) > 0)
            continue;
        pool_unlink(i);
        return i;
    }
    return NULL;
}

void tn__hc_close_idle(tn_httpclient_t *c)
{
    while (c->idle)
        conn_close(c->idle);
}

/* ---- connections ----------------------------------------------------------- */

static void conn_eof(tn_fetch_t *f);

static void on_stream_close(tn_iostream_t *s, void *arg)
{
    hc_conn_t *conn = arg;
    tn_httpclient_t *c = conn->client;
    tn_fetch_t *f = conn->fetch;
    pool_unlink(conn);
    conn->stream = NULL;
    if (f) {
        /* Closed with no read pending: paused, or between reads. */
        conn->fetch = NULL;
        f->conn = NULL;
        f->close_cause = tn_iostream_error(s);
        if (f->paused)
            f->eof_pending = 1;
        else
            conn_eof(f);
    }
    tn_free(conn);
    c->nconns--;
    tn__hc_maybe_free(c);
}

static hc_conn_t *conn_new(tn_httpclient_t *c, tn_iostream_t *stream, const char *origin)
{
    hc_conn_t *conn = tn_calloc(1, sizeof *conn);
    if (!conn)
        return NULL;
    conn->client = c;
    conn->stream = stream;
    snprintf(conn->origin, sizeof conn->origin, "%s", origin);
    c->nconns++;
    tn_iostream_set_close_callback(stream, on_stream_close, conn);
    tn_iostream_set_nodelay(stream, 1);
    return conn;
}

void tn__hc_detach_conn(tn_fetch_t *f, int keep)
{
    hc_conn_t *conn = f->conn;
    if (!conn)
        return;
    f->conn = NULL;
    conn->fetch = NULL;
    if (keep)
        pool_put(conn);
    else
        conn_close(conn);
}

/* ---- sending --------------------------------------------------------------- */

static int call_producer(tn_fetch_t *f)
{
    int rc;
    f->producer_open = 1;
    rc = f->o.body_producer(f, f->o.producer_arg);
    if (f->state == F_FINISHED)
        return TN_ECANCELED;
    if (rc < 0) {
        tn__hc_finish(f, rc, "body producer failed: %s", tn_strerror(rc));
        return rc;
    }
    return 0;
}

/* The body after the head, or after 100 Continue. */
static int send_body(tn_fetch_t *f)
{
    if (f->o.body_producer)
        return call_producer(f);
    if (f->body_len > 0) {
        int rc = tn_iostream_write(f->conn->stream, f->body, f->body_len, NULL, NULL);
        if (rc != 0 && rc != TN_ECLOSED) {
            tn__hc_finish(f, rc, "sending the body: %s", tn_strerror(rc));
            return rc;
        }
    }
    return 0;
}

static size_t on_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg);

static void send_request(tn_fetch_t *f)
{
    tn_httpclient_t *c = f->client;
    char *head = NULL;
    size_t hl = 0;
    tn_buf_t b[2];
    size_t nb = 1;
    int rc = tn__hc_build_head(f, !c->o.no_keep_alive, &head, &hl);
    if (rc != 0) {
        tn__hc_finish(f, rc, "building the request: %s", tn_strerror(rc));
        return;
    }
    b[0].base = head;
    b[0].len = hl;
    f->waiting_100 = f->o.expect_100_continue && f->has_body;
    if (!f->waiting_100 && !f->o.body_producer && f->body_len > 0) {
        b[1].base = f->body;
        b[1].len = f->body_len;
        nb = 2;
    }
    rc = tn_iostream_writev(f->conn->stream, b, nb, NULL, NULL);
    tn_free(head);
    if (rc == 0)
        rc = tn_iostream_read_some(f->conn->stream, on_read, f->conn);
    if (rc != 0 && rc != TN_ECLOSED) {
        tn__hc_finish(f, rc, "sending the request: %s", tn_strerror(rc));
        return;
    }
    /* TN_ECLOSED: the close callback reports it (a dead pooled connection
     * is retried there). */
    if (rc == 0 && !f->waiting_100 && f->o.body_producer)
        call_producer(f);
}

static void attach(tn_fetch_t *f, hc_conn_t *conn)
{
    f->conn = conn;
    conn->fetch = f;
    f->state = F_ACTIVE;
    tn__hc_arm(f,
               f->o.request_timeout_ms == TN_NO_TIMEOUT ? TN_NO_TIMEOUT
                                                        : f->t_start + f->o.request_timeout_ms,
               "Timeout during request");
    if (f->state == F_ACTIVE)
        send_request(f);
}

static void on_connected(tn_iostream_t *stream, int status, void *arg)
{
    hc_connect_t *pc = arg;
    tn_httpclient_t *c = pc->client;
    tn_fetch_t *f = pc->fetch;
    if (c)
        tn__hc_connect_unlink(c, pc);
    tn_free(pc);
    if (!f) {
        if (stream && status == 0)
            tn_iostream_close(stream);
        if (c)
            tn__hc_maybe_free(c);
        return;
    }
    f->connecting = NULL;
    if (status != 0) {
        tn__hc_finish(f, status, "Connection to %s failed: %s", f->origin, tn_strerror(status));
        return;
    }
    f->connect_ms = tn_ioloop_time_ms(c->loop) - f->t_connect;
    hc_conn_t *conn = conn_new(c, stream, f->pool_key);
    if (!conn) {
        tn_iostream_close(stream);
        tn__hc_finish(f, TN_ENOMEM, "out of memory");
        return;
    }
    attach(f, conn);
}

static const tn__h1resp_cbs_t k_cbs;

void tn__hc_start_exchange(tn_fetch_t *f)
{
    tn_httpclient_t *c = f->client;
    uint64_t now = tn_ioloop_time_ms(c->loop);
    hc_conn_t *conn = NULL;
    int rc;

    f->state = F_CONNECTING;
    f->following = f->waiting_100 = f->body_unsent = f->response_done = 0;
    f->paused = f->eof_pending = f->producer_open = 0;
    f->up_sent = f->up_len = 0;
    f->first_byte_ms = 0;
    tn__h1resp_reset(&f->parser);
    f->parser.cbs = &k_cbs;
    f->parser.arg = f;
    f->parser.head_request = strcmp(f->method, "HEAD") == 0;
    tn__hc_body_reset(f);
    uint64_t rdl = f->o.request_timeout_ms == TN_NO_TIMEOUT ? TN_NO_TIMEOUT
                                                            : f->t_start + f->o.request_timeout_ms;
    uint64_t cdl =
        f->o.connect_timeout_ms == TN_NO_TIMEOUT ? TN_NO_TIMEOUT : now + f->o.connect_timeout_ms;
    tn__hc_arm(f, rdl < cdl ? rdl : cdl, "Timeout while connecting");
    if (f->state == F_FINISHED)
        return;
    if (!c->o.no_keep_alive && !f->retried)
        conn = pool_take(c, f->pool_key);
    f->reused = conn != NULL;
    if (conn) {
        f->connect_ms = 0;
        attach(f, conn);
        return;
    }
    hc_connect_t *pc = tn_calloc(1, sizeof *pc);
    if (!pc) {
        tn__hc_finish(f, TN_ENOMEM, "out of memory");
        return;
    }
    pc->client = c;
    pc->fetch = f;
    f->connecting = pc;
    f->t_connect = now;
    tn_iostream_options_t so = {.max_buffer_size = c->o.max_buffer_size};
    uint64_t left = (rdl < cdl ? rdl : cdl);
    left = left == TN_NO_TIMEOUT ? 0 : left > now ? left - now : 1;
    tn__hc_connect_link(c, pc);
    /* The attempt gets its own bound too: it cannot be cancelled, and an
     * abandoned one must not linger for the kernel's minutes. */
    if (f->u.https)
        rc = tn_tcpclient_connect_tls(c->loop, f->u.host, f->u.port, left, &so, f->tls, f->u.host,
                                      on_connected, pc);
    else
        rc = tn_tcpclient_connect(c->loop, f->u.host, f->u.port, left, &so, on_connected, pc);
    if (rc != 0) {
        tn__hc_connect_unlink(c, pc);
        tn_free(pc);
        f->connecting = NULL;
        tn__hc_finish(f, rc, "Connection to %s failed: %s", f->origin, tn_strerror(rc));
    }
}

/* ---- receiving ------------------------------------------------------------- */

static int on_head(tn__h1resp_t *p, void *arg)
{
    tn_fetch_t *f = arg;
    if (p->code < 200) {
        if (p->code == 100 && f->waiting_100) {
            f->waiting_100 = 0;
            if (send_body(f) != 0)
                return TN_ECANCELED;
        }
        return 0;
    }
    if (f->waiting_100) {
        /* A final answer instead of 100: the body is never sent, and the
         * server may still be waiting for it, so the connection ends with
         * this exchange (Tornado: test_100_continue_early_response). */
        f->waiting_100 = 0;
        f->body_unsent = 1;
    }
    return tn__hc_body_begin(f);
}

static int on_body(tn__h1resp_t *p, const char *data, size_t len, void *arg)
{
    (void)p;
    return tn__hc_body_data(arg, data, len);
}

static int on_complete(tn__h1resp_t *p, void *arg)
{
    tn_fetch_t *f = arg;
    int rc;
    (void)p;
    rc = tn__hc_body_end(f);
    if (rc == 0)
        f->response_done = 1;
    return rc;
}

static const tn__h1resp_cbs_t k_cbs = {on_head, on_body, on_complete};

static void fail_parse(tn_fetch_t *f, int rc)
{
    if (f->state == F_FINISHED)
        return;
    if (rc == TN_ETOOLARGE || rc == TN_EHTTP || rc == TN_ECLOSED)
        tn__hc_finish(f, rc, "%s", f->parser.error ? f->parser.error : tn_strerror(rc));
    else if (f->errmsg[0])
        tn__hc_finish(f, rc, NULL);
    else
        tn__hc_finish(f, rc, "%s", tn_strerror(rc));
}

static size_t on_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    hc_conn_t *conn = arg;
    tn_fetch_t *f = conn->fetch;
    long long n;
    if (!f)
        return len;
    if (status != 0) {
        conn_eof(f);
        return 0;
    }
    if (!f->parser.seen_bytes && len > 0)
        f->first_byte_ms = tn_ioloop_time_ms(f->client->loop) - f->t_start;
    n = tn__h1resp_feed(&f->parser, data, len);
    if (f->state == F_FINISHED || f->conn != conn)
        return len;
    if (n < 0) {
        fail_parse(f, (int)n);
        return len;
    }
    if (f->response_done) {
        exchange_done(f, (size_t)n < len);
        return len;
    }
    if (!f->paused && tn_iostream_read_some(s, on_read, conn) != 0)
        return (size_t)n; /* closing: the close callback reports it */
    return (size_t)n;
}

/* The connection ended (read or close callback) during the exchange. */
static void conn_eof(tn_fetch_t *f)
{
    int cause = f->close_cause, rc;
    if (f->state == F_FINISHED)
        return;
    if (f->conn) {
        cause = tn_iostream_error(f->conn->stream);
        tn__hc_detach_conn(f, 0);
    }
    /* A pooled connection the server had closed before it saw the request:
     * an idempotent request is safe to send again, once, on a new one. */
    if (f->reused && !f->parser.seen_bytes && !f->retried && tn__hc_idempotent(f)) {
        f->retried = 1;
        tn__hc_start_exchange(f);
        return;
    }
    /* Over TLS, a body that runs to the end of the connection is whole only
     * if the server said so with close_notify. */
    if (cause == TN_ETLSTRUNC && f->parser.body_kind == TN__H1BODY_CLOSE && !f->response_done) {
        tn__hc_finish(f, TN_ETLSTRUNC,
                      "TLS connection ended without close_notify: the body "
                      "may be truncated");
        return;
    }
    rc = tn__h1resp_eof(&f->parser);
    if (f->state == F_FINISHED)
        return;
    if (rc == 0 && f->response_done) {
        exchange_done(f, 0);
        return;
    }
    if (rc == TN_ECLOSED && cause != 0)
        tn__hc_finish(f, rc, "%s (%s)", f->parser.error, tn_strerror(cause));
    else
        fail_parse(f, rc ? rc : TN_ECLOSED);
}

static void exchange_done(tn_fetch_t *f, int leftover)
{
    tn_httpclient_t *c = f->client;
    int keep = f->conn && f->parser.keep_alive && !leftover && !f->body_unsent &&
               !f->producer_open && !c->o.no_keep_alive && !c->freeing;
    if (f->following) {
        size_t n = 0;
        const char *loc = tn_headers_get(f->headers, "Location", &n);
        char *copy = loc ? tn_strndup(loc, n) : NULL;
        int rc;
        tn__hc_detach_conn(f, keep);
        if (!copy) {
            tn__hc_finish(f, TN_ENOMEM, "out of memory");
            return;
        }
        rc = tn__hc_redirect(f, copy, n);
        tn_free(copy);
        if (rc == 0 && f->u.https)
            rc = tn__hc_tls_select(f);
        if (rc != 0) {
            if (rc == TN_ENOMEM)
                tn__hc_finish(f, rc, "out of memory");
            else
                tn__hc_finish(f, rc, NULL);
            return;
        }
        tn__hc_requeue(f);
        return;
    }
    f->final_reused = f->reused;
    tn__hc_detach_conn(f, keep);
    if (f->code >= 200 && f->code < 300)
        tn__hc_finish(f, 0, NULL);
    else
        tn__hc_finish(f, TN_EHTTP, "HTTP %d: %s", f->code, tn_fetch_reason(f));
}

static void on_resume(tn_ioloop_t *loop, void *arg)
{
    tn_fetch_t *f = arg;
    int rc;
    (void)loop;
    f->resume_scheduled = 0;
    if (f->state == F_FINISHED || f->paused)
        return;
    rc = tn__hc_body_resume(f);
    if (f->state == F_FINISHED)
        return;
    if (rc < 0) {
        fail_parse(f, rc);
        return;
    }
    if (f->paused)
        return;
    /* A pause on the last span of a body leaves llhttp holding the end of
     * the message with nothing buffered to feed it: run the parser over no
     * bytes, or the exchange would wait for bytes that never come. */
    if (f->conn && f->parser.llhttp_paused && tn_iostream_buffered(f->conn->stream) == 0) {
        long long n = tn__h1resp_feed(&f->parser, "", 0);
        if (f->state == F_FINISHED)
            return;
        if (n < 0) {
            fail_parse(f, (int)n);
            return;
        }
        if (f->response_done) {
            exchange_done(f, 0);
            return;
        }
        if (f->paused)
            return;
    }
    if (f->eof_pending) {
        f->eof_pending = 0;
        conn_eof(f);
    } else if (f->conn && tn_iostream_read_some(f->conn->stream, on_read, f->conn) != 0) {
        /* closing: its close callback ends the exchange */
    }
}

int tn__hc_resume(tn_fetch_t *f)
{
    f->paused = 0;
    f->parser.pause = 0;
    if (f->resume_scheduled)
        return 0;
    if (tn__loop_defer_node(f->client->loop, &f->resume_node, on_resume, f) != 0)
        return TN_EDETACHED;
    f->resume_scheduled = 1;
    return 0;
}

/* ---- the producer's writes --------------------------------------------------- */

typedef struct {
    tn_fetch_t *f;
    tn_fetch_write_cb cb;
    void *arg;
} wreq_t;

static void on_written(tn_iostream_t *s, int status, void *arg)
{
    wreq_t *w = arg;
    tn_fetch_t *f = w->f;
    (void)s;
    if (w->cb)
        w->cb(f, status, w->arg);
    tn_free(w);
    tn__hc_fetch_unref(f);
}

int tn_fetch_write(tn_fetch_t *f, const void *data, size_t len, tn_fetch_write_cb cb, void *arg)
{
    char pre[24];
    tn_buf_t b[3];
    size_t nb = 0;
    wreq_t *w;
    int rc;
    if (!f || (len > 0 && !data))
        return TN_EINVAL;
    if (f->state == F_FINISHED || !f->conn)
        return TN_ECLOSED;
    if (!f->producer_open)
        return TN_EINVAL;
    if (!f->chunked_up && len > f->up_len - f->up_sent)
        return TN_EINVAL;
    w = tn_malloc(sizeof *w);
    if (!w)
        return TN_ENOMEM;
    w->f = f;
    w->cb = cb;
    w->arg = arg;
    if (f->chunked_up && len > 0) {
        b[nb].base = pre;
        b[nb++].len = (size_t)snprintf(pre, sizeof pre, "%zx\r\n", len);
    }
    if (len > 0) {
        b[nb].base = data;
        b[nb++].len = len;
    }
    if (f->chunked_up && len > 0) {
        b[nb].base = "\r\n";
        b[nb++].len = 2;
    }
    f->refs++;
    rc = tn_iostream_writev(f->conn->stream, b, nb, on_written, w);
    if (rc != 0) {
        f->refs--;
        tn_free(w);
        return rc;
    }
    f->up_sent += len;
    return 0;
}

int tn_fetch_write_end(tn_fetch_t *f)
{
    int rc = 0;
    if (!f)
        return TN_EINVAL;
    if (f->state == F_FINISHED || !f->conn)
        return TN_ECLOSED;
    if (!f->producer_open || (!f->chunked_up && f->up_sent != f->up_len))
        return TN_EINVAL;
    if (f->chunked_up)
        rc = tn_iostream_write(f->conn->stream, "0\r\n\r\n", 5, NULL, NULL);
    if (rc == 0)
        f->producer_open = 0;
    return rc;
}
