/* The echo server of echo_handlers.c, written directly on the IOLoop's fd
 * handlers (Tornado's add_handler / update_handler / remove_handler), as a
 * header of static functions so tests/test_echo_handlers.c can drive the
 * very same code with real sockets.
 *
 * Per client: READ interest while nothing is queued; data read is queued and
 * interest switches to WRITE until the queue drains, then back to READ (so a
 * client that does not read its echoes is not read from either: the queue
 * stays bounded by one read). EOF closes the client once its queue is
 * flushed; errors close it at once. */
#ifndef TN_EXAMPLE_ECHO_HANDLERS_SERVER_H
#define TN_EXAMPLE_ECHO_HANDLERS_SERVER_H

#include <stdio.h>
#include <string.h>

#include "tornuv.h"

/* ---- portability: the few socket calls the server needs ---------------- */
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
typedef int echo_socklen_t;
static int echo_last_error(void)
{
    return WSAGetLastError();
}
static int echo_would_block(int err)
{
    return err == WSAEWOULDBLOCK;
}
static int echo_interrupted(int err)
{
    return err == WSAEINTR;
}
static void echo_closesocket(tn_socket_t s)
{
    closesocket(s);
}
static int echo_set_nonblocking(tn_socket_t s)
{
    u_long on = 1;
    return ioctlsocket(s, FIONBIO, &on) == 0 ? 0 : -1;
}
static long echo_recv(tn_socket_t s, char *buf, size_t len)
{
    return recv(s, buf, (int)len, 0);
}
static long echo_send(tn_socket_t s, const char *buf, size_t len)
{
    return send(s, buf, (int)len, 0);
}
static void echo_net_init(void)
{
    WSADATA wsa;
    WSAStartup(MAKEWORD(2, 2), &wsa);
}
#else
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
typedef socklen_t echo_socklen_t;
static int echo_last_error(void)
{
    return errno;
}
static int echo_would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}
static int echo_interrupted(int err)
{
    return err == EINTR;
}
static void echo_closesocket(tn_socket_t s)
{
    close(s);
}
static int echo_set_nonblocking(tn_socket_t s)
{
    int flags = fcntl(s, F_GETFL);
    return flags < 0 ? -1 : fcntl(s, F_SETFL, flags | O_NONBLOCK);
}
static long echo_recv(tn_socket_t s, char *buf, size_t len)
{
    return (long)recv(s, buf, len, 0);
}
static long echo_send(tn_socket_t s, const char *buf, size_t len)
{
#ifdef MSG_NOSIGNAL
    return (long)send(s, buf, len, MSG_NOSIGNAL);
#else
    return (long)send(s, buf, len, 0);
#endif
}
static void echo_net_init(void)
{
}
#endif
/* ------------------------------------------------------------------------- */

#define ECHO_READ_CHUNK 65536
#define ECHO_ACCEPTS_PER_EVENT 64
#define ECHO_ACCEPT_PAUSE_MS 100

typedef struct echo_server_s echo_server_t;
typedef struct echo_client_s echo_client_t;

struct echo_client_s {
    echo_server_t *server;
    echo_client_t *prev, *next;
    tn_socket_t fd;
    char *queue; /* bytes read and not yet echoed: queue[sent, len) */
    size_t len, sent;
    int eof;  /* the peer finished sending: close once the queue drains */
    int want; /* the interest currently registered */
};

struct echo_server_s {
    tn_ioloop_t *loop;
    tn_socket_t listener;
    int port;
    echo_client_t *clients;
    size_t nclients;
    size_t accepted;
    unsigned long long bytes_echoed;
    tn_timeout_id resume; /* pending end of an accept pause, or 0 */
    size_t accept_pauses;
};

static void echo_client_close(echo_client_t *c)
{
    echo_server_t *s = c->server;
    tn_ioloop_remove_handler(s->loop, c->fd);
    echo_closesocket(c->fd);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->nclients--;
    tn_free(c->queue);
    tn_free(c);
}

/* Returns 0 to keep the client, -1 after closing it. */
static int echo_client_read(echo_client_t *c)
{
    if (c->queue == NULL && (c->queue = tn_malloc(ECHO_READ_CHUNK)) == NULL)
        return echo_client_close(c), -1;
    for (;;) {
        long n = echo_recv(c->fd, c->queue, ECHO_READ_CHUNK);
        if (n > 0) {
            c->len = (size_t)n;
            c->sent = 0;
            return 0;
        }
        if (n == 0) {
            c->eof = 1;
            return 0;
        }
        int err = echo_last_error();
        if (echo_interrupted(err))
            continue;
        if (echo_would_block(err))
            return 0;
        return echo_client_close(c), -1;
    }
}

