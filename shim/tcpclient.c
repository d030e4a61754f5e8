/* TCPClient: asynchronous resolution and Happy Eyeballs connecting.
 *
 * A connector lives from tn_tcpclient_connect until every piece of its work
 * has ended: the resolver request, each connect attempt, and its two timers
 * (overall timeout and the secondary-family delay). The user's callback runs
 * once, as soon as the outcome is known; the connector itself is released
 * later, in the close callback of its last timer, once the resolver and the
 * losing attempts have reported back. Attempts still connecting when the
 * outcome is known are closed; one that connects anyway is closed too.
 *
 * Timers are the connector's own uv_timer_t rather than loop timeouts so the
 * connector can finish through a close callback even while the loop is
 * closing (when tn_ioloop_add_callback is refused). */
#include <string.h>

#include "tcpclient_internal.h"
#include "uvstream.h"

#define TN__SECONDARY_DELAY_MS 300

typedef struct tn__connector_s tn__connector_t;

typedef struct tn__attempt_s {
    tn__connector_t *c;
    tn_iostream_t *stream;
    int primary;
    struct tn__attempt_s *prev, *next;
} tn__attempt_t;

struct tn__connector_s {
    tn__handle_t track;
    tn_ioloop_t *loop;
    tn_iostream_options_t opts;
    tn_connect_cb cb;
    void *arg;
    int port;
    uint64_t secondary_delay_ms;
    uv_getaddrinfo_t gai;
    uv_timer_t timeout;
    uv_timer_t secondary;
    /* Resolved addresses, primary family first; [0, nprimary) primary. */
    struct sockaddr_storage *addrs;
    size_t naddrs, nprimary;
    size_t next_primary, next_secondary;
    tn__attempt_t *attempts;
    int last_error;
    unsigned char gai_pending;
    unsigned char secondary_started;
    unsigned char done;
    unsigned char timers_open;
    unsigned char finishing;
};

static void on_timer_close(uv_handle_t *handle)
{
    tn__connector_t *c = handle->data;
    if (--c->timers_open > 0)
        return;
    tn__loop_untrack(c->loop, &c->track);
    tn_free(c->addrs);
    tn_free(c);
}

/* Releases the connector once the outcome is delivered and nothing of it
 * is still running. */
static void maybe_finish(tn__connector_t *c)
{
    if (!c->done || c->gai_pending || c->attempts != NULL || c->finishing)
        return;
    c->finishing = 1;
    uv_close((uv_handle_t *)&c->timeout, on_timer_close);
    uv_close((uv_handle_t *)&c->secondary, on_timer_close);
}

/* Delivers the outcome (once) and winds down everything still running. */
static void complete(tn__connector_t *c, tn_iostream_t *stream, int status)
{
    if (c->done)
        return;
    c->done = 1;
    uv_timer_stop(&c->timeout);
    uv_timer_stop(&c->secondary);
    /* A resolver request still queued is cancelled (its callback then
     * reports UV_EAI_CANCELED); one already running finishes first. */
    if (c->gai_pending && c->gai.type == UV_GETADDRINFO)
        uv_cancel((uv_req_t *)&c->gai);
    for (tn__attempt_t *a = c->attempts; a != NULL; a = a->next)
        tn_iostream_close(a->stream);
    c->cb(stream, status, c->arg);
    maybe_finish(c);
}

static void try_next(tn__connector_t *c, int primary);

static void attempt_unlink(tn__attempt_t *a)
{
    tn__connector_t *c = a->c;
    if (a->prev != NULL)
        a->prev->next = a->next;
    else
        c->attempts = a->next;
    if (a->next != NULL)
        a->next->prev = a->prev;
}

static int all_tried(const tn__connector_t *c)
{
    return c->next_primary == c->nprimary &&
           (c->secondary_started ? c->next_secondary == c->naddrs : c->nprimary == c->naddrs);
}

static void start_secondary(tn__connector_t *c)
{
    if (c->secondary_started || c->done)
        return;
    c->secondary_started = 1;
    uv_timer_stop(&c->secondary);
    try_next(c, 0);
}

