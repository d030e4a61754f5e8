/* tornuv: HTTP/1.x server — HTTPServer, HTTP1Connection, request/response.
 *
 * An HTTPServer accepts connections through a TCPServer, wraps each in an
 * HTTP1Connection that parses requests with llhttp straight from the stream's
 * read buffer, and hands every request to the application in one of two ways:
 *
 * - Delegate mode (Tornado's HTTPServerConnectionDelegate + HTTPMessageDelegate):
 *   start_request, headers_received, data_received (streamed, with
 *   pause/resume), then exactly one of finish or on_connection_close.
 * - Simple mode (Tornado's request_callback): one callback with the complete
 *   request (headers and body read, arguments parsed).
 *
 * Either way the application answers on the request object:
 * write_headers, write, finish. Requests on one connection are served strictly
 * in order, one at a time; reading is paused while a response is pending.
 *
 * Ownership: the server owns every connection and request. A tn_http_request_t
 * is valid from start_request (or the request callback) until the first of
 * (a) the delegate's finish callback has returned AND the response has been
 * finished, or (b) on_connection_close has returned. After that its pointer
 * must not be used. Every byte view returned by an accessor is borrowed from the
 * request and lives exactly as long as the request.
 *
 * Strictness: tornuv rejects with 400 and closes the connection on framing that
 * Tornado tolerates or that lets requests be smuggled (see docs/HTTP.md).
 */
#ifndef TORNUV_HTTPSERVER_H
#define TORNUV_HTTPSERVER_H

#include "tornuv/common.h"
#include "tornuv/httputil.h"
#include "tornuv/iostream.h"
#include "tornuv/ioloop.h"
#include "tornuv/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_httpserver_s tn_httpserver_t;
typedef struct tn_http_request_s tn_http_request_t;

/* Defaults applied when the matching option is zero. */
#define TN_HTTP_DEFAULT_MAX_HEADER_SIZE (64u * 1024u)
#define TN_HTTP_DEFAULT_MAX_HEADER_COUNT 100u
#define TN_HTTP_DEFAULT_MAX_BODY_SIZE ((uint64_t)100 * 1024 * 1024)
#define TN_HTTP_DEFAULT_MAX_CHUNK_EXT_SIZE 1024u
#define TN_HTTP_DEFAULT_HEADER_TIMEOUT_MS 60000u
#define TN_HTTP_DEFAULT_BODY_TIMEOUT_MS 0u /* none: only the stall bound (idle_timeout_ms) */
#define TN_HTTP_DEFAULT_WRITE_TIMEOUT_MS 60000u
#define TN_HTTP_DEFAULT_IDLE_TIMEOUT_MS 75000u
#define TN_HTTP_DEFAULT_CLOSE_LINGER_MS 2000u

/** Delegate-mode callbacks. Every callback gets the request first and the
 * delegate_arg from the options last. An int-returning callback returns 0 to
 * continue, or a negative code to abort the request: the connection is then
 * closed (if no response was started, a 500 is not sent — the peer sees the
 * close) and on_connection_close is called.
 *
 * Order per request: start_request, headers_received, data_received (zero or
 * more times), then exactly one of finish (the whole body was received) or
 * on_connection_close (the connection ended first, including because the
 * request was rejected after start_request, timed out or the peer vanished).
 * Never called from inside a tornuv call made by the application. */
typedef struct {
    /** A new request has begun (its start line and headers were read and
     * validated). Attach your state with tn_http_request_set_data.
     * Tornado: HTTPServerConnectionDelegate.start_request. */
    int (*start_request)(tn_http_request_t *req, void *arg);
    /** Headers are available. May call tn_http_request_set_max_body_size
     * and may respond early (write_headers/finish): then the body is still
     * read and discarded up to the limit, and Expect: 100-continue is not
     * answered. Tornado: HTTPMessageDelegate.headers_received. */
    int (*headers_received)(tn_http_request_t *req, void *arg);
    /** A piece of the (dechunked, decompressed) body; data is borrowed for the
     * call. Use tn_http_request_pause_body for flow control.
     * Tornado: HTTPMessageDelegate.data_received. */
    int (*data_received)(tn_http_request_t *req, const char *data, size_t len, void *arg);
    /** The whole request has been received.
     * Tornado: HTTPMessageDelegate.finish. */
    void (*finish)(tn_http_request_t *req, void *arg);
    /** The connection ended before finish; the request is dead after return.
     * Tornado: HTTPMessageDelegate.on_connection_close. */
    void (*on_connection_close)(tn_http_request_t *req, void *arg);
} tn_http_delegate_t;

