/* Internal pieces of HTTPServer / HTTP1Connection shared between its files:
 *   httpserver.c          the server object (options, listen, close_all, free);
 *   httpserver_conn.c     the connection state machine and the parser callbacks;
 *   httpserver_request.c  the request object, its accessors and xheaders;
 *   httpserver_response.c the response writer and the output cork;
 *   httpserver_body.c     request body delivery and gzip decoding.
 * Nothing here is public API. */
#ifndef TN_LIB_HTTPSERVER_INTERNAL_H
#define TN_LIB_HTTPSERVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "http1_parser.h"
#include "http1_response.h"
#include "httpserver_tcp.h"
#include "tornuv/httpserver.h"
#include "tornuv/iostream.h"
#include "tornuv/tcpserver.h"

/* Connection states; httpserver_conn.c describes each. */
enum { ST_HEAD, ST_BODY, ST_APP, ST_DRAIN, ST_LINGER };

#define TN_HTTP_DEFAULT_MAX_WRITE_BUFFER ((size_t)64 * 1024)
#define TN_HTTP_SERVER_NAME "TornadoServer/tornuv"
#define HEAD_BUF_MIN 512
#define HEAD_BUF_MAX ((size_t)1 << 20)

struct z_stream_s;
typedef struct conn_s conn_t;

struct tn_http_request_s {
    conn_t *conn;
    /* Start line, copied: method NUL uri NUL. */
    char *line;
    size_t line_cap, method_len, uri_len;
    tn_strview_t path, query;
    int version;
    tn_headers_t *headers;
    const char *host;
    size_t host_len;
    char remote_ip[64];
    const char *protocol;
    /* Simple mode body. */
    char *body;
    size_t body_len, body_cap;
    tn_args_t *args, *cookies;
    tn_files_t *files;
    unsigned char args_done, cookies_done;
    uint64_t start_ms, start_us;
    void *data;
    uint64_t max_body;
    uint64_t body_timeout_ms;
    tn_http_request_close_cb close_cb;
    void *close_arg;
    /* Lifecycle. */
    unsigned char active;    /* between start and end */
    unsigned char received;  /* whole request read */
    unsigned char delivered; /* finish / request_cb called */
    unsigned char ended;     /* on_connection_close called */
    unsigned char paused;
    unsigned char is_head;
    unsigned char keep_alive;
    /* Response. */
    int status;
    tn__h1resp_t resp;
    unsigned char headers_written, finished;
    size_t head_len; /* serialized head not yet sent, in conn->head */
    uint64_t body_sent;
    /* gzip request bodies */
    struct z_stream_s *zs;
    /* simple mode streaming (tn_http_request_stream_body) */
    tn_http_body_cb body_cb;
    void *body_arg;
    unsigned char in_headers_cb;
    unsigned char continue_held; /* 100 Continue waits for resume_body */
};

struct conn_s {
    tn_httpserver_t *server;
    tn_iostream_t *stream;
    conn_t *prev, *next;
    tn__h1parser_t parser;
    tn_http_request_t req;
    char ip[64];
    char *head;
    size_t head_cap;
    uint64_t deadline, timer_at;
    tn_timeout_id timer;
    /* The body being read: when it started, its whole-body deadline (0 =
     * none) and when the application paused it. */
    uint64_t body_start, body_deadline, paused_at;
    /* The write timeout: bytes ever handed to the stream, how many of them
     * had left tornuv at the last look, and when that last changed. */
    uint64_t out_queued, out_gone, out_moved_at;
    tn_timeout_id wtimer;
    uint32_t requests;
    unsigned char state;
    unsigned char read_armed;
    unsigned char in_batch;
    unsigned char closing;     /* the stream was asked to close */
    unsigned char fatal;       /* stop processing input at once */
    unsigned char hdr_started; /* bytes of the next request arrived */
    tn_headers_t *scratch;     /* tn_http_response_send's headers */
    /* tn_http_request_detach: the stream goes to detach_cb once the
     * response is finished (handover queued: detaching). */
    tn_http_detach_cb detach_cb;
    void *detach_arg;
    unsigned char detaching;
};

