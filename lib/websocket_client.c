/* websocket_connect: TCPClient, the upgrade request, the checked 101
 * answer, then a connection (websocket_conn.c) in the client role.
 *
 * One deadline covers resolving, connecting and the handshake (Tornado's
 * connect_timeout). The response head is read with a 64 KiB cap; frames the
 * server sends right behind it stay buffered in the stream for the
 * connection. wss:// is the same over TCPClient's TLS connect: the stream
 * handed over is a TLS stream, and everything above it is unchanged. */
#include <stdio.h>
#include <string.h>

#include "tornuv/common.h"
#include "tornuv/tcpclient.h"
#include "tornuv/tls.h"
#include "websocket_conn.h"

#define MAX_HEAD (64u * 1024u)

typedef struct {
    tn_ioloop_t *loop;
    tn_iostream_t *stream;
    tn_websocket_connect_cb cb;
    void *arg;
    tn_websocket_events_t events;
    void *ev_arg;
    tn_websocket_settings_t settings;
    int compress;
    tn__ws_zopts_t zopts;
    char key[TN__WS_KEY_LEN + 1];
    char **protos; /* NULL-terminated copies */
    char *request;
    size_t request_len;
    tn_timeout_id timer;
    int timed_out;
} conn_req_t;

static void req_free(conn_req_t *c)
{
    for (size_t i = 0; c->protos && c->protos[i]; i++)
        tn_free(c->protos[i]);
    tn_free(c->protos);
    tn_free(c->request);
    tn_free(c);
}

/* Ends the attempt: exactly one user callback, then the request is gone. */
static void finish(conn_req_t *c, tn_websocket_t *ws, int status)
{
    tn_ioloop_remove_timeout(c->loop, c->timer);
    c->cb(ws, status, c->arg);
    req_free(c);
}

static void on_fail_closed(tn_iostream_t *s, void *arg)
{
    conn_req_t *c = arg;
    (void)s;
    int err = tn_iostream_error(s);
    if (c->timed_out)
        err = TN_ETIMEOUT;
    else if (err == 0 || err == TN_EUNSATISFIABLE || err == TN_EOF)
        err = TN_EHTTP; /* closed before a whole head, or a head over 64 KiB */
    finish(c, NULL, err);
}

static void on_head(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    conn_req_t *c = arg;
    if (status != 0)
        return; /* the close callback reports */
    tn__ws_client_result_t res;
    int rc = tn__ws_client_check(data, len, c->key, (const char *const *)c->protos,
                                 c->compress ? &c->zopts : NULL, &res);
    if (rc < 0) {
        tn_iostream_close_with(s, TN_EHTTP);
        return;
    }
    tn__ws_conn_config_t cfg = {.server = 0,
                                .events = &c->events,
                                .arg = c->ev_arg,
                                .settings = &c->settings,
                                .pmd = &res.pmd,
                                .zopts = &c->zopts,
                                .subprotocol = res.subprotocol};
    tn_websocket_t *ws;
    tn_iostream_set_close_callback(s, NULL, NULL);
    rc = tn__websocket_start(s, &cfg, &ws);
    if (rc < 0) {
        tn_iostream_close(s);
        finish(c, NULL, rc);
        return;
    }
    finish(c, ws, 0);
}

static void on_timeout(tn_ioloop_t *loop, void *arg)
{
    conn_req_t *c = arg;
    (void)loop;
    c->timer = 0;
    c->timed_out = 1;
    if (c->stream)
        tn_iostream_close_with(c->stream, TN_ETIMEOUT);
    /* else TCPClient is still connecting: on_connected reports. */
}

