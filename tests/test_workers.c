/* Workers: N loops on N threads accepting on one port (REUSEPORT and the
 * shared-socket mode Windows uses), graceful stop, signals, a failed start;
 * and tn_fork_processes with Tornado's restart rules. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../examples/demo_app.h"
#include "loop_util.h"
#include "net_peer.h"
#include "tornuv.h"

#define MAXW 4

static tn_httpserver_t *g_srv[MAXW];
static tn_ioloop_t *g_loop_of[MAXW];
static int g_served[MAXW]; /* requests answered per worker (atomic) */
static int g_stopped_calls;
static int g_on_stopped;
static int g_fail_index = -1;

static void on_slow_reply(tn_ioloop_t *loop, void *arg)
{
    (void)loop;
    tn_http_response_send(arg, 200, "text/plain", "slow", 4);
}

static void on_request(tn_http_request_t *req, void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    size_t n;
    const char *path = tn_http_request_path(req, &n);
    /* The request arrived on this worker's own loop. */
    if (tn_http_request_loop(req) != g_loop_of[i])
        return;
    __atomic_add_fetch(&g_served[i], 1, __ATOMIC_SEQ_CST);
    if (n == 5 && memcmp(path, "/slow", 5) == 0) {
        tn_ioloop_call_later(tn_http_request_loop(req), 300, on_slow_reply, req);
        return;
    }
    char body[32];
    int k = snprintf(body, sizeof body, "worker %u", i);
    tn_http_response_send(req, 200, "text/plain", body, (size_t)k);
}

static int on_start(tn_worker_t *w, void *arg)
{
    unsigned i = tn_worker_index(w);
    (void)arg;
    if ((int)i == g_fail_index)
        return TN_EINVAL;
    g_loop_of[i] = tn_worker_loop(w);
    tn_httpserver_options_t o = {.request_cb = on_request, .request_arg = (void *)(uintptr_t)i};
    int err = tn_httpserver_new(tn_worker_loop(w), &o, &g_srv[i]);
    if (err == 0 && (err = tn_worker_listen_http(w, g_srv[i])) != 0) {
        tn_httpserver_free(g_srv[i], NULL, NULL);
        g_srv[i] = NULL;
    }
    return err;
}

static void on_stop(tn_worker_t *w, void *arg)
{
    unsigned i = tn_worker_index(w);
    (void)arg;
    __atomic_add_fetch(&g_stopped_calls, 1, __ATOMIC_SEQ_CST);
    tn_httpserver_free(g_srv[i], NULL, NULL);
    g_srv[i] = NULL;
}

static void on_stopped(tn_workers_t *ws, void *arg)
{
    (void)ws;
    (void)arg;
    g_on_stopped++;
}

/* One request on a fresh connection; returns the response's first line
 * status (200) or -1. */
static int get(int port, const char *path)
{
    int fd = tn_peer_connect(AF_INET, port, NULL);
    if (fd < 0)
        return -1;
    char req[128], buf[1024];
    int n =
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (send(fd, req, (size_t)n, 0) != n) {
        tn_test_close_fd(fd);
        return -1;
    }
    size_t have = 0;
    ssize_t r;
    while (have < sizeof buf - 1 && (r = recv(fd, buf + have, sizeof buf - 1 - have, 0)) > 0)
        have += (size_t)r;
    buf[have] = 0;
    tn_test_close_fd(fd);
    return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 200 : -1;
}

static tn_workers_t *start(tn_ioloop_t *main, unsigned count, int mode)
{
    tn_workers_options_t o = {.count = count,
                              .address = "127.0.0.1",
                              .mode = mode,
                              .on_start = on_start,
                              .on_stop = on_stop,
                              .on_stopped = on_stopped,
                              .grace_ms = 2000};
    tn_workers_t *ws = NULL;
    cr_assert_eq(tn_workers_start(main, &o, &ws), 0);
    cr_assert_eq(tn_workers_count(ws), count);
    cr_assert_gt(tn_workers_port(ws), 0);
    return ws;
}

