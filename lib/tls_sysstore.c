/* The system trust store of client contexts that name no CA (tls.h). */
#include "tornuv/common.h"

#ifdef TN_HAVE_TLS

#ifdef _WIN32
/* Before OpenSSL's headers, which undo wincrypt.h's X509_NAME & co. */
#include <windows.h>
#include <wincrypt.h>
#endif

#include <openssl/err.h>
#include <openssl/x509.h>

#include "tls_internal.h"

#ifdef _WIN32
/* OpenSSL's default paths on Windows are files under the OPENSSLDIR it was
 * built with, which a Windows machine does not have: the certificates of
 * the system's ROOT store are copied into the context's store instead. An
 * empty or unreadable store fails (TN_ETLSCONFIG) rather than giving a
 * client that can verify nothing. */
int tn__tls_set_system_store(SSL_CTX *ctx)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    HCERTSTORE sys = CertOpenSystemStoreW(0, L"ROOT");
    if (sys == NULL)
        return TN_ETLSCONFIG;
    int added = 0;
    PCCERT_CONTEXT cc = NULL;
    while ((cc = CertEnumCertificatesInStore(sys, cc)) != NULL) {
        const unsigned char *der = cc->pbCertEncoded;
        X509 *x = d2i_X509(NULL, &der, (long)cc->cbCertEncoded);
        /* Duplicates and certificates OpenSSL cannot parse are skipped. */
        if (x != NULL && X509_STORE_add_cert(store, x) == 1)
            added++;
        X509_free(x);
    }
    CertCloseStore(sys, 0);
    ERR_clear_error();
    return added > 0 ? 0 : TN_ETLSCONFIG;
}
#else
int tn__tls_set_system_store(SSL_CTX *ctx)
{
    return SSL_CTX_set_default_verify_paths(ctx) == 1 ? 0 : TN_ETLSCONFIG;
}
#endif

#endif /* TN_HAVE_TLS */
