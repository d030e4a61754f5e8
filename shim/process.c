/* Subprocess over uv_spawn, with IOStreams on its pipes (see process.h).
 *
 * Lifetime. The object holds references: one for the caller (dropped by
 * tn_subprocess_free), one for the uv_process_t (dropped in its close
 * callback) and one while the exit delivery is queued. The process handle
 * is closed as soon as libuv reports the exit. A subprocess freed while its
 * child still runs keeps that handle open (unref'd, so it keeps no loop
 * alive): closing a live uv_process_t takes it off libuv's list of children
 * to reap, and the child would become a zombie when it ends (libuv#1911).
 *
 * Exit ordering. libuv reports the exit (SIGCHLD) and the pipes' end of
 * file in either order. The exit callback waits until the child ended and
 * every stdout/stderr pipe transport closed; the pipes tell us through the
 * transport's on_closed hook, which runs in the uv close callback just
 * before the IOStream hears of its close and queues its own close callback.
 * The delivery therefore takes two hops through the loop's queue: the first
 * is queued before that close callback, the second after it, so the
 * stream's last read completion and its close callback both come before the
 * exit callback. */
#include <string.h>

#include "ioloop_private.h"
#include "tornuv/process.h"
#include "uvstream.h"

struct tn_subprocess_s {
    tn__handle_t track;
    uv_process_t proc;
    tn_ioloop_t *loop;
    /* The pipe transports and their streams, by descriptor; NULL once the
     * transport closed (the stream then goes away after its close callback). */
    tn__uvstream_t *pipes[3];
    tn_iostream_t *streams[3];
    int outputs_open; /* stdout/stderr pipes not closed yet */
    int pid;
    int exited, proc_closing, freed, scheduled, delivered, refs;
    int64_t exit_status;
    int term_signal;
    int deliver_status;
    tn_exit_cb cb;
    void *arg;
    tn__qnode_t node;
};

static void unref(tn_subprocess_t *p)
{
    if (--p->refs == 0)
        tn_free(p);
}

static void on_proc_closed(uv_handle_t *h)
{
    tn_subprocess_t *p = h->data;
    tn__loop_untrack(p->loop, &p->track);
    unref(p);
}

static void close_proc(tn_subprocess_t *p)
{
    if (p->proc_closing)
        return;
    p->proc_closing = 1;
    uv_close((uv_handle_t *)&p->proc, on_proc_closed);
}

static void deliver(tn_ioloop_t *loop, void *arg)
{
    tn_subprocess_t *p = arg;
    (void)loop;
    tn_exit_cb cb = p->cb;
    if (!p->freed && cb != NULL) {
        p->delivered = 1;
        p->cb = NULL;
        if (p->deliver_status != 0)
            cb(p, p->deliver_status, 0, 0, p->arg);
        else
            cb(p, 0, p->exit_status, p->term_signal, p->arg);
    }
    p->scheduled = 0;
    unref(p);
}

/* The first hop (see the top of the file). */
static void deliver_later(tn_ioloop_t *loop, void *arg)
{
    tn_subprocess_t *p = arg;
    if (!p->freed && tn__loop_defer_node(loop, &p->node, deliver, p) == 0)
        return;
    p->scheduled = 0;
    unref(p);
}

static void schedule(tn_subprocess_t *p, int status, tn_callback_cb hop)
{
    if (p->freed || p->scheduled || p->delivered || p->cb == NULL)
        return;
    p->deliver_status = status;
    if (tn__loop_defer_node(p->loop, &p->node, hop, p) == 0) {
        p->scheduled = 1;
        p->refs++;
    }
}

static void maybe_deliver(tn_subprocess_t *p)
{
    if (p->exited && p->outputs_open == 0)
        schedule(p, 0, deliver_later);
}

static void on_child_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
    tn_subprocess_t *p = proc->data;
    p->exited = 1;
    p->exit_status = exit_status;
    p->term_signal = term_signal;
    close_proc(p);
    maybe_deliver(p);
}

/* A pipe's transport is closing for good (EOF, an error, or the caller's
 * close): runs from its uv close callback. */
