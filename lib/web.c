/* Application, routing and RequestHandler (see web.h). */
#include "tornuv/web.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "crypto.h"
#include "http1_framing.h"
#include "web_internal.h"

#define MAX_PATH_ARGS 16
#define GZIP_MIN_LENGTH 1024

typedef struct route_s {
    struct route_s *next;
    pcre2_code *host_re, *path_re;
    char *pattern;
    char *name;
    const tn_handler_class_t *cls;
    void *init_arg;
} route_t;

struct tn_app_s {
    tn_app_settings_t s;
    char *static_path, *static_prefix, *cookie_secret;
    route_t *routes, *routes_tail;
    const tn_handler_class_t *default_cls;
    void *default_arg;
    tn_headers_t *default_headers;
    pcre2_match_data *md;
};

/* ---- application -------------------------------------------------------- */

static char *dup_str(const char *s)
{
    return s ? tn_strndup(s, strlen(s)) : NULL;
}

static pcre2_code *compile_anchored(const char *pattern, int *nomem)
{
    size_t n = strlen(pattern);
    char *wrapped = tn_malloc(n + 8);
    if (!wrapped) {
        *nomem = 1;
        return NULL;
    }
    /* The whole path must match, whatever alternation the pattern uses. */
    snprintf(wrapped, n + 8, "(?:%s)\\z", pattern);
    int err;
    PCRE2_SIZE off;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)wrapped, PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED, &err, &off, NULL);
    tn_free(wrapped);
    /* Routes are matched on every request: JIT-compile them where PCRE2
     * supports it (pcre2_match then runs the JIT code; without it, the
     * interpreter). */
    if (re)
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

int tn_app_new(const tn_app_settings_t *settings, tn_app_t **out)
{
    tn_app_t *app = tn_calloc(1, sizeof *app);
    if (!app)
        return TN_ENOMEM;
    if (settings)
        app->s = *settings;
    app->md = pcre2_match_data_create(MAX_PATH_ARGS + 1, NULL);
    int err = tn_headers_new(&app->default_headers);
    if (err || !app->md)
        goto fail;
    if (app->s.cookie_secret && !(app->cookie_secret = dup_str(app->s.cookie_secret)))
        goto fail;
    if (app->s.static_path) {
        app->static_path = dup_str(app->s.static_path);
        app->static_prefix =
            dup_str(app->s.static_url_prefix ? app->s.static_url_prefix : "/static/");
        if (!app->static_path || !app->static_prefix)
            goto fail;
        /* prefix + "(.*)" with the prefix's regex characters escaped */
        size_t n = strlen(app->static_prefix);
        char *pat = tn_malloc(2 * n + 8);
        if (!pat)
            goto fail;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (strchr("\\^$.|?*+()[]{}", app->static_prefix[i]))
                pat[k++] = '\\';
            pat[k++] = app->static_prefix[i];
        }
        memcpy(pat + k, "(.*)", 5);
        err = tn_app_add_route(app, NULL, pat, &tn_static_file_handler, app->static_path, "static");
        tn_free(pat);
        if (err)
            goto fail;
    }
    app->s.static_path = app->static_path;
    app->s.static_url_prefix = app->static_prefix;
    app->s.cookie_secret = app->cookie_secret;
    *out = app;
    return 0;
fail:
    tn_app_free(app);
    return TN_ENOMEM;
}

void tn_app_free(tn_app_t *app)
{
    if (!app)
        return;
    route_t *r = app->routes;
    while (r) {
        route_t *next = r->next;
        pcre2_code_free(r->host_re);
        pcre2_code_free(r->path_re);
        tn_free(r->pattern);
        tn_free(r->name);
        tn_free(r);
        r = next;
    }
    pcre2_match_data_free(app->md);
    tn_headers_free(app->default_headers);
    tn_free(app->static_path);
    tn_free(app->static_prefix);
    tn_free(app->cookie_secret);
    tn_free(app);
}