/** Simple mode: the complete request (body read, arguments parsed). Answer
 * now or later (from a timer) with the response functions; the request lives
 * until tn_http_response_finish or until the connection closes, whichever is
 * first — use tn_http_request_set_close_callback to learn of the latter.
 * Tornado: HTTPServer(request_callback). */
typedef void (*tn_http_request_cb)(tn_http_request_t *req, void *arg);

/** Called when a request dies with its connection before being finished. */
typedef void (*tn_http_request_close_cb)(tn_http_request_t *req, void *arg);

/** A piece of a streamed request body (simple mode, see
 * tn_http_request_stream_body): dechunked and decompressed, borrowed until
 * return. Returns TN_CONTINUE, TN_PAUSE (no more pieces, and no reading,
 * until tn_http_request_resume_body) or a negative code (abort: the
 * connection is closed, after the response if one was finished). */
typedef int (*tn_http_body_cb)(tn_http_request_t *req, const char *data, size_t len, void *arg);

/** Access-log record, borrowed for the call. */
typedef struct {
    const char *method;
    size_t method_len;
    const char *uri;
    size_t uri_len;
    const char *remote_ip;
    int status;
    uint64_t bytes_sent; /* body bytes */
    uint64_t duration_us;
} tn_http_access_t;

/** Access-log hook; off unless set. Tornado: Application.log_request. */
typedef void (*tn_http_access_log_cb)(const tn_http_access_t *entry, void *arg);

/** Completion of a response write: status 0 once flushed to the OS, or
 * TN_ECLOSED. Fires exactly once, never inside tn_http_response_write. */
typedef void (*tn_http_write_cb)(tn_http_request_t *req, int status, void *arg);

/** Called once when tn_httpserver_free has released everything. */
typedef void (*tn_httpserver_freed_cb)(void *arg);
/** Called once when close_all_connections has closed the last connection. */
typedef void (*tn_httpserver_closed_cb)(tn_httpserver_t *server, int status, void *arg);

/** All limits and timeouts of a server; zero selects the default. */
typedef struct {
    /* Exactly one of request_cb (simple mode) or delegate (delegate mode). */
    tn_http_request_cb request_cb;
    void *request_arg;
    /* Simple mode: called with request_arg once a request's headers are in,
     * before its body is read; it may pause the body (which also holds the
     * 100 Continue until resume), stream it with tn_http_request_stream_body,
     * raise max_body_size, or answer at once. request_cb still runs when the
     * whole request was received. */
    tn_http_request_cb headers_cb;
    const tn_http_delegate_t *delegate; /* copied */
    void *delegate_arg;

    size_t max_header_size;                /* raw bytes of start line + headers; 431 past it */
    size_t max_header_count;               /* 431 past it */
    uint64_t max_body_size;                /* after dechunking and inflation; 413 past it */
    size_t max_chunk_ext_size;             /* bytes of chunk extensions per chunk; 400 past it */
    uint64_t header_timeout_ms;            /* first byte of a request to the end of its
                                              headers (60 s); then the connection closes */
    uint64_t body_timeout_ms;              /* end of headers to the end of the body; 0 = no
                                              bound on the whole body (the default); past
                                              it 408 if nothing was answered, then close */
    uint64_t idle_timeout_ms;              /* keep-alive idle between requests (75 s); also
                                              the longest a body may stall between bytes */
    uint64_t write_timeout_ms;             /* response bytes wait in tornuv and the peer took
                                              none of them for this long: close (60 s) */
    uint64_t close_linger_ms;              /* how long a rejected connection drains input */
    size_t max_connections;                /* 0 = unlimited; over it, accepted sockets are closed */
    uint32_t max_requests_per_connection;  /* 0 = unlimited */
    int no_keep_alive;                     /* close after every response */
    int decompress_request;                /* inflate Content-Encoding: gzip bodies */
    int xheaders;                          /* trust X-Real-Ip / X-Forwarded-For / X-Scheme */
    const char *const *trusted_downstream; /* NULL-terminated list of IPs, copied */
    const char *server_header;             /* NULL = "TornadoServer/tornuv"; "" = none; copied */
    size_t max_write_buffer;               /* unsent response bytes before the next
                                              pipelined request waits; 0 = 64 KiB */
    tn_http_access_log_cb access_log;
    void *access_log_arg;
    /* Serve HTTPS: every connection is a TLS stream made with this server
     * context (borrowed: it must outlive the server); requests report
     * protocol "https" (xheaders may still override it). Tornado: ssl_options. */
    tn_tls_context_t *ssl_options;
} tn_httpserver_options_t;

