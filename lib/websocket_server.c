/* The server side: tn_websocket_handler, a web handler whose GET checks the
 * upgrade (RFC 6455 section 4.2.1, in Tornado's order where Tornado has
 * one), answers 101 and detaches the connection from HTTP; the stream then
 * becomes a connection (websocket_conn.c) whose events go to the
 * tn_websocket_class_t slots.
 *
 * The per-connection record (srv_t, with the class's state after it) is
 * allocated during GET, so the pre-open slots and the open connection share
 * the state; it is freed after on_close, or when the connection closes
 * before the hand-over (then neither open nor on_close runs). */
#include <string.h>

#include "tornuv/common.h"
#include "websocket_conn.h"

typedef struct {
    const tn_websocket_class_t *cls;
    tn_websocket_t *ws;
    tn__ws_pmd_t pmd;
    tn__ws_zopts_t zopts;
    char subprotocol[64];
    tn_strview_t *args;
    size_t nargs;
    char *argbuf;
    /* the class's state follows, aligned */
} srv_t;

#define STATE_OFFSET ((sizeof(srv_t) + 15) & ~(size_t)15)

static void *srv_state(srv_t *r)
{
    return r->cls->state_size ? (char *)r + STATE_OFFSET : NULL;
}

static void srv_free(srv_t *r)
{
    tn_free(r->args);
    tn_free(r->argbuf);
    tn_free(r);
}

static srv_t *srv_of(const tn_websocket_t *ws)
{
    return tn__websocket_user(ws);
}

void *tn_websocket_state(const tn_websocket_t *ws)
{
    srv_t *r = srv_of(ws);
    return r ? srv_state(r) : NULL;
}

void *tn_websocket_class_arg(const tn_websocket_t *ws)
{
    srv_t *r = srv_of(ws);
    return r ? r->cls->arg : NULL;
}

/* ---- events to class slots ------------------------------------------------ */

static void s_message(tn_websocket_t *ws, int binary, const char *d, size_t n, void *arg)
{
    srv_t *r = arg;
    if (r->cls->on_message)
        r->cls->on_message(ws, binary, d, n);
}

static void s_ping(tn_websocket_t *ws, const char *d, size_t n, void *arg)
{
    srv_t *r = arg;
    if (r->cls->on_ping)
        r->cls->on_ping(ws, d, n);
}

static void s_pong(tn_websocket_t *ws, const char *d, size_t n, void *arg)
{
    srv_t *r = arg;
    if (r->cls->on_pong)
        r->cls->on_pong(ws, d, n);
}

static void s_close(tn_websocket_t *ws, int code, const char *reason, size_t n, void *arg)
{
    srv_t *r = arg;
    if (r->cls->on_close)
        r->cls->on_close(ws, code, reason, n);
    srv_free(r);
}

static const tn_websocket_events_t srv_events = {s_message, s_ping, s_pong, s_close};

static void on_detached(tn_iostream_t *stream, int status, void *arg)
{
    srv_t *r = arg;
    if (status != 0) {
        srv_free(r);
        return;
    }
    tn__ws_conn_config_t cfg = {.server = 1,
                                .events = &srv_events,
                                .arg = r,
                                .settings = &r->cls->settings,
                                .pmd = &r->pmd,
                                .zopts = &r->zopts,
                                .subprotocol = r->subprotocol};
    int rc = tn__websocket_start(stream, &cfg, &r->ws);
    if (rc < 0) {
        tn_log(TN_LOG_WARN, "WebSocket %s: cannot start the connection: %s",
               r->cls->name ? r->cls->name : "handler", tn_strerror(rc));
        tn_iostream_close(stream);
        srv_free(r);
        return;
    }
    tn__websocket_set_user(r->ws, r);
    if (r->cls->open)
        r->cls->open(r->ws, r->args, r->nargs);
}

/* ---- the upgrade ------------------------------------------------------------ */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Tornado's default check_origin: the origin's netloc equals Host. */
static int same_origin(const char *origin, size_t len, const char *host, size_t hlen)
{
    const char *p = origin, *end = origin + len;
    const char *sep = NULL;
    for (const char *q = p; q + 2 < end; q++)
        if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
            sep = q;
            break;
        }
    if (!sep || !host)
        return 0;
    p = sep + 3;
    const char *e = p;
    while (e < end && *e != '/' && *e != '?' && *e != '#')
        e++;
    if ((size_t)(e - p) != hlen)
        return 0;
    for (size_t i = 0; i < hlen; i++)
        if (lower(p[i]) != lower(host[i]))
            return 0;
    return 1;
}

static int refuse(tn_handler_t *h, int status, const char *body)
{
    tn_handler_clear(h);
    (void)tn_handler_set_status(h, status, NULL);
    if (status == 426)
        (void)tn_handler_set_header(h, "Sec-WebSocket-Version", "13");
    (void)tn_handler_write_str(h, body);
    return TN_WEB_DONE;
}

static int copy_args(tn_handler_t *h, srv_t *r)
{
    size_t n = tn_handler_path_arg_count(h), total = 0;
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        (void)tn_handler_path_arg(h, i, &len);
        total += len + 1;
    }
    r->args = tn_calloc(n, sizeof *r->args);
    r->argbuf = tn_malloc(total);
    if (!r->args || !r->argbuf)
        return TN_ENOMEM;
    char *p = r->argbuf;
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *a = tn_handler_path_arg(h, i, &len);
        if (a)
            memcpy(p, a, len);
        p[len] = '\0';
        r->args[i].base = p;
        r->args[i].len = len;
        p += len + 1;
    }
    r->nargs = n;
    return 0;
}