static const route_t *find_named(const tn_app_t *app, const char *name)
{
    for (const route_t *r = app->routes; r; r = r->next)
        if (r->name && strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

int tn_app_add_route(tn_app_t *app, const char *host_pattern, const char *pattern,
                     const tn_handler_class_t *cls, void *init_arg, const char *name)
{
    if (!app || !pattern || !cls)
        return TN_EINVAL;
    if (name && find_named(app, name))
        return TN_EEXIST;
    route_t *r = tn_calloc(1, sizeof *r);
    if (!r)
        return TN_ENOMEM;
    r->cls = cls;
    r->init_arg = init_arg;
    int nomem = 0;
    r->path_re = compile_anchored(pattern, &nomem);
    r->host_re = host_pattern ? compile_anchored(host_pattern, &nomem) : NULL;
    r->pattern = dup_str(pattern);
    r->name = dup_str(name);
    int bad = !nomem && (!r->path_re || (host_pattern && !r->host_re));
    uint32_t groups = 0;
    if (!bad)
        pcre2_pattern_info(r->path_re, PCRE2_INFO_CAPTURECOUNT, &groups);
    if (nomem || bad || groups > MAX_PATH_ARGS || !r->pattern || (name && !r->name)) {
        pcre2_code_free(r->path_re);
        pcre2_code_free(r->host_re);
        tn_free(r->pattern);
        tn_free(r->name);
        tn_free(r);
        return bad || groups > MAX_PATH_ARGS ? TN_EINVAL : TN_ENOMEM;
    }
    if (app->routes_tail)
        app->routes_tail->next = r;
    else
        app->routes = r;
    app->routes_tail = r;
    return 0;
}

void tn_app_set_default_handler(tn_app_t *app, const tn_handler_class_t *cls, void *init_arg)
{
    app->default_cls = cls;
    app->default_arg = init_arg;
}

static int value_ok(const char *v)
{
    for (; *v; v++)
        if (*v == '\r' || *v == '\n')
            return 0;
    return 1;
}

int tn_app_add_default_header(tn_app_t *app, const char *name, const char *value)
{
    if (!tn_http_is_token(name, strlen(name)) || !value_ok(value))
        return TN_EINVAL;
    return tn_headers_set(app->default_headers, name, strlen(name), value, strlen(value));
}

long tn_app_reverse_url(const tn_app_t *app, const char *name, const char *const *args,
                        size_t nargs, char *buf, size_t cap)
{
    const route_t *r = find_named(app, name);
    if (!r)
        return TN_ENOTFOUND;
    const char *p = r->pattern;
    size_t n = strlen(p), used = 0, out = 0;
    if (n && p[0] == '^')
        p++, n--;
    if (n && p[n - 1] == '$')
        n--;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (out + 1 >= cap)                                                                        \
            return TN_EBUFFULL;                                                                    \
        buf[out++] = (c);                                                                          \
    } while (0)
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '(') {
            int depth = 1;
            size_t j = i + 1;
            for (; j < n && depth; j++) {
                if (p[j] == '\\') {
                    j++;
                    continue;
                }
                if (p[j] == '(')
                    return TN_EINVAL; /* nested groups: not reversible */
                if (p[j] == ')')
                    depth--;
            }
            if (depth || used >= nargs)
                return TN_EINVAL;
            const char *a = args[used++];
            size_t need = tn_url_escape(NULL, 0, a, strlen(a), 0);
            if (out + need + 1 > cap)
                return TN_EBUFFULL;
            out += tn_url_escape(buf + out, cap - out, a, strlen(a), 0);
            i = j - 1;
        } else if (c == '\\' && i + 1 < n) {
            PUT(p[++i]);
        } else if (strchr(".*+?[]{}|)", c)) {
            return TN_EINVAL;
        } else {
            PUT(c);
        }
    }
#undef PUT
    if (used != nargs)
        return TN_EINVAL;
    buf[out] = 0;
    return (long)out;
}

/* ---- handler ------------------------------------------------------------ */

