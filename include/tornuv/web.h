/* tornuv web: Application, routing and RequestHandler (Tornado's web module).
 *
 * An application maps URL patterns (PCRE2, anchored to the whole path;
 * capture groups become path arguments) to handler classes. A handler class
 * is a table of function slots with Tornado's method names plus the size of
 * the per-request state the class wants; tornuv allocates one handler per
 * request, calls initialize, prepare, the HTTP method, then on_finish, and
 * frees it.
 *
 * A method returns:
 *   - TN_WEB_DONE (0): the response is complete; tornuv finishes it if the
 *     method did not;
 *   - TN_WEB_ASYNC: the handler will call tn_handler_finish later (from a
 *     timer, another connection's callback...). It must call it exactly
 *     once, also when the client went away (on_connection_close tells it;
 *     calls made after that return TN_ECLOSED but still release it);
 *   - a negative code: a 500 (or the status given to tn_handler_fail, for
 *     TN_EHTTP) through write_error, unless a response was already started.
 *
 * The application serves HTTP through tn_app_listen (an HTTPServer in
 * request-callback mode) or tn_app_request_cb on a server you create.
 * Loop thread only. */
#ifndef TORNUV_WEB_H
#define TORNUV_WEB_H

#include "tornuv/common.h"
#include "tornuv/httpserver.h"
#include "tornuv/httputil.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_app_s tn_app_t;
typedef struct tn_handler_s tn_handler_t;

#define TN_WEB_DONE 0
#define TN_WEB_ASYNC 1

/** A handler class. Unset method slots are "not implemented" (405). */
typedef struct {
    const char *name;  /**< for logs */
    size_t state_size; /**< bytes of per-request state (tn_handler_state) */
    /** Called first with the route's init_arg. Tornado: initialize(**kwargs). */
    int (*initialize)(tn_handler_t *h, void *init_arg);
    /** Before the method; may finish the response (the method is then
     * skipped). Returns TN_WEB_DONE or an error. Tornado: prepare(). */
    int (*prepare)(tn_handler_t *h);
    /** HTTP methods. Tornado: get(), head(), post(), ... */
    int (*get)(tn_handler_t *h);
    int (*head)(tn_handler_t *h);
    int (*post)(tn_handler_t *h);
    int (*put)(tn_handler_t *h);
    int (*delete_)(tn_handler_t *h);
    int (*patch)(tn_handler_t *h);
    int (*options)(tn_handler_t *h);
    /** After the response was sent (not called if the client left first).
     * Tornado: on_finish(). */
    void (*on_finish)(tn_handler_t *h);
    /** The client went away while the handler was asynchronous.
     * Tornado: on_connection_close(). */
    void (*on_connection_close)(tn_handler_t *h);
    /** Writes the body of an error page (status already set, response
     * cleared). NULL = a small HTML page. Tornado: write_error(status). */
    void (*write_error)(tn_handler_t *h, int status);
    /** Nonzero: the body is not buffered. The handler is made when the
     * headers are in: initialize and prepare run then (prepare may call
     * tn_handler_set_max_body_size, answer at once, or return TN_WEB_ASYNC
     * to hold both the 100 Continue and the body until
     * tn_handler_resume_body), data_received gets the body piece by piece,
     * and the method runs once it is complete. A response finished before
     * the body is complete closes the connection after it is sent.
     * Tornado: @tornado.web.stream_request_body. */
    int stream_request_body;
    /** A piece of the body (stream_request_body classes): borrowed until
     * return. Returns TN_WEB_DONE (go on), TN_WEB_ASYNC (pause reading
     * until tn_handler_resume_body) or a negative code (an error response,
     * as a method's, then the connection closes); it may also answer itself
     * (tn_handler_send_error(h, 413)): the rest of the body is not read.
     * Tornado: RequestHandler.data_received(chunk). */
    int (*data_received)(tn_handler_t *h, const char *data, size_t len);
} tn_handler_class_t;

/** Access-log hook: called once per finished request. */
typedef void (*tn_app_log_cb)(tn_handler_t *h, void *arg);

/** Application settings; zero fields take defaults. Strings are copied. */
typedef struct {
    /** Directory served under static_url_prefix by the built-in static
     * handler (NULL = no static route). Tornado: static_path. */
    const char *static_path;
    /** URL prefix of static files; default "/static/". */
    const char *static_url_prefix;
    /** Secret for signed cookies and XSRF tokens. Tornado: cookie_secret. */
    const char *cookie_secret;
    /** gzip responses for compressible types when the client accepts it.
     * Tornado: compress_response. */
    int compress_response;
    /** Check an _xsrf token on POST/PUT/DELETE/PATCH. Tornado: xsrf_cookies. */
    int xsrf_cookies;
    /** Access log; NULL = a Tornado-style line through tn_log at INFO
     * ("200 GET /uri (ip) 1.23ms"). Tornado: log_function. */
    tn_app_log_cb log_function;
    void *log_arg;
    /** Skip the automatic ETag / 304 handling. Tornado: compute_etag() None. */
    int no_etag;
} tn_app_settings_t;

