/* The echo_handlers example's server logic, driven with real loopback
 * clients: many concurrent clients, random write splits, every byte echoed. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <uv.h>

#include "../examples/echo_handlers_server.h"
#include "loop_util.h"
#include "sockpair.h"

TestSuite(echo_handlers, .timeout = 60);

#define CLIENT_THREADS 8
#define CLIENTS_PER_THREAD 8
#define BYTES_PER_CLIENT (96 * 1024)

typedef struct {
    tn_ioloop_t *loop;
    int port;
    unsigned seed;
    int errors;
    unsigned long long bytes;
} client_thread_t;

static int *done_threads;

static void on_thread_done(tn_ioloop_t *loop, void *arg)
{
    if (++*done_threads == CLIENT_THREADS)
        tn_ioloop_stop(loop);
}

static unsigned next_rand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 8;
}

static int recv_exact(tn_socket_t s, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        long n = tn_test_recv(s, buf + got, len - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* Sends the data in random pieces (sometimes several before reading back,
 * so the server sees both split and coalesced input) and checks the echo. */
static void run_client(client_thread_t *t, int half_close)
{
    static _Thread_local char out[BYTES_PER_CLIENT], in[BYTES_PER_CLIENT];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (char)next_rand(&t->seed);
    tn_socket_t s = tn_test_connect(t->port);
    size_t sent = 0, echoed = 0;
    while (sent < sizeof(out)) {
        int pieces = 1 + (int)(next_rand(&t->seed) % 3);
        for (int p = 0; p < pieces && sent < sizeof(out); p++) {
            size_t len = 1 + next_rand(&t->seed) % 3000;
            if (len > sizeof(out) - sent)
                len = sizeof(out) - sent;
            if (tn_test_send(s, out + sent, len) != (long)len) {
                t->errors++;
                tn_test_closesocket(s);
                return;
            }
            sent += len;
        }
        if (recv_exact(s, in + echoed, sent - echoed) != 0) {
            t->errors++;
            tn_test_closesocket(s);
            return;
        }
        echoed = sent;
    }
    if (memcmp(in, out, sizeof(out)) != 0)
        t->errors++;
    t->bytes += echoed;
    if (half_close) {
        /* After our FIN the server finishes and closes: we read EOF. */
        tn_test_shutdown_write(s);
        char c;
        if (tn_test_recv(s, &c, 1) != 0)
            t->errors++;
    }
    tn_test_closesocket(s);
}

static void client_thread(void *arg)
{
    client_thread_t *t = arg;
    for (int i = 0; i < CLIENTS_PER_THREAD; i++)
        run_client(t, i % 2);
    tn_ioloop_add_callback(t->loop, on_thread_done, NULL);
}

Test(echo_handlers, many_clients_random_splits_every_byte_echoed)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    echo_server_t server;
    cr_assert_eq(echo_server_start(&server, loop, "127.0.0.1", 0), 0);
    cr_assert_gt(server.port, 0);
    int done = 0;
    done_threads = &done;
    client_thread_t threads[CLIENT_THREADS];
    uv_thread_t th[CLIENT_THREADS];
    for (int i = 0; i < CLIENT_THREADS; i++) {
        threads[i] = (client_thread_t){loop, server.port, 1000u + (unsigned)i, 0, 0};
        cr_assert_eq(uv_thread_create(&th[i], client_thread, &threads[i]), 0);
    }
    tn_test_run(loop, 50000);
    unsigned long long total = 0;
    for (int i = 0; i < CLIENT_THREADS; i++) {
        uv_thread_join(&th[i]);
        cr_assert_eq(threads[i].errors, 0, "thread %d: %d errors", i, threads[i].errors);
        total += threads[i].bytes;
    }
    cr_assert_eq(total, (unsigned long long)CLIENT_THREADS * CLIENTS_PER_THREAD * BYTES_PER_CLIENT);
    cr_assert_eq(server.accepted, CLIENT_THREADS * CLIENTS_PER_THREAD);
    echo_server_stop(&server);
    tn_test_close(loop, 0);
}

