/* HTTP/1 framing rules tornuv enforces itself, whatever llhttp version parses.
 *
 * Two pure pieces, fed by the connection and testable with bytes alone:
 * - tn__h1scan: a one-pass scanner over the raw bytes of the start line and
 *   header section. llhttp's callbacks never show line endings or the bytes
 *   between tokens, so bare CR / bare LF, obs-fold, whitespace before the
 *   colon, control characters and the size/count limits are judged here, on
 *   the wire bytes, before llhttp sees them.
 * - tn__h1frame: the message-length decision from the header fields
 *   (Content-Length / Transfer-Encoding / Host), stricter than Tornado.
 */
#ifndef TN_HTTP1_FRAMING_H
#define TN_HTTP1_FRAMING_H

#include "tornuv/common.h"

/* Results of the scanner and the framer. Errors are negative TN_E* codes:
 * TN_EHTTP means 400 Bad Request, TN_ETOOLARGE means 431 (headers). */
enum { TN__H1SCAN_MORE = 0, TN__H1SCAN_DONE = 1 };

typedef struct {
    size_t max_bytes; /* cap on start line + headers + final CRLF */
    size_t max_count; /* cap on header fields */
    size_t bytes;     /* raw bytes consumed so far */
    size_t count;     /* header fields seen so far */
    unsigned char state;
} tn__h1scan_t;

/** Resets for a new message with the given limits (0 = defaults). */
void tn__h1scan_init(tn__h1scan_t *s, size_t max_bytes, size_t max_count);

/** Scans len bytes. Returns TN__H1SCAN_MORE (all consumed, headers not
 * complete), TN__H1SCAN_DONE (*consumed = bytes up to and including the blank
 * line's LF), TN_EHTTP or TN_ETOOLARGE. */
int tn__h1scan_feed(tn__h1scan_t *s, const char *data, size_t len, size_t *consumed);

typedef enum {
    TN__H1BODY_NONE = 0,    /* no body (no CL, no TE) */
    TN__H1BODY_LENGTH = 1,  /* Content-Length bytes */
    TN__H1BODY_CHUNKED = 2, /* Transfer-Encoding: chunked */
} tn__h1body_t;

typedef struct {
    uint64_t content_length;
    unsigned char seen_cl;
    unsigned char seen_te;
    unsigned char te_chunked;
    unsigned char host_count;
    unsigned char expect_continue;
    unsigned char conn_close;
    unsigned char conn_keep_alive;
    unsigned char gzip;
} tn__h1frame_t;

/** Resets for a new message. */
void tn__h1frame_init(tn__h1frame_t *f);

/** Considers one header field (name and value as received, value without
 * surrounding whitespace). Returns 0 or TN_EHTTP. */
int tn__h1frame_field(tn__h1frame_t *f, const char *name, size_t name_len, const char *value,
                      size_t value_len);

/** Decides the body framing once all fields are in. version is 10 or 11
 * (anything else is TN_EHTTP). Returns a tn__h1body_t or TN_EHTTP. */
int tn__h1frame_decide(const tn__h1frame_t *f, int version);

/** Tornado's keep-alive decision for a request (no_keep_alive aside):
 * HTTP/1.1 unless Connection: close; HTTP/1.0 only with Connection:
 * keep-alive and a known body length (a body framing, or GET/HEAD). */
int tn__h1frame_keep_alive(const tn__h1frame_t *f, int version, int body_kind, int get_or_head);

/** Parses a chunk-size line body (hex digits, then optional ";ext" up to
 * max_ext bytes), as it appears before CRLF. Returns 0 with *size set, or
 * TN_EHTTP (empty, non-hex, overflow past 2^63, whitespace, ext too long). */
int tn__h1_chunk_size(const char *line, size_t len, size_t max_ext, uint64_t *size);

/** Case-insensitive ASCII comparison of a token with a literal. */
int tn__h1_token_eq(const char *s, size_t len, const char *lit);

#endif
