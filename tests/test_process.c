/* Subprocess and pipe streams. The child is this very program, re-executed
 * with TN_PROC_CHILD=<mode> in its environment: a constructor runs the mode
 * and exits before the test runner starts, so nothing here depends on Unix
 * tools and the same tests run under wine. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#ifdef _WIN32
#include <io.h>
#else
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "loop_util.h"
#include "tornuv.h"

#ifndef SIGKILL
#define SIGKILL 9 /* what libuv's uv_process_kill understands on Windows */
#endif

TestSuite(process, .timeout = 60);

/* ---- the child ---------------------------------------------------------- */

static unsigned char pattern_byte(size_t i)
{
    return (unsigned char)((i * 131u + i / 251u) & 0xffu);
}

static unsigned long long fnv(unsigned long long h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

#define FNV_INIT 14695981039346656037ull

static size_t env_size(const char *name, size_t dflt)
{
    const char *v = getenv(name);
    return v != NULL ? (size_t)strtoull(v, NULL, 10) : dflt;
}

static void child_main(const char *mode)
{
    char buf[65536];
#ifdef _WIN32
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
#endif
    int code = 0;
    if (strcmp(mode, "echo") == 0) {
        /* Line by line, flushed, so the parent can converse with it. */
        while (fgets(buf, sizeof(buf), stdin) != NULL) {
            fputs(buf, stdout);
            fflush(stdout);
        }
    } else if (strcmp(mode, "big") == 0) {
        /* N pattern bytes on stdout, then a line on stderr, then exit at
         * once: the exit races the parent's reading of the output. */
        size_t n = env_size("TN_PROC_N", 0), done = 0;
        while (done < n) {
            size_t k = n - done < sizeof(buf) ? n - done : sizeof(buf);
            for (size_t i = 0; i < k; i++)
                buf[i] = (char)pattern_byte(done + i);
            if (fwrite(buf, 1, k, stdout) != k) {
                code = 2;
                break;
            }
            done += k;
        }
        fflush(stdout);
        fprintf(stderr, "wrote %zu\n", done);
    } else if (strcmp(mode, "count") == 0) {
        /* Reads stdin to its end, answers "<bytes> <fnv hash>". */
        unsigned long long h = FNV_INIT, total = 0;
        size_t k;
        while ((k = fread(buf, 1, sizeof(buf), stdin)) > 0) {
            h = fnv(h, buf, k);
            total += k;
        }
        printf("%llu %llx\n", total, h);
    } else if (strcmp(mode, "outerr") == 0) {
        fputs("to-out\n", stdout);
        fputs("to-err\n", stderr);
    } else if (strcmp(mode, "exit") == 0) {
        code = (int)env_size("TN_PROC_CODE", 0);
    } else if (strcmp(mode, "sleep") == 0) {
        uv_sleep((unsigned)env_size("TN_PROC_MS", 10000));
        code = 7;
    } else if (strcmp(mode, "env") == 0) {
        size_t len = sizeof(buf);
        const char *v = getenv("TN_PROC_VAR");
        if (uv_cwd(buf, &len) != 0)
            buf[0] = 0;
        printf("var=%s\ncwd=%s\n", v != NULL ? v : "(unset)", buf);
    } else {
        code = 99;
    }
    fflush(stdout);
    fflush(stderr);
    _Exit(code);
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((constructor)) static void maybe_child(void)
{
    const char *mode = getenv("TN_PROC_CHILD");
    if (mode != NULL)
        child_main(mode);
}
#endif

/* ---- helpers ------------------------------------------------------------ */

static char self_path[4096];

/* Spawns this program in mode with options o (args and env are filled in
 * here): the parent's environment plus TN_PROC_CHILD and the given extra
 * "NAME=value" entry (or NULL). */
static int spawn_opts(tn_ioloop_t *loop, const char *mode, const char *extra,
                      tn_subprocess_options_t *o, tn_subprocess_t **p)
{
    size_t len = sizeof(self_path);
    cr_assert_eq(uv_exepath(self_path, &len), 0);
    uv_env_item_t *items;
    int count;
    cr_assert_eq(uv_os_environ(&items, &count), 0);
    char **env = calloc((size_t)count + 3, sizeof(char *));
    cr_assert_not_null(env);
    int n = 0;
    for (int i = 0; i < count; i++) {
        if (strncmp(items[i].name, "TN_PROC_", 8) == 0)
            continue;
        size_t k = strlen(items[i].name) + strlen(items[i].value) + 2;
        env[n] = malloc(k);
        snprintf(env[n], k, "%s=%s", items[i].name, items[i].value);
        n++;
    }
    uv_os_free_environ(items, count);
    char modevar[64];
    snprintf(modevar, sizeof(modevar), "TN_PROC_CHILD=%s", mode);
    env[n++] = modevar;
    if (extra != NULL)
        env[n++] = (char *)extra;
    env[n] = NULL;

    const char *args[] = {self_path, NULL};
    o->args = args;
    o->env = (const char *const *)env;
    int rc = tn_subprocess_spawn(loop, o, p);
    for (int i = 0; i < n; i++)
        if (env[i] != modevar && env[i] != extra)
            free(env[i]);
    free(env);
    return rc;
}

static int spawn_child(tn_ioloop_t *loop, const char *mode, const char *extra, int in, int out,
                       int err, tn_subprocess_t **p)
{
    tn_subprocess_options_t o = {0};
    o.in.mode = in;
    o.out.mode = out;
    o.err.mode = err;
    return spawn_opts(loop, mode, extra, &o, p);
}

/* What a test records, in the order things happened. */
typedef struct {
    tn_ioloop_t *loop;
    tn_subprocess_t *p;
    char events[16]; /* 'o' stdout closed, 'e' stderr closed, 'x' exit */
    int nevents;
    int exit_status_cb;
    int64_t exit_status;
    int term_signal;
    int exits;
    char *out;
    size_t out_len, out_cap;
    char err[256];
    size_t err_len;
    int out_closed_status;
    unsigned long long hash;
    size_t slow_reads;
} run_t;

static void note(run_t *r, char c)
{
    if (r->nevents < (int)sizeof(r->events) - 1)
        r->events[r->nevents++] = c;
}

static void on_exit_cb(tn_subprocess_t *p, int status, int64_t exit_status, int term_signal,
                       void *arg)
{
    run_t *r = arg;
    cr_assert_eq(p, r->p);
    r->exits++;
    r->exit_status_cb = status;
    r->exit_status = exit_status;
    r->term_signal = term_signal;
    note(r, 'x');
    tn_ioloop_stop(r->loop);
}

static void append_out(run_t *r, const char *data, size_t len)
{
    if (r->out_len + len + 1 > r->out_cap) {
        r->out_cap = (r->out_len + len + 1) * 2;
        r->out = realloc(r->out, r->out_cap);
        cr_assert_not_null(r->out);
    }
    memcpy(r->out + r->out_len, data, len);
    r->out_len += len;
    r->out[r->out_len] = 0;
}

static void on_out_all(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    run_t *r = arg;
    (void)s;
    r->out_closed_status = status;
    if (status == 0)
        append_out(r, data, len);
}

static void on_out_close(tn_iostream_t *s, void *arg)
{
    (void)s;
    note(arg, 'o');
}

static void on_err_all(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    run_t *r = arg;
    (void)s;
    if (status == 0 && len < sizeof(r->err)) {
        memcpy(r->err, data, len);
        r->err[len] = 0;
        r->err_len = len;
    }
}

static void on_err_close(tn_iostream_t *s, void *arg)
{
    (void)s;
    note(arg, 'e');
}

static void run_free(run_t *r)
{
    free(r->out);
}

/* ---- tests -------------------------------------------------------------- */

static void on_line2(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    run_t *r = arg;
    cr_assert_eq(status, 0);
    append_out(r, data, len);
    /* The conversation is over: end of file to the child, which exits. */
    tn_iostream_close(tn_subprocess_stdin(r->p));
    cr_assert_eq(tn_iostream_read_until_close(s, on_out_all, r), 0);
}

static void on_line1(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    run_t *r = arg;
    cr_assert_eq(status, 0);
    append_out(r, data, len);
    cr_assert_eq(tn_iostream_write(tn_subprocess_stdin(r->p), "world\n", 6, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_read_until(s, "\n", 1, 100, on_line2, r), 0);
}

/* tornado: process_test test_subprocess (an interactive child) */
Test(process, echo_round_trip_then_stdin_close_ends_child)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    run_t r = {.loop = loop};
    cr_assert_eq(
        spawn_child(loop, "echo", NULL, TN_STDIO_PIPE, TN_STDIO_PIPE, TN_STDIO_INHERIT, &r.p), 0);
    cr_assert_not_null(tn_subprocess_stdin(r.p));
    cr_assert_not_null(tn_subprocess_stdout(r.p));
    cr_assert_null(tn_subprocess_stderr(r.p));
    cr_assert_gt(tn_subprocess_pid(r.p), 0);
    int rc = 12345;
    cr_assert_eq(tn_subprocess_returncode(r.p, &rc), TN_EBUSY);
    tn_iostream_t *out = tn_subprocess_stdout(r.p);
    tn_iostream_set_close_callback(out, on_out_close, &r);
    cr_assert_eq(tn_subprocess_set_exit_callback(r.p, on_exit_cb, &r), 0);
    cr_assert_eq(tn_iostream_write(tn_subprocess_stdin(r.p), "hello\n", 6, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_read_until(out, "\n", 1, 100, on_line1, &r), 0);
    cr_assert_eq(r.exits, 0);
    tn_test_run(loop, 20000);
    cr_assert_eq(r.exits, 1);
    cr_assert_str_eq(r.out, "hello\nworld\n");
    cr_assert_eq(r.out_closed_status, 0);
    cr_assert_eq(r.exit_status_cb, 0);
    cr_assert_eq(r.exit_status, 0);
    cr_assert_eq(r.term_signal, 0);
    cr_assert_str_eq(r.events, "ox", "stdout closes before the exit callback");
    cr_assert_eq(tn_subprocess_returncode(r.p, &rc), 0);
    cr_assert_eq(rc, 0);
    cr_assert_null(tn_subprocess_stdout(r.p), "stream gone after its close");
    cr_assert_eq(tn_subprocess_set_exit_callback(r.p, on_exit_cb, &r), TN_EALREADY);
    tn_subprocess_free(r.p);
    tn_test_close(loop, 0);
    run_free(&r);
}

/* A slow reader: 16 KiB at a time, a pause after each of the first reads,
 * while the child writes 8 MiB and exits at once. The child blocks on the
 * full pipe (back-pressure); every byte arrives, and the exit callback
 * comes after the last one. */
static void on_slow_chunk(tn_iostream_t *s, int status, const char *data, size_t len, void *arg);

static void read_next(tn_ioloop_t *loop, void *arg)
{
    run_t *r = arg;
    (void)loop;
    tn_iostream_t *out = tn_subprocess_stdout(r->p);
    cr_assert_not_null(out);
    cr_assert_eq(tn_iostream_read_bytes(out, 16384, 1, on_slow_chunk, r), 0);
}

static void on_slow_chunk(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    run_t *r = arg;
    (void)s;
    cr_assert_eq(r->exits, 0, "no exit callback while output is still arriving");
    if (status != 0)
        return; /* end of file: the stream closes */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)data[i] != pattern_byte(r->out_len + i))
            cr_assert(0, "byte %zu differs", r->out_len + i);
    r->out_len += len;
    if (r->slow_reads++ < 20)
        cr_assert_neq(tn_ioloop_call_later(r->loop, 5, read_next, r), 0);
    else
        read_next(r->loop, r);
}

Test(process, large_output_slow_reader_exit_after_eof)
{
    const size_t n = 8u << 20;
    tn_ioloop_t *loop = tn_test_loop_new();
    run_t r = {.loop = loop};
    cr_assert_eq(spawn_child(loop, "big", "TN_PROC_N=8388608", TN_STDIO_IGNORE, TN_STDIO_PIPE,
                             TN_STDIO_PIPE, &r.p),
                 0);
    tn_iostream_set_close_callback(tn_subprocess_stdout(r.p), on_out_close, &r);
    tn_iostream_set_close_callback(tn_subprocess_stderr(r.p), on_err_close, &r);
    cr_assert_eq(tn_iostream_read_until_close(tn_subprocess_stderr(r.p), on_err_all, &r), 0);
    cr_assert_eq(tn_subprocess_set_exit_callback(r.p, on_exit_cb, &r), 0);
    read_next(loop, &r);
    tn_test_run(loop, 50000);
    cr_assert_eq(r.exits, 1);
    cr_assert_eq(r.out_len, n);
    cr_assert_str_eq(r.err, "wrote 8388608\n");
    cr_assert_eq(r.exit_status, 0);
    cr_assert_eq(r.nevents, 3);
    cr_assert_eq(r.events[2], 'x', "exit last: %s", r.events);
    tn_subprocess_free(r.p);
    tn_test_close(loop, 0);
}

static void on_stdin_written(tn_iostream_t *s, int status, void *arg)
{
    (void)arg;
    cr_assert_eq(status, 0);
    tn_iostream_close(s);
}

/* 8 MiB into the child's stdin in one write: the pipe takes a little, the
 * rest waits in the stream (back-pressure) and flows as the child reads. */
Test(process, large_input_through_stdin)
{
    const size_t n = 8u << 20;
    tn_ioloop_t *loop = tn_test_loop_new();
    run_t r = {.loop = loop};
    char *data = malloc(n);
    cr_assert_not_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)pattern_byte(i);
    cr_assert_eq(
        spawn_child(loop, "count", NULL, TN_STDIO_PIPE, TN_STDIO_PIPE, TN_STDIO_INHERIT, &r.p), 0);
    tn_iostream_t *in = tn_subprocess_stdin(r.p);
    cr_assert_eq(tn_iostream_write_ref(in, data, n, on_stdin_written, &r), 0);
    cr_assert_gt(tn_iostream_write_buffered(in), 0, "a pipe does not take 8 MiB at once");
    cr_assert_eq(tn_iostream_read_until_close(tn_subprocess_stdout(r.p), on_out_all, &r), 0);
    cr_assert_eq(tn_subprocess_set_exit_callback(r.p, on_exit_cb, &r), 0);
    tn_test_run(loop, 50000);
    char want[64];
    snprintf(want, sizeof(want), "%llu %llx\n", (unsigned long long)n, fnv(FNV_INIT, data, n));
    cr_assert_str_eq(r.out, want);
    cr_assert_eq(r.exit_status, 0);
    tn_subprocess_free(r.p);
    tn_test_close(loop, 0);
    free(data);
    run_free(&r);
}

