/* Client benchmark, tornuv side: N keep-alive GETs of one URL with C in
 * flight, through tn_httpclient (max_clients = C, pool of C per origin).
 *
 *   client_tornuv URL N C
 *
 * Prints "requests wall_s cpu_s req_per_cpu_s" (CPU = this process, user +
 * system, from getrusage). Exit 1 when any fetch fails. */
#include <stdio.h>
#include <stdlib.h>

#include "client_clock.h"

#include "tornuv.h"

static tn_ioloop_t *loop;
static tn_httpclient_t *client;
static const char *url;
static long total, started, finished, failed;

static void on_done(tn_fetch_t *f, int status, void *arg);

static void start_one(void)
{
    if (started >= total)
        return;
    started++;
    if (tn_httpclient_fetch(client, url, NULL, on_done, NULL, NULL) != 0) {
        failed++;
        finished++;
    }
}

static void on_freed(void *arg)
{
    tn_ioloop_stop(arg);
}

static void on_done(tn_fetch_t *f, int status, void *arg)
{
    size_t n;
    (void)arg;
    tn_fetch_body(f, &n);
    if (status != 0 || n != 12)
        failed++;
    if (++finished == total)
        tn_httpclient_free(client, on_freed, loop);
    else
        start_one();
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: client_tornuv URL N C\n");
        return 2;
    }
    url = argv[1];
    total = atol(argv[2]);
    long c = atol(argv[3]);
    if (total < 1 || c < 1)
        return 2;
    if (tn_ioloop_new(&loop) != 0)
        return 1;
    tn_httpclient_options_t o = {.max_clients = (size_t)c, .max_idle_per_host = (size_t)c};
    if (tn_httpclient_new(loop, &o, &client) != 0)
        return 1;
    double c0 = cpu_s(), w0 = wall_s();
    for (long i = 0; i < c; i++)
        start_one();
    tn_ioloop_start(loop);
    double cpu = cpu_s() - c0, wall = wall_s() - w0;
    tn_ioloop_close(loop, TN_CLOSE_ALL_FDS);
    printf("%ld %.3f %.3f %.0f\n", finished, wall, cpu, cpu > 0 ? (double)finished / cpu : 0);
    if (failed)
        fprintf(stderr, "client_tornuv: %ld failed\n", failed);
    return failed ? 1 : 0;
}
