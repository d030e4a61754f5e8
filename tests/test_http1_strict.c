/* The second round of HTTP/1 framing rules (issue 17), one test per class,
 * through a whole HTTP1Connection over the in-memory transport: the exact
 * bytes of each request, the status answered, and that the connection is
 * closed and the application never sees a refused request. Chunk-size lines
 * are sent split at every byte boundary. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop_util.h"
#include "mt_http.h"

typedef struct {
    int requests;
    char path[256];
    char host[256];
    char body[256];
    size_t body_len;
} app_t;

static app_t g_app;
static char g_out[4096]; /* what the server answered, for messages */

static void on_request(tn_http_request_t *req, void *arg)
{
    app_t *a = arg;
    size_t n, hn, bl;
    const char *path = tn_http_request_path(req, &n);
    const char *host = tn_http_request_host(req, &hn);
    const char *body = tn_http_request_body(req, &bl);
    a->requests++;
    snprintf(a->path, sizeof a->path, "%.*s", (int)n, path);
    snprintf(a->host, sizeof a->host, "%.*s", (int)hn, host);
    a->body_len = bl < sizeof a->body ? bl : sizeof a->body;
    memcpy(a->body, body, a->body_len);
    cr_assert_eq(tn_http_response_send(req, 200, "text/plain", body, bl), 0);
}

typedef struct {
    int status;   /* of the first response, 0 if none */
    int closed;   /* the server shut down or closed the connection */
    int requests; /* requests the application saw */
    int responses;
} result_t;

/* Sends a then b (either may be empty) on a fresh connection to a fresh
 * server with options o. */
static result_t exchange(const tn_httpserver_options_t *o, const char *a, size_t alen,
                         const char *b, size_t blen)
{
    result_t r = {0};
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_httpserver_options_t opts = {0};
    tn_httpserver_t *srv;
    if (o)
        opts = *o;
    opts.request_cb = on_request;
    opts.request_arg = &g_app;
    memset(&g_app, 0, sizeof g_app);
    cr_assert_eq(tn_httpserver_new(loop, &opts, &srv), 0);
    tn_mh_t c = tn_mh_connect(loop, srv, "127.0.0.1");
    if (alen)
        tn_mh_send(&c, a, alen, 0);
    if (blen)
        tn_mh_send(&c, b, blen, 0);
    if (c.mt->out_len >= 12 && memcmp(c.mt->out, "HTTP/1.1 ", 9) == 0)
        r.status = atoi(c.mt->out + 9);
    r.closed = c.mt->shut || c.mt->closed;
    r.requests = g_app.requests;
    r.responses = tn_mh_count(&c, "HTTP/1.1 ");
    size_t n = c.mt->out_len < sizeof g_out - 1 ? c.mt->out_len : sizeof g_out - 1;
    memcpy(g_out, c.mt->out, n);
    g_out[n] = 0;
    tn_mh_finish(loop, srv, &c, 1);
    return r;
}

static result_t exchange_str(const tn_httpserver_options_t *o, const char *raw)
{
    return exchange(o, raw, strlen(raw), "", 0);
}

/* A refusal: the status, the connection closed, nothing reached the app. */
static void assert_refused(result_t r, int status, const char *what)
{
    cr_assert_eq(r.status, status, "%s: got %d: %s", what, r.status, g_out);
    cr_assert(r.closed, "%s: the connection is closed", what);
    cr_assert_eq(r.requests, 0, "%s: never reaches the application", what);
    cr_assert_eq(r.responses, 1, "%s: one response", what);
}

/* ---- chunk-size lines ---------------------------------------------------- */

#define CHUNKED_HEAD "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"

typedef struct {
    const char *line; /* the chunk-size line, CRLF included */
    int status;       /* 200 (body "hello"), 400 or 413 */
} chunk_case_t;

