/* tornuv AsyncHTTPClient: an HTTP/1.1 client on the loop, in the shape of
 * Tornado's simple_httpclient, with the server's strict framing rules applied
 * to responses and a keep-alive pool per origin.
 *
 *   tn_httpclient_t *c;
 *   tn_httpclient_new(loop, NULL, &c);
 *   tn_httpclient_fetch(c, "http://127.0.0.1:8888/", NULL, on_done, NULL, NULL);
 *   ...
 *   static void on_done(tn_fetch_t *f, int status, void *arg) {
 *       size_t n; const char *body = tn_fetch_body(f, &n);   // valid until return
 *   }
 *
 * Strictness (what many clients get wrong with hostile servers):
 *   - Content-Length is digits only and appears once (a second one, equal or
 *     not, is refused, as llhttp and the server do); a response with both
 *     Content-Length and Transfer-Encoding, or a Transfer-Encoding other than
 *     exactly "chunked", is an error; chunk sizes are bounded by
 *     max_body_size; bare CR/LF, obs-fold and control bytes in the head are
 *     errors.
 *   - Truncation is an error, never a short success: EOF inside the head, a
 *     Content-Length body or a chunked body, and a gzip stream that does not
 *     end, fail the fetch.
 *   - 1xx responses before the final one are skipped (100, 103, ...; a 1xx
 *     with a body length is an error); 204, 304 and responses to HEAD have
 *     no body whatever their fields say (a 204 that names a length is not
 *     reused); bytes after a response that ends its connection are ignored;
 *     bytes after a keep-alive response that nobody asked for keep the
 *     connection out of the pool.
 *
 * Loop thread only. */
#ifndef TORNUV_HTTPCLIENT_H
#define TORNUV_HTTPCLIENT_H

#include "common.h"
#include "httputil.h"
#include "ioloop.h"
#include "tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_httpclient_s tn_httpclient_t;
/** One fetch; valid from tn_httpclient_fetch until its done callback
 * returns. */
typedef struct tn_fetch_s tn_fetch_t;

/** A timeout option meaning "none". */
#define TN_NO_TIMEOUT UINT64_MAX
#define TN_HTTPCLIENT_DEFAULT_TIMEOUT_MS 20000u
#define TN_HTTPCLIENT_DEFAULT_MAX_CLIENTS 10u
#define TN_HTTPCLIENT_DEFAULT_MAX_REDIRECTS 5
#define TN_HTTPCLIENT_DEFAULT_MAX_IDLE_PER_HOST 4u
#define TN_HTTPCLIENT_DEFAULT_IDLE_TIMEOUT_MS 30000u

/** Code of a fetch that got no HTTP response (Tornado's 599). */
#define TN_FETCH_NO_RESPONSE 599

/** The final response's head: code and fields (borrowed for the call).
 * Return 0, or a negative code to abort the fetch with it. */
typedef int (*tn_fetch_headers_cb)(tn_fetch_t *f, int code, const tn_headers_t *headers, void *arg);
/** One raw line of the final response's head, CRLF included: the status
 * line, each field line, and the final "\r\n". Return 0 or a negative code. */
typedef int (*tn_fetch_header_line_cb)(tn_fetch_t *f, const char *line, size_t len, void *arg);
/** A piece of the final response's body (decoded), borrowed for the call.
 * Return TN_CONTINUE, TN_PAUSE (no more pieces until tn_fetch_resume), or a
 * negative code that aborts the fetch with it. */
typedef int (*tn_fetch_chunk_cb)(tn_fetch_t *f, const char *data, size_t len, void *arg);
/** Time to send the request body: write it with tn_fetch_write, end it with
 * tn_fetch_write_end (now or later). Return 0, or a negative code that aborts
 * the fetch. Called at most once per connection attempt (never again on a
 * redirect: a producer's body is not replayed, a 307/308 after one fails). */
typedef int (*tn_fetch_body_producer_cb)(tn_fetch_t *f, void *arg);
/** A tn_fetch_write completed: 0 once its bytes reached the OS, TN_ECLOSED
 * when the exchange ended first (then possibly after done: the fetch stays
 * valid for this call). */
typedef void (*tn_fetch_write_cb)(tn_fetch_t *f, int status, void *arg);
/** The fetch is over: status 0 (a 2xx response), TN_EHTTP (any other code,
 * an unfollowed 3xx included: read tn_fetch_code; or a malformed response,
 * then the code is 599), TN_ETIMEOUT, TN_ECLOSED (the connection ended
 * before the response did), -ECONNREFUSED and other system codes, resolver
 * codes, TN_ETLSVERIFY / TN_ETLS (https: certificate or handshake),
 * TN_ETLSTRUNC (a body read to the end of a TLS connection that ended
 * without close_notify), TN_ETOOLARGE (max_body_size / max_header_size),
 * TN_EINVAL (a redirect to somewhere the client does not go), TN_ECANCELED,
 * or a code a callback returned. */