Test(process, stdout_and_stderr_stay_separate)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    run_t r = {.loop = loop};
    cr_assert_eq(
        spawn_child(loop, "outerr", NULL, TN_STDIO_IGNORE, TN_STDIO_PIPE, TN_STDIO_PIPE, &r.p), 0);
    cr_assert_null(tn_subprocess_stdin(r.p));
    cr_assert_eq(tn_iostream_read_until_close(tn_subprocess_stdout(r.p), on_out_all, &r), 0);
    cr_assert_eq(tn_iostream_read_until_close(tn_subprocess_stderr(r.p), on_err_all, &r), 0);
    cr_assert_eq(tn_subprocess_set_exit_callback(r.p, on_exit_cb, &r), 0);
    tn_test_run(loop, 20000);
    cr_assert_str_eq(r.out, "to-out\n");
    cr_assert_str_eq(r.err, "to-err\n");
    tn_subprocess_free(r.p);
    tn_test_close(loop, 0);
    run_free(&r);
}

/* tornado: process_test test_sigchild (exit status) */
Test(process, exit_code_reported)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    run_t r = {.loop = loop};
    cr_assert_eq(spawn_child(loop, "exit", "TN_PROC_CODE=3", TN_STDIO_IGNORE, TN_STDIO_IGNORE,
                             TN_STDIO_IGNORE, &r.p),
                 0);
    cr_assert_eq(tn_subprocess_set_exit_callback(r.p, on_exit_cb, &r), 0);
    tn_test_run(loop, 20000);
    cr_assert_eq(r.exits, 1);
    cr_assert_eq(r.exit_status, 3);
    cr_assert_eq(r.term_signal, 0);
    int rc = 0;
    cr_assert_eq(tn_subprocess_returncode(r.p, &rc), 0);
    cr_assert_eq(rc, 3);
    cr_assert_eq(tn_subprocess_kill(r.p, SIGTERM), UV_ESRCH, "no signal to a reaped child");
    tn_subprocess_free(r.p);
    tn_test_close(loop, 0);
}

