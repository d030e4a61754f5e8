/* The IOLoop's own state, shared by the shim/ files that implement it
 * (ioloop.c, callbacks.c, timeout.c, handler.c, periodic.c, executor.c,
 * signal.c, sync.c, teardown.c, pool_timer.c). Other modules use loop_internal.h. */
#ifndef TN_SHIM_IOLOOP_PRIVATE_H
#define TN_SHIM_IOLOOP_PRIVATE_H

#include <stdint.h>
#include <uv.h>

#include "idmap.h"
#include "loop_internal.h"

/* tn__qnode_t, one entry of the add_callback queue, is declared in
 * lib/loop_defer.h (lib/ embeds them too). Nodes of callbacks are allocated
 * per call; a timeout that runs through the queue (zero delay, or due while
 * older callbacks wait) embeds its own node (see timeout.c), so removing it
 * is an unlink and never a search. */
#include "loop_defer.h"
#include "pool.h"

typedef struct tn__signal_s tn__signal_t;

typedef enum {
    TN__LOOP_OPEN = 0,
    TN__LOOP_CLOSING, /* close(all)/detach began; objects are closing */
    TN__LOOP_FINAL,   /* internal handles are closing; nothing new is accepted */
    TN__LOOP_DONE     /* every close callback ran */
} tn__loop_state_t;

struct tn_ioloop_s {
    uv_loop_t *uv;
    uv_loop_t owned_uv; /* used when owned */
    int owned;
    int running;        /* inside tn_ioloop_start / the teardown run */
    int stop_requested; /* tn_ioloop_stop was called and start has not returned yet */
    tn__loop_state_t state;
    uv_thread_t thread; /* the thread running (or last running) the loop; mutex */

    /* add_callback queue. queue and accepting are guarded by mutex; accepting
     * drops to 0 (under the mutex) before the waker may be closed, so another
     * thread never touches a closed waker. */
    uv_mutex_t mutex;
    tn__qnode_t queue; /* sentinel of a circular list */
    int accepting;
    uint64_t next_seq; /* guarded by mutex */
    /* Loop thread, reset by each drain: a timer fired since the drain
     * (in_timer_phase), the queue position at that moment (phase_seq), and
     * whether due timeouts now wait behind older callbacks (timeout.c). */
    int in_timer_phase;
    uint64_t phase_seq;
    int deferring;
    uv_async_t waker;
    uv_check_t check;
    uv_idle_t idle;
    int idle_active;
    /* Spare buffers of this loop's streams and servers (lib/pool.h) and the
     * unref'd timer that trims them (pool_timer.c). */
    tn__pool_t pool;
    uv_timer_t pool_timer;
    int internal_open; /* internal handles not yet closed */
    int in_progress;   /* tn__loop_progress is walking the tracked list */

    /* Tracked objects (sentinel of a circular list) and how many. */
    tn__handle_t tracked;
    size_t tracked_count;
    /* uv_close calls of loop-owned handles whose close callback has not run. */
    size_t closes_pending;

    tn__idmap_t timeouts; /* id -> tn__timeout_t */
    uint64_t next_timeout_id;
    tn__idmap_t handlers; /* fd -> tn__fdhandler_t */
    tn__signal_t *signals;
    tn_sync_t *syncs; /* run_sync handles kept for a late tn_sync_done (sync.c) */
    uint64_t rng;

    tn_detached_cb on_detached;
    void *detached_arg;
};

/* ioloop.c / teardown.c */
tn_ioloop_t *tn__loop_alloc(void);
int tn__loop_init_internal(tn_ioloop_t *loop, uv_loop_t *uv);
void tn__loop_free(tn_ioloop_t *loop);
int tn__loop_on_thread(tn_ioloop_t *loop);
void tn__loop_progress(tn_ioloop_t *loop);
void tn__loop_poke(tn_ioloop_t *loop);
void tn__loop_begin_teardown(tn_ioloop_t *loop, int run_queued);
void tn__loop_close_handle(tn_ioloop_t *loop, uv_handle_t *h, uv_close_cb cb);
void tn__loop_handle_closed(tn_ioloop_t *loop);
void tn__loop_finished(tn_ioloop_t *loop);
uint64_t tn__loop_random(tn_ioloop_t *loop);

/* callbacks.c */
int tn__callbacks_init(tn_ioloop_t *loop);
void tn__callbacks_stop_accepting(tn_ioloop_t *loop);
void tn__callbacks_drop(tn_ioloop_t *loop);
/* Drops the user's queued callbacks but keeps the library's own deferred
 * completions (tn__loop_defer), which release the objects they belong to. */
void tn__callbacks_drop_user(tn_ioloop_t *loop);
int tn__callbacks_empty(tn_ioloop_t *loop);
void tn__callbacks_close(tn_ioloop_t *loop);
void tn__callbacks_wake(tn_ioloop_t *loop);
uint64_t tn__callbacks_seq(tn_ioloop_t *loop);
uint64_t tn__callbacks_head_seq(tn_ioloop_t *loop);
void tn__callbacks_push_node(tn_ioloop_t *loop, tn__qnode_t *node);
void tn__callbacks_unlink_node(tn_ioloop_t *loop, tn__qnode_t *node);

/* timeout.c, handler.c, signal.c, sync.c */
void tn__timeouts_free(tn_ioloop_t *loop);
void tn__handlers_free(tn_ioloop_t *loop);
void tn__signals_close(tn_ioloop_t *loop);
void tn__syncs_free(tn_ioloop_t *loop);

#define TN__CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif /* TN_SHIM_IOLOOP_PRIVATE_H */