static const chunk_case_t chunk_cases[] = {
    {"5\r\n", 200},
    {"05\r\n", 200},
    {"0000000000000005\r\n", 200}, /* 16 digits */
    {"5;a\r\n", 200},
    {"5;a=b\r\n", 200},
    {"5;a=b;c;d=e\r\n", 200},
    {"5 ;a\r\n", 200},     /* BWS before ';' */
    {"5; a = b\r\n", 200}, /* BWS around '=' */
    {"5;a=\"q s\"\r\n", 200},
    {"5;a=\"q\\\"s\\\\\"\r\n", 200}, /* quoted-pairs */
    {"5;a=\"\xc3\xa9\"\r\n", 200},   /* obs-text inside quotes */
    /* a CR not followed by LF, anywhere on the line */
    {"5\r\r\n", 400},
    {"5\rX\r\n", 400},
    {"5;a\rb\r\n", 400},
    {"5;a=b\r \r\n", 400},
    {"5;a=\"x\ry\"\r\n", 400},
    {"5;a=\"x\r\n", 400},
    /* bare LF */
    {"5\n", 400},
    {"5;a=b\n", 400},
    /* sizes */
    {"\r\n", 400},
    {" 5\r\n", 400},
    {"5 \r\n", 400},
    {"+5\r\n", 400},
    {"-5\r\n", 400},
    {"0x5\r\n", 400},
    {"5g\r\n", 400},
    {"00000000000000005\r\n", 400}, /* 17 digits: more than 64 bits can hold */
    {"10000000000000000\r\n", 400},
    /* extensions outside the grammar */
    {"5;\r\n", 400},
    {"5;a=\r\n", 400},
    {"5;=b\r\n", 400},
    {"5;a b\r\n", 400},
    {"5;a=b c\r\n", 400},
    {"5;a \r\n", 400},
    {"5;a@b\r\n", 400},
    {"5;a=b\"\r\n", 400},
    {"5;a=\"x\"y\r\n", 400},
    {"5;a=\"\x01\"\r\n", 400},
    {"5;a=\"\x7f\"\r\n", 400},
    {"5;a=\xc3\xa9\r\n", 400},
    {"5;a\x01\r\n", 400},
    {"5,a\r\n", 400},
    /* too large for max_body_size (100 here), refused before its data */
    {"65\r\n", 413},
    {"FFFFFFFFFFFFFFFF\r\n", 413},
    {"8000000000000000\r\n", 413},
};

Test(http1_strict, chunk_size_line_split_at_every_byte)
{
    tn_httpserver_options_t o = {0};
    o.max_body_size = 100;
    for (size_t k = 0; k < sizeof chunk_cases / sizeof chunk_cases[0]; k++) {
        const chunk_case_t *c = &chunk_cases[k];
        char req[512];
        size_t head = strlen(CHUNKED_HEAD), ll = strlen(c->line);
        /* a 413 must come before any data: the request ends with its line */
        int n = snprintf(req, sizeof req, "%s%s%s", CHUNKED_HEAD, c->line,
                         c->status == 413 ? "" : "hello\r\n0\r\n\r\n");
        for (size_t cut = head; cut <= head + ll; cut++) {
            result_t r = exchange(&o, req, cut, req + cut, (size_t)n - cut);
            if (c->status == 200) {
                cr_assert_eq(r.status, 200, "case %zu cut %zu: %s", k, cut - head, g_out);
                cr_assert_eq(g_app.body_len, 5, "case %zu", k);
                cr_assert_eq(memcmp(g_app.body, "hello", 5), 0, "case %zu", k);
                cr_assert_eq(r.closed, 0, "case %zu stays open", k);
            } else {
                assert_refused(r, c->status, c->line);
            }
        }
    }
}

Test(http1_strict, chunk_extension_length_is_bounded)
{
    static char req[4096];
    tn_httpserver_options_t o = {0};
    o.max_chunk_ext_size = 100;
    for (size_t ext = 99; ext <= 101; ext++) {
        /* ";" then ext-1 name bytes: ext bytes between the size and the CR */
        int n = snprintf(req, sizeof req, "%s5;", CHUNKED_HEAD);
        memset(req + n, 'a', ext - 1);
        n += (int)ext - 1;
        n += snprintf(req + n, sizeof req - (size_t)n, "\r\nhello\r\n0\r\n\r\n");
        result_t r = exchange(&o, req, (size_t)n, "", 0);
        if (ext <= 100)
            cr_assert_eq(r.status, 200, "ext %zu: %s", ext, g_out);
        else
            assert_refused(r, 400, "ext over the cap");
    }
}

Test(http1_strict, chunk_sizes_count_against_what_is_left_of_the_body_limit)
{
    tn_httpserver_options_t o = {0};
    o.max_body_size = 100;
    static char req[1024];
    char fifty[51];
    memset(fifty, 'x', 50);
    fifty[50] = 0;
    /* 50 + 50 fits exactly; 50 + 51 is refused at the second size line */
    snprintf(req, sizeof req, "%s32\r\n%s\r\n32\r\n%s\r\n0\r\n\r\n", CHUNKED_HEAD, fifty, fifty);
    cr_assert_eq(exchange_str(&o, req).status, 200, "%s", g_out);
    snprintf(req, sizeof req, "%s32\r\n%s\r\n33\r\n", CHUNKED_HEAD, fifty);
    assert_refused(exchange_str(&o, req), 413, "second chunk past the limit");
}

