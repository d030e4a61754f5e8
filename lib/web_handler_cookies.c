/* Cookies on a RequestHandler: set_cookie / clear_cookie, signed cookies
 * (format in web_cookie.c) and the XSRF token and its check. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "web_internal.h"

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

int tn__handler_xsrf_ok(tn_handler_t *h)
{
    size_t cn = 0, tn = 0;
    const char *cookie = tn_handler_get_cookie(h, "_xsrf", &cn);
    tn_strview_t v;
    const char *tok = NULL;
    if (tn__handler_last_value(tn_http_request_arguments(h->req), "_xsrf", &v)) {
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
