/* The HTTP client against a scripted raw-socket server (a thread answering
 * each request with canned bytes, sent in two pieces split where it
 * matters): every hostile framing case of the issue at the client level
 * (status, code, what happens to the connection), the dead pooled
 * connection retry, and 100-continue answered early. The parser-level
 * table splits the same cases at every byte (test_httpclient_parser). */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "hc_env.h"
#include "loop_util.h"
#include "net_peer.h"

#define MAX_STEPS 4

typedef struct {
    int lfd, port;
    const char *resp[MAX_STEPS]; /* per request, in order; NULL = close without answering */
    size_t split[MAX_STEPS];     /* send this many bytes, pause, then the rest (0 = one send) */
    int close_after[MAX_STEPS];  /* close the connection after answering */
    int nsteps;
    const char *always; /* answer every request with this, until stopped */
    size_t always_len;
    int conns, requests;
    char seen[MAX_STEPS][512];
    volatile int stop;
    pthread_t th;
} raw_t;

static int has_head(const char *b, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (memcmp(b + i, "\r\n\r\n", 4) == 0)
            return (int)(i + 4);
    return 0;
}

static void *raw_main(void *arg)
{
    raw_t *s = arg;
    int cfd = -1;
    char buf[8192];
    size_t blen = 0;
    while (!s->stop && (s->always || s->requests < s->nsteps)) {
        struct pollfd p[2] = {{s->lfd, POLLIN, 0}, {cfd, POLLIN, 0}};
        int n = poll(p, cfd >= 0 ? 2 : 1, 50);
        if (n <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            if (cfd >= 0)
                close(cfd);
            cfd = accept(s->lfd, NULL, NULL);
            blen = 0;
            s->conns++;
            continue;
        }
        if (cfd < 0 || !(p[1].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t r = recv(cfd, buf + blen, sizeof buf - blen, 0);
        if (r <= 0) {
            close(cfd);
            cfd = -1;
            continue;
        }
        blen += (size_t)r;
        int h = has_head(buf, blen);
        if (!h)
            continue;
        /* A request body (Content-Length) is read before answering, unless
         * the script answers early (Expect: 100-continue). */
        const char *cl = strstr(buf, "Content-Length: ");
        size_t want = cl && cl < buf + h && !strstr(buf, "Expect: 100") ? (size_t)atol(cl + 16) : 0;
        if (blen < (size_t)h + want)
            continue;
        int i = s->requests++;
        if (!s->always)
            snprintf(s->seen[i], sizeof s->seen[i], "%.*s", h, buf);
        memmove(buf, buf + h + want, blen - (size_t)h - want);
        blen -= (size_t)h + want;
        if (s->always) {
            send(cfd, s->always, s->always_len, MSG_NOSIGNAL);
            continue;
        }
        if (!s->resp[i]) {
            close(cfd);
            cfd = -1;
            continue;
        }
        size_t len = strlen(s->resp[i]), k = s->split[i];
        if (k > 0 && k < len) {
            send(cfd, s->resp[i], k, MSG_NOSIGNAL);
            usleep(20000);
            send(cfd, s->resp[i] + k, len - k, MSG_NOSIGNAL);
        } else {
            send(cfd, s->resp[i], len, MSG_NOSIGNAL);
        }
        if (s->close_after[i]) {
            shutdown(cfd, SHUT_WR);
            usleep(20000);
            close(cfd);
            cfd = -1;
        }
    }
    /* Linger so the client reads the last answer before the close. */
    usleep(100000);
    if (cfd >= 0)
        close(cfd);
    return NULL;
}

static void raw_start(raw_t *s)
{
    s->lfd = tn_test_raw_listener(AF_INET, 16, &s->port);
    cr_assert_eq(pthread_create(&s->th, NULL, raw_main, s), 0);
}

static void raw_stop(raw_t *s)
{
    s->stop = 1;
    pthread_join(s->th, NULL);
    close(s->lfd);
}

static void url_of(const raw_t *s, const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "http://127.0.0.1:%d%s", s->port, path);
}

#define OK200 "HTTP/1.1 200 OK\r\n"

typedef struct {
    const char *name;
    const char *resp;
    size_t split;
    int close_after;
    const char *method;
    int status;       /* expected */
    const char *body; /* expected on success */
    int code;         /* expected, 0 = not checked */
    int reuse;        /* the next fetch may reuse the connection */
} hcase_t;

static const hcase_t k_cases[] = {
    {"cl plus", OK200 "Content-Length: +11\r\n\r\nhello world", 20, 0, NULL, TN_EHTTP, NULL, 599,
     0},
    {"cl junk", OK200 "Content-Length: 11abc\r\n\r\nhello world", 30, 0, NULL, TN_EHTTP, NULL, 599,
     0},
    {"cl list", OK200 "Content-Length: 5, 11\r\n\r\nhello world", 30, 0, NULL, TN_EHTTP, NULL, 599,
     0},
    {"cl twice", OK200 "Content-Length: 5\r\nContent-Length: 11\r\n\r\nhello world", 40, 0, NULL,
     TN_EHTTP, NULL, 599, 0},
    {"cl overflow", OK200 "Content-Length: 184467440737095516160\r\n\r\nhello", 40, 0, NULL,
     TN_EHTTP, NULL, 599, 0},
    {"cl and te", OK200 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 25, 0,
     NULL, TN_EHTTP, NULL, 599, 0},
    {"bare lf", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 10, 0, NULL, TN_EHTTP, NULL, 599, 0},
    {"truncated cl", OK200 "Content-Length: 11\r\n\r\nhello", 40, 1, NULL, TN_ECLOSED, NULL, 200,
     0},
    {"truncated chunked", OK200 "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 50, 1, NULL,
     TN_ECLOSED, NULL, 200, 0},
    {"chunk no crlf", OK200 "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 50, 0, NULL,
     TN_EHTTP, NULL, 200, 0},
    {"interim 100 103",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" OK200
     "Content-Length: 2\r\n\r\nok",
     26, 0, NULL, 0, "ok", 200, 1},
    {"204 with length", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", 30, 0, NULL, 0,
     "", 204, 0},
    {"304 with length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 30, 0, NULL,
     TN_EHTTP, NULL, 304, 1},
    {"head with length", OK200 "Content-Length: 10\r\n\r\n", 20, 0, "HEAD", 0, "", 200, 1},
    {"close then junk",
     OK200 "Connection: close\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 400 X\r\n\r\n", 45, 1, NULL, 0,
     "ok", 200, 0},
    {"unsolicited bytes", OK200 "Content-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n", 36, 0, NULL, 0,
     "ok", 200, 0},
    {"until close", OK200 "\r\nuntil the end", 19, 1, NULL, 0, "until the end", 200, 0},
};

/* Each case, then a plain GET to the same server: it must succeed, on the
 * same connection only when the case left it clean. */
Test(httpclient_hostile, framing_cases)
{
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const hcase_t *c = &k_cases[i];
        raw_t s = {0};
        hc_env_t e;
        char url[128];
        s.resp[0] = c->resp;
        s.split[0] = c->split;
        s.close_after[0] = c->close_after;
        s.resp[1] = OK200 "Content-Length: 4\r\n\r\nnext";
        s.nsteps = 2;
        raw_start(&s);
        hc_env_open(&e, NULL, NULL);
        hc_res_t r = {0}, n = {0};
        tn_fetch_options_t o = {.method = c->method};
        url_of(&s, "/case", url, sizeof url);
        hc_fetch(&e, url, &o, &r);
        cr_assert_eq(r.status, c->status, "%s: status %d (%s), want %d", c->name, r.status, r.err,
                     c->status);
        if (c->code)
            cr_assert_eq(r.code, c->code, "%s: code %d", c->name, r.code);
        if (c->body) {
            cr_assert_eq(r.len, strlen(c->body), "%s: %zu bytes", c->name, r.len);
            cr_assert(r.len == 0 || memcmp(r.body, c->body, r.len) == 0, "%s: body", c->name);
        }
        url_of(&s, "/next", url, sizeof url);
        hc_fetch(&e, url, NULL, &n);
        cr_assert_eq(n.status, 0, "%s: the next fetch failed: %s", c->name, n.err);
        cr_assert_str_eq(n.body, "next", "%s", c->name);
        cr_assert_eq(n.t.reused, c->reuse, "%s: reused %d", c->name, n.t.reused);
        hc_res_free(&r);
        hc_res_free(&n);
        hc_env_close(&e);
        raw_stop(&s);
        cr_assert_eq(s.conns, c->reuse ? 1 : 2, "%s: %d connections", c->name, s.conns);
    }
}