struct tn_handler_s {
    tn_app_t *app;
    const tn_handler_class_t *cls;
    const route_t *route;
    tn_http_request_t *req; /* NULL once the request is over */
    int status;
    char *reason;
    tn_headers_t *headers;
    char *buf;
    size_t len, cap;
    char *argbuf;
    tn_strview_t args[MAX_PATH_ARGS];
    size_t nargs;
    tn_args_t *qargs, *bargs;
    int fail_status;
    char fail_msg[160];
    char *xsrf;
    uint64_t start_ms;
    unsigned pending; /* flush callbacks not yet run */
    unsigned busy;    /* tornuv is inside a call into the class */
    unsigned char async, finished, released, closed, headers_sent;
    /* the class's state follows, aligned */
};

#define STATE_OFFSET ((sizeof(tn_handler_t) + 15) & ~(size_t)15)

static void maybe_free(tn_handler_t *h)
{
    if (h->busy || h->pending || !(h->finished || h->closed) || (h->async && !h->released))
        return;
    tn_headers_free(h->headers);
    tn_args_free(h->qargs);
    tn_args_free(h->bargs);
    tn_free(h->argbuf);
    tn_free(h->buf);
    tn_free(h->reason);
    tn_free(h->xsrf);
    tn_free(h);
}

tn_http_request_t *tn_handler_request(const tn_handler_t *h)
{
    return h->req;
}

tn_app_t *tn_handler_app(const tn_handler_t *h)
{
    return h->app;
}

void *tn_handler_state(const tn_handler_t *h)
{
    return (char *)h + STATE_OFFSET;
}

tn_ioloop_t *tn_handler_loop(const tn_handler_t *h)
{
    return h->req ? tn_http_request_loop(h->req) : NULL;
}

const char *tn_handler_path_arg(const tn_handler_t *h, size_t i, size_t *len)
{
    if (i >= h->nargs || !h->args[i].base)
        return NULL;
    if (len)
        *len = h->args[i].len;
    return h->args[i].base;
}

size_t tn_handler_path_arg_count(const tn_handler_t *h)
{
    return h->nargs;
}

const char *tn_handler_path_kwarg(const tn_handler_t *h, const char *name, size_t *len)
{
    if (!h->route)
        return NULL;
    int n = pcre2_substring_number_from_name(h->route->path_re, (PCRE2_SPTR)name);
    if (n <= 0)
        return NULL;
    return tn_handler_path_arg(h, (size_t)n - 1, len);
}

/* Last value of name in a (Tornado returns the last one). */
static int last_value(const tn_args_t *a, const char *name, tn_strview_t *out)
{
    size_t n = a ? tn_args_count(a) : 0, k = strlen(name);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        tn_strview_t nm, v;
        if (tn_args_at(a, i, &nm, &v) == 0 && nm.len == k && memcmp(nm.base, name, k) == 0) {
            *out = v;
            found = 1;
        }
    }
    return found;
}

static int missing(tn_handler_t *h, const char *name, const char *def, tn_strview_t *out)
{
    if (def) {
        out->base = def;
        out->len = strlen(def);
        return 0;
    }
    h->fail_status = 400;
    snprintf(h->fail_msg, sizeof h->fail_msg, "Missing argument %.100s", name);
    return TN_EHTTP;
}

static const tn_args_t *query_args(tn_handler_t *h)
{
    if (!h->qargs && h->req && tn_args_new(&h->qargs) == 0) {
        size_t n;
        const char *q = tn_http_request_query(h->req, &n);
        (void)tn_args_parse_query(h->qargs, q, n, 0);
    }
    return h->qargs;
}