static void kill_it(tn_ioloop_t *loop, void *arg)
{
    run_t *r = arg;
    (void)loop;
    cr_assert_eq(tn_subprocess_kill(r->p, 0), 0, "signal 0: the child runs");
    cr_assert_eq(tn_subprocess_kill(r->p, (int)r->slow_reads), 0);
}

static void signal_exit(int signum)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    run_t r = {.loop = loop, .slow_reads = (size_t)signum};
    cr_assert_eq(spawn_child(loop, "sleep", "TN_PROC_MS=20000", TN_STDIO_IGNORE, TN_STDIO_PIPE,
                             TN_STDIO_INHERIT, &r.p),
                 0);
    cr_assert_eq(tn_iostream_read_until_close(tn_subprocess_stdout(r.p), on_out_all, &r), 0);
    cr_assert_eq(tn_subprocess_set_exit_callback(r.p, on_exit_cb, &r), 0);
    cr_assert_neq(tn_ioloop_call_later(loop, 100, kill_it, &r), 0);
    double t0 = tn_test_now_ms();
    tn_test_run(loop, 15000);
    cr_assert_lt(tn_test_now_ms() - t0, 10000, "killed, not slept out");
    cr_assert_eq(r.exits, 1);
    cr_assert_eq(r.term_signal, signum);
    int rc = 0;
    cr_assert_eq(tn_subprocess_returncode(r.p, &rc), 0);
    cr_assert_eq(rc, -signum);
    tn_subprocess_free(r.p);
    tn_test_close(loop, 0);
    run_free(&r);
}

