/* URL splitting, percent-decoding and percent-encoding. */
#include <string.h>

#include "tornuv/httputil.h"

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t tn_url_unescape(char *dst, const char *src, size_t len, int plus_as_space)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%' && i + 2 < len) {
            int hi = hex_value((unsigned char)src[i + 1]);
            int lo = hex_value((unsigned char)src[i + 2]);
            if (hi >= 0 && lo >= 0) {
                dst[out++] = (char)(hi * 16 + lo);
                i += 2;
                continue;
            }
        } else if (c == '+' && plus_as_space) {
            c = ' ';
        }
        dst[out++] = c;
    }
    return out;
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

size_t tn_url_escape(char *dst, size_t dst_cap, const char *src, size_t len, int plus_for_space)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        char enc[3];
        size_t n = 1;
        if (unreserved(c)) {
            enc[0] = (char)c;
        } else if (c == ' ' && plus_for_space) {
            enc[0] = '+';
        } else {
            enc[0] = '%';
            enc[1] = hex[c >> 4];
            enc[2] = hex[c & 15];
            n = 3;
        }
        for (size_t k = 0; k < n; k++, out++)
            if (out < dst_cap)
                dst[out] = enc[k];
    }
    return out;
}

int tn_url_split(const char *target, size_t len, tn_strview_t *path, tn_strview_t *query)
{
    const char *p = target, *end = target + len;
    if (len == 0)
        return TN_EINVAL;
    if (len == 1 && target[0] == '*') {
        path->base = target;
        path->len = 1;
        query->base = end;
        query->len = 0;
        return 0;
    }
    if (target[0] != '/') {
        /* absolute-form: scheme "://" authority [path] */
        const char *sep = NULL;
        for (const char *s = target; s + 2 < end; s++)
            if (s[0] == ':' && s[1] == '/' && s[2] == '/') {
                sep = s;
                break;
            }
        if (sep == NULL || sep == target)
            return TN_EINVAL;
        for (const char *s = target; s < sep; s++) {
            unsigned char c = (unsigned char)*s;
            int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (s > target && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
            if (!ok)
                return TN_EINVAL;
        }
        p = sep + 3;
        while (p < end && *p != '/' && *p != '?' && *p != '#')
            p++;
    }
    const char *hash = memchr(p, '#', (size_t)(end - p));
    if (hash != NULL)
        end = hash;
    const char *q = memchr(p, '?', (size_t)(end - p));
    if (p == end || p[0] != '/') {
        /* absolute-form without a path: the path is "/" */
        static const char slash[] = "/";
        path->base = slash;
        path->len = 1;
    } else {
        path->base = p;
        path->len = (size_t)((q ? q : end) - p);
    }
    query->base = q ? q + 1 : end;
    query->len = q ? (size_t)(end - q - 1) : 0;
    return 0;
}
