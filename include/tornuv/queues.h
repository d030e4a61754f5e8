/* tornuv queues: Tornado's tornado.queues (Queue, PriorityQueue, LifoQueue)
 * for callbacks on one loop, to coordinate producers and consumers.
 *
 * Items are void pointers; the queue owns the ones it holds (free_item, if
 * set, frees what is left when the queue is freed). put and get take a
 * relative timeout in milliseconds (0 = wait forever; "don't wait" is the
 * _nowait call) and a callback that runs exactly once, never inside the
 * call, with the rules of locks.h: granted in the call that causes it,
 * delivered on a later drain, oldest waiter first, nothing lost when a
 * waiter is cancelled between its grant and its delivery. Loop thread only.
 */
#ifndef TORNUV_QUEUES_H
#define TORNUV_QUEUES_H

#include "common.h"
#include "ioloop.h"
#include "locks.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_queue_s tn_queue_t;

/** Queue kinds. */
enum { TN_QUEUE_FIFO = 0, TN_QUEUE_LIFO, TN_QUEUE_PRIORITY };

/** Options; zero fields take the defaults. */
typedef struct {
    size_t maxsize; /**< items held before put waits; 0 = unbounded */
    int kind;       /**< TN_QUEUE_FIFO (default), _LIFO or _PRIORITY */
    /** PRIORITY (required there): negative when a comes first; equal
     * priorities come out in insertion order. */
    int (*cmp)(const void *a, const void *b);
    /** Frees items still held when the queue is freed (NULL: left alone). */
    void (*free_item)(void *item);
} tn_queue_options_t;

/** A put ended: 0 (the item is in the queue, or handed to a getter: the
 * queue's now), or TN_ETIMEOUT / TN_ECANCELED / TN_ECLOSED (the item is
 * still the caller's). */
typedef void (*tn_queue_put_cb)(tn_queue_t *q, int status, void *arg);
/** A get ended: 0 with the item (the callback's now), or TN_ETIMEOUT /
 * TN_ECANCELED / TN_ECLOSED with item NULL. A join's callback has this
 * shape too, with item NULL. */
typedef void (*tn_queue_get_cb)(tn_queue_t *q, int status, void *item, void *arg);

/** Creates a queue. Returns 0, TN_EINVAL (PRIORITY without cmp, unknown
 * kind) or TN_ENOMEM.
 * Tornado: Queue(maxsize) / PriorityQueue / LifoQueue. */
TN_EXTERN int tn_queue_new(tn_ioloop_t *loop, const tn_queue_options_t *opts, tn_queue_t **out);

/** Frees the queue: pending puts, gets and joins complete with TN_ECLOSED
 * (later; the queue pointer they get must not be used), items still held
 * go to free_item. NULL is a no-op. Tornado: none (garbage collection). */
TN_EXTERN void tn_queue_free(tn_queue_t *q);

/** Puts without waiting: handed to the oldest waiting getter, else held.
 * Returns 0 (the item is the queue's), TN_EBUFFULL (full: Tornado's
 * QueueFull; the item stays the caller's) or TN_ENOMEM.
 * Tornado: Queue.put_nowait(item). */
TN_EXTERN int tn_queue_put_nowait(tn_queue_t *q, void *item);

/** Puts, waiting up to timeout_ms (0 = forever) while the queue is full.
 * Returns the wait's id, or 0 (NULL cb, out of memory: the item stays the
 * caller's and cb never runs). Tornado: Queue.put(item, timeout). */
TN_EXTERN tn_wait_id tn_queue_put(tn_queue_t *q, void *item, uint64_t timeout_ms,
                                  tn_queue_put_cb cb, void *arg);

/** Gets without waiting: the next item (taking in the oldest waiting
 * putter's item, which completes that put). Returns 0 with *item set, or
 * TN_EEMPTY (Tornado's QueueEmpty). Tornado: Queue.get_nowait(). */
TN_EXTERN int tn_queue_get_nowait(tn_queue_t *q, void **item);

/** Gets the next item, waiting up to timeout_ms (0 = forever). Returns the
 * wait's id or 0. Tornado: Queue.get(timeout). */
TN_EXTERN tn_wait_id tn_queue_get(tn_queue_t *q, uint64_t timeout_ms, tn_queue_get_cb cb,
                                  void *arg);

/** Cancels a put, get or join (TN_ECANCELED). A get granted an item but not
 * yet called back gives the item to the next getter or back to the head of
 * the queue. A put already accepted cannot be taken back: TN_EALREADY.
 * Returns 0, TN_ENOTFOUND or TN_EALREADY.
 * Tornado: cancelling the Future that put/get/join returned. */
TN_EXTERN int tn_queue_cancel(tn_queue_t *q, tn_wait_id id);

/** Marks one item taken with get as processed. Returns 0, or TN_EINVAL
 * when called more times than items were put ("task_done() called too
 * many times"). Tornado: Queue.task_done(). */
TN_EXTERN int tn_queue_task_done(tn_queue_t *q);

/** Waits until every item put has been marked with task_done (at once when
 * none is unfinished), up to timeout_ms (0 = forever); cb gets item NULL.
 * Returns the wait's id or 0. Tornado: Queue.join(timeout). */
TN_EXTERN tn_wait_id tn_queue_join(tn_queue_t *q, uint64_t timeout_ms, tn_queue_get_cb cb,
                                   void *arg);

/** Items held now. Tornado: Queue.qsize(). */
TN_EXTERN size_t tn_queue_size(const tn_queue_t *q);

/** Items put and not yet marked done. Tornado: Queue._unfinished_tasks. */
TN_EXTERN size_t tn_queue_unfinished(const tn_queue_t *q);

/** Nonzero when maxsize is set and reached. Tornado: Queue.full(). */
TN_EXTERN int tn_queue_full(const tn_queue_t *q);

/** Nonzero when no item is held. Tornado: Queue.empty(). */
TN_EXTERN int tn_queue_empty(const tn_queue_t *q);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_QUEUES_H */
