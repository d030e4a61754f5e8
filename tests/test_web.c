/* The web layer over the in-memory transport: routing, the handler
 * lifecycle, the response API, arguments, cookies (plain and signed), XSRF,
 * ETag/304, gzip negotiation, static files and the demo's chat. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#ifdef _WIN32
#include <direct.h>
#define MKDIR(p) _mkdir(p)
#else
#define MKDIR(p) mkdir(p, 0700)
#endif

#include "../examples/demo_app.h"
#include "loop_util.h"
#include "mt_http.h"
#include "net_peer.h"
#include "web_internal.h"

typedef struct {
    tn_ioloop_t *loop;
    tn_app_t *app;
    tn_httpserver_t *srv;
    tn_mh_t c;
} w_t;

static void w_server(w_t *w, tn_app_t *app)
{
    tn_httpserver_options_t o = {0};
    w->loop = tn_test_loop_new();
    w->app = app;
    o.request_cb = tn_app_request_cb;
    o.request_arg = app;
    cr_assert_eq(tn_httpserver_new(w->loop, &o, &w->srv), 0);
    w->c = tn_mh_connect(w->loop, w->srv, "127.0.0.1");
}

static void w_open(w_t *w, const tn_app_settings_t *s)
{
    tn_app_t *app;
    cr_assert_eq(tn_app_new(s, &app), 0);
    memset(w, 0, sizeof *w);
    w->app = app;
}

static void w_done(w_t *w)
{
    tn_mh_finish(w->loop, w->srv, &w->c, 1);
    tn_app_free(w->app);
}

static const char *get(w_t *w, const char *target)
{
    char req[1024];
    tn_mh_clear(&w->c);
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: example.com\r\n\r\n", target);
    tn_mh_sends(&w->c, req);
    return tn_mh_last_body(&w->c);
}

/* ---- a handler that records its lifecycle ------------------------------- */

typedef struct {
    char log[64];
    int mode;
} rec_state_t;

static char g_life[64];
static tn_handler_t *g_async;
static int g_close_seen;

static void note(tn_handler_t *h, char c)
{
    rec_state_t *st = tn_handler_state(h);
    size_t n = strlen(st->log);
    if (n + 1 < sizeof st->log)
        st->log[n] = c;
    n = strlen(g_life);
    if (n + 1 < sizeof g_life) {
        g_life[n] = c;
        g_life[n + 1] = 0;
    }
}

static int rec_init(tn_handler_t *h, void *arg)
{
    rec_state_t *st = tn_handler_state(h);
    st->mode = arg ? *(int *)arg : 0;
    note(h, 'i');
    return 0;
}

static int rec_prepare(tn_handler_t *h)
{
    rec_state_t *st = tn_handler_state(h);
    note(h, 'p');
    if (st->mode == 1) {
        tn_handler_write_str(h, "stopped in prepare");
        return tn_handler_finish(h);
    }
    return 0;
}

static int rec_get(tn_handler_t *h)
{
    rec_state_t *st = tn_handler_state(h);
    note(h, 'g');
    switch (st->mode) {
    case 2:
        g_async = h;
        return TN_WEB_ASYNC;
    case 3:
        return TN_EINVAL; /* an error: 500 */
    case 4:
        return tn_handler_fail(h, 403);
    case 5: {
        tn_strview_t v;
        int rc = tn_handler_get_argument(h, "need", NULL, &v);
        if (rc)
            return rc;
        return tn_handler_write(h, v.base, v.len);
    }
    default: {
        size_t n;
        const char *a = tn_handler_path_arg(h, 0, &n);
        tn_handler_write_str(h, "get:");
        if (a)
            tn_handler_write(h, a, n);
        const char *kw = tn_handler_path_kwarg(h, "id", &n);
        if (kw) {
            tn_handler_write_str(h, ":id=");
            tn_handler_write(h, kw, n);
        }
        return TN_WEB_DONE;
    }
    }
}

static void rec_finish(tn_handler_t *h)
{
    note(h, 'f');
}

static void rec_gone(tn_handler_t *h)
{
    note(h, 'c');
    g_close_seen++;
    g_async = NULL;
    cr_assert_eq(tn_handler_write_str(h, "late"), 0);
    cr_assert_eq(tn_handler_finish(h), TN_ECLOSED, "finish after the client left");
}

static const tn_handler_class_t rec_class = {
    .name = "Rec",
    .state_size = sizeof(rec_state_t),
    .initialize = rec_init,
    .prepare = rec_prepare,
    .get = rec_get,
    .on_finish = rec_finish,
    .on_connection_close = rec_gone,
};

static int mode1 = 1, mode2 = 2, mode3 = 3, mode4 = 4, mode5 = 5;

static tn_app_t *routes_app(void)
{
    tn_app_t *app;
    cr_assert_eq(tn_app_new(NULL, &app), 0);
    cr_assert_eq(tn_app_add_route(app, NULL, "/a/([^/]+)", &rec_class, NULL, "a"), 0);
    cr_assert_eq(tn_app_add_route(app, NULL, "/a/.*", &rec_class, NULL, NULL), 0);
    cr_assert_eq(tn_app_add_route(app, NULL, "/n/(?<id>[0-9]+)", &rec_class, NULL, "n"), 0);
    cr_assert_eq(tn_app_add_route(app, "api\\.example\\.com", "/v", &rec_class, NULL, NULL), 0);
    cr_assert_eq(tn_app_add_route(app, NULL, "/prep", &rec_class, &mode1, NULL), 0);
    cr_assert_eq(tn_app_add_route(app, NULL, "/async", &rec_class, &mode2, NULL), 0);
    cr_assert_eq(tn_app_add_route(app, NULL, "/err", &rec_class, &mode3, NULL), 0);
    cr_assert_eq(tn_app_add_route(app, NULL, "/forbid", &rec_class, &mode4, NULL), 0);
    cr_assert_eq(tn_app_add_route(app, NULL, "/need", &rec_class, &mode5, NULL), 0);
    cr_assert_eq(tn_app_add_route(app, NULL, "/a|/ab", &rec_class, NULL, NULL), 0);
    return app;
}

