/* HTTPServer over loopback TCP: real sockets from a scripted peer thread
 * (pipelining, half-close, lingering close after 413, slow clients,
 * connection limits, graceful shutdown) and a real client (curl). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <winsock2.h>
#else
#include <sys/socket.h>
#endif

#include "http_loopback.h"
#include "loop_util.h"
#include "net_peer.h"

typedef struct {
    int requests;
    int max_in_flight, in_flight;
    tn_http_request_t *held;
    int held_closed;
    char order[4096];
    size_t order_len;
    int closed_cbs;
} srv_app_t;

static srv_app_t g;

static void on_held_close(tn_http_request_t *req, void *arg)
{
    (void)req;
    (void)arg;
    g.held_closed++;
    g.held = NULL;
    g.in_flight--;
}

static void on_request(tn_http_request_t *req, void *arg)
{
    size_t n, bl;
    const char *path = tn_http_request_path(req, &n);
    char body[128];
    (void)arg;
    tn_http_request_body(req, &bl);
    g.requests++;
    g.in_flight++;
    if (g.in_flight > g.max_in_flight)
        g.max_in_flight = g.in_flight;
    if (g.order_len + n + 1 < sizeof g.order) {
        memcpy(g.order + g.order_len, path, n);
        g.order_len += n;
        g.order[g.order_len++] = ' ';
    }
    if (n == 5 && memcmp(path, "/hold", 5) == 0) {
        g.held = req;
        tn_http_request_set_close_callback(req, on_held_close, NULL);
        return;
    }
    int k = snprintf(body, sizeof body, "%.*s %zu", (int)n, path, bl);
    cr_assert_eq(tn_http_response_send(req, 200, "text/plain", body, (size_t)k), 0);
    g.in_flight--;
}

typedef tn_hs_t s_t;

static void s_open(s_t *s, tn_httpserver_options_t *o)
{
    memset(&g, 0, sizeof g);
    if (!o->request_cb && !o->delegate)
        o->request_cb = on_request;
    tn_hs_open(s, o);
}

static void s_close(s_t *s)
{
    tn_hs_close(s);
}

static void peer_init(tn_peer_t *p, int port, const char *send, size_t len)
{
    memset(p, 0, sizeof *p);
    p->family = AF_INET;
    p->port = port;
    p->send = send;
    p->send_len = len;
}

Test(httpserver, keep_alive_then_connection_close_over_loopback)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    s_open(&s, &o);
    static const char req[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                              "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
                              "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    tn_peer_t p;
    peer_init(&p, s.port, req, sizeof req - 1);
    tn_peer_start(&p);
    tn_peer_run_until_done(s.loop, &p, 5000);
    cr_assert_eq(p.read_err, 0);
    cr_assert(p.eof);
    cr_assert_eq(tn_test_count(p.recv, p.recv_len, "HTTP/1.1 200 OK"), 3);
    cr_assert_eq(tn_test_count(p.recv, p.recv_len, "/a 0"), 1);
    cr_assert_eq(tn_test_count(p.recv, p.recv_len, "/b 3"), 1);
    cr_assert_eq(tn_test_count(p.recv, p.recv_len, "/c 0"), 1);
    tn_peer_free(&p);
    tn_test_settle(s.loop, 20);
    cr_assert_eq(tn_httpserver_connection_count(s.srv), 0);
    s_close(&s);
}

Test(httpserver, F148_hundred_pipelined_requests_in_one_write)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    s_open(&s, &o);
    static char req[8192];
    size_t len = 0;
    for (int i = 0; i < 100; i++)
        len +=
            (size_t)snprintf(req + len, sizeof req - len, "GET /%d HTTP/1.1\r\nHost: a\r\n%s\r\n",
                             i, i == 99 ? "Connection: close\r\n" : "");
    tn_peer_t p;
    peer_init(&p, s.port, req, len);
    tn_peer_start(&p);
    tn_peer_run_until_done(s.loop, &p, 5000);
    cr_assert(p.eof);
    cr_assert_eq(tn_test_count(p.recv, p.recv_len, "HTTP/1.1 200 OK"), 100);
    cr_assert_eq(g.max_in_flight, 1);
    /* in order */
    const char *at = p.recv;
    for (int i = 0; i < 100; i++) {
        char want[16];
        snprintf(want, sizeof want, "\r\n\r\n/%d 0", i);
        const char *hit = strstr(at, want);
        cr_assert_not_null(hit, "response %d in order", i);
        at = hit + 1;
    }
    tn_peer_free(&p);
    s_close(&s);
}

