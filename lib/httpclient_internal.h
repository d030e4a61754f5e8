/* Internal: the HTTP client's objects, shared by lib/httpclient*.c.
 *
 * Ownership. The client owns its queue, its active fetches and its idle
 * connections. A fetch lives from tn_httpclient_fetch until its done
 * callback returned and its last producer write completed (refs). A
 * connection (hc_conn_t) lives exactly as long as its stream: it is freed in
 * the stream's close callback. A connect in progress is a small record the
 * fetch can abandon (tn_tcpclient_connect cannot be cancelled): its callback
 * closes a stream nobody wants. The client itself is freed once it was asked
 * to and no fetch, connection or connect record still points at it. */
#ifndef TN_LIB_HTTPCLIENT_INTERNAL_H
#define TN_LIB_HTTPCLIENT_INTERNAL_H

#include <zlib.h>

#include "httpclient_parser.h"
#include "loop_defer.h"
#include "tornuv/httpclient.h"
#include "tornuv/iostream.h"

/* A parsed absolute http(s) URL; every string points into buf. */
typedef struct {
    char *buf;
    int https;
    const char *host; /* without brackets */
    int port;
    int ipv6;           /* host is an IPv6 literal */
    int default_port;   /* no port in the URL, or the scheme's own */
    const char *target; /* path and query, at least "/" */
    const char *user;   /* decoded userinfo, or NULL */
    const char *password;
} tn__hcurl_t;

/** Parses an absolute http:// or https:// URL (fragment dropped). Returns 0,
 * TN_EINVAL (malformed, another scheme: *other_scheme is then set when it was
 * merely another scheme) or TN_ENOMEM. */
int tn__hcurl_parse(tn__hcurl_t *u, const char *url, int *other_scheme);
void tn__hcurl_free(tn__hcurl_t *u);
/** Resolves ref against the absolute base (RFC 3986 5.2, dot segments
 * removed); *out (tn_free) is an absolute URL. Returns 0, TN_EINVAL or
 * TN_ENOMEM. */
int tn__hcurl_resolve(const char *base, const char *ref, size_t ref_len, char **out);
/** Writes "http://host:port" (the origin, scheme and port always explicit)
 * into out; returns the length or TN_EINVAL when it does not fit. */
int tn__hcurl_origin(const tn__hcurl_t *u, char *out, size_t cap);

typedef struct hc_conn_s hc_conn_t;
typedef struct hc_connect_s hc_connect_t;

struct hc_conn_s {
    tn_httpclient_t *client;
    tn_iostream_t *stream;
    hc_conn_t *prev, *next; /* the client's idle list */
    tn_fetch_t *fetch;      /* the exchange it carries, NULL when idle */
    tn_timeout_id idle_timer;
    char origin[320]; /* the fetch's pool_key */
    unsigned char idle;
    unsigned char closing;
};

struct hc_connect_s {
    tn_httpclient_t *client; /* NULL once the client is gone */
    tn_fetch_t *fetch;       /* NULL once abandoned */
    hc_connect_t *prev, *next;
};

enum { F_QUEUED = 0, F_CONNECTING, F_ACTIVE, F_FINISHED };

struct tn_fetch_s {
    tn_httpclient_t *client;
    tn_fetch_t *prev, *next; /* the client's queue or active list */
    unsigned char state;
    unsigned char in_queue, in_active;

    /* The request as it stands for the current hop. */
    tn_fetch_options_t o; /* copied; strings below */
    char *method;
    char *user_agent, *auth_user, *auth_pass;
    tn_headers_t *req_headers;
    char *body; /* owned when body_owned (a copy) */
    size_t body_len;
    int body_owned;
    int has_body;
    char *url; /* current URL */
    tn__hcurl_t u;
    char origin[300];      /* scheme://host:port */
    char pool_key[320];    /* origin, plus the TLS setting for https */
    tn_tls_context_t *tls; /* the client's (https), not owned */
    int redirects_left;
    tn_fetch_done_cb done;
    void *done_arg;

