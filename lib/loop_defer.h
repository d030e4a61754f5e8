/* Internal: the loop's teardown-proof deferral, implemented in shim/ (see
 * shim/loop_internal.h). Declared here without libuv types so lib/ can use
 * it: an object being closed during close(all)/detach must still deliver its
 * TN_ECLOSED completions, which tn_ioloop_add_callback refuses by then. */
#ifndef TN_LIB_LOOP_DEFER_H
#define TN_LIB_LOOP_DEFER_H

#include "tornuv/ioloop.h"

int tn__loop_defer(tn_ioloop_t *loop, tn_callback_cb cb, void *arg);

#endif