/* tornado: process_test test_sigchild_signal (returncode -SIGTERM) */
Test(process, sigterm_reported_as_signal)
{
    signal_exit(SIGTERM);
}

Test(process, sigkill_reported_as_signal)
{
    signal_exit(SIGKILL);
}

static void settle_stop(tn_ioloop_t *loop, void *arg)
{
    (void)arg;
    tn_ioloop_stop(loop);
}

Test(process, missing_program_is_an_error)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    const char *args[] = {"tn-no-such-program-here", "x", NULL};
    tn_subprocess_options_t o = {.args = args};
    o.out.mode = TN_STDIO_PIPE;
    o.err.mode = TN_STDIO_PIPE;
    tn_subprocess_t *p = NULL;
    int err = tn_subprocess_spawn(loop, &o, &p);
    cr_assert_eq(err, UV_ENOENT, "got %s", tn_err_name(err));
    cr_assert_null(p);
    /* Bad options never reach libuv. */
    const char *noargs[] = {NULL};
    tn_subprocess_options_t bad = {.args = noargs};
    cr_assert_eq(tn_subprocess_spawn(loop, &bad, &p), TN_EINVAL);
    bad.args = args;
    bad.out.mode = 42;
    cr_assert_eq(tn_subprocess_spawn(loop, &bad, &p), TN_EINVAL);
    cr_assert_null(p);
    /* What the failed spawn opened goes with its close callbacks. */
    cr_assert_neq(tn_ioloop_call_later(loop, 50, settle_stop, NULL), 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(tn_ioloop_alive_count(loop), 0);
    tn_test_close(loop, 0);
}

