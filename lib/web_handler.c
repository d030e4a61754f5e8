/* RequestHandler accessors: the request, application, loop, class state,
 * path arguments, query and body arguments (get_argument and friends),
 * files and cookies; and the handler's free once it is no longer used. */
#include <stdio.h>
#include <string.h>

#include "web_internal.h"

void tn__handler_maybe_free(tn_handler_t *h)
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
int tn__handler_last_value(const tn_args_t *a, const char *name, tn_strview_t *out)
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
    if (tn__handler_last_value(a, name, out))
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
    if (tn__handler_last_value(query_args(h), name, out))
        return 0;
    return missing(h, name, def, out);
}

int tn_handler_get_body_argument(tn_handler_t *h, const char *name, const char *def,
                                 tn_strview_t *out)
{
    if (tn__handler_last_value(body_args(h), name, out))
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
    if (!tn__handler_last_value(c, name, &v))
        return NULL;
    if (len)
        *len = v.len;
    return v.base;
}
