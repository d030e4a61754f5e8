/* HTTPServerRequest: the request object of a connection, its accessors
 * (start line, headers, body, arguments, files, cookies), its per-request
 * settings (body size and timeout, pause/resume), its reset between
 * requests, and Tornado's xheaders rules for remote_ip and protocol. */
#include <string.h>

#include "httpserver_internal.h"
#include "pool.h"

static int valid_ip(const char *s, size_t n)
{
    return tn__h1_is_ipv4(s, n) || tn__h1_is_ipv6(s, n);
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
void tn__hreq_apply_xheaders(tn_http_request_t *r, const tn_httpserver_t *srv)
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

/* ---- request reset / end ----------------------------------------------- */

void tn__hreq_reset(tn_http_request_t *r)
{
    if (r->headers)
        tn_headers_clear(r->headers);
    if (r->args)
        tn_args_clear(r->args);
    if (r->cookies)
        tn_args_clear(r->cookies);
    if (r->files)
        tn_files_clear(r->files);
    tn__hbody_gzip_end(r);
    r->args_done = r->cookies_done = 0;
    r->body_len = 0;
    if (r->body_cap > TN__POOL_MAX_SIZE) {
        tn__pool_put(r->conn->server->loop, r->body, r->body_cap);
        r->body = NULL;
        r->body_cap = 0;
    }
    r->data = NULL;
    r->body_cb = NULL;
    r->body_arg = NULL;
    r->in_headers_cb = r->continue_held = 0;
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

void tn__hreq_free(tn_http_request_t *r)
{
    tn__hreq_reset(r);
    tn_headers_free(r->headers);
    tn_args_free(r->args);
    tn_args_free(r->cookies);
    tn_files_free(r->files);
    tn__pool_put(r->conn->server->loop, r->body, r->body_cap);
    tn_free(r->line);
}

/* The request dies with its connection: tell the application once. */
void tn__hreq_abandon(conn_t *c)
{
    tn_http_request_t *r = &c->req;
    tn_httpserver_t *srv = c->server;
    if (!r->active || r->ended)
        return;
    r->ended = 1;
    if (srv->opts.delegate && !r->delivered) {
        if (srv->delegate.on_connection_close)
            srv->delegate.on_connection_close(r, srv->opts.delegate_arg);
    } else if ((r->delivered || r->body_cb) && !r->finished && r->close_cb) {
        tn_http_request_close_cb cb = r->close_cb;
        r->close_cb = NULL;
        cb(r, r->close_arg);
    }
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
    if (req->conn->state == ST_BODY) {
        req->conn->body_deadline = req->conn->body_start + timeout_ms;
        if (!req->paused)
            tn__hconn_arm_body_deadline(req->conn);
    }
    return 0;
}

void tn_http_request_pause_body(tn_http_request_t *req)
{
    conn_t *c = req->conn;
    if (req->paused || req->received || c->state != ST_BODY)
        return;
    req->paused = 1;
    c->parser.pause = 1;
    c->paused_at = tn_ioloop_time_ms(c->server->loop);
    tn__hconn_clear_deadline(c); /* the application holds the body up, not the peer */
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
    if (req->continue_held) {
        req->continue_held = 0;
        if (!req->headers_written) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            tn_buf_t b = {cont, sizeof cont - 1};
            if (tn__hconn_send(c, &b, 1, NULL, NULL) != 0) {
                tn__hconn_close(c);
                return;
            }
        }
    }
    if (c->body_deadline) /* the time paused does not count */
        c->body_deadline += tn_ioloop_time_ms(c->server->loop) - c->paused_at;
    tn__hconn_arm_body_deadline(c);
    if (!c->in_batch)
        tn__hconn_arm_read(c);
}

int tn_http_request_stream_body(tn_http_request_t *req, tn_http_body_cb cb, void *arg)
{
    if (cb == NULL || !req->in_headers_cb || req->conn->server->opts.delegate)
        return TN_EINVAL;
    req->body_cb = cb;
    req->body_arg = arg;
    return 0;
}

void tn_http_request_set_close_callback(tn_http_request_t *req, tn_http_request_close_cb cb,
                                        void *arg)
{
    req->close_cb = cb;
    req->close_arg = arg;
}
