/* IOStream transport over uv_stream_t: uv_tcp_t and uv_pipe_t.
 *
 * Reads land directly in the IOStream's own buffer: the alloc callback asks
 * the stream to reserve space, libuv reads into it and the read callback
 * commits what arrived. An idle stream (no read interest) reserves nothing.
 *
 * Writes: try_write hands bytes to the kernel synchronously (uv_try_write);
 * write queues the rest with uv_write, whose completions libuv delivers in
 * submission order. Only that slow path (the kernel's send buffer is full)
 * allocates a uv_write_t; it is not kept afterwards, because a request
 * embedded in every connection would cost ~200 bytes per idle connection.
 *
 * Close: uv_close is called at most once per handle (a second call aborts in
 * libuv). libuv first completes the pending write, shutdown and connect
 * requests with UV_ECANCELED, then runs the close callback, where the stream
 * hears tn_iostream__on_closed and the transport is freed. */
#include <string.h>

#include "uvstream.h"

#define TN__STACK_BUFS 16

static int map_status(ssize_t status)
{
    if (status == UV_EOF)
        return TN_EOF;
    return (int)status;
}

/* tn_buf_t and uv_buf_t differ in field order (and length type) on Windows,
 * so buffers are converted; small vectors stay on the stack (libuv copies
 * the array). Fields are assigned directly rather than with uv_buf_init,
 * whose unsigned int length would truncate pieces over 4 GiB on Unix. */
static uv_buf_t *convert_bufs(const tn_buf_t *bufs, size_t nbufs, uv_buf_t *stack)
{
    uv_buf_t *out = stack;
#ifdef _WIN32
    for (size_t i = 0; i < nbufs; i++)
        if (bufs[i].len > UINT32_MAX)
            return NULL;
#endif
    if (nbufs > TN__STACK_BUFS) {
        out = tn_malloc(nbufs * sizeof(*out));
        if (out == NULL)
            return NULL;
    }
    for (size_t i = 0; i < nbufs; i++) {
        out[i].base = (char *)bufs[i].base;
        out[i].len = bufs[i].len;
    }
    return out;
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    tn__uvstream_t *t = handle->data;
    char *base = NULL;
    size_t len = 0;
    tn_iostream__on_alloc(t->owner, suggested, &base, &len);
    /* A zero-length buffer makes libuv report UV_ENOBUFS to on_read. */
    if (len > UINT32_MAX)
        len = UINT32_MAX;
    *buf = uv_buf_init(len > 0 ? base : NULL, (unsigned int)len);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    tn__uvstream_t *t = stream->data;
    (void)buf;
    /* nread == 0 is EAGAIN after an alloc: the reservation is simply not
     * committed, which the stream treats as "nothing" (F19). */
    tn_iostream__on_read(t->owner, nread < 0 ? map_status(nread) : (long)nread);
}

static int tr_read_start(void *tp)
{
    tn__uvstream_t *t = tp;
    if (t->closing)
        return TN_ECLOSED;
    int err = uv_read_start(&t->uv.stream, on_alloc, on_read);
    /* Already reading is fine: the table's read_start is idempotent. */
    return err == UV_EALREADY ? 0 : err;
}

static int tr_read_stop(void *tp)
{
    tn__uvstream_t *t = tp;
    if (t->closing)
        return 0;
    return uv_read_stop(&t->uv.stream);
}

static long tr_try_write(void *tp, const tn_buf_t *bufs, size_t nbufs)
{
    tn__uvstream_t *t = tp;
    uv_buf_t stack[TN__STACK_BUFS];
    if (t->closing)
        return TN_ECLOSED;
    if (nbufs == 0 || t->connecting)
        return 0;
    uv_buf_t *ub = convert_bufs(bufs, nbufs, stack);
    if (ub == NULL)
        return TN_ENOMEM;
    int n = uv_try_write(&t->uv.stream, ub, (unsigned int)nbufs);
    if (ub != stack)
        tn_free(ub);
    if (n == UV_EAGAIN || n == UV_ENOSYS)
        return 0;
    return n;
}

static void on_write(uv_write_t *req, int status)
{
    tn__uvstream_t *t = req->data;
    tn_free(req);
    tn_iostream__on_write_done(t->owner, status);
}

