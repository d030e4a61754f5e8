/* The client's URLs: absolute http(s) URLs parsed into host, port and
 * request target, and redirect targets resolved against them (RFC 3986). */
#include <stdio.h>
#include <string.h>

#include "httpclient_internal.h"

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Length of a leading "scheme:" (without the colon), or 0. */
static size_t scheme_len(const char *s, size_t len)
{
    size_t i;
    if (len == 0 || !is_alpha((unsigned char)s[0]))
        return 0;
    for (i = 1; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == ':')
            return i;
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
            return 0;
    }
    return 0;
}

/* No spaces, controls or non-ASCII bytes anywhere in a URL we send. */
static int clean(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            return 0;
    }
    return 1;
}

static int hexval(int c)
{
    if (is_digit(c))
        return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes src[0..len) into dst (NUL-terminated); TN_EINVAL on a bad
 * escape or a decoded NUL. */
static int pct_decode(char *dst, const char *src, size_t len)
{
    size_t i, j = 0;
    for (i = 0; i < len; i++) {
        if (src[i] == '%') {
            int h, l;
            if (i + 2 >= len)
                return TN_EINVAL;
            h = hexval((unsigned char)src[i + 1]);
            l = hexval((unsigned char)src[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return TN_EINVAL;
            dst[j++] = (char)(h * 16 + l);
            i += 2;
        } else {
            dst[j++] = src[i];
        }
    }
    dst[j] = 0;
    return 0;
}

int tn__hcurl_parse(tn__hcurl_t *u, const char *url, int *other_scheme)
{
    size_t len = strlen(url), sl = scheme_len(url, len), i;
    const char *auth, *end, *at = NULL, *hs, *he, *ps = NULL;
    char *p;

    memset(u, 0, sizeof *u);
    if (other_scheme)
        *other_scheme = 0;
    if (sl == 0)
        return TN_EINVAL;
    if (sl == 4 && tn__h1_token_eq(url, 4, "http")) {
        u->https = 0;
    } else if (sl == 5 && tn__h1_token_eq(url, 5, "https")) {
        u->https = 1;
    } else {
        if (other_scheme)
            *other_scheme = 1;
        return TN_EINVAL;
    }
    if (len < sl + 3 || url[sl + 1] != '/' || url[sl + 2] != '/')
        return TN_EINVAL;
    auth = url + sl + 3;
    for (end = auth; *end && *end != '/' && *end != '?' && *end != '#'; end++)
        ;
    for (const char *q = auth; q < end; q++)
        if (*q == '@')
            at = q;
    hs = at ? at + 1 : auth;
    if (hs < end && *hs == '[') {
        he = memchr(hs, ']', (size_t)(end - hs));
        if (!he)
            return TN_EINVAL;
        for (const char *q = hs + 1; q < he; q++)
            if (!(hexval((unsigned char)*q) >= 0 || *q == ':' || *q == '.'))
                return TN_EINVAL;
        u->ipv6 = 1;
        if (he + 1 < end) {
            if (he[1] != ':')
                return TN_EINVAL;
            ps = he + 2;
        }
        hs++;
    } else {
        for (he = hs; he < end && *he != ':'; he++) {
            int c = (unsigned char)*he;
            if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_' && c != '~')
                return TN_EINVAL;
        }
        if (he < end)
            ps = he + 1;
    }
    if (he == hs)
        return TN_EINVAL;
    u->port = u->https ? 443 : 80;
    u->default_port = 1;
    if (ps && ps < end) {
        long v = 0;
        for (const char *q = ps; q < end; q++) {
            if (!is_digit((unsigned char)*q) || v > 65535)
                return TN_EINVAL;
            v = v * 10 + (*q - '0');
        }
        if (v < 1 || v > 65535)
            return TN_EINVAL;
        u->default_port = (int)v == u->port;
        u->port = (int)v;
    }
    /* The target: up to the fragment. */
    const char *ts = end, *te = end;
    while (*te && *te != '#')
        te++;
    if (!clean(auth, (size_t)(te - auth)))
        return TN_EINVAL;
    size_t hl = (size_t)(he - hs), tl = (size_t)(te - ts), ul = at ? (size_t)(at - auth) : 0;
    u->buf = tn_malloc(hl + 1 + tl + 2 + (ul + 1) * 2);
    if (!u->buf)
        return TN_ENOMEM;
    p = u->buf;
    memcpy(p, hs, hl);
    p[hl] = 0;
    for (i = 0; i < hl; i++)
        p[i] = (char)lower((unsigned char)p[i]);
    u->host = p;
    p += hl + 1;
    u->target = p;
    if (tl == 0 || *ts == '?')
        *p++ = '/';
    memcpy(p, ts, tl);
    p[tl] = 0;
    p += tl + 1;
    if (at) {
        const char *colon = memchr(auth, ':', ul);
        size_t nl = colon ? (size_t)(colon - auth) : ul;
        u->user = p;
        if (pct_decode(p, auth, nl) != 0)
            goto bad;
        p += nl + 1;
        u->password = p;
        if (pct_decode(p, colon ? colon + 1 : auth + ul, colon ? ul - nl - 1 : 0) != 0)
            goto bad;
    }
    return 0;
bad:
    tn__hcurl_free(u);
    return TN_EINVAL;
}

void tn__hcurl_free(tn__hcurl_t *u)
{
    tn_free(u->buf);
    memset(u, 0, sizeof *u);
}

int tn__hcurl_origin(const tn__hcurl_t *u, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s://%s%s%s:%d", u->https ? "https" : "http", u->ipv6 ? "[" : "",
                     u->host, u->ipv6 ? "]" : "", u->port);
    return n < 0 || (size_t)n >= cap ? TN_EINVAL : n;
}

/* RFC 3986 5.2.4 over path[0..len) into out (room for len + 1 bytes);
 * returns the output length. */
static size_t remove_dots(char *out, const char *in, size_t len)
{
    size_t o = 0;
    while (len > 0) {
        if (len >= 3 && memcmp(in, "../", 3) == 0) {
            in += 3, len -= 3;
        } else if (len >= 2 && memcmp(in, "./", 2) == 0) {
            in += 2, len -= 2;
        } else if (len >= 3 && memcmp(in, "/./", 3) == 0) {
            in += 2, len -= 2;
        } else if (len == 2 && memcmp(in, "/.", 2) == 0) {
            in += 1, len -= 1;
            out[o++] = '/';
            in++, len--;
        } else if ((len >= 4 && memcmp(in, "/../", 4) == 0) ||
                   (len == 3 && memcmp(in, "/..", 3) == 0)) {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            if (len == 3) {
                out[o++] = '/';
                len = 0;
            } else {
                in += 3, len -= 3;
            }
        } else if ((len == 1 && in[0] == '.') || (len == 2 && memcmp(in, "..", 2) == 0)) {
            len = 0;
        } else {
            size_t k = in[0] == '/' ? 1 : 0;
            while (k < len && in[k] != '/')
                k++;
            memcpy(out + o, in, k);
            o += k;
            in += k, len -= k;
        }
    }
    return o;
}

int tn__hcurl_resolve(const char *base, const char *ref, size_t ref_len, char **out)
{
    size_t bl = strlen(base), bs = scheme_len(base, bl), i;
    const char *frag = memchr(ref, '#', ref_len);
    if (frag)
        ref_len = (size_t)(frag - ref);
    while (ref_len > 0 && (ref[0] == ' ' || ref[0] == '\t'))
        ref++, ref_len--;
    if (!clean(ref, ref_len) || bs == 0)
        return TN_EINVAL;
    /* base = scheme "://" authority path [? query] (its fragment is gone). */
    const char *auth = base + bs + 3, *bpath = auth;
    while (*bpath && *bpath != '/' && *bpath != '?' && *bpath != '#')
        bpath++;
    const char *bq = bpath;
    while (*bq && *bq != '?' && *bq != '#')
        bq++;
    const char *bend = bq;
    while (*bend && *bend != '#')
        bend++;
    size_t cap = bl + ref_len + 8;
    char *r = tn_malloc(cap), *tmp = NULL;
    size_t n = 0;
    if (!r)
        return TN_ENOMEM;

    if (scheme_len(ref, ref_len) > 0) {
        memcpy(r, ref, ref_len);
        n = ref_len;
    } else if (ref_len >= 2 && ref[0] == '/' && ref[1] == '/') {
        memcpy(r, base, bs + 1);
        memcpy(r + bs + 1, ref, ref_len);
        n = bs + 1 + ref_len;
    } else if (ref_len == 0) {
        n = (size_t)(bend - base);
        memcpy(r, base, n);
    } else {
        const char *q = memchr(ref, '?', ref_len);
        size_t rpl = q ? (size_t)(q - ref) : ref_len;
        n = (size_t)(bpath - base);
        memcpy(r, base, n); /* scheme://authority */
        if (ref[0] == '?') {
            size_t pl = (size_t)(bq - bpath);
            if (pl == 0)
                r[n++] = '/';
            memcpy(r + n, bpath, pl);
            n += pl;
        } else {
            /* The merged path: the base's directory + the reference, or the
             * reference alone when it is absolute. */
            size_t dl = 0;
            tmp = tn_malloc((size_t)(bq - bpath) + rpl + 2);
            if (!tmp) {
                tn_free(r);
                return TN_ENOMEM;
            }
            if (ref[0] != '/') {
                for (i = (size_t)(bq - bpath); i > 0; i--)
                    if (bpath[i - 1] == '/')
                        break;
                if (i == 0)
                    tmp[dl++] = '/';
                memcpy(tmp + dl, bpath, i);
                dl += i;
            }
            memcpy(tmp + dl, ref, rpl);
            dl += rpl;
            n += remove_dots(r + n, tmp, dl);
            tn_free(tmp);
            ref += rpl;
            ref_len -= rpl;
        }
        memcpy(r + n, ref, ref_len); /* the query (all of the ref for "?q") */
        n += ref_len;
    }
    r[n] = 0;
    *out = r;
    return 0;
}
