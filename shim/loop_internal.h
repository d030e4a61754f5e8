/* What other shim/ modules (streams, servers, clients) need from the IOLoop.
 *
 * Every object that owns libuv handles on a loop registers itself here, so
 * that tn_ioloop_close(loop, TN_CLOSE_ALL_FDS) and tn_ioloop_detach can close
 * it and tn_ioloop_alive_count can count it. Loop thread only. */
#ifndef TN_SHIM_LOOP_INTERNAL_H
#define TN_SHIM_LOOP_INTERNAL_H

#include <uv.h>

#include "tornuv/ioloop.h"
#include "tornuv/uv.h"

typedef struct tn__handle_s tn__handle_t;

/* Embed one in each tracked object; the loop owns prev/next/close_requested. */
struct tn__handle_s {
    tn__handle_t *prev, *next;
    void (*close)(tn__handle_t *h);
    /* Set by the loop just before it calls close, so a teardown never asks the
     * same object twice. */
    int close_requested;
};

/* Registers a live object. close is called by tn_ioloop_close(loop,
 * TN_CLOSE_ALL_FDS) and by tn_ioloop_detach to make the object begin closing
 * (at most once per object); the object calls tn__loop_untrack from its final
 * uv_close callback. alive_count counts tracked objects.
 * Check tn__loop_closing first and refuse new objects with TN_EDETACHED while
 * it is nonzero. */
void tn__loop_track(tn_ioloop_t *loop, tn__handle_t *h, void (*close)(tn__handle_t *h));

/* Unregisters h (once; a never-tracked h must have next == NULL). Safe from
 * any callback. Teardown never advances inside this call, so the object may
 * still use the loop from the same callback (e.g. tn__loop_defer its user's
 * close callback); once that callback returns, a detaching loop may go away
 * at any later drain. */
void tn__loop_untrack(tn_ioloop_t *loop, tn__handle_t *h);

/* Nonzero once close(all)/detach began. */
int tn__loop_closing(tn_ioloop_t *loop);

/* The uv_loop_t underneath (owned or borrowed). */
uv_loop_t *tn__loop_uv(tn_ioloop_t *loop);

/* Like tn_ioloop_add_callback (FIFO with it, runs on the next drain, never
 * inside this call) but still accepted while the loop is closing or detaching,
 * so an object being closed can deliver its TN_ECLOSED completions. Loop
 * thread only. Returns 0 or TN_ENOMEM; after the loop finished tearing down it
 * returns TN_EDETACHED. */
int tn__loop_defer(tn_ioloop_t *loop, tn_callback_cb cb, void *arg);

#endif /* TN_SHIM_LOOP_INTERNAL_H */
