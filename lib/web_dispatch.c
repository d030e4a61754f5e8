/* Routing and the RequestHandler lifecycle: the Application's request
 * callback matches the routes, creates the handler with its path arguments,
 * runs initialize, the XSRF check, prepare and the method, finishes or
 * fails the response, and frees the handler once the request and every
 * pending flush are over. Also tn_app_listen and RedirectHandler. */
#include <stdio.h>
#include <string.h>

#include "web_internal.h"

/* ---- dispatch ------------------------------------------------------------ */

static void on_request_closed(tn_http_request_t *req, void *arg)
{
    tn_handler_t *h = arg;
    (void)req;
    h->closed = 1;
    h->req = NULL;
    h->busy++;
    if (!h->finished && h->cls->on_connection_close)
        h->cls->on_connection_close(h);
    h->busy--;
    tn__handler_maybe_free(h);
}

static int (*method_slot(const tn_handler_class_t *c, const char *m, size_t n))(tn_handler_t *)
{
#define M(name, slot)                                                                              \
    if (n == sizeof(name) - 1 && memcmp(m, name, n) == 0)                                          \
        return c->slot;
    M("GET", get)
    M("HEAD", head)
    M("POST", post)
    M("PUT", put)
    M("DELETE", delete_)
    M("PATCH", patch)
    M("OPTIONS", options)
#undef M
    return NULL;
}

static void allow_header(tn_handler_t *h)
{
    char allow[80] = "";
    const tn_handler_class_t *c = h->cls;
    const struct {
        const char *n;
        int on;
    } ms[] = {{"GET", !!c->get},        {"HEAD", !!c->head},      {"POST", !!c->post},
              {"PUT", !!c->put},        {"DELETE", !!c->delete_}, {"PATCH", !!c->patch},
              {"OPTIONS", !!c->options}};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        if (!ms[i].on)
            continue;
        if (allow[0])
            strcat(allow, ", ");
        strcat(allow, ms[i].n);
    }
    (void)tn_handler_set_header(h, "Allow", allow);
}

/* initialize, the XSRF check and prepare: rc of the first that fails,
 * TN_WEB_ASYNC from prepare, or 0. */
int tn__web_prepare(tn_handler_t *h, void *init_arg)
{
    int rc = 0;
    if (h->cls->initialize)
        rc = h->cls->initialize(h, init_arg);
    if (rc >= 0 && !h->finished && h->app->s.xsrf_cookies &&
        (tn__handler_method_is(h, "POST") || tn__handler_method_is(h, "PUT") ||
         tn__handler_method_is(h, "DELETE") || tn__handler_method_is(h, "PATCH")) &&
        !tn__handler_xsrf_ok(h)) {
        h->fail_status = 403;
        snprintf(h->fail_msg, sizeof h->fail_msg, "'_xsrf' argument missing or incorrect");
        rc = TN_EHTTP;
    }
    if (rc >= 0 && !h->finished && h->cls->prepare)
        rc = h->cls->prepare(h);
    return rc;
}

int tn__web_has_method(tn_handler_t *h)
{
    size_t mn;
    const char *m = tn_http_request_method(h->req, &mn);
    return method_slot(h->cls, m, mn) != NULL;
}

int tn__web_call_method(tn_handler_t *h)
{
    size_t mn;
    const char *m = tn_http_request_method(h->req, &mn);
    int (*fn)(tn_handler_t *) = method_slot(h->cls, m, mn);
    if (!fn) {
        allow_header(h);
        h->fail_status = 405;
        return TN_EHTTP;
    }
    return fn(h);
}

static int run(tn_handler_t *h, void *init_arg)
{
    int rc = tn__web_prepare(h, init_arg);
    if (rc >= 0 && !h->finished)
        rc = tn__web_call_method(h);
    return rc;
}

static const tn_handler_class_t not_found = {.name = "NotFound"};

const route_t *tn__web_match(tn_app_t *app, tn_http_request_t *req)
{
    size_t plen, hlen;
    const char *path = tn_http_request_path(req, &plen);
    const char *host = tn_http_request_host(req, &hlen);
    const route_t *r;

    /* host without the port, as Tornado's request.host_name */
    size_t hn = hlen;
    if (hn && host[0] != '[') {
        const char *colon = memchr(host, ':', hn);
        if (colon)
            hn = (size_t)(colon - host);
    } else if (hn) {
        const char *rb = memchr(host, ']', hn);
        if (rb)
            hn = (size_t)(rb - host) + 1;
    }
    for (r = app->routes; r; r = r->next) {
        if (r->host_re && pcre2_match(r->host_re, (PCRE2_SPTR)host, hn, 0, 0, app->md, NULL) < 0)
            continue;
        if (pcre2_match(r->path_re, (PCRE2_SPTR)path, plen, 0, 0, app->md, NULL) >= 0)
            break;
    }
    return r;
}

const tn_handler_class_t *tn__web_route_class(const tn_app_t *app, const route_t *r)
{
    const tn_handler_class_t *cls = r ? r->cls : app->default_cls;
    return cls ? cls : &not_found;
}

