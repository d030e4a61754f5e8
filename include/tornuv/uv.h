/* tornuv embedding: the one public header that names libuv types.
 *
 * A program that already runs a uv_loop_t attaches tornuv to it. tornuv then
 * borrows the loop: it never runs, stops, walks or closes it, and closes only
 * the handles it created itself. */
#ifndef TORNUV_UV_H
#define TORNUV_UV_H

#include <uv.h>
#include "ioloop.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Attaches a new tornuv loop to a host-owned uv_loop_t, on the thread that
 * runs it. Internal handles (a uv_async_t, uv_check_t and uv_idle_t) are
 * unref'd, so the host's uv_run(UV_RUN_DEFAULT) returns once only tornuv's
 * idle machinery would remain; callbacks queued with add_callback keep it
 * running until they have run, and user-visible objects (timeouts,
 * handlers, streams, servers) keep it alive like any libuv handle. Ignores
 * SIGPIPE like tn_ioloop_new. Returns 0, TN_EINVAL, TN_ENOMEM or a libuv error (leaving no
 * handle behind). Makes the new loop current. tn_ioloop_start, stop, run_sync
 * and close do not apply to an attached loop.
 * Tornado: AsyncIOLoop wrapping an existing asyncio loop. */
TN_EXTERN int tn_ioloop_attach(uv_loop_t *uv, tn_ioloop_t **loop_out);

/** Returns the underlying uv_loop_t (owned or borrowed).
 * Tornado: AsyncIOLoop.asyncio_loop. */
TN_EXTERN uv_loop_t *tn_ioloop_uv(tn_ioloop_t *loop);

typedef void (*tn_detached_cb)(void *arg);

/** Starts detaching an attached loop: closes every tornuv handle and object
 * on it (pending operations complete with TN_ECLOSED; handlers' fds are
 * closed, periodics freed, executor work cancelled or waited for), runs the
 * callbacks already queued, and calls on_detached(arg) (may be NULL) from the
 * last close callback; the tornuv loop is freed right after on_detached
 * returns, and the host may then uv_loop_close() its loop and get 0. Never
 * runs or stops the host loop: the host's uv_run must keep running for the
 * close callbacks to arrive (tornuv keeps it alive until then). Returns 0 or
 * TN_EINVAL (not an attached loop, or already detaching); on_detached never
 * runs inside this call. add_callback after detach returns TN_EDETACHED.
 * Tornado: IOLoop.close() on a wrapped loop. */
TN_EXTERN int tn_ioloop_detach(tn_ioloop_t *loop, tn_detached_cb on_detached, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_UV_H */
