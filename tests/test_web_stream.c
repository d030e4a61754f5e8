/* The web layer streams both ways: stream_request_body handlers (prepare
 * before the body, asynchronous prepare holding the 100 Continue,
 * data_received pieces, early 413, per-request body limits, pause/resume,
 * client leaving mid-body) and streaming responses (flush completion order,
 * a client that stops reading keeps the handler's memory bounded). Over the
 * in-memory transport, input split at every size. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../examples/demo_app.h"
#include "loop_util.h"
#include "mt_http.h"

TestSuite(web_stream, .timeout = 60);

typedef struct {
    tn_ioloop_t *loop;
    tn_app_t *app;
    tn_httpserver_t *srv;
    tn_mh_t c;
} ws_t;

static void ws_open(ws_t *w, const tn_handler_class_t *cls, uint64_t max_body)
{
    memset(w, 0, sizeof *w);
    cr_assert_eq(tn_app_new(NULL, &w->app), 0);
    cr_assert_eq(tn_app_add_route(w->app, NULL, "/up", cls, NULL, NULL), 0);
    tn_httpserver_options_t o = {0};
    w->loop = tn_test_loop_new();
    o.request_cb = tn_app_request_cb;
    o.headers_cb = tn_app_headers_cb;
    o.request_arg = w->app;
    o.max_body_size = max_body;
    cr_assert_eq(tn_httpserver_new(w->loop, &o, &w->srv), 0);
    w->c = tn_mh_connect(w->loop, w->srv, "127.0.0.1");
}

static void ws_done(ws_t *w)
{
    tn_mh_finish(w->loop, w->srv, &w->c, 1);
    tn_app_free(w->app);
}

/* ---- a recording streaming handler --------------------------------------- */

static struct {
    char life[256]; /* i p d... m f x */
    int nlife;
    size_t got;
    unsigned long long hash;
    int pieces;
    size_t limit;       /* data_received: 413 past it */
    int prepare_mode;   /* 0 sync, 1 async, 2 answer 401, 3 set max 10, 4 raise to 1000 */
    int pause_pieces;   /* data_received pauses every piece */
    tn_handler_t *held; /* for resume */
    int set_max_after;  /* tn_handler_set_max_body_size from data_received */
    int late_set_max_rc;
} g;

static void note(char c)
{
    if (g.nlife < (int)sizeof g.life - 1)
        g.life[g.nlife++] = c;
}

static int s_init(tn_handler_t *h, void *arg)
{
    (void)h;
    (void)arg;
    note('i');
    return 0;
}

static int s_prepare(tn_handler_t *h)
{
    note('p');
    switch (g.prepare_mode) {
    case 1:
        g.held = h;
        return TN_WEB_ASYNC;
    case 2:
        return tn_handler_send_error(h, 401);
    case 3:
        cr_assert_eq(tn_handler_set_max_body_size(h, 10), 0);
        return 0;
    case 4:
        cr_assert_eq(tn_handler_set_max_body_size(h, 1000), 0);
        return 0;
    default:
        return 0;
    }
}

static int s_data(tn_handler_t *h, const char *data, size_t len)
{
    note('d');
    cr_assert_gt(len, 0);
    for (size_t i = 0; i < len; i++)
        g.hash = g.hash * 131 + (unsigned char)data[i];
    g.got += len;
    g.pieces++;
    if (g.set_max_after)
        g.late_set_max_rc = tn_handler_set_max_body_size(h, 1 << 20);
    if (g.limit && g.got > g.limit)
        return tn_handler_send_error(h, 413) == 0 ? TN_WEB_DONE : -1;
    if (g.pause_pieces) {
        g.held = h;
        return TN_WEB_ASYNC;
    }
    return TN_WEB_DONE;
}

static int s_put(tn_handler_t *h)
{
    note('m');
    char out[80];
    int n = snprintf(out, sizeof out, "{\"bytes\": %zu, \"hash\": %llu}", g.got, g.hash);
    return tn_handler_write_json(h, out, (size_t)n);
}

static void s_finish(tn_handler_t *h)
{
    (void)h;
    note('f');
}

