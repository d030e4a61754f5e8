/* RequestHandler's response: status and reason, headers, the body buffer,
 * write / write_json, clear, flush, finish (gzip for compressible bodies,
 * ETag and 304, entity headers dropped where HTTP requires), the request
 * log line, send_error / write_error and redirect. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "crypto.h"
#include "http1_framing.h"
#include "web_internal.h"

/* ---- response ------------------------------------------------------------ */

static int reason_ok(const char *r)
{
    for (; *r; r++)
        if ((unsigned char)*r < 0x20 || *r == 0x7f)
            return 0;
    return 1;
}

int tn_handler_set_status(tn_handler_t *h, int status, const char *reason)
{
    if (status < 100 || status > 599)
        return TN_EINVAL;
    if (!reason) {
        if (!tn_http_reason(status))
            return TN_EINVAL;
    } else if (!reason_ok(reason)) {
        return TN_EINVAL;
    }
    char *copy = reason ? tn__web_dup_str(reason) : NULL;
    if (reason && !copy)
        return TN_ENOMEM;
    tn_free(h->reason);
    h->reason = copy;
    h->status = status;
    return 0;
}

int tn_handler_get_status(const tn_handler_t *h)
{
    return h->status;
}

static int header_ok(const char *name, const char *value)
{
    if (!name || !value || !tn_http_is_token(name, strlen(name)))
        return 0;
    for (const char *v = value; *v; v++)
        if ((unsigned char)*v < 0x20 && *v != '\t')
            return 0;
    return 1;
}

int tn_handler_set_header(tn_handler_t *h, const char *name, const char *value)
{
    if (!header_ok(name, value))
        return TN_EINVAL;
    return tn_headers_set(h->headers, name, strlen(name), value, strlen(value));
}

int tn_handler_add_header(tn_handler_t *h, const char *name, const char *value)
{
    if (!header_ok(name, value))
        return TN_EINVAL;
    return tn_headers_add(h->headers, name, strlen(name), value, strlen(value));
}

void tn_handler_clear_header(tn_handler_t *h, const char *name)
{
    tn_headers_remove(h->headers, name);
}

int tn_handler_write(tn_handler_t *h, const char *data, size_t len)
{
    if (h->finished)
        return TN_EFINISHED;
    if (h->len + len > h->cap) {
        size_t cap = h->cap ? h->cap : 256;
        while (cap < h->len + len)
            cap *= 2;
        char *nb = tn_realloc(h->buf, cap);
        if (!nb)
            return TN_ENOMEM;
        h->buf = nb;
        h->cap = cap;
    }
    if (len)
        memcpy(h->buf + h->len, data, len);
    h->len += len;
    return 0;
}

int tn_handler_write_str(tn_handler_t *h, const char *s)
{
    return tn_handler_write(h, s, strlen(s));
}

int tn_handler_write_json(tn_handler_t *h, const char *json, size_t len)
{
    int err = tn_handler_set_header(h, "Content-Type", "application/json; charset=UTF-8");
    return err ? err : tn_handler_write(h, json, len);
}

int tn__handler_reset_headers(tn_handler_t *h)
{
    tn_headers_clear(h->headers);
    int err = tn_headers_add(h->headers, "Content-Type", 12, "text/html; charset=UTF-8", 24);
    size_t n = tn_headers_count(h->app->default_headers);
    for (size_t i = 0; i < n && !err; i++) {
        tn_strview_t k, v;
        tn_headers_at(h->app->default_headers, i, &k, &v);
        err = tn_headers_set(h->headers, k.base, k.len, v.base, v.len);
    }
    return err;
}

void tn_handler_clear(tn_handler_t *h)
{
    (void)tn__handler_reset_headers(h);
    h->len = 0;
    h->status = 200;
    tn_free(h->reason);
    h->reason = NULL;
}

int tn_handler_finished(const tn_handler_t *h)
{
    return h->finished;
}

int tn__handler_method_is(tn_handler_t *h, const char *m)
{
    size_t n;
    const char *v = tn_http_request_method(h->req, &n);
    return n == strlen(m) && memcmp(v, m, n) == 0;
}