static void on_pipe_closed(tn__uvstream_t *t)
{
    tn_subprocess_t *p = t->group;
    for (int i = 0; i < 3; i++) {
        if (p->pipes[i] != t)
            continue;
        p->pipes[i] = NULL;
        p->streams[i] = NULL;
        if (i > 0)
            p->outputs_open--;
    }
    maybe_deliver(p);
}

static void forget_pipes(tn_subprocess_t *p)
{
    for (int i = 0; i < 3; i++) {
        if (p->pipes[i] != NULL) {
            p->pipes[i]->on_closed = NULL;
            p->pipes[i]->group = NULL;
        }
        p->pipes[i] = NULL;
        p->streams[i] = NULL;
    }
    p->outputs_open = 0;
}

/* tn_ioloop_close(TN_CLOSE_ALL_FDS) or detach: the child is left running
 * (closing fds does not kill processes); a caller still waiting hears
 * TN_ECLOSED. The pipes are tracked objects of their own and close too. */
static void on_loop_close(tn__handle_t *h)
{
    tn_subprocess_t *p = (tn_subprocess_t *)h;
    if (!p->exited)
        schedule(p, TN_ECLOSED, deliver);
    close_proc(p);
}

static int setup_stdio(tn_subprocess_t *p, int i, const tn_stdio_t *s,
                       const tn_iostream_options_t *sopts, uv_stdio_container_t *c)
{
    switch (s->mode) {
    case TN_STDIO_INHERIT:
        c->flags = UV_INHERIT_FD;
        c->data.fd = i;
        return 0;
    case TN_STDIO_IGNORE:
        c->flags = UV_IGNORE;
        return 0;
    case TN_STDIO_FD:
        if (s->fd < 0)
            return TN_EINVAL;
        c->flags = UV_INHERIT_FD;
        c->data.fd = s->fd;
        return 0;
    case TN_STDIO_PIPE:
        break;
    default:
        return TN_EINVAL;
    }
    tn__uvstream_t *t;
    int err = tn__uvstream_create(p->loop, 1, AF_UNSPEC, &t);
    if (err != 0)
        return err;
    err = tn__uvstream_wrap(t, sopts, &p->streams[i]);
    if (err != 0)
        return err;
    t->group = p;
    t->on_closed = on_pipe_closed;
    p->pipes[i] = t;
    if (i > 0)
        p->outputs_open++;
    /* The flags name the child's side: it reads stdin and writes the others. */
    c->flags = (uv_stdio_flags)(UV_CREATE_PIPE | (i == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE));
    c->data.stream = &t->uv.stream;
    return 0;
}

int tn_subprocess_spawn(tn_ioloop_t *loop, const tn_subprocess_options_t *opts,
                        tn_subprocess_t **out)
{
    if (loop == NULL || opts == NULL || out == NULL || opts->args == NULL || opts->args[0] == NULL)
        return TN_EINVAL;
    if (tn__loop_closing(loop))
        return TN_EDETACHED;
    tn_subprocess_t *p = tn_calloc(1, sizeof(*p));
    if (p == NULL)
        return TN_ENOMEM;
    p->loop = loop;
    p->refs = 1;
    p->proc.data = p;

    uv_stdio_container_t stdio[3];
    const tn_stdio_t *modes[3] = {&opts->in, &opts->out, &opts->err};
    int err = 0;
    memset(stdio, 0, sizeof(stdio));
    for (int i = 0; i < 3 && err == 0; i++)
        err = setup_stdio(p, i, modes[i], &opts->stream_options, &stdio[i]);
    if (err == 0) {
        uv_process_options_t o;
        memset(&o, 0, sizeof(o));
        o.exit_cb = on_child_exit;
        o.file = opts->file != NULL ? opts->file : opts->args[0];
        o.args = (char **)opts->args;
        o.env = (char **)opts->env;
        o.cwd = opts->cwd;
        o.stdio = stdio;
        o.stdio_count = 3;
        if (opts->flags & TN_SUBPROCESS_WINDOWS_HIDE)
            o.flags |= UV_PROCESS_WINDOWS_HIDE;
        if (opts->flags & TN_SUBPROCESS_WINDOWS_VERBATIM_ARGS)
            o.flags |= UV_PROCESS_WINDOWS_VERBATIM_ARGUMENTS;
        /* The handle is initialised even when the spawn fails, and must be
         * closed either way; tracking it first makes both paths one. */
        tn__loop_track(loop, &p->track, on_loop_close);
        p->refs++;
        err = uv_spawn(tn__loop_uv(loop), &p->proc, &o);
        if (err != 0)
            close_proc(p);
    }
    if (err != 0) {
        /* No child: the pipes (never connected) close with the caller none
         * the wiser, and the object goes with the last close callback. */
        tn_iostream_t *streams[3] = {p->streams[0], p->streams[1], p->streams[2]};
        forget_pipes(p);
        for (int i = 0; i < 3; i++)
            if (streams[i] != NULL)
                tn_iostream_close(streams[i]);
        p->freed = 1;
        unref(p);
        return err;
    }
    p->pid = p->proc.pid;
    *out = p;
    return 0;
}

