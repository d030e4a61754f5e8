/* Load generator for line-echo servers: 64-byte lines, round trips timed.
 *
 *   echo_client [--port N] [--address A] [-c CONNS] [-d DEPTH]
 *               [--duration SECONDS] [--warmup SECONDS]
 *
 * Opens CONNS connections (default 1) and keeps DEPTH lines (default 1) in
 * flight on each: every echoed line is answered with a new one, all the
 * lines owed after one read going out in one write. The server must echo
 * lines in order, so the n-th line back on a connection matches the n-th
 * send time. After the warm-up (default 1 s) it counts lines and round-trip
 * times for the duration (default 5 s, at most 600), then prints
 *   RESULT lines_per_s=... p50_us=... p99_us=... max_us=... errors=...
 * Every phase is bounded: connecting gives up after 10 s. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define LINE 64
#define MAX_DEPTH 1024
#define HIST_US 200000 /* 1 us buckets up to 200 ms, then one overflow bucket */

typedef struct {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uint64_t sent_ns[MAX_DEPTH]; /* ring of send times of the lines in flight */
    unsigned head, count;
    size_t line_off; /* bytes of the current line received so far */
    int connected;
} conn_t;

typedef struct {
    uv_write_t req;
    conn_t *conn;
} wreq_t;

static conn_t *conns;
static int nconns = 1, depth = 1, duration_s = 5, warmup_s = 1;
static int n_connected, n_failed, measuring, stopping;
static uint64_t lines, errors, t_measure_ns, t_end_ns, max_ns;
static uint32_t *hist;
static char lines_buf[MAX_DEPTH * LINE];
static char read_buf[64 * 1024];
static struct sockaddr_in addr;
static uv_timer_t timer;

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

static void close_all(void)
{
    for (int i = 0; i < nconns; i++)
        if (!uv_is_closing((uv_handle_t *)&conns[i].tcp))
            uv_close((uv_handle_t *)&conns[i].tcp, on_closed);
    uv_close((uv_handle_t *)&timer, NULL);
}

static void conn_error(conn_t *c)
{
    errors++;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_written(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    if (status != 0 && !stopping)
        conn_error(w->conn);
    free(w);
}

/* Sends k lines and records their send time. The bytes come from the
 * constant lines_buf, so a queued uv_write needs no copy. */
static void send_lines(conn_t *c, unsigned k, uint64_t now)
{
    for (unsigned i = 0; i < k; i++)
        c->sent_ns[(c->head + c->count++) % MAX_DEPTH] = now;
    uv_buf_t b = uv_buf_init(lines_buf, k * LINE);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)b.len)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        conn_error(c);
        return;
    }
    if (n > 0) {
        b.base += n;
        b.len -= (size_t)n;
    }
    wreq_t *w = malloc(sizeof(*w));
    if (w == NULL) {
        conn_error(c);
        return;
    }
    w->conn = c;
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(w);
        conn_error(c);
    }
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
    if (stopping)
        return;
    if (nread < 0) {
        conn_error(c);
        return;
    }
    uint64_t now = uv_hrtime();
    unsigned done = 0;
    for (ssize_t i = 0; i < nread; i++) {
        if (++c->line_off < LINE)
            continue;
        c->line_off = 0;
        if (buf->base[i] != '\n' || c->count == 0) {
            conn_error(c);
            return;
        }
        uint64_t rtt = now - c->sent_ns[c->head];
        c->head = (c->head + 1) % MAX_DEPTH;
        c->count--;
        done++;
        if (measuring) {
            uint64_t us = rtt / 1000;
            hist[us < HIST_US ? us : HIST_US]++;
            if (rtt > max_ns)
                max_ns = rtt;
            lines++;
        }
    }
    if (done > 0)
        send_lines(c, done, now);
}

static uint64_t percentile_us(double q)
{
    uint64_t target = (uint64_t)((double)lines * q), seen = 0;
    for (uint64_t us = 0; us <= HIST_US; us++) {
        seen += hist[us];
        if (seen > target || (seen == lines && seen > 0))
            return us;
    }
    return HIST_US;
}

