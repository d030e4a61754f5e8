/* run_sync: run the loop until a function's work completes, with a timeout.
 *
 * The sync handle must stay valid for a late tn_sync_done (the work may
 * finish after a timeout made run_sync return), so a handle whose work has
 * not completed is kept on the loop until it does or the loop is freed. */
#include "ioloop_private.h"

struct tn_sync_s {
    tn_sync_t *next;
    tn_ioloop_t *loop;
    tn_sync_fn fn;
    void *arg;
    int status;
    int completed; /* tn_sync_done was called */
    int timed_out;
    int finished; /* run_sync returned */
};

static void on_start(tn_ioloop_t *loop, void *arg)
{
    tn_sync_t *sync = arg;
    sync->fn(loop, sync, sync->arg);
}

static void on_timeout(tn_ioloop_t *loop, void *arg)
{
    tn_sync_t *sync = arg;
    if (!sync->completed) {
        sync->timed_out = 1;
        tn_ioloop_stop(loop);
    }
}

static void unlink_sync(tn_sync_t *sync)
{
    for (tn_sync_t **p = &sync->loop->syncs; *p != NULL; p = &(*p)->next) {
        if (*p == sync) {
            *p = sync->next;
            return;
        }
    }
}

void tn_sync_done(tn_sync_t *sync, int status)
{
    if (sync == NULL || sync->completed)
        return;
    sync->completed = 1;
    if (sync->finished) {
        unlink_sync(sync);
        tn_free(sync);
        return;
    }
    sync->status = status;
    tn_ioloop_stop(sync->loop);
}

int tn_ioloop_run_sync(tn_ioloop_t *loop, tn_sync_fn fn, void *arg, uint64_t timeout_ms)
{
    if (loop == NULL || fn == NULL || !loop->owned || loop->state != TN__LOOP_OPEN)
        return TN_EINVAL;
    if (loop->running)
        return TN_EALREADY;
    tn_sync_t *sync = tn_calloc(1, sizeof(*sync));
    if (sync == NULL)
        return TN_ENOMEM;
    sync->loop = loop;
    sync->fn = fn;
    sync->arg = arg;
    int err = tn_ioloop_add_callback(loop, on_start, sync);
    if (err != 0) {
        tn_free(sync);
        return err;
    }
    tn_timeout_id timer = 0;
    if (timeout_ms > 0) {
        timer = tn_ioloop_call_later(loop, timeout_ms, on_timeout, sync);
        if (timer == 0) {
            /* on_start is queued and will run on a later start: let it find a
             * finished handle. */
            sync->finished = 1;
            sync->next = loop->syncs;
            loop->syncs = sync;
            return TN_ENOMEM;
        }
    }
    tn_ioloop_start(loop);
    tn_ioloop_remove_timeout(loop, timer);
    sync->finished = 1;
    if (sync->completed) {
        int status = sync->status;
        tn_free(sync);
        return status;
    }
    sync->next = loop->syncs;
    loop->syncs = sync;
    return sync->timed_out ? TN_ETIMEOUT : TN_ESTOPPED;
}

void tn__syncs_free(tn_ioloop_t *loop)
{
    tn_sync_t *sync = loop->syncs;
    while (sync != NULL) {
        tn_sync_t *next = sync->next;
        tn_free(sync);
        sync = next;
    }
    loop->syncs = NULL;
}
