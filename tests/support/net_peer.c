/* Loopback test helpers: the socket peer and raw sockets, on POSIX sockets
 * and on Winsock (where an int holds the SOCKET; unix paths are refused). */
#include "net_peer.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "loop_util.h"

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#define SOCK_CLOEXEC 0
#define MSG_NOSIGNAL 0
#define SHUT_WR SD_SEND
#define sock_error() WSAGetLastError()
#define sock_close(fd) closesocket((SOCKET)(fd))
typedef int sock_len_t; /* send/recv lengths */
#else
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#define sock_error() errno
#define sock_close(fd) close(fd)
typedef size_t sock_len_t;
#endif

/* Errors as the library reports them: -errno on Unix, UV_E* on Windows. */
static int last_error(void)
{
    return uv_translate_sys_error(sock_error());
}

static void sock_init(void)
{
#ifdef _WIN32
    WSADATA wsa;
    WSAStartup(MAKEWORD(2, 2), &wsa);
#endif
}

static void on_settled(tn_ioloop_t *loop, void *arg)
{
    (void)arg;
    tn_ioloop_stop(loop);
}

void tn_test_settle(tn_ioloop_t *loop, uint64_t ms)
{
    tn_ioloop_call_later(loop, ms, on_settled, NULL);
    tn_test_run(loop, ms + 5000);
}

static void on_server_freed(void *arg)
{
    *(int *)arg = 1;
}

static int flag_set(void *arg)
{
    return *(int *)arg;
}

void tn_test_free_server(tn_ioloop_t *loop, tn_tcpserver_t *server)
{
    int freed = 0;
    tn_tcpserver_free(server, on_server_freed, &freed);
    cr_assert_eq(tn_testing_run_until(loop, flag_set, &freed, 5000), 0, "server freed");
}

void tn_test_random_bytes(char *buf, size_t len, unsigned seed)
{
    unsigned long long x = 0x9E3779B97F4A7C15ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (char)(x >> 24);
    }
}

unsigned long long tn_test_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    unsigned long long h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void set_timeouts(int fd)
{
#ifdef _WIN32
    DWORD ms = 10000;
    setsockopt((SOCKET)fd, SOL_SOCKET, SO_RCVTIMEO, (const char *)&ms, sizeof(ms));
    setsockopt((SOCKET)fd, SOL_SOCKET, SO_SNDTIMEO, (const char *)&ms, sizeof(ms));
#else
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
#endif
}

int tn_peer_connect(int family, int port, const char *path)
{
    struct sockaddr_storage ss;
    socklen_t len;
    sock_init();
    memset(&ss, 0, sizeof(ss));
    if (family == AF_UNIX) {
#ifdef _WIN32
        (void)path;
        return UV_ENOTSUP;
#else
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        un->sun_family = AF_UNIX;
        strncpy(un->sun_path, path, sizeof(un->sun_path) - 1);
        len = sizeof(*un);
#endif
    } else if (family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        a6->sin6_addr = in6addr_loopback;
        len = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a4);
    }
    tn_socket_t s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s == TN_INVALID_SOCKET)
        return last_error();
    int fd = (int)s;
    set_timeouts(fd);
    if (connect(s, (struct sockaddr *)&ss, len) != 0) {
        int err = last_error();
        sock_close(fd);
        return err;
    }
    return fd;
}

static void reset_close(int fd)
{
    struct linger lg = {1, 0};
    setsockopt((tn_socket_t)fd, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof(lg));
    sock_close(fd);
}

static void peer_body(tn_peer_t *p);