/** Creates an application. Returns 0, TN_EINVAL, TN_ENOMEM.
 * Tornado: Application(handlers, **settings). */
TN_EXTERN int tn_app_new(const tn_app_settings_t *settings, tn_app_t **out);

/** Frees the application; no server may still use it.
 * Tornado: none (garbage collection). */
TN_EXTERN void tn_app_free(tn_app_t *app);

/** Adds a route: pattern is a PCRE2 regex matched against the whole path
 * (not percent-decoded groups are decoded before they reach the handler);
 * host_pattern (NULL = any host) matches the Host header without port; name
 * (NULL = unnamed) is for tn_app_reverse_url. Routes are tried in the order
 * added; first match wins. Returns 0, TN_EINVAL (bad pattern), TN_EEXIST
 * (name taken), TN_ENOMEM. Tornado: URLSpec / add_handlers. */
TN_EXTERN int tn_app_add_route(tn_app_t *app, const char *host_pattern, const char *pattern,
                               const tn_handler_class_t *cls, void *init_arg, const char *name);

/** Handler used when no route matches (default: 404 page).
 * Tornado: default_handler_class. */
TN_EXTERN void tn_app_set_default_handler(tn_app_t *app, const tn_handler_class_t *cls,
                                          void *init_arg);

/** Adds a header to every response (overridable per handler).
 * Tornado: set_default_headers. */
TN_EXTERN int tn_app_add_default_header(tn_app_t *app, const char *name, const char *value);

/** Builds the path of a named route with args substituted for its groups
 * (each URL-escaped). Writes a NUL-terminated string; returns its length,
 * TN_ENOTFOUND (no such name), TN_EINVAL (wrong argument count or a pattern
 * too complex to reverse), TN_EBUFFULL. Tornado: reverse_url(name, *args). */
TN_EXTERN long tn_app_reverse_url(const tn_app_t *app, const char *name, const char *const *args,
                                  size_t nargs, char *buf, size_t cap);

/** Request callback serving the application (arg = the tn_app_t) for a
 * server created by hand. Tornado: Application.__call__. */
TN_EXTERN void tn_app_request_cb(tn_http_request_t *req, void *app);

/** The HTTPServer headers_cb for an application with stream_request_body
 * classes (set it with request_arg = app next to tn_app_request_cb on a
 * server you create; tn_app_listen does). Harmless for other requests.
 * Tornado: _HandlerDelegate.headers_received for @stream_request_body. */
TN_EXTERN void tn_app_headers_cb(tn_http_request_t *req, void *app);

/** Creates an HTTPServer for the application (opts may be NULL; its
 * request_cb/delegate are replaced) and listens. Tornado: Application.listen. */
TN_EXTERN int tn_app_listen(tn_app_t *app, tn_ioloop_t *loop, int port, const char *address,
                            const tn_httpserver_options_t *opts, tn_httpserver_t **out);

/* ---- handler: request side --------------------------------------------- */

/** The request. Tornado: RequestHandler.request. */
TN_EXTERN tn_http_request_t *tn_handler_request(const tn_handler_t *h);
/** The application. Tornado: RequestHandler.application. */
TN_EXTERN tn_app_t *tn_handler_app(const tn_handler_t *h);
/** The class's per-request state (state_size bytes, zeroed, freed with
 * the handler). Tornado: the handler instance's attributes. */
TN_EXTERN void *tn_handler_state(const tn_handler_t *h);
/** Loop the handler runs on (NULL once the request is over).
 * Tornado: IOLoop.current(). */
TN_EXTERN tn_ioloop_t *tn_handler_loop(const tn_handler_t *h);

/** Positional path argument i (percent-decoded), or NULL. Tornado: *args. */
TN_EXTERN const char *tn_handler_path_arg(const tn_handler_t *h, size_t i, size_t *len);
/** Named group's value, or NULL. Tornado: **kwargs. */
TN_EXTERN const char *tn_handler_path_kwarg(const tn_handler_t *h, const char *name, size_t *len);
/** Number of positional path arguments. Tornado: len(self.path_args). */
TN_EXTERN size_t tn_handler_path_arg_count(const tn_handler_t *h);

/** The last value of argument name from the query and the form body.
 * Missing: def if non-NULL (returns 0), else TN_EHTTP with status 400
 * ("Missing argument name") recorded, so `return rc;` from the method
 * answers 400. Tornado: get_argument(name, default). */
