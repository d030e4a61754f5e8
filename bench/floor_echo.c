/* The floor for the echo benchmarks: a line-echo server on bare libuv.
 *
 *   floor_echo [--port N] [--address A]      (default 127.0.0.1:9002)
 *
 * Echoes every \n-terminated line. All the complete lines of one read go
 * back in one write; an unfinished line waits in a per-connection buffer
 * for the rest. A line longer than 64 KiB closes the connection (as
 * examples/echo_stream does with its default max_line). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define READ_BUF_SIZE (64 * 1024)
#define MAX_LINE (64 * 1024)

typedef struct {
    uv_tcp_t tcp;
    char *part; /* the unfinished line */
    size_t part_len, part_cap;
} conn_t;

typedef struct {
    uv_write_t req;
    conn_t *conn;
    char data[];
} wreq_t;

static char read_buf[READ_BUF_SIZE];

static void on_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    free(c->part);
    free(c);
}

static void conn_close(conn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_written(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    if (status != 0)
        conn_close(w->conn);
    free(w);
}

/* Writes a then b (either may be empty) in order: uv_try_write while
 * nothing is queued, a copy of the rest through uv_write. */
static void send2(conn_t *c, const char *a, size_t alen, const char *b, size_t blen)
{
    uv_buf_t bufs[2] = {uv_buf_init((char *)a, (unsigned)alen),
                        uv_buf_init((char *)b, (unsigned)blen)};
    size_t total = alen + blen, done = 0;
    int n = uv_try_write((uv_stream_t *)&c->tcp, alen ? bufs : bufs + 1, alen ? 2 : 1);
    if (n > 0)
        done = (size_t)n;
    else if (n != UV_EAGAIN && n != UV_ENOSYS) {
        conn_close(c);
        return;
    }
    if (done == total)
        return;
    size_t rest = total - done;
    wreq_t *w = malloc(sizeof(*w) + rest);
    if (w == NULL) {
        conn_close(c);
        return;
    }
    size_t k = 0;
    if (done < alen) {
        memcpy(w->data, a + done, alen - done);
        k = alen - done;
        memcpy(w->data + k, b, blen);
    } else {
        memcpy(w->data, b + (done - alen), rest);
    }
    w->conn = c;
    uv_buf_t wb = uv_buf_init(w->data, (unsigned)rest);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &wb, 1, on_written) != 0) {
        free(w);
        conn_close(c);
    }
}

static int keep_part(conn_t *c, const char *p, size_t n)
{
    if (c->part_len + n > MAX_LINE)
        return -1;
    if (c->part_len + n > c->part_cap) {
        size_t cap = c->part_cap ? c->part_cap : 256;
        while (cap < c->part_len + n)
            cap *= 2;
        char *q = realloc(c->part, cap);
        if (q == NULL)
            return -1;
        c->part = q;
        c->part_cap = cap;
    }
    memcpy(c->part + c->part_len, p, n);
    c->part_len += n;
    return 0;
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
        conn_close(c);
        return;
    }
    size_t n = (size_t)nread;
    const char *last = NULL;
    for (size_t i = n; i > 0; i--) {
        if (buf->base[i - 1] == '\n') {
            last = buf->base + i - 1;
            break;
        }
    }
    if (last == NULL) {
        if (keep_part(c, buf->base, n) != 0)
            conn_close(c);
        return;
    }
    size_t upto = (size_t)(last - buf->base) + 1;
    send2(c, c->part, c->part_len, buf->base, upto);
    c->part_len = 0;
    if (upto < n && keep_part(c, buf->base + upto, n - upto) != 0)
        conn_close(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status != 0)
        return;
    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_stop(h->loop);
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1";
    int port = 9002;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
            address = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--port N] [--address A]\n", argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    int err = uv_ip4_addr(address, port, &addr);
    if (err == 0)
        err = uv_tcp_init(loop, &server);
    if (err == 0)
        err = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (err != 0) {
        fprintf(stderr, "floor_echo: listen on %s:%d: %s\n", address, port, uv_strerror(err));
        return 1;
    }
    uv_signal_t sigint, sigterm;
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    printf("floor_echo: listening on %s:%d\n", address, port);
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