/* The server closes a kept-alive connection just as the next request
 * arrives: a GET is sent again once on a new connection; a POST is not. */
Test(httpclient_hostile, dead_pooled_connection_retry)
{
    raw_t s = {0};
    hc_env_t e;
    char url[128];
    s.resp[0] = OK200 "Content-Length: 1\r\n\r\na";
    s.resp[1] = NULL; /* read the request, close without a word */
    s.resp[2] = OK200 "Content-Length: 1\r\n\r\nb";
    s.nsteps = 3;
    raw_start(&s);
    hc_env_open(&e, NULL, NULL);
    hc_res_t a = {0}, b = {0};
    url_of(&s, "/a", url, sizeof url);
    hc_fetch(&e, url, NULL, &a);
    cr_assert_eq(a.status, 0);
    url_of(&s, "/b", url, sizeof url);
    hc_fetch(&e, url, NULL, &b);
    cr_assert_eq(b.status, 0, "%s", b.err);
    cr_assert_str_eq(b.body, "b");
    cr_assert_eq(b.t.reused, 0, "answered on the new connection");
    hc_res_free(&a);
    hc_res_free(&b);
    hc_env_close(&e);
    raw_stop(&s);
    cr_assert_eq(s.requests, 3);
    cr_assert_eq(s.conns, 2);
    cr_assert_not_null(strstr(s.seen[2], "GET /b "));

    raw_t p = {0};
    p.resp[0] = OK200 "Content-Length: 1\r\n\r\na";
    p.resp[1] = NULL;
    p.resp[2] = OK200 "Content-Length: 1\r\n\r\nb";
    p.nsteps = 3;
    raw_start(&p);
    hc_env_open(&e, NULL, NULL);
    hc_res_t c = {0}, d = {0};
    tn_fetch_options_t post = {.method = "POST", .body = "x", .body_len = 1};
    url_of(&p, "/a", url, sizeof url);
    hc_fetch(&e, url, NULL, &c);
    url_of(&p, "/post", url, sizeof url);
    hc_fetch(&e, url, &post, &d);
    cr_assert_eq(d.status, TN_ECLOSED, "%d %s", d.status, d.err);
    cr_assert_str_eq(d.err, "connection closed before a response");
    hc_res_free(&c);
    hc_res_free(&d);
    hc_env_close(&e);
    p.stop = 1;
    raw_stop(&p);
    cr_assert_eq(p.requests, 2, "the POST went out once");
}