/** Creates a server on loop (options copied). Returns 0, TN_EINVAL (no or both
 * callbacks), TN_ENOMEM. Tornado: HTTPServer(...). */
TN_EXTERN int tn_httpserver_new(tn_ioloop_t *loop, const tn_httpserver_options_t *opts,
                                tn_httpserver_t **server_out);

/** Listens on address:port (port 0 = any; read it back with
 * tn_httpserver_port). Returns 0 or a libuv/TN_E* code.
 * Tornado: HTTPServer.listen. */
TN_EXTERN int tn_httpserver_listen(tn_httpserver_t *server, int port, const char *address);

/** Bound port, or a negative code if not listening.
 * Tornado: the port in HTTPServer's sockets' getsockname(). */
TN_EXTERN int tn_httpserver_port(tn_httpserver_t *server);

/** Stops accepting; open connections continue. Idempotent.
 * Tornado: TCPServer.stop. */
TN_EXTERN void tn_httpserver_stop(tn_httpserver_t *server);

/** Graceful stop of connections: idle connections close at once; busy ones
 * close after their in-flight response finishes, or when deadline_ms elapses
 * (0 = no deadline). cb fires once, later, when no connection is left.
 * Returns 0 or TN_EALREADY. Tornado: HTTPServer.close_all_connections. */
TN_EXTERN int tn_httpserver_close_all_connections(tn_httpserver_t *server, uint64_t deadline_ms,
                                                  tn_httpserver_closed_cb cb, void *arg);

/** Serves HTTP on an already connected stream (any transport: a pipe, a
 * TLS layer, a test's in-memory one), exactly as an accepted connection;
 * the server owns the stream from now on, also on error (it is closed).
 * ip is what tn_http_request_remote_ip reports (NULL = "").
 * Returns 0, TN_ECLOSED (server stopping), TN_ENOMEM.
 * Tornado: HTTPServer.handle_stream(stream, address). */
TN_EXTERN int tn_httpserver_handle_stream(tn_httpserver_t *server, tn_iostream_t *stream,
                                          const char *ip);

/** Number of open connections.
 * Tornado: len(HTTPServer._connections). */
TN_EXTERN size_t tn_httpserver_connection_count(tn_httpserver_t *server);

/** Stops, closes every connection and frees the server; on_freed fires once,
 * later. Tornado: none (garbage collection). */
TN_EXTERN void tn_httpserver_free(tn_httpserver_t *server, tn_httpserver_freed_cb on_freed,
                                  void *arg);

/* ---- Request accessors (all borrowed, valid for the request's life) ---- */

/** Method ("GET"), with its length in *len. Tornado: HTTPServerRequest.method. */
TN_EXTERN const char *tn_http_request_method(const tn_http_request_t *req, size_t *len);
/** Request target as received. Tornado: HTTPServerRequest.uri. */
TN_EXTERN const char *tn_http_request_uri(const tn_http_request_t *req, size_t *len);
/** Path part of the uri (before '?'), not percent-decoded. Tornado: .path. */
TN_EXTERN const char *tn_http_request_path(const tn_http_request_t *req, size_t *len);
/** Query part of the uri (after '?', "" if none). Tornado: .query. */
TN_EXTERN const char *tn_http_request_query(const tn_http_request_t *req, size_t *len);
/** "HTTP/1.0" or "HTTP/1.1". Tornado: .version. */
TN_EXTERN const char *tn_http_request_version(const tn_http_request_t *req);
/** 10 or 11. Tornado: HTTPServerRequest.version as a number. */
TN_EXTERN int tn_http_request_version_number(const tn_http_request_t *req);
/** Request headers (read-only). Tornado: .headers. */
TN_EXTERN const tn_headers_t *tn_http_request_headers(const tn_http_request_t *req);
/** Whole body in simple mode (empty in delegate mode). Tornado: .body. */
TN_EXTERN const char *tn_http_request_body(const tn_http_request_t *req, size_t *len);
/** Peer IP as text (after xheaders). Tornado: .remote_ip. */
TN_EXTERN const char *tn_http_request_remote_ip(const tn_http_request_t *req);
/** "http" or "https" (after xheaders). Tornado: .protocol. */
TN_EXTERN const char *tn_http_request_protocol(const tn_http_request_t *req);
/** Host header value (after xheaders nothing changes here); "127.0.0.1"
 * when an HTTP/1.0 request has none. Tornado: HTTPServerRequest.host. */
