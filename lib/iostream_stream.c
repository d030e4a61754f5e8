/* Streaming reads (Tornado <= 5's streaming_callback) as a loop of partial
 * reads over the IOStream state machine: each chunk is one partial read of
 * at most read_chunk_size bytes, delivered from the read buffer (borrowed,
 * no copy) or copied once into a caller's buffer. Nothing is read from the
 * transport between a chunk and the next read, so pausing is just not
 * asking, and memory stays bounded by one chunk.
 *
 * Lifetime: the state lives from tn_iostream_stream* until on_done ran and
 * none of its two queue entries (resume kick, deferred end) is queued. The
 * stream calls tn__iostream_stream_on_close before its close callback, so
 * a paused read ends first and never touches a freed stream. */
#include "iostream_stream.h"
#include "loop_defer.h"

enum { S_READING, S_PAUSED, S_KICK, S_ENDING, S_ENDED };

struct tn__sread_s {
    tn_iostream_t *s;
    uint64_t remaining, total;
    int until_close;
    tn_chunk_cb on_chunk;
    tn_alloc_cb alloc;
    tn_filled_cb filled;
    tn_stream_done_cb on_done;
    void *arg;
    int state, in_cb, resume_in_cb, end_status;
    int kick_queued, end_queued;
    tn__qnode_t kick_node, end_node;
};

static void release(tn__sread_t *sr)
{
    if (sr->state == S_ENDED && !sr->kick_queued && !sr->end_queued)
        tn_free(sr);
}

static void end(tn__sread_t *sr, int status)
{
    tn_iostream_t *s = sr->s;
    if (sr->state == S_ENDED)
        return;
    sr->state = S_ENDED;
    /* The slot is free before on_done runs: it may start the next read. */
    if (tn__iostream_streamer(s) == sr)
        tn__iostream_set_streamer(s, NULL);
    sr->on_done(s, status, sr->total, sr->arg);
    release(sr);
}

/* How a read refused or failed by a closed stream ends the streaming read:
 * for TN_UNTIL_CLOSE a clean end is what it waited for. */
static int closed_status(const tn__sread_t *sr)
{
    return sr->until_close && tn_iostream_error(sr->s) == 0 ? 0 : TN_ECLOSED;
}

static void on_piece(tn_iostream_t *s, int status, const char *data, size_t len, void *arg);

static void next_read(tn__sread_t *sr)
{
    tn_iostream_t *s = sr->s;
    if (!sr->until_close && sr->remaining == 0) {
        end(sr, 0);
        return;
    }
    size_t n = tn__iostream_chunk_size(s);
    if (!sr->until_close && sr->remaining < n)
        n = (size_t)sr->remaining;
    char *into = NULL;
    if (sr->alloc != NULL) {
        size_t blen = 0;
        sr->in_cb = 1;
        int rc = sr->alloc(s, n, &into, &blen, sr->arg);
        sr->in_cb = 0;
        if (sr->state != S_READING)
            return; /* cancelled from inside alloc */
        if (rc < 0) {
            tn_iostream_close_with(s, rc);
            end(sr, rc);
            return;
        }
        if (blen == 0 || into == NULL) {
            if (sr->resume_in_cb) {
                /* alloc asked to be asked again: next drain, not a spin */
                sr->resume_in_cb = 0;
                sr->state = S_PAUSED;
                tn_iostream_stream_resume(s);
                return;
            }
            sr->state = S_PAUSED;
            return;
        }
        if (blen < n)
            n = blen;
    }
    int err = tn__iostream_stream_read(s, into, n, on_piece, sr);
    if (err == TN_ECLOSED)
        end(sr, closed_status(sr));
    else if (err != 0)
        end(sr, err);
}

static void on_piece(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    tn__sread_t *sr = arg;
    if (status != 0) {
        end(sr, closed_status(sr));
        return;
    }
    if (len == 0) { /* nbytes 0 */
        end(sr, 0);
        return;
    }
    sr->total += len;
    if (!sr->until_close)
        sr->remaining -= len;
    sr->in_cb = 1;
    sr->resume_in_cb = 0;
    int rc = sr->filled != NULL ? sr->filled(s, (char *)data, len, sr->arg)
                                : sr->on_chunk(s, data, len, sr->arg);
    sr->in_cb = 0;
    if (sr->state != S_READING)
        return; /* cancelled from inside the callback: its end is queued */
    if (rc < 0) {
        tn_iostream_close_with(s, rc);
        end(sr, rc);
        return;
    }
    if (rc == TN_PAUSE && !sr->resume_in_cb) {
        if (!sr->until_close && sr->remaining == 0)
            end(sr, 0);
        else
            sr->state = S_PAUSED;
        return;
    }
    next_read(sr);
}

static void on_kick(tn_ioloop_t *loop, void *arg)
{
    tn__sread_t *sr = arg;
    (void)loop;
    sr->kick_queued = 0;
    if (sr->state == S_KICK) {
        sr->state = S_READING;
        next_read(sr);
        return;
    }
    release(sr);
}

