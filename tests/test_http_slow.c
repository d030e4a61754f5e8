/* Slow-client defences over real loopback sockets, with short timeouts:
 * slowloris (many connections trickling a header), a body trickling in
 * slower than body_timeout_ms, and a peer that stops reading a large
 * response (write_timeout_ms). The clients run on their own threads while
 * the server's loop runs on the main thread. POSIX only. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_loopback.h"
#include "loop_util.h"
#include "net_peer.h"

/* ---- the server ----------------------------------------------------------- */

#define BIG_LEN ((size_t)8 * 1024 * 1024)

static struct {
    int requests;
    char *big;
} g;

static void on_request(tn_http_request_t *req, void *arg)
{
    size_t n;
    const char *path = tn_http_request_path(req, &n);
    (void)arg;
    g.requests++;
    if (n == 4 && memcmp(path, "/big", 4) == 0) {
        cr_assert_eq(tn_http_response_send(req, 200, "application/octet-stream", g.big, BIG_LEN),
                     0);
        return;
    }
    cr_assert_eq(tn_http_response_send(req, 200, "text/plain", "ok", 2), 0);
}

typedef tn_hs_t s_t;

static void s_open(s_t *s, tn_httpserver_options_t *o)
{
    memset(&g, 0, sizeof g);
    o->request_cb = on_request;
    tn_hs_open(s, o);
}

static void s_close(s_t *s)
{
    tn_hs_close(s);
    free(g.big);
}

/* ---- many trickling clients on one thread --------------------------------- */

typedef struct {
    int fd;
    size_t sent;
    double cut_ms; /* when the server ended the connection, -1 while open */
    char recv[256];
    size_t recv_len;
} slow_conn_t;

typedef struct {
    int port;
    int n;
    slow_conn_t *conns;
    const char *prefix;  /* sent at once after connecting */
    const char *trickle; /* then one byte per interval_ms */
    unsigned interval_ms;
    unsigned max_ms; /* atomic: the main thread may end the run early */
    double t0;       /* when the first trickled byte went out */
    volatile int done;
    pthread_t thread;
} slow_t;

/* Reads what is there; notes the end of the connection. */
static void slow_poll(slow_t *s, slow_conn_t *c)
{
    for (;;) {
        char buf[4096];
        ssize_t r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) {
            size_t k =
                (size_t)r < sizeof c->recv - c->recv_len ? (size_t)r : sizeof c->recv - c->recv_len;
            memcpy(c->recv + c->recv_len, buf, k);
            c->recv_len += k;
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            c->cut_ms = tn_test_now_ms() - s->t0;
        return;
    }
}

static void *slow_main(void *arg)
{
    slow_t *s = arg;
    size_t tl = strlen(s->trickle), pl = strlen(s->prefix);
    for (int i = 0; i < s->n; i++) {
        slow_conn_t *c = &s->conns[i];
        c->cut_ms = -1;
        c->fd = tn_peer_connect(AF_INET, s->port, NULL);
        cr_assert(c->fd >= 0, "connect %d: %d", i, c->fd);
        if (pl)
            cr_assert_eq(send(c->fd, s->prefix, pl, MSG_NOSIGNAL), (ssize_t)pl);
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    }
    s->t0 = tn_test_now_ms();
    double next = s->t0;
    for (;;) {
        double now = tn_test_now_ms();
        int open = 0;
        for (int i = 0; i < s->n; i++) {
            slow_conn_t *c = &s->conns[i];
            if (c->cut_ms >= 0)
                continue;
            slow_poll(s, c);
            if (c->cut_ms >= 0)
                continue;
            open++;
            if (now >= next && c->sent < tl) {
                ssize_t w = send(c->fd, s->trickle + c->sent, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w == 1)
                    c->sent++;
                else if (errno == EPIPE || errno == ECONNRESET)
                    c->cut_ms = now - s->t0;
            }
        }
        if (now >= next)
            next += s->interval_ms;
        if (open == 0 || now - s->t0 > __atomic_load_n(&s->max_ms, __ATOMIC_ACQUIRE))
            break;
        tn_test_sleep_ms(5);
    }
    for (int i = 0; i < s->n; i++)
        close(s->conns[i].fd);
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void slow_start(slow_t *s, int port, int n, const char *prefix, const char *trickle,
                       unsigned interval_ms, unsigned max_ms)
{
    memset(s, 0, sizeof *s);
    s->port = port;
    s->n = n;
    s->conns = calloc((size_t)n, sizeof *s->conns);
    cr_assert_not_null(s->conns);
    s->prefix = prefix;
    s->trickle = trickle;
    s->interval_ms = interval_ms;
    s->max_ms = max_ms;
    pthread_create(&s->thread, NULL, slow_main, s);
}

static void slow_run_until_done(tn_ioloop_t *loop, slow_t *s, unsigned timeout_ms)
{
    double t0 = tn_test_now_ms();
    while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) && tn_test_now_ms() - t0 < timeout_ms)
        tn_test_settle(loop, 5);
    cr_assert(__atomic_load_n(&s->done, __ATOMIC_ACQUIRE), "slow clients finished");
    pthread_join(s->thread, NULL);
}

