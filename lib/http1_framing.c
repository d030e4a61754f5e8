/* Strict HTTP/1 framing: raw header scanner and message-length decision. */
#include "http1_framing.h"

#include "http1_limits.h"

enum {
    ST_START = 0,     /* in the request line (or leading empty lines) */
    ST_START_CR,      /* CR seen in the request line */
    ST_LINE,          /* at the first byte of a header line */
    ST_NAME,          /* inside a field name */
    ST_VALUE,         /* after the colon */
    ST_VALUE_CR,      /* CR seen in a field line */
    ST_END_CR,        /* CR of the blank line seen */
    ST_START_EMPTY_CR /* CR of an empty line before the request line */
};

/* RFC 9110 tchar, as a 256-entry table so the name loop is one load per byte. */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* Control characters other than HTAB are never valid in a field value or
 * the request line (NUL, bare CR/LF, DEL, ...). obs-text (>= 0x80) is
 * allowed in values as RFC 9110 permits. */
/* Bytes that may appear inside a request line or a field value and need no
 * further look: not CR, LF, TAB-in-request-line... (TAB and the other
 * control bytes go through the switch). */
static const unsigned char plain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0), R16(0), R16(1), R16(1), R16(1), R16(1), R16(1), 1,      1, 1, 1, 1,
    1,      1,      1,      1,      1,      1,      1,      1,      1, 1, 0, /* 0x7f */
    R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1),
#undef R16
};

static int is_bad_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

void tn__h1scan_init(tn__h1scan_t *s, size_t max_bytes, size_t max_count)
{
    s->max_bytes = max_bytes ? max_bytes : TN_HTTP_DEFAULT_MAX_HEADER_SIZE;
    s->max_count = max_count ? max_count : TN_HTTP_DEFAULT_MAX_HEADER_COUNT;
    s->bytes = 0;
    s->count = 0;
    s->line_start = 0;
    s->state = ST_START;
    s->empty_lines = 0;
}

void tn__h1scan_trailer(tn__h1scan_t *s)
{
    s->state = ST_LINE;
}

int tn__h1scan_feed(tn__h1scan_t *s, const char *data, size_t len, size_t *consumed)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    int st = s->state;
    int rc = TN__H1SCAN_MORE;

    /* The limit is checked once per call on the bytes this call may use, and
     * the loop stops at the cap, so a flood past it costs nothing extra. */
    size_t room = s->max_bytes - s->bytes;
    size_t n = len < room ? len : room;

    for (i = 0; i < n; i++) {
        /* Most bytes are plain request-line, name or value bytes: skip them
         * in tight loops and let the switch judge only the byte that ends
         * the run. */
        if (st == ST_VALUE || st == ST_START) {
            while (i < n && plain[p[i]])
                i++;
        } else if (st == ST_NAME) {
            while (i < n && tchar[p[i]])
                i++;
        }
        if (i == n)
            break;
        unsigned char c = p[i];
        switch (st) {
        case ST_START:
            if (c == '\r') {
                st = (s->bytes + i == s->line_start) ? ST_START_EMPTY_CR : ST_START_CR;
            } else if (c == '\n' || is_bad_ctl(c) || c == '\t') {
                rc = TN_EHTTP;
                goto out;
            }
            break;
        case ST_START_EMPTY_CR:
            /* TN__H1_MAX_EMPTY_LINES empty lines before the request line are
             * ignored (RFC 9112 2.2); one more is not (it would be an
             * unbounded preamble, or an empty request line). */
            if (c != '\n' || ++s->empty_lines > TN__H1_MAX_EMPTY_LINES) {
                rc = TN_EHTTP;
                goto out;
            }
            s->line_start = s->bytes + i + 1;
            st = ST_START;
            break;
        case ST_START_CR:
        case ST_VALUE_CR:
            if (c != '\n') {
                rc = TN_EHTTP; /* bare CR */
                goto out;
            }
            st = ST_LINE;
            break;
        case ST_LINE:
            if (c == '\r') {
                st = ST_END_CR;
            } else if (tchar[c]) {
                if (++s->count > s->max_count) {
                    rc = TN_ETOOLARGE;
                    goto out;
                }
                st = ST_NAME;
            } else {
                rc = TN_EHTTP; /* obs-fold, empty name, bare LF, ctl */
                goto out;
            }
            break;
        case ST_NAME:
            if (c == ':') {
                st = ST_VALUE;
            } else if (!tchar[c]) {
                rc = TN_EHTTP; /* whitespace before the colon, ctl, bad char */
                goto out;
            }
            break;
        case ST_VALUE:
            if (c == '\r') {
                st = ST_VALUE_CR;
            } else if (is_bad_ctl(c)) {
                rc = TN_EHTTP;
                goto out;
            }
            break;
        case ST_END_CR:
            if (c != '\n') {
                rc = TN_EHTTP;
                goto out;
            }
            i++;
            rc = TN__H1SCAN_DONE;
            goto out;
        default:
            rc = TN_EHTTP;
            goto out;
        }
    }
    if (n < len)
        rc = TN_ETOOLARGE; /* more bytes than the cap and still not done */
