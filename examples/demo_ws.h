/* The demo's WebSocket handlers (included by demo_app.h, after the chat
 * store):
 *
 *   /ws/echo   every text and binary message sent back unchanged (no
 *              subprotocol, default limits)
 *   /chat/ws   the chat over a WebSocket: the history as one JSON message
 *              on open, then each new message (from either kind of client)
 *              as {"messages":[{"id":N,"body":"..."}]}; a text message
 *              from the client is posted to the chat
 */
#ifndef TN_DEMO_WS_H
#define TN_DEMO_WS_H

#include "tornuv.h"

/* A client that lets this much pile up unread is dropped (back-pressure). */
#define DEMO_WS_MAX_BUFFERED ((size_t)1 << 20)

static inline void demo_ws_echo_message(tn_websocket_t *ws, int binary, const char *d, size_t n)
{
    (void)tn_websocket_write_message(ws, d, n, binary, NULL, NULL);
}

static const tn_websocket_class_t demo_ws_echo = {
    .name = "WebSocketEcho",
    .on_message = demo_ws_echo_message,
};

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} demo_buf_t;

static inline void demo_buf_put(void *ctx, const char *s, size_t n)
{
    demo_buf_t *b = ctx;
    if (b->failed || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* The chat clients of this thread's loop (demo --workers: one list per
 * loop; demo_app.h's chat section). */
static _Thread_local struct {
    tn_websocket_t **v;
    size_t n, cap;
} demo_ws_clients;

/* A chat client's state: listed, and the last message id it was sent. */
typedef struct {
    int listed;
    long cursor;
} demo_ws_client_t;

/* Sends ws the messages after its cursor: when there are any, or always
 * (the history on open, even empty). */
static inline void demo_ws_send_since(tn_websocket_t *ws, int always)
{
    demo_ws_client_t *c = tn_websocket_state(ws);
    demo_buf_t b = {0};
    demo_chat_lock();
    long last = demo_chat.next_id - 1;
    int send = always || last > c->cursor;
    if (send)
        demo_chat_json_to(demo_buf_put, &b, c->cursor);
    demo_chat_unlock();
    if (!send)
        return;
    c->cursor = last;
    if (b.failed || tn_websocket_write_message(ws, b.p, b.len, 0, NULL, NULL) != 0)
        (void)tn_websocket_close(ws, 1011, "out of memory");
    free(b.p);
}

static inline void demo_ws_chat_open(tn_websocket_t *ws, const tn_strview_t *args, size_t n)
{
    (void)args;
    (void)n;
    if (demo_ws_clients.n == demo_ws_clients.cap) {
        size_t cap = demo_ws_clients.cap ? demo_ws_clients.cap * 2 : 16;
        tn_websocket_t **nv =
            cap <= DEMO_CHAT_MAX_WAITERS ? realloc(demo_ws_clients.v, cap * sizeof *nv) : NULL;
        if (!nv) {
            (void)tn_websocket_close(ws, 1013, "try again later");
            return;
        }
        demo_ws_clients.v = nv;
        demo_ws_clients.cap = cap;
    }
    demo_chat_lock();
    int full = demo_chat_register(tn_websocket_loop(ws)) != 0;
    demo_chat_unlock();
    if (full) {
        (void)tn_websocket_close(ws, 1013, "try again later");
        return;
    }
    demo_ws_clients.v[demo_ws_clients.n++] = ws;
    demo_ws_client_t *c = tn_websocket_state(ws);
    c->listed = 1;
    c->cursor = 0;
    demo_ws_send_since(ws, 1); /* the history */
}

static inline void demo_ws_chat_message(tn_websocket_t *ws, int binary, const char *d, size_t n)
{
    if (binary || n == 0 || n > 4096) {
        (void)tn_websocket_close(ws, 1003, "text messages of 1 to 4096 bytes only");
        return;
    }
    if (demo_chat_add(d, n) < 0)
        (void)tn_websocket_close(ws, 1011, "out of memory");
}

static inline void demo_ws_chat_close(tn_websocket_t *ws, int code, const char *reason, size_t n)
{
    (void)code;
    (void)reason;
    (void)n;
    if (!((demo_ws_client_t *)tn_websocket_state(ws))->listed)
        return;
    for (size_t i = 0; i < demo_ws_clients.n; i++)
        if (demo_ws_clients.v[i] == ws) {
            demo_ws_clients.v[i] = demo_ws_clients.v[--demo_ws_clients.n];
            break;
        }
    if (demo_ws_clients.n == 0) {
        free(demo_ws_clients.v);
        memset(&demo_ws_clients, 0, sizeof demo_ws_clients);
    }
}

static const tn_websocket_class_t demo_ws_chat = {
    .name = "ChatSocket",
    .state_size = sizeof(demo_ws_client_t),
    .open = demo_ws_chat_open,
    .on_message = demo_ws_chat_message,
    .on_close = demo_ws_chat_close,
};

static inline void demo_ws_broadcast(void)
{
    for (size_t i = 0; i < demo_ws_clients.n; i++) {
        tn_websocket_t *ws = demo_ws_clients.v[i];
        if (tn_websocket_closing(ws))
            continue;
        if (tn_websocket_buffered_amount(ws) > DEMO_WS_MAX_BUFFERED)
            (void)tn_websocket_close(ws, 1008, "not reading");
        else
            demo_ws_send_since(ws, 0);
    }
}

/* Starts the closing handshake with every chat client (at shutdown). */
static inline void demo_ws_close_all(void)
{
    for (size_t i = 0; i < demo_ws_clients.n; i++)
        (void)tn_websocket_close(demo_ws_clients.v[i], 1001, "server shutting down");
}

#endif
