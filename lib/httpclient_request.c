/* The client's request: options merged with the defaults and checked
 * (Tornado's rules), the request head, and the rewrite a followed redirect
 * makes (method, body, sensitive fields). */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "httpclient_internal.h"

static const char *const k_methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "OPTIONS", "DELETE"};

static int standard_method(const char *m)
{
    for (size_t i = 0; i < sizeof k_methods / sizeof k_methods[0]; i++)
        if (strcmp(m, k_methods[i]) == 0)
            return 1;
    return 0;
}

static int safe_value(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

static int dup_opt(char **dst, const char *src)
{
    if (!src)
        return 0;
    *dst = tn_strndup(src, strlen(src));
    return *dst ? 0 : TN_ENOMEM;
}

/* Fields of o left zero take d's. */
static void merge(tn_fetch_options_t *o, const tn_fetch_options_t *d)
{
#define TAKE(field)                                                                                \
    if (!o->field)                                                                                 \
    o->field = d->field
    TAKE(method);
    TAKE(headers);
    TAKE(connect_timeout_ms);
    TAKE(request_timeout_ms);
    TAKE(no_follow_redirects);
    TAKE(max_redirects);
    TAKE(no_decompress);
    TAKE(expect_100_continue);
    TAKE(allow_nonstandard_methods);
    TAKE(user_agent);
    TAKE(auth_username);
    TAKE(auth_password);
    TAKE(insecure);
    TAKE(ca_certs);
    TAKE(client_cert);
    TAKE(client_key);
    TAKE(max_body_size);
    TAKE(on_headers);
    TAKE(on_header_line);
    TAKE(on_chunk);
    TAKE(callback_arg);
#undef TAKE
}

static int copy_headers(tn_fetch_t *f, const tn_headers_t *h)
{
    int rc = tn_headers_new(&f->req_headers);
    if (rc != 0)
        return rc;
    for (size_t i = 0; h && i < tn_headers_count(h); i++) {
        tn_strview_t n, v;
        tn_headers_at(h, i, &n, &v);
        if (!tn_http_is_token(n.base, n.len) || !safe_value(v.base, v.len))
            return TN_EINVAL;
        if ((rc = tn_headers_add(f->req_headers, n.base, n.len, v.base, v.len)) != 0)
            return rc;
    }
    return 0;
}

/* Parses f->url into f->u and f->origin. */
static int set_url(tn_fetch_t *f)
{
    int other = 0, rc;
    tn__hcurl_free(&f->u);
    rc = tn__hcurl_parse(&f->u, f->url, &other);
    if (rc != 0)
        return rc;
    if (tn__hcurl_origin(&f->u, f->origin, sizeof f->origin) < 0)
        return TN_EINVAL;
    snprintf(f->pool_key, sizeof f->pool_key, "%s", f->origin);
    f->tls = NULL;
    if (f->u.user) {
        tn_free(f->auth_user);
        tn_free(f->auth_pass);
        f->auth_user = f->auth_pass = NULL;
        if (dup_opt(&f->auth_user, f->u.user) || dup_opt(&f->auth_pass, f->u.password))
            return TN_ENOMEM;
    }
    return 0;
}

int tn__hc_prepare(tn_fetch_t *f, const char *url, const tn_fetch_options_t *opts,
                   const tn_fetch_options_t *defaults)
{
    tn_fetch_options_t o;
    int rc, needs_body;
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    if (defaults)
        merge(&o, defaults);
    if (!o.method)
        o.method = "GET";
    if (!tn_http_is_token(o.method, strlen(o.method)))
        return TN_EINVAL;
    if (o.body && o.body_producer)
        return TN_EINVAL;
    f->has_body = o.body != NULL || o.body_len > 0 || o.body_producer != NULL;
    if (!o.allow_nonstandard_methods) {
        if (!standard_method(o.method))
            return TN_EINVAL;
        needs_body =
            !strcmp(o.method, "POST") || !strcmp(o.method, "PUT") || !strcmp(o.method, "PATCH");
        if (needs_body != f->has_body)
            return TN_EINVAL;
    }
    if (o.body_len > 0 && !o.body)
        return TN_EINVAL;
    if (!o.connect_timeout_ms)
        o.connect_timeout_ms = TN_HTTPCLIENT_DEFAULT_TIMEOUT_MS;
    if (!o.request_timeout_ms)
        o.request_timeout_ms = TN_HTTPCLIENT_DEFAULT_TIMEOUT_MS;
    f->redirects_left = o.no_follow_redirects || o.max_redirects < 0 ? 0
                        : o.max_redirects                            ? o.max_redirects
                                          : TN_HTTPCLIENT_DEFAULT_MAX_REDIRECTS;
    if ((rc = dup_opt(&f->method, o.method)) || (rc = dup_opt(&f->user_agent, o.user_agent)) ||
        (rc = dup_opt(&f->auth_user, o.auth_username)) ||
        (rc = dup_opt(&f->auth_pass, o.auth_password)) || (rc = dup_opt(&f->url, url)) ||
        (rc = copy_headers(f, o.headers)))
        return rc;
    if (o.body && !o.body_ref && o.body_len > 0) {
        f->body = tn_malloc(o.body_len);
        if (!f->body)
            return TN_ENOMEM;
        memcpy(f->body, o.body, o.body_len);
        f->body_owned = 1;
    } else {
        f->body = (char *)(uintptr_t)o.body;
    }
    f->body_len = o.body_len;
    /* Strings now live in f; the copy of o must not point at the caller's. */
    o.method = o.user_agent = o.auth_username = o.auth_password = NULL;
    o.headers = NULL;
    o.body = NULL;
    f->o = o;
    return set_url(f);
}

void tn__hc_release_request(tn_fetch_t *f)
{
    tn_free(f->method);
    tn_free(f->user_agent);
    tn_free(f->auth_user);
    tn_free(f->auth_pass);
    tn_free(f->url);
    tn__hcurl_free(&f->u);
    tn_headers_free(f->req_headers);
    if (f->body_owned)
        tn_free(f->body);
    f->body_owned = 0;
    f->method = f->user_agent = f->auth_user = f->auth_pass = f->url = f->body = NULL;
    f->req_headers = NULL;
}

int tn__hc_idempotent(const tn_fetch_t *f)
{
    static const char *const idem[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
    if (f->o.body_producer)
        return 0; /* a streamed body cannot be sent twice */
    for (size_t i = 0; i < sizeof idem / sizeof idem[0]; i++)
        if (strcmp(f->method, idem[i]) == 0)
            return 1;
    return 0;
}

/* A growable text buffer for the head. */
typedef struct {
    char *p;
    size_t n, cap;
    int err;
} hbuf_t;

static void put(hbuf_t *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *np = tn_realloc(b->p, cap);
        if (!np) {
            b->err = TN_ENOMEM;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void puts_(hbuf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

static void field(hbuf_t *b, const char *name, const char *value)
{
    puts_(b, name);
    put(b, ": ", 2);
    puts_(b, value);
    put(b, "\r\n", 2);
}

static int has(const tn_fetch_t *f, const char *name)
{
    return tn_headers_get(f->req_headers, name, NULL) != NULL;
}

int tn__hc_build_head(tn_fetch_t *f, int keep_alive, char **out, size_t *len)
{
    hbuf_t b = {0};
    char tmp[64];
    puts_(&b, f->method);
    put(&b, " ", 1);
    puts_(&b, f->u.target);
    put(&b, " HTTP/1.1\r\n", 11);
    if (!has(f, "Host")) {
        puts_(&b, "Host: ");
        if (f->u.ipv6)
            put(&b, "[", 1);
        puts_(&b, f->u.host);
        if (f->u.ipv6)
            put(&b, "]", 1);
        if (!f->u.default_port) {
            snprintf(tmp, sizeof tmp, ":%d", f->u.port);
            puts_(&b, tmp);
        }
        put(&b, "\r\n", 2);
    }
    if (!has(f, "User-Agent"))
        field(&b, "User-Agent", f->user_agent ? f->user_agent : "tornuv/" TN_VERSION_STRING);
    if (!f->o.no_decompress && !has(f, "Accept-Encoding"))
        field(&b, "Accept-Encoding", "gzip");
    if (f->auth_user && !has(f, "Authorization")) {
        size_t ul = strlen(f->auth_user), pl = f->auth_pass ? strlen(f->auth_pass) : 0;
        char *cred = tn_malloc(ul + pl + 2), *enc = tn_malloc((ul + pl + 3) / 3 * 4 + 8);
        if (cred && enc) {
            memcpy(cred, f->auth_user, ul);
            cred[ul] = ':';
            if (pl)
                memcpy(cred + ul + 1, f->auth_pass, pl);
            tn__base64_encode(enc, cred, ul + 1 + pl);
            puts_(&b, "Authorization: Basic ");
            puts_(&b, enc);
            put(&b, "\r\n", 2);
        } else {
            b.err = TN_ENOMEM;
        }
        tn_free(cred);
        tn_free(enc);
    }
    if (f->has_body && !strcmp(f->method, "POST") && !has(f, "Content-Type"))
        field(&b, "Content-Type", "application/x-www-form-urlencoded");
    f->chunked_up = 0;
    if (f->o.body_producer) {
        size_t n;
        const char *cl = tn_headers_get(f->req_headers, "Content-Length", &n);
        if (!cl) {
            f->chunked_up = 1;
            if (!has(f, "Transfer-Encoding"))
                field(&b, "Transfer-Encoding", "chunked");
        } else {
            uint64_t v = 0;
            for (size_t i = 0; i < n; i++) {
                if (cl[i] < '0' || cl[i] > '9' || i >= 18)
                    return tn_free(b.p), TN_EINVAL;
                v = v * 10 + (uint64_t)(cl[i] - '0');
            }
            f->up_len = v;
        }
    } else if (f->has_body && !has(f, "Content-Length")) {
        snprintf(tmp, sizeof tmp, "%zu", f->body_len);
        field(&b, "Content-Length", tmp);
    }
    if (f->o.expect_100_continue && f->has_body)
        field(&b, "Expect", "100-continue");
    if (!keep_alive && !has(f, "Connection"))
        field(&b, "Connection", "close");
    for (size_t i = 0; i < tn_headers_count(f->req_headers); i++) {
        tn_strview_t n, v;
        tn_headers_at(f->req_headers, i, &n, &v);
        put(&b, n.base, n.len);
        put(&b, ": ", 2);
        put(&b, v.base, v.len);
        put(&b, "\r\n", 2);
    }
    put(&b, "\r\n", 2);
    if (b.err) {
        tn_free(b.p);
        return b.err;
    }
    *out = b.p;
    *len = b.n;
    return 0;
}

int tn__hc_redirect(tn_fetch_t *f, const char *location, size_t loc_len)
{
    char *next = NULL, old_origin[sizeof f->origin];
    int code = f->code, rc;

    rc = tn__hcurl_resolve(f->url, location, loc_len, &next);
    if (rc == TN_ENOMEM)
        return rc;
    if (rc != 0) {
        snprintf(f->errmsg, sizeof f->errmsg, "invalid redirect Location");
        return TN_EINVAL;
    }
    tn__hcurl_t probe;
    int other = 0;
    rc = tn__hcurl_parse(&probe, next, &other);
    tn__hcurl_free(&probe);
    if (rc != 0) {
        snprintf(f->errmsg, sizeof f->errmsg, "redirect to %s URL: %.120s",
                 other ? "an unsupported" : "an invalid", next);
        tn_free(next);
        return rc == TN_ENOMEM ? rc : TN_EINVAL;
    }
    if (f->o.body_producer && (code == 307 || code == 308)) {
        snprintf(f->errmsg, sizeof f->errmsg, "HTTP %d: a streamed body cannot be replayed", code);
        tn_free(next);
        return TN_EHTTP;
    }
    memcpy(old_origin, f->origin, sizeof old_origin);
    tn_free(f->url);
    f->url = next;
    /* The URL's userinfo (if any) replaces the credentials; without it the
     * old ones stay only while the origin does. */
    char *keep_user = f->auth_user, *keep_pass = f->auth_pass;
    f->auth_user = f->auth_pass = NULL;
    rc = set_url(f);
    if (rc != 0) {
        tn_free(keep_user);
        tn_free(keep_pass);
        return rc;
    }
    int same_origin = strcmp(old_origin, f->origin) == 0;
    if (!f->auth_user && same_origin) {
        f->auth_user = keep_user;
        f->auth_pass = keep_pass;
    } else {
        tn_free(keep_user);
        tn_free(keep_pass);
    }
    if (!same_origin) {
        tn_headers_remove(f->req_headers, "Authorization");
        tn_headers_remove(f->req_headers, "Cookie");
        tn_headers_remove(f->req_headers, "Proxy-Authorization");
    }
    tn_headers_remove(f->req_headers, "Host");
    if ((code == 303 && strcmp(f->method, "HEAD") != 0) ||
        ((code == 301 || code == 302) && strcmp(f->method, "POST") == 0)) {
        tn_free(f->method);
        f->method = tn_strndup("GET", 3);
        if (!f->method)
            return TN_ENOMEM;
        if (f->body_owned)
            tn_free(f->body);
        f->body_owned = 0;
        f->body = NULL;
        f->body_len = 0;
        f->has_body = 0;
        f->o.body_producer = NULL;
        tn_headers_remove(f->req_headers, "Content-Length");
        tn_headers_remove(f->req_headers, "Content-Type");
        tn_headers_remove(f->req_headers, "Content-Encoding");
        tn_headers_remove(f->req_headers, "Transfer-Encoding");
    }
    f->redirects_left--;
    f->redirects++;
    return 0;
}
