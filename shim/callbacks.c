/* The add_callback queue: Tornado's "run on the next iteration".
 *
 * Callbacks wait in one mutex-guarded FIFO and are drained in a uv_check_t,
 * i.e. right after the loop polled. The drain first moves the whole queue
 * aside and then runs only what it moved, so a callback that adds callbacks
 * (or re-adds itself) never starves I/O: its additions wait for the next
 * drain. While anything is queued a uv_idle_t is active, which makes libuv
 * poll with a zero timeout instead of sleeping.
 *
 * Another thread cannot touch the idle handle, so it wakes the loop with
 * uv_async_send instead. Sends coalesce (many sends may produce one wakeup),
 * which is harmless because a wakeup only needs to start the idle handle and
 * the drain then takes everything that is queued.
 *
 * Shutdown race: close/detach set accepting = 0 under the mutex before the
 * waker is closed, and uv_async_send is called with the mutex held, so a
 * thread that saw accepting == 1 finishes its send before the waker can go. */
#include "ioloop_private.h"

static void on_idle(uv_idle_t *idle)
{
    /* Nothing to do: being active is what keeps poll from blocking. */
    (void)idle;
}

/* While callbacks wait, the idle handle is active and referenced: poll does
 * not sleep, and a host's uv_run(UV_RUN_DEFAULT) does not return with
 * accepted work still queued (a stream's close callback, say). At rest it is
 * stopped and unreferenced like the other internal handles. */
static void arm_idle(tn_ioloop_t *loop)
{
    if (!loop->idle_active && loop->state < TN__LOOP_FINAL) {
        loop->idle_active = 1;
        uv_idle_start(&loop->idle, on_idle);
        uv_ref((uv_handle_t *)&loop->idle);
    }
}

static void disarm_idle(tn_ioloop_t *loop)
{
    if (loop->idle_active) {
        loop->idle_active = 0;
        uv_idle_stop(&loop->idle);
        uv_unref((uv_handle_t *)&loop->idle);
    }
}

static void on_wake(uv_async_t *async)
{
    tn_ioloop_t *loop = async->data;
    if (!tn__callbacks_empty(loop))
        arm_idle(loop);
}

static void list_append(tn__qnode_t *head, tn__qnode_t *node)
{
    node->next = head;
    node->prev = head->prev;
    head->prev->next = node;
    head->prev = node;
}

static void list_unlink(tn__qnode_t *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
}

static void on_check(uv_check_t *check)
{
    tn_ioloop_t *loop = check->data;
    tn__qnode_t batch;

    loop->deferring = 0;
    loop->in_timer_phase = 0;
    uv_mutex_lock(&loop->mutex);
    if (loop->queue.next == &loop->queue) {
        uv_mutex_unlock(&loop->mutex);
        disarm_idle(loop);
        tn__loop_progress(loop);
        return;
    }
    batch.next = loop->queue.next;
    batch.prev = loop->queue.prev;
    batch.next->prev = &batch;
    batch.prev->next = &batch;
    loop->queue.next = loop->queue.prev = &loop->queue;
    uv_mutex_unlock(&loop->mutex);

    /* Pop one at a time: a callback may unlink a later node of this batch
     * (remove_timeout of a waiting timeout). The batch is touched by this
     * thread only, so popping needs no lock; unlink takes the mutex anyway
     * because it cannot tell a batch node from a node of the shared queue. */
    while (batch.next != &batch) {
        tn__qnode_t *node = batch.next;
        list_unlink(node);
        tn_callback_cb cb = node->cb;
        void *arg = node->arg;
        if (!node->embedded)
            tn_free(node);
        cb(loop, arg);
    }

    if (tn__callbacks_empty(loop))
        disarm_idle(loop);
    tn__loop_progress(loop);
}

int tn__callbacks_init(tn_ioloop_t *loop)
{
    int err;
    loop->queue.next = loop->queue.prev = &loop->queue;
    loop->accepting = 1;
    if ((err = uv_mutex_init(&loop->mutex)) != 0)
        return err;
    if ((err = uv_async_init(loop->uv, &loop->waker, on_wake)) != 0) {
        uv_mutex_destroy(&loop->mutex);
        return err;
    }
    /* From here on every init succeeds (check/idle init cannot fail). */
    uv_check_init(loop->uv, &loop->check);
    uv_idle_init(loop->uv, &loop->idle);
    uv_timer_init(loop->uv, &loop->pool_timer);
    loop->waker.data = loop->check.data = loop->idle.data = loop->pool_timer.data = loop;
    uv_check_start(&loop->check, on_check);
    /* None of them may keep an idle host's loop alive (see arm_idle for the
     * one exception: callbacks waiting to run). */
    uv_unref((uv_handle_t *)&loop->waker);
    uv_unref((uv_handle_t *)&loop->check);
    uv_unref((uv_handle_t *)&loop->idle);
    uv_unref((uv_handle_t *)&loop->pool_timer);
    loop->internal_open = 4;
    return 0;
}