static void on_end(uv_timer_t *t)
{
    (void)t;
    t_end_ns = uv_hrtime();
    measuring = 0;
    stopping = 1;
    double secs = (double)(t_end_ns - t_measure_ns) / 1e9;
    printf("RESULT lines_per_s=%.0f p50_us=%llu p99_us=%llu max_us=%llu errors=%llu conns=%d "
           "depth=%d secs=%.2f\n",
           secs > 0 ? (double)lines / secs : 0.0, (unsigned long long)percentile_us(0.50),
           (unsigned long long)percentile_us(0.99), (unsigned long long)(max_ns / 1000),
           (unsigned long long)errors, n_connected, depth, secs);
    fflush(stdout);
    close_all();
}

static void on_warm(uv_timer_t *t)
{
    measuring = 1;
    t_measure_ns = uv_hrtime();
    uv_timer_start(t, on_end, (uint64_t)duration_s * 1000, 0);
}

static void on_connect_timeout(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "echo_client: %d of %d connected after 10 s, giving up\n", n_connected, nconns);
    errors++;
    on_end(t);
}

static void all_connected(void)
{
    if (n_connected + n_failed < nconns)
        return;
    if (n_connected == 0) {
        fprintf(stderr, "echo_client: no connection succeeded\n");
        on_end(&timer);
        return;
    }
    uint64_t now = uv_hrtime();
    for (int i = 0; i < nconns; i++)
        if (conns[i].connected)
            send_lines(&conns[i], (unsigned)depth, now);
    uv_timer_stop(&timer);
    if (warmup_s > 0)
        uv_timer_start(&timer, on_warm, (uint64_t)warmup_s * 1000, 0);
    else
        on_warm(&timer);
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    if (stopping)
        return;
    if (status != 0) {
        fprintf(stderr, "echo_client: connect: %s\n", uv_strerror(status));
        n_failed++;
        conn_error(c);
    } else {
        c->connected = 1;
        n_connected++;
        uv_tcp_nodelay(&c->tcp, 1);
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
    all_connected();
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1";
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
        else if (strcmp(a, "-c") == 0)
            nconns = atoi(v);
        else if (strcmp(a, "-d") == 0)
            depth = atoi(v);
        else if (strcmp(a, "--duration") == 0)
            duration_s = atoi(v);
        else if (strcmp(a, "--warmup") == 0)
            warmup_s = atoi(v);
        else
            goto usage;
    }
    if (nconns <= 0 || nconns > 10000 || depth <= 0 || depth > MAX_DEPTH || duration_s <= 0 ||
        duration_s > 600 || warmup_s < 0 || warmup_s > 60)
        goto usage;
    if (uv_ip4_addr(address, port, &addr) != 0)
        goto usage;
    for (size_t i = 0; i < sizeof(lines_buf); i++)
        lines_buf[i] = (i % LINE == LINE - 1) ? '\n' : (char)('a' + i % 26);
    conns = calloc((size_t)nconns, sizeof(*conns));
    hist = calloc(HIST_US + 1, sizeof(*hist));
    if (conns == NULL || hist == NULL)
        return 1;
    uv_loop_t *loop = uv_default_loop();
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_connect_timeout, 10000, 0);
    for (int i = 0; i < nconns; i++) {
        conn_t *c = &conns[i];
        uv_tcp_init(loop, &c->tcp);
        c->tcp.data = c;
        c->connect.data = c;
        int err = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, on_connect);
        if (err != 0) {
            fprintf(stderr, "echo_client: connect: %s\n", uv_strerror(err));
            n_failed++;
            conn_error(c);
        }
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    free(conns);
    free(hist);
    return errors == 0 && n_connected == nconns ? 0 : 1;

usage:
    fprintf(stderr,
            "usage: %s [--port N] [--address A] [-c CONNS] [-d DEPTH] [--duration S]"
            " [--warmup S]\n",
            argv[0]);
    return 2;
}