typedef void (*tn_fetch_done_cb)(tn_fetch_t *f, int status, void *arg);

/** Per-fetch options; zero fields take the client's defaults, then
 * Tornado's. Everything is copied by tn_httpclient_fetch. */
typedef struct {
    const char *method;          /**< NULL = "GET" */
    const tn_headers_t *headers; /**< extra request fields (copied) */
    const char *body;            /**< the request body (copied unless body_ref) */
    size_t body_len;
    int body_ref; /**< body is borrowed until done instead of copied */
    /** Streams the body instead (exclusive with body); without a
     * Content-Length field in headers the body is sent chunked. */
    tn_fetch_body_producer_cb body_producer;
    void *producer_arg;
    uint64_t connect_timeout_ms; /**< 0 = 20 s, TN_NO_TIMEOUT = none */
    uint64_t request_timeout_ms; /**< 0 = 20 s, end to end from the fetch call */
    int no_follow_redirects;     /**< Tornado: follow_redirects=False */
    int max_redirects;           /**< 0 = 5; negative = do not follow */
    int no_decompress;           /**< Tornado: decompress_response=False */
    int expect_100_continue;     /**< send the body only after 100 Continue */
    int allow_nonstandard_methods;
    const char *user_agent;    /**< NULL = "tornuv/<version>" */
    const char *auth_username; /**< basic auth (userinfo in the URL wins) */
    const char *auth_password;
    /* TLS (https://): TN_ENOTSUP until TLS streams exist. */
    int insecure;                           /**< skip certificate verification (spelled out) */
    const char *ca_certs;                   /**< PEM file of trusted CAs; NULL = system */
    const char *client_cert;                /**< PEM certificate chain */
    const char *client_key;                 /**< PEM private key */
    uint64_t max_body_size;                 /**< 0 = the client's */
    tn_fetch_headers_cb on_headers;         /**< final response only */
    tn_fetch_header_line_cb on_header_line; /**< final response only */
    tn_fetch_chunk_cb on_chunk;             /**< final response only; body not kept */
    void *callback_arg;                     /**< arg of the three callbacks above */
} tn_fetch_options_t;

/** Client options; zero fields take the defaults. */
typedef struct {
    size_t max_clients;     /**< fetches in flight; the rest queue (FIFO); 0 = 10 */
    size_t max_buffer_size; /**< stream read buffer cap; 0 = 100 MiB */
    uint64_t max_body_size; /**< decoded body cap; 0 = max_buffer_size */
    size_t max_header_size; /**< response head cap; 0 = 64 KiB */
    /** Fetch fields left zero take these. The struct is copied; the
     * strings and headers it points to must outlive the client. */
    const tn_fetch_options_t *defaults;
    size_t max_idle_per_host; /**< idle keep-alive connections per origin; 0 = 4 */
    uint64_t idle_timeout_ms; /**< an idle pooled connection closes after it; 0 = 30 s */
    int no_keep_alive;        /**< Tornado's behaviour: Connection: close, no pool */
} tn_httpclient_options_t;

/** Creates a client on loop (no hidden singleton: create one per loop and
 * share it). Returns 0 with *out, TN_EINVAL or TN_ENOMEM.
 * Tornado: AsyncHTTPClient(force_instance=True, max_clients=...). */
TN_EXTERN int tn_httpclient_new(tn_ioloop_t *loop, const tn_httpclient_options_t *opts,
                                tn_httpclient_t **out);

/** Frees the client: every fetch still queued or in flight completes with
 * TN_ECLOSED (each done callback runs, later), idle connections close, then
 * on_freed(arg) runs (may be NULL). The client must not be used after this
 * call. Tornado: AsyncHTTPClient.close(). */
TN_EXTERN void tn_httpclient_free(tn_httpclient_t *c, void (*on_freed)(void *arg), void *arg);

/** Starts fetching url ("http://host[:port]/path?query"; userinfo gives
 * basic auth) with opts (NULL = defaults). Argument errors return at once
 * and done never runs: TN_EINVAL (bad URL, scheme other than http/https,
 * unknown method without allow_nonstandard_methods, POST/PUT/PATCH without
 * a body or another method with one, body and body_producer together,
 * header names or values that are not safe), TN_ENOTSUP (https:// in a
 * build without TLS), TN_ETLSCONFIG (a CA or client certificate file that
 * does not load), TN_ECLOSED (client being freed), TN_ENOMEM.
 * Otherwise returns 0 and done(f, status, arg) runs exactly once, never
 * inside this call; *out (may be NULL) gets the fetch for tn_fetch_cancel.
 * Tornado: AsyncHTTPClient.fetch(request, raise_error=False). */
