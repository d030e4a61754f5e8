/* The HTTP client object: fetches, the max_clients queue, deadlines, the
 * one completion of every fetch, results, and teardown. The exchange itself
 * (connections, the pool, the response) is in httpclient_conn.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "httpclient_internal.h"

int tn_httpclient_new(tn_ioloop_t *loop, const tn_httpclient_options_t *opts, tn_httpclient_t **out)
{
    tn_httpclient_t *c;
    if (!loop || !out)
        return TN_EINVAL;
    c = tn_calloc(1, sizeof *c);
    if (!c)
        return TN_ENOMEM;
    c->loop = loop;
    if (opts)
        c->o = *opts;
    if (!c->o.max_clients)
        c->o.max_clients = TN_HTTPCLIENT_DEFAULT_MAX_CLIENTS;
    if (!c->o.max_buffer_size)
        c->o.max_buffer_size = TN_IOSTREAM_DEFAULT_MAX_BUFFER;
    if (!c->o.max_body_size)
        c->o.max_body_size = c->o.max_buffer_size;
    if (!c->o.max_idle_per_host)
        c->o.max_idle_per_host = TN_HTTPCLIENT_DEFAULT_MAX_IDLE_PER_HOST;
    if (!c->o.idle_timeout_ms)
        c->o.idle_timeout_ms = TN_HTTPCLIENT_DEFAULT_IDLE_TIMEOUT_MS;
    if (c->o.defaults) {
        /* Only scalar fields and callbacks are kept: pointers into the
         * caller's memory (headers, strings) would dangle after this call,
         * so they must be static or outlive the client (documented). */
        c->defaults = *c->o.defaults;
        c->has_defaults = 1;
        c->o.defaults = NULL;
    }
    *out = c;
    return 0;
}

static void list_remove(tn_fetch_t **head, tn_fetch_t **tail, tn_fetch_t *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        *head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else if (tail)
        *tail = f->prev;
    f->prev = f->next = NULL;
}

static void queue_push(tn_httpclient_t *c, tn_fetch_t *f, int front)
{
    f->in_queue = 1;
    f->state = F_QUEUED;
    if (front) {
        f->prev = NULL;
        f->next = c->queue_head;
        if (c->queue_head)
            c->queue_head->prev = f;
        else
            c->queue_tail = f;
        c->queue_head = f;
    } else {
        f->next = NULL;
        f->prev = c->queue_tail;
        if (c->queue_tail)
            c->queue_tail->next = f;
        else
            c->queue_head = f;
        c->queue_tail = f;
    }
}

