/* TCPServer internals shared by tcpserver.c (lifecycle, accepting) and
 * tcplisten.c (binding sockets the way Tornado's bind_sockets does). */
#ifndef TN_SHIM_TCPSERVER_INTERNAL_H
#define TN_SHIM_TCPSERVER_INTERNAL_H

#include <uv.h>

#include "loop_internal.h"
#include "tornuv/tcpserver.h"
#include "uvstream.h"

typedef struct tn__listener_s tn__listener_t;

/* Listener states. A listener is paused (F16: out of descriptors and no
 * reserve left in libuv) by closing its uv handle while a duplicate of the
 * socket keeps the port and the backlog; a timer reopens it. */
enum { TN__L_ACTIVE, TN__L_PAUSING, TN__L_PAUSED, TN__L_CLOSING };

/* One listening socket. Freed in its uv close callback (or at once when
 * closed while paused, having no handle then). */
struct tn__listener_s {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } uv;
    tn_tcpserver_t *server;
    tn__listener_t *prev, *next;
    /* The socket kept while paused (-1 otherwise). */
    uv_os_fd_t paused_fd;
    unsigned char is_pipe;
    unsigned char state;
    /* Connections libuv accepted that the server has not taken yet
     * (max_connections reached). On Unix at most one: libuv stops polling
     * this listener until uv_accept collects it. On Windows one per
     * completed accept request. */
    unsigned held;
};

struct tn_tcpserver_s {
    tn__handle_t track;
    tn_ioloop_t *loop;
    tn_tcpserver_options_t opts;
    tn__listener_t *listeners;
    /* Accepted connections still open (for max_connections). */
    tn__uvstream_t *conns;
    size_t nconns;
    /* Resumes accepting when a connection slot frees up, or retries a held
     * connection after a transient failure. */
    uv_timer_t timer;
    /* uv handles not yet closed: the listeners plus the timer. The server
     * is released when this reaches zero after free. */
    size_t open_handles;
    int port;
    uint64_t last_error_log_ms;
    unsigned char stopped;
    unsigned char freeing;
    tn_tcpserver_freed_cb on_freed;
    void *on_freed_arg;
};

/* Initialises a listener's uv handle (tcp with the given family, or pipe)
 * and counts it among the server's open handles. Not yet linked. */
int tn__listener_init(tn_tcpserver_t *server, int is_pipe, int family, tn__listener_t **out);

/* Starts accepting on an initialised, bound listener and links it into the
 * server. On error the caller closes it with tn__listener_close. */
int tn__listener_start(tn__listener_t *l);

/* Closes a listener (linked or not); idempotent. */
void tn__listener_close(tn__listener_t *l);

/* Out of descriptors (Unix): duplicates the listening socket into the
 * reserve descriptor's slot and returns the duplicate, or -1 when no
 * descriptor can be had. The caller then closes the listener's handle (which
 * ends libuv's accept loop) and reopens the duplicate later. */
uv_os_fd_t tn__listener_dup_for_pause(tn__listener_t *l);

/* Reinitialises a paused listener's handle on its kept socket and listens
 * again. */
int tn__listener_reopen(tn__listener_t *l);

/* Closes a kept socket. */
void tn__close_fd(uv_os_fd_t fd);

/* Opens the process-wide reserve descriptor (Unix). */
void tn__reserve_fd_open(void);

#endif /* TN_SHIM_TCPSERVER_INTERNAL_H */
