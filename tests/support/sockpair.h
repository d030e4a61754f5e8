/* Connected loopback TCP socket pairs for tests, on POSIX and Windows. */
#ifndef TN_TEST_SOCKPAIR_H
#define TN_TEST_SOCKPAIR_H

#include <stddef.h>

#include "tornuv/common.h"

/* Creates a connected pair over 127.0.0.1 (asserting success). */
void tn_test_socketpair(tn_socket_t sv[2]);
/* Connects a blocking TCP socket to 127.0.0.1:port (asserting success). */
tn_socket_t tn_test_connect(int port);
void tn_test_closesocket(tn_socket_t s);
/* shutdown(SHUT_WR / SD_SEND). */
void tn_test_shutdown_write(tn_socket_t s);
/* Closes with SO_LINGER {1, 0}, so the peer sees a reset. */
void tn_test_reset(tn_socket_t s);
/* send/recv returning the byte count or -1. */
long tn_test_send(tn_socket_t s, const void *buf, size_t len);
long tn_test_recv(tn_socket_t s, void *buf, size_t len);
/* Nonzero if the last send/recv failed because it would block. */
int tn_test_would_block(void);

#endif /* TN_TEST_SOCKPAIR_H */
