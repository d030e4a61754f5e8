/* tornuv WebSocket (RFC 6455, permessage-deflate RFC 7692): the connection
 * object shared by both sides, the client (websocket_connect) and the
 * server handler class for the web layer (WebSocketHandler).
 *
 * Strict where Tornado is lenient: client frames must be masked and server
 * frames never are; a bad Sec-WebSocket-Key, an HTTP/1.0 upgrade, invalid
 * close codes, RSV bits without an extension, reserved opcodes, fragmented
 * or oversized control frames and invalid UTF-8 (in text and in close
 * reasons, checked as the bytes arrive) all fail the connection with the
 * right close code (1002, 1007, 1009); nothing is sent after our Close.
 *
 * Lifetime: a tn_websocket_t lives from the open (the connect callback, or
 * the handler's open slot) until its on_close callback returns; on_close
 * runs exactly once, whoever closed, after every pending write completion.
 * Loop thread only. */
#ifndef TORNUV_WEBSOCKET_H
#define TORNUV_WEBSOCKET_H

#include "tornuv/common.h"
#include "tornuv/ioloop.h"
#include "tornuv/iostream.h"
#include "tornuv/tls.h"
#include "tornuv/web.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_websocket_s tn_websocket_t;

/** The close code on_close reports when the peer sent no Close frame (the
 * connection dropped or timed out). */
#define TN_WS_CLOSE_ABNORMAL 1006
/** The code on_close reports for a Close frame that carried no code. */
#define TN_WS_CLOSE_NO_STATUS 1005

/** Defaults applied to zero settings. */
#define TN_WS_DEFAULT_MAX_MESSAGE ((size_t)10 * 1024 * 1024)
#define TN_WS_DEFAULT_CLOSE_TIMEOUT_MS 5000u
#define TN_WS_DEFAULT_CONNECT_TIMEOUT_MS 20000u

/** permessage-deflate settings; pass NULL for none (the default, as in
 * Tornado). Zero fields take the defaults. */
typedef struct {
    int level;               /**< zlib level 1..9; 0 = zlib's default (6) */
    int mem_level;           /**< zlib memLevel 1..9; 0 = 8 */
    int max_window_bits;     /**< our compressor's window, 9..15; 0 = 15 */
    int no_context_takeover; /**< reset our compressor after each message */
} tn_websocket_compression_t;

/** Event callbacks; any may be NULL. Payloads are borrowed for the call.
 * A callback may write, ping or close. */
typedef struct {
    /** A whole message (text is valid UTF-8). Tornado: on_message. */
    void (*on_message)(tn_websocket_t *ws, int binary, const char *data, size_t len, void *arg);
    /** A ping arrived (the pong is sent automatically). Tornado: on_ping. */
    void (*on_ping)(tn_websocket_t *ws, const char *data, size_t len, void *arg);
    /** A pong arrived. Tornado: on_pong. */
    void (*on_pong)(tn_websocket_t *ws, const char *data, size_t len, void *arg);
    /** The connection is over: code and reason from the peer's Close
     * (TN_WS_CLOSE_NO_STATUS when it had no code), TN_WS_CLOSE_ABNORMAL when
     * none came. Exactly once; ws is freed when it returns.
     * Tornado: on_close (close_code, close_reason). */
    void (*on_close)(tn_websocket_t *ws, int code, const char *reason, size_t len, void *arg);
} tn_websocket_events_t;

/** Connection settings shared by both sides; zero = default. */
typedef struct {
    size_t max_message_size;   /**< after inflation; default 10 MiB; bigger -> Close 1009 */
    uint64_t ping_interval_ms; /**< send a ping this often; 0 = never */
    uint64_t ping_timeout_ms;  /**< close when no pong for this long; default
                                  max(3 intervals, 30 s) when pinging */
    uint64_t close_timeout_ms; /**< wait for the peer's Close / TCP close; default 5 s */
} tn_websocket_settings_t;

/** Write completion: 0 once the frame was handed to the OS, TN_ECLOSED when
 * the connection closed first. */
typedef void (*tn_websocket_write_cb)(tn_websocket_t *ws, int status, void *arg);

