/* Signed cookie values: versioned, timestamped, the cookie name bound into
 * an HMAC-SHA256 (OpenSSL libcrypto), compared in constant time. The layout
 * follows the idea of Tornado's version 2 format: length-prefixed fields
 * separated by '|', so no field can be confused with another. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "tornuv/common.h"
#include "web_internal.h"

size_t tn__web_signed_size(size_t name_len, size_t value_len)
{
    return 64 + name_len + 4 * ((value_len + 2) / 3) + 2 * 32 + 32;
}

static void hmac_hex(const char *secret, const char *msg, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    static const char hex[] = "0123456789abcdef";
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, n, md, &len);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = 0;
}

long tn__web_sign(const char *secret, const char *name, const char *value, size_t value_len,
                  int64_t now, char *out, size_t cap)
{
    size_t b64 = 4 * ((value_len + 2) / 3);
    char ts[24];
    int tl = snprintf(ts, sizeof ts, "%lld", (long long)now);
    if (now < 0 || cap < tn__web_signed_size(strlen(name), value_len))
        return TN_EBUFFULL;
    int k = snprintf(out, cap, "2|1:0|%d:%s|%zu:%s|%zu:", tl, ts, strlen(name), name, b64);
    if (k < 0 || (size_t)k + b64 + 66 > cap)
        return TN_EBUFFULL;
    EVP_EncodeBlock((unsigned char *)out + k, (const unsigned char *)value, (int)value_len);
    size_t n = (size_t)k + b64;
    out[n++] = '|';
    hmac_hex(secret, out, n, out + n);
    return (long)(n + 64);
}

/* Reads "<len>:<bytes>|" at *p, advancing it. */
static int field(const char **p, const char *end, const char **val, size_t *len)
{
    size_t n = 0;
    const char *s = *p;
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9') {
        n = n * 10 + (size_t)(*s - '0');
        if (n > 1 << 20)
            return -1;
        s++;
    }
    if (s >= end || *s != ':' || (size_t)(end - s - 1) < n + 1 || s[1 + n] != '|')
        return -1;
    *val = s + 1;
    *len = n;
    *p = s + 1 + n + 1;
    return 0;
}

long tn__web_verify(const char *secret, const char *name, const char *sv, size_t n, int64_t now,
                    unsigned max_age_days, char *buf, size_t cap)
{
    const char *p = sv, *end = sv + n, *v;
    size_t len;
    if (n < 2 + 64 || memcmp(sv, "2|", 2) != 0)
        return TN_EINVAL;
    p += 2;
    if (field(&p, end, &v, &len) != 0) /* key version */
        return TN_EINVAL;
    if (field(&p, end, &v, &len) != 0 || len == 0 || len > 18)
        return TN_EINVAL;
    long long ts = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return TN_EINVAL;
        ts = ts * 10 + (v[i] - '0');
    }
    if (field(&p, end, &v, &len) != 0 || len != strlen(name) || memcmp(v, name, len) != 0)
        return TN_EINVAL;
    const char *val;
    size_t vlen;
    if (field(&p, end, &val, &vlen) != 0 || (size_t)(end - p) != 64)
        return TN_EINVAL;
    char want[65];
    hmac_hex(secret, sv, (size_t)(p - sv), want);
    if (CRYPTO_memcmp(want, p, 64) != 0)
        return TN_EINVAL;
    if (ts < now - (long long)max_age_days * 86400 || ts > now + 86400)
        return TN_EINVAL;
    if (vlen % 4 != 0 || vlen / 4 * 3 + 1 > cap)
        return vlen % 4 ? TN_EINVAL : TN_EBUFFULL;
    int out = EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)val, (int)vlen);
    if (out < 0)
        return TN_EINVAL;
    /* DecodeBlock counts padding bytes as zeros: drop them */
    if (vlen >= 1 && val[vlen - 1] == '=')
        out--;
    if (vlen >= 2 && val[vlen - 2] == '=')
        out--;
    buf[out] = 0;
    return out;
}
