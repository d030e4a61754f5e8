/* Run-time test certificates (see tls_certs.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_certs.h"

#ifdef TN_HAVE_TLS
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#ifdef _WIN32
#include <direct.h>
#include <io.h>
/* mkdtemp for the mingw build: the C runtime's unique name (process id and
 * a letter) made into a directory. */
static char *mkdtemp(char *tmpl)
{
    if (_mktemp_s(tmpl, strlen(tmpl) + 1) != 0 || _mkdir(tmpl) != 0)
        return NULL;
    return tmpl;
}
#define rmdir _rmdir
/* Windows' temporary directory (wine sets TEMP to one inside its prefix). */
#define TN_TMP_ENV "TEMP"
#else
#include <unistd.h>
#define TN_TMP_ENV "TMPDIR"
#endif

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    cr_assert_not_null(k);
    return k;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    cr_assert_not_null(ext, "extension %d %s", nid, value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

/* A certificate for key named cn, signed by issuer/issuer_key (self-signed
 * when issuer is NULL). san NULL makes a CA. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       const char *san, const char *eku, long serial)
{
    X509 *c = X509_new();
    cr_assert_not_null(c);
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 7L * 24 * 3600);
    X509_set_pubkey(c, key);
    X509_NAME *name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
    X509 *iss = issuer ? issuer : c;
    if (san == NULL) {
        add_ext(c, iss, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(c, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(c, iss, NID_subject_key_identifier, "hash");
    } else {
        add_ext(c, iss, NID_basic_constraints, "CA:FALSE");
        add_ext(c, iss, NID_key_usage, "critical,digitalSignature");
        add_ext(c, iss, NID_ext_key_usage, eku);
        if (san[0] != '\0')
            add_ext(c, iss, NID_subject_alt_name, san);
        add_ext(c, iss, NID_authority_key_identifier, "keyid");
    }
    cr_assert(X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return c;
}

static char *bio_text(BIO *b)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = malloc((size_t)n + 1);
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    BIO_free(b);
    return s;
}

static char *cert_pem(X509 *c, X509 *chain)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, c);
    if (chain)
        PEM_write_bio_X509(b, chain);
    return bio_text(b);
}

static char *key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    return bio_text(b);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static tn_test_certs_t certs;
static int made;

static const char *const file_names[] = {"ca.pem",  "other_ca.pem", "cert.pem",   "key.pem",
                                         "alt.pem", "alt_key.pem",  "client.pem", "client_key.pem"};

/* The files go with the process that made them (Criterion runs each test
 * in its own process). */
static void remove_files(void)
{
    char path[512];
    for (size_t i = 0; i < sizeof file_names / sizeof file_names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", certs.dir, file_names[i]);
        remove(path);
    }
    rmdir(certs.dir);
}

const tn_test_certs_t *tn_test_certs(void)
{
    if (made)
        return &certs;
    EVP_PKEY *cak = new_key(), *ca2k = new_key(), *lk = new_key(), *ak = new_key(), *ck = new_key();
    X509 *ca = make_cert(cak, "tornuv test CA", NULL, NULL, NULL, NULL, 1);
    X509 *ca2 = make_cert(ca2k, "unrelated CA", NULL, NULL, NULL, NULL, 2);
    X509 *leaf =
        make_cert(lk, "localhost", ca, cak, "DNS:localhost,IP:127.0.0.1,IP:::1", "serverAuth", 3);
    X509 *alt = make_cert(ak, "other.test", ca, cak, "DNS:other.test", "serverAuth", 4);
    X509 *cli = make_cert(ck, "tornuv client", ca, cak, "", "clientAuth", 5);
    certs.ca = cert_pem(ca, NULL);
    certs.other_ca = cert_pem(ca2, NULL);
    certs.cert = cert_pem(leaf, ca);
    certs.key = key_pem(lk);
    certs.alt = cert_pem(alt, ca);
    certs.alt_key = key_pem(ak);
    certs.client = cert_pem(cli, ca);
    certs.client_key = key_pem(ck);
    const char *tmp = getenv(TN_TMP_ENV);
    snprintf(certs.dir, sizeof certs.dir, "%s/tn_tls_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(certs.dir));
    const char *texts[] = {certs.ca,  certs.other_ca, certs.cert,   certs.key,
                           certs.alt, certs.alt_key,  certs.client, certs.client_key};
    for (size_t i = 0; i < sizeof file_names / sizeof file_names[0]; i++)
        write_file(certs.dir, file_names[i], texts[i]);
    atexit(remove_files);
    X509_free(ca);
    X509_free(ca2);
    X509_free(leaf);
    X509_free(alt);
    X509_free(cli);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(ca2k);
    EVP_PKEY_free(lk);
    EVP_PKEY_free(ak);
    EVP_PKEY_free(ck);
    made = 1;
    return &certs;
}

const char *tn_test_cert_path(const char *name, char *buf, unsigned len)
{
    snprintf(buf, len, "%s/%s", tn_test_certs()->dir, name);
    return buf;
}
#endif /* TN_HAVE_TLS */
