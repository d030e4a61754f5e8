/* Internal: a WebSocket connection over an IOStream, shared by the client
 * (websocket_client.c) and the server handler (websocket_server.c). */
#ifndef TN_LIB_WEBSOCKET_CONN_H
#define TN_LIB_WEBSOCKET_CONN_H

#include "tornuv/websocket.h"
#include "websocket_proto.h"

typedef struct {
    int server;
    const tn_websocket_events_t *events;
    void *arg;
    const tn_websocket_settings_t *settings; /* may be NULL */
    const tn__ws_pmd_t *pmd;                 /* agreed compression or NULL */
    const tn__ws_zopts_t *zopts;
    const char *subprotocol; /* may be NULL */
} tn__ws_conn_config_t;

/** Takes over an open stream whose handshake is done (bytes after the head
 * stay buffered in it) and starts reading frames. On success the connection
 * owns the stream; on error (TN_ENOMEM, TN_ECLOSED) the caller still does. */
int tn__websocket_start(tn_iostream_t *stream, const tn__ws_conn_config_t *cfg,
                        tn_websocket_t **out);

/** A pointer for the server side (its per-connection record). */
void tn__websocket_set_user(tn_websocket_t *ws, void *user);
void *tn__websocket_user(const tn_websocket_t *ws);

/** Public compression options to the core's (NULL: level etc. default). */
void tn__ws_zopts_from(const tn_websocket_compression_t *c, tn__ws_zopts_t *zo);

#endif
