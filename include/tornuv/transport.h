/* tornuv transport seam: what a byte transport (libuv TCP/pipe in shim/, an
 * in-memory one in tests) provides to an IOStream, and the events it sends
 * back. Written once in lib/, implemented per backend (h2o's socket
 * layer does the same). */
#ifndef TORNUV_TRANSPORT_H
#define TORNUV_TRANSPORT_H

#include "iostream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_transport_ops_s {
    /** Start/stop delivering data through tn_iostream__on_alloc/__on_read. */
    int (*read_start)(void *t);
    int (*read_stop)(void *t);
    /** Synchronous attempt: bytes written (>= 0, 0 if it would block) or a
     * negative error. */
    long (*try_write)(void *t, const tn_buf_t *bufs, size_t nbufs);
    /** Asynchronous write of all of bufs (the bytes stay valid until the
     * completion; copy the array itself); completes with
     * tn_iostream__on_write_done once per call, in call order. */
    int (*write)(void *t, const tn_buf_t *bufs, size_t nbufs);
    int (*shutdown)(void *t);
    /** Begins closing; completes with tn_iostream__on_closed exactly once,
     * after which the transport never calls into the stream again. */
    void (*close)(void *t);
    int (*set_nodelay)(void *t, int on);
    int (*remote_address)(void *t, char *ip, size_t iplen, int *port);
} tn_transport_ops_t;

/** Creates a stream over transport t. The stream calls ops only on the loop
 * thread and calls ops->close exactly once. Returns 0, TN_ENOMEM.
 * Tornado: IOStream(socket). */
TN_EXTERN int tn_iostream_new(tn_ioloop_t *loop, const tn_transport_ops_t *ops, void *t,
                              const tn_iostream_options_t *opts, tn_iostream_t **out);

/** The transport a stream runs over: returns its ops and stores its record
 * in *t (layers such as TLS recognise their own streams by the ops).
 * Tornado: none. */
TN_EXTERN const tn_transport_ops_t *tn_iostream__ops(const tn_iostream_t *s, void **t);

/** Asks for space in the stream's read buffer (libuv reads straight into
 * it). *len == 0 means none could be had: report ENOBUFS through on_read.
 * Tornado: BaseIOStream._read_to_buffer's recv_into target. */
TN_EXTERN void tn_iostream__on_alloc(tn_iostream_t *s, size_t suggested, char **base, size_t *len);
/** nread > 0 bytes were written into the space from on_alloc; 0 means
 * nothing (not end of stream); < 0 is an error, TN_EOF the peer's end.
 * Tornado: BaseIOStream._handle_read. */
TN_EXTERN void tn_iostream__on_read(tn_iostream_t *s, long nread);
/** Completion of one ops->write call.
 * Tornado: BaseIOStream._handle_write. */
TN_EXTERN void tn_iostream__on_write_done(tn_iostream_t *s, int status);
/** Completion of a client connect (0 or the cause).
 * Tornado: IOStream._handle_connect. */
TN_EXTERN void tn_iostream__on_connect(tn_iostream_t *s, int status);
/** The transport finished closing.
 * Tornado: the socket close inside BaseIOStream.close. */
TN_EXTERN void tn_iostream__on_closed(tn_iostream_t *s);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_TRANSPORT_H */