static void stop_and_free(tn_ioloop_t *main, tn_workers_t *ws, unsigned count)
{
    cr_assert_eq(tn_workers_stop(ws), 0);
    cr_assert_eq(tn_workers_stop(ws), TN_EALREADY);
    double t0 = tn_test_now_ms();
    while (!g_on_stopped && tn_test_now_ms() - t0 < 10000)
        tn_test_settle(main, 10);
    cr_assert_eq(g_on_stopped, 1, "on_stopped ran once");
    cr_assert_eq(__atomic_load_n(&g_stopped_calls, __ATOMIC_SEQ_CST), (int)count);
    for (unsigned i = 0; i < count; i++)
        cr_assert_null(tn_workers_loop(ws, i), "worker %u ended", i);
    int port = tn_workers_port(ws);
    tn_workers_free(ws);
    cr_assert_eq(get(port, "/"), -1, "nothing listens any more");
    tn_test_close(main, 0);
}

static void serve_on_both(int mode)
{
    tn_ioloop_t *main = tn_test_loop_new();
    tn_workers_t *ws = start(main, 2, mode);
    int port = tn_workers_port(ws);
    for (unsigned i = 0; i < 2; i++)
        cr_assert_eq(tn_workers_loop(ws, i), g_loop_of[i]);
    int ok = 0;
    for (int i = 0; i < 200; i++)
        ok += get(port, "/") == 200;
    cr_assert_eq(ok, 200, "every request was answered");
    int a = __atomic_load_n(&g_served[0], __ATOMIC_SEQ_CST);
    int b = __atomic_load_n(&g_served[1], __ATOMIC_SEQ_CST);
    cr_assert_eq(a + b, 200, "each request on its worker's own loop (%d + %d)", a, b);
    cr_assert(a > 0 && b > 0, "both loops accepted connections (%d and %d)", a, b);
    stop_and_free(main, ws, 2);
}

Test(workers, two_workers_share_one_port_with_reuseport, .timeout = 60)
{
    serve_on_both(TN_WORKERS_AUTO);
}

Test(workers, two_workers_share_one_listening_socket, .timeout = 60)
{
    serve_on_both(TN_WORKERS_SHARED);
}

typedef struct {
    int port;
    int status;
    volatile int done;
} slow_client_t;

static void *slow_main(void *arg)
{
    slow_client_t *c = arg;
    c->status = get(c->port, "/slow");
    c->done = 1;
    return NULL;
}

Test(workers, stop_lets_requests_in_flight_finish, .timeout = 60)
{
    tn_ioloop_t *main = tn_test_loop_new();
    tn_workers_t *ws = start(main, 2, TN_WORKERS_AUTO);
    static slow_client_t c;
    c.port = tn_workers_port(ws);
    pthread_t t;
    pthread_create(&t, NULL, slow_main, &c);
    while (__atomic_load_n(&g_served[0], __ATOMIC_SEQ_CST) +
               __atomic_load_n(&g_served[1], __ATOMIC_SEQ_CST) ==
           0)
        tn_test_sleep_ms(5);
    /* The slow request is in its handler: stop now. */
    stop_and_free(main, ws, 2);
    pthread_join(t, NULL);
    cr_assert_eq(c.status, 200, "the request in flight got its response");
}

Test(workers, sigterm_stops_them_gracefully, .timeout = 60)
{
    tn_ioloop_t *main = tn_test_loop_new();
    tn_workers_options_t o = {.count = 2,
                              .address = "127.0.0.1",
                              .on_start = on_start,
                              .on_stop = on_stop,
                              .on_stopped = on_stopped,
                              .stop_on_signals = 1};
    tn_workers_t *ws = NULL;
    cr_assert_eq(tn_workers_start(main, &o, &ws), 0);
    cr_assert_eq(get(tn_workers_port(ws), "/"), 200);
    kill(getpid(), SIGTERM);
    double t0 = tn_test_now_ms();
    while (!g_on_stopped && tn_test_now_ms() - t0 < 10000)
        tn_test_settle(main, 10);
    cr_assert_eq(g_on_stopped, 1);
    cr_assert_eq(g_stopped_calls, 2);
    cr_assert_eq(tn_workers_stop(ws), TN_EALREADY);
    tn_workers_free(ws);
    tn_test_close(main, 0);
}

