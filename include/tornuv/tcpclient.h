/* tornuv TCPClient: connect by host name, with Happy Eyeballs and a
 * timeout. */
#ifndef TORNUV_TCPCLIENT_H
#define TORNUV_TCPCLIENT_H

#include "common.h"
#include "ioloop.h"
#include "iostream.h"
#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Resolves host (a name or a numeric address) asynchronously and connects
 * to port, the way Tornado's TCPClient does: the addresses are split by
 * family, the family of the first result being primary; primary addresses
 * are tried one after another; the secondary family starts 300 ms after the
 * first attempt, or at once when a primary attempt fails; the first
 * connection to succeed wins and every other attempt is closed.
 * timeout_ms (0 = none) bounds resolution and connecting together.
 * cb(stream, 0, arg) hands over the connected stream (the caller owns it);
 * on failure cb(NULL, status, arg) with TN_ETIMEOUT, the last attempt's error
 * (-ECONNREFUSED, ...), a resolver error (UV_EAI_NONAME, ...), or TN_ECLOSED
 * if the loop was closed first. cb runs exactly once, never inside this call.
 * Returns 0, TN_EINVAL (NULL host or cb, port out of range), TN_ENOMEM,
 * TN_EDETACHED, or a libuv error (then cb never runs).
 * Tornado: TCPClient().connect(host, port, timeout=). */
TN_EXTERN int tn_tcpclient_connect(tn_ioloop_t *loop, const char *host, int port,
                                   uint64_t timeout_ms, const tn_iostream_options_t *opts,
                                   tn_connect_cb cb, void *arg);

/** tn_tcpclient_connect, then TLS with client context ctx on the winning
 * connection: cb(stream, 0, arg) hands over the TLS stream once the
 * handshake is done; cb(NULL, status, arg) on any failure (the connect
 * errors above, or TN_ETLSVERIFY, TN_ETLS, TN_ETIMEOUT past the context's
 * handshake deadline). server_hostname (NULL = host) is sent as SNI and
 * checked against the certificate. timeout_ms bounds the connection; the
 * handshake is bounded by the context's handshake_timeout_ms. Returns as
 * tn_tcpclient_connect, and TN_EINVAL for a NULL or server ctx, TN_ENOTSUP
 * without TLS in the build.
 * Tornado: TCPClient().connect(host, port, ssl_options=, server_hostname=). */
TN_EXTERN int tn_tcpclient_connect_tls(tn_ioloop_t *loop, const char *host, int port,
                                       uint64_t timeout_ms, const tn_iostream_options_t *opts,
                                       tn_tls_context_t *ctx, const char *server_hostname,
                                       tn_connect_cb cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_TCPCLIENT_H */
