/* Load generator for WebSocket echo servers.
 *
 *   ws_load [--port N] [--path P] [-c CONNS] [-w WINDOW] [-s BYTES]
 *           [--duration SECONDS] [--warmup SECONDS] [--hold]
 *
 * Opens CONNS connections (default 1), upgrades each with GET PATH (default
 * /ws/echo), then keeps WINDOW binary messages of BYTES bytes (default 1 and
 * 16) in flight on each: every echo is checked byte for byte and answered
 * with a new message, all those owed after one read going out in one write.
 * Frames are masked and built once before the run. After the warm-up
 * (default 1 s) it counts messages for the duration (default 5 s, at most
 * 600), then prints
 *   RESULT msgs_per_s=... mib_per_s=... errors=...
 * With --hold it only upgrades the connections, prints
 *   RESULT held=N
 * keeps them open and idle until SIGINT/SIGTERM or the duration ends (for
 * memory per connection). Every phase is bounded: connecting and upgrading
 * give up after 10 s. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAX_WINDOW 1024
#define MAX_SIZE (16u << 20)

typedef struct {
    uv_tcp_t tcp;
    uv_connect_t connect;
    int upgraded;
    char head[512]; /* response head bytes so far */
    size_t head_len;
    /* the frame being received */
    uint8_t hdr[10];
    size_t hdr_have, hdr_need;
    uint64_t payload_left, payload_off;
    int in_payload;
} conn_t;

static conn_t *conns;
static int nconns = 1, window = 1, duration_s = 5, warmup_s = 1, hold;
static size_t size = 16;
static int port = 8888;
static const char *path = "/ws/echo";
static int n_connected, n_upgraded, n_failed, measuring, stopping;
static uint64_t msgs, errors;
static uint64_t t_measure_ns, t_end_ns;
static char *frames; /* WINDOW copies of the masked frame */
static size_t frame_len;
static uint8_t *expect; /* the payload the echo must carry */
static char read_buf[256 * 1024];
static char request[512];
static size_t request_len;
static struct sockaddr_in addr;
static uv_timer_t timer;
static uv_signal_t sigint, sigterm;

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

static void close_all(void)
{
    if (stopping)
        return;
    stopping = 1;
    for (int i = 0; i < nconns; i++)
        if (!uv_is_closing((uv_handle_t *)&conns[i].tcp))
            uv_close((uv_handle_t *)&conns[i].tcp, on_closed);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
}

static void on_written(uv_write_t *req, int status)
{
    if (status < 0 && !stopping)
        errors++;
    free(req);
}

