/* The testing module (testing.h), tested by using it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "tornuv.h"

TestSuite(testing, .timeout = 60);

static tn_ioloop_t *new_loop(void)
{
    tn_ioloop_t *loop = NULL;
    cr_assert_eq(tn_ioloop_new(&loop), 0);
    return loop;
}

static void close_loop(tn_ioloop_t *loop)
{
    size_t leaked = 99;
    cr_assert_eq(tn_testing_loop_close(loop, &leaked), 0);
    cr_assert_eq(leaked, 0, "%zu objects left alive", leaked);
}

static int nothing_alive(void *loop)
{
    return tn_ioloop_alive_count(loop) == 0;
}

/* ---- budgets and run_until ------------------------------------------------ */

Test(testing, timeout_budget_from_environment)
{
    uv_os_unsetenv("TORNUV_TEST_TIMEOUT_MS");
    uv_os_unsetenv("ASYNC_TEST_TIMEOUT");
    cr_assert_eq(tn_testing_timeout_ms(), 5000);
    cr_assert_eq(uv_os_setenv("ASYNC_TEST_TIMEOUT", "0.2"), 0);
    cr_assert_eq(tn_testing_timeout_ms(), 200, "seconds, as Tornado reads them");
    cr_assert_eq(uv_os_setenv("TORNUV_TEST_TIMEOUT_MS", "1234"), 0);
    cr_assert_eq(tn_testing_timeout_ms(), 1234, "the tornuv variable wins");
    cr_assert_eq(uv_os_setenv("TORNUV_TEST_TIMEOUT_MS", "junk"), 0);
    cr_assert_eq(tn_testing_timeout_ms(), 200, "unparsable: ignored");
    uv_os_unsetenv("TORNUV_TEST_TIMEOUT_MS");
    uv_os_unsetenv("ASYNC_TEST_TIMEOUT");
}

static void bump(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    (*(int *)arg)++;
}

static int reached_three(void *arg)
{
    return *(int *)arg >= 3;
}

Test(testing, run_until_condition_then_timeout)
{
    tn_ioloop_t *loop = new_loop();
    int n = 0;
    tn_ioloop_call_later(loop, 10, bump, &n);
    tn_ioloop_call_later(loop, 20, bump, &n);
    tn_ioloop_add_callback(loop, bump, &n);
    uint64_t t0 = uv_hrtime();
    cr_assert_eq(tn_testing_run_until(loop, reached_three, &n, 5000), 0);
    cr_assert_eq(n, 3);
    cr_assert_lt((uv_hrtime() - t0) / 1000000, 2000, "returned as soon as it held");
    /* Already true: returns at once without running the loop. */
    cr_assert_eq(tn_testing_run_until(loop, reached_three, &n, 5000), 0);

    /* Never true: the budget ends it, with a log line, and the loop is
     * still usable afterwards. */
    tn_expect_log_t *e;
    cr_assert_eq(tn_expect_log_begin(TN_LOG_WARN, "async operation timed out after 100 ms", 1, &e),
                 0);
    n = -100;
    t0 = uv_hrtime();
    cr_assert_eq(tn_testing_run_until(loop, reached_three, &n, 100), TN_ETIMEOUT);
    uint64_t took = (uv_hrtime() - t0) / 1000000;
    cr_assert_geq(took, 90);
    cr_assert_lt(took, 3000);
    cr_assert_eq(tn_expect_log_end(e), 0, "the timeout was logged");
    n = 2;
    tn_ioloop_add_callback(loop, bump, &n);
    cr_assert_eq(tn_testing_run_until(loop, reached_three, &n, 5000), 0);
    close_loop(loop);
}

static void never_done(tn_ioloop_t *loop, tn_sync_t *sync, void *arg)
{
    (void)loop;
    (void)sync;
    (void)arg;
}

static void done_later(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    tn_sync_done(arg, 42);
}

static void finish_soon(tn_ioloop_t *loop, tn_sync_t *sync, void *arg)
{
    (void)arg;
    tn_ioloop_call_later(loop, 5, done_later, sync);
}