TN_EXTERN const char *tn_http_request_host(const tn_http_request_t *req, size_t *len);
/** Query arguments plus, for a body received in simple mode, the body's
 * (application/x-www-form-urlencoded or multipart/form-data fields), parsed
 * lazily on first call; a malformed body contributes nothing (logged at
 * INFO). NULL on out of memory. Tornado: HTTPServerRequest.arguments. */
TN_EXTERN const tn_args_t *tn_http_request_arguments(tn_http_request_t *req);
/** Files uploaded as multipart/form-data (lazy, like arguments; NULL on out
 * of memory). Tornado: HTTPServerRequest.files. */
TN_EXTERN const tn_files_t *tn_http_request_files(tn_http_request_t *req);
/** Cookies from every Cookie header (lazy; NULL on out of memory).
 * Tornado: HTTPServerRequest.cookies. */
TN_EXTERN const tn_args_t *tn_http_request_cookies(tn_http_request_t *req);
/** Time the request started, loop milliseconds. Tornado: ._start_time. */
TN_EXTERN uint64_t tn_http_request_start_time_ms(const tn_http_request_t *req);
/** The server the request arrived on. Tornado: request.server_connection. */
TN_EXTERN tn_httpserver_t *tn_http_request_server(const tn_http_request_t *req);
/** The loop the request runs on. Tornado: IOLoop.current(). */
TN_EXTERN tn_ioloop_t *tn_http_request_loop(const tn_http_request_t *req);

/** Stores an application pointer on the request (NULL initially; not
 * freed by tornuv). Tornado: none (attributes on the Python object). */
TN_EXTERN void tn_http_request_set_data(tn_http_request_t *req, void *data);
/** The pointer given to tn_http_request_set_data. Tornado: none. */
TN_EXTERN void *tn_http_request_data(const tn_http_request_t *req);

/** Overrides max_body_size for this request; only from start_request or
 * headers_received. Returns 0 or TN_EINVAL (too late).
 * Tornado: HTTP1Connection.set_max_body_size. */
TN_EXTERN int tn_http_request_set_max_body_size(tn_http_request_t *req, uint64_t max_bytes);
/** Overrides the whole-body timeout for this request (counted from the end
 * of its headers; the time it spends paused does not count). Returns 0,
 * TN_EINVAL (0, or the body is already in). Tornado: set_body_timeout. */
TN_EXTERN int tn_http_request_set_body_timeout(tn_http_request_t *req, uint64_t timeout_ms);

/** Simple mode, from headers_cb only: the body goes to cb piece by piece
 * instead of being buffered (tn_http_request_body then stays empty and
 * body arguments unparsed); request_cb runs after the last piece. Returns 0
 * or TN_EINVAL (delegate mode, NULL cb, or not inside headers_cb).
 * Tornado: @stream_request_body's HTTPMessageDelegate.data_received. */
TN_EXTERN int tn_http_request_stream_body(tn_http_request_t *req, tn_http_body_cb cb, void *arg);

/** Delegate mode (and simple mode's headers_cb or streamed body): stops
 * body deliveries (reading from the socket stops too, so the peer is
 * back-pressured) until resume. Paused from headers_received or headers_cb,
 * it also holds an Expect: 100-continue answer until resume. Idempotent.
 * Tornado: the Future returned by data_received. */
TN_EXTERN void tn_http_request_pause_body(tn_http_request_t *req);
/** Resumes deliveries (sending a held 100 Continue first, unless a response
 * was started); the next data_received comes later, never inside this
 * call. Tornado: the data_received / prepare Future resolving. */
TN_EXTERN void tn_http_request_resume_body(tn_http_request_t *req);

/** cb fires once if the connection dies after the request was handed over
 * whole (simple mode's request callback, delegate mode's finish) and before
 * the response is finished; the request is dead after it returns. (Before
 * that point delegate mode reports on_connection_close instead.)
 * Tornado: RequestHandler.on_connection_close. */
