/* Signal handlers over uv_signal_t: one record per signal number, owned by the
 * loop (not counted as a live object) and closed by close/detach. */
#include "ioloop_private.h"

struct tn__signal_s {
    uv_signal_t handle;
    tn__signal_t *next;
    tn_ioloop_t *loop;
    int signum;
    tn_signal_cb cb;
    void *arg;
};

static void on_signal(uv_signal_t *handle, int signum)
{
    tn__signal_t *s = handle->data;
    s->cb(s->loop, signum, s->arg);
}

static void on_signal_closed(uv_handle_t *h)
{
    tn__signal_t *s = h->data;
    tn_ioloop_t *loop = s->loop;
    tn_free(s);
    tn__loop_handle_closed(loop);
}

int tn_ioloop_add_signal_handler(tn_ioloop_t *loop, int signum, tn_signal_cb cb, void *arg)
{
    if (loop == NULL || cb == NULL || signum <= 0)
        return TN_EINVAL;
    if (loop->state != TN__LOOP_OPEN)
        return TN_EDETACHED;
#ifdef _WIN32
    /* libuv accepts any number on Windows but only ever delivers these
     * (console events): a handler for SIGTERM, say, would silently never run. */
    if (signum != SIGINT && signum != SIGBREAK && signum != SIGHUP && signum != SIGWINCH)
        return TN_ENOTSUP;
#endif
    for (tn__signal_t *s = loop->signals; s != NULL; s = s->next) {
        if (s->signum == signum) {
            s->cb = cb;
            s->arg = arg;
            return 0;
        }
    }
    tn__signal_t *s = tn_calloc(1, sizeof(*s));
    if (s == NULL)
        return TN_ENOMEM;
    s->loop = loop;
    s->signum = signum;
    s->cb = cb;
    s->arg = arg;
    int err = uv_signal_init(loop->uv, &s->handle);
    if (err != 0) {
        tn_free(s);
        return err;
    }
    s->handle.data = s;
    err = uv_signal_start(&s->handle, on_signal, signum);
    if (err != 0) {
        tn__loop_close_handle(loop, (uv_handle_t *)&s->handle, on_signal_closed);
        return err == UV_ENOSYS ? TN_ENOTSUP : err;
    }
    s->next = loop->signals;
    loop->signals = s;
    return 0;
}

void tn_ioloop_remove_signal_handler(tn_ioloop_t *loop, int signum)
{
    if (loop == NULL)
        return;
    for (tn__signal_t **p = &loop->signals; *p != NULL; p = &(*p)->next) {
        tn__signal_t *s = *p;
        if (s->signum == signum) {
            *p = s->next;
            tn__loop_close_handle(loop, (uv_handle_t *)&s->handle, on_signal_closed);
            return;
        }
    }
}

void tn__signals_close(tn_ioloop_t *loop)
{
    while (loop->signals != NULL) {
        tn__signal_t *s = loop->signals;
        loop->signals = s->next;
        tn__loop_close_handle(loop, (uv_handle_t *)&s->handle, on_signal_closed);
    }
}
