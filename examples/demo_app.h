/* The demo site's application (examples/demo.c serves it; the tests drive it
 * over loopback). Header-only so both can include it.
 *
 *   /                  index page linking everything below
 *   /hello             "Hello, world"; POST answers "Got N bytes"
 *   /echo              the request's arguments (query and body) as JSON
 *   /info              method, uri, path, query, version, host, remote_ip,
 *                      headers and body length as JSON
 *   /user/([0-9]+)     a path argument, and reverse_url back to it
 *   /chunked           write, flush, write: a chunked response
 *   /large             a 512 KiB body
 *   /visits            a signed-cookie visit counter
 *   /static/...        examples/static/
 *   /chat              chat page: a WebSocket (/chat/ws) when the browser has
 *                      one, long polling otherwise: POST /chat/new adds a
 *                      message, POST /chat/updates (cursor=N) waits for newer
 *   /chat/ws           WebSocket chat: history on open, then every message;
 *                      a text message from the client is posted
 *   /ws/echo           WebSocket echo: text and binary messages sent back
 *   /upload, /stream   streaming both ways (demo_stream.h)
 * The chat is shared by every worker loop of demo --workers N (see the chat
 * section).
 */
#ifndef TN_DEMO_APP_H
#define TN_DEMO_APP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "demo_stream.h"
#include "tornuv.h"

/* ---- a small JSON writer ------------------------------------------------ */

/* JSON goes to a sink: a handler's body, or a buffer (WebSocket messages). */
typedef void (*demo_put_fn)(void *ctx, const char *s, size_t n);

static inline void demo_put_handler(void *ctx, const char *s, size_t n)
{
    tn_handler_write((tn_handler_t *)ctx, s, n);
}

static inline void demo_json_str_to(demo_put_fn put, void *ctx, const char *s, size_t n)
{
    char esc[8];
    put(ctx, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != 0x7f)
            continue;
        put(ctx, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            put(ctx, "\\\"", 2);
            break;
        case '\\':
            put(ctx, "\\\\", 2);
            break;
        case '\n':
            put(ctx, "\\n", 2);
            break;
        default: /* control bytes, and '<' so JSON can sit in HTML */
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(ctx, esc, 6);
        }
    }
    put(ctx, s + run, n - run);
    put(ctx, "\"", 1);
}

static inline void demo_json_str(tn_handler_t *h, const char *s, size_t n)
{
    demo_json_str_to(demo_put_handler, h, s, n);
}

static inline void demo_json_kv(tn_handler_t *h, const char *key, const char *v, size_t n,
                                int comma)
{
    if (comma)
        tn_handler_write(h, ",", 1);
    demo_json_str(h, key, strlen(key));
    tn_handler_write(h, ":", 1);
    demo_json_str(h, v, n);
}

static inline void demo_json_type(tn_handler_t *h)
{
    tn_handler_set_header(h, "Content-Type", "application/json; charset=UTF-8");
}

/* ---- pages ---------------------------------------------------------------- */