/** Sends a whole message as one frame (compressed when negotiated); data is
 * copied. cb (may be NULL) runs once, later. Returns 0, TN_ECLOSED (closing
 * or closed: nothing is sent, nothing logged, cb never runs), TN_ENOMEM.
 * Tornado: WebSocketHandler.write_message / WebSocketClientConnection.write_message. */
TN_EXTERN int tn_websocket_write_message(tn_websocket_t *ws, const void *data, size_t len,
                                         int binary, tn_websocket_write_cb cb, void *arg);

/** Bytes queued for the peer and not yet handed to the OS: a writer to a
 * slow peer waits (write completion callbacks) while this is high.
 * Tornado: none (the Future returned by write_message). */
TN_EXTERN size_t tn_websocket_buffered_amount(const tn_websocket_t *ws);

/** Sends a ping with up to 125 bytes of data. Returns 0, TN_EINVAL,
 * TN_ECLOSED. Tornado: ping(data). */
TN_EXTERN int tn_websocket_ping(tn_websocket_t *ws, const void *data, size_t len);

/** Starts the closing handshake: sends Close with code (0: none; else
 * 1000-1003, 1007-1011 or 3000-4999) and reason (UTF-8, at most 123 bytes,
 * may be NULL), then waits for the peer's Close at most the close timeout
 * before dropping the connection. on_close follows, later. Returns 0,
 * TN_EINVAL (bad code or reason; nothing sent), TN_ECLOSED (already
 * closing). Tornado: close(code, reason). */
TN_EXTERN int tn_websocket_close(tn_websocket_t *ws, int code, const char *reason);

/** The negotiated subprotocol ("" when none). Tornado: selected_subprotocol. */
TN_EXTERN const char *tn_websocket_subprotocol(const tn_websocket_t *ws);

/** Nonzero when permessage-deflate was negotiated. Tornado: none. */
TN_EXTERN int tn_websocket_compressed(const tn_websocket_t *ws);

/** Nonzero once closing began (either side). Tornado: ws_connection is None
 * / is_closing(). */
TN_EXTERN int tn_websocket_closing(const tn_websocket_t *ws);

/** The loop the connection runs on. Tornado: IOLoop.current(). */
TN_EXTERN tn_ioloop_t *tn_websocket_loop(const tn_websocket_t *ws);

/* ---- client ------------------------------------------------------------- */

/** websocket_connect options; zero fields take defaults. */
typedef struct {
    tn_websocket_events_t events;
    void *arg; /**< passed to every event callback */
    /** Extra request headers: "Name", "value" pairs, NULL-terminated. */
    const char *const *headers;
    /** Subprotocols to offer, in order of preference; NULL-terminated. */
    const char *const *subprotocols;
    /** Offer permessage-deflate with these settings (NULL: no offer). */
    const tn_websocket_compression_t *compression;
    /** Bounds connecting and the opening handshake; default 20 s (the TLS
     * handshake of wss:// is bounded by the context's own deadline). */
    uint64_t connect_timeout_ms;
    /** wss:// only: the client TLS context (borrowed for the call; NULL: a
     * default context that verifies the server against the system's trust
     * store and checks its name). */
    tn_tls_context_t *tls;
    /** wss:// only: the name sent as SNI and checked against the server's
     * certificate; NULL: the URL's host. */
    const char *server_hostname;
    tn_websocket_settings_t settings;
} tn_websocket_connect_options_t;

/** Connect completion: ws (0 status) is open and owned by the events until
 * on_close; on failure ws is NULL and status is TN_ETIMEOUT, TN_EHTTP (the
 * server did not accept the upgrade or answered against the rules), a
 * connection error (-ECONNREFUSED, a resolver error...) or TN_ECLOSED. */
typedef void (*tn_websocket_connect_cb)(tn_websocket_t *ws, int status, void *arg);

