/* IOStream echo server (the seed's echo over tornado.iostream):
 *
 *   echo_stream [port [max_line]]
 *
 * Listens on 127.0.0.1:port (default 8888) and echoes every line back.
 * Lines longer than max_line bytes (default 65536) close the connection.
 * SIGINT or SIGTERM stops it: the server stops accepting, open connections
 * are closed, and the loop is closed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "echo_stream_server.h"

static void on_signal(tn_ioloop_t *loop, int signum, void *arg)
{
    (void)signum;
    (void)arg;
    tn_ioloop_stop(loop);
}

int main(int argc, char **argv)
{
    tn_ioloop_t *loop;
    echo_server_t es;
    int port = argc > 1 ? atoi(argv[1]) : 8888;
    long max_line = argc > 2 ? atol(argv[2]) : 0;

    if (port < 0 || port > 65535 || max_line < 0) {
        fprintf(stderr, "usage: %s [port [max_line]]\n", argv[0]);
        return 2;
    }
    int err = tn_ioloop_new(&loop);
    if (err != 0) {
        fprintf(stderr, "echo_stream: %s\n", tn_strerror(err));
        return 1;
    }
    err = echo_server_start(loop, &es, "127.0.0.1", port, (size_t)max_line);
    if (err != 0) {
        fprintf(stderr, "echo_stream: listen on 127.0.0.1:%d: %s\n", port, tn_strerror(err));
        tn_ioloop_close(loop, TN_CLOSE_ALL_FDS);
        return 1;
    }
    tn_ioloop_add_signal_handler(loop, SIGINT, on_signal, NULL);
#ifdef SIGTERM
    tn_ioloop_add_signal_handler(loop, SIGTERM, on_signal, NULL);
#endif
    printf("echo_stream: listening on 127.0.0.1:%d\n", tn_tcpserver_port(es.server));
    fflush(stdout);
    tn_ioloop_start(loop);
    printf("echo_stream: stopping (%zu lines echoed)\n", es.lines);
    tn_tcpserver_free(es.server, NULL, NULL);
    /* Closes the remaining connections and signal handlers, then the loop. */
    return tn_ioloop_close(loop, TN_CLOSE_ALL_FDS) == 0 ? 0 : 1;
}