/* ---- slowloris ------------------------------------------------------------- */

/* 200 connections each send one header byte every 100 ms (a thousand at one
 * byte a second, scaled down); all are cut when header_timeout_ms (1 s)
 * expires, without an answer, while a new client is served at once. */
Test(http_slow, slowloris_connections_are_cut_at_the_header_timeout, .timeout = 30)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    o.header_timeout_ms = 1000;
    s_open(&s, &o);
    enum { N = 200 };
    static const char header[] =
        "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    slow_t sl;
    slow_start(&sl, s.port, N, "", header, 100, 8000);
    /* let every slow connection start its header */
    double t0 = tn_test_now_ms();
    while (tn_test_now_ms() - t0 < 400)
        tn_test_settle(s.loop, 5);

    static const char fast[] = "GET /fast HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    tn_peer_t q;
    memset(&q, 0, sizeof q);
    q.family = AF_INET;
    q.port = s.port;
    q.send = fast;
    q.send_len = sizeof fast - 1;
    double f0 = tn_test_now_ms();
    tn_peer_start(&q);
    tn_peer_run_until_done(s.loop, &q, 5000);
    double fast_ms = tn_test_now_ms() - f0;
    cr_assert(q.eof);
    cr_assert_eq(tn_test_count(q.recv, q.recv_len, "HTTP/1.1 200 OK"), 1);
    cr_assert(fast_ms < 500, "the new client waited %.0f ms", fast_ms);

    slow_run_until_done(s.loop, &sl, 15000);
    double first = 1e9, last = 0;
    for (int i = 0; i < N; i++) {
        slow_conn_t *c = &sl.conns[i];
        cr_assert(c->cut_ms >= 0, "connection %d was never cut (%zu bytes sent)", i, c->sent);
        cr_assert_eq(c->recv_len, 0, "connection %d got an answer", i);
        cr_assert(c->sent < sizeof header - 1, "connection %d sent its whole header", i);
        if (c->cut_ms < first)
            first = c->cut_ms;
        if (c->cut_ms > last)
            last = c->cut_ms;
    }
    /* the clock starts at each connection's first byte (all within ~100 ms) */
    cr_assert(first >= 900, "cut after %.0f ms, before the header timeout", first);
    cr_assert(last < 3000, "the last one cut after %.0f ms", last);
    cr_assert_eq(g.requests, 1);
    cr_log_info("slowloris: %d cut between %.0f and %.0f ms; new client served in %.0f ms", N,
                first, last, fast_ms);
    free(sl.conns);
    tn_peer_free(&q);
    s_close(&s);
}

/* ---- slow body ----------------------------------------------------------- */

#define POST_HEAD "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\n\r\n"
#define FORTY "0123456789012345678901234567890123456789"

/* The whole body must arrive within body_timeout_ms: a body trickling in at
 * one byte every 50 ms (2 s for 40 bytes) is cut at 600 ms with a 408. */