Test(web, routing_first_match_anchoring_args_and_hosts)
{
    w_t w;
    memset(&w, 0, sizeof w);
    w_server(&w, routes_app());
    cr_assert_str_eq(get(&w, "/a/x%20y"), "get:x y", "groups are percent-decoded");
    cr_assert_str_eq(get(&w, "/a/b/c"), "get:", "first match wins: /a/([^/]+) does not match");
    cr_assert_str_eq(get(&w, "/n/42"), "get:42:id=42");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200"));
    get(&w, "/n/x");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 404"), "the whole path must match");
    get(&w, "/a");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200"));
    get(&w, "/ab");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200"), "alternation anchored as a whole");
    get(&w, "/abc");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 404"));
    get(&w, "/v");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 404"), "host pattern not matched");
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "GET /v HTTP/1.1\r\nHost: api.example.com:8080\r\n\r\n");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200"), "host matched without the port");
    w_done(&w);
}

Test(web, reverse_url)
{
    tn_app_t *app = routes_app();
    char buf[64];
    const char *args[] = {"x y/z"};
    cr_assert_eq(tn_app_reverse_url(app, "a", args, 1, buf, sizeof buf), 12);
    cr_assert_str_eq(buf, "/a/x%20y%2Fz");
    const char *id[] = {"7"};
    cr_assert_eq(tn_app_reverse_url(app, "n", id, 1, buf, sizeof buf), 4);
    cr_assert_str_eq(buf, "/n/7");
    cr_assert_eq(tn_app_reverse_url(app, "a", NULL, 0, buf, sizeof buf), TN_EINVAL);
    cr_assert_eq(tn_app_reverse_url(app, "zz", NULL, 0, buf, sizeof buf), TN_ENOTFOUND);
    cr_assert_eq(tn_app_reverse_url(app, "a", args, 1, buf, 5), TN_EBUFFULL);
    cr_assert_eq(tn_app_add_route(app, NULL, "/dup", &rec_class, NULL, "a"), TN_EEXIST);
    cr_assert_eq(tn_app_add_route(app, NULL, "/bad(", &rec_class, NULL, NULL), TN_EINVAL);
    cr_assert_eq(tn_app_add_route(app, NULL, "/x/((a)|b)", &rec_class, NULL, "nested"), 0);
    cr_assert_eq(tn_app_reverse_url(app, "nested", args, 1, buf, sizeof buf), TN_EINVAL);
    tn_app_free(app);
}

Test(web, lifecycle_order_prepare_finishing_early_and_errors)
{
    w_t w;
    memset(&w, 0, sizeof w);
    w_server(&w, routes_app());
    memset(g_life, 0, sizeof g_life);
    get(&w, "/a/q");
    cr_assert_str_eq(g_life, "ipgf");
    memset(g_life, 0, sizeof g_life);
    cr_assert_str_eq(get(&w, "/prep"), "stopped in prepare");
    cr_assert_str_eq(g_life, "ipf", "the method is skipped (%s)", g_life);
    memset(g_life, 0, sizeof g_life);
    get(&w, "/err");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 500 Internal Server Error"));
    cr_assert_str_eq(g_life, "ipgf");
    get(&w, "/forbid");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 403 Forbidden"));
    get(&w, "/need");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 400 Bad Request"));
    cr_assert(tn_mh_count(&w.c, "Missing argument need"));
    cr_assert_str_eq(get(&w, "/need?need=1&need=last"), "last", "get_argument is the last");
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "POST /a/q HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 405 Method Not Allowed"));
    cr_assert(tn_mh_count(&w.c, "Allow: GET\r\n"));
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "HEAD /a/q HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 405"), "HEAD without a head slot is 405, as Tornado");
    w_done(&w);
}

static void finish_async(tn_ioloop_t *loop, void *arg)
{
    tn_handler_t *h = arg;
    (void)loop;
    cr_assert_eq(tn_handler_write_str(h, "from a timer"), 0);
    cr_assert_eq(tn_handler_finish(h), 0); /* h is released by this call */
}

Test(web, async_handler_finished_from_a_timer)
{
    w_t w;
    memset(&w, 0, sizeof w);
    w_server(&w, routes_app());
    memset(g_life, 0, sizeof g_life);
    g_async = NULL;
    get(&w, "/async");
    cr_assert_not_null(g_async);
    cr_assert_eq(w.c.mt->out_len, 0);
    tn_ioloop_call_later(w.loop, 20, finish_async, g_async);
    tn_test_settle(w.loop, 60);
    cr_assert_str_eq(tn_mh_last_body(&w.c), "from a timer");
    cr_assert_str_eq(g_life, "ipgf");
    w_done(&w);
}

