/* Internal: the TCPServer beneath an HTTPServer, for shim/workers.c (which
 * listens it on the workers' shared port). Kept apart from
 * httpserver_internal.h, which needs llhttp's header. */
#ifndef TN_LIB_HTTPSERVER_TCP_H
#define TN_LIB_HTTPSERVER_TCP_H

#include "tornuv/httpserver.h"
#include "tornuv/tcpserver.h"

/** The TCPServer underneath server (owned by it). */
tn_tcpserver_t *tn__httpserver_tcp(tn_httpserver_t *server);

#endif