static void set_cb_late(tn_ioloop_t *loop, void *arg)
{
    run_t *r = arg;
    int rc;
    if (tn_subprocess_returncode(r->p, &rc) != 0) {
        cr_assert_neq(tn_ioloop_call_later(loop, 10, set_cb_late, r), 0);
        return;
    }
    cr_assert_eq(tn_subprocess_set_exit_callback(r->p, on_exit_cb, r), 0);
    cr_assert_eq(r->exits, 0, "never inside set_exit_callback");
}

Test(process, exit_callback_set_after_exit_still_runs)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    run_t r = {.loop = loop};
    cr_assert_eq(spawn_child(loop, "exit", "TN_PROC_CODE=5", TN_STDIO_IGNORE, TN_STDIO_IGNORE,
                             TN_STDIO_IGNORE, &r.p),
                 0);
    cr_assert_neq(tn_ioloop_call_later(loop, 10, set_cb_late, &r), 0);
    tn_test_run(loop, 20000);
    cr_assert_eq(r.exits, 1);
    cr_assert_eq(r.exit_status, 5);
    tn_subprocess_free(r.p);
    tn_test_close(loop, 0);
}

static void poll_alive(tn_ioloop_t *loop, void *arg)
{
    (void)arg;
    if (tn_ioloop_alive_count(loop) == 1) /* only tn_test_run's watchdog */
        tn_ioloop_stop(loop);
    else
        cr_assert_neq(tn_ioloop_call_later(loop, 20, poll_alive, NULL), 0);
}

/* libuv#1911: closing a live uv_process_t leaves a zombie. Freeing a
 * subprocess whose child runs must not. */
