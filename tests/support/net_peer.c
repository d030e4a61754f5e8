/* Loopback test helpers; the socket peer and raw sockets are POSIX only. */
#include "net_peer.h"

#include <criterion/criterion.h>

#include "loop_util.h"

#ifndef _WIN32
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#endif

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
    tn_ioloop_stop(arg);
}

void tn_test_free_server(tn_ioloop_t *loop, tn_tcpserver_t *server)
{
    tn_tcpserver_free(server, on_server_freed, loop);
    tn_test_run(loop, 5000);
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

#ifndef _WIN32

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void set_timeouts(int fd)
{
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int tn_peer_connect(int family, int port, const char *path)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    if (family == AF_UNIX) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        un->sun_family = AF_UNIX;
        strncpy(un->sun_path, path, sizeof(un->sun_path) - 1);
        len = sizeof(*un);
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
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    set_timeouts(fd);
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static void reset_close(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
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
            sleep_ms(p->chunk_delay_ms);
        ssize_t w = send(fd, p->send + off, n, MSG_NOSIGNAL);
        if (w <= 0) {
            p->read_err = -errno;
            p->send_err = -errno;
            break;
        }
        off += (size_t)w;
    }
    if (p->reset) {
        sleep_ms(p->reset_after_ms);
        reset_close(fd);
        return;
    }
    if (p->shutdown_wr)
        shutdown(fd, SHUT_WR);
    if (p->read_delay_ms)
        sleep_ms(p->read_delay_ms);
    size_t cap = 0;
    for (;;) {
        if (p->read_limit && p->recv_len >= p->read_limit)
            break;
        if (cap - p->recv_len < 65536) {
            cap = cap ? cap * 2 : 131072;
            p->recv = realloc(p->recv, cap);
        }
        ssize_t r = recv(fd, p->recv + p->recv_len, cap - p->recv_len, 0);
        if (r == 0) {
            p->eof = 1;
            break;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            p->read_err = -errno;
            break;
        }
        p->recv_len += (size_t)r;
    }
    close(fd);
    return;
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
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
    if (backlog > 0)
        cr_assert_eq(listen(fd, backlog), 0);
    len = sizeof(ss);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    *port = family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                               : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int tn_test_closed_port(int family)
{
    int port;
    close(tn_test_raw_listener(family, 0, &port));
    return port;
}

void tn_test_tcp_pair(int *server_fd, int *client_fd)
{
    int port;
    int lfd = tn_test_raw_listener(AF_INET, 1, &port);
    *client_fd = tn_peer_connect(AF_INET, port, NULL);
    cr_assert_geq(*client_fd, 0);
    *server_fd = accept(lfd, NULL, NULL);
    cr_assert_geq(*server_fd, 0);
    close(lfd);
}

#endif /* _WIN32 */
