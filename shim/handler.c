/* fd handlers: add_handler / update_handler / remove_handler.
 *
 * One uv_poll_t per fd (libuv forbids two on one fd), level-triggered. Events
 * are routed by handle identity: each poll handle belongs to one record, and a
 * removed record never calls back even if libuv already collected an event
 * for it in this iteration. The fd -> record map serves only the public calls
 * that name an fd, and forgets the fd at removal, so a new handler for a
 * reused fd number gets a fresh record (F13). Records are freed in the poll
 * handle's close callback. */
#ifdef _WIN32
#include <winsock2.h>
#else
#include <unistd.h>
#endif

#include "ioloop_private.h"

/* tn_socket_t is the public spelling of libuv's uv_os_sock_t (SOCKET on
 * Windows, an fd elsewhere): the two must stay interchangeable. */
_Static_assert(sizeof(tn_socket_t) == sizeof(uv_os_sock_t), "tn_socket_t is not uv_os_sock_t");

typedef struct {
    uv_poll_t poll;
    tn__handle_t track;
    tn_ioloop_t *loop;
    tn_socket_t fd;
    int events; /* TN_READ | TN_WRITE interest */
    tn_handler_cb cb;
    void *arg;
    int removed;
} tn__fdhandler_t;

/* ERROR interest is implicit: UV_DISCONNECT reports a peer's hang-up. */
static int uv_events(int events)
{
    int uv = UV_DISCONNECT;
    if (events & TN_READ)
        uv |= UV_READABLE;
    if (events & TN_WRITE)
        uv |= UV_WRITABLE;
    return uv;
}

static void on_poll(uv_poll_t *poll, int status, int uvev)
{
    tn__fdhandler_t *r = poll->data;
    if (r->removed)
        return;
    int events = 0;
    if (status < 0) {
        /* libuv stopped the handle on POLLERR; a reader still gets READ so
         * that its recv() reports the error, as in Tornado. */
        events = TN_ERROR | (r->events & TN_READ);
    } else {
        if (uvev & UV_READABLE)
            events |= TN_READ;
        if (uvev & UV_WRITABLE)
            events |= TN_WRITE;
        if (uvev & UV_DISCONNECT)
            events |= TN_ERROR;
        events &= r->events | TN_ERROR;
    }
    if (events != 0)
        r->cb(r->loop, r->fd, events, r->arg);
}

static void on_poll_closed(uv_handle_t *h)
{
    tn__fdhandler_t *r = h->data;
    tn_ioloop_t *loop = r->loop;
    tn_free(r);
    tn__loop_handle_closed(loop);
}

static void retire(tn__fdhandler_t *r)
{
    tn_ioloop_t *loop = r->loop;
    r->removed = 1;
    tn__idmap_del(&loop->handlers, (uint64_t)r->fd);
    tn__loop_untrack(loop, &r->track);
    tn__loop_close_handle(loop, (uv_handle_t *)&r->poll, on_poll_closed);
}

static void close_socket(tn_socket_t fd)
{
#ifdef _WIN32
    closesocket(fd);
#else
    close(fd);
#endif
}

/* close(all_fds): stop watching, then close the fd itself, as Tornado does. */
static void on_close_request(tn__handle_t *h)
{
    tn__fdhandler_t *r = TN__CONTAINER_OF(h, tn__fdhandler_t, track);
    tn_socket_t fd = r->fd;
    retire(r);
    close_socket(fd);
}

int tn_ioloop_add_handler(tn_ioloop_t *loop, tn_socket_t fd, int events, tn_handler_cb cb,
                          void *arg)
{
    if (loop == NULL || cb == NULL || fd == TN_INVALID_SOCKET)
        return TN_EINVAL;
    if (loop->state != TN__LOOP_OPEN)
        return TN_EDETACHED;
    if (tn__idmap_get(&loop->handlers, (uint64_t)fd) != NULL)
        return TN_EEXIST;
    tn__fdhandler_t *r = tn_calloc(1, sizeof(*r));
    if (r == NULL)
        return TN_ENOMEM;
    r->loop = loop;
    r->fd = fd;
    r->events = events & (TN_READ | TN_WRITE);
    r->cb = cb;
    r->arg = arg;
    if (tn__idmap_put(&loop->handlers, (uint64_t)fd, r) != 0) {
        tn_free(r);
        return TN_ENOMEM;
    }
#ifdef _WIN32
    int err = uv_poll_init_socket(loop->uv, &r->poll, fd);
#else
    int err = uv_poll_init(loop->uv, &r->poll, fd);
#endif
    if (err == 0) {
        r->poll.data = r;
        err = uv_poll_start(&r->poll, uv_events(r->events), on_poll);
        if (err != 0) {
            tn__idmap_del(&loop->handlers, (uint64_t)fd);
            r->removed = 1;
            tn__loop_close_handle(loop, (uv_handle_t *)&r->poll, on_poll_closed);
            return err;
        }
    } else {
        tn__idmap_del(&loop->handlers, (uint64_t)fd);
        tn_free(r);
        /* Another libuv handle (a stream, say) already watches this fd. */
        return err == UV_EEXIST ? TN_EEXIST : err;
    }
    tn__loop_track(loop, &r->track, on_close_request);
    return 0;
}

int tn_ioloop_update_handler(tn_ioloop_t *loop, tn_socket_t fd, int events)
{
    if (loop == NULL)
        return TN_EINVAL;
    tn__fdhandler_t *r = tn__idmap_get(&loop->handlers, (uint64_t)fd);
    if (r == NULL)
        return TN_ENOTFOUND;
    r->events = events & (TN_READ | TN_WRITE);
    /* Restarting also revives a handle libuv stopped after an error. */
    return uv_poll_start(&r->poll, uv_events(r->events), on_poll);
}

void tn_ioloop_remove_handler(tn_ioloop_t *loop, tn_socket_t fd)
{
    if (loop == NULL)
        return;
    tn__fdhandler_t *r = tn__idmap_get(&loop->handlers, (uint64_t)fd);
    if (r == NULL)
        return;
    /* uv_poll_stop also invalidates events libuv already collected for fd. */
    uv_poll_stop(&r->poll);
    retire(r);
}

void tn__handlers_free(tn_ioloop_t *loop)
{
    tn__idmap_free(&loop->handlers);
}
