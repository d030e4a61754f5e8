/* stream_request_body handlers (Tornado's @stream_request_body): the
 * handler is made when the headers are in (the HTTP server's headers_cb),
 * prepare runs before the body is read (an asynchronous prepare holds the
 * 100 Continue and the body), data_received gets the body piece by piece
 * with the chunk-callback contract, and the method runs from the request
 * callback once the body is complete.
 *
 * The request's data pointer names its handler until the handler answers
 * before its method ran (early 401/413, or a failure); it then names
 * `gone`, so a body piece or the request callback arriving later aborts the
 * rest of the body (the connection closes after the response) instead of
 * touching a handler that may be freed. */
#include <string.h>

#include "web_internal.h"

static const char gone_marker = 0;
#define GONE ((void *)&gone_marker)

void tn__web_stream_forget(tn_handler_t *h, tn_http_request_t *req)
{
    if (tn_http_request_data(req) != h)
        return;
    tn_http_request_set_data(req, GONE);
    /* A held body is read now only to be refused: the connection closes
     * after the response (or, with no body, moves on). */
    if (h->body_held)
        tn_http_request_resume_body(req);
}

static int on_piece(tn_http_request_t *req, const char *data, size_t len, void *arg)
{
    tn_handler_t *h = tn_http_request_data(req);
    (void)arg;
    if (h == NULL || h == GONE)
        return TN_ECALLBACK;
    if (!h->cls->data_received)
        return TN_CONTINUE;
    h->busy++;
    int rc = h->cls->data_received(h, data, len);
    h->busy--;
    if (h->finished || h->closed || rc < 0) {
        /* Answered (or failing) before the body is complete: the handler
         * goes (tn__web_complete answers a failure), the rest is not read. */
        tn__web_complete(h, rc < 0 ? rc : TN_WEB_DONE);
        return TN_ECALLBACK;
    }
    if (rc == TN_WEB_ASYNC) {
        /* Kept alive for the resume even if the client leaves meanwhile. */
        h->body_paused = 1;
        h->async = 1;
        return TN_PAUSE;
    }
    return TN_CONTINUE;
}

void tn_app_headers_cb(tn_http_request_t *req, void *arg)
{
    tn_app_t *app = arg;
    if (!app->streaming)
        return;
    const route_t *r = tn__web_match(app, req);
    if (!tn__web_route_class(app, r)->stream_request_body)
        return; /* buffered as usual; tn_app_request_cb routes it */
    void *init_arg;
    tn_handler_t *h = tn__web_new_handler(app, req, r, &init_arg);
    (void)tn_http_request_stream_body(req, on_piece, NULL);
    if (h == NULL) {
        tn_http_request_set_data(req, GONE); /* 500 sent */
        return;
    }
    h->streaming = 1;
    tn_http_request_set_data(req, h);
    h->busy++;
    int rc = tn__web_prepare(h, init_arg);
    if (rc >= 0 && rc != TN_WEB_ASYNC && !h->finished && !h->closed && !tn__web_has_method(h))
        rc = tn__web_call_method(h); /* the 405 */
    h->busy--;
    if (rc == TN_WEB_ASYNC && !h->finished && !h->closed) {
        /* Tornado awaits prepare before the 100 Continue and the body. */
        h->body_held = 1;
        h->async = 1; /* a finish from the asynchronous prepare releases it */
        tn_http_request_pause_body(req);
        return;
    }
    if (rc < 0 || h->finished || h->closed)
        tn__web_complete(h, rc < 0 ? rc : TN_WEB_DONE);
}

static void run_method(tn_handler_t *h)
{
    h->method_started = 1;
    h->busy++;
    int rc = tn__web_call_method(h);
    h->busy--;
    h->async = 0;
    tn__web_complete(h, rc);
}

int tn__web_stream_body_done(tn_http_request_t *req)
{
    tn_handler_t *h = tn_http_request_data(req);
    if (h == NULL)
        return 0;
    if (h == GONE)
        return 1; /* answered already */
    if (h->body_held || h->body_paused) {
        h->body_done = 1; /* the method waits for the resume */
        return 1;
    }
    run_method(h);
    return 1;
}

static void on_resumed(tn_ioloop_t *loop, void *arg)
{
    tn_handler_t *h = arg;
    (void)loop;
    h->pending--;
    if (h->finished || h->closed || h->req == NULL) {
        tn__handler_maybe_free(h);
        return;
    }
    run_method(h);
}

int tn_handler_resume_body(tn_handler_t *h)
{
    if (!h->streaming)
        return TN_EINVAL;
    if (h->closed || h->req == NULL) {
        /* The client left while paused: this call releases the handler. */
        if ((h->body_held || h->body_paused) && !h->finished) {
            h->body_held = h->body_paused = 0;
            h->released = 1;
            tn__handler_maybe_free(h);
        }
        return TN_ECLOSED;
    }
    if (h->finished)
        return TN_EINVAL;
    if (h->body_held || h->body_paused) {
        h->body_held = h->body_paused = 0;
        h->async = 0; /* from here on the client leaving frees it */
        if (h->body_done) {
            /* No body to read: the method runs, but not inside this call. */
            if (tn_ioloop_add_callback(tn_http_request_loop(h->req), on_resumed, h) != 0)
                return TN_ENOMEM;
            h->pending++;
            return 0;
        }
    }
    tn_http_request_resume_body(h->req);
    return 0;
}

int tn_handler_set_max_body_size(tn_handler_t *h, uint64_t max_bytes)
{
    if (h->closed || h->req == NULL)
        return TN_ECLOSED;
    if (!h->streaming)
        return TN_EINVAL;
    return tn_http_request_set_max_body_size(h->req, max_bytes);
}

size_t tn_handler_write_buffered(const tn_handler_t *h)
{
    if (h->closed || h->req == NULL)
        return 0;
    return h->len + tn_http_response_buffered(h->req);
}
