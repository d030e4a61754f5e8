/* tornuv subprocesses and pipe streams: Tornado's process.Subprocess and
 * iostream.PipeIOStream, over libuv's process and pipe support (so they work
 * on Windows too, where Tornado's do not).
 *
 * A child's stdin, stdout and stderr are each inherited (the default), a
 * pipe that is an ordinary IOStream, a descriptor of the caller's, or the
 * null device. The exit callback reports the exit status or the signal that
 * ended the child, and it comes only after every stdout/stderr pipe reached
 * its end (or was closed by the caller), so no output is ever cut short —
 * libuv reports the exit and the last bytes in either order; tornuv orders
 * them. No process-wide SIGCHLD handler is installed by tornuv (libuv keeps
 * its own, shared by all loops, reaping only its children by pid).
 * Loop thread only. */
#ifndef TORNUV_PROCESS_H
#define TORNUV_PROCESS_H

#include "common.h"
#include "ioloop.h"
#include "iostream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_subprocess_s tn_subprocess_t;

/** What a child's standard descriptor is connected to. */
enum {
    TN_STDIO_INHERIT = 0, /**< the parent's own descriptor (the default) */
    TN_STDIO_PIPE,        /**< a pipe whose parent end is an IOStream */
    TN_STDIO_IGNORE,      /**< the null device (/dev/null, NUL) */
    TN_STDIO_FD           /**< the descriptor in fd (a CRT descriptor on Windows) */
};

/** One standard descriptor's setting; zero means inherit. */
typedef struct {
    int mode; /**< TN_STDIO_* */
    int fd;   /**< for TN_STDIO_FD */
} tn_stdio_t;

/** Hide the child's console window (Windows; ignored elsewhere). */
#define TN_SUBPROCESS_WINDOWS_HIDE 1u
/** Pass args to the child without Windows quoting (ignored elsewhere). */
#define TN_SUBPROCESS_WINDOWS_VERBATIM_ARGS 2u

/** Spawn options; zero fields take the defaults. */
typedef struct {
    const char *file;        /**< program; NULL = args[0]; searched in PATH */
    const char *const *args; /**< argv, NULL-terminated, args[0] required */
    const char *const *env;  /**< "NAME=value" strings, NULL-terminated; NULL = inherit */
    const char *cwd;         /**< working directory; NULL = the parent's */
    tn_stdio_t in, out, err; /**< stdin, stdout, stderr */
    unsigned flags;          /**< TN_SUBPROCESS_* */
    tn_iostream_options_t stream_options; /**< for the TN_STDIO_PIPE streams */
} tn_subprocess_options_t;

/** Exit notification. status is 0 when the child ended: exit_status is its
 * exit code, term_signal the signal that ended it (0 if none; on Windows
 * the signal given to tn_subprocess_kill). status is TN_ECLOSED when the
 * loop was closed (TN_CLOSE_ALL_FDS) or detached before the child ended;
 * then exit_status and term_signal are 0 and the child is left running. */
typedef void (*tn_exit_cb)(tn_subprocess_t *p, int status, int64_t exit_status, int term_signal,
                           void *arg);

/** Starts a child process. On success *out is the subprocess, which the
 * caller frees with tn_subprocess_free, and each TN_STDIO_PIPE descriptor
 * has an IOStream (tn_subprocess_stdin/stdout/stderr) that the caller
 * owns: every read, write and close works on it; closing stdin (or
 * tn_iostream_shutdown) gives the child end of file. Errors are returned
 * here, synchronously, and leave no child and no object behind:
 * TN_EINVAL (no args, a bad stdio mode), TN_ENOMEM, TN_EDETACHED, or the
 * spawn error from libuv (-ENOENT for a missing program, -EACCES, ...; on
 * Windows libuv's UV_E* values).
 * Tornado: Subprocess(args, stdin=, stdout=, stderr=, env=, cwd=). */
TN_EXTERN int tn_subprocess_spawn(tn_ioloop_t *loop, const tn_subprocess_options_t *opts,
                                  tn_subprocess_t **out);

