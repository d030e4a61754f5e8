/* tornuv testing helpers: Tornado's tornado.testing for C, independent of any
 * test runner (Criterion, cmocka, Unity, plain assert all work: nothing here
 * asserts, every helper returns a code the test checks its own way).
 *
 *   - run the loop until a condition holds or a time budget runs out
 *     (AsyncTestCase.wait / gen_test's timeout);
 *   - bind an unused loopback port (bind_unused_port);
 *   - a connected pair of in-memory IOStreams (deterministic: no sockets);
 *   - an HTTP server on an ephemeral 127.0.0.1 port with a small synchronous
 *     fetch (AsyncHTTPTestCase.get_app / fetch / get_url);
 *   - capture of tornuv's log lines (ExpectLog);
 *   - allocation-failure injection (the N-th allocation fails), the sweep
 *     tornuv's own fault tests run.
 * Loop thread only, except where said. */
#ifndef TORNUV_TESTING_H
#define TORNUV_TESTING_H

#include "common.h"
#include "httpserver.h"
#include "ioloop.h"
#include "iostream.h"
#include "web.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- time budgets and running the loop ---------------------------------- */

/** The default budget of an asynchronous test in ms: TORNUV_TEST_TIMEOUT_MS
 * if set, else ASYNC_TEST_TIMEOUT (seconds, as Tornado reads it, fractions
 * allowed), else 5000.
 * Tornado: testing.get_async_test_timeout(). */
TN_EXTERN uint64_t tn_testing_timeout_ms(void);

/** A condition polled by tn_testing_run_until: nonzero when satisfied. */
typedef int (*tn_testing_cond_fn)(void *arg);

/** Runs the loop until cond(arg) is nonzero, checked before starting and
 * after every loop iteration, or until timeout_ms (0 = the default budget)
 * elapsed. Returns 0 when the condition held, TN_ETIMEOUT (after logging
 * "async operation timed out after N ms" at WARN) otherwise; the loop is
 * left stopped and reusable either way. TN_EINVAL for a running or
 * attached loop.
 * Tornado: AsyncTestCase.wait(condition, timeout). */
TN_EXTERN int tn_testing_run_until(tn_ioloop_t *loop, tn_testing_cond_fn cond, void *arg,
                                   uint64_t timeout_ms);

/** tn_ioloop_run_sync with the default budget when timeout_ms is 0: fn
 * starts the work and calls tn_sync_done(sync, status) when it finished.
 * Returns that status, or TN_ETIMEOUT.
 * Tornado: gen_test(timeout) / IOLoop.run_sync. */
TN_EXTERN int tn_testing_run(tn_ioloop_t *loop, tn_sync_fn fn, void *arg, uint64_t timeout_ms);

/** Closes a loop the way a test's teardown should: *leaked (may be NULL)
 * gets the number of objects still alive on it (what close(0) would have
 * refused), then everything is closed (TN_CLOSE_ALL_FDS) and the loop freed.
 * Returns 0, or the error of tn_ioloop_close.
 * Tornado: AsyncTestCase.tearDown (io_loop.close(all_fds=True)). */
TN_EXTERN int tn_testing_loop_close(tn_ioloop_t *loop, size_t *leaked);

/* ---- ports and in-memory streams --------------------------------------- */

/** Binds a TCP socket to address (NULL = "127.0.0.1"; a numeric address,
 * never resolved) on an ephemeral port and listens (backlog 128). *sock
 * gets the socket (the caller's: give it to tn_tcpserver_add_socket, or
 * close it), *port the port. Returns 0, TN_EINVAL, or a system error.
 * Tornado: testing.bind_unused_port(). */
TN_EXTERN int tn_testing_bind_unused_port(const char *address, tn_socket_t *sock, int *port);

/** Closes a socket from tn_testing_bind_unused_port (close/closesocket).
 * Tornado: socket.close(). */
TN_EXTERN void tn_testing_close_socket(tn_socket_t sock);

