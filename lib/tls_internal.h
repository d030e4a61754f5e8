/* Internal: TLS contexts as the TLS stream layer sees them (lib/tls.c uses
 * what lib/tls_context.c builds). OpenSSL builds only. */
#ifndef TN_LIB_TLS_INTERNAL_H
#define TN_LIB_TLS_INTERNAL_H

#include <openssl/ssl.h>

#include "tornuv/tls.h"

/* A client remembers the last session per server name. */
#define TN__TLS_SESSION_SLOTS 32

typedef struct {
    char *name;
    SSL_SESSION *session;
} tn__tls_session_slot_t;

struct tn_tls_context_s {
    SSL_CTX *ctx;
    /* The transport's read and write callbacks for OpenSSL, one method table
     * per context (no process-wide state to initialise). */
    BIO_METHOD *bio_method;
    int server, insecure, refs;
    uint64_t handshake_timeout_ms;
    tn_tls_sni_cb sni_cb;
    void *sni_arg;
    unsigned char *alpn_wire; /* servers: the protocols they speak, wire format */
    size_t alpn_wire_len;
    tn__tls_session_slot_t sessions[TN__TLS_SESSION_SLOTS];
    unsigned next_slot;
};

/* Clients without ca_file/ca_dir: loads the system's trust store into
 * ctx (OpenSSL's default paths; the certificate store's ROOT certificates
 * on Windows, lib/tls_sysstore.c). Returns 0 or TN_ETLSCONFIG. */
int tn__tls_set_system_store(SSL_CTX *ctx);

/* Reference counting: a stream holds its context (and the one SNI chose). */
void tn__tls_context_ref(tn_tls_context_t *ctx);

/* Clients: the session to resume for name (a reference the caller owns,
 * or NULL). */
SSL_SESSION *tn__tls_session_get(tn_tls_context_t *ctx, const char *name);

/* What every connection's SSL object points to (SSL_get_app_data): the
 * first member of lib/tls.c's connection record, so the context's OpenSSL
 * callbacks (SNI, new sessions) reach the connection. */
typedef struct {
    tn_tls_context_t *ctx;     /* referenced */
    tn_tls_context_t *sni_ctx; /* the context SNI switched to (referenced), or NULL */
    char *hostname;            /* clients: server_hostname (owned) */
} tn__tls_conn_head_t;

/* The BIO method connecting a connection's SSL object to its plain stream
 * (lib/tls.c); NULL out of memory. */
BIO_METHOD *tn__tls_bio_method_new(void);

/* Maps the thread's OpenSSL error queue (after a failure) to a TN_E* code
 * and its reason text, and clears the queue. */
int tn__tls_error(const char **reason);

#endif