TN_EXTERN int tn_httpclient_fetch(tn_httpclient_t *c, const char *url,
                                  const tn_fetch_options_t *opts, tn_fetch_done_cb done, void *arg,
                                  tn_fetch_t **out);

/** Aborts a fetch wherever it is (queued, connecting, sending, receiving):
 * its connection is closed, nothing more is delivered, and done runs with
 * TN_ECANCELED (later, never inside this call). No effect once the fetch
 * finished (its done is already due). Safe from the fetch's own callbacks.
 * Tornado: none (cancelling the future does not stop the transfer). */
TN_EXTERN void tn_fetch_cancel(tn_fetch_t *f);

/** Resumes body delivery after on_chunk returned TN_PAUSE. Returns 0 or
 * TN_EINVAL when not paused. Tornado: none (no back-pressure, #2209). */
TN_EXTERN int tn_fetch_resume(tn_fetch_t *f);

/** From a body producer: sends len bytes of the body (copied; a chunk when
 * the body is chunked). cb (may be NULL) runs once, later. Returns 0,
 * TN_EINVAL (no producer, after write_end, or past a Content-Length),
 * TN_ECLOSED (the exchange ended) or TN_ENOMEM.
 * Tornado: the write function given to body_producer. */
TN_EXTERN int tn_fetch_write(tn_fetch_t *f, const void *data, size_t len, tn_fetch_write_cb cb,
                             void *arg);

/** Ends the producer's body (the last chunk when chunked). Returns 0,
 * TN_EINVAL (already ended, or fewer bytes than a Content-Length) or
 * TN_ECLOSED. Tornado: the body_producer's future resolving. */
TN_EXTERN int tn_fetch_write_end(tn_fetch_t *f);

/** The HTTP status code of the last response head received, or 599 when
 * none came. A failure after the head (a truncated body, a body over
 * max_body_size, a redirect that is refused) keeps the code: the done
 * status says whether the exchange succeeded.
 * Tornado: HTTPResponse.code. */
TN_EXTERN int tn_fetch_code(const tn_fetch_t *f);

/** The reason phrase (the server's, else the standard one, "" without a
 * response). Tornado: HTTPResponse.reason. */
TN_EXTERN const char *tn_fetch_reason(const tn_fetch_t *f);

/** The final response's fields (empty without a response). With
 * decompression a gzip Content-Encoding is moved to
 * X-Consumed-Content-Encoding. Tornado: HTTPResponse.headers. */
TN_EXTERN const tn_headers_t *tn_fetch_headers(const tn_fetch_t *f);

/** The body ("" with on_chunk or without a response); *len gets its length.
 * Valid until done returns. Tornado: HTTPResponse.body. */
TN_EXTERN const char *tn_fetch_body(const tn_fetch_t *f, size_t *len);

/** Takes the body (NULL when empty): the caller frees it with tn_free.
 * Tornado: none. */
TN_EXTERN char *tn_fetch_steal_body(tn_fetch_t *f, size_t *len);

/** The URL of the final response (after redirects).
 * Tornado: HTTPResponse.effective_url. */
TN_EXTERN const char *tn_fetch_effective_url(const tn_fetch_t *f);

/** What went wrong, in words ("Timeout in request queue", "Timeout while
 * connecting", "Timeout during request", "malformed status line", ...), or
 * "" on success. Tornado: str(HTTPResponse.error). */
TN_EXTERN const char *tn_fetch_error_message(const tn_fetch_t *f);

/** Timings in microseconds (millisecond resolution, the loop clock): queue
 * (fetch call to a free slot, summed over hops), connect (to the last
 * connection used; 0 when it came from the pool), first_byte (fetch call to
 * the first response byte of the last hop) and total (fetch call to done). */
typedef struct {
    uint64_t queue_us, connect_us, first_byte_us, total_us;
    int redirects;       /**< hops followed */
    int reused;          /**< the final exchange ran on a pooled connection */
    uint64_t body_bytes; /**< decoded body bytes of the final response */
} tn_fetch_timings_t;

/** Fills t. Tornado: HTTPResponse.time_info / request_time. */
TN_EXTERN void tn_fetch_timings(const tn_fetch_t *f, tn_fetch_timings_t *t);

/** The total length announced by the final response (Content-Length of
 * what is being decoded), or -1 when unknown; for progress displays.
 * Tornado: none. */
TN_EXTERN int64_t tn_fetch_expected_length(const tn_fetch_t *f);

/** Idle pooled connections the client holds (all origins).
 * Tornado: none (it keeps none). */
TN_EXTERN size_t tn_httpclient_idle_count(const tn_httpclient_t *c);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_HTTPCLIENT_H */