static void on_attempt(tn_iostream_t *stream, int status, void *arg)
{
    tn__attempt_t *a = arg;
    tn__connector_t *c = a->c;
    int primary = a->primary;
    attempt_unlink(a);
    tn_free(a);
    if (status == 0 && c->done) {
        /* A late winner: the outcome is already delivered. */
        tn_iostream_close(stream);
    } else if (status == 0) {
        complete(c, stream, 0);
    } else if (!c->done) {
        /* Keep walking this attempt's family; a failure also starts the
         * other family at once instead of after the delay (Tornado). */
        c->last_error = status;
        try_next(c, primary);
        start_secondary(c);
        if (c->attempts == NULL && all_tried(c))
            complete(c, NULL, c->last_error);
    }
    maybe_finish(c);
}

/* Starts the next address of one family, if any remains. */
static void try_next(tn__connector_t *c, int primary)
{
    while (!c->done) {
        size_t *next = primary ? &c->next_primary : &c->next_secondary;
        size_t end = primary ? c->nprimary : c->naddrs;
        if (*next >= end)
            return;
        struct sockaddr *sa = (struct sockaddr *)&c->addrs[(*next)++];
        tn__attempt_t *a = tn_calloc(1, sizeof(*a));
        if (a == NULL) {
            c->last_error = TN_ENOMEM;
            continue;
        }
        a->c = c;
        a->primary = primary;
        int err = tn__iostream_connect_addr(c->loop, sa, &c->opts, on_attempt, a, &a->stream);
        if (err != 0) {
            tn_free(a);
            c->last_error = err;
            continue;
        }
        a->next = c->attempts;
        if (c->attempts != NULL)
            c->attempts->prev = a;
        c->attempts = a;
        return;
    }
}

static void on_secondary_timer(uv_timer_t *timer)
{
    start_secondary(timer->data);
}

static void on_timeout_timer(uv_timer_t *timer)
{
    complete(timer->data, NULL, TN_ETIMEOUT);
}

/* Orders the addresses Tornado's way: the family of the first is primary,
 * kept in the resolver's order, then the others in theirs. */
static int set_addrs(tn__connector_t *c, const struct sockaddr *const *addrs, size_t n)
{
    size_t usable = 0;
    for (size_t i = 0; i < n; i++)
        if (addrs[i]->sa_family == AF_INET || addrs[i]->sa_family == AF_INET6)
            usable++;
    if (usable == 0)
        return UV_EAI_NONAME;
    c->addrs = tn_calloc(usable, sizeof(*c->addrs));
    if (c->addrs == NULL)
        return TN_ENOMEM;
    int primary_family = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            int family = addrs[i]->sa_family;
            if (family != AF_INET && family != AF_INET6)
                continue;
            if (primary_family == 0)
                primary_family = family;
            if ((family == primary_family) != (pass == 0))
                continue;
            memcpy(&c->addrs[c->naddrs++], addrs[i],
                   family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
        }
        if (pass == 0)
            c->nprimary = c->naddrs;
    }
    c->next_secondary = c->nprimary;
    return 0;
}

static int set_addrinfo(tn__connector_t *c, const struct addrinfo *res)
{
    const struct sockaddr *list[64];
    size_t n = 0;
    for (const struct addrinfo *ai = res; ai != NULL && n < 64; ai = ai->ai_next)
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
            list[n++] = ai->ai_addr;
    return set_addrs(c, list, n);
}

/* Starts the primary family; the secondary after the delay or on the first
 * failure. Never called inside the user's starting call. */
