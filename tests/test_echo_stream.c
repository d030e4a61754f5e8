/* The IOStream echo example (examples/echo_stream_server.h) on port 0 with
 * many concurrent client streams. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../examples/echo_stream_server.h"
#include "loop_util.h"
#include "net_peer.h"

TestSuite(echo_stream, .timeout = 60);

enum { CLIENTS = 200, LINES = 20 };

typedef struct client_s client_t;

typedef struct {
    tn_ioloop_t *loop;
    int finished;
    int failures;
    int closes;
    int expected_closes;
} run_t;

struct client_s {
    run_t *run;
    tn_iostream_t *s;
    int id;
    int line;
    char sent[256];
    size_t sent_len;
};

static void client_send(client_t *c);

static void on_client_close(tn_iostream_t *s, void *arg)
{
    client_t *c = arg;
    (void)s;
    if (++c->run->closes == c->run->expected_closes)
        tn_ioloop_stop(c->run->loop);
}

static void on_echo(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    client_t *c = arg;
    if (status != 0 || len != c->sent_len || memcmp(data, c->sent, len) != 0) {
        c->run->failures++;
        tn_iostream_close(s);
        return;
    }
    if (++c->line == LINES) {
        c->run->finished++;
        tn_iostream_close(s);
        return;
    }
    client_send(c);
}

static void client_send(client_t *c)
{
    /* Lines of varying length, written in two pieces so the server sees
     * lines split across reads. */
    int n =
        snprintf(c->sent, sizeof(c->sent), "client %d line %d %.*s\n", c->id, c->line,
                 (c->id * 7 + c->line * 13) % 150,
                 "................................................................................."
                 "...............................................................................");
    c->sent_len = (size_t)n;
    size_t half = c->sent_len / 2;
    cr_assert_eq(tn_iostream_write(c->s, c->sent, half, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_write(c->s, c->sent + half, c->sent_len - half, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_read_until(c->s, "\n", 1, 1024, on_echo, c), 0);
}

static void on_connected(tn_iostream_t *s, int status, void *arg)
{
    client_t *c = arg;
    if (status != 0) {
        c->run->failures++;
        return;
    }
    (void)s;
}

Test(echo_stream, many_concurrent_clients)
{
    static client_t clients[CLIENTS];
    tn_ioloop_t *loop = tn_test_loop_new();
    echo_server_t es;
    run_t run = {.loop = loop, .expected_closes = CLIENTS};
    cr_assert_eq(echo_server_start(loop, &es, "127.0.0.1", 0, 0), 0);
    int port = tn_tcpserver_port(es.server);
    cr_assert_gt(port, 0);
    for (int i = 0; i < CLIENTS; i++) {
        client_t *c = &clients[i];
        memset(c, 0, sizeof(*c));
        c->run = &run;
        c->id = i;
        cr_assert_eq(tn_iostream_connect(loop, "127.0.0.1", port, NULL, on_connected, c, &c->s), 0);
        tn_iostream_set_close_callback(c->s, on_client_close, c);
        /* Written while connecting: sent once connected. */
        client_send(c);
    }
    tn_test_run(loop, 30000);
    cr_assert_eq(run.failures, 0);
    cr_assert_eq(run.finished, CLIENTS);
    cr_assert_eq(es.lines, (size_t)CLIENTS * LINES);
    /* Server-side streams see the clients leave. */
    for (int i = 0; i < 100 && es.connections > 0; i++) {
        tn_test_settle(loop, 10);
    }
    cr_assert_eq(es.connections, 0);
    tn_test_free_server(loop, es.server);
    tn_test_close(loop, 0);
}

typedef struct {
    tn_ioloop_t *loop;
    int status;
    int closes;
} long_t;

static void on_long_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    long_t *l = arg;
    (void)s;
    (void)data;
    (void)len;
    l->status = status;
}

static void on_long_close(tn_iostream_t *s, void *arg)
{
    long_t *l = arg;
    (void)s;
    l->closes++;
    tn_ioloop_stop(l->loop);
}

static void on_long_connected(tn_iostream_t *s, int status, void *arg)
{
    (void)s;
    (void)status;
    (void)arg;
}

/* tornado: iostream_test TestIOStreamMixin test_read_until_max_bytes (server side) */
Test(echo_stream, line_longer_than_max_closes_the_connection)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    echo_server_t es;
    cr_assert_eq(echo_server_start(loop, &es, "127.0.0.1", 0, 1024), 0);
    long_t l = {.loop = loop, .status = 1};
    tn_iostream_t *s;
    cr_assert_eq(tn_iostream_connect(loop, "127.0.0.1", tn_tcpserver_port(es.server), NULL,
                                     on_long_connected, &l, &s),
                 0);
    tn_iostream_set_close_callback(s, on_long_close, &l);
    static char big[4096];
    memset(big, 'x', sizeof(big));
    cr_assert_eq(tn_iostream_write(s, "short\n", 6, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_write(s, big, sizeof(big), NULL, NULL), 0);
    /* The server hangs up (with unread input it may be a reset, so whether
     * the echo of "short\n" arrives first is up to the kernel). */
    cr_assert_eq(tn_iostream_read_until_close(s, on_long_read, &l), 0);
    tn_test_run(loop, 10000);
    cr_assert_neq(l.status, 1, "read_until_close never completed");
    cr_assert_eq(l.closes, 1);
    cr_assert_eq(es.lines, 1);
    tn_test_free_server(loop, es.server);
    cr_assert_eq(es.connections, 0);
    tn_test_close(loop, 0);
}
