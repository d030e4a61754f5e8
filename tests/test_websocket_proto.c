/* The WebSocket protocol core (lib/websocket_*.c) without sockets: UTF-8,
 * masking, the frame machine in both roles at every byte split, the close
 * rules, permessage-deflate and the handshake helpers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tornuv.h"
#include "websocket_proto.h"

/* ---- a recording machine --------------------------------------------------- */

typedef struct {
    char *out; /* everything sent */
    size_t out_len;
    char log[4096]; /* events, one per line */
    size_t msgs;
    char *last; /* the last message */
    size_t last_len;
    int last_op;
    int close_code;
    tn__ws_t *w;
    int echo; /* echo every message back */
} rec_t;

static int r_send(void *arg, const uint8_t *hdr, size_t hlen, const uint8_t *p, size_t n)
{
    rec_t *r = arg;
    r->out = realloc(r->out, r->out_len + hlen + n + 1);
    memcpy(r->out + r->out_len, hdr, hlen);
    if (n)
        memcpy(r->out + r->out_len + hlen, p, n);
    r->out_len += hlen + n;
    return 0;
}

static void logf_(rec_t *r, const char *s)
{
    strncat(r->log, s, sizeof r->log - strlen(r->log) - 1);
}

static void r_message(void *arg, int op, const char *d, size_t n)
{
    rec_t *r = arg;
    char line[64];
    snprintf(line, sizeof line, "%s:%zu\n", op == TN__WS_OP_TEXT ? "text" : "binary", n);
    logf_(r, line);
    free(r->last);
    r->last = malloc(n + 1);
    memcpy(r->last, d, n);
    r->last_len = n;
    r->last_op = op;
    r->msgs++;
    if (r->echo)
        tn__ws_send_message(r->w, op == TN__WS_OP_BINARY, d, n);
}

static void r_ping(void *arg, const char *d, size_t n)
{
    char line[160];
    snprintf(line, sizeof line, "ping:%.*s\n", (int)n, d);
    logf_(arg, line);
}

static void r_pong(void *arg, const char *d, size_t n)
{
    char line[160];
    snprintf(line, sizeof line, "pong:%.*s\n", (int)n, d);
    logf_(arg, line);
}

static void r_close(void *arg, int code, const char *reason, size_t n)
{
    rec_t *r = arg;
    char line[180];
    snprintf(line, sizeof line, "close:%d:%.*s\n", code, (int)n, reason);
    logf_(r, line);
    r->close_code = code;
}

static const tn__ws_events_t rec_events = {r_send, r_message, r_ping, r_pong, r_close};

static rec_t *rec_new(int server, uint64_t max, const tn__ws_pmd_t *pmd)
{
    rec_t *r = calloc(1, sizeof *r);
    tn__ws_config_t cfg = {.server = server, .max_message = max, .pmd = pmd};
    cr_assert_eq(tn__ws_new(&cfg, &rec_events, r, &r->w), 0);
    return r;
}

static void rec_free(rec_t *r)
{
    tn__ws_free(r->w);
    free(r->out);
    free(r->last);
    free(r);
}

/* Builds a frame as a client (masked with a fixed key) or a server would. */
static size_t frame(char *out, int b0, const void *payload, size_t n, int masked)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t hdr[TN__WS_MAX_HEADER];
    size_t h = tn__ws_frame_header(hdr, b0 & 0x80, b0 & 0x40, b0 & 0x0f, n, masked ? key : NULL);
    hdr[0] = (uint8_t)b0; /* keep RSV2/RSV3 when a test sets them */
    memcpy(out, hdr, h);
    if (masked)
        tn__ws_mask((uint8_t *)out + h, payload, n, key, 0);
    else if (n)
        memcpy(out + h, payload, n);
    return h + n;
}

/* Feeds in pieces of chunk bytes; returns the last feed's result. */
static int feed_chunks(tn__ws_t *w, const char *d, size_t n, size_t chunk)
{
    int rc = 0;
    for (size_t i = 0; i < n; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        rc = tn__ws_feed(w, d + i, k);
        if (rc != 0)
            return rc;
    }
    return rc;
}

/* The first frame in r->out must be a Close with this code (unmasked). */
static int sent_close_code(const rec_t *r)
{
    const uint8_t *o = (const uint8_t *)r->out;
    if (r->out_len < 2 || o[0] != 0x88)
        return -1;
    size_t at = (o[1] & 0x80) ? 6 : 2;
    if ((o[1] & 0x7f) == 0)
        return 0;
    uint8_t code[2] = {o[at], o[at + 1]};
    if (o[1] & 0x80)
        tn__ws_mask(code, code, 2, o + 2, 0);
    return (code[0] << 8) | code[1];
}

/* ---- UTF-8 ----------------------------------------------------------------- */

typedef struct {
    const char *s;
    int valid;
    int reject_at; /* index of the byte that must reject (-1: only at the end) */
} utf8_case_t;

