/* Application: settings, the route table (host and path patterns compiled
 * once with PCRE2, named routes), the default handler, default headers and
 * reverse_url. Matching a request against the routes is in web_dispatch.c. */
#include <stdio.h>
#include <string.h>

#include "web_internal.h"

/* ---- application -------------------------------------------------------- */

char *tn__web_dup_str(const char *s)
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
    if (app->s.cookie_secret && !(app->cookie_secret = tn__web_dup_str(app->s.cookie_secret)))
        goto fail;
    if (app->s.static_path) {
        app->static_path = tn__web_dup_str(app->s.static_path);
        app->static_prefix =
            tn__web_dup_str(app->s.static_url_prefix ? app->s.static_url_prefix : "/static/");
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
    if (cls->stream_request_body)
        app->streaming = 1;
    r->init_arg = init_arg;
    int nomem = 0;
    r->path_re = compile_anchored(pattern, &nomem);
    r->host_re = host_pattern ? compile_anchored(host_pattern, &nomem) : NULL;
    r->pattern = tn__web_dup_str(pattern);
    r->name = tn__web_dup_str(name);
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
    if (cls && cls->stream_request_body)
        app->streaming = 1;
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
