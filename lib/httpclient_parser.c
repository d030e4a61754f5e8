/* The client's strict incremental HTTP/1 response parser (see the header). */
#include "httpclient_parser.h"

#include <string.h>

#include "http1_limits.h"

enum { P_HEAD = 0, P_BODY, P_CHUNKED, P_INTERIM_DONE, P_DONE, P_DEAD };

/* The chunked body is decoded here, not by llhttp: llhttp 8 accepts chunk
 * data that is not followed by CRLF, and the chunk-size rule is the server's
 * (tn__h1_chunk_size). */
enum { CH_SIZE = 0, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER };

static tn__h1resp_t *self(llhttp_t *l)
{
    return (tn__h1resp_t *)l->data;
}

static int fail(tn__h1resp_t *p, int code, const char *why)
{
    p->cb_error = code;
    if (!p->error)
        p->error = why; /* a callback may have said more precisely */
    return -1;
}

static int on_status(llhttp_t *l, const char *at, size_t len)
{
    tn__h1resp_t *p = self(l);
    /* llhttp may deliver the reason in one span here: the head is parsed in
     * a single execute over a complete buffer. */
    p->reason = at;
    p->reason_len = len;
    return 0;
}

static int on_header_field(llhttp_t *l, const char *at, size_t len)
{
    tn__h1resp_t *p = self(l);
    if (p->field_count >= p->max_header_count)
        return fail(p, TN_ETOOLARGE, "too many header fields");
    p->fields[p->field_count].name = at;
    p->fields[p->field_count].name_len = len;
    p->fields[p->field_count].value = at + len;
    p->fields[p->field_count].value_len = 0;
    p->field_count++;
    return 0;
}

static int on_header_value(llhttp_t *l, const char *at, size_t len)
{
    tn__h1resp_t *p = self(l);
    tn__h1field_t *f;
    if (p->field_count == 0)
        return -1;
    f = &p->fields[p->field_count - 1];
    tn__h1field_set_value(f, at, len);
    return 0;
}

/* The body-length decision for a response (RFC 9112 6.3), on top of the
 * field rules the server applies to requests (digits-only, unique
 * Content-Length; Transfer-Encoding exactly "chunked", once). Returns a body
 * kind or a negative code. */
static int decide(tn__h1resp_t *p)
{
    const tn__h1frame_t *f = &p->frame;
    int c = p->code;
    if (f->seen_te && f->seen_cl)
        return fail(p, TN_EHTTP, "both Content-Length and Transfer-Encoding"), TN_EHTTP;
    if (f->seen_te && p->version == 10)
        return fail(p, TN_EHTTP, "Transfer-Encoding in an HTTP/1.0 response"), TN_EHTTP;
    if (c == 101)
        return fail(p, TN_EHTTP, "unexpected 101 Switching Protocols"), TN_EHTTP;
    if (c < 200) {
        if (f->seen_te || f->seen_cl)
            return fail(p, TN_EHTTP, "1xx response with a body length"), TN_EHTTP;
        return TN__H1BODY_NONE;
    }
    if (c == 204 || c == 304 || p->head_request) {
        /* No body whatever the fields say. A 204 must not carry either field
         * at all: one that does may also send body bytes, so its connection
         * is not trusted with another exchange. */
        if (c == 204 && (f->seen_te || f->seen_cl))
            p->keep_alive = 0;
        return TN__H1BODY_NONE;
    }
    if (f->te_chunked)
        return TN__H1BODY_CHUNKED;
    if (f->seen_cl)
        return f->content_length > 0 ? TN__H1BODY_LENGTH : TN__H1BODY_NONE;
    p->keep_alive = 0;
    return TN__H1BODY_CLOSE;
}

static int on_headers_complete(llhttp_t *l)
{
    tn__h1resp_t *p = self(l);
    size_t i;
    int kind, rc;

    for (i = 0; i < p->field_count; i++) {
        const tn__h1field_t *f = &p->fields[i];
        if (tn__h1frame_field(&p->frame, f->name, f->name_len, f->value, f->value_len) < 0)
            return fail(p, TN_EHTTP, "invalid Content-Length or Transfer-Encoding");
    }
    p->keep_alive = !p->frame.conn_close && (p->version == 11 || p->frame.conn_keep_alive);
    kind = decide(p);
    if (kind < 0)
        return -1;
    p->body_kind = kind;
    if (p->code < 200 && ++p->interim > TN__H1RESP_MAX_INTERIM)
        return fail(p, TN_EHTTP, "too many interim responses");
    if (kind == TN__H1BODY_LENGTH && p->frame.content_length > p->max_body)
        return fail(p, TN_ETOOLARGE, "Content-Length over max_body_size");
    if (p->cbs->on_head && (rc = p->cbs->on_head(p, p->arg)) < 0)
        return fail(p, rc, "head callback failed");
    if (kind == TN__H1BODY_CHUNKED) {
        p->ch_state = CH_SIZE;
        p->own_chunked = 1;
    }
    return kind == TN__H1BODY_NONE || kind == TN__H1BODY_CHUNKED ? 1 : 0;
}