Test(http_slow, body_slower_than_the_body_timeout_gets_408_and_close, .timeout = 30)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    o.body_timeout_ms = 600;
    s_open(&s, &o);
    slow_t sl;
    slow_start(&sl, s.port, 5, POST_HEAD, FORTY, 50, 8000);
    slow_run_until_done(s.loop, &sl, 15000);
    for (int i = 0; i < 5; i++) {
        slow_conn_t *c = &sl.conns[i];
        cr_assert(c->cut_ms >= 0, "connection %d never cut", i);
        cr_assert(c->cut_ms >= 500 && c->cut_ms < 1800, "connection %d cut after %.0f ms", i,
                  c->cut_ms);
        cr_assert_eq(tn_test_count(c->recv, c->recv_len, "HTTP/1.1 408 Request Timeout\r\n"), 1,
                     "connection %d: %.*s", i, (int)c->recv_len, c->recv);
        cr_assert_eq(tn_test_count(c->recv, c->recv_len, "Connection: close\r\n"), 1);
        cr_assert(c->sent < 40, "connection %d sent the whole body", i);
    }
    cr_assert_eq(g.requests, 0);
    free(sl.conns);
    s_close(&s);
}

/* The same trickle, faster than the timeout, is served: the bound is on the
 * whole body, not on the gaps. */
Test(http_slow, body_within_the_body_timeout_is_served, .timeout = 30)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    o.body_timeout_ms = 3000;
    s_open(&s, &o);
    slow_t sl;
    slow_start(&sl, s.port, 3, POST_HEAD, FORTY, 20, 8000);
    /* the clients stay open after their answer: stop once all have one */
    double t0 = tn_test_now_ms();
    while (g.requests < 3 && tn_test_now_ms() - t0 < 10000)
        tn_test_settle(s.loop, 5);
    cr_assert_eq(g.requests, 3);
    tn_test_settle(s.loop, 50);
    __atomic_store_n(&sl.max_ms, 0, __ATOMIC_RELEASE); /* ends the client thread */
    slow_run_until_done(s.loop, &sl, 5000);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(tn_test_count(sl.conns[i].recv, sl.conns[i].recv_len, "HTTP/1.1 200 OK\r\n"),
                     1);
    free(sl.conns);
    s_close(&s);
}

/* ---- stalled reader ------------------------------------------------------ */

/* A client with a tiny receive window asks for 8 MiB and reads nothing for
 * 1.5 s: with write_timeout_ms 400 the server closes the connection (the
 * client then reads what the kernels held, far from all, and the end);
 * with 5 s it gets everything. */
static size_t stalled_reader(uint64_t write_timeout_ms, int *eof)
{
    s_t s;
    tn_httpserver_options_t o = {0};
    o.write_timeout_ms = write_timeout_ms;
    s_open(&s, &o);
    g.big = malloc(BIG_LEN);
    cr_assert_not_null(g.big);
    tn_test_random_bytes(g.big, BIG_LEN, 7);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    int small = 4096;
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)s.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);

    static const char req[] = "GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    tn_peer_t p;
    memset(&p, 0, sizeof p);
    p.fd = fd;
    p.send = req;
    p.send_len = sizeof req - 1;
    p.read_delay_ms = 1500;
    tn_peer_start(&p);
    tn_peer_run_until_done(s.loop, &p, 20000);
    size_t got = p.recv_len;
    *eof = p.eof || p.read_err != 0;
    tn_peer_free(&p);
    cr_assert_eq(g.requests, 1);
    s_close(&s);
    return got;
}

Test(http_slow, stalled_reader_is_cut_at_the_write_timeout, .timeout = 60)
{
    int eof = 0;
    size_t got = stalled_reader(400, &eof);
    cr_assert(eof, "the connection ended");
    cr_assert(got < BIG_LEN / 2, "the stalled reader still got %zu bytes", got);

    cr_log_info("stalled reader: %zu of %zu bytes before the close", got, BIG_LEN);
    got = stalled_reader(5000, &eof);
    cr_assert(eof);
    cr_assert(got > BIG_LEN, "a reader that resumes in time gets it all (%zu)", got);
}
