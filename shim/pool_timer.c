/* The loop side of lib/pool.h: where a loop keeps its buffer pool, and the
 * timer that trims it. The timer is created with the loop's internal handles
 * (callbacks.c), unref'd so it never keeps a loop (or a host's loop) alive,
 * started by the first spare buffer and stopped by the trim that leaves none:
 * an idle loop with an empty pool has no timer running. */
#include "ioloop_private.h"

tn__pool_t *tn__loop_pool(tn_ioloop_t *loop)
{
    /* Once teardown reached its final stage the timer is closing: buffers
     * given back from then on are freed. */
    if (loop->state == TN__LOOP_FINAL || loop->state == TN__LOOP_DONE)
        return NULL;
    return &loop->pool;
}

static void on_trim(uv_timer_t *t)
{
    tn_ioloop_t *loop = t->data;
    if (tn__pool_trim(&loop->pool) > 0) {
        uv_timer_start(&loop->pool_timer, on_trim, loop->pool.trim_ms, 0);
        return;
    }
    loop->pool.timer_armed = 0;
}

void tn__loop_pool_arm(tn_ioloop_t *loop)
{
    if (loop->pool.timer_armed || tn__loop_pool(loop) == NULL)
        return;
    loop->pool.timer_armed = 1;
    uv_timer_start(&loop->pool_timer, on_trim, loop->pool.trim_ms, 0);
}
