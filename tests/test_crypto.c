/* The web layer's crypto primitives against published vectors (the same
 * file checks the OpenSSL backend on Linux and the CNG one on Windows). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

Test(crypto, sha1_vectors)
{
    unsigned char md[20];
    char h[41];
    cr_assert_eq(tn__sha1("abc", 3, md), 0);
    hex(md, 20, h);
    cr_assert_str_eq(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    cr_assert_eq(tn__sha1("", 0, md), 0);
    hex(md, 20, h);
    cr_assert_str_eq(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

Test(crypto, hmac_sha256_rfc4231)
{
    unsigned char md[32];
    char h[65];
    static const char data[] = "what do ya want for nothing?";
    cr_assert_eq(tn__hmac_sha256("Jefe", 4, data, sizeof data - 1, md), 0);
    hex(md, 32, h);
    cr_assert_str_eq(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

Test(crypto, random_bytes_differ)
{
    unsigned char a[16], b[16];
    cr_assert_eq(tn__random_bytes(a, sizeof a), 0);
    cr_assert_eq(tn__random_bytes(b, sizeof b), 0);
    cr_assert_neq(memcmp(a, b, sizeof a), 0);
}

Test(crypto, constant_time_compare)
{
    cr_assert(tn__memeq_ct("abcd", "abcd", 4));
    cr_assert(!tn__memeq_ct("abcd", "abce", 4));
    cr_assert(!tn__memeq_ct("xbcd", "abcd", 4));
    cr_assert(tn__memeq_ct("", "", 0));
}

Test(crypto, base64_round_trips_and_rejects_malformed)
{
    static const struct {
        const char *plain, *enc;
    } rows[] = {{"", ""},
                {"f", "Zg=="},
                {"fo", "Zm8="},
                {"foo", "Zm9v"},
                {"foob", "Zm9vYg=="},
                {"fooba", "Zm9vYmE="},
                {"foobar", "Zm9vYmFy"}};
    char enc[32], dec[32];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t n = tn__base64_encode(enc, rows[i].plain, strlen(rows[i].plain));
        cr_assert_str_eq(enc, rows[i].enc);
        cr_assert_eq(n, strlen(rows[i].enc));
        long m = tn__base64_decode(dec, rows[i].enc, n);
        cr_assert_eq(m, (long)strlen(rows[i].plain));
        cr_assert_eq(memcmp(dec, rows[i].plain, (size_t)m), 0);
    }
    static const char *bad[] = {"Zg=", "Z===", "Zg==Zg==", "Zm9v!A==", "=Zm9", "Zm\n9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(tn__base64_decode(dec, bad[i], strlen(bad[i])), -1, "bad %zu", i);
    unsigned char all[256];
    char big[400];
    unsigned char back[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    size_t n = tn__base64_encode(big, all, sizeof all);
    cr_assert_eq(tn__base64_decode(back, big, n), 256);
    cr_assert_eq(memcmp(all, back, 256), 0);
}
