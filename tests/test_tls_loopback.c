/* TLS over real loopback TCP, tornuv on both ends: a TCPServer with
 * ssl_options and tornuv clients (tn_iostream_connect_tls,
 * tn_tcpclient_connect_tls). No external peer, so it runs in the Windows
 * subset too (interop with openssl, curl and Python is test_tls_peers.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "loop_util.h"
#include "tls_certs.h"
#include "tornuv.h"

TestSuite(tls_loopback, .timeout = 60);

#define BIG (256 * 1024)

typedef struct {
    tn_ioloop_t *loop;
    tn_tcpserver_t *server;
    tn_tls_context_t *sctx, *cctx;
    int port;
    /* client side */
    tn_iostream_t *client;
    int connected, connect_status, verified, version13;
    char *got;
    size_t got_len;
    int read_status;
    /* server side: streams accepted, and the one still echoing */
    int accepted;
    tn_iostream_t *peer;
} fixture_t;

static void echo_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg);

/* Echoes everything the client sends, as it arrives. */
static void echo_next(tn_iostream_t *s, void *arg)
{
    if (tn_iostream_read_bytes(s, 64 * 1024, 1, echo_read, arg) != 0)
        tn_iostream_close(s);
}

static void echo_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    if (len > 0)
        cr_assert_eq(tn_iostream_write(s, data, len, NULL, NULL), 0);
    if (status == 0)
        echo_next(s, arg);
    else
        tn_iostream_close(s);
}

static void on_stream(tn_tcpserver_t *server, tn_iostream_t *stream, const char *ip, int port,
                      void *arg)
{
    fixture_t *f = arg;
    (void)server, (void)ip, (void)port;
    cr_assert(tn_tls_is_tls(stream));
    f->accepted++;
    f->peer = stream;
    echo_next(stream, f);
}

static void fixture_init(fixture_t *f, const tn_tls_options_t *client_opts)
{
    memset(f, 0, sizeof(*f));
    const tn_test_certs_t *k = tn_test_certs();
    f->loop = tn_test_loop_new();
    tn_tls_options_t so = {.cert_pem = k->cert, .key_pem = k->key};
    cr_assert_eq(tn_tls_context_new_server(&so, &f->sctx), 0);
    if (client_opts != NULL) {
        int rc = tn_tls_context_new_client(client_opts, &f->cctx);
        cr_assert_eq(rc, 0, "client context: %s", tn_strerror(rc));
    }
    tn_tcpserver_options_t o = {.handle_stream = on_stream, .arg = f, .ssl_options = f->sctx};
    cr_assert_eq(tn_tcpserver_new(f->loop, &o, &f->server), 0);
    cr_assert_eq(tn_tcpserver_listen(f->server, 0, "127.0.0.1"), 0);
    f->port = tn_tcpserver_port(f->server);
    cr_assert_gt(f->port, 0);
    f->got = malloc(BIG);
    cr_assert_not_null(f->got);
}

static void fixture_end(fixture_t *f)
{
    tn_tcpserver_free(f->server, NULL, NULL);
    tn_test_close(f->loop, TN_CLOSE_ALL_FDS);
    tn_tls_context_free(f->sctx);
    tn_tls_context_free(f->cctx);
    free(f->got);
}

static void on_connected(tn_iostream_t *s, int status, void *arg)
{
    fixture_t *f = arg;
    f->connected = 1;
    f->connect_status = status;
    if (status == 0) {
        tn_tls_info_t info;
        cr_assert_eq(tn_tls_get_info(s, &info), 0);
        f->verified = info.peer_verified;
        f->version13 = info.version != NULL && strcmp(info.version, "TLSv1.3") == 0;
        f->client = s;
    }
    tn_ioloop_stop(f->loop);
}

static void on_echoed(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    fixture_t *f = arg;
    (void)s;
    cr_assert_leq(len, BIG - f->got_len);
    memcpy(f->got + f->got_len, data, len);
    f->got_len += len;
    f->read_status = status;
    tn_ioloop_stop(f->loop);
}

/* A verified connection to 127.0.0.1 by IP address and by host name: a
 * quarter megabyte goes through the server and back unchanged. */