TN_EXTERN int tn_handler_get_argument(tn_handler_t *h, const char *name, const char *def,
                                      tn_strview_t *out);
/** All values of name (query then body); returns the count (may exceed
 * max). Tornado: get_arguments(name). */
TN_EXTERN size_t tn_handler_get_arguments(tn_handler_t *h, const char *name, tn_strview_t *out,
                                          size_t max);
/** Like get_argument from the query only. Tornado: get_query_argument. */
TN_EXTERN int tn_handler_get_query_argument(tn_handler_t *h, const char *name, const char *def,
                                            tn_strview_t *out);
/** Like get_argument from the form body only. Tornado: get_body_argument. */
TN_EXTERN int tn_handler_get_body_argument(tn_handler_t *h, const char *name, const char *def,
                                           tn_strview_t *out);
/** Files uploaded as multipart/form-data. Tornado: request.files. */
TN_EXTERN const tn_files_t *tn_handler_files(tn_handler_t *h);
/** Cookie value, or NULL. Tornado: get_cookie(name). */
TN_EXTERN const char *tn_handler_get_cookie(tn_handler_t *h, const char *name, size_t *len);

/* ---- handler: response side -------------------------------------------- */

/** Sets the status. reason NULL = the standard phrase; an unknown code
 * needs a reason (TN_EINVAL otherwise), and a reason with control
 * characters is refused (TN_EINVAL). Tornado: set_status(code, reason). */
TN_EXTERN int tn_handler_set_status(tn_handler_t *h, int status, const char *reason);
/** Current status. Tornado: get_status(). */
TN_EXTERN int tn_handler_get_status(const tn_handler_t *h);
/** Replaces a response header (value validated: no CR, LF, NUL).
 * Tornado: set_header. */
TN_EXTERN int tn_handler_set_header(tn_handler_t *h, const char *name, const char *value);
/** Adds a response header. Tornado: add_header. */
TN_EXTERN int tn_handler_add_header(tn_handler_t *h, const char *name, const char *value);
/** Removes a response header. Tornado: clear_header. */
TN_EXTERN void tn_handler_clear_header(tn_handler_t *h, const char *name);
/** Appends to the response body. Returns 0, TN_EFINISHED, TN_ENOMEM.
 * Tornado: write(chunk). */
TN_EXTERN int tn_handler_write(tn_handler_t *h, const char *data, size_t len);
/** write of a NUL-terminated string. Tornado: write(str). */
TN_EXTERN int tn_handler_write_str(tn_handler_t *h, const char *s);
/** Appends pre-serialised JSON and sets Content-Type application/json.
 * Tornado: write(dict). */
TN_EXTERN int tn_handler_write_json(tn_handler_t *h, const char *json, size_t len);

/** Resumes a stream_request_body handler: after prepare returned
 * TN_WEB_ASYNC (sends the held 100 Continue and starts reading the body;
 * the method runs once it is complete, on a later drain), or after
 * data_received returned TN_WEB_ASYNC (the next piece comes later).
 * A paused handler stays allocated until this call or tn_handler_finish,
 * also when the client leaves meanwhile (on_connection_close tells it):
 * then this call returns TN_ECLOSED and releases it (h must not be used
 * afterwards). Returns 0, TN_EINVAL (not a streaming handler, nothing
 * paused, or answered already) or TN_ECLOSED.
 * Tornado: the prepare / data_received Future resolving. */
TN_EXTERN int tn_handler_resume_body(tn_handler_t *h);

/** Raises (or lowers) the body limit of this request; in initialize or
 * prepare of a stream_request_body handler, before any body byte was read.
 * Returns 0, TN_EINVAL (too late) or TN_ECLOSED.
 * Tornado: self.request.connection.set_max_body_size(n). */
TN_EXTERN int tn_handler_set_max_body_size(tn_handler_t *h, uint64_t max_bytes);

/** Bytes written by the handler and not yet handed to the OS: what
 * tn_handler_write buffered plus what flushes left queued on the
 * connection. A handler producing a large response writes, flushes, and
 * waits for the flush callback (or for this to drop) before writing more,
 * so it holds at most its own high-water mark. 0 once closed.
 * Tornado: none (len(self._write_buffer) plus the stream's write buffer). */
TN_EXTERN size_t tn_handler_write_buffered(const tn_handler_t *h);

/** Completion of a flush: 0 or TN_ECLOSED. */
typedef void (*tn_handler_flush_cb)(tn_handler_t *h, int status, void *arg);
/** Sends the headers (first time) and what was written so far (chunked).
 * cb (may be NULL) fires once when the bytes reached the OS. Returns 0,
 * TN_EFINISHED, TN_ECLOSED. Tornado: flush(). */
