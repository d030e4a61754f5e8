/* HTTPServer and HTTP1Connection: requests parsed straight from an
 * IOStream's buffer, served one at a time per connection.
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
#include <time.h>
#include <zlib.h>

#include "http1_parser.h"
#include "http1_response.h"
#include "tornuv/httpserver.h"
#include "tornuv/iostream.h"
#include "tornuv/tcpserver.h"

enum { ST_HEAD, ST_BODY, ST_APP, ST_DRAIN, ST_LINGER };

#define TN_HTTP_DEFAULT_MAX_WRITE_BUFFER ((size_t)64 * 1024)
#define TN_HTTP_SERVER_NAME "TornadoServer/tornuv"
#define HEAD_BUF_MIN 512
#define HEAD_BUF_MAX ((size_t)1 << 20)

typedef struct conn_s conn_t;

struct tn_http_request_s {
    conn_t *conn;
    /* Start line, copied: method NUL uri NUL. */
    char *line;
    size_t line_cap, method_len, uri_len;
    tn_strview_t path, query;
    int version;
    tn_headers_t *headers;
    const char *host;
    size_t host_len;
    char remote_ip[64];
    const char *protocol;
    /* Simple mode body. */
    char *body;
    size_t body_len, body_cap;
    tn_args_t *args, *cookies;
    tn_files_t *files;
    unsigned char args_done, cookies_done;
    uint64_t start_ms, start_us;
    void *data;
    uint64_t max_body;
    uint64_t body_timeout_ms;
    tn_http_request_close_cb close_cb;
    void *close_arg;
    /* Lifecycle. */
    unsigned char active;    /* between start and end */
    unsigned char received;  /* whole request read */
    unsigned char delivered; /* finish / request_cb called */
    unsigned char ended;     /* on_connection_close called */
    unsigned char paused;
    unsigned char is_head;
    unsigned char keep_alive;
    /* Response. */
    int status;
    tn__h1resp_t resp;
    unsigned char headers_written, finished;
    size_t head_len; /* serialized head not yet sent, in conn->head */
    uint64_t body_sent;
    /* gzip request bodies */
    z_stream *zs;
};

struct conn_s {
    tn_httpserver_t *server;
    tn_iostream_t *stream;
    conn_t *prev, *next;
    tn__h1parser_t parser;
    tn_http_request_t req;
    char ip[64];
    char *head;
    size_t head_cap;
    uint64_t deadline, timer_at;
    tn_timeout_id timer;
    uint32_t requests;
    unsigned char state;
    unsigned char read_armed;
    unsigned char in_batch;
    unsigned char closing;     /* the stream was asked to close */
    unsigned char fatal;       /* stop processing input at once */
    unsigned char hdr_started; /* bytes of the next request arrived */
    tn_headers_t *scratch;     /* tn_http_response_send's headers */
};

struct tn_httpserver_s {
    tn_ioloop_t *loop;
    tn_tcpserver_t *tcp;
    tn_httpserver_options_t opts;
    tn_http_delegate_t delegate;
    char *server_header;
    char **trusted;
    size_t ntrusted;
    tn__h1field_t *fields;
    tn__h1parser_limits_t limits;
    /* Responses produced during one connection's read batch, written with
     * one call when the batch ends. Batches never overlap (each runs inside
     * one delivery), so one buffer serves every connection: an idle
     * connection holds no output memory. */
    char *cork;
    size_t cork_len, cork_cap;
    conn_t *cork_conn;
    conn_t *conns;
    size_t nconns;
    char date[TN_HTTP_DATE_LEN];
    uint64_t date_sec;
    /* close_all_connections */
    tn_httpserver_closed_cb closed_cb;
    void *closed_arg;
    unsigned char closing_all, closed_pending;
    tn_timeout_id close_deadline;
    /* free */
    tn_httpserver_freed_cb freed_cb;
    void *freed_arg;
    unsigned char freeing, tcp_freed;
};

static void arm_read(conn_t *c);
static void conn_close(conn_t *c);
static void advance(conn_t *c);
static void linger(conn_t *c);
static int out_send(conn_t *c, const tn_buf_t *bufs, size_t n, tn_write_cb cb, void *arg);
static void maybe_finish_free(tn_httpserver_t *srv);

