/* Unix domain sockets: listen_pipe, tn_pipe_connect, socket files, and
 * streams from an existing socket. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "loop_util.h"
#include "net_peer.h"
#include "tornuv.h"

TestSuite(pipe, .timeout = 30);

static char dir[64];
static char path[96];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/tn-pipe-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/sock", dir);
}

static void remove_dir(void)
{
    unlink(path);
    rmdir(dir);
}

typedef struct {
    tn_ioloop_t *loop;
    char ip[64];
    int port;
    int accepted;
    int connect_status;
    int connects;
    char got[64];
    size_t got_len;
    int closes;
    int close_error;
    tn_iostream_t *client;
} pipe_ctx_t;

static void on_echo_written(tn_iostream_t *s, int status, void *arg)
{
    (void)arg;
    (void)status;
    tn_iostream_close(s);
}

static void on_server_line(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    if (status != 0)
        return;
    cr_assert_eq(tn_iostream_write(s, data, len, on_echo_written, arg), 0);
}

static void on_accept(tn_tcpserver_t *server, tn_iostream_t *stream, const char *ip, int port,
                      void *arg)
{
    pipe_ctx_t *c = arg;
    (void)server;
    snprintf(c->ip, sizeof(c->ip), "%s", ip);
    c->port = port;
    c->accepted++;
    cr_assert_eq(tn_iostream_read_until(stream, "\n", 1, 1024, on_server_line, c), 0);
}

static void on_client_close(tn_iostream_t *s, void *arg)
{
    pipe_ctx_t *c = arg;
    c->closes++;
    c->close_error = tn_iostream_error(s);
    tn_ioloop_stop(c->loop);
}

static void on_client_line(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    pipe_ctx_t *c = arg;
    if (status == 0 && len < sizeof(c->got)) {
        memcpy(c->got, data, len);
        c->got_len = len;
    }
    tn_iostream_close(s);
}

static void on_connected(tn_iostream_t *s, int status, void *arg)
{
    pipe_ctx_t *c = arg;
    c->connects++;
    c->connect_status = status;
    if (status == 0)
        cr_assert_eq(tn_iostream_read_until(s, "\n", 1, 1024, on_client_line, c), 0);
}

static tn_tcpserver_t *pipe_server(tn_ioloop_t *loop, pipe_ctx_t *c)
{
    tn_tcpserver_options_t opts;
    tn_tcpserver_t *server;
    memset(&opts, 0, sizeof(opts));
    opts.handle_stream = on_accept;
    opts.arg = c;
    cr_assert_eq(tn_tcpserver_new(loop, &opts, &server), 0);
    return server;
}

static void echo_round_trip(tn_ioloop_t *loop, pipe_ctx_t *c)
{
    cr_assert_eq(tn_pipe_connect(loop, path, NULL, on_connected, c, &c->client), 0);
    tn_iostream_set_close_callback(c->client, on_client_close, c);
    cr_assert_eq(tn_iostream_write(c->client, "ping\n", 5, NULL, NULL), 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(c->connect_status, 0, "connect: %s", tn_err_name(c->connect_status));
    cr_assert_eq(c->got_len, 5);
    cr_assert_eq(memcmp(c->got, "ping\n", 5), 0);
}

Test(pipe, listen_connect_echo)
{
    make_dir();
    tn_ioloop_t *loop = tn_test_loop_new();
    pipe_ctx_t c = {.loop = loop};
    tn_tcpserver_t *server = pipe_server(loop, &c);
    cr_assert_eq(tn_tcpserver_listen_pipe(server, path), 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISSOCK(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0600);
    echo_round_trip(loop, &c);
    cr_assert_eq(c.accepted, 1);
    /* Tornado reports unix-socket peers as 0.0.0.0. */
    cr_assert_str_eq(c.ip, "0.0.0.0");
    cr_assert_eq(c.port, 0);
    cr_assert_eq(tn_tcpserver_port(server), 0);
    tn_test_free_server(loop, server);
    tn_test_settle(loop, 10);
    cr_assert_eq(c.closes, 1);
    tn_test_close(loop, 0);
    remove_dir();
}

