/* tornuv futures: an opt-in composition layer over callbacks (Tornado's
 * Future, gen.with_timeout, gen.multi, chain_future). No tornuv I/O call
 * returns a future; small adapter callbacks (tn_future_*_cb below) let any
 * callback-style operation complete one, and the composition functions
 * combine them.
 *
 * A future is loop-affine and reference counted (tn_future_new gives the
 * caller one reference). It is pending until resolved with a status (0 or
 * a negative code) and an optional value it then owns (freed with the
 * given function when the last reference goes). Done callbacks always run
 * on a later drain of the loop, in the order they were added, also when
 * the future was already done (IOLoop.add_future semantics); each holds a
 * reference until it returned. A future with callbacks stays alive until
 * it is resolved or cancelled: resolve every future you create.
 *
 * Loop thread only, except tn_future_resolve_threadsafe. */
#ifndef TORNUV_FUTURE_H
#define TORNUV_FUTURE_H

#include "common.h"
#include "ioloop.h"
#include "iostream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_future_s tn_future_t;
/** A done callback: f is done (tn_future_status, tn_future_value). */
typedef void (*tn_future_cb)(tn_future_t *f, void *arg);
/** Frees a future's value. */
typedef void (*tn_value_free_fn)(void *value);

/** Creates a pending future holding one reference for the caller.
 * Returns 0, TN_EINVAL or TN_ENOMEM.
 * Tornado: tornado.concurrent.Future(). */
TN_EXTERN int tn_future_new(tn_ioloop_t *loop, tn_future_t **out);

/** Takes another reference. Tornado: none (Python references). */
TN_EXTERN void tn_future_ref(tn_future_t *f);

/** Drops a reference; the last one frees the future and its value (with
 * its free function). NULL is a no-op. Tornado: none. */
TN_EXTERN void tn_future_unref(tn_future_t *f);

/** Resolves a pending future with status (0 = success, else a negative
 * code) and value (owned by the future from now on, freed with free_fn;
 * both may be NULL). Schedules the done callbacks. Returns 0, or
 * TN_EALREADY when the future is already done or cancelled: value then
 * stays the caller's (Tornado's future_set_result_unless_cancelled).
 * Tornado: Future.set_result / set_exception. */
TN_EXTERN int tn_future_resolve(tn_future_t *f, int status, void *value, tn_value_free_fn free_fn);

/** The same from any thread: the resolution happens on the loop thread
 * (through tn_ioloop_add_callback). It consumes one reference, which the
 * caller took on the loop thread before handing f to the other thread, so
 * f stays alive until then. If the future is done by the time it lands,
 * value is freed with free_fn. Returns 0, TN_ENOMEM or TN_EDETACHED (the
 * loop is closing: nothing happened, the reference and value are still
 * the caller's). Tornado: IOLoop.add_callback(future.set_result, ...) /
 * chain_future from a concurrent.futures.Future. */
TN_EXTERN int tn_future_resolve_threadsafe(tn_future_t *f, int status, void *value,
                                           tn_value_free_fn free_fn);

/** Resolves a pending future with TN_ECANCELED. Returns 0, or TN_EALREADY
 * when it is already done. Tornado: Future.cancel(). */
TN_EXTERN int tn_future_cancel(tn_future_t *f);

/** TN_EPENDING while pending, else the status it was resolved with.
 * Tornado: Future.done() / exception(). */
TN_EXTERN int tn_future_status(const tn_future_t *f);

/** The value (NULL while pending), borrowed while a reference is held.
 * Tornado: Future.result(). */
TN_EXTERN void *tn_future_value(const tn_future_t *f);

/** Nonzero when done (resolved or cancelled). Tornado: Future.done(). */
TN_EXTERN int tn_future_done(const tn_future_t *f);

/** Adds a done callback: it runs once, on a later drain (never inside this
 * call, even if f is done), in the order added. Returns 0 or TN_ENOMEM.
 * Tornado: IOLoop.add_future(future, callback). */
