/* The per-loop buffer pools (lib/pool.h): reuse, bounds, the trim timer
 * (which must never keep a loop alive), out-of-memory, and the point of it
 * all: a steady keep-alive HTTP load allocates nothing large once warm. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include "../examples/demo_app.h"
#include "loop_util.h"
#include "net_peer.h"
#include "pool.h"
#include "tornuv/uv.h"

/* ---- a counting allocator -------------------------------------------- */

#define LARGE 1024
static size_t g_large; /* allocations of LARGE bytes or more */
static int g_fail;     /* fail every allocation while set */

static void *c_malloc(size_t n)
{
    if (g_fail)
        return NULL;
    if (n >= LARGE)
        g_large++;
    return malloc(n);
}

static void *c_realloc(void *p, size_t n)
{
    if (g_fail)
        return NULL;
    if (n >= LARGE)
        g_large++;
    return realloc(p, n);
}

static void *c_calloc(size_t k, size_t n)
{
    if (g_fail)
        return NULL;
    if (k * n >= LARGE)
        g_large++;
    return calloc(k, n);
}

static void use_counting_allocator(void)
{
    g_large = 0;
    g_fail = 0;
    cr_assert_eq(tn_replace_allocator(c_malloc, c_realloc, c_calloc, free), 0);
}

static void restore_allocator(void)
{
    cr_assert_eq(tn_replace_allocator(malloc, realloc, calloc, free), 0);
}

/* ---- the pool itself ---------------------------------------------------- */

Test(pool, classes_round_up_and_large_sizes_pass_through)
{
    cr_assert_eq(tn__pool_capacity(1), 512);
    cr_assert_eq(tn__pool_capacity(512), 512);
    cr_assert_eq(tn__pool_capacity(513), 1024);
    cr_assert_eq(tn__pool_capacity(65536), 65536);
    cr_assert_eq(tn__pool_capacity(65537), 65537);
}

Test(pool, a_buffer_given_back_is_handed_out_again)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    size_t cap = 0, cap2 = 0;
    char *a = tn__pool_get(loop, 3000, &cap);
    cr_assert_not_null(a);
    cr_assert_eq(cap, 4096);
    memset(a, 'x', cap); /* the whole capacity is usable */
    tn__pool_put(loop, a, cap);
    size_t bytes;
    cr_assert_eq(tn__pool_spare(loop, &bytes), 1);
    cr_assert_eq(bytes, 4096);
    char *b = tn__pool_get(loop, 4000, &cap2);
    cr_assert_eq(b, a, "the spare buffer of the class was reused");
    cr_assert_eq(cap2, 4096);
    cr_assert_eq(tn__pool_spare(loop, NULL), 0);
    /* Another class does not take it. */
    tn__pool_put(loop, b, cap2);
    char *c = tn__pool_get(loop, 100, &cap);
    cr_assert_neq(c, b);
    cr_assert_eq(cap, 512);
    tn__pool_put(loop, c, cap);
    /* A capacity that is no class size (a grown buffer) is freed, not kept. */
    char *d = malloc(5000);
    tn__pool_put(loop, d, 5000);
    cr_assert_eq(tn__pool_spare(loop, NULL), 2);
    /* Sizes beyond the classes are plain allocations, never kept. */
    char *big = tn__pool_get(loop, 100000, &cap);
    cr_assert_eq(cap, 100000);
    tn__pool_put(loop, big, cap);
    cr_assert_eq(tn__pool_spare(loop, NULL), 2);
    tn_test_close(loop, 0); /* frees the spares (ASan would see a leak) */
}

Test(pool, spares_are_bounded)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    enum { N = 300 };
    static void *bufs[N];
    size_t cap = 0;
    for (int i = 0; i < N; i++)
        bufs[i] = tn__pool_get(loop, 64 * 1024, &cap);
    for (int i = 0; i < N; i++)
        tn__pool_put(loop, bufs[i], cap);
    size_t bytes;
    size_t n = tn__pool_spare(loop, &bytes);
    cr_assert(bytes <= TN__POOL_MAX_SPARE_BYTES, "%zu spare bytes", bytes);
    cr_assert_eq(n, TN__POOL_MAX_SPARE_BYTES / (64 * 1024), "%zu spares", n);
    tn_test_close(loop, 0);
    /* And per class by count, for small buffers. */
    loop = tn_test_loop_new();
    for (int i = 0; i < N; i++)
        bufs[i] = tn__pool_get(loop, 512, &cap);
    for (int i = 0; i < N; i++)
        tn__pool_put(loop, bufs[i], cap);
    cr_assert_eq(tn__pool_spare(loop, NULL), TN__POOL_MAX_SPARE_COUNT);
    tn_test_close(loop, 0);
}

