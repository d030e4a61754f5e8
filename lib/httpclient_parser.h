/* Internal: the HTTP/1 response parser of the client. The raw scanner and
 * the field rules of lib/http1_framing (the server's), llhttp in response
 * mode, and the client's own body-length decision (RFC 9112 6.3 as the
 * issue pins it), glued into one byte-fed machine with the read_some
 * contract of the request parser: feed it the unconsumed bytes (plus
 * whatever arrived since), it returns how many it consumed; the caller keeps
 * the rest and presents them again.
 *
 * Interim (1xx) responses are parsed and handed to on_head, then the parser
 * goes on to the next head in the same feed. After the final response's
 * on_complete the parser stops at its end: bytes past it stay unconsumed
 * (the connection layer decides what they mean). Socket-free: the fuzzer and
 * the tests drive it with bytes alone. */
#ifndef TN_LIB_HTTPCLIENT_PARSER_H
#define TN_LIB_HTTPCLIENT_PARSER_H

#include <llhttp.h>

#include "http1_framing.h"
#include "http1_parser.h"

typedef struct tn__h1resp_s tn__h1resp_t;

/* Body framing of a response: TN__H1BODY_NONE / LENGTH / CHUNKED, or this
 * one (no length: the body runs to the end of the connection). */
enum { TN__H1BODY_CLOSE = 3 };

/* Most interim responses one exchange may carry before the final one. */
#define TN__H1RESP_MAX_INTERIM 32

typedef struct {
    /* Every head (interim ones too); fields, reason and the raw head are
     * valid during the call only. Return 0 or a negative code (the feed
     * fails with it). */
    int (*on_head)(tn__h1resp_t *p, void *arg);
    /* Body bytes of the final response (after de-chunking). May set
     * p->pause to stop after this span. */
    int (*on_body)(tn__h1resp_t *p, const char *data, size_t len, void *arg);
    /* The final response is complete. */
    int (*on_complete)(tn__h1resp_t *p, void *arg);
} tn__h1resp_cbs_t;

struct tn__h1resp_s {
    llhttp_t llhttp;
    tn__h1scan_t scan;
    tn__h1frame_t frame;
    const tn__h1resp_cbs_t *cbs;
    void *arg;
    size_t max_header_size; /* start line + fields + blank line, per head */
    size_t max_header_count;
    uint64_t max_body; /* raw (still encoded) body bytes; larger is TN_ETOOLARGE */
    size_t max_chunk_ext;
    tn__h1field_t *fields; /* max_header_count entries, owned */
    size_t field_count;
    size_t scanned;     /* bytes of the current head already scanned */
    const char *head;   /* the raw head, valid during on_head */
    size_t head_len;    /* including the blank line */
    const char *reason; /* valid during on_head */
    size_t reason_len;
    int code;    /* status code */
    int version; /* 10 or 11 */
    int body_kind;
    int keep_alive; /* the connection may carry another exchange after this one */
    uint64_t body_bytes;
    uint64_t chunk_left;  /* data bytes left in the current chunk */
    size_t trailer_bytes; /* trailer section so far */
    int ch_state;
    unsigned char own_chunked;
    unsigned interim; /* 1xx heads seen */
    int cb_error;
    const char *error;          /* static text for the last failure */
    unsigned char head_request; /* set by the owner: the request was HEAD */
    unsigned char phase;
    unsigned char pause; /* set by the owner from on_body */
    unsigned char llhttp_paused;
    unsigned char seen_bytes; /* any byte of a response arrived */
};

/** Initializes (allocates the field table; zero limits take the server's
 * defaults). Returns 0 or TN_ENOMEM. */
int tn__h1resp_init(tn__h1resp_t *p, size_t max_header_size, uint64_t max_body,
                    const tn__h1resp_cbs_t *cbs, void *arg);

/** Releases the field table. */
void tn__h1resp_free(tn__h1resp_t *p);

/** Prepares for the response to a new request on the same connection. */
void tn__h1resp_reset(tn__h1resp_t *p);

/** Feeds the unconsumed buffer. Returns the bytes consumed (>= 0) or a
 * negative code: TN_EHTTP (malformed; p->error says what), TN_ETOOLARGE
 * (head or body past its limit) or a callback's code. The parser is dead
 * after an error. */
long long tn__h1resp_feed(tn__h1resp_t *p, const char *data, size_t len);

/** The connection ended. Completes a body that runs to the close (0, after
 * on_complete); otherwise the response is truncated: TN_ECLOSED (p->error
 * says where). Returns 0 at once when the response was already complete. */
int tn__h1resp_eof(tn__h1resp_t *p);

/** True once the final response is complete. */
int tn__h1resp_done(const tn__h1resp_t *p);

#endif
