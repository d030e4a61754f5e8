/* The TLS stream API in builds without OpenSSL for their target: every
 * call returns TN_ENOTSUP and no stream is ever a TLS stream (tls.h,
 * docs/WINDOWS.md). Builds with TLS compile this file to nothing. */
#include "tornuv/tls.h"

#ifndef TN_HAVE_TLS

int tn_tls_stream_new(tn_iostream_t *plain, tn_tls_context_t *ctx, const char *server_hostname,
                      const tn_iostream_options_t *opts, tn_iostream_t **out)
{
    (void)plain;
    (void)ctx;
    (void)server_hostname;
    (void)opts;
    (void)out;
    return TN_ENOTSUP;
}

int tn_tls_wait_for_handshake(tn_iostream_t *s, tn_tls_handshake_cb cb, void *arg)
{
    (void)s;
    (void)cb;
    (void)arg;
    return TN_ENOTSUP;
}

int tn_iostream_start_tls(tn_iostream_t *plain, tn_tls_context_t *ctx, const char *server_hostname,
                          const tn_iostream_options_t *opts, tn_tls_handshake_cb cb, void *arg)
{
    (void)plain;
    (void)ctx;
    (void)server_hostname;
    (void)opts;
    (void)cb;
    (void)arg;
    return TN_ENOTSUP;
}

int tn_tls_is_tls(const tn_iostream_t *s)
{
    (void)s;
    return 0;
}

int tn_tls_get_info(const tn_iostream_t *s, tn_tls_info_t *info)
{
    (void)s;
    (void)info;
    return TN_ENOTSUP;
}

const char *tn_tls_error_reason(const tn_iostream_t *s)
{
    (void)s;
    return NULL;
}

#endif /* !TN_HAVE_TLS */
