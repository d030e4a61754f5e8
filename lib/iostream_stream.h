/* Internal: the seam between the IOStream state machine (iostream.c) and
 * its streaming reads (iostream_stream.c). A streaming read is a loop of
 * partial reads of at most read_chunk_size bytes, owning the stream's read
 * slot from start to its final callback, paused included. */
#ifndef TN_LIB_IOSTREAM_STREAM_H
#define TN_LIB_IOSTREAM_STREAM_H

#include "tornuv/iostream.h"

typedef struct tn__sread_s tn__sread_t;

tn__sread_t *tn__iostream_streamer(const tn_iostream_t *s);
void tn__iostream_set_streamer(tn_iostream_t *s, tn__sread_t *sr);
size_t tn__iostream_chunk_size(const tn_iostream_t *s);
/* A partial read of 1..n bytes (into the caller's buffer when into is not
 * NULL) that the streaming read's ownership of the slot lets through. */
int tn__iostream_stream_read(tn_iostream_t *s, char *into, size_t n, tn_read_cb cb, void *arg);
/* Withdraws the pending read. Returns 1 when its delivery was already
 * queued (it then runs for nobody, before anything queued later), else 0. */
int tn__iostream_cancel_read(tn_iostream_t *s);
/* The stream's close callback is about to run: a paused streaming read
 * ends now, one waiting for its resume reads what is still buffered (or
 * ends). Returns 1 if it did something (call again: on_done may have
 * started another), 0 when a delivery is under way or nothing is left. */
int tn__iostream_stream_on_close(tn__sread_t *sr);

#endif
