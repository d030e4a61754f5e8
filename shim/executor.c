/* run_in_executor over libuv's thread pool (uv_queue_work). Pending work is a
 * tracked object: close(all)/detach cancel what has not started (done then
 * gets TN_ECANCELED); work already running completes normally. */
#include "ioloop_private.h"

typedef struct {
    uv_work_t req;
    tn__handle_t track;
    tn_ioloop_t *loop;
    tn_work_fn work;
    tn_work_done_cb done;
    void *arg;
} tn__work_t;

static void on_work(uv_work_t *req)
{
    tn__work_t *w = req->data;
    w->work(w->arg);
}

static void on_after_work(uv_work_t *req, int status)
{
    tn__work_t *w = req->data;
    tn_ioloop_t *loop = w->loop;
    tn_work_done_cb done = w->done;
    void *arg = w->arg;
    tn__loop_untrack(loop, &w->track);
    tn_free(w);
    if (done != NULL)
        done(loop, status == UV_ECANCELED ? TN_ECANCELED : status, arg);
}

static void on_close_request(tn__handle_t *h)
{
    tn__work_t *w = TN__CONTAINER_OF(h, tn__work_t, track);
    /* Fails harmlessly (UV_EBUSY) once a pool thread picked the work up. */
    uv_cancel((uv_req_t *)&w->req);
}

int tn_ioloop_run_in_executor(tn_ioloop_t *loop, tn_work_fn work, tn_work_done_cb done, void *arg)
{
    if (loop == NULL || work == NULL)
        return TN_EINVAL;
    if (loop->state != TN__LOOP_OPEN)
        return TN_EDETACHED;
    tn__work_t *w = tn_calloc(1, sizeof(*w));
    if (w == NULL)
        return TN_ENOMEM;
    w->loop = loop;
    w->work = work;
    w->done = done;
    w->arg = arg;
    w->req.data = w;
    int err = uv_queue_work(loop->uv, &w->req, on_work, on_after_work);
    if (err != 0) {
        tn_free(w);
        return err;
    }
    tn__loop_track(loop, &w->track, on_close_request);
    return 0;
}
