/* Helpers for the HTTP client tests: a loop, a tornuv HTTPServer on
 * 127.0.0.1:0 with the test's request callback, a client, fetches run to
 * completion with a watchdog, and a teardown that asserts the loop closes
 * with nothing left alive. */
#ifndef TN_TEST_HC_ENV_H
#define TN_TEST_HC_ENV_H

#include "tornuv.h"

typedef struct {
    tn_ioloop_t *loop;
    tn_httpserver_t *srv;
    tn_httpclient_t *cli;
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" */
    int pending;   /* fetches not done yet; the loop stops at 0 */
} hc_env_t;

/* One fetch's outcome, copied out of its done callback. */
typedef struct {
    int calls;
    int status;
    int code;
    char *body;
    size_t len;
    char url[512];
    char err[256];
    char reason[64];
    char location[256];
    char xcce[64]; /* X-Consumed-Content-Encoding */
    char ce[64];   /* Content-Encoding */
    tn_fetch_timings_t t;
    hc_env_t *env;
} hc_res_t;

/* Starts loop, server (srv_opts may be NULL; its request_cb is used) and a
 * client (cli_opts may be NULL). */
void hc_env_open(hc_env_t *e, tn_httpserver_options_t *srv_opts,
                 const tn_httpclient_options_t *cli_opts);
/* Frees client and server and asserts a clean loop close. */
void hc_env_close(hc_env_t *e);

/* The done callback that fills an hc_res_t (arg) and counts down. */
void hc_on_done(tn_fetch_t *f, int status, void *arg);
/* Starts a fetch of base+path (or path when it starts with "http"). */
int hc_start(hc_env_t *e, const char *path, const tn_fetch_options_t *o, hc_res_t *r);
/* Runs the loop until every started fetch is done (asserting within ms). */
void hc_wait(hc_env_t *e, uint64_t ms);
/* hc_start + hc_wait; asserts the start succeeded. */
void hc_fetch(hc_env_t *e, const char *path, const tn_fetch_options_t *o, hc_res_t *r);
void hc_res_free(hc_res_t *r);

#endif
