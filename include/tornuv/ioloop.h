/* tornuv IOLoop: deferred callbacks, timeouts, periodic callbacks, fd
 * handlers, signals and the thread pool, mapped onto a libuv loop.
 *
 * Threading: every function here must be called on the loop's thread, except
 * tn_ioloop_add_callback, which is safe from any thread.
 *
 * Ordering guarantees (Tornado's):
 *   - a callback passed to any tornuv function never runs inside that call;
 *   - add_callback is FIFO; callbacks added while the queue drains run in the
 *     next drain, and the loop does not block in poll while any are queued;
 *   - timeouts with equal deadlines fire in the order they were added.
 */
#ifndef TORNUV_IOLOOP_H
#define TORNUV_IOLOOP_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_ioloop_s tn_ioloop_t;
typedef struct tn_periodic_s tn_periodic_t;

/** Identifies a pending timeout. 0 is never a valid id. Ids are not reused
 * within a loop's lifetime, so removing a fired or removed id is harmless. */
typedef uint64_t tn_timeout_id;

/* Handler event bits, with Tornado's values. */
#define TN_NONE 0
#define TN_READ 0x001
#define TN_WRITE 0x004
#define TN_ERROR 0x018

typedef void (*tn_callback_cb)(tn_ioloop_t *loop, void *arg);
typedef void (*tn_handler_cb)(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg);
typedef void (*tn_signal_cb)(tn_ioloop_t *loop, int signum, void *arg);
typedef void (*tn_periodic_cb)(tn_periodic_t *periodic, void *arg);
/** Work for the thread pool: runs on a pool thread, must not touch the loop. */
typedef void (*tn_work_fn)(void *arg);
/** Completion of run_in_executor, on the loop thread: status is 0, or
 * TN_ECANCELED when the loop closed first. */
typedef void (*tn_work_done_cb)(tn_ioloop_t *loop, int status, void *arg);

/** Creates a loop that owns its own libuv loop. *loop_out is set on success.
 * Returns 0, TN_EINVAL (loop_out NULL), TN_ENOMEM or a libuv error. Free it
 * with tn_ioloop_close.
 *
 * SIGPIPE: libuv writes to sockets with writev() and no MSG_NOSIGNAL, so a
 * write to a connection the peer reset would kill the process. On POSIX
 * systems this call (and tn_ioloop_attach) therefore sets SIGPIPE to SIG_IGN
 * when its disposition is still the default SIG_DFL; a handler or SIG_IGN the
 * program installed itself is left alone. Writes then fail with EPIPE.
 * Tornado: IOLoop(). */
TN_EXTERN int tn_ioloop_new(tn_ioloop_t **loop_out);

/** Returns the loop running (or most recently attached or made current) on
 * this thread, or NULL. Thread-local. Nothing inside tornuv depends on it.
 * Tornado: IOLoop.current(). */
TN_EXTERN tn_ioloop_t *tn_ioloop_current(void);

/** Makes loop the current loop of this thread (NULL clears it).
 * Tornado: IOLoop.make_current(). */
TN_EXTERN void tn_ioloop_make_current(tn_ioloop_t *loop);

/** Runs the loop until tn_ioloop_stop, even while nothing is scheduled (as
 * Tornado's). Makes loop current for the duration and restores the previous
 * current loop on return. Returns 0 when stopped, TN_EALREADY if the loop is
 * already running (re-entrant start is refused, never a hang), TN_EINVAL on
 * an attached (host-owned) loop, which tornuv never runs.
 * A stop requested before start makes start return after one non-blocking
 * iteration (callbacks already queued run in it).
 * Tornado: IOLoop.start(). */
TN_EXTERN int tn_ioloop_start(tn_ioloop_t *loop);

/** Asks a running loop to return from start after the current iteration
 * (the rest of the current drain of callbacks still runs). No-op on an
 * attached loop and while the loop is closing.
 * Tornado: IOLoop.stop(). */
TN_EXTERN void tn_ioloop_stop(tn_ioloop_t *loop);

/** Handle given to a run_sync function; complete it exactly once. */
typedef struct tn_sync_s tn_sync_t;
typedef void (*tn_sync_fn)(tn_ioloop_t *loop, tn_sync_t *sync, void *arg);

/** Runs fn (scheduled with add_callback) and the loop until fn's work calls
 * tn_sync_done, or timeout_ms elapses (0 = no timeout).
 * Returns the status given to tn_sync_done, TN_ETIMEOUT on timeout,
 * TN_ESTOPPED if tn_ioloop_stop ended the loop first, TN_EALREADY if the loop
 * is already running. The loop is left reusable in every case; a later
 * tn_sync_done on a finished sync is ignored.
 * Tornado: IOLoop.run_sync(func, timeout). */