static void on_end(tn_ioloop_t *loop, void *arg)
{
    tn__sread_t *sr = arg;
    (void)loop;
    sr->end_queued = 0;
    if (sr->state == S_ENDING)
        end(sr, sr->end_status);
    else
        release(sr);
}

int tn__iostream_stream_on_close(tn__sread_t *sr)
{
    switch (sr->state) {
    case S_PAUSED:
        end(sr, closed_status(sr));
        return 1;
    case S_KICK:
        /* Not worth waiting for the queued kick (it finds nothing to do). */
        sr->state = S_READING;
        next_read(sr);
        return 1;
    case S_ENDING:
        end(sr, sr->end_status);
        return 1;
    default:
        return 0;
    }
}

static int start(tn_iostream_t *s, uint64_t nbytes, tn_chunk_cb on_chunk, tn_alloc_cb alloc,
                 tn_filled_cb filled, tn_stream_done_cb on_done, void *arg)
{
    if (on_done == NULL || (on_chunk == NULL && (alloc == NULL || filled == NULL)))
        return TN_EINVAL;
    if (tn_iostream_reading(s))
        return TN_EALREADY;
    if (tn_iostream_closed(s) && tn_iostream_buffered(s) == 0)
        return TN_ECLOSED;
    tn__sread_t *sr = tn_calloc(1, sizeof(*sr));
    if (sr == NULL)
        return TN_ENOMEM;
    sr->s = s;
    sr->until_close = nbytes == TN_UNTIL_CLOSE;
    sr->remaining = nbytes;
    sr->on_chunk = on_chunk;
    sr->alloc = alloc;
    sr->filled = filled;
    sr->on_done = on_done;
    sr->arg = arg;
    if (alloc != NULL) {
        /* alloc is a callback too: it runs on the next drain. */
        if (tn__loop_defer_node(tn_iostream_loop(s), &sr->kick_node, on_kick, sr) != 0) {
            tn_free(sr);
            return TN_EDETACHED;
        }
        sr->kick_queued = 1;
        sr->state = S_KICK;
        tn__iostream_set_streamer(s, sr);
        return 0;
    }
    tn__iostream_set_streamer(s, sr);
    size_t n = tn__iostream_chunk_size(s);
    if (!sr->until_close && nbytes < n)
        n = (size_t)nbytes;
    int err = tn__iostream_stream_read(s, NULL, n, on_piece, sr);
    if (err != 0) {
        tn__iostream_set_streamer(s, NULL);
        tn_free(sr);
    }
    return err;
}

int tn_iostream_stream(tn_iostream_t *s, uint64_t nbytes, tn_chunk_cb on_chunk,
                       tn_stream_done_cb on_done, void *arg)
{
    if (on_chunk == NULL)
        return TN_EINVAL;
    return start(s, nbytes, on_chunk, NULL, NULL, on_done, arg);
}

int tn_iostream_stream_into(tn_iostream_t *s, uint64_t nbytes, tn_alloc_cb alloc,
                            tn_filled_cb filled, tn_stream_done_cb on_done, void *arg)
{
    if (alloc == NULL || filled == NULL)
        return TN_EINVAL;
    return start(s, nbytes, NULL, alloc, filled, on_done, arg);
}

int tn_iostream_stream_resume(tn_iostream_t *s)
{
    tn__sread_t *sr = tn__iostream_streamer(s);
    if (sr == NULL)
        return TN_EINVAL;
    if (sr->in_cb && sr->state == S_READING) {
        sr->resume_in_cb = 1; /* a TN_PAUSE the callback returns is undone */
        return 0;
    }
    if (sr->state != S_PAUSED)
        return TN_EINVAL;
    if (sr->kick_queued) {
        sr->state = S_KICK;
        return 0;
    }
    if (tn__loop_defer_node(tn_iostream_loop(s), &sr->kick_node, on_kick, sr) != 0)
        return TN_EDETACHED;
    sr->kick_queued = 1;
    sr->state = S_KICK;
    return 0;
}

int tn_iostream_stream_cancel(tn_iostream_t *s)
{
    tn__sread_t *sr = tn__iostream_streamer(s);
    if (sr == NULL || sr->state == S_ENDING || sr->state == S_ENDED)
        return TN_EINVAL;
    if (sr->state == S_READING && !sr->in_cb)
        tn__iostream_cancel_read(s);
    sr->end_status = TN_ECANCELED;
    /* The end is queued behind a cancelled delivery, so on_done sees the
     * read slot free. */
    if (tn__loop_defer_node(tn_iostream_loop(s), &sr->end_node, on_end, sr) != 0) {
        sr->state = S_ENDING;
        end(sr, TN_ECANCELED);
        return 0;
    }
    sr->end_queued = 1;
    sr->state = S_ENDING;
    return 0;
}
