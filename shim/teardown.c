/* Closing a loop: tn_ioloop_close (owned loops) and the shared teardown that
 * tn_ioloop_detach (borrowed loops) also uses.
 *
 * Teardown has three stages. CLOSING: add_callback is refused, every tracked
 * object is asked to close, and the loop keeps draining deferred callbacks so
 * those objects can deliver their TN_ECLOSED completions. When a drain finds
 * no object tracked, no loop-owned handle still closing and nothing queued,
 * the loop enters FINAL and closes its internal handles (waker, check, idle).
 * The last of their close callbacks ends teardown (DONE): an owned loop's
 * close then closes the uv_loop_t; a borrowed loop calls on_detached. Memory
 * is only ever freed after libuv's close callbacks ran. */
#include "ioloop_private.h"

/* Asks every tracked object that was not asked yet to close. A close call may
 * untrack any entries (its own or others'), so the walk keeps its place with a
 * cursor node linked into the list rather than a pointer to a neighbour. */
static void close_tracked(tn_ioloop_t *loop)
{
    tn__handle_t cursor = {0};
    cursor.close_requested = 1;
    tn__handle_t *h = loop->tracked.next;
    while (h != &loop->tracked) {
        if (h->close_requested) {
            h = h->next;
            continue;
        }
        h->close_requested = 1;
        cursor.prev = h;
        cursor.next = h->next;
        h->next->prev = &cursor;
        h->next = &cursor;
        h->close(h);
        h = cursor.next;
        cursor.prev->next = cursor.next;
        cursor.next->prev = cursor.prev;
    }
}

/* An object finished closing (untrack) or a loop-owned handle's close
 * callback ran. Teardown does not advance right here: the caller may still
 * have work for the loop (a stream untracks, then defers its user's close
 * callback). The next drain, which the idle handle brings on without
 * sleeping in poll, advances it instead. */
void tn__loop_poke(tn_ioloop_t *loop)
{
    if (loop->state == TN__LOOP_CLOSING)
        tn__callbacks_wake(loop);
}

/* Called by each drain (and when teardown begins). */
void tn__loop_progress(tn_ioloop_t *loop)
{
    if (loop->state != TN__LOOP_CLOSING || loop->in_progress)
        return;
    loop->in_progress = 1;
    /* Objects created while closing (which they should refuse) are closed too. */
    close_tracked(loop);
    loop->in_progress = 0;
    if (loop->tracked_count == 0 && loop->closes_pending == 0 && tn__callbacks_empty(loop)) {
        loop->state = TN__LOOP_FINAL;
        tn__callbacks_close(loop);
    }
}

void tn__loop_begin_teardown(tn_ioloop_t *loop, int run_queued)
{
    tn__callbacks_stop_accepting(loop);
    loop->state = TN__LOOP_CLOSING;
    if (!run_queued)
        tn__callbacks_drop(loop);
    /* Hold the loop open (owned or host's) until the last close callback. */
    uv_ref((uv_handle_t *)&loop->waker);
    tn__signals_close(loop);
    tn__loop_progress(loop);
}

void tn__loop_finished(tn_ioloop_t *loop)
{
    loop->state = TN__LOOP_DONE;
    if (loop->owned)
        return; /* tn_ioloop_close frees it once uv_run returns */
    tn_detached_cb cb = loop->on_detached;
    void *arg = loop->detached_arg;
    /* on_detached runs before the free, so anything it calls on the loop
     * (add_callback, say) still finds it and is refused. */
    if (cb != NULL)
        cb(arg);
    tn__loop_free(loop);
}

int tn_ioloop_close(tn_ioloop_t *loop, int flags)
{
    if (loop == NULL || !loop->owned || loop->running || loop->state != TN__LOOP_OPEN)
        return TN_EINVAL;
    if (!(flags & TN_CLOSE_ALL_FDS) && loop->tracked_count > 0)
        return TN_EBUSY;
    /* close(0) drops callbacks that never ran (Tornado's close); close(all)
     * still runs them, because objects being closed may hold references that
     * only their queued callbacks release. */
    tn__loop_begin_teardown(loop, flags & TN_CLOSE_ALL_FDS);
    loop->running = 1;
    while (loop->state != TN__LOOP_DONE)
        uv_run(loop->uv, UV_RUN_DEFAULT);
    loop->running = 0;
    int err = uv_loop_close(loop->uv);
    if (err != 0) {
        /* A handle that no tracked object accounts for: someone else's leak.
         * The uv_loop_t cannot be freed under it. */
        tn_log(TN_LOG_ERROR, "tn_ioloop_close: uv_loop_close: %s (an untracked handle is open)",
               tn_err_name(err));
        return TN_EBUSY;
    }
    tn__loop_free(loop);
    return 0;
}