static uint64_t min_timeout(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t deadline_after(uint64_t t, uint64_t ms)
{
    return ms == TN_NO_TIMEOUT ? TN_NO_TIMEOUT : t + ms;
}

static void on_timer(tn_ioloop_t *loop, void *arg)
{
    tn_fetch_t *f = arg;
    (void)loop;
    f->timer = 0;
    tn__hc_finish(f, TN_ETIMEOUT, "%s", f->timer_msg);
}

void tn__hc_arm(tn_fetch_t *f, uint64_t deadline_ms, const char *msg)
{
    tn_ioloop_t *loop = f->client->loop;
    tn_ioloop_remove_timeout(loop, f->timer);
    f->timer = 0;
    f->timer_msg = msg;
    if (deadline_ms == TN_NO_TIMEOUT)
        return;
    f->timer = tn_ioloop_call_at(loop, deadline_ms, on_timer, f);
    if (!f->timer)
        tn__hc_finish(f, TN_ENOMEM, "out of memory arming a timeout");
}

/* Queued: Tornado's queue timeout is min(connect, request timeout) from the
 * moment the fetch queued, within the end-to-end request deadline. */
static void arm_queued(tn_fetch_t *f)
{
    uint64_t now = tn_ioloop_time_ms(f->client->loop);
    uint64_t q = deadline_after(now, min_timeout(f->o.connect_timeout_ms, f->o.request_timeout_ms));
    f->t_queued = now;
    tn__hc_arm(f, min_timeout(q, deadline_after(f->t_start, f->o.request_timeout_ms)),
               "Timeout in request queue");
}

static void start(tn_httpclient_t *c, tn_fetch_t *f)
{
    uint64_t now = tn_ioloop_time_ms(c->loop);
    f->queue_ms += now - f->t_queued;
    f->in_active = 1;
    f->prev = NULL;
    f->next = c->active;
    if (c->active)
        c->active->prev = f;
    c->active = f;
    c->nactive++;
    tn__hc_start_exchange(f);
}

static void pump(tn_ioloop_t *loop, void *arg)
{
    tn_httpclient_t *c = arg;
    (void)loop;
    c->pump_scheduled = 0;
    while (!c->freeing && c->queue_head && c->nactive < c->o.max_clients) {
        tn_fetch_t *f = c->queue_head;
        list_remove(&c->queue_head, &c->queue_tail, f);
        f->in_queue = 0;
        start(c, f);
    }
    tn__hc_maybe_free(c);
}

void tn__hc_schedule_pump(tn_httpclient_t *c)
{
    if (c->pump_scheduled || c->freeing)
        return;
    if (tn__loop_defer_node(c->loop, &c->pump_node, pump, c) == 0)
        c->pump_scheduled = 1;
}

void tn__hc_requeue(tn_fetch_t *f)
{
    tn_httpclient_t *c = f->client;
    if (f->in_active) {
        list_remove(&c->active, NULL, f);
        f->in_active = 0;
        c->nactive--;
    }
    queue_push(c, f, 1);
    arm_queued(f);
    tn__hc_schedule_pump(c);
}

int tn_httpclient_fetch(tn_httpclient_t *c, const char *url, const tn_fetch_options_t *opts,
                        tn_fetch_done_cb done, void *arg, tn_fetch_t **out)
{
    tn_fetch_t *f;
    int rc;
    if (!c || !url || !done)
        return TN_EINVAL;
    if (c->freeing)
        return TN_ECLOSED;
    f = tn_calloc(1, sizeof *f);
    if (!f)
        return TN_ENOMEM;
    f->client = c;
    f->code = TN_FETCH_NO_RESPONSE;
    f->expected = -1;
    f->refs = 1;
    rc = tn__hc_prepare(f, url, opts, c->has_defaults ? &c->defaults : NULL);
    if (rc == 0 && f->u.https)
        rc = tn__hc_tls_select(f);
    if (rc == 0)
        rc = tn__h1resp_init(&f->parser, c->o.max_header_size,
                             f->o.max_body_size ? f->o.max_body_size : c->o.max_body_size, NULL,
                             NULL);
    if (rc == 0)
        rc = tn_headers_new(&f->headers);
    if (rc != 0) {
        tn__hc_release_request(f);
        tn__h1resp_free(&f->parser);
        tn_headers_free(f->headers);
        tn_free(f);
        return rc;
    }
    f->max_body = f->o.max_body_size ? f->o.max_body_size : c->o.max_body_size;
    f->done = done;
    f->done_arg = arg;
    f->t_start = tn_ioloop_time_ms(c->loop);
    c->nfetches++;
    queue_push(c, f, 0);
    arm_queued(f);
    tn__hc_schedule_pump(c);
    if (out)
        *out = f;
    return 0;
}

static void free_fetch(tn_fetch_t *f)
{
    tn_httpclient_t *c = f->client;
    tn__hc_body_reset(f);
    tn__hc_release_request(f);
    tn__h1resp_free(&f->parser);
    tn_headers_free(f->headers);
    tn_free(f->reason);
    tn_free(f->rbody);
    tn_free(f);
    c->nfetches--;
    tn__hc_maybe_free(c);
}

void tn__hc_fetch_unref(tn_fetch_t *f)
{
    if (--f->refs == 0)
        free_fetch(f);
}

static void run_done(tn_ioloop_t *loop, void *arg)
{
    tn_fetch_t *f = arg;
    (void)loop;
    f->done(f, f->status, f->done_arg);
    tn__hc_fetch_unref(f);
}

void tn__hc_finish(tn_fetch_t *f, int status, const char *fmt, ...)
{
    tn_httpclient_t *c = f->client;
    if (f->state == F_FINISHED)
        return;
    f->state = F_FINISHED;
    f->status = status;
    if (fmt && fmt[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->errmsg, sizeof f->errmsg, fmt, ap);
        va_end(ap);
    }
    tn_ioloop_remove_timeout(c->loop, f->timer);
    f->timer = 0;
    if (f->connecting) {
        f->connecting->fetch = NULL;
        f->connecting = NULL;
    }
    if (f->conn)
        tn__hc_detach_conn(f, 0);
    if (f->in_queue) {
        list_remove(&c->queue_head, &c->queue_tail, f);
        f->in_queue = 0;
        f->queue_ms += tn_ioloop_time_ms(c->loop) - f->t_queued;
    }
    if (f->in_active) {
        list_remove(&c->active, NULL, f);
        f->in_active = 0;
        c->nactive--;
        tn__hc_schedule_pump(c);
    }
    f->total_ms = tn_ioloop_time_ms(c->loop) - f->t_start;
    /* The node is the fetch's own: the completion cannot fail for memory.
     * It fails only once the loop's teardown finished, when nothing runs
     * any more; then the fetch is released here. */
    if (tn__loop_defer_node(c->loop, &f->done_node, run_done, f) != 0)
        tn__hc_fetch_unref(f);
}

void tn_fetch_cancel(tn_fetch_t *f)
{
    if (f && f->state != F_FINISHED)
        tn__hc_finish(f, TN_ECANCELED, "Canceled");
}

int tn_fetch_resume(tn_fetch_t *f)
{
    if (!f || f->state == F_FINISHED || !f->paused)
        return TN_EINVAL;
    return tn__hc_resume(f);
}

static void run_freed(tn_ioloop_t *loop, void *arg)
{
    tn_httpclient_t *c = arg;
    (void)loop;
    if (c->on_freed)
        c->on_freed(c->freed_arg);
    tn__hc_tls_free_all(c);
    tn_free(c);
}

void tn__hc_maybe_free(tn_httpclient_t *c)
{
    if (!c->freeing || c->freeing == 2 || c->nfetches || c->nconns || c->nconnects ||
        c->pump_scheduled)
        return;
    c->freeing = 2;
    if (tn__loop_defer_node(c->loop, &c->freed_node, run_freed, c) != 0)
        run_freed(c->loop, c);
}

void tn__hc_connect_link(tn_httpclient_t *c, hc_connect_t *pc)
{
    pc->prev = NULL;
    pc->next = c->connects;
    if (c->connects)
        c->connects->prev = pc;
    c->connects = pc;
    c->nconnects++;
}

void tn__hc_connect_unlink(tn_httpclient_t *c, hc_connect_t *pc)
{
    if (pc->prev)
        pc->prev->next = pc->next;
    else
        c->connects = pc->next;
    if (pc->next)
        pc->next->prev = pc->prev;
    pc->prev = pc->next = NULL;
    c->nconnects--;
}

void tn_httpclient_free(tn_httpclient_t *c, void (*on_freed)(void *arg), void *arg)
{
    if (!c || c->freeing)
        return;
    c->freeing = 1;
    c->on_freed = on_freed;
    c->freed_arg = arg;
    while (c->queue_head)
        tn__hc_finish(c->queue_head, TN_ECLOSED, "Client closed");
    while (c->active)
        tn__hc_finish(c->active, TN_ECLOSED, "Client closed");
    tn__hc_close_idle(c);
    /* Connects still under way finish on their own (within their
     * timeout) and close what they get: they no longer need the client. */
    while (c->connects) {
        hc_connect_t *pc = c->connects;
        tn__hc_connect_unlink(c, pc);
        pc->client = NULL;
    }
    tn__hc_maybe_free(c);
}

size_t tn_httpclient_idle_count(const tn_httpclient_t *c)
{
    return c ? c->nidle : 0;
}

int tn_fetch_code(const tn_fetch_t *f)
{
    return f->code;
}

const char *tn_fetch_reason(const tn_fetch_t *f)
{
    if (f->reason)
        return f->reason;
    return f->code == TN_FETCH_NO_RESPONSE ? "" : tn_http_reason(f->code);
}

const tn_headers_t *tn_fetch_headers(const tn_fetch_t *f)
{
    return f->headers;
}

const char *tn_fetch_body(const tn_fetch_t *f, size_t *len)
{
    if (len)
        *len = f->rbody ? f->rbody_len : 0;
    return f->rbody ? f->rbody : "";
}

char *tn_fetch_steal_body(tn_fetch_t *f, size_t *len)
{
    char *b = f->rbody;
    if (len)
        *len = b ? f->rbody_len : 0;
    f->rbody = NULL;
    f->rbody_len = f->rbody_cap = 0;
    return b;
}

const char *tn_fetch_effective_url(const tn_fetch_t *f)
{
    return f->url;
}

const char *tn_fetch_error_message(const tn_fetch_t *f)
{
    return f->errmsg;
}

void tn_fetch_timings(const tn_fetch_t *f, tn_fetch_timings_t *t)
{
    uint64_t now =
        f->state == F_FINISHED ? f->t_start + f->total_ms : tn_ioloop_time_ms(f->client->loop);
    memset(t, 0, sizeof *t);
    t->queue_us = f->queue_ms * 1000;
    t->connect_us = f->connect_ms * 1000;
    t->first_byte_us = f->first_byte_ms * 1000;
    t->total_us = (now - f->t_start) * 1000;
    t->redirects = f->redirects;
    t->reused = f->final_reused;
    t->body_bytes = f->decoded;
}

int64_t tn_fetch_expected_length(const tn_fetch_t *f)
{
    return f->expected;
}