Test(web, async_handler_learns_the_client_left)
{
    w_t w;
    memset(&w, 0, sizeof w);
    w_server(&w, routes_app());
    memset(g_life, 0, sizeof g_life);
    g_close_seen = 0;
    get(&w, "/async");
    cr_assert_not_null(g_async);
    tn_mt_eof(w.c.mt, TN_EOF);
    tn_mh_turns(&w.c, 5);
    cr_assert_eq(g_close_seen, 1);
    cr_assert_str_eq(g_life, "ipgc", "on_finish is not called");
    w_done(&w);
}

/* ---- response API -------------------------------------------------------- */

static int api_get(tn_handler_t *h)
{
    cr_assert_eq(tn_handler_set_status(h, 299, NULL), TN_EINVAL, "unknown code needs a reason");
    cr_assert_eq(tn_handler_set_status(h, 299, "Fine\r\nX-Evil: 1"), TN_EINVAL);
    cr_assert_eq(tn_handler_set_status(h, 299, "Fine"), 0);
    cr_assert_eq(tn_handler_get_status(h), 299);
    cr_assert_eq(tn_handler_set_header(h, "X-A", "1\r\nX-Evil: 1"), TN_EINVAL);
    cr_assert_eq(tn_handler_set_header(h, "Bad Name", "1"), TN_EINVAL);
    cr_assert_eq(tn_handler_set_header(h, "X-A", "1"), 0);
    cr_assert_eq(tn_handler_set_header(h, "X-A", "2"), 0);
    cr_assert_eq(tn_handler_add_header(h, "X-B", "1"), 0);
    cr_assert_eq(tn_handler_add_header(h, "X-B", "2"), 0);
    cr_assert_eq(tn_handler_add_header(h, "X-C", "gone"), 0);
    tn_handler_clear_header(h, "X-C");
    tn_handler_write_str(h, "body");
    cr_assert_eq(tn_handler_finish(h), 0);
    cr_assert_eq(tn_handler_write_str(h, "more"), TN_EFINISHED);
    cr_assert(tn_handler_finished(h));
    return TN_WEB_DONE;
}

static int redirect_get(tn_handler_t *h)
{
    cr_assert_eq(tn_handler_redirect(h, "/x", 304), TN_EINVAL);
    cr_assert_eq(tn_handler_redirect(h, "/x\r\nSet-Cookie: a=b", 302), TN_EINVAL);
    return tn_handler_redirect(h, "/elsewhere", 307);
}

static int json_get(tn_handler_t *h)
{
    tn_handler_set_header(h, "X-Dropped", "by clear");
    tn_handler_write_str(h, "dropped");
    tn_handler_clear(h);
    return tn_handler_write_json(h, "{\"ok\":true}", 11);
}

static const tn_handler_class_t api_class = {.name = "Api", .get = api_get};
static const tn_handler_class_t redirect_class = {.name = "Redir", .get = redirect_get};
static const tn_handler_class_t json_class = {.name = "Json", .get = json_get};

Test(web, response_api_status_headers_redirect_json)
{
    w_t w;
    w_open(&w, NULL);
    tn_app_add_route(w.app, NULL, "/api", &api_class, NULL, NULL);
    tn_app_add_route(w.app, NULL, "/r", &redirect_class, NULL, NULL);
    tn_app_add_route(w.app, NULL, "/j", &json_class, NULL, NULL);
    tn_app_add_route(w.app, NULL, "/old", &tn_redirect_handler, "/new", NULL);
    cr_assert_eq(tn_app_add_default_header(w.app, "X-Frame-Options", "DENY"), 0);
    w_server(&w, w.app);
    cr_assert_str_eq(get(&w, "/api"), "body");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 299 Fine\r\n"));
    cr_assert(tn_mh_count(&w.c, "X-A: 2\r\n") && !tn_mh_count(&w.c, "X-A: 1"));
    cr_assert(tn_mh_count(&w.c, "X-B: 1\r\n") && tn_mh_count(&w.c, "X-B: 2\r\n"));
    cr_assert_eq(tn_mh_count(&w.c, "X-C"), 0);
    cr_assert_eq(tn_mh_count(&w.c, "Evil"), 0);
    cr_assert(tn_mh_count(&w.c, "X-Frame-Options: DENY\r\n"));
    cr_assert(tn_mh_count(&w.c, "Content-Type: text/html; charset=UTF-8\r\n"));
    get(&w, "/r");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 307 Temporary Redirect\r\n"));
    cr_assert(tn_mh_count(&w.c, "Location: /elsewhere\r\n"));
    cr_assert_str_eq(get(&w, "/j"), "{\"ok\":true}");
    cr_assert(tn_mh_count(&w.c, "Content-Type: application/json; charset=UTF-8\r\n"));
    cr_assert_eq(tn_mh_count(&w.c, "X-Dropped"), 0);
    get(&w, "/old");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 301 "));
    cr_assert(tn_mh_count(&w.c, "Location: /new\r\n"));
    w_done(&w);
}

/* ---- ETag and gzip ------------------------------------------------------- */

static int big_get(tn_handler_t *h)
{
    tn_handler_set_header(h, "Content-Type", "text/plain");
    for (int i = 0; i < 200; i++)
        tn_handler_write_str(h, "compress me please, ");
    return TN_WEB_DONE;
}

static int small_get(tn_handler_t *h)
{
    tn_handler_set_header(h, "Content-Type", "text/plain");
    return tn_handler_write_str(h, "tiny");
}

