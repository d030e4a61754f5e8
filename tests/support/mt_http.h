/* HTTP clients over the in-memory transport: each one is a stream handed to
 * a server with tn_httpserver_handle_stream; the test feeds request bytes
 * and reads back what the server wrote, deterministically. */
#ifndef TN_TEST_MT_HTTP_H
#define TN_TEST_MT_HTTP_H

#include "memtransport.h"
#include "tornuv.h"

typedef struct {
    tn_ioloop_t *loop;
    tn_mt_t *mt;
} tn_mh_t;

/* A new client connection to server (asserting success). */
tn_mh_t tn_mh_connect(tn_ioloop_t *loop, tn_httpserver_t *server, const char *ip);
/* Feeds len bytes in chunks of chunk (0 = all at once), turning the loop
 * while the server is not reading; then a few more turns. Returns the
 * bytes the server took. */
size_t tn_mh_send(tn_mh_t *c, const char *data, size_t len, size_t chunk);
/* tn_mh_send of a string. */
size_t tn_mh_sends(tn_mh_t *c, const char *s);
/* Runs n loop drains. */
void tn_mh_turns(tn_mh_t *c, int n);
/* Occurrences of needle in what the server wrote. */
int tn_mh_count(const tn_mh_t *c, const char *needle);
/* Nonzero when the output starts with prefix. */
int tn_mh_starts(const tn_mh_t *c, const char *prefix);
/* The body of the last response in the output (after its blank line),
 * NUL-terminated in a static buffer. */
const char *tn_mh_last_body(const tn_mh_t *c);
/* Forgets the output so far. */
void tn_mh_clear(tn_mh_t *c);
/* Frees the server (running the loop until it is released), then every
 * client in clients[0..n), then closes the loop. */
void tn_mh_finish(tn_ioloop_t *loop, tn_httpserver_t *server, tn_mh_t *clients, size_t n);

#endif
