/* The response writer: head serialization into the connection's head
 * buffer, body framing (Content-Length or chunked), finish, the one-call
 * tn_http_response_send, and the output path they share: responses produced
 * during a read batch are corked into the server's one cork buffer and
 * written with one call when the batch ends. */
#include <stdio.h>
#include <string.h>

#include "httpserver_internal.h"
#include "pool.h"

/* ---- output ------------------------------------------------------------- */

static int out_reserve(tn_httpserver_t *srv, size_t more)
{
    if (srv->cork_cap - srv->cork_len >= more)
        return 0;
    size_t cap = srv->cork_cap ? srv->cork_cap : 4096;
    while (cap - srv->cork_len < more)
        cap *= 2;
    char *nb = tn_realloc(srv->cork, cap);
    if (!nb)
        return TN_ENOMEM;
    srv->cork = nb;
    srv->cork_cap = cap;
    return 0;
}

/* Bytes corked for c so far. */
size_t tn__hconn_corked(const conn_t *c)
{
    return c->server->cork_conn == c ? c->server->cork_len : 0;
}

int tn__hconn_flush_cork(conn_t *c)
{
    tn_httpserver_t *srv = c->server;
    if (srv->cork_conn != c)
        return 0;
    size_t n = srv->cork_len;
    srv->cork_len = 0;
    srv->cork_conn = NULL;
    if (!n || c->closing)
        return 0;
    int err = tn_iostream_write(c->stream, srv->cork, n, NULL, NULL);
    if (err == 0)
        tn__hconn_watch_output(c, n);
    return err;
}

typedef struct {
    tn_http_request_t *req;
    tn_http_write_cb cb;
    void *arg;
} wcb_t;

static void on_write_done(tn_iostream_t *s, int status, void *arg)
{
    wcb_t *w = arg;
    (void)s;
    w->cb(w->req, status, w->arg);
    tn_free(w);
}

/* Sends bufs: corked while a batch runs (no callback), else written now. */
int tn__hconn_send(conn_t *c, const tn_buf_t *bufs, size_t n, tn_write_cb cb, void *arg)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += bufs[i].len;
    tn_httpserver_t *srv = c->server;
    if (c->in_batch && cb == NULL && tn__hconn_corked(c) + total <= srv->opts.max_write_buffer) {
        if (srv->cork_conn != c && srv->cork_len > 0)
            return TN_EINVAL; /* another connection's batch never ended */
        if (out_reserve(srv, total) != 0)
            return TN_ENOMEM;
        srv->cork_conn = c;
        for (size_t i = 0; i < n; i++) {
            if (bufs[i].len)
                memcpy(srv->cork + srv->cork_len, bufs[i].base, bufs[i].len);
            srv->cork_len += bufs[i].len;
        }
        return 0;
    }
    int err = tn__hconn_flush_cork(c);
    if (err != 0)
        return err;
    err = tn_iostream_writev(c->stream, bufs, n, cb, arg);
    if (err == 0)
        tn__hconn_watch_output(c, total);
    return err;
}

/* ---- response ----------------------------------------------------------- */

static int usable(const tn_http_request_t *req)
{
    const conn_t *c = req->conn;
    if (!req->active || req->ended || c->closing || c->state == ST_LINGER)
        return TN_ECLOSED;
    if (req->finished)
        return TN_EFINISHED;
    return 0;
}

/* The connection's head buffer, allocated on first use. */
static int head_buffer(conn_t *c)
{
    if (c->head)
        return 0;
    c->head = tn__pool_get(c->server->loop, HEAD_BUF_MIN, &c->head_cap);
    if (!c->head)
        return TN_ENOMEM;
    return 0;
}

/* A head of n bytes was serialized into c->head for status. */
static void head_done(tn_http_request_t *req, long long n, int status)
{
    req->head_len = (size_t)n;
    if (req->resp.close_after)
        req->keep_alive = 0;
    req->status = status;
    req->headers_written = 1;
}

