/* Opens many keep-alive HTTP connections and holds them idle, to measure a
 * server's memory per connection.
 *
 *   idle_conns [--port N] [--address A] [-n CONNS] [--hold SECONDS]
 *              [--path P] [--parallel K] [--timeout SECONDS]
 *
 * Each connection sends one "GET <path> HTTP/1.1" and reads the response
 * (headers and a Content-Length body); at most K connections (default 200)
 * are being set up at once, so the listen backlog never overflows. Once
 * every connection answered or failed, it prints a line starting with
 * "ready", keeps the connections open for the hold time (default 10 s),
 * prints how many the server closed meanwhile, and exits. Setting up stops
 * after --timeout seconds (default 60) whatever the state. The soft
 * RLIMIT_NOFILE is raised to fit the connections (and the hard one too,
 * when allowed). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <uv.h>

#define RESP_MAX 4096

enum { C_NEW, C_CONNECTING, C_WAITING, C_IDLE, C_FAILED, C_CLOSED };

typedef struct {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    int state;
    char *resp; /* the response so far, while waiting for it */
    size_t resp_len;
} conn_t;

static conn_t *conns;
static int nconns = 10000, parallel = 200, hold_s = 10, timeout_s = 60;
static int next_conn, in_flight, n_ok, n_failed, n_closed_by_peer, ready_printed;
static struct sockaddr_in addr;
static char request[512];
static size_t request_len;
static uv_timer_t timer;
static uint64_t t_start;
static char read_buf[64 * 1024];

static void start_more(uv_loop_t *loop);
static void maybe_ready(void);

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

static void conn_fail(conn_t *c)
{
    if (c->state == C_CONNECTING || c->state == C_WAITING) {
        in_flight--;
        n_failed++;
    } else if (c->state == C_IDLE) {
        n_closed_by_peer++;
    }
    c->state = c->state == C_IDLE ? C_CLOSED : C_FAILED;
    free(c->resp);
    c->resp = NULL;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* Nonzero once resp holds a complete response (headers + Content-Length body). */
static int response_complete(const char *p, size_t n, int *status_ok)
{
    const char *end = NULL;
    for (size_t i = 3; i < n; i++) {
        if (p[i - 3] == '\r' && p[i - 2] == '\n' && p[i - 1] == '\r' && p[i] == '\n') {
            end = p + i + 1;
            break;
        }
    }
    if (end == NULL)
        return 0;
    *status_ok = n >= 12 && memcmp(p, "HTTP/1.", 7) == 0 && memcmp(p + 9, "200", 3) == 0;
    size_t clen = 0;
    for (const char *q = p; q + 16 <= end; q++) {
        if ((q == p || q[-1] == '\n') && strncasecmp(q, "content-length:", 15) == 0) {
            clen = strtoul(q + 15, NULL, 10);
            break;
        }
    }
    return (size_t)(p + n - end) >= clen;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = read_buf;
    buf->len = sizeof(read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (nread < 0) {
        conn_fail(c);
        maybe_ready();
        start_more(s->loop);
        return;
    }
    if (c->state != C_WAITING || nread == 0)
        return;
    size_t n = (size_t)nread;
    if (c->resp_len + n > RESP_MAX)
        n = RESP_MAX - c->resp_len;
    memcpy(c->resp + c->resp_len, buf->base, n);
    c->resp_len += n;
    int ok = 0;
    if (response_complete(c->resp, c->resp_len, &ok) || c->resp_len == RESP_MAX) {
        if (!ok) {
            conn_fail(c);
        } else {
            c->state = C_IDLE;
            free(c->resp);
            c->resp = NULL;
            in_flight--;
            n_ok++;
        }
        maybe_ready();
        start_more(s->loop);
    }
}

static void on_written(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    if (status != 0 && c->state == C_WAITING) {
        conn_fail(c);
        maybe_ready();
        start_more(req->handle->loop);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    uv_loop_t *loop = req->handle->loop;
    if (c->state != C_CONNECTING)
        return;
    if (status != 0) {
        conn_fail(c);
        maybe_ready();
        start_more(loop);
        return;
    }
    c->state = C_WAITING;
    c->resp = malloc(RESP_MAX);
    if (c->resp == NULL) {
        conn_fail(c);
        return;
    }
    uv_buf_t b = uv_buf_init(request, (unsigned)request_len);
    c->write.data = c;
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_fail(c);
        maybe_ready();
        start_more(loop);
    }
}

static void start_more(uv_loop_t *loop)
{
    while (!ready_printed && in_flight < parallel && next_conn < nconns) {
        conn_t *c = &conns[next_conn++];
        uv_tcp_init(loop, &c->tcp);
        c->tcp.data = c;
        c->connect.data = c;
        c->state = C_CONNECTING;
        in_flight++;
        if (uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, on_connect) != 0)
            conn_fail(c);
    }
}

static void on_hold_done(uv_timer_t *t)
{
    printf("done: %d still open after the hold, %d closed by the server\n", n_ok - n_closed_by_peer,
           n_closed_by_peer);
    fflush(stdout);
    for (int i = 0; i < nconns; i++) {
        conn_t *c = &conns[i];
        if (c->state != C_NEW && !uv_is_closing((uv_handle_t *)&c->tcp)) {
            free(c->resp);
            c->resp = NULL;
            uv_close((uv_handle_t *)&c->tcp, on_closed);
        }
    }
    uv_close((uv_handle_t *)t, NULL);
}

static void print_ready(void)
{
    if (ready_printed)
        return;
    ready_printed = 1;
    double ms = (double)(uv_hrtime() - t_start) / 1e6;
    printf("ready: %d ok, %d failed, %d unfinished, %.0f ms to set up\n", n_ok, n_failed,
           nconns - next_conn + in_flight, ms);
    fflush(stdout);
    uv_timer_stop(&timer);
    uv_timer_start(&timer, on_hold_done, (uint64_t)hold_s * 1000, 0);
}

static void maybe_ready(void)
{
    if (n_ok + n_failed == nconns)
        print_ready();
}

static void on_setup_timeout(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "idle_conns: setup timed out after %d s\n", timeout_s);
    print_ready();
}

