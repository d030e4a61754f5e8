/* TCPClient internals exposed for tests: connecting to an already resolved
 * address list, so Happy Eyeballs can be exercised with chosen families
 * without a resolver. */
#ifndef TN_SHIM_TCPCLIENT_INTERNAL_H
#define TN_SHIM_TCPCLIENT_INTERNAL_H

#include <uv.h>

#include "tornuv/tcpclient.h"

/* tn_tcpclient_connect's contract, starting from addrs (in the order a
 * resolver would return them) instead of a host name. secondary_delay_ms
 * replaces the 300 ms Happy Eyeballs delay. */
int tn__tcpclient_connect_addrs(tn_ioloop_t *loop, const struct sockaddr *const *addrs, size_t n,
                                uint64_t secondary_delay_ms, uint64_t timeout_ms,
                                const tn_iostream_options_t *opts, tn_connect_cb cb, void *arg);

#endif /* TN_SHIM_TCPCLIENT_INTERNAL_H */
