/* tornuv IOStream: a non-blocking byte stream with a read buffer, a write
 * queue and targeted reads, over any transport (TCP, pipes, or a test's
 * in-memory transport; see transport.h and net.h).
 *
 * Rules (Tornado's):
 *   - one pending read at a time; a second returns TN_EALREADY;
 *   - a read that the buffer can already satisfy still completes on the next
 *     loop drain, never inside the call that started it;
 *   - data is read from the transport only while a read is pending, or while
 *     the buffer is empty and a close callback is set (to notice the peer
 *     leaving), so a consumer that stops reading throttles its peer;
 *   - when the stream closes, a pending read that the buffer can satisfy
 *     completes first (read_until_close with everything buffered), other
 *     pending operations complete with TN_ECLOSED, then the close callback
 *     runs, and right after it returns tornuv frees the stream. The close
 *     callback is the stream's last: a read that a completion callback
 *     starts while the stream closes (satisfied from what is still
 *     buffered, or refused with TN_ECLOSED) completes before it.
 * Loop thread only. */
#ifndef TORNUV_IOSTREAM_H
#define TORNUV_IOSTREAM_H

#include "common.h"
#include "ioloop.h"
#include "regex.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_iostream_s tn_iostream_t;

/** Options; zero fields take the defaults. */
typedef struct {
    size_t max_buffer_size;       /**< read buffer cap; default 100 MiB */
    size_t read_chunk_size;       /**< bytes reserved per transport read; default 64 KiB */
    size_t max_write_buffer_size; /**< unsent bytes cap; 0 = unlimited */
} tn_iostream_options_t;

#define TN_IOSTREAM_DEFAULT_MAX_BUFFER ((size_t)100 * 1024 * 1024)
#define TN_IOSTREAM_DEFAULT_CHUNK ((size_t)64 * 1024)

/** Read completion: status 0 with data (borrowed until the callback
 * returns) or TN_ECLOSED with data NULL and len 0. For read_into, data is
 * the caller's buffer and len the byte count. */
typedef void (*tn_read_cb)(tn_iostream_t *s, int status, const char *data, size_t len, void *arg);
/** Write completion: 0 once this write's bytes were handed to the OS, or
 * TN_ECLOSED when the stream closed first (tn_iostream_error says why). */
typedef void (*tn_write_cb)(tn_iostream_t *s, int status, void *arg);
/** Close notification; the stream is freed right after it returns. */
typedef void (*tn_close_cb)(tn_iostream_t *s, void *arg);
/** read_some completion: returns how many of the len bytes it consumed;
 * the rest stays buffered for the next read. */
typedef size_t (*tn_consume_cb)(tn_iostream_t *s, int status, const char *data, size_t len,
                                void *arg);

/** Reads up to and including the first occurrence of delim (1..64 bytes).
 * With max_bytes > 0, a delimiter that does not end within max_bytes makes
 * the read unsatisfiable: the stream closes with error TN_EUNSATISFIABLE and
 * cb gets TN_ECLOSED (also when the data is already buffered).
 * Returns 0 (cb runs exactly once, later), TN_EALREADY, TN_EINVAL, or
 * TN_ECLOSED when the stream is closed and the buffer cannot satisfy it.
 * Tornado: IOStream.read_until(delimiter, max_bytes). */
TN_EXTERN int tn_iostream_read_until(tn_iostream_t *s, const char *delim, size_t delim_len,
                                     size_t max_bytes, tn_read_cb cb, void *arg);

/** Like read_until with a PCRE2 pattern: completes with the bytes up to the
 * end of the first match. The compiled pattern is cached on the stream
 * (same pattern string, no recompilation). Returns as read_until, and
 * TN_EINVAL for a pattern that does not compile.
 * Tornado: IOStream.read_until_regex(regex, max_bytes). */
TN_EXTERN int tn_iostream_read_until_regex(tn_iostream_t *s, const char *pattern, size_t max_bytes,
                                           tn_read_cb cb, void *arg);

/** Like read_until_regex with a pattern compiled once by tn_regex_compile
 * (shared by any number of streams); re must stay alive until cb runs.
 * Tornado: IOStream.read_until_regex with a precompiled pattern. */
