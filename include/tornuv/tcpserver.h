/* tornuv TCPServer: listening sockets (TCP over IPv4/IPv6, unix domain
 * sockets, Windows named pipes) that hand each accepted connection to the
 * application as an IOStream.
 *
 * A server owns its listening sockets only; accepted streams belong to the
 * application from handle_stream on and outlive tn_tcpserver_stop and
 * tn_tcpserver_free.
 *
 * Accept errors never stop a server. A peer that gave up before it was
 * accepted (ECONNABORTED, ECONNRESET) is skipped silently, as in Tornado.
 * Out of file descriptors (EMFILE, ENFILE): libuv's reserve descriptor lets
 * it accept and close the excess connections, so they see their connection
 * end at once; if even that reserve is gone, the listener pauses for 500 ms
 * (connections wait in the backlog) instead of spinning. Either way at most
 * one log line per second (TN_LOG_ERROR) per server reports it. */
#ifndef TORNUV_TCPSERVER_H
#define TORNUV_TCPSERVER_H

#include "common.h"
#include "ioloop.h"
#include "iostream.h"
#include "tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_tcpserver_s tn_tcpserver_t;

/** Receives one accepted connection. stream is owned by the application
 * from now on (close it when done; it is freed after its close callback).
 * ip is the peer's address in text form ("127.0.0.1", "::1"; "0.0.0.0" for
 * unix sockets and pipes, as Tornado's HTTPServer reports them), borrowed for
 * the call; port is the peer's port (0 for pipes). Runs on the loop thread
 * from the accept path; may call tn_tcpserver_stop or tn_tcpserver_free.
 * Tornado: TCPServer.handle_stream(stream, address). */
typedef void (*tn_handle_stream_cb)(tn_tcpserver_t *server, tn_iostream_t *stream, const char *ip,
                                    int port, void *arg);

/** Runs once when tn_tcpserver_free has closed every listening socket and
 * released the server. */
typedef void (*tn_tcpserver_freed_cb)(void *arg);

/** Server options; zero means the default. */
typedef struct {
    /** Required: called for every accepted connection. */
    tn_handle_stream_cb handle_stream;
    /** Passed to handle_stream. */
    void *arg;
    /** Options for every accepted stream (max_buffer_size, ...). */
    tn_iostream_options_t stream_options;
    /** listen() backlog; 0 means 128 (Tornado's default). */
    int backlog;
    /** Set SO_REUSEPORT on sockets bound by tn_tcpserver_listen, so several
     * processes can share a port (pre-fork). TN_ENOTSUP where the platform
     * lacks it (Windows). */
    int reuse_port;
    /** When nonzero, at most this many accepted connections are alive at
     * once: at the limit the server stops accepting (pending connections
     * wait in the kernel's backlog) and resumes as connections close. */
    size_t max_connections;
    /** When set, every accepted connection is wrapped in TLS with this server
     * context before handle_stream sees it (as Tornado, handle_stream runs
     * at once, while the handshake is still under way: reads and writes wait
     * for it, and a failed or overdue handshake closes the stream). Borrowed:
     * the context must outlive the server (each connection holds its own
     * reference). Tornado: TCPServer(ssl_options=). */
    tn_tls_context_t *ssl_options;
} tn_tcpserver_options_t;

/** Creates a server with no sockets. opts may be NULL only to get an error:
 * handle_stream is required (TN_EINVAL otherwise). The options are copied.
 * Returns 0, TN_EINVAL, TN_ENOMEM or TN_EDETACHED (loop closing). The server
 * counts as a live object of the loop until tn_tcpserver_free completes (or
 * tn_ioloop_close(TN_CLOSE_ALL_FDS) closes it).
 * Tornado: TCPServer(max_buffer_size=..., read_chunk_size=...). */
TN_EXTERN int tn_tcpserver_new(tn_ioloop_t *loop, const tn_tcpserver_options_t *opts,
                               tn_tcpserver_t **out);