/* Splits the offered subprotocols (every header line, comma lists). */
static size_t offered_protocols(const tn_headers_t *hd, tn_strview_t *out, size_t max)
{
    tn_strview_t lines[8];
    size_t nl = tn_headers_get_all(hd, "Sec-WebSocket-Protocol", lines, 8), n = 0;
    for (size_t i = 0; i < nl && i < 8; i++) {
        const char *p = lines[i].base;
        tn_strview_t it;
        while (n < max && tn__ws_list_next(&p, lines[i].base + lines[i].len, &it))
            if (it.len && tn_http_is_token(it.base, it.len))
                out[n++] = it;
    }
    return n;
}

static int negotiate(tn_handler_t *h, srv_t *r, const tn_headers_t *hd, char *ext, size_t cap)
{
    const tn_websocket_class_t *cls = r->cls;
    tn_strview_t offered[16];
    size_t n = offered_protocols(hd, offered, 16);
    if (n && cls->select_subprotocol) {
        int i = cls->select_subprotocol(h, srv_state(r), offered, n);
        if (i >= 0 && (size_t)i < n && offered[i].len < sizeof r->subprotocol) {
            memcpy(r->subprotocol, offered[i].base, offered[i].len);
            r->subprotocol[offered[i].len] = '\0';
        }
    }
    ext[0] = '\0';
    const tn_websocket_compression_t *co =
        cls->get_compression_options ? cls->get_compression_options(h, srv_state(r)) : NULL;
    if (!co)
        return 0;
    tn__ws_zopts_from(co, &r->zopts);
    char *offers;
    size_t olen;
    int rc = tn_headers_get_combined(hd, "Sec-WebSocket-Extensions", &offers, &olen);
    if (rc == TN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    rc = tn__ws_pmd_accept(offers, olen, &r->zopts, &r->pmd, ext, cap);
    tn_free(offers);
    return rc < 0 ? rc : 0;
}

static int ws_initialize(tn_handler_t *h, void *init_arg)
{
    *(const tn_websocket_class_t **)tn_handler_state(h) = init_arg;
    return init_arg ? 0 : TN_EINVAL;
}

static int ws_get(tn_handler_t *h)
{
    const tn_websocket_class_t *cls = *(const tn_websocket_class_t **)tn_handler_state(h);
    tn_http_request_t *req = tn_handler_request(h);
    const tn_headers_t *hd = tn_http_request_headers(req);
    size_t ml, hl = 0, ol = 0, kl = 0;
    const char *method = tn_http_request_method(req, &ml);
    int st = tn__ws_check_request(method, ml, tn_http_request_version_number(req), hd);
    if (st == 426)
        return refuse(h, 426, "Upgrade Required: Sec-WebSocket-Version 13 only\n");
    if (st != 0)
        return refuse(h, st, "Can \"Upgrade\" only to \"WebSocket\".\n");
    const char *host = tn_headers_get(hd, "Host", &hl);
    const char *origin = tn_headers_get(hd, "Origin", &ol);
    if (!origin)
        origin = tn_headers_get(hd, "Sec-WebSocket-Origin", &ol);

    srv_t *r = tn_calloc(1, STATE_OFFSET + cls->state_size);
    if (!r)
        return TN_ENOMEM;
    r->cls = cls;
    if (origin && !(cls->check_origin ? cls->check_origin(h, srv_state(r), origin, ol)
                                      : same_origin(origin, ol, host, hl))) {
        srv_free(r);
        return refuse(h, 403, "Cross origin websockets not allowed\n");
    }
    char ext[160];
    char accept[TN__WS_ACCEPT_LEN + 1];
    const char *key = tn_headers_get(hd, "Sec-WebSocket-Key", &kl);
    int rc = copy_args(h, r);
    if (rc == 0)
        rc = negotiate(h, r, hd, ext, sizeof ext);
    if (rc == 0)
        rc = tn__ws_accept_value(key, kl, accept);
    if (rc == 0)
        rc = tn_handler_set_status(h, 101, NULL);
    if (rc == 0)
        rc = tn_handler_set_header(h, "Upgrade", "websocket");
    if (rc == 0)
        rc = tn_handler_set_header(h, "Connection", "Upgrade");
    if (rc == 0)
        rc = tn_handler_set_header(h, "Sec-WebSocket-Accept", accept);
    if (rc == 0 && r->subprotocol[0])
        rc = tn_handler_set_header(h, "Sec-WebSocket-Protocol", r->subprotocol);
    if (rc == 0 && r->pmd.enabled)
        rc = tn_handler_set_header(h, "Sec-WebSocket-Extensions", ext);
    tn_handler_clear_header(h, "Content-Type");
    if (rc == 0)
        rc = tn_http_request_detach(req, on_detached, r);
    if (rc != 0) {
        srv_free(r);
        tn_handler_clear(h);
        return rc;
    }
    return TN_WEB_DONE;
}

const tn_handler_class_t tn_websocket_handler = {
    .name = "WebSocketHandler",
    .state_size = sizeof(const tn_websocket_class_t *),
    .initialize = ws_initialize,
    .get = ws_get,
};
