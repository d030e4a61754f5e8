/* Request body decoding: delivery to the delegate (streaming) or into the
 * request's body buffer (simple mode), and gzip Content-Encoding
 * (decompress_request) inflated on the fly within max_body_size. Multipart
 * and urlencoded bodies are parsed lazily by the request accessors
 * (multipart.c, args.c). */
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "httpserver_internal.h"
#include "pool.h"

int tn__hbody_deliver(conn_t *c, const char *data, size_t len)
{
    tn_httpserver_t *srv = c->server;
    tn_http_request_t *r = &c->req;
    if (len == 0)
        return 0;
    if (srv->opts.delegate) {
        if (srv->delegate.data_received)
            return srv->delegate.data_received(r, data, len, srv->opts.delegate_arg);
        return 0;
    }
    if (r->body_cb) {
        int rc = r->body_cb(r, data, len, r->body_arg);
        if (rc == TN_PAUSE)
            tn_http_request_pause_body(r);
        return rc < 0 ? rc : 0;
    }
    if (r->body_len + len > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 1024;
        while (cap < r->body_len + len)
            cap *= 2;
        char *nb = r->body ? tn_realloc(r->body, cap) : tn__pool_get(srv->loop, cap, &cap);
        if (!nb)
            return TN_ENOMEM;
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    return 0;
}

int tn__hbody_inflate(conn_t *c, const char *data, size_t len, int final)
{
    tn_http_request_t *r = &c->req;
    char out[16384];
    z_stream *zs = r->zs;
    zs->next_in = (Bytef *)(uintptr_t)data;
    zs->avail_in = (uInt)len;
    for (;;) {
        zs->next_out = (Bytef *)out;
        zs->avail_out = sizeof out;
        int zr = inflate(zs, Z_NO_FLUSH);
        size_t got = sizeof out - zs->avail_out;
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
            return TN_EHTTP;
        if (got) {
            if (c->parser.body_bytes > r->max_body || zs->total_out > r->max_body)
                return TN_ETOOLARGE;
            int rc = tn__hbody_deliver(c, out, got);
            if (rc < 0)
                return rc;
        }
        if (zr == Z_STREAM_END) {
            if (zs->avail_in != 0)
                return TN_EHTTP; /* bytes after the gzip member */
            return 0;
        }
        if (zs->avail_in == 0 && got < sizeof out) {
            if (final)
                return TN_EHTTP; /* truncated gzip stream */
            return 0;
        }
    }
}

int tn__hbody_gzip_start(tn_http_request_t *r)
{
    size_t n;
    int rc;
    const char *ce = tn_headers_get(r->headers, "Content-Encoding", &n);
    r->zs = tn_calloc(1, sizeof *r->zs);
    if (!r->zs)
        return TN_ENOMEM;
    if (inflateInit2(r->zs, 16 + MAX_WBITS) != Z_OK) {
        tn_free(r->zs);
        r->zs = NULL;
        return TN_ENOMEM;
    }
    /* ce points into the header arena, which the add may move */
    char *copy = ce ? tn_strndup(ce, n) : NULL;
    if (ce && !copy)
        return TN_ENOMEM;
    rc = copy ? tn_headers_add(r->headers, "X-Consumed-Content-Encoding", 27, copy, n) : 0;
    tn_free(copy);
    if (rc != 0)
        return rc;
    tn_headers_remove(r->headers, "Content-Encoding");
    return 0;
}

void tn__hbody_gzip_end(tn_http_request_t *r)
{
    if (r->zs) {
        inflateEnd(r->zs);
        tn_free(r->zs);
        r->zs = NULL;
    }
}