static void s_gone(tn_handler_t *h)
{
    (void)h;
    note('x');
}

static const tn_handler_class_t stream_class = {
    .name = "Stream",
    .initialize = s_init,
    .prepare = s_prepare,
    .put = s_put,
    .post = s_put,
    .on_finish = s_finish,
    .on_connection_close = s_gone,
    .stream_request_body = 1,
    .data_received = s_data,
};

static unsigned long long hash_of(const char *p, size_t n)
{
    unsigned long long h = 0;
    for (size_t i = 0; i < n; i++)
        h = h * 131 + (unsigned char)p[i];
    return h;
}

static void reset(void)
{
    memset(&g, 0, sizeof g);
}

/* tornado: web_test StreamingRequestBodyTest / test_streaming_body: the
 * pieces make the body, at every split; prepare runs at the headers. */
Test(web_stream, content_length_body_at_every_split)
{
    char body[300];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('A' + i % 50);
    char req[512];
    int hl = snprintf(req, sizeof req, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
                      sizeof body);
    memcpy(req + hl, body, sizeof body);
    size_t total = (size_t)hl + sizeof body;
    for (size_t split = 1; split <= total; split += split < 40 ? 1 : 37) {
        ws_t w;
        reset();
        ws_open(&w, &stream_class, 0);
        cr_assert_eq(tn_mh_send(&w.c, req, (size_t)hl, 0), (size_t)hl);
        cr_assert_str_eq(g.life, "ip", "prepare runs once the headers are in");
        cr_assert_eq(tn_mh_send(&w.c, req + hl, sizeof body, split), sizeof body);
        cr_assert_eq(g.got, sizeof body, "split %zu", split);
        cr_assert_eq(g.hash, hash_of(body, sizeof body));
        cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200 OK"));
        cr_assert_eq(g.life[g.nlife - 2], 'm');
        cr_assert_eq(g.life[g.nlife - 1], 'f');
        ws_done(&w);
    }
}

