/* HTTP1Connection over the in-memory transport: framing, limits, keep-alive,
 * pipelining at every split point, the delegate contract, flow control,
 * 100-continue, gzip bodies and the response rules, deterministically. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "loop_util.h"
#include "memtransport.h"
#include "net_peer.h"

/* ---- harness ------------------------------------------------------------ */

enum { MODE_HELLO, MODE_ECHO, MODE_ASYNC, MODE_CHUNKED, MODE_NONE };

typedef struct {
    int mode;
    int requests;
    tn_http_request_t *held; /* MODE_ASYNC */
    int close_cbs;
    char last_path[256];
    char last_body[8192];
    size_t last_body_len;
    char remote_ip[64];
    char protocol[8];
    int version;
    int arg_count;
} app_t;

typedef struct {
    tn_ioloop_t *loop;
    tn_httpserver_t *srv;
    tn_mt_t *mt;
    int freed;
} h_t;

static app_t g_app;

static void on_held_close(tn_http_request_t *req, void *arg)
{
    (void)req;
    ((app_t *)arg)->close_cbs++;
    ((app_t *)arg)->held = NULL;
}

static void on_request(tn_http_request_t *req, void *arg)
{
    app_t *a = arg;
    size_t n, bl;
    const char *path = tn_http_request_path(req, &n);
    const char *body = tn_http_request_body(req, &bl);
    a->requests++;
    snprintf(a->last_path, sizeof a->last_path, "%.*s", (int)n, path);
    a->last_body_len = bl;
    if (bl <= sizeof a->last_body)
        memcpy(a->last_body, body, bl);
    snprintf(a->remote_ip, sizeof a->remote_ip, "%s", tn_http_request_remote_ip(req));
    snprintf(a->protocol, sizeof a->protocol, "%s", tn_http_request_protocol(req));
    a->version = tn_http_request_version_number(req);
    const tn_args_t *args = tn_http_request_arguments(req);
    a->arg_count = args ? (int)tn_args_count(args) : -1;
    switch (a->mode) {
    case MODE_HELLO: {
        char b[300];
        int k = snprintf(b, sizeof b, "hello %s", a->last_path);
        cr_assert_eq(tn_http_response_send(req, 200, "text/plain", b, (size_t)k), 0);
        break;
    }
    case MODE_ECHO:
        cr_assert_eq(tn_http_response_send(req, 200, NULL, body, bl), 0);
        break;
    case MODE_ASYNC:
        a->held = req;
        tn_http_request_set_close_callback(req, on_held_close, a);
        break;
    case MODE_CHUNKED:
        cr_assert_eq(tn_http_response_write(req, "abc", 3, NULL, NULL), 0);
        cr_assert_eq(tn_http_response_write(req, "", 0, NULL, NULL), 0);
        cr_assert_eq(tn_http_response_write(req, "defgh", 5, NULL, NULL), 0);
        cr_assert_eq(tn_http_response_finish(req), 0);
        cr_assert_eq(tn_http_response_finish(req), TN_EFINISHED);
        cr_assert_eq(tn_http_response_write(req, "x", 1, NULL, NULL), TN_EFINISHED);
        break;
    default:
        break;
    }
}

static void h_open_opts(h_t *h, tn_httpserver_options_t *o)
{
    memset(h, 0, sizeof *h);
    h->loop = tn_test_loop_new();
    if (!o->delegate && !o->request_cb) {
        o->request_cb = on_request;
        o->request_arg = &g_app;
    }
    cr_assert_eq(tn_httpserver_new(h->loop, o, &h->srv), 0);
    h->mt = tn_mt_new(h->loop, NULL);
    cr_assert_eq(tn_httpserver_handle_stream(h->srv, h->mt->stream, "10.0.0.9"), 0);
}

static void h_open(h_t *h, int mode)
{
    tn_httpserver_options_t o;
    memset(&o, 0, sizeof o);
    memset(&g_app, 0, sizeof g_app);
    g_app.mode = mode;
    h_open_opts(h, &o);
}

static void h_turns(h_t *h, int n)
{
    for (int i = 0; i < n; i++)
        tn_mt_turn(h->loop);
}

/* Feeds len bytes in chunks, turning the loop whenever the stream is not
 * reading; returns the bytes delivered. */
static size_t h_send(h_t *h, const char *data, size_t len, size_t chunk)
{
    size_t done = 0;
    for (int spins = 0; done < len && spins < 10000 && !h->mt->closed; spins++) {
        done += tn_mt_feed(h->mt, data + done, len - done, chunk ? chunk : len);
        tn_mt_turn(h->loop);
    }
    h_turns(h, 3);
    return done;
}

static size_t h_sends(h_t *h, const char *s)
{
    return h_send(h, s, strlen(s), 0);
}

static void on_freed(void *arg)
{
    ((h_t *)arg)->freed = 1;
}

static void h_close(h_t *h)
{
    tn_httpserver_free(h->srv, on_freed, h);
    for (int i = 0; i < 50 && !h->freed; i++)
        tn_mt_turn(h->loop);
    cr_assert_eq(h->freed, 1, "server freed");
    tn_mt_free(h->mt);
    tn_test_close(h->loop, 0);
}

static int count(const char *hay, size_t n, const char *needle)
{
    int c = 0;
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            c++;
    return c;
}

static int has(h_t *h, const char *needle)
{
    return count(h->mt->out, h->mt->out_len, needle);
}

static int starts(h_t *h, const char *prefix)
{
    size_t k = strlen(prefix);
    return h->mt->out_len >= k && memcmp(h->mt->out, prefix, k) == 0;
}

/* ---- basics ------------------------------------------------------------- */

