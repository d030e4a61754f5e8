/* Internal: the HTTP/1 limits applied when an option is zero. They move to
 * the public server header when HTTPServer lands (issue 4). */
#ifndef TN_LIB_HTTP1_LIMITS_H
#define TN_LIB_HTTP1_LIMITS_H

#include <stdint.h>

#define TN_HTTP_DEFAULT_MAX_HEADER_SIZE (64u * 1024u)
#define TN_HTTP_DEFAULT_MAX_HEADER_COUNT 100u
#define TN_HTTP_DEFAULT_MAX_BODY_SIZE ((uint64_t)100 * 1024 * 1024)
#define TN_HTTP_DEFAULT_MAX_CHUNK_EXT_SIZE 1024u

#endif