static int png_get(tn_handler_t *h)
{
    tn_handler_set_header(h, "Content-Type", "image/png");
    for (int i = 0; i < 200; i++)
        tn_handler_write_str(h, "not compressible type");
    return TN_WEB_DONE;
}

static const tn_handler_class_t big_class = {.name = "Big", .get = big_get, .head = big_get};
static const tn_handler_class_t small_class = {.name = "Small", .get = small_get};
static const tn_handler_class_t png_class = {.name = "Png", .get = png_get};

Test(web, etag_and_304_drop_the_body_and_entity_headers)
{
    w_t w;
    w_open(&w, NULL);
    tn_app_add_route(w.app, NULL, "/s", &small_class, NULL, NULL);
    w_server(&w, w.app);
    get(&w, "/s");
    /* SHA1("tiny") */
    cr_assert(tn_mh_count(&w.c, "Etag: \"8cd1b4a4cb1d8d1d38dc57ea3de3acd1b5ab8e3b\"\r\n") ||
                  tn_mh_count(&w.c, "Etag: \""),
              "an ETag");
    const char *e = strstr(w.c.mt->out, "Etag: ");
    char etag[64];
    sscanf(e, "Etag: %63[^\r]", etag);
    char req[256];
    const char *prefixes[] = {"", "W/", "\"zzz\", ", ""};
    for (size_t i = 0; i < 4; i++) {
        char inm[128];
        if (i == 3)
            snprintf(inm, sizeof inm, "*");
        else
            snprintf(inm, sizeof inm, "%s%s", prefixes[i], etag);
        snprintf(req, sizeof req, "GET /s HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n", inm);
        tn_mh_clear(&w.c);
        tn_mh_sends(&w.c, req);
        cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 304 Not Modified\r\n"), "variant %zu", i);
        cr_assert_eq(tn_mh_count(&w.c, "tiny"), 0);
        cr_assert_eq(tn_mh_count(&w.c, "Content-Type"), 0);
        cr_assert_eq(tn_mh_count(&w.c, "Content-Length"), 0);
    }
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "GET /s HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"other\"\r\n\r\n");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200 OK"));
    w_done(&w);

    tn_app_settings_t s = {0};
    s.no_etag = 1;
    w_open(&w, &s);
    tn_app_add_route(w.app, NULL, "/s", &small_class, NULL, NULL);
    w_server(&w, w.app);
    get(&w, "/s");
    cr_assert_eq(tn_mh_count(&w.c, "Etag"), 0);
    w_done(&w);
}

static size_t gunzip(const char *in, size_t n, char *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    cr_assert_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t got = zs.total_out;
    inflateEnd(&zs);
    return got;
}

Test(web, gzip_negotiation)
{
    tn_app_settings_t s = {0};
    s.compress_response = 1;
    w_t w;
    w_open(&w, &s);
    tn_app_add_route(w.app, NULL, "/big", &big_class, NULL, NULL);
    tn_app_add_route(w.app, NULL, "/small", &small_class, NULL, NULL);
    tn_app_add_route(w.app, NULL, "/png", &png_class, NULL, NULL);
    w_server(&w, w.app);
    static const struct {
        const char *path, *ae;
        int gz;
    } rows[] = {
        {"/big", "gzip", 1},     {"/big", "deflate, gzip;q=0.8", 1},
        {"/big", "gzip;q=0", 0}, {"/big", "br", 0},
        {"/big", NULL, 0},       {"/small", "gzip", 0},
        {"/png", "gzip", 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n%s%s%s\r\n", rows[i].path,
                 rows[i].ae ? "Accept-Encoding: " : "", rows[i].ae ? rows[i].ae : "",
                 rows[i].ae ? "\r\n" : "");
        tn_mh_clear(&w.c);
        tn_mh_sends(&w.c, req);
        cr_assert_eq(tn_mh_count(&w.c, "Content-Encoding: gzip\r\n"), rows[i].gz, "row %zu", i);
        if (strcmp(rows[i].path, "/png") != 0)
            cr_assert(tn_mh_count(&w.c, "Vary: Accept-Encoding\r\n"), "row %zu Vary", i);
        if (rows[i].gz) {
            const char *body = strstr(w.c.mt->out, "\r\n\r\n") + 4;
            size_t blen = w.c.mt->out_len - (size_t)(body - w.c.mt->out);
            static char plain[8192];
            size_t n = gunzip(body, blen, plain, sizeof plain);
            cr_assert_eq(n, 200 * 20);
            cr_assert_eq(memcmp(plain, "compress me please, ", 20), 0);
        }
    }
    w_done(&w);
}

/* ---- cookies, signed cookies, xsrf --------------------------------------- */

static int cookie_get(tn_handler_t *h)
{
    size_t n;
    const char *v = tn_handler_get_cookie(h, "in", &n);
    tn_cookie_attrs_t a = {0};
    a.max_age = 60;
    a.httponly = 1;
    a.samesite = "Strict";
    cr_assert_eq(tn_handler_set_cookie(h, "out", "v1", &a), 0);
    cr_assert_eq(tn_handler_set_cookie(h, "bad;name", "v", NULL), TN_EINVAL);
    cr_assert_eq(tn_handler_clear_cookie(h, "old", NULL), 0);
    cr_assert_eq(tn_handler_set_signed_cookie(h, "s", "secret value", NULL), 0);
    if (v)
        tn_handler_write(h, v, n);
    return TN_WEB_DONE;
}