static const tn_args_t *body_args(tn_handler_t *h)
{
    if (!h->bargs && h->req && tn_args_new(&h->bargs) == 0) {
        /* the request's arguments are query + body: take the part past the
         * query's */
        const tn_args_t *all = tn_http_request_arguments(h->req);
        const tn_args_t *q = query_args(h);
        size_t start = q ? tn_args_count(q) : 0, n = all ? tn_args_count(all) : 0;
        for (size_t i = start; i < n; i++) {
            tn_strview_t nm, v;
            if (tn_args_at(all, i, &nm, &v) == 0)
                (void)tn_args_add(h->bargs, nm.base, nm.len, v.base, v.len);
        }
    }
    return h->bargs;
}

int tn_handler_get_argument(tn_handler_t *h, const char *name, const char *def, tn_strview_t *out)
{
    const tn_args_t *a = h->req ? tn_http_request_arguments(h->req) : NULL;
    if (last_value(a, name, out))
        return 0;
    return missing(h, name, def, out);
}

size_t tn_handler_get_arguments(tn_handler_t *h, const char *name, tn_strview_t *out, size_t max)
{
    const tn_args_t *a = h->req ? tn_http_request_arguments(h->req) : NULL;
    return a ? tn_args_get_all(a, name, out, max) : 0;
}

int tn_handler_get_query_argument(tn_handler_t *h, const char *name, const char *def,
                                  tn_strview_t *out)
{
    if (last_value(query_args(h), name, out))
        return 0;
    return missing(h, name, def, out);
}

int tn_handler_get_body_argument(tn_handler_t *h, const char *name, const char *def,
                                 tn_strview_t *out)
{
    if (last_value(body_args(h), name, out))
        return 0;
    return missing(h, name, def, out);
}

const tn_files_t *tn_handler_files(tn_handler_t *h)
{
    return h->req ? tn_http_request_files(h->req) : NULL;
}

const char *tn_handler_get_cookie(tn_handler_t *h, const char *name, size_t *len)
{
    const tn_args_t *c = h->req ? tn_http_request_cookies(h->req) : NULL;
    tn_strview_t v;
    if (!last_value(c, name, &v))
        return NULL;
    if (len)
        *len = v.len;
    return v.base;
}

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
    char *copy = reason ? dup_str(reason) : NULL;
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

static int reset_headers(tn_handler_t *h)
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
    (void)reset_headers(h);
    h->len = 0;
    h->status = 200;
    tn_free(h->reason);
    h->reason = NULL;
}

int tn_handler_finished(const tn_handler_t *h)
{
    return h->finished;
}

static int method_is(tn_handler_t *h, const char *m)
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
    maybe_free(h);
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

/* Sends everything and ends the response; the handler stays allocated. */
static int complete(tn_handler_t *h)
{
    int err = 0;
    tn_http_request_t *req = h->req;
    if (!h->headers_sent) {
        size_t n;
        int get_or_head = method_is(h, "GET") || method_is(h, "HEAD");
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
            maybe_free(h);
        }
        return TN_EFINISHED;
    }
    h->released = 1;
    if (h->closed || !h->req) {
        h->finished = 1;
        maybe_free(h);
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
    if (err != 0)
        tn_log(TN_LOG_ERROR, "Failed to send the response of %s: %s",
               h->cls->name ? h->cls->name : "handler", tn_strerror(err));
    h->req = NULL; /* the connection may serve its next request now */
    maybe_free(h);
    return err;
}

static void default_error_page(tn_handler_t *h, int status)
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
        default_error_page(h, h->status);
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

/* ---- cookies ------------------------------------------------------------- */

int tn_handler_set_cookie(tn_handler_t *h, const char *name, const char *value,
                          const tn_cookie_attrs_t *attrs)
{
    char *hdr;
    size_t n;
    tn_cookie_attrs_t a;
    if (attrs) {
        a = *attrs;
    } else {
        memset(&a, 0, sizeof a);
        a.max_age = -1;
    }
    if (!a.path)
        a.path = "/";
    int err = tn_cookie_format(name, strlen(name), value, strlen(value), &a, &hdr, &n);
    if (err)
        return err;
    err = tn_headers_add(h->headers, "Set-Cookie", 10, hdr, n);
    tn_free(hdr);
    return err;
}

