/* Strict framing tables: raw header scanner and message-length decision. */
#include <criterion/criterion.h>
#include <string.h>

#include "http1_framing.h"

typedef struct {
    const char *raw;
    int want; /* TN__H1SCAN_DONE, TN_EHTTP, TN_ETOOLARGE */
} scan_case_t;

static int scan_whole(const char *raw, size_t len, size_t max_bytes, size_t max_count,
                      size_t *consumed)
{
    tn__h1scan_t s;
    tn__h1scan_init(&s, max_bytes, max_count);
    return tn__h1scan_feed(&s, raw, len, consumed);
}

/* Feeds raw split at every byte boundary pair; the verdict must not depend on
 * how the bytes arrived. */
static int scan_split(const char *raw, size_t len, size_t cut)
{
    tn__h1scan_t s;
    size_t c1 = 0, c2 = 0;
    int rc;
    tn__h1scan_init(&s, 0, 0);
    rc = tn__h1scan_feed(&s, raw, cut, &c1);
    if (rc != TN__H1SCAN_MORE)
        return rc;
    cr_assert_eq(c1, cut);
    return tn__h1scan_feed(&s, raw + cut, len - cut, &c2);
}

Test(http1_framing, scan_table)
{
    static const scan_case_t cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", TN__H1SCAN_DONE},
        {"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", TN__H1SCAN_DONE},
        {"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", TN_EHTTP},
        {"GET / HTTP/1.1\nHost: a\r\n\r\n", TN_EHTTP},                 /* bare LF, start line */
        {"GET / HTTP/1.1\r\nHost: a\n\r\n", TN_EHTTP},                 /* bare LF, field */
        {"GET / HTTP/1.1\r\nHost: a\r\n\n", TN_EHTTP},                 /* bare LF, end */
        {"GET / HTTP/1.1\rHost: a\r\n\r\n", TN_EHTTP},                 /* bare CR */
        {"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", TN_EHTTP},         /* bare CR in value */
        {"GET / HTTP/1.1\r\nHost: a\r\n\rX", TN_EHTTP},                /* bare CR at end */
        {"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", TN_EHTTP},         /* obs-fold SP */
        {"GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n", TN_EHTTP},        /* obs-fold HTAB */
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", TN_EHTTP},              /* space before colon */
        {"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", TN_EHTTP},             /* tab before colon */
        {"GET / HTTP/1.1\r\n: a\r\n\r\n", TN_EHTTP},                   /* empty name */
        {"GET / HTTP/1.1\r\nHo\x01st: a\r\n\r\n", TN_EHTTP},           /* ctl in name */
        {"GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", TN_EHTTP},           /* DEL in value */
        {"GET / HTTP/1.1\r\nHost: a\x0b\r\n\r\n", TN_EHTTP},           /* VT in value */
        {"GET / HTTP/1.1\r\nHost: a\tb\r\n\r\n", TN__H1SCAN_DONE},     /* HTAB ok */
        {"GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n", TN__H1SCAN_DONE}, /* obs-text ok */
        {"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", TN_EHTTP},           /* ctl in start line */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *raw = cases[k].raw;
        size_t len = strlen(raw), consumed = 0;
        int rc = scan_whole(raw, len, 0, 0, &consumed);
        cr_assert_eq(rc, cases[k].want, "case %zu: got %d want %d", k, rc, cases[k].want);
        if (rc == TN__H1SCAN_DONE)
            cr_assert_eq(consumed, len, "case %zu", k);
        for (size_t cut = 0; cut <= len; cut++) {
            rc = scan_split(raw, len, cut);
            cr_assert_eq(rc, cases[k].want, "case %zu cut %zu: got %d", k, cut, rc);
        }
    }
}

