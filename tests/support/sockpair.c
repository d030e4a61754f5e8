/* Loopback socket pairs (see sockpair.h). */
#include "sockpair.h"

#include <criterion/criterion.h>
#include <string.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
typedef int socklen_t;
#define TN_TEST_ERRNO WSAGetLastError()
#define TN_TEST_WOULD_BLOCK(e) ((e) == WSAEWOULDBLOCK)
#else
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#define TN_TEST_ERRNO errno
#define TN_TEST_WOULD_BLOCK(e) ((e) == EAGAIN || (e) == EWOULDBLOCK)
#endif

void tn_test_socketpair(tn_socket_t sv[2])
{
#ifdef _WIN32
    WSADATA wsa;
    WSAStartup(MAKEWORD(2, 2), &wsa);
#endif
    tn_socket_t lst = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_neq(lst, TN_INVALID_SOCKET);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    cr_assert_eq(bind(lst, (struct sockaddr *)&addr, sizeof(addr)), 0);
    cr_assert_eq(listen(lst, 1), 0);
    socklen_t len = sizeof(addr);
    cr_assert_eq(getsockname(lst, (struct sockaddr *)&addr, &len), 0);
    sv[0] = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_neq(sv[0], TN_INVALID_SOCKET);
    cr_assert_eq(connect(sv[0], (struct sockaddr *)&addr, sizeof(addr)), 0);
    sv[1] = accept(lst, NULL, NULL);
    cr_assert_neq(sv[1], TN_INVALID_SOCKET);
    tn_test_closesocket(lst);
    int one = 1;
    setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
    setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
}

tn_socket_t tn_test_connect(int port)
{
#ifdef _WIN32
    WSADATA wsa;
    WSAStartup(MAKEWORD(2, 2), &wsa);
#endif
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)port);
    tn_socket_t s = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_neq(s, TN_INVALID_SOCKET);
    cr_assert_eq(connect(s, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return s;
}

void tn_test_shutdown_write(tn_socket_t s)
{
#ifdef _WIN32
    shutdown(s, SD_SEND);
#else
    shutdown(s, SHUT_WR);
#endif
}

void tn_test_closesocket(tn_socket_t s)
{
#ifdef _WIN32
    closesocket(s);
#else
    close(s);
#endif
}

void tn_test_reset(tn_socket_t s)
{
    struct linger lg = {1, 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof(lg));
    tn_test_closesocket(s);
}

long tn_test_send(tn_socket_t s, const void *buf, size_t len)
{
#ifdef _WIN32
    return send(s, buf, (int)len, 0);
#else
    return (long)send(s, buf, len, 0);
#endif
}

long tn_test_recv(tn_socket_t s, void *buf, size_t len)
{
#ifdef _WIN32
    return recv(s, buf, (int)len, 0);
#else
    return (long)recv(s, buf, len, 0);
#endif
}

int tn_test_would_block(void)
{
    int e = TN_TEST_ERRNO;
    return TN_TEST_WOULD_BLOCK(e);
}