/* ---- small helpers ------------------------------------------------------ */

static const char *server_date(tn_httpserver_t *srv)
{
    uint64_t sec = tn_ioloop_time_ms(srv->loop) / 1000 + 1;
    if (sec != srv->date_sec) {
        srv->date_sec = sec;
        if (tn_http_date_format((int64_t)time(NULL), srv->date) != 0)
            srv->date[0] = 0;
    }
    return srv->date[0] ? srv->date : NULL;
}

static int is_ipv4(const char *s, size_t n)
{
    int parts = 0;
    size_t i = 0;
    while (parts < 4) {
        unsigned v = 0, digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
            v = v * 10 + (unsigned)(s[i] - '0');
            i++;
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255)
            return 0;
        parts++;
        if (parts < 4) {
            if (i >= n || s[i] != '.')
                return 0;
            i++;
        }
    }
    return i == n;
}

/* IPv6 in text form: hex groups and colons, at most one "::", an optional
 * dotted IPv4 tail. Enough to refuse anything that is not an address. */
static int is_ipv6(const char *s, size_t n)
{
    size_t i = 0, groups = 0;
    int dbl = 0;
    if (n < 2 || n > 45)
        return 0;
    if (s[0] == ':') {
        if (s[1] != ':')
            return 0;
    }
    while (i < n) {
        if (s[i] == ':') {
            if (i + 1 < n && s[i + 1] == ':') {
                if (dbl)
                    return 0;
                dbl = 1;
                i += 2;
                continue;
            }
            if (i == 0 || i + 1 == n)
                return 0;
            i++;
            continue;
        }
        size_t start = i;
        while (i < n && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                         (s[i] >= 'A' && s[i] <= 'F')))
            i++;
        if (i < n && s[i] == '.') {
            if (!is_ipv4(s + start, n - start))
                return 0;
            groups += 2;
            i = n;
            break;
        }
        if (i == start || i - start > 4)
            return 0;
        groups++;
    }
    return dbl ? groups < 8 : groups == 8;
}

static int valid_ip(const char *s, size_t n)
{
    return is_ipv4(s, n) || is_ipv6(s, n);
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static int trusted(const tn_httpserver_t *srv, const char *ip, size_t n)
{
    for (size_t i = 0; i < srv->ntrusted; i++)
        if (strlen(srv->trusted[i]) == n && memcmp(srv->trusted[i], ip, n) == 0)
            return 1;
    return 0;
}

static void set_ip(tn_http_request_t *r, const char *ip, size_t n)
{
    if (n >= sizeof r->remote_ip)
        return;
    memcpy(r->remote_ip, ip, n);
    r->remote_ip[n] = 0;
}

/* Tornado's xheaders rules: X-Real-Ip, else the last X-Forwarded-For hop
 * that is not a trusted downstream proxy; X-Scheme or X-Forwarded-Proto
 * (last value) when it is http or https. */
static void apply_xheaders(tn_http_request_t *r, const tn_httpserver_t *srv)
{
    size_t n;
    const char *v = tn_headers_get(r->headers, "X-Forwarded-For", &n);
    if (v) {
        const char *end = v + n;
        while (end > v) {
            const char *comma = end;
            while (comma > v && comma[-1] != ',')
                comma--;
            const char *cand = comma;
            size_t cn = (size_t)(end - comma);
            trim(&cand, &cn);
            end = comma > v ? comma - 1 : v;
            if (!trusted(srv, cand, cn) || end == v) {
                if (valid_ip(cand, cn))
                    set_ip(r, cand, cn);
                break;
            }
        }
    }
    v = tn_headers_get(r->headers, "X-Real-Ip", &n);
    if (v) {
        trim(&v, &n);
        if (valid_ip(v, n))
            set_ip(r, v, n);
    }
    v = tn_headers_get(r->headers, "X-Scheme", &n);
    if (!v)
        v = tn_headers_get(r->headers, "X-Forwarded-Proto", &n);
    if (v) {
        const char *last = v + n;
        while (last > v && last[-1] != ',')
            last--;
        size_t ln = (size_t)(v + n - last);
        trim(&last, &ln);
        if (ln == 4 && memcmp(last, "http", 4) == 0)
            r->protocol = "http";
        else if (ln == 5 && memcmp(last, "https", 5) == 0)
            r->protocol = "https";
    }
}

/* ---- timers ------------------------------------------------------------- */

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
    if (c->state != ST_LINGER)
        tn_log(TN_LOG_DEBUG, "HTTP connection from %s timed out", c->ip);
    conn_close(c);
}

