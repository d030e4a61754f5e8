/* libFuzzer target: arbitrary bytes through a whole HTTP1Connection (the
 * server's connection state machine, parser, responses, timers) over an
 * in-memory transport, on a real loop.
 *
 * The first input bytes choose the configuration: delegate or simple mode,
 * how the application answers (at once, streamed, later, never, aborting),
 * pause/resume, gzip decoding, small limits, how many bytes the "peer" reads
 * per write, and the chunk size the input arrives in. The rest is the byte
 * stream from the client, followed by EOF. Checked: no crash or sanitizer
 * report, no leak, and the delegate contract (exactly one of finish or
 * on_connection_close per started request). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tornuv.h"
#include "tornuv/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    tn_ioloop_t *loop;
    tn_iostream_t *stream;
    int reading, closed, accept;
    size_t pending;
    size_t out;
} fz_t;

static int f_read_start(void *t)
{
    ((fz_t *)t)->reading = 1;
    return 0;
}

static int f_read_stop(void *t)
{
    ((fz_t *)t)->reading = 0;
    return 0;
}

static long f_try_write(void *t, const tn_buf_t *b, size_t n)
{
    fz_t *f = t;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += b[i].len;
    if (f->accept >= 0 && total > (size_t)f->accept)
        total = (size_t)f->accept;
    f->out += total;
    return (long)total;
}

static int f_write(void *t, const tn_buf_t *b, size_t n)
{
    fz_t *f = t;
    (void)b;
    (void)n;
    f->pending++;
    return 0;
}

static int f_shutdown(void *t)
{
    (void)t;
    return 0;
}

static void on_closed(tn_ioloop_t *loop, void *arg)
{
    fz_t *f = arg;
    (void)loop;
    tn_iostream__on_closed(f->stream);
}

static void f_close(void *t)
{
    fz_t *f = t;
    f->closed = 1;
    f->reading = 0;
    f->pending = 0;
    if (tn_ioloop_add_callback(f->loop, on_closed, f) != 0)
        abort();
}

static int f_nodelay(void *t, int on)
{
    (void)t;
    (void)on;
    return 0;
}

static int f_address(void *t, char *ip, size_t len, int *port)
{
    (void)t;
    if (len < 10)
        return TN_EINVAL;
    memcpy(ip, "127.0.0.1", 10);
    *port = 1;
    return 0;
}

static const tn_transport_ops_t k_ops = {f_read_start, f_read_stop, f_try_write, f_write,
                                         f_shutdown,   f_close,     f_nodelay,   f_address};

/* ---- the application ---------------------------------------------------- */

enum { ANSWER_NOW, ANSWER_STREAM, ANSWER_LATER, ANSWER_NEVER, ANSWER_ABORT };

static struct {
    int answer;
    int pause;
    tn_http_request_t *held;
    int started, ended;
    tn_http_request_t *paused;
} app;

static void respond(tn_http_request_t *req)
{
    size_t n;
    const char *body = tn_http_request_body(req, &n);
    (void)tn_http_request_arguments(req);
    (void)tn_http_request_cookies(req);
    if (app.answer == ANSWER_STREAM) {
        (void)tn_http_response_write_headers(req, 200, NULL, NULL);
        (void)tn_http_response_write(req, body, n, NULL, NULL);
        (void)tn_http_response_write(req, "tail", 4, NULL, NULL);
        (void)tn_http_response_finish(req);
    } else {
        (void)tn_http_response_send(req, 200, "text/plain", body, n);
    }
}

static void on_held_close(tn_http_request_t *req, void *arg)
{
    (void)req;
    (void)arg;
    app.held = NULL;
}

static void on_request(tn_http_request_t *req, void *arg)
{
    (void)arg;
    if (app.answer == ANSWER_LATER || app.answer == ANSWER_NEVER) {
        app.held = req;
        tn_http_request_set_close_callback(req, on_held_close, NULL);
        return;
    }
    respond(req);
}

static int d_start(tn_http_request_t *req, void *arg)
{
    (void)req;
    (void)arg;
    if (app.started != app.ended)
        abort(); /* one request at a time */
    app.started++;
    return 0;
}

static int d_headers(tn_http_request_t *req, void *arg)
{
    (void)arg;
    if (app.answer == ANSWER_ABORT)
        return TN_EINVAL;
    (void)tn_http_request_set_max_body_size(req, 4096);
    return 0;
}

static int d_data(tn_http_request_t *req, const char *d, size_t n, void *arg)
{
    (void)d;
    (void)n;
    (void)arg;
    if (app.pause) {
        tn_http_request_pause_body(req);
        app.paused = req;
    }
    return 0;
}

