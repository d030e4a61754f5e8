/* A WebSocket connection: the frame machine (websocket_frame.c) fed from an
 * IOStream, its output written back, and the timers around it (close
 * timeout, pings).
 *
 * Closing, as RFC 6455 section 7 wants it: after the Close frames crossed
 * (or after we failed the connection), the server shuts its sending side
 * down so the client sees the TCP close first, and the client waits for
 * it; either side drops the connection when the close timeout expires. The
 * stream is read to its end throughout, so the peer's TCP close is noticed;
 * bytes after a Close are ignored. The stream's close callback is the one
 * place the connection ends: it reports on_close and frees everything, and
 * IOStream runs it after every pending write completion, never inside one
 * of our calls. */
#include <string.h>

#include "tornuv/common.h"
#include "websocket_conn.h"

struct tn_websocket_s {
    tn_ioloop_t *loop;
    tn_iostream_t *stream;
    tn__ws_t *proto;
    tn_websocket_events_t ev;
    void *arg;
    int server;
    int compressed;
    int closing;
    int got_close;
    int peer_code;
    char peer_reason[124];
    size_t peer_reason_len;
    uint64_t close_timeout_ms;
    uint64_t ping_interval_ms, ping_timeout_ms;
    uint64_t last_pong_ms;
    tn_timeout_id close_timer, ping_timer;
    /* completion for the frame being sent right now (set around a send) */
    tn_websocket_write_cb wcb;
    void *warg;
    char subprotocol[64];
    void *user;
};

typedef struct {
    tn_websocket_t *ws;
    tn_websocket_write_cb cb;
    void *arg;
} wrec_t;

void tn__ws_zopts_from(const tn_websocket_compression_t *c, tn__ws_zopts_t *zo)
{
    memset(zo, 0, sizeof *zo);
    zo->level = -1;
    if (!c)
        return;
    zo->level = c->level >= 1 && c->level <= 9 ? c->level : -1;
    zo->mem_level = c->mem_level;
    zo->max_window_bits = c->max_window_bits;
    zo->no_context_takeover = c->no_context_takeover;
}

static void on_written(tn_iostream_t *s, int status, void *arg)
{
    wrec_t *r = arg;
    (void)s;
    r->cb(r->ws, status, r->arg);
    tn_free(r);
}

static int ws_send(void *arg, const uint8_t *hdr, size_t hlen, const uint8_t *p, size_t n)
{
    tn_websocket_t *ws = arg;
    tn_buf_t b[2] = {{(const char *)hdr, hlen}, {(const char *)p, n}};
    wrec_t *r = NULL;
    if (ws->wcb) {
        r = tn_malloc(sizeof *r);
        if (!r)
            return TN_ENOMEM;
        r->ws = ws;
        r->cb = ws->wcb;
        r->arg = ws->warg;
        ws->wcb = NULL;
    }
    int rc = tn_iostream_writev(ws->stream, b, n ? 2 : 1, r ? on_written : NULL, r);
    if (rc < 0)
        tn_free(r);
    return rc;
}

static void ev_message(void *arg, int op, const char *d, size_t n)
{
    tn_websocket_t *ws = arg;
    if (ws->ev.on_message)
        ws->ev.on_message(ws, op == TN__WS_OP_BINARY, d, n, ws->arg);
}

static void ev_ping(void *arg, const char *d, size_t n)
{
    tn_websocket_t *ws = arg;
    if (ws->ev.on_ping)
        ws->ev.on_ping(ws, d, n, ws->arg);
}

static void ev_pong(void *arg, const char *d, size_t n)
{
    tn_websocket_t *ws = arg;
    ws->last_pong_ms = tn_ioloop_time_ms(ws->loop);
    if (ws->ev.on_pong)
        ws->ev.on_pong(ws, d, n, ws->arg);
}

static void ev_close(void *arg, int code, const char *reason, size_t n)
{
    tn_websocket_t *ws = arg;
    ws->got_close = 1;
    ws->peer_code = code;
    if (n > sizeof ws->peer_reason)
        n = sizeof ws->peer_reason;
    memcpy(ws->peer_reason, reason, n);
    ws->peer_reason_len = n;
}

