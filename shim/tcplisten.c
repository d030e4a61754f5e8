/* Binding listening sockets the way Tornado's netutil.bind_sockets and
 * bind_unix_socket do, plus add_socket and the EMFILE reserve descriptor. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#ifndef _WIN32
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include "tcpserver_internal.h"

#define TN__MAX_BIND_ADDRS 16

static int sockaddr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

static void sockaddr_set_port(struct sockaddr *sa, int port)
{
    if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
}

static int set_reuse_port(tn__listener_t *l)
{
#if defined(_WIN32) || !defined(SO_REUSEPORT)
    (void)l;
    return TN_ENOTSUP;
#else
    /* UV_TCP_REUSEPORT only exists from libuv 1.49: set it by hand on the
     * socket uv_tcp_init_ex created, before bind. */
    uv_os_fd_t fd;
    int on = 1;
    int err = uv_fileno(&l->uv.handle, &fd);
    if (err != 0)
        return err;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
        return errno == ENOPROTOOPT ? TN_ENOTSUP : -errno;
    return 0;
#endif
}

/* Binds and listens one address. *l_out is set (for the caller to close)
 * whenever a listener was created, even on error. */
static int bind_one(tn_tcpserver_t *server, const struct sockaddr *addr, tn__listener_t **l_out)
{
    tn__listener_t *l;
    *l_out = NULL;
    int err = tn__listener_init(server, 0, addr->sa_family, &l);
    if (err != 0)
        return err;
    *l_out = l;
    if (server->opts.reuse_port && (err = set_reuse_port(l)) != 0)
        return err;
    /* IPV6_V6ONLY keeps the :: socket from claiming IPv4 too, so the 0.0.0.0
     * socket can coexist with it (Tornado sets it on every IPv6 socket). */
    err = uv_tcp_bind(&l->uv.tcp, addr, addr->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
    if (err != 0)
        return err;
    /* libuv reports EADDRINUSE from bind only at listen time. */
    return tn__listener_start(l);
}

static int bound_port(tn__listener_t *l)
{
    struct sockaddr_storage ss;
    int len = (int)sizeof(ss);
    if (uv_tcp_getsockname(&l->uv.tcp, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    return sockaddr_port((const struct sockaddr *)&ss);
}

static int same_addr(const struct addrinfo *a, const struct addrinfo *b)
{
    return a->ai_family == b->ai_family && a->ai_addrlen == b->ai_addrlen &&
           memcmp(a->ai_addr, b->ai_addr, a->ai_addrlen) == 0;
}

static int resolve_passive(tn_tcpserver_t *server, int port, const char *address,
                           struct addrinfo **res)
{
    uv_getaddrinfo_t req;
    struct addrinfo hints;
    char service[16];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(service, sizeof(service), "%d", port);
    /* Synchronous (no callback): listen() is a blocking setup call in
     * Tornado as well, and usually resolves a numeric address. */
    int err =
        uv_getaddrinfo(tn__loop_uv(server->loop), &req, NULL,
                       address != NULL && address[0] != '\0' ? address : NULL, service, &hints);
    if (err != 0)
        return err;
    *res = req.addrinfo;
    return 0;
}

int tn_tcpserver_listen(tn_tcpserver_t *server, int port, const char *address)
{
    struct addrinfo *res = NULL;
    tn__listener_t *made[TN__MAX_BIND_ADDRS];
    size_t nmade = 0;
    int first_port = 0;

    if (server == NULL || port < 0 || port > 65535 || server->stopped)
        return TN_EINVAL;
#if defined(_WIN32) || !defined(SO_REUSEPORT)
    if (server->opts.reuse_port)
        return TN_ENOTSUP;
#endif
    int err = resolve_passive(server, port, address, &res);
    if (err != 0)
        return err;
    for (struct addrinfo *ai = res; ai != NULL && err == 0; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        int dup = 0;
        for (struct addrinfo *p = res; p != ai && !dup; p = p->ai_next)
            dup = same_addr(p, ai);
        if (dup || nmade == TN__MAX_BIND_ADDRS)
            continue;
        struct sockaddr_storage ss;
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        /* With port 0, every socket after the first takes the port the
         * kernel picked for the first one. */
        if (port == 0 && first_port != 0)
            sockaddr_set_port((struct sockaddr *)&ss, first_port);
        tn__listener_t *l;
        err = bind_one(server, (struct sockaddr *)&ss, &l);
        if (err == 0) {
            made[nmade++] = l;
            if (first_port == 0)
                first_port = bound_port(l);
            continue;
        }
        if (l != NULL)
            tn__listener_close(l);
        /* A kernel without IPv6, or a host without ::1 configured
         * ("localhost" resolving to it anyway): skip, as Tornado does. */
        if (err == UV_EAFNOSUPPORT || (err == UV_EADDRNOTAVAIL && ai->ai_family == AF_INET6))
            err = 0;
    }
    uv_freeaddrinfo(res);
    if (err == 0 && nmade == 0)
        err = UV_EADDRNOTAVAIL;
    if (err != 0) {
        for (size_t i = 0; i < nmade; i++)
            tn__listener_close(made[i]);
        return err;
    }
    if (server->port == 0)
        server->port = first_port;
    return 0;
}

int tn_tcpserver_add_socket(tn_tcpserver_t *server, tn_socket_t sock)
{
    tn__listener_t *l;
    int is_pipe = 0;
    if (server == NULL || server->stopped || sock == TN_INVALID_SOCKET)
        return TN_EINVAL;
    int accepting = 0;
#ifdef _WIN32
    /* Winsock answers SO_ACCEPTCONN with a BOOL (an int) too. */
    int optlen = sizeof(accepting);
    if (getsockopt((SOCKET)sock, SOL_SOCKET, SO_ACCEPTCONN, (char *)&accepting, &optlen) != 0 ||
        !accepting)
        return TN_EINVAL;
#else
    socklen_t optlen = sizeof(accepting);
    if (getsockopt(sock, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &optlen) != 0 || !accepting)
        return TN_EINVAL;
    is_pipe = uv_guess_handle(sock) == UV_NAMED_PIPE;
#endif
    int err = tn__listener_init(server, is_pipe, AF_UNSPEC, &l);
    if (err != 0)
        return err;
    if (is_pipe)
        err = uv_pipe_open(&l->uv.pipe, (uv_file)sock);
    else
        err = uv_tcp_open(&l->uv.tcp, (uv_os_sock_t)sock);
    if (err != 0) {
        /* The handle never took the socket: it stays the caller's. */
        tn__listener_close(l);
        return err;
    }
    err = tn__listener_start(l);
    if (err != 0) {
        tn__listener_close(l);
        return err;
    }
    if (!is_pipe && server->port == 0)
        server->port = bound_port(l);
    return 0;
}

#ifndef _WIN32
/* Binds and listens an AF_UNIX socket by hand rather than with uv_pipe_bind:
 * libuv unlinks the path of a pipe it bound whenever that handle closes, and
 * a paused listener's handle is closed and reopened (see tcpserver.c). Like
 * Tornado, a stopped server leaves its socket file behind. */
static int bind_unix(const char *path, int *fd_out)
{
    struct sockaddr_un un;
    if (strlen(path) >= sizeof(un.sun_path))
        return UV_ENAMETOOLONG;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&un, sizeof(un)) != 0 || chmod(path, 0600) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    *fd_out = fd;
    return 0;
}
#endif

int tn_tcpserver_listen_pipe(tn_tcpserver_t *server, const char *path)
{
    tn__listener_t *l;
    if (server == NULL || server->stopped || path == NULL || path[0] == '\0')
        return TN_EINVAL;
#ifndef _WIN32
    struct stat st;
    int fd = -1;
    if (stat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return UV_EEXIST;
        /* A stale socket from an earlier run (Tornado removes it too). */
        if (unlink(path) != 0 && errno != ENOENT)
            return -errno;
    }
    int err = bind_unix(path, &fd);
    if (err != 0)
        return err;
    err = tn__listener_init(server, 1, AF_UNSPEC, &l);
    if (err != 0) {
        close(fd);
        unlink(path);
        return err;
    }
    err = uv_pipe_open(&l->uv.pipe, fd);
    if (err != 0)
        close(fd);
#else
    int err = tn__listener_init(server, 1, AF_UNSPEC, &l);
    if (err != 0)
        return err;
    err = uv_pipe_bind(&l->uv.pipe, path);
#endif
    if (err == 0)
        err = tn__listener_start(l);
    if (err != 0) {
        tn__listener_close(l);
#ifndef _WIN32
        unlink(path);
#endif
    }
    return err;
}

/* The reserve descriptor: one per process, opened when the first listener
 * starts. Exchanged atomically because loops on other threads may race for
 * it; whoever takes it puts a fresh one back. */
#ifndef _WIN32
static atomic_int reserve_fd = -1;
#endif

void tn__reserve_fd_open(void)
{
#ifndef _WIN32
    if (atomic_load(&reserve_fd) >= 0)
        return;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    int expected = -1;
    if (!atomic_compare_exchange_strong(&reserve_fd, &expected, fd))
        close(fd);
#endif
}

uv_os_fd_t tn__listener_dup_for_pause(tn__listener_t *l)
{
#ifdef _WIN32
    (void)l;
    return (uv_os_fd_t)-1;
#else
    uv_os_fd_t lfd;
    if (uv_fileno(&l->uv.handle, &lfd) != 0)
        return -1;
    int fd = atomic_exchange(&reserve_fd, -1);
    if (fd >= 0)
        close(fd);
    /* Takes the reserve's slot; the handle's own descriptor is released by
     * the caller's uv_close, which is what refills the reserve. */
    return fcntl(lfd, F_DUPFD_CLOEXEC, 0);
#endif
}

void tn__close_fd(uv_os_fd_t fd)
{
#ifdef _WIN32
    closesocket((SOCKET)fd);
#else
    close(fd);
#endif
}