static const utf8_case_t utf8_cases[] = {
    {"", 1, -1},
    {"hello world, plain ASCII, longer than eight", 1, -1},
    {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1, -1},
    {"\xf0\x9f\x98\x80 smile", 1, -1},
    {"\xef\xbf\xbf", 1, -1},     /* U+FFFF */
    {"\xf4\x8f\xbf\xbf", 1, -1}, /* U+10FFFF */
    {"\xed\x9f\xbf", 1, -1},     /* U+D7FF */
    {"\xee\x80\x80", 1, -1},     /* U+E000 */
    {"abc\xc0\xaf", 0, 3},       /* overlong '/' */
    {"\xe0\x80\xaf", 0, 1},      /* overlong, 3 bytes */
    {"\xf0\x80\x80\xaf", 0, 1},  /* overlong, 4 bytes */
    {"\xed\xa0\x80", 0, 1},      /* surrogate U+D800 */
    {"\xf4\x90\x80\x80", 0, 1},  /* above U+10FFFF */
    {"\xf5\x80\x80\x80", 0, 0},  /* F5 never valid */
    {"ab\x80", 0, 2},            /* lone continuation */
    {"\xce\xba\xe1\xbd", 0, -1}, /* cut off */
    {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
     "edited",
     0, 12},
    {"01234567\xff", 0, 8}, /* after the ASCII word path */
};

Test(websocket_proto, utf8_table_at_every_split)
{
    for (size_t c = 0; c < sizeof utf8_cases / sizeof *utf8_cases; c++) {
        const utf8_case_t *t = &utf8_cases[c];
        size_t n = strlen(t->s);
        cr_assert_eq(tn__utf8_valid(t->s, n), t->valid, "case %zu", c);
        for (size_t split = 0; split <= n; split++) {
            unsigned st = tn__utf8_step(TN__UTF8_ACCEPT, (const uint8_t *)t->s, split);
            st = tn__utf8_step(st, (const uint8_t *)t->s + split, n - split);
            cr_assert_eq(st == TN__UTF8_ACCEPT, t->valid, "case %zu split %zu", c, split);
        }
        if (t->reject_at >= 0) {
            /* Fail fast: the prefix up to the bad byte is not rejected yet,
             * and that byte rejects. */
            unsigned st =
                tn__utf8_step(TN__UTF8_ACCEPT, (const uint8_t *)t->s, (size_t)t->reject_at);
            cr_assert_neq(st, TN__UTF8_REJECT, "case %zu", c);
            st = tn__utf8_step(st, (const uint8_t *)t->s + t->reject_at, 1);
            cr_assert_eq(st, TN__UTF8_REJECT, "case %zu", c);
        }
    }
}

Test(websocket_proto, utf8_exhaustive_two_and_three_bytes)
{
    /* Every 2- and 3-byte sequence, checked against the code point rules. */
    for (unsigned a = 0xc0; a < 0x100; a++)
        for (unsigned b = 0; b < 0x100; b++) {
            uint8_t s[2] = {(uint8_t)a, (uint8_t)b};
            int want = a >= 0xc2 && a <= 0xdf && b >= 0x80 && b <= 0xbf;
            cr_assert_eq(tn__utf8_valid(s, 2), want, "%02x %02x", a, b);
        }
    for (unsigned a = 0xe0; a < 0xf0; a++)
        for (unsigned b = 0x80; b < 0xc0; b++)
            for (unsigned c = 0x70; c < 0xd0; c++) {
                uint8_t s[3] = {(uint8_t)a, (uint8_t)b, (uint8_t)c};
                unsigned cp = ((a & 0x0f) << 12) | ((b & 0x3f) << 6) | (c & 0x3f);
                int want = c >= 0x80 && c <= 0xbf && cp >= 0x800 && !(cp >= 0xd800 && cp <= 0xdfff);
                cr_assert_eq(tn__utf8_valid(s, 3), want, "%02x %02x %02x", a, b, c);
            }
}

/* ---- masking and headers ------------------------------------------------- */

Test(websocket_proto, mask_matches_byte_loop)
{
    uint8_t src[300], dst[300], ref[300];
    const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 7 + 3);
    for (unsigned phase = 0; phase < 4; phase++)
        for (size_t off = 0; off < 9; off++)
            for (size_t n = 0; n + off <= 280; n += 13) {
                for (size_t i = 0; i < n; i++)
                    ref[i] = src[off + i] ^ key[(phase + i) & 3];
                unsigned after = tn__ws_mask(dst, src + off, n, key, phase);
                cr_assert_eq(memcmp(dst, ref, n), 0, "phase %u off %zu n %zu", phase, off, n);
                cr_assert_eq(after, (phase + n) & 3);
            }
}

