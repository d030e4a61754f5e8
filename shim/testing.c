/* Testing helpers that need the loop's handles or the OS's sockets (see
 * testing.h): time budgets, run_until, teardown, bind_unused_port.
 *
 * run_until checks its condition from a uv_prepare_t, which runs once per
 * loop iteration right before the loop would block in poll: after the
 * previous iteration's deferred callbacks drained, so a condition they
 * satisfied is seen before the loop goes to sleep. */
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include "ioloop_private.h"
#include "tornuv/testing.h"

/* uv_os_getenv rather than getenv: on Windows the CRT's copy of the
 * environment misses what SetEnvironmentVariable (uv_os_setenv) changed. */
static const char *env(const char *name, char *buf, size_t cap)
{
    size_t len = cap;
    return uv_os_getenv(name, buf, &len) == 0 && len > 0 ? buf : NULL;
}

uint64_t tn_testing_timeout_ms(void)
{
    char buf[64];
    const char *ms = env("TORNUV_TEST_TIMEOUT_MS", buf, sizeof(buf));
    if (ms != NULL) {
        char *end;
        unsigned long long v = strtoull(ms, &end, 10);
        if (*end == '\0' && v > 0)
            return (uint64_t)v;
    }
    const char *secs = env("ASYNC_TEST_TIMEOUT", buf, sizeof(buf));
    if (secs != NULL) {
        char *end;
        double v = strtod(secs, &end);
        if (*end == '\0' && v > 0 && v < 1e9) {
            uint64_t v_ms = (uint64_t)(v * 1000.0 + 0.5);
            return v_ms > 0 ? v_ms : 1;
        }
    }
    return 5000;
}

typedef struct {
    uv_prepare_t prepare;
    uv_timer_t timer;
    tn_ioloop_t *loop;
    tn_testing_cond_fn cond;
    void *arg;
    int met, timed_out, open;
} run_until_t;

static void on_until_closed(uv_handle_t *h)
{
    run_until_t *r = h->data;
    tn__loop_handle_closed(r->loop);
    if (--r->open == 0)
        free(r);
}

static void on_prepare(uv_prepare_t *h)
{
    run_until_t *r = h->data;
    if (!r->met && !r->timed_out && r->cond(r->arg)) {
        r->met = 1;
        tn_ioloop_stop(r->loop);
    }
}

static void on_deadline(uv_timer_t *h)
{
    run_until_t *r = h->data;
    if (!r->met) {
        r->timed_out = 1;
        tn_ioloop_stop(r->loop);
    }
}

int tn_testing_run_until(tn_ioloop_t *loop, tn_testing_cond_fn cond, void *arg, uint64_t timeout_ms)
{
    if (loop == NULL || cond == NULL || !loop->owned || loop->running ||
        loop->state != TN__LOOP_OPEN)
        return TN_EINVAL;
    if (cond(arg))
        return 0;
    if (timeout_ms == 0)
        timeout_ms = tn_testing_timeout_ms();
    /* The C library's allocator, not tornuv's: the scaffolding of a test
     * that injects allocation failures must not fail itself. */
    run_until_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return TN_ENOMEM;
    r->loop = loop;
    r->cond = cond;
    r->arg = arg;
    uv_prepare_init(loop->uv, &r->prepare);
    uv_timer_init(loop->uv, &r->timer);
    r->prepare.data = r->timer.data = r;
    r->open = 2;
    uv_prepare_start(&r->prepare, on_prepare);
    uv_timer_start(&r->timer, on_deadline, timeout_ms, 0);
    int err = tn_ioloop_start(loop);
    int met = r->met || (err == 0 && cond(arg));
    /* Closed like the loop's own handles: the close callbacks run on the
     * next turn of the loop, or in its teardown, which waits for them. */
    tn__loop_close_handle(loop, (uv_handle_t *)&r->prepare, on_until_closed);
    tn__loop_close_handle(loop, (uv_handle_t *)&r->timer, on_until_closed);
    if (err != 0)
        return err;
    if (met)
        return 0;
    tn_log(TN_LOG_WARN, "async operation timed out after %llu ms", (unsigned long long)timeout_ms);
    return TN_ETIMEOUT;
}

int tn_testing_run(tn_ioloop_t *loop, tn_sync_fn fn, void *arg, uint64_t timeout_ms)
{
    if (timeout_ms == 0)
        timeout_ms = tn_testing_timeout_ms();
    int err = tn_ioloop_run_sync(loop, fn, arg, timeout_ms);
    if (err == TN_ETIMEOUT)
        tn_log(TN_LOG_WARN, "async operation timed out after %llu ms",
               (unsigned long long)timeout_ms);
    return err;
}

int tn_testing_loop_close(tn_ioloop_t *loop, size_t *leaked)
{
    if (loop == NULL)
        return TN_EINVAL;
    if (leaked != NULL)
        *leaked = tn_ioloop_alive_count(loop);
    return tn_ioloop_close(loop, TN_CLOSE_ALL_FDS);
}

/* ---- bind_unused_port ----------------------------------------------------- */

#ifdef _WIN32
static int sock_error(void)
{
    return uv_translate_sys_error(WSAGetLastError());
}
#else
static int sock_error(void)
{
    return -errno;
}
#endif

void tn_testing_close_socket(tn_socket_t sock)
{
    if (sock == TN_INVALID_SOCKET)
        return;
#ifdef _WIN32
    closesocket((SOCKET)sock);
#else
    close(sock);
#endif
}

int tn_testing_bind_unused_port(const char *address, tn_socket_t *sock, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (sock == NULL || port == NULL)
        return TN_EINVAL;
    if (address == NULL)
        address = "127.0.0.1";
    memset(&ss, 0, sizeof(ss));
    if (uv_ip4_addr(address, 0, (struct sockaddr_in *)&ss) == 0)
        len = sizeof(struct sockaddr_in);
    else if (uv_ip6_addr(address, 0, (struct sockaddr_in6 *)&ss) == 0)
        len = sizeof(struct sockaddr_in6);
    else
        return TN_EINVAL;
#ifdef _WIN32
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return TN_ENOTSUP;
    /* Winsock stays started (libuv, which the socket is meant for, keeps
     * it started anyway): a WSACleanup to zero would close the socket. */
    SOCKET s = socket(ss.ss_family, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET)
        return sock_error();
#else
    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return sock_error();
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
#endif
    if (bind(s, (struct sockaddr *)&ss, len) != 0 || listen(s, 128) != 0) {
        int err = sock_error();
        tn_testing_close_socket((tn_socket_t)s);
        return err;
    }
    len = sizeof(ss);
    if (getsockname(s, (struct sockaddr *)&ss, &len) != 0) {
        int err = sock_error();
        tn_testing_close_socket((tn_socket_t)s);
        return err;
    }
    *port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *sock = (tn_socket_t)s;
    return 0;
}