struct tn_httpserver_s {
    tn_ioloop_t *loop;
    tn_tcpserver_t *tcp;
    tn_httpserver_options_t opts;
    tn_http_delegate_t delegate;
    char *server_header;
    char **trusted;
    size_t ntrusted;
    tn__h1field_t *fields;
    tn__h1parser_limits_t limits;
    /* Responses produced during one connection's read batch, written with
     * one call when the batch ends. Batches never overlap (each runs inside
     * one delivery), so one buffer serves every connection: an idle
     * connection holds no output memory. */
    char *cork;
    size_t cork_len, cork_cap;
    conn_t *cork_conn;
    conn_t *conns;
    size_t nconns;
    char date[TN_HTTP_DATE_LEN];
    uint64_t date_sec;
    /* close_all_connections */
    tn_httpserver_closed_cb closed_cb;
    void *closed_arg;
    unsigned char closing_all, closed_pending;
    tn_timeout_id close_deadline;
    /* free */
    tn_httpserver_freed_cb freed_cb;
    void *freed_arg;
    unsigned char freeing, tcp_freed;
};

/* ---- httpserver.c ---- */
/** The Date header value, formatted at most once a second (NULL if the
 * clock cannot be formatted). */
const char *tn__hsrv_date(tn_httpserver_t *srv);
/** Ends tn_httpserver_free once the TCP server and every connection are gone. */
void tn__hsrv_maybe_finish_free(tn_httpserver_t *srv);

/* ---- httpserver_conn.c ---- */
/** TCPServer's handle_stream: a new connection starts in HEAD. */
void tn__hconn_on_stream(tn_tcpserver_t *tcp, tn_iostream_t *stream, const char *ip, int port,
                         void *arg);
/** Arms one read of the connection's stream (no-op if armed or closing). */
void tn__hconn_arm_read(conn_t *c);
/** Closes the connection at once (idempotent). */
void tn__hconn_close(conn_t *c);
/** Request and response are both complete: on to the next request. */
void tn__hconn_advance(conn_t *c);
/** Graceful end: flush, FIN, drop input until the peer closes or a bound. */
void tn__hconn_linger(conn_t *c);
/** Moves the connection's deadline to now + ms (lazy timer). */
void tn__hconn_set_deadline(conn_t *c, uint64_t ms);
/** Clears the connection's deadline; an armed timer finds nothing to do. */
void tn__hconn_clear_deadline(conn_t *c);
/** While a body is read: the deadline is the earlier of the whole-body one
 * and idle_timeout_ms from now (a body may not stall longer). */
void tn__hconn_arm_body_deadline(conn_t *c);
/** After bytes were handed to the stream: n more were queued; starts the
 * write-timeout watch while some of them wait in tornuv. */
void tn__hconn_watch_output(conn_t *c, size_t n);

/* ---- httpserver_response.c (output) ---- */
/** Sends bufs: corked while a batch runs (no callback), else written now. */
int tn__hconn_send(conn_t *c, const tn_buf_t *bufs, size_t n, tn_write_cb cb, void *arg);
/** Bytes corked for c so far. */
size_t tn__hconn_corked(const conn_t *c);
/** Writes out what is corked for c (nothing if c is closing). */
int tn__hconn_flush_cork(conn_t *c);

/* ---- httpserver_request.c ---- */
/** Clears r for the next request, keeping its reusable buffers. */
void tn__hreq_reset(tn_http_request_t *r);
/** Frees everything r owns (r itself lives in its connection). */
void tn__hreq_free(tn_http_request_t *r);
/** The request dies with its connection: tell the application once. */
void tn__hreq_abandon(conn_t *c);
/** Applies Tornado's xheaders rules to r's remote_ip and protocol. */
void tn__hreq_apply_xheaders(tn_http_request_t *r, const tn_httpserver_t *srv);

/* ---- httpserver_body.c ---- */
/** Hands len body bytes to the delegate or appends them to the simple-mode
 * body. 0, TN_ENOMEM or the delegate's error. */
int tn__hbody_deliver(conn_t *c, const char *data, size_t len);
/** Inflates gzip body bytes and delivers the output; final marks the end
 * of the body. 0, TN_EHTTP (bad or truncated stream), TN_ETOOLARGE. */
int tn__hbody_inflate(conn_t *c, const char *data, size_t len, int final);
/** Starts gzip decoding of r's body and renames Content-Encoding to
 * X-Consumed-Content-Encoding, as Tornado does. 0 or TN_ENOMEM. */
int tn__hbody_gzip_start(tn_http_request_t *r);
/** Releases r's gzip decoder, if any. */
void tn__hbody_gzip_end(tn_http_request_t *r);

#endif
