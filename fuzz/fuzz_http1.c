/* libFuzzer target: arbitrary bytes through the strict HTTP/1 request parser,
 * delivered in arbitrary pieces (sizes taken from the first input bytes) to a
 * buffer that keeps unconsumed bytes, as the connection's read buffer does.
 * The connection-level target (over the memory transport) joins once the
 * HTTP1Connection lands; this one already covers scanner, llhttp and framing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

static int on_headers(tn__h1parser_t *p, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < p->field_count; i++)
        sink += p->fields[i].name_len + p->fields[i].value_len +
                (p->fields[i].name_len ? (unsigned char)p->fields[i].name[0] : 0);
    sink += p->method_len + p->url_len;
    return 0;
}

static int on_body(tn__h1parser_t *p, const char *d, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    if (n)
        sink += (unsigned char)d[0] + (unsigned char)d[n - 1];
    return 0;
}

static int on_complete(tn__h1parser_t *p, void *arg)
{
    (void)p;
    (void)arg;
    return 0;
}

static const tn__h1parser_cbs_t cbs = {on_headers, on_body, on_complete};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tn__h1parser_t p;
    tn__h1parser_limits_t lim = {.max_header_size = 2048,
                                 .max_header_count = 16,
                                 .max_body_size = 4096,
                                 .max_chunk_ext_size = 64};
    uint8_t split[4] = {1, 1, 1, 1};
    size_t have = 0, pos = 0, k = 0;
    char *buf;
    for (size_t i = 0; i < 4 && i < size; i++)
        split[i] = data[i] ? data[i] : 1;
    if (size >= 4) {
        data += 4;
        size -= 4;
    }
    buf = malloc(size + 1);
    if (!buf || tn__h1parser_init(&p, &lim, &cbs, NULL) != 0) {
        free(buf);
        return 0;
    }
    while (pos < size) {
        size_t n = split[k++ % 4];
        if (n > size - pos)
            n = size - pos;
        memcpy(buf + have, data + pos, n);
        have += n;
        pos += n;
        for (;;) {
            long long c = tn__h1parser_feed(&p, buf, have);
            if (c < 0)
                goto out;
            if ((size_t)c > have)
                abort(); /* consumed more than it was given */
            memmove(buf, buf + c, have - (size_t)c);
            have -= (size_t)c;
            if (!tn__h1parser_done(&p))
                break;
            tn__h1parser_next(&p);
        }
    }
out:
    tn__h1parser_free(&p);
    free(buf);
    return 0;
}
