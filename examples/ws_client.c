/* A WebSocket echo client (websocket_connect):
 *
 *   ws_client URL [--deflate] [--rounds N]
 *
 * Connects to an echo server (the demo's /ws/echo, or any other), sends
 * text and binary messages of 0, 125, 126, 65535, 65536 bytes and 1 MiB,
 * checks each echo byte for byte, pings, closes with 1000 and prints "ok".
 * Exit status 0 on success, 1 on any mismatch or error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tornuv.h"

static const size_t sizes[] = {0, 125, 126, 65535, 65536, 1 << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

typedef struct {
    tn_ioloop_t *loop;
    tn_websocket_t *ws;
    char *msg;
    size_t step, steps;
    int failed, pong, code;
} client_t;

static void fill(char *p, size_t n, size_t step)
{
    int binary = (int)(step & 1);
    for (size_t i = 0; i < n; i++)
        p[i] = binary ? (char)(i * 7 + step) : (char)('a' + (i + step) % 26);
}

static void send_step(client_t *c)
{
    if (c->step == c->steps) {
        if (tn_websocket_ping(c->ws, "tn", 2) != 0)
            c->failed = 1;
        return;
    }
    size_t n = sizes[(c->step / 2) % NSIZES];
    fill(c->msg, n, c->step);
    if (tn_websocket_write_message(c->ws, c->msg, n, (int)(c->step & 1), NULL, NULL) != 0) {
        c->failed = 1;
        tn_ioloop_stop(c->loop);
    }
}

static void on_message(tn_websocket_t *ws, int binary, const char *d, size_t n, void *arg)
{
    client_t *c = arg;
    (void)ws;
    size_t want = sizes[(c->step / 2) % NSIZES];
    if (c->step >= c->steps || binary != (int)(c->step & 1) || n != want ||
        memcmp(d, c->msg, n) != 0) {
        fprintf(stderr, "ws_client: echo %zu differs (%zu bytes, binary %d)\n", c->step, n, binary);
        c->failed = 1;
        (void)tn_websocket_close(ws, 1000, NULL);
        return;
    }
    c->step++;
    send_step(c);
}

static void on_pong(tn_websocket_t *ws, const char *d, size_t n, void *arg)
{
    client_t *c = arg;
    c->pong = n == 2 && memcmp(d, "tn", 2) == 0;
    (void)tn_websocket_close(ws, 1000, "done");
}

static void on_close(tn_websocket_t *ws, int code, const char *reason, size_t n, void *arg)
{
    client_t *c = arg;
    (void)ws;
    (void)reason;
    (void)n;
    c->code = code;
    c->ws = NULL;
    tn_ioloop_stop(c->loop);
}

static void on_connect(tn_websocket_t *ws, int status, void *arg)
{
    client_t *c = arg;
    if (status != 0) {
        fprintf(stderr, "ws_client: connect: %s\n", tn_strerror(status));
        c->failed = 1;
        tn_ioloop_stop(c->loop);
        return;
    }
    c->ws = ws;
    printf("ws_client: connected (compression %s)\n", tn_websocket_compressed(ws) ? "on" : "off");
    send_step(c);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL [--deflate] [--rounds N]\n", argv[0]);
        return 2;
    }
    static const tn_websocket_compression_t z = {.level = 1};
    client_t c = {0};
    tn_websocket_connect_options_t o = {0};
    int rounds = 1;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--deflate") == 0)
            o.compression = &z;
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
    }
    if (rounds < 1 || rounds > 1000)
        rounds = 1;
    c.steps = (size_t)rounds * NSIZES * 2;
    c.msg = malloc(1 << 20);
    o.events.on_message = on_message;
    o.events.on_pong = on_pong;
    o.events.on_close = on_close;
    o.arg = &c;
    o.connect_timeout_ms = 10000;
    int err = tn_ioloop_new(&c.loop);
    if (!c.msg || err != 0)
        return 1;
    c.code = -1;
    err = tn_websocket_connect(c.loop, argv[1], &o, on_connect, &c);
    if (err != 0) {
        fprintf(stderr, "ws_client: %s\n", tn_strerror(err));
        c.failed = 1;
    } else {
        tn_ioloop_start(c.loop);
    }
    if (c.ws) /* stopped early: drop the connection */
        (void)tn_websocket_close(c.ws, 1000, NULL);
    tn_ioloop_close(c.loop, TN_CLOSE_ALL_FDS);
    free(c.msg);
    int ok = !c.failed && c.step == c.steps && c.pong && c.code == 1000;
    printf("ws_client: %zu echoes, pong %s, close code %d: %s\n", c.step, c.pong ? "yes" : "no",
           c.code, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