static void d_finish(tn_http_request_t *req, void *arg)
{
    (void)arg;
    app.ended++;
    app.paused = NULL;
    if (app.answer == ANSWER_LATER || app.answer == ANSWER_NEVER) {
        app.held = req;
        tn_http_request_set_close_callback(req, on_held_close, NULL);
    } else {
        respond(req);
    }
}

static void d_close(tn_http_request_t *req, void *arg)
{
    (void)req;
    (void)arg;
    app.ended++;
    app.paused = NULL;
    app.held = NULL;
}

static const tn_http_delegate_t k_delegate = {d_start, d_headers, d_data, d_finish, d_close};

static void stop_loop(tn_ioloop_t *loop, void *arg)
{
    (void)arg;
    tn_ioloop_stop(loop);
}

static void turn(tn_ioloop_t *loop)
{
    if (tn_ioloop_add_callback(loop, stop_loop, NULL) != 0 || tn_ioloop_start(loop) != 0)
        abort();
}

static void on_freed(void *arg)
{
    *(int *)arg = 1;
}

static void log_quiet(int level, const char *msg, void *arg)
{
    (void)level;
    (void)msg;
    (void)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tn_ioloop_t *loop;
    if (size < 4)
        return 0;
    if (!loop) {
        tn_log_set_handler(log_quiet, NULL);
        if (tn_ioloop_new(&loop) != 0)
            abort();
    }
    uint8_t cfg = data[0], cfg2 = data[1];
    size_t chunk = (size_t)data[2] + 1;
    int accept = data[3] < 200 ? -1 : (int)(data[3] - 200) * 16;
    data += 4;
    size = size - 4;

    memset(&app, 0, sizeof app);
    app.answer = (cfg >> 1) % 5;
    app.pause = (cfg >> 4) & 1;
    int delegate = cfg & 1;

    tn_httpserver_options_t o;
    memset(&o, 0, sizeof o);
    if (delegate)
        o.delegate = &k_delegate;
    else
        o.request_cb = on_request;
    o.decompress_request = (cfg >> 5) & 1;
    o.xheaders = (cfg >> 6) & 1;
    o.no_keep_alive = (cfg2 & 3) == 3;
    if (cfg2 & 4) {
        o.max_header_size = 256;
        o.max_header_count = 4;
        o.max_body_size = 64;
        o.max_chunk_ext_size = 8;
        o.max_write_buffer = 64;
    }
    tn_httpserver_t *srv;
    if (tn_httpserver_new(loop, &o, &srv) != 0)
        abort();
    fz_t f;
    memset(&f, 0, sizeof f);
    f.loop = loop;
    f.accept = accept;
    tn_iostream_options_t so;
    memset(&so, 0, sizeof so);
    so.read_chunk_size = 4096;
    if (tn_iostream_new(loop, &k_ops, &f, &so, &f.stream) != 0)
        abort();
    if (tn_httpserver_handle_stream(srv, f.stream, "127.0.0.1") != 0)
        abort();

    size_t off = 0;
    for (int spins = 0; off < size && !f.closed && spins < 4096; spins++) {
        while (off < size && f.reading && !f.closed) {
            size_t want = size - off < chunk ? size - off : chunk;
            char *base;
            size_t room;
            tn_iostream__on_alloc(f.stream, want, &base, &room);
            if (room == 0)
                break;
            if (want > room)
                want = room;
            memcpy(base, data + off, want);
            tn_iostream__on_read(f.stream, (long)want);
            off += want;
        }
        turn(loop);
        if (f.pending && !f.closed) {
            f.pending--;
            tn_iostream__on_write_done(f.stream, 0);
        }
        if (app.held && app.answer == ANSWER_LATER) {
            tn_http_request_t *r = app.held;
            app.held = NULL;
            respond(r);
        }
        if (app.paused && (spins & 1)) {
            tn_http_request_t *r = app.paused;
            app.paused = NULL;
            tn_http_request_resume_body(r);
        }
    }
    if (!f.closed)
        tn_iostream__on_read(f.stream, TN_EOF);
    for (int i = 0; i < 4; i++)
        turn(loop);
    int freed = 0;
    tn_httpserver_free(srv, on_freed, &freed);
    for (int i = 0; i < 16 && !freed; i++)
        turn(loop);
    if (!freed)
        abort();
    if (delegate && app.started != app.ended)
        abort(); /* a started request got neither finish nor close */
    return 0;
}
