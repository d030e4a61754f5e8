/* tornuv socket streams: IOStreams over TCP sockets and unix domain sockets
 * (named pipes on Windows), created from an existing socket or by
 * connecting. Listening is in tcpserver.h, connecting by host name with
 * timeouts in tcpclient.h. */
#ifndef TORNUV_NET_H
#define TORNUV_NET_H

#include "common.h"
#include "ioloop.h"
#include "iostream.h"
#include "tls.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Completion of a connect. On success status is 0 and stream is
 * connected. On failure status is the cause (-ECONNREFUSED,
 * TN_ETIMEOUT, a resolver error UV_EAI_*, TN_ECLOSED when the loop closed
 * first, ...); what stream is then depends on the starter (see each). Runs
 * exactly once, never inside the starting call. */
typedef void (*tn_connect_cb)(tn_iostream_t *stream, int status, void *arg);

/** Wraps a connected socket (TCP or unix domain) in an IOStream. The stream
 * owns sock from then on (closing the stream closes it). Returns 0,
 * TN_EINVAL, TN_ENOMEM, TN_EDETACHED, or a libuv error (sock is then left
 * open and still the caller's).
 * Tornado: IOStream(socket). */
TN_EXTERN int tn_iostream_from_socket(tn_ioloop_t *loop, tn_socket_t sock,
                                      const tn_iostream_options_t *opts, tn_iostream_t **out);

/** Connects a new stream to a numeric address (IPv4 dotted quad or IPv6
 * text, no brackets) and port; no name resolution (see
 * tn_tcpclient_connect). On return 0 the stream exists (*out, when out is
 * not NULL) and may be used at once: writes issued before the connection is
 * established are sent after it and complete after cb. cb(stream, status,
 * arg) runs exactly once: status 0 when connected; otherwise the stream has
 * been closed with that cause (tn_iostream_error says the same: e.g.
 * -ECONNREFUSED), its pending writes fail with TN_ECLOSED, and it is freed
 * after its close callback as any closed stream. Returns TN_EINVAL (bad
 * address or port), TN_ENOMEM, TN_EDETACHED, or a libuv error; then cb never
 * runs and no stream exists.
 * Tornado: IOStream(socket).connect(address). */
TN_EXTERN int tn_iostream_connect(tn_ioloop_t *loop, const char *ip, int port,
                                  const tn_iostream_options_t *opts, tn_connect_cb cb, void *arg,
                                  tn_iostream_t **out);

/** Like tn_iostream_connect, then TLS with client context ctx: *out (when
 * out is not NULL) is the TLS stream, usable at once (writes wait for the
 * handshake). server_hostname (NULL = ip) is sent as SNI and checked
 * against the certificate. cb(stream, status, arg) runs exactly once,
 * after the handshake: status 0, or the connect or TLS error (TN_ETLSVERIFY,
 * TN_ETLS, TN_ETIMEOUT past the context's handshake deadline,
 * -ECONNREFUSED, ...) with the stream closed as for tn_iostream_connect.
 * Returns as tn_iostream_connect, and TN_EINVAL for a NULL or server ctx,
 * TN_ENOTSUP without TLS in the build.
 * Tornado: SSLIOStream(socket, ssl_options).connect(address, server_hostname=). */
TN_EXTERN int tn_iostream_connect_tls(tn_ioloop_t *loop, const char *ip, int port,
                                      const tn_iostream_options_t *opts, tn_tls_context_t *ctx,
                                      const char *server_hostname, tn_connect_cb cb, void *arg,
                                      tn_iostream_t **out);

/** Like tn_iostream_connect, to a unix domain socket at path (a named pipe
 * on Windows). A missing socket fails in cb with -ENOENT, nobody listening
 * with -ECONNREFUSED.
 * Tornado: IOStream(socket.socket(AF_UNIX)).connect(path). */
TN_EXTERN int tn_pipe_connect(tn_ioloop_t *loop, const char *path,
                              const tn_iostream_options_t *opts, tn_connect_cb cb, void *arg,
                              tn_iostream_t **out);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_NET_H */