/** Binds and starts listening on port (0 picks an ephemeral port) at
 * address, like Tornado's bind_sockets + add_sockets: the address is
 * resolved (numeric or a host name such as "localhost"); NULL or "" means
 * every family available, i.e. 0.0.0.0 and :: as two sockets, IPV6_V6ONLY on
 * the IPv6 one; with port 0 every socket after the first reuses the first's
 * port. SO_REUSEADDR is set on Unix; SO_REUSEPORT when reuse_port.
 * EADDRNOTAVAIL on an IPv6 address is skipped when another address bound
 * (hosts without a ::1), and families the kernel lacks are skipped.
 * May be called several times for several ports. Either every socket is
 * bound or none is left open. Returns 0, UV_EADDRINUSE style system codes
 * (-EADDRINUSE, -EACCES, ...), resolver errors (UV_EAI_*), TN_ENOTSUP
 * (reuse_port unsupported), TN_EINVAL (port out of range, server stopped),
 * TN_ENOMEM.
 * Tornado: TCPServer.listen(port, address, backlog=, reuse_port=). */
TN_EXTERN int tn_tcpserver_listen(tn_tcpserver_t *server, int port, const char *address);

/** Port of the first TCP socket bound by listen (the one to read back after
 * listening on port 0), or 0 when there is none.
 * Tornado: sock.getsockname()[1] of the bound sockets. */
TN_EXTERN int tn_tcpserver_port(tn_tcpserver_t *server);

/** Starts accepting on a socket bound and listened on elsewhere (pre-fork,
 * socket activation): TCP or, on Unix, a unix domain socket. The server
 * takes ownership: it closes sock when stopped. Returns 0, TN_EINVAL (not a
 * listening socket, server stopped; sock is left to the caller), TN_ENOMEM,
 * or a libuv error (sock is then closed if libuv had taken it, i.e. for
 * errors from listen).
 * Tornado: TCPServer.add_socket(socket). */
TN_EXTERN int tn_tcpserver_add_socket(tn_tcpserver_t *server, tn_socket_t sock);

/** Listens on a unix domain socket at path (a named pipe on Windows), mode
 * 0600. A stale socket file at path is removed first; a file of that name
 * that is not a socket makes it fail with -EEXIST (UV_EEXIST) and is left
 * alone. Abstract names are not supported (libuv 1.44 cannot bind them).
 * Connections report ip "0.0.0.0", port 0. Returns 0, UV_EEXIST, system
 * codes from bind/listen, TN_EINVAL (empty path, server stopped), TN_ENOMEM.
 * Tornado: netutil.bind_unix_socket + TCPServer.add_socket. */
TN_EXTERN int tn_tcpserver_listen_pipe(tn_tcpserver_t *server, const char *path);

/** Stops listening: every listening socket is closed (asynchronously; no
 * further handle_stream calls from the moment stop returns). Existing
 * connections continue. Idempotent; safe from inside handle_stream while a
 * batch of connections is being accepted. A stopped server cannot listen
 * again; free it.
 * Tornado: TCPServer.stop(). */
TN_EXTERN void tn_tcpserver_stop(tn_tcpserver_t *server);

/** Stops the server and releases it. on_freed(arg) (may be NULL) runs once,
 * later, after every listening socket has been closed; the server pointer is
 * invalid from the moment this returns. Safe from inside handle_stream.
 * Accepted streams are not affected.
 * Tornado: none (garbage collection). */
TN_EXTERN void tn_tcpserver_free(tn_tcpserver_t *server, tn_tcpserver_freed_cb on_freed, void *arg);

/** Number of connections this server accepted that are still open (their
 * streams not yet closed). Not a Tornado API; useful with max_connections
 * and for graceful shutdown. */
TN_EXTERN size_t tn_tcpserver_connection_count(tn_tcpserver_t *server);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_TCPSERVER_H */