static void on_stop(tn_ioloop_t *loop, void *arg)
{
    (void)arg;
    tn_ioloop_stop(loop);
}

Test(pool, the_timer_trims_what_an_interval_did_not_use)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn__pool_set_trim_ms(loop, 40);
    void *b[6];
    size_t cap = 0;
    for (int i = 0; i < 6; i++)
        b[i] = tn__pool_get(loop, 16 * 1024, &cap);
    for (int i = 0; i < 6; i++)
        tn__pool_put(loop, b[i], cap);
    cr_assert_eq(tn__pool_spare(loop, NULL), 6);
    /* Two buffers stay in use through the intervals: 4 spares are unused and
     * go at the first trim; the pool then empties and its timer stops. */
    b[0] = tn__pool_get(loop, 16 * 1024, &cap);
    b[1] = tn__pool_get(loop, 16 * 1024, &cap);
    cr_assert_eq(tn__pool_spare(loop, NULL), 4);
    tn_ioloop_call_later(loop, 120, on_stop, NULL);
    tn_test_run(loop, 5000);
    cr_assert_eq(tn__pool_spare(loop, NULL), 0, "the idle spares were freed");
    /* Buffers given back later start a new interval: kept for a while
     * (a load that resumes finds them), then trimmed. */
    tn__pool_put(loop, b[0], cap);
    tn__pool_put(loop, b[1], cap);
    cr_assert_eq(tn__pool_spare(loop, NULL), 2);
    tn_ioloop_call_later(loop, 20, on_stop, NULL);
    tn_test_run(loop, 5000);
    cr_assert_eq(tn__pool_spare(loop, NULL), 2, "kept for at least one interval");
    tn_ioloop_call_later(loop, 150, on_stop, NULL);
    tn_test_run(loop, 5000);
    cr_assert_eq(tn__pool_spare(loop, NULL), 0);
    tn_test_close(loop, 0);
}

Test(pool, the_trim_timer_never_keeps_a_host_loop_alive)
{
    uv_loop_t uv;
    cr_assert_eq(uv_loop_init(&uv), 0);
    tn_ioloop_t *loop = NULL;
    cr_assert_eq(tn_ioloop_attach(&uv, &loop), 0);
    size_t cap = 0;
    void *b = tn__pool_get(loop, 64 * 1024, &cap);
    tn__pool_put(loop, b, cap); /* arms the trim timer (1 s) */
    double t0 = tn_test_now_ms();
    uv_run(&uv, UV_RUN_DEFAULT); /* nothing keeps it alive: returns at once */
    cr_assert(tn_test_now_ms() - t0 < 500, "uv_run returned after %.0f ms", tn_test_now_ms() - t0);
    cr_assert_eq(tn__pool_spare(loop, NULL), 1);
    int detached = 0;
    cr_assert_eq(tn_ioloop_detach(loop, NULL, &detached), 0);
    uv_run(&uv, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&uv), 0, "no handle left behind");
}

Test(pool, out_of_memory_is_a_null_and_spares_still_serve)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    size_t cap = 0;
    void *a = tn__pool_get(loop, 2048, &cap);
    tn__pool_put(loop, a, cap);
    use_counting_allocator();
    g_fail = 1;
    size_t cap2 = 7;
    void *b = tn__pool_get(loop, 2048, &cap2);
    cr_assert_eq(b, a, "a spare needs no allocation");
    void *c = tn__pool_get(loop, 2048, &cap2);
    cr_assert_null(c, "the allocator's failure is reported");
    cr_assert_null(tn__pool_get(loop, 1 << 20, &cap2));
    g_fail = 0;
    tn__pool_put(loop, b, cap);
    restore_allocator();
    tn_test_close(loop, 0);
}

/* ---- steady keep-alive load ---------------------------------------------- */

#define CONNS 32
#define WARM 30
#define MEASURE 100

typedef struct {
    int port;
    const char *request;
    int phase; /* 1: warm-up done, waiting for go */
    int go;
    int done;
    int failed;
} client_t;

