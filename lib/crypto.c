/* See crypto.h. */
#include "crypto.h"

#include <string.h>

#include "tornuv/common.h"

#if defined(TN_HAVE_OPENSSL)
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

/* OpenSSL 3 looks the algorithm up on every one-shot SHA1() call (locks
 * included): fetch it once per thread and reuse one context. */
static _Thread_local EVP_MD_CTX *sha1_ctx;
static _Thread_local EVP_MD *sha1_md;

int tn__sha1(const void *data, size_t len, unsigned char out[20])
{
    unsigned int n = 0;
    if (!sha1_md && !(sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL)))
        return TN_ENOMEM;
    if (!sha1_ctx && !(sha1_ctx = EVP_MD_CTX_new()))
        return TN_ENOMEM;
    if (EVP_DigestInit_ex2(sha1_ctx, sha1_md, NULL) != 1 ||
        EVP_DigestUpdate(sha1_ctx, data, len) != 1 || EVP_DigestFinal_ex(sha1_ctx, out, &n) != 1)
        return TN_ENOMEM;
    return 0;
}

void tn__crypto_thread_end(void)
{
    EVP_MD_CTX_free(sha1_ctx);
    sha1_ctx = NULL;
    EVP_MD_free(sha1_md);
    sha1_md = NULL;
}

int tn__hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                    unsigned char out[32])
{
    unsigned int n = 0;
    return HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &n) ? 0 : TN_ENOMEM;
}

int tn__random_bytes(void *buf, size_t n)
{
    return RAND_bytes(buf, (int)n) == 1 ? 0 : TN_EINVAL;
}

#elif defined(_WIN32)
#include <windows.h>
#include <bcrypt.h>

static int cng_hash(LPCWSTR alg, ULONG flags, const void *key, size_t klen, const void *data,
                    size_t len, unsigned char *out, ULONG outlen)
{
    BCRYPT_ALG_HANDLE a = NULL;
    BCRYPT_HASH_HANDLE h = NULL;
    int err = TN_ENOMEM;
    if (BCryptOpenAlgorithmProvider(&a, alg, NULL, flags) != 0)
        return TN_ENOMEM;
    if (BCryptCreateHash(a, &h, NULL, 0, (PUCHAR)key, (ULONG)klen, 0) == 0 &&
        BCryptHashData(h, (PUCHAR)data, (ULONG)len, 0) == 0 &&
        BCryptFinishHash(h, out, outlen, 0) == 0)
        err = 0;
    if (h)
        BCryptDestroyHash(h);
    BCryptCloseAlgorithmProvider(a, 0);
    return err;
}

int tn__sha1(const void *data, size_t len, unsigned char out[20])
{
    return cng_hash(BCRYPT_SHA1_ALGORITHM, 0, NULL, 0, data, len, out, 20);
}

void tn__crypto_thread_end(void)
{
}

int tn__hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                    unsigned char out[32])
{
    return cng_hash(BCRYPT_SHA256_ALGORITHM, BCRYPT_ALG_HANDLE_HMAC_FLAG, key, klen, msg, mlen, out,
                    32);
}

int tn__random_bytes(void *buf, size_t n)
{
    return BCryptGenRandom(NULL, buf, (ULONG)n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0 ? 0
                                                                                      : TN_EINVAL;
}

#else
#error "tornuv needs OpenSSL's libcrypto (or Windows CNG)"
#endif

int tn__memeq_ct(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t tn__base64_encode(char *dst, const void *src, size_t n)
{
    const unsigned char *s = src;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        dst[o++] = b64[v >> 18];
        dst[o++] = b64[v >> 12 & 63];
        dst[o++] = b64[v >> 6 & 63];
        dst[o++] = b64[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
        dst[o++] = b64[v >> 18];
        dst[o++] = b64[v >> 12 & 63];
        dst[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        dst[o++] = '=';
    }
    dst[o] = 0;
    return o;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

long tn__base64_decode(void *dst, const char *src, size_t n)
{
    unsigned char *d = dst;
    size_t o = 0;
    if (n % 4 != 0)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int pad = (src[i + 3] == '=') + (src[i + 2] == '=' && src[i + 3] == '=');
        if (pad && !last)
            return -1;
        int a = b64_value(src[i]), b = b64_value(src[i + 1]);
        int c = pad >= 2 ? 0 : b64_value(src[i + 2]), e = pad >= 1 ? 0 : b64_value(src[i + 3]);
        if (a < 0 || b < 0 || c < 0 || e < 0)
            return -1;
        unsigned v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 | (unsigned)e;
        d[o++] = (unsigned char)(v >> 16);
        if (pad < 2)
            d[o++] = (unsigned char)(v >> 8 & 255);
        if (pad < 1)
            d[o++] = (unsigned char)(v & 255);
    }
    return (long)o;
}
