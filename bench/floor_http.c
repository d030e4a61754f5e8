/* The floor for the HTTP benchmarks: the least a libuv + llhttp server can
 * do and still be a correct HTTP/1.1 server, with no tornuv in between.
 *
 *   floor_http [--port N] [--address A]      (default 127.0.0.1:9001)
 *
 * Every request is parsed by llhttp and answered with the 12-byte body
 * "Hello, world". Keep-alive follows llhttp_should_keep_alive (HTTP/1.0
 * closes unless it asks for keep-alive, "Connection: close" closes).
 * Pipelining: all the responses owed for one read go out in one write, in
 * order. The read buffer is one static block shared by every connection:
 * the loop is single-threaded and each read is parsed before the next one
 * is allocated, so no connection needs its own. An idle connection costs
 * its uv_tcp_t and its llhttp_t. */
#include <llhttp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define READ_BUF_SIZE (64 * 1024)

static const char RESP_KEEP[] = "HTTP/1.1 200 OK\r\n"
                                "Content-Type: text/plain\r\n"
                                "Content-Length: 12\r\n"
                                "\r\n"
                                "Hello, world";
static const char RESP_KEEP10[] = "HTTP/1.1 200 OK\r\n"
                                  "Content-Type: text/plain\r\n"
                                  "Content-Length: 12\r\n"
                                  "Connection: keep-alive\r\n"
                                  "\r\n"
                                  "Hello, world";
static const char RESP_CLOSE[] = "HTTP/1.1 200 OK\r\n"
                                 "Content-Type: text/plain\r\n"
                                 "Content-Length: 12\r\n"
                                 "Connection: close\r\n"
                                 "\r\n"
                                 "Hello, world";
static const char RESP_400[] = "HTTP/1.1 400 Bad Request\r\n"
                               "Content-Length: 0\r\n"
                               "Connection: close\r\n"
                               "\r\n";

typedef struct {
    uv_tcp_t tcp;
    llhttp_t parser;
    int closing; /* no request after this one is answered */
} conn_t;

typedef struct {
    uv_write_t req;
    conn_t *conn;
    int close_after;
    size_t len;
    char data[]; /* the bytes uv_try_write did not take */
} wreq_t;

static llhttp_settings_t settings;
static char read_buf[READ_BUF_SIZE];
static int read_buf_busy;
/* The responses owed for the read being parsed; shared for the same reason
 * as read_buf (it is empty again when on_read returns). */
static char *out;
static size_t out_len, out_cap;

static void out_append(conn_t *c, const char *p, size_t n)
{
    if (out_len + n > out_cap) {
        size_t cap = out_cap ? out_cap * 2 : 64 * 1024;
        while (cap < out_len + n)
            cap *= 2;
        char *q = realloc(out, cap);
        if (q == NULL) {
            c->closing = 1;
            return;
        }
        out = q;
        out_cap = cap;
    }
    memcpy(out + out_len, p, n);
    out_len += n;
}

static int on_message_complete(llhttp_t *p)
{
    conn_t *c = p->data;
    if (llhttp_should_keep_alive(p)) {
        if (p->http_major == 1 && p->http_minor == 0)
            out_append(c, RESP_KEEP10, sizeof(RESP_KEEP10) - 1);
        else
            out_append(c, RESP_KEEP, sizeof(RESP_KEEP) - 1);
        return 0;
    }
    out_append(c, RESP_CLOSE, sizeof(RESP_CLOSE) - 1);
    c->closing = 1;
    /* Whatever the client pipelined after a closing request is dropped. */
    return HPE_PAUSED;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void conn_close(conn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_written(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    if (status != 0 || w->close_after)
        conn_close(w->conn);
    free(w);
}

/* Sends the owed responses: straight to the socket when it takes them all
 * (the common case), else the rest through one uv_write. */
static void flush(conn_t *c)
{
    int close_after = c->closing;
    size_t off = 0;
    if (out_len > 0) {
        uv_buf_t b = uv_buf_init(out, (unsigned)out_len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n > 0)
            off = (size_t)n;
        else if (n != UV_EAGAIN && n != UV_ENOSYS) {
            out_len = 0;
            conn_close(c);
            return;
        }
    }
    size_t rest = out_len - off;
    out_len = 0;
    if (rest == 0) {
        if (close_after)
            conn_close(c);
        return;
    }
    wreq_t *w = malloc(sizeof(*w) + rest);
    if (w == NULL) {
        conn_close(c);
        return;
    }
    memcpy(w->data, out + off, rest);
    w->conn = c;
    w->close_after = close_after;
    w->len = rest;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)rest);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(w);
        conn_close(c);
        return;
    }
    if (close_after)
        uv_read_stop((uv_stream_t *)&c->tcp);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    if (read_buf_busy) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    read_buf_busy = 1;
    buf->base = read_buf;
    buf->len = sizeof(read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (buf->base == read_buf)
        read_buf_busy = 0;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->closing)
        return;
    llhttp_errno_t err = llhttp_execute(&c->parser, buf->base, (size_t)nread);
    if (err != HPE_OK && err != HPE_PAUSED) {
        out_append(c, RESP_400, sizeof(RESP_400) - 1);
        c->closing = 1;
    }
    flush(c);
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
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
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
    int port = 9001;
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
    llhttp_settings_init(&settings);
    settings.on_message_complete = on_message_complete;

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
        fprintf(stderr, "floor_http: listen on %s:%d: %s\n", address, port, uv_strerror(err));
        return 1;
    }
    uv_signal_t sigint, sigterm;
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    printf("floor_http: listening on %s:%d\n", address, port);
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