/** Sets the exit callback (replacing an earlier one that has not run yet;
 * NULL clears it). It runs exactly once, never inside this call, after the
 * child ended and after each TN_STDIO_PIPE stdout/stderr stream closed —
 * at end of file (Tornado closes a stream at EOF), or by the caller. A
 * pipe that nobody reads never reaches end of file: read it to the end or
 * close it. Set after the child ended, it still runs (on the next drain).
 * Returns 0, TN_EINVAL, or TN_EALREADY when the callback has already run.
 * Tornado: Subprocess.set_exit_callback(callback). */
TN_EXTERN int tn_subprocess_set_exit_callback(tn_subprocess_t *p, tn_exit_cb cb, void *arg);

/** The parent end of the child's stdin pipe (TN_STDIO_PIPE), or NULL
 * (another mode, or the stream has closed). The caller owns the stream;
 * the pointer is valid until its close callback returns.
 * Tornado: Subprocess.stdin. */
TN_EXTERN tn_iostream_t *tn_subprocess_stdin(const tn_subprocess_t *p);

/** The child's stdout as a readable stream, or NULL (as tn_subprocess_stdin).
 * Tornado: Subprocess.stdout. */
TN_EXTERN tn_iostream_t *tn_subprocess_stdout(const tn_subprocess_t *p);

/** The child's stderr as a readable stream, or NULL (as tn_subprocess_stdin).
 * Tornado: Subprocess.stderr. */
TN_EXTERN tn_iostream_t *tn_subprocess_stderr(const tn_subprocess_t *p);

/** The child's process id. Tornado: Subprocess.pid. */
TN_EXTERN int tn_subprocess_pid(const tn_subprocess_t *p);

/** Sends signum to the child (SIGTERM, SIGKILL, ...; 0 only checks that it
 * runs). On Windows SIGTERM, SIGKILL (9) and SIGINT terminate the child
 * (TerminateProcess) and others return UV_ENOSYS. Returns 0, TN_EINVAL,
 * UV_ESRCH once the child has ended, or a libuv error.
 * Tornado: Subprocess.proc.send_signal(signum) / kill(). */
TN_EXTERN int tn_subprocess_kill(tn_subprocess_t *p, int signum);

/** Tornado's returncode: the exit code, or -signal when a signal ended the
 * child. Returns 0 with *rc set, or TN_EBUSY while the child runs.
 * Tornado: Subprocess.returncode. */
TN_EXTERN int tn_subprocess_returncode(const tn_subprocess_t *p, int *rc);

/** Frees the subprocess; its exit callback will not run. The pipe streams
 * stay open and the caller's. A child that still runs is not killed, and
 * is reaped when it ends (no zombie) as long as the loop runs; until then
 * it counts in tn_ioloop_alive_count. NULL is a no-op.
 * Tornado: none (garbage collection). */
TN_EXTERN void tn_subprocess_free(tn_subprocess_t *p);

/** Wraps an existing pipe descriptor in an IOStream (a pipe, a FIFO or a
 * unix socket; on Windows a CRT descriptor whose handle is a pipe), such as
 * a program's own stdin or stdout when they are pipes, or an end of
 * tn_pipe_pair. The stream owns fd (closing it closes fd, except 0, 1 and
 * 2, which libuv leaves open). On Unix the descriptor is made non-blocking,
 * which other holders of the same open pipe see too. Returns 0, TN_EINVAL
 * (not a pipe: a terminal or a regular file), TN_ENOMEM, TN_EDETACHED, or a
 * libuv error (fd is then still the caller's).
 * Tornado: PipeIOStream(fd). */
TN_EXTERN int tn_pipe_stream_open(tn_ioloop_t *loop, int fd, const tn_iostream_options_t *opts,
                                  tn_iostream_t **out);

/** Creates a connected pipe: fds[0] the read end, fds[1] the write end,
 * both close-on-exec (CRT descriptors on Windows). Returns 0 or a libuv
 * error. Tornado: os.pipe(). */
TN_EXTERN int tn_pipe_pair(int fds[2]);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_PROCESS_H */
