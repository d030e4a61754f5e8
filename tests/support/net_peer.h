/* A scripted blocking socket peer on its own thread, for loopback tests:
 * the loop under test runs on the main thread while the peer connects,
 * sends, half-closes or resets, and reads until EOF. Every blocking call has
 * a 10 s timeout, so a broken test fails instead of hanging. */
#ifndef TN_TEST_NET_PEER_H
#define TN_TEST_NET_PEER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "tornuv.h"

typedef struct {
    /* Where to connect: family AF_INET / AF_INET6 with port, or AF_UNIX with
     * path. fd > 0 uses that connected socket instead (then family is
     * ignored). */
    int family;
    int port;
    const char *path;
    int fd;
    /* What to send, in chunks of chunk bytes (0: one write). */
    const char *send;
    size_t send_len;
    size_t chunk;
    unsigned chunk_delay_ms; /* pause between chunks */
    /* After sending: shutdown(SHUT_WR) (half-close), or reset the connection
     * (SO_LINGER {1,0} + close) after reset_after_ms without reading. */
    int shutdown_wr;
    int reset;
    unsigned reset_after_ms;
    /* Wait this long before reading. Read until EOF or read_limit bytes. */
    unsigned read_delay_ms;
    size_t read_limit;

    /* Results. */
    int connect_err;
    int read_err;
    int eof;
    char *recv;
    size_t recv_len;
    int send_err;      /* the first failed send, -errno */
    volatile int done; /* set when the peer's thread has finished */
    pthread_t thread;
} tn_peer_t;

/* Runs the loop for ms (close callbacks, deferred work), with a watchdog. */
void tn_test_settle(tn_ioloop_t *loop, uint64_t ms);

/* Frees a server and runs the loop until it is released. */
void tn_test_free_server(tn_ioloop_t *loop, tn_tcpserver_t *server);

/* Sockets are ints here, on Windows too (where the int holds a SOCKET:
 * Winsock handles fit), so the same tests read naturally on both.
 *
 * Blocking connect to 127.0.0.1 / ::1 (family) at port, or a unix path (not
 * on Windows: UV_ENOTSUP); returns the fd or a negative error as the library
 * reports them (-errno on Unix, UV_E* on Windows: compare with UV_E*). */
int tn_peer_connect(int family, int port, const char *path);

/* Starts the peer's thread. */
void tn_peer_start(tn_peer_t *p);

/* Runs loop until the peer's thread has finished (at most timeout_ms,
 * asserting it did), then joins it. */
void tn_peer_run_until_done(tn_ioloop_t *loop, tn_peer_t *p, uint64_t timeout_ms);
/* Joins the thread (results are then valid). */
void tn_peer_join(tn_peer_t *p);

/* Frees the received bytes. */
void tn_peer_free(tn_peer_t *p);

/* Fills buf with deterministic pseudo-random bytes from seed. */
void tn_test_random_bytes(char *buf, size_t len, unsigned seed);

/* Occurrences of needle in hay[0..n) (hay may be NULL when n is 0). */
int tn_test_count(const char *hay, size_t n, const char *needle);

/* 64-bit FNV-1a hash, for comparing large payloads. */
unsigned long long tn_test_hash(const void *data, size_t len);

/* A raw TCP socket bound to the loopback address of family (AF_INET or
 * AF_INET6) on an ephemeral port, listening when backlog > 0 (tests fill a
 * small backlog on purpose, which tn_testing_bind_unused_port's fixed one
 * cannot do). *port gets the port. Asserts success. */
int tn_test_raw_listener(int family, int backlog, int *port);

/* A loopback port nobody listens on (bound, then closed). */
int tn_test_closed_port(int family);

/* A connected pair of TCP sockets on 127.0.0.1: *server_fd is the accepted
 * end, *client_fd the connecting one. */
void tn_test_tcp_pair(int *server_fd, int *client_fd);

/* Accepts a pending connection on a listening socket without waiting:
 * the new socket, or -1 when none is pending (the listener is left
 * non-blocking). */
int tn_test_accept_nowait(int listen_fd);

/* Closes a socket from these helpers (close / closesocket). */
void tn_test_close_fd(int fd);

#endif /* TN_TEST_NET_PEER_H */