/* tornado: testing_test AsyncTestCaseTest test_gen_test timeout */
Test(testing, run_returns_status_or_times_out)
{
    tn_ioloop_t *loop = new_loop();
    cr_assert_eq(tn_testing_run(loop, finish_soon, NULL, 0), 42);
    tn_expect_log_t *e;
    cr_assert_eq(tn_expect_log_begin(0, "async operation timed out", 1, &e), 0);
    cr_assert_eq(tn_testing_run(loop, never_done, NULL, 50), TN_ETIMEOUT);
    cr_assert_eq(tn_expect_log_end(e), 0);
    close_loop(loop);
}

static void tick(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

Test(testing, loop_close_reports_leaks)
{
    tn_ioloop_t *loop = new_loop();
    tn_iostream_t *a, *b;
    cr_assert_neq(tn_ioloop_call_later(loop, 100000, tick, NULL), 0);
    cr_assert_eq(tn_testing_stream_pair(loop, NULL, &a, &b), 0);
    size_t leaked = 0;
    cr_assert_eq(tn_testing_loop_close(loop, &leaked), 0);
    cr_assert_eq(leaked, 3, "a timeout and two streams");
}

/* ---- ports ----------------------------------------------------------------- */

Test(testing, bind_unused_port_gives_distinct_listening_ports)
{
    enum { N = 20 };
    tn_socket_t socks[N];
    int ports[N];
    for (int i = 0; i < N; i++) {
        cr_assert_eq(tn_testing_bind_unused_port(NULL, &socks[i], &ports[i]), 0);
        cr_assert_gt(ports[i], 0);
        for (int j = 0; j < i; j++)
            cr_assert_neq(ports[i], ports[j]);
    }
    for (int i = 0; i < N; i++)
        tn_testing_close_socket(socks[i]);
    tn_socket_t s;
    int port;
    cr_assert_eq(tn_testing_bind_unused_port("localhost", &s, &port), TN_EINVAL,
                 "never resolves names");
}

static void on_accepted(tn_tcpserver_t *server, tn_iostream_t *stream, const char *ip, int port,
                        void *arg)
{
    (void)server;
    (void)port;
    cr_assert_str_eq(ip, "127.0.0.1");
    (*(int *)arg)++;
    tn_iostream_close(stream);
}

static void on_client(tn_iostream_t *s, int status, void *arg)
{
    (void)s;
    (void)arg;
    cr_assert_eq(status, 0);
}

static void on_server_freed(void *arg)
{
    *(int *)arg = 1;
}

static int int_set(void *arg)
{
    return *(int *)arg != 0;
}

/* The socket serves a TCPServer (Tornado's add_sockets). */
Test(testing, bound_port_serves_a_server)
{
    tn_ioloop_t *loop = new_loop();
    tn_socket_t sock;
    int port, accepted = 0, freed = 0;
    cr_assert_eq(tn_testing_bind_unused_port("127.0.0.1", &sock, &port), 0);
    tn_tcpserver_t *server;
    tn_tcpserver_options_t o = {.handle_stream = on_accepted, .arg = &accepted};
    cr_assert_eq(tn_tcpserver_new(loop, &o, &server), 0);
    cr_assert_eq(tn_tcpserver_add_socket(server, sock), 0);
    cr_assert_eq(tn_iostream_connect(loop, "127.0.0.1", port, NULL, on_client, NULL, NULL), 0);
    cr_assert_eq(tn_testing_run_until(loop, int_set, &accepted, 5000), 0);
    tn_tcpserver_free(server, on_server_freed, &freed);
    cr_assert_eq(tn_testing_run_until(loop, int_set, &freed, 5000), 0);
    size_t leaked;
    cr_assert_eq(tn_testing_loop_close(loop, &leaked), 0);
}

/* ---- in-memory stream pair ------------------------------------------------- */

typedef struct {
    char buf[4096];
    size_t len;
    int reads, status, closes, error;
} sink_t;

static void on_sink(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    sink_t *k = arg;
    k->reads++;
    k->status = status;
    k->error = tn_iostream_error(s);
    if (status == 0 && k->len + len <= sizeof(k->buf)) {
        memcpy(k->buf + k->len, data, len);
        k->len += len;
    }
}

static void on_sink_close(tn_iostream_t *s, void *arg)
{
    (void)s;
    ((sink_t *)arg)->closes++;
}

static int sink_read(void *arg)
{
    return ((sink_t *)arg)->reads > 0;
}

static int sink_closed(void *arg)
{
    return ((sink_t *)arg)->closes > 0;
}

/* Delivered one byte at a time, a delimiter straddles deliveries. */
Test(testing, stream_pair_round_trip_byte_by_byte)
{
    tn_ioloop_t *loop = new_loop();
    tn_testing_pair_options_t o = {.max_segment = 1};
    tn_iostream_t *a, *b;
    cr_assert_eq(tn_testing_stream_pair(loop, &o, &a, &b), 0);
    sink_t k = {0}, back = {0};
    cr_assert_eq(tn_iostream_write(a, "hello\r\n\r\nrest", 13, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_read_until(b, "\r\n\r\n", 4, 0, on_sink, &k), 0);
    cr_assert_eq(k.reads, 0, "never inside the call");
    cr_assert_eq(tn_testing_run_until(loop, sink_read, &k, 5000), 0);
    cr_assert_eq(k.len, 9);
    cr_assert_eq(memcmp(k.buf, "hello\r\n\r\n", 9), 0);
    /* And the other way. */
    cr_assert_eq(tn_iostream_write(b, "pong", 4, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_read_bytes(a, 4, 0, on_sink, &back), 0);
    cr_assert_eq(tn_testing_run_until(loop, sink_read, &back, 5000), 0);
    cr_assert_eq(memcmp(back.buf, "pong", 4), 0);
    /* a's close: b reads what is left, then end of file (clean). */
    sink_t rest = {0};
    tn_iostream_set_close_callback(b, on_sink_close, &rest);
    tn_iostream_close(a);
    cr_assert_eq(tn_iostream_read_until_close(b, on_sink, &rest), 0);
    cr_assert_eq(tn_testing_run_until(loop, sink_closed, &rest, 5000), 0);
    cr_assert_eq(rest.status, 0);
    cr_assert_eq(rest.error, 0);
    cr_assert_eq(rest.len, 4);
    cr_assert_eq(memcmp(rest.buf, "rest", 4), 0);
    close_loop(loop);
}

static void on_big_written(tn_iostream_t *s, int status, void *arg)
{
    (void)s;
    *(int *)arg = status == 0 ? 1 : status;
}

/* A reader that does not read holds the writer back. */
Test(testing, stream_pair_back_pressure)
{
    enum { BIG = 100000 };
    tn_ioloop_t *loop = new_loop();
    tn_testing_pair_options_t o = {.capacity = 1024};
    o.stream_options.max_write_buffer_size = BIG + BIG / 2;
    tn_iostream_t *a, *b;
    cr_assert_eq(tn_testing_stream_pair(loop, &o, &a, &b), 0);
    char *data = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        data[i] = (char)(i * 7);
    int written = 0;
    cr_assert_eq(tn_iostream_write(a, data, BIG, on_big_written, &written), 0);
    cr_assert_eq(tn_iostream_write_buffered(a), BIG - 1024, "only capacity bytes went");
    tn_expect_log_t *e;
    cr_assert_eq(tn_expect_log_begin(0, "async operation timed out", 1, &e), 0);
    cr_assert_eq(tn_testing_run_until(loop, int_set, &written, 100), TN_ETIMEOUT);
    cr_assert_eq(tn_expect_log_end(e), 0);
    cr_assert(tn_iostream_writing(a));
    cr_assert_eq(tn_iostream_write_buffered(a), BIG - 1024, "nobody read: nothing moved");
    cr_assert_eq(tn_iostream_write(a, data, BIG, NULL, NULL), TN_EBUFFULL,
                 "max_write_buffer_size holds");
    /* Now read: everything flows. */
    sink_t k = {0};
    char *got = malloc(BIG);
    cr_assert_eq(tn_iostream_read_into(b, got, BIG, 0, on_sink, &k), 0);
    cr_assert_eq(tn_testing_run_until(loop, int_set, &written, 5000), 0);
    cr_assert_eq(written, 1);
    cr_assert_eq(tn_testing_run_until(loop, sink_read, &k, 5000), 0);
    cr_assert_eq(memcmp(got, data, BIG), 0);
    free(data);
    free(got);
    tn_iostream_close(a);
    tn_iostream_close(b);
    cr_assert_eq(tn_testing_run_until(loop, nothing_alive, loop, 1000), 0);
    close_loop(loop);
}

/* ---- HTTP test server -------------------------------------------------------- */

static void serve(tn_http_request_t *req, void *arg)
{
    (void)arg;
    size_t plen, blen;
    const char *path = tn_http_request_path(req, &plen);
    const char *body = tn_http_request_body(req, &blen);
    char out[512];
    int n = snprintf(out, sizeof(out), "%.*s got %zu bytes: %.*s", (int)plen, path, blen,
                     (int)(blen < 100 ? blen : 100), body != NULL ? body : "");
    tn_http_response_send(req, plen == 1 ? 200 : 201, "text/plain", out, (size_t)n);
}

Test(testing, http_server_and_fetch)
{
    tn_ioloop_t *loop = new_loop();
    tn_httpserver_options_t o = {.request_cb = serve};
    tn_testing_http_t *t;
    cr_assert_eq(tn_testing_http_start(loop, NULL, &o, &t), 0);
    cr_assert_gt(tn_testing_http_port(t), 0);
    char url[64];
    cr_assert_gt(tn_testing_http_url(t, "/x", url, sizeof(url)), 0);
    char want[64];
    snprintf(want, sizeof(want), "http://127.0.0.1:%d/x", tn_testing_http_port(t));
    cr_assert_str_eq(url, want);

    tn_testing_response_t r;
    cr_assert_eq(tn_testing_http_fetch(t, "GET", "/", NULL, NULL, 0, 0, &r), 0);
    cr_assert_eq(r.code, 200);
    cr_assert_str_eq(r.body, "/ got 0 bytes: ");
    char ct[64];
    cr_assert_eq(tn_testing_response_header(&r, "content-type", ct, sizeof(ct)), 10);
    cr_assert_str_eq(ct, "text/plain");
    cr_assert_eq(tn_testing_response_header(&r, "X-Nope", ct, sizeof(ct)), TN_ENOTFOUND);
    tn_testing_response_clear(&r);

    cr_assert_eq(tn_testing_http_fetch(t, "POST", "/post", "X-Test: 1\r\n", "abc", 3, 0, &r), 0);
    cr_assert_eq(r.code, 201);
    cr_assert_str_eq(r.body, "/post got 3 bytes: abc");
    tn_testing_response_clear(&r);

    int port = tn_testing_http_port(t);
    cr_assert_eq(tn_testing_http_stop(t, 0), 0);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    /* Nobody listens any more: no response, an error, code 599. */
    (void)port;
    close_loop(loop);
}

static int hello_get(tn_handler_t *h)
{
    tn_handler_write_str(h, "Hello, world");
    return TN_WEB_DONE;
}

static const tn_handler_class_t hello = {.name = "hello", .get = hello_get};

static void chunked(tn_http_request_t *req, void *arg)
{
    (void)arg;
    tn_http_response_write_headers(req, 200, NULL, NULL);
    tn_http_response_write(req, "part one, ", 10, NULL, NULL);
    tn_http_response_write(req, "part two", 8, NULL, NULL);
    tn_http_response_finish(req);
}

Test(testing, http_server_with_an_app_and_chunked_bodies)
{
    tn_ioloop_t *loop = new_loop();
    tn_app_t *app;
    cr_assert_eq(tn_app_new(NULL, &app), 0);
    cr_assert_eq(tn_app_add_route(app, NULL, "/hello", &hello, NULL, NULL), 0);
    tn_testing_http_t *t;
    cr_assert_eq(tn_testing_http_start(loop, app, NULL, &t), 0);
    tn_testing_response_t r;
    cr_assert_eq(tn_testing_http_fetch(t, "GET", "/hello", NULL, NULL, 0, 0, &r), 0);
    cr_assert_eq(r.code, 200);
    cr_assert_str_eq(r.body, "Hello, world");
    tn_testing_response_clear(&r);
    tn_expect_log_t *e;
    cr_assert_eq(tn_expect_log_begin(0, "404 GET /missing", 0, &e), 0);
    cr_assert_eq(tn_testing_http_fetch(t, "GET", "/missing", NULL, NULL, 0, 0, &r), 0);
    cr_assert_eq(tn_expect_log_end(e), 0);
    cr_assert_eq(r.code, 404);
    tn_testing_response_clear(&r);
    cr_assert_eq(tn_testing_http_stop(t, 0), 0);
    tn_app_free(app);

    tn_httpserver_options_t o = {.request_cb = chunked};
    cr_assert_eq(tn_testing_http_start(loop, NULL, &o, &t), 0);
    cr_assert_eq(tn_testing_http_fetch(t, "GET", "/", NULL, NULL, 0, 0, &r), 0);
    char te[32];
    cr_assert_eq(tn_testing_response_header(&r, "Transfer-Encoding", te, sizeof(te)), 7);
    cr_assert_str_eq(r.body, "part one, part two");
    cr_assert_eq(r.body_len, 18);
    tn_testing_response_clear(&r);
    cr_assert_eq(tn_testing_http_stop(t, 0), 0);
    close_loop(loop);
}

static void never_answer(tn_http_request_t *req, void *arg)
{
    (void)req;
    (void)arg;
}

Test(testing, http_fetch_timeout_is_599)
{
    tn_ioloop_t *loop = new_loop();
    tn_httpserver_options_t o = {.request_cb = never_answer};
    tn_testing_http_t *t;
    cr_assert_eq(tn_testing_http_start(loop, NULL, &o, &t), 0);
    tn_testing_response_t r;
    tn_expect_log_t *e;
    cr_assert_eq(tn_expect_log_begin(0, "async operation timed out", 1, &e), 0);
    cr_assert_eq(tn_testing_http_fetch(t, "GET", "/", NULL, NULL, 0, 100, &r), TN_ETIMEOUT);
    cr_assert_eq(tn_expect_log_end(e), 0);
    cr_assert_eq(r.code, 599);
    cr_assert_eq(r.error, TN_ETIMEOUT);
    cr_assert_null(r.body);
    tn_testing_response_clear(&r);
    cr_assert_eq(tn_testing_http_stop(t, 0), 0);
    close_loop(loop);
}

/* ---- ExpectLog ------------------------------------------------------------------ */

typedef struct {
    char last[256];
    int lines;
} outer_t;

static void outer_handler(int level, const char *message, void *arg)
{
    outer_t *o = arg;
    (void)level;
    o->lines++;
    snprintf(o->last, sizeof(o->last), "%s", message);
}

Test(testing, expect_log_suppresses_matches_and_chains_the_rest)
{
    outer_t o = {0};
    tn_log_set_handler(outer_handler, &o);
    tn_expect_log_t *e, *inner;
    cr_assert_eq(tn_expect_log_begin(TN_LOG_WARN, "disk [0-9]+ full", 1, &e), 0);
    tn_log(TN_LOG_WARN, "disk 7 full");
    tn_log(TN_LOG_WARN, "the disk 7 full"); /* anchored at the start: no match */
    tn_log(TN_LOG_ERROR, "disk 8 full");    /* another level: not suppressed */
    cr_assert_eq(tn_expect_log_count(e), 1);
    cr_assert_eq(o.lines, 2);
    cr_assert_str_eq(o.last, "disk 8 full");
    /* Nested: the inner scope sees first, chains to the outer one. */
    cr_assert_eq(tn_expect_log_begin(0, "inner", 1, &inner), 0);
    tn_log(TN_LOG_WARN, "inner line");
    tn_log(TN_LOG_WARN, "disk 9 full");
    cr_assert_eq(tn_expect_log_end(inner), 0);
    cr_assert_eq(tn_expect_log_count(e), 2);
    cr_assert_eq(o.lines, 2);
    cr_assert_eq(tn_expect_log_end(e), 0);
    tn_log(TN_LOG_WARN, "disk 1 full");
    cr_assert_eq(o.lines, 3, "the scope is gone");
    tn_log_set_handler(NULL, NULL);
}

Test(testing, expect_log_required_and_bad_pattern)
{
    tn_expect_log_t *e;
    cr_assert_eq(tn_expect_log_begin(0, "never logged", 1, &e), 0);
    cr_assert_eq(tn_expect_log_end(e), TN_ENOTFOUND);
    cr_assert_eq(tn_expect_log_begin(0, "never logged", 0, &e), 0);
    cr_assert_eq(tn_expect_log_end(e), 0, "not required");
    cr_assert_eq(tn_expect_log_begin(0, "(unclosed", 1, &e), TN_EINVAL);
}

Test(testing, expect_log_level_below_the_threshold)
{
    outer_t o = {0};
    tn_log_set_handler(outer_handler, &o);
    tn_log_set_level(TN_LOG_WARN);
    tn_expect_log_t *e;
    cr_assert_eq(tn_expect_log_begin(TN_LOG_DEBUG, "detail", 1, &e), 0);
    tn_log(TN_LOG_DEBUG, "detail 1");
    tn_log(TN_LOG_DEBUG, "other");
    cr_assert_eq(tn_expect_log_end(e), 0, "seen although below the threshold");
    cr_assert_eq(o.lines, 0, "what the outer handler would not see stays unseen");
    tn_log(TN_LOG_DEBUG, "detail 2");
    cr_assert_eq(o.lines, 0, "threshold restored");
    tn_log_set_handler(NULL, NULL);
}

/* ---- allocation failures ---------------------------------------------------------- */

typedef struct {
    sink_t k;
    int written;
} cycle_t;

/* One session: a pair, a message across, both closed. Returns 0 when it ran
 * to the end, or the first error a starter reported. */
static void forget_stream(tn_iostream_t *s, void *arg)
{
    (void)s;
    *(tn_iostream_t **)arg = NULL; /* freed once this returns */
}

/* The streams outlive one_cycle's frame (their close callbacks run later). */
static tn_iostream_t *cyc_a, *cyc_b;

static int one_cycle(tn_ioloop_t *loop)
{
    tn_iostream_t **a = &cyc_a, **b = &cyc_b;
    static cycle_t c;
    memset(&c, 0, sizeof(c));
    int err = tn_testing_stream_pair(loop, NULL, a, b);
    if (err != 0)
        return err;
    tn_iostream_set_close_callback(*a, forget_stream, a);
    tn_iostream_set_close_callback(*b, forget_stream, b);
    err = tn_iostream_write(*a, "ping\n", 5, on_big_written, &c.written);
    if (err == 0)
        err = tn_iostream_read_until(*b, "\n", 1, 100, on_sink, &c.k);
    if (err == 0 && tn_testing_run_until(loop, sink_read, &c.k, 5000) != 0)
        err = TN_ETIMEOUT;
    if (err == 0 && c.k.status != 0)
        err = c.k.status;
    if (*a != NULL)
        tn_iostream_close(*a);
    if (*b != NULL)
        tn_iostream_close(*b);
    return err;
}

Test(testing, fail_alloc_sweep)
{
    tn_ioloop_t *loop = new_loop();
    tn_testing_fail_alloc_after(-1); /* installs the counting allocator */
    cr_assert_eq(one_cycle(loop), 0, "a healthy run");
    cr_assert_eq(tn_testing_run_until(loop, nothing_alive, loop, 1000), 0);
    long base = tn_testing_live_allocations();
    long n;
    int failures = 0;
    for (n = 0; n < 1000; n++) {
        tn_testing_fail_alloc_after(n);
        int err = one_cycle(loop);
        int hit = tn_testing_alloc_failed();
        tn_testing_fail_alloc_after(-1);
        /* Let the closes finish, then nothing may be left. */
        cr_assert_eq(tn_testing_run_until(loop, nothing_alive, loop, 1000), 0);
        cr_assert_eq(tn_testing_live_allocations(), base, "n=%ld: a leak", n);
        if (!hit) {
            cr_assert_eq(err, 0, "no failure injected, yet error %s", tn_err_name(err));
            break;
        }
        failures++;
        cr_assert(err == 0 || err == TN_ENOMEM || err == TN_ECLOSED, "n=%ld: %s", n,
                  tn_err_name(err));
    }
    cr_assert_lt(n, 1000, "the sweep ends");
    cr_assert_gt(failures, 0, "some allocation was failed");
    cr_assert_gt(tn_testing_alloc_count(), 0);
    close_loop(loop);
}