int tn_handler_clear_cookie(tn_handler_t *h, const char *name, const tn_cookie_attrs_t *attrs)
{
    tn_cookie_attrs_t a;
    memset(&a, 0, sizeof a);
    if (attrs) {
        a.path = attrs->path;
        a.domain = attrs->domain;
    }
    a.max_age = 0;
    a.expires = (int64_t)time(NULL) - 365 * 86400;
    return tn_handler_set_cookie(h, name, "", &a);
}

int tn_handler_set_signed_cookie(tn_handler_t *h, const char *name, const char *value,
                                 const tn_cookie_attrs_t *attrs)
{
    if (!h->app->cookie_secret)
        return TN_EINVAL;
    size_t cap = tn__web_signed_size(strlen(name), strlen(value));
    char *v = tn_malloc(cap);
    if (!v)
        return TN_ENOMEM;
    long n = tn__web_sign(h->app->cookie_secret, name, value, strlen(value), (int64_t)time(NULL), v,
                          cap);
    int err = n < 0 ? (int)n : tn_handler_set_cookie(h, name, v, attrs);
    tn_free(v);
    return err;
}

long tn_handler_get_signed_cookie(tn_handler_t *h, const char *name, unsigned max_age_days,
                                  char *buf, size_t cap)
{
    size_t n;
    if (!h->app->cookie_secret)
        return TN_EINVAL;
    const char *v = tn_handler_get_cookie(h, name, &n);
    if (!v)
        return TN_ENOTFOUND;
    return tn__web_verify(h->app->cookie_secret, name, v, n, (int64_t)time(NULL),
                          max_age_days ? max_age_days : 31, buf, cap);
}

const char *tn_handler_xsrf_token(tn_handler_t *h)
{
    if (h->xsrf)
        return h->xsrf;
    size_t n;
    const char *c = tn_handler_get_cookie(h, "_xsrf", &n);
    if (c && n == 32 && strspn(c, "0123456789abcdef") >= 32) {
        h->xsrf = tn_strndup(c, n);
        return h->xsrf;
    }
    unsigned char rnd[16];
    static const char hex[] = "0123456789abcdef";
    if (tn__random_bytes(rnd, sizeof rnd) != 0 || !(h->xsrf = tn_malloc(33)))
        return NULL;
    for (int i = 0; i < 16; i++) {
        h->xsrf[2 * i] = hex[rnd[i] >> 4];
        h->xsrf[2 * i + 1] = hex[rnd[i] & 15];
    }
    h->xsrf[32] = 0;
    tn_cookie_attrs_t a;
    memset(&a, 0, sizeof a);
    a.max_age = -1;
    a.samesite = "Lax";
    (void)tn_handler_set_cookie(h, "_xsrf", h->xsrf, &a);
    return h->xsrf;
}

static int xsrf_ok(tn_handler_t *h)
{
    size_t cn = 0, tn = 0;
    const char *cookie = tn_handler_get_cookie(h, "_xsrf", &cn);
    tn_strview_t v;
    const char *tok = NULL;
    if (last_value(tn_http_request_arguments(h->req), "_xsrf", &v)) {
        tok = v.base;
        tn = v.len;
    } else {
        const tn_headers_t *hd = tn_http_request_headers(h->req);
        tok = tn_headers_get(hd, "X-Xsrftoken", &tn);
        if (!tok)
            tok = tn_headers_get(hd, "X-Csrftoken", &tn);
    }
    return cookie && tok && cn == tn && cn > 0 && tn__memeq_ct(cookie, tok, cn);
}

/* ---- dispatch ------------------------------------------------------------ */

static void on_request_closed(tn_http_request_t *req, void *arg)
{
    tn_handler_t *h = arg;
    (void)req;
    h->closed = 1;
    h->req = NULL;
    h->busy++;
    if (!h->finished && h->cls->on_connection_close)
        h->cls->on_connection_close(h);
    h->busy--;
    maybe_free(h);
}

