/* Echo server on raw fd handlers: the seed's first program.
 *
 *   echo_handlers [port]        (default 8888, listens on 127.0.0.1)
 *   printf 'hi\n' | nc -q1 127.0.0.1 8888
 *
 * SIGINT or SIGTERM stop the loop; the server then closes every socket and
 * the loop closes cleanly. */
#include <signal.h>
#include <stdlib.h>

#include "echo_handlers_server.h"

static void on_signal(tn_ioloop_t *loop, int signum, void *arg)
{
    fprintf(stderr, "echo_handlers: signal %d, stopping\n", signum);
    tn_ioloop_stop(loop);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8888;
    if (port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s [port]\n", argv[0]);
        return 2;
    }
    tn_ioloop_t *loop;
    int err = tn_ioloop_new(&loop);
    if (err != 0) {
        fprintf(stderr, "echo_handlers: %s\n", tn_strerror(err));
        return 1;
    }
    echo_server_t server;
    err = echo_server_start(&server, loop, "127.0.0.1", port);
    if (err != 0) {
        fprintf(stderr, "echo_handlers: cannot listen on 127.0.0.1:%d: %s\n", port,
                tn_strerror(err));
        tn_ioloop_close(loop, TN_CLOSE_ALL_FDS);
        return 1;
    }
    tn_ioloop_add_signal_handler(loop, SIGINT, on_signal, NULL);
#ifdef SIGTERM
    tn_ioloop_add_signal_handler(loop, SIGTERM, on_signal, NULL);
#endif
    printf("echo_handlers: listening on 127.0.0.1:%d\n", server.port);
    fflush(stdout);
    tn_ioloop_start(loop);
    echo_server_stop(&server);
    err = tn_ioloop_close(loop, 0);
    if (err != 0) {
        fprintf(stderr, "echo_handlers: close: %s\n", tn_strerror(err));
        return 1;
    }
    printf("echo_handlers: %zu connections served, %llu bytes echoed\n", server.accepted,
           server.bytes_echoed);
    return 0;
}