/* The armed timer is moved only when the new deadline is earlier; a later
 * one is picked up when the timer fires (most deadlines only move later). */
static void set_deadline(conn_t *c, uint64_t ms)
{
    tn_ioloop_t *loop = c->server->loop;
    c->deadline = tn_ioloop_time_ms(loop) + ms;
    if (c->timer != 0 && c->deadline < c->timer_at) {
        tn_ioloop_remove_timeout(loop, c->timer);
        c->timer = 0;
    }
    if (c->timer == 0) {
        c->timer_at = c->deadline;
        c->timer = tn_ioloop_call_at(loop, c->deadline, on_timer, c);
    }
}

static void clear_deadline(conn_t *c)
{
    c->deadline = 0; /* the timer, if armed, finds nothing to do */
}

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
static size_t corked(const conn_t *c)
{
    return c->server->cork_conn == c ? c->server->cork_len : 0;
}

static int flush_cork(conn_t *c)
{
    tn_httpserver_t *srv = c->server;
    if (srv->cork_conn != c)
        return 0;
    size_t n = srv->cork_len;
    srv->cork_len = 0;
    srv->cork_conn = NULL;
    return n && !c->closing ? tn_iostream_write(c->stream, srv->cork, n, NULL, NULL) : 0;
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
static int out_send(conn_t *c, const tn_buf_t *bufs, size_t n, tn_write_cb cb, void *arg)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += bufs[i].len;
    tn_httpserver_t *srv = c->server;
    if (c->in_batch && cb == NULL && corked(c) + total <= srv->opts.max_write_buffer) {
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
    int err = flush_cork(c);
    if (err != 0)
        return err;
    return tn_iostream_writev(c->stream, bufs, n, cb, arg);
}

/* ---- request reset / end ----------------------------------------------- */

static void req_reset(tn_http_request_t *r)
{
    if (r->headers)
        tn_headers_clear(r->headers);
    if (r->args)
        tn_args_clear(r->args);
    if (r->cookies)
        tn_args_clear(r->cookies);
    if (r->files)
        tn_files_clear(r->files);
    if (r->zs) {
        inflateEnd(r->zs);
        tn_free(r->zs);
        r->zs = NULL;
    }
    r->args_done = r->cookies_done = 0;
    r->body_len = 0;
    if (r->body_cap > 64 * 1024) {
        tn_free(r->body);
        r->body = NULL;
        r->body_cap = 0;
    }
    r->data = NULL;
    r->close_cb = NULL;
    r->close_arg = NULL;
    r->active = r->received = r->delivered = r->ended = r->paused = 0;
    r->headers_written = r->finished = 0;
    r->head_len = 0;
    r->body_sent = 0;
    r->status = 0;
    r->host = NULL;
    r->host_len = 0;
}

static void req_free(tn_http_request_t *r)
{
    req_reset(r);
    tn_headers_free(r->headers);
    tn_args_free(r->args);
    tn_args_free(r->cookies);
    tn_files_free(r->files);
    tn_free(r->body);
    tn_free(r->line);
}

/* The request dies with its connection: tell the application once. */
static void req_abandon(conn_t *c)
{
    tn_http_request_t *r = &c->req;
    tn_httpserver_t *srv = c->server;
    if (!r->active || r->ended)
        return;
    r->ended = 1;
    if (srv->opts.delegate && !r->delivered) {
        if (srv->delegate.on_connection_close)
            srv->delegate.on_connection_close(r, srv->opts.delegate_arg);
    } else if (r->delivered && !r->finished && r->close_cb) {
        tn_http_request_close_cb cb = r->close_cb;
        r->close_cb = NULL;
        cb(r, r->close_arg);
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
    const char *date = server_date(c->server);
    int n = snprintf(
        buf, sizeof buf, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n%s%s%s\r\n",
        status, tn_http_reason(status), date ? "Date: " : "", date ? date : "", date ? "\r\n" : "");
    if (n > 0 && (size_t)n < sizeof buf) {
        tn_buf_t b = {buf, (size_t)n};
        (void)out_send(c, &b, 1, NULL, NULL);
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
    req_abandon(c);
    if (status)
        linger(c);
    else
        conn_close(c);
}

/* ---- parser callbacks ---------------------------------------------------- */

static int deliver_body(conn_t *c, const char *data, size_t len)
{
    tn_httpserver_t *srv = c->server;
    tn_http_request_t *r = &c->req;
    if (len == 0)
        return 0;
    if (srv->opts.delegate) {
        if (srv->delegate.data_received)
            return srv->delegate.data_received(r, data, len, srv->opts.delegate_arg);
        return 0;
    }
    if (r->body_len + len > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 1024;
        while (cap < r->body_len + len)
            cap *= 2;
        char *nb = tn_realloc(r->body, cap);
        if (!nb)
            return TN_ENOMEM;
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    return 0;
}

static int inflate_body(conn_t *c, const char *data, size_t len, int final)
{
    tn_http_request_t *r = &c->req;
    char out[16384];
    z_stream *zs = r->zs;
    zs->next_in = (Bytef *)(uintptr_t)data;
    zs->avail_in = (uInt)len;
    for (;;) {
        zs->next_out = (Bytef *)out;
        zs->avail_out = sizeof out;
        int zr = inflate(zs, Z_NO_FLUSH);
        size_t got = sizeof out - zs->avail_out;
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
            return TN_EHTTP;
        if (got) {
            if (c->parser.body_bytes > r->max_body || zs->total_out > r->max_body)
                return TN_ETOOLARGE;
            int rc = deliver_body(c, out, got);
            if (rc < 0)
                return rc;
        }
        if (zr == Z_STREAM_END) {
            if (zs->avail_in != 0)
                return TN_EHTTP; /* bytes after the gzip member */
            return 0;
        }
        if (zs->avail_in == 0 && got < sizeof out) {
            if (final)
                return TN_EHTTP; /* truncated gzip stream */
            return 0;
        }
    }
}

static int on_headers(tn__h1parser_t *p, void *arg)
{
    conn_t *c = arg;
    tn_httpserver_t *srv = c->server;
    tn_http_request_t *r = &c->req;
    size_t need = p->method_len + p->url_len + 2;
    int rc;

    req_reset(r);
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
    r->protocol = "http";
    if (srv->opts.xheaders)
        apply_xheaders(r, srv);
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

    if (p->frame.gzip && srv->opts.decompress_request && p->body_kind != TN__H1BODY_NONE) {
        size_t n;
        const char *ce = tn_headers_get(r->headers, "Content-Encoding", &n);
        r->zs = tn_calloc(1, sizeof *r->zs);
        if (!r->zs)
            return TN_ENOMEM;
        if (inflateInit2(r->zs, 16 + MAX_WBITS) != Z_OK) {
            tn_free(r->zs);
            r->zs = NULL;
            return TN_ENOMEM;
        }
        /* ce points into the header arena, which the add may move */
        char *copy = ce ? tn_strndup(ce, n) : NULL;
        if (ce && !copy)
            return TN_ENOMEM;
        rc = copy ? tn_headers_add(r->headers, "X-Consumed-Content-Encoding", 27, copy, n) : 0;
        tn_free(copy);
        if (rc != 0)
            return rc;
        tn_headers_remove(r->headers, "Content-Encoding");
    }
    /* Views into the header arena are taken once it no longer changes. */
    r->host = tn_headers_get(r->headers, "Host", &r->host_len);
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
    }
    p->max_body = r->max_body;
    if (p->body_kind != TN__H1BODY_NONE) {
        set_deadline(c, r->body_timeout_ms);
        if (p->frame.expect_continue && r->version == 11 && !r->headers_written &&
            !(p->body_kind == TN__H1BODY_LENGTH && p->frame.content_length > p->max_body)) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            tn_buf_t b = {cont, sizeof cont - 1};
            if ((rc = out_send(c, &b, 1, NULL, NULL)) != 0)
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
    (void)p;
    if (r->zs)
        rc = inflate_body(c, data, len, 0);
    else
        rc = deliver_body(c, data, len);
    if (rc < 0)
        return rc;
    if (c->closing || c->fatal)
        return TN_ECLOSED;
    if (r->paused)
        c->parser.pause = 1;
    set_deadline(c, r->body_timeout_ms);
    return 0;
}

static int on_complete(tn__h1parser_t *p, void *arg)
{
    conn_t *c = arg;
    tn_http_request_t *r = &c->req;
    (void)p;
    if (r->zs) {
        int rc = inflate_body(c, NULL, 0, 1);
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
    clear_deadline(c);
    r->delivered = 1;
    if (srv->opts.delegate) {
        if (srv->delegate.finish)
            srv->delegate.finish(r, srv->opts.delegate_arg);
    } else {
        srv->opts.request_cb(r, srv->opts.request_arg);
    }
    if (r->finished && c->state == ST_APP && !c->closing)
        advance(c);
}

static void on_drained(tn_iostream_t *s, int status, void *arg)
{
    conn_t *c = arg;
    (void)s;
    if (status != 0 || c->closing || c->state != ST_DRAIN)
        return;
    c->state = ST_HEAD;
    set_deadline(c, c->server->opts.idle_timeout_ms);
    arm_read(c);
}

/* Between requests with nothing pipelined behind, a keep-alive connection
 * gives back what only a request needs (head buffer, header map, start line,
 * body, arguments): an idle connection holds its structs and nothing else. */
static void release_request_memory(conn_t *c)
{
    tn_http_request_t *r = &c->req;
    req_free(r);
    r->headers = NULL;
    r->args = r->cookies = NULL;
    r->files = NULL;
    r->body = NULL;
    r->body_cap = 0;
    r->line = NULL;
    r->line_cap = 0;
    tn_free(c->head);
    c->head = NULL;
    c->head_cap = 0;
    tn_headers_free(c->scratch);
    c->scratch = NULL;
}

/* Request and response are both complete: on to the next one. */
static void advance(conn_t *c)
{
    tn_httpserver_t *srv = c->server;
    tn_http_request_t *r = &c->req;
    int keep = r->keep_alive;
    access_log(c);
    c->requests++;
    r->active = 0;
    if (!keep || srv->closing_all) {
        linger(c);
        return;
    }
    tn__h1parser_next(&c->parser);
    c->state = ST_HEAD;
    set_deadline(c, srv->opts.idle_timeout_ms);
    if (tn_iostream_buffered(c->stream) == 0)
        release_request_memory(c);
    size_t pending = tn_iostream_write_buffered(c->stream) + corked(c);
    if (pending > srv->opts.max_write_buffer) {
        if (flush_cork(c) != 0 || tn_iostream_write(c->stream, NULL, 0, on_drained, c) != 0) {
            conn_close(c);
            return;
        }
        c->state = ST_DRAIN;
        return;
    }
    if (!c->in_batch)
        arm_read(c);
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
                conn_close(c);
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
        set_deadline(c, c->server->opts.header_timeout_ms);
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
        arm_read(c);
        return len;
    }
    c->in_batch = 1;
    size_t used = process(c, data, len);
    c->in_batch = 0;
    if (c->closing) {
        (void)flush_cork(c); /* drops it: the stream is going */
        return used;
    }
    if (flush_cork(c) != 0) {
        conn_close(c);
        return used;
    }
    if (c->state == ST_LINGER) {
        arm_read(c);
        return len; /* whatever followed is dropped */
    }
    if (c->state == ST_HEAD && used == len && !c->req.active && !c->hdr_started)
        release_request_memory(c);
    if (!c->fatal && (c->state == ST_HEAD || c->state == ST_BODY) && !c->req.paused)
        arm_read(c);
    return used;
}

static void arm_read(conn_t *c)
{
    if (c->read_armed || c->closing)
        return;
    int err = tn_iostream_read_some(c->stream, on_data, c);
    if (err == 0)
        c->read_armed = 1;
    else if (err != TN_EALREADY)
        conn_close(c);
}

/* Graceful end: flush, FIN, drop input until the peer closes or a bound. */
static void linger(conn_t *c)
{
    if (c->closing || c->state == ST_LINGER)
        return;
    c->state = ST_LINGER;
    c->fatal = 1;
    if (flush_cork(c) != 0 || tn_iostream_shutdown(c->stream) != 0) {
        conn_close(c);
        return;
    }
    set_deadline(c, c->server->opts.close_linger_ms);
    if (!c->in_batch)
        arm_read(c);
    else
        c->read_armed = 0;
}

static void conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    clear_deadline(c);
    if (c->timer) {
        tn_ioloop_remove_timeout(c->server->loop, c->timer);
        c->timer = 0;
    }
    (void)flush_cork(c);
    tn_iostream_close(c->stream);
}

static void on_stream_close(tn_iostream_t *s, void *arg)
{
    conn_t *c = arg;
    tn_httpserver_t *srv = c->server;
    (void)s;
    c->closing = 1;
    if (c->timer) {
        tn_ioloop_remove_timeout(srv->loop, c->timer);
        c->timer = 0;
    }
    req_abandon(c);
    req_free(&c->req);
    tn__h1parser_free(&c->parser);
    tn_free(c->head);
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
    maybe_finish_free(srv);
}

static void on_stream(tn_tcpserver_t *tcp, tn_iostream_t *stream, const char *ip, int port,
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
    set_deadline(c, srv->opts.idle_timeout_ms);
    arm_read(c);
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
    on_stream(NULL, stream, ip, 0, server);
    return server->nconns > before ? 0 : TN_ENOMEM;
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
    DEF(body_timeout_ms, TN_HTTP_DEFAULT_BODY_TIMEOUT_MS);
    DEF(idle_timeout_ms, TN_HTTP_DEFAULT_IDLE_TIMEOUT_MS);
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
    to.handle_stream = on_stream;
    to.arg = srv;
    to.max_connections = o->max_connections;
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
            conn_close(c);
        c = next;
    }
}

static void on_close_deadline(tn_ioloop_t *loop, void *arg)
{
    tn_httpserver_t *srv = arg;
    (void)loop;
    srv->close_deadline = 0;
    for (conn_t *c = srv->conns; c; c = c->next)
        conn_close(c);
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
    maybe_finish_free(srv);
}

static void maybe_finish_free(tn_httpserver_t *srv)
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
        conn_close(c);
    tn_tcpserver_free(server->tcp, on_tcp_freed, server);
}

/* ---- request accessors -------------------------------------------------- */

const char *tn_http_request_method(const tn_http_request_t *req, size_t *len)
{
    if (len)
        *len = req->method_len;
    return req->line;
}

const char *tn_http_request_uri(const tn_http_request_t *req, size_t *len)
{
    if (len)
        *len = req->uri_len;
    return req->line + req->method_len + 1;
}

const char *tn_http_request_path(const tn_http_request_t *req, size_t *len)
{
    if (len)
        *len = req->path.len;
    return req->path.base;
}

const char *tn_http_request_query(const tn_http_request_t *req, size_t *len)
{
    if (len)
        *len = req->query.len;
    return req->query.base ? req->query.base : "";
}

const char *tn_http_request_version(const tn_http_request_t *req)
{
    return req->version == 10 ? "HTTP/1.0" : "HTTP/1.1";
}

int tn_http_request_version_number(const tn_http_request_t *req)
{
    return req->version;
}

const tn_headers_t *tn_http_request_headers(const tn_http_request_t *req)
{
    return req->headers;
}

const char *tn_http_request_body(const tn_http_request_t *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body ? req->body : "";
}

const char *tn_http_request_remote_ip(const tn_http_request_t *req)
{
    return req->remote_ip;
}

const char *tn_http_request_protocol(const tn_http_request_t *req)
{
    return req->protocol;
}

const char *tn_http_request_host(const tn_http_request_t *req, size_t *len)
{
    if (len)
        *len = req->host_len;
    return req->host;
}

/* Query arguments, then the body's (urlencoded or multipart, by
 * Content-Type) with its files; a malformed body is logged and its part
 * skipped, as Tornado's parse_body_arguments does. */
static void parse_arguments(tn_http_request_t *req)
{
    req->args_done = 1;
    if (!req->args && tn_args_new(&req->args) != 0)
        return;
    (void)tn_args_parse_query(req->args, req->query.base ? req->query.base : "", req->query.len, 0);
    size_t n;
    const char *ct = tn_headers_get(req->headers, "Content-Type", &n);
    if (!req->body_len || !ct)
        return;
    if (!req->files && tn_files_new(&req->files) != 0)
        return;
    int err =
        tn_http_parse_body_arguments(ct, n, req->body, req->body_len, NULL, req->args, req->files);
    if (err != 0)
        tn_log(TN_LOG_INFO, "Invalid request body from %s: %s", req->remote_ip, tn_strerror(err));
}

const tn_args_t *tn_http_request_arguments(tn_http_request_t *req)
{
    if (!req->args_done)
        parse_arguments(req);
    return req->args;
}

const tn_files_t *tn_http_request_files(tn_http_request_t *req)
{
    if (!req->args_done)
        parse_arguments(req);
    if (!req->files && tn_files_new(&req->files) != 0)
        return NULL;
    return req->files;
}

const tn_args_t *tn_http_request_cookies(tn_http_request_t *req)
{
    if (req->cookies_done)
        return req->cookies;
    if (!req->cookies && tn_args_new(&req->cookies) != 0)
        return NULL;
    tn_strview_t v[16];
    size_t n = tn_headers_get_all(req->headers, "Cookie", v, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        (void)tn_cookies_parse(req->cookies, v[i].base, v[i].len, 0);
    req->cookies_done = 1;
    return req->cookies;
}

uint64_t tn_http_request_start_time_ms(const tn_http_request_t *req)
{
    return req->start_ms;
}

tn_httpserver_t *tn_http_request_server(const tn_http_request_t *req)
{
    return req->conn->server;
}

tn_ioloop_t *tn_http_request_loop(const tn_http_request_t *req)
{
    return req->conn->server->loop;
}

void tn_http_request_set_data(tn_http_request_t *req, void *data)
{
    req->data = data;
}

void *tn_http_request_data(const tn_http_request_t *req)
{
    return req->data;
}

int tn_http_request_set_max_body_size(tn_http_request_t *req, uint64_t max_bytes)
{
    if (req->conn->state != ST_BODY || req->conn->parser.body_bytes > 0 || req->received)
        return TN_EINVAL;
    req->max_body = max_bytes;
    req->conn->parser.max_body = max_bytes;
    return 0;
}

int tn_http_request_set_body_timeout(tn_http_request_t *req, uint64_t timeout_ms)
{
    if (req->received || timeout_ms == 0)
        return TN_EINVAL;
    req->body_timeout_ms = timeout_ms;
    if (req->conn->state == ST_BODY)
        set_deadline(req->conn, timeout_ms);
    return 0;
}

void tn_http_request_pause_body(tn_http_request_t *req)
{
    conn_t *c = req->conn;
    if (req->paused || req->received || c->state != ST_BODY)
        return;
    req->paused = 1;
    c->parser.pause = 1;
    clear_deadline(c);
}

void tn_http_request_resume_body(tn_http_request_t *req)
{
    conn_t *c = req->conn;
    if (!req->paused)
        return;
    req->paused = 0;
    c->parser.pause = 0;
    if (c->closing || c->fatal || c->state != ST_BODY)
        return;
    set_deadline(c, req->body_timeout_ms);
    if (!c->in_batch)
        arm_read(c);
}

void tn_http_request_set_close_callback(tn_http_request_t *req, tn_http_request_close_cb cb,
                                        void *arg)
{
    req->close_cb = cb;
    req->close_arg = arg;
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
    c->head = tn_malloc(HEAD_BUF_MIN);
    if (!c->head)
        return TN_ENOMEM;
    c->head_cap = HEAD_BUF_MIN;
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
                                           server_date(c->server), c->server->server_header);
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
    int err = out_send(c, b, n, cb ? on_write_done : NULL, wc);
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
        conn_close(c);
        return err;
    }
    /* Inside a batch, dispatch() moves on once the handler returns. */
    if (req->received && req->delivered && c->state == ST_APP && !c->in_batch)
        advance(c);
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
                                          server_date(c->server), c->server->server_header)
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
        conn_close(c);
        return err;
    }
    return tn_http_response_finish(req);
}

int tn_http_response_status(const tn_http_request_t *req)
{
    return req->status;
}
