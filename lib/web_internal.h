/* Internal pieces of the web layer shared between its files and tests:
 *   web_app.c             the Application: settings, routes, reverse_url;
 *   web_dispatch.c        routing a request to a handler and the handler's
 *                         lifecycle (initialize, prepare, method, on_finish);
 *   web_handler.c         handler accessors and request arguments;
 *   web_response.c        the handler's response: status, headers, body,
 *                         flush, finish (gzip, ETag), errors, redirect;
 *   web_handler_cookies.c cookies, signed cookies and XSRF on a handler;
 *   web_cookie.c          the signed-value format; web_static.c static files. */
#ifndef TN_LIB_WEB_INTERNAL_H
#define TN_LIB_WEB_INTERNAL_H

#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "tornuv/web.h"

#define MAX_PATH_ARGS 16
#define GZIP_MIN_LENGTH 1024

typedef struct route_s {
    struct route_s *next;
    pcre2_code *host_re, *path_re;
    char *pattern;
    char *name;
    const tn_handler_class_t *cls;
    void *init_arg;
} route_t;

struct tn_app_s {
    tn_app_settings_t s;
    char *static_path, *static_prefix, *cookie_secret;
    route_t *routes, *routes_tail;
    const tn_handler_class_t *default_cls;
    void *default_arg;
    tn_headers_t *default_headers;
    pcre2_match_data *md;
    int streaming; /* some class has stream_request_body */
};

struct tn_handler_s {
    tn_app_t *app;
    const tn_handler_class_t *cls;
    const route_t *route;
    tn_http_request_t *req; /* NULL once the request is over */
    int status;
    char *reason;
    tn_headers_t *headers;
    char *buf;
    size_t len, cap;
    char *argbuf;
    tn_strview_t args[MAX_PATH_ARGS];
    size_t nargs;
    tn_args_t *qargs, *bargs;
    int fail_status;
    char fail_msg[160];
    char *xsrf;
    uint64_t start_ms;
    unsigned pending; /* flush callbacks not yet run */
    unsigned busy;    /* tornuv is inside a call into the class */
    unsigned char async, finished, released, closed, headers_sent;
    /* stream_request_body (web_stream.c): made at the headers; body_held
     * while an asynchronous prepare runs; body_done once the request is in
     * but the method waits for that prepare */
    unsigned char streaming, body_held, body_paused, body_done, method_started;
    /* the class's state follows, aligned */
};

#define STATE_OFFSET ((sizeof(tn_handler_t) + 15) & ~(size_t)15)

/* ---- web_dispatch.c ---- */
/** The route matching req (NULL: none); app->md holds the match. */
const route_t *tn__web_match(tn_app_t *app, tn_http_request_t *req);
/** The class serving route r (the default class, or a 404 class). */
const tn_handler_class_t *tn__web_route_class(const tn_app_t *app, const route_t *r);
/** Allocates the handler for req on route r (path arguments from app->md)
 * and hooks its close callback; NULL after answering 500. */
tn_handler_t *tn__web_new_handler(tn_app_t *app, tn_http_request_t *req, const route_t *r,
                                  void **init_arg);
/** initialize, XSRF check, prepare: 0, TN_WEB_ASYNC or an error. */
int tn__web_prepare(tn_handler_t *h, void *init_arg);
/** 1 if the class has a slot for the request's method. */
int tn__web_has_method(tn_handler_t *h);
/** Runs the method slot (405 when there is none). */
int tn__web_call_method(tn_handler_t *h);
/** After a slot returned rc: finish, go asynchronous, or answer the error. */
void tn__web_complete(tn_handler_t *h, int rc);

/* ---- web_stream.c ---- */
/** request_cb side of a streamed request: 1 if req belongs to a streaming
 * handler (its method is run or scheduled here), 0 to dispatch normally. */
int tn__web_stream_body_done(tn_http_request_t *req);
/** A streaming handler answered before its method ran: its request
 * forgets it (req: the handler's request, still alive). */
void tn__web_stream_forget(tn_handler_t *h, tn_http_request_t *req);

/** strdup through the project allocator; NULL stays NULL (web_app.c). */
char *tn__web_dup_str(const char *s);
/** Frees h once nothing refers to it any more (web_handler.c). */
void tn__handler_maybe_free(tn_handler_t *h);
/** Last value of name in a, as Tornado returns it: 1 found, 0 not (web_handler.c). */
int tn__handler_last_value(const tn_args_t *a, const char *name, tn_strview_t *out);
/** The XSRF check of a state-changing request: 1 passes (web_handler_cookies.c). */
int tn__handler_xsrf_ok(tn_handler_t *h);
/** Resets the response headers to the defaults (web_response.c). */
int tn__handler_reset_headers(tn_handler_t *h);
/** 1 if the request method is m (web_response.c). */
int tn__handler_method_is(tn_handler_t *h, const char *m);
/** Writes Tornado's default error page for status (web_response.c). */
void tn__handler_default_error_page(tn_handler_t *h, int status);

/** Weak If-None-Match comparison of a header value against one ETag. */
int tn__web_etag_matches(const char *inm, size_t n, const char *etag);

/** Bytes needed for a signed value of name/value sizes (with NUL). */
size_t tn__web_signed_size(size_t name_len, size_t value_len);
/** Signs value for cookie name at time now into out (NUL-terminated):
 * "2|1:0|<n>:<ts>|<n>:<name>|<n>:<base64 value>|<hex HMAC-SHA256>".
 * Returns the length or TN_EBUFFULL / TN_EINVAL. */
long tn__web_sign(const char *secret, const char *name, const char *value, size_t value_len,
                  int64_t now, char *out, size_t cap);
/** Checks a signed value for name: signature (constant time), format, age
 * (at most max_age_days old, not more than a day in the future). Writes the
 * value, NUL-terminated, into buf. Returns its length, TN_EINVAL or
 * TN_EBUFFULL. */
long tn__web_verify(const char *secret, const char *name, const char *signed_value, size_t n,
                    int64_t now, unsigned max_age_days, char *buf, size_t cap);

/** Static files: a relative path that cannot leave its root (no absolute
 * path, drive, backslash, control byte, "." or ".." segment). */
int tn__web_static_path_ok(const char *rel, size_t n);
/** Resolves rel under root (realpath, must stay inside). 0, TN_EINVAL,
 * TN_ENOTFOUND; out has PATH_MAX bytes. */
int tn__web_static_resolve(const char *root, const char *rel, size_t n, char *out);
/** Parses a Range header for a body of size bytes: 1 (a single range,
 * inclusive bounds set), 0 (ignore: serve everything), -1 (416). */
int tn__web_parse_range(const char *v, size_t n, uint64_t size, uint64_t *start, uint64_t *end);

#endif
