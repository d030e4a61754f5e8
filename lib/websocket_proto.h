/* Internal: the WebSocket protocol core (RFC 6455, RFC 7692), byte-fed and
 * socket-free so it can be fuzzed and tested at every byte split.
 *
 *   websocket_utf8.c     incremental UTF-8 validation (table DFA, ASCII words)
 *   websocket_frame.c    masking, frame headers, the frame parser and sender
 *   websocket_deflate.c  permessage-deflate: negotiation and the zlib streams
 *   websocket_handshake.c  Sec-WebSocket-Key/Accept, token lists, the client's
 *                   view of a 101 response and the server's of an upgrade
 *
 * The connection (websocket_conn.c) owns one tn__ws_t per WebSocket and moves
 * bytes between it and an IOStream. */
#ifndef TN_LIB_WEBSOCKET_PROTO_H
#define TN_LIB_WEBSOCKET_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "tornuv/httputil.h"

/* ---- UTF-8 ---------------------------------------------------------------- */

#define TN__UTF8_ACCEPT 0
#define TN__UTF8_REJECT 8

/** Advances the validator state over len bytes; returns the new state:
 * TN__UTF8_ACCEPT at a character boundary, TN__UTF8_REJECT as soon as a
 * byte makes the input invalid (it stays there), anything else inside a
 * character. Overlongs, surrogates and code points above U+10FFFF are
 * invalid. */
unsigned tn__utf8_step(unsigned state, const uint8_t *p, size_t len);

/** Nonzero when the len bytes are complete, valid UTF-8. */
int tn__utf8_valid(const void *p, size_t len);

/* ---- masking and frame headers --------------------------------------------- */

/** XORs n bytes of src into dst with key, starting at key byte phase
 * (0..3); dst may equal src. Word at a time. Returns the phase after. */
unsigned tn__ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                     unsigned phase);

#define TN__WS_OP_CONT 0x0
#define TN__WS_OP_TEXT 0x1
#define TN__WS_OP_BINARY 0x2
#define TN__WS_OP_CLOSE 0x8
#define TN__WS_OP_PING 0x9
#define TN__WS_OP_PONG 0xA

#define TN__WS_MAX_HEADER 14

/** Writes a frame header with the minimal length encoding (mask NULL: none)
 * into hdr; returns its size. */
size_t tn__ws_frame_header(uint8_t hdr[TN__WS_MAX_HEADER], int fin, int rsv1, int opcode,
                           uint64_t len, const uint8_t *mask);

/** Nonzero for a close code an endpoint may send or receive in a Close
 * frame: 1000-1003, 1007-1011, 3000-4999. */
int tn__ws_close_code_valid(int code);

/* ---- permessage-deflate ---------------------------------------------------- */

/** What both ends agreed on (RFC 7692 section 7). Window bits 0 mean 15. */
typedef struct {
    int enabled;
    int server_no_context_takeover;
    int client_no_context_takeover;
    int server_max_window_bits;
    int client_max_window_bits;
} tn__ws_pmd_t;

/** Local settings for our compressor. */
typedef struct {
    int level;           /* zlib level 0..9; -1 = zlib's default */
    int mem_level;       /* 1..9 */
    int max_window_bits; /* 9..15: our compressor's window */
    int no_context_takeover;
} tn__ws_zopts_t;

/** Server side: picks the first acceptable permessage-deflate offer in a
 * Sec-WebSocket-Extensions value (several headers joined with ", "), honours
 * its requests and adds our own limits. On success fills agreed and writes
 * the response extension (NUL-terminated) into resp; returns 1 when an offer
 * was accepted, 0 when none (compression stays off), TN_EBUFFULL. */
int tn__ws_pmd_accept(const char *offers, size_t len, const tn__ws_zopts_t *zo,
                      tn__ws_pmd_t *agreed, char *resp, size_t cap);

/** Client side: writes our offer (NUL-terminated). Returns its length or
 * TN_EBUFFULL. */
int tn__ws_pmd_offer(const tn__ws_zopts_t *zo, char *out, size_t cap);

/** Client side: checks the server's Sec-WebSocket-Extensions answer to our
 * offer. Returns 0 (agreed filled; enabled 0 when the value is empty) or
 * TN_EHTTP (an extension we did not offer, a bad or repeated parameter). */
int tn__ws_pmd_parse_response(const char *value, size_t len, const tn__ws_zopts_t *zo,
                              tn__ws_pmd_t *agreed);

typedef struct tn__ws_zlib_s tn__ws_zlib_t;

/** Creates the compressor and decompressor for an agreed extension, from
 * the point of view of role (1 = server). Returns 0 or TN_ENOMEM. */
int tn__ws_zlib_new(const tn__ws_pmd_t *agreed, const tn__ws_zopts_t *zo, int server,
                    tn__ws_zlib_t **out);
void tn__ws_zlib_free(tn__ws_zlib_t *z);

/** Compresses one whole message into *out (tn_malloc'ed, the caller frees)
 * with the trailing 00 00 FF FF removed. Returns 0 or TN_ENOMEM. */
int tn__ws_zlib_compress(tn__ws_zlib_t *z, const void *data, size_t len, uint8_t **out,
                         size_t *out_len);

/** Output sink of the decompressor: appends n inflated bytes; returns 0 or a
 * negative code that stops inflation. */
typedef int (*tn__ws_sink_fn)(void *arg, const uint8_t *p, size_t n);

/** Inflates one frame's payload bytes (len may be 0) and, with last, the
 * message tail; output goes to sink in bounded pieces, so memory is bounded
 * by what the sink accepts. Returns 0, the sink's code, or TN_EHTTP for a
 * corrupt stream. */