static void on_connected(tn_iostream_t *s, int status, void *arg)
{
    conn_req_t *c = arg;
    if (status != 0) {
        finish(c, NULL, c->timed_out ? TN_ETIMEOUT : status);
        return;
    }
    if (c->timed_out) {
        tn_iostream_close(s);
        finish(c, NULL, TN_ETIMEOUT);
        return;
    }
    c->stream = s;
    tn_iostream_set_close_callback(s, on_fail_closed, c);
    if (tn_iostream_write(s, c->request, c->request_len, NULL, NULL) < 0 ||
        tn_iostream_read_until(s, "\r\n\r\n", 4, MAX_HEAD, on_head, c) < 0) {
        tn_iostream_close_with(s, TN_EHTTP);
        return;
    }
}

/* Splits "ws[s]://host[:port]/path?query". */
static int parse_url(const char *url, char *host, size_t hcap, int *port, const char **target,
                     char *hosthdr, size_t hhcap, int *tls)
{
    const char *p;
    if (strncmp(url, "ws://", 5) == 0)
        p = url + 5;
    else if (strncmp(url, "wss://", 6) == 0)
        p = url + 6;
    else
        return TN_EINVAL;
    *tls = p == url + 6;
    const char *end = p + strcspn(p, "/?#");
    const char *hb = p, *he, *colon = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return TN_EINVAL;
        hb = p + 1;
        he = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':')
                return TN_EINVAL;
            colon = rb + 1;
        }
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        he = colon ? colon : end;
    }
    if (he == hb || (size_t)(he - hb) >= hcap || (size_t)(end - p) >= hhcap)
        return TN_EINVAL;
    memcpy(host, hb, (size_t)(he - hb));
    host[he - hb] = '\0';
    memcpy(hosthdr, p, (size_t)(end - p));
    hosthdr[end - p] = '\0';
    *port = *tls ? 443 : 80;
    if (colon) {
        if (colon + 1 == end || end - colon > 6)
            return TN_EINVAL;
        int v = 0;
        for (const char *q = colon + 1; q < end; q++) {
            if (*q < '0' || *q > '9')
                return TN_EINVAL;
            v = v * 10 + (*q - '0');
        }
        if (v < 1 || v > 65535)
            return TN_EINVAL;
        *port = v;
    }
    *target = *end == '#' ? "/" : end;
    for (const char *q = host; *q; q++)
        if ((unsigned char)*q <= ' ' || *q == '/' || *q == '@')
            return TN_EINVAL;
    return 0;
}

static int clean(const char *s, int token)
{
    if (!s || (token && !*s))
        return 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\r' || ch == '\n' || ch == 0x7f || (ch < 0x20 && ch != '\t'))
            return 0;
        if (token && (ch <= ' ' || strchr("()<>@,;:\\\"/[]?={}", ch)))
            return 0;
    }
    return 1;
}

/* Appends a, b and c to the growing request. */
static int add(char **buf, size_t *len, size_t *cap, const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c);
    if (*len + n + 1 > *cap) {
        size_t nc = (*len + n + 1) * 2;
        char *nb = tn_realloc(*buf, nc);
        if (!nb)
            return TN_ENOMEM;
        *buf = nb;
        *cap = nc;
    }
    *len += (size_t)snprintf(*buf + *len, *cap - *len, "%s%s%s", a, b, c);
    return 0;
}

static int build_request(conn_req_t *c, const char *target, const char *hosthdr,
                         const tn_websocket_connect_options_t *o)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = add(&buf, &len, &cap, "GET ", *target ? target : "/", " HTTP/1.1\r\n");
    if (!rc)
        rc = add(&buf, &len, &cap, "Host: ", hosthdr, "\r\n");
    if (!rc)
        rc = add(&buf, &len, &cap, "Upgrade: websocket\r\nConnection: Upgrade\r\n", "", "");
    if (!rc)
        rc = add(&buf, &len, &cap, "Sec-WebSocket-Key: ", c->key,
                 "\r\nSec-WebSocket-Version: 13\r\n");
    for (size_t i = 0; !rc && c->protos && c->protos[i]; i++)
        rc = add(&buf, &len, &cap, i ? ", " : "Sec-WebSocket-Protocol: ", c->protos[i],
                 c->protos[i + 1] ? "" : "\r\n");
    if (!rc && c->compress) {
        char offer[128];
        rc = tn__ws_pmd_offer(&c->zopts, offer, sizeof offer);
        if (rc >= 0)
            rc = add(&buf, &len, &cap, "Sec-WebSocket-Extensions: ", offer, "\r\n");
    }
    for (size_t i = 0; !rc && o->headers && o->headers[i]; i += 2) {
        if (!o->headers[i + 1])
            rc = TN_EINVAL;
        else
            rc = add(&buf, &len, &cap, o->headers[i], ": ", o->headers[i + 1]);
        if (!rc)
            rc = add(&buf, &len, &cap, "\r\n", "", "");
    }
    if (!rc)
        rc = add(&buf, &len, &cap, "\r\n", "", "");
    if (rc < 0) {
        tn_free(buf);
        return rc;
    }
    c->request = buf;
    c->request_len = len;
    return 0;
}

