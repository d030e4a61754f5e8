/* What hello_http and demo share for --workers N: run N worker loops on the
 * port until SIGINT or SIGTERM, with a two-second grace for requests in
 * flight, on a main loop that only waits for them. Header-only. */
#ifndef TN_EXAMPLES_SERVE_WORKERS_H
#define TN_EXAMPLES_SERVE_WORKERS_H

#include <stdio.h>

#include "tornuv.h"

static inline void example_workers_stopped(tn_workers_t *workers, void *arg)
{
    (void)workers;
    tn_ioloop_stop(arg);
}

/* Serves until a signal stops the workers; prints "<name>: listening on
 * scheme://address:port/ with n workers". Returns the exit status. */
static inline int example_serve_workers(const char *name, const char *scheme,
                                        tn_worker_start_cb start, tn_worker_stop_cb stop, void *arg,
                                        int port, const char *address, unsigned n)
{
    tn_ioloop_t *loop = NULL;
    tn_workers_t *workers = NULL;
    tn_workers_options_t wo = {.count = n,
                               .port = port,
                               .address = address,
                               .on_start = start,
                               .on_stop = stop,
                               .arg = arg,
                               .grace_ms = 2000,
                               .stop_on_signals = 1,
                               .on_stopped = example_workers_stopped};
    int err = tn_ioloop_new(&loop);
    if (err == 0) {
        wo.stopped_arg = loop;
        err = tn_workers_start(loop, &wo, &workers);
    }
    if (err != 0) {
        fprintf(stderr, "%s: %u workers on %s:%d: %s\n", name, n, address, port, tn_strerror(err));
        if (loop)
            tn_ioloop_close(loop, TN_CLOSE_ALL_FDS);
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("%s: listening on %s://%s:%d/ with %u workers\n", name, scheme, address,
           tn_workers_port(workers), n);
    tn_ioloop_start(loop);
    printf("%s: stopping\n", name);
    tn_workers_free(workers);
    return tn_ioloop_close(loop, TN_CLOSE_ALL_FDS) == 0 ? 0 : 1;
}

#endif