static int submit_write(tn__uvstream_t *t, const uv_buf_t *ub, size_t nbufs)
{
    uv_write_t *req = tn_malloc(sizeof(*req));
    if (req == NULL)
        return TN_ENOMEM;
    req->data = t;
    int err = uv_write(req, &t->uv.stream, ub, (unsigned int)nbufs, on_write);
    if (err != 0)
        tn_free(req);
    return err;
}

/* Writes held while connecting (Windows): libuv there answers uv_write with
 * UV_EPIPE and uv_try_write with UV_ENOTCONN until the connect completed,
 * where Unix queues the request. The buffers stay the stream's until their
 * completion, exactly as with uv_write, so only the vector is copied. */
struct tn__held_write_s {
    tn__held_write_t *next;
    size_t nbufs;
    uv_buf_t bufs[];
};

static int hold_write(tn__uvstream_t *t, const tn_buf_t *bufs, size_t nbufs)
{
    tn__held_write_t *h = tn_malloc(sizeof(*h) + nbufs * sizeof(uv_buf_t));
    if (h == NULL)
        return TN_ENOMEM;
    uv_buf_t stack[TN__STACK_BUFS];
    uv_buf_t *ub = convert_bufs(bufs, nbufs, stack);
    if (ub == NULL) {
        tn_free(h);
        return TN_ENOMEM;
    }
    memcpy(h->bufs, ub, nbufs * sizeof(uv_buf_t));
    if (ub != stack)
        tn_free(ub);
    h->next = NULL;
    h->nbufs = nbufs;
    if (t->held_tail != NULL)
        t->held_tail->next = h;
    else
        t->held_head = h;
    t->held_tail = h;
    return 0;
}

/* Each held write completes once: submitted (status 0) or failed here. */
static void release_held(tn__uvstream_t *t, int status)
{
    tn__held_write_t *h = t->held_head;
    t->held_head = t->held_tail = NULL;
    while (h != NULL) {
        tn__held_write_t *next = h->next;
        int err = status;
        if (err == 0 && !t->closing)
            err = submit_write(t, h->bufs, h->nbufs);
        else if (err == 0)
            err = UV_ECANCELED;
        if (err != 0 && t->owner != NULL)
            tn_iostream__on_write_done(t->owner, err);
        tn_free(h);
        h = next;
    }
}

void tn__uvstream_connecting(tn__uvstream_t *t)
{
#ifdef _WIN32
    t->connecting = 1;
#else
    (void)t;
#endif
}

void tn__uvstream_connected(tn__uvstream_t *t, int status)
{
    if (!t->connecting)
        return;
    t->connecting = 0;
    if (status == 0)
        release_held(t, 0);
}

static int tr_write(void *tp, const tn_buf_t *bufs, size_t nbufs)
{
    tn__uvstream_t *t = tp;
    uv_buf_t stack[TN__STACK_BUFS];
    if (t->closing)
        return TN_ECLOSED;
    if (t->connecting)
        return hold_write(t, bufs, nbufs);
    uv_buf_t *ub = convert_bufs(bufs, nbufs, stack);
    if (ub == NULL)
        return TN_ENOMEM;
    int err = submit_write(t, ub, nbufs);
    if (ub != stack)
        tn_free(ub);
    return err;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    /* The stream does not wait for the FIN to be sent; a failure shows up as
     * a read or write error if it matters. */
    (void)status;
    tn_free(req);
}

static int tr_shutdown(void *tp)
{
    tn__uvstream_t *t = tp;
    if (t->closing)
        return TN_ECLOSED;
    uv_shutdown_t *req = tn_malloc(sizeof(*req));
    if (req == NULL)
        return TN_ENOMEM;
    int err = uv_shutdown(req, &t->uv.stream, on_shutdown);
    if (err != 0)
        tn_free(req);
    return err;
}

static void on_uv_close(uv_handle_t *handle)
{
    tn__uvstream_t *t = handle->data;
    /* Writes still held (closed while connecting, or the connect failed)
     * end like the ones libuv cancels: before the stream hears the close. */
    release_held(t, UV_ECANCELED);
    tn__loop_untrack(t->loop, &t->track);
    if (t->on_closed != NULL)
        t->on_closed(t);
    if (t->owner != NULL)
        tn_iostream__on_closed(t->owner);
    tn_free(t);
}

