/* libFuzzer target: arbitrary bytes, cut into pieces, into the server side
 * of a TLS stream (lib/tls.c over an in-memory transport), with a reader on
 * the TLS stream. Whatever arrives (a ClientHello, records, alerts, junk,
 * plain HTTP), the layer must fail with a code or carry on: no crash, no
 * leak, no sanitizer report, and the TLS stream's close callback runs
 * exactly once after it is closed.
 *
 * Input: [0] largest piece size (0 = 1), [1] 1 = close the TLS stream
 * half-way through; then the bytes. The server's certificate is made at
 * start-up (no key is committed). */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fz_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static tn_ioloop_t *loop;
static tn_tls_context_t *ctx;

static char *pem_of(int (*write)(BIO *, const void *), const void *obj)
{
    BIO *b = BIO_new(BIO_s_mem());
    CHECK(b != NULL && write(b, obj) == 1);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = malloc((size_t)n + 1);
    CHECK(s != NULL);
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    BIO_free(b);
    return s;
}

static int write_cert(BIO *b, const void *x)
{
    return PEM_write_bio_X509(b, (X509 *)x);
}

static int write_key(BIO *b, const void *k)
{
    return PEM_write_bio_PrivateKey(b, (EVP_PKEY *)k, NULL, NULL, 0, NULL, NULL);
}

static void setup(void)
{
    CHECK(tn_ioloop_new(&loop) == 0);
    tn_log_set_handler(fz_log_quiet, NULL);
    (void)on_freed; /* shared helper this target does not need */
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    CHECK(key != NULL && cert != NULL);
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(cert, name);
    CHECK(X509_sign(cert, key, EVP_sha256()) > 0);
    char *cert_pem = pem_of(write_cert, cert), *key_pem = pem_of(write_key, key);
    tn_tls_options_t o = {.cert_pem = cert_pem, .key_pem = key_pem};
    CHECK(tn_tls_context_new_server(&o, &ctx) == 0);
    free(cert_pem);
    free(key_pem);
    X509_free(cert);
    EVP_PKEY_free(key);
}

typedef struct {
    int closes, reads;
} seen_t;

static void on_close(tn_iostream_t *s, void *arg)
{
    (void)s;
    ((seen_t *)arg)->closes++;
}

static void on_read(tn_iostream_t *s, int status, const char *d, size_t len, void *arg)
{
    (void)status;
    (void)d;
    (void)len;
    ((seen_t *)arg)->reads++;
    if (status == 0 && !tn_iostream_closed(s))
        tn_iostream_read_bytes(s, 64, 1, on_read, arg);
}

typedef struct {
    tn_iostream_t *tls;
    int close_at;
} between_t;

static void between(int spin, void *arg)
{
    between_t *b = arg;
    if (b->close_at >= 0 && spin == b->close_at && b->tls != NULL) {
        tn_iostream_close(b->tls);
        b->tls = NULL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (loop == NULL)
        setup();
    if (size < 2)
        return 0;
    size_t chunk = data[0] ? data[0] : 1;
    int close_early = data[1] & 1;
    data += 2;
    size -= 2;
    fz_t *f = calloc(1, sizeof(*f));
    CHECK(f != NULL);
    f->loop = loop;
    f->accept = -1;
    tn_iostream_t *plain, *tls;
    CHECK(tn_iostream_new(loop, &k_ops, f, NULL, &plain) == 0);
    f->stream = plain;
    CHECK(tn_tls_stream_new(plain, ctx, NULL, NULL, &tls) == 0);
    seen_t seen = {0};
    tn_iostream_set_close_callback(tls, on_close, &seen);
    CHECK(tn_iostream_read_bytes(tls, 64, 1, on_read, &seen) == 0);
    between_t b = {tls, close_early ? (int)(size / chunk / 2) : -1};
    fz_feed(f, data, size, chunk, between, &b);
    if (b.tls != NULL && !seen.closes)
        tn_iostream_close(tls);
    for (int i = 0; i < 8 && !f->closed; i++)
        turn(loop);
    for (int i = 0; i < 8 && seen.closes == 0; i++)
        turn(loop);
    CHECK(seen.closes == 1);
    CHECK(tn_ioloop_alive_count(loop) == 0);
    free(f);
    return 0;
}