int tn_http_response_write_headers(tn_http_request_t *req, int status, const char *reason,
                                   const tn_headers_t *headers)
{
    conn_t *c = req->conn;
    int err = usable(req);
    if (err != 0)
        return err;
    if (req->headers_written)
        return TN_EALREADY;
    /* Answering before the request was read: Tornado closes afterwards. */
    if (!req->received)
        req->keep_alive = 0;
    if ((err = head_buffer(c)) != 0)
        return err;
    for (;;) {
        long long n = tn__h1_response_head(c->head, c->head_cap, &req->resp, req->version, status,
                                           reason, headers, req->is_head, req->keep_alive,
                                           tn__hsrv_date(c->server), c->server->server_header);
        if (n >= 0) {
            head_done(req, n, status);
            return 0;
        }
        if (n != TN_EBUFFULL || c->head_cap >= HEAD_BUF_MAX)
            return n == TN_EBUFFULL ? TN_ETOOLARGE : (int)n;
        char *nb = tn_realloc(c->head, c->head_cap * 2);
        if (!nb)
            return TN_ENOMEM;
        c->head = nb;
        c->head_cap *= 2;
    }
}

/* Sends the head (if unsent), then data framed as the response requires. */
static int send_body(tn_http_request_t *req, const char *data, size_t len, int last,
                     tn_http_write_cb cb, void *arg)
{
    conn_t *c = req->conn;
    tn_buf_t b[5];
    size_t n = 0;
    char size_line[24];
    if (req->head_len) {
        b[n].base = c->head;
        b[n++].len = req->head_len;
    }
    if (len && !req->resp.no_body) {
        if (req->resp.chunked) {
            int k = snprintf(size_line, sizeof size_line, "%zx\r\n", len);
            b[n].base = size_line;
            b[n++].len = (size_t)k;
        }
        b[n].base = data;
        b[n++].len = len;
        if (req->resp.chunked) {
            b[n].base = "\r\n";
            b[n++].len = 2;
        }
    }
    if (last && req->resp.chunked && !req->resp.no_body) {
        b[n].base = "0\r\n\r\n";
        b[n++].len = 5;
    }
    wcb_t *wc = NULL;
    if (cb) {
        wc = tn_malloc(sizeof *wc);
        if (!wc)
            return TN_ENOMEM;
        wc->req = req;
        wc->cb = cb;
        wc->arg = arg;
    }
    int err = tn__hconn_send(c, b, n, cb ? on_write_done : NULL, wc);
    if (err != 0) {
        tn_free(wc);
        return err;
    }
    req->head_len = 0;
    if (!req->resp.no_body)
        req->body_sent += len;
    return 0;
}

int tn_http_response_write(tn_http_request_t *req, const char *data, size_t len,
                           tn_http_write_cb cb, void *arg)
{
    int err = usable(req);
    if (err != 0)
        return err;
    if (!req->headers_written && (err = tn_http_response_write_headers(req, 200, NULL, NULL)) != 0)
        return err;
    if (req->resp.has_length && !req->resp.no_body &&
        req->body_sent + len > req->resp.declared_length)
        return TN_ETOOLARGE;
    return send_body(req, data, len, 0, cb, arg);
}

int tn_http_response_finish(tn_http_request_t *req)
{
    conn_t *c = req->conn;
    int err = usable(req);
    if (err != 0)
        return err;
    if (!req->headers_written && (err = tn_http_response_write_headers(req, 200, NULL, NULL)) != 0)
        return err;
    if (req->resp.has_length && !req->resp.no_body && req->body_sent < req->resp.declared_length) {
        tn_log(TN_LOG_WARN, "Response finished with %llu of %llu declared bytes; closing",
               (unsigned long long)req->body_sent, (unsigned long long)req->resp.declared_length);
        req->keep_alive = 0;
    }
    err = send_body(req, NULL, 0, 1, NULL, NULL);
    req->finished = 1;
    if (err != 0) {
        tn__hconn_close(c);
        return err;
    }
    /* Inside a batch, dispatch() moves on once the handler returns. */
    if (req->received && req->delivered && c->state == ST_APP && !c->in_batch)
        tn__hconn_advance(c);
    return 0;
}

