/* IOLoop core: creation, the current loop, start/stop, time, and the list of
 * tracked objects that close(all)/detach/alive_count work from. */
#include <signal.h>
#include <string.h>

#include "crypto.h"
#include "ioloop_private.h"

static _Thread_local tn_ioloop_t *current_loop;

tn_ioloop_t *tn_ioloop_current(void)
{
    return current_loop;
}

void tn_ioloop_make_current(tn_ioloop_t *loop)
{
    current_loop = loop;
}

/* libuv writes with writev() and no MSG_NOSIGNAL, so a write to a socket
 * whose peer reset it would kill the process with SIGPIPE. Ignore it, unless
 * the program installed its own disposition. */
static void ignore_sigpipe(void)
{
#ifndef _WIN32
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, NULL);
    }
#endif
}

tn_ioloop_t *tn__loop_alloc(void)
{
    tn_ioloop_t *loop = tn_calloc(1, sizeof(*loop));
    if (loop == NULL)
        return NULL;
    loop->tracked.prev = loop->tracked.next = &loop->tracked;
    loop->next_timeout_id = 1;
    loop->next_seq = 1;
    loop->thread = uv_thread_self();
    loop->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)loop;
    tn__idmap_init(&loop->timeouts);
    tn__idmap_init(&loop->handlers);
    tn__pool_init(&loop->pool);
    return loop;
}

int tn__loop_init_internal(tn_ioloop_t *loop, uv_loop_t *uv)
{
    loop->uv = uv;
    ignore_sigpipe();
    return tn__callbacks_init(loop);
}

void tn__loop_free(tn_ioloop_t *loop)
{
    if (current_loop == loop)
        current_loop = NULL;
    tn__callbacks_drop(loop);
    uv_mutex_destroy(&loop->mutex);
    tn__timeouts_free(loop);
    tn__handlers_free(loop);
    tn__syncs_free(loop);
    tn__pool_drain(&loop->pool);
    tn_free(loop);
    /* A loop usually ends with its thread (workers): the thread's cached
     * digest state goes with it rather than leak (fetched again if used). */
    tn__crypto_thread_end();
}

int tn_ioloop_new(tn_ioloop_t **loop_out)
{
    if (loop_out == NULL)
        return TN_EINVAL;
    tn_ioloop_t *loop = tn__loop_alloc();
    if (loop == NULL)
        return TN_ENOMEM;
    int err = uv_loop_init(&loop->owned_uv);
    if (err != 0) {
        tn_free(loop);
        return err;
    }
    loop->owned = 1;
    err = tn__loop_init_internal(loop, &loop->owned_uv);
    if (err != 0) {
        uv_loop_close(&loop->owned_uv);
        tn_free(loop);
        return err;
    }
    *loop_out = loop;
    return 0;
}

uv_loop_t *tn_ioloop_uv(tn_ioloop_t *loop)
{
    return loop->uv;
}

uv_loop_t *tn__loop_uv(tn_ioloop_t *loop)
{
    return loop->uv;
}

int tn__loop_on_thread(tn_ioloop_t *loop)
{
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &loop->thread);
}

uint64_t tn__loop_random(tn_ioloop_t *loop)
{
    /* xorshift64*: jitter needs spread, not cryptographic quality. */
    uint64_t x = loop->rng ? loop->rng : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    loop->rng = x;
    return x * 0x2545f4914f6cdd1dULL;
}

int tn_ioloop_start(tn_ioloop_t *loop)
{
    if (loop == NULL || !loop->owned || loop->state != TN__LOOP_OPEN)
        return TN_EINVAL;
    if (loop->running)
        return TN_EALREADY;
    tn_ioloop_t *previous = current_loop;
    current_loop = loop;
    loop->running = 1;
    /* Read by add_callback on other threads, under the mutex. */
    uv_mutex_lock(&loop->mutex);
    loop->thread = uv_thread_self();
    uv_mutex_unlock(&loop->mutex);
    /* A started loop runs until stop, like Tornado's, even when nothing keeps
     * libuv's loop alive: the waker holds a reference for the duration. */
    uv_ref((uv_handle_t *)&loop->waker);
    if (loop->stop_requested)
        uv_run(loop->uv, UV_RUN_NOWAIT);
    else
        uv_run(loop->uv, UV_RUN_DEFAULT);
    uv_unref((uv_handle_t *)&loop->waker);
    loop->stop_requested = 0;
    loop->running = 0;
    current_loop = previous;
    return 0;
}

void tn_ioloop_stop(tn_ioloop_t *loop)
{
    /* A borrowed loop is never stopped, and teardown runs to completion. */
    if (loop == NULL || !loop->owned || loop->state != TN__LOOP_OPEN)
        return;
    loop->stop_requested = 1;
    if (loop->running)
        uv_stop(loop->uv);
}

uint64_t tn_ioloop_time_ms(tn_ioloop_t *loop)
{
    uv_update_time(loop->uv);
    return uv_now(loop->uv);
}

size_t tn_ioloop_alive_count(tn_ioloop_t *loop)
{
    return loop->tracked_count;
}

void tn__loop_track(tn_ioloop_t *loop, tn__handle_t *h, void (*close)(tn__handle_t *h))
{
    h->close = close;
    h->close_requested = 0;
    h->next = &loop->tracked;
    h->prev = loop->tracked.prev;
    loop->tracked.prev->next = h;
    loop->tracked.prev = h;
    loop->tracked_count++;
}

void tn__loop_untrack(tn_ioloop_t *loop, tn__handle_t *h)
{
    if (h->next == NULL)
        return;
    h->prev->next = h->next;
    h->next->prev = h->prev;
    h->prev = h->next = NULL;
    loop->tracked_count--;
    tn__loop_poke(loop);
}

int tn__loop_closing(tn_ioloop_t *loop)
{
    return loop->state != TN__LOOP_OPEN;
}

void tn__loop_close_handle(tn_ioloop_t *loop, uv_handle_t *h, uv_close_cb cb)
{
    loop->closes_pending++;
    uv_close(h, cb);
}

void tn__loop_handle_closed(tn_ioloop_t *loop)
{
    loop->closes_pending--;
    tn__loop_poke(loop);
}
