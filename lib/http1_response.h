/* HTTP/1 response head: status line and headers serialized into a caller
 * buffer (per-connection, reused), with the body framing decided once. */
#ifndef TN_HTTP1_RESPONSE_H
#define TN_HTTP1_RESPONSE_H

#include "tornuv/httputil.h"

typedef struct {
    uint64_t declared_length; /* Content-Length given by the application */
    unsigned char has_length;
    unsigned char chunked;     /* body goes out chunked */
    unsigned char no_body;     /* HEAD, 1xx, 204, 304: body bytes are dropped */
    unsigned char close_after; /* body delimited by close, or not keep-alive */
} tn__h1resp_t;

/** Serializes the head into buf[0..cap). version 10/11; keep_alive is the
 * request's decision; date (may be NULL) and server (NULL or "" = none) are
 * added unless the headers carry them. Returns the length written (> 0),
 * TN_EINVAL (bad status, name, value with CR/LF/NUL, bad Content-Length) or
 * TN_EBUFFULL (cap too small). */
long long tn__h1_response_head(char *buf, size_t cap, tn__h1resp_t *out, int version, int status,
                               const char *reason, const tn_headers_t *headers, int is_head,
                               int keep_alive, const char *date, const char *server);

/** The common case without a header map: the status's standard phrase,
 * an optional Content-Type and a Content-Length. Same results. */
long long tn__h1_response_head_simple(char *buf, size_t cap, tn__h1resp_t *out, int version,
                                      int status, const char *content_type, uint64_t content_length,
                                      int is_head, int keep_alive, const char *date,
                                      const char *server);

#endif
