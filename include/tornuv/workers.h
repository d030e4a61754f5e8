/* Workers: N loops on N threads serving one port, and Tornado's
 * fork_processes for those who want processes instead.
 *
 * Each worker is a thread with its own IOLoop (its own libuv loop) and its
 * own copy of the servers, set up there by the user's on_start callback; the
 * servers listen with tn_worker_listen_http / tn_worker_listen_tcp, which
 * make every worker accept on the same port:
 *   - Linux (and other systems with a balancing SO_REUSEPORT): one listening
 *     socket per worker with SO_REUSEPORT, the kernel spreads connections;
 *   - elsewhere (Windows, macOS): one listening socket, shared: worker 0
 *     binds it and every other worker listens on a duplicate of it
 *     (dup / WSADuplicateSocket), each loop accepting from the same queue.
 * A worker's objects belong to its loop and thread, as always; application
 * state shared between workers needs the application's own locking.
 * Process-wide: the allocator (must be thread-safe), the log handler, libuv's
 * thread pool (static files and run_in_executor of every worker share it). */
#ifndef TORNUV_WORKERS_H
#define TORNUV_WORKERS_H

#include "tornuv/common.h"
#include "tornuv/httpserver.h"
#include "tornuv/ioloop.h"
#include "tornuv/tcpserver.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_workers_s tn_workers_t;
typedef struct tn_worker_s tn_worker_t;

/** On the worker's own thread, its loop created and not yet running: create
 * the worker's servers and listen them with tn_worker_listen_http / _tcp.
 * Return 0, or an error code to make tn_workers_start fail. */
typedef int (*tn_worker_start_cb)(tn_worker_t *worker, void *arg);
/** On the worker's thread when it stops, after its HTTP servers closed their
 * connections (or the grace period ran out): free what on_start created
 * (servers, applications). The loop then closes with TN_CLOSE_ALL_FDS, which
 * completes asynchronous frees begun here. */
typedef void (*tn_worker_stop_cb)(tn_worker_t *worker, void *arg);
/** On the main loop, once every worker thread has ended. */
typedef void (*tn_workers_stopped_cb)(tn_workers_t *workers, void *arg);

/** How workers share the port. */
enum {
    TN_WORKERS_AUTO = 0,  /* REUSEPORT on Linux, SHARED elsewhere */
    TN_WORKERS_REUSEPORT, /* one SO_REUSEPORT socket per worker; TN_ENOTSUP where absent */
    TN_WORKERS_SHARED     /* one socket, a duplicate per worker */
};

#define TN_WORKERS_DEFAULT_GRACE_MS 5000

typedef struct {
    /** Worker threads; 0 = one per available CPU. */
    unsigned count;
    /** The port every worker listens on; 0 lets the system pick one (worker
     * 0 binds first, the others take its port; see tn_workers_port). */
    int port;
    /** As tn_tcpserver_listen: NULL or "" for every interface. */
    const char *address;
    /** TN_WORKERS_AUTO (0), _REUSEPORT or _SHARED. */
    int mode;
    /** Required. */
    tn_worker_start_cb on_start;
    /** Optional. */
    tn_worker_stop_cb on_stop;
    void *arg;
    /** Deadline given to tn_httpserver_close_all_connections at stop;
     * 0 = TN_WORKERS_DEFAULT_GRACE_MS. */
    uint64_t grace_ms;
    /** Nonzero: SIGINT and SIGTERM on the main loop begin tn_workers_stop. */
    int stop_on_signals;
    /** Optional: called on the main loop once every worker ended. */
    tn_workers_stopped_cb on_stopped;
    void *stopped_arg;
} tn_workers_options_t;

/** Starts the workers and returns once every worker's on_start has run
 * (worker 0 first, so a port picked by the system is known to the others).
 * main_loop (any loop of the calling thread) receives the end of the
 * workers and the signals; it must outlive them. If any on_start fails, the
 * workers already started are stopped and joined, nothing is left running
 * and the first error is returned. opts is copied (address too).
 * Returns 0, TN_EINVAL (no on_start, main_loop NULL), TN_ENOTSUP
 * (TN_WORKERS_REUSEPORT where there is none), TN_ENOMEM, or an error of
 * on_start, of a listen or of thread creation.
 * Tornado: HTTPServer.start(n) / bind_sockets + add_sockets with reuse_port,
 * but threads, each with its own IOLoop. */