static int signed_get(tn_handler_t *h)
{
    char buf[64];
    long n = tn_handler_get_signed_cookie(h, "s", 0, buf, sizeof buf);
    if (n < 0)
        return tn_handler_write_str(h, n == TN_ENOTFOUND ? "absent" : "invalid");
    return tn_handler_write(h, buf, (size_t)n);
}

static const tn_handler_class_t cookie_class = {.name = "Cookie", .get = cookie_get};
static const tn_handler_class_t signed_class = {.name = "Signed", .get = signed_get};

Test(web, cookies_plain_and_signed_with_tamper_and_expiry)
{
    tn_app_settings_t s = {0};
    s.cookie_secret = "0123456789abcdef";
    w_t w;
    w_open(&w, &s);
    tn_app_add_route(w.app, NULL, "/c", &cookie_class, NULL, NULL);
    tn_app_add_route(w.app, NULL, "/s", &signed_class, NULL, NULL);
    w_server(&w, w.app);
    tn_mh_sends(&w.c, "GET /c HTTP/1.1\r\nHost: x\r\nCookie: in=hello; other=1\r\n\r\n");
    cr_assert_str_eq(tn_mh_last_body(&w.c), "hello");
    cr_assert(tn_mh_count(&w.c, "Set-Cookie: out=v1; "));
    cr_assert(tn_mh_count(&w.c, "Max-Age=60"));
    cr_assert(tn_mh_count(&w.c, "HttpOnly"));
    cr_assert(tn_mh_count(&w.c, "SameSite=Strict"));
    cr_assert(tn_mh_count(&w.c, "Set-Cookie: old=; "));
    const char *sc = strstr(w.c.mt->out, "Set-Cookie: s=");
    cr_assert_not_null(sc);
    char value[512];
    sscanf(sc, "Set-Cookie: s=%511[^;\r]", value);
    char req[1024];
    snprintf(req, sizeof req, "GET /s HTTP/1.1\r\nHost: x\r\nCookie: s=%s\r\n\r\n", value);
    cr_assert_str_eq(get(&w, "/s"), "absent");
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, req);
    cr_assert_str_eq(tn_mh_last_body(&w.c), "secret value");
    /* tamper with one character of the signature, then of the value */
    size_t vl = strlen(value);
    for (int which = 0; which < 2; which++) {
        char bad[512];
        memcpy(bad, value, vl + 1);
        size_t at = which == 0 ? vl - 1 : vl - 70;
        bad[at] = bad[at] == 'a' ? 'b' : 'a';
        snprintf(req, sizeof req, "GET /s HTTP/1.1\r\nHost: x\r\nCookie: s=%s\r\n\r\n", bad);
        tn_mh_clear(&w.c);
        tn_mh_sends(&w.c, req);
        cr_assert_str_eq(tn_mh_last_body(&w.c), "invalid", "tamper %d", which);
    }
    w_done(&w);

    /* the signing primitives: expiry, name binding, other secrets */
    char sv[256], out[64];
    int64_t now = (int64_t)time(NULL);
    long n = tn__web_sign("k", "name", "v", 1, now - 40 * 86400, sv, sizeof sv);
    cr_assert(n > 0);
    cr_assert_eq(tn__web_verify("k", "name", sv, (size_t)n, now, 31, out, sizeof out), TN_EINVAL,
                 "expired");
    cr_assert_eq(tn__web_verify("k", "name", sv, (size_t)n, now, 60, out, sizeof out), 1);
    n = tn__web_sign("k", "name", "value!", 6, now, sv, sizeof sv);
    cr_assert_eq(tn__web_verify("k", "other", sv, (size_t)n, now, 31, out, sizeof out), TN_EINVAL);
    cr_assert_eq(tn__web_verify("k2", "name", sv, (size_t)n, now, 31, out, sizeof out), TN_EINVAL);
    cr_assert_eq(tn__web_verify("k", "name", sv, (size_t)n, now, 31, out, sizeof out), 6);
    cr_assert_str_eq(out, "value!");
    n = tn__web_sign("k", "name", "v", 1, now + 3 * 86400, sv, sizeof sv);
    cr_assert_eq(tn__web_verify("k", "name", sv, (size_t)n, now, 31, out, sizeof out), TN_EINVAL,
                 "from the future");
    cr_assert_eq(tn__web_verify("k", "name", "garbage", 7, now, 31, out, sizeof out), TN_EINVAL);
}

static int form_get(tn_handler_t *h)
{
    return tn_handler_write_str(h, tn_handler_xsrf_token(h));
}

static int form_post(tn_handler_t *h)
{
    return tn_handler_write_str(h, "accepted");
}

static const tn_handler_class_t form_class = {.name = "Form", .get = form_get, .post = form_post};

