/* In-memory HTTP clients (see mt_http.h). */
#include "mt_http.h"

#include <criterion/criterion.h>
#include <string.h>

#include "loop_util.h"

tn_mh_t tn_mh_connect(tn_ioloop_t *loop, tn_httpserver_t *server, const char *ip)
{
    tn_mh_t c;
    c.loop = loop;
    c.mt = tn_mt_new(loop, NULL);
    cr_assert_eq(tn_httpserver_handle_stream(server, c.mt->stream, ip), 0);
    return c;
}

void tn_mh_turns(tn_mh_t *c, int n)
{
    for (int i = 0; i < n; i++)
        tn_mt_turn(c->loop);
}

size_t tn_mh_send(tn_mh_t *c, const char *data, size_t len, size_t chunk)
{
    size_t done = 0;
    for (int spins = 0; done < len && spins < 10000 && !c->mt->closed; spins++) {
        done += tn_mt_feed(c->mt, data + done, len - done, chunk ? chunk : len);
        tn_mt_turn(c->loop);
    }
    tn_mh_turns(c, 3);
    return done;
}

size_t tn_mh_sends(tn_mh_t *c, const char *s)
{
    return tn_mh_send(c, s, strlen(s), 0);
}

int tn_mh_count(const tn_mh_t *c, const char *needle)
{
    int n = 0;
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= c->mt->out_len; i++)
        if (memcmp(c->mt->out + i, needle, k) == 0)
            n++;
    return n;
}

int tn_mh_starts(const tn_mh_t *c, const char *prefix)
{
    size_t k = strlen(prefix);
    return c->mt->out_len >= k && memcmp(c->mt->out, prefix, k) == 0;
}

const char *tn_mh_last_body(const tn_mh_t *c)
{
    static char body[1 << 16];
    const char *out = c->mt->out, *last = NULL;
    size_t n = c->mt->out_len;
    for (size_t i = 0; i + 9 <= n; i++)
        if (memcmp(out + i, "HTTP/1.", 7) == 0 && (i == 0 || out[i - 1] == '\n'))
            last = out + i;
    body[0] = 0;
    if (!last)
        return body;
    const char *end = out + n;
    for (const char *p = last; p + 4 <= end; p++) {
        if (memcmp(p, "\r\n\r\n", 4) == 0) {
            size_t len = (size_t)(end - (p + 4));
            if (len >= sizeof body)
                len = sizeof body - 1;
            memcpy(body, p + 4, len);
            body[len] = 0;
            break;
        }
    }
    return body;
}

void tn_mh_clear(tn_mh_t *c)
{
    c->mt->out_len = 0;
}

static void on_freed(void *arg)
{
    *(int *)arg = 1;
}

void tn_mh_finish(tn_ioloop_t *loop, tn_httpserver_t *server, tn_mh_t *clients, size_t n)
{
    int freed = 0;
    tn_httpserver_free(server, on_freed, &freed);
    for (int i = 0; i < 100 && !freed; i++)
        tn_mt_turn(loop);
    cr_assert_eq(freed, 1, "server freed");
    for (size_t i = 0; i < n; i++)
        tn_mt_free(clients[i].mt);
    tn_test_close(loop, 0);
}