TN_EXTERN int tn_workers_start(tn_ioloop_t *main_loop, const tn_workers_options_t *opts,
                               tn_workers_t **out);

/** Begins a graceful stop of every worker, from the main loop's thread:
 * each stops accepting, closes its HTTP servers' connections (idle ones at
 * once, busy ones after their response, all at grace_ms), runs on_stop,
 * closes its loop and ends; on_stopped then runs on the main loop, never
 * inside this call. Returns 0 or TN_EALREADY (a stop is under way or done).
 * Tornado: none (IOLoop.stop on each loop, then
 * HTTPServer.close_all_connections). */
TN_EXTERN int tn_workers_stop(tn_workers_t *workers);

/** Frees the workers: only after on_stopped ran (or to give up on workers
 * that failed to start, never the case after tn_workers_start returned 0
 * and before they stopped). Joins the threads. NULL is ignored.
 * Tornado: none. */
TN_EXTERN void tn_workers_free(tn_workers_t *workers);

/** The port the workers listen on (the one the system picked for port 0),
 * or 0 before any worker listened.
 * Tornado: none (sockets[0].getsockname()[1]). */
TN_EXTERN int tn_workers_port(const tn_workers_t *workers);

/** Number of workers. Tornado: tornado.process.cpu_count() for n = 0. */
TN_EXTERN unsigned tn_workers_count(const tn_workers_t *workers);

/** The loop of worker i (i < count), e.g. to compare with
 * tn_http_request_loop; NULL once it ended. Tornado: none. */
TN_EXTERN tn_ioloop_t *tn_workers_loop(const tn_workers_t *workers, unsigned i);

/** The worker's loop (on its thread). Tornado: IOLoop.current() there. */
TN_EXTERN tn_ioloop_t *tn_worker_loop(const tn_worker_t *worker);

/** The worker's index, 0 .. count-1. Tornado: tornado.process.task_id(). */
TN_EXTERN unsigned tn_worker_index(const tn_worker_t *worker);

/** Listens server (created on the worker's loop) on the workers' port, the
 * way the workers share it (see above), and registers it for the graceful
 * stop (stop accepting, close_all_connections with grace_ms). Call from
 * on_start; the server stays the caller's to free (in on_stop).
 * Returns 0, TN_EINVAL, or a listen error (TN_ENOTSUP, EADDRINUSE...).
 * Tornado: HTTPServer.listen(port, address, reuse_port=True) / add_sockets. */
TN_EXTERN int tn_worker_listen_http(tn_worker_t *worker, tn_httpserver_t *server);

/** The same for a TCPServer (stopped from accepting at stop; its
 * connections are the application's to end in on_stop).
 * Tornado: TCPServer.listen(port, address, reuse_port=True) / add_sockets. */
TN_EXTERN int tn_worker_listen_tcp(tn_worker_t *worker, tn_tcpserver_t *server);

/** Unix only: forks n child processes (0 = one per CPU) and returns in each
 * child with *task_id set to its index (0 .. n-1) and 0. The parent stays
 * here supervising: a child killed by a signal or exiting non-zero is
 * restarted with the same task id (at most max_restarts times in all;
 * negative = 100, Tornado's default); a child exiting 0 is not. When every
 * child has exited 0 the parent returns 0 with *task_id = -1 (Tornado exits
 * the parent there; a C program decides itself). Call it before creating
 * any loop or thread: a child inherits nothing usable of them.
 * Returns TN_ENOTSUP on Windows, TN_EALREADY when called twice,
 * TN_ECALLBACK in the parent after too many restarts, or a fork error.
 * Tornado: tornado.process.fork_processes(num_processes, max_restarts). */
TN_EXTERN int tn_fork_processes(unsigned n, int max_restarts, int *task_id);

/** The task id of this process set by tn_fork_processes, or -1.
 * Tornado: tornado.process.task_id(). */
TN_EXTERN int tn_task_id(void);

#ifdef __cplusplus
}
#endif

#endif /* TORNUV_WORKERS_H */