Test(http1_framing, scan_stops_at_end_of_headers)
{
    const char *raw = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\n";
    size_t consumed = 0;
    cr_assert_eq(scan_whole(raw, strlen(raw), 0, 0, &consumed), TN__H1SCAN_DONE);
    cr_assert_eq(consumed, strlen("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
}

Test(http1_framing, header_size_limit_at_boundaries)
{
    const char *raw = "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789\r\n\r\n";
    size_t len = strlen(raw), consumed;
    cr_assert_eq(scan_whole(raw, len, len + 1, 0, &consumed), TN__H1SCAN_DONE);
    cr_assert_eq(scan_whole(raw, len, len, 0, &consumed), TN__H1SCAN_DONE);
    cr_assert_eq(scan_whole(raw, len, len - 1, 0, &consumed), TN_ETOOLARGE);
}

Test(http1_framing, header_count_limit_at_boundaries)
{
    const char *raw = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n"; /* 3 fields */
    size_t len = strlen(raw), consumed;
    cr_assert_eq(scan_whole(raw, len, 0, 4, &consumed), TN__H1SCAN_DONE);
    cr_assert_eq(scan_whole(raw, len, 0, 3, &consumed), TN__H1SCAN_DONE);
    cr_assert_eq(scan_whole(raw, len, 0, 2, &consumed), TN_ETOOLARGE);
}

typedef struct {
    const char *fields[8]; /* "name", "value" pairs, NULL-terminated */
    int version;
    int want; /* body kind or TN_EHTTP */
} frame_case_t;

static int frame(const frame_case_t *c)
{
    tn__h1frame_t f;
    tn__h1frame_init(&f);
    for (size_t i = 0; c->fields[i]; i += 2) {
        int rc = tn__h1frame_field(&f, c->fields[i], strlen(c->fields[i]), c->fields[i + 1],
                                   strlen(c->fields[i + 1]));
        if (rc < 0)
            return rc;
    }
    return tn__h1frame_decide(&f, c->version);
}

Test(http1_framing, frame_table)
{
    static const frame_case_t cases[] = {
        {{"Host", "a", NULL}, 11, TN__H1BODY_NONE},
        {{NULL}, 11, TN_EHTTP},                           /* HTTP/1.1 without Host */
        {{NULL}, 10, TN__H1BODY_NONE},                    /* HTTP/1.0 may omit Host */
        {{"Host", "a", "host", "b", NULL}, 11, TN_EHTTP}, /* duplicate Host */
        {{"Host", "a", NULL}, 12, TN_EHTTP},              /* HTTP/1.2 */
        {{"Host", "a", NULL}, 9, TN_EHTTP},               /* HTTP/0.9 */
        {{"Host", "a", "Content-Length", "5", NULL}, 11, TN__H1BODY_LENGTH},
        {{"Host", "a", "Content-Length", "0", NULL}, 11, TN__H1BODY_NONE},
        {{"Host", "a", "Content-Length", "5, 5", NULL}, 11, TN_EHTTP},
        {{"Host", "a", "Content-Length", "5", "Content-Length", "5"}, 11, TN_EHTTP},
        {{"Host", "a", "Content-Length", "+5", NULL}, 11, TN_EHTTP},
        {{"Host", "a", "Content-Length", "0x5", NULL}, 11, TN_EHTTP},
        {{"Host", "a", "Content-Length", "", NULL}, 11, TN_EHTTP},
        {{"Host", "a", "Content-Length", "9999999999999999999", NULL}, 11, TN_EHTTP},
        {{"Host", "a", "Transfer-Encoding", "chunked", NULL}, 11, TN__H1BODY_CHUNKED},
        {{"Host", "a", "Transfer-Encoding", "CHUNKED", NULL}, 11, TN__H1BODY_CHUNKED},
        {{"Host", "a", "Transfer-Encoding", "gzip, chunked", NULL}, 11, TN_EHTTP},
        {{"Host", "a", "Transfer-Encoding", "chunked, chunked", NULL}, 11, TN_EHTTP},
        {{"Host", "a", "Transfer-Encoding", "xchunked", NULL}, 11, TN_EHTTP},
        {{"Host", "a", "Transfer-Encoding", "identity", NULL}, 11, TN_EHTTP},
        {{"Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked"}, 11, TN_EHTTP},
        {{"Transfer-Encoding", "chunked", NULL}, 10, TN_EHTTP}, /* TE on HTTP/1.0 */
        {{"Host", "a", "Transfer-Encoding", "chunked", "Content-Length", "3"}, 11, TN_EHTTP},
        {{"Host", "a", "Content-Length", "3", "Transfer-Encoding", "chunked"}, 11, TN_EHTTP},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        cr_assert_eq(frame(&cases[k]), cases[k].want, "case %zu", k);
}

/* tornado: httpserver_test KeepAliveTest (HTTP/1.0 and 1.1 variants) */
Test(http1_framing, keep_alive_table)
{
    static const struct {
        const char *connection;
        int version, body, get_or_head, want;
    } cases[] = {
        {NULL, 11, TN__H1BODY_NONE, 1, 1},
        {"close", 11, TN__H1BODY_NONE, 1, 0},
        {"Close", 11, TN__H1BODY_LENGTH, 0, 0},
        {"keep-alive, close", 11, TN__H1BODY_NONE, 1, 0},
        {NULL, 10, TN__H1BODY_NONE, 1, 0},
        {"keep-alive", 10, TN__H1BODY_NONE, 1, 1},
        {"Keep-Alive", 10, TN__H1BODY_LENGTH, 0, 1},
        {"keep-alive", 10, TN__H1BODY_NONE, 0, 0}, /* POST without length */
        {"close", 10, TN__H1BODY_NONE, 1, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tn__h1frame_t f;
        tn__h1frame_init(&f);
        if (cases[k].connection)
            tn__h1frame_field(&f, "Connection", 10, cases[k].connection,
                              strlen(cases[k].connection));
        if (cases[k].body == TN__H1BODY_LENGTH)
            tn__h1frame_field(&f, "Content-Length", 14, "3", 1);
        cr_assert_eq(
            tn__h1frame_keep_alive(&f, cases[k].version, cases[k].body, cases[k].get_or_head),
            cases[k].want, "case %zu", k);
    }
}

Test(http1_framing, chunk_size_table)
{
    static const struct {
        const char *line;
        int want;
        uint64_t size;
    } cases[] = {
        {"0", 0, 0},
        {"a", 0, 10},
        {"1F", 0, 31},
        {"7fffffffffffffff", 0, UINT64_C(0x7fffffffffffffff)},
        {"8000000000000000", TN_EHTTP, 0}, /* overflow */
        {"10000000000000000", TN_EHTTP, 0},
        {"", TN_EHTTP, 0},
        {"g", TN_EHTTP, 0},
        {"-1", TN_EHTTP, 0},
        {"5 ", TN_EHTTP, 0},
        {" 5", TN_EHTTP, 0},
        {"5;name=value", 0, 5},
        {"5;a\x01", TN_EHTTP, 0},
        {"0x5", TN_EHTTP, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint64_t size = 99;
        int rc = tn__h1_chunk_size(cases[k].line, strlen(cases[k].line), 0, &size);
        cr_assert_eq(rc, cases[k].want, "case %zu", k);
        if (rc == 0)
            cr_assert_eq(size, cases[k].size, "case %zu", k);
    }
    /* extension cap at limit-1 / limit / limit+1 (cap counts ';' and ext) */
    uint64_t s;
    cr_assert_eq(tn__h1_chunk_size("5;ab", 4, 4, &s), 0);
    cr_assert_eq(tn__h1_chunk_size("5;ab", 4, 3, &s), 0);
    cr_assert_eq(tn__h1_chunk_size("5;abc", 5, 3, &s), TN_EHTTP);
}

/* The incremental chunk-size line scanner gives one verdict however the
 * line is split between two feeds. */
Test(http1_framing, chunk_line_scanner_every_split)
{
    static const struct {
        const char *line;
        int want;
        uint64_t size;
    } cases[] = {
        {"a\r\n", TN__H1SCAN_DONE, 10},
        {"FFFFFFFFFFFFFFFF\r\n", TN__H1SCAN_DONE, UINT64_MAX},
        {"1;x=\"a\\\"b\"\r\n", TN__H1SCAN_DONE, 1},
        {"1 ; x = y\r\n", TN__H1SCAN_DONE, 1},
        {"1\rx\n", TN_EHTTP, 0},
        {"1;x\r\r\n", TN_EHTTP, 0},
        {"1;x=\"\r\n\"\r\n", TN_EHTTP, 0},
        {"1\n", TN_EHTTP, 0},
        {"11111111111111111\r\n", TN_EHTTP, 0},
        {";x\r\n", TN_EHTTP, 0},
        {"1;x=y \r\n", TN_EHTTP, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *line = cases[k].line;
        size_t len = strlen(line);
        for (size_t cut = 0; cut <= len; cut++) {
            tn__h1chunk_t c;
            size_t n1 = 0, n2 = 0;
            tn__h1chunk_init(&c, 0);
            int rc = tn__h1chunk_feed(&c, line, cut, &n1);
            if (rc == TN__H1SCAN_MORE) {
                cr_assert_eq(n1, cut);
                rc = tn__h1chunk_feed(&c, line + cut, len - cut, &n2);
            }
            cr_assert_eq(rc, cases[k].want, "case %zu cut %zu: %d", k, cut, rc);
            if (rc == TN__H1SCAN_DONE) {
                cr_assert_eq(n1 + n2, len, "case %zu", k);
                cr_assert_eq(c.size, cases[k].size, "case %zu", k);
            }
        }
    }
}

Test(http1_framing, target_forms_and_host_values)
{
    static const struct {
        const char *method, *url;
        int want;
        const char *authority;
    } cases[] = {
        {"GET", "/", TN__H1TARGET_ORIGIN, NULL},
        {"GET", "/a?b=%00", TN__H1TARGET_ORIGIN, NULL},
        {"GET", "/a%00", TN_EHTTP, NULL},
        {"GET", "http://x.example:81/a", TN__H1TARGET_ABSOLUTE, "x.example:81"},
        {"GET", "http://x.example?q", TN__H1TARGET_ABSOLUTE, "x.example"},
        {"GET", "http://u@x.example/", TN_EHTTP, NULL},
        {"GET", "*", TN_EHTTP, NULL},
        {"OPTIONS", "*", TN__H1TARGET_ASTERISK, NULL},
        {"options", "*", TN_EHTTP, NULL}, /* methods are case-sensitive */
        {"CONNECT", "x.example:443", TN__H1TARGET_AUTHORITY, "x.example:443"},
        {"CONNECT", "[::1]:443", TN__H1TARGET_AUTHORITY, "[::1]:443"},
        {"CONNECT", "x.example", TN_EHTTP, NULL},
        {"GET", "x.example:443", TN_EHTTP, NULL},
        {"GET", "/\x80", TN_EHTTP, NULL},
        {"GET", "", TN_EHTTP, NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tn__h1target_t t;
        int rc = tn__h1_target(cases[k].method, strlen(cases[k].method), cases[k].url,
                               strlen(cases[k].url), &t);
        cr_assert_eq(rc, cases[k].want, "case %zu: %d", k, rc);
        if (cases[k].authority) {
            cr_assert_eq(t.authority_len, strlen(cases[k].authority), "case %zu", k);
            cr_assert_eq(memcmp(t.authority, cases[k].authority, t.authority_len), 0);
        }
    }
    cr_assert(tn__h1_host_ok("a.example:65535", 15));
    cr_assert(!tn__h1_host_ok("a.example:65536", 15));
    cr_assert(tn__h1_host_ok("[::ffff:1.2.3.4]", 16));
    cr_assert(!tn__h1_host_ok("[::ffff:1.2.3.400]", 18));
    cr_assert(tn__h1_is_ipv4("1.2.3.4", 7));
    cr_assert(!tn__h1_is_ipv4("1.2.3", 5));
}