/** Options of an in-memory stream pair; zero fields take the defaults. */
typedef struct {
    tn_iostream_options_t stream_options; /**< for both streams */
    size_t capacity;    /**< bytes in flight per direction before writes wait; 0 = 64 KiB */
    size_t max_segment; /**< at most this many bytes per delivery; 0 = capacity. 1 splits
                             the input at every byte boundary */
} tn_testing_pair_options_t;

/** Creates two IOStreams connected to each other in memory, like a
 * socketpair with no socket: what one writes the other reads, in order,
 * delivered on later loop drains. A direction holds at most capacity
 * bytes: past it a write stays queued in the writer (tn_iostream_writing,
 * tn_iostream_write_buffered) until the reader consumes, so back-pressure
 * and max_write_buffer_size behave as over TCP. shutdown gives the peer
 * end of file; close gives the peer end of file too (its buffered bytes are
 * still delivered). Each stream is freed after its close callback, as any
 * stream. remote_address reports 127.0.0.1 and port 0. Returns 0,
 * TN_EINVAL, TN_ENOMEM, TN_EDETACHED.
 * Tornado: none (socket.socketpair() + two IOStreams). */
TN_EXTERN int tn_testing_stream_pair(tn_ioloop_t *loop, const tn_testing_pair_options_t *opts,
                                     tn_iostream_t **a, tn_iostream_t **b);

/* ---- HTTP test server ---------------------------------------------------- */

typedef struct tn_testing_http_s tn_testing_http_t;

/** Starts an HTTP server on 127.0.0.1 and an ephemeral port: with opts (may
 * be NULL; copied) and, when app is not NULL, serving app (as
 * tn_app_listen: the request callback is replaced). opts must then name a
 * request_cb or delegate itself. app is the caller's and must outlive the
 * server. Returns 0, TN_EINVAL, TN_ENOMEM, or a listen error.
 * Tornado: AsyncHTTPTestCase.setUp (get_app, get_httpserver_options). */
TN_EXTERN int tn_testing_http_start(tn_ioloop_t *loop, tn_app_t *app,
                                    const tn_httpserver_options_t *opts, tn_testing_http_t **out);

/** The server's port. Tornado: AsyncHTTPTestCase.get_http_port(). */
TN_EXTERN int tn_testing_http_port(const tn_testing_http_t *t);

/** The server. Tornado: AsyncHTTPTestCase.http_server. */
TN_EXTERN tn_httpserver_t *tn_testing_http_server(const tn_testing_http_t *t);

/** Writes "http://127.0.0.1:PORT" + path into buf (NUL-terminated).
 * Returns the length, or TN_EBUFFULL.
 * Tornado: AsyncHTTPTestCase.get_url(path). */
TN_EXTERN long tn_testing_http_url(const tn_testing_http_t *t, const char *path, char *buf,
                                   size_t cap);

/** A response from tn_testing_http_fetch. All memory is the response's,
 * released by tn_testing_response_clear. */
typedef struct {
    int code;   /**< HTTP status, or 599 when no response came */
    int error;  /**< 0, or why there is no response (TN_ETIMEOUT, -ECONNREFUSED,
                     TN_EHTTP for a malformed one, ...) */
    char *head; /**< status line and headers, NUL-terminated */
    size_t head_len;
    char *body; /**< the body (chunked encoding removed), NUL-terminated */
    size_t body_len;
} tn_testing_response_t;

/** Sends one request to the test server on a new connection and runs the
 * loop until the whole response arrived or timeout_ms (0 = the default
 * budget) elapsed. method and path are sent as given; headers (may be
 * NULL) are extra "Name: value\r\n" lines; body (len bytes, may be NULL)
 * gets a Content-Length. The request says Connection: close; the response
 * is read to the connection's end, de-chunked if it was chunked. Returns
 * 0 with *resp filled (resp->code the status), or like resp->error; resp
 * is filled either way (code 599 on error) and must be cleared. Must not be
 * called from a loop callback.
 * Tornado: AsyncHTTPTestCase.fetch(path, raise_error=False, method, body, headers). */