TN_EXTERN int tn_future_add_done_callback(tn_future_t *f, tn_future_cb cb, void *arg);

/** When a is done, resolves b the same way unless b is done by then; b
 * borrows a's value (and keeps a alive for it). Returns 0 or TN_ENOMEM.
 * Tornado: tornado.concurrent.chain_future(a, b). */
TN_EXTERN int tn_future_chain(tn_future_t *a, tn_future_t *b);

/** with_timeout flag: cancel the wrapped future on timeout (asyncio's
 * wait_for) instead of leaving it alone (Tornado's default). */
#define TN_FUTURE_CANCEL_ON_TIMEOUT 1

/** A new future (*out, one reference for the caller) that completes like f
 * (borrowing f's value) or, after timeout_ms, with TN_ETIMEOUT. f is not
 * cancelled unless flags has TN_FUTURE_CANCEL_ON_TIMEOUT; if f fails after
 * the timeout, the failure is logged (not TN_ECANCELED). Returns 0,
 * TN_EINVAL or TN_ENOMEM.
 * Tornado: gen.with_timeout(timeout, future). */
TN_EXTERN int tn_future_with_timeout(tn_future_t *f, uint64_t timeout_ms, int flags,
                                     tn_future_t **out);

/** multi flag: fail as soon as a child fails (the first failure in time)
 * instead of Tornado's "all done, then the first failure in input order". */
#define TN_MULTI_FAIL_FAST 1

/** A new future (*out) that completes when all n children are done: status
 * 0, or the first failure in input order (other failures are logged);
 * with TN_MULTI_FAIL_FAST, the first failure at its time. Its value is
 * NULL: read each child's. The children are referenced until done and are
 * never cancelled by it. n == 0 completes with 0 on the next drain.
 * Returns 0, TN_EINVAL or TN_ENOMEM. Tornado: gen.multi(children). */
TN_EXTERN int tn_future_multi(tn_ioloop_t *loop, tn_future_t *const *children, size_t n, int flags,
                              tn_future_t **out);

/** A new future (*out) resolved with 0 after ms milliseconds (a timeout
 * as a future). Returns 0, TN_EINVAL or TN_ENOMEM. Tornado: gen.sleep. */
TN_EXTERN int tn_future_sleep(tn_ioloop_t *loop, uint64_t ms, tn_future_t **out);

/* Adapters: pass one as an operation's callback with arg = a future; it
 * resolves the future with the operation's result and drops one reference
 * (take one with tn_future_ref for it). */

/** tn_read_cb adapter: the value is a copy of the bytes, a tn_buf_t *
 * (freed with the future); status as the read's, or TN_ENOMEM.
 * Tornado: the Future that IOStream.read_* returns. */
TN_EXTERN void tn_future_read_cb(tn_iostream_t *s, int status, const char *data, size_t len,
                                 void *future);

/** tn_write_cb adapter (no value). Tornado: the Future IOStream.write
 * returns. */
TN_EXTERN void tn_future_write_cb(tn_iostream_t *s, int status, void *future);

/** tn_connect_cb adapter: the value is the connected stream (not freed
 * with the future: close it yourself). Tornado: the Future
 * TCPClient.connect returns. */
TN_EXTERN void tn_future_connect_cb(tn_iostream_t *stream, int status, void *future);

/** tn_work_done_cb adapter for tn_ioloop_run_in_executor.
 * Tornado: the Future IOLoop.run_in_executor returns. */
TN_EXTERN void tn_future_work_done_cb(tn_ioloop_t *loop, int status, void *future);

/** tn_callback_cb adapter, for tn_ioloop_call_later and add_callback:
 * resolves with 0. Tornado: gen.sleep / a timeout's Future. */
TN_EXTERN void tn_future_timeout_cb(tn_ioloop_t *loop, void *future);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_FUTURE_H */
