/* tornuv TLS: contexts (Tornado's ssl_options / ssl.SSLContext) and TLS
 * streams (SSLIOStream, IOStream.start_tls) on OpenSSL.
 *
 * A TLS stream is an ordinary tn_iostream_t whose transport is a TLS layer
 * over another stream (the "plain" one, usually a TCP connection): every
 * IOStream call works on it unchanged. The layer owns the plain stream and
 * closes it.
 *
 * Defaults (zero options): TLS 1.2 minimum; Mozilla's "intermediate" cipher
 * list for TLS 1.2 (TLS 1.3 suites are OpenSSL's); no compression;
 * renegotiation refused; session resumption by tickets and a per-context
 * cache (TLS 1.2 and 1.3); record buffers released while a connection is
 * idle. A server advertises ALPN "http/1.1" only and never selects h2. A
 * client verifies the server's certificate against the system's trust store
 * (OpenSSL's default paths; on Windows the certificate store's ROOT
 * certificates) and checks the host name, unless insecure is spelled out.
 *
 * Clean closes send close_notify. A peer whose connection ends without one
 * after the handshake closes the stream with cause TN_ETLSTRUNC
 * (tn_iostream_error), distinct from a clean end (0): a reader can tell a
 * complete "read until close" body from a truncated one.
 *
 * Builds without OpenSSL for their target keep this API: every function
 * returns TN_ENOTSUP (docs/WINDOWS.md). Loop thread only: a context serves
 * the streams of one loop thread (build one per thread when several loops
 * serve TLS; OpenSSL's own allocations do not go through tn_malloc). */
#ifndef TORNUV_TLS_H
#define TORNUV_TLS_H

#include "common.h"
#include "iostream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_tls_context_s tn_tls_context_t;

/** Client certificates a server asks for. */
typedef enum {
    TN_TLS_CLIENT_CERT_NONE = 0, /**< not requested (default) */
    TN_TLS_CLIENT_CERT_OPTIONAL, /**< requested; a missing one is accepted, a bad one is not */
    TN_TLS_CLIENT_CERT_REQUIRED  /**< requested and required */
} tn_tls_client_cert_t;

/** Protocol versions for min_version / max_version. */
typedef enum { TN_TLS_DEFAULT = 0, TN_TLS_1_2 = 12, TN_TLS_1_3 = 13 } tn_tls_version_t;

/** SNI: picks the context for a client's server_name (NUL-terminated,
 * borrowed; NULL when the client sent none). Return NULL to keep the
 * context the server was given. The returned context must outlive the
 * connection (it is referenced by it). Runs during the handshake.
 * Tornado: ssl.SSLContext.sni_callback. */
typedef tn_tls_context_t *(*tn_tls_sni_cb)(const char *server_name, void *arg);

/** Context options; zero fields take the defaults. Strings and files are
 * read during tn_tls_context_new_* and not kept. */
typedef struct {
    /** Certificate chain (leaf first) and private key, as PEM files... */
    const char *certfile, *keyfile;
    /** ...or as PEM text in memory (NUL-terminated); used when the file
     * names are NULL. Required for servers; optional client certificate. */
    const char *cert_pem, *key_pem;
    /** Trust anchors: a PEM bundle file and/or a hashed directory. A client
     * without either uses the system's default store; a server uses them to
     * verify client certificates. */
    const char *ca_file, *ca_dir;
    /** Servers: client certificate policy (needs ca_file or ca_dir). */
    tn_tls_client_cert_t client_cert;
    /** Clients: nonzero skips certificate and host name verification. */
    int insecure;
    /** OpenSSL cipher list for TLS 1.2 and TLS 1.3 cipher suites;
     * NULL = the defaults above. */
    const char *ciphers, *ciphersuites;
    /** Versions; TN_TLS_DEFAULT = 1.2 minimum, no maximum. */
    tn_tls_version_t min_version, max_version;
    /** ALPN protocols in preference order, NULL-terminated. Servers default
     * to {"http/1.1"} and refuse "h2" (TN_EINVAL); clients send none by
     * default. */
    const char *const *alpn;
    /** Servers: SNI callback. */
    tn_tls_sni_cb sni_cb;
    void *sni_arg;
    /** Handshake deadline from the stream's creation (for a server, the
     * accept); 0 = 10 000 ms. Past it the stream closes with TN_ETIMEOUT. */
    uint64_t handshake_timeout_ms;
} tn_tls_options_t;

#define TN_TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000u

/** Builds a server context (one OpenSSL SSL_CTX, shared by every connection
 * so sessions resume). Needs a certificate and key. The caller owns *out and
 * releases it with tn_tls_context_free. Returns 0, TN_EINVAL (no
 * certificate, h2 in alpn, bad version range), TN_ETLSCONFIG (a file or PEM
 * that does not load, a key that does not match, a bad cipher list),
 * TN_ENOMEM, TN_ENOTSUP (no TLS in this build).
 * Tornado: ssl_options / ssl_options_to_context(server_side=True). */
TN_EXTERN int tn_tls_context_new_server(const tn_tls_options_t *opts, tn_tls_context_t **out);