TN_EXTERN int tn_testing_http_fetch(tn_testing_http_t *t, const char *method, const char *path,
                                    const char *headers, const char *body, size_t len,
                                    uint64_t timeout_ms, tn_testing_response_t *resp);

/** The value of header name (case-insensitive) in resp->head, copied into
 * buf (NUL-terminated). Returns its length, TN_ENOTFOUND, or TN_EBUFFULL.
 * Tornado: HTTPResponse.headers[name]. */
TN_EXTERN long tn_testing_response_header(const tn_testing_response_t *resp, const char *name,
                                          char *buf, size_t cap);

/** Frees a response's memory (and zeroes it). Tornado: none. */
TN_EXTERN void tn_testing_response_clear(tn_testing_response_t *resp);

/** Stops the server, closes its connections (at most timeout_ms, 0 = the
 * default budget, for busy ones), frees it, and runs the loop until that
 * finished. Returns 0 or TN_ETIMEOUT. Not from a loop callback.
 * Tornado: AsyncHTTPTestCase.tearDown. */
TN_EXTERN int tn_testing_http_stop(tn_testing_http_t *t, uint64_t timeout_ms);

/* ---- ExpectLog ------------------------------------------------------------ */

typedef struct tn_expect_log_s tn_expect_log_t;

/** Starts capturing tornuv's log lines: a line whose level is level (0 =
 * any) and whose message matches pattern (a PCRE2 regex anchored at the
 * start of the message, as Python's re.match) is counted and suppressed;
 * every other line goes on to the handler that was installed before. Scopes
 * nest: end them in reverse order. Thread-safe with respect to logging
 * (the thread pool may log); begin and end on one thread. Returns 0,
 * TN_EINVAL (pattern does not compile), TN_ENOMEM.
 * Tornado: ExpectLog(logger, regex, required, level).__enter__. */
TN_EXTERN int tn_expect_log_begin(int level, const char *pattern, int required,
                                  tn_expect_log_t **out);

/** Number of lines matched so far. Tornado: ExpectLog.matched. */
TN_EXTERN size_t tn_expect_log_count(const tn_expect_log_t *e);

/** Ends the scope, restores the previous handler and frees e. Returns 0, or
 * TN_ENOTFOUND when required and nothing matched.
 * Tornado: ExpectLog.__exit__ ("did not get expected log message"). */
TN_EXTERN int tn_expect_log_end(tn_expect_log_t *e);

/* ---- allocation failures ---------------------------------------------------- */

/** Makes tornuv's allocator fail once: the next n allocations succeed and
 * the one after returns NULL (n = 0: the very next one); n < 0 turns
 * injection off. The first call installs a counting allocator over the C
 * library's (tn_replace_allocator; it stays installed and passes through
 * when off). Any thread.
 * Tornado: none (tornuv's fault sweeps: FAULTS.md F17). */
TN_EXTERN void tn_testing_fail_alloc_after(long n);

/** With on, allocations neither fail nor count towards the failure set by
 * tn_testing_fail_alloc_after (a test's own scaffolding between the
 * library calls under test); off resumes where it was. Any thread.
 * Tornado: none. */
TN_EXTERN void tn_testing_alloc_pause(int on);

/** Nonzero once the failure set by tn_testing_fail_alloc_after happened
 * (reset by the next call). A sweep runs the scenario for n = 0, 1, 2, ...
 * until a run in which this stays 0. Tornado: none. */
TN_EXTERN int tn_testing_alloc_failed(void);

/** Allocations attempted through tornuv's allocator since the counting
 * allocator was installed. Tornado: none. */
TN_EXTERN long tn_testing_alloc_count(void);

/** Blocks allocated through the counting allocator and not freed yet (it
 * can be negative when blocks from before it was installed are freed).
 * Tornado: none. */
TN_EXTERN long tn_testing_live_allocations(void);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_TESTING_H */