static int echo_client_write(echo_client_t *c)
{
    while (c->sent < c->len) {
        long n = echo_send(c->fd, c->queue + c->sent, c->len - c->sent);
        if (n > 0) {
            c->sent += (size_t)n;
            c->server->bytes_echoed += (unsigned long long)n;
            continue;
        }
        int err = echo_last_error();
        if (n < 0 && echo_interrupted(err))
            continue;
        if (n < 0 && echo_would_block(err))
            return 0;
        return echo_client_close(c), -1;
    }
    c->len = c->sent = 0;
    return 0;
}

static void on_echo_client(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    echo_client_t *c = arg;
    if ((events & TN_READ) && c->len == 0 && !c->eof) {
        if (echo_client_read(c) < 0)
            return;
    }
    if ((events & TN_WRITE) || c->len > 0) {
        if (echo_client_write(c) < 0)
            return;
    }
    /* ERROR alone (no readiness to act on) is a socket error or a hang-up
     * while we wait to write: nothing more can be echoed. */
    if (c->eof && c->len == 0)
        return echo_client_close(c);
    if ((events & TN_ERROR) && !(events & (TN_READ | TN_WRITE)))
        return echo_client_close(c);
    int want = c->len > 0 ? TN_WRITE : TN_READ;
    if (want != c->want) {
        c->want = want;
        tn_ioloop_update_handler(loop, fd, want);
    }
}

static void on_echo_resume(tn_ioloop_t *loop, void *arg)
{
    echo_server_t *s = arg;
    s->resume = 0;
    tn_ioloop_update_handler(loop, s->listener, TN_READ);
}

static void on_echo_accept(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    echo_server_t *s = arg;
    for (int i = 0; i < ECHO_ACCEPTS_PER_EVENT; i++) {
        tn_socket_t cfd = accept(s->listener, NULL, NULL);
        if (cfd == TN_INVALID_SOCKET) {
            int err = echo_last_error();
            if (echo_would_block(err) || echo_interrupted(err))
                return;
            /* Out of fds, say: the listener stays readable, so pause it
             * rather than spin (and log once per pause). */
            tn_log(TN_LOG_WARN, "echo: accept failed (%d), pausing accepts", err);
            s->accept_pauses++;
            tn_ioloop_update_handler(loop, s->listener, TN_NONE);
            s->resume = tn_ioloop_call_later(loop, ECHO_ACCEPT_PAUSE_MS, on_echo_resume, s);
            return;
        }
        echo_client_t *c = tn_calloc(1, sizeof(*c));
        if (c == NULL || echo_set_nonblocking(cfd) != 0 ||
            tn_ioloop_add_handler(loop, cfd, TN_READ, on_echo_client, c) != 0) {
            tn_free(c);
            echo_closesocket(cfd);
            continue;
        }
        c->server = s;
        c->fd = cfd;
        c->want = TN_READ;
        c->next = s->clients;
        if (s->clients != NULL)
            s->clients->prev = c;
        s->clients = c;
        s->nclients++;
        s->accepted++;
    }
}

/* Listens on host:port (port 0 picks one; s->port tells which). Returns 0 or
 * a negative error. */
static int echo_server_start(echo_server_t *s, tn_ioloop_t *loop, const char *host, int port)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    echo_net_init();
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return TN_EINVAL;
    s->listener = socket(AF_INET, SOCK_STREAM, 0);
    if (s->listener == TN_INVALID_SOCKET)
        return -echo_last_error();
    int one = 1;
    setsockopt(s->listener, SOL_SOCKET, SO_REUSEADDR, (const char *)&one, sizeof(one));
    echo_socklen_t len = sizeof(addr);
    if (bind(s->listener, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(s->listener, 128) != 0 || echo_set_nonblocking(s->listener) != 0 ||
        getsockname(s->listener, (struct sockaddr *)&addr, &len) != 0) {
        int err = echo_last_error();
        echo_closesocket(s->listener);
        return -err;
    }
    s->port = ntohs(addr.sin_port);
    int err = tn_ioloop_add_handler(loop, s->listener, TN_READ, on_echo_accept, s);
    if (err != 0)
        echo_closesocket(s->listener);
    return err;
}

/* Closes the listener and every client. */
static void echo_server_stop(echo_server_t *s)
{
    while (s->clients != NULL)
        echo_client_close(s->clients);
    tn_ioloop_remove_timeout(s->loop, s->resume);
    tn_ioloop_remove_handler(s->loop, s->listener);
    echo_closesocket(s->listener);
}

#endif /* TN_EXAMPLE_ECHO_HANDLERS_SERVER_H */
