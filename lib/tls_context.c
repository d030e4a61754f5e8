/* TLS contexts: one OpenSSL SSL_CTX per server or client configuration,
 * built once and shared by every connection made with it (so the session
 * cache and the ticket keys are shared too and sessions resume).
 *
 * OpenSSL's error queue is per thread and survives across calls: every
 * failure here is turned into a code and the queue cleared, so a later,
 * unrelated call never finds a stale error and nothing is ever printed. */
#include <string.h>

#include "tornuv/tls.h"

#ifndef TN_HAVE_TLS

int tn_tls_context_new_server(const tn_tls_options_t *opts, tn_tls_context_t **out)
{
    (void)opts;
    (void)out;
    return TN_ENOTSUP;
}

int tn_tls_context_new_client(const tn_tls_options_t *opts, tn_tls_context_t **out)
{
    (void)opts;
    (void)out;
    return TN_ENOTSUP;
}

void tn_tls_context_free(tn_tls_context_t *ctx)
{
    (void)ctx;
}

#else

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls_internal.h"

/* Mozilla's "intermediate" configuration (version 5.7) for TLS 1.2: forward
 * secret AEAD suites only. TLS 1.3 suites stay OpenSSL's defaults, which
 * are the same three Mozilla lists. */
static const char intermediate_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
static const char intermediate_groups[] = "X25519:prime256v1:secp384r1";

/* Server-side session cache entries (OpenSSL's default is 20 480). */
#define SESSION_CACHE_SIZE 4096

int tn__tls_error(const char **reason)
{
    unsigned long e = ERR_peek_last_error();
    int code = TN_ETLS;
    if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED)
        code = TN_ETLSVERIFY;
    if (reason != NULL)
        *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return code;
}

void tn__tls_context_ref(tn_tls_context_t *ctx)
{
    ctx->refs++;
}

static int proto_version(tn_tls_version_t v)
{
    return v == TN_TLS_1_3 ? TLS1_3_VERSION : v == TN_TLS_1_2 ? TLS1_2_VERSION : 0;
}

/* PEM text in memory: the first certificate is the leaf, the rest the
 * chain. */