/** Opens a client connection to url ("ws://" or "wss://", then
 * "host[:port][/path][?query]"; IPv6 literals in brackets; default ports 80
 * and 443). cb runs exactly once, later; for wss:// a failed TLS handshake
 * or certificate check reports its code (TN_ETLSVERIFY, TN_ETLS...).
 * Returns 0, TN_EINVAL (malformed url or header, NULL cb), TN_ENOTSUP
 * (wss:// in a build without TLS), TN_ENOMEM, or a TCPClient error (then cb
 * never runs).
 * Tornado: websocket_connect(url, on_message_callback=, connect_timeout=,
 * compression_options=, ping_interval=, max_message_size=, subprotocols=). */
TN_EXTERN int tn_websocket_connect(tn_ioloop_t *loop, const char *url,
                                   const tn_websocket_connect_options_t *opts,
                                   tn_websocket_connect_cb cb, void *arg);

/* ---- server: the web layer's WebSocketHandler --------------------------- */

/** A WebSocket handler class: Tornado's WebSocketHandler slots. Route it
 * with tn_app_add_route(app, host, pattern, &tn_websocket_handler, &cls,
 * name); cls must outlive the application. Every slot may be NULL.
 *
 * The slots that run during the upgrade request get the web handler (the
 * request, cookies, path arguments) and the connection's state; the others
 * get the open connection, whose state is the same memory. */
typedef struct {
    const char *name;  /**< for logs */
    size_t state_size; /**< bytes of zeroed per-connection state (tn_websocket_state) */
    void *arg;         /**< class-wide pointer for the slots (tn_websocket_class_arg) */
    /** Per-class connection settings (Tornado's websocket_* application
     * settings): max_message_size (10 MiB), ping interval and timeout,
     * close timeout (5 s). */
    tn_websocket_settings_t settings;
    /** Nonzero to accept a request with this Origin header (or
     * Sec-WebSocket-Origin); refused requests get 403. NULL: same origin
     * only (the origin's host[:port] equals Host, case-insensitively).
     * Tornado: check_origin(origin). */
    int (*check_origin)(tn_handler_t *h, void *state, const char *origin, size_t len);
    /** Picks one of the offered subprotocols: returns its index, or -1 for
     * none. Tornado: select_subprotocol(subprotocols). */
    int (*select_subprotocol)(tn_handler_t *h, void *state, const tn_strview_t *offered, size_t n);
    /** Returns the compression settings (NULL: no compression, the
     * default); the pointer must stay valid through the call.
     * Tornado: get_compression_options(). */
    const tn_websocket_compression_t *(*get_compression_options)(tn_handler_t *h, void *state);
    /** The connection is open (the 101 was sent); args are the route's
     * path arguments (percent-decoded), valid until on_close.
     * Tornado: open(*args). */
    void (*open)(tn_websocket_t *ws, const tn_strview_t *args, size_t nargs);
    /** Tornado: on_message(message). */
    void (*on_message)(tn_websocket_t *ws, int binary, const char *data, size_t len);
    /** Tornado: on_ping(data). */
    void (*on_ping)(tn_websocket_t *ws, const char *data, size_t len);
    /** Tornado: on_pong(data). */
    void (*on_pong)(tn_websocket_t *ws, const char *data, size_t len);
    /** Exactly once after open, whoever closed; ws and its state are freed
     * when it returns. Tornado: on_close() with close_code/close_reason. */
    void (*on_close)(tn_websocket_t *ws, int code, const char *reason, size_t len);
} tn_websocket_class_t;

/** The built-in web handler that upgrades GET requests to WebSocket
 * connections of the tn_websocket_class_t given as the route's init_arg.
 * Refuses with 400 (not HTTP/1.1, bad Upgrade/Connection/Host/key), 426 with
 * Sec-WebSocket-Version: 13 (another version), 403 (origin refused), 405
 * (not GET). Tornado: WebSocketHandler.get. */
extern TN_EXTERN const tn_handler_class_t tn_websocket_handler;

/** The connection's state (state_size bytes of its class; NULL on client
 * connections). Tornado: the handler instance's attributes. */
TN_EXTERN void *tn_websocket_state(const tn_websocket_t *ws);

/** The class's arg (NULL on client connections). Tornado: the handler's
 * initialize(**kwargs) values. */
TN_EXTERN void *tn_websocket_class_arg(const tn_websocket_t *ws);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_WEBSOCKET_H */
