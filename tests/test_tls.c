/* TLS streams over the in-memory transport: a client and a server stream
 * joined by a test-driven wire that delivers bytes in chunks of any size
 * (1 = every byte boundary of the handshake and the records). Loopback
 * interop with openssl s_client, curl and Python is in test_tls_peers.c. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "loop_util.h"
#include "memtransport.h"
#include "net_peer.h"
#include "tls_certs.h"
#include "tornuv.h"

#define CLIENT_NAME "localhost"

/* ---- a wire between two memory transports ------------------------------- */

typedef struct side_s side_t;

/* What one side's callbacks saw. */
struct side_s {
    int done, status, calls;
    tn_iostream_t *stream;
    char data[1 << 16];
    size_t len;
    int read_done, read_status, closed, close_error;
    const char *reason; /* tn_tls_error_reason when the handshake failed */
};

typedef struct {
    tn_ioloop_t *loop;
    side_t *cs, *ss; /* what each side's callbacks saw */
    tn_tls_context_t *sctx, *cctx;
    tn_mt_t *cm, *sm;      /* client and server plain transports */
    size_t c_sent, s_sent; /* bytes of cm->out / sm->out already delivered */
    size_t chunk;          /* delivery chunk (0: all at once) */
    int c_eof, s_eof;      /* EOF already delivered to the client / server */
    tn_iostream_t *client, *server;
} wire_t;

/* Takes the two contexts (either may be NULL). */
static void wire_init(wire_t *w, size_t chunk, tn_tls_context_t *sctx, tn_tls_context_t *cctx)
{
    memset(w, 0, sizeof(*w));
    w->cs = calloc(1, sizeof(side_t));
    w->ss = calloc(1, sizeof(side_t));
    w->sctx = sctx;
    w->cctx = cctx;
    w->loop = tn_test_loop_new();
    w->cm = tn_mt_new(w->loop, NULL);
    w->sm = tn_mt_new(w->loop, NULL);
    w->chunk = chunk;
}

/* Moves what each side wrote to the other (as far as it reads), completes
 * asynchronous writes, and turns the loop. Returns nonzero when anything
 * moved. */
static int wire_step(wire_t *w)
{
    size_t before = w->c_sent + w->s_sent;
    tn_mt_turn(w->loop);
    /* One chunk per direction per loop turn, so each reaches the TLS layer
     * on its own (the plain stream delivers what it buffered per turn). */
    size_t n = w->cm->out_len - w->c_sent;
    if (n > 0 && !w->sm->closed)
        w->c_sent +=
            tn_mt_feed(w->sm, w->cm->out + w->c_sent, w->chunk && n > w->chunk ? w->chunk : n, 0);
    n = w->sm->out_len - w->s_sent;
    if (n > 0 && !w->cm->closed)
        w->s_sent +=
            tn_mt_feed(w->cm, w->sm->out + w->s_sent, w->chunk && n > w->chunk ? w->chunk : n, 0);
    tn_mt_complete_writes(w->cm, 0);
    tn_mt_complete_writes(w->sm, 0);
    /* A closed transport's FIN reaches the other side once its bytes did. */
    if (w->cm->closed && w->c_sent == w->cm->out_len && !w->s_eof && w->sm->reading) {
        w->s_eof = 1;
        tn_mt_eof(w->sm, TN_EOF);
    }
    if (w->sm->closed && w->s_sent == w->sm->out_len && !w->c_eof && w->cm->reading) {
        w->c_eof = 1;
        tn_mt_eof(w->cm, TN_EOF);
    }
    return w->c_sent + w->s_sent != before;
}

/* Steps until *flag is set (bounded). */
static void wire_until(wire_t *w, const int *flag)
{
    for (int i = 0; i < 2000000 && !*flag; i++)
        wire_step(w);
    cr_assert(*flag, "condition reached");
}