Test(workers, a_failed_start_stops_the_others_and_frees_the_port, .timeout = 60)
{
    tn_ioloop_t *main = tn_test_loop_new();
    g_fail_index = 1;
    tn_workers_options_t o = {.count = 2,
                              .address = "127.0.0.1",
                              .on_start = on_start,
                              .on_stop = on_stop,
                              .on_stopped = on_stopped};
    tn_workers_t *ws = (tn_workers_t *)&o;
    cr_assert_eq(tn_workers_start(main, &o, &ws), TN_EINVAL);
    cr_assert_eq(ws, (tn_workers_t *)&o, "*out untouched on failure");
    cr_assert_eq(g_stopped_calls, 1, "worker 0 was stopped (its on_stop ran)");
    tn_test_settle(main, 20);
    cr_assert_eq(g_on_stopped, 0, "no on_stopped for workers that never started");
    tn_test_close(main, 0);
}

Test(workers, bad_options)
{
    tn_ioloop_t *main = tn_test_loop_new();
    tn_workers_t *ws = NULL;
    tn_workers_options_t o = {.count = 1};
    cr_assert_eq(tn_workers_start(main, &o, &ws), TN_EINVAL, "on_start is required");
    o.on_start = on_start;
    cr_assert_eq(tn_workers_start(NULL, &o, &ws), TN_EINVAL);
    o.port = 70000;
    cr_assert_eq(tn_workers_start(main, &o, &ws), TN_EINVAL);
    o.port = 0;
    o.mode = 7;
    cr_assert_eq(tn_workers_start(main, &o, &ws), TN_EINVAL);
    tn_test_close(main, 0);
}

/* ---- tn_fork_processes ---------------------------------------------------- */

/* Child 1 fails the first time (exit 3) and is restarted with the same
 * task id; everyone then exits 0 and the parent returns -1. */
Test(workers, fork_processes_restarts_a_failed_child, .timeout = 60)
{
    char marker[] = "/tmp/tn_fork_XXXXXX";
    int mfd = mkstemp(marker);
    cr_assert(mfd >= 0);
    close(mfd);
    unlink(marker);
    cr_assert_eq(tn_task_id(), -1);
    int id = -2;
    int rc = tn_fork_processes(2, 5, &id);
    if (id >= 0) {
        /* a child: never return into Criterion */
        if (tn_task_id() != id)
            _exit(9);
        if (id == 1 && access(marker, F_OK) != 0) {
            FILE *f = fopen(marker, "w");
            if (f)
                fclose(f);
            _exit(3);
        }
        _exit(0);
    }
    cr_assert_eq(rc, 0);
    cr_assert_eq(id, -1, "the parent returns -1 once all children exited 0");
    cr_assert_eq(access(marker, F_OK), 0, "child 1 ran twice: failed, restarted");
    unlink(marker);
    cr_assert_eq(tn_fork_processes(2, 5, &id), TN_EALREADY);
}

Test(workers, fork_processes_gives_up_after_max_restarts, .timeout = 60)
{
    int id = -2;
    int rc = tn_fork_processes(1, 2, &id);
    if (id >= 0)
        _exit(1); /* always fails */
    cr_assert_eq(rc, TN_ECALLBACK, "three failures exceed two restarts");
    cr_assert_eq(id, -1);
}

/* ---- the demo's chat across workers ---------------------------------------- */

static tn_app_t *g_app[MAXW];