static void send_frames(conn_t *c, int n)
{
    if (n <= 0 || stopping)
        return;
    uv_write_t *req = malloc(sizeof *req);
    uv_buf_t b = uv_buf_init(frames, (unsigned)(frame_len * (size_t)n));
    if (!req || uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(req);
        errors++;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

/* Parses echoed frames; returns how many messages completed. */
static int parse_frames(conn_t *c, const uint8_t *p, size_t n)
{
    int done = 0;
    while (n > 0) {
        if (!c->in_payload) {
            size_t take = c->hdr_need - c->hdr_have;
            if (take > n)
                take = n;
            memcpy(c->hdr + c->hdr_have, p, take);
            c->hdr_have += take;
            p += take;
            n -= take;
            if (c->hdr_have == 2) {
                size_t l7 = c->hdr[1] & 0x7f;
                if (c->hdr[0] != 0x82 || (c->hdr[1] & 0x80)) {
                    errors++;
                    return -1;
                }
                c->hdr_need = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
            }
            if (c->hdr_have < c->hdr_need)
                continue;
            uint64_t len = c->hdr[1] & 0x7f;
            if (len == 126)
                len = ((uint64_t)c->hdr[2] << 8) | c->hdr[3];
            else if (len == 127) {
                len = 0;
                for (int i = 2; i < 10; i++)
                    len = (len << 8) | c->hdr[i];
            }
            if (len != size) {
                errors++;
                return -1;
            }
            c->payload_left = len;
            c->payload_off = 0;
            c->in_payload = 1;
        }
        size_t take = c->payload_left < n ? (size_t)c->payload_left : n;
        if (memcmp(p, expect + c->payload_off, take) != 0) {
            errors++;
            return -1;
        }
        c->payload_off += take;
        c->payload_left -= take;
        p += take;
        n -= take;
        if (c->payload_left == 0) {
            c->in_payload = 0;
            c->hdr_have = 0;
            c->hdr_need = 2;
            done++;
        }
    }
    return done;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = (conn_t *)s;
    if (nread < 0) {
        if (!stopping) {
            errors++;
            fprintf(stderr, "ws_load: connection lost: %s\n", uv_strerror((int)nread));
            close_all();
        }
        return;
    }
    const uint8_t *p = (const uint8_t *)buf->base;
    size_t n = (size_t)nread;
    if (!c->upgraded) {
        size_t take = n < sizeof c->head - c->head_len ? n : sizeof c->head - c->head_len;
        memcpy(c->head + c->head_len, p, take);
        c->head_len += take;
        char *end = NULL;
        for (size_t i = 0; i + 4 <= c->head_len; i++)
            if (memcmp(c->head + i, "\r\n\r\n", 4) == 0) {
                end = c->head + i + 4;
                break;
            }
        if (!end) {
            if (c->head_len == sizeof c->head) {
                fprintf(stderr, "ws_load: response head too long\n");
                errors++;
                close_all();
            }
            return;
        }
        if (memcmp(c->head, "HTTP/1.1 101 ", 13) != 0) {
            fprintf(stderr, "ws_load: no upgrade: %.40s\n", c->head);
            n_failed++;
            errors++;
            close_all();
            return;
        }
        size_t used = (size_t)(end - c->head) - (c->head_len - take);
        p += used;
        n -= used;
        c->upgraded = 1;
        n_upgraded++;
        if (!hold)
            send_frames(c, window);
    }
    int got = parse_frames(c, p, n);
    if (got < 0) {
        fprintf(stderr, "ws_load: bad echo\n");
        close_all();
        return;
    }
    if (measuring)
        msgs += (uint64_t)got;
    send_frames(c, got);
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    if (status < 0) {
        n_failed++;
        fprintf(stderr, "ws_load: connect: %s\n", uv_strerror(status));
        close_all();
        return;
    }
    n_connected++;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = uv_buf_init(request, (unsigned)request_len);
    if (!w || uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(w);
        errors++;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static uint64_t now_ns(void)
{
    return uv_hrtime();
}

static void on_tick(uv_timer_t *t)
{
    uint64_t now = now_ns();
    if (n_upgraded < nconns) {
        if (now > t_measure_ns + 10ull * 1000000000ull) {
            fprintf(stderr, "ws_load: only %d of %d connections upgraded in 10 s\n", n_upgraded,
                    nconns);
            errors++;
            close_all();
        }
        return;
    }
    if (hold) {
        static int printed;
        if (!printed) {
            printed = 1;
            printf("RESULT held=%d\n", n_upgraded);
            fflush(stdout);
            t_end_ns = now + (uint64_t)duration_s * 1000000000ull;
        } else if (now >= t_end_ns) {
            close_all();
        }
        return;
    }
    if (!measuring && t_end_ns == 0) {
        t_measure_ns = now + (uint64_t)warmup_s * 1000000000ull;
        t_end_ns = t_measure_ns + (uint64_t)duration_s * 1000000000ull;
    }
    if (!measuring && now >= t_measure_ns) {
        measuring = 1;
        t_measure_ns = now;
    }
    if (measuring && now >= t_end_ns) {
        double secs = (double)(now - t_measure_ns) / 1e9;
        printf("RESULT msgs_per_s=%.0f mib_per_s=%.2f errors=%llu\n", (double)msgs / secs,
               (double)msgs * (double)size / secs / (1024.0 * 1024.0), (unsigned long long)errors);
        close_all();
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    close_all();
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--port") == 0 && next)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--path") == 0 && next)
            path = argv[++i];
        else if (strcmp(argv[i], "-c") == 0 && next)
            nconns = atoi(argv[++i]);
        else if (strcmp(argv[i], "-w") == 0 && next)
            window = atoi(argv[++i]);
        else if (strcmp(argv[i], "-s") == 0 && next)
            size = (size_t)strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--duration") == 0 && next)
            duration_s = atoi(argv[++i]);
        else if (strcmp(argv[i], "--warmup") == 0 && next)
            warmup_s = atoi(argv[++i]);
        else if (strcmp(argv[i], "--hold") == 0)
            hold = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--port N] [--path P] [-c CONNS] [-w WINDOW] [-s BYTES]\n"
                    "       [--duration S] [--warmup S] [--hold]\n",
                    argv[0]);
            return 2;
        }
    }
    if (nconns < 1 || nconns > 100000 || window < 1 || window > MAX_WINDOW || size > MAX_SIZE ||
        duration_s < 1 || duration_s > 600 || warmup_s < 0 || warmup_s > 60 || strlen(path) > 200) {
        fprintf(stderr, "ws_load: argument out of range\n");
        return 2;
    }
    request_len = (size_t)snprintf(request, sizeof request,
                                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                                   "Connection: Upgrade\r\nSec-WebSocket-Key: "
                                   "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                                   path, port);
    /* One masked frame, built once, repeated WINDOW times. */
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    uint8_t hdr[14];
    size_t hl = 2;
    hdr[0] = 0x82;
    if (size <= 125) {
        hdr[1] = (uint8_t)(0x80 | size);
    } else if (size <= 0xffff) {
        hdr[1] = 0x80 | 126;
        hdr[2] = (uint8_t)(size >> 8);
        hdr[3] = (uint8_t)size;
        hl = 4;
    } else {
        hdr[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            hdr[2 + i] = (uint8_t)((uint64_t)size >> (56 - 8 * i));
        hl = 10;
    }
    memcpy(hdr + hl, key, 4);
    hl += 4;
    frame_len = hl + size;
    expect = malloc(size ? size : 1);
    frames = malloc(frame_len * (size_t)window);
    conns = calloc((size_t)nconns, sizeof *conns);
    if (!expect || !frames || !conns)
        return 1;
    for (size_t i = 0; i < size; i++)
        expect[i] = (uint8_t)(i * 31 + 7);
    for (int w = 0; w < window; w++) {
        char *f = frames + frame_len * (size_t)w;
        memcpy(f, hdr, hl);
        for (size_t i = 0; i < size; i++)
            f[hl + i] = (char)(expect[i] ^ key[i & 3]);
    }
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_loop_t *loop = uv_default_loop();
    t_measure_ns = now_ns();
    for (int i = 0; i < nconns; i++) {
        conn_t *c = &conns[i];
        c->hdr_need = 2;
        uv_tcp_init(loop, &c->tcp);
        c->connect.data = c;
        if (uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, on_connect) != 0)
            n_failed++;
    }
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_tick, 50, 50);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    free(frames);
    free(expect);
    free(conns);
    return errors || n_failed ? 1 : 0;
}
