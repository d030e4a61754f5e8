/* Strict incremental HTTP/1 request parser over llhttp. */
#include "http1_parser.h"

#include <string.h>

#include "http1_limits.h"

enum { P_HEAD = 0, P_BODY, P_DONE, P_DEAD };

/* Where the body framing is (P_BODY). */
enum {
    B_DATA = 0, /* Content-Length or chunk data: data_left bytes */
    B_SIZE,     /* a chunk-size line */
    B_DATA_CR,  /* the CRLF after chunk data */
    B_DATA_LF,
    B_TRAILER, /* the trailer section after the last chunk */
};

static tn__h1parser_t *self(llhttp_t *l)
{
    return (tn__h1parser_t *)l->data;
}

static int on_method(llhttp_t *l, const char *at, size_t len)
{
    self(l)->method = at;
    self(l)->method_len = len;
    return 0;
}

static int on_url(llhttp_t *l, const char *at, size_t len)
{
    self(l)->url = at;
    self(l)->url_len = len;
    return 0;
}

/* The scanner already capped the field count, so the table always has room;
 * the check stays because llhttp and the scanner could disagree on a line. */
static int on_header_field(llhttp_t *l, const char *at, size_t len)
{
    tn__h1parser_t *p = self(l);
    if (p->field_count >= p->limits.max_header_count) {
        p->status = 431;
        p->cb_error = TN_ETOOLARGE;
        return -1;
    }
    p->fields[p->field_count].name = at;
    p->fields[p->field_count].name_len = len;
    p->fields[p->field_count].value = at + len;
    p->fields[p->field_count].value_len = 0;
    p->field_count++;
    return 0;
}

void tn__h1field_set_value(tn__h1field_t *f, const char *at, size_t len)
{
    while (len > 0 && (at[0] == ' ' || at[0] == '\t')) {
        at++;
        len--;
    }
    while (len > 0 && (at[len - 1] == ' ' || at[len - 1] == '\t'))
        len--;
    f->value = at;
    f->value_len = len;
}

static int on_header_value(llhttp_t *l, const char *at, size_t len)
{
    tn__h1parser_t *p = self(l);
    tn__h1field_t *f;
    if (p->field_count == 0)
        return -1;
    f = &p->fields[p->field_count - 1];
    tn__h1field_set_value(f, at, len);
    return 0;
}

static int fail(tn__h1parser_t *p, int status, int code)
{
    p->status = status;
    p->cb_error = code;
    return -1;
}

static int on_headers_complete(llhttp_t *l)
{
    tn__h1parser_t *p = self(l);
    size_t i;
    int kind, rc;
    int major = llhttp_get_http_major(l), minor = llhttp_get_http_minor(l);

    p->version = (major == 1 && (minor == 0 || minor == 1)) ? 10 + minor : -1;
    rc = tn__h1_target(p->method, p->method_len, p->url, p->url_len, &p->target);
    if (rc < 0)
        return fail(p, 400, TN_EHTTP);
    for (i = 0; i < p->field_count; i++) {
        const tn__h1field_t *f = &p->fields[i];
        if (tn__h1frame_field(&p->frame, f->name, f->name_len, f->value, f->value_len) < 0)
            return fail(p, 400, TN_EHTTP);
    }
    kind = tn__h1frame_decide(&p->frame, p->version);
    if (kind < 0)
        return fail(p, 400, TN_EHTTP);
    /* A well-formed CONNECT asks for a tunnel, which an origin server does
     * not offer: 405 and close (the body framing was checked first). */
    if (rc == TN__H1TARGET_AUTHORITY)
        return fail(p, 405, TN_EHTTP);
    p->body_kind = kind;
    p->keep_alive = tn__h1frame_keep_alive(&p->frame, p->version, kind,
                                           tn__h1_token_eq(p->method, p->method_len, "get") ||
                                               tn__h1_token_eq(p->method, p->method_len, "head"));
    if (p->cbs->on_headers && (rc = p->cbs->on_headers(p, p->arg)) < 0)
        return fail(p, 0, rc);
    /* Checked after on_headers so the application may raise the limit. */
    if (kind == TN__H1BODY_LENGTH && p->frame.content_length > p->max_body)
        return fail(p, 413, TN_ETOOLARGE);
    /* llhttp skips the body: it is framed by tn__h1parser_feed. */
    return 1;
}

