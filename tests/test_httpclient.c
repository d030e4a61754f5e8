/* The HTTP client against tornuv's own HTTPServer on 127.0.0.1:0: every
 * option (Tornado's HTTPClientCommonTestCase as a C table of handlers),
 * redirects, gzip, timeouts, the queue, cancellation, pause, the pool. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#ifdef _WIN32
#include <winsock2.h>
#else
#include <sys/socket.h>
#endif

#include "hc_env.h"
#include "loop_util.h"
#include "net_peer.h"

/* ---- the server's handlers --------------------------------------------------- */

static struct {
    tn_http_request_t *held[16];
    int nheld, max_held, held_closed;
    int requests;
    char last_method[16];
    int other_port; /* a second server, another origin */
} g;

static int path_is(const char *p, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

static void on_held_close(tn_http_request_t *req, void *arg)
{
    (void)arg;
    for (int i = 0; i < g.nheld; i++)
        if (g.held[i] == req) {
            g.held[i] = g.held[--g.nheld];
            g.held_closed++;
            return;
        }
}

static size_t gz(const char *in, size_t n, char *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t len = cap - zs.avail_out;
    deflateEnd(&zs);
    return len;
}

static void send_with(tn_http_request_t *req, int status, const char *name, const char *value,
                      const char *body, size_t len)
{
    tn_headers_t *h;
    cr_assert_eq(tn_headers_new(&h), 0);
    if (name)
        tn_headers_add(h, name, strlen(name), value, strlen(value));
    cr_assert_eq(tn_http_response_write_headers(req, status, NULL, h), 0);
    if (len)
        cr_assert_eq(tn_http_response_write(req, body, len, NULL, NULL), 0);
    cr_assert_eq(tn_http_response_finish(req), 0);
    tn_headers_free(h);
}

static void header_or_dash(tn_http_request_t *req, const char *name, char *out, size_t cap)
{
    size_t n;
    const char *v = tn_headers_get(tn_http_request_headers(req), name, &n);
    snprintf(out, cap, "%.*s", v ? (int)n : 1, v ? v : "-");
}

static void on_request(tn_http_request_t *req, void *arg)
{
    size_t n, ml, bl, ql;
    const char *path = tn_http_request_path(req, &n);
    const char *m = tn_http_request_method(req, &ml);
    const char *body = tn_http_request_body(req, &bl);
    const char *q = tn_http_request_query(req, &ql);
    char buf[1024];
    (void)arg;
    g.requests++;
    snprintf(g.last_method, sizeof g.last_method, "%.*s", (int)ml, m);
    if (path_is(path, n, "/hello")) {
        tn_http_response_send(req, 200, "text/plain", "Hello, world", 12);
    } else if (path_is(path, n, "/echo")) {
        char ct[128];
        header_or_dash(req, "Content-Type", ct, sizeof ct);
        int k = snprintf(buf, sizeof buf, "%.*s %s %zu:", (int)ml, m, ct, bl);
        tn_headers_t *h;
        tn_headers_new(&h);
        tn_headers_add(h, "Content-Type", 12, "text/plain", 10);
        tn_http_response_write_headers(req, 200, NULL, h);
        tn_http_response_write(req, buf, (size_t)k, NULL, NULL);
        if (bl)
            tn_http_response_write(req, body, bl, NULL, NULL);
        tn_http_response_finish(req);
        tn_headers_free(h);
    } else if (path_is(path, n, "/headers")) {
        char ua[128], au[128], ck[128], ae[64];
        header_or_dash(req, "User-Agent", ua, sizeof ua);
        header_or_dash(req, "Authorization", au, sizeof au);
        header_or_dash(req, "Cookie", ck, sizeof ck);
        header_or_dash(req, "Accept-Encoding", ae, sizeof ae);
        int k = snprintf(buf, sizeof buf, "ua=%s|auth=%s|cookie=%s|ae=%s", ua, au, ck, ae);
        tn_http_response_send(req, 200, "text/plain", buf, (size_t)k);
    } else if (n > 11 && memcmp(path, "/countdown/", 11) == 0) {
        int c = atoi(path + 11);
        if (c == 0) {
            tn_http_response_send(req, 200, "text/plain", "zero", 4);
        } else {
            char loc[64];
            snprintf(loc, sizeof loc, "/countdown/%d", c - 1);
            send_with(req, 302, "Location", loc, NULL, 0);
        }
    } else if (path_is(path, n, "/redirect")) {
        /* query: code=NNN&to=URL (raw) */
        int code = atoi(q + 5);
        const char *to = memchr(q, '&', ql);
        snprintf(buf, sizeof buf, "%.*s", (int)(ql - (size_t)(to + 4 - q)), to + 4);
        send_with(req, code, "Location", buf, NULL, 0);
    } else if (path_is(path, n, "/gzip") || path_is(path, n, "/gzip_cut") ||
               path_is(path, n, "/bomb") || path_is(path, n, "/badgzip")) {
        static char plain[1 << 20], packed[1 << 16];
        size_t pl = path_is(path, n, "/bomb") ? sizeof plain : 4000, k;
        for (size_t i = 0; i < pl; i++)
            plain[i] = path_is(path, n, "/bomb") ? 0 : (char)('a' + i % 26);
        k = gz(plain, pl, packed, sizeof packed);
        if (path_is(path, n, "/gzip_cut"))
            k -= 10; /* the trailer and some data gone: a truncated stream */
        if (path_is(path, n, "/badgzip")) {
            memcpy(packed, "\x1f\x8bthis is not deflate data at all", 33);
            k = 33;
        }
        send_with(req, 200, "Content-Encoding", "gzip", packed, k);
    } else if (path_is(path, n, "/big")) {
        size_t len = (size_t)atol(q + 2); /* n=LEN */
        char *b = malloc(len ? len : 1);
        tn_test_random_bytes(b, len, 7);
        tn_http_response_send(req, 200, "application/octet-stream", b, len);
        free(b);
    } else if (path_is(path, n, "/bighead")) {
        static char v[8000];
        memset(v, 'v', sizeof v - 1);
        send_with(req, 200, "X-Big", v, "x", 1);
    } else if (path_is(path, n, "/hold") || path_is(path, n, "/park")) {
        cr_assert_lt(g.nheld, 16);
        g.held[g.nheld++] = req;
        if (g.nheld > g.max_held)
            g.max_held = g.nheld;
        tn_http_request_set_close_callback(req, on_held_close, NULL);
    } else {
        tn_http_response_send(req, 404, "text/plain", "nope", 4);
    }
}

static void release_held(void)
{
    while (g.nheld > 0) {
        tn_http_request_t *r = g.held[--g.nheld];
        tn_http_response_send(r, 200, "text/plain", "released", 8);
    }
}

static void open_env(hc_env_t *e, const tn_httpclient_options_t *co)
{
    tn_httpserver_options_t so = {.request_cb = on_request};
    memset(&g, 0, sizeof g);
    hc_env_open(e, &so, co);
}

/* ---- basics ------------------------------------------------------------------- */

Test(httpclient, hello)
{
    hc_env_t e;
    hc_res_t r = {0};
    char want[128];
    open_env(&e, NULL);
    hc_fetch(&e, "/hello", NULL, &r);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(r.code, 200);
    cr_assert_str_eq(r.reason, "OK");
    cr_assert_eq(r.len, 12);
    cr_assert(memcmp(r.body, "Hello, world", 12) == 0);
    snprintf(want, sizeof want, "%s/hello", e.base);
    cr_assert_str_eq(r.url, want);
    cr_assert_str_eq(r.err, "");
    cr_assert_leq(r.t.first_byte_us, r.t.total_us);
    cr_assert_eq(r.t.redirects, 0);
    cr_assert_eq(r.t.body_bytes, 12);
    hc_res_free(&r);
    hc_env_close(&e);
}

/* tornado: httpclient_test test_404 (raise_error=False) */
Test(httpclient, not_found_is_an_http_status)
{
    hc_env_t e;
    hc_res_t r = {0};
    open_env(&e, NULL);
    hc_fetch(&e, "/nothing", NULL, &r);
    cr_assert_eq(r.status, TN_EHTTP);
    cr_assert_eq(r.code, 404);
    cr_assert_eq(r.len, 4);
    cr_assert_str_eq(r.err, "HTTP 404: Not Found");
    hc_res_free(&r);
    hc_env_close(&e);
}

typedef struct {
    char lines[2048];
    int nlines, heads, chunks, chunk_before_head;
    char body[4096];
    size_t len;
    int last_line_crlf;
} stream_rec_t;

static int s_line(tn_fetch_t *f, const char *line, size_t len, void *arg)
{
    stream_rec_t *s = arg;
    (void)f;
    if (s->chunks)
        s->chunk_before_head = 1;
    strncat(s->lines, line, len);
    s->nlines++;
    s->last_line_crlf = len == 2 && memcmp(line, "\r\n", 2) == 0;
    return 0;
}

static int s_headers(tn_fetch_t *f, int code, const tn_headers_t *h, void *arg)
{
    stream_rec_t *s = arg;
    (void)f;
    cr_assert_eq(code, 200);
    cr_assert_not_null(tn_headers_get(h, "Content-Length", NULL));
    s->heads++;
    return 0;
}

static int s_chunk(tn_fetch_t *f, const char *d, size_t n, void *arg)
{
    stream_rec_t *s = arg;
    (void)f;
    cr_assert_leq(s->len + n, sizeof s->body);
    memcpy(s->body + s->len, d, n);
    s->len += n;
    s->chunks++;
    return TN_CONTINUE;
}

/* tornado: test_streaming_callback, test_header_callback */
Test(httpclient, streaming_and_header_callbacks)
{
    hc_env_t e;
    hc_res_t r = {0};
    stream_rec_t s = {0};
    tn_fetch_options_t o = {
        .on_header_line = s_line, .on_headers = s_headers, .on_chunk = s_chunk, .callback_arg = &s};
    open_env(&e, NULL);
    hc_fetch(&e, "/hello", &o, &r);
    cr_assert_eq(r.status, 0);
    cr_assert_eq(r.len, 0, "the body is not kept with on_chunk");
    cr_assert_eq(s.len, 12);
    cr_assert(memcmp(s.body, "Hello, world", 12) == 0);
    cr_assert_eq(s.heads, 1);
    cr_assert_eq(strncmp(s.lines, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", s.lines);
    cr_assert(s.last_line_crlf);
    cr_assert_not(s.chunk_before_head);
    cr_assert_not_null(strstr(s.lines, "Content-Length: 12\r\n"));
    hc_res_free(&r);
    hc_env_close(&e);
}

/* ---- methods and bodies --------------------------------------------------------- */

Test(httpclient, methods_and_bodies)
{
    hc_env_t e;
    open_env(&e, NULL);
    struct {
        const char *method, *body, *want;
    } t[] = {
        {"POST", "a=1", "POST application/x-www-form-urlencoded 3:a=1"},
        {"PUT", "xyz", "PUT - 3:xyz"},
        {"PATCH", "", "PATCH - 0:"},
        {"DELETE", NULL, "DELETE - 0:"},
        {"OPTIONS", NULL, "OPTIONS - 0:"},
        {"GET", NULL, "GET - 0:"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        hc_res_t r = {0};
        tn_fetch_options_t o = {.method = t[i].method,
                                .body = t[i].body,
                                .body_len = t[i].body ? strlen(t[i].body) : 0};
        hc_fetch(&e, "/echo", &o, &r);
        cr_assert_eq(r.status, 0, "%s: %s", t[i].method, r.err);
        cr_assert_eq(r.len, strlen(t[i].want), "%s: %.*s", t[i].method, (int)r.len, r.body);
        cr_assert(memcmp(r.body, t[i].want, r.len) == 0, "%s", t[i].method);
        hc_res_free(&r);
    }
    /* HEAD: headers only, though the server announces a length. */
    hc_res_t r = {0};
    tn_fetch_options_t head = {.method = "HEAD"};
    hc_fetch(&e, "/hello", &head, &r);
    cr_assert_eq(r.status, 0);
    cr_assert_eq(r.len, 0);
    hc_res_free(&r);
    hc_env_close(&e);
}

/* tornado: the ValueError / KeyError cases of HTTPRequest */
Test(httpclient, argument_errors_are_synchronous)
{
    hc_env_t e;
    hc_res_t r = {0};
    open_env(&e, NULL);
    tn_fetch_options_t post = {.method = "POST"};
    tn_fetch_options_t get_body = {.body = "x", .body_len = 1};
    tn_fetch_options_t odd = {.method = "PROPFIND"};
    tn_fetch_options_t odd_ok = {.method = "PROPFIND", .allow_nonstandard_methods = 1};
    tn_fetch_options_t post_ok = {.method = "POST", .allow_nonstandard_methods = 1};
    tn_fetch_options_t bad_method = {.method = "GE T"};
    tn_headers_t *h;
    tn_headers_new(&h);
    tn_headers_add(h, "X-Bad", 5, "a\r\nb: c", 7);
    tn_fetch_options_t bad_header = {.headers = h};
    cr_assert_eq(hc_start(&e, "/echo", &post, &r), TN_EINVAL);
    cr_assert_eq(hc_start(&e, "/echo", &get_body, &r), TN_EINVAL);
    cr_assert_eq(hc_start(&e, "/echo", &odd, &r), TN_EINVAL);
    cr_assert_eq(hc_start(&e, "/echo", &bad_method, &r), TN_EINVAL);
    cr_assert_eq(hc_start(&e, "/echo", &bad_header, &r), TN_EINVAL);
    cr_assert_eq(hc_start(&e, "ftp://127.0.0.1/x", NULL, &r), TN_EINVAL);
    cr_assert_eq(hc_start(&e, "http://", NULL, &r), TN_EINVAL);
    cr_assert_eq(hc_start(&e, "http://127.0.0.1:99999/", NULL, &r), TN_EINVAL);
    cr_assert_eq(hc_start(&e, "http://a b/", NULL, &r), TN_EINVAL);
    cr_assert_eq(r.calls, 0);
    hc_fetch(&e, "/echo", &odd_ok, &r);
    cr_assert_eq(r.code, 200);
    cr_assert_str_eq(g.last_method, "PROPFIND");
    hc_res_free(&r);
    hc_res_t r2 = {0};
    hc_fetch(&e, "/echo", &post_ok, &r2);
    cr_assert_eq(r2.code, 200);
    hc_res_free(&r2);
    tn_headers_free(h);
    hc_env_close(&e);
}

/* ---- the body producer (chunked upload) -------------------------------------- */

typedef struct {
    int calls, writes_done;
    const char *parts[4];
} prod_t;

static void on_wrote(tn_fetch_t *f, int status, void *arg)
{
    (void)f;
    cr_assert_eq(status, 0);
    ((prod_t *)arg)->writes_done++;
}

static int producer(tn_fetch_t *f, void *arg)
{
    prod_t *p = arg;
    p->calls++;
    for (int i = 0; p->parts[i]; i++)
        cr_assert_eq(tn_fetch_write(f, p->parts[i], strlen(p->parts[i]), on_wrote, p), 0);
    cr_assert_eq(tn_fetch_write_end(f), 0);
    cr_assert_eq(tn_fetch_write(f, "x", 1, NULL, NULL), TN_EINVAL);
    return 0;
}

Test(httpclient, body_producer_chunked_and_with_length)
{
    hc_env_t e;
    open_env(&e, NULL);
    prod_t p = {.parts = {"hello ", "chunked ", "world", NULL}};
    tn_fetch_options_t o = {.method = "PUT", .body_producer = producer, .producer_arg = &p};
    hc_res_t r = {0};
    hc_fetch(&e, "/echo", &o, &r);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(p.calls, 1);
    cr_assert_eq(p.writes_done, 3);
    cr_assert_eq(r.len, strlen("PUT - 19:hello chunked world"));
    cr_assert(memcmp(r.body, "PUT - 19:hello chunked world", r.len) == 0);
    hc_res_free(&r);

    /* With a Content-Length the body goes out raw, and expect-100 waits for
     * the server's 100 Continue before calling the producer. */
    tn_headers_t *h;
    tn_headers_new(&h);
    tn_headers_add(h, "Content-Length", 14, "19", 2);
    prod_t p2 = {.parts = {"hello ", "chunked ", "world", NULL}};
    tn_fetch_options_t o2 = {.method = "POST",
                             .headers = h,
                             .body_producer = producer,
                             .producer_arg = &p2,
                             .expect_100_continue = 1};
    hc_res_t r2 = {0};
    hc_fetch(&e, "/echo", &o2, &r2);
    cr_assert_eq(r2.status, 0, "%s", r2.err);
    cr_assert_eq(p2.calls, 1);
    cr_assert(r2.len > 3 && memcmp(r2.body + r2.len - 19, "hello chunked world", 19) == 0);
    hc_res_free(&r2);
    tn_headers_free(h);
    hc_env_close(&e);
}

/* ---- redirects --------------------------------------------------------------- */

/* tornado: test_max_redirects */
Test(httpclient, redirect_chain_and_max_redirects)
{
    hc_env_t e;
    char want[128];
    open_env(&e, NULL);
    hc_res_t r = {0};
    tn_fetch_options_t three = {.max_redirects = 3};
    hc_fetch(&e, "/countdown/5", &three, &r);
    cr_assert_eq(r.status, TN_EHTTP);
    cr_assert_eq(r.code, 302);
    snprintf(want, sizeof want, "%s/countdown/2", e.base);
    cr_assert_str_eq(r.url, want);
    cr_assert_str_eq(r.location, "/countdown/1");
    cr_assert_eq(r.t.redirects, 3);
    hc_res_free(&r);

    hc_res_t r2 = {0};
    hc_fetch(&e, "/countdown/5", NULL, &r2);
    cr_assert_eq(r2.status, 0);
    cr_assert_eq(r2.len, 4);
    cr_assert_eq(r2.t.redirects, 5);
    hc_res_free(&r2);

    hc_res_t r3 = {0};
    tn_fetch_options_t nofollow = {.no_follow_redirects = 1};
    hc_fetch(&e, "/countdown/1", &nofollow, &r3);
    cr_assert_eq(r3.status, TN_EHTTP);
    cr_assert_eq(r3.code, 302);
    cr_assert_str_eq(r3.location, "/countdown/0");
    hc_res_free(&r3);
    hc_env_close(&e);
}

/* tornado: test_redirect_connection_limit */
Test(httpclient, redirect_chain_with_one_client_slot)
{
    hc_env_t e;
    tn_httpclient_options_t co = {.max_clients = 1};
    open_env(&e, &co);
    hc_res_t r[3] = {{0}};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(hc_start(&e, "/countdown/3", NULL, &r[i]), 0);
    hc_wait(&e, 10000);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(r[i].status, 0, "%s", r[i].err);
        hc_res_free(&r[i]);
    }
    hc_env_close(&e);
}

/* tornado: test_303_redirect / test_put_307; 301/302 after POST */
Test(httpclient, redirect_method_rules)
{
    hc_env_t e;
    open_env(&e, NULL);
    struct {
        int code;
        const char *method, *want;
    } t[] = {
        {303, "POST", "GET - 0:"},
        {302, "POST", "GET - 0:"},
        {301, "POST", "GET - 0:"},
        {307, "POST", "POST application/x-www-form-urlencoded 4:data"},
        {308, "PUT", "PUT - 4:data"},
        {302, "PUT", "PUT - 4:data"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char path[64];
        hc_res_t r = {0};
        tn_fetch_options_t o = {.method = t[i].method, .body = "data", .body_len = 4};
        snprintf(path, sizeof path, "/redirect?code=%d&to=/echo", t[i].code);
        hc_fetch(&e, path, &o, &r);
        cr_assert_eq(r.status, 0, "%d %s: %s", t[i].code, t[i].method, r.err);
        cr_assert_eq(r.len, strlen(t[i].want), "%d %s: %.*s", t[i].code, t[i].method, (int)r.len,
                     r.body);
        cr_assert(memcmp(r.body, t[i].want, r.len) == 0);
        hc_res_free(&r);
    }
    hc_env_close(&e);
}

/* Tornado hangs on a redirect to ftp:; here it is a prompt error carrying
 * the 3xx. */
Test(httpclient, redirect_to_other_scheme_fails_promptly)
{
    hc_env_t e;
    open_env(&e, NULL);
    const char *targets[] = {"ftp://127.0.0.1/x", "javascript:alert(1)", "http://", "file:///etc"};
    for (size_t i = 0; i < 4; i++) {
        char path[128];
        hc_res_t r = {0};
        snprintf(path, sizeof path, "/redirect?code=302&to=%s", targets[i]);
        hc_fetch(&e, path, NULL, &r);
        cr_assert_eq(r.status, TN_EINVAL, "%s: %d %s", targets[i], r.status, r.err);
        cr_assert_eq(r.code, 302);
        cr_assert_lt(r.t.total_us, 2000000);
        hc_res_free(&r);
    }
    hc_env_close(&e);
}

static void on_flag(void *arg)
{
    *(int *)arg = 1;
}

/* Authorization and Cookie go to the origin they were meant for only. */
Test(httpclient, sensitive_headers_dropped_on_origin_change)
{
    hc_env_t e;
    tn_httpserver_t *srv2;
    tn_httpserver_options_t so = {.request_cb = on_request};
    open_env(&e, NULL);
    /* another port on the same loop: another origin */
    cr_assert_eq(tn_httpserver_new(e.loop, &so, &srv2), 0);
    cr_assert_eq(tn_httpserver_listen(srv2, 0, "127.0.0.1"), 0);
    int port2 = tn_httpserver_port(srv2);
    tn_headers_t *h;
    tn_headers_new(&h);
    tn_headers_add(h, "Cookie", 6, "sid=secret", 10);
    tn_fetch_options_t o = {.headers = h, .auth_username = "user", .auth_password = "pass"};
    char path[160];
    hc_res_t same = {0}, other = {0};
    hc_fetch(&e, "/redirect?code=302&to=/headers", &o, &same);
    cr_assert_eq(same.status, 0);
    cr_assert_str_eq(same.body, "ua=tornuv/" TN_VERSION_STRING
                                "|auth=Basic dXNlcjpwYXNz|cookie=sid=secret|ae=gzip");
    snprintf(path, sizeof path, "/redirect?code=302&to=http://127.0.0.1:%d/headers", port2);
    hc_fetch(&e, path, &o, &other);
    cr_assert_eq(other.status, 0, "%s", other.err);
    cr_assert_str_eq(other.body, "ua=tornuv/" TN_VERSION_STRING "|auth=-|cookie=-|ae=gzip");
    hc_res_free(&same);
    hc_res_free(&other);
    tn_headers_free(h);
    int freed2 = 0;
    tn_httpserver_free(srv2, on_flag, &freed2);
    for (int i = 0; i < 100 && !freed2; i++)
        tn_test_settle(e.loop, 5);
    hc_env_close(&e);
}

Test(httpclient, user_agent_auth_and_no_decompress)
{
    hc_env_t e;
    char url[128];
    open_env(&e, NULL);
    hc_res_t r = {0};
    tn_fetch_options_t o = {.user_agent = "probe/1", .no_decompress = 1};
    snprintf(url, sizeof url, "http://us%%65r:p%%40ss@127.0.0.1:%d/headers", e.port);
    hc_fetch(&e, url, &o, &r);
    cr_assert_eq(r.status, 0);
    /* base64("user:p@ss") */
    cr_assert_str_eq(r.body, "ua=probe/1|auth=Basic dXNlcjpwQHNz|cookie=-|ae=-");
    hc_res_free(&r);
    hc_env_close(&e);
}

/* ---- gzip ---------------------------------------------------------------------- */

Test(httpclient, gzip_decoded_raw_invalid_truncated_and_bomb)
{
    hc_env_t e;
    open_env(&e, NULL);
    hc_res_t r = {0};
    hc_fetch(&e, "/gzip", NULL, &r);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(r.len, 4000);
    for (size_t i = 0; i < r.len; i++)
        cr_assert_eq(r.body[i], (char)('a' + i % 26));
    cr_assert_str_eq(r.xcce, "gzip");
    cr_assert_str_eq(r.ce, "");
    hc_res_free(&r);

    hc_res_t raw = {0};
    tn_fetch_options_t nd = {.no_decompress = 1};
    hc_fetch(&e, "/gzip", &nd, &raw);
    cr_assert_eq(raw.status, 0);
    cr_assert(raw.len > 10 && (unsigned char)raw.body[0] == 0x1f &&
              (unsigned char)raw.body[1] == 0x8b);
    cr_assert_str_eq(raw.ce, "gzip");
    hc_res_free(&raw);

    /* tornado: test_invalid_gzip */
    hc_res_t bad = {0};
    hc_fetch(&e, "/badgzip", NULL, &bad);
    cr_assert_eq(bad.status, TN_EHTTP);
    cr_assert_str_eq(bad.err, "invalid gzip data");
    hc_res_free(&bad);

    hc_res_t cut = {0};
    hc_fetch(&e, "/gzip_cut", NULL, &cut);
    cr_assert_eq(cut.status, TN_EHTTP, "%d %s", cut.status, cut.err);
    cr_assert_str_eq(cut.err, "truncated gzip body");
    hc_res_free(&cut);

    /* 1 MiB of zeros packs into about 1 KiB: max_body_size bounds the
     * decoded bytes, not the wire bytes. */
    hc_res_t bomb = {0};
    tn_fetch_options_t small = {.max_body_size = 100000};
    hc_fetch(&e, "/bomb", &small, &bomb);
    cr_assert_eq(bomb.status, TN_ETOOLARGE, "%d %s", bomb.status, bomb.err);
    cr_assert_str_eq(bomb.err, "decoded body over max_body_size");
    hc_res_free(&bomb);
    hc_env_close(&e);
}

/* ---- limits ---------------------------------------------------------------------- */

Test(httpclient, max_body_and_header_size)
{
    hc_env_t e;
    tn_httpclient_options_t co = {.max_body_size = 65536, .max_header_size = 4096};
    open_env(&e, &co);
    hc_res_t ok = {0}, big = {0}, head = {0};
    hc_fetch(&e, "/big?n=65536", NULL, &ok);
    cr_assert_eq(ok.status, 0);
    cr_assert_eq(ok.len, 65536);
    hc_fetch(&e, "/big?n=100000", NULL, &big);
    cr_assert_eq(big.status, TN_ETOOLARGE);
    cr_assert_str_eq(big.err, "Content-Length over max_body_size");
    hc_fetch(&e, "/bighead", NULL, &head);
    cr_assert_eq(head.status, TN_ETOOLARGE);
    cr_assert_eq(head.code, TN_FETCH_NO_RESPONSE);
    hc_res_free(&ok);
    hc_res_free(&big);
    hc_res_free(&head);
    hc_env_close(&e);
}

/* ---- timeouts and the queue ------------------------------------------------------- */

/* tornado: test_connection_refused */
Test(httpclient, connection_refused)
{
    hc_env_t e;
    char url[64];
    open_env(&e, NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", tn_test_closed_port(AF_INET));
    hc_res_t r = {0};
    hc_fetch(&e, url, NULL, &r);
    cr_assert_lt(r.status, 0);
    cr_assert_neq(r.status, TN_EHTTP);
    cr_assert_eq(r.code, TN_FETCH_NO_RESPONSE);
    cr_assert_str_eq(r.reason, "");
    cr_assert_not_null(strstr(r.err, "failed"), "%s", r.err);
    hc_res_free(&r);
    hc_env_close(&e);
}

/* tornado: test_request_timeout */
Test(httpclient, request_timeout)
{
    hc_env_t e;
    open_env(&e, NULL);
    hc_res_t r = {0};
    tn_fetch_options_t o = {.request_timeout_ms = 200};
    double t0 = tn_test_now_ms();
    hc_fetch(&e, "/hold", &o, &r);
    double took = tn_test_now_ms() - t0;
    cr_assert_eq(r.status, TN_ETIMEOUT);
    cr_assert_eq(r.code, TN_FETCH_NO_RESPONSE);
    cr_assert_str_eq(r.err, "Timeout during request");
    cr_assert(took >= 150 && took < 3000, "took %.0f ms", took);
    tn_test_settle(e.loop, 50);
    cr_assert_eq(g.held_closed, 1, "the server saw the connection close");
    hc_res_free(&r);
    hc_env_close(&e);
}

/* A listener whose backlog is full drops SYNs: connecting never completes. */
Test(httpclient, connect_timeout)
{
    hc_env_t e;
    int port, fds[8], nfds = 0;
    char url[64];
    int lfd = tn_test_raw_listener(AF_INET, 1, &port);
    for (int i = 0; i < 3; i++)
        fds[nfds++] = tn_peer_connect(AF_INET, port, NULL);
    open_env(&e, NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    hc_res_t r = {0};
    tn_fetch_options_t o = {.connect_timeout_ms = 200};
    hc_fetch(&e, url, &o, &r);
    cr_assert_eq(r.status, TN_ETIMEOUT, "%d %s", r.status, r.err);
    cr_assert_str_eq(r.err, "Timeout while connecting");
    hc_res_free(&r);
    hc_env_close(&e);
    for (int i = 0; i < nfds; i++)
        if (fds[i] >= 0)
            tn_test_close_fd(fds[i]);
    tn_test_close_fd(lfd);
}

static void release_later(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    release_held();
}

/* tornado: test_max_clients (TriggerHandler), test_queue_timeout */
Test(httpclient, max_clients_queue_and_queue_timeout)
{
    hc_env_t e;
    tn_httpclient_options_t co = {.max_clients = 2};
    open_env(&e, &co);
    hc_res_t r[4] = {{0}}, q = {0};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(hc_start(&e, "/park", NULL, &r[i]), 0);
    tn_fetch_options_t quick = {.connect_timeout_ms = 100};
    cr_assert_eq(hc_start(&e, "/hello", &quick, &q), 0);
    tn_test_settle(e.loop, 300);
    cr_assert_eq(g.nheld, 2, "two in flight, the rest queued");
    cr_assert_eq(q.calls, 1);
    cr_assert_eq(q.status, TN_ETIMEOUT);
    cr_assert_str_eq(q.err, "Timeout in request queue");
    cr_assert_geq(q.t.queue_us, 90000);
    release_held(); /* the first two answer, the queued two arrive */
    tn_test_settle(e.loop, 200);
    cr_assert_eq(g.nheld, 2);
    tn_ioloop_call_later(e.loop, 10, release_later, NULL);
    hc_wait(&e, 5000);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(r[i].status, 0, "%d: %s", i, r[i].err);
        cr_assert_str_eq(r[i].body, "released");
        hc_res_free(&r[i]);
    }
    cr_assert_eq(g.max_held, 2);
    hc_res_free(&q);
    hc_env_close(&e);
}

/* ---- cancellation ------------------------------------------------------------------ */

static void cancel_later(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    tn_fetch_cancel(arg);
}

Test(httpclient, cancel_in_flight_queued_and_at_once)
{
    hc_env_t e;
    tn_httpclient_options_t co = {.max_clients = 1};
    char url[128];
    open_env(&e, &co);
    hc_res_t held = {0}, queued = {0}, now = {0};
    tn_fetch_t *f1, *f2, *f3;
    snprintf(url, sizeof url, "%s/hold", e.base);
    cr_assert_eq(tn_httpclient_fetch(e.cli, url, NULL, hc_on_done, &held, &f1), 0);
    cr_assert_eq(tn_httpclient_fetch(e.cli, url, NULL, hc_on_done, &queued, &f2), 0);
    cr_assert_eq(tn_httpclient_fetch(e.cli, url, NULL, hc_on_done, &now, &f3), 0);
    held.env = queued.env = now.env = &e;
    e.pending = 3;
    tn_fetch_cancel(f3);
    cr_assert_eq(now.calls, 0, "done never runs inside cancel");
    tn_fetch_cancel(f3); /* twice: no effect */
    tn_ioloop_call_later(e.loop, 150, cancel_later, f2);
    tn_ioloop_call_later(e.loop, 200, cancel_later, f1);
    hc_wait(&e, 5000);
    cr_assert_eq(now.status, TN_ECANCELED);
    cr_assert_eq(queued.status, TN_ECANCELED);
    cr_assert_eq(held.status, TN_ECANCELED);
    cr_assert_eq(held.calls + queued.calls + now.calls, 3);
    tn_test_settle(e.loop, 50);
    cr_assert_eq(g.held_closed, 1, "the server saw the abort");
    cr_assert_eq(g.requests, 1, "the queued and the instantly canceled never went out");
    hc_res_free(&held);
    hc_res_free(&queued);
    hc_res_free(&now);
    hc_env_close(&e);
}

typedef struct {
    size_t got;
    int chunks, cancel_at;
    unsigned long long hash;
    char *buf;
    tn_ioloop_t *loop;
    tn_fetch_t *f;
} dl_t;

static int cancel_chunk(tn_fetch_t *f, const char *d, size_t n, void *arg)
{
    dl_t *dl = arg;
    (void)d;
    dl->got += n;
    if (++dl->chunks == dl->cancel_at)
        tn_fetch_cancel(f);
    cr_assert_leq(dl->chunks, dl->cancel_at, "no chunk after cancel");
    return TN_CONTINUE;
}

Test(httpclient, cancel_from_chunk_callback)
{
    hc_env_t e;
    open_env(&e, NULL);
    dl_t dl = {.cancel_at = 1};
    hc_res_t r = {0};
    tn_fetch_options_t o = {.on_chunk = cancel_chunk, .callback_arg = &dl};
    hc_fetch(&e, "/big?n=4000000", &o, &r);
    cr_assert_eq(r.status, TN_ECANCELED);
    cr_assert_eq(dl.chunks, 1);
    cr_assert_lt(dl.got, 4000000);
    hc_res_free(&r);
    hc_env_close(&e);
}

static void resume_later(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    cr_assert_eq(tn_fetch_resume(arg), 0);
}

static int pause_chunk(tn_fetch_t *f, const char *d, size_t n, void *arg)
{
    dl_t *dl = arg;
    memcpy(dl->buf + dl->got, d, n);
    dl->got += n;
    dl->chunks++;
    if (dl->chunks % 4 == 0) {
        tn_ioloop_call_later(dl->loop, 5, resume_later, f);
        return TN_PAUSE;
    }
    return TN_CONTINUE;
}

/* Pausing holds delivery (and reading) until resume; nothing is lost. */
Test(httpclient, pause_and_resume_lose_nothing)
{
    hc_env_t e;
    open_env(&e, NULL);
    size_t len = 3000000;
    dl_t dl = {.buf = malloc(len), .loop = e.loop};
    char *want = malloc(len);
    tn_test_random_bytes(want, len, 7);
    hc_res_t r = {0};
    tn_fetch_options_t o = {.on_chunk = pause_chunk, .callback_arg = &dl};
    hc_fetch(&e, "/big?n=3000000", &o, &r);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(dl.got, len);
    cr_assert(memcmp(dl.buf, want, len) == 0);
    cr_assert_gt(dl.chunks, 8);
    free(dl.buf);
    free(want);
    hc_res_free(&r);
    hc_env_close(&e);
}

/* Freeing the client completes every fetch with TN_ECLOSED first. */
static int g_freed_after;
static hc_res_t g_many[10];

static void on_client_freed(void *arg)
{
    int done = 0;
    (void)arg;
    for (int i = 0; i < 10; i++)
        done += g_many[i].calls;
    g_freed_after = done;
}

Test(httpclient, free_with_fetches_in_flight)
{
    hc_env_t e;
    open_env(&e, NULL);
    memset(g_many, 0, sizeof g_many);
    g_freed_after = -1;
    tn_fetch_options_t o = {.request_timeout_ms = 2000};
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(hc_start(&e, i % 2 ? "/hold" : "/park", &o, &g_many[i]), 0);
        g_many[i].env = NULL; /* their done must not stop the settling loop */
    }
    e.pending = 0;
    for (int i = 0; i < 250 && g.nheld < 10; i++)
        tn_test_settle(e.loop, 20);
    cr_assert_eq(g.nheld, 10, "all ten in flight");
    tn_httpclient_free(e.cli, on_client_freed, NULL);
    e.cli = NULL;
    for (int i = 0; i < 100 && g_freed_after < 0; i++)
        tn_test_settle(e.loop, 10);
    cr_assert_eq(g_freed_after, 10);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(g_many[i].calls, 1);
        cr_assert_eq(g_many[i].status, TN_ECLOSED);
        hc_res_free(&g_many[i]);
    }
    /* The server sees every one of those connections go. */
    for (int i = 0; i < 250 && g.held_closed < 10; i++)
        tn_test_settle(e.loop, 20);
    cr_assert_eq(g.held_closed, 10);
    hc_env_close(&e);
}

/* ---- the keep-alive pool --------------------------------------------------------------- */

Test(httpclient, pool_reuses_one_connection)
{
    hc_env_t e;
    open_env(&e, NULL);
    for (int i = 0; i < 30; i++) {
        hc_res_t r = {0};
        hc_fetch(&e, i % 3 ? "/hello" : "/gzip", NULL, &r);
        cr_assert_eq(r.status, 0);
        cr_assert_eq(r.t.reused, i > 0, "fetch %d", i);
        cr_assert_eq(tn_httpserver_connection_count(e.srv), 1);
        hc_res_free(&r);
    }
    cr_assert_eq(tn_httpclient_idle_count(e.cli), 1);
    hc_env_close(&e);
}

Test(httpclient, pool_idle_timeout_and_server_close)
{
    hc_env_t e;
    tn_httpclient_options_t co = {.idle_timeout_ms = 100};
    tn_httpserver_options_t so = {.request_cb = on_request, .idle_timeout_ms = 300};
    memset(&g, 0, sizeof g);
    hc_env_open(&e, &so, &co);
    hc_res_t r = {0};
    hc_fetch(&e, "/hello", NULL, &r);
    hc_res_free(&r);
    cr_assert_eq(tn_httpclient_idle_count(e.cli), 1);
    tn_test_settle(e.loop, 250);
    cr_assert_eq(tn_httpclient_idle_count(e.cli), 0, "closed after the client's idle timeout");
    cr_assert_eq(tn_httpserver_connection_count(e.srv), 0);
    hc_env_close(&e);

    /* The server closes first: the client notices and connects anew. */
    tn_httpclient_options_t co2 = {.idle_timeout_ms = 5000};
    tn_httpserver_options_t so2 = {.request_cb = on_request, .idle_timeout_ms = 100};
    hc_env_open(&e, &so2, &co2);
    hc_res_t a = {0}, b = {0};
    hc_fetch(&e, "/hello", NULL, &a);
    tn_test_settle(e.loop, 300);
    cr_assert_eq(tn_httpclient_idle_count(e.cli), 0);
    hc_fetch(&e, "/hello", NULL, &b);
    cr_assert_eq(b.status, 0);
    cr_assert_eq(b.t.reused, 0);
    hc_res_free(&a);
    hc_res_free(&b);
    hc_env_close(&e);
}

Test(httpclient, no_keep_alive_is_tornado)
{
    hc_env_t e;
    tn_httpclient_options_t co = {.no_keep_alive = 1};
    open_env(&e, &co);
    for (int i = 0; i < 3; i++) {
        hc_res_t r = {0};
        hc_fetch(&e, "/hello", NULL, &r);
        cr_assert_eq(r.status, 0);
        cr_assert_eq(r.t.reused, 0);
        hc_res_free(&r);
    }
    cr_assert_eq(tn_httpclient_idle_count(e.cli), 0);
    hc_env_close(&e);
}

static int cancel_in_headers(tn_fetch_t *f, int code, const tn_headers_t *h, void *arg)
{
    (void)code;
    (void)h;
    (*(int *)arg)++;
    tn_fetch_cancel(f);
    return 0;
}

/* Cancels landing everywhere: at every millisecond of a 2 MB download, and
 * from the head callback. Exactly one done each; a cancel that comes after
 * the end changes nothing. */
Test(httpclient, cancellation_races)
{
    hc_env_t e;
    open_env(&e, NULL);
    int canceled = 0;
    for (int d = 0; d < 40; d++) {
        hc_res_t r = {0};
        tn_fetch_t *f;
        char url[128];
        snprintf(url, sizeof url, "%s/big?n=2000000", e.base);
        cr_assert_eq(tn_httpclient_fetch(e.cli, url, NULL, hc_on_done, &r, &f), 0);
        r.env = &e;
        e.pending = 1;
        tn_timeout_id tid = 0;
        if (d == 0)
            tn_fetch_cancel(f);
        else
            tid = tn_ioloop_call_later(e.loop, (uint64_t)d, cancel_later, f);
        hc_wait(&e, 10000);
        /* f is gone once done returned: a cancel not yet run must not run. */
        tn_ioloop_remove_timeout(e.loop, tid);
        cr_assert_eq(r.calls, 1);
        cr_assert(r.status == TN_ECANCELED || r.status == 0, "d=%d: %d %s", d, r.status, r.err);
        if (r.status == 0) {
            cr_assert_eq(r.len, 2000000);
        } else {
            canceled++;
        }
        hc_res_free(&r);
    }
    cr_assert_gt(canceled, 0);
    int heads = 0;
    hc_res_t r = {0};
    tn_fetch_options_t o = {.on_headers = cancel_in_headers, .callback_arg = &heads};
    hc_fetch(&e, "/big?n=100000", &o, &r);
    cr_assert_eq(r.status, TN_ECANCELED);
    cr_assert_eq(heads, 1);
    hc_res_free(&r);
    hc_env_close(&e);
}
