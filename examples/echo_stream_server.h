/* The IOStream echo server of the seed, as static functions shared by
 * examples/echo_stream.c and tests/test_echo_stream.c: per connection,
 * read a line (read_until "\n" with max_bytes = the maximum line length),
 * write it back, repeat (without waiting for the write unless 64 KiB are
 * already queued for a peer that does not read). A line longer than the maximum closes the
 * connection (Tornado's UnsatisfiableReadError closes the stream). */
#ifndef TN_EXAMPLE_ECHO_STREAM_SERVER_H
#define TN_EXAMPLE_ECHO_STREAM_SERVER_H

#include <string.h>

#include "tornuv.h"

#define ECHO_DEFAULT_MAX_LINE (64 * 1024)
#define ECHO_MAX_QUEUED (64 * 1024)

typedef struct {
    tn_tcpserver_t *server;
    size_t max_line;
    /* Open connections and lines echoed, for the tests and the log. */
    size_t connections;
    size_t lines;
} echo_server_t;

static void echo_read_line(tn_iostream_t *stream, echo_server_t *es);

static void echo_on_written(tn_iostream_t *stream, int status, void *arg)
{
    /* A failed write means the stream closed; its close callback tidies up. */
    if (status == 0)
        echo_read_line(stream, arg);
}

static void echo_on_line(tn_iostream_t *stream, int status, const char *data, size_t len, void *arg)
{
    echo_server_t *es = arg;
    /* Nonzero: the peer left, or the line was too long and the stream has
     * been closed (tn_iostream_error says which). */
    if (status != 0)
        return;
    es->lines++;
    /* Reading the next line does not wait for this write unless the peer
     * has stopped reading and 64 KiB are already queued: then the write's
     * completion resumes reading (back-pressure instead of a growing
     * buffer). */
    if (tn_iostream_write_buffered(stream) + len > ECHO_MAX_QUEUED) {
        if (tn_iostream_write(stream, data, len, echo_on_written, es) != 0)
            tn_iostream_close(stream);
        return;
    }
    if (tn_iostream_write(stream, data, len, NULL, NULL) != 0)
        tn_iostream_close(stream);
    else
        echo_read_line(stream, es);
}

static void echo_read_line(tn_iostream_t *stream, echo_server_t *es)
{
    if (tn_iostream_read_until(stream, "\n", 1, es->max_line, echo_on_line, es) != 0)
        tn_iostream_close(stream);
}

static void echo_on_close(tn_iostream_t *stream, void *arg)
{
    echo_server_t *es = arg;
    (void)stream;
    es->connections--;
}

static void echo_handle_stream(tn_tcpserver_t *server, tn_iostream_t *stream, const char *ip,
                               int port, void *arg)
{
    echo_server_t *es = arg;
    (void)server;
    (void)ip;
    (void)port;
    es->connections++;
    tn_iostream_set_close_callback(stream, echo_on_close, es);
    echo_read_line(stream, es);
}

/* Creates the server and listens on address:port (port 0: ephemeral, read
 * it back with tn_tcpserver_port). max_line 0 means the default. */
static int echo_server_start(tn_ioloop_t *loop, echo_server_t *es, const char *address, int port,
                             size_t max_line)
{
    tn_tcpserver_options_t opts;
    memset(&opts, 0, sizeof(opts));
    memset(es, 0, sizeof(*es));
    es->max_line = max_line ? max_line : ECHO_DEFAULT_MAX_LINE;
    opts.handle_stream = echo_handle_stream;
    opts.arg = es;
    int err = tn_tcpserver_new(loop, &opts, &es->server);
    if (err != 0)
        return err;
    err = tn_tcpserver_listen(es->server, port, address);
    if (err != 0) {
        tn_tcpserver_free(es->server, NULL, NULL);
        es->server = NULL;
    }
    return err;
}

#endif /* TN_EXAMPLE_ECHO_STREAM_SERVER_H */