static const tn__ws_events_t conn_events = {ws_send, ev_message, ev_ping, ev_pong, ev_close};

static void on_close_timeout(tn_ioloop_t *loop, void *arg)
{
    tn_websocket_t *ws = arg;
    (void)loop;
    ws->close_timer = 0;
    tn_iostream_close_with(ws->stream, TN_ETIMEOUT);
}

static void arm_close_timer(tn_websocket_t *ws)
{
    if (!ws->close_timer)
        ws->close_timer =
            tn_ioloop_call_later(ws->loop, ws->close_timeout_ms, on_close_timeout, ws);
    if (!ws->close_timer)
        tn_iostream_close(ws->stream); /* no memory for a timer: do not wait at all */
}

/* The frames are over (Close crossed, or we failed the connection): the
 * server ends its side, both wait for the TCP close within the timeout. */
static void frames_over(tn_websocket_t *ws)
{
    ws->closing = 1;
    if (ws->server)
        tn_iostream_shutdown(ws->stream);
    arm_close_timer(ws);
}

static size_t on_bytes(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    tn_websocket_t *ws = arg;
    if (status != 0)
        return 0; /* closing: the close callback follows */
    int was_over = tn__ws_close_received(ws->proto) || tn__ws_fail_code(ws->proto) != 0;
    int rc = tn__ws_feed(ws->proto, data, len);
    if (rc != 0 && !was_over)
        frames_over(ws);
    if (rc < 0 && rc != TN_ETOOLARGE && rc != TN_EHTTP && rc != TN_ENOMEM)
        tn_iostream_close_with(s, rc); /* the stream failed under a send */
    if (!tn_iostream_closed(s))
        (void)tn_iostream_read_some(s, on_bytes, ws);
    return len;
}

static void on_ping_timer(tn_ioloop_t *loop, void *arg)
{
    tn_websocket_t *ws = arg;
    ws->ping_timer = 0;
    if (ws->closing)
        return;
    if (tn_ioloop_time_ms(loop) - ws->last_pong_ms > ws->ping_timeout_ms) {
        tn_iostream_close_with(ws->stream, TN_ETIMEOUT); /* a dead peer */
        return;
    }
    (void)tn__ws_send_control(ws->proto, TN__WS_OP_PING, NULL, 0);
    ws->ping_timer = tn_ioloop_call_later(loop, ws->ping_interval_ms, on_ping_timer, ws);
}

static void on_stream_close(tn_iostream_t *s, void *arg)
{
    tn_websocket_t *ws = arg;
    (void)s;
    ws->closing = 1;
    tn_ioloop_remove_timeout(ws->loop, ws->close_timer);
    tn_ioloop_remove_timeout(ws->loop, ws->ping_timer);
    int code = ws->got_close ? ws->peer_code : TN_WS_CLOSE_ABNORMAL;
    ws->peer_reason[ws->got_close ? ws->peer_reason_len : 0] = '\0';
    if (ws->ev.on_close)
        ws->ev.on_close(ws, code, ws->peer_reason, ws->got_close ? ws->peer_reason_len : 0,
                        ws->arg);
    tn__ws_free(ws->proto);
    tn_free(ws);
}