static int use_cert_pem(SSL_CTX *ctx, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (bio == NULL)
        return TN_ENOMEM;
    int ok = 0;
    X509 *leaf = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
    if (leaf != NULL && SSL_CTX_use_certificate(ctx, leaf) == 1 && SSL_CTX_clear_chain_certs(ctx)) {
        ok = 1;
        X509 *ca;
        while ((ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
            if (!SSL_CTX_add0_chain_cert(ctx, ca)) {
                X509_free(ca);
                ok = 0;
                break;
            }
        }
    }
    X509_free(leaf);
    BIO_free(bio);
    return ok ? 0 : TN_ETLSCONFIG;
}

static int use_key_pem(SSL_CTX *ctx, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (bio == NULL)
        return TN_ENOMEM;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    int ok = key != NULL && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    BIO_free(bio);
    return ok ? 0 : TN_ETLSCONFIG;
}

static int load_identity(SSL_CTX *ctx, const tn_tls_options_t *o)
{
    int err = 0;
    if (o->certfile != NULL)
        err = SSL_CTX_use_certificate_chain_file(ctx, o->certfile) == 1 ? 0 : TN_ETLSCONFIG;
    else
        err = use_cert_pem(ctx, o->cert_pem);
    if (err == 0 && o->keyfile != NULL)
        err =
            SSL_CTX_use_PrivateKey_file(ctx, o->keyfile, SSL_FILETYPE_PEM) == 1 ? 0 : TN_ETLSCONFIG;
    else if (err == 0 && o->key_pem != NULL)
        err = use_key_pem(ctx, o->key_pem);
    else if (err == 0)
        err = TN_EINVAL; /* a certificate without its key */
    if (err == 0 && SSL_CTX_check_private_key(ctx) != 1)
        err = TN_ETLSCONFIG;
    return err;
}

/* Servers: choose the client's most preferred protocol among the ones this
 * server speaks; with none in common, carry on without ALPN (what most
 * servers do, rather than failing the handshake). */
static int on_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg)
{
    tn_tls_context_t *c = arg;
    unsigned char *sel;
    (void)ssl;
    if (SSL_select_next_proto(&sel, outlen, c->alpn_wire, (unsigned)c->alpn_wire_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int on_servername(SSL *ssl, int *alert, void *arg)
{
    tn_tls_context_t *c = arg;
    tn__tls_conn_head_t *conn = SSL_get_app_data(ssl);
    (void)alert;
    if (c->sni_cb == NULL || conn == NULL || conn->sni_ctx != NULL)
        return SSL_TLSEXT_ERR_OK;
    tn_tls_context_t *chosen =
        c->sni_cb(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), c->sni_arg);
    if (chosen != NULL && chosen != c && chosen->server) {
        if (SSL_set_SSL_CTX(ssl, chosen->ctx) == NULL)
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        tn__tls_context_ref(chosen);
        conn->sni_ctx = chosen;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* Clients: keep the newest session for the connection's server name. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    tn__tls_conn_head_t *conn = SSL_get_app_data(ssl);
    if (conn == NULL || conn->hostname == NULL)
        return 0;
    tn_tls_context_t *c = conn->ctx;
    tn__tls_session_slot_t *slot = NULL;
    for (unsigned i = 0; i < TN__TLS_SESSION_SLOTS; i++)
        if (c->sessions[i].name != NULL && strcmp(c->sessions[i].name, conn->hostname) == 0)
            slot = &c->sessions[i];
    if (slot == NULL) {
        slot = &c->sessions[c->next_slot];
        c->next_slot = (c->next_slot + 1) % TN__TLS_SESSION_SLOTS;
        char *name = tn_strndup(conn->hostname, strlen(conn->hostname));
        if (name == NULL)
            return 0;
        tn_free(slot->name);
        slot->name = name;
    }
    if (slot->session != NULL)
        SSL_SESSION_free(slot->session);
    slot->session = sess;
    return 1; /* the reference is ours now */
}

SSL_SESSION *tn__tls_session_get(tn_tls_context_t *ctx, const char *name)
{
    for (unsigned i = 0; i < TN__TLS_SESSION_SLOTS; i++) {
        tn__tls_session_slot_t *s = &ctx->sessions[i];
        if (s->name != NULL && s->session != NULL && strcmp(s->name, name) == 0) {
            if (!SSL_SESSION_is_resumable(s->session))
                return NULL;
            SSL_SESSION_up_ref(s->session);
            return s->session;
        }
    }
    return NULL;
}

static int set_alpn(tn_tls_context_t *c, const char *const *list)
{
    size_t len = 0;
    for (size_t i = 0; list[i] != NULL; i++) {
        size_t n = strlen(list[i]);
        if (n == 0 || n > 255 || (c->server && strcmp(list[i], "h2") == 0))
            return TN_EINVAL;
        len += 1 + n;
    }
    if (len == 0)
        return 0;
    c->alpn_wire = tn_malloc(len);
    if (c->alpn_wire == NULL)
        return TN_ENOMEM;
    size_t off = 0;
    for (size_t i = 0; list[i] != NULL; i++) {
        size_t n = strlen(list[i]);
        c->alpn_wire[off++] = (unsigned char)n;
        memcpy(c->alpn_wire + off, list[i], n);
        off += n;
    }
    c->alpn_wire_len = len;
    if (c->server) {
        SSL_CTX_set_alpn_select_cb(c->ctx, on_alpn_select, c);
        return 0;
    }
    /* Clients: OpenSSL returns 0 on success here. */
    return SSL_CTX_set_alpn_protos(c->ctx, c->alpn_wire, (unsigned)len) == 0 ? 0 : TN_ENOMEM;
}

static int configure(tn_tls_context_t *c, const tn_tls_options_t *o)
{
    SSL_CTX *ctx = c->ctx;
    int min = proto_version(o->min_version), max = proto_version(o->max_version);
    if (min == 0)
        min = TLS1_2_VERSION;
    if (max != 0 && max < min)
        return TN_EINVAL;
    if (!SSL_CTX_set_min_proto_version(ctx, min) || !SSL_CTX_set_max_proto_version(ctx, max))
        return TN_ETLSCONFIG;
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    /* Idle connections hold no record buffers (about 34 KB each otherwise). */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, o->ciphers ? o->ciphers : intermediate_ciphers) != 1)
        return TN_ETLSCONFIG;
    if (o->ciphersuites != NULL && SSL_CTX_set_ciphersuites(ctx, o->ciphersuites) != 1)
        return TN_ETLSCONFIG;
    if (SSL_CTX_set1_groups_list(ctx, intermediate_groups) != 1)
        return TN_ETLSCONFIG;
    if ((o->ca_file != NULL || o->ca_dir != NULL) &&
        SSL_CTX_load_verify_locations(ctx, o->ca_file, o->ca_dir) != 1)
        return TN_ETLSCONFIG;
    c->handshake_timeout_ms =
        o->handshake_timeout_ms ? o->handshake_timeout_ms : TN_TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    return 0;
}

static int context_new(const tn_tls_options_t *o, int server, tn_tls_context_t **out)
{
    if (o == NULL || out == NULL)
        return TN_EINVAL;
    int has_cert = o->certfile != NULL || o->cert_pem != NULL;
    if (server && (!has_cert || o->insecure))
        return TN_EINVAL;
    if (server && o->client_cert != TN_TLS_CLIENT_CERT_NONE && o->ca_file == NULL &&
        o->ca_dir == NULL)
        return TN_EINVAL;
    tn_tls_context_t *c = tn_calloc(1, sizeof(*c));
    if (c == NULL)
        return TN_ENOMEM;
    c->server = server;
    c->insecure = o->insecure;
    c->refs = 1;
    c->sni_cb = o->sni_cb;
    c->sni_arg = o->sni_arg;
    ERR_clear_error();
    int err = TN_ENOMEM;
    c->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    c->bio_method = tn__tls_bio_method_new();
    if (c->ctx == NULL || c->bio_method == NULL)
        goto fail;
    err = configure(c, o);
    if (err == 0 && has_cert)
        err = load_identity(c->ctx, o);
    if (err != 0)
        goto fail;
    if (server) {
        static const unsigned char sid_ctx[] = "tornuv";
        static const char *const http11[] = {"http/1.1", NULL};
        SSL_CTX_set_session_id_context(c->ctx, sid_ctx, sizeof(sid_ctx) - 1);
        SSL_CTX_sess_set_cache_size(c->ctx, SESSION_CACHE_SIZE);
        if (o->client_cert != TN_TLS_CLIENT_CERT_NONE) {
            int mode = SSL_VERIFY_PEER;
            if (o->client_cert == TN_TLS_CLIENT_CERT_REQUIRED)
                mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
            SSL_CTX_set_verify(c->ctx, mode, NULL);
            if (o->ca_file != NULL) {
                STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
                if (names == NULL) {
                    err = TN_ETLSCONFIG;
                    goto fail;
                }
                SSL_CTX_set_client_CA_list(c->ctx, names);
            }
        }
        SSL_CTX_set_tlsext_servername_callback(c->ctx, on_servername);
        SSL_CTX_set_tlsext_servername_arg(c->ctx, c);
        err = set_alpn(c, o->alpn ? o->alpn : http11);
    } else {
        if (o->insecure) {
            SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
        } else {
            SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
            if (o->ca_file == NULL && o->ca_dir == NULL &&
                (err = tn__tls_set_system_store(c->ctx)) != 0)
                goto fail;
        }
        SSL_CTX_set_session_cache_mode(c->ctx,
                                       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c->ctx, on_new_session);
        err = o->alpn ? set_alpn(c, o->alpn) : 0;
    }
    if (err != 0)
        goto fail;
    *out = c;
    return 0;
fail:
    /* A configuration error reported by OpenSSL stays a configuration
     * error; the queue is cleared either way. */
    ERR_clear_error();
    tn_tls_context_free(c);
    return err;
}

int tn_tls_context_new_server(const tn_tls_options_t *opts, tn_tls_context_t **out)
{
    return context_new(opts, 1, out);
}

int tn_tls_context_new_client(const tn_tls_options_t *opts, tn_tls_context_t **out)
{
    return context_new(opts, 0, out);
}

void tn_tls_context_free(tn_tls_context_t *c)
{
    if (c == NULL || --c->refs > 0)
        return;
    for (unsigned i = 0; i < TN__TLS_SESSION_SLOTS; i++) {
        tn_free(c->sessions[i].name);
        if (c->sessions[i].session != NULL)
            SSL_SESSION_free(c->sessions[i].session);
    }
    SSL_CTX_free(c->ctx);
    if (c->bio_method != NULL)
        BIO_meth_free(c->bio_method);
    tn_free(c->alpn_wire);
    tn_free(c);
}

#endif /* TN_HAVE_TLS */