static int never_called(tn_fetch_t *f, void *arg)
{
    (void)f;
    (*(int *)arg)++;
    return 0;
}

/* tornado: test_100_continue_early_response */
Test(httpclient_hostile, expect_100_answered_early)
{
    raw_t s = {0};
    hc_env_t e;
    char url[128];
    int calls = 0;
    s.resp[0] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno";
    s.resp[1] = OK200 "Content-Length: 4\r\n\r\nnext";
    s.nsteps = 2;
    raw_start(&s);
    hc_env_open(&e, NULL, NULL);
    tn_headers_t *h;
    tn_headers_new(&h);
    tn_headers_add(h, "Content-Length", 14, "100", 3);
    tn_fetch_options_t o = {.method = "PUT",
                            .headers = h,
                            .body_producer = never_called,
                            .producer_arg = &calls,
                            .expect_100_continue = 1};
    hc_res_t r = {0}, n = {0};
    url_of(&s, "/up", url, sizeof url);
    hc_fetch(&e, url, &o, &r);
    cr_assert_eq(r.status, TN_EHTTP);
    cr_assert_eq(r.code, 403);
    cr_assert_eq(calls, 0, "the producer never runs");
    cr_assert_not_null(strstr(s.seen[0], "Expect: 100-continue\r\n"));
    hc_fetch(&e, url, NULL, &n);
    cr_assert_eq(n.status, 0);
    cr_assert_eq(n.t.reused, 0, "the connection did not carry on");
    hc_res_free(&r);
    hc_res_free(&n);
    tn_headers_free(h);
    hc_env_close(&e);
    raw_stop(&s);
}

/* A server that answers nothing keeps the fetch until its deadline only. */
Test(httpclient_hostile, silent_server_times_out)
{
    raw_t s = {0};
    hc_env_t e;
    char url[128];
    s.nsteps = 1;
    s.resp[0] = NULL;
    s.lfd = tn_test_raw_listener(AF_INET, 16, &s.port); /* nobody accepts */
    hc_env_open(&e, NULL, NULL);
    hc_res_t r = {0};
    tn_fetch_options_t o = {.request_timeout_ms = 150};
    url_of(&s, "/", url, sizeof url);
    hc_fetch(&e, url, &o, &r);
    cr_assert_eq(r.status, TN_ETIMEOUT);
    cr_assert_str_eq(r.err, "Timeout during request");
    hc_res_free(&r);
    hc_env_close(&e);
    close(s.lfd);
}

