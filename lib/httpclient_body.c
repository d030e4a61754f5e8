/* The client's response: the final head turned into results and header
 * callbacks, the body kept or streamed (with pause), and gzip decoding in
 * which max_body_size bounds the decoded bytes, so a small bomb cannot grow
 * memory past it. */
#include <string.h>

#include "httpclient_internal.h"

void tn__hc_body_reset(tn_fetch_t *f)
{
    if (f->zs) {
        inflateEnd(f->zs);
        tn_free(f->zs);
        f->zs = NULL;
    }
    tn_free(f->gz_pending);
    f->gz_pending = NULL;
    f->gz_pending_len = 0;
    f->gz_done = 0;
    tn_free(f->rbody);
    f->rbody = NULL;
    f->rbody_len = f->rbody_cap = 0;
    tn_free(f->reason);
    f->reason = NULL;
    if (f->headers)
        tn_headers_clear(f->headers);
    f->code = TN_FETCH_NO_RESPONSE;
    f->decoded = 0;
    f->expected = -1;
}

static int is_redirect(int code)
{
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

/* Every raw line of the head, CRLF included, then the blank line. */
static int header_lines(tn_fetch_t *f)
{
    const char *h = f->parser.head, *end = h + f->parser.head_len;
    if (end - h >= 2 && h[0] == '\r' && h[1] == '\n')
        h += 2; /* the tolerated empty line before the status line */
    while (h < end) {
        const char *nl = memchr(h, '\n', (size_t)(end - h));
        size_t n = nl ? (size_t)(nl - h) + 1 : (size_t)(end - h);
        int rc = f->o.on_header_line(f, h, n, f->o.callback_arg);
        if (f->state == F_FINISHED)
            return TN_ECANCELED;
        if (rc < 0)
            return rc;
        h += n;
    }
    return 0;
}

int tn__hc_body_begin(tn_fetch_t *f)
{
    tn__h1resp_t *p = &f->parser;
    int rc;
    f->code = p->code;
    if (p->reason && p->reason_len > 0) {
        f->reason = tn_strndup(p->reason, p->reason_len);
        if (!f->reason)
            return TN_ENOMEM;
    }
    for (size_t i = 0; i < p->field_count; i++) {
        const tn__h1field_t *fl = &p->fields[i];
        if ((rc = tn_headers_add(f->headers, fl->name, fl->name_len, fl->value, fl->value_len)) !=
            0)
            return rc;
    }
    f->following = f->redirects_left > 0 && is_redirect(p->code) &&
                   tn_headers_get(f->headers, "Location", NULL) != NULL;
    if (f->following)
        return 0; /* no callbacks for a hop; its body is read and dropped */
    if (p->frame.gzip && !f->o.no_decompress && p->body_kind != TN__H1BODY_NONE) {
        size_t n;
        const char *ce = tn_headers_get(f->headers, "Content-Encoding", &n);
        char *copy = ce ? tn_strndup(ce, n) : NULL;
        if (ce && !copy)
            return TN_ENOMEM;
        rc = copy ? tn_headers_add(f->headers, "X-Consumed-Content-Encoding", 27, copy, n) : 0;
        tn_free(copy);
        if (rc != 0)
            return rc;
        tn_headers_remove(f->headers, "Content-Encoding");
        f->zs = tn_calloc(1, sizeof *f->zs);
        if (!f->zs)
            return TN_ENOMEM;
        if (inflateInit2(f->zs, 16 + MAX_WBITS) != Z_OK) {
            tn_free(f->zs);
            f->zs = NULL;
            return TN_ENOMEM;
        }
    } else if (p->body_kind == TN__H1BODY_LENGTH) {
        f->expected = (int64_t)p->frame.content_length;
    } else if (p->body_kind == TN__H1BODY_NONE) {
        f->expected = 0;
    }
    if (f->o.on_header_line && (rc = header_lines(f)) < 0)
        return rc;
    if (f->o.on_headers) {
        rc = f->o.on_headers(f, p->code, f->headers, f->o.callback_arg);
        if (f->state == F_FINISHED)
            return TN_ECANCELED;
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Decoded bytes: counted against max_body_size, then streamed or kept. */
static int deliver(tn_fetch_t *f, const char *data, size_t len)
{
    f->decoded += len;
    if (f->decoded > f->max_body) {
        f->parser.error = f->zs ? "decoded body over max_body_size" : "body over max_body_size";
        return TN_ETOOLARGE;
    }
    if (f->o.on_chunk) {
        int rc = f->o.on_chunk(f, data, len, f->o.callback_arg);
        if (f->state == F_FINISHED)
            return TN_ECANCELED;
        if (rc < 0)
            return rc;
        if (rc == TN_PAUSE) {
            f->paused = 1;
            f->parser.pause = 1;
        }
        return 0;
    }
    if (f->rbody_len + len + 1 > f->rbody_cap) {
        size_t cap = f->rbody_cap ? f->rbody_cap : 4096;
        while (cap < f->rbody_len + len + 1)
            cap *= 2;
        char *nb = tn_realloc(f->rbody, cap);
        if (!nb)
            return TN_ENOMEM;
        f->rbody = nb;
        f->rbody_cap = cap;
    }
    memcpy(f->rbody + f->rbody_len, data, len);
    f->rbody_len += len;
    f->rbody[f->rbody_len] = 0;
    return 0;
}

/* Inflates data[0..len); a pause keeps the unread input for later. */
static int inflate_run(tn_fetch_t *f, const char *data, size_t len)
{
    char out[16384];
    z_stream *zs = f->zs;
    zs->next_in = (Bytef *)(uintptr_t)data;
    zs->avail_in = (uInt)len;
    for (;;) {
        if (f->gz_done) {
            if (zs->avail_in > 0) {
                f->parser.error = "data after the end of the gzip stream";
                return TN_EHTTP;
            }
            return 0;
        }
        if (f->paused) {
            if (zs->avail_in > 0) {
                char *keep = tn_malloc(zs->avail_in);
                if (!keep)
                    return TN_ENOMEM;
                memcpy(keep, zs->next_in, zs->avail_in);
                tn_free(f->gz_pending);
                f->gz_pending = keep;
                f->gz_pending_len = zs->avail_in;
            }
            return 0;
        }
        zs->next_out = (Bytef *)out;
        zs->avail_out = sizeof out;
        int zr = inflate(zs, Z_NO_FLUSH);
        size_t got = sizeof out - zs->avail_out;
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
            f->parser.error = "invalid gzip data";
            return TN_EHTTP;
        }
        if (got > 0) {
            int rc = deliver(f, out, got);
            if (rc < 0)
                return rc;
        }
        if (zr == Z_STREAM_END)
            f->gz_done = 1;
        else if (zs->avail_in == 0 && got < sizeof out)
            return 0; /* zlib wants more input */
        else if (zr == Z_BUF_ERROR && got == 0)
            return 0;
    }
}

int tn__hc_body_data(tn_fetch_t *f, const char *data, size_t len)
{
    if (f->following)
        return 0;
    if (f->zs)
        return inflate_run(f, data, len);
    return deliver(f, data, len);
}

int tn__hc_body_end(tn_fetch_t *f)
{
    if (f->zs && !f->following && !f->gz_done) {
        f->parser.error = "truncated gzip body";
        return TN_EHTTP;
    }
    return 0;
}

int tn__hc_body_resume(tn_fetch_t *f)
{
    char *pending = f->gz_pending;
    size_t n = f->gz_pending_len;
    int rc;
    if (!pending)
        return 0;
    f->gz_pending = NULL;
    f->gz_pending_len = 0;
    rc = inflate_run(f, pending, n);
    tn_free(pending);
    return rc;
}
