/* Queries about a TLS stream: whether it is one, what its handshake
 * negotiated, and why it failed (tls.h). */
#include <string.h>

#include "tornuv/tls.h"

#ifdef TN_HAVE_TLS

#include <openssl/x509v3.h>

#include "tls_conn.h"

int tn_tls_is_tls(const tn_iostream_t *s)
{
    return tn__tls_conn_of(s) != NULL;
}

int tn_tls_get_info(const tn_iostream_t *s, tn_tls_info_t *info)
{
    tls_conn_t *c = tn__tls_conn_of(s);
    if (c == NULL || info == NULL)
        return TN_EINVAL;
    memset(info, 0, sizeof(*info));
    info->handshake_done = c->handshake_done;
    info->server_name = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
    if (!c->handshake_done)
        return 0;
    info->version = SSL_get_version(c->ssl);
    info->cipher = SSL_get_cipher_name(c->ssl);
    info->alpn = c->alpn;
    info->session_reused = SSL_session_reused(c->ssl);
    X509 *peer = SSL_get0_peer_certificate(c->ssl);
    info->peer_verified = peer != NULL && SSL_get_verify_result(c->ssl) == X509_V_OK &&
                          SSL_get_verify_mode(c->ssl) != SSL_VERIFY_NONE;
    return 0;
}

const char *tn_tls_error_reason(const tn_iostream_t *s)
{
    tls_conn_t *c = tn__tls_conn_of(s);
    return c ? c->reason : NULL;
}

#endif /* TN_HAVE_TLS */