static void begin_connecting(tn__connector_t *c)
{
    try_next(c, 1);
    if (c->nprimary < c->naddrs)
        uv_timer_start(&c->secondary, on_secondary_timer, c->secondary_delay_ms, 0);
    if (c->attempts == NULL) {
        start_secondary(c);
        if (c->attempts == NULL)
            complete(c, NULL, c->last_error);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    tn__connector_t *c = req->data;
    c->gai_pending = 0;
    if (!c->done) {
        if (status == 0)
            status = set_addrinfo(c, res);
        if (status != 0)
            complete(c, NULL, status);
        else
            begin_connecting(c);
    }
    uv_freeaddrinfo(res);
    maybe_finish(c);
}

/* Loop close: the outcome becomes TN_ECLOSED; the resolver is cancelled and
 * the attempts closed (their transports are closed by the loop as well). */
static void on_loop_close(tn__handle_t *h)
{
    complete((tn__connector_t *)h, NULL, TN_ECLOSED);
}

static tn__connector_t *connector_new(tn_ioloop_t *loop, uint64_t timeout_ms,
                                      const tn_iostream_options_t *opts, tn_connect_cb cb,
                                      void *arg)
{
    tn__connector_t *c = tn_calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->loop = loop;
    if (opts != NULL)
        c->opts = *opts;
    c->cb = cb;
    c->arg = arg;
    c->secondary_delay_ms = TN__SECONDARY_DELAY_MS;
    uv_loop_t *uv = tn__loop_uv(loop);
    /* uv_timer_init cannot fail. */
    uv_timer_init(uv, &c->timeout);
    uv_timer_init(uv, &c->secondary);
    c->timeout.data = c;
    c->secondary.data = c;
    c->gai.data = c;
    c->timers_open = 2;
    if (timeout_ms > 0)
        uv_timer_start(&c->timeout, on_timeout_timer, timeout_ms, 0);
    tn__loop_track(loop, &c->track, on_loop_close);
    return c;
}

/* Gives up on a connector whose start failed: no callback, released through
 * the timers' close callbacks. */
static void connector_abort(tn__connector_t *c)
{
    c->done = 1;
    uv_timer_stop(&c->timeout);
    maybe_finish(c);
}

static void on_begin(tn_ioloop_t *loop, void *arg)
{
    tn__connector_t *c = arg;
    (void)loop;
    c->gai_pending = 0;
    if (!c->done && c->naddrs == 0)
        complete(c, NULL, c->last_error);
    else if (!c->done)
        begin_connecting(c);
    maybe_finish(c);
}

/* Ends a start: on error the connector goes away without a callback;
 * otherwise gai_pending (the resolver or the deferred start) keeps it alive
 * until its first event. */
static int connector_started(tn__connector_t *c, int err)
{
    if (err != 0) {
        connector_abort(c);
        return err;
    }
    c->gai_pending = 1;
    return 0;
}

int tn_tcpclient_connect(tn_ioloop_t *loop, const char *host, int port, uint64_t timeout_ms,
                         const tn_iostream_options_t *opts, tn_connect_cb cb, void *arg)
{
    struct addrinfo hints;
    char service[16];
    if (loop == NULL || host == NULL || cb == NULL || port < 0 || port > 65535)
        return TN_EINVAL;
    if (tn__loop_closing(loop))
        return TN_EDETACHED;
    tn__connector_t *c = connector_new(loop, timeout_ms, opts, cb, arg);
    if (c == NULL)
        return TN_ENOMEM;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof(service), "%d", port);
    int err = uv_getaddrinfo(tn__loop_uv(loop), &c->gai, on_resolved, host, service, &hints);
    if (err != 0 && err != UV_ENOMEM) {
        /* A name libuv rejects before resolving (empty, bad IDNA) is a
         * resolver error like any other: reported through cb (Tornado's
         * test_gaierror), on the next drain. */
        c->last_error = err;
        err = tn__loop_defer(loop, on_begin, c);
    }
    return connector_started(c, err);
}

int tn__tcpclient_connect_addrs(tn_ioloop_t *loop, const struct sockaddr *const *addrs, size_t n,
                                uint64_t secondary_delay_ms, uint64_t timeout_ms,
                                const tn_iostream_options_t *opts, tn_connect_cb cb, void *arg)
{
    if (loop == NULL || addrs == NULL || cb == NULL)
        return TN_EINVAL;
    if (tn__loop_closing(loop))
        return TN_EDETACHED;
    tn__connector_t *c = connector_new(loop, timeout_ms, opts, cb, arg);
    if (c == NULL)
        return TN_ENOMEM;
    c->secondary_delay_ms = secondary_delay_ms;
    int err = set_addrs(c, addrs, n);
    /* The deferred start stands in for the resolver. */
    if (err == 0)
        err = tn__loop_defer(loop, on_begin, c);
    return connector_started(c, err);
}
