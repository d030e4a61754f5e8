/* libFuzzer target: round trips through the query/form, cookie and date
 * code, where fuzz_httputil only checks that each parser survives.
 * The first byte picks the property; the rest is its input.
 *   0 query/form: parse, re-encode every pair with url_escape, parse again:
 *     the same pairs in the same order, and a second encoding is identical
 *     (a canonical form); tn_args_get finds the first value of a name.
 *   1 cookies: split the input into a name and a value; whenever
 *     tn_cookie_format accepts them (with random attributes), parsing the
 *     header it built gives back that name and value first; parsing
 *     arbitrary bytes yields at most one cookie per ';'-separated chunk.
 *   2 dates: any time in years 1970..9999 formats to 29 bytes that parse
 *     back to the same second, and one second later formats differently. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tornuv/httputil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

/* Encodes a as "n=v&n=v" into a new buffer. */
static char *encode(const tn_args_t *a, size_t *len_out)
{
    size_t cap = 1, len = 0;
    tn_strview_t n, v;
    for (size_t i = 0; tn_args_at(a, i, &n, &v) == 0; i++)
        cap += 3 * (n.len + v.len) + 2;
    char *out = malloc(cap);
    CHECK(out != NULL);
    for (size_t i = 0; tn_args_at(a, i, &n, &v) == 0; i++) {
        if (i > 0)
            out[len++] = '&';
        len += tn_url_escape(out + len, cap - len, n.base, n.len, 1);
        out[len++] = '=';
        len += tn_url_escape(out + len, cap - len, v.base, v.len, 1);
        CHECK(len < cap);
    }
    *len_out = len;
    return out;
}

static void query_round_trip(const char *in, size_t len)
{
    tn_args_t *a, *b;
    if (tn_args_new(&a) != 0)
        return;
    if (tn_args_new(&b) != 0) {
        tn_args_free(a);
        return;
    }
    int err = tn_args_parse_query(a, in, len, 200);
    CHECK(err == 0 || err == TN_ETOOLARGE);
    size_t elen, elen2;
    char *enc = encode(a, &elen);
    CHECK(tn_args_parse_query(b, enc, elen, 0) == 0);
    CHECK(tn_args_count(a) == tn_args_count(b));
    tn_strview_t n1, v1, n2, v2;
    for (size_t i = 0; tn_args_at(a, i, &n1, &v1) == 0; i++) {
        CHECK(tn_args_at(b, i, &n2, &v2) == 0);
        CHECK(n1.len == n2.len && memcmp(n1.base, n2.base, n1.len) == 0);
        CHECK(v1.len == v2.len && memcmp(v1.base, v2.base, v1.len) == 0);
        /* get: the first pair with this name (names with NUL cannot be
         * asked for by a C string). */
        if (memchr(n1.base, '\0', n1.len) == NULL) {
            char *name = malloc(n1.len + 1);
            CHECK(name != NULL);
            memcpy(name, n1.base, n1.len);
            name[n1.len] = '\0';
            size_t glen;
            const char *got = tn_args_get(a, name, &glen);
            CHECK(got != NULL);
            for (size_t j = 0; tn_args_at(a, j, &n2, &v2) == 0; j++) {
                if (n2.len == n1.len && memcmp(n2.base, n1.base, n1.len) == 0) {
                    CHECK(glen == v2.len && memcmp(got, v2.base, glen) == 0);
                    break;
                }
            }
            free(name);
        }
    }
    char *enc2 = encode(b, &elen2);
    CHECK(elen == elen2 && memcmp(enc, enc2, elen) == 0);
    free(enc);
    free(enc2);
    tn_args_free(a);
    tn_args_free(b);
}

static void cookie_round_trip(const uint8_t *in, size_t len)
{
    tn_args_t *a;
    if (len < 2 || tn_args_new(&a) != 0)
        return;
    /* Arbitrary bytes: never more cookies than chunks. */
    size_t chunks = 1;
    for (size_t i = 0; i < len; i++)
        chunks += in[i] == ';';
    int err = tn_cookies_parse(a, (const char *)in, len, 0);
    CHECK(err == 0);
    CHECK(tn_args_count(a) <= chunks);
    tn_args_clear(a);

    size_t split = in[0] % len;
    const char *name = (const char *)in + 1;
    size_t name_len = split > 0 ? split - 1 : 0;
    const char *value = (const char *)in + 1 + name_len;
    size_t value_len = len - 1 - name_len;
    tn_cookie_attrs_t attrs = {.max_age = -1};
    if (in[0] & 0x80)
        attrs.path = "/";
    if (in[0] & 0x40)
        attrs.httponly = 1;
    if (in[0] & 0x20)
        attrs.max_age = in[0];
    if (in[0] & 0x10)
        attrs.expires = 1300000000 + in[0];
    char *header;
    size_t hlen;
    if (tn_cookie_format(name, name_len, value, value_len, &attrs, &header, &hlen) == 0) {
        CHECK(hlen >= name_len + 1 + value_len);
        CHECK(memcmp(header, name, name_len) == 0 && header[name_len] == '=');
        /* The attributes follow after "; ": parse just the pair. */
        CHECK(tn_cookies_parse(a, header, name_len + 1 + value_len, 0) == 0);
        tn_strview_t n, v;
        CHECK(tn_args_at(a, 0, &n, &v) == 0);
        CHECK(n.len == name_len && memcmp(n.base, name, name_len) == 0);
        CHECK(v.len == value_len && memcmp(v.base, value, value_len) == 0);
        tn_free(header);
    }
    tn_args_free(a);
}

static void date_round_trip(const uint8_t *in, size_t len)
{
    /* 1970-01-01 .. 9999-12-31 23:59:59 */
    const int64_t max = 253402300799;
    uint64_t x = 0;
    for (size_t i = 0; i < len && i < 8; i++)
        x = x << 8 | in[i];
    int64_t t = (int64_t)(x % (uint64_t)(max + 1));
    char buf[TN_HTTP_DATE_LEN], next[TN_HTTP_DATE_LEN];
    CHECK(tn_http_date_format(t, buf) == 0);
    CHECK(strlen(buf) == 29);
    int64_t back;
    CHECK(tn_http_date_parse(buf, 29, &back) == 0 && back == t);
    if (t < max) {
        CHECK(tn_http_date_format(t + 1, next) == 0);
        CHECK(strcmp(buf, next) != 0);
    }
    CHECK(tn_http_date_format(max + 1, buf) != 0);
    CHECK(tn_http_date_format(-1, buf) != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0:
        query_round_trip((const char *)in, len);
        break;
    case 1:
        cookie_round_trip(in, len);
        break;
    default:
        date_round_trip(in, len);
        break;
    }
    return 0;
}