Test(web_stream, chunked_body_and_empty_body)
{
    ws_t w;
    reset();
    ws_open(&w, &stream_class, 0);
    const char *req = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n";
    tn_mh_send(&w.c, req, strlen(req), 3);
    cr_assert_eq(g.got, 11);
    cr_assert_eq(g.hash, hash_of("hello world", 11));
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200 OK"));
    /* keep-alive: an empty body next; data_received is not called */
    tn_mh_clear(&w.c);
    reset();
    tn_mh_sends(&w.c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    cr_assert_str_eq(g.life, "ipmf");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200 OK"));
    cr_assert_str_eq(tn_mh_last_body(&w.c), "{\"bytes\": 0, \"hash\": 0}");
    ws_done(&w);
}

/* An early 413 from data_received: the method never runs, the rest of the
 * body is not read, the connection closes after the response. */
Test(web_stream, early_413_from_data_received)
{
    ws_t w;
    reset();
    g.limit = 100;
    ws_open(&w, &stream_class, 0);
    tn_mh_sends(&w.c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    char chunk[64];
    memset(chunk, 'z', sizeof chunk);
    size_t taken = 0;
    for (int i = 0; i < 100; i++)
        taken += tn_mh_send(&w.c, chunk, sizeof chunk, 0);
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 413"));
    cr_assert_eq(tn_mh_count(&w.c, "HTTP/1.1"), 1);
    cr_assert_eq(strchr(g.life, 'm'), NULL, "the method never runs");
    cr_assert_leq(g.got, 200);
    cr_assert(w.c.mt->shut || w.c.mt->closed, "the connection ends after the 413");
    cr_assert_lt(taken, 100000);
    ws_done(&w);
}

static void resume_later(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    cr_assert_eq(tn_handler_resume_body(g.held), 0);
}

/* tornado: an asynchronous prepare holds the 100 Continue and the body
 * (HTTP1Connection awaits headers_received's future first). */
Test(web_stream, async_prepare_holds_100_continue_and_body)
{
    ws_t w;
    reset();
    g.prepare_mode = 1;
    ws_open(&w, &stream_class, 0);
    tn_mh_sends(&w.c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      "Expect: 100-continue\r\n\r\n");
    cr_assert_eq(tn_mh_count(&w.c, "100 Continue"), 0, "held while prepare runs");
    /* A client that does not wait for the 100: at most one read is
     * buffered, nothing is delivered. */
    size_t early = tn_mh_send(&w.c, "abc", 3, 0);
    cr_assert_eq(tn_mh_send(&w.c, "de", 2, 0), 0, "one read at most");
    cr_assert_str_eq(g.life, "ip");
    cr_assert_neq(tn_ioloop_call_later(w.loop, 1, resume_later, NULL), 0);
    tn_test_sleep_ms(3);
    tn_mh_turns(&w.c, 3);
    cr_assert_eq(tn_mh_count(&w.c, "HTTP/1.1 100 Continue"), 1);
    cr_assert_eq(tn_mh_send(&w.c, "abcde" + early, 5 - early, 0), 5 - early);
    tn_mh_turns(&w.c, 2);
    cr_assert_eq(g.got, 5);
    cr_assert_eq(g.hash, hash_of("abcde", 5));
    cr_assert_eq(tn_mh_count(&w.c, "HTTP/1.1 200 OK"), 1);
    cr_assert_eq(tn_handler_resume_body != NULL, 1);
    ws_done(&w);
}

/* An asynchronous prepare with no body: the method waits for the resume
 * and runs on a later drain. */
Test(web_stream, async_prepare_without_body)
{
    ws_t w;
    reset();
    g.prepare_mode = 1;
    ws_open(&w, &stream_class, 0);
    tn_mh_sends(&w.c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    cr_assert_str_eq(g.life, "ip");
    cr_assert_eq(tn_handler_resume_body(g.held), 0);
    cr_assert_str_eq(g.life, "ip", "not inside the resume");
    tn_mh_turns(&w.c, 3);
    cr_assert_str_eq(g.life, "ipmf");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200 OK"));
    ws_done(&w);
}

/* A prepare that answers: no 100 Continue, no data_received, close after. */
Test(web_stream, prepare_answers_401_without_continue)
{
    ws_t w;
    reset();
    g.prepare_mode = 2;
    ws_open(&w, &stream_class, 0);
    tn_mh_sends(&w.c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n"
                      "Expect: 100-continue\r\n\r\n");
    tn_mh_send(&w.c, "0123456789", 10, 0);
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 401"));
    cr_assert_eq(tn_mh_count(&w.c, "100 Continue"), 0);
    cr_assert_eq(g.pieces, 0);
    cr_assert_eq(strchr(g.life, 'm'), NULL);
    ws_done(&w);
}

/* tornado: set_max_body_size in prepare, lowering and raising the server's
 * limit; too late once the body started. */
Test(web_stream, per_request_max_body_size)
{
    ws_t w;
    reset();
    g.prepare_mode = 3;
    ws_open(&w, &stream_class, 0);
    tn_mh_sends(&w.c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n01234567890");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 413"));
    cr_assert_eq(strchr(g.life, 'm'), NULL);
    ws_done(&w);

    reset();
    g.prepare_mode = 4; /* server says 100, the handler 1000 */
    ws_open(&w, &stream_class, 100);
    char req[700];
    int hl =
        snprintf(req, sizeof req, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n");
    memset(req + hl, 'q', 500);
    g.set_max_after = 1;
    tn_mh_send(&w.c, req, (size_t)hl + 500, 0);
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200 OK"));
    cr_assert_eq(g.got, 500);
    cr_assert_eq(g.late_set_max_rc, TN_EINVAL, "too late once the body started");
    ws_done(&w);
}

/* data_received returning TN_WEB_ASYNC stops reading until resume. */
Test(web_stream, data_received_pauses_reading)
{
    ws_t w;
    reset();
    g.pause_pieces = 1;
    ws_open(&w, &stream_class, 0);
    tn_mh_sends(&w.c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n");
    cr_assert_eq(tn_mh_send(&w.c, "abcd", 4, 0), 4);
    cr_assert_eq(g.pieces, 1);
    /* paused: one more read may be buffered, none delivered, then the
     * transport is not read at all */
    cr_assert_eq(tn_mh_send(&w.c, "efgh", 4, 0), 4);
    cr_assert_eq(tn_mh_send(&w.c, "ijkl", 4, 0), 0, "paused: not reading");
    cr_assert_eq(g.pieces, 1);
    cr_assert_eq(tn_handler_resume_body(g.held), 0);
    cr_assert_eq(g.pieces, 1, "not inside the resume");
    tn_mh_turns(&w.c, 2);
    cr_assert_eq(g.pieces, 2);
    cr_assert_eq(tn_handler_resume_body(g.held), 0);
    tn_mh_turns(&w.c, 2);
    cr_assert_eq(tn_mh_send(&w.c, "ijkl", 4, 0), 4);
    cr_assert_eq(g.pieces, 3);
    cr_assert_eq(tn_handler_resume_body(g.held), 0);
    tn_mh_turns(&w.c, 3);
    cr_assert_eq(g.got, 12);
    cr_assert_eq(g.hash, hash_of("abcdefghijkl", 12));
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200 OK"));
    ws_done(&w);
}

/* The client leaves mid-body: on_connection_close once, the method never. */
Test(web_stream, client_leaves_mid_body)
{
    ws_t w;
    reset();
    ws_open(&w, &stream_class, 0);
    tn_mh_sends(&w.c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
    tn_mt_eof(w.c.mt, TN_EOF);
    tn_mh_turns(&w.c, 4);
    cr_assert_str_eq(g.life, "ipdx");
    ws_done(&w);
}

/* The client leaves while data_received is paused: on_connection_close,
 * then the resume says TN_ECLOSED and releases the handler (ASan/LSan
 * check both the lifetime and the release). */
Test(web_stream, client_leaves_while_paused)
{
    ws_t w;
    reset();
    g.pause_pieces = 1;
    ws_open(&w, &stream_class, 0);
    tn_mh_sends(&w.c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
    cr_assert_eq(g.pieces, 1);
    tn_mt_eof(w.c.mt, -104);
    tn_mh_turns(&w.c, 4);
    cr_assert_str_eq(g.life, "ipdx");
    cr_assert_eq(tn_handler_resume_body(g.held), TN_ECLOSED);
    ws_done(&w);
}

/* A class without the method: 405 at the headers, the body is not read. */
static const tn_handler_class_t getonly_class = {
    .name = "GetOnly", .stream_request_body = 1, .data_received = s_data, .get = s_put};

Test(web_stream, missing_method_is_405_before_the_body)
{
    ws_t w;
    reset();
    ws_open(&w, &getonly_class, 0);
    tn_mh_sends(&w.c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 405"));
    cr_assert_eq(g.pieces, 0);
    ws_done(&w);
}

/* ---- streaming responses ------------------------------------------------- */

static struct {
    int flushes[16];
    int nflush;
    size_t produced, total, chunk;
    size_t max_buffered;
    tn_handler_t *h;
    int done_status;
} r;

static void on_flushed(tn_handler_t *h, int status, void *arg);

static void produce(tn_handler_t *h)
{
    static char buf[16384];
    memset(buf, 'b', sizeof buf);
    size_t n = r.total - r.produced < r.chunk ? r.total - r.produced : r.chunk;
    cr_assert_eq(tn_handler_write(h, buf, n), 0);
    r.produced += n;
    size_t b = tn_handler_write_buffered(h);
    if (b > r.max_buffered)
        r.max_buffered = b;
    cr_assert_eq(tn_handler_flush(h, on_flushed, NULL), 0);
}

static void on_flushed(tn_handler_t *h, int status, void *arg)
{
    (void)arg;
    if (status != 0) {
        r.done_status = status;
        tn_handler_finish(h);
        return;
    }
    if (r.produced < r.total)
        produce(h);
    else
        tn_handler_finish(h);
}

/* The back-pressure loop: write a chunk, flush, wait for the flush. */
static int stream_get(tn_handler_t *h)
{
    r.h = h;
    produce(h);
    return TN_WEB_ASYNC;
}

static void order_cb(tn_handler_t *h, int status, void *arg)
{
    (void)h;
    cr_assert_eq(status, 0);
    r.flushes[r.nflush++] = (int)(intptr_t)arg;
}

static int order_get(tn_handler_t *h)
{
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(tn_handler_write(h, "part", 4), 0);
        cr_assert_eq(tn_handler_flush(h, order_cb, (void *)(intptr_t)i), 0);
    }
    cr_assert_eq(r.nflush, 0, "never inside flush");
    return TN_WEB_DONE;
}

static const tn_handler_class_t order_class = {.name = "Order", .get = order_get};
static const tn_handler_class_t big_class = {.name = "Big", .get = stream_get};

Test(web_stream, flush_callbacks_in_order_once)
{
    ws_t w;
    memset(&r, 0, sizeof r);
    ws_open(&w, &order_class, 0);
    tn_mh_sends(&w.c, "GET /up HTTP/1.1\r\nHost: x\r\n\r\n");
    tn_mh_turns(&w.c, 3);
    cr_assert_eq(r.nflush, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(r.flushes[i], i);
    cr_assert_eq(tn_mh_count(&w.c, "part"), 4);
    cr_assert_eq(tn_mh_count(&w.c, "0\r\n\r\n"), 1, "chunked end");
    ws_done(&w);
}

/* A client that stops reading: the transport takes nothing, so each flush
 * waits; the handler holds one chunk, not the whole response. Then the
 * client reads again and everything arrives. */
Test(web_stream, stalled_reader_keeps_handler_memory_bounded)
{
    ws_t w;
    memset(&r, 0, sizeof r);
    r.total = 4 * 1024 * 1024;
    r.chunk = 16384;
    ws_open(&w, &big_class, 0);
    w.c.mt->accept_limit = 0; /* the peer's window is shut */
    tn_mh_sends(&w.c, "GET /up HTTP/1.1\r\nHost: x\r\n\r\n");
    tn_mh_turns(&w.c, 20);
    cr_assert_eq(r.produced, r.chunk, "one chunk, then it waits for its flush");
    cr_assert_geq(tn_handler_write_buffered(r.h), r.chunk);
    cr_assert_leq(tn_handler_write_buffered(r.h), r.chunk + 512);
    /* the reader drains, a write at a time */
    for (int i = 0; i < 100000 && r.produced < r.total; i++) {
        tn_mt_complete_writes(w.c.mt, 0);
        tn_mh_turns(&w.c, 1);
    }
    tn_mt_complete_writes(w.c.mt, 0);
    tn_mh_turns(&w.c, 3);
    cr_assert_eq(r.produced, r.total);
    cr_assert_leq(r.max_buffered, 2 * r.chunk + 512, "bounded by the handler's high-water mark");
    cr_assert_eq(tn_mh_count(&w.c, "0\r\n\r\n"), 1);
    ws_done(&w);
}

/* ---- the demo's streaming routes ----------------------------------------- */

static void demo_open(ws_t *w)
{
    memset(w, 0, sizeof *w);
    cr_assert_eq(demo_app_new(NULL, "secret", &w->app), 0);
    tn_httpserver_options_t o = {0};
    w->loop = tn_test_loop_new();
    o.request_cb = tn_app_request_cb;
    o.headers_cb = tn_app_headers_cb;
    o.request_arg = w->app;
    o.max_body_size = 1000; /* the default stays small: /upload raises its own */
    cr_assert_eq(tn_httpserver_new(w->loop, &o, &w->srv), 0);
    w->c = tn_mh_connect(w->loop, w->srv, "127.0.0.1");
}

Test(web_stream, demo_upload_hashes_chunked_and_content_length)
{
    ws_t w;
    demo_open(&w);
    /* "abc" in three chunks: SHA-256 of abc */
    const char *chunked = "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n";
    tn_mh_send(&w.c, chunked, strlen(chunked), 7);
    cr_assert_str_eq(tn_mh_last_body(&w.c),
                     "{\"bytes\": 3, \"sha256\": "
                     "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}");
    /* 5000 bytes (over the server's 1000) with Content-Length */
    tn_mh_clear(&w.c);
    static char big[5000 + 128];
    int hl = snprintf(big, 128, "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
    memset(big + hl, 0, 5000);
    tn_mh_send(&w.c, big, (size_t)hl + 5000, 999);
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200 OK"));
    cr_assert(strstr(tn_mh_last_body(&w.c), "\"bytes\": 5000") != NULL);
    /* other routes keep the server's limit */
    tn_mh_clear(&w.c);
    hl = snprintf(big, 128, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
    tn_mh_send(&w.c, big, (size_t)hl + 5000, 0);
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 413"));
    ws_done(&w);
}

Test(web_stream, demo_stream_route)
{
    ws_t w;
    demo_open(&w);
    tn_mh_sends(&w.c, "GET /stream?mb=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 200; i++) {
        tn_mt_complete_writes(w.c.mt, 0);
        tn_mh_turns(&w.c, 1);
    }
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200 OK"));
    cr_assert_eq(tn_mh_count(&w.c, "Content-Length: 1048576"), 1);
    const char *body = strstr(w.c.mt->out, "\r\n\r\n");
    cr_assert_not_null(body);
    cr_assert_eq(w.c.mt->out_len - (size_t)(body + 4 - w.c.mt->out), 1048576);
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "GET /stream?mb=2000 HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 400"));
    ws_done(&w);
}

/* ---- zero-copy writes ------------------------------------------------------ */

static struct {
    int released[8];
    int status[8];
    int n;
    int in_call;
} z;

static void on_release(tn_handler_t *h, int status, void *arg)
{
    (void)h;
    cr_assert_eq(z.in_call, 0, "release inside the call");
    z.released[z.n] = (int)(intptr_t)arg;
    z.status[z.n++] = status;
}

static char ref_a[] = "first-by-reference|";
static char ref_b[] = "second-by-reference|";

static int ref_get(tn_handler_t *h)
{
    tn_handler_write(h, "copied|", 7);
    z.in_call = 1;
    cr_assert_eq(tn_handler_write_ref(h, ref_a, strlen(ref_a), on_release, (void *)1), 0);
    cr_assert_eq(tn_handler_write_ref(h, ref_b, strlen(ref_b), on_release, (void *)2), 0);
    cr_assert_eq(tn_handler_write_ref(h, ref_b, 1, NULL, NULL), TN_EINVAL);
    z.in_call = 0;
    tn_handler_write(h, "tail", 4);
    return TN_WEB_DONE;
}

static const tn_handler_class_t ref_class = {.name = "Ref", .get = ref_get};

Test(web_stream, write_ref_in_order_released_once)
{
    for (int reset_client = 0; reset_client < 2; reset_client++) {
        ws_t w;
        memset(&z, 0, sizeof z);
        ws_open(&w, &ref_class, 0);
        w.c.mt->accept_limit = 0; /* writes stay pending until completed */
        tn_mh_sends(&w.c, "GET /up HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert_eq(z.n, 0, "not before the bytes left");
        if (reset_client) {
            tn_mt_eof(w.c.mt, -104);
            tn_mh_turns(&w.c, 4);
            cr_assert_eq(z.n, 2);
            cr_assert_eq(z.status[0], TN_ECLOSED);
            cr_assert_eq(z.status[1], TN_ECLOSED);
        } else {
            tn_mt_complete_writes(w.c.mt, 0);
            tn_mh_turns(&w.c, 3);
            tn_mt_complete_writes(w.c.mt, 0);
            tn_mh_turns(&w.c, 3);
            cr_assert_eq(z.n, 2);
            cr_assert_eq(z.released[0], 1);
            cr_assert_eq(z.released[1], 2);
            cr_assert_eq(z.status[0], 0);
            const char *body = strstr(w.c.mt->out, "\r\n\r\n");
            cr_assert_not_null(body);
            const char *p1 = strstr(body, "copied|"), *p2 = strstr(body, ref_a),
                       *p3 = strstr(body, ref_b), *p4 = strstr(body, "tail");
            cr_assert(p1 && p2 && p3 && p4 && p1 < p2 && p2 < p3 && p3 < p4);
            cr_assert_eq(tn_mh_count(&w.c, "0\r\n\r\n"), 1, "chunked end");
        }
        ws_done(&w);
    }
}