static void *peer_main(void *arg)
{
    tn_peer_t *p = arg;
    peer_body(p);
    __atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

void tn_peer_run_until_done(tn_ioloop_t *loop, tn_peer_t *p, uint64_t timeout_ms)
{
    double t0 = tn_test_now_ms();
    while (!__atomic_load_n(&p->done, __ATOMIC_ACQUIRE) &&
           tn_test_now_ms() - t0 < (double)timeout_ms)
        tn_test_settle(loop, 5);
    cr_assert(__atomic_load_n(&p->done, __ATOMIC_ACQUIRE), "peer finished within %llu ms",
              (unsigned long long)timeout_ms);
    tn_peer_join(p);
}

static void peer_body(tn_peer_t *p)
{
    int fd = p->fd > 0 ? p->fd : tn_peer_connect(p->family, p->port, p->path);
    if (fd < 0) {
        p->connect_err = fd;
        return;
    }
    set_timeouts(fd);
    size_t off = 0;
    while (off < p->send_len) {
        size_t n = p->send_len - off;
        if (p->chunk > 0 && n > p->chunk)
            n = p->chunk;
        if (off > 0 && p->chunk_delay_ms)
            tn_test_sleep_ms(p->chunk_delay_ms);
        long w = (long)send((tn_socket_t)fd, p->send + off, (sock_len_t)n, MSG_NOSIGNAL);
        if (w <= 0) {
            p->read_err = last_error();
            p->send_err = p->read_err;
            break;
        }
        off += (size_t)w;
    }
    if (p->reset) {
        tn_test_sleep_ms(p->reset_after_ms);
        reset_close(fd);
        return;
    }
    if (p->shutdown_wr)
        shutdown((tn_socket_t)fd, SHUT_WR);
    if (p->read_delay_ms)
        tn_test_sleep_ms(p->read_delay_ms);
    size_t cap = 0;
    for (;;) {
        if (p->read_limit && p->recv_len >= p->read_limit)
            break;
        if (cap - p->recv_len < 65536) {
            cap = cap ? cap * 2 : 131072;
            p->recv = realloc(p->recv, cap);
        }
        long r =
            (long)recv((tn_socket_t)fd, p->recv + p->recv_len, (sock_len_t)(cap - p->recv_len), 0);
        if (r == 0) {
            p->eof = 1;
            break;
        }
        if (r < 0) {
#ifndef _WIN32
            if (errno == EINTR)
                continue;
#endif
            p->read_err = last_error();
            break;
        }
        p->recv_len += (size_t)r;
    }
    sock_close(fd);
}

void tn_peer_start(tn_peer_t *p)
{
    pthread_create(&p->thread, NULL, peer_main, p);
}

void tn_peer_join(tn_peer_t *p)
{
    pthread_join(p->thread, NULL);
}

void tn_peer_free(tn_peer_t *p)
{
    free(p->recv);
    p->recv = NULL;
}

int tn_test_raw_listener(int family, int backlog, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    sock_init();
    tn_socket_t s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_neq(s, TN_INVALID_SOCKET);
    int fd = (int)s;
    cr_assert_eq(bind(s, (struct sockaddr *)&ss, len), 0);
    if (backlog > 0)
        cr_assert_eq(listen(s, backlog), 0);
    len = sizeof(ss);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&ss, &len), 0);
    *port = family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                               : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int tn_test_closed_port(int family)
{
    int port;
    sock_close(tn_test_raw_listener(family, 0, &port));
    return port;
}

void tn_test_tcp_pair(int *server_fd, int *client_fd)
{
    int port;
    int lfd = tn_test_raw_listener(AF_INET, 1, &port);
    *client_fd = tn_peer_connect(AF_INET, port, NULL);
    cr_assert_geq(*client_fd, 0);
    tn_socket_t a = accept((tn_socket_t)lfd, NULL, NULL);
    cr_assert_neq(a, TN_INVALID_SOCKET);
    *server_fd = (int)a;
    sock_close(lfd);
}

int tn_test_accept_nowait(int listen_fd)
{
#ifdef _WIN32
    u_long on = 1;
    cr_assert_eq(ioctlsocket((SOCKET)listen_fd, FIONBIO, &on), 0);
#else
    int flags = fcntl(listen_fd, F_GETFL);
    cr_assert_eq(fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK), 0);
#endif
    tn_socket_t a = accept((tn_socket_t)listen_fd, NULL, NULL);
    return a == TN_INVALID_SOCKET ? -1 : (int)a;
}

void tn_test_close_fd(int fd)
{
    sock_close(fd);
}

int tn_test_count(const char *hay, size_t n, const char *needle)
{
    int c = 0;
    size_t k = strlen(needle);
    for (size_t i = 0; hay && i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            c++;
    return c;
}