TN_EXTERN int tn_iostream_read_until_regex_compiled(tn_iostream_t *s, const tn_regex_t *re,
                                                    size_t max_bytes, tn_read_cb cb, void *arg);

/** Reads exactly n bytes; with partial, completes as soon as at least one
 * byte is available (at most n). n == 0 completes with len 0.
 * Tornado: IOStream.read_bytes(num_bytes, partial). */
TN_EXTERN int tn_iostream_read_bytes(tn_iostream_t *s, size_t n, int partial, tn_read_cb cb,
                                     void *arg);

/** Fills buf (len bytes; the caller keeps it alive until cb), or with
 * partial completes with whatever count >= 1 is available.
 * Tornado: IOStream.read_into(buf, partial). */
TN_EXTERN int tn_iostream_read_into(tn_iostream_t *s, char *buf, size_t len, int partial,
                                    tn_read_cb cb, void *arg);

/** Reads everything until the stream closes; completes with status 0 and
 * all buffered data when it does (subject to max_buffer_size).
 * Tornado: IOStream.read_until_close(). */
TN_EXTERN int tn_iostream_read_until_close(tn_iostream_t *s, tn_read_cb cb, void *arg);

/** Completes when bytes are buffered, handing cb everything buffered; cb
 * returns how much it consumed (for parsers that work straight on the
 * buffer, such as the HTTP layer); the rest stays buffered. A read_some
 * started from inside cb ("I need more") waits for bytes cb has not seen
 * yet; one started later completes as soon as anything is buffered; any
 * other read cb starts is matched against what cb left, once it returned.
 * On close cb gets TN_ECLOSED (or, if unseen bytes remain, those first).
 * Tornado: none (HTTP1Connection reads with read_until_regex/read_bytes). */
TN_EXTERN int tn_iostream_read_some(tn_iostream_t *s, tn_consume_cb cb, void *arg);

/** Queues a copy of data (len may be 0) and tries to send it at once.
 * cb (may be NULL) runs once when these bytes were handed to the OS, in
 * write order. Returns 0, TN_ECLOSED, TN_EBUFFULL (over
 * max_write_buffer_size; the stream stays open) or TN_ENOMEM.
 * Tornado: IOStream.write(data). */
TN_EXTERN int tn_iostream_write(tn_iostream_t *s, const void *data, size_t len, tn_write_cb cb,
                                void *arg);

/** A buffer for writev. */
typedef struct {
    const char *base;
    size_t len;
} tn_buf_t;

/** Like write for several buffers, copied into one; one completion.
 * Tornado: IOStream.write of a joined bytes object. */
TN_EXTERN int tn_iostream_writev(tn_iostream_t *s, const tn_buf_t *bufs, size_t nbufs,
                                 tn_write_cb cb, void *arg);

/** Like write without copying: data stays the caller's and must stay valid
 * until cb (required) runs, which is when it may be released.
 * Tornado: IOStream.write(memoryview). */
TN_EXTERN int tn_iostream_write_ref(tn_iostream_t *s, const void *data, size_t len, tn_write_cb cb,
                                    void *arg);

/** Ends the sending side once every queued write has been handed to the OS
 * (a TCP FIN; reading goes on). Later writes return TN_EFINISHED.
 * Idempotent. Returns 0 or TN_ECLOSED.
 * Tornado: none (socket.shutdown(SHUT_WR) on the stream's socket). */
TN_EXTERN int tn_iostream_shutdown(tn_iostream_t *s);

/** With on, a peer's EOF that arrives while bytes it sent are still
 * buffered or being delivered does not close the stream at once: reading
 * stops, writes go on, the buffered bytes are handed to the reads that ask
 * for them, and the stream closes (after its queued writes) when a read
 * finds nothing more. Off by default (Tornado closes on EOF); the HTTP
 * server turns it on, so a client that half-closes after its requests
 * still gets every response.
 * Tornado: none (asyncio's eof_received returning True). */
