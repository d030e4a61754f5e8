/* libFuzzer target: arbitrary bytes through the HTTP client's response
 * parser, delivered in arbitrary pieces (sizes from the first input bytes)
 * to a buffer that keeps unconsumed bytes, as the client's read_some does,
 * with pauses in the body, then EOF. Checks the parser's own promises: it
 * never consumes more than it was given, the body stays within max_body,
 * and exactly one completion comes before done. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpclient_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

typedef struct {
    uint64_t body;
    int completes;
    int pause_every;
    int spans;
} st_t;

static int on_head(tn__h1resp_t *p, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < p->field_count; i++)
        sink += p->fields[i].name_len + p->fields[i].value_len;
    sink += p->head_len + p->reason_len + (size_t)p->code;
    return 0;
}

static int on_body(tn__h1resp_t *p, const char *d, size_t n, void *arg)
{
    st_t *s = arg;
    s->body += n;
    if (n)
        sink += (unsigned char)d[0] + (unsigned char)d[n - 1];
    if (s->pause_every && ++s->spans % s->pause_every == 0)
        p->pause = 1;
    return 0;
}

static int on_complete(tn__h1resp_t *p, void *arg)
{
    (void)p;
    ((st_t *)arg)->completes++;
    return 0;
}

static const tn__h1resp_cbs_t cbs = {on_head, on_body, on_complete};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tn__h1resp_t p;
    st_t st = {0};
    if (size < 3)
        return 0;
    size_t piece = (size_t)data[0] + 1;
    st.pause_every = data[1] & 7;
    int head_req = data[2] & 1;
    data += 3;
    size -= 3;
    if (tn__h1resp_init(&p, 2048, 4096, &cbs, &st) != 0)
        return 0;
    p.head_request = (unsigned char)head_req;
    char *buf = malloc(size + 1);
    size_t blen = 0, pos = 0;
    int dead = 0;
    for (size_t rounds = 0;
         rounds < size + 64 && !dead && !tn__h1resp_done(&p) && (pos < size || p.pause); rounds++) {
        size_t k = size - pos < piece ? size - pos : piece;
        memcpy(buf + blen, data + pos, k);
        blen += k;
        pos += k;
        p.pause = 0; /* resume */
        long long n = tn__h1resp_feed(&p, buf, blen);
        if (n < 0) {
            dead = 1;
            break;
        }
        if ((size_t)n > blen)
            abort();
        memmove(buf, buf + n, blen - (size_t)n);
        blen -= (size_t)n;
        if (k == 0 && n == 0)
            break;
    }
    if (!dead)
        (void)tn__h1resp_eof(&p);
    if (st.body > 4096 || st.completes > 1 || (tn__h1resp_done(&p) && st.completes != 1))
        abort();
    tn__h1resp_free(&p);
    free(buf);
    return 0;
}
