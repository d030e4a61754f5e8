/* Embedding: a tornuv loop borrowing a host's uv_loop_t. tornuv never runs,
 * stops, walks or closes the host's loop; it closes only its own handles. */
#include "ioloop_private.h"

int tn_ioloop_attach(uv_loop_t *uv, tn_ioloop_t **loop_out)
{
    if (uv == NULL || loop_out == NULL)
        return TN_EINVAL;
    tn_ioloop_t *loop = tn__loop_alloc();
    if (loop == NULL)
        return TN_ENOMEM;
    int err = tn__loop_init_internal(loop, uv);
    if (err != 0) {
        tn_free(loop);
        return err;
    }
    tn_ioloop_make_current(loop);
    *loop_out = loop;
    return 0;
}

int tn_ioloop_detach(tn_ioloop_t *loop, tn_detached_cb on_detached, void *arg)
{
    if (loop == NULL || loop->owned || loop->state != TN__LOOP_OPEN)
        return TN_EINVAL;
    loop->on_detached = on_detached;
    loop->detached_arg = arg;
    if (tn_ioloop_current() == loop)
        tn_ioloop_make_current(NULL);
    tn__loop_begin_teardown(loop, 1);
    return 0;
}
