/* Strict incremental HTTP/1 request parser over llhttp. */
#include "http1_parser.h"

#include <string.h>

#include "http1_limits.h"

enum { P_HEAD = 0, P_BODY, P_DONE, P_DEAD };

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

static int on_header_value(llhttp_t *l, const char *at, size_t len)
{
    tn__h1parser_t *p = self(l);
    tn__h1field_t *f;
    if (p->field_count == 0)
        return -1;
    f = &p->fields[p->field_count - 1];
    while (len > 0 && (at[0] == ' ' || at[0] == '\t')) {
        at++;
        len--;
    }
    while (len > 0 && (at[len - 1] == ' ' || at[len - 1] == '\t'))
        len--;
    f->value = at;
    f->value_len = len;
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
    for (i = 0; i < p->field_count; i++) {
        const tn__h1field_t *f = &p->fields[i];
        if (tn__h1frame_field(&p->frame, f->name, f->name_len, f->value, f->value_len) < 0)
            return fail(p, 400, TN_EHTTP);
    }
    kind = tn__h1frame_decide(&p->frame, p->version);
    if (kind < 0)
        return fail(p, 400, TN_EHTTP);
    p->body_kind = kind;
    p->keep_alive = tn__h1frame_keep_alive(&p->frame, p->version, kind,
                                           tn__h1_token_eq(p->method, p->method_len, "get") ||
                                               tn__h1_token_eq(p->method, p->method_len, "head"));
    if (p->cbs->on_headers && (rc = p->cbs->on_headers(p, p->arg)) < 0)
        return fail(p, 0, rc);
    /* Checked after on_headers so the application may raise the limit. */
    if (kind == TN__H1BODY_LENGTH && p->frame.content_length > p->max_body)
        return fail(p, 413, TN_ETOOLARGE);
    return kind == TN__H1BODY_NONE ? 1 : 0;
}

static int on_body(llhttp_t *l, const char *at, size_t len)
{
    tn__h1parser_t *p = self(l);
    int rc;
    p->body_bytes += len;
    if (p->body_bytes > p->max_body)
        return fail(p, 413, TN_ETOOLARGE);
    if (p->cbs->on_body && (rc = p->cbs->on_body(p, at, len, p->arg)) < 0)
        return fail(p, 0, rc);
    /* llhttp keeps its place after a span callback that pauses. */
    return p->pause ? HPE_PAUSED : 0;
}

static int on_chunk_ext(llhttp_t *l, const char *at, size_t len)
{
    tn__h1parser_t *p = self(l);
    (void)at;
    p->chunk_ext_bytes += len;
    if (p->chunk_ext_bytes > p->limits.max_chunk_ext_size)
        return fail(p, 400, TN_EHTTP);
    return 0;
}

static int on_chunk_complete(llhttp_t *l)
{
    self(l)->chunk_ext_bytes = 0;
    return 0;
}

static int on_message_complete(llhttp_t *l)
{
    tn__h1parser_t *p = self(l);
    int rc;
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
    .on_body = on_body,
    .on_chunk_extension_name = on_chunk_ext,
    .on_chunk_extension_value = on_chunk_ext,
    .on_chunk_complete = on_chunk_complete,
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
    p->chunk_ext_bytes = 0;
    p->status = 0;
    p->cb_error = 0;
    p->phase = P_HEAD;
    p->pause = 0;
    p->llhttp_paused = 0;
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

/* Runs llhttp over [data, data+len) and maps its verdict. */
static long long run(tn__h1parser_t *p, const char *data, size_t len)
{
    llhttp_errno_t err = llhttp_execute(&p->llhttp, data, len);
    if (err == HPE_OK)
        return (long long)len;
    if (err == HPE_PAUSED && p->phase == P_DONE)
        return (long long)(llhttp_get_error_pos(&p->llhttp) - data);
    if (err == HPE_PAUSED && p->pause) {
        p->llhttp_paused = 1;
        return (long long)(llhttp_get_error_pos(&p->llhttp) - data);
    }
    p->phase = P_DEAD;
    if (err == HPE_USER || p->cb_error) {
        if (p->cb_error == 0) {
            p->status = 400;
            p->cb_error = TN_EHTTP;
        }
        return p->cb_error;
    }
    p->status = 400;
    return TN_EHTTP;
}

long long tn__h1parser_feed(tn__h1parser_t *p, const char *data, size_t len)
{
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
        if (rc < 0) {
            p->phase = P_DEAD;
            p->status = rc == TN_ETOOLARGE ? 431 : 400;
            return rc;
        }
        p->phase = P_BODY;
        size_t hdr = p->scanned + c;
        long long n = run(p, data, hdr);
        if (n < 0 || p->phase != P_BODY || hdr == len)
            return n;
        /* The body's first bytes often arrive with the headers. */
        long long m = run(p, data + hdr, len - hdr);
        return m < 0 ? m : n + m;
    }
    if (p->pause)
        return 0;
    if (p->llhttp_paused) {
        p->llhttp_paused = 0;
        llhttp_resume(&p->llhttp);
    }
    return run(p, data, len);
}

void tn__h1parser_next(tn__h1parser_t *p)
{
    if (p->phase != P_DONE)
        return;
    llhttp_resume(&p->llhttp);
    reset_message(p);
}

int tn__h1parser_done(const tn__h1parser_t *p)
{
    return p->phase == P_DONE;
}