int tn_http_response_send(tn_http_request_t *req, int status, const char *content_type,
                          const char *body, size_t len)
{
    conn_t *c = req->conn;
    char cl[24];
    int err = usable(req);
    if (err != 0)
        return err;
    if (req->headers_written)
        return TN_EALREADY;
    if (!req->received)
        req->keep_alive = 0;
    /* The fast path: no header map, one formatting pass into the head
     * buffer. A head too large for it takes the general path. */
    long long n =
        head_buffer(c) == 0
            ? tn__h1_response_head_simple(c->head, c->head_cap, &req->resp, req->version, status,
                                          content_type, len, req->is_head, req->keep_alive,
                                          tn__hsrv_date(c->server), c->server->server_header)
            : TN_ENOMEM;
    if (n == TN_EINVAL)
        return TN_EINVAL;
    if (n >= 0) {
        head_done(req, n, status);
    } else {
        if (!c->scratch && (err = tn_headers_new(&c->scratch)) != 0)
            return err;
        tn_headers_t *h = c->scratch;
        tn_headers_clear(h);
        int k = snprintf(cl, sizeof cl, "%zu", len);
        if ((content_type && (err = tn_headers_add(h, "Content-Type", 12, content_type,
                                                   strlen(content_type))) != 0) ||
            (err = tn_headers_add(h, "Content-Length", 14, cl, (size_t)k)) != 0)
            return err;
        if ((err = tn_http_response_write_headers(req, status, NULL, h)) != 0)
            return err;
    }
    if (len && (err = send_body(req, body, len, 0, NULL, NULL)) != 0) {
        tn__hconn_close(c);
        return err;
    }
    return tn_http_response_finish(req);
}

int tn_http_response_status(const tn_http_request_t *req)
{
    return req->status;
}

size_t tn_http_response_buffered(const tn_http_request_t *req)
{
    conn_t *c = req->conn;
    if (c == NULL || c->closing)
        return 0;
    return tn_iostream_write_buffered(c->stream) + tn__hconn_corked(c);
}

int tn_http_response_write_ref(tn_http_request_t *req, const char *data, size_t len,
                               tn_http_write_cb release, void *arg)
{
    conn_t *c = req->conn;
    if (release == NULL || (data == NULL && len > 0))
        return TN_EINVAL;
    int err = usable(req);
    if (err != 0)
        return err;
    if (!req->headers_written && (err = tn_http_response_write_headers(req, 200, NULL, NULL)) != 0)
        return err;
    if (req->resp.has_length && !req->resp.no_body &&
        req->body_sent + len > req->resp.declared_length)
        return TN_ETOOLARGE;
    wcb_t *wc = tn_malloc(sizeof *wc);
    if (!wc)
        return TN_ENOMEM;
    wc->req = req;
    wc->cb = release;
    wc->arg = arg;
    int body = len > 0 && !req->resp.no_body;
    /* The framing is copied (head, chunk size line), the data is not: it
     * goes to the stream by reference, behind whatever was corked, and is
     * released when it reached the OS. With nothing to send by reference
     * (HEAD, an empty write) an empty write carries the release. */
    tn_buf_t pre[2];
    size_t n = 0;
    char size_line[24];
    if (req->head_len) {
        pre[n].base = c->head;
        pre[n++].len = req->head_len;
    }
    if (body && req->resp.chunked) {
        int k = snprintf(size_line, sizeof size_line, "%zx\r\n", len);
        pre[n].base = size_line;
        pre[n++].len = (size_t)k;
    }
    if ((n > 0 && (err = tn__hconn_send(c, pre, n, NULL, NULL)) != 0) ||
        (err = tn__hconn_flush_cork(c)) != 0) {
        tn_free(wc);
        tn__hconn_close(c);
        return err;
    }
    req->head_len = 0;
    if (body)
        err = tn_iostream_write_ref(c->stream, data, len, on_write_done, wc);
    else
        err = tn_iostream_write(c->stream, NULL, 0, on_write_done, wc);
    if (err != 0) {
        tn_free(wc);
        tn__hconn_close(c); /* the framing went out without its data */
        return err;
    }
    if (body && req->resp.chunked && tn_iostream_write(c->stream, "\r\n", 2, NULL, NULL) != 0) {
        tn__hconn_close(c);
        return 0; /* the release still comes, with TN_ECLOSED */
    }
    if (!req->resp.no_body)
        req->body_sent += len;
    return 0;
}
