/* Internal: the IOStream object, shared by the files that implement it
 * (iostream.c: the read side, the transport events and close;
 * iostream_write.c: the write entry points; iostream_access.c: the plain
 * accessors). Nothing outside those files looks inside the struct. */
#ifndef TN_LIB_IOSTREAM_INTERNAL_H
#define TN_LIB_IOSTREAM_INTERNAL_H

#include "iostream_stream.h"
#include "loop_defer.h"
#include "regex_internal.h"
#include "tornuv/iostream.h"
#include "tornuv/transport.h"

enum read_kind { R_NONE, R_UNTIL, R_REGEX, R_BYTES, R_INTO, R_CLOSE, R_SOME };

typedef struct wnode_s {
    struct wnode_s *next;
    tn__qnode_t done; /* its completion, queued without allocating */
    tn_iostream_t *stream;
    const char *data;
    size_t len, off;
    int owned, status;
    tn_write_cb cb;
    void *arg;
} wnode_t;

struct tn_iostream_s {
    tn_ioloop_t *loop;
    const tn_transport_ops_t *ops;
    void *transport;
    tn_iostream_options_t opts;
    void *data;

    char *buf;
    size_t start, len, cap;

    /* the pending read */
    enum read_kind kind;
    char delim[64];
    size_t delim_len, max_bytes, n, scan;
    /* read_some: leading bytes already presented and left unconsumed; the
     * next read_some waits for bytes beyond them. */
    size_t some_seen;
    int partial;
    char *into;
    tn_read_cb cb;
    tn_consume_cb consume_cb;
    void *arg;
    /* a completed read waiting for its delivery on the next drain */
    int delivering;
    /* nonzero while a callback holds a pointer into buf: no move, no free */
    int pinned;
    /* inside a read_some callback: how much it consumes is not known yet,
     * so a read it starts is matched against the buffer only afterwards */
    int consuming;
    size_t deliver_len;
    int deliver_status;
    /* Queue entries for the delivery and the close notification: at most
     * one of each is ever pending, and embedding them means neither can be
     * lost to an allocation failure. */
    tn__qnode_t deliver_node, close_node;

    /* read_until_regex: the pattern in use (the stream's own cached one, or
     * the caller's for the _compiled variant); one match block fits all,
     * since only the overall match's end is used. */
    const tn_regex_t *re;
    tn_regex_t *cached_re;
    char *cached_pattern;
    pcre2_match_data *match;

    wnode_t *wq, *wtail;
    size_t unsent;
    int in_flight;
    size_t in_flight_len; /* bytes of the head write handed to ops->write */
    /* shutdown requested: sent to the transport once the queue drains */
    int want_shutdown, shut;
    /* The peer's EOF arrived while bytes it sent before were still to be
     * read: the stream stays open (writes go on) until a read finds nothing
     * more, then closes once its writes are flushed. */
    int eof, close_when_flushed;
    int half_close; /* tn_iostream_set_half_close */

    tn_close_cb close_cb;
    void *close_arg;
    int closed, transport_closed, reading, error, refs;

    /* A streaming read (iostream_stream.c) owns the read slot while it
     * lives, paused included: other reads are refused. stream_internal lets
     * its own chunk reads through; drop_delivery discards a delivery it
     * cancelled (the bytes stay buffered). */
    tn__sread_t *streamer;
    int stream_internal, drop_delivery;
};

/* Hands queued writes to the transport (iostream.c); a no-op while a write
 * is in flight or the stream is closed. */
void tn__iostream_flush(tn_iostream_t *s);

#endif