Test(http1_strict, chunk_data_must_end_with_crlf)
{
    assert_refused(exchange_str(NULL, CHUNKED_HEAD "3\r\nabcX\r\n0\r\n\r\n"), 400, "no CRLF");
    assert_refused(exchange_str(NULL, CHUNKED_HEAD "3\r\nabc\n0\r\n\r\n"), 400, "bare LF");
    assert_refused(exchange_str(NULL, CHUNKED_HEAD "3\r\nabc\r0\r\n\r\n"), 400, "bare CR");
}

/* ---- trailers ------------------------------------------------------------ */

Test(http1_strict, trailers_count_against_the_header_limits)
{
    static char req[2048];
    size_t head = strlen(CHUNKED_HEAD);
    /* head + "0\r\n" aside, the trailer section is "X: vvv\r\n\r\n" */
    for (int d = -1; d <= 1; d++) {
        tn_httpserver_options_t o = {0};
        o.max_header_size = 200;
        /* the scanner counts the head, then the trailer section bytes */
        size_t trailer = 200 - head + (size_t)d; /* "X: " + v... + "\r\n\r\n" */
        int n = snprintf(req, sizeof req, "%s1\r\nz\r\n0\r\nX: ", CHUNKED_HEAD);
        memset(req + n, 'v', trailer - 7);
        n += (int)trailer - 7;
        memcpy(req + n, "\r\n\r\n", 4);
        n += 4;
        result_t r = exchange(&o, req, (size_t)n, "", 0);
        if (d <= 0)
            cr_assert_eq(r.status, 200, "d %d: %s", d, g_out);
        else
            assert_refused(r, 431, "trailer section past max_header_size");
    }
    /* the head has 2 fields; with a cap of 3, one trailer field fits */
    tn_httpserver_options_t o = {0};
    o.max_header_count = 3;
    cr_assert_eq(exchange_str(&o, CHUNKED_HEAD "0\r\nA: 1\r\n\r\n").status, 200, "%s", g_out);
    assert_refused(exchange_str(&o, CHUNKED_HEAD "0\r\nA: 1\r\nB: 2\r\n\r\n"), 431,
                   "trailer fields past max_header_count");
}