/* Comma-separated list (Accept-Encoding) names tok with a q-value above
 * zero (case-insensitive; "tok;q=0", "tok;q=0.000" refuse it). */
static int list_has(const char *v, size_t n, const char *tok)
{
    size_t k = strlen(tok), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ';' && v[i] != ' ')
            i++;
        int match = i - s == k && tn__h1_token_eq(v + s, k, tok);
        int zero = 0;
        while (i < n && v[i] != ',') {
            if (v[i] == 'q' && i + 1 < n && v[i + 1] == '=' &&
                (v[i - 1] == ';' || v[i - 1] == ' ')) {
                size_t j = i + 2;
                zero = j < n && v[j] == '0';
                for (j++; zero && j < n && v[j] != ',' && v[j] != ';' && v[j] != ' '; j++)
                    if (v[j] != '.' && v[j] != '0')
                        zero = 0;
            }
            i++;
        }
        if (match)
            return !zero;
    }
    return 0;
}

static int compressible(const char *ct, size_t n)
{
    static const char *const kinds[] = {"text/", "application/json", "application/javascript",
                                        "application/xml", "image/svg+xml"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t k = strlen(kinds[i]);
        if (n >= k && tn__h1_token_eq(ct, k, kinds[i]))
            return 1;
    }
    return 0;
}

static int gzip_body(tn_handler_t *h)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return TN_ENOMEM;
    size_t cap = deflateBound(&zs, (uLong)h->len);
    char *out = tn_malloc(cap);
    if (!out) {
        deflateEnd(&zs);
        return TN_ENOMEM;
    }
    zs.next_in = (Bytef *)h->buf;
    zs.avail_in = (uInt)h->len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    size_t got = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        tn_free(out);
        return TN_EINVAL;
    }
    tn_free(h->buf);
    h->buf = out;
    h->len = got;
    h->cap = cap;
    return 0;
}

static void etag_of(const char *data, size_t len, char out[44])
{
    unsigned char md[20];
    static const char hex[] = "0123456789abcdef";
    if (tn__sha1(data, len, md) != 0)
        memset(md, 0, sizeof md);
    out[0] = '"';
    for (int i = 0; i < 20; i++) {
        out[1 + 2 * i] = hex[md[i] >> 4];
        out[2 + 2 * i] = hex[md[i] & 15];
    }
    out[41] = '"';
    out[42] = 0;
}

int tn__web_etag_matches(const char *inm, size_t n, const char *etag)
{
    /* weak comparison: W/ prefixes ignored; "*" matches anything */
    size_t i = 0, elen = strlen(etag);
    const char *e = etag;
    if (elen > 2 && e[0] == 'W' && e[1] == '/')
        e += 2, elen -= 2;
    while (i < n) {
        while (i < n && (inm[i] == ' ' || inm[i] == ','))
            i++;
        size_t s = i;
        while (i < n && inm[i] != ',')
            i++;
        size_t t = i;
        while (t > s && inm[t - 1] == ' ')
            t--;
        const char *tag = inm + s;
        size_t tl = t - s;
        if (tl == 1 && tag[0] == '*')
            return 1;
        if (tl > 2 && tag[0] == 'W' && tag[1] == '/')
            tag += 2, tl -= 2;
        if (tl == elen && memcmp(tag, e, tl) == 0)
            return 1;
    }
    return 0;
}

