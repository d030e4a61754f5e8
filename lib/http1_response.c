/* Response head serialization with header injection checks. */
#include "http1_response.h"

#include <stdio.h>
#include <string.h>

#include "http1_framing.h"

typedef struct {
    char *p;
    size_t len, cap;
    int full;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->full || n > o->cap - o->len) {
        o->full = 1;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_field(out_t *o, const char *name, const char *v, size_t vlen)
{
    put(o, name, strlen(name));
    put(o, ": ", 2);
    put(o, v, vlen);
    put(o, "\r\n", 2);
}

/* A value may not end a line early: CR, LF and NUL are the injection bytes. */
static int value_ok(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == '\r' || v[i] == '\n' || v[i] == 0)
            return 0;
    return 1;
}

static int name_ok(const char *v, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= ' ' || c >= 0x7f || c == ':')
            return 0;
    }
    return 1;
}

long long tn__h1_response_head(char *buf, size_t cap, tn__h1resp_t *st, int version, int status,
                               const char *reason, const tn_headers_t *headers, int is_head,
                               int keep_alive, const char *date, const char *server)
{
    out_t o = {buf, 0, cap, 0};
    char line[64];
    size_t i, n = headers ? tn_headers_count(headers) : 0;
    int have_date = 0, have_server = 0;

    if (status < 100 || status > 999)
        return TN_EINVAL;
    if (!reason)
        reason = tn_http_reason(status);
    if (!reason)
        reason = "Unknown"; /* a code without a standard phrase, as Tornado */
    if (!value_ok(reason, strlen(reason)))
        return TN_EINVAL;
    memset(st, 0, sizeof *st);
    st->no_body = is_head || status < 200 || status == 204 || status == 304;
    snprintf(line, sizeof line, "HTTP/1.%d %d ", version == 10 ? 0 : 1, status);
    put(&o, line, strlen(line));
    put(&o, reason, strlen(reason));
    put(&o, "\r\n", 2);
    for (i = 0; i < n; i++) {
        tn_strview_t k, v;
        if (tn_headers_at(headers, i, &k, &v) != 0)
            return TN_EINVAL;
        if (!name_ok(k.base, k.len) || !value_ok(v.base, v.len))
            return TN_EINVAL;
        if (tn__h1_token_eq(k.base, k.len, "content-length")) {
            tn__h1frame_t f;
            tn__h1frame_init(&f);
            if (st->has_length || tn__h1frame_field(&f, k.base, k.len, v.base, v.len) < 0)
                return TN_EINVAL;
            st->has_length = 1;
            st->declared_length = f.content_length;
        } else if (tn__h1_token_eq(k.base, k.len, "transfer-encoding")) {
            return TN_EINVAL; /* framing is the connection's job */
        } else if (tn__h1_token_eq(k.base, k.len, "date")) {
            have_date = 1;
        } else if (tn__h1_token_eq(k.base, k.len, "server")) {
            have_server = 1;
        }
        put(&o, k.base, k.len);
        put(&o, ": ", 2);
        put(&o, v.base, v.len);
        put(&o, "\r\n", 2);
    }
    if (date && !have_date)
        put_field(&o, "Date", date, strlen(date));
    if (server && *server && !have_server) {
        if (!value_ok(server, strlen(server)))
            return TN_EINVAL;
        put_field(&o, "Server", server, strlen(server));
    }
    if (!st->no_body && !st->has_length) {
        if (version == 11)
            st->chunked = 1;
        else
            st->close_after = 1; /* HTTP/1.0: the close delimits the body */
    }
    if (!keep_alive)
        st->close_after = 1;
    if (st->chunked)
        put(&o, "Transfer-Encoding: chunked\r\n", 28);
    if (st->close_after)
        put(&o, "Connection: close\r\n", 19);
    else if (version == 10)
        put(&o, "Connection: keep-alive\r\n", 24);
    put(&o, "\r\n", 2);
    return o.full ? TN_EBUFFULL : (long long)o.len;
}
