/* Internal: the HTTP/1 limits applied when an option is zero, from the
 * public server header. */
#ifndef TN_LIB_HTTP1_LIMITS_H
#define TN_LIB_HTTP1_LIMITS_H

#include "tornuv/httpserver.h"

#endif