static void tr_close(void *tp)
{
    tn__uvstream_t *t = tp;
    if (t->closing)
        return;
    t->closing = 1;
    uv_close(&t->uv.handle, on_uv_close);
}

static int tr_set_nodelay(void *tp, int on)
{
    tn__uvstream_t *t = tp;
    if (t->closing || t->is_pipe)
        return 0;
    int err = uv_tcp_nodelay(&t->uv.tcp, on);
    /* Tornado ignores EINVAL and resets here: the socket may already be
     * half-dead, and the next read or write reports that properly. */
    if (err == UV_EINVAL || err == UV_ECONNRESET || err == UV_ENOTCONN)
        return 0;
    return err;
}

int tn__uvstream_peer(tn__uvstream_t *t, char *ip, size_t iplen, int *port)
{
    struct sockaddr_storage ss;
    int len = (int)sizeof(ss);
    if (port != NULL)
        *port = 0;
    if (ip != NULL && iplen > 0)
        snprintf(ip, iplen, "%s", "0.0.0.0");
    if (t->is_pipe || t->closing)
        return 0;
    int err = uv_tcp_getpeername(&t->uv.tcp, (struct sockaddr *)&ss, &len);
    if (err != 0)
        return err;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;
        if (port != NULL)
            *port = ntohs(a6->sin6_port);
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;
        if (port != NULL)
            *port = ntohs(a4->sin_port);
    } else {
        return 0;
    }
    if (ip != NULL && iplen > 0)
        return uv_ip_name((const struct sockaddr *)&ss, ip, iplen);
    return 0;
}

static int tr_remote_address(void *tp, char *ip, size_t iplen, int *port)
{
    return tn__uvstream_peer(tp, ip, iplen, port);
}

const tn_transport_ops_t tn__uvstream_ops = {
    .read_start = tr_read_start,
    .read_stop = tr_read_stop,
    .try_write = tr_try_write,
    .write = tr_write,
    .shutdown = tr_shutdown,
    .close = tr_close,
    .set_nodelay = tr_set_nodelay,
    .remote_address = tr_remote_address,
};

/* tn_ioloop_close(TN_CLOSE_ALL_FDS) and detach come here: closing through
 * the IOStream lets its pending operations fail with TN_ECLOSED and its close
 * callback run, exactly as a user close would. Called at most once per
 * handle by the loop, but kept idempotent anyway. */
static void on_loop_close(tn__handle_t *h)
{
    tn__uvstream_t *t = (tn__uvstream_t *)h;
    if (t->closing)
        return;
    if (t->owner != NULL)
        tn_iostream_close(t->owner);
    else
        tr_close(t);
}

int tn__uvstream_create(tn_ioloop_t *loop, int is_pipe, int family, tn__uvstream_t **out)
{
    int err;
    if (tn__loop_closing(loop))
        return TN_EDETACHED;
    tn__uvstream_t *t = tn_calloc(1, sizeof(*t));
    if (t == NULL)
        return TN_ENOMEM;
    t->loop = loop;
    t->is_pipe = is_pipe ? 1 : 0;
    if (is_pipe)
        err = uv_pipe_init(tn__loop_uv(loop), &t->uv.pipe, 0);
    else
        err = uv_tcp_init_ex(tn__loop_uv(loop), &t->uv.tcp, (unsigned int)family);
    if (err != 0) {
        tn_free(t);
        return err;
    }
    t->uv.handle.data = t;
    tn__loop_track(loop, &t->track, on_loop_close);
    *out = t;
    return 0;
}

void tn__uvstream_discard(tn__uvstream_t *t)
{
    tr_close(t);
}

int tn__uvstream_wrap(tn__uvstream_t *t, const tn_iostream_options_t *opts, tn_iostream_t **out)
{
    tn_iostream_t *s = NULL;
    int err = tn_iostream_new(t->loop, &tn__uvstream_ops, t, opts, &s);
    if (err != 0) {
        tr_close(t);
        return err;
    }
    t->owner = s;
    *out = s;
    return 0;
}