static void echo_round_trip(const char *server_hostname)
{
    char path[512];
    tn_tls_options_t co = {.ca_file = tn_test_cert_path("ca.pem", path, sizeof path)};
    fixture_t f;
    fixture_init(&f, &co);
    cr_assert_eq(tn_iostream_connect_tls(f.loop, "127.0.0.1", f.port, NULL, f.cctx, server_hostname,
                                         on_connected, &f, NULL),
                 0);
    tn_test_run(f.loop, 20000);
    cr_assert(f.connected);
    cr_assert_eq(f.connect_status, 0, "%s", tn_strerror(f.connect_status));
    cr_assert(f.verified);
    cr_assert(f.version13);
    cr_assert_eq(f.accepted, 1);

    char *big = malloc(BIG);
    cr_assert_not_null(big);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (char)('a' + (i * 7) % 26);
    cr_assert_eq(tn_iostream_write(f.client, big, BIG, NULL, NULL), 0);
    cr_assert_eq(tn_iostream_read_bytes(f.client, BIG, 0, on_echoed, &f), 0);
    tn_test_run(f.loop, 20000);
    cr_assert_eq(f.read_status, 0);
    cr_assert_eq(f.got_len, BIG);
    cr_assert_eq(memcmp(f.got, big, BIG), 0);
    free(big);
    tn_iostream_close(f.client);
    fixture_end(&f);
}

Test(tls_loopback, echo_by_ip_address)
{
    echo_round_trip("127.0.0.1");
}

Test(tls_loopback, echo_by_host_name)
{
    echo_round_trip("localhost");
}

/* TCPClient with a name the certificate does not carry: the handshake fails
 * verification and the caller gets no stream. */
static void on_client(tn_iostream_t *s, int status, void *arg)
{
    fixture_t *f = arg;
    f->connected = 1;
    f->connect_status = status;
    cr_assert_null(s);
    tn_ioloop_stop(f->loop);
}

Test(tls_loopback, tcpclient_wrong_name_fails_verification)
{
    char path[512];
    tn_tls_options_t co = {.ca_file = tn_test_cert_path("ca.pem", path, sizeof path)};
    fixture_t f;
    fixture_init(&f, &co);
    cr_assert_eq(tn_tcpclient_connect_tls(f.loop, "127.0.0.1", f.port, 10000, NULL, f.cctx,
                                          "other.test", on_client, &f),
                 0);
    tn_test_run(f.loop, 20000);
    cr_assert(f.connected);
    cr_assert_eq(f.connect_status, TN_ETLSVERIFY, "%s", tn_strerror(f.connect_status));
    fixture_end(&f);
}

/* A client context that names no CA uses the system's trust store (on
 * Windows the certificate store's ROOT certificates, on Unix OpenSSL's
 * default paths): it builds, and the test CA, which is in no system store,
 * is refused. */
Test(tls_loopback, system_store_refuses_the_test_ca)
{
    tn_tls_options_t co = {0};
    fixture_t f;
    fixture_init(&f, &co);
    cr_assert_eq(tn_iostream_connect_tls(f.loop, "127.0.0.1", f.port, NULL, f.cctx, "localhost",
                                         on_connected, &f, NULL),
                 0);
    tn_test_run(f.loop, 20000);
    cr_assert(f.connected);
    cr_assert_eq(f.connect_status, TN_ETLSVERIFY, "%s", tn_strerror(f.connect_status));
    fixture_end(&f);
}

/* insecure skips verification altogether: the same server is accepted. */
Test(tls_loopback, insecure_client_accepts_any_certificate)
{
    tn_tls_options_t co = {.insecure = 1};
    fixture_t f;
    fixture_init(&f, &co);
    cr_assert_eq(tn_iostream_connect_tls(f.loop, "127.0.0.1", f.port, NULL, f.cctx, NULL,
                                         on_connected, &f, NULL),
                 0);
    tn_test_run(f.loop, 20000);
    cr_assert_eq(f.connect_status, 0, "%s", tn_strerror(f.connect_status));
    cr_assert(!f.verified);
    tn_iostream_close(f.client);
    fixture_end(&f);
}