Test(web, xsrf_check_on_unsafe_methods)
{
    tn_app_settings_t s = {0};
    s.xsrf_cookies = 1;
    w_t w;
    w_open(&w, &s);
    tn_app_add_route(w.app, NULL, "/f", &form_class, NULL, NULL);
    w_server(&w, w.app);
    char token[64];
    snprintf(token, sizeof token, "%s", get(&w, "/f"));
    cr_assert_eq(strlen(token), 32);
    cr_assert(tn_mh_count(&w.c, "Set-Cookie: _xsrf="));
    char req[512];
    const char *bodies[] = {"a=1", "_xsrf=wrongwrongwrongwrongwrongwron"};
    for (int i = 0; i < 2; i++) {
        snprintf(req, sizeof req,
                 "POST /f HTTP/1.1\r\nHost: x\r\nCookie: _xsrf=%s\r\nContent-Type: "
                 "application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
                 token, strlen(bodies[i]), bodies[i]);
        tn_mh_clear(&w.c);
        tn_mh_sends(&w.c, req);
        cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 403"), "case %d", i);
    }
    snprintf(req, sizeof req,
             "POST /f HTTP/1.1\r\nHost: x\r\nCookie: _xsrf=%s\r\nContent-Type: "
             "application/x-www-form-urlencoded\r\nContent-Length: 38\r\n\r\n_xsrf=%s",
             token, token);
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, req);
    cr_assert_str_eq(tn_mh_last_body(&w.c), "accepted");
    snprintf(req, sizeof req,
             "POST /f HTTP/1.1\r\nHost: x\r\nCookie: _xsrf=%s\r\nX-Xsrftoken: %s\r\n"
             "Content-Length: 0\r\n\r\n",
             token, token);
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, req);
    cr_assert_str_eq(tn_mh_last_body(&w.c), "accepted", "header form");
    w_done(&w);
}

/* ---- static files -------------------------------------------------------- */

static char g_root[256];

/* The tree, relative to the working directory (the build directory), so
 * the same test runs on Linux and under wine. */
static const char *const g_files[] = {"a.txt", "sub/b.css", "sub/index.html", "big.bin", "c.txt"};

static void write_file(const char *rel, const char *content, int repeat_alpha)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_root, rel);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    if (content)
        fputs(content, f);
    for (int i = 0; i < repeat_alpha; i++)
        fputc('a' + i % 26, f);
    fclose(f);
}

static void make_root(void)
{
    char path[512];
    snprintf(g_root, sizeof g_root, "tn_static_%d", (int)getpid());
    MKDIR(g_root);
    snprintf(path, sizeof path, "%s/sub", g_root);
    MKDIR(path);
    snprintf(path, sizeof path, "%s/empty", g_root);
    MKDIR(path);
    write_file("a.txt", "0123456789abcdefghij", 0);
    write_file("sub/b.css", "body{}", 0);
    write_file("sub/index.html", "<p>index</p>", 0);
    write_file("big.bin", NULL, 300000);
    /* 2000 bytes of "abc..." */
    snprintf(path, sizeof path, "%s/c.txt", g_root);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    for (int i = 0; i < 2000; i++)
        fputc('a' + i % 3, f);
    fclose(f);
#ifndef _WIN32
    snprintf(path, sizeof path, "%s/escape", g_root);
    cr_assert_eq(symlink("/etc", path), 0);
#endif
    snprintf(path, sizeof path, "%s_secret", g_root);
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs("SECRET", f);
    fclose(f);
}

static void rm_root(void)
{
    char path[512];
    for (size_t i = 0; i < sizeof g_files / sizeof g_files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", g_root, g_files[i]);
        cr_assert_eq(remove(path), 0, "%s", path);
    }
#ifndef _WIN32
    snprintf(path, sizeof path, "%s/escape", g_root);
    cr_assert_eq(remove(path), 0);
#endif
    const char *dirs[] = {"sub", "empty"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", g_root, dirs[i]);
        cr_assert_eq(rmdir(path), 0, "%s", path);
    }
    cr_assert_eq(rmdir(g_root), 0, "%s", g_root);
    snprintf(path, sizeof path, "%s_secret", g_root);
    cr_assert_eq(remove(path), 0);
}

Test(web, static_path_safety_table)
{
    make_root();
    static const char *hostile[] = {
        "../a.txt",
        "..",
        ".",
        "sub/../../etc/passwd",
        "/etc/passwd",
        "sub/./b.css",
        "..\\a.txt",
        "sub\\b.css",
        "C:/Windows/win.ini",
        "c:",
        "a.txt\x01",
        "",
        "sub/..",
        "../",
        "./a.txt",
        "escape/passwd",
        "escape/hostname",
        "sub//../../x",
        "....//a.txt/..",
        "%2e%2e/a.txt",
        "../tn_static_secret",
        "sub/../../tn_static_x_secret",
    };
    char out[4096];
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
        cr_assert_neq(tn__web_static_resolve(g_root, hostile[i], strlen(hostile[i]), out), 0,
                      "hostile path %zu: %s", i, hostile[i]);
    cr_assert_eq(tn__web_static_resolve(g_root, "a.txt", 5, out), 0);
    cr_assert_eq(tn__web_static_resolve(g_root, "sub/b.css", 9, out), 0);
    cr_assert_eq(tn__web_static_path_ok("a\0b", 3), 0, "NUL inside");
    rm_root();
}

/* An encoded NUL in the path is refused by the HTTP layer (400 and close)
 * before any route or file lookup; an encoded NUL in the query is data. */
/* An app serving g_root under /static/, and its server. */
static void w_static(w_t *w)
{
    make_root();
    tn_app_settings_t s = {0};
    s.static_path = g_root;
    w_open(w, &s);
    w_server(w, w->app);
}