Test(http1_conn, get_answers_with_length_date_server_and_keeps_alive)
{
    h_t h;
    h_open(&h, MODE_HELLO);
    h_sends(&h, "GET /a?x=1&y=2 HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert(starts(&h, "HTTP/1.1 200 OK\r\n"));
    cr_assert(has(&h, "Content-Length: 8\r\n"));
    cr_assert(has(&h, "Date: "));
    cr_assert(has(&h, "Server: TornadoServer/tornuv\r\n"));
    cr_assert(has(&h, "\r\n\r\nhello /a"));
    cr_assert_eq(has(&h, "Connection: close"), 0);
    cr_assert_eq(g_app.arg_count, 2);
    cr_assert_str_eq(g_app.remote_ip, "10.0.0.9");
    cr_assert_eq(h.mt->closed, 0);
    h_sends(&h, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(g_app.requests, 2);
    cr_assert(has(&h, "hello /b"));
    h_close(&h);
}

Test(http1_conn, keep_alive_decision_table)
{
    static const struct {
        const char *req;
        int closes;
    } rows[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 1},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0},
        {"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0},
        {"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", 0},
        {"POST / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        h_t h;
        h_open(&h, MODE_HELLO);
        h_sends(&h, rows[i].req);
        cr_assert(has(&h, " 200 OK\r\n"), "row %zu answered", i);
        cr_assert_eq(h.mt->shut || h.mt->closed, rows[i].closes, "row %zu", i);
        cr_assert_eq(has(&h, "Connection: close\r\n") > 0, rows[i].closes, "row %zu header", i);
        if (!rows[i].closes && strstr(rows[i].req, "HTTP/1.0"))
            cr_assert(has(&h, "Connection: keep-alive\r\n"), "row %zu", i);
        h_close(&h);
    }
}

Test(http1_conn, no_keep_alive_option_closes_after_each_response)
{
    h_t h;
    tn_httpserver_options_t o = {0};
    memset(&g_app, 0, sizeof g_app);
    o.no_keep_alive = 1;
    h_open_opts(&h, &o);
    h_sends(&h, "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(g_app.requests, 1, "the pipelined second request is not served");
    cr_assert(has(&h, "Connection: close\r\n"));
    cr_assert(h.mt->shut, "FIN after the response");
    h_close(&h);
}

Test(http1_conn, F152_head_answer_has_no_body_and_the_next_get_is_intact)
{
    h_t h;
    h_open(&h, MODE_HELLO);
    h_sends(&h, "HEAD /x HTTP/1.1\r\nHost: h\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(count(h.mt->out, h.mt->out_len, "HTTP/1.1 200 OK"), 2);
    cr_assert_eq(has(&h, "hello /x"), 0, "HEAD answer has no body");
    cr_assert_eq(has(&h, "hello /y"), 1, "GET answer intact after HEAD (F152)");
    h_close(&h);
}

static void on_req_statuses(tn_http_request_t *req, void *arg)
{
    size_t n;
    const char *p = tn_http_request_path(req, &n);
    int st = atoi(p + 1);
    (void)arg;
    cr_assert_eq(tn_http_response_write_headers(req, st, NULL, NULL), 0);
    cr_assert_eq(tn_http_response_write(req, "body", 4, NULL, NULL), 0);
    cr_assert_eq(tn_http_response_finish(req), 0);
}

Test(http1_conn, status_204_304_drop_body_and_are_not_chunked)
{
    int codes[] = {204, 304};
    for (int i = 0; i < 2; i++) {
        h_t h;
        tn_httpserver_options_t o = {0};
        o.request_cb = on_req_statuses;
        h_open_opts(&h, &o);
        char req[64];
        snprintf(req, sizeof req, "GET /%d HTTP/1.1\r\nHost: h\r\n\r\n", codes[i]);
        h_sends(&h, req);
        cr_assert_eq(has(&h, "body"), 0);
        cr_assert_eq(has(&h, "Transfer-Encoding"), 0);
        cr_assert(h.mt->out_len > 4 && memcmp(h.mt->out + h.mt->out_len - 4, "\r\n\r\n", 4) == 0);
        cr_assert_eq(h.mt->closed, 0);
        h_close(&h);
    }
}

Test(http1_conn, chunked_response_framing_and_write_after_finish)
{
    h_t h;
    h_open(&h, MODE_CHUNKED);
    h_sends(&h, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert(has(&h, "Transfer-Encoding: chunked\r\n"));
    cr_assert(has(&h, "\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n"));
    cr_assert_eq(h.mt->closed, 0);
    h_close(&h);
}

Test(http1_conn, http10_response_without_length_is_delimited_by_close)
{
    h_t h;
    h_open(&h, MODE_CHUNKED);
    h_sends(&h, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cr_assert(starts(&h, "HTTP/1.0 200 OK\r\n"));
    cr_assert_eq(has(&h, "Transfer-Encoding"), 0);
    cr_assert(has(&h, "\r\n\r\nabcdefgh"));
    cr_assert(h.mt->shut || h.mt->closed);
    h_close(&h);
}

/* ---- framing and limits ------------------------------------------------- */

Test(http1_conn, smuggling_and_malformed_requests_get_400_and_close)
{
    static const char *bad[] = {
        "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\nab",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET / HTTP/1.1\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\n\rX: y\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\n\x7f: y\r\n\r\n",
        "G@T / HTTP/1.1\r\nHost: h\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        h_t h;
        h_open(&h, MODE_HELLO);
        h_sends(&h, bad[i]);
        cr_assert(starts(&h, "HTTP/1.1 400 Bad Request\r\n"), "case %zu: %.*s", i,
                  (int)h.mt->out_len, h.mt->out);
        cr_assert(has(&h, "Connection: close\r\n"), "case %zu", i);
        cr_assert(h.mt->shut || h.mt->closed, "case %zu closes", i);
        cr_assert_eq(g_app.requests, 0, "case %zu never reaches the app", i);
        h_close(&h);
    }
}

Test(http1_conn, F150_valid_then_invalid_pipelined_answers_200_then_400)
{
    h_t h;
    h_open(&h, MODE_HELLO);
    h_sends(&h, "GET / HTTP/1.1\r\nHost: a\r\n\r\nINVALID\r\n\r\n");
    cr_assert(starts(&h, "HTTP/1.1 200 OK"));
    cr_assert_eq(has(&h, "HTTP/1.1 400 Bad Request"), 1, "F150: %.*s", (int)h.mt->out_len,
                 h.mt->out);
    cr_assert(h.mt->shut || h.mt->closed);
    h_close(&h);
}

Test(http1_conn, F151_http10_pipelined_gets_one_answer_then_close)
{
    h_t h;
    h_open(&h, MODE_HELLO);
    h_sends(&h, "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    cr_assert_eq(count(h.mt->out, h.mt->out_len, "HTTP/1.0 200 OK"), 1, "F151");
    cr_assert_eq(g_app.requests, 1);
    h_close(&h);
}

Test(http1_conn, F153_body_is_never_parsed_as_a_request)
{
    h_t h;
    h_open(&h, MODE_HELLO);
    h_sends(&h, "POST /static/a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 34\r\n\r\n"
                "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(g_app.requests, 1, "F153");
    cr_assert_str_eq(g_app.last_path, "/static/a.txt");
    cr_assert_eq(has(&h, "smuggled"), 0);
    h_close(&h);
}

static void header_of_size(char *buf, size_t total, size_t *len)
{
    /* "GET / HTTP/1.1\r\nHost: h\r\nX: vvv...\r\n\r\n" of exactly total bytes */
    const char *pre = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
    size_t fixed = strlen(pre) + 4;
    cr_assert(total > fixed);
    memcpy(buf, pre, strlen(pre));
    memset(buf + strlen(pre), 'v', total - fixed);
    memcpy(buf + total - 4, "\r\n\r\n", 4);
    *len = total;
}

Test(http1_conn, header_size_limit_at_minus_one_exact_and_plus_one)
{
    static char buf[2048];
    for (int d = -1; d <= 1; d++) {
        h_t h;
        tn_httpserver_options_t o = {0};
        memset(&g_app, 0, sizeof g_app);
        o.max_header_size = 1024;
        h_open_opts(&h, &o);
        size_t len;
        header_of_size(buf, (size_t)(1024 + d), &len);
        h_send(&h, buf, len, 100);
        if (d <= 0) {
            cr_assert(starts(&h, "HTTP/1.1 200 OK"), "size %d", 1024 + d);
        } else {
            cr_assert(starts(&h, "HTTP/1.1 431 "), "size %d: %.40s", 1024 + d, h.mt->out);
            cr_assert(h.mt->shut || h.mt->closed);
        }
        h_close(&h);
    }
}

Test(http1_conn, header_count_limit)
{
    for (int n = 9; n <= 11; n++) {
        char buf[1024];
        size_t len = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: h\r\n");
        for (int i = 1; i < n; i++)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "X%d: v\r\n", i);
        len += (size_t)snprintf(buf + len, sizeof buf - len, "\r\n");
        h_t h;
        tn_httpserver_options_t o = {0};
        memset(&g_app, 0, sizeof g_app);
        o.max_header_count = 10;
        h_open_opts(&h, &o);
        h_send(&h, buf, len, 0);
        if (n <= 10)
            cr_assert(starts(&h, "HTTP/1.1 200 OK"), "%d fields", n);
        else
            cr_assert(starts(&h, "HTTP/1.1 431 "), "%d fields", n);
        h_close(&h);
    }
}

Test(http1_conn, body_size_limit_content_length_and_chunked)
{
    for (int d = -1; d <= 1; d++) {
        char buf[512];
        char body[200];
        memset(body, 'b', sizeof body);
        size_t blen = (size_t)(100 + d);
        int k = snprintf(buf, sizeof buf,
                         "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n", blen);
        memcpy(buf + k, body, blen);
        h_t h;
        tn_httpserver_options_t o = {0};
        memset(&g_app, 0, sizeof g_app);
        g_app.mode = MODE_ECHO;
        o.max_body_size = 100;
        h_open_opts(&h, &o);
        h_send(&h, buf, (size_t)k + blen, 0);
        if (d <= 0) {
            cr_assert(starts(&h, "HTTP/1.1 200 OK"));
            cr_assert_eq(g_app.last_body_len, blen);
        } else {
            cr_assert(starts(&h, "HTTP/1.1 413 "), "%.30s", h.mt->out);
            cr_assert_eq(g_app.requests, 0);
            cr_assert(h.mt->shut, "lingering close sends FIN first");
        }
        h_close(&h);
    }
    /* chunked: the limit counts decoded bytes */
    h_t h;
    tn_httpserver_options_t o = {0};
    memset(&g_app, 0, sizeof g_app);
    o.max_body_size = 10;
    h_open_opts(&h, &o);
    h_sends(&h, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                "6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n");
    cr_assert(starts(&h, "HTTP/1.1 413 "));
    cr_assert_eq(g_app.requests, 0);
    h_close(&h);
}

Test(http1_conn, chunked_request_body_is_reassembled)
{
    h_t h;
    h_open(&h, MODE_ECHO);
    h_send(&h,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
           "3\r\nabc\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n",
           strlen("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\nabc\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n"),
           1);
    cr_assert_eq(g_app.requests, 1);
    cr_assert_eq(g_app.last_body_len, 19);
    cr_assert_eq(memcmp(g_app.last_body, "abc0123456789abcdef", 19), 0);
    cr_assert(has(&h, "Content-Length: 19\r\n"));
    cr_assert(has(&h, "\r\n\r\nabc0123456789abcdef"));
    h_close(&h);
}

/* ---- pipelining --------------------------------------------------------- */

Test(http1_conn, pipelined_sequence_at_every_split_point)
{
    static const char seq[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                              "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                              "POST /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "2\r\nab\r\n0\r\n\r\n"
                              "GET /4 HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t len = sizeof seq - 1;
    for (size_t split = 1; split < len; split++) {
        h_t h;
        h_open(&h, MODE_HELLO);
        h_send(&h, seq, split, 0);
        h_send(&h, seq + split, len - split, 0);
        cr_assert_eq(g_app.requests, 4, "split %zu", split);
        const char *p1 = strstr(h.mt->out, "hello /1"), *p4 = strstr(h.mt->out, "hello /4");
        cr_assert(p1 && p4 && p1 < p4, "in order at split %zu", split);
        cr_assert(has(&h, "hello /2") && has(&h, "hello /3"));
        cr_assert_eq(h.mt->closed, 0);
        h_close(&h);
    }
}

Test(http1_conn, F155_one_request_in_flight_at_a_time)
{
    h_t h;
    h_open(&h, MODE_ASYNC);
    char buf[4096];
    size_t len = 0;
    for (int i = 0; i < 10; i++)
        len +=
            (size_t)snprintf(buf + len, sizeof buf - len, "GET /%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
    h_send(&h, buf, len, 0);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(g_app.requests, i + 1, "F155: only one in flight");
        cr_assert_not_null(g_app.held);
        char want[16];
        snprintf(want, sizeof want, "/%d", i);
        cr_assert_str_eq(g_app.last_path, want);
        tn_http_request_t *r = g_app.held;
        g_app.held = NULL;
        cr_assert_eq(tn_http_response_send(r, 200, NULL, "ok", 2), 0);
        h_turns(&h, 3);
    }
    cr_assert_eq(count(h.mt->out, h.mt->out_len, "HTTP/1.1 200 OK"), 10);
    h_close(&h);
}

Test(http1_conn, F149_pipelining_pauses_when_the_peer_does_not_read)
{
    h_t h;
    tn_httpserver_options_t o = {0};
    memset(&g_app, 0, sizeof g_app);
    o.max_write_buffer = 1024;
    h_open_opts(&h, &o);
    h.mt->accept_limit = 0; /* the peer reads nothing: every write stays queued */
    static char buf[64 * 1024];
    size_t len = 0;
    while (len + 64 < sizeof buf)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    size_t done = h_send(&h, buf, len, 0);
    int served = g_app.requests;
    cr_assert(served > 0 && served < 100, "served %d with nothing read by the peer", served);
    cr_assert_eq(h.mt->reading, 0, "reading stopped too");
    /* the peer starts reading: everything is served */
    h.mt->accept_limit = -1;
    for (int i = 0; i < 2000 && g_app.requests < (int)(len / 27); i++) {
        tn_mt_complete_writes(h.mt, 0);
        done += tn_mt_feed(h.mt, buf + done, len - done, 0);
        tn_mt_turn(h.loop);
    }
    cr_assert_eq(g_app.requests, (int)(len / 27), "all %zu served (%d; fed %zu of %zu)", len / 27,
                 g_app.requests, done, len);
    h_close(&h);
}

/* ---- async, close callbacks, response rules ---------------------------- */

Test(http1_conn, F21_async_response_and_close_callback_when_peer_leaves)
{
    h_t h;
    h_open(&h, MODE_ASYNC);
    h_sends(&h, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_not_null(g_app.held);
    tn_http_request_t *r = g_app.held;
    cr_assert_eq(tn_http_response_write_headers(r, 200, NULL, NULL), 0);
    cr_assert_eq(tn_http_response_write(r, "part", 4, NULL, NULL), 0);
    tn_mt_eof(h.mt, -104);
    h_turns(&h, 5);
    cr_assert_eq(g_app.close_cbs, 1, "F21: close callback once");
    cr_assert(h.mt->closed);
    h_close(&h);
}

static tn_http_request_t *g_cl_req;
static void on_req_cl(tn_http_request_t *req, void *arg)
{
    tn_headers_t *hd;
    (void)arg;
    cr_assert_eq(tn_headers_new(&hd), 0);
    tn_headers_add(hd, "Content-Length", 14, "5", 1);
    cr_assert_eq(tn_http_response_write_headers(req, 200, NULL, hd), 0);
    cr_assert_eq(tn_http_response_write_headers(req, 200, NULL, hd), TN_EALREADY);
    tn_headers_free(hd);
    cr_assert_eq(tn_http_response_write(req, "abc", 3, NULL, NULL), 0);
    cr_assert_eq(tn_http_response_write(req, "def", 3, NULL, NULL), TN_ETOOLARGE);
    g_cl_req = req;
    cr_assert_eq(tn_http_response_finish(req), 0, "short: finishes, then closes");
}

Test(http1_conn, declared_content_length_is_enforced)
{
    h_t h;
    tn_httpserver_options_t o = {0};
    o.request_cb = on_req_cl;
    h_open_opts(&h, &o);
    h_sends(&h, "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert(has(&h, "Content-Length: 5\r\n"));
    cr_assert_eq(has(&h, "def"), 0);
    cr_assert(h.mt->shut || h.mt->closed, "short body closes the connection");
    cr_assert_eq(count(h.mt->out, h.mt->out_len, "HTTP/1.1 200"), 1);
    h_close(&h);
}

static void on_req_bad_headers(tn_http_request_t *req, void *arg)
{
    tn_headers_t *hd;
    (void)arg;
    cr_assert_eq(tn_headers_new(&hd), 0);
    tn_headers_add(hd, "X-Evil", 6, "a\r\nSet-Cookie: x=1", 18);
    cr_assert_eq(tn_http_response_write_headers(req, 200, NULL, hd), TN_EINVAL);
    tn_headers_clear(hd);
    cr_assert_eq(tn_http_response_write_headers(req, 200, "OK\r\nX: y", hd), TN_EINVAL);
    cr_assert_eq(tn_http_response_write_headers(req, 1000, NULL, hd), TN_EINVAL);
    tn_headers_add(hd, "Transfer-Encoding", 17, "chunked", 7);
    cr_assert_eq(tn_http_response_write_headers(req, 200, NULL, hd), TN_EINVAL);
    tn_headers_free(hd);
    cr_assert_eq(tn_http_response_send(req, 200, NULL, "fine", 4), 0);
}

Test(http1_conn, header_injection_is_refused)
{
    h_t h;
    tn_httpserver_options_t o = {0};
    o.request_cb = on_req_bad_headers;
    h_open_opts(&h, &o);
    h_sends(&h, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert(starts(&h, "HTTP/1.1 200 OK\r\n"));
    cr_assert_eq(has(&h, "Set-Cookie"), 0);
    cr_assert(has(&h, "fine"));
    h_close(&h);
}

Test(http1_conn, expect_100_continue_is_answered_before_the_body)
{
    h_t h;
    h_open(&h, MODE_ECHO);
    h_sends(&h, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    cr_assert(starts(&h, "HTTP/1.1 100 Continue\r\n\r\n"), "%.40s", h.mt->out);
    cr_assert_eq(g_app.requests, 0);
    h_sends(&h, "data");
    cr_assert_eq(g_app.requests, 1);
    cr_assert(has(&h, "HTTP/1.1 200 OK"));
    h_close(&h);
    /* over the limit: no 100, a 413 */
    tn_httpserver_options_t o = {0};
    memset(&g_app, 0, sizeof g_app);
    o.max_body_size = 3;
    h_open_opts(&h, &o);
    h_sends(&h, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    cr_assert(starts(&h, "HTTP/1.1 413 "));
    cr_assert_eq(has(&h, "100 Continue"), 0);
    h_close(&h);
}

Test(http1_conn, xheaders_and_trusted_downstream)
{
    static const char *trusted[] = {"10.1.1.1", NULL};
    static const struct {
        const char *hdrs;
        const char *ip;
        const char *proto;
    } rows[] = {
        {"X-Real-Ip: 4.4.4.4\r\n", "4.4.4.4", "http"},
        {"X-Forwarded-For: 1.1.1.1, 2.2.2.2\r\n", "2.2.2.2", "http"},
        {"X-Forwarded-For: 1.1.1.1, 10.1.1.1\r\n", "1.1.1.1", "http"},
        {"X-Forwarded-For: 10.1.1.1\r\n", "10.1.1.1", "http"},
        {"X-Forwarded-For: not-an-ip\r\n", "10.0.0.9", "http"},
        {"X-Real-Ip: ::1\r\nX-Scheme: https\r\n", "::1", "https"},
        {"X-Forwarded-Proto: http, https\r\n", "10.0.0.9", "https"},
        {"X-Forwarded-Proto: ftp\r\n", "10.0.0.9", "http"},
        {"X-Real-Ip: 1.2.3.4.5\r\n", "10.0.0.9", "http"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        h_t h;
        tn_httpserver_options_t o = {0};
        memset(&g_app, 0, sizeof g_app);
        o.xheaders = 1;
        o.trusted_downstream = trusted;
        h_open_opts(&h, &o);
        char req[256];
        snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: h\r\n%s\r\n", rows[i].hdrs);
        h_sends(&h, req);
        cr_assert_str_eq(g_app.remote_ip, rows[i].ip, "row %zu", i);
        cr_assert_str_eq(g_app.protocol, rows[i].proto, "row %zu", i);
        h_close(&h);
    }
    /* without xheaders the headers are ignored */
    h_t h;
    h_open(&h, MODE_HELLO);
    h_sends(&h, "GET / HTTP/1.1\r\nHost: h\r\nX-Real-Ip: 4.4.4.4\r\n\r\n");
    cr_assert_str_eq(g_app.remote_ip, "10.0.0.9");
    h_close(&h);
}

static size_t gzip_bytes(const char *in, size_t n, char *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t len = zs.total_out;
    deflateEnd(&zs);
    return len;
}

Test(http1_conn, gzip_request_body_is_inflated_and_limited_after_inflation)
{
    static char plain[6000], gz[8192], req[9000];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (char)('a' + i % 7);
    size_t glen = gzip_bytes(plain, sizeof plain, gz, sizeof gz);
    int k = snprintf(req, sizeof req,
                     "POST / HTTP/1.1\r\nHost: h\r\nContent-Encoding: gzip\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     glen);
    memcpy(req + k, gz, glen);

    h_t h;
    tn_httpserver_options_t o = {0};
    memset(&g_app, 0, sizeof g_app);
    g_app.mode = MODE_NONE;
    o.decompress_request = 1;
    h_open_opts(&h, &o);
    h_send(&h, req, (size_t)k + glen, 37);
    cr_assert_eq(g_app.requests, 1);
    cr_assert_eq(g_app.last_body_len, sizeof plain);
    cr_assert_eq(memcmp(g_app.last_body, plain, sizeof plain), 0);
    h_close(&h);

    /* a gzip bomb-lite: small on the wire, over the limit once inflated */
    memset(&g_app, 0, sizeof g_app);
    o.max_body_size = 1000;
    h_open_opts(&h, &o);
    h_send(&h, req, (size_t)k + glen, 0);
    cr_assert_eq(g_app.requests, 0);
    cr_assert(starts(&h, "HTTP/1.1 413 "), "%.30s", h.mt->out);
    h_close(&h);

    /* corrupt gzip: 400 */
    memset(&g_app, 0, sizeof g_app);
    o.max_body_size = 0;
    h_open_opts(&h, &o);
    h_sends(&h, "POST / HTTP/1.1\r\nHost: h\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\n"
                "hello");
    cr_assert(starts(&h, "HTTP/1.1 400 "));
    h_close(&h);

    /* without decompress_request the bytes pass through */
    memset(&g_app, 0, sizeof g_app);
    g_app.mode = MODE_NONE;
    o.decompress_request = 0;
    h_open_opts(&h, &o);
    h_send(&h, req, (size_t)k + glen, 0);
    cr_assert_eq(g_app.last_body_len, glen);
    h_close(&h);
}

Test(http1_conn, F2_partial_request_at_eof_closes_silently)
{
    h_t h;
    h_open(&h, MODE_HELLO);
    h_sends(&h, "GET / HTTP/1.1\r\nHo");
    tn_mt_eof(h.mt, TN_EOF);
    h_turns(&h, 5);
    cr_assert(h.mt->closed);
    cr_assert_eq(h.mt->out_len, 0);
    cr_assert_eq(g_app.requests, 0);
    h_close(&h);
}

/* ---- delegate contract --------------------------------------------------- */

typedef struct {
    char log[256];
    size_t n;
    size_t body;
    int pause_at_first;
    tn_http_request_t *req;
    int early_response;
    int abort_in_headers;
} dlg_t;

static dlg_t g_dlg;

static void note(char c)
{
    if (g_dlg.n + 1 < sizeof g_dlg.log)
        g_dlg.log[g_dlg.n++] = c;
}

static int d_start(tn_http_request_t *req, void *arg)
{
    (void)arg;
    g_dlg.req = req;
    note('s');
    return 0;
}

static int d_headers(tn_http_request_t *req, void *arg)
{
    (void)arg;
    note('h');
    if (g_dlg.abort_in_headers)
        return TN_EINVAL;
    if (g_dlg.early_response)
        cr_assert_eq(tn_http_response_send(req, 403, NULL, "no", 2), 0);
    return 0;
}

static int d_data(tn_http_request_t *req, const char *data, size_t len, void *arg)
{
    (void)arg;
    (void)data;
    note('d');
    g_dlg.body += len;
    if (g_dlg.pause_at_first) {
        g_dlg.pause_at_first = 0;
        tn_http_request_pause_body(req);
    }
    return 0;
}

static void d_finish(tn_http_request_t *req, void *arg)
{
    (void)arg;
    note('f');
    if (!g_dlg.early_response)
        cr_assert_eq(tn_http_response_send(req, 200, NULL, "done", 4), 0);
}

static void d_close(tn_http_request_t *req, void *arg)
{
    (void)arg;
    (void)req;
    note('c');
}

static const tn_http_delegate_t k_dlg = {d_start, d_headers, d_data, d_finish, d_close};

static void d_open(h_t *h)
{
    tn_httpserver_options_t o = {0};
    memset(&g_dlg, 0, sizeof g_dlg);
    o.delegate = &k_dlg;
    h_open_opts(h, &o);
}

Test(http1_conn, delegate_order_for_a_complete_request)
{
    h_t h;
    d_open(&h);
    h_send(&h, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789",
           strlen("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789"), 3);
    cr_assert_eq(g_dlg.log[0], 's');
    cr_assert_eq(g_dlg.log[1], 'h');
    cr_assert_eq(g_dlg.log[g_dlg.n - 1], 'f');
    cr_assert_eq(strchr(g_dlg.log, 'c'), NULL);
    cr_assert_eq(g_dlg.body, 10);
    cr_assert(has(&h, "done"));
    h_close(&h);
    cr_assert_eq(strchr(g_dlg.log, 'c'), NULL, "no close after finish");
}

Test(http1_conn, delegate_gets_close_not_finish_when_the_peer_leaves_mid_body)
{
    h_t h;
    d_open(&h);
    h_sends(&h, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123");
    tn_mt_eof(h.mt, TN_EOF);
    h_turns(&h, 5);
    cr_assert_str_eq(g_dlg.log, "shdc");
    h_close(&h);
    cr_assert_str_eq(g_dlg.log, "shdc", "exactly one of finish/close");
}

Test(http1_conn, delegate_gets_close_when_the_request_is_rejected_after_start)
{
    h_t h;
    tn_httpserver_options_t o = {0};
    memset(&g_dlg, 0, sizeof g_dlg);
    o.delegate = &k_dlg;
    o.max_body_size = 4;
    h_open_opts(&h, &o);
    h_sends(&h, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
                "3\r\ndef\r\n0\r\n\r\n");
    cr_assert(has(&h, "HTTP/1.1 413 "));
    cr_assert_eq(g_dlg.log[g_dlg.n - 1], 'c');
    cr_assert_eq(strchr(g_dlg.log, 'f'), NULL);
    h_close(&h);
}

Test(http1_conn, delegate_abort_closes_the_connection)
{
    h_t h;
    d_open(&h);
    g_dlg.abort_in_headers = 1;
    h_sends(&h, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_str_eq(g_dlg.log, "shc");
    cr_assert(h.mt->closed);
    h_close(&h);
}

Test(http1_conn, delegate_pause_stops_deliveries_until_resume)
{
    h_t h;
    d_open(&h);
    g_dlg.pause_at_first = 1;
    h_sends(&h, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                "2\r\nab\r\n2\r\ncd\r\n2\r\nef\r\n0\r\n\r\n");
    cr_assert_str_eq(g_dlg.log, "shd", "one delivery, then paused");
    h_turns(&h, 10);
    cr_assert_str_eq(g_dlg.log, "shd");
    tn_http_request_resume_body(g_dlg.req);
    cr_assert_str_eq(g_dlg.log, "shd", "never inside resume");
    h_turns(&h, 5);
    cr_assert_str_eq(g_dlg.log, "shdddf");
    cr_assert_eq(g_dlg.body, 6);
    h_close(&h);
}

Test(http1_conn, delegate_early_response_then_connection_closes_after_the_body)
{
    h_t h;
    d_open(&h);
    g_dlg.early_response = 1;
    h_sends(&h, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    cr_assert(starts(&h, "HTTP/1.1 403 Forbidden\r\n"), "no 100 after an early answer");
    cr_assert(has(&h, "Connection: close\r\n"));
    h_sends(&h, "abc");
    cr_assert_str_eq(g_dlg.log, "shdf");
    cr_assert(h.mt->shut || h.mt->closed);
    h_close(&h);
}

Test(http1_conn, set_max_body_size_per_request)
{
    h_t h;
    d_open(&h);
    h_sends(&h, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n");
    cr_assert_eq(tn_http_request_set_max_body_size(g_dlg.req, 2), 0);
    h_sends(&h, "abc");
    cr_assert(has(&h, "HTTP/1.1 413 "));
    cr_assert_eq(g_dlg.log[g_dlg.n - 1], 'c');
    h_close(&h);
}

/* ---- timeouts ----------------------------------------------------------- */

Test(http1_conn, idle_and_header_timeouts_close_the_connection)
{
    for (int phase = 0; phase < 3; phase++) {
        h_t h;
        tn_httpserver_options_t o = {0};
        memset(&g_app, 0, sizeof g_app);
        o.idle_timeout_ms = 30;
        o.header_timeout_ms = 30;
        o.body_timeout_ms = 30;
        h_open_opts(&h, &o);
        if (phase == 1)
            h_sends(&h, "GET / HTTP/1.1\r\nHo");
        if (phase == 2)
            h_sends(&h, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nab");
        double t0 = tn_test_now_ms();
        while (!h.mt->closed && !h.mt->shut && tn_test_now_ms() - t0 < 2000) {
            tn_test_settle(h.loop, 10);
        }
        if (phase < 2) {
            cr_assert(h.mt->closed, "phase %d timed out", phase);
            cr_assert_eq(h.mt->out_len, 0, "phase %d: closed without an answer", phase);
        } else {
            /* a body that stops arriving: 408, then the lingering close */
            cr_assert(h.mt->shut, "phase %d timed out", phase);
            cr_assert(starts(&h, "HTTP/1.1 408 Request Timeout\r\n"), "%.*s", (int)h.mt->out_len,
                      h.mt->out);
            cr_assert(has(&h, "Connection: close\r\n"));
        }
        cr_assert_eq(g_app.requests, 0);
        h_close(&h);
    }
}

Test(http1_conn, F155_no_timeout_while_the_application_works)
{
    h_t h;
    tn_httpserver_options_t o = {0};
    memset(&g_app, 0, sizeof g_app);
    g_app.mode = MODE_ASYNC;
    o.idle_timeout_ms = 20;
    o.header_timeout_ms = 20;
    h_open_opts(&h, &o);
    h_sends(&h, "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
    tn_test_settle(h.loop, 100);
    cr_assert_eq(h.mt->closed, 0, "F155: no header/idle timeout while a handler is busy");
    cr_assert_not_null(g_app.held);
    cr_assert_eq(tn_http_response_send(g_app.held, 200, NULL, "x", 1), 0);
    h_turns(&h, 3);
    cr_assert_eq(g_app.requests, 2);
    h_close(&h);
}

/* ---- accessors and the access log --------------------------------------- */

static tn_http_access_t g_access;
static char g_access_uri[64];
static int g_access_calls;

static void on_access(const tn_http_access_t *e, void *arg)
{
    (void)arg;
    g_access = *e;
    snprintf(g_access_uri, sizeof g_access_uri, "%.*s", (int)e->uri_len, e->uri);
    g_access_calls++;
}

static void on_req_accessors(tn_http_request_t *req, void *arg)
{
    size_t n;
    const char *v;
    (void)arg;
    v = tn_http_request_method(req, &n);
    cr_assert(n == 4 && memcmp(v, "POST", 4) == 0);
    v = tn_http_request_uri(req, &n);
    cr_assert(n == 12 && memcmp(v, "/p/q?a=1&b=2", 12) == 0);
    v = tn_http_request_path(req, &n);
    cr_assert(n == 4 && memcmp(v, "/p/q", 4) == 0);
    v = tn_http_request_query(req, &n);
    cr_assert(n == 7 && memcmp(v, "a=1&b=2", 7) == 0);
    cr_assert_str_eq(tn_http_request_version(req), "HTTP/1.1");
    v = tn_http_request_host(req, &n);
    cr_assert(n == 9 && memcmp(v, "ex.com:80", 9) == 0);
    const tn_args_t *args = tn_http_request_arguments(req);
    cr_assert_not_null(args);
    cr_assert_eq(tn_args_count(args), 4, "query plus the form body (blank values kept)");
    cr_assert_not_null(tn_args_get(args, "d", NULL));
    v = tn_args_get(args, "c", &n);
    cr_assert(v && n == 3 && memcmp(v, "x y", 3) == 0);
    const tn_args_t *ck = tn_http_request_cookies(req);
    cr_assert_not_null(ck);
    v = tn_args_get(ck, "sid", &n);
    cr_assert(v && n == 3 && memcmp(v, "abc", 3) == 0);
    cr_assert_not_null(tn_args_get(ck, "t", NULL));
    cr_assert_eq(tn_http_request_loop(req), tn_http_request_loop(req));
    cr_assert_not_null(tn_http_request_server(req));
    cr_assert_eq(tn_http_response_status(req), 0);
    tn_http_request_set_data(req, (void *)req);
    cr_assert_eq(tn_http_request_data(req), req);
    cr_assert_eq(tn_http_response_send(req, 201, NULL, "made", 4), 0);
    cr_assert_eq(tn_http_response_status(req), 201);
}

Test(http1_conn, request_accessors_arguments_cookies_and_access_log)
{
    h_t h;
    tn_httpserver_options_t o = {0};
    g_access_calls = 0;
    o.request_cb = on_req_accessors;
    o.access_log = on_access;
    h_open_opts(&h, &o);
    h_sends(&h, "POST /p/q?a=1&b=2 HTTP/1.1\r\nHost: ex.com:80\r\n"
                "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
                "Cookie: sid=abc; t=1\r\nContent-Length: 7\r\n\r\nc=x+y");
    h_sends(&h, "&d");
    cr_assert(starts(&h, "HTTP/1.1 201 Created\r\n"));
    cr_assert_eq(g_access_calls, 1);
    cr_assert_eq(g_access.status, 201);
    cr_assert_eq(g_access.bytes_sent, 4);
    cr_assert_str_eq(g_access_uri, "/p/q?a=1&b=2");
    cr_assert_str_eq(g_access.remote_ip, "10.0.0.9");
    h_close(&h);
}

Test(http1_conn, server_header_option_and_its_absence)
{
    h_t h;
    tn_httpserver_options_t o = {0};
    memset(&g_app, 0, sizeof g_app);
    o.server_header = "";
    h_open_opts(&h, &o);
    h_sends(&h, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(has(&h, "Server:"), 0);
    h_close(&h);
    o.server_header = "custom/1";
    h_open_opts(&h, &o);
    h_sends(&h, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert(has(&h, "Server: custom/1\r\n"));
    h_close(&h);
}

static void on_req_odd_status(tn_http_request_t *req, void *arg)
{
    (void)arg;
    cr_assert_eq(tn_http_response_write_headers(req, 299, NULL, NULL), 0);
    cr_assert_eq(tn_http_response_finish(req), 0);
}

Test(http1_conn, status_without_a_standard_reason_gets_unknown)
{
    h_t h;
    tn_httpserver_options_t o = {0};
    o.request_cb = on_req_odd_status;
    h_open_opts(&h, &o);
    h_sends(&h, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert(starts(&h, "HTTP/1.1 299 Unknown\r\n"));
    h_close(&h);
}

static char g_host_seen[64];
static char g_consumed[16];

static void on_req_host(tn_http_request_t *req, void *arg)
{
    size_t n;
    const char *host = tn_http_request_host(req, &n);
    (void)arg;
    snprintf(g_host_seen, sizeof g_host_seen, "%.*s", (int)n, host);
    const char *ce =
        tn_headers_get(tn_http_request_headers(req), "X-Consumed-Content-Encoding", &n);
    snprintf(g_consumed, sizeof g_consumed, "%.*s", ce ? (int)n : 0, ce ? ce : "");
    cr_assert_eq(tn_http_response_send(req, 200, NULL, "ok", 2), 0);
}

/* Regression (found by fuzz_http1_conn): renaming Content-Encoding could move
 * the header arena under a view taken before it. Every padding size puts the
 * arena's growth at a different point. */
Test(http1_conn, gzip_header_rename_keeps_header_views_valid)
{
    static char gz[64], req[2048], pad[700];
    size_t glen = gzip_bytes("hello", 5, gz, sizeof gz);
    memset(pad, 'p', sizeof pad);
    for (int padn = 0; padn < 600; padn += 7) {
        h_t h;
        tn_httpserver_options_t o = {0};
        o.request_cb = on_req_host;
        o.decompress_request = 1;
        h_open_opts(&h, &o);
        int k = snprintf(req, sizeof req,
                         "POST / HTTP/1.1\r\nHost: the-host.example\r\nX-Pad: %.*s\r\n"
                         "Content-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
                         padn, pad, glen);
        memcpy(req + k, gz, glen);
        h_send(&h, req, (size_t)k + glen, 0);
        cr_assert_str_eq(g_host_seen, "the-host.example", "pad %d", padn);
        cr_assert_str_eq(g_consumed, "gzip", "pad %d", padn);
        h_close(&h);
    }
}

/* F2/#147 when the FIN is read together with the request (IOCP delivers
 * both in one go): the response is still written, then the connection
 * closes. */
Test(http1_conn, F2_eof_read_with_the_request_still_gets_the_response)
{
    h_t h;
    h_open(&h, MODE_HELLO);
    static const char req[] = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    cr_assert_eq(tn_mt_feed(h.mt, req, sizeof req - 1, 0), sizeof req - 1);
    tn_mt_eof(h.mt, TN_EOF); /* before the delivery ran */
    h_turns(&h, 6);
    cr_assert(has(&h, "hello /x"), "%.*s", (int)h.mt->out_len, h.mt->out);
    cr_assert(h.mt->closed, "then closed");
    h_close(&h);
}

Test(http1_conn, F2_eof_with_pipelined_requests_buffered_answers_them_all)
{
    h_t h;
    h_open(&h, MODE_HELLO);
    static const char req[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
                              "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
    cr_assert_eq(tn_mt_feed(h.mt, req, sizeof req - 1, 0), sizeof req - 1);
    tn_mt_eof(h.mt, TN_EOF);
    h_turns(&h, 10);
    cr_assert(has(&h, "hello /1") && has(&h, "hello /2") && has(&h, "hello /3"));
    cr_assert(h.mt->closed);
    h_close(&h);
}