TN_EXTERN void tn_http_request_set_close_callback(tn_http_request_t *req,
                                                  tn_http_request_close_cb cb, void *arg);

/** Hand-over callback of tn_http_request_detach: the connection's stream,
 * now the caller's (status 0), or NULL and TN_ECLOSED when the connection
 * closed first. */
typedef void (*tn_http_detach_cb)(tn_iostream_t *stream, int status, void *arg);

/** Takes the connection away from HTTP once this request's response is
 * finished (a 101 answering an upgrade): no further request is read from
 * it, bytes the client sent after this request stay buffered in the
 * stream, and cb (exactly once, later, from the loop) hands the stream
 * over; the server no longer counts, times out or closes it. Call on a
 * request whose body was read whole, before finishing its response.
 * Returns 0, TN_EINVAL (NULL cb, body not read yet), TN_EALREADY (called
 * twice), TN_ECLOSED (the connection is closing).
 * Tornado: HTTP1Connection.detach(). */
TN_EXTERN int tn_http_request_detach(tn_http_request_t *req, tn_http_detach_cb cb, void *arg);

/* ---- Response ---- */

/** Starts the response: status line and headers (copied; values with CR, LF
 * or NUL are rejected). reason NULL = standard phrase. headers may be NULL.
 * Content-Length in headers is enforced; without it an HTTP/1.1 response with
 * a body is chunked, an HTTP/1.0 one is delimited by closing the connection.
 * Date and Server are added unless present. The bytes are buffered and go out
 * with the first write or finish (one syscall for headers + small body).
 * Returns 0, TN_EALREADY (headers already written), TN_EINVAL (bad status or
 * header), TN_ECLOSED, TN_ENOMEM. Tornado: HTTP1Connection.write_headers. */
TN_EXTERN int tn_http_response_write_headers(tn_http_request_t *req, int status, const char *reason,
                                             const tn_headers_t *headers);

/** Writes a body chunk (copied). cb (may be NULL) fires once when flushed or
 * on close. Writes before write_headers send "200 OK" headers first. Returns
 * 0, TN_ETOOLARGE (more than the declared Content-Length; nothing written),
 * TN_EFINISHED, TN_ECLOSED, TN_ENOMEM. Body bytes for HEAD/1xx/204/304 are
 * discarded. Tornado: HTTP1Connection.write. */
TN_EXTERN int tn_http_response_write(tn_http_request_t *req, const char *data, size_t len,
                                     tn_http_write_cb cb, void *arg);

/** Like tn_http_response_write without copying data: it must stay valid
 * until release (required) runs, once, when the bytes reached the OS (0)
 * or the connection closed first (TN_ECLOSED); never inside this call.
 * Framing (headers, chunk sizes) is copied. Returns as
 * tn_http_response_write, plus TN_EINVAL (NULL release); on an error
 * return release never runs.
 * Tornado: HTTP1Connection.write of a memoryview (no copy in the stream). */
TN_EXTERN int tn_http_response_write_ref(tn_http_request_t *req, const char *data, size_t len,
                                         tn_http_write_cb release, void *arg);

/** Ends the response (terminating chunk if chunked). Finishing with fewer
 * body bytes than the declared Content-Length closes the connection. Returns
 * 0, TN_EFINISHED (twice), TN_ECLOSED. Tornado: HTTP1Connection.finish. */
TN_EXTERN int tn_http_response_finish(tn_http_request_t *req);

/** Convenience for the common case: status, optional Content-Type, body —
 * headers and body in one write, then finish. Same codes as above.
 * Tornado: write_headers + write + finish on HTTP1Connection. */
TN_EXTERN int tn_http_response_send(tn_http_request_t *req, int status, const char *content_type,
                                    const char *body, size_t len);

/** Response bytes written and not yet handed to the OS (queued on the
 * connection, shared with pipelined responses). 0 once closed.
 * Tornado: IOStream.write buffer of the request's connection. */
TN_EXTERN size_t tn_http_response_buffered(const tn_http_request_t *req);

/** Status of the response (0 before write_headers).
 * Tornado: the start line's code given to write_headers. */
TN_EXTERN int tn_http_response_status(const tn_http_request_t *req);

#ifdef __cplusplus
}
#endif

#endif