static int (*method_slot(const tn_handler_class_t *c, const char *m, size_t n))(tn_handler_t *)
{
#define M(name, slot)                                                                              \
    if (n == sizeof(name) - 1 && memcmp(m, name, n) == 0)                                          \
        return c->slot;
    M("GET", get)
    M("HEAD", head)
    M("POST", post)
    M("PUT", put)
    M("DELETE", delete_)
    M("PATCH", patch)
    M("OPTIONS", options)
#undef M
    return NULL;
}

static void allow_header(tn_handler_t *h)
{
    char allow[80] = "";
    const tn_handler_class_t *c = h->cls;
    const struct {
        const char *n;
        int on;
    } ms[] = {{"GET", !!c->get},        {"HEAD", !!c->head},      {"POST", !!c->post},
              {"PUT", !!c->put},        {"DELETE", !!c->delete_}, {"PATCH", !!c->patch},
              {"OPTIONS", !!c->options}};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        if (!ms[i].on)
            continue;
        if (allow[0])
            strcat(allow, ", ");
        strcat(allow, ms[i].n);
    }
    (void)tn_handler_set_header(h, "Allow", allow);
}

static int run(tn_handler_t *h, void *init_arg)
{
    size_t mn;
    const char *m = tn_http_request_method(h->req, &mn);
    int rc = 0;
    if (h->cls->initialize)
        rc = h->cls->initialize(h, init_arg);
    if (rc >= 0 && !h->finished && h->app->s.xsrf_cookies &&
        (method_is(h, "POST") || method_is(h, "PUT") || method_is(h, "DELETE") ||
         method_is(h, "PATCH")) &&
        !xsrf_ok(h)) {
        h->fail_status = 403;
        snprintf(h->fail_msg, sizeof h->fail_msg, "'_xsrf' argument missing or incorrect");
        rc = TN_EHTTP;
    }
    if (rc >= 0 && !h->finished && h->cls->prepare)
        rc = h->cls->prepare(h);
    if (rc >= 0 && !h->finished) {
        int (*fn)(tn_handler_t *) = method_slot(h->cls, m, mn);
        if (!fn) {
            allow_header(h);
            h->fail_status = 405;
            rc = TN_EHTTP;
        } else {
            rc = fn(h);
        }
    }
    return rc;
}

