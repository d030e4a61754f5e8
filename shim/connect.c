/* Client streams: wrapping an existing socket, and connecting to a numeric
 * address or a unix socket path.
 *
 * Writes issued while connecting: on Unix libuv queues uv_write requests on
 * a connecting handle and flushes them after the connect succeeds
 * (uv_try_write reports EAGAIN meanwhile), and it reports the connect before
 * any of those writes, so completions keep Tornado's order: connect first,
 * then the writes. On a failed connect libuv cancels the queued writes and
 * the stream fails them with its close. On Windows libuv refuses those
 * writes instead, so the transport holds them until the connect ends
 * (tn__uvstream_connecting / _connected) with the same outcome. */
#include <string.h>

#include "tornuv/net.h"
#include "uvstream.h"

typedef struct {
    uv_connect_t req;
    tn_connect_cb cb;
    void *arg;
} tn__connect_req_t;

static void on_connect(uv_connect_t *req, int status)
{
    tn__connect_req_t *cr = (tn__connect_req_t *)req;
    tn__uvstream_t *t = req->handle->data;
    tn_iostream_t *stream = t->owner;
    tn_connect_cb cb = cr->cb;
    void *arg = cr->arg;
    tn_free(cr);
    tn__uvstream_connected(t, status);
    /* UV_ECANCELED means the stream was closed while connecting. */
    if (status == UV_ECANCELED)
        status = TN_ECLOSED;
    tn_iostream__on_connect(stream, status);
    cb(stream, status, arg);
}

/* Creates the stream and starts the connect; shared by the numeric and the
 * resolving (tcpclient.c) paths. */
int tn__iostream_connect_addr(tn_ioloop_t *loop, const struct sockaddr *addr,
                              const tn_iostream_options_t *opts, tn_connect_cb cb, void *arg,
                              tn_iostream_t **out)
{
    tn__uvstream_t *t;
    tn_iostream_t *stream;
    tn__connect_req_t *cr = tn_malloc(sizeof(*cr));
    if (cr == NULL)
        return TN_ENOMEM;
    cr->cb = cb;
    cr->arg = arg;
    int err = tn__uvstream_create(loop, 0, addr->sa_family, &t);
    if (err == 0)
        err = tn__uvstream_wrap(t, opts, &stream);
    if (err != 0) {
        tn_free(cr);
        return err;
    }
    tn__uvstream_connecting(t);
    err = uv_tcp_connect(&cr->req, &t->uv.tcp, addr, on_connect);
    if (err != 0) {
        tn_free(cr);
        tn_iostream_close(stream);
        return err;
    }
    if (out != NULL)
        *out = stream;
    return 0;
}

int tn_iostream_connect(tn_ioloop_t *loop, const char *ip, int port,
                        const tn_iostream_options_t *opts, tn_connect_cb cb, void *arg,
                        tn_iostream_t **out)
{
    struct sockaddr_storage ss;
    if (loop == NULL || ip == NULL || cb == NULL || port <= 0 || port > 65535)
        return TN_EINVAL;
    memset(&ss, 0, sizeof(ss));
    if (uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss) != 0)
        return TN_EINVAL;
    return tn__iostream_connect_addr(loop, (struct sockaddr *)&ss, opts, cb, arg, out);
}

int tn_pipe_connect(tn_ioloop_t *loop, const char *path, const tn_iostream_options_t *opts,
                    tn_connect_cb cb, void *arg, tn_iostream_t **out)
{
    tn__uvstream_t *t;
    tn_iostream_t *stream;
    if (loop == NULL || path == NULL || path[0] == '\0' || cb == NULL)
        return TN_EINVAL;
    tn__connect_req_t *cr = tn_malloc(sizeof(*cr));
    if (cr == NULL)
        return TN_ENOMEM;
    cr->cb = cb;
    cr->arg = arg;
    int err = tn__uvstream_create(loop, 1, AF_UNSPEC, &t);
    if (err == 0)
        err = tn__uvstream_wrap(t, opts, &stream);
    if (err != 0) {
        tn_free(cr);
        return err;
    }
    /* Errors (ENOENT, ECONNREFUSED, a path too long) arrive in on_connect. */
    tn__uvstream_connecting(t);
    uv_pipe_connect(&cr->req, &t->uv.pipe, path, on_connect);
    if (out != NULL)
        *out = stream;
    return 0;
}

int tn_iostream_from_socket(tn_ioloop_t *loop, tn_socket_t sock, const tn_iostream_options_t *opts,
                            tn_iostream_t **out)
{
    tn__uvstream_t *t;
    int is_pipe = 0;
    if (loop == NULL || sock == TN_INVALID_SOCKET || out == NULL)
        return TN_EINVAL;
#ifndef _WIN32
    uv_handle_type type = uv_guess_handle(sock);
    if (type != UV_TCP && type != UV_NAMED_PIPE)
        return TN_EINVAL;
    is_pipe = type == UV_NAMED_PIPE;
#endif
    tn_iostream_t *stream;
    int err = tn__uvstream_create(loop, is_pipe, AF_UNSPEC, &t);
    if (err != 0)
        return err;
    /* The stream comes first so that every failure after the handle took the
     * socket is impossible: on error the socket stays the caller's. */
    err = tn__uvstream_wrap(t, opts, &stream);
    if (err != 0)
        return err;
    if (is_pipe)
        err = uv_pipe_open(&t->uv.pipe, (uv_file)sock);
    else
        err = uv_tcp_open(&t->uv.tcp, (uv_os_sock_t)sock);
    if (err != 0) {
        tn_iostream_close(stream);
        return err;
    }
    *out = stream;
    return 0;
}