static const char demo_index[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>tornuv demo</title>\n"
    "<link rel=\"stylesheet\" href=\"/static/style.css\"></head><body>\n"
    "<h1><img src=\"/static/logo.svg\" alt=\"\">tornuv demo</h1>\n"
    "<p>Tornado's web design in C over libuv. Every page below is served by this process.</p>\n"
    "<ul>\n"
    "<li><a href=\"/hello\">/hello</a> &mdash; Hello, world (POST answers with the body "
    "size)</li>\n"
    "<li><a href=\"/echo?name=tornuv&amp;lang=c\">/echo</a> &mdash; arguments as JSON</li>\n"
    "<li><a href=\"/info\">/info</a> &mdash; the request as JSON</li>\n"
    "<li><a href=\"/user/42\">/user/42</a> &mdash; path arguments and reverse_url</li>\n"
    "<li><a href=\"/chunked\">/chunked</a> &mdash; a flushed, chunked response</li>\n"
    "<li><a href=\"/large\">/large</a> &mdash; 512 KiB</li>\n"
    "<li><a href=\"/visits\">/visits</a> &mdash; a signed cookie</li>\n"
    "<li><a href=\"/static/style.css\">/static/style.css</a> &mdash; static files</li>\n"
    "<li><a href=\"/chat\">/chat</a> &mdash; chat over a WebSocket, or long polling</li>\n"
    "<li>/ws/echo &mdash; a WebSocket echo (text and binary)</li>\n"
    "<li><a href=\"/stream?mb=4\">/stream?mb=4</a> &mdash; 4 MiB written with "
    "back-pressure (mb up to 1024)</li>\n"
    "<li><code>curl -T file http://127.0.0.1:8888/upload</code> &mdash; PUT or POST "
    "<code>/upload</code> streams the body into SHA-256 (up to 4 GiB)</li>\n"
    "</ul></body></html>\n";

static const char demo_chat_page[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>tornuv chat</title>\n"
    "<link rel=\"stylesheet\" href=\"/static/style.css\"></head><body>\n"
    "<h1><img src=\"/static/logo.svg\" alt=\"\">Chat</h1>\n"
    "<p>Open this page twice: a message sent in one appears in the other. "
    "<span id=\"status\">loading</span></p>\n"
    "<div id=\"messages\"></div>\n"
    "<form id=\"chat-form\"><input id=\"chat-input\" type=\"text\" autocomplete=\"off\" "
    "placeholder=\"Say something\"> <button type=\"submit\">Send</button></form>\n"
    "<p><a href=\"/\">back</a></p>\n"
    "<script src=\"/static/chat.js\"></script></body></html>\n";

static inline int demo_index_get(tn_handler_t *h)
{
    return tn_handler_write(h, demo_index, sizeof demo_index - 1);
}

static const tn_handler_class_t demo_index_handler = {.name = "Index", .get = demo_index_get};

static inline int demo_hello_get(tn_handler_t *h)
{
    tn_handler_set_header(h, "Content-Type", "text/plain; charset=UTF-8");
    return tn_handler_write(h, "Hello, world", 12);
}

static inline int demo_hello_post(tn_handler_t *h)
{
    char msg[64];
    size_t n;
    tn_http_request_body(tn_handler_request(h), &n);
    tn_handler_set_header(h, "Content-Type", "text/plain; charset=UTF-8");
    int k = snprintf(msg, sizeof msg, "Got %zu bytes", n);
    return tn_handler_write(h, msg, (size_t)k);
}

static const tn_handler_class_t demo_hello_handler = {
    .name = "Hello", .get = demo_hello_get, .post = demo_hello_post, .put = demo_hello_post};

static inline int demo_echo_any(tn_handler_t *h)
{
    const tn_args_t *a = tn_http_request_arguments(tn_handler_request(h));
    size_t n = a ? tn_args_count(a) : 0;
    demo_json_type(h);
    tn_handler_write(h, "{", 1);
    /* name -> [values], names in first-seen order */
    for (size_t i = 0; i < n; i++) {
        tn_strview_t nm, v;
        tn_args_at(a, i, &nm, &v);
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) {
            tn_strview_t pn, pv;
            tn_args_at(a, j, &pn, &pv);
            seen = pn.len == nm.len && memcmp(pn.base, nm.base, nm.len) == 0;
        }
        if (seen)
            continue;
        if (i)
            tn_handler_write(h, ",", 1);
        demo_json_str(h, nm.base, nm.len);
        tn_handler_write(h, ":[", 2);
        int first = 1;
        for (size_t j = i; j < n; j++) {
            tn_strview_t pn, pv;
            tn_args_at(a, j, &pn, &pv);
            if (pn.len != nm.len || memcmp(pn.base, nm.base, nm.len) != 0)
                continue;
            if (!first)
                tn_handler_write(h, ",", 1);
            first = 0;
            demo_json_str(h, pv.base, pv.len);
        }
        tn_handler_write(h, "]", 1);
    }
    return tn_handler_write(h, "}", 1);
}

static const tn_handler_class_t demo_echo_handler = {
    .name = "Echo", .get = demo_echo_any, .post = demo_echo_any, .put = demo_echo_any};

static inline int demo_info_any(tn_handler_t *h)
{
    tn_http_request_t *r = tn_handler_request(h);
    size_t n;
    const char *v;
    char num[32];
    demo_json_type(h);
    tn_handler_write(h, "{", 1);
    v = tn_http_request_method(r, &n);
    demo_json_kv(h, "method", v, n, 0);
    v = tn_http_request_uri(r, &n);
    demo_json_kv(h, "uri", v, n, 1);
    v = tn_http_request_path(r, &n);
    demo_json_kv(h, "path", v, n, 1);
    v = tn_http_request_query(r, &n);
    demo_json_kv(h, "query", v, n, 1);
    v = tn_http_request_version(r);
    demo_json_kv(h, "version", v, strlen(v), 1);
    v = tn_http_request_host(r, &n);
    demo_json_kv(h, "host", v, n, 1);
    v = tn_http_request_remote_ip(r);
    demo_json_kv(h, "remote_ip", v, strlen(v), 1);
    tn_handler_write(h, ",\"headers\":{", 12);
    const tn_headers_t *hd = tn_http_request_headers(r);
    for (size_t i = 0; i < tn_headers_count(hd); i++) {
        tn_strview_t k, val;
        tn_headers_at(hd, i, &k, &val);
        if (i)
            tn_handler_write(h, ",", 1);
        demo_json_str(h, k.base, k.len);
        tn_handler_write(h, ":", 1);
        demo_json_str(h, val.base, val.len);
    }
    tn_http_request_body(r, &n);
    int k = snprintf(num, sizeof num, "},\"body_length\":%zu}", n);
    return tn_handler_write(h, num, (size_t)k);
}

static const tn_handler_class_t demo_info_handler = {
    .name = "Info", .get = demo_info_any, .post = demo_info_any, .put = demo_info_any};

static inline int demo_user_get(tn_handler_t *h)
{
    size_t n;
    const char *id = tn_handler_path_arg(h, 0, &n);
    char idz[32], url[64], page[256];
    if (n >= sizeof idz)
        return tn_handler_fail(h, 404);
    memcpy(idz, id, n);
    idz[n] = 0;
    const char *args[1] = {idz};
    if (tn_app_reverse_url(tn_handler_app(h), "user", args, 1, url, sizeof url) < 0)
        return tn_handler_fail(h, 500);
    int k = snprintf(page, sizeof page,
                     "<!doctype html><title>user %s</title><p>User %s; this page is "
                     "<a href=\"%s\">%s</a> (reverse_url)</p>",
                     idz, idz, url, url);
    return tn_handler_write(h, page, (size_t)k);
}

static const tn_handler_class_t demo_user_handler = {.name = "User", .get = demo_user_get};

static inline int demo_chunked_get(tn_handler_t *h)
{
    tn_handler_set_header(h, "Content-Type", "text/plain; charset=UTF-8");
    tn_handler_write(h, "first part, flushed\n", 20);
    int err = tn_handler_flush(h, NULL, NULL);
    if (err)
        return err;
    return tn_handler_write(h, "second part\n", 12);
}

static const tn_handler_class_t demo_chunked_handler = {.name = "Chunked", .get = demo_chunked_get};

static inline int demo_large_get(tn_handler_t *h)
{
    static char block[1024];
    if (!block[0]) {
        for (size_t i = 0; i < sizeof block; i++)
            block[i] = (char)('a' + i % 26);
        block[sizeof block - 1] = '\n';
    }
    tn_handler_set_header(h, "Content-Type", "text/plain; charset=UTF-8");
    for (int i = 0; i < 512; i++) {
        int err = tn_handler_write(h, block, sizeof block);
        if (err)
            return err;
    }
    return TN_WEB_DONE;
}

static const tn_handler_class_t demo_large_handler = {.name = "Large", .get = demo_large_get};

static inline int demo_visits_get(tn_handler_t *h)
{
    char buf[32], page[128];
    long n = tn_handler_get_signed_cookie(h, "visits", 0, buf, sizeof buf);
    long visits = n > 0 ? strtol(buf, NULL, 10) : 0;
    if (visits < 0 || visits > 1000000)
        visits = 0;
    snprintf(buf, sizeof buf, "%ld", visits + 1);
    tn_cookie_attrs_t a = {0};
    a.max_age = -1;
    a.httponly = 1;
    a.samesite = "Lax";
    int err = tn_handler_set_signed_cookie(h, "visits", buf, &a);
    if (err)
        return err;
    tn_handler_set_header(h, "Content-Type", "text/plain; charset=UTF-8");
    int k = snprintf(page, sizeof page, "You have been here %ld time%s.\n", visits + 1,
                     visits ? "s" : "");
    return tn_handler_write(h, page, (size_t)k);
}

static const tn_handler_class_t demo_visits_handler = {.name = "Visits", .get = demo_visits_get};

/* ---- chat ------------------------------------------------------------------ */

/* With --workers N the demo runs N loops on N threads, and a message posted
 * on one must reach the long polls and WebSockets of every other. The chat
 * is guarded, not pinned: the messages live once per process behind a
 * mutex; each loop (thread) keeps its own waiting polls and WebSocket
 * clients, which only that loop touches; a new message is handed to the
 * poster's loop at once and to every other loop that ever had a client
 * through tn_ioloop_add_callback (thread-safe), where that loop serves its
 * own. A loop leaves the list in demo_chat_close, before it is closed. */

#define DEMO_CHAT_KEEP 100
#define DEMO_CHAT_MAX_WAITERS 10000
#define DEMO_CHAT_MAX_LOOPS 64

typedef struct {
    long id;
    char *body;
    size_t len;
} demo_msg_t;

typedef struct {
    demo_msg_t msgs[DEMO_CHAT_KEEP];
    size_t count;                            /* messages held (ring) */
    long next_id;                            /* id of the next message */
    tn_ioloop_t *loops[DEMO_CHAT_MAX_LOOPS]; /* loops that had clients */
    size_t nloops;
} demo_chat_t;

/* The waiting long polls of this thread's loop. */
typedef struct {
    tn_handler_t **waiters;
    size_t nwaiters, cap;
    tn_ioloop_t *loop; /* registered in demo_chat.loops */
} demo_waiters_t;

static demo_chat_t demo_chat; /* guarded by demo_chat_mutex */
static uv_mutex_t demo_chat_mutex;
static uv_once_t demo_chat_once = UV_ONCE_INIT;
static _Thread_local demo_waiters_t demo_waiters;

static inline void demo_chat_init_mutex(void)
{
    if (uv_mutex_init(&demo_chat_mutex) != 0)
        abort();
}

static inline void demo_chat_lock(void)
{
    uv_once(&demo_chat_once, demo_chat_init_mutex);
    uv_mutex_lock(&demo_chat_mutex);
}

static inline void demo_chat_unlock(void)
{
    uv_mutex_unlock(&demo_chat_mutex);
}

/* With the lock held: puts this thread's loop on the list of loops to wake.
 * Returns 0, or -1 when the list is full. */
static inline int demo_chat_register(tn_ioloop_t *loop)
{
    if (demo_waiters.loop)
        return 0;
    if (demo_chat.nloops == DEMO_CHAT_MAX_LOOPS)
        return -1;
    demo_waiters.loop = loop;
    demo_chat.loops[demo_chat.nloops++] = loop;
    return 0;
}

typedef struct {
    long cursor;
    int waiting;
} demo_waiter_t;

/* {"messages":[{"id":N,"body":"..."},...]} with the messages after cursor.
 * Call with the lock held. */
static inline void demo_chat_json_to(demo_put_fn put, void *ctx, long cursor)
{
    char num[32];
    put(ctx, "{\"messages\":[", 13);
    int first = 1;
    long oldest = demo_chat.next_id - (long)demo_chat.count;
    for (long id = cursor + 1 > oldest ? cursor + 1 : oldest; id < demo_chat.next_id; id++) {
        demo_msg_t *m = &demo_chat.msgs[id % DEMO_CHAT_KEEP];
        int k = snprintf(num, sizeof num, "%s{\"id\":%ld,\"body\":", first ? "" : ",", m->id);
        first = 0;
        put(ctx, num, (size_t)k);
        demo_json_str_to(put, ctx, m->body, m->len);
        put(ctx, "}", 1);
    }
    put(ctx, "]}", 2);
}

static inline void demo_chat_reply(tn_handler_t *h, long cursor)
{
    demo_json_type(h);
    demo_chat_lock();
    demo_chat_json_to(demo_put_handler, h, cursor);
    demo_chat_unlock();
}

static inline void demo_chat_drop(tn_handler_t *h)
{
    for (size_t i = 0; i < demo_waiters.nwaiters; i++) {
        if (demo_waiters.waiters[i] == h) {
            demo_waiters.waiters[i] = demo_waiters.waiters[--demo_waiters.nwaiters];
            return;
        }
    }
}

static inline int demo_updates_post(tn_handler_t *h)
{
    demo_waiter_t *w = tn_handler_state(h);
    tn_strview_t v;
    int rc = tn_handler_get_argument(h, "cursor", "0", &v);
    if (rc)
        return rc;
    w->cursor = strtol(v.base, NULL, 10);
    if (w->cursor < 0)
        w->cursor = 0;
    demo_chat_lock();
    int ready = w->cursor + 1 < demo_chat.next_id;
    int full = !ready && demo_chat_register(tn_handler_loop(h)) != 0;
    demo_chat_unlock();
    if (ready) {
        demo_chat_reply(h, w->cursor);
        return TN_WEB_DONE;
    }
    if (full)
        return tn_handler_fail(h, 503);
    if (demo_waiters.nwaiters == demo_waiters.cap) {
        size_t cap = demo_waiters.cap ? demo_waiters.cap * 2 : 16;
        if (cap > DEMO_CHAT_MAX_WAITERS)
            return tn_handler_fail(h, 503);
        tn_handler_t **nw = realloc(demo_waiters.waiters, cap * sizeof *nw);
        if (!nw)
            return TN_ENOMEM;
        demo_waiters.waiters = nw;
        demo_waiters.cap = cap;
    }
    demo_waiters.waiters[demo_waiters.nwaiters++] = h;
    w->waiting = 1;
    return TN_WEB_ASYNC;
}

/* The client left while waiting: forget it and release the handler. */
static inline void demo_updates_gone(tn_handler_t *h)
{
    demo_waiter_t *w = tn_handler_state(h);
    if (w->waiting) {
        w->waiting = 0;
        demo_chat_drop(h);
        tn_handler_finish(h);
    }
}

static const tn_handler_class_t demo_updates_handler = {
    .name = "ChatUpdates",
    .state_size = sizeof(demo_waiter_t),
    .post = demo_updates_post,
    .on_connection_close = demo_updates_gone,
};

/* Defined by demo_ws.h: sends each WebSocket chat client of this loop what
 * it has not had yet. */
static inline void demo_ws_broadcast(void);

/* Serves this thread's loop: every waiting long poll gets what is newer
 * than its cursor, every WebSocket what it has not had. */
static inline void demo_chat_wake_local(void)
{
    tn_handler_t **ws = demo_waiters.waiters;
    size_t n = demo_waiters.nwaiters;
    demo_waiters.waiters = NULL;
    demo_waiters.nwaiters = demo_waiters.cap = 0;
    for (size_t i = 0; i < n; i++) {
        demo_waiter_t *w = tn_handler_state(ws[i]);
        w->waiting = 0;
        demo_chat_reply(ws[i], w->cursor);
        tn_handler_finish(ws[i]);
    }
    free(ws);
    demo_ws_broadcast();
}

/* Runs on a loop that had clients, after a message was posted elsewhere. */
static inline void demo_chat_wake(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    demo_chat_wake_local();
}

/* Stores a message and hands it to every waiting long poll and WebSocket,
 * of this loop at once and of the others through their loops. Returns its
 * id, or -1 when out of memory. */
static inline long demo_chat_add(const char *text, size_t len)
{
    char *body = malloc(len ? len : 1);
    if (!body)
        return -1;
    memcpy(body, text, len);
    demo_chat_lock();
    demo_msg_t *m = &demo_chat.msgs[demo_chat.next_id % DEMO_CHAT_KEEP];
    free(m->body);
    m->body = body;
    m->len = len;
    long id = m->id = demo_chat.next_id++;
    if (demo_chat.count < DEMO_CHAT_KEEP)
        demo_chat.count++;
    /* A loop leaves this list under the lock before it closes: none of
     * these is gone. */
    for (size_t i = 0; i < demo_chat.nloops; i++)
        if (demo_chat.loops[i] != demo_waiters.loop)
            (void)tn_ioloop_add_callback(demo_chat.loops[i], demo_chat_wake, NULL);
    demo_chat_unlock();
    demo_chat_wake_local();
    return id;
}

static inline int demo_new_post(tn_handler_t *h)
{
    tn_strview_t v;
    int rc = tn_handler_get_argument(h, "body", NULL, &v);
    if (rc)
        return rc;
    if (v.len == 0 || v.len > 4096)
        return tn_handler_fail(h, 400);
    long id = demo_chat_add(v.base, v.len);
    if (id < 0)
        return TN_ENOMEM;
    char out[48];
    int k = snprintf(out, sizeof out, "{\"id\":%ld}", id);
    demo_json_type(h);
    return tn_handler_write(h, out, (size_t)k);
}

#include "demo_ws.h"

static const tn_handler_class_t demo_new_handler = {.name = "ChatNew", .post = demo_new_post};

static inline int demo_chat_get(tn_handler_t *h)
{
    return tn_handler_write(h, demo_chat_page, sizeof demo_chat_page - 1);
}

static const tn_handler_class_t demo_chat_handler = {.name = "Chat", .get = demo_chat_get};

/* Forgets the messages (the process's, shared by every loop). */
static inline void demo_chat_reset(void)
{
    demo_chat_lock();
    for (size_t i = 0; i < DEMO_CHAT_KEEP; i++)
        free(demo_chat.msgs[i].body);
    memset(demo_chat.msgs, 0, sizeof demo_chat.msgs);
    demo_chat.count = 0;
    demo_chat.next_id = 1;
    demo_chat_unlock();
}

/* Builds the demo application. static_dir may be NULL (no /static/). */
static inline int demo_app_new(const char *static_dir, const char *cookie_secret, tn_app_t **out)
{
    tn_app_settings_t s = {0};
    tn_app_t *app;
    s.static_path = static_dir;
    s.cookie_secret = cookie_secret;
    s.compress_response = 1;
    int err = tn_app_new(&s, &app);
    if (err)
        return err;
    demo_chat_reset();
    struct {
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
        {"/large", &demo_large_handler, "large"},
        {"/visits", &demo_visits_handler, "visits"},
        {"/chat", &demo_chat_handler, "chat"},
        {"/chat/new", &demo_new_handler, "chat-new"},
        {"/chat/updates", &demo_updates_handler, "chat-updates"},
        {"/chat/ws", &tn_websocket_handler, "chat-ws"},
        {"/ws/echo", &tn_websocket_handler, "ws-echo"},
        {"/upload", &demo_upload_handler, "upload"},
        {"/stream", &demo_stream_handler, "stream"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !err; i++) {
        /* WebSocket routes take their class as the init argument */
        const void *init = routes[i].cls != &tn_websocket_handler   ? NULL
                           : strcmp(routes[i].name, "chat-ws") == 0 ? (const void *)&demo_ws_chat
                                                                    : (const void *)&demo_ws_echo;
        err = tn_app_add_route(app, NULL, routes[i].pattern, routes[i].cls, (void *)init,
                               routes[i].name);
    }
    if (err) {
        tn_app_free(app);
        return err;
    }
    *out = app;
    return 0;
}

/* Ends every waiting long poll and WebSocket of this thread's loop (at
 * shutdown, on the loop's thread, before the loop is closed), takes the loop
 * off the chat's list, then forgets the messages. */
static inline void demo_chat_close(void)
{
    demo_ws_close_all();
    tn_handler_t **ws = demo_waiters.waiters;
    size_t n = demo_waiters.nwaiters;
    demo_waiters.waiters = NULL;
    demo_waiters.nwaiters = demo_waiters.cap = 0;
    for (size_t i = 0; i < n; i++) {
        ((demo_waiter_t *)tn_handler_state(ws[i]))->waiting = 0;
        demo_chat_reply(ws[i], ((demo_waiter_t *)tn_handler_state(ws[i]))->cursor);
        tn_handler_finish(ws[i]);
    }
    free(ws);
    demo_chat_lock();
    for (size_t i = 0; i < demo_chat.nloops; i++) {
        if (demo_chat.loops[i] == demo_waiters.loop) {
            demo_chat.loops[i] = demo_chat.loops[--demo_chat.nloops];
            break;
        }
    }
    demo_chat_unlock();
    demo_waiters.loop = NULL;
    demo_chat_reset();
}

#endif