void tn_app_request_cb(tn_http_request_t *req, void *arg)
{
    tn_app_t *app = arg;
    size_t plen, hlen;
    const char *path = tn_http_request_path(req, &plen);
    const char *host = tn_http_request_host(req, &hlen);
    const route_t *r = NULL;
    const tn_handler_class_t *cls = app->default_cls;
    void *init_arg = app->default_arg;

    /* host without the port, as Tornado's request.host_name */
    size_t hn = hlen;
    if (hn && host[0] != '[') {
        const char *colon = memchr(host, ':', hn);
        if (colon)
            hn = (size_t)(colon - host);
    } else if (hn) {
        const char *rb = memchr(host, ']', hn);
        if (rb)
            hn = (size_t)(rb - host) + 1;
    }
    for (r = app->routes; r; r = r->next) {
        if (r->host_re && pcre2_match(r->host_re, (PCRE2_SPTR)host, hn, 0, 0, app->md, NULL) < 0)
            continue;
        if (pcre2_match(r->path_re, (PCRE2_SPTR)path, plen, 0, 0, app->md, NULL) >= 0)
            break;
    }
    if (r) {
        cls = r->cls;
        init_arg = r->init_arg;
    }
    static const tn_handler_class_t not_found = {.name = "NotFound"};
    if (!cls)
        cls = &not_found;

    tn_handler_t *h = tn_calloc(1, STATE_OFFSET + cls->state_size);
    if (!h || tn_headers_new(&h->headers) != 0) {
        tn_free(h);
        (void)tn_http_response_send(req, 500, NULL, NULL, 0);
        return;
    }
    h->app = app;
    h->cls = cls;
    h->route = r;
    h->req = req;
    h->status = 200;
    h->start_ms = tn_ioloop_time_ms(tn_http_request_loop(req));
    (void)reset_headers(h);
    if (r) {
        uint32_t groups = 0;
        pcre2_pattern_info(r->path_re, PCRE2_INFO_CAPTURECOUNT, &groups);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(app->md);
        h->argbuf = tn_malloc(plen + 1);
        size_t off = 0;
        for (uint32_t g = 1; g <= groups && h->argbuf; g++) {
            if (ov[2 * g] == PCRE2_UNSET) {
                h->args[g - 1].base = NULL;
                continue;
            }
            size_t len = ov[2 * g + 1] - ov[2 * g];
            size_t dn = tn_url_unescape(h->argbuf + off, path + ov[2 * g], len, 0);
            h->args[g - 1].base = h->argbuf + off;
            h->args[g - 1].len = dn;
            off += dn;
        }
        h->nargs = groups;
    }
    tn_http_request_set_close_callback(req, on_request_closed, h);

    h->busy++;
    int rc = cls == &not_found ? tn_handler_fail(h, 404) : run(h, init_arg);
    h->busy--;
    if (rc == TN_WEB_ASYNC && !h->finished && !h->closed) {
        h->async = 1;
        return;
    }
    if (h->finished || h->closed) {
        h->finished = 1;
        h->released = 1;
        maybe_free(h);
        return;
    }
    if (rc < 0) {
        int st = rc == TN_EHTTP && h->fail_status ? h->fail_status : 500;
        if (st >= 500)
            tn_log(TN_LOG_ERROR, "Uncaught error in %s: %s", cls->name ? cls->name : "handler",
                   tn_strerror(rc));
        if (h->fail_msg[0] && !h->cls->write_error && !h->headers_sent) {
            char msg[sizeof h->fail_msg];
            memcpy(msg, h->fail_msg, sizeof msg);
            tn_handler_clear(h);
            if (st == 405)
                allow_header(h);
            (void)tn_handler_set_status(h, st, NULL);
            char page[400];
            int k =
                snprintf(page, sizeof page, "<html><title>%d: %s</title><body>%d: %s</body></html>",
                         st, tn_http_reason(st), st, msg);
            (void)tn_handler_write(h, page, (size_t)k);
            (void)tn_handler_finish(h);
        } else if (st == 405 && !h->headers_sent) {
            tn_handler_clear(h);
            allow_header(h);
            (void)tn_handler_set_status(h, 405, NULL);
            default_error_page(h, 405);
            (void)tn_handler_finish(h);
        } else {
            (void)tn_handler_send_error(h, st);
        }
        return;
    }
    (void)tn_handler_finish(h);
}

int tn_app_listen(tn_app_t *app, tn_ioloop_t *loop, int port, const char *address,
                  const tn_httpserver_options_t *opts, tn_httpserver_t **out)
{
    tn_httpserver_options_t o;
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    o.delegate = NULL;
    o.request_cb = tn_app_request_cb;
    o.request_arg = app;
    tn_httpserver_t *srv;
    int err = tn_httpserver_new(loop, &o, &srv);
    if (err)
        return err;
    if ((err = tn_httpserver_listen(srv, port, address)) != 0) {
        tn_httpserver_free(srv, NULL, NULL);
        return err;
    }
    *out = srv;
    return 0;
}

/* ---- RedirectHandler ----------------------------------------------------- */

static int redirect_init(tn_handler_t *h, void *arg)
{
    *(const char **)tn_handler_state(h) = arg;
    return 0;
}

static int redirect_get(tn_handler_t *h)
{
    return tn_handler_redirect(h, *(const char **)tn_handler_state(h), 301);
}

const tn_handler_class_t tn_redirect_handler = {
    .name = "RedirectHandler",
    .state_size = sizeof(const char *),
    .initialize = redirect_init,
    .get = redirect_get,
    .head = redirect_get,
};
