/* libFuzzer target: the httputil parsers on arbitrary bytes. The first
 * byte picks the parser; the rest is its input. Every parser must return a
 * code (never crash, overrun, or leak), and what it stores must be
 * readable back. */
#include <stdint.h>
#include <string.h>

#include "tornuv/httputil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drain(const tn_args_t *a)
{
    tn_strview_t name, value;
    volatile size_t sum = 0;
    for (size_t i = 0; tn_args_at(a, i, &name, &value) == 0; i++)
        sum += name.len + value.len;
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    tn_args_t *args;
    if (tn_args_new(&args) != 0)
        return 0;
    switch (data[0] % 6) {
    case 0:
        tn_args_parse_query(args, in, len, 1000);
        drain(args);
        break;
    case 1:
        tn_cookies_parse(args, in, len, 1000);
        drain(args);
        break;
    case 2: {
        int64_t t;
        if (tn_http_date_parse(in, len, &t) == 0) {
            char buf[TN_HTTP_DATE_LEN];
            /* every accepted date formats, and re-parses to the same time */
            if (tn_http_date_format(t, buf) != 0)
                __builtin_trap();
            int64_t back;
            if (tn_http_date_parse(buf, strlen(buf), &back) != 0 || back != t)
                __builtin_trap();
        }
        break;
    }
    case 3: {
        tn_strview_t path, query;
        if (tn_url_split(in, len, &path, &query) == 0 && (path.len > len + 1 || query.len > len))
            __builtin_trap();
        break;
    }
    case 4: {
        char out[4096];
        size_t need = tn_url_escape(NULL, 0, in, len, data[0] & 8);
        if (need <= sizeof(out)) {
            tn_url_escape(out, sizeof(out), in, len, data[0] & 8);
            char back[4096];
            /* escaping then unescaping is the identity */
            size_t n = tn_url_unescape(back, out, need, data[0] & 8);
            if (n != len || memcmp(back, in, len) != 0)
                __builtin_trap();
        }
        break;
    }
    default: {
        tn_headers_t *h;
        if (tn_headers_new(&h) != 0)
            break;
        /* lines "name:value" split on NUL bytes */
        size_t start = 0;
        for (size_t i = 0; i <= len; i++) {
            if (i < len && in[i] != '\n')
                continue;
            const char *colon = memchr(in + start, ':', i - start);
            if (colon != NULL)
                tn_headers_add(h, in + start, (size_t)(colon - in - start), colon + 1,
                               (size_t)(in + i - colon - 1));
            start = i + 1;
        }
        char *joined;
        if (tn_headers_get_combined(h, "x", &joined, NULL) == 0)
            tn_free(joined);
        tn_headers_set(h, "x", 1, "y", 1);
        tn_headers_remove(h, "a");
        tn_headers_free(h);
        break;
    }
    }
    tn_args_free(args);
    return 0;
}