out:
    s->state = (unsigned char)st;
    s->bytes += i;
    *consumed = i;
    return rc;
}

int tn__h1_token_eq(const char *s, size_t len, const char *lit)
{
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char a = (unsigned char)s[i], b = (unsigned char)lit[i];
        if (b == 0)
            return 0;
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a + 32);
        if (a != b)
            return 0;
    }
    return lit[len] == 0;
}

void tn__h1frame_init(tn__h1frame_t *f)
{
    f->content_length = 0;
    f->seen_cl = 0;
    f->seen_te = 0;
    f->te_chunked = 0;
    f->host_count = 0;
    f->expect_continue = 0;
    f->conn_close = 0;
    f->conn_keep_alive = 0;
    f->gzip = 0;
}

/* Walks a comma-separated token list (Connection) noting close/keep-alive. */
static void scan_connection(tn__h1frame_t *f, const char *v, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t start, end;
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        start = i;
        while (i < len && v[i] != ',')
            i++;
        end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (tn__h1_token_eq(v + start, end - start, "close"))
            f->conn_close = 1;
        else if (tn__h1_token_eq(v + start, end - start, "keep-alive"))
            f->conn_keep_alive = 1;
    }
}

int tn__h1frame_field(tn__h1frame_t *f, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
    /* Only six names matter here; their lengths tell most fields apart
     * before any comparison. */
    switch (name_len) {
    case 4:  /* host */
    case 6:  /* expect */
    case 10: /* connection */
    case 14: /* content-length */
    case 16: /* content-encoding */
    case 17: /* transfer-encoding */
        break;
    default:
        return 0;
    }
    if (tn__h1_token_eq(name, name_len, "content-length")) {
        /* Strict: one Content-Length of 1..18 digits. Tornado accepts equal
         * duplicates ("5, 5"); a proxy in front may pick another copy, so
         * any duplicate or list is refused. */
        uint64_t v = 0;
        size_t i;
        if (f->seen_cl || value_len == 0 || value_len > 18)
            return TN_EHTTP;
        for (i = 0; i < value_len; i++) {
            unsigned char c = (unsigned char)value[i];
            if (c < '0' || c > '9')
                return TN_EHTTP;
            v = v * 10 + (uint64_t)(c - '0');
        }
        f->seen_cl = 1;
        f->content_length = v;
    } else if (tn__h1_token_eq(name, name_len, "transfer-encoding")) {
        /* Only exactly "chunked", once: "gzip, chunked", "chunked, chunked",
         * "xchunked" and a second field are all refused. */
        if (f->seen_te)
            return TN_EHTTP;
        f->seen_te = 1;
        if (!tn__h1_token_eq(value, value_len, "chunked"))
            return TN_EHTTP;
        f->te_chunked = 1;
    } else if (tn__h1_token_eq(name, name_len, "host")) {
        /* Exactly one, and a valid uri-host[:port]: a proxy that reads an
         * odd Host differently would route the request elsewhere. */
        if (!tn__h1_host_ok(value, value_len))
            return TN_EHTTP;
        if (f->host_count < 255)
            f->host_count++;
    } else if (tn__h1_token_eq(name, name_len, "connection")) {
        scan_connection(f, value, value_len);
    } else if (tn__h1_token_eq(name, name_len, "expect")) {
        if (tn__h1_token_eq(value, value_len, "100-continue"))
            f->expect_continue = 1;
    } else if (tn__h1_token_eq(name, name_len, "content-encoding")) {
        if (tn__h1_token_eq(value, value_len, "gzip"))
            f->gzip = 1;
    }
    return 0;
}

int tn__h1frame_decide(const tn__h1frame_t *f, int version)
{
    if (version != 10 && version != 11)
        return TN_EHTTP;
    if (f->host_count > 1 || (version == 11 && f->host_count == 0))
        return TN_EHTTP;
    if (f->seen_te && (f->seen_cl || version == 10))
        return TN_EHTTP;
    if (f->te_chunked)
        return TN__H1BODY_CHUNKED;
    if (f->seen_cl && f->content_length > 0)
        return TN__H1BODY_LENGTH;
    return TN__H1BODY_NONE;
}

int tn__h1frame_keep_alive(const tn__h1frame_t *f, int version, int body_kind, int get_or_head)
{
    if (f->conn_close)
        return 0;
    if (version == 11)
        return 1;
    if (body_kind != TN__H1BODY_NONE || f->seen_cl || get_or_head)
        return f->conn_keep_alive;
    return 0;
}

/* ---- chunk-size lines ---------------------------------------------------- */