/* tornado: netutil_test (bind_unix_socket removes a stale socket file) */
Test(pipe, stale_socket_file_is_replaced)
{
    make_dir();
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
    close(fd);
    tn_ioloop_t *loop = tn_test_loop_new();
    pipe_ctx_t c = {.loop = loop};
    tn_tcpserver_t *server = pipe_server(loop, &c);
    cr_assert_eq(tn_tcpserver_listen_pipe(server, path), 0);
    echo_round_trip(loop, &c);
    tn_test_free_server(loop, server);
    tn_test_settle(loop, 10);
    tn_test_close(loop, 0);
    remove_dir();
}

Test(pipe, regular_file_is_not_replaced)
{
    make_dir();
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    tn_ioloop_t *loop = tn_test_loop_new();
    pipe_ctx_t c = {.loop = loop};
    tn_tcpserver_t *server = pipe_server(loop, &c);
    cr_assert_eq(tn_tcpserver_listen_pipe(server, path), UV_EEXIST);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISREG(st.st_mode));
    cr_assert_eq(tn_tcpserver_listen_pipe(server, ""), TN_EINVAL);
    tn_test_free_server(loop, server);
    tn_test_close(loop, 0);
    remove_dir();
}

Test(pipe, connect_to_missing_path)
{
    make_dir();
    tn_ioloop_t *loop = tn_test_loop_new();
    pipe_ctx_t c = {.loop = loop};
    tn_iostream_t *s;
    cr_assert_eq(tn_pipe_connect(loop, path, NULL, on_connected, &c, &s), 0);
    tn_iostream_set_close_callback(s, on_client_close, &c);
    cr_assert_eq(c.connects, 0);
    tn_test_run(loop, 5000);
    cr_assert_eq(c.connects, 1);
    cr_assert_eq(c.connect_status, -ENOENT, "got %s", tn_err_name(c.connect_status));
    cr_assert_eq(c.close_error, -ENOENT);
    cr_assert_eq(c.closes, 1);
    tn_test_close(loop, 0);
    remove_dir();
}

typedef struct {
    tn_ioloop_t *loop;
    char got[16];
    size_t len;
    int closes;
} pair_ctx_t;

static void on_pair_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    pair_ctx_t *p = arg;
    cr_assert_eq(status, 0);
    memcpy(p->got, data, len);
    p->len = len;
    tn_iostream_close(s);
}

static void on_pair_close(tn_iostream_t *s, void *arg)
{
    pair_ctx_t *p = arg;
    (void)s;
    if (++p->closes == 2)
        tn_ioloop_stop(p->loop);
}

Test(pipe, streams_from_a_socketpair)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pair_ctx_t p = {.loop = loop};
    tn_iostream_t *a, *b;
    cr_assert_eq(tn_iostream_from_socket(loop, sv[0], NULL, &a), 0);
    cr_assert_eq(tn_iostream_from_socket(loop, sv[1], NULL, &b), 0);
    tn_iostream_set_close_callback(a, on_pair_close, &p);
    tn_iostream_set_close_callback(b, on_pair_close, &p);
    cr_assert_eq(tn_iostream_write(a, "over a pair", 11, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_read_bytes(b, 11, 0, on_pair_read, &p), 0);
    /* b closing gives a an EOF; a's close callback needs nothing more. */
    tn_test_run(loop, 5000);
    cr_assert_eq(p.len, 11);
    cr_assert_eq(memcmp(p.got, "over a pair", 11), 0);
    tn_test_close(loop, 0);
}

Test(pipe, from_socket_rejects_non_sockets)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    tn_iostream_t *s;
    int fd = open("/dev/null", O_RDONLY);
    cr_assert_eq(tn_iostream_from_socket(loop, fd, NULL, &s), TN_EINVAL);
    cr_assert_eq(close(fd), 0);
    tn_test_close(loop, 0);
}