int tn__websocket_start(tn_iostream_t *stream, const tn__ws_conn_config_t *cfg,
                        tn_websocket_t **out)
{
    if (tn_iostream_closed(stream))
        return TN_ECLOSED;
    tn_websocket_t *ws = tn_calloc(1, sizeof *ws);
    if (!ws)
        return TN_ENOMEM;
    const tn_websocket_settings_t *st = cfg->settings;
    tn__ws_config_t pc = {.server = cfg->server,
                          .max_message = st && st->max_message_size ? st->max_message_size
                                                                    : TN_WS_DEFAULT_MAX_MESSAGE,
                          .pmd = cfg->pmd,
                          .zopts = cfg->zopts};
    int rc = tn__ws_new(&pc, &conn_events, ws, &ws->proto);
    if (rc < 0) {
        tn_free(ws);
        return rc;
    }
    ws->loop = tn_iostream_loop(stream);
    ws->stream = stream;
    ws->server = cfg->server;
    ws->compressed = cfg->pmd && cfg->pmd->enabled;
    if (cfg->events)
        ws->ev = *cfg->events;
    ws->arg = cfg->arg;
    if (cfg->subprotocol) {
        size_t n = strlen(cfg->subprotocol);
        if (n >= sizeof ws->subprotocol)
            n = sizeof ws->subprotocol - 1;
        memcpy(ws->subprotocol, cfg->subprotocol, n);
    }
    ws->close_timeout_ms =
        st && st->close_timeout_ms ? st->close_timeout_ms : TN_WS_DEFAULT_CLOSE_TIMEOUT_MS;
    ws->ping_interval_ms = st ? st->ping_interval_ms : 0;
    ws->ping_timeout_ms =
        st && st->ping_timeout_ms
            ? st->ping_timeout_ms
            : (ws->ping_interval_ms * 3 > 30000 ? ws->ping_interval_ms * 3 : 30000);
    ws->last_pong_ms = tn_ioloop_time_ms(ws->loop);
    if (ws->ping_interval_ms) {
        ws->ping_timer = tn_ioloop_call_later(ws->loop, ws->ping_interval_ms, on_ping_timer, ws);
        if (!ws->ping_timer) {
            tn__ws_free(ws->proto);
            tn_free(ws);
            return TN_ENOMEM;
        }
    }
    rc = tn_iostream_read_some(stream, on_bytes, ws);
    if (rc < 0) {
        tn_ioloop_remove_timeout(ws->loop, ws->ping_timer);
        tn__ws_free(ws->proto);
        tn_free(ws);
        return rc;
    }
    tn_iostream_set_close_callback(stream, on_stream_close, ws);
    *out = ws;
    return 0;
}

int tn_websocket_write_message(tn_websocket_t *ws, const void *data, size_t len, int binary,
                               tn_websocket_write_cb cb, void *arg)
{
    if (!ws || (len && !data))
        return TN_EINVAL;
    if (ws->closing || tn_iostream_closed(ws->stream))
        return TN_ECLOSED;
    ws->wcb = cb;
    ws->warg = arg;
    int rc = tn__ws_send_message(ws->proto, binary, data, len);
    ws->wcb = NULL;
    return rc;
}

size_t tn_websocket_buffered_amount(const tn_websocket_t *ws)
{
    return tn_iostream_write_buffered(ws->stream);
}

int tn_websocket_ping(tn_websocket_t *ws, const void *data, size_t len)
{
    if (len > 125 || (len && !data))
        return TN_EINVAL;
    if (ws->closing || tn_iostream_closed(ws->stream))
        return TN_ECLOSED;
    return tn__ws_send_control(ws->proto, TN__WS_OP_PING, data, len);
}

int tn_websocket_close(tn_websocket_t *ws, int code, const char *reason)
{
    if (ws->closing || tn_iostream_closed(ws->stream))
        return TN_ECLOSED;
    size_t n = reason ? strlen(reason) : 0;
    int rc = tn__ws_send_close(ws->proto, code, reason, n);
    if (rc == TN_EINVAL)
        return rc;
    ws->closing = 1;
    if (rc < 0)
        tn_iostream_close(ws->stream);
    else
        arm_close_timer(ws);
    return 0;
}

const char *tn_websocket_subprotocol(const tn_websocket_t *ws)
{
    return ws->subprotocol;
}

int tn_websocket_compressed(const tn_websocket_t *ws)
{
    return ws->compressed;
}

int tn_websocket_closing(const tn_websocket_t *ws)
{
    return ws->closing;
}

tn_ioloop_t *tn_websocket_loop(const tn_websocket_t *ws)
{
    return ws->loop;
}

void tn__websocket_set_user(tn_websocket_t *ws, void *user)
{
    ws->user = user;
}

void *tn__websocket_user(const tn_websocket_t *ws)
{
    return ws->user;
}