static void wire_settle(wire_t *w)
{
    int idle = 0;
    for (int i = 0; i < 100000 && idle < 5; i++)
        idle = wire_step(w) ? 0 : idle + 1;
}

static void wire_close(wire_t *w)
{
    wire_settle(w);
    tn_test_close(w->loop, TN_CLOSE_ALL_FDS);
    tn_mt_free(w->cm);
    tn_mt_free(w->sm);
    tn_tls_context_free(w->sctx);
    tn_tls_context_free(w->cctx);
    free(w->cs);
    free(w->ss);
}

/* Closes both TLS streams, then everything. */
static void wire_end(wire_t *w)
{
    tn_iostream_close(w->client);
    tn_iostream_close(w->server);
    wire_close(w);
}

/* ---- contexts ----------------------------------------------------------- */

static tn_tls_context_t *server_ctx(tn_tls_version_t max)
{
    const tn_test_certs_t *k = tn_test_certs();
    tn_tls_options_t o = {.cert_pem = k->cert, .key_pem = k->key, .max_version = max};
    tn_tls_context_t *ctx;
    cr_assert_eq(tn_tls_context_new_server(&o, &ctx), 0);
    return ctx;
}

static tn_tls_context_t *client_ctx(const char *ca_pem_file_name)
{
    char path[512];
    tn_tls_options_t o = {.ca_file = tn_test_cert_path(ca_pem_file_name, path, sizeof path)};
    tn_tls_context_t *ctx;
    cr_assert_eq(tn_tls_context_new_client(&o, &ctx), 0);
    return ctx;
}

/* ---- callbacks ---------------------------------------------------------- */

static void on_handshake(tn_iostream_t *s, int status, void *arg)
{
    side_t *x = arg;
    x->calls++;
    x->done = 1;
    x->status = status;
    x->stream = status == 0 ? s : NULL;
    if (status != 0) {
        cr_assert(tn_iostream_closed(s));
        /* The cause, or TN_ECLOSED for a stream closed by its user. */
        cr_assert(tn_iostream_error(s) == status ||
                  (status == TN_ECLOSED && tn_iostream_error(s) == 0));
        x->reason = tn_tls_error_reason(s);
    }
}

static void on_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    side_t *x = arg;
    (void)s;
    x->read_done = 1;
    x->read_status = status;
    if (len > sizeof(x->data) - x->len)
        len = sizeof(x->data) - x->len;
    if (len > 0)
        memcpy(x->data + x->len, data, len);
    x->len += len;
}

static void on_close(tn_iostream_t *s, void *arg)
{
    side_t *x = arg;
    x->closed = 1;
    x->close_error = tn_iostream_error(s);
}

/* Wraps both plain streams and waits for both handshakes. */
static void connect_pair(wire_t *w, tn_tls_context_t *sctx, tn_tls_context_t *cctx,
                         const char *name, side_t *cs, side_t *ss)
{
    cr_assert_eq(tn_tls_stream_new(w->sm->stream, sctx, NULL, NULL, &w->server), 0);
    cr_assert_eq(tn_tls_stream_new(w->cm->stream, cctx, name, NULL, &w->client), 0);
    cr_assert_eq(tn_tls_wait_for_handshake(w->server, on_handshake, ss), 0);
    cr_assert_eq(tn_tls_wait_for_handshake(w->client, on_handshake, cs), 0);
    for (int i = 0; i < 2000000 && !(cs->done && ss->done); i++)
        wire_step(w);
    cr_assert(cs->done && ss->done);
}

/* ---- tests -------------------------------------------------------------- */

/* Handshake, then a request and a reply, delivered in chunks of every size
 * from one byte up, for TLS 1.2 and 1.3. */
