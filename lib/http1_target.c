/* Strict HTTP/1 request-target and Host rules (RFC 9112 3.2, RFC 3986 3.2).
 *
 * A proxy in front of tornuv and tornuv itself must agree on which host and
 * which path a request names; anything the grammar does not allow, or that
 * two parsers could read differently (bytes outside visible ASCII, userinfo,
 * whitespace, an encoded NUL in the path), is refused with 400. */
#include <string.h>

#include "http1_framing.h"

int tn__h1_is_ipv4(const char *s, size_t n)
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

static int is_hex(unsigned char c)
{
    return tn__h1_hexval(c) >= 0;
}

int tn__h1_is_ipv6(const char *s, size_t n)
{
    size_t i = 0, groups = 0;
    int dbl = 0;
    if (n < 2 || n > 45)
        return 0;
    if (s[0] == ':' && s[1] != ':')
        return 0;
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
        while (i < n && is_hex((unsigned char)s[i]))
            i++;
        if (i < n && s[i] == '.') {
            if (!tn__h1_is_ipv4(s + start, n - start))
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

/* RFC 3986 reg-name bytes: unreserved / sub-delims ('%' is checked apart),
 * except ',': a Host with a comma reads as a list to some proxies. */
static int regname_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("-._~!$&'()*+;=", c) != NULL;
}

int tn__h1_host_ok(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0)
        return 1; /* RFC 9110 7.2: an empty Host when the target has no authority */
    if (s[0] == '[') {
        /* IP-literal: IPv6 only (IPvFuture and zone identifiers are refused) */
        const char *rb = memchr(s, ']', n);
        if (!rb || !tn__h1_is_ipv6(s + 1, (size_t)(rb - s) - 1))
            return 0;
        i = (size_t)(rb - s) + 1;
    } else {
        while (i < n && s[i] != ':') {
            unsigned char c = (unsigned char)s[i];
            if (c == '%') {
                if (i + 2 >= n || !is_hex((unsigned char)s[i + 1]) ||
                    !is_hex((unsigned char)s[i + 2]))
                    return 0;
                i += 3;
                continue;
            }
            if (!regname_char(c))
                return 0; /* whitespace, '@' (userinfo), '/', controls, ... */
            i++;
        }
        if (i == 0)
            return 0; /* a port without a host */
    }
    if (i == n)
        return 1;
    if (s[i] != ':')
        return 0;
    /* port: 1 to 5 digits, at most 65535 */
    size_t digits = n - i - 1;
    unsigned long v = 0;
    if (digits == 0 || digits > 5)
        return 0;
    for (i++; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v <= 65535;
}

static int method_is(const char *m, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(m, lit, n) == 0; /* methods are case-sensitive */
}

/* "%00" anywhere in the path part (before '?'). */
static int path_has_nul(const char *p, size_t n)
{
    for (size_t i = 0; i + 2 < n && p[i] != '?'; i++)
        if (p[i] == '%' && p[i + 1] == '0' && p[i + 2] == '0')
            return 1;
    return 0;
}

int tn__h1_target(const char *method, size_t method_len, const char *url, size_t url_len,
                  tn__h1target_t *t)
{
    t->form = 0;
    t->authority = NULL;
    t->authority_len = 0;
    if (url_len == 0)
        return TN_EHTTP;
    for (size_t i = 0; i < url_len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c < 0x21 || c > 0x7e)
            return TN_EHTTP; /* controls, spaces, DEL and bytes >= 0x80 */
    }
    if (method_is(method, method_len, "CONNECT")) {
        /* authority-form: uri-host ":" port, nothing else */
        const char *colon = NULL;
        for (size_t i = url_len; i > 0; i--)
            if (url[i - 1] == ':') {
                colon = url + i - 1;
                break;
            }
        if (!colon || colon == url || url[0] == '/' || !tn__h1_host_ok(url, url_len))
            return TN_EHTTP;
        t->form = TN__H1TARGET_AUTHORITY;
        t->authority = url;
        t->authority_len = url_len;
        return t->form;
    }
    if (url_len == 1 && url[0] == '*') {
        if (!method_is(method, method_len, "OPTIONS"))
            return TN_EHTTP;
        t->form = TN__H1TARGET_ASTERISK;
        return t->form;
    }
    const char *path = url;
    size_t path_len = url_len;
    if (url[0] == '/') {
        t->form = TN__H1TARGET_ORIGIN;
    } else {
        /* absolute-form: only the http and https schemes name this server */
        size_t k;
        if (url_len > 7 && tn__h1_token_eq(url, 7, "http://"))
            k = 7;
        else if (url_len > 8 && tn__h1_token_eq(url, 8, "https://"))
            k = 8;
        else
            return TN_EHTTP;
        size_t a = k;
        while (a < url_len && url[a] != '/' && url[a] != '?' && url[a] != '#')
            a++;
        /* RFC 9110 4.2.1: an http URI with an empty host is invalid */
        if (a == k || url[k] == ':' || !tn__h1_host_ok(url + k, a - k))
            return TN_EHTTP;
        t->form = TN__H1TARGET_ABSOLUTE;
        t->authority = url + k;
        t->authority_len = a - k;
        path = url + a;
        path_len = url_len - a;
    }
    if (path_has_nul(path, path_len))
        return TN_EHTTP;
    return t->form;
}
