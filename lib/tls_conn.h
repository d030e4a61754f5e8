/* Internal: one TLS connection (tls.c), shared with the queries about it
 * (tls_info.c). Only built with TN_HAVE_TLS. */
#ifndef TN_LIB_TLS_CONN_H
#define TN_LIB_TLS_CONN_H

#include "loop_defer.h"
#include "tls_internal.h"

/* An output block: ciphertext on its way to the inner stream. */
typedef struct obuf_s {
    struct tls_conn_s *conn;
    int completes_write; /* its sending completes the outer stream's ops->write */
    size_t len, cap;
    char data[];
} obuf_t;

typedef struct tls_conn_s {
    tn__tls_conn_head_t head; /* first: what SSL_get_app_data returns */
    SSL *ssl;
    tn_ioloop_t *loop;
    tn_iostream_t *inner, *outer;
    obuf_t *out;
    /* input lent to OpenSSL by the current read_some callback */
    const char *in;
    size_t in_len, in_off;
    /* the outer stream's pending ops->write */
    tn_buf_t *pw;
    size_t pw_n, pw_i, pw_off;
    tn_timeout_id timer; /* the handshake deadline, then the close linger */
    tn_tls_handshake_cb hs_cb;
    void *hs_arg;
    const char *reason;
    char *alpn; /* the negotiated protocol (owned) */
    tn__qnode_t pump_node, closed_node, hs_node;
    int hs_status; /* a failed handshake's report, deferred */
    int refs;
    int error;       /* the TLS failure that ended the connection */
    int pending_end; /* an end to report to the reader once drained (TN_EOF or error) */
    unsigned handshake_done : 1, want_read : 1, inner_reading : 1, write_wants_read : 1,
        outer_closing : 1, inner_gone : 1, inner_closing : 1, end_reported : 1, pump_queued : 1;
} tls_conn_t;

/* The connection behind a TLS stream, or NULL for any other stream. */
tls_conn_t *tn__tls_conn_of(const tn_iostream_t *s);

#endif