/* Reads one response (head + Content-Length body) from fd. */
static int read_response(int fd)
{
    char buf[4096];
    size_t have = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + have, sizeof buf - have - 1, 0);
        if (r <= 0)
            return -1;
        have += (size_t)r;
        buf[have] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        char *cl = strstr(buf, "Content-Length: ");
        if (!cl)
            return -1;
        size_t body = strtoul(cl + 16, NULL, 10);
        if (have >= (size_t)(end + 4 - buf) + body)
            return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
    }
}

static int round_trip(client_t *c, const int *fds)
{
    size_t n = strlen(c->request);
    for (int i = 0; i < CONNS; i++)
        if (send(fds[i], c->request, n, 0) != (ssize_t)n)
            return -1;
    for (int i = 0; i < CONNS; i++)
        if (read_response(fds[i]) != 0)
            return -1;
    return 0;
}

static void *client_main(void *arg)
{
    client_t *c = arg;
    int fds[CONNS];
    for (int i = 0; i < CONNS; i++) {
        fds[i] = tn_peer_connect(AF_INET, c->port, NULL);
        if (fds[i] < 0)
            c->failed = 1;
    }
    for (int r = 0; r < WARM && !c->failed; r++)
        if (round_trip(c, fds) != 0)
            c->failed = 1;
    __atomic_store_n(&c->phase, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&c->go, __ATOMIC_ACQUIRE))
        tn_test_sleep_ms(1);
    for (int r = 0; r < MEASURE && !c->failed; r++)
        if (round_trip(c, fds) != 0)
            c->failed = 1;
    for (int i = 0; i < CONNS; i++)
        if (fds[i] >= 0)
            tn_test_close_fd(fds[i]);
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void on_hello(tn_http_request_t *req, void *arg)
{
    (void)arg;
    tn_http_response_send(req, 200, "text/plain", "Hello, world", 12);
}

static void on_freed(void *arg)
{
    *(int *)arg = 1;
}

/* Runs the client against srv, asserts that the measured rounds made no
 * large allocation, and frees srv. */
static void steady_load(tn_ioloop_t *loop, tn_httpserver_t *srv, const char *request)
{
    static client_t c;
    memset(&c, 0, sizeof c);
    c.port = tn_httpserver_port(srv);
    c.request = request;
    pthread_t t;
    pthread_create(&t, NULL, client_main, &c);
    while (!__atomic_load_n(&c.phase, __ATOMIC_ACQUIRE))
        tn_test_settle(loop, 5);
    size_t before = g_large;
    __atomic_store_n(&c.go, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
        tn_test_settle(loop, 5);
    size_t n = g_large - before;
    pthread_join(t, NULL);
    cr_assert_not(c.failed, "every request was answered");
    cr_assert_eq(n, 0, "%zu allocations of %d bytes or more in %d requests", n, LARGE,
                 CONNS * MEASURE);
    int freed = 0;
    tn_httpserver_free(srv, on_freed, &freed);
    while (!freed)
        tn_test_settle(loop, 5);
}

Test(pool, steady_keep_alive_http_allocates_nothing_large, .timeout = 60)
{
    use_counting_allocator();
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_httpserver_options_t o = {.request_cb = on_hello};
    tn_httpserver_t *srv = NULL;
    cr_assert_eq(tn_httpserver_new(loop, &o, &srv), 0);
    cr_assert_eq(tn_httpserver_listen(srv, 0, "127.0.0.1"), 0);
    size_t warm_before = g_large;
    steady_load(loop, srv, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(g_large > warm_before, "the warm-up did allocate read buffers");
    cr_assert(tn__pool_spare(loop, NULL) > 0, "the read buffers wait in the pool");
    tn__pool_set_trim_ms(loop, 20);
    tn_test_settle(loop, 50); /* the interval started at 1 s runs out first */
    tn_test_settle(loop, 1100);
    cr_assert_eq(tn__pool_spare(loop, NULL), 0, "idle: the pool shrank to nothing");
    tn_test_close(loop, 0);
    restore_allocator();
}

Test(pool, steady_keep_alive_web_layer_allocates_nothing_large, .timeout = 60)
{
    use_counting_allocator();
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_app_t *app = NULL;
    tn_httpserver_t *srv = NULL;
    cr_assert_eq(demo_app_new(NULL, "s", &app), 0);
    cr_assert_eq(tn_app_listen(app, loop, 0, "127.0.0.1", NULL, &srv), 0);
    steady_load(loop, srv, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    tn_app_free(app);
    tn_test_close(loop, 0);
    restore_allocator();
}