int tn_subprocess_set_exit_callback(tn_subprocess_t *p, tn_exit_cb cb, void *arg)
{
    if (p == NULL)
        return TN_EINVAL;
    if (p->delivered)
        return TN_EALREADY;
    p->cb = cb;
    p->arg = arg;
    maybe_deliver(p);
    return 0;
}

tn_iostream_t *tn_subprocess_stdin(const tn_subprocess_t *p)
{
    return p != NULL ? p->streams[0] : NULL;
}

tn_iostream_t *tn_subprocess_stdout(const tn_subprocess_t *p)
{
    return p != NULL ? p->streams[1] : NULL;
}

tn_iostream_t *tn_subprocess_stderr(const tn_subprocess_t *p)
{
    return p != NULL ? p->streams[2] : NULL;
}

int tn_subprocess_pid(const tn_subprocess_t *p)
{
    return p != NULL ? p->pid : 0;
}

int tn_subprocess_kill(tn_subprocess_t *p, int signum)
{
    if (p == NULL)
        return TN_EINVAL;
    if (p->exited || p->proc_closing)
        return UV_ESRCH;
    return uv_process_kill(&p->proc, signum);
}

int tn_subprocess_returncode(const tn_subprocess_t *p, int *rc)
{
    if (p == NULL || rc == NULL)
        return TN_EINVAL;
    if (!p->exited)
        return TN_EBUSY;
    *rc = p->term_signal != 0 ? -p->term_signal : (int)p->exit_status;
    return 0;
}

void tn_subprocess_free(tn_subprocess_t *p)
{
    if (p == NULL)
        return;
    p->freed = 1;
    p->cb = NULL;
    forget_pipes(p);
    /* A running child keeps its handle until it ends (see the top). */
    if (!p->proc_closing)
        uv_unref((uv_handle_t *)&p->proc);
    unref(p);
}

/* ---- PipeIOStream ------------------------------------------------------- */

int tn_pipe_stream_open(tn_ioloop_t *loop, int fd, const tn_iostream_options_t *opts,
                        tn_iostream_t **out)
{
    tn__uvstream_t *t;
    tn_iostream_t *stream;
    if (loop == NULL || fd < 0 || out == NULL)
        return TN_EINVAL;
    if (uv_guess_handle((uv_file)fd) != UV_NAMED_PIPE)
        return TN_EINVAL;
    int err = tn__uvstream_create(loop, 1, AF_UNSPEC, &t);
    if (err != 0)
        return err;
    /* The stream first, as in tn_iostream_from_socket: once the handle took
     * fd nothing may fail, so on error fd stays the caller's. */
    err = tn__uvstream_wrap(t, opts, &stream);
    if (err != 0)
        return err;
    err = uv_pipe_open(&t->uv.pipe, (uv_file)fd);
    if (err != 0) {
        tn_iostream_close(stream);
        return err;
    }
    *out = stream;
    return 0;
}

int tn_pipe_pair(int fds[2])
{
    uv_file f[2];
    if (fds == NULL)
        return TN_EINVAL;
    /* Non-blocking (overlapped on Windows) on both ends, as a uv_pipe_t
     * wants them; close-on-exec comes with uv_pipe. */
    int err = uv_pipe(f, UV_NONBLOCK_PIPE, UV_NONBLOCK_PIPE);
    if (err != 0)
        return err;
    fds[0] = (int)f[0];
    fds[1] = (int)f[1];
    return 0;
}