TN_EXTERN void tn_iostream_set_half_close(tn_iostream_t *s, int on);

/** Sets the callback run (once, deferred) when the stream closes for any
 * reason. On an idle stream with an empty buffer it starts reading so a
 * peer close is noticed.
 * Tornado: IOStream.set_close_callback(callback). */
TN_EXTERN void tn_iostream_set_close_callback(tn_iostream_t *s, tn_close_cb cb, void *arg);

/** Closes the stream (idempotent; safe from the stream's own callbacks).
 * Tornado: IOStream.close(). */
TN_EXTERN void tn_iostream_close(tn_iostream_t *s);

/** Closes with a cause that tn_iostream_error will report.
 * Tornado: IOStream.close(exc_info). */
TN_EXTERN void tn_iostream_close_with(tn_iostream_t *s, int cause);

/** Nonzero once closing began. Tornado: IOStream.closed(). */
TN_EXTERN int tn_iostream_closed(const tn_iostream_t *s);

/** Nonzero while a read is pending. Tornado: IOStream.reading(). */
TN_EXTERN int tn_iostream_reading(const tn_iostream_t *s);

/** Nonzero while written bytes wait to be handed to the OS.
 * Tornado: IOStream.writing(). */
TN_EXTERN int tn_iostream_writing(const tn_iostream_t *s);

/** The cause of the close: 0 for a clean end (EOF or local close), else a
 * TN_E* or system code. Tornado: IOStream.error. */
TN_EXTERN int tn_iostream_error(const tn_iostream_t *s);

/** Bytes buffered and not yet read. Tornado: IOStream._read_buffer_size. */
TN_EXTERN size_t tn_iostream_buffered(const tn_iostream_t *s);

/** Bytes queued by writes and not yet handed to the OS (the figure
 * max_write_buffer_size caps). Tornado: IOStream._total_write_index -
 * _total_write_done_index. */
TN_EXTERN size_t tn_iostream_write_buffered(const tn_iostream_t *s);

/** Sets TCP_NODELAY where the transport has it. Returns 0 or an error.
 * Tornado: IOStream.set_nodelay(value). */
TN_EXTERN int tn_iostream_set_nodelay(tn_iostream_t *s, int on);

/** The peer's address as text (ip) and port. Returns 0 or an error.
 * Tornado: the address passed to handle_stream. */
TN_EXTERN int tn_iostream_remote_address(tn_iostream_t *s, char *ip, size_t iplen, int *port);

/** The loop the stream runs on. Tornado: IOStream.io_loop. */
TN_EXTERN tn_ioloop_t *tn_iostream_loop(const tn_iostream_t *s);

/** Stores a user pointer on the stream (not freed by tornuv).
 * Tornado: none (attributes on the Python object). */
TN_EXTERN void tn_iostream_set_data(tn_iostream_t *s, void *data);

/** Returns the pointer given to tn_iostream_set_data (NULL by default).
 * Tornado: none. */
TN_EXTERN void *tn_iostream_get_data(const tn_iostream_t *s);

/* ---- streaming reads ----------------------------------------------------
 * One chunk-callback shape for every place data streams: the bytes are
 * borrowed until the callback returns, which says TN_CONTINUE (go on),
 * TN_PAUSE (stop reading until tn_iostream_stream_resume) or a negative code
 * (abort: the stream closes with it as its cause). While a streaming read is
 * paused nothing is read from the transport, so at most one chunk
 * (read_chunk_size) is buffered: memory per stream is bounded by
 * construction, and a consumer that pauses throttles its peer. */

/** Streams until the stream closes (tn_iostream_stream's nbytes). */
#define TN_UNTIL_CLOSE UINT64_MAX

/** A chunk of a streaming read: 1..read_chunk_size bytes, borrowed until
 * return. Returns TN_CONTINUE, TN_PAUSE or a negative code (abort). */