tn_handler_t *tn__web_new_handler(tn_app_t *app, tn_http_request_t *req, const route_t *r,
                                  void **init_arg)
{
    size_t plen;
    const char *path = tn_http_request_path(req, &plen);
    const tn_handler_class_t *cls = tn__web_route_class(app, r);
    *init_arg = r ? r->init_arg : app->default_arg;

    tn_handler_t *h = tn_calloc(1, STATE_OFFSET + cls->state_size);
    if (!h || tn_headers_new(&h->headers) != 0) {
        tn_free(h);
        (void)tn_http_response_send(req, 500, NULL, NULL, 0);
        return NULL;
    }
    h->app = app;
    h->cls = cls;
    h->route = r;
    h->req = req;
    h->status = 200;
    h->start_ms = tn_ioloop_time_ms(tn_http_request_loop(req));
    (void)tn__handler_reset_headers(h);
    if (r) {
        uint32_t groups = 0;
        pcre2_pattern_info(r->path_re, PCRE2_INFO_CAPTURECOUNT, &groups);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(app->md);
        h->argbuf = tn_malloc(plen + 1);
        size_t off = 0;
        for (uint32_t g = 1; g <= groups && h->argbuf; g++) {
            if (ov[2 * g] == PCRE2_UNSET) {
                h->args[g - 1].base = NULL;
                continue;
            }
            size_t len = ov[2 * g + 1] - ov[2 * g];
            size_t dn = tn_url_unescape(h->argbuf + off, path + ov[2 * g], len, 0);
            h->args[g - 1].base = h->argbuf + off;
            h->args[g - 1].len = dn;
            off += dn;
        }
        h->nargs = groups;
    }
    tn_http_request_set_close_callback(req, on_request_closed, h);
    return h;
}

void tn__web_complete(tn_handler_t *h, int rc)
{
    const tn_handler_class_t *cls = h->cls;
    if (rc == TN_WEB_ASYNC && !h->finished && !h->closed) {
        h->async = 1;
        return;
    }
    if (h->finished || h->closed) {
        h->finished = 1;
        h->released = 1;
        tn__handler_maybe_free(h);
        return;
    }
    if (rc < 0) {
        int st = rc == TN_EHTTP && h->fail_status ? h->fail_status : 500;
        if (st >= 500)
            tn_log(TN_LOG_ERROR, "Uncaught error in %s: %s", cls->name ? cls->name : "handler",
                   tn_strerror(rc));
        if (h->fail_msg[0] && !h->cls->write_error && !h->headers_sent) {
            char msg[sizeof h->fail_msg];
            memcpy(msg, h->fail_msg, sizeof msg);
            tn_handler_clear(h);
            if (st == 405)
                allow_header(h);
            (void)tn_handler_set_status(h, st, NULL);
            char page[400];
            int k =
                snprintf(page, sizeof page, "<html><title>%d: %s</title><body>%d: %s</body></html>",
                         st, tn_http_reason(st), st, msg);
            (void)tn_handler_write(h, page, (size_t)k);
            (void)tn_handler_finish(h);
        } else if (st == 405 && !h->headers_sent) {
            tn_handler_clear(h);
            allow_header(h);
            (void)tn_handler_set_status(h, 405, NULL);
            tn__handler_default_error_page(h, 405);
            (void)tn_handler_finish(h);
        } else {
            (void)tn_handler_send_error(h, st);
        }
        return;
    }
    (void)tn_handler_finish(h);
}

void tn_app_request_cb(tn_http_request_t *req, void *arg)
{
    tn_app_t *app = arg;
    /* A streaming handler (web_stream.c) was made at the headers. */
    if (app->streaming && tn__web_stream_body_done(req))
        return;
    void *init_arg;
    const route_t *r = tn__web_match(app, req);
    tn_handler_t *h = tn__web_new_handler(app, req, r, &init_arg);
    if (!h)
        return;
    h->busy++;
    int rc = h->cls == &not_found ? tn_handler_fail(h, 404) : run(h, init_arg);
    h->busy--;
    tn__web_complete(h, rc);
}

int tn_app_listen(tn_app_t *app, tn_ioloop_t *loop, int port, const char *address,
                  const tn_httpserver_options_t *opts, tn_httpserver_t **out)
{
    tn_httpserver_options_t o;
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    o.delegate = NULL;
    o.request_cb = tn_app_request_cb;
    o.request_arg = app;
    o.headers_cb = tn_app_headers_cb;
    tn_httpserver_t *srv;
    int err = tn_httpserver_new(loop, &o, &srv);
    if (err)
        return err;
    if ((err = tn_httpserver_listen(srv, port, address)) != 0) {
        tn_httpserver_free(srv, NULL, NULL);
        return err;
    }
    *out = srv;
    return 0;
}

/* ---- RedirectHandler ----------------------------------------------------- */

static int redirect_init(tn_handler_t *h, void *arg)
{
    *(const char **)tn_handler_state(h) = arg;
    return 0;
}

static int redirect_get(tn_handler_t *h)
{
    return tn_handler_redirect(h, *(const char **)tn_handler_state(h), 301);
}

const tn_handler_class_t tn_redirect_handler = {
    .name = "RedirectHandler",
    .state_size = sizeof(const char *),
    .initialize = redirect_init,
    .get = redirect_get,
    .head = redirect_get,
};
