/* tornuv: Tornado's asynchronous networking design in C, over libuv.
 * The umbrella header: the whole portable public API. The embedding API,
 * which names libuv types, is in <tornuv/uv.h>. */
#ifndef TORNUV_H
#define TORNUV_H

#include "tornuv/common.h"
#include "tornuv/ioloop.h"
#include "tornuv/iostream.h"
#include "tornuv/future.h"
#include "tornuv/locks.h"
#include "tornuv/queues.h"
#include "tornuv/httputil.h"
#include "tornuv/regex.h"
#include "tornuv/net.h"
#include "tornuv/process.h"
#include "tornuv/tcpclient.h"
#include "tornuv/tcpserver.h"
#include "tornuv/httpserver.h"
#include "tornuv/httpclient.h"
#include "tornuv/web.h"
#include "tornuv/testing.h"
#include "tornuv/websocket.h"
#include "tornuv/tls.h"
#include "tornuv/workers.h"

#endif /* TORNUV_H */