typedef int (*tn_chunk_cb)(tn_iostream_t *s, const char *data, size_t len, void *arg);
/** The end of a streaming read, exactly once, after the last chunk: status
 * 0 (nbytes delivered, or for TN_UNTIL_CLOSE a clean end: EOF or a local
 * close), TN_ECLOSED (closed first; tn_iostream_error says why),
 * TN_ECANCELED (tn_iostream_stream_cancel), or the negative code a chunk
 * (or alloc/filled) callback returned. total counts the bytes delivered. It
 * runs before the stream's close callback; a new read may start inside it. */
typedef void (*tn_stream_done_cb)(tn_iostream_t *s, int status, uint64_t total, void *arg);

/** Streams nbytes (or TN_UNTIL_CLOSE) through on_chunk, then on_done.
 * Chunks run on later drains, never inside this call, even when the bytes
 * are already buffered; each is at most read_chunk_size bytes, and bytes
 * past nbytes stay buffered for the next read. While it lives (paused too)
 * the streaming read is the stream's one pending read: other reads get
 * TN_EALREADY. Bytes already buffered when the stream closes are still
 * streamed before on_done. nbytes 0 completes with on_done(0, 0).
 * Returns 0 (on_done runs exactly once, later), TN_EINVAL (NULL callback),
 * TN_EALREADY, TN_ENOMEM, or TN_ECLOSED when the stream is closed and
 * nothing is buffered.
 * Tornado: IOStream.read_bytes(num_bytes, callback, streaming_callback) and
 * read_until_close(callback, streaming_callback) (Tornado <= 5). */
TN_EXTERN int tn_iostream_stream(tn_iostream_t *s, uint64_t nbytes, tn_chunk_cb on_chunk,
                                 tn_stream_done_cb on_done, void *arg);

/** Resumes a streaming read that a callback paused with TN_PAUSE; the next
 * chunk comes on a later drain. Callable from inside the callback that
 * paused (after it returns it takes effect). Returns 0, or TN_EINVAL when
 * the stream has no paused streaming read.
 * Tornado: none (Tornado's streaming_callback could not apply back-pressure;
 * libcurl's curl_easy_pause(CURLPAUSE_CONT)). */
TN_EXTERN int tn_iostream_stream_resume(tn_iostream_t *s);

/** Ends the streaming read: on_done(TN_ECANCELED) on a later drain, no
 * chunk after this call, and bytes not yet handed to a chunk stay buffered
 * for the next read (startable from on_done). Returns 0, or TN_EINVAL when
 * no streaming read is alive or it already ended.
 * Tornado: none (cancelling the coroutine that loops on read_bytes). */
TN_EXTERN int tn_iostream_stream_cancel(tn_iostream_t *s);

/** Gives the buffer for the next piece of a tn_iostream_stream_into read:
 * set *base and *len (room for up to suggested bytes is ideal; any length
 * works) to memory the caller owns and keeps valid until filled returns it
 * or on_done runs. *len 0 pauses (resume asks again). Returns 0 or a
 * negative code (abort). */
typedef int (*tn_alloc_cb)(tn_iostream_t *s, size_t suggested, char **base, size_t *len, void *arg);
/** A buffer from alloc came back holding len (>= 1) bytes; it is the
 * caller's again (keep it, write_ref it elsewhere). Returns TN_CONTINUE,
 * TN_PAUSE or a negative code, as tn_chunk_cb. */
typedef int (*tn_filled_cb)(tn_iostream_t *s, char *base, size_t len, void *arg);

/** Like tn_iostream_stream, but each piece lands in memory the caller owns
 * (libuv's alloc-callback model): alloc lends a buffer before each read,
 * filled hands it back. tornuv allocates nothing per piece; the bytes are
 * copied once, from the stream's read buffer into the caller's buffer
 * (the read buffer stays one chunk, so memory stays bounded). A buffer lent
 * and not returned by filled is the caller's again when on_done runs.
 * alloc runs on a later drain, never inside this call. Returns as
 * tn_iostream_stream.
 * Tornado: IOStream.read_into(buf, partial=True) in a loop (5.0+). */
TN_EXTERN int tn_iostream_stream_into(tn_iostream_t *s, uint64_t nbytes, tn_alloc_cb alloc,
                                      tn_filled_cb filled, tn_stream_done_cb on_done, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_IOSTREAM_H */
