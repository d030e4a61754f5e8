/* HTTP/1 request parser: the strict raw scanner, llhttp and the framing rules
 * glued into one incremental machine with the read_some contract: feed it the
 * unconsumed bytes (plus whatever arrived since), it returns how many it
 * consumed; the caller keeps the rest buffered and presents them again.
 *
 * The header section is parsed only once it is complete in the buffer, in a
 * single llhttp_execute, so every field span handed out points into the
 * caller's buffer contiguously: no copy, no per-request allocation. Spans are
 * valid during on_headers only. After on_complete the parser stops at the end
 * of the message (pipelined bytes stay unconsumed) until tn__h1parser_next.
 */
#ifndef TN_HTTP1_PARSER_H
#define TN_HTTP1_PARSER_H

#include <llhttp.h>

#include "http1_framing.h"

typedef struct tn__h1parser_s tn__h1parser_t;

typedef struct {
    const char *name;
    size_t name_len;
    const char *value; /* without leading/trailing whitespace */
    size_t value_len;
} tn__h1field_t;

/* Sets a field's value to [at, at+len) without its leading and trailing
 * spaces and tabs (the optional whitespace of RFC 9110 5.5); requests and
 * responses share it. */
void tn__h1field_set_value(tn__h1field_t *f, const char *at, size_t len);

typedef struct {
    /* Return 0 to continue, negative to stop (the feed returns that code). */
    int (*on_headers)(tn__h1parser_t *p, void *arg);
    int (*on_body)(tn__h1parser_t *p, const char *data, size_t len, void *arg);
    int (*on_complete)(tn__h1parser_t *p, void *arg);
} tn__h1parser_cbs_t;

typedef struct {
    size_t max_header_size;
    size_t max_header_count;
    uint64_t max_body_size;
    size_t max_chunk_ext_size;
} tn__h1parser_limits_t;

struct tn__h1parser_s {
    llhttp_t llhttp;
    tn__h1scan_t scan;
    tn__h1frame_t frame;
    tn__h1parser_limits_t limits;
    const tn__h1parser_cbs_t *cbs;
    void *arg;
    size_t scanned;        /* bytes of the current buffer already scanned */
    size_t field_count;    /* fields filled in */
    tn__h1field_t *fields; /* max_header_count entries, owned */
    /* Start line, valid during on_headers. */
    const char *method;
    size_t method_len;
    const char *url;
    size_t url_len;
    tn__h1target_t target; /* the target's form and authority (absolute-form) */
    int version;           /* 10 or 11 */
    int body_kind;
    int keep_alive;
    uint64_t max_body; /* for this request; settable from on_headers */
    uint64_t body_bytes;
    /* The body is framed here, not by llhttp: llhttp parses the head only. */
    tn__h1chunk_t chunk; /* the chunk-size line being read */
    uint64_t data_left;  /* bytes left of the Content-Length body or chunk */
    int status;          /* HTTP status to answer with on error (400/405/413/431) */
    int cb_error;        /* code returned by a callback */
    unsigned char phase;
    unsigned char body_state;
    unsigned char owns_fields;
    /* Set by the owner (e.g. from on_body) to stop feeding body bytes after
     * the current span; feeds return 0 while set. */
    unsigned char pause;
};

/** Initializes (allocates the field table). Returns 0 or TN_ENOMEM. */
int tn__h1parser_init(tn__h1parser_t *p, const tn__h1parser_limits_t *limits,
                      const tn__h1parser_cbs_t *cbs, void *arg);
/** Like init with a caller-owned field table of limits->max_header_count
 * entries (fields NULL = allocate one). A table may be shared by every
 * parser of a thread: fields are only used during one feed call. */
int tn__h1parser_init_shared(tn__h1parser_t *p, const tn__h1parser_limits_t *limits,
                             const tn__h1parser_cbs_t *cbs, void *arg, tn__h1field_t *fields);
/** Releases the field table if owned. */
void tn__h1parser_free(tn__h1parser_t *p);

/** Feeds the unconsumed buffer. Returns the bytes consumed (>= 0), or a
 * negative code: TN_EHTTP (p->status 400, or 405 for a well-formed CONNECT,
 * which tornuv does not serve), TN_ETOOLARGE (p->status 431 for the head or
 * the trailers, 413 for the body, as soon as a Content-Length or a chunk
 * size says it will not fit), or a callback's own negative code (p->status
 * 0). After an error the parser is dead. */
long long tn__h1parser_feed(tn__h1parser_t *p, const char *data, size_t len);

/** After on_complete: prepares for the next pipelined request. */
void tn__h1parser_next(tn__h1parser_t *p);

/** True between on_complete and tn__h1parser_next. */
int tn__h1parser_done(const tn__h1parser_t *p);

#endif