static int on_message_complete(llhttp_t *l)
{
    tn__h1parser_t *p = self(l);
    int rc;
    if (p->body_kind != TN__H1BODY_NONE) {
        p->phase = P_BODY;
        p->body_state = p->body_kind == TN__H1BODY_LENGTH ? B_DATA : B_SIZE;
        p->data_left = p->frame.content_length;
        tn__h1chunk_init(&p->chunk, p->limits.max_chunk_ext_size);
        return HPE_PAUSED;
    }
    p->phase = P_DONE;
    if (p->cbs->on_complete && (rc = p->cbs->on_complete(p, p->arg)) < 0)
        return fail(p, 0, rc);
    return HPE_PAUSED;
}

/* One table for every parser: the callbacks find their parser through
 * llhttp's data pointer. */
static const llhttp_settings_t k_settings = {
    .on_method = on_method,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

static void reset_message(tn__h1parser_t *p)
{
    tn__h1scan_init(&p->scan, p->limits.max_header_size, p->limits.max_header_count);
    tn__h1frame_init(&p->frame);
    p->scanned = 0;
    p->field_count = 0;
    p->method = p->url = NULL;
    p->method_len = p->url_len = 0;
    p->version = 0;
    p->body_kind = TN__H1BODY_NONE;
    p->keep_alive = 0;
    p->max_body = p->limits.max_body_size;
    p->body_bytes = 0;
    p->data_left = 0;
    p->body_state = B_DATA;
    memset(&p->target, 0, sizeof p->target);
    p->status = 0;
    p->cb_error = 0;
    p->phase = P_HEAD;
    p->pause = 0;
}

int tn__h1parser_init(tn__h1parser_t *p, const tn__h1parser_limits_t *limits,
                      const tn__h1parser_cbs_t *cbs, void *arg)
{
    return tn__h1parser_init_shared(p, limits, cbs, arg, NULL);
}

int tn__h1parser_init_shared(tn__h1parser_t *p, const tn__h1parser_limits_t *limits,
                             const tn__h1parser_cbs_t *cbs, void *arg, tn__h1field_t *fields)
{
    memset(p, 0, sizeof *p);
    if (limits)
        p->limits = *limits;
    if (!p->limits.max_header_size)
        p->limits.max_header_size = TN_HTTP_DEFAULT_MAX_HEADER_SIZE;
    if (!p->limits.max_header_count)
        p->limits.max_header_count = TN_HTTP_DEFAULT_MAX_HEADER_COUNT;
    if (!p->limits.max_body_size)
        p->limits.max_body_size = TN_HTTP_DEFAULT_MAX_BODY_SIZE;
    if (!p->limits.max_chunk_ext_size)
        p->limits.max_chunk_ext_size = TN_HTTP_DEFAULT_MAX_CHUNK_EXT_SIZE;
    if (fields) {
        p->fields = fields;
    } else {
        p->fields = tn_calloc(p->limits.max_header_count, sizeof *p->fields);
        if (!p->fields)
            return TN_ENOMEM;
        p->owns_fields = 1;
    }
    p->cbs = cbs;
    p->arg = arg;
    llhttp_init(&p->llhttp, HTTP_REQUEST, &k_settings);
    p->llhttp.data = p;
    reset_message(p);
    return 0;
}

void tn__h1parser_free(tn__h1parser_t *p)
{
    if (p->owns_fields)
        tn_free(p->fields);
    p->fields = NULL;
    p->owns_fields = 0;
}

static long long dead(tn__h1parser_t *p, int status, int code)
{
    p->phase = P_DEAD;
    p->status = status;
    p->cb_error = code;
    return code;
}

/* Runs llhttp over a complete head [data, data+len) and maps its verdict:
 * it stops (paused) at the end of the head, the body being ours. */
static long long run_head(tn__h1parser_t *p, const char *data, size_t len)
{
    llhttp_errno_t err = llhttp_execute(&p->llhttp, data, len);
    if ((err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) &&
        (p->phase == P_DONE || p->phase == P_BODY))
        return (long long)len;
    if (p->cb_error)
        return dead(p, p->status, p->cb_error);
    return dead(p, 400, TN_EHTTP); /* llhttp refused it, or did not finish it */
}

static long long body_span(tn__h1parser_t *p, const char *data, size_t len)
{
    int rc;
    p->body_bytes += len;
    if (p->body_bytes > p->max_body)
        return dead(p, 413, TN_ETOOLARGE);
    if (p->cbs->on_body && (rc = p->cbs->on_body(p, data, len, p->arg)) < 0)
        return dead(p, 0, rc);
    return 0;
}

static long long body_done(tn__h1parser_t *p)
{
    int rc;
    p->phase = P_DONE;
    if (p->cbs->on_complete && (rc = p->cbs->on_complete(p, p->arg)) < 0)
        return dead(p, 0, rc);
    return 0;
}

/* Frames the body: Content-Length bytes, or chunks (RFC 9112 7.1) with
 * strict size lines, CRLF after each chunk's data and a trailer section
 * that counts against the header limits. Returns the bytes consumed. */
static long long body(tn__h1parser_t *p, const char *data, size_t len)
{
    size_t off = 0, c = 0;
    long long rc = 0;
    int r;
    while (off < len && p->phase == P_BODY && !p->pause) {
        switch (p->body_state) {
        case B_DATA: {
            size_t n = len - off;
            if (n > p->data_left)
                n = (size_t)p->data_left;
            p->data_left -= n;
            if ((rc = body_span(p, data + off, n)) < 0)
                return rc;
            off += n;
            if (p->data_left == 0) {
                if (p->body_kind == TN__H1BODY_LENGTH)
                    rc = body_done(p);
                else
                    p->body_state = B_DATA_CR;
            }
            break;
        }
        case B_SIZE:
            r = tn__h1chunk_feed(&p->chunk, data + off, len - off, &c);
            off += c;
            if (r < 0)
                return dead(p, 400, TN_EHTTP);
            if (r == TN__H1SCAN_DONE) {
                /* Refused before any of its data arrives. */
                if (p->chunk.size > p->max_body - p->body_bytes)
                    return dead(p, 413, TN_ETOOLARGE);
                p->data_left = p->chunk.size;
                if (p->chunk.size == 0) {
                    tn__h1scan_trailer(&p->scan);
                    p->body_state = B_TRAILER;
                } else {
                    p->body_state = B_DATA;
                }
            }
            break;
        case B_DATA_CR:
        case B_DATA_LF:
            if (data[off] != (p->body_state == B_DATA_CR ? '\r' : '\n'))
                return dead(p, 400, TN_EHTTP);
            off++;
            if (p->body_state == B_DATA_LF) {
                tn__h1chunk_init(&p->chunk, p->limits.max_chunk_ext_size);
                p->body_state = B_SIZE;
            } else {
                p->body_state = B_DATA_LF;
            }
            break;
        default: /* B_TRAILER */
            r = tn__h1scan_feed(&p->scan, data + off, len - off, &c);
            off += c;
            if (r < 0)
                return dead(p, r == TN_ETOOLARGE ? 431 : 400, r);
            if (r == TN__H1SCAN_DONE)
                rc = body_done(p);
            break;
        }
        if (rc < 0)
            return rc;
    }
    return (long long)off;
}

long long tn__h1parser_feed(tn__h1parser_t *p, const char *data, size_t len)
{
    size_t off = 0;
    if (p->phase == P_DONE)
        return 0;
    if (p->phase == P_DEAD)
        return TN_EHTTP;
    if (p->phase == P_HEAD) {
        size_t c = 0;
        int rc;
        if (len < p->scanned)
            return TN_EINVAL; /* the caller dropped bytes it had not been told to */
        rc = tn__h1scan_feed(&p->scan, data + p->scanned, len - p->scanned, &c);
        if (rc == TN__H1SCAN_MORE) {
            p->scanned = len;
            return 0;
        }
        if (rc < 0)
            return dead(p, rc == TN_ETOOLARGE ? 431 : 400, rc);
        off = p->scanned + c;
        long long n = run_head(p, data, off);
        if (n < 0)
            return n;
        if (p->phase != P_BODY)
            return n;
    }
    /* The body's first bytes often arrive with the headers. */
    if (p->pause || off == len)
        return (long long)off;
    long long m = body(p, data + off, len - off);
    return m < 0 ? m : (long long)off + m;
}

void tn__h1parser_next(tn__h1parser_t *p)
{
    if (p->phase != P_DONE)
        return;
    llhttp_reset(&p->llhttp);
    reset_message(p);
}

int tn__h1parser_done(const tn__h1parser_t *p)
{
    return p->phase == P_DONE;
}