static void exchange(size_t chunk, tn_tls_version_t max)
{
    wire_t w;
    wire_init(&w, chunk, server_ctx(max), client_ctx("ca.pem"));
    side_t *cs = w.cs, *ss = w.ss;
    connect_pair(&w, w.sctx, w.cctx, CLIENT_NAME, cs, ss);
    cr_assert_eq(cs->status, 0, "chunk %zu: %s", chunk, tn_strerror(cs->status));
    cr_assert_eq(ss->status, 0, "chunk %zu: %s", chunk, tn_strerror(ss->status));
    cr_assert_eq(cs->calls, 1);
    tn_tls_info_t info;
    cr_assert_eq(tn_tls_get_info(w.client, &info), 0);
    cr_assert_str_eq(info.version, max == TN_TLS_1_2 ? "TLSv1.2" : "TLSv1.3");
    cr_assert(info.peer_verified);
    cr_assert(tn_tls_is_tls(w.client) && tn_tls_is_tls(w.server));

    cr_assert_eq(tn_iostream_write(w.client, "ping\r\n", 6, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_read_until(w.server, "\r\n", 2, 0, on_read, ss), 0);
    wire_until(&w, &ss->read_done);
    cr_assert_eq(ss->len, 6);
    cr_assert_eq(memcmp(ss->data, "ping\r\n", 6), 0);

    static char big[40000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    cr_assert_eq(tn_iostream_write(w.server, big, sizeof big, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_read_bytes(w.client, sizeof big, 0, on_read, cs), 0);
    wire_until(&w, &cs->read_done);
    cr_assert_eq(cs->len, sizeof big);
    cr_assert_eq(memcmp(cs->data, big, sizeof big), 0);

    wire_end(&w);
}

Test(tls, every_chunk_size_tls13)
{
    for (size_t chunk = 1; chunk <= 48; chunk++)
        exchange(chunk, TN_TLS_1_3);
    exchange(0, TN_TLS_1_3);
}

Test(tls, every_chunk_size_tls12)
{
    for (size_t chunk = 1; chunk <= 48; chunk++)
        exchange(chunk, TN_TLS_1_2);
    exchange(0, TN_TLS_1_2);
}

/* Writes issued before the handshake finished wait for it, in order. */
Test(tls, writes_queued_during_handshake)
{
    wire_t w;
    wire_init(&w, 7, server_ctx(0), client_ctx("ca.pem"));
    side_t *cs = w.cs, *ss = w.ss;
    cr_assert_eq(tn_tls_stream_new(w.sm->stream, w.sctx, NULL, NULL, &w.server), 0);
    cr_assert_eq(tn_tls_stream_new(w.cm->stream, w.cctx, CLIENT_NAME, NULL, &w.client), 0);
    cr_assert_eq(tn_iostream_write(w.client, "one ", 4, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_write(w.client, "two\n", 4, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_write(w.server, "hello\n", 6, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_read_until(w.server, "\n", 1, 0, on_read, ss), 0);
    cr_assert_eq(tn_iostream_read_until(w.client, "\n", 1, 0, on_read, cs), 0);
    wire_until(&w, &ss->read_done);
    wire_until(&w, &cs->read_done);
    cr_assert_eq(ss->len, 8);
    cr_assert_eq(memcmp(ss->data, "one two\n", 8), 0);
    cr_assert_eq(cs->len, 6);
    wire_end(&w);
}

/* A clean close sends close_notify: the reader sees a clean end (error 0)
 * and read_until_close gets everything. */
Test(tls, close_notify_is_a_clean_end)
{
    wire_t w;
    wire_init(&w, 0, server_ctx(0), client_ctx("ca.pem"));
    side_t *cs = w.cs, *ss = w.ss;
    connect_pair(&w, w.sctx, w.cctx, CLIENT_NAME, cs, ss);
    tn_iostream_set_close_callback(w.client, on_close, cs);
    cr_assert_eq(tn_iostream_read_until_close(w.client, on_read, cs), 0);
    cr_assert_eq(tn_iostream_write(w.server, "the whole body", 14, NULL, NULL), 0);
    tn_iostream_close(w.server);
    wire_until(&w, &cs->closed);
    cr_assert_eq(cs->read_status, 0);
    cr_assert_eq(cs->len, 14);
    cr_assert_eq(cs->close_error, 0, "%s", tn_strerror(cs->close_error));
    wire_close(&w);
}

/* The connection ends (FIN) without close_notify after the handshake:
 * the reader learns the data may be truncated. */
Test(tls, eof_without_close_notify_is_truncation)
{
    wire_t w;
    wire_init(&w, 0, server_ctx(0), client_ctx("ca.pem"));
    side_t *cs = w.cs, *ss = w.ss;
    connect_pair(&w, w.sctx, w.cctx, CLIENT_NAME, cs, ss);
    tn_iostream_set_close_callback(w.client, on_close, cs);
    cr_assert_eq(tn_iostream_read_bytes(w.client, 100, 0, on_read, cs), 0);
    cr_assert_eq(tn_iostream_write(w.server, "partial", 7, NULL, NULL), 0);
    for (int i = 0; i < 20; i++)
        wire_step(&w);
    /* The server's TCP connection ends without the TLS session ending. */
    w.c_eof = 1;
    tn_mt_eof(w.cm, TN_EOF);
    wire_until(&w, &cs->closed);
    cr_assert_eq(cs->read_status, TN_ECLOSED);
    cr_assert_eq(cs->close_error, TN_ETLSTRUNC, "%s", tn_strerror(cs->close_error));
    tn_iostream_close(w.server);
    wire_close(&w);
}

/* A certificate from an unknown CA, or for another name, fails the
 * client's handshake with TN_ETLSVERIFY and a readable reason. */
static void verify_fails(const char *ca_file, const char *name, const char *reason)
{
    wire_t w;
    wire_init(&w, 0, server_ctx(0), client_ctx(ca_file));
    side_t *cs = w.cs, *ss = w.ss;
    cr_assert_eq(tn_tls_stream_new(w.sm->stream, w.sctx, NULL, NULL, &w.server), 0);
    cr_assert_eq(tn_tls_wait_for_handshake(w.server, on_handshake, ss), 0);
    cr_assert_eq(tn_tls_stream_new(w.cm->stream, w.cctx, name, NULL, &w.client), 0);
    tn_iostream_set_close_callback(w.client, on_close, cs);
    cr_assert_eq(tn_tls_wait_for_handshake(w.client, on_handshake, cs), 0);
    wire_until(&w, &cs->done);
    wire_until(&w, &ss->done);
    wire_until(&w, &cs->closed);
    cr_assert_eq(cs->status, TN_ETLSVERIFY, "%s", tn_strerror(cs->status));
    cr_assert_null(cs->stream);
    cr_assert_eq(cs->close_error, TN_ETLSVERIFY);
    cr_assert_str_eq(cs->reason, reason);
    cr_assert_neq(ss->status, 0);
    cr_assert_eq(cs->calls, 1);
    wire_close(&w);
}

Test(tls, unknown_ca_fails_verification)
{
    verify_fails("other_ca.pem", CLIENT_NAME, "self-signed certificate in certificate chain");
}

Test(tls, wrong_host_name_fails_verification)
{
    verify_fails("ca.pem", "example.com", "hostname mismatch");
}

Test(tls, ip_address_is_checked_as_an_address)
{
    wire_t w;
    wire_init(&w, 0, server_ctx(0), client_ctx("ca.pem"));
    side_t *cs = w.cs, *ss = w.ss;
    connect_pair(&w, w.sctx, w.cctx, "127.0.0.1", cs, ss);
    cr_assert_eq(cs->status, 0, "%s", tn_strerror(cs->status));
    tn_tls_info_t info;
    cr_assert_eq(tn_tls_get_info(w.server, &info), 0);
    cr_assert_null(info.server_name, "no SNI for an address");
    wire_end(&w);
}

/* A server that gets nothing is cut at the handshake deadline. */
Test(tls, handshake_deadline)
{
    const tn_test_certs_t *k = tn_test_certs();
    tn_tls_options_t o = {.cert_pem = k->cert, .key_pem = k->key, .handshake_timeout_ms = 50};
    tn_tls_context_t *sctx;
    cr_assert_eq(tn_tls_context_new_server(&o, &sctx), 0);
    wire_t w;
    wire_init(&w, 0, sctx, NULL);
    side_t *ss = w.ss;
    tn_iostream_close(w.cm->stream); /* no client here, and no FIN from it */
    w.s_eof = 1;
    cr_assert_eq(tn_iostream_start_tls(w.sm->stream, w.sctx, NULL, NULL, on_handshake, ss), 0);
    double t0 = tn_test_now_ms();
    for (int i = 0; i < 100000 && !ss->done; i++) {
        wire_step(&w);
        tn_test_sleep_ms(1);
    }
    cr_assert_eq(ss->status, TN_ETIMEOUT);
    cr_assert(tn_test_now_ms() - t0 >= 40);
    cr_assert(w.sm->closed, "the connection is closed");
    wire_close(&w);
}

/* Bytes that are not TLS (plain HTTP, noise) fail the handshake. */
static void not_tls(const char *bytes, size_t len)
{
    wire_t w;
    wire_init(&w, 0, server_ctx(0), NULL);
    side_t *ss = w.ss;
    tn_iostream_close(w.cm->stream); /* no client here, and no FIN from it */
    w.s_eof = 1;
    cr_assert_eq(tn_iostream_start_tls(w.sm->stream, w.sctx, NULL, NULL, on_handshake, ss), 0);
    tn_mt_turn(w.loop);
    tn_mt_turn(w.loop);
    tn_mt_feed(w.sm, bytes, len, 0);
    for (int i = 0; i < 50 && !ss->done; i++)
        tn_mt_turn(w.loop);
    cr_assert_eq(ss->status, TN_ETLS, "%s", tn_strerror(ss->status));
    for (int i = 0; i < 10; i++)
        tn_mt_turn(w.loop);
    cr_assert(w.sm->closed);
    wire_close(&w);
}

Test(tls, plain_http_to_a_tls_port)
{
    const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    not_tls(req, sizeof req - 1);
}

Test(tls, garbage)
{
    char junk[512];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 131 + 7);
    junk[0] = 0x16; /* looks like a handshake record, then nonsense */
    junk[1] = 0x03;
    not_tls(junk, sizeof junk);
}

/* ALPN: the server speaks http/1.1 only and never selects h2. */
Test(tls, alpn_http11_never_h2)
{
    const tn_test_certs_t *k = tn_test_certs();
    static const char *const h2[] = {"h2", "http/1.1", NULL};
    tn_tls_options_t so = {.cert_pem = k->cert, .key_pem = k->key, .alpn = h2};
    tn_tls_context_t *sctx, *cctx;
    cr_assert_eq(tn_tls_context_new_server(&so, &sctx), TN_EINVAL, "a server refuses h2");
    char path[512];
    tn_tls_options_t co = {.ca_file = tn_test_cert_path("ca.pem", path, sizeof path), .alpn = h2};
    cr_assert_eq(tn_tls_context_new_client(&co, &cctx), 0);
    wire_t w;
    wire_init(&w, 0, server_ctx(0), cctx);
    side_t *cs = w.cs, *ss = w.ss;
    connect_pair(&w, w.sctx, w.cctx, CLIENT_NAME, cs, ss);
    tn_tls_info_t info;
    cr_assert_eq(tn_tls_get_info(w.client, &info), 0);
    cr_assert_str_eq(info.alpn, "http/1.1");
    cr_assert_eq(tn_tls_get_info(w.server, &info), 0);
    cr_assert_str_eq(info.alpn, "http/1.1");
    wire_end(&w);
}

/* A second connection with the same client context resumes the session
 * (one SSL_CTX per server, one session store per client context). */
static void resumes(tn_tls_version_t max)
{
    tn_tls_context_t *sctx = server_ctx(max), *cctx = client_ctx("ca.pem");
    for (int round = 0; round < 2; round++) {
        wire_t w;
        wire_init(&w, 0, NULL, NULL); /* both rounds share the contexts */
        side_t *cs = w.cs, *ss = w.ss;
        connect_pair(&w, sctx, cctx, CLIENT_NAME, cs, ss);
        cr_assert_eq(cs->status, 0);
        /* TLS 1.3 tickets arrive after the handshake: read a little. */
        cr_assert_eq(tn_iostream_write(w.server, "x", 1, NULL, NULL), 0);
        cr_assert_eq(tn_iostream_read_bytes(w.client, 1, 0, on_read, cs), 0);
        wire_until(&w, &cs->read_done);
        tn_tls_info_t info;
        cr_assert_eq(tn_tls_get_info(w.client, &info), 0);
        cr_assert_eq(info.session_reused, round == 1, "round %d", round);
        cr_assert_eq(tn_tls_get_info(w.server, &info), 0);
        cr_assert_eq(info.session_reused, round == 1, "round %d", round);
        wire_end(&w);
    }
    tn_tls_context_free(sctx);
    tn_tls_context_free(cctx);
}

Test(tls, resumption_tls13)
{
    resumes(TN_TLS_1_3);
}

Test(tls, resumption_tls12)
{
    resumes(TN_TLS_1_2);
}

/* start_tls on both sides after a plaintext exchange (STARTTLS style). */
static void on_plain_line(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    side_t *x = arg;
    (void)s;
    (void)data;
    x->read_status = status;
    x->len = len;
    x->read_done = 1;
}

Test(tls, start_tls_both_sides)
{
    wire_t w;
    wire_init(&w, 3, server_ctx(0), client_ctx("ca.pem"));
    side_t *cs = w.cs, *ss = w.ss;
    cr_assert_eq(tn_iostream_write(w.cm->stream, "STARTTLS\n", 9, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_read_until(w.sm->stream, "\n", 1, 0, on_plain_line, ss), 0);
    wire_until(&w, &ss->read_done);
    cr_assert_eq(ss->len, 9);
    /* A stream with a read pending cannot switch. */
    cr_assert_eq(tn_iostream_read_bytes(w.cm->stream, 1, 0, on_plain_line, cs), 0);
    cr_assert_eq(tn_iostream_start_tls(w.cm->stream, w.cctx, CLIENT_NAME, NULL, on_handshake, cs),
                 TN_EINVAL);
    cr_assert_eq(tn_iostream_write(w.sm->stream, "G", 1, NULL, NULL), 0);
    wire_until(&w, &cs->read_done);
    cr_assert_eq(tn_iostream_start_tls(w.sm->stream, w.sctx, NULL, NULL, on_handshake, ss), 0);
    cr_assert_eq(tn_iostream_start_tls(w.cm->stream, w.cctx, CLIENT_NAME, NULL, on_handshake, cs),
                 0);
    wire_until(&w, &cs->done);
    wire_until(&w, &ss->done);
    cr_assert_eq(cs->status, 0);
    cr_assert_eq(ss->status, 0);
    w.client = cs->stream;
    w.server = ss->stream;
    cr_assert(tn_tls_is_tls(w.client) && !tn_tls_is_tls(w.cm->stream));
    memset(ss->data, 0, 16);
    ss->len = 0;
    ss->read_done = 0;
    cr_assert_eq(tn_iostream_write(w.client, "secret\n", 7, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_read_until(w.server, "\n", 1, 0, on_read, ss), 0);
    wire_until(&w, &ss->read_done);
    cr_assert_eq(memcmp(ss->data, "secret\n", 7), 0);
    wire_end(&w);
}

/* A peer that sends slowly (its transport takes 100 bytes at a time, the
 * rest asynchronously): large writes both ways arrive whole and in order,
 * and each write's callback runs once its ciphertext was handed over. */
static void count_write(tn_iostream_t *s, int status, void *arg)
{
    (void)s;
    cr_assert_eq(status, 0);
    ++*(int *)arg;
}

Test(tls, large_writes_through_a_slow_transport)
{
    wire_t w;
    wire_init(&w, 1000, server_ctx(0), client_ctx("ca.pem"));
    side_t *cs = w.cs, *ss = w.ss;
    connect_pair(&w, w.sctx, w.cctx, CLIENT_NAME, cs, ss);
    w.cm->accept_limit = 100;
    w.sm->accept_limit = 100;
    static char big[60000];
    tn_test_random_bytes(big, sizeof big, 7);
    int written = 0;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(tn_iostream_write(w.client, big + i * 20000, 20000, count_write, &written), 0);
    cr_assert_eq(tn_iostream_read_bytes(w.server, sizeof big, 0, on_read, ss), 0);
    wire_until(&w, &ss->read_done);
    cr_assert_eq(ss->len, sizeof big);
    cr_assert_eq(memcmp(ss->data, big, sizeof big), 0);
    for (int i = 0; i < 1000 && written < 3; i++)
        wire_step(&w);
    cr_assert_eq(written, 3);
    cr_assert_eq(tn_iostream_write_buffered(w.client), 0);
    wire_end(&w);
}

/* A client that half-closes after its request (close_notify + FIN) still
 * gets the reply. */
Test(tls, half_closed_peer_still_gets_the_reply)
{
    wire_t w;
    wire_init(&w, 0, server_ctx(0), client_ctx("ca.pem"));
    side_t *cs = w.cs, *ss = w.ss;
    connect_pair(&w, w.sctx, w.cctx, CLIENT_NAME, cs, ss);
    tn_iostream_set_half_close(w.server, 1);
    cr_assert_eq(tn_iostream_write(w.client, "request\n", 8, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_shutdown(w.client), 0);
    cr_assert_eq(tn_iostream_read_until(w.server, "\n", 1, 0, on_read, ss), 0);
    wire_until(&w, &ss->read_done);
    cr_assert_eq(ss->len, 8);
    cr_assert(w.cm->shut, "the client sent its FIN");
    tn_iostream_set_close_callback(w.client, on_close, cs);
    cr_assert_eq(tn_iostream_read_until_close(w.client, on_read, cs), 0);
    cr_assert_eq(tn_iostream_write(w.server, "reply", 5, NULL, NULL), 0);
    tn_iostream_close(w.server);
    wire_until(&w, &cs->closed);
    cr_assert_eq(cs->len, 5);
    cr_assert_eq(memcmp(cs->data, "reply", 5), 0);
    cr_assert_eq(cs->close_error, 0, "%s", tn_strerror(cs->close_error));
    wire_close(&w);
}

/* Closing a stream whose handshake is under way tells the waiter later,
 * never inside the close call. */
Test(tls, close_during_handshake_reports_later)
{
    wire_t w;
    wire_init(&w, 0, NULL, client_ctx("ca.pem"));
    side_t *cs = w.cs;
    tn_iostream_close(w.sm->stream); /* no server here, and no FIN from it */
    w.c_eof = 1;
    cr_assert_eq(tn_tls_stream_new(w.cm->stream, w.cctx, CLIENT_NAME, NULL, &w.client), 0);
    cr_assert_eq(tn_tls_wait_for_handshake(w.client, on_handshake, cs), 0);
    cr_assert_eq(tn_tls_wait_for_handshake(w.client, on_handshake, cs), TN_EALREADY);
    tn_iostream_close(w.client);
    cr_assert_eq(cs->calls, 0, "not inside tn_iostream_close");
    wire_until(&w, &cs->done);
    cr_assert_eq(cs->calls, 1);
    cr_assert_eq(cs->status, TN_ECLOSED);
    wire_close(&w);
}
