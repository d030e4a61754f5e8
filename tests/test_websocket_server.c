/* The WebSocket server (tn_websocket_handler) over the in-memory transport:
 * the upgrade's refusals (400, 403, 405, 426), the 101, then Autobahn-style
 * frame cases fed at every byte split, decoded from what the server wrote.
 * The same bytes give the same answer however they are cut. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop_util.h"
#include "mt_http.h"
#include "tornuv.h"
#include "websocket_proto.h"

/* ---- the application under test ---------------------------------------- */

typedef struct {
    int opens, closes, code;
    char reason[128];
    char args[64];
    int pings;
} stats_t;

static stats_t st;

static void echo_open(tn_websocket_t *ws, const tn_strview_t *args, size_t n)
{
    st.opens++;
    st.args[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(st.args + strlen(st.args), sizeof st.args - strlen(st.args), "%s%.*s",
                 i ? "," : "", (int)args[i].len, args[i].base);
    (void)ws;
}

static void echo_message(tn_websocket_t *ws, int binary, const char *d, size_t n)
{
    cr_assert_eq(tn_websocket_write_message(ws, d, n, binary, NULL, NULL), 0);
}

static void echo_ping(tn_websocket_t *ws, const char *d, size_t n)
{
    (void)ws;
    (void)d;
    (void)n;
    st.pings++;
}

static void echo_close(tn_websocket_t *ws, int code, const char *reason, size_t n)
{
    (void)ws;
    st.closes++;
    st.code = code;
    snprintf(st.reason, sizeof st.reason, "%.*s", (int)n, reason);
}

static int pick_chat(tn_handler_t *h, void *state, const tn_strview_t *offered, size_t n)
{
    (void)h;
    (void)state;
    for (size_t i = 0; i < n; i++)
        if (offered[i].len == 4 && memcmp(offered[i].base, "chat", 4) == 0)
            return (int)i;
    return -1;
}

static const tn_websocket_compression_t deflate_opts = {.level = 1};

static const tn_websocket_compression_t *want_deflate(tn_handler_t *h, void *state)
{
    (void)h;
    (void)state;
    return &deflate_opts;
}

static int only_good_origin(tn_handler_t *h, void *state, const char *o, size_t n)
{
    (void)h;
    (void)state;
    return n == 19 && memcmp(o, "http://good.example", 19) == 0;
}

static const tn_websocket_class_t echo_cls = {
    .name = "echo",
    .settings = {.max_message_size = 1 << 20},
    .open = echo_open,
    .on_message = echo_message,
    .on_ping = echo_ping,
    .on_close = echo_close,
};

static const tn_websocket_class_t fancy_cls = {
    .name = "fancy",
    .open = echo_open,
    .on_message = echo_message,
    .on_close = echo_close,
    .select_subprotocol = pick_chat,
    .get_compression_options = want_deflate,
    .check_origin = only_good_origin,
};

typedef struct {
    tn_ioloop_t *loop;
    tn_app_t *app;
    tn_httpserver_t *srv;
    tn_mh_t c;
} w_t;

static void w_start(w_t *w)
{
    memset(w, 0, sizeof *w);
    memset(&st, 0, sizeof st);
    cr_assert_eq(tn_app_new(NULL, &w->app), 0);
    cr_assert_eq(
        tn_app_add_route(w->app, NULL, "/ws/echo", &tn_websocket_handler, (void *)&echo_cls, NULL),
        0);
    cr_assert_eq(tn_app_add_route(w->app, NULL, "/ws/args/([a-z]+)/(\\d+)", &tn_websocket_handler,
                                  (void *)&echo_cls, NULL),
                 0);
    cr_assert_eq(tn_app_add_route(w->app, NULL, "/ws/fancy", &tn_websocket_handler,
                                  (void *)&fancy_cls, NULL),
                 0);
    tn_httpserver_options_t o = {0};
    o.request_cb = tn_app_request_cb;
    o.request_arg = w->app;
    w->loop = tn_test_loop_new();
    cr_assert_eq(tn_httpserver_new(w->loop, &o, &w->srv), 0);
    w->c = tn_mh_connect(w->loop, w->srv, "127.0.0.1");
}

static void w_done(w_t *w)
{
    if (!w->c.mt->closed)
        tn_mt_eof(w->c.mt, TN_EOF);
    tn_mh_turns(&w->c, 10);
    tn_mh_finish(w->loop, w->srv, &w->c, 1);
    tn_app_free(w->app);
}

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define UPGRADE(path, extra)                                                                       \
    "GET " path " HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"                         \
    "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"                            \
    "Sec-WebSocket-Version: 13\r\n" extra "\r\n"

/* ---- refusals -------------------------------------------------------------- */

static void expect_refusal(const char *req, const char *status_line, const char *header)
{
    w_t w;
    w_start(&w);
    tn_mh_sends(&w.c, req);
    cr_assert(tn_mh_starts(&w.c, status_line), "%s -> %.*s", req, (int)w.c.mt->out_len,
              w.c.mt->out);
    if (header)
        cr_assert_eq(tn_mh_count(&w.c, header), 1, "%s", header);
    cr_assert_eq(tn_mh_count(&w.c, "Sec-WebSocket-Accept"), 0);
    cr_assert_eq(st.opens, 0);
    w_done(&w);
    cr_assert_eq(st.closes, 0);
}

Test(websocket_server, handshake_refusals)
{
    expect_refusal("GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
                   "Upgrade\r\nSec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 8\r\n\r\n",
                   "HTTP/1.1 426 ", "Sec-WebSocket-Version: 13\r\n");
    expect_refusal("GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
                   "Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n\r\n",
                   "HTTP/1.1 426 ", "Sec-WebSocket-Version: 13\r\n");
    expect_refusal("GET /ws/echo HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
                   "Upgrade\r\nSec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   "HTTP/1.0 400 ", NULL);
    expect_refusal("GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
                   "Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   "HTTP/1.1 400 ", NULL);
    expect_refusal("GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: "
                   "Upgrade\r\nSec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   "HTTP/1.1 400 ", NULL);
    expect_refusal("GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
                   "keep-alive\r\nSec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   "HTTP/1.1 400 ", NULL);
    expect_refusal("POST /ws/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                   "HTTP/1.1 405 ", NULL);
    /* default check_origin: same origin only */
    expect_refusal(UPGRADE("/ws/echo", "Origin: http://evil.example\r\n"), "HTTP/1.1 403 ", NULL);
    /* the class's check_origin */
    expect_refusal(UPGRADE("/ws/fancy", "Origin: http://example.com\r\n"), "HTTP/1.1 403 ", NULL);
}

/* ---- frames ---------------------------------------------------------------- */

typedef struct {
    char log[4096];
    int code;
} dec_t;

static int d_send(void *arg, const uint8_t *h, size_t hl, const uint8_t *p, size_t n)
{
    (void)arg;
    (void)h;
    (void)hl;
    (void)p;
    (void)n;
    return 0;
}

static void d_message(void *arg, int op, const char *d, size_t n)
{
    dec_t *x = arg;
    size_t at = strlen(x->log);
    if (n <= 32)
        snprintf(x->log + at, sizeof x->log - at, "%s:%.*s\n", op == 1 ? "text" : "binary", (int)n,
                 d);
    else
        snprintf(x->log + at, sizeof x->log - at, "%s:%zu bytes\n", op == 1 ? "text" : "binary", n);
}

static void d_pong(void *arg, const char *d, size_t n)
{
    dec_t *x = arg;
    size_t at = strlen(x->log);
    snprintf(x->log + at, sizeof x->log - at, "pong:%.*s\n", (int)n, d);
}

static void d_close(void *arg, int code, const char *r, size_t n)
{
    dec_t *x = arg;
    size_t at = strlen(x->log);
    snprintf(x->log + at, sizeof x->log - at, "close:%d%s%.*s\n", code, n ? ":" : "", (int)n, r);
    x->code = code;
}

/* Decodes what the server wrote after its 101 head (client role). */
static void decode(const tn_mh_t *c, dec_t *x, const tn__ws_pmd_t *pmd)
{
    memset(x, 0, sizeof *x);
    const char *out = c->mt->out;
    size_t n = c->mt->out_len;
    cr_assert(n >= 12 && memcmp(out, "HTTP/1.1 101 ", 13) == 0, "no 101: %.*s", (int)n, out);
    const char *end = strstr(out, "\r\n\r\n");
    cr_assert_not_null(end);
    size_t head = (size_t)(end + 4 - out);
    tn__ws_events_t ev = {d_send, d_message, NULL, d_pong, d_close};
    tn__ws_config_t cfg = {.server = 0, .max_message = 8 << 20, .pmd = pmd};
    tn__ws_t *w;
    cr_assert_eq(tn__ws_new(&cfg, &ev, x, &w), 0);
    int rc = tn__ws_feed(w, out + head, n - head);
    cr_assert(rc == 0 || rc == TN__WS_CLOSED, "server output undecodable: %d", rc);
    tn__ws_free(w);
}

static size_t frame(char *out, int b0, const void *payload, size_t n)
{
    static const uint8_t key[4] = {0xa1, 0x07, 0x5c, 0xe3};
    uint8_t hdr[TN__WS_MAX_HEADER];
    size_t h = tn__ws_frame_header(hdr, 1, 0, 0, n, key);
    hdr[0] = (uint8_t)b0;
    memcpy(out, hdr, h);
    tn__ws_mask((uint8_t *)out + h, payload, n, key, 0);
    return h + n;
}

/* Sends the upgrade plus frames in chunks; returns the decoded log. */
static void run_case(const char *frames, size_t flen, size_t chunk, dec_t *x, int *closes,
                     int *code)
{
    w_t w;
    w_start(&w);
    size_t hl = strlen(UPGRADE("/ws/echo", ""));
    char *all = malloc(hl + flen);
    memcpy(all, UPGRADE("/ws/echo", ""), hl);
    memcpy(all + hl, frames, flen);
    cr_assert_eq(tn_mh_send(&w.c, all, hl + flen, chunk), hl + flen);
    free(all);
    tn_mh_turns(&w.c, 5);
    cr_assert_eq(st.opens, 1);
    decode(&w.c, x, NULL);
    /* after a Close the server shut its side down */
    if (x->code)
        cr_assert(w.c.mt->shut, "no FIN after the close handshake");
    w_done(&w);
    *closes = st.closes;
    *code = st.code;
}

static void at_every_split(const char *frames, size_t flen, const char *want, int want_code)
{
    size_t max = flen + 200;
    for (size_t chunk = 1; chunk <= max; chunk += chunk < 24 ? 1 : 37) {
        dec_t x;
        int closes, code;
        run_case(frames, flen, chunk, &x, &closes, &code);
        cr_assert_str_eq(x.log, want, "chunk %zu", chunk);
        cr_assert_eq(closes, 1, "on_close exactly once (chunk %zu)", chunk);
        cr_assert_eq(code, want_code, "chunk %zu: server saw %d", chunk, code);
    }
}

Test(websocket_server, upgrade_head)
{
    w_t w;
    w_start(&w);
    tn_mh_sends(&w.c, UPGRADE("/ws/args/abc/42", ""));
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 101 Switching Protocols\r\n"));
    cr_assert_eq(tn_mh_count(&w.c, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), 1);
    cr_assert_eq(tn_mh_count(&w.c, "Upgrade: websocket\r\n"), 1);
    cr_assert_eq(tn_mh_count(&w.c, "Connection: Upgrade\r\n"), 1);
    cr_assert_eq(tn_mh_count(&w.c, "Content-Type"), 0);
    cr_assert_eq(tn_mh_count(&w.c, "Content-Length"), 0);
    cr_assert_eq(tn_mh_count(&w.c, "Sec-WebSocket-Protocol"), 0);
    cr_assert_eq(tn_mh_count(&w.c, "Sec-WebSocket-Extensions"), 0);
    cr_assert_eq(st.opens, 1);
    cr_assert_str_eq(st.args, "abc,42");
    /* the HTTP server no longer counts the connection */
    cr_assert_eq(tn_httpserver_connection_count(w.srv), 0);
    w_done(&w);
    cr_assert_eq(st.closes, 1);
    cr_assert_eq(st.code, TN_WS_CLOSE_ABNORMAL);
}

Test(websocket_server, subprotocol_and_deflate_negotiated)
{
    w_t w;
    w_start(&w);
    tn_mh_sends(&w.c, UPGRADE("/ws/fancy", "Origin: http://good.example\r\n"
                                           "Sec-WebSocket-Protocol: superchat, chat\r\n"
                                           "Sec-WebSocket-Extensions: permessage-deflate; "
                                           "client_max_window_bits\r\n"));
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 101 "));
    cr_assert_eq(tn_mh_count(&w.c, "Sec-WebSocket-Protocol: chat\r\n"), 1);
    cr_assert_eq(tn_mh_count(&w.c, "Sec-WebSocket-Extensions: permessage-deflate\r\n"), 1);
    /* A compressed message ("Hello", RFC 7692) is inflated and the echo
     * compressed back. */
    char f[32];
    size_t n = frame(f, 0xc1, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
    tn_mh_send(&w.c, f, n, 1);
    tn__ws_pmd_t pmd = {.enabled = 1};
    dec_t x;
    decode(&w.c, &x, &pmd);
    cr_assert_str_eq(x.log, "text:Hello\n");
    const char *out = w.c.mt->out;
    const char *frames = strstr(out, "\r\n\r\n") + 4;
    cr_assert_eq((uint8_t)frames[0], 0xc1, "echo is compressed (RSV1)");
    w_done(&w);
}

Test(websocket_server, echo_sizes)
{
    static const size_t sizes[] = {0, 125, 126, 65535, 65536, 1 << 20};
    for (size_t i = 0; i < 6; i++) {
        size_t n = sizes[i];
        char *p = malloc(n + 1), *f = malloc(n + 32);
        for (size_t k = 0; k < n; k++)
            p[k] = (char)(k * 31);
        size_t fl = frame(f, 0x82, p, n);
        fl += frame(f + fl, 0x88, "\x03\xe8", 2);
        for (size_t chunk = 1; chunk <= (n < 200 ? 200 : 1 << 21); chunk = chunk * 7 + 3) {
            if (n > 70000 && chunk < 4096)
                continue;
            dec_t x;
            int closes, code;
            run_case(f, fl, chunk, &x, &closes, &code);
            char want[128];
            if (n <= 32)
                snprintf(want, sizeof want, "binary:\nclose:1000\n");
            else
                snprintf(want, sizeof want, "binary:%zu bytes\nclose:1000\n", n);
            cr_assert_str_eq(x.log, want, "size %zu chunk %zu", n, chunk);
            cr_assert_eq(code, 1000);
            cr_assert_eq(closes, 1);
        }
        free(p);
        free(f);
    }
}

Test(websocket_server, fragments_with_interleaved_pings)
{
    char f[256];
    size_t n = 0;
    n += frame(f + n, 0x01, "Hel", 3);
    n += frame(f + n, 0x89, "p1", 2);
    n += frame(f + n, 0x00, "lo, ", 4);
    n += frame(f + n, 0x89, "p2", 2);
    n += frame(f + n, 0x80, "\xce\xba\xe1\xbd\xb9", 5);
    n += frame(f + n, 0x88,
               "\x03\xe8"
               "ok",
               4);
    at_every_split(f, n, "pong:p1\npong:p2\ntext:Hello, \xce\xba\xe1\xbd\xb9\nclose:1000\n", 1000);
}

Test(websocket_server, invalid_utf8_at_a_fragment_boundary)
{
    char f[64];
    size_t n = 0;
    n += frame(f + n, 0x01, "ab\xe1", 3);
    n += frame(f + n, 0x80,
               "\xbd"
               "x",
               2); /* E1 BD 78: the third byte is no continuation */
    at_every_split(f, n, "close:1007\n", TN_WS_CLOSE_ABNORMAL);
}

Test(websocket_server, bad_close_codes)
{
    static const int bad[] = {0, 999, 1004, 1005, 1006, 1015, 2999, 5000};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char body[2] = {(char)(bad[i] >> 8), (char)bad[i]};
        char f[16];
        size_t n = frame(f, 0x88, body, 2);
        dec_t x;
        int closes, code;
        run_case(f, n, 0 + 3, &x, &closes, &code);
        cr_assert_str_eq(x.log, "close:1002\n", "code %d", bad[i]);
        cr_assert_eq(closes, 1);
    }
}

Test(websocket_server, reserved_bits_and_opcodes)
{
    static const int b0[] = {0xc1, 0xa1, 0x91, 0x83, 0x87, 0x8b, 0x8f};
    for (size_t i = 0; i < sizeof b0 / sizeof *b0; i++) {
        char f[16];
        size_t n = frame(f, b0[i], "x", 1);
        at_every_split(f, n, "close:1002\n", TN_WS_CLOSE_ABNORMAL);
    }
}

Test(websocket_server, unmasked_client_frame_refused)
{
    dec_t x;
    int closes, code;
    run_case("\x81\x02hi", 4, 1, &x, &closes, &code);
    cr_assert_str_eq(x.log, "close:1002\n");
}

Test(websocket_server, message_over_the_limit)
{
    /* the class allows 1 MiB: a frame header announcing more is refused
     * before its payload */
    char f[16];
    memcpy(f, "\x82\xff\x00\x00\x00\x00\x00\x10\x00\x01", 10);
    memcpy(f + 10, "abcd", 4);
    at_every_split(f, 14, "close:1009\n", TN_WS_CLOSE_ABNORMAL);
}

Test(websocket_server, nothing_after_the_close_handshake)
{
    char f[64];
    size_t n = 0;
    n += frame(f + n, 0x88,
               "\x0f\xa0"
               "x",
               3); /* 4000 */
    n += frame(f + n, 0x81, "late", 4);
    n += frame(f + n, 0x89, "p", 1);
    at_every_split(f, n, "close:4000\n", 4000);
}