enum {
    CK_SIZE = 0, /* hex digits */
    CK_BWS,      /* whitespace that must be followed by ';' */
    CK_SEMI,     /* after ';': BWS, then a name */
    CK_NAME,     /* inside an extension name */
    CK_NAME_BWS, /* whitespace after a name: '=' or ';' must follow */
    CK_EQ,       /* after '=': BWS, then a token or a quoted-string */
    CK_VAL,      /* inside a token value */
    CK_QUOTED,   /* inside a quoted-string */
    CK_QPAIR,    /* after a backslash in a quoted-string */
    CK_QEND,     /* after the closing quote */
    CK_CR,       /* CR seen: LF must follow */
};

void tn__h1chunk_init(tn__h1chunk_t *c, size_t max_ext)
{
    c->size = 0;
    c->digits = 0;
    c->ext = 0;
    c->max_ext = max_ext ? max_ext : TN_HTTP_DEFAULT_MAX_CHUNK_EXT_SIZE;
    c->state = CK_SIZE;
}

int tn__h1_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The state after one byte of a chunk-size line, or -1 when it is invalid
 * there. CK_CR and the end are the caller's. */
static int chunk_step(tn__h1chunk_t *c, int st, unsigned char b)
{
    int ws = b == ' ' || b == '\t';
    switch (st) {
    case CK_SIZE: {
        int d = tn__h1_hexval(b);
        if (d >= 0) {
            if (++c->digits > 16)
                return -1; /* more than 64 bits */
            c->size = (c->size << 4) | (uint64_t)d;
            return CK_SIZE;
        }
        if (c->digits == 0)
            return -1;
        return b == ';' ? CK_SEMI : ws ? CK_BWS : b == '\r' ? CK_CR : -1;
    }
    case CK_BWS:
        return ws ? CK_BWS : b == ';' ? CK_SEMI : -1;
    case CK_SEMI:
        return ws ? CK_SEMI : tchar[b] ? CK_NAME : -1;
    case CK_NAME:
        if (tchar[b])
            return CK_NAME;
        return b == '=' ? CK_EQ : b == ';' ? CK_SEMI : ws ? CK_NAME_BWS : b == '\r' ? CK_CR : -1;
    case CK_NAME_BWS:
        return ws ? CK_NAME_BWS : b == '=' ? CK_EQ : b == ';' ? CK_SEMI : -1;
    case CK_EQ:
        return ws ? CK_EQ : b == '"' ? CK_QUOTED : tchar[b] ? CK_VAL : -1;
    case CK_VAL:
        if (tchar[b])
            return CK_VAL;
        return b == ';' ? CK_SEMI : ws ? CK_BWS : b == '\r' ? CK_CR : -1;
    case CK_QUOTED:
        /* qdtext: HTAB, SP, 0x21, 0x23-0x5B, 0x5D-0x7E, obs-text */
        if (b == '"')
            return CK_QEND;
        if (b == '\\')
            return CK_QPAIR;
        return (ws || (b >= 0x21 && b != 0x7f)) ? CK_QUOTED : -1;
    case CK_QPAIR:
        return (ws || (b >= 0x21 && b != 0x7f)) ? CK_QUOTED : -1;
    case CK_QEND:
        return b == ';' ? CK_SEMI : ws ? CK_BWS : b == '\r' ? CK_CR : -1;
    default:
        return -1;
    }
}

int tn__h1chunk_feed(tn__h1chunk_t *c, const char *data, size_t len, size_t *consumed)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    int st = c->state;
    int rc = TN__H1SCAN_MORE;
    for (i = 0; i < len; i++) {
        if (st == CK_CR) {
            if (p[i] != '\n') {
                rc = TN_EHTTP; /* a CR not followed by LF */
                break;
            }
            i++;
            rc = TN__H1SCAN_DONE;
            break;
        }
        int next = chunk_step(c, st, p[i]);
        if (next < 0) {
            rc = TN_EHTTP;
            break;
        }
        /* every byte between the digits and the CR counts */
        if (next != CK_SIZE && next != CK_CR && ++c->ext > c->max_ext) {
            rc = TN_EHTTP;
            break;
        }
        st = next;
    }
    c->state = (unsigned char)st;
    *consumed = i;
    return rc;
}

int tn__h1_chunk_size(const char *line, size_t len, size_t max_ext, uint64_t *size)
{
    tn__h1chunk_t c;
    size_t n = 0;
    tn__h1chunk_init(&c, max_ext);
    if (tn__h1chunk_feed(&c, line, len, &n) != TN__H1SCAN_MORE || n != len)
        return TN_EHTTP; /* a CR/LF inside the line, or invalid */
    if (tn__h1chunk_feed(&c, "\r\n", 2, &n) != TN__H1SCAN_DONE)
        return TN_EHTTP;
    if (c.size >> 63)
        return TN_EHTTP; /* this helper's contract: sizes below 2^63 */
    *size = c.size;
    return 0;
}
