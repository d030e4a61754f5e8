/* Test certificates, generated at run time with OpenSSL (ECDSA P-256): no
 * private key is committed. One set per test process. */
#ifndef TN_TEST_TLS_CERTS_H
#define TN_TEST_TLS_CERTS_H

typedef struct {
    /* PEM text (NUL-terminated). */
    char *ca;                  /* the test CA */
    char *other_ca;            /* an unrelated CA nothing is signed by */
    char *cert, *key;          /* "localhost", 127.0.0.1, ::1; chain: leaf + CA */
    char *alt, *alt_key;       /* "other.test" (for SNI), signed by the CA */
    char *client, *client_key; /* a client certificate "tornuv client", signed by the CA */
    /* The same as files in a fresh temporary directory, for command-line
     * peers: dir/ca.pem, other_ca.pem, cert.pem, key.pem, alt.pem,
     * alt_key.pem, client.pem, client_key.pem. */
    char dir[256];
} tn_test_certs_t;

/* Generates the set on first use (asserting success). */
const tn_test_certs_t *tn_test_certs(void);

/* dir/name into buf (static storage per call site is the caller's). */
const char *tn_test_cert_path(const char *name, char *buf, unsigned len);

#endif