/** Builds a client context: verification on against ca_file/ca_dir or the
 * system store, unless insecure. It keeps the last session per server name
 * (a few dozen names) to resume later connections. Returns as the server
 * variant.
 * Tornado: ssl.create_default_context() / ssl_options for TCPClient. */
TN_EXTERN int tn_tls_context_new_client(const tn_tls_options_t *opts, tn_tls_context_t **out);

/** Releases the caller's reference; streams still using the context keep it
 * alive until they are freed. NULL is a no-op.
 * Tornado: none (garbage collection). */
TN_EXTERN void tn_tls_context_free(tn_tls_context_t *ctx);

/** Handshake completion: status 0 and the TLS stream, or an error
 * (TN_ETLS, TN_ETLSVERIFY, TN_ETIMEOUT, TN_EOF when the peer left, a
 * system error) with the stream already closed: during the callback it may
 * still be asked tn_iostream_error and tn_tls_error_reason; it is freed
 * after its close callback (whoever set one gets it). */
typedef void (*tn_tls_handshake_cb)(tn_iostream_t *stream, int status, void *arg);

/** Wraps plain in TLS at once: returns the TLS stream in *out, which may be
 * read from and written to right away (writes wait for the handshake; a
 * failed handshake closes the stream with its cause). plain must have
 * nothing buffered or pending and no close callback the caller still needs;
 * it belongs to the TLS layer from now on and must not be used again.
 * server_hostname (clients; copied) is sent as SNI and checked against the
 * certificate; required unless the context is insecure. Whether the stream
 * is a server or a client follows ctx. opts are the TLS stream's own
 * (NULL = defaults). Returns 0, TN_EINVAL (plain busy, NULL ctx, missing
 * server_hostname), TN_ECLOSED (plain closed), TN_ENOMEM, TN_ENOTSUP; on
 * error plain is left untouched.
 * Tornado: SSLIOStream(socket, ssl_options=, server_hostname=). */
TN_EXTERN int tn_tls_stream_new(tn_iostream_t *plain, tn_tls_context_t *ctx,
                                const char *server_hostname, const tn_iostream_options_t *opts,
                                tn_iostream_t **out);

/** Runs cb once the TLS stream's handshake finished: cb(s, 0) on success
 * (deferred if already done), cb(s, error) when it failed or the stream
 * closed first (see tn_tls_handshake_cb). Returns 0, TN_EINVAL (not a TLS stream, NULL cb),
 * TN_EALREADY (one already waits), TN_ECLOSED.
 * Tornado: SSLIOStream.wait_for_handshake(). */
TN_EXTERN int tn_tls_wait_for_handshake(tn_iostream_t *s, tn_tls_handshake_cb cb, void *arg);

/** Converts plain to TLS: tn_tls_stream_new + tn_tls_wait_for_handshake,
 * handing the TLS stream to cb only after the handshake (on an error, the
 * closed stream, for its error and reason only). Returns as tn_tls_stream_new; on 0, cb runs
 * exactly once, later. Tornado: IOStream.start_tls(server_side, ssl_options, server_hostname). */
TN_EXTERN int tn_iostream_start_tls(tn_iostream_t *plain, tn_tls_context_t *ctx,
                                    const char *server_hostname, const tn_iostream_options_t *opts,
                                    tn_tls_handshake_cb cb, void *arg);

/** Nonzero when s is a TLS stream. Tornado: isinstance(s, SSLIOStream). */
TN_EXTERN int tn_tls_is_tls(const tn_iostream_t *s);

/** What a TLS stream negotiated. Strings are static or owned by the stream
 * (valid until it is freed); NULL when not known (yet). */
typedef struct {
    int handshake_done;      /**< nonzero once the handshake completed */
    const char *version;     /**< "TLSv1.2", "TLSv1.3" */
    const char *cipher;      /**< OpenSSL's name of the cipher */
    const char *alpn;        /**< the selected protocol, NULL if none */
    const char *server_name; /**< SNI: sent (client) or received (server) */
    int session_reused;      /**< nonzero when the session was resumed */
    int peer_verified;       /**< a peer certificate was presented and verified */
} tn_tls_info_t;

/** Fills info for a TLS stream (not from its close callback; see
 * tn_tls_error_reason). Returns 0, TN_EINVAL (not a TLS stream).
 * Tornado: SSLIOStream.socket.version(), cipher(), selected_alpn_protocol(). */
TN_EXTERN int tn_tls_get_info(const tn_iostream_t *s, tn_tls_info_t *info);

/** Why the stream's TLS failed, as OpenSSL says it: the certificate
 * verification error for TN_ETLSVERIFY ("unable to get local issuer
 * certificate", "hostname mismatch"), else the reason of the failing call
 * ("wrong version number", "http request", ...). Static text; NULL when
 * there was none. Ask it from the handshake callback or any callback before
 * the stream's close callback: the TLS layer is gone by then, and so is
 * every tn_tls_* answer about the stream (tn_iostream_error stays).
 * Tornado: ssl.SSLError's reason / verify_message. */
TN_EXTERN const char *tn_tls_error_reason(const tn_iostream_t *s);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_TLS_H */