TN_EXTERN int tn_ioloop_run_sync(tn_ioloop_t *loop, tn_sync_fn fn, void *arg, uint64_t timeout_ms);

/** Completes a run_sync with status (0 or a negative code); the second and
 * later calls are ignored. The handle stays valid until it completes or the
 * loop is closed, so completing after run_sync timed out is safe; completing
 * after tn_ioloop_close is not.
 * Tornado: resolving the Future that run_sync waits on. */
TN_EXTERN void tn_sync_done(tn_sync_t *sync, int status);

/** Flags for tn_ioloop_close. */
#define TN_CLOSE_ALL_FDS 1

/** Closes and frees a loop that is not running.
 * Without TN_CLOSE_ALL_FDS: returns TN_EBUSY (and frees nothing) while any
 * tornuv object is alive on it (timeouts, periodics, handlers, servers,
 * streams, executor work); the error names nothing, tn_ioloop_alive_count
 * tells how many. Otherwise queued callbacks that never ran are dropped,
 * signal handlers removed, and the loop freed; returns 0.
 * With TN_CLOSE_ALL_FDS: closes every registered handler and its fd, every
 * server and stream (their pending callbacks complete with TN_ECLOSED and
 * their close callbacks run), removes timeouts, frees periodics (pointers to
 * them become invalid), cancels executor work that has not started (its done
 * callback gets TN_ECANCELED; running work is waited for), then frees the
 * loop; returns 0. Callbacks queued before the call still run during this
 * teardown; add_callback made during it returns TN_EDETACHED.
 * Returns TN_EINVAL for an attached loop (use tn_ioloop_detach) or when
 * called while the loop is running (from one of its callbacks).
 * Tornado: IOLoop.close(all_fds=False). */
TN_EXTERN int tn_ioloop_close(tn_ioloop_t *loop, int flags);

/** Number of live tornuv objects (timeouts, periodics, handlers, streams,
 * servers, pending executor work) on the loop. A removed timeout or handler
 * and a fired timeout no longer count.
 * Tornado: none (a debugging aid for close's TN_EBUSY). */
TN_EXTERN size_t tn_ioloop_alive_count(tn_ioloop_t *loop);

/** Monotonic time in milliseconds on the loop's clock (the scale of
 * call_at), refreshed on each call.
 * Tornado: IOLoop.time() (which is wall-clock; tornuv uses the monotonic
 * clock so clock jumps never fire or stall timeouts). */
TN_EXTERN uint64_t tn_ioloop_time_ms(tn_ioloop_t *loop);

/** Schedules cb(loop, arg) on the next drain. Safe from any thread; from
 * another thread it wakes the loop promptly. Returns 0, TN_EINVAL (NULL cb),
 * TN_ENOMEM, or TN_EDETACHED if the loop is closing or detached (cb then never
 * runs and nothing freed is touched). Calling it on a loop that another
 * thread may be freeing concurrently is the caller's bug.
 * Tornado: IOLoop.add_callback / spawn_callback. */
TN_EXTERN int tn_ioloop_add_callback(tn_ioloop_t *loop, tn_callback_cb cb, void *arg);

/** Runs cb once after delay_ms, measured from this call (0: on the next
 * drain, after callbacks already queued). A timeout that becomes due while
 * callbacks queued earlier still wait runs after them. Returns the timeout's
 * id, or 0 on allocation failure, NULL cb, or a closing loop.
 * Tornado: IOLoop.call_later. */
TN_EXTERN tn_timeout_id tn_ioloop_call_later(tn_ioloop_t *loop, uint64_t delay_ms,
                                             tn_callback_cb cb, void *arg);

/** Runs cb at deadline_ms on tn_ioloop_time_ms's scale; a past deadline acts
 * as delay 0. Returns the id or 0.
 * Tornado: IOLoop.call_at / add_timeout. */
TN_EXTERN tn_timeout_id tn_ioloop_call_at(tn_ioloop_t *loop, uint64_t deadline_ms,
                                          tn_callback_cb cb, void *arg);

/** Cancels a timeout. Harmless for 0, for an id that already fired or was
 * removed, and from inside another timeout due in the same iteration (the
 * removed one then never runs).
 * Tornado: IOLoop.remove_timeout. */
TN_EXTERN void tn_ioloop_remove_timeout(tn_ioloop_t *loop, tn_timeout_id id);