Test(process, free_while_running_reaps_the_child)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    run_t r = {.loop = loop};
    cr_assert_eq(spawn_child(loop, "sleep", "TN_PROC_MS=300", TN_STDIO_IGNORE, TN_STDIO_PIPE,
                             TN_STDIO_IGNORE, &r.p),
                 0);
    int pid = tn_subprocess_pid(r.p);
    tn_iostream_t *out = tn_subprocess_stdout(r.p);
    cr_assert_eq(tn_subprocess_set_exit_callback(r.p, on_exit_cb, &r), 0);
    tn_subprocess_free(r.p);
    tn_iostream_close(out); /* the stream stays the caller's */
    cr_assert_geq(tn_ioloop_alive_count(loop), 1, "the child counts until reaped");
    cr_assert_neq(tn_ioloop_call_later(loop, 20, poll_alive, NULL), 0);
    tn_test_run(loop, 10000);
    cr_assert_eq(r.exits, 0, "a freed subprocess calls nobody");
#ifndef _WIN32
    /* Reaped already: no zombie left for us to collect. */
    int st;
    cr_assert_eq(waitpid(pid, &st, WNOHANG), -1);
    cr_assert_eq(errno, ECHILD);
#else
    (void)pid;
#endif
    tn_test_close(loop, 0);
}

Test(process, loop_close_all_reports_eclosed)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    run_t r = {.loop = loop};
    cr_assert_eq(spawn_child(loop, "sleep", "TN_PROC_MS=20000", TN_STDIO_PIPE, TN_STDIO_PIPE,
                             TN_STDIO_IGNORE, &r.p),
                 0);
    int pid = tn_subprocess_pid(r.p);
    cr_assert_eq(tn_subprocess_set_exit_callback(r.p, on_exit_cb, &r), 0);
    cr_assert_eq(tn_ioloop_close(loop, 0), TN_EBUSY);
    cr_assert_eq(tn_ioloop_close(loop, TN_CLOSE_ALL_FDS), 0);
    cr_assert_eq(r.exits, 1);
    cr_assert_eq(r.exit_status_cb, TN_ECLOSED);
    tn_subprocess_free(r.p);
    cr_assert_eq(uv_kill(pid, SIGKILL), 0, "the child was left running");
}

Test(process, env_and_cwd)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    run_t r = {.loop = loop};
    char dir[1024];
    size_t len = sizeof(dir);
    cr_assert_eq(uv_os_tmpdir(dir, &len), 0);
    size_t plen = sizeof(self_path);
    cr_assert_eq(uv_exepath(self_path, &plen), 0);
    /* A minimal environment: just what the child needs to know. On
     * Windows the system variables come along (a process wants them). */
    const char *args[] = {self_path, NULL};
    const char *env[] = {"TN_PROC_CHILD=env", "TN_PROC_VAR=from the parent",
#ifdef _WIN32
                         "SystemRoot=C:\\windows",
#endif
                         NULL};
    tn_subprocess_options_t o = {.args = args, .env = env, .cwd = dir};
    o.out.mode = TN_STDIO_PIPE;
    cr_assert_eq(tn_subprocess_spawn(loop, &o, &r.p), 0);
    cr_assert_eq(tn_iostream_read_until_close(tn_subprocess_stdout(r.p), on_out_all, &r), 0);
    cr_assert_eq(tn_subprocess_set_exit_callback(r.p, on_exit_cb, &r), 0);
    tn_test_run(loop, 20000);
    char want[2048];
    snprintf(want, sizeof(want), "var=from the parent\ncwd=%s\n", dir);
    cr_assert_str_eq(r.out, want);
    tn_subprocess_free(r.p);
    tn_test_close(loop, 0);
    run_free(&r);
}