Test(websocket_proto, header_lengths_minimal)
{
    uint8_t h[TN__WS_MAX_HEADER];
    const uint8_t key[4] = {1, 2, 3, 4};
    cr_assert_eq(tn__ws_frame_header(h, 1, 0, 1, 0, NULL), 2);
    cr_assert_eq(h[0], 0x81);
    cr_assert_eq(h[1], 0);
    cr_assert_eq(tn__ws_frame_header(h, 1, 0, 2, 125, NULL), 2);
    cr_assert_eq(h[1], 125);
    cr_assert_eq(tn__ws_frame_header(h, 0, 1, 1, 126, NULL), 4);
    cr_assert_eq(h[0], 0x41);
    cr_assert(h[1] == 126 && h[2] == 0 && h[3] == 126);
    cr_assert_eq(tn__ws_frame_header(h, 1, 0, 2, 65535, NULL), 4);
    cr_assert(h[2] == 0xff && h[3] == 0xff);
    cr_assert_eq(tn__ws_frame_header(h, 1, 0, 2, 65536, key), 14);
    cr_assert_eq(h[1], 0x80 | 127);
    static const uint8_t want[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    cr_assert_eq(memcmp(h + 2, want, 8), 0);
    cr_assert_eq(memcmp(h + 10, key, 4), 0);
}

Test(websocket_proto, close_codes)
{
    static const int ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999};
    static const int bad[] = {0, 999, 1004, 1005, 1006, 1012, 1015, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        cr_assert(tn__ws_close_code_valid(ok[i]), "%d", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert(!tn__ws_close_code_valid(bad[i]), "%d", bad[i]);
}

/* ---- frames: echo sizes at every split ---------------------------------- */

static void echo_size(size_t n, const size_t *chunks, size_t nchunks)
{
    char *payload = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        payload[i] = (char)('a' + i % 26);
    char *wire = malloc(n + 14);
    size_t wl = frame(wire, 0x82, payload, n, 1);
    for (size_t c = 0; c < nchunks; c++) {
        rec_t *r = rec_new(1, 0, NULL);
        r->echo = 1;
        cr_assert_eq(feed_chunks(r->w, wire, wl, chunks[c]), 0);
        cr_assert_eq(r->msgs, 1, "size %zu chunk %zu", n, chunks[c]);
        cr_assert_eq(r->last_len, n);
        cr_assert_eq(memcmp(r->last, payload, n), 0);
        /* The echo is unmasked, minimal-length, and decodes to the same bytes
         * through a client machine. */
        size_t hl = n <= 125 ? 2 : n <= 65535 ? 4 : 10;
        cr_assert_eq(r->out_len, hl + n);
        rec_t *c2 = rec_new(0, 0, NULL);
        cr_assert_eq(feed_chunks(c2->w, r->out, r->out_len, chunks[c]), 0);
        cr_assert_eq(c2->msgs, 1);
        cr_assert_eq(memcmp(c2->last, payload, n), 0);
        rec_free(c2);
        rec_free(r);
    }
    free(wire);
    free(payload);
}

Test(websocket_proto, echo_sizes_every_split)
{
    static const size_t one[] = {1, 2, 3, 5, 7, 13, 1 << 20};
    echo_size(0, one, 7);
    echo_size(125, one, 7);
    echo_size(126, one, 7);
    static const size_t big[] = {1, 7, 4093, 1 << 20};
    echo_size(65535, big, 4);
    echo_size(65536, big, 4);
    static const size_t huge[] = {4093, 65536, 1 << 21};
    echo_size(1 << 20, huge, 3);
}

Test(websocket_proto, every_byte_split_of_a_conversation)
{
    /* text in three fragments with a ping between them, a binary message,
     * then a Close: the same events for every two-way split. */
    char wire[512];
    size_t n = 0;
    n += frame(wire + n, 0x01, "Hel", 3, 1);
    n += frame(wire + n, 0x89, "p1", 2, 1);
    n += frame(wire + n, 0x00, "lo \xce", 4, 1);
    n += frame(wire + n, 0x8a, "", 0, 1);
    n += frame(wire + n, 0x80, "\xba!", 2, 1);
    n += frame(wire + n, 0x82, "\x00\x01\x02", 3, 1);
    n += frame(wire + n, 0x88,
               "\x03\xe8"
               "bye",
               5, 1);
    const char *want = "ping:p1\npong:\ntext:9\nbinary:3\nclose:1000:bye\n";
    for (size_t split = 0; split <= n; split++) {
        rec_t *r = rec_new(1, 0, NULL);
        int rc = tn__ws_feed(r->w, wire, split);
        if (rc == 0)
            rc = tn__ws_feed(r->w, wire + split, n - split);
        cr_assert_eq(rc, TN__WS_CLOSED, "split %zu", split);
        cr_assert_str_eq(r->log, want, "split %zu", split);
        cr_assert_eq(memcmp(r->last, "\x00\x01\x02", 3), 0);
        /* replies: pong p1, then our Close echoing 1000 */
        static const char reply[] = "\x8a\x02p1\x88\x02\x03\xe8";
        cr_assert_eq(r->out_len, sizeof reply - 1);
        cr_assert_eq(memcmp(r->out, reply, sizeof reply - 1), 0);
        cr_assert(tn__ws_close_sent(r->w) && tn__ws_close_received(r->w));
        cr_assert_eq(tn__ws_send_message(r->w, 0, "x", 1), TN_ECLOSED);
        rec_free(r);
    }
}

/* ---- frames: protocol errors -------------------------------------------- */

typedef struct {
    const char *name;
    int server;
    const char *pre; /* frames before, as b0,len,payload... built below */
    int b0;
    const char *payload;
    size_t len;
    int masked;
    int code;
    int err;
} bad_case_t;

static void expect_failure(int server, const char *wire, size_t n, int code, int err,
                           const char *name)
{
    for (size_t chunk = 1; chunk <= n + 1; chunk += (chunk < 16 ? 1 : 61)) {
        rec_t *r = rec_new(server, 1000, NULL);
        int rc = feed_chunks(r->w, wire, n, chunk);
        cr_assert_eq(rc, err, "%s chunk %zu: rc %d", name, chunk, rc);
        cr_assert_eq(tn__ws_fail_code(r->w), code, "%s", name);
        cr_assert_eq(sent_close_code(r), code, "%s: sent %d", name, sent_close_code(r));
        cr_assert_eq(r->msgs, 0, "%s", name);
        /* Nothing more is sent, whatever arrives after. */
        size_t before = r->out_len;
        char ping[16];
        size_t pl = frame(ping, 0x89, "x", 1, server);
        cr_assert_eq(tn__ws_feed(r->w, ping, pl), err);
        cr_assert_eq(tn__ws_send_message(r->w, 1, "x", 1), TN_ECLOSED);
        cr_assert_eq(r->out_len, before);
        rec_free(r);
    }
}

Test(websocket_proto, protocol_errors_fail_with_the_right_code)
{
    char w[2048];
    size_t n;
    char big[200];
    memset(big, 'x', sizeof big);
#define BAD(server, code, err, ...)                                                                \
    do {                                                                                           \
        n = 0;                                                                                     \
        __VA_ARGS__;                                                                               \
        expect_failure(server, w, n, code, err, #__VA_ARGS__);                                     \
    } while (0)
    BAD(1, 1002, TN_EHTTP, n += frame(w, 0x81, "hi", 2, 0)); /* unmasked from client */
    BAD(0, 1002, TN_EHTTP, n += frame(w, 0x81, "hi", 2, 1)); /* masked from server */
    BAD(1, 1002, TN_EHTTP, n += frame(w, 0xc1, "hi", 2, 1)); /* RSV1, no extension */
    BAD(1, 1002, TN_EHTTP, n += frame(w, 0xa1, "hi", 2, 1)); /* RSV2 */
    BAD(1, 1002, TN_EHTTP, n += frame(w, 0x91, "hi", 2, 1)); /* RSV3 */
    for (int op = 3; op <= 7; op++)
        BAD(1, 1002, TN_EHTTP, n += frame(w, 0x80 | op, "", 0, 1)); /* reserved data opcodes */
    for (int op = 0xb; op <= 0xf; op++)
        BAD(1, 1002, TN_EHTTP, n += frame(w, 0x80 | op, "", 0, 1)); /* reserved control */
    BAD(1, 1002, TN_EHTTP, n += frame(w, 0x89, big, 126, 1));       /* control > 125 */
    BAD(1, 1002, TN_EHTTP, n += frame(w, 0x09, "a", 1, 1));         /* fragmented ping */
    BAD(1, 1002, TN_EHTTP, n += frame(w, 0x80, "a", 1, 1));         /* orphan continuation */
    BAD(1, 1002, TN_EHTTP, n += frame(w, 0x01, "a", 1, 1);
        n += frame(w + n, 0x81, "b", 1, 1)); /* text inside a text */
    BAD(1, 1002, TN_EHTTP, memcpy(w, "\x82\xff\x80\x00\x00\x00\x00\x00\x00\x01", 10);
        n = 10); /* 64-bit length, MSB set */
    BAD(1, 1009, TN_ETOOLARGE, n += frame(w, 0x82, big, 0, 1); memcpy(w, "\x82\xfe\x03\xe9", 4);
        n = 4); /* 1001 bytes > 1000: at once */
    BAD(1, 1009, TN_ETOOLARGE, n += frame(w, 0x02, big, 200, 1);
        for (int i = 0; i < 4; i++) n += frame(w + n, 0x00, big, 200, 1);
        n += frame(w + n, 0x80, big, 1, 1));                        /* 1001 over fragments */
    BAD(1, 1007, TN_EHTTP, n += frame(w, 0x81, "a\xc0\xaf", 3, 1)); /* overlong */
    BAD(1, 1007, TN_EHTTP, n += frame(w, 0x01, "ok\xce", 3, 1);
        n += frame(w + n, 0x80, "\x41", 1, 1));                /* bad at fragment boundary */
    BAD(1, 1007, TN_EHTTP, n += frame(w, 0x81, "\xce", 1, 1)); /* cut off at the end */
    BAD(1, 1007, TN_EHTTP, n += frame(w, 0x88, "\x03\xe8\xff", 3, 1)); /* close reason */
    BAD(1, 1002, TN_EHTTP, n += frame(w, 0x88, "\x03", 1, 1));         /* close body of one byte */
    static const int bad_codes[] = {0, 999, 1004, 1005, 1006, 1012, 1015, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof bad_codes / sizeof *bad_codes; i++) {
        char body[2] = {(char)(bad_codes[i] >> 8), (char)bad_codes[i]};
        BAD(1, 1002, TN_EHTTP, n += frame(w, 0x88, body, 2, 1));
    }
#undef BAD
}

Test(websocket_proto, utf8_fails_before_the_message_ends)
{
    /* The invalid byte is in the first fragment; the failure comes right
     * then, not at FIN. */
    char w[64];
    size_t n = frame(w, 0x01, "ab\xed\xa0", 4, 1);
    rec_t *r = rec_new(1, 0, NULL);
    cr_assert_eq(tn__ws_feed(r->w, w, n), TN_EHTTP);
    cr_assert_eq(sent_close_code(r), 1007);
    rec_free(r);
}

Test(websocket_proto, valid_close_codes_are_echoed)
{
    static const int codes[] = {1000, 1001, 1003, 1007, 1011, 3000, 4999};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        char body[4] = {(char)(codes[i] >> 8), (char)codes[i], 'o', 'k'};
        char w[16];
        size_t n = frame(w, 0x88, body, 4, 1);
        rec_t *r = rec_new(1, 0, NULL);
        cr_assert_eq(tn__ws_feed(r->w, w, n), TN__WS_CLOSED);
        cr_assert_eq(r->close_code, codes[i]);
        cr_assert_eq(sent_close_code(r), codes[i]);
        rec_free(r);
    }
    /* An empty Close is answered by an empty one; the code reported is 1005. */
    char w[8];
    size_t n = frame(w, 0x88, "", 0, 1);
    rec_t *r = rec_new(1, 0, NULL);
    cr_assert_eq(tn__ws_feed(r->w, w, n), TN__WS_CLOSED);
    cr_assert_eq(r->close_code, 1005);
    cr_assert_eq(sent_close_code(r), 0);
    rec_free(r);
}

Test(websocket_proto, nothing_sent_after_our_close)
{
    rec_t *r = rec_new(1, 0, NULL);
    cr_assert_eq(tn__ws_send_close(r->w, 1000, "done", 4), 0);
    size_t after = r->out_len;
    cr_assert_eq(tn__ws_send_close(r->w, 1000, "", 0), TN_ECLOSED);
    cr_assert_eq(tn__ws_send_message(r->w, 0, "late", 4), TN_ECLOSED);
    cr_assert_eq(tn__ws_send_control(r->w, TN__WS_OP_PING, "p", 1), TN_ECLOSED);
    /* The peer's ping is not answered, its message not delivered; its
     * Close completes the handshake without a second Close from us. */
    char w[64];
    size_t n = frame(w, 0x89, "p", 1, 1);
    n += frame(w + n, 0x81, "msg", 3, 1);
    n += frame(w + n, 0x88, "\x03\xe8", 2, 1);
    cr_assert_eq(tn__ws_feed(r->w, w, n), TN__WS_CLOSED);
    cr_assert_eq(r->out_len, after);
    cr_assert_eq(r->msgs, 0);
    cr_assert_eq(r->close_code, 1000);
    rec_free(r);
}

Test(websocket_proto, send_close_argument_rules)
{
    rec_t *r = rec_new(0, 0, NULL);
    char long_reason[124];
    memset(long_reason, 'r', sizeof long_reason);
    cr_assert_eq(tn__ws_send_close(r->w, 1005, NULL, 0), TN_EINVAL);
    cr_assert_eq(tn__ws_send_close(r->w, 0, "x", 1), TN_EINVAL);
    cr_assert_eq(tn__ws_send_close(r->w, 1000, long_reason, 124), TN_EINVAL);
    cr_assert_eq(tn__ws_send_close(r->w, 1000, "\xff", 1), TN_EINVAL);
    cr_assert_eq(tn__ws_send_control(r->w, TN__WS_OP_PING, long_reason, 126), TN_EINVAL);
    cr_assert_eq(r->out_len, 0);
    cr_assert_eq(tn__ws_send_close(r->w, 4000, long_reason, 123), 0);
    /* client frames are masked: decode through a server machine */
    rec_t *s = rec_new(1, 0, NULL);
    cr_assert_eq(tn__ws_feed(s->w, r->out, r->out_len), TN__WS_CLOSED);
    cr_assert_eq(s->close_code, 4000);
    rec_free(s);
    rec_free(r);
}

/* ---- permessage-deflate --------------------------------------------------- */

Test(websocket_proto, pmd_negotiation)
{
    tn__ws_pmd_t a;
    char resp[128];
    tn__ws_zopts_t zo = {0};
    cr_assert_eq(tn__ws_pmd_accept("x-webkit-deflate-frame", 22, &zo, &a, resp, sizeof resp), 0);
    cr_assert_eq(a.enabled, 0);
    const char *offer = "permessage-deflate; server_max_window_bits=8, "
                        "permessage-deflate; client_max_window_bits; server_no_context_takeover";
    cr_assert_eq(tn__ws_pmd_accept(offer, strlen(offer), &zo, &a, resp, sizeof resp), 1);
    cr_assert_str_eq(resp, "permessage-deflate; server_no_context_takeover");
    cr_assert(a.enabled && a.server_no_context_takeover && !a.client_no_context_takeover);
    const char *bad = "permessage-deflate; foo, permessage-deflate; server_max_window_bits=16,"
                      "permessage-deflate; client_no_context_takeover; client_no_context_takeover";
    cr_assert_eq(tn__ws_pmd_accept(bad, strlen(bad), &zo, &a, resp, sizeof resp), 0);
    zo.max_window_bits = 10;
    zo.no_context_takeover = 1;
    cr_assert_eq(tn__ws_pmd_accept("permessage-deflate", 18, &zo, &a, resp, sizeof resp), 1);
    cr_assert_str_eq(resp,
                     "permessage-deflate; server_no_context_takeover; server_max_window_bits=10");
    /* client side */
    char off[128];
    cr_assert(tn__ws_pmd_offer(&zo, off, sizeof off) > 0);
    cr_assert_str_eq(off,
                     "permessage-deflate; client_max_window_bits=10; client_no_context_takeover");
    tn__ws_zopts_t cz = {0};
    const char *r1 = "permessage-deflate; server_no_context_takeover; client_max_window_bits=12";
    cr_assert_eq(tn__ws_pmd_parse_response(r1, strlen(r1), &cz, &a), 0);
    cr_assert(a.enabled && a.server_no_context_takeover && a.client_max_window_bits == 12);
    static const char *const refused[] = {
        "permessage-deflate; client_max_window_bits", /* a response must give a value */
        "permessage-deflate; client_max_window_bits=8", "permessage-deflate; bogus",
        "permessage-deflate, permessage-deflate",       "x-other",
    };
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(tn__ws_pmd_parse_response(refused[i], strlen(refused[i]), &cz, &a), TN_EHTTP,
                     "%s", refused[i]);
    /* an extension the client never offered */
    cr_assert_eq(tn__ws_pmd_parse_response("permessage-deflate", 18, NULL, &a), TN_EHTTP);
}

Test(websocket_proto, pmd_rfc7692_example)
{
    /* RFC 7692 section 7.2.3.1: "Hello" in one compressed frame, and in two
     * fragments; the client side reads unmasked server frames. */
    tn__ws_pmd_t a = {.enabled = 1};
    rec_t *c = rec_new(0, 0, &a);
    cr_assert_eq(tn__ws_feed(c->w, "\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", 9), 0);
    cr_assert_eq(c->msgs, 1);
    cr_assert_eq(c->last_len, 5);
    cr_assert_eq(memcmp(c->last, "Hello", 5), 0);
    cr_assert_eq(tn__ws_feed(c->w, "\x41\x03\xf2\x48\xcd\x80\x04\xc9\xc9\x07\x00", 11), 0);
    cr_assert_eq(c->msgs, 2);
    cr_assert_eq(memcmp(c->last, "Hello", 5), 0);
    /* RSV1 on a continuation frame is a protocol error */
    cr_assert_eq(tn__ws_feed(c->w, "\x41\x01\x00\xc0\x00", 5), TN_EHTTP);
    rec_free(c);
}

static void deflate_roundtrip(const tn__ws_pmd_t *a, size_t chunk)
{
    tn__ws_zopts_t zo = {.level = 1, .mem_level = 4};
    rec_t *s = rec_new(1, 0, a);
    rec_t *c = calloc(1, sizeof *c);
    tn__ws_config_t cfg = {.server = 0, .pmd = a, .zopts = &zo};
    cr_assert_eq(tn__ws_new(&cfg, &rec_events, c, &c->w), 0);
    s->echo = 1;
    char msg[3000];
    /* two empty messages in a row first: zlib has nothing to flush for the
     * second, which must still reach the peer as a decodable payload */
    for (int round = 0; round < 5; round++) {
        size_t n = round <= 1 ? 0 : (size_t)(round - 1) * 1000;
        for (size_t i = 0; i < n; i++)
            msg[i] = (char)('a' + (i * i + round) % 7);
        size_t before = c->out_len;
        cr_assert_eq(tn__ws_send_message(c->w, 0, msg, n), 0);
        cr_assert_eq(c->out[before] & 0x40, 0x40); /* RSV1 */
        cr_assert_eq(feed_chunks(s->w, c->out + before, c->out_len - before, chunk), 0);
        cr_assert_eq(s->last_len, n);
        cr_assert_eq(memcmp(s->last, msg, n), 0);
        size_t sb = s->out_len;
        (void)sb;
    }
    /* everything the server echoed decodes on the client */
    cr_assert_eq(feed_chunks(c->w, s->out, s->out_len, chunk), 0);
    cr_assert_eq(c->msgs, 5);
    cr_assert_eq(memcmp(c->last, msg, 3000), 0);
    rec_free(s);
    rec_free(c);
}

Test(websocket_proto, pmd_roundtrip_with_and_without_context_takeover)
{
    tn__ws_pmd_t keep = {.enabled = 1};
    tn__ws_pmd_t reset = {.enabled = 1,
                          .server_no_context_takeover = 1,
                          .client_no_context_takeover = 1,
                          .server_max_window_bits = 9,
                          .client_max_window_bits = 10};
    static const size_t chunks[] = {1, 3, 100, 1 << 20};
    for (size_t i = 0; i < 4; i++) {
        deflate_roundtrip(&keep, chunks[i]);
        deflate_roundtrip(&reset, chunks[i]);
    }
}

static size_t live_bytes, peak_bytes;

static void *c_malloc(size_t n)
{
    size_t *p = malloc(n + 16);
    if (!p)
        return NULL;
    *p = n;
    live_bytes += n;
    if (live_bytes > peak_bytes)
        peak_bytes = live_bytes;
    return (char *)p + 16;
}

static void c_free(void *q)
{
    if (!q)
        return;
    size_t *p = (size_t *)((char *)q - 16);
    live_bytes -= *p;
    free(p);
}

static void *c_realloc(void *q, size_t n)
{
    if (!q)
        return c_malloc(n);
    size_t old = *(size_t *)((char *)q - 16);
    void *r = c_malloc(n);
    if (!r)
        return NULL;
    memcpy(r, q, old < n ? old : n);
    c_free(q);
    return r;
}

static void *c_calloc(size_t k, size_t n)
{
    void *p = c_malloc(k * n);
    if (p)
        memset(p, 0, k * n);
    return p;
}

Test(websocket_proto, deflate_bomb_refused_with_bounded_memory)
{
    /* 64 MiB of zeros compress to ~64 KiB; with a 1 MiB limit the server
     * answers 1009 and never holds more than twice the limit (the message
     * buffer doubles up to the limit; a realloc briefly holds both). */
    tn__ws_pmd_t a = {.enabled = 1};
    tn__ws_zopts_t zo = {.level = 9};
    tn__ws_zlib_t *z;
    cr_assert_eq(tn__ws_zlib_new(&a, &zo, 0, &z), 0);
    size_t big = (size_t)64 << 20;
    char *zeros = calloc(1, big);
    uint8_t *bomb;
    size_t blen;
    cr_assert_eq(tn__ws_zlib_compress(z, zeros, big, &bomb, &blen), 0);
    free(zeros);
    tn__ws_zlib_free(z);
    cr_assert_lt(blen, (size_t)200000);
    char *wire = malloc(blen + 14);
    size_t n = frame(wire, 0xc2, bomb, blen, 1);
    tn_free(bomb);

    cr_assert_eq(tn_replace_allocator(c_malloc, c_realloc, c_calloc, c_free), 0);
    live_bytes = peak_bytes = 0;
    rec_t *r = rec_new(1, 1 << 20, &a);
    int rc = feed_chunks(r->w, wire, n, 4096);
    cr_assert_eq(rc, TN_ETOOLARGE);
    cr_assert_eq(sent_close_code(r), 1009);
    rec_free(r);
    cr_assert_eq(tn_replace_allocator(malloc, realloc, calloc, free), 0);
    cr_assert_lt(peak_bytes, (size_t)(2 << 20), "peak %zu", peak_bytes);
    cr_assert_eq(live_bytes, 0);
    free(wire);
}

Test(websocket_proto, corrupt_deflate_stream_fails)
{
    tn__ws_pmd_t a = {.enabled = 1};
    rec_t *r = rec_new(1, 0, &a);
    char w[32];
    size_t n = frame(w, 0xc1, "\xff\xff\xff\xff\xff", 5, 1);
    cr_assert_eq(tn__ws_feed(r->w, w, n), TN_EHTTP);
    cr_assert_eq(sent_close_code(r), 1002);
    rec_free(r);
}

/* ---- handshake --------------------------------------------------------------- */

Test(websocket_proto, accept_value_rfc6455_example)
{
    char out[TN__WS_ACCEPT_LEN + 1];
    cr_assert_eq(tn__ws_accept_value("dGhlIHNhbXBsZSBub25jZQ==", 24, out), 0);
    cr_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    char key[TN__WS_KEY_LEN + 1], key2[TN__WS_KEY_LEN + 1];
    cr_assert_eq(tn__ws_new_key(key), 0);
    cr_assert_eq(tn__ws_new_key(key2), 0);
    cr_assert(tn__ws_key_valid(key, strlen(key)));
    cr_assert_str_neq(key, key2);
}

Test(websocket_proto, key_validation)
{
    cr_assert(tn__ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==", 24));
    cr_assert(tn__ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA==", 24));
    static const char *const bad[] = {
        "dGhlIHNhbXBsZSBub25jZQ=",   /* 23 */
        "dGhlIHNhbXBsZSBub25jZQ===", /* 25 */
        "dGhlIHNhbXBsZSBub25jZR==",  /* nonzero padding bits */
        "dGhlIHNhbXBsZSBub25jZQAA",  /* 18 bytes, no padding */
        "dGhlIHNhbXBsZSBub25j!Q==",  /* not base64 */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert(!tn__ws_key_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
}

Test(websocket_proto, token_lists)
{
    cr_assert(tn__ws_has_token("keep-alive, Upgrade", 19, "upgrade"));
    cr_assert(tn__ws_has_token("UPGRADE", 7, "upgrade"));
    cr_assert(tn__ws_has_token(" websocket ", 11, "websocket"));
    cr_assert(!tn__ws_has_token("upgrade2", 8, "upgrade"));
    cr_assert(!tn__ws_has_token("keep-alive", 10, "upgrade"));
    cr_assert(!tn__ws_has_token("", 0, "upgrade"));
}

static int check(const char *method, int version, const char *const *hdrs)
{
    tn_headers_t *h;
    cr_assert_eq(tn_headers_new(&h), 0);
    for (size_t i = 0; hdrs[i]; i += 2)
        cr_assert_eq(tn_headers_add(h, hdrs[i], strlen(hdrs[i]), hdrs[i + 1], strlen(hdrs[i + 1])),
                     0);
    int st = tn__ws_check_request(method, strlen(method), version, h);
    tn_headers_free(h);
    return st;
}

Test(websocket_proto, server_request_checks)
{
#define H(...) ((const char *const[]){__VA_ARGS__, NULL})
#define GOOD "Host", "x", "Upgrade", "websocket", "Connection", "keep-alive, Upgrade"
#define KEY "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="
    cr_assert_eq(check("GET", 11, H(GOOD, KEY, "Sec-WebSocket-Version", "13")), 0);
    cr_assert_eq(check("POST", 11, H(GOOD, KEY, "Sec-WebSocket-Version", "13")), 405);
    cr_assert_eq(check("GET", 10, H(GOOD, KEY, "Sec-WebSocket-Version", "13")), 400);
    cr_assert_eq(check("GET", 11,
                       H("Host", "x", "Upgrade", "h2c", "Connection", "upgrade", KEY,
                         "Sec-WebSocket-Version", "13")),
                 400);
    cr_assert_eq(check("GET", 11,
                       H("Host", "x", "Upgrade", "websocket", "Connection", "close", KEY,
                         "Sec-WebSocket-Version", "13")),
                 400);
    cr_assert_eq(check("GET", 11,
                       H("Upgrade", "websocket", "Connection", "upgrade", KEY,
                         "Sec-WebSocket-Version", "13")),
                 400);
    cr_assert_eq(check("GET", 11, H(GOOD, KEY, "Sec-WebSocket-Version", "8")), 426);
    cr_assert_eq(check("GET", 11, H(GOOD, KEY)), 426);
    cr_assert_eq(check("GET", 11, H(GOOD, "Sec-WebSocket-Version", "13")), 400);
    cr_assert_eq(
        check("GET", 11, H(GOOD, "Sec-WebSocket-Key", "short==", "Sec-WebSocket-Version", "13")),
        400);
    cr_assert_eq(check("GET", 11, H(GOOD, KEY, KEY, "Sec-WebSocket-Version", "13")), 400);
#undef H
#undef GOOD
#undef KEY
}

Test(websocket_proto, client_response_checks)
{
    static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
    const char *protos[] = {"chat", "superchat", NULL};
    tn__ws_client_result_t res;
#define OK_HEAD "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
#define ACC "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    const char *good = OK_HEAD ACC "Sec-WebSocket-Protocol: chat\r\n\r\n";
    cr_assert_eq(tn__ws_client_check(good, strlen(good), key, protos, NULL, &res), 0);
    cr_assert_str_eq(res.subprotocol, "chat");
    cr_assert_eq(res.pmd.enabled, 0);
    tn__ws_zopts_t zo = {0};
    const char *z = OK_HEAD ACC "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    cr_assert_eq(tn__ws_client_check(z, strlen(z), key, NULL, &zo, &res), 0);
    cr_assert_eq(res.pmd.enabled, 1);
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        OK_HEAD "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
        OK_HEAD "\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" ACC "\r\n",
        OK_HEAD ACC "Sec-WebSocket-Protocol: other\r\n\r\n",
        OK_HEAD ACC "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", /* not offered */
        OK_HEAD ACC " folded\r\n\r\n",
        OK_HEAD ACC,             /* no blank line */
        OK_HEAD ACC "\r\nextra", /* bytes after the head */
        "HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" ACC "X: a\x01\r\n\r\n",
        "HTTP/2 101 x\r\n\r\n",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(tn__ws_client_check(bad[i], strlen(bad[i]), key, protos, NULL, &res), TN_EHTTP,
                     "case %zu", i);
    cr_assert_eq(tn__ws_client_check(bad[0], strlen(bad[0]), key, NULL, NULL, &res), TN_EHTTP);
    cr_assert_eq(res.status, 200);
#undef OK_HEAD
#undef ACC
}

/* ---- allocation failures ------------------------------------------------- */

static long fail_after; /* allocations left before they fail (< 0: never) */

static void *f_malloc(size_t n)
{
    if (fail_after == 0)
        return NULL;
    if (fail_after > 0)
        fail_after--;
    return c_malloc(n);
}

static void *f_realloc(void *q, size_t n)
{
    if (fail_after == 0)
        return NULL;
    if (fail_after > 0)
        fail_after--;
    return c_realloc(q, n);
}

static void *f_calloc(size_t k, size_t n)
{
    if (fail_after == 0)
        return NULL;
    if (fail_after > 0)
        fail_after--;
    return c_calloc(k, n);
}

Test(websocket_proto, allocation_failure_sweep)
{
    /* A compressed, fragmented conversation with echoes (compression and
     * masking allocate) under the Nth allocation failing, for every N until
     * one run needs no failure: each run ends in events or a clean failure,
     * and everything allocated is given back. */
    tn__ws_pmd_t a = {.enabled = 1};
    tn__ws_zopts_t zo = {.level = 1, .mem_level = 1, .max_window_bits = 9};
    tn__ws_zlib_t *z;
    cr_assert_eq(tn__ws_zlib_new(&a, &zo, 0, &z), 0);
    char text[5000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i % 23);
    uint8_t *zp;
    size_t zl;
    cr_assert_eq(tn__ws_zlib_compress(z, text, sizeof text, &zp, &zl), 0);
    tn__ws_zlib_free(z);
    char *wire = malloc(zl + 64);
    size_t half = zl / 2, n = 0;
    n += frame(wire + n, 0x41, zp, half, 1);
    n += frame(wire + n, 0x89, "p", 1, 1);
    n += frame(wire + n, 0x80, zp + half, zl - half, 1);
    n += frame(wire + n, 0x88, "\x03\xe8", 2, 1);
    tn_free(zp);
    int completed = 0;
    for (long k = 0; k < 200 && !completed; k++) {
        cr_assert_eq(tn_replace_allocator(f_malloc, f_realloc, f_calloc, c_free), 0);
        live_bytes = 0;
        fail_after = k;
        rec_t *r = calloc(1, sizeof *r);
        tn__ws_config_t cfg = {.server = 1, .pmd = &a, .zopts = &zo};
        int rc = tn__ws_new(&cfg, &rec_events, r, &r->w);
        if (rc == 0) {
            r->echo = 1;
            rc = feed_chunks(r->w, wire, n, 7);
            cr_assert(rc == TN__WS_CLOSED || rc == TN_ENOMEM, "k %ld: rc %d", k, rc);
            completed = rc == TN__WS_CLOSED && r->msgs == 1;
            tn__ws_free(r->w);
        } else {
            cr_assert_eq(rc, TN_ENOMEM);
        }
        fail_after = -1;
        cr_assert_eq(tn_replace_allocator(malloc, realloc, calloc, free), 0);
        cr_assert_eq(live_bytes, 0, "k %ld: %zu bytes leaked", k, live_bytes);
        free(r->out);
        free(r->last);
        free(r);
    }
    cr_assert(completed, "no run completed within 200 allocations");
    free(wire);
}