static int push(tn_ioloop_t *loop, tn_callback_cb cb, void *arg, int internal)
{
    tn__qnode_t *node = tn_malloc(sizeof(*node));
    if (node == NULL)
        return TN_ENOMEM;
    node->cb = cb;
    node->arg = arg;
    node->embedded = 0;
    node->internal = internal;
    uv_mutex_lock(&loop->mutex);
    int on_thread = tn__loop_on_thread(loop);
    if (!loop->accepting && !(internal && loop->state < TN__LOOP_FINAL)) {
        uv_mutex_unlock(&loop->mutex);
        tn_free(node);
        return TN_EDETACHED;
    }
    node->seq = loop->next_seq++;
    list_append(&loop->queue, node);
    if (!on_thread)
        uv_async_send(&loop->waker);
    uv_mutex_unlock(&loop->mutex);
    if (on_thread)
        arm_idle(loop);
    return 0;
}

int tn_ioloop_add_callback(tn_ioloop_t *loop, tn_callback_cb cb, void *arg)
{
    if (loop == NULL || cb == NULL)
        return TN_EINVAL;
    return push(loop, cb, arg, 0);
}

int tn__loop_defer(tn_ioloop_t *loop, tn_callback_cb cb, void *arg)
{
    if (loop->state >= TN__LOOP_FINAL)
        return TN_EDETACHED;
    return push(loop, cb, arg, 1);
}

int tn__loop_defer_node(tn_ioloop_t *loop, tn__qnode_t *node, tn_callback_cb cb, void *arg)
{
    if (loop->state >= TN__LOOP_FINAL)
        return TN_EDETACHED;
    node->cb = cb;
    node->arg = arg;
    node->embedded = 1;
    node->internal = 1;
    uv_mutex_lock(&loop->mutex);
    node->seq = loop->next_seq++;
    list_append(&loop->queue, node);
    uv_mutex_unlock(&loop->mutex);
    arm_idle(loop);
    return 0;
}

void tn__callbacks_push_node(tn_ioloop_t *loop, tn__qnode_t *node)
{
    node->embedded = 1;
    node->internal = 0;
    uv_mutex_lock(&loop->mutex);
    node->seq = loop->next_seq++;
    list_append(&loop->queue, node);
    uv_mutex_unlock(&loop->mutex);
    arm_idle(loop);
}

void tn__callbacks_unlink_node(tn_ioloop_t *loop, tn__qnode_t *node)
{
    uv_mutex_lock(&loop->mutex);
    list_unlink(node);
    uv_mutex_unlock(&loop->mutex);
}

uint64_t tn__callbacks_seq(tn_ioloop_t *loop)
{
    uv_mutex_lock(&loop->mutex);
    uint64_t seq = loop->next_seq;
    uv_mutex_unlock(&loop->mutex);
    return seq;
}

uint64_t tn__callbacks_head_seq(tn_ioloop_t *loop)
{
    uv_mutex_lock(&loop->mutex);
    uint64_t seq = loop->queue.next == &loop->queue ? UINT64_MAX : loop->queue.next->seq;
    uv_mutex_unlock(&loop->mutex);
    return seq;
}

void tn__callbacks_wake(tn_ioloop_t *loop)
{
    arm_idle(loop);
}

int tn__callbacks_empty(tn_ioloop_t *loop)
{
    uv_mutex_lock(&loop->mutex);
    int empty = loop->queue.next == &loop->queue;
    uv_mutex_unlock(&loop->mutex);
    return empty;
}

void tn__callbacks_stop_accepting(tn_ioloop_t *loop)
{
    uv_mutex_lock(&loop->mutex);
    loop->accepting = 0;
    uv_mutex_unlock(&loop->mutex);
}

void tn__callbacks_drop(tn_ioloop_t *loop)
{
    uv_mutex_lock(&loop->mutex);
    while (loop->queue.next != &loop->queue) {
        tn__qnode_t *node = loop->queue.next;
        list_unlink(node);
        /* Embedded nodes belong to live timeouts, which teardown closes. */
        if (!node->embedded)
            tn_free(node);
    }
    uv_mutex_unlock(&loop->mutex);
}

void tn__callbacks_drop_user(tn_ioloop_t *loop)
{
    uv_mutex_lock(&loop->mutex);
    tn__qnode_t *node = loop->queue.next;
    while (node != &loop->queue) {
        tn__qnode_t *next = node->next;
        if (!node->internal) {
            list_unlink(node);
            if (!node->embedded)
                tn_free(node);
        }
        node = next;
    }
    uv_mutex_unlock(&loop->mutex);
}

static void on_internal_closed(uv_handle_t *h)
{
    tn_ioloop_t *loop = h->data;
    if (--loop->internal_open == 0)
        tn__loop_finished(loop);
}

void tn__callbacks_close(tn_ioloop_t *loop)
{
    tn__callbacks_stop_accepting(loop);
    loop->idle_active = 0;
    uv_close((uv_handle_t *)&loop->waker, on_internal_closed);
    uv_close((uv_handle_t *)&loop->check, on_internal_closed);
    uv_close((uv_handle_t *)&loop->idle, on_internal_closed);
    uv_close((uv_handle_t *)&loop->pool_timer, on_internal_closed);
}