/* ---- out of memory: the N-th allocation of one fetch fails -------------------- */

static long countdown = -1;
static int hit;

static int should_fail(void)
{
    if (countdown < 0)
        return 0;
    if (countdown-- == 0) {
        hit = 1;
        return 1;
    }
    return 0;
}

static void *f_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n);
}

static void *f_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n);
}

static void *f_calloc(size_t c, size_t n)
{
    return should_fail() ? NULL : calloc(c, n);
}

static void on_dog(tn_ioloop_t *loop, void *arg)
{
    (void)arg;
    tn_ioloop_stop(loop);
}

static void on_cfreed(void *arg)
{
    *(int *)arg = 1;
}

/* FAULTS.md F17 for the client: a gzip'd chunked answer, fetched with the
 * N-th tornuv allocation failing, for N = 0, 1, 2, ... until a run no longer
 * reaches the failure. Every run ends with the fetch refused (TN_ENOMEM) or
 * its done exactly once; the client then frees cleanly, and the loop closes
 * with nothing alive (LeakSanitizer checks the rest in --sanitize runs). */
Test(httpclient_hostile, allocation_failure_sweep, .timeout = 240)
{
    static char resp[4096];
    char plain[3000], packed[2048], url[128];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (char)('a' + i % 23);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)plain;
    zs.avail_in = sizeof plain;
    zs.next_out = (Bytef *)packed;
    zs.avail_out = sizeof packed;
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t pl = sizeof packed - zs.avail_out;
    deflateEnd(&zs);
    int k =
        snprintf(resp, sizeof resp,
                 OK200 "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n", pl);
    memcpy(resp + k, packed, pl);
    k += (int)pl;
    k += snprintf(resp + k, sizeof resp - (size_t)k, "\r\n0\r\n\r\n");
    raw_t s = {0};
    s.always = resp;
    s.always_len = (size_t)k;
    raw_start(&s);
    url_of(&s, "/oom?x=1", url, sizeof url);
    tn_ioloop_t *loop = tn_test_loop_new();
    int n;
    for (n = 0; n < 2000; n++) {
        hc_env_t e;
        memset(&e, 0, sizeof e);
        e.loop = loop;
        cr_assert_eq(tn_httpclient_new(loop, NULL, &e.cli), 0);
        hc_res_t r = {0};
        tn_fetch_options_t o = {.request_timeout_ms = 3000};
        /* The watchdog is armed before the injection starts. */
        tn_timeout_id dog = tn_ioloop_call_later(loop, 10000, on_dog, NULL);
        tn_replace_allocator(f_malloc, f_realloc, f_calloc, free);
        hit = 0;
        countdown = n;
        int rc = hc_start(&e, url, &o, &r);
        if (rc == 0)
            tn_ioloop_start(loop);
        countdown = -1;
        tn_ioloop_remove_timeout(loop, dog);
        cr_assert_eq(e.pending, 0, "N=%d: the fetch hung", n);
        cr_assert(rc == 0 || rc == TN_ENOMEM, "N=%d: fetch returned %d", n, rc);
        cr_assert_eq(r.calls, rc == 0 ? 1 : 0, "N=%d: %d done calls", n, r.calls);
        if (!hit) {
            cr_assert_eq(r.status, 0, "N=%d: %s", n, r.err);
            cr_assert_eq(r.len, sizeof plain);
        } else if (rc == 0 && r.status == 0) {
            cr_assert_eq(r.len, sizeof plain, "N=%d: a success is whole", n);
        }
        hc_res_free(&r);
        int freed = 0;
        tn_httpclient_free(e.cli, on_cfreed, &freed);
        for (int i = 0; i < 200 && !freed; i++)
            tn_test_settle(loop, 2);
        cr_assert(freed, "N=%d: client not freed", n);
        tn_replace_allocator(malloc, realloc, calloc, free);
        if (!hit)
            break;
    }
    cr_assert_gt(n, 20, "the sweep covered the fetch's allocations");
    cr_assert_lt(n, 2000);
    tn_test_settle(loop, 20);
    tn_test_close(loop, 0);
    raw_stop(&s);
}
