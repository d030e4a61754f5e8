/* Internal: FIFO wait lists shared by locks.c and queues.c.
 *
 * A wait is granted in the call that causes it (release, notify, set, put,
 * get) and delivered later, on a drain: between the two the waiter is
 * "granted, not yet delivered". Its timer is removed at the grant, so a
 * timeout can never take back a grant; a cancel in that window asks the
 * owner to pass what was granted on (ungrant), so no permit, notification
 * or item is ever lost. */
#ifndef TN_LIB_WAITERS_H
#define TN_LIB_WAITERS_H

#include "loop_defer.h"
#include "tornuv/locks.h"

/* The head of every object that has wait lists: it is freed once the user
 * freed it and no waiter of it is left to deliver. */
typedef struct {
    tn_ioloop_t *loop;
    int refs, freed;
    void (*destroy)(void *self);
} tn__waitable_t;

typedef struct tn__waiter_s tn__waiter_t;
typedef struct tn__wq_s tn__wq_t;

struct tn__waiter_s {
    tn__waiter_t *prev, *next;
    tn__wq_t *wq;
    tn_wait_id id;
    tn_timeout_id timer;
    int state, status;
    void *item;   /* queues: the item being put or handed over */
    uint64_t seq; /* queues: the item's insertion order */
    void (*cb)(void);
    void *arg;
    tn__qnode_t node;
};

struct tn__wq_s {
    tn__waitable_t *owner;
    tn__waiter_t *head, *tail;        /* waiting, oldest first */
    tn__waiter_t *granted;            /* granted, delivery queued */
    void (*deliver)(tn__waiter_t *w); /* runs the typed callback */
    /* A granted waiter was cancelled before its delivery: pass on what it
     * got and return 0, or nonzero when the grant must stand (the cancel is
     * refused with TN_EALREADY). NULL: grants always stand. */
    int (*ungrant)(tn__waiter_t *w);
};

void tn__waitable_init(tn__waitable_t *o, tn_ioloop_t *loop, void (*destroy)(void *));
/* The user frees the object: called after its lists were closed. */
void tn__waitable_release(tn__waitable_t *o);

void tn__wq_init(tn__wq_t *wq, tn__waitable_t *owner, void (*deliver)(tn__waiter_t *),
                 int (*ungrant)(tn__waiter_t *));
/* Queues a waiter at the tail (timeout_ms 0: no timeout). NULL on
 * allocation failure. */
tn__waiter_t *tn__wq_add(tn__wq_t *wq, uint64_t timeout_ms, void (*cb)(void), void *arg);
/* A waiter granted at once, without waiting. */
tn__waiter_t *tn__wq_add_granted(tn__wq_t *wq, void (*cb)(void), void *arg, int status);
/* The oldest waiter still waiting, or NULL. */
tn__waiter_t *tn__wq_first(const tn__wq_t *wq);
/* Takes w off the waiting list and queues its delivery with status. */
void tn__wq_grant(tn__waiter_t *w, int status);
/* Cancels the waiter with id: a waiting one completes with TN_ECANCELED, a
 * granted one is ungranted first. Returns 0, or TN_ENOTFOUND (unknown, or
 * already delivered), or TN_EALREADY (a grant that stands). */
int tn__wq_cancel(tn__wq_t *wq, tn_wait_id id);
/* Completes every waiting waiter with status (TN_ECLOSED at free). */
void tn__wq_close(tn__wq_t *wq, int status);

#endif