static int copy_protos(conn_req_t *c, const char *const *p)
{
    size_t n = 0;
    while (p && p[n])
        n++;
    if (!n)
        return 0;
    c->protos = tn_calloc(n + 1, sizeof *c->protos);
    if (!c->protos)
        return TN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!clean(p[i], 1))
            return TN_EINVAL;
        if (!(c->protos[i] = tn_strndup(p[i], strlen(p[i]))))
            return TN_ENOMEM;
    }
    return 0;
}

int tn_websocket_connect(tn_ioloop_t *loop, const char *url,
                         const tn_websocket_connect_options_t *opts, tn_websocket_connect_cb cb,
                         void *arg)
{
    static const tn_websocket_connect_options_t none = {0};
    const tn_websocket_connect_options_t *o = opts ? opts : &none;
    if (!loop || !url || !cb)
        return TN_EINVAL;
    for (size_t i = 0; o->headers && o->headers[i]; i += 2)
        if (!clean(o->headers[i], 1) || !o->headers[i + 1] || !clean(o->headers[i + 1], 0))
            return TN_EINVAL;
    char host[256], hosthdr[300];
    int port, tls;
    const char *target;
    int rc = parse_url(url, host, sizeof host, &port, &target, hosthdr, sizeof hosthdr, &tls);
    if (rc < 0 || !clean(target, 0) || strchr(target, ' '))
        return TN_EINVAL;
    conn_req_t *c = tn_calloc(1, sizeof *c);
    if (!c)
        return TN_ENOMEM;
    c->loop = loop;
    c->cb = cb;
    c->arg = arg;
    c->events = o->events;
    c->ev_arg = o->arg;
    c->settings = o->settings;
    c->compress = o->compression != NULL;
    tn__ws_zopts_from(o->compression, &c->zopts);
    rc = copy_protos(c, o->subprotocols);
    if (!rc)
        rc = tn__ws_new_key(c->key);
    if (!rc)
        rc = build_request(c, target, hosthdr, o);
    uint64_t timeout =
        o->connect_timeout_ms ? o->connect_timeout_ms : TN_WS_DEFAULT_CONNECT_TIMEOUT_MS;
    if (!rc && !tls) {
        rc = tn_tcpclient_connect(loop, host, port, timeout, NULL, on_connected, c);
    } else if (!rc) {
        /* The context is referenced by the connection: ours can go at once. */
        tn_tls_context_t *own = NULL, *ctx = o->tls;
        if (!ctx) {
            tn_tls_options_t to = {0};
            rc = tn_tls_context_new_client(&to, &own);
            ctx = own;
        }
        if (!rc)
            rc = tn_tcpclient_connect_tls(loop, host, port, timeout, NULL, ctx, o->server_hostname,
                                          on_connected, c);
        tn_tls_context_free(own);
    }
    if (rc < 0) {
        req_free(c);
        return rc;
    }
    /* The handshake after the connect shares the same deadline. */
    c->timer = tn_ioloop_call_later(loop, timeout, on_timeout, c);
    return 0;
}