/* TN_STDIO_FD: the child's stdout is a file of ours. */
Test(process, stdout_to_a_given_fd)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    run_t r = {.loop = loop};
    char path[1100];
    char dir[1024];
    size_t len = sizeof(dir);
    cr_assert_eq(uv_os_tmpdir(dir, &len), 0);
    snprintf(path, sizeof(path), "%s/tn-proc-%d.txt", dir, (int)uv_os_getpid());
    uv_fs_t req;
    int fd = uv_fs_open(NULL, &req, path, UV_FS_O_CREAT | UV_FS_O_TRUNC | UV_FS_O_RDWR, 0600, NULL);
    uv_fs_req_cleanup(&req);
    cr_assert_geq(fd, 0);
    tn_subprocess_options_t o = {0};
    o.in.mode = TN_STDIO_IGNORE;
    o.out.mode = TN_STDIO_FD;
    o.out.fd = fd;
    o.err.mode = TN_STDIO_IGNORE;
    cr_assert_eq(spawn_opts(loop, "outerr", NULL, &o, &r.p), 0);
    cr_assert_eq(tn_subprocess_set_exit_callback(r.p, on_exit_cb, &r), 0);
    tn_test_run(loop, 20000);
    cr_assert_eq(r.exit_status, 0);
    char got[64] = {0};
    uv_buf_t b = uv_buf_init(got, sizeof(got) - 1);
    int n = uv_fs_read(NULL, &req, fd, &b, 1, 0, NULL);
    uv_fs_req_cleanup(&req);
    uv_fs_close(NULL, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    uv_fs_unlink(NULL, &req, path, NULL);
    uv_fs_req_cleanup(&req);
    cr_assert_eq(n, 7);
    cr_assert_str_eq(got, "to-out\n");
    tn_subprocess_free(r.p);
    tn_test_close(loop, 0);
}

/* ---- PipeIOStream ------------------------------------------------------- */

typedef struct {
    tn_iostream_t *reader, *writer;
    char got[64];
    size_t got_len;
    int first_status, all_status, closes, error;
} pipe_t;

static void on_pipe_rest(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    pipe_t *c = arg;
    c->all_status = status;
    c->error = tn_iostream_error(s);
    if (status == 0 && c->got_len + len < sizeof(c->got)) {
        memcpy(c->got + c->got_len, data, len);
        c->got_len += len;
    }
}

static void on_pipe_first(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    pipe_t *c = arg;
    c->first_status = status;
    memcpy(c->got, data, len);
    c->got_len = len;
    /* The writer closes once "def" is handed over: the reader gets it,
     * then a clean end of file. */
    cr_assert_eq(tn_iostream_write(c->writer, "def", 3, on_stdin_written, NULL), 0);
    cr_assert_eq(tn_iostream_read_until_close(s, on_pipe_rest, c), 0);
}

static void on_pipe_closed(tn_iostream_t *s, void *arg)
{
    (void)s;
    pipe_t *c = arg;
    if (++c->closes == 2)
        tn_ioloop_stop(tn_iostream_loop(s));
}

Test(process, pipe_pair_streams)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int fds[2];
    cr_assert_eq(tn_pipe_pair(fds), 0);
    pipe_t c = {0};
    cr_assert_eq(tn_pipe_stream_open(loop, fds[0], NULL, &c.reader), 0);
    cr_assert_eq(tn_pipe_stream_open(loop, fds[1], NULL, &c.writer), 0);
    tn_iostream_set_close_callback(c.reader, on_pipe_closed, &c);
    tn_iostream_set_close_callback(c.writer, on_pipe_closed, &c);
    cr_assert_eq(tn_iostream_write(c.writer, "abc", 3, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_read_bytes(c.reader, 3, 0, on_pipe_first, &c), 0);
    tn_test_run(loop, 10000);
    cr_assert_eq(c.first_status, 0);
    cr_assert_eq(c.all_status, 0);
    cr_assert_eq(c.error, 0, "the writer's close is a clean end");
    cr_assert_eq(c.got_len, 6);
    cr_assert_eq(memcmp(c.got, "abcdef", 6), 0);
    tn_test_close(loop, 0);
}

Test(process, pipe_stream_refuses_non_pipes)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    char dir[1024], path[1100];
    size_t len = sizeof(dir);
    cr_assert_eq(uv_os_tmpdir(dir, &len), 0);
    snprintf(path, sizeof(path), "%s/tn-proc-file-%d", dir, (int)uv_os_getpid());
    uv_fs_t req;
    int fd = uv_fs_open(NULL, &req, path, UV_FS_O_CREAT | UV_FS_O_RDWR, 0600, NULL);
    uv_fs_req_cleanup(&req);
    cr_assert_geq(fd, 0);
    tn_iostream_t *s = NULL;
    cr_assert_eq(tn_pipe_stream_open(loop, fd, NULL, &s), TN_EINVAL, "a regular file");
    cr_assert_eq(tn_pipe_stream_open(loop, -1, NULL, &s), TN_EINVAL);
    cr_assert_null(s);
    uv_fs_close(NULL, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    uv_fs_unlink(NULL, &req, path, NULL);
    uv_fs_req_cleanup(&req);
    tn_test_close(loop, 0);
}
