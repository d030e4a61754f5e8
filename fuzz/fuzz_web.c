/* libFuzzer target: arbitrary request bytes through the web layer — routing
 * (PCRE2 patterns, host patterns, path-argument decoding), the handler
 * lifecycle, arguments, cookies and signed cookies, XSRF, ETag/304, gzip
 * negotiation, the static file handler (paths, ranges, conditionals) and
 * the demo's chat, and stream_request_body handlers (the demo's /upload,
 * and one that pauses every other piece, resumes from the loop, and answers
 * 413 early past 300 bytes) — over an in-memory connection on a real loop.
 *
 * The first byte picks settings (xsrf on/off, compression, a peer that
 * reads little) and the second the chunk size; the rest is the client's
 * byte stream. Checked: no crash, no sanitizer report, no leak, and the
 * server always frees cleanly. */
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../examples/demo_app.h"
#include "fz_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_root[64];

static void remove_root(void)
{
    char path[128];
    const char *paths[] = {"a.txt", "sub/index.html", "style.css", "sub", ""};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", g_root, paths[i]);
        if (remove(path) != 0 && i == 4)
            (void)rmdir(g_root);
    }
}

/* A small static tree, made once per process, removed at exit. */
static void make_root(void)
{
    char path[128];
    snprintf(g_root, sizeof g_root, "/tmp/tn_fuzz_web_%d", (int)getpid());
    mkdir(g_root, 0700);
    snprintf(path, sizeof path, "%s/sub", g_root);
    mkdir(path, 0700);
    const char *files[] = {"a.txt", "sub/index.html", "style.css"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", g_root, files[i]);
        FILE *f = fopen(path, "w");
        if (!f)
            abort();
        for (int k = 0; k < 1500 * (i + 1); k++)
            fputc('a' + k % 26, f);
        fclose(f);
    }
    atexit(remove_root);
}

static int vhost_get(tn_handler_t *h)
{
    size_t n;
    const char *a = tn_handler_path_kwarg(h, "name", &n);
    tn_handler_write_str(h, "vhost:");
    return a ? tn_handler_write(h, a, n) : 0;
}

static const tn_handler_class_t vhost = {.name = "Vhost", .get = vhost_get};

/* A streaming handler exercising pause/resume and an early answer. */
typedef struct {
    size_t got;
    int pieces;
} sb_t;

/* Paused handlers stay allocated until resumed (also when the client
 * left: the resume then releases them). */
static void sb_resume(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    (void)tn_handler_resume_body(arg);
}

static int sb_prepare(tn_handler_t *h)
{
    size_t n;
    const char *q = tn_http_request_query(tn_handler_request(h), &n);
    if (n > 0 && q[0] == 'a') {
        /* an asynchronous prepare: resumed from the loop */
        if (tn_ioloop_add_callback(tn_handler_loop(h), sb_resume, h) != 0)
            return TN_ENOMEM;
        return TN_WEB_ASYNC;
    }
    if (n > 0 && q[0] == 'm')
        return tn_handler_set_max_body_size(h, 64);
    return 0;
}

static int sb_data(tn_handler_t *h, const char *data, size_t len)
{
    sb_t *s = tn_handler_state(h);
    (void)data;
    s->got += len;
    if (s->got > 300)
        return tn_handler_send_error(h, 413);
    if (s->pieces++ % 2 == 0) {
        if (tn_ioloop_add_callback(tn_handler_loop(h), sb_resume, h) != 0)
            return TN_ENOMEM;
        return TN_WEB_ASYNC;
    }
    return TN_WEB_DONE;
}

static int sb_post(tn_handler_t *h)
{
    sb_t *s = tn_handler_state(h);
    char out[32];
    int n = snprintf(out, sizeof out, "%lu", (unsigned long)s->got);
    return tn_handler_write(h, out, (size_t)n);
}

static const tn_handler_class_t sbody = {.name = "StreamBody",
                                         .state_size = sizeof(sb_t),
                                         .prepare = sb_prepare,
                                         .post = sb_post,
                                         .put = sb_post,
                                         .stream_request_body = 1,
                                         .data_received = sb_data};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tn_ioloop_t *loop;
    if (size < 2)
        return 0;
    if (!loop) {
        tn_log_set_handler(fz_log_quiet, NULL);
        make_root();
        if (tn_ioloop_new(&loop) != 0)
            abort();
    }
    uint8_t cfg = data[0];
    size_t chunk = (size_t)data[1] + 1;
    data += 2;
    size -= 2;

    tn_app_settings_t s = {0};
    s.static_path = g_root;
    s.cookie_secret = "fuzz-secret";
    s.compress_response = cfg & 1;
    s.xsrf_cookies = (cfg >> 1) & 1;
    tn_app_t *app;
    if (tn_app_new(&s, &app) != 0)
        abort();
    demo_chat_reset();
    static const struct {
        const char *pattern;
        const tn_handler_class_t *cls;
        const char *name;
    } routes[] = {
        {"/", &demo_index_handler, "index"},
        {"/hello", &demo_hello_handler, "hello"},
        {"/echo", &demo_echo_handler, "echo"},
        {"/info", &demo_info_handler, "info"},
        {"/user/([0-9]+)", &demo_user_handler, "user"},
        {"/chunked", &demo_chunked_handler, "chunked"},
        {"/visits", &demo_visits_handler, "visits"},
        {"/chat/new", &demo_new_handler, "chat-new"},
        {"/chat/updates", &demo_updates_handler, "chat-updates"},
        {"/v/(?<name>[^/]*)/?(.*)", &vhost, "v"},
        {"/upload", &demo_upload_handler, "upload"},
        {"/sb", &sbody, "sb"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (tn_app_add_route(app, i == 9 ? "(www\\.)?ex\\.(com|org)" : NULL, routes[i].pattern,
                             routes[i].cls, NULL, routes[i].name) != 0)
            abort();

    tn_httpserver_options_t o = {0};
    o.request_cb = tn_app_request_cb;
    o.headers_cb = tn_app_headers_cb;
    o.request_arg = app;
    o.decompress_request = (cfg >> 2) & 1;
    tn_httpserver_t *srv;
    if (tn_httpserver_new(loop, &o, &srv) != 0)
        abort();
    fz_t f;
    memset(&f, 0, sizeof f);
    f.loop = loop;
    f.accept = (cfg >> 3) & 1 ? 100 : -1;
    if (tn_iostream_new(loop, &k_ops, &f, NULL, &f.stream) != 0 ||
        tn_httpserver_handle_stream(srv, f.stream, "127.0.0.1") != 0)
        abort();
    fz_feed(&f, data, size, chunk, NULL, NULL);
    demo_chat_close(); /* answers any waiting long poll */
    for (int i = 0; i < 4; i++)
        turn(loop);
    int freed = 0;
    tn_httpserver_free(srv, on_freed, &freed);
    for (int i = 0; i < 64 && !freed; i++)
        turn(loop);
    if (!freed)
        abort();
    tn_app_free(app);
    return 0;
}