Test(web, encoded_nul_in_path_is_400)
{
    w_t w;
    w_static(&w);
    static const char *bad[] = {"/static/%00a.txt", "/static/a.txt%00.png", "/%00"};
    tn_mh_t extra[3];
    for (size_t i = 0; i < 3; i++) {
        extra[i] = tn_mh_connect(w.loop, w.srv, "127.0.0.1");
        char req[256];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: example.com\r\n\r\n", bad[i]);
        tn_mh_sends(&extra[i], req);
        cr_assert(tn_mh_starts(&extra[i], "HTTP/1.1 400"), "%s", bad[i]);
        cr_assert_eq(tn_mh_count(&extra[i], "Connection: close"), 1, "%s", bad[i]);
    }
    cr_assert_str_eq(get(&w, "/static/a.txt?x=%00"), "0123456789abcdefghij");
    tn_mh_t all[4] = {w.c, extra[0], extra[1], extra[2]};
    tn_mh_finish(w.loop, w.srv, all, 4);
    tn_app_free(w.app);
}

Test(web, static_files_over_http)
{
    w_t w;
    w_static(&w);
    tn_app_settings_t s = {0};
    s.static_path = g_root;
    cr_assert_str_eq(get(&w, "/static/a.txt"), "0123456789abcdefghij");
    cr_assert(tn_mh_count(&w.c, "Content-Type: text/plain; charset=UTF-8\r\n"));
    cr_assert(tn_mh_count(&w.c, "Last-Modified: "));
    cr_assert_str_eq(get(&w, "/static/sub/b.css"), "body{}");
    cr_assert(tn_mh_count(&w.c, "Content-Type: text/css"));
    static const char *bad[] = {"/static/../a.txt",      "/static/%2e%2e/%2e%2e/etc/passwd",
                                "/static/escape/passwd", "/static/sub/..%2F..%2Fetc%2Fpasswd",
                                "/static/..%5ca.txt",    "/static/nope.txt",
                                "/static/sub%2Fb.css",   "/static/sub%2fb.css",
                                "/static/sub%5Cb.css"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        get(&w, bad[i]);
        cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 404"), "%s", bad[i]);
        cr_assert_eq(tn_mh_count(&w.c, "root:"), 0);
    }
    /* directories: the index file, never a redirect */
    cr_assert_str_eq(get(&w, "/static/sub/"), "<p>index</p>");
    cr_assert_str_eq(get(&w, "/static/sub"), "<p>index</p>");
    get(&w, "/static/empty");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 403"));
    get(&w, "/static//evil.example/");
    cr_assert_eq(tn_mh_count(&w.c, "Location"), 0, "no open redirect");
    get(&w, "/static/a.txt?v=abc");
    cr_assert(tn_mh_count(&w.c, "Cache-Control: max-age=315360000, public\r\n"));
    get(&w, "/static/a.txt");
    cr_assert_eq(tn_mh_count(&w.c, "Cache-Control"), 0);
    /* Range */
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "GET /static/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\n\r\n");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 206 Partial Content"));
    cr_assert(tn_mh_count(&w.c, "Content-Range: bytes 2-5/20\r\n"));
    cr_assert_str_eq(tn_mh_last_body(&w.c), "2345");
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "GET /static/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-3\r\n\r\n");
    cr_assert_str_eq(tn_mh_last_body(&w.c), "hij");
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "GET /static/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=30-\r\n\r\n");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 416"));
    cr_assert(tn_mh_count(&w.c, "Content-Range: bytes */20\r\n"));
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "GET /static/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,4-5\r\n\r\n");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200"), "several ranges: the whole file");
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "GET /static/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-\r\n\r\n");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200"), "the whole file by range: 200");
    cr_assert_eq(tn_mh_count(&w.c, "Content-Range"), 0);
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "GET /static/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=5-4\r\n\r\n");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 416"));
    /* 304 by ETag and by date; HEAD */
    get(&w, "/static/a.txt");
    const char *e = strstr(w.c.mt->out, "Etag: ");
    char etag[64], req[256];
    sscanf(e, "Etag: %63[^\r]", etag);
    snprintf(req, sizeof req, "GET /static/a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n",
             etag);
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, req);
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 304"));
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "GET /static/a.txt HTTP/1.1\r\nHost: x\r\n"
                      "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 304"));
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "HEAD /static/a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 200"));
    cr_assert(tn_mh_count(&w.c, "Content-Length: 20\r\n"));
    cr_assert_eq(tn_mh_count(&w.c, "0123"), 0);
    /* a streamed file larger than one chunk */
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 200 && w.c.mt->out_len < 300000; i++)
        tn_test_settle(w.loop, 2); /* chunks are read on the thread pool */
    cr_assert(tn_mh_count(&w.c, "Content-Length: 300000\r\n"));
    const char *body = strstr(w.c.mt->out, "\r\n\r\n") + 4;
    cr_assert_eq(w.c.mt->out_len - (size_t)(body - w.c.mt->out), 300000);
    cr_assert_eq(body[299999], 'a' + 299999 % 26);
    w_done(&w);

    /* compress_response with a static file: the length follows the gzip */
    s.compress_response = 1;
    w_open(&w, &s);
    w_server(&w, w.app);
    tn_mh_sends(&w.c, "GET /static/c.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
    cr_assert(tn_mh_count(&w.c, "Content-Encoding: gzip\r\n"));
    cr_assert_eq(tn_mh_count(&w.c, "Content-Length: 2000"), 0);
    cr_assert(w.c.mt->closed == 0 && w.c.mt->shut == 0, "declared length matches what was sent");
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "GET /static/a.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
                      "Range: bytes=0-3\r\n\r\n");
    cr_assert_str_eq(tn_mh_last_body(&w.c), "0123", "ranges are never compressed");
    w_done(&w);
    rm_root();
}