Test(httpserver, F147_half_close_after_a_complete_request_still_gets_the_response)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    s_open(&s, &o);
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    tn_peer_t p;
    peer_init(&p, s.port, req, sizeof req - 1);
    p.shutdown_wr = 1;
    tn_peer_start(&p);
    tn_peer_run_until_done(s.loop, &p, 5000);
    cr_assert(p.eof);
    cr_assert_eq(p.read_err, 0);
    cr_assert_eq(tn_test_count(p.recv, p.recv_len, "HTTP/1.1 200 OK"), 1);
    cr_assert_eq(tn_test_count(p.recv, p.recv_len, "\r\n\r\n/ 0"), 1);
    tn_peer_free(&p);
    s_close(&s);
}

Test(httpserver, F154_early_413_is_delivered_whole_before_the_close)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    o.max_body_size = 64 * 1024;
    s_open(&s, &o);
    size_t body = 1024 * 1024;
    static const char head[] =
        "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n";
    char *req = malloc(sizeof head - 1 + body);
    memcpy(req, head, sizeof head - 1);
    memset(req + sizeof head - 1, 'u', body);
    tn_peer_t p;
    peer_init(&p, s.port, req, sizeof head - 1 + body);
    tn_peer_start(&p);
    tn_peer_run_until_done(s.loop, &p, 8000);
    cr_assert_eq(p.read_err, 0, "no reset ate the response (%d)", p.read_err);
    cr_assert(p.eof);
    cr_assert(p.recv_len > 12 && memcmp(p.recv, "HTTP/1.1 413 ", 13) == 0);
    cr_assert_eq(tn_test_count(p.recv, p.recv_len, "Connection: close"), 1);
    cr_assert_eq(g.requests, 0);
    tn_peer_free(&p);
    free(req);
    s_close(&s);
}

Test(httpserver, F146_slow_header_client_hits_the_header_timeout_while_others_are_served)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    o.header_timeout_ms = 300;
    s_open(&s, &o);
    static const char slow[] =
        "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    tn_peer_t p;
    peer_init(&p, s.port, slow, sizeof slow - 1);
    p.chunk = 1;
    p.chunk_delay_ms = 50; /* the whole header would take ~3 s */
    tn_peer_start(&p);
    tn_test_settle(s.loop, 100);
    /* a normal client is served meanwhile */
    static const char fast[] = "GET /fast HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    tn_peer_t q;
    peer_init(&q, s.port, fast, sizeof fast - 1);
    double t0 = tn_test_now_ms();
    tn_peer_start(&q);
    tn_peer_run_until_done(s.loop, &q, 2000);
    cr_assert(tn_test_now_ms() - t0 < 500, "fast client waited");
    cr_assert_eq(tn_test_count(q.recv, q.recv_len, "/fast 0"), 1);
    tn_peer_run_until_done(s.loop, &p, 6000);
    cr_assert(p.send_err != 0 || p.eof, "slow client cut off");
    cr_assert_eq(tn_test_count(p.recv, p.recv_len, "HTTP/1.1 200"), 0);
    cr_assert_eq(g.requests, 1);
    tn_peer_free(&p);
    tn_peer_free(&q);
    s_close(&s);
}

Test(httpserver, idle_keep_alive_connection_is_closed_after_idle_timeout)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    o.idle_timeout_ms = 150;
    s_open(&s, &o);
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    tn_peer_t p;
    peer_init(&p, s.port, req, sizeof req - 1);
    double t0 = tn_test_now_ms();
    tn_peer_start(&p);
    tn_peer_run_until_done(s.loop, &p, 3000);
    double took = tn_test_now_ms() - t0;
    cr_assert(p.eof);
    cr_assert_eq(tn_test_count(p.recv, p.recv_len, "HTTP/1.1 200 OK"), 1);
    cr_assert(took >= 140 && took < 1500, "closed after %.0f ms", took);
    tn_peer_free(&p);
    s_close(&s);
}

