/* Internal: the few cryptographic primitives the web layer needs, from
 * OpenSSL's libcrypto, or from the system's CNG (bcrypt) on Windows builds
 * without OpenSSL. Plus base64 and a constant-time comparison. */
#ifndef TN_LIB_CRYPTO_H
#define TN_LIB_CRYPTO_H

#include <stddef.h>

/** SHA-1 of data into out. Returns 0 or TN_ENOMEM. */
int tn__sha1(const void *data, size_t len, unsigned char out[20]);
/** Frees the calling thread's cached digest state (a thread that ends
 * would leak it; tn_sha1 fetches it again when needed). */
void tn__crypto_thread_end(void);
/** HMAC-SHA256 of msg under key into out. Returns 0 or TN_ENOMEM. */
int tn__hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                    unsigned char out[32]);
/** n bytes from the system's cryptographic random source. Returns 0 or an
 * error. */
int tn__random_bytes(void *buf, size_t n);
/** Nonzero when a and b are equal, in time independent of where they
 * differ. */
int tn__memeq_ct(const void *a, const void *b, size_t n);
/** Standard base64 with padding into dst (4 * ceil(n / 3) bytes plus a NUL);
 * returns the length. */
size_t tn__base64_encode(char *dst, const void *src, size_t n);
/** Decodes padded base64 (n a multiple of 4, no whitespace) into dst (at
 * least n / 4 * 3 bytes). Returns the length or -1 when malformed. */
long tn__base64_decode(void *dst, const char *src, size_t n);

#endif
