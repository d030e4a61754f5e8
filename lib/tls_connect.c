/* Connecting with TLS: TCPClient and IOStream.connect followed by the TLS
 * handshake, composed from the public API (tcpclient.h, net.h, tls.h). */
#include <string.h>

#include "tornuv/tcpclient.h"

#ifndef TN_HAVE_TLS

int tn_iostream_connect_tls(tn_ioloop_t *loop, const char *ip, int port,
                            const tn_iostream_options_t *opts, tn_tls_context_t *ctx,
                            const char *server_hostname, tn_connect_cb cb, void *arg,
                            tn_iostream_t **out)
{
    (void)loop, (void)ip, (void)port, (void)opts, (void)ctx, (void)server_hostname;
    (void)cb, (void)arg, (void)out;
    return TN_ENOTSUP;
}

int tn_tcpclient_connect_tls(tn_ioloop_t *loop, const char *host, int port, uint64_t timeout_ms,
                             const tn_iostream_options_t *opts, tn_tls_context_t *ctx,
                             const char *server_hostname, tn_connect_cb cb, void *arg)
{
    (void)loop, (void)host, (void)port, (void)timeout_ms, (void)opts, (void)ctx;
    (void)server_hostname, (void)cb, (void)arg;
    return TN_ENOTSUP;
}

#else

#include "tls_internal.h"

typedef struct {
    tn_tls_context_t *ctx;
    char *hostname;
    tn_iostream_options_t opts;
    int has_opts;
    tn_connect_cb cb;
    void *arg;
    tn_iostream_t *tls; /* tn_iostream_connect_tls: reported even on failure */
} pending_t;

static void pending_free(pending_t *p)
{
    tn_tls_context_free(p->ctx);
    tn_free(p->hostname);
    tn_free(p);
}

static pending_t *pending_new(tn_tls_context_t *ctx, const char *name,
                              const tn_iostream_options_t *opts, tn_connect_cb cb, void *arg)
{
    pending_t *p = tn_calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->hostname = tn_strndup(name, strlen(name));
    if (p->hostname == NULL) {
        tn_free(p);
        return NULL;
    }
    tn__tls_context_ref(ctx);
    p->ctx = ctx;
    if (opts != NULL) {
        p->opts = *opts;
        p->has_opts = 1;
    }
    p->cb = cb;
    p->arg = arg;
    return p;
}

static void on_handshake(tn_iostream_t *s, int status, void *arg)
{
    pending_t *p = arg;
    /* tn_iostream_connect reports its stream either way; TCPClient only a
     * connected one. */
    p->cb(p->tls != NULL || status == 0 ? s : NULL, status, p->arg);
    pending_free(p);
}

static void on_plain_connect(tn_iostream_t *s, int status, void *arg)
{
    /* The TLS layer learns the outcome from the plain stream itself. */
    (void)s, (void)status, (void)arg;
}

int tn_iostream_connect_tls(tn_ioloop_t *loop, const char *ip, int port,
                            const tn_iostream_options_t *opts, tn_tls_context_t *ctx,
                            const char *server_hostname, tn_connect_cb cb, void *arg,
                            tn_iostream_t **out)
{
    if (ctx == NULL || ctx->server || ip == NULL || cb == NULL)
        return TN_EINVAL;
    pending_t *p = pending_new(ctx, server_hostname ? server_hostname : ip, opts, cb, arg);
    if (p == NULL)
        return TN_ENOMEM;
    tn_iostream_t *plain;
    int err = tn_iostream_connect(loop, ip, port, opts, on_plain_connect, NULL, &plain);
    if (err == 0) {
        err = tn_tls_stream_new(plain, ctx, p->hostname, opts, &p->tls);
        if (err != 0)
            tn_iostream_close(plain);
    }
    if (err == 0)
        err = tn_tls_wait_for_handshake(p->tls, on_handshake, p);
    if (err != 0) {
        /* Only allocation can fail once the TLS stream exists; it is
         * closed and the caller hears nothing. */
        if (p->tls != NULL)
            tn_iostream_close(p->tls);
        pending_free(p);
        return err;
    }
    if (out != NULL)
        *out = p->tls;
    return 0;
}

static void on_tcp_connect(tn_iostream_t *plain, int status, void *arg)
{
    pending_t *p = arg;
    if (status == 0)
        status = tn_iostream_start_tls(plain, p->ctx, p->hostname, p->has_opts ? &p->opts : NULL,
                                       on_handshake, p);
    if (status == 0)
        return;
    if (plain != NULL)
        tn_iostream_close(plain);
    p->cb(NULL, status, p->arg);
    pending_free(p);
}

int tn_tcpclient_connect_tls(tn_ioloop_t *loop, const char *host, int port, uint64_t timeout_ms,
                             const tn_iostream_options_t *opts, tn_tls_context_t *ctx,
                             const char *server_hostname, tn_connect_cb cb, void *arg)
{
    if (ctx == NULL || ctx->server || host == NULL || cb == NULL)
        return TN_EINVAL;
    pending_t *p = pending_new(ctx, server_hostname ? server_hostname : host, opts, cb, arg);
    if (p == NULL)
        return TN_ENOMEM;
    int err = tn_tcpclient_connect(loop, host, port, timeout_ms, opts, on_tcp_connect, p);
    if (err != 0)
        pending_free(p);
    return err;
}

#endif /* TN_HAVE_TLS */