Test(httpserver, F143_max_connections_holds_the_excess_in_the_backlog)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    o.max_connections = 1;
    s_open(&s, &o);
    /* A holds its connection with a pending request. */
    static const char a_req[] = "GET /hold HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    tn_peer_t a;
    peer_init(&a, s.port, a_req, sizeof a_req - 1);
    tn_peer_start(&a);
    for (int i = 0; i < 100 && !g.held; i++)
        tn_test_settle(s.loop, 5);
    cr_assert_not_null(g.held);
    static const char b_req[] = "GET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    tn_peer_t b;
    peer_init(&b, s.port, b_req, sizeof b_req - 1);
    tn_peer_start(&b);
    tn_test_settle(s.loop, 200);
    cr_assert_eq(tn_httpserver_connection_count(s.srv), 1);
    cr_assert_eq(g.requests, 1, "B waits while A holds the only slot");
    /* A's response carries Connection: close, freeing the slot. */
    cr_assert_eq(tn_http_response_send(g.held, 200, NULL, "held", 4), 0);
    tn_peer_run_until_done(s.loop, &b, 3000);
    cr_assert_eq(tn_test_count(b.recv, b.recv_len, "/b 0"), 1);
    cr_assert_eq(g.requests, 2);
    tn_peer_run_until_done(s.loop, &a, 3000);
    cr_assert_eq(tn_test_count(a.recv, a.recv_len, "held"), 1);
    tn_peer_free(&a);
    tn_peer_free(&b);
    s_close(&s);
}

static int g_closed_cb;
static void on_all_closed(tn_httpserver_t *srv, int status, void *arg)
{
    (void)srv;
    (void)arg;
    cr_assert_eq(status, 0);
    g_closed_cb++;
}

Test(httpserver, F27_close_all_connections_lets_in_flight_requests_finish)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    s_open(&s, &o);
    g_closed_cb = 0;
    static const char busy_req[] = "GET /hold HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char idle_req[] = "GET /idle HTTP/1.1\r\nHost: a\r\n\r\n";
    tn_peer_t busy, idle;
    peer_init(&busy, s.port, busy_req, sizeof busy_req - 1);
    peer_init(&idle, s.port, idle_req, sizeof idle_req - 1);
    tn_peer_start(&busy);
    tn_peer_start(&idle);
    for (int i = 0; i < 200 && (!g.held || g.requests < 2); i++)
        tn_test_settle(s.loop, 5);
    cr_assert_not_null(g.held);
    cr_assert_eq(g.requests, 2);
    tn_httpserver_stop(s.srv);
    cr_assert_eq(tn_httpserver_close_all_connections(s.srv, 5000, on_all_closed, NULL), 0);
    cr_assert_eq(tn_httpserver_close_all_connections(s.srv, 5000, on_all_closed, NULL),
                 TN_EALREADY);
    tn_peer_run_until_done(s.loop, &idle, 3000);
    cr_assert(idle.eof, "the idle keep-alive connection closes at once");
    cr_assert_eq(g_closed_cb, 0);
    cr_assert_eq(tn_http_response_send(g.held, 200, NULL, "late", 4), 0);
    tn_peer_run_until_done(s.loop, &busy, 3000);
    cr_assert(busy.eof);
    cr_assert_eq(tn_test_count(busy.recv, busy.recv_len, "late"), 1,
                 "the in-flight response finished");
    for (int i = 0; i < 100 && g_closed_cb == 0; i++)
        tn_test_settle(s.loop, 5);
    cr_assert_eq(g_closed_cb, 1);
    tn_peer_free(&busy);
    tn_peer_free(&idle);
    s_close(&s);
}

Test(httpserver, close_all_connections_deadline_cuts_off_stuck_requests)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    s_open(&s, &o);
    g_closed_cb = 0;
    static const char req[] = "GET /hold HTTP/1.1\r\nHost: a\r\n\r\n";
    tn_peer_t p;
    peer_init(&p, s.port, req, sizeof req - 1);
    tn_peer_start(&p);
    for (int i = 0; i < 200 && !g.held; i++)
        tn_test_settle(s.loop, 5);
    cr_assert_eq(tn_httpserver_close_all_connections(s.srv, 100, on_all_closed, NULL), 0);
    tn_peer_run_until_done(s.loop, &p, 3000);
    cr_assert(p.eof);
    for (int i = 0; i < 100 && g_closed_cb == 0; i++)
        tn_test_settle(s.loop, 5);
    cr_assert_eq(g_closed_cb, 1);
    cr_assert_eq(g.held_closed, 1, "the stuck request learns it died");
    tn_peer_free(&p);
    s_close(&s);
}