static void raise_nofile(rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        struct rlimit hard = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &hard) == 0)
            return;
        want = rl.rlim_max;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        perror("idle_conns: setrlimit(RLIMIT_NOFILE)");
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1", *path = "/hello";
    int port = 8888;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            goto usage;
        i++;
        if (strcmp(a, "--port") == 0)
            port = atoi(v);
        else if (strcmp(a, "--address") == 0)
            address = v;
        else if (strcmp(a, "-n") == 0)
            nconns = atoi(v);
        else if (strcmp(a, "--hold") == 0)
            hold_s = atoi(v);
        else if (strcmp(a, "--path") == 0)
            path = v;
        else if (strcmp(a, "--parallel") == 0)
            parallel = atoi(v);
        else if (strcmp(a, "--timeout") == 0)
            timeout_s = atoi(v);
        else
            goto usage;
    }
    if (nconns <= 0 || parallel <= 0 || hold_s < 0 || timeout_s <= 0 || strlen(path) > 256)
        goto usage;
    if (uv_ip4_addr(address, port, &addr) != 0)
        goto usage;
    request_len = (size_t)snprintf(request, sizeof(request),
                                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", path, address, port);
    raise_nofile((rlim_t)nconns + 64);
    conns = calloc((size_t)nconns, sizeof(*conns));
    if (conns == NULL)
        return 1;
    uv_loop_t *loop = uv_default_loop();
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_setup_timeout, (uint64_t)timeout_s * 1000, 0);
    t_start = uv_hrtime();
    start_more(loop);
    maybe_ready();
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    free(conns);
    return n_ok == nconns ? 0 : 1;

usage:
    fprintf(stderr,
            "usage: %s [--port N] [--address A] [-n CONNS] [--hold S] [--path P]"
            " [--parallel K] [--timeout S]\n",
            argv[0]);
    return 2;
}