    /* The exchange in progress. */
    hc_conn_t *conn;
    hc_connect_t *connecting;
    tn__h1resp_t parser;
    int retried;       /* a dead pooled connection was already replaced */
    int reused;        /* this exchange runs on a pooled connection */
    int following;     /* the response is a redirect that will be followed */
    int waiting_100;   /* the body waits for 100 Continue */
    int body_unsent;   /* a final response came before the body went out */
    int producer_open; /* the producer has not ended its body */
    int chunked_up;    /* the producer's body is sent chunked */
    uint64_t up_len, up_sent;
    int paused;
    int eof_pending; /* the connection ended while paused */
    int close_cause; /* why, when the close callback saw it */
    int resume_scheduled;
    tn__qnode_t resume_node;
    int response_done;
    z_stream *zs;
    char *gz_pending; /* compressed input left when a pause stopped inflating */
    size_t gz_pending_len;
    int gz_done;
    tn_timeout_id timer;
    const char *timer_msg;

    /* The result. */
    int status;
    int code;
    char *reason;
    tn_headers_t *headers;
    char *rbody;
    size_t rbody_len, rbody_cap;
    uint64_t decoded;
    uint64_t max_body;
    int64_t expected;
    char errmsg[200];

    /* Timing (loop milliseconds). */
    uint64_t t_start, t_queued, queue_ms, t_connect, connect_ms, first_byte_ms, total_ms;
    int redirects;
    int final_reused;

    tn__qnode_t done_node;
    int refs; /* the done callback and each producer write in flight */
};

struct tn_httpclient_s {
    tn_ioloop_t *loop;
    tn_httpclient_options_t o;
    tn_fetch_options_t defaults;
    int has_defaults;
    tn_fetch_t *queue_head, *queue_tail;
    tn_fetch_t *active;
    size_t nactive;
    hc_conn_t *idle;
    size_t nidle;
    hc_connect_t *connects;
    struct hc_tls_s *tls; /* client contexts, one per distinct TLS setting */
    size_t nconns, nconnects, nfetches;
    tn__qnode_t pump_node;
    int pump_scheduled;
    int freeing;
    tn__qnode_t freed_node;
    void (*on_freed)(void *arg);
    void *freed_arg;
};

/* httpclient.c */
void tn__hc_finish(tn_fetch_t *f, int status, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void tn__hc_schedule_pump(tn_httpclient_t *c);
void tn__hc_maybe_free(tn_httpclient_t *c);
void tn__hc_arm(tn_fetch_t *f, uint64_t deadline_ms, const char *msg);
void tn__hc_requeue(tn_fetch_t *f);
void tn__hc_fetch_unref(tn_fetch_t *f);
void tn__hc_connect_link(tn_httpclient_t *c, hc_connect_t *pc);
void tn__hc_connect_unlink(tn_httpclient_t *c, hc_connect_t *pc);

/* httpclient_request.c */
int tn__hc_prepare(tn_fetch_t *f, const char *url, const tn_fetch_options_t *o,
                   const tn_fetch_options_t *defaults);
void tn__hc_release_request(tn_fetch_t *f);
/** Builds the request head for the current hop into *out (tn_free). */
int tn__hc_build_head(tn_fetch_t *f, int keep_alive, char **out, size_t *len);
/** After a followed redirect's head: rewrites f for the next hop. Returns 0
 * or a code to finish with (the message is set). */
int tn__hc_redirect(tn_fetch_t *f, const char *location, size_t loc_len);
/** Whether a retry on a fresh connection may repeat this request. */
int tn__hc_idempotent(const tn_fetch_t *f);

/* httpclient_tls.c */
/** Picks (building it once) the client context for f's TLS options and
 * appends its identity to f->origin. Returns 0, TN_ENOTSUP, TN_ETLSCONFIG or
 * TN_ENOMEM (f->errmsg says so); f->pool_key names the setting. */
int tn__hc_tls_select(tn_fetch_t *f);
void tn__hc_tls_free_all(tn_httpclient_t *c);

/* httpclient_conn.c */
void tn__hc_start_exchange(tn_fetch_t *f);
void tn__hc_detach_conn(tn_fetch_t *f, int keep);
void tn__hc_close_idle(tn_httpclient_t *c);
int tn__hc_resume(tn_fetch_t *f);

/* httpclient_body.c */
int tn__hc_body_begin(tn_fetch_t *f);
int tn__hc_body_data(tn_fetch_t *f, const char *data, size_t len);
int tn__hc_body_end(tn_fetch_t *f);
int tn__hc_body_resume(tn_fetch_t *f);
void tn__hc_body_reset(tn_fetch_t *f);

#endif