static void drop_entity_headers(tn_handler_t *h)
{
    static const char *const names[] = {"Content-Encoding", "Content-Language", "Content-Length",
                                        "Content-MD5",      "Content-Range",    "Content-Type",
                                        "Last-Modified"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        tn_headers_remove(h->headers, names[i]);
}

static void log_request(tn_handler_t *h)
{
    if (h->app->s.log_function) {
        h->app->s.log_function(h, h->app->s.log_arg);
        return;
    }
    size_t ml, ul;
    const char *m = tn_http_request_method(h->req, &ml);
    const char *u = tn_http_request_uri(h->req, &ul);
    uint64_t now = tn_ioloop_time_ms(tn_http_request_loop(h->req));
    int level = h->status < 400 ? TN_LOG_INFO : h->status < 500 ? TN_LOG_WARN : TN_LOG_ERROR;
    tn_log(level, "%d %.*s %.*s (%s) %.2fms", h->status, (int)ml, m, (int)(ul > 200 ? 200 : ul), u,
           tn_http_request_remote_ip(h->req), (double)(now - h->start_ms));
}

typedef struct {
    tn_handler_t *h;
    tn_handler_flush_cb cb;
    void *arg;
} flush_t;

static void on_flushed(tn_http_request_t *req, int status, void *arg)
{
    flush_t *f = arg;
    tn_handler_t *h = f->h;
    (void)req;
    if (f->cb)
        f->cb(h, status, f->arg);
    tn_free(f);
    h->pending--;
    tn__handler_maybe_free(h);
}

static int send_head(tn_handler_t *h)
{
    int err = tn_http_response_write_headers(h->req, h->status, h->reason, h->headers);
    if (err == 0)
        h->headers_sent = 1;
    return err;
}

int tn_handler_flush(tn_handler_t *h, tn_handler_flush_cb cb, void *arg)
{
    if (h->finished)
        return TN_EFINISHED;
    if (h->closed || !h->req)
        return TN_ECLOSED;
    int err;
    if (!h->headers_sent && (err = send_head(h)) != 0)
        return err;
    flush_t *f = tn_malloc(sizeof *f);
    if (!f)
        return TN_ENOMEM;
    f->h = h;
    f->cb = cb;
    f->arg = arg;
    err = tn_http_response_write(h->req, h->buf, h->len, on_flushed, f);
    if (err != 0) {
        tn_free(f);
        return err;
    }
    h->pending++;
    h->len = 0;
    return 0;
}

int tn_handler_write_ref(tn_handler_t *h, const void *data, size_t len, tn_handler_flush_cb release,
                         void *arg)
{
    if (release == NULL)
        return TN_EINVAL;
    /* What was written before goes first, copied as usual. */
    int err = tn_handler_flush(h, NULL, NULL);
    if (err != 0)
        return err;
    flush_t *f = tn_malloc(sizeof *f);
    if (!f)
        return TN_ENOMEM;
    f->h = h;
    f->cb = release;
    f->arg = arg;
    err = tn_http_response_write_ref(h->req, data, len, on_flushed, f);
    if (err != 0) {
        tn_free(f);
        return err;
    }
    h->pending++;
    return 0;
}

/* Sends everything and ends the response; the handler stays allocated. */
static int complete(tn_handler_t *h)
{
    int err = 0;
    tn_http_request_t *req = h->req;
    if (!h->headers_sent) {
        size_t n;
        int get_or_head = tn__handler_method_is(h, "GET") || tn__handler_method_is(h, "HEAD");
        if (h->status == 200 && get_or_head && !h->app->s.no_etag &&
            !tn_headers_get(h->headers, "Etag", NULL)) {
            char etag[44];
            etag_of(h->buf ? h->buf : "", h->len, etag);
            (void)tn_headers_set(h->headers, "Etag", 4, etag, strlen(etag));
            const char *inm = tn_headers_get(tn_http_request_headers(req), "If-None-Match", &n);
            if (inm && tn__web_etag_matches(inm, n, etag)) {
                h->status = 304;
                tn_free(h->reason);
                h->reason = NULL;
            }
        }
        if (h->status == 304 || h->status == 204 || h->status < 200) {
            h->len = 0;
            if (h->status == 304)
                drop_entity_headers(h);
            else
                tn_headers_remove(h->headers, "Content-Length");
        } else {
            const char *ct = tn_headers_get(h->headers, "Content-Type", &n);
            if (h->app->s.compress_response && ct && compressible(ct, n)) {
                (void)tn_headers_add(h->headers, "Vary", 4, "Accept-Encoding", 15);
                const char *ae =
                    tn_headers_get(tn_http_request_headers(req), "Accept-Encoding", &n);
                /* not for ranges: Content-Range counts identity bytes */
                if (ae && list_has(ae, n, "gzip") && h->len >= GZIP_MIN_LENGTH &&
                    h->status != 206 && !tn_headers_get(h->headers, "Content-Encoding", NULL) &&
                    gzip_body(h) == 0) {
                    (void)tn_headers_set(h->headers, "Content-Encoding", 16, "gzip", 4);
                    tn_headers_remove(h->headers, "Content-Length");
                }
            }
            if (!tn_headers_get(h->headers, "Content-Length", NULL)) {
                char cl[24];
                int k = snprintf(cl, sizeof cl, "%zu", h->len);
                (void)tn_headers_set(h->headers, "Content-Length", 14, cl, (size_t)k);
            }
        }
        if ((err = send_head(h)) != 0)
            return err;
    }
    if (h->len && (err = tn_http_response_write(req, h->buf, h->len, NULL, NULL)) != 0)
        return err;
    h->len = 0;
    return 0;
}

int tn_handler_finish(tn_handler_t *h)
{
    if (h->finished) {
        if (!h->released) {
            h->released = 1;
            tn__handler_maybe_free(h);
        }
        return TN_EFINISHED;
    }
    h->released = 1;
    if (h->closed || !h->req) {
        h->finished = 1;
        tn__handler_maybe_free(h);
        return TN_ECLOSED;
    }
    tn_http_request_t *req = h->req;
    int err = complete(h);
    h->finished = 1;
    tn_http_request_set_close_callback(req, NULL, NULL);
    if (err == 0) {
        /* Everything is handed over; the request is still readable here and
         * not after the HTTP-level finish, which lets the connection move
         * on (and give back the request's memory). */
        log_request(h);
        if (h->cls->on_finish)
            h->cls->on_finish(h);
        err = tn_http_response_finish(req);
    }
    /* Answered before its body was complete: the request forgets it (not
     * delivered yet, so the HTTP finish did not move the connection on). */
    if (h->streaming && !h->method_started)
        tn__web_stream_forget(h, req);
    if (err != 0)
        tn_log(TN_LOG_ERROR, "Failed to send the response of %s: %s",
               h->cls->name ? h->cls->name : "handler", tn_strerror(err));
    h->req = NULL; /* the connection may serve its next request now */
    tn__handler_maybe_free(h);
    return err;
}

void tn__handler_default_error_page(tn_handler_t *h, int status)
{
    char page[256];
    const char *reason = h->reason ? h->reason : tn_http_reason(status);
    if (!reason)
        reason = "Unknown";
    int k = snprintf(page, sizeof page, "<html><title>%d: %s</title><body>%d: %s</body></html>",
                     status, reason, status, reason);
    (void)tn_handler_write(h, page, (size_t)k);
}

int tn_handler_send_error(tn_handler_t *h, int status)
{
    if (h->finished)
        return TN_EFINISHED;
    if (h->headers_sent) {
        /* Too late for an error page: cut the response short. */
        tn_log(TN_LOG_ERROR, "Cannot send error response after headers written");
        h->len = 0;
        return tn_handler_finish(h);
    }
    tn_handler_clear(h);
    if (tn_handler_set_status(h, status, NULL) != 0)
        (void)tn_handler_set_status(h, 500, NULL);
    if (h->cls->write_error)
        h->cls->write_error(h, h->status);
    else
        tn__handler_default_error_page(h, h->status);
    return tn_handler_finish(h);
}

int tn_handler_fail(tn_handler_t *h, int status)
{
    h->fail_status = status;
    return TN_EHTTP;
}

int tn_handler_redirect(tn_handler_t *h, const char *url, int status)
{
    if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308)
        return TN_EINVAL;
    if (h->headers_sent)
        return TN_EALREADY;
    int err = tn_handler_set_header(h, "Location", url);
    if (err)
        return err;
    tn_handler_set_status(h, status, NULL);
    h->len = 0;
    return tn_handler_finish(h);
}