Test(web, range_parser_table)
{
    static const struct {
        const char *v;
        int r;
        uint64_t s, e;
    } rows[] = {
        {"bytes=0-0", 1, 0, 0},   {"bytes=0-", 1, 0, 99},      {"bytes=-1", 1, 99, 99},
        {"bytes=-500", 1, 0, 99}, {"bytes=90-200", 1, 90, 99}, {"bytes=100-", -1, 0, 0},
        {"bytes=5-4", -1, 0, 0},  {"bytes=-0", -1, 0, 0},      {"bytes=a-b", 0, 0, 0},
        {"items=0-1", 0, 0, 0},   {"bytes=1-2,3-4", 0, 0, 0},  {"bytes=-", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t s = 7, e = 7;
        int r = tn__web_parse_range(rows[i].v, strlen(rows[i].v), 100, &s, &e);
        cr_assert_eq(r, rows[i].r, "row %zu %s", i, rows[i].v);
        if (r == 1)
            cr_assert(s == rows[i].s && e == rows[i].e, "row %zu bounds", i);
    }
}

/* ---- the demo's chat ----------------------------------------------------- */

Test(web, chat_long_poll_waiter_gets_the_posted_message)
{
    tn_app_t *app = NULL;
    cr_assert_eq(demo_app_new(NULL, "secret", &app), 0);
    w_t w;
    memset(&w, 0, sizeof w);
    w_server(&w, app);
    tn_mh_t poster = tn_mh_connect(w.loop, w.srv, "127.0.0.2");
    tn_mh_t leaver = tn_mh_connect(w.loop, w.srv, "127.0.0.3");
    static const char poll[] = "POST /chat/updates HTTP/1.1\r\nHost: x\r\nContent-Type: "
                               "application/x-www-form-urlencoded\r\nContent-Length: 8\r\n\r\n"
                               "cursor=0";
    tn_mh_sends(&w.c, poll);
    tn_mh_sends(&leaver, poll);
    cr_assert_eq(w.c.mt->out_len, 0, "the poll waits");
    cr_assert_eq(demo_waiters.nwaiters, 2);
    tn_mt_eof(leaver.mt, TN_EOF);
    tn_mh_turns(&leaver, 5);
    cr_assert_eq(demo_waiters.nwaiters, 1, "a waiter whose client left is dropped");
    tn_mh_sends(&poster, "POST /chat/new HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         "application/x-www-form-urlencoded\r\nContent-Length: 18\r\n\r\n"
                         "body=hello+%3Cb%3E");
    cr_assert_str_eq(tn_mh_last_body(&poster), "{\"id\":1}");
    cr_assert_str_eq(tn_mh_last_body(&w.c),
                     "{\"messages\":[{\"id\":1,\"body\":\"hello \\u003cb>\"}]}");
    /* a late poll with an old cursor answers at once */
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, poll);
    cr_assert(tn_mh_count(&w.c, "\"id\":1"));
    demo_chat_close();
    tn_mh_t all[3] = {w.c, poster, leaver};
    tn_mh_finish(w.loop, w.srv, all, 3);
    tn_app_free(app);
}

static int upload_post(tn_handler_t *h)
{
    const tn_files_t *f = tn_handler_files(h);
    tn_http_file_t file;
    tn_strview_t title;
    char out[256];
    int rc = tn_handler_get_body_argument(h, "title", NULL, &title);
    if (rc)
        return rc;
    cr_assert_not_null(f);
    cr_assert_eq(tn_files_count(f), 1);
    cr_assert_eq(tn_files_get(f, "doc", &file), 0);
    int k =
        snprintf(out, sizeof out, "%.*s|%s|%s|%.*s", (int)title.len, title.base, file.filename.base,
                 file.content_type.base, (int)file.body.len, file.body.base);
    return tn_handler_write(h, out, (size_t)k);
}

static const tn_handler_class_t upload_class = {.name = "Upload", .post = upload_post};

Test(web, multipart_upload_reaches_the_handler)
{
    w_t w;
    w_open(&w, NULL);
    tn_app_add_route(w.app, NULL, "/up", &upload_class, NULL, NULL);
    w_server(&w, w.app);
    static const char body[] =
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
        "My doc\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "file body\r\n"
        "--XyZ--\r\n";
    char req[1024];
    int k = snprintf(req, sizeof req,
                     "POST /up HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                     "boundary=XyZ\r\nContent-Length: %zu\r\n\r\n%s",
                     sizeof body - 1, body);
    tn_mh_send(&w.c, req, (size_t)k, 7);
    cr_assert_str_eq(tn_mh_last_body(&w.c), "My doc|a.txt|text/plain|file body");
    /* a malformed body: the field is missing, so the handler answers 400 */
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                      "boundary=XyZ\r\nContent-Length: 9\r\n\r\n--XyZ\r\nxx");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 400"));
    w_done(&w);
}

Test(web, error_handler_answers_its_status)
{
    static const int gone = 410;
    w_t w;
    w_open(&w, NULL);
    tn_app_add_route(w.app, NULL, "/gone.*", &tn_error_handler, (void *)&gone, NULL);
    tn_app_set_default_handler(w.app, &tn_error_handler, NULL);
    w_server(&w, w.app);
    get(&w, "/gone/x");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 410 Gone"));
    tn_mh_clear(&w.c);
    tn_mh_sends(&w.c, "POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 410 Gone"), "every method");
    get(&w, "/elsewhere");
    cr_assert(tn_mh_starts(&w.c, "HTTP/1.1 404"), "default handler");
    w_done(&w);
}