/* A client that resets mid-stream and one that vanishes with data unread do
 * not disturb the server; it frees both and keeps serving. */
typedef struct {
    tn_ioloop_t *loop;
    int port;
    int ok;
} rude_t;

static void on_rude_done(tn_ioloop_t *loop, void *arg)
{
    tn_ioloop_stop(loop);
}

static void rude_thread(void *arg)
{
    rude_t *r = arg;
    static char big[1 << 20];
    tn_socket_t a = tn_test_connect(r->port);
    tn_test_send(a, "hello", 5);
    tn_test_reset(a);
    tn_socket_t b = tn_test_connect(r->port);
    tn_test_send(b, big, sizeof(big) / 4);
    tn_test_closesocket(b); /* echoes unread: server gets an error writing */
    tn_test_sleep_ms(50);
    tn_socket_t c = tn_test_connect(r->port);
    char buf[3];
    r->ok =
        tn_test_send(c, "abc", 3) == 3 && recv_exact(c, buf, 3) == 0 && memcmp(buf, "abc", 3) == 0;
    tn_test_closesocket(c);
    tn_ioloop_add_callback(r->loop, on_rude_done, NULL);
}

static void on_poll_clients(tn_ioloop_t *loop, void *arg)
{
    echo_server_t *s = arg;
    if (s->nclients == 0)
        tn_ioloop_stop(loop);
    else
        tn_ioloop_call_later(loop, 5, on_poll_clients, s);
}

Test(echo_handlers, resets_and_vanished_clients_are_cleaned_up)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    echo_server_t server;
    cr_assert_eq(echo_server_start(&server, loop, "127.0.0.1", 0), 0);
    rude_t r = {loop, server.port, 0};
    uv_thread_t th;
    cr_assert_eq(uv_thread_create(&th, rude_thread, &r), 0);
    tn_test_run(loop, 10000);
    uv_thread_join(&th);
    cr_assert(r.ok, "server stopped serving after rude clients");
    /* Wait until the server noticed every close. */
    tn_ioloop_add_callback(loop, on_poll_clients, &server);
    tn_test_run(loop, 5000);
    cr_assert_eq(server.nclients, 0);
    cr_assert_eq(server.accepted, 3);
    echo_server_stop(&server);
    tn_test_close(loop, 0);
}

#ifndef _WIN32
#include <sys/resource.h>

/* F15 for the example: out of fds, the listener is paused instead of making
 * the loop spin, and accepting resumes once fds are available again. */
static void on_stop_later(tn_ioloop_t *loop, void *arg)
{
    tn_ioloop_stop(loop);
}

static int open_fd_count(void)
{
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n = fd + 1;
    return n;
}

Test(echo_handlers, emfile_pauses_accepting_then_recovers)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    echo_server_t server;
    cr_assert_eq(echo_server_start(&server, loop, "127.0.0.1", 0), 0);
    enum { N = 12 };
    tn_socket_t clients[N];
    for (int i = 0; i < N; i++)
        clients[i] = tn_test_connect(server.port); /* wait in the backlog */
    struct rlimit old, low;
    tn_log_set_level(TN_LOG_ERROR); /* the pause warnings are expected */
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)open_fd_count() + 3;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    tn_ioloop_call_later(loop, 350, on_stop_later, NULL);
    tn_test_run(loop, 5000);
    cr_assert_lt(server.accepted, (size_t)N);
    cr_assert_geq(server.accept_pauses, 1);
    cr_assert_leq(server.accept_pauses, 6, "%zu pauses in 350 ms: spinning", server.accept_pauses);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    tn_log_set_level(TN_LOG_WARN);
    tn_ioloop_call_later(loop, 250, on_stop_later, NULL);
    tn_test_run(loop, 5000);
    cr_assert_eq(server.accepted, (size_t)N);
    for (int i = 0; i < N; i++)
        tn_test_closesocket(clients[i]);
    echo_server_stop(&server);
    tn_test_close(loop, 0);
}
#endif