int tn__ws_zlib_inflate(tn__ws_zlib_t *z, const uint8_t *p, size_t len, int last,
                        tn__ws_sink_fn sink, void *arg);

/* ---- the frame machine ----------------------------------------------------- */

typedef struct tn__ws_s tn__ws_t;

/** Event hooks. All run from inside tn__ws_feed (send from inside tn__ws_send_*
 * and from feed for automatic pongs and close replies); payloads are
 * borrowed for the call. A hook may call tn__ws_send_* but must not free
 * the machine. */
typedef struct {
    /** Bytes to transmit: a frame header and its payload. Returns 0 or an
     * error (which the sending call returns). */
    int (*send)(void *arg, const uint8_t *hdr, size_t hlen, const uint8_t *payload, size_t plen);
    /** A complete message (opcode TEXT, already validated, or BINARY). */
    void (*message)(void *arg, int opcode, const char *data, size_t len);
    void (*ping)(void *arg, const char *data, size_t len);
    void (*pong)(void *arg, const char *data, size_t len);
    /** The peer's Close: code 1005 when it carried none. */
    void (*close)(void *arg, int code, const char *reason, size_t len);
} tn__ws_events_t;

typedef struct {
    int server;              /* 1: we are the server (expect masked input) */
    uint64_t max_message;    /* whole message after inflation; 0 = 10 MiB */
    const tn__ws_pmd_t *pmd; /* agreed extension or NULL */
    const tn__ws_zopts_t *zopts;
} tn__ws_config_t;

#define TN__WS_DEFAULT_MAX_MESSAGE ((uint64_t)10 * 1024 * 1024)

/** Creates a machine. Returns 0, TN_EINVAL or TN_ENOMEM. */
int tn__ws_new(const tn__ws_config_t *cfg, const tn__ws_events_t *ev, void *arg, tn__ws_t **out);
void tn__ws_free(tn__ws_t *w);

/** Feeds received bytes. Returns 0 (keep reading), TN__WS_CLOSED once the
 * peer's Close was read (later bytes are ignored), or a negative code when
 * the connection failed: TN_EHTTP (a protocol error; we sent Close 1002 or
 * 1007), TN_ETOOLARGE (Close 1009), TN_ENOMEM (Close 1011). After a failure
 * every later feed returns the same code. */
int tn__ws_feed(tn__ws_t *w, const char *data, size_t len);
#define TN__WS_CLOSED 1

/** The close code we sent on failure (1002, 1007, 1009, 1011), else 0. */
int tn__ws_fail_code(const tn__ws_t *w);
/** Nonzero once we sent our Close (nothing else is sent after it). */
int tn__ws_close_sent(const tn__ws_t *w);
/** Nonzero once the peer's Close was read. */
int tn__ws_close_received(const tn__ws_t *w);

/** Sends a whole message as one frame (compressed when the extension is on).
 * Returns 0, TN_ECLOSED (our Close was sent), TN_ENOMEM, or send's error. */
int tn__ws_send_message(tn__ws_t *w, int binary, const void *data, size_t len);
/** Sends a ping or pong (len <= 125, else TN_EINVAL). */
int tn__ws_send_control(tn__ws_t *w, int opcode, const void *data, size_t len);
/** Sends our Close: code 0 sends none (then reason must be empty); else a
 * valid code and a UTF-8 reason of at most 123 bytes (TN_EINVAL). A second
 * call returns TN_ECLOSED. */
int tn__ws_send_close(tn__ws_t *w, int code, const char *reason, size_t len);

/* ---- handshake ------------------------------------------------------------ */

#define TN__WS_KEY_LEN 24
#define TN__WS_ACCEPT_LEN 28

/** Nonzero when key is the base64 form of exactly 16 bytes (24 characters,
 * canonical padding). */
int tn__ws_key_valid(const char *key, size_t len);
/** Writes the Sec-WebSocket-Accept value (28 characters + NUL) for key.
 * Returns 0 or TN_ENOMEM. */
int tn__ws_accept_value(const char *key, size_t len, char out[TN__WS_ACCEPT_LEN + 1]);
/** A fresh random key (24 characters + NUL). Returns 0 or an error. */
int tn__ws_new_key(char out[TN__WS_KEY_LEN + 1]);
/** Iterates a comma-separated header list: the next item, trimmed of
 * spaces and tabs (may be empty), into item. Returns 0 at the end. */
int tn__ws_list_next(const char **p, const char *end, tn_strview_t *item);
/** Nonzero when the comma-separated list contains token (case-insensitive,
 * optional whitespace). */
int tn__ws_has_token(const char *list, size_t len, const char *token);

/** The server's checks of an upgrade request (Tornado's order, RFC 6455's
 * rules). Returns 0 when the request may be upgraded, else the HTTP status
 * to answer: 400 (not GET, HTTP/1.0, bad Upgrade/Connection/Host/key), 426
 * (version other than 13). */
int tn__ws_check_request(const char *method, size_t mlen, int version, const tn_headers_t *h);

/** What the client learned from the server's response head. */
typedef struct {
    int status;           /* the response's status code */
    char subprotocol[64]; /* the chosen subprotocol ("" = none) */
    tn__ws_pmd_t pmd;     /* agreed compression */
} tn__ws_client_result_t;

/** Parses a response head (up to and including the blank line) to a client
 * upgrade that sent key, offered the subprotocols (NULL-terminated list, may
 * be NULL) and, with zo non-NULL, permessage-deflate. Returns 0 for a valid
 * 101 upgrade, TN_EHTTP for anything else (res->status tells a non-101). */
int tn__ws_client_check(const char *head, size_t len, const char *key,
                        const char *const *subprotocols, const tn__ws_zopts_t *zo,
                        tn__ws_client_result_t *res);

#endif
