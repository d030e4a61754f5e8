/* libFuzzer target: arbitrary request bytes through the web layer — routing
 * (PCRE2 patterns, host patterns, path-argument decoding), the handler
 * lifecycle, arguments, cookies and signed cookies, XSRF, ETag/304, gzip
 * negotiation, the static file handler (paths, ranges, conditionals) and
 * the demo's chat — over an in-memory connection on a real loop.
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
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (tn_app_add_route(app, i == 9 ? "(www\\.)?ex\\.(com|org)" : NULL, routes[i].pattern,
                             routes[i].cls, NULL, routes[i].name) != 0)
            abort();

    tn_httpserver_options_t o = {0};
    o.request_cb = tn_app_request_cb;
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