Test(httpserver, F21_client_gone_while_handler_waits)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    s_open(&s, &o);
    static const char req[] = "GET /hold HTTP/1.1\r\nHost: a\r\n\r\n";
    tn_peer_t p;
    peer_init(&p, s.port, req, sizeof req - 1);
    p.reset = 1;
    p.reset_after_ms = 50;
    tn_peer_start(&p);
    tn_peer_run_until_done(s.loop, &p, 3000);
    for (int i = 0; i < 100 && g.held_closed == 0; i++)
        tn_test_settle(s.loop, 5);
    cr_assert_eq(g.held_closed, 1);
    tn_test_settle(s.loop, 20);
    cr_assert_eq(g.held_closed, 1, "once");
    cr_assert_eq(tn_httpserver_connection_count(s.srv), 0);
    tn_peer_free(&p);
    s_close(&s);
}

#ifndef _WIN32 /* curl runs on the Linux side only */
/* ---- curl --------------------------------------------------------------- */

typedef struct {
    char cmd[1024];
    char *out;
    size_t len;
    int status;
    volatile int done;
    pthread_t t;
} cmd_t;

static void *cmd_main(void *arg)
{
    cmd_t *c = arg;
    FILE *f = popen(c->cmd, "r");
    size_t cap = 0;
    if (f) {
        for (;;) {
            if (cap - c->len < 4096) {
                cap = cap ? cap * 2 : 65536;
                c->out = realloc(c->out, cap + 1);
            }
            size_t n = fread(c->out + c->len, 1, cap - c->len, f);
            if (n == 0)
                break;
            c->len += n;
        }
        c->status = pclose(f);
    } else {
        c->status = -1;
    }
    if (c->out)
        c->out[c->len] = 0;
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void run_cmd(tn_ioloop_t *loop, cmd_t *c)
{
    pthread_create(&c->t, NULL, cmd_main, c);
    double t0 = tn_test_now_ms();
    while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE) && tn_test_now_ms() - t0 < 15000)
        tn_test_settle(loop, 5);
    cr_assert(__atomic_load_n(&c->done, __ATOMIC_ACQUIRE), "command finished: %s", c->cmd);
    pthread_join(c->t, NULL);
    cr_assert_eq(c->status, 0, "command succeeded: %s\n%s", c->cmd, c->out ? c->out : "");
}

Test(httpserver, curl_reuses_the_keep_alive_connection)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    s_open(&s, &o);
    cmd_t c = {0};
    snprintf(c.cmd, sizeof c.cmd,
             "curl -sS -v --max-time 10 http://127.0.0.1:%d/one http://127.0.0.1:%d/two 2>&1",
             s.port, s.port);
    run_cmd(s.loop, &c);
    cr_assert_eq(tn_test_count(c.out, c.len, "/one 0"), 1);
    cr_assert_eq(tn_test_count(c.out, c.len, "/two 0"), 1);
    cr_assert(tn_test_count(c.out, c.len, "Re-using existing connection") >= 1, "%s", c.out);
    free(c.out);
    s_close(&s);
}

Test(httpserver, curl_chunked_upload_and_100_continue)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    s_open(&s, &o);
    cmd_t c = {0};
    snprintf(c.cmd, sizeof c.cmd,
             "head -c 300000 /dev/zero | curl -sS --max-time 10 -H 'Transfer-Encoding: chunked' "
             "--data-binary @- http://127.0.0.1:%d/up 2>&1",
             s.port);
    run_cmd(s.loop, &c);
    cr_assert_eq(tn_test_count(c.out, c.len, "/up 300000"), 1, "%s", c.out);
    free(c.out);

    cmd_t d = {0};
    snprintf(d.cmd, sizeof d.cmd,
             "head -c 200000 /dev/zero | curl -sS -v --max-time 10 -H 'Expect: 100-continue' "
             "-H 'Content-Length: 200000' --data-binary @- http://127.0.0.1:%d/cont 2>&1",
             s.port);
    run_cmd(s.loop, &d);
    cr_assert_eq(tn_test_count(d.out, d.len, "/cont 200000"), 1, "%s", d.out);
    cr_assert(tn_test_count(d.out, d.len, "100 Continue") >= 1, "%s", d.out);
    free(d.out);
    s_close(&s);
}
#endif