static void on_demo_freed(void *arg)
{
    tn_app_free(arg);
}

static int demo_start(tn_worker_t *w, void *arg)
{
    unsigned i = tn_worker_index(w);
    (void)arg;
    int err = demo_app_new(NULL, "s", &g_app[i]);
    if (err != 0)
        return err;
    tn_httpserver_options_t o = {.request_cb = tn_app_request_cb, .request_arg = g_app[i]};
    if ((err = tn_httpserver_new(tn_worker_loop(w), &o, &g_srv[i])) == 0 &&
        (err = tn_worker_listen_http(w, g_srv[i])) != 0)
        tn_httpserver_free(g_srv[i], NULL, NULL);
    return err;
}

static void demo_stop(tn_worker_t *w, void *arg)
{
    unsigned i = tn_worker_index(w);
    (void)arg;
    __atomic_add_fetch(&g_stopped_calls, 1, __ATOMIC_SEQ_CST);
    demo_chat_close();
    tn_httpserver_free(g_srv[i], on_demo_freed, g_app[i]);
}

#define POLLERS 16

typedef struct {
    int port;
    int got; /* the message arrived */
} poller_t;

static void *poller_main(void *arg)
{
    poller_t *p = arg;
    int fd = tn_peer_connect(AF_INET, p->port, NULL);
    if (fd < 0)
        return NULL;
    static const char req[] = "POST /chat/updates HTTP/1.1\r\nHost: x\r\nContent-Type: "
                              "application/x-www-form-urlencoded\r\nContent-Length: 8\r\n"
                              "Connection: close\r\n\r\ncursor=0";
    char buf[2048];
    size_t have = 0;
    ssize_t r;
    if (send(fd, req, sizeof req - 1, 0) == (ssize_t)(sizeof req - 1))
        while (have < sizeof buf - 1 && (r = recv(fd, buf + have, sizeof buf - 1 - have, 0)) > 0)
            have += (size_t)r;
    buf[have] = 0;
    p->got = strstr(buf, "\"body\":\"across\"") != NULL;
    tn_test_close_fd(fd);
    return NULL;
}

/* Long polls spread over both workers all receive a message posted on one
 * of them: the chat is shared (guarded), each loop answering its own. */
Test(workers, demo_chat_reaches_polls_on_every_worker, .timeout = 60)
{
    tn_ioloop_t *main = tn_test_loop_new();
    tn_workers_options_t o = {.count = 2,
                              .address = "127.0.0.1",
                              .on_start = demo_start,
                              .on_stop = demo_stop,
                              .on_stopped = on_stopped};
    tn_workers_t *ws = NULL;
    cr_assert_eq(tn_workers_start(main, &o, &ws), 0);
    static poller_t p[POLLERS];
    pthread_t t[POLLERS];
    for (int i = 0; i < POLLERS; i++) {
        p[i].port = tn_workers_port(ws);
        pthread_create(&t[i], NULL, poller_main, &p[i]);
    }
    tn_test_sleep_ms(500); /* the polls are waiting */
    int fd = tn_peer_connect(AF_INET, tn_workers_port(ws), NULL);
    cr_assert(fd >= 0);
    static const char post[] = "POST /chat/new HTTP/1.1\r\nHost: x\r\nContent-Type: "
                               "application/x-www-form-urlencoded\r\nContent-Length: 11\r\n"
                               "Connection: close\r\n\r\nbody=across";
    cr_assert_eq(send(fd, post, sizeof post - 1, 0), (ssize_t)(sizeof post - 1));
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    cr_assert(n > 0);
    tn_test_close_fd(fd);
    int got = 0;
    for (int i = 0; i < POLLERS; i++) {
        pthread_join(t[i], NULL);
        got += p[i].got;
    }
    cr_assert_eq(got, POLLERS, "%d of %d polls got the message", got, POLLERS);
    stop_and_free(main, ws, 2);
}
