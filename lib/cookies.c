/* Cookie header parsing and Set-Cookie building. */
#include <stdio.h>
#include <string.h>

#include "multimap.h"

int tn_http_is_token(const char *s, size_t len)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (c == '\0' || strchr(extra, c) == NULL))
            return 0;
    }
    return 1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static void strip(const char **s, size_t *len)
{
    while (*len > 0 && is_space(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_space((*s)[*len - 1]))
        (*len)--;
}

/* Decodes a quoted cookie value (without its quotes) into dst: "\X" gives X,
 * "\ooo" (three octal digits) gives that byte. Never grows. */
static size_t unquote(char *dst, const char *src, size_t len)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\\' && i + 1 < len) {
            if (i + 3 < len && src[i + 1] >= '0' && src[i + 1] <= '3' && src[i + 2] >= '0' &&
                src[i + 2] <= '7' && src[i + 3] >= '0' && src[i + 3] <= '7') {
                dst[out++] =
                    (char)((src[i + 1] - '0') * 64 + (src[i + 2] - '0') * 8 + (src[i + 3] - '0'));
                i += 3;
            } else {
                dst[out++] = src[++i];
            }
        } else {
            dst[out++] = src[i];
        }
    }
    return out;
}

int tn_cookies_parse(tn_args_t *out, const char *header, size_t len, size_t max_cookies)
{
    size_t limit = max_cookies ? max_cookies : TN_ARGS_DEFAULT_MAX, added = 0, start = 0;
    while (start <= len) {
        const char *semi = start < len ? memchr(header + start, ';', len - start) : NULL;
        size_t end = semi ? (size_t)(semi - header) : len;
        const char *chunk = header + start;
        size_t chunk_len = end - start;
        const char *eq = memchr(chunk, '=', chunk_len);
        const char *name = chunk, *value = chunk;
        size_t name_len = 0, value_len = chunk_len;
        if (eq != NULL) {
            name_len = (size_t)(eq - chunk);
            value = eq + 1;
            value_len = chunk_len - name_len - 1;
        }
        strip(&name, &name_len);
        strip(&value, &value_len);
        if (name_len > 0 || value_len > 0) {
            if (++added > limit)
                return TN_ETOOLARGE;
            int quoted = value_len >= 2 && value[0] == '"' && value[value_len - 1] == '"';
            int err;
            if (quoted) {
                char tmp[256];
                char *buf = value_len - 2 <= sizeof(tmp) ? tmp : tn_malloc(value_len - 2);
                if (buf == NULL)
                    return TN_ENOMEM;
                size_t n = unquote(buf, value + 1, value_len - 2);
                err = tn_args_add(out, name, name_len, buf, n);
                if (buf != tmp)
                    tn_free(buf);
            } else {
                err = tn_args_add(out, name, name_len, value, value_len);
            }
            if (err != 0)
                return err;
        }
        if (semi == NULL)
            break;
        start = end + 1;
    }
    return 0;
}

static int valid_cookie_value(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == '"' || c == ',' || c == ';' || c == '\\')
            return 0;
    }
    return 1;
}

static int valid_attr(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == ';')
            return 0;
    }
    return 1;
}

int tn_cookie_format(const char *name, size_t name_len, const char *value, size_t value_len,
                     const tn_cookie_attrs_t *attrs, char **out, size_t *out_len)
{
    static const tn_cookie_attrs_t none = {.max_age = -1};
    const tn_cookie_attrs_t *a = attrs ? attrs : &none;
    if (!tn_http_is_token(name, name_len) || !valid_cookie_value(value, value_len))
        return TN_EINVAL;
    if ((a->domain && !valid_attr(a->domain)) || (a->path && !valid_attr(a->path)))
        return TN_EINVAL;
    if (a->samesite && strcmp(a->samesite, "Strict") != 0 && strcmp(a->samesite, "Lax") != 0 &&
        strcmp(a->samesite, "None") != 0)
        return TN_EINVAL;
    char date[TN_HTTP_DATE_LEN] = "";
    if (a->expires != 0 && tn_http_date_format(a->expires, date) != 0)
        return TN_EINVAL;

    size_t cap = name_len + value_len + 2 + 200 + (a->domain ? strlen(a->domain) : 0) +
                 (a->path ? strlen(a->path) : 0);
    char *buf = tn_malloc(cap);
    if (buf == NULL)
        return TN_ENOMEM;
    size_t n = 0;
    memcpy(buf, name, name_len);
    n += name_len;
    buf[n++] = '=';
    memcpy(buf + n, value, value_len);
    n += value_len;
    if (a->domain)
        n += (size_t)snprintf(buf + n, cap - n, "; Domain=%s", a->domain);
    if (a->expires != 0)
        n += (size_t)snprintf(buf + n, cap - n, "; Expires=%s", date);
    if (a->max_age >= 0)
        n += (size_t)snprintf(buf + n, cap - n, "; Max-Age=%lld", (long long)a->max_age);
    if (a->path)
        n += (size_t)snprintf(buf + n, cap - n, "; Path=%s", a->path);
    if (a->secure)
        n += (size_t)snprintf(buf + n, cap - n, "; Secure");
    if (a->httponly)
        n += (size_t)snprintf(buf + n, cap - n, "; HttpOnly");
    if (a->samesite)
        n += (size_t)snprintf(buf + n, cap - n, "; SameSite=%s", a->samesite);
    buf[n] = '\0';
    *out = buf;
    if (out_len != NULL)
        *out_len = n;
    return 0;
}