TN_EXTERN int tn_handler_flush(tn_handler_t *h, tn_handler_flush_cb cb, void *arg);
/** Writes data without copying it: flushes what was written before (the
 * headers too, so the response is not gzipped nor given an ETag), then
 * hands data to the connection by reference. data must stay valid until
 * release (required) runs, once, when it reached the OS (0) or the client
 * left (TN_ECLOSED); never inside this call. Returns 0, TN_EINVAL,
 * TN_EFINISHED, TN_ECLOSED, TN_ENOMEM (release then never runs).
 * Tornado: write() of a memoryview, then flush(). */
TN_EXTERN int tn_handler_write_ref(tn_handler_t *h, const void *data, size_t len,
                                   tn_handler_flush_cb release, void *arg);

/** Finishes the response (ETag/304, gzip and Content-Length when nothing
 * was flushed). Inside a method, a second call returns TN_EFINISHED. For a
 * handler whose method returned TN_WEB_ASYNC this call also releases it: h
 * must not be used afterwards (returns TN_ECLOSED if the client left).
 * Tornado: finish(). */
TN_EXTERN int tn_handler_finish(tn_handler_t *h);
/** Redirects (status 301, 302, 303, 307 or 308) and finishes.
 * Tornado: redirect(url, permanent, status). */
TN_EXTERN int tn_handler_redirect(tn_handler_t *h, const char *url, int status);
/** Clears the response and sends an error page through write_error, then
 * finishes. Tornado: send_error(status). */
TN_EXTERN int tn_handler_send_error(tn_handler_t *h, int status);
/** Records an HTTP error status and returns TN_EHTTP, for
 * `return tn_handler_fail(h, 403);`. Tornado: raise HTTPError(403). */
TN_EXTERN int tn_handler_fail(tn_handler_t *h, int status);
/** Resets headers to the defaults, empties the body, status 200.
 * Tornado: clear(). */
TN_EXTERN void tn_handler_clear(tn_handler_t *h);
/** Nonzero once finished. Tornado: _finished. */
TN_EXTERN int tn_handler_finished(const tn_handler_t *h);

/* ---- cookies ------------------------------------------------------------ */

/** Sets a cookie (attrs may be NULL). Tornado: set_cookie. */
TN_EXTERN int tn_handler_set_cookie(tn_handler_t *h, const char *name, const char *value,
                                    const tn_cookie_attrs_t *attrs);
/** Expires a cookie (path/domain from attrs if given). Tornado: clear_cookie. */
TN_EXTERN int tn_handler_clear_cookie(tn_handler_t *h, const char *name,
                                      const tn_cookie_attrs_t *attrs);
/** Sets a cookie signed with the application's cookie_secret
 * (HMAC-SHA256, timestamped). TN_EINVAL without a secret.
 * Tornado: set_signed_cookie (set_secure_cookie). */
TN_EXTERN int tn_handler_set_signed_cookie(tn_handler_t *h, const char *name, const char *value,
                                           const tn_cookie_attrs_t *attrs);
/** Verifies a signed cookie no older than max_age_days (0 = 31) and writes
 * its value (NUL-terminated) into buf. Returns the length, TN_ENOTFOUND
 * (absent), TN_EINVAL (bad signature, expired, malformed), TN_EBUFFULL.
 * Tornado: get_signed_cookie (get_secure_cookie). */
TN_EXTERN long tn_handler_get_signed_cookie(tn_handler_t *h, const char *name,
                                            unsigned max_age_days, char *buf, size_t cap);
/** The XSRF token for forms (sets the _xsrf cookie if absent); NUL-terminated,
 * valid for the handler's life. Tornado: xsrf_token. */
TN_EXTERN const char *tn_handler_xsrf_token(tn_handler_t *h);

/* ---- built-in handlers --------------------------------------------------- */

/** Serves files under the directory given as init_arg (a const char *);
 * the route's first group is the relative path. Safe against traversal;
 * a directory serves its index.html (else 403), never a redirect; ETag,
 * Last-Modified, If-None-Match / If-Modified-Since (304), Range (206 / 416),
 * HEAD, MIME types by extension, Cache-Control for versioned URLs (?v=);
 * files over 64 KiB are read chunk by chunk on the thread pool.
 * Tornado: StaticFileHandler. */
extern TN_EXTERN const tn_handler_class_t tn_static_file_handler;

/** Redirects to the init_arg URL (a const char *), 301.
 * Tornado: RedirectHandler. */
extern TN_EXTERN const tn_handler_class_t tn_redirect_handler;

/** Answers every request with the status init_arg points to (a const int *;
 * NULL = 404) through write_error. Tornado: ErrorHandler. */
extern TN_EXTERN const tn_handler_class_t tn_error_handler;

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_WEB_H */
