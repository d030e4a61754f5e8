/* Internal: the loop's teardown-proof deferral, implemented in shim/ (see
 * shim/loop_internal.h). Declared here without libuv types so lib/ can use
 * it: an object being closed during close(all)/detach must still deliver its
 * TN_ECLOSED completions, which tn_ioloop_add_callback refuses by then. */
#ifndef TN_LIB_LOOP_DEFER_H
#define TN_LIB_LOOP_DEFER_H

#include "tornuv/ioloop.h"

/* One entry of the loop's callback queue. The queue allocates one per
 * add_callback; an object that must never lose a completion embeds its own
 * (a timeout, a stream's delivery and close notification, a queued write). */
typedef struct tn__qnode_s tn__qnode_t;
struct tn__qnode_s {
    tn__qnode_t *prev, *next;
    tn_callback_cb cb;
    void *arg;
    uint64_t seq; /* position in the loop's one FIFO order */
    int embedded; /* not allocated by the queue: never freed by it */
    int internal; /* a library completion: kept when user callbacks are dropped */
};

/* Queues cb(loop, arg) like tn_ioloop_add_callback, but also while the loop
 * is closing. Returns 0, TN_ENOMEM, or TN_EDETACHED once teardown finished. */
int tn__loop_defer(tn_ioloop_t *loop, tn_callback_cb cb, void *arg);

/* The same without allocating: node (owned by the caller, not queued
 * already) is linked into the queue until cb runs, so it must stay valid
 * until then. Fails only with TN_EDETACHED, once teardown finished. This is
 * what makes "the callback runs exactly once" hold out of memory. */
int tn__loop_defer_node(tn_ioloop_t *loop, tn__qnode_t *node, tn_callback_cb cb, void *arg);

#endif