Test(http1_strict, trailer_fields_follow_the_header_field_rules)
{
    static const char *bad[] = {
        CHUNKED_HEAD "0\r\nA b: 1\r\n\r\n",     /* space in the name */
        CHUNKED_HEAD "0\r\nA : 1\r\n\r\n",      /* space before the colon */
        CHUNKED_HEAD "0\r\nA: 1\r\n b\r\n\r\n", /* obs-fold */
        CHUNKED_HEAD "0\r\nA: 1\n\r\n",         /* bare LF */
        CHUNKED_HEAD "0\r\nA: 1\rB: 2\r\n\r\n", /* bare CR */
        CHUNKED_HEAD "0\r\nA: \x01\r\n\r\n",    /* control byte */
        CHUNKED_HEAD "0\r\n: 1\r\n\r\n",        /* empty name */
        CHUNKED_HEAD "0\r\n\r\r\n",             /* bare CR ending the section */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_refused(exchange_str(NULL, bad[i]), 400, bad[i]);
    result_t r = exchange_str(NULL, CHUNKED_HEAD "2\r\nok\r\n0\r\nA: 1\r\nB:\t2\r\n\r\n");
    cr_assert_eq(r.status, 200, "%s", g_out);
    cr_assert_eq(r.closed, 0);
}

/* ---- empty lines before the request line --------------------------------- */

Test(http1_strict, one_empty_line_before_a_request_is_ignored_not_two)
{
    result_t r = exchange_str(NULL, "\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(r.status, 200, "%s", g_out);
    assert_refused(exchange_str(NULL, "\r\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n"), 400,
                   "two empty lines");
    /* empty lines alone used to end a "head" and hand the rest to llhttp */
    assert_refused(exchange_str(NULL, "\r\n\r\n\r\nPOST / HTTP/1.1\r\nHost: h\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                   400, "three empty lines");
    assert_refused(exchange_str(NULL, "\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n"), 400, "bare LF");
    assert_refused(exchange_str(NULL, "\r\rGET /a HTTP/1.1\r\nHost: h\r\n\r\n"), 400, "CR CR");
    /* between pipelined requests (a CRLF after a body, RFC 9112 2.2) */
    r = exchange_str(NULL, "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab\r\n"
                           "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(r.requests, 2, "%s", g_out);
    cr_assert_eq(r.closed, 0);
    r = exchange_str(NULL, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n\r\n\r\n"
                           "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(r.requests, 1, "%s", g_out);
    cr_assert(strstr(g_out, "HTTP/1.1 400 Bad Request\r\n") != NULL, "%s", g_out);
    cr_assert(r.closed);
}

/* ---- Host ---------------------------------------------------------------- */

Test(http1_strict, host_must_be_one_valid_uri_host_and_port)
{
    static const char *good[] = {"h",
                                 "h:80",
                                 "a.example",
                                 "a-b.example:8080",
                                 "127.0.0.1",
                                 "10.0.0.1:443",
                                 "[::1]",
                                 "[::1]:8888",
                                 "[2001:db8::7]",
                                 "xn--bcher-kva.example",
                                 "a%41b",
                                 ""};
    static const char *bad[] = {"h h",    "u@h",          "u:p@h",    "h:8o", "h:",       ":80",
                                "[::1",   "[zz]:80",      "[::1]x",   "h/x",  "h:123456", "h:65536",
                                "h\tx",   "h,i",          "h%zz",     "h%4",  "h?x",      "h#x",
                                "[v1.x]", "[::1%25eth0]", "h\xc3\xa9"};
    char req[256];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", good[i]);
        result_t r = exchange_str(NULL, req);
        cr_assert_eq(r.status, 200, "Host '%s': %s", good[i], g_out);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
        assert_refused(exchange_str(NULL, req), 400, bad[i]);
    }
    assert_refused(exchange_str(NULL, "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400,
                   "two equal Host fields");
    assert_refused(exchange_str(NULL, "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), 400,
                   "two Host fields");
    assert_refused(exchange_str(NULL, "GET / HTTP/1.1\r\n\r\n"), 400, "no Host");
}

Test(http1_strict, absolute_form_authority_obeys_the_host_rules)
{
    result_t r = exchange_str(NULL, "GET http://a.example:8080/p?q=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(r.status, 200, "%s", g_out);
    cr_assert_str_eq(g_app.path, "/p");
    cr_assert_str_eq(g_app.host, "a.example:8080", "the authority wins over Host");
    r = exchange_str(NULL, "GET HTTPS://[::1] HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(r.status, 200, "%s", g_out);
    cr_assert_str_eq(g_app.path, "/");
    cr_assert_str_eq(g_app.host, "[::1]");
    r = exchange_str(NULL, "GET /p HTTP/1.1\r\nHost: h:81\r\n\r\n");
    cr_assert_str_eq(g_app.host, "h:81");
    static const char *bad[] = {
        "GET http://u@a.example/p HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET http://:80/p HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET http://a.example:x/p HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET http://[::1/p HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET ftp://a.example/p HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET http:/p HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET http://a.example/%00 HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET http://a.example/p HTTP/1.1\r\nHost: h h\r\n\r\n", /* Host still checked */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_refused(exchange_str(NULL, bad[i]), 400, bad[i]);
}

/* ---- the request target --------------------------------------------------- */

Test(http1_strict, request_target_is_visible_ascii_in_the_form_its_method_allows)
{
    static const char *bad[] = {
        "GET /\x80 HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET * HTTP/1.1\r\nHost: h\r\n\r\n", /* asterisk-form, not OPTIONS */
        "OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET h:80 HTTP/1.1\r\nHost: h\r\n\r\n",        /* authority-form, not CONNECT */
        "CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n",      /* CONNECT needs authority-form */
        "CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n",       /* ... with a port */
        "CONNECT u@h:443 HTTP/1.1\r\nHost: h\r\n\r\n", /* ... and no userinfo */
        "GET x HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n", /* encoded NUL in the path */
        "GET /%00 HTTP/1.1\r\nHost: h\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_refused(exchange_str(NULL, bad[i]), 400, bad[i]);
    result_t r = exchange_str(NULL, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(r.status, 200, "%s", g_out);
    cr_assert_str_eq(g_app.path, "*");
    r = exchange_str(NULL, "GET /a?x=%00 HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(r.status, 200, "an encoded NUL in the query is data: %s", g_out);
    r = exchange_str(NULL, "GET /a%2500 HTTP/1.1\r\nHost: h\r\n\r\n");
    cr_assert_eq(r.status, 200, "%%2500 is not an encoded NUL: %s", g_out);
    /* tornuv is an origin server: a well-formed CONNECT is 405, then close */
    assert_refused(exchange_str(NULL, "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443"
                                      "\r\n\r\n"),
                   405, "CONNECT");
    cr_assert(strstr(g_out, "HTTP/1.1 405 Method Not Allowed\r\n") != NULL, "%s", g_out);
}
