/* Runs a command through the loop (Tornado's Subprocess):
 *
 *   subproc [--timeout MS] [--stats] -- CMD [ARGS...]
 *
 * CMD's stdout and stderr are streamed to subproc's own stdout and stderr as
 * they arrive, one chunk at a time: the next chunk is read only once the
 * previous one was handed on, so memory stays bounded whatever CMD writes
 * (a slow consumer of subproc's output slows CMD down instead). stdin is
 * inherited. subproc exits with CMD's exit status, or 128+signal when a
 * signal ended it, or 127 when CMD cannot be started.
 *
 * With --timeout, CMD gets SIGTERM after MS milliseconds, then SIGKILL after
 * a short grace period (on Windows both terminate the process at once); a
 * line containing "timeout" goes to stderr and the exit status is non-zero.
 * --stats prints the peak resident set size to stderr at the end. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tornuv.h"
#include "tornuv/uv.h" /* uv_getrusage for --stats */

#ifndef SIGKILL
#define SIGKILL 9 /* Windows: libuv's name for TerminateProcess */
#endif

#define GRACE_MS 2000
#define CHUNK 65536

/* One output of the child pumped to one of ours: to an IOStream when ours
 * is a pipe, else with blocking stdio writes (a terminal or a file). */
typedef struct {
    tn_iostream_t *src;
    tn_iostream_t *dst;
    FILE *file;
    int done;
} pump_t;

typedef struct {
    tn_ioloop_t *loop;
    tn_subprocess_t *p;
    pump_t out, err;
    uint64_t timeout_ms;
    int timed_out, exited, status;
} app_t;

static void pump_next(pump_t *pp);

static void on_written(tn_iostream_t *s, int status, void *arg)
{
    pump_t *pp = arg;
    (void)s;
    if (status != 0) {
        /* Our reader went away: stop reading, so CMD sees its pipe close. */
        tn_iostream_close(pp->src);
        return;
    }
    pump_next(pp);
}

static void on_chunk(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    pump_t *pp = arg;
    (void)s;
    if (status != 0) {
        pp->done = 1;
        return;
    }
    if (pp->dst != NULL) {
        if (tn_iostream_write(pp->dst, data, len, on_written, pp) != 0)
            tn_iostream_close(pp->src);
        return;
    }
    if (fwrite(data, 1, len, pp->file) != len || fflush(pp->file) != 0) {
        tn_iostream_close(pp->src);
        return;
    }
    pump_next(pp);
}

static void pump_next(pump_t *pp)
{
    if (tn_iostream_read_bytes(pp->src, CHUNK, 1, on_chunk, pp) != 0)
        pp->done = 1;
}

static void pump_start(tn_ioloop_t *loop, pump_t *pp, tn_iostream_t *src, int fd, FILE *file)
{
    tn_iostream_options_t o = {.read_chunk_size = CHUNK};
    pp->src = src;
    pp->file = file;
    /* Not a pipe (or no pipe support): plain blocking writes. */
    if (tn_pipe_stream_open(loop, fd, &o, &pp->dst) != 0)
        pp->dst = NULL;
    pump_next(pp);
}

static void on_exit_cb(tn_subprocess_t *p, int status, int64_t exit_status, int term_signal,
                       void *arg)
{
    app_t *a = arg;
    (void)p;
    a->exited = 1;
    if (status != 0)
        a->status = 1;
    else if (term_signal != 0)
        a->status = 128 + term_signal;
    else
        a->status = (int)(exit_status & 0xff);
    tn_ioloop_stop(a->loop);
}

/* After SIGKILL and another grace period: a grandchild may still hold the
 * pipes open, so stop waiting for their end. */
static void on_give_up(tn_ioloop_t *loop, void *arg)
{
    app_t *a = arg;
    (void)loop;
    if (tn_subprocess_stdout(a->p) != NULL)
        tn_iostream_close(tn_subprocess_stdout(a->p));
    if (tn_subprocess_stderr(a->p) != NULL)
        tn_iostream_close(tn_subprocess_stderr(a->p));
}

static void on_kill(tn_ioloop_t *loop, void *arg)
{
    app_t *a = arg;
    int rc;
    if (tn_subprocess_returncode(a->p, &rc) == TN_EBUSY) {
        fprintf(stderr, "subproc: still running %d ms after SIGTERM, sending SIGKILL\n", GRACE_MS);
        tn_subprocess_kill(a->p, SIGKILL);
    }
    tn_ioloop_call_later(loop, GRACE_MS, on_give_up, a);
}

static void on_timeout(tn_ioloop_t *loop, void *arg)
{
    app_t *a = arg;
    a->timed_out = 1;
    fprintf(stderr, "subproc: timeout after %llu ms, sending SIGTERM\n",
            (unsigned long long)a->timeout_ms);
    tn_subprocess_kill(a->p, SIGTERM);
    tn_ioloop_call_later(loop, GRACE_MS, on_kill, a);
}

static int usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--timeout MS] [--stats] -- CMD [ARGS...]\n", argv0);
    return 2;
}

int main(int argc, char **argv)
{
    app_t a;
    int stats = 0, i = 1;
    memset(&a, 0, sizeof(a));
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            char *end;
            a.timeout_ms = strtoull(argv[++i], &end, 10);
            if (*end != '\0' || a.timeout_ms == 0)
                return usage(argv[0]);
        } else if (strcmp(argv[i], "--stats") == 0) {
            stats = 1;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (argv[i][0] == '-') {
            return usage(argv[0]);
        } else {
            break;
        }
    }
    if (i >= argc)
        return usage(argv[0]);

    int err = tn_ioloop_new(&a.loop);
    if (err != 0) {
        fprintf(stderr, "subproc: %s\n", tn_strerror(err));
        return 1;
    }
    tn_subprocess_options_t o = {.args = (const char *const *)(argv + i)};
    o.out.mode = TN_STDIO_PIPE;
    o.err.mode = TN_STDIO_PIPE;
    o.stream_options.read_chunk_size = CHUNK;
    err = tn_subprocess_spawn(a.loop, &o, &a.p);
    if (err != 0) {
        fprintf(stderr, "subproc: %s: %s\n", argv[i], tn_strerror(err));
        tn_ioloop_close(a.loop, TN_CLOSE_ALL_FDS);
        return 127;
    }
    pump_start(a.loop, &a.out, tn_subprocess_stdout(a.p), 1, stdout);
    pump_start(a.loop, &a.err, tn_subprocess_stderr(a.p), 2, stderr);
    tn_subprocess_set_exit_callback(a.p, on_exit_cb, &a);
    if (a.timeout_ms > 0)
        tn_ioloop_call_later(a.loop, a.timeout_ms, on_timeout, &a);
    tn_ioloop_start(a.loop);

    int status = a.status;
    if (a.timed_out && status == 0)
        status = 124;
    tn_subprocess_free(a.p);
    /* Flushes nothing more: every chunk was handed on before its next read.
     * Closes our own pipe streams (fds 1 and 2 themselves stay open). */
    tn_ioloop_close(a.loop, TN_CLOSE_ALL_FDS);
    if (stats) {
        uv_rusage_t ru;
        if (uv_getrusage(&ru) == 0)
            fprintf(stderr, "subproc: peak RSS %llu KiB\n", (unsigned long long)ru.ru_maxrss);
    }
    return status;
}
