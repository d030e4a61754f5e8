/* The IOStream transport over a libuv stream (uv_tcp_t or uv_pipe_t).
 *
 * Internal to shim/: lib/iostream.c drives a tn_iostream_t through the
 * transport table (include/tornuv/transport.h); this is the one
 * implementation of that table on real sockets. tcpserver.c, connect.c and
 * tcpclient.c create transports, hand them to tn_iostream_new, and learn
 * about their end through the hooks below.
 *
 * Lifetime: a transport is tracked by the loop from creation until the
 * close callback of its uv handle, where it is untracked and freed. After
 * ops->close the IOStream hears exactly one tn_iostream__on_closed and nothing
 * more. */
#ifndef TN_SHIM_UVSTREAM_H
#define TN_SHIM_UVSTREAM_H

#include <uv.h>

#include "loop_internal.h"
#include "tornuv/iostream.h"
#include "tornuv/net.h"
#include "tornuv/transport.h"

typedef struct tn__uvstream_s tn__uvstream_t;
typedef struct tn__held_write_s tn__held_write_t;

/* Called from the uv close callback, before the transport is freed. */
typedef void (*tn__uvstream_closed_fn)(tn__uvstream_t *t);

struct tn__uvstream_s {
    tn__handle_t track;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } uv;
    tn_ioloop_t *loop;
    tn_iostream_t *owner;
    /* Accepted connections counted by a server (max_connections): the server
     * links them here and learns of their end through on_closed. */
    tn__uvstream_closed_fn on_closed;
    void *group;
    tn__uvstream_t *group_prev, *group_next;
    unsigned char is_pipe;
    unsigned char closing;
    /* Windows only (see uvstream.c): writes held until the connect ends. */
    unsigned char connecting;
    tn__held_write_t *held_head, *held_tail;
};

extern const tn_transport_ops_t tn__uvstream_ops;

/* Allocates a transport and initialises its uv handle (uv_tcp_init_ex with
 * family, or uv_pipe_init when is_pipe) and tracks it. family is AF_UNSPEC
 * for a handle that will receive a socket (uv_accept, uv_tcp_open). On error
 * nothing is left behind. */
int tn__uvstream_create(tn_ioloop_t *loop, int is_pipe, int family, tn__uvstream_t **out);

/* Wraps t in a new IOStream (tn_iostream_new with the uv ops). On failure
 * the transport is closed (asynchronously) and the error returned. */
int tn__uvstream_wrap(tn__uvstream_t *t, const tn_iostream_options_t *opts, tn_iostream_t **out);

/* Closes a transport that never got an IOStream (error paths). */
void tn__uvstream_discard(tn__uvstream_t *t);

/* Peer address as text: IPv4 dotted quad or IPv6 text; pipes and unknown
 * families report "0.0.0.0" and port 0 (Tornado's remote_ip for unix
 * sockets). Always writes a NUL-terminated string. */
int tn__uvstream_peer(tn__uvstream_t *t, char *ip, size_t iplen, int *port);

/* Marks t as connecting (connect.c, before uv_tcp_connect/uv_pipe_connect).
 * Only Windows needs it: there libuv refuses writes on a stream whose
 * connect has not completed, so the transport holds them meanwhile. */
void tn__uvstream_connecting(tn__uvstream_t *t);

/* The connect ended (before the IOStream hears it): held writes go to libuv
 * in order on success; on failure they wait for the close, which cancels
 * them. */
void tn__uvstream_connected(tn__uvstream_t *t, int status);

/* Creates a TCP stream and starts connecting it to addr (connect.c); the
 * contract of tn_iostream_connect. */
int tn__iostream_connect_addr(tn_ioloop_t *loop, const struct sockaddr *addr,
                              const tn_iostream_options_t *opts, tn_connect_cb cb, void *arg,
                              tn_iostream_t **out);

#endif /* TN_SHIM_UVSTREAM_H */
