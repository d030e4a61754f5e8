/* An HTTPServer listening on loopback for tests that drive it with real
 * sockets: opened on an ephemeral port, freed with the loop turning. */
#ifndef TN_TEST_HTTP_LOOPBACK_H
#define TN_TEST_HTTP_LOOPBACK_H

#include "tornuv.h"

typedef struct {
    tn_ioloop_t *loop;
    tn_httpserver_t *srv;
    int port;
    int freed;
} tn_hs_t;

/* A new loop and a server with options o (a request_cb or delegate set)
 * listening on 127.0.0.1 at an ephemeral port; asserts success. */
void tn_hs_open(tn_hs_t *s, const tn_httpserver_options_t *o);

/* Frees the server, running the loop until it is released, then closes
 * the loop (asserting both). */
void tn_hs_close(tn_hs_t *s);

#endif
