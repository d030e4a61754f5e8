/* Loopback HTTP servers for tests (see http_loopback.h). */
#include "http_loopback.h"

#include <criterion/criterion.h>
#include <string.h>

#include "loop_util.h"
#include "net_peer.h"

void tn_hs_open(tn_hs_t *s, const tn_httpserver_options_t *o)
{
    memset(s, 0, sizeof *s);
    s->loop = tn_test_loop_new();
    cr_assert_eq(tn_httpserver_new(s->loop, o, &s->srv), 0);
    cr_assert_eq(tn_httpserver_listen(s->srv, 0, "127.0.0.1"), 0);
    s->port = tn_httpserver_port(s->srv);
    cr_assert(s->port > 0);
}

static void on_freed(void *arg)
{
    ((tn_hs_t *)arg)->freed = 1;
}

void tn_hs_close(tn_hs_t *s)
{
    tn_httpserver_free(s->srv, on_freed, s);
    for (int i = 0; i < 200 && !s->freed; i++)
        tn_test_settle(s->loop, 5);
    cr_assert(s->freed);
    tn_test_close(s->loop, 0);
}
