/* HTTP client test helpers (see hc_env.h). */
#include "hc_env.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop_util.h"
#include "net_peer.h"

void hc_env_open(hc_env_t *e, tn_httpserver_options_t *srv_opts,
                 const tn_httpclient_options_t *cli_opts)
{
    memset(e, 0, sizeof *e);
    e->loop = tn_test_loop_new();
    if (srv_opts) {
        cr_assert_eq(tn_httpserver_new(e->loop, srv_opts, &e->srv), 0);
        cr_assert_eq(tn_httpserver_listen(e->srv, 0, "127.0.0.1"), 0);
        e->port = tn_httpserver_port(e->srv);
        snprintf(e->base, sizeof e->base, "http://127.0.0.1:%d", e->port);
    }
    cr_assert_eq(tn_httpclient_new(e->loop, cli_opts, &e->cli), 0);
}

static void on_freed(void *arg)
{
    *(int *)arg = 1;
}

void hc_env_close(hc_env_t *e)
{
    int cfreed = e->cli == NULL, sfreed = 0;
    /* The client goes first, and the server gets to see its connections
     * close before it is freed itself. */
    if (e->cli)
        tn_httpclient_free(e->cli, on_freed, &cfreed);
    for (int i = 0; i < 400 && !cfreed; i++)
        tn_test_settle(e->loop, 5);
    cr_assert(cfreed, "client not freed");
    tn_test_settle(e->loop, 30);
    if (e->srv) {
        tn_httpserver_free(e->srv, on_freed, &sfreed);
        for (int i = 0; i < 400 && !sfreed; i++)
            tn_test_settle(e->loop, 5);
        cr_assert(sfreed, "server not freed");
    }
    tn_test_settle(e->loop, 10);
    tn_test_close(e->loop, 0);
}

void hc_on_done(tn_fetch_t *f, int status, void *arg)
{
    hc_res_t *r = arg;
    const char *v;
    size_t n;
    r->calls++;
    r->status = status;
    r->code = tn_fetch_code(f);
    r->body = tn_fetch_steal_body(f, &r->len);
    snprintf(r->url, sizeof r->url, "%s", tn_fetch_effective_url(f));
    snprintf(r->err, sizeof r->err, "%s", tn_fetch_error_message(f));
    snprintf(r->reason, sizeof r->reason, "%s", tn_fetch_reason(f));
    if ((v = tn_headers_get(tn_fetch_headers(f), "Location", &n)))
        snprintf(r->location, sizeof r->location, "%.*s", (int)n, v);
    if ((v = tn_headers_get(tn_fetch_headers(f), "X-Consumed-Content-Encoding", &n)))
        snprintf(r->xcce, sizeof r->xcce, "%.*s", (int)n, v);
    if ((v = tn_headers_get(tn_fetch_headers(f), "Content-Encoding", &n)))
        snprintf(r->ce, sizeof r->ce, "%.*s", (int)n, v);
    tn_fetch_timings(f, &r->t);
    if (r->env && --r->env->pending == 0)
        tn_ioloop_stop(r->env->loop);
}

int hc_start(hc_env_t *e, const char *path, const tn_fetch_options_t *o, hc_res_t *r)
{
    char url[600];
    if (strncmp(path, "http", 4) == 0)
        snprintf(url, sizeof url, "%s", path);
    else
        snprintf(url, sizeof url, "%s%s", e->base, path);
    r->env = e;
    int rc = tn_httpclient_fetch(e->cli, url, o, hc_on_done, r, NULL);
    if (rc == 0)
        e->pending++;
    return rc;
}

void hc_wait(hc_env_t *e, uint64_t ms)
{
    if (e->pending > 0)
        tn_test_run(e->loop, ms);
    cr_assert_eq(e->pending, 0, "%d fetches still pending", e->pending);
}

void hc_fetch(hc_env_t *e, const char *path, const tn_fetch_options_t *o, hc_res_t *r)
{
    cr_assert_eq(hc_start(e, path, o, r), 0, "fetch %s refused", path);
    hc_wait(e, 10000);
    cr_assert_eq(r->calls, 1);
}

void hc_res_free(hc_res_t *r)
{
    tn_free(r->body);
    r->body = NULL;
}
