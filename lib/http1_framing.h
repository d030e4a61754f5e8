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

/* Empty lines (CRLF) ignored before a request line (RFC 9112 2.2 lets a
 * server ignore "at least one"); one more, or an empty request line, is 400. */
#define TN__H1_MAX_EMPTY_LINES 1

typedef struct {
    size_t max_bytes;  /* cap on start line + headers + final CRLF (+ trailers) */
    size_t max_count;  /* cap on header fields (+ trailer fields) */
    size_t bytes;      /* raw bytes consumed so far */
    size_t count;      /* header fields seen so far */
    size_t line_start; /* offset of the request line, after ignored empty lines */
    unsigned char state;
    unsigned char empty_lines; /* empty lines ignored so far */
} tn__h1scan_t;

/** Resets for a new message with the given limits (0 = defaults). */
void tn__h1scan_init(tn__h1scan_t *s, size_t max_bytes, size_t max_count);

/** Continues a scanner that finished a header section over a trailer
 * section (the bytes after a last-chunk line): the same field-line rules,
 * and the head's bytes and field count still count against max_bytes and
 * max_count, so head + trailers together stay within the header limits.
 * Feed it as before; TN__H1SCAN_DONE comes after the final CRLF. */
void tn__h1scan_trailer(tn__h1scan_t *s);

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
 * surrounding whitespace). Returns 0 or TN_EHTTP (a bad Content-Length or
 * Transfer-Encoding, a Host value that is not tn__h1_host_ok). */
int tn__h1frame_field(tn__h1frame_t *f, const char *name, size_t name_len, const char *value,
                      size_t value_len);

/** Decides the body framing once all fields are in. version is 10 or 11
 * (anything else is TN_EHTTP). Returns a tn__h1body_t or TN_EHTTP. */
int tn__h1frame_decide(const tn__h1frame_t *f, int version);

/** Tornado's keep-alive decision for a request (no_keep_alive aside):
 * HTTP/1.1 unless Connection: close; HTTP/1.0 only with Connection:
 * keep-alive and a known body length (a body framing, or GET/HEAD). */
int tn__h1frame_keep_alive(const tn__h1frame_t *f, int version, int body_kind, int get_or_head);

/* Incremental chunk-size line scanner (RFC 9112 7.1): 1*16HEXDIG, then
 * chunk extensions by the 7.1.1 grammar (BWS ";" BWS token [BWS "=" BWS
 * (token / quoted-string)]), then CRLF. Every byte after the digits up to
 * the CR counts against max_ext. A CR not followed by LF, a bare LF, a
 * control byte, whitespace anywhere else, more than 16 hex digits: TN_EHTTP.
 * The verdict does not depend on how the line is split between feeds. */
typedef struct {
    uint64_t size;  /* the chunk size, once done */
    size_t digits;  /* hex digits seen */
    size_t ext;     /* extension bytes seen */
    size_t max_ext; /* cap on ext */
    unsigned char state;
} tn__h1chunk_t;

/** Resets for a new chunk-size line (max_ext 0 = the default). */
void tn__h1chunk_init(tn__h1chunk_t *c, size_t max_ext);

/** Scans len bytes. TN__H1SCAN_MORE (all consumed), TN__H1SCAN_DONE
 * (*consumed = bytes up to and including the LF; c->size is the size), or
 * TN_EHTTP. */
int tn__h1chunk_feed(tn__h1chunk_t *c, const char *data, size_t len, size_t *consumed);

/** Parses a chunk-size line body (hex digits, then optional extensions by
 * the grammar above, up to max_ext bytes), as it appears before CRLF.
 * Returns 0 with *size set, or TN_EHTTP (empty, non-hex, a size past 2^63,
 * whitespace outside the extension grammar, a CR or LF, ext too long). */
int tn__h1_chunk_size(const char *line, size_t len, size_t max_ext, uint64_t *size);

/* Request-target forms (RFC 9112 3.2). */
typedef enum {
    TN__H1TARGET_ORIGIN = 1,    /* "/path?query" */
    TN__H1TARGET_ABSOLUTE = 2,  /* "http://authority/path?query" */
    TN__H1TARGET_AUTHORITY = 3, /* "host:port", CONNECT only */
    TN__H1TARGET_ASTERISK = 4,  /* "*", OPTIONS only */
} tn__h1target_form_t;

typedef struct {
    int form;              /* tn__h1target_form_t */
    const char *authority; /* absolute-form and authority-form: the host[:port] */
    size_t authority_len;
} tn__h1target_t;

/** Judges a request target for its method: only visible ASCII (0x21-0x7E);
 * origin-form, or absolute-form with an http/https scheme and a valid
 * non-empty authority (tn__h1_host_ok, no userinfo); asterisk-form only
 * with OPTIONS; authority-form (host:port) only with CONNECT; no encoded
 * NUL (%00) in the path. Returns the form (t filled in) or TN_EHTTP. */
int tn__h1_target(const char *method, size_t method_len, const char *url, size_t url_len,
                  tn__h1target_t *t);

/** True if s is a valid Host value: uri-host [ ":" port ] (RFC 3986: a
 * reg-name of unreserved / pct-encoded / sub-delims, an IPv4 address, or an
 * IP-literal "[IPv6]"), port digits only, no whitespace, no userinfo. The
 * empty value is valid (RFC 9110 7.2); a port without a host is not. */
int tn__h1_host_ok(const char *s, size_t n);

/** True if s is a dotted-quad IPv4 address. */
int tn__h1_is_ipv4(const char *s, size_t n);

/** True if s is an IPv6 address in text form (hex groups, at most one
 * "::", an optional dotted IPv4 tail). */
int tn__h1_is_ipv6(const char *s, size_t n);

/** The value of a hex digit, or -1. */
int tn__h1_hexval(unsigned char c);

/** Case-insensitive ASCII comparison of a token with a literal. */
int tn__h1_token_eq(const char *s, size_t len, const char *lit);

#endif
