/* An in-memory transport for deterministic IOStream tests: the test feeds
 * input in chunks of its choosing, reads back what the stream wrote, and
 * decides when asynchronous writes complete. */
#ifndef TN_TEST_MEMTRANSPORT_H
#define TN_TEST_MEMTRANSPORT_H

#include "loop_defer.h"
#include "tornuv/transport.h"

typedef struct {
    tn_ioloop_t *loop;
    tn_iostream_t *stream;
    int reading;           /* read_start'ed */
    int closed;            /* ops->close called */
    int shut;              /* ops->shutdown called (FIN sent) */
    int accept_limit;      /* try_write accepts at most this many bytes per call (< 0: all) */
    size_t pending_writes; /* ops->write calls not yet completed */
    char *out;             /* everything written, in order */
    size_t out_len, out_cap;
    tn__qnode_t close_node; /* the close completion, queued without allocating */
} tn_mt_t;

/* Creates a stream over a new memory transport (asserting success). The
 * transport's own records use the C library's allocator, not tornuv's, so a
 * test that injects allocation failures only fails the library's. */
tn_mt_t *tn_mt_new(tn_ioloop_t *loop, const tn_iostream_options_t *opts);
/* The same, returning NULL when tn_iostream_new reports TN_ENOMEM. */
tn_mt_t *tn_mt_try_new(tn_ioloop_t *loop, const tn_iostream_options_t *opts);
/* Delivers data to the stream in chunks of at most chunk bytes (0: one
 * chunk), as a transport would; only while the stream is reading (returns
 * the number of bytes delivered). */
size_t tn_mt_feed(tn_mt_t *mt, const char *data, size_t len, size_t chunk);
/* The peer closed (EOF) or failed (err < 0). */
void tn_mt_eof(tn_mt_t *mt, long err);
/* Completes every outstanding ops->write with status. */
void tn_mt_complete_writes(tn_mt_t *mt, int status);
/* Runs one loop drain (callbacks queued so far). */
void tn_mt_turn(tn_ioloop_t *loop);
/* Frees the transport record once the stream is gone. */
void tn_mt_free(tn_mt_t *mt);

#endif