/** Watches fd for events (TN_READ | TN_WRITE; TN_ERROR is always reported)
 * with one level-triggered poll per fd: cb(loop, fd, events, arg) runs on
 * every iteration while fd is ready, with the ready bits in one call (Tornado
 * makes one call per bit). A peer's hang-up arrives as TN_ERROR, together
 * with TN_READ while data or EOF is readable; a socket error arrives as
 * TN_ERROR (plus TN_READ if READ is watched, so recv() reports it) and
 * suspends the watch until update_handler. fd is made non-blocking. Returns
 * 0, TN_EEXIST if fd is already registered, TN_EINVAL, TN_EDETACHED (loop
 * closing), TN_ENOMEM or a libuv error (e.g. EPERM for a regular file). On
 * Windows fd must be a socket, READ and WRITE readiness may arrive in
 * separate calls, and a connection reset is only reported while TN_READ is
 * watched.
 * Tornado: IOLoop.add_handler. */
TN_EXTERN int tn_ioloop_add_handler(tn_ioloop_t *loop, tn_socket_t fd, int events, tn_handler_cb cb,
                                    void *arg);

/** Replaces the event mask of a registered fd. Returns 0 or TN_ENOTFOUND.
 * Tornado: IOLoop.update_handler. */
TN_EXTERN int tn_ioloop_update_handler(tn_ioloop_t *loop, tn_socket_t fd, int events);

/** Stops watching fd. Harmless for an unknown fd. An event already pending
 * for fd in the current iteration is not delivered afterwards. Does not close
 * fd.
 * Tornado: IOLoop.remove_handler. */
TN_EXTERN void tn_ioloop_remove_handler(tn_ioloop_t *loop, tn_socket_t fd);

/** Runs work(arg) on libuv's thread pool, then done(loop, status, arg) on the
 * loop thread, exactly once (done may be NULL). Pending work counts as a live
 * object. Returns 0, TN_EINVAL, TN_EDETACHED, TN_ENOMEM or a libuv error
 * (then done never runs).
 * Tornado: IOLoop.run_in_executor. */
TN_EXTERN int tn_ioloop_run_in_executor(tn_ioloop_t *loop, tn_work_fn work, tn_work_done_cb done,
                                        void *arg);

/** Calls cb on the loop thread whenever signum is delivered. One handler per
 * signal number; a second call replaces it. Returns 0, TN_ENOMEM, or a libuv
 * error (TN_ENOTSUP for signals the platform lacks: on Windows all but
 * SIGINT, SIGBREAK, SIGHUP and SIGWINCH, the ones libuv delivers there).
 * Tornado: asyncio loop.add_signal_handler (signal.signal in Tornado apps). */
TN_EXTERN int tn_ioloop_add_signal_handler(tn_ioloop_t *loop, int signum, tn_signal_cb cb,
                                           void *arg);

/** Removes the handler for signum (harmless if none).
 * Tornado: asyncio loop.remove_signal_handler. */
TN_EXTERN void tn_ioloop_remove_signal_handler(tn_ioloop_t *loop, int signum);

/** Creates a periodic callback (not started). period_ms must be > 0
 * (TN_EINVAL otherwise). Calls run at start + k*period; when a call overruns,
 * whole missed periods are skipped, never bunched.
 * Tornado: PeriodicCallback(callback, callback_time, jitter). */
TN_EXTERN int tn_periodic_new(tn_ioloop_t *loop, uint64_t period_ms, tn_periodic_cb cb, void *arg,
                              tn_periodic_t **out);

/** Sets jitter in [0, 1): each period is scaled by 1 + jitter*(random-0.5).
 * Tornado: PeriodicCallback(jitter=...). */
TN_EXTERN void tn_periodic_set_jitter(tn_periodic_t *p, double jitter);

/** Starts (first call one period from now). Idempotent. Returns 0 or
 * TN_EINVAL (freed).
 * Tornado: PeriodicCallback.start(). */
TN_EXTERN int tn_periodic_start(tn_periodic_t *p);

/** Stops; safe from inside the periodic's own callback.
 * Tornado: PeriodicCallback.stop(). */
TN_EXTERN void tn_periodic_stop(tn_periodic_t *p);

/** Nonzero while started. Tornado: PeriodicCallback.is_running(). */
TN_EXTERN int tn_periodic_is_running(tn_periodic_t *p);

/** Stops and frees (asynchronously; safe from inside its own callback).
 * tn_ioloop_close(TN_CLOSE_ALL_FDS) and tn_ioloop_detach free periodics too.
 * Tornado: PeriodicCallback.stop() and dropping the object. */
TN_EXTERN void tn_periodic_free(tn_periodic_t *p);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_IOLOOP_H */