static int body_span(tn__h1resp_t *p, const char *data, size_t len);

static int on_body(llhttp_t *l, const char *at, size_t len)
{
    tn__h1resp_t *p = self(l);
    if (body_span(p, at, len) < 0)
        return -1;
    return p->pause ? HPE_PAUSED : 0;
}

static int on_message_complete(llhttp_t *l)
{
    tn__h1resp_t *p = self(l);
    int rc;
    if (p->code < 200) {
        p->phase = P_INTERIM_DONE;
        return HPE_PAUSED;
    }
    if (p->own_chunked) {
        p->phase = P_CHUNKED;
        return HPE_PAUSED;
    }
    p->phase = P_DONE;
    if (p->cbs->on_complete && (rc = p->cbs->on_complete(p, p->arg)) < 0)
        return fail(p, rc, "completion callback failed");
    return HPE_PAUSED;
}

static const llhttp_settings_t k_settings = {
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void reset_head(tn__h1resp_t *p)
{
    tn__h1scan_init(&p->scan, p->max_header_size, p->max_header_count);
    tn__h1frame_init(&p->frame);
    p->scanned = 0;
    p->field_count = 0;
    p->head = p->reason = NULL;
    p->head_len = p->reason_len = 0;
    p->code = 0;
    p->version = 0;
    p->body_kind = TN__H1BODY_NONE;
    p->keep_alive = 0;
    p->own_chunked = 0;
    p->phase = P_HEAD;
}

void tn__h1resp_reset(tn__h1resp_t *p)
{
    llhttp_init(&p->llhttp, HTTP_RESPONSE, &k_settings);
    p->llhttp.data = p;
    reset_head(p);
    p->body_bytes = 0;
    p->chunk_left = 0;
    p->trailer_bytes = 0;
    p->interim = 0;
    p->cb_error = 0;
    p->error = NULL;
    p->head_request = 0;
    p->pause = 0;
    p->llhttp_paused = 0;
    p->seen_bytes = 0;
}

int tn__h1resp_init(tn__h1resp_t *p, size_t max_header_size, uint64_t max_body,
                    const tn__h1resp_cbs_t *cbs, void *arg)
{
    memset(p, 0, sizeof *p);
    p->max_header_size = max_header_size ? max_header_size : TN_HTTP_DEFAULT_MAX_HEADER_SIZE;
    p->max_header_count = TN_HTTP_DEFAULT_MAX_HEADER_COUNT;
    p->max_body = max_body ? max_body : TN_HTTP_DEFAULT_MAX_BODY_SIZE;
    p->max_chunk_ext = TN_HTTP_DEFAULT_MAX_CHUNK_EXT_SIZE;
    p->fields = tn_calloc(p->max_header_count, sizeof *p->fields);
    if (!p->fields)
        return TN_ENOMEM;
    p->cbs = cbs;
    p->arg = arg;
    tn__h1resp_reset(p);
    return 0;
}

void tn__h1resp_free(tn__h1resp_t *p)
{
    tn_free(p->fields);
    p->fields = NULL;
}

/* "HTTP/1.0 " or "HTTP/1.1 ", three digits, then SP or the end of the line:
 * llhttp 8 takes "HTTP/1.1 20 OK" or a four-digit code, this does not. */
static int check_status_line(tn__h1resp_t *p, const char *s, size_t len)
{
    if (len >= 2 && s[0] == '\r' && s[1] == '\n') {
        s += 2;
        len -= 2;
    }
    if (len < 13 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
        return fail(p, TN_EHTTP, "malformed status line"), TN_EHTTP;
    for (int i = 9; i < 12; i++)
        if (s[i] < '0' || s[i] > '9')
            return fail(p, TN_EHTTP, "malformed status code"), TN_EHTTP;
    if (s[12] != ' ' && s[12] != '\r')
        return fail(p, TN_EHTTP, "malformed status code"), TN_EHTTP;
    p->code = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (p->code < 100)
        return fail(p, TN_EHTTP, "status code below 100"), TN_EHTTP;
    p->version = s[7] == '0' ? 10 : 11;
    return 0;
}

/* Runs llhttp over [data, data+len) and maps its verdict. */
static long long run(tn__h1resp_t *p, const char *data, size_t len)
{
    llhttp_errno_t err = llhttp_execute(&p->llhttp, data, len);
    if (err == HPE_OK)
        return (long long)len;
    if (err == HPE_PAUSED &&
        (p->phase == P_DONE || p->phase == P_INTERIM_DONE || p->phase == P_CHUNKED))
        return (long long)(llhttp_get_error_pos(&p->llhttp) - data);
    if (err == HPE_PAUSED && p->pause) {
        p->llhttp_paused = 1;
        return (long long)(llhttp_get_error_pos(&p->llhttp) - data);
    }
    p->phase = P_DEAD;
    if (p->cb_error)
        return p->cb_error;
    p->cb_error = TN_EHTTP;
    if (!p->error)
        p->error = llhttp_get_error_reason(&p->llhttp) ? llhttp_get_error_reason(&p->llhttp)
                                                       : "malformed response";
    return TN_EHTTP;
}

static int body_span(tn__h1resp_t *p, const char *data, size_t len)
{
    int rc;
    p->body_bytes += len;
    if (p->body_bytes > p->max_body)
        return fail(p, TN_ETOOLARGE, "body over max_body_size"), TN_ETOOLARGE;
    if (p->cbs->on_body && (rc = p->cbs->on_body(p, data, len, p->arg)) < 0)
        return fail(p, rc, "body callback failed"), rc;
    return 0;
}

/* One line of the chunked framing (size line or trailer field), CRLF
 * required: returns its length without the CRLF with *next set past it, 0
 * with *next = 0 when incomplete, or TN_EHTTP. */
static long line_at(tn__h1resp_t *p, const char *d, size_t len, size_t max, size_t *next)
{
    size_t n = len < max + 2 ? len : max + 2;
    const char *nl = memchr(d, '\n', n);
    *next = 0;
    if (!nl) {
        if (n == max + 2)
            return fail(p, TN_EHTTP, "chunk line too long"), TN_EHTTP;
        return 0;
    }
    size_t k = (size_t)(nl - d);
    if (k == 0 || d[k - 1] != '\r' || memchr(d, '\r', k - 1))
        return fail(p, TN_EHTTP, "bare CR or LF in the chunked framing"), TN_EHTTP;
    *next = k + 1;
    return (long)(k - 1);
}

/* The chunked body and its trailer section. Returns the bytes consumed (a
 * partial line stays unconsumed) or a negative code. */
static long long chunked(tn__h1resp_t *p, const char *d, size_t len)
{
    size_t i = 0, next;
    long ll;
    int rc;
    while (i < len && !p->pause) {
        switch (p->ch_state) {
        case CH_SIZE: {
            uint64_t size;
            ll = line_at(p, d + i, len - i, 16 + p->max_chunk_ext, &next);
            if (ll < 0)
                break;
            if (next == 0)
                return (long long)i;
            if (tn__h1_chunk_size(d + i, (size_t)ll, p->max_chunk_ext, &size) != 0) {
                fail(p, TN_EHTTP, "invalid chunk size line");
                ll = -1;
                break;
            }
            if (size > p->max_body - p->body_bytes) {
                fail(p, TN_ETOOLARGE, "chunk size over max_body_size");
                ll = -1;
                break;
            }
            i += next;
            p->chunk_left = size;
            p->ch_state = size ? CH_DATA : CH_TRAILER;
            continue;
        }
        case CH_DATA: {
            size_t take = len - i < p->chunk_left ? len - i : (size_t)p->chunk_left;
            if ((rc = body_span(p, d + i, take)) < 0)
                goto dead;
            i += take;
            p->chunk_left -= take;
            if (p->chunk_left == 0)
                p->ch_state = CH_DATA_CR;
            continue;
        }
        case CH_DATA_CR:
        case CH_DATA_LF:
            if (d[i] != (p->ch_state == CH_DATA_CR ? '\r' : '\n')) {
                fail(p, TN_EHTTP, "chunk data not followed by CRLF");
                ll = -1;
                break;
            }
            i++;
            p->ch_state = p->ch_state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE;
            continue;
        default: /* CH_TRAILER */
            ll = line_at(p, d + i, len - i, p->max_header_size, &next);
            if (ll < 0)
                break;
            if (next == 0)
                return (long long)i;
            for (long k = 0; k < ll; k++) {
                unsigned char c = (unsigned char)d[i + (size_t)k];
                if ((c < 0x20 && c != '\t') || c == 0x7f) {
                    fail(p, TN_EHTTP, "control byte in a trailer field");
                    ll = -1;
                    break;
                }
            }
            if (ll < 0)
                break;
            if (ll > 0 && (d[i] == ' ' || d[i] == '\t' || !memchr(d + i, ':', (size_t)ll))) {
                fail(p, TN_EHTTP, "malformed trailer field");
                ll = -1;
                break;
            }
            i += next;
            p->trailer_bytes += next;
            if (p->trailer_bytes > p->max_header_size) {
                fail(p, TN_ETOOLARGE, "trailer section too large");
                ll = -1;
                break;
            }
            if (ll == 0) {
                p->phase = P_DONE;
                if (p->cbs->on_complete && (rc = p->cbs->on_complete(p, p->arg)) < 0) {
                    fail(p, rc, "completion callback failed");
                    goto dead;
                }
                return (long long)i;
            }
            continue;
        }
        goto dead; /* a failed check above */
    }
    return (long long)i;
dead:
    p->phase = P_DEAD;
    return p->cb_error;
}

/* Parses one complete head of hdr bytes at data. */
static long long run_head(tn__h1resp_t *p, const char *data, size_t hdr)
{
    if (check_status_line(p, data, hdr) < 0) {
        p->phase = P_DEAD;
        return p->cb_error;
    }
    p->head = data;
    p->head_len = hdr;
    p->phase = P_BODY;
    return run(p, data, hdr);
}

long long tn__h1resp_feed(tn__h1resp_t *p, const char *data, size_t len)
{
    size_t total = 0;
    if (len > 0)
        p->seen_bytes = 1;
    for (;;) {
        if (p->phase == P_DONE)
            return (long long)total;
        if (p->phase == P_DEAD)
            return p->cb_error ? p->cb_error : TN_EHTTP;
        if (p->phase == P_HEAD) {
            const char *h = data + total;
            size_t avail = len - total, c = 0;
            int rc;
            if (avail < p->scanned)
                return TN_EINVAL; /* the caller dropped bytes it had not been told to */
            rc = tn__h1scan_feed(&p->scan, h + p->scanned, avail - p->scanned, &c);
            if (rc == TN__H1SCAN_MORE) {
                p->scanned = avail;
                return (long long)total;
            }
            if (rc < 0) {
                p->phase = P_DEAD;
                p->cb_error = rc;
                p->error = rc == TN_ETOOLARGE ? "response head over max_header_size"
                                              : "malformed response head";
                return rc;
            }
            size_t hdr = p->scanned + c;
            long long n = run_head(p, h, hdr);
            if (n < 0)
                return n;
            total += (size_t)n;
            if (p->phase == P_INTERIM_DONE) {
                llhttp_resume(&p->llhttp);
                reset_head(p);
            }
            continue;
        }
        if (p->phase == P_CHUNKED) {
            long long m = chunked(p, data + total, len - total);
            if (m < 0)
                return m;
            return (long long)total + m;
        }
        /* P_BODY */
        if (p->pause)
            return (long long)total;
        /* After a pause llhttp runs even over no bytes: a body that ended
         * with the paused span completes here. */
        if (p->llhttp_paused) {
            p->llhttp_paused = 0;
            llhttp_resume(&p->llhttp);
        } else if (total == len) {
            return (long long)total;
        }
        long long m = run(p, data + total, len - total);
        if (m < 0)
            return m;
        total += (size_t)m;
        if (p->phase != P_DONE)
            return (long long)total;
    }
}

int tn__h1resp_eof(tn__h1resp_t *p)
{
    int rc;
    switch (p->phase) {
    case P_DONE:
        return 0;
    case P_DEAD:
        return p->cb_error ? p->cb_error : TN_EHTTP;
    case P_BODY:
        if (p->body_kind == TN__H1BODY_CLOSE) {
            p->phase = P_DONE;
            if (p->cbs->on_complete && (rc = p->cbs->on_complete(p, p->arg)) < 0) {
                p->phase = P_DEAD;
                p->cb_error = rc;
                return rc;
            }
            return 0;
        }
        p->error = "connection closed before the end of the body (Content-Length)";
        break;
    case P_CHUNKED:
        p->error = "connection closed inside a chunked body";
        break;
    default:
        p->error = p->seen_bytes ? "connection closed inside the response head"
                                 : "connection closed before a response";
        break;
    }
    p->phase = P_DEAD;
    p->cb_error = TN_ECLOSED;
    return TN_ECLOSED;
}

int tn__h1resp_done(const tn__h1resp_t *p)
{
    return p->phase == P_DONE;
}
