/* TLS over loopback against other implementations: curl, openssl s_client
 * and Python's ssl module as clients of tornuv's HTTPS server, Python as a
 * server for tornuv's TLS client. Versions, ALPN, SNI, resumption, client
 * certificates, renegotiation refused, KeyUpdate, close_notify both ways,
 * truncation, plaintext and garbage on a TLS port, and a stalled handshake
 * cut at the deadline while another client is served. Unix only (the
 * peers run on the Linux side). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cmd_peer.h"
#include "loop_util.h"
#include "net_peer.h"
#include "tls_certs.h"
#include "tornuv.h"

typedef struct {
    tn_ioloop_t *loop;
    tn_httpserver_t *srv;
    tn_tls_context_t *ctx, *alt;
    int port, freed, requests;
    char cert[512], ca[512], other_ca[512], client[512], client_key[512];
} srv_t;

static srv_t S;

static void on_request(tn_http_request_t *req, void *arg)
{
    size_t n;
    const char *path = tn_http_request_path(req, &n);
    char body[256];
    (void)arg;
    S.requests++;
    int k = snprintf(body, sizeof body, "%s %.*s\n", tn_http_request_protocol(req), (int)n, path);
    cr_assert_eq(tn_http_response_send(req, 200, "text/plain", body, (size_t)k), 0);
}

static tn_tls_context_t *on_sni(const char *name, void *arg)
{
    (void)arg;
    return name != NULL && strcmp(name, "other.test") == 0 ? S.alt : NULL;
}

/* An HTTPS server on 127.0.0.1 with the test certificate; tls may adjust
 * the context's options. */
static void srv_open(tn_tls_options_t *tls, int xheaders)
{
    const tn_test_certs_t *k = tn_test_certs();
    memset(&S, 0, sizeof S);
    tn_test_cert_path("ca.pem", S.ca, sizeof S.ca);
    tn_test_cert_path("other_ca.pem", S.other_ca, sizeof S.other_ca);
    tn_test_cert_path("client.pem", S.client, sizeof S.client);
    tn_test_cert_path("client_key.pem", S.client_key, sizeof S.client_key);
    tn_tls_options_t o = {0};
    if (tls != NULL)
        o = *tls;
    o.cert_pem = k->cert;
    o.key_pem = k->key;
    o.sni_cb = on_sni;
    cr_assert_eq(tn_tls_context_new_server(&o, &S.ctx), 0);
    tn_tls_options_t ao = {.cert_pem = k->alt, .key_pem = k->alt_key};
    cr_assert_eq(tn_tls_context_new_server(&ao, &S.alt), 0);
    S.loop = tn_test_loop_new();
    tn_httpserver_options_t ho = {
        .request_cb = on_request, .ssl_options = S.ctx, .xheaders = xheaders};
    cr_assert_eq(tn_httpserver_new(S.loop, &ho, &S.srv), 0);
    cr_assert_eq(tn_httpserver_listen(S.srv, 0, "127.0.0.1"), 0);
    S.port = tn_httpserver_port(S.srv);
}

static void on_freed(void *arg)
{
    (void)arg;
    S.freed = 1;
}

static void srv_close(void)
{
    tn_httpserver_free(S.srv, on_freed, NULL);
    for (int i = 0; i < 400 && !S.freed; i++)
        tn_test_settle(S.loop, 5);
    cr_assert(S.freed);
    tn_test_close(S.loop, TN_CLOSE_ALL_FDS);
    tn_tls_context_free(S.ctx);
    tn_tls_context_free(S.alt);
}

/* Runs a command against the server; returns its exit status. */
static int run(tn_cmd_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(tn_cmd_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->cmd, sizeof c->cmd, fmt, ap);
    va_end(ap);
    tn_cmd_run(S.loop, c, 20000);
    return c->status;
}

/* ---- curl ---------------------------------------------------------------- */

Test(tls_peers, curl_https_get_tls13_alpn_http11)
{
    srv_open(NULL, 0);
    tn_cmd_t c = {0};
    cr_assert_eq(
        run(&c, "curl -sS -v --http2 --cacert %s https://localhost:%d/hello 2>&1", S.ca, S.port), 0,
        "%s", c.out);
    cr_assert_eq(tn_cmd_count(&c, "https /hello"), 1, "%s", c.out);
    cr_assert_eq(tn_cmd_count(&c, "SSL connection using TLSv1.3"), 1, "%s", c.out);
    /* curl offered h2: the server chose http/1.1. */
    cr_assert_eq(tn_cmd_count(&c, "ALPN: server accepted http/1.1"), 1, "%s", c.out);
    cr_assert_eq(tn_cmd_count(&c, "< HTTP/1.1 200"), 1, "%s", c.out);
    tn_cmd_free(&c);
    srv_close();
}

Test(tls_peers, curl_versions_12_yes_11_no)
{
    srv_open(NULL, 0);
    tn_cmd_t c = {0};
    cr_assert_eq(
        run(&c, "curl -sS -v --tlsv1.2 --tls-max 1.2 --cacert %s https://127.0.0.1:%d/v12 2>&1",
            S.ca, S.port),
        0, "%s", c.out);
    cr_assert_eq(tn_cmd_count(&c, "SSL connection using TLSv1.2 / ECDHE-ECDSA-AES"), 1, "%s",
                 c.out);
    cr_assert_eq(tn_cmd_count(&c, "https /v12"), 1);
    tn_cmd_free(&c);
    cr_assert_neq(run(&c,
                      "curl -sS --tlsv1.1 --tls-max 1.1 --ciphers DEFAULT@SECLEVEL=0 --cacert "
                      "%s https://127.0.0.1:%d/v11 2>&1",
                      S.ca, S.port),
                  0, "%s", c.out);
    tn_cmd_free(&c);
    cr_assert_eq(S.requests, 1);
    srv_close();
}

Test(tls_peers, curl_unknown_ca_is_refused_by_the_client)
{
    srv_open(NULL, 0);
    tn_cmd_t c = {0};
    /* curl's exit code 60: peer certificate cannot be authenticated. */
    cr_assert_eq(run(&c, "curl -sS --cacert %s https://localhost:%d/ 2>&1", S.other_ca, S.port) >>
                     8,
                 60, "%s", c.out);
    tn_cmd_free(&c);
    cr_assert_eq(S.requests, 0);
    srv_close();
}

Test(tls_peers, xheaders_still_apply)
{
    srv_open(NULL, 1);
    tn_cmd_t c = {0};
    cr_assert_eq(run(&c, "curl -sS -H 'X-Scheme: http' --cacert %s https://localhost:%d/x 2>&1",
                     S.ca, S.port),
                 0, "%s", c.out);
    cr_assert_eq(tn_cmd_count(&c, "http /x"), 1, "%s", c.out);
    tn_cmd_free(&c);
    srv_close();
}

Test(tls_peers, client_certificates)
{
    char ca[512];
    tn_tls_options_t o = {.client_cert = TN_TLS_CLIENT_CERT_REQUIRED,
                          .ca_file = tn_test_cert_path("ca.pem", ca, sizeof ca)};
    srv_open(&o, 0);
    tn_cmd_t c = {0};
    cr_assert_eq(run(&c, "curl -sS --cacert %s --cert %s --key %s https://localhost:%d/cc 2>&1",
                     S.ca, S.client, S.client_key, S.port),
                 0, "%s", c.out);
    cr_assert_eq(tn_cmd_count(&c, "https /cc"), 1, "%s", c.out);
    tn_cmd_free(&c);
    cr_assert_neq(run(&c, "curl -sS --cacert %s https://localhost:%d/nocert 2>&1", S.ca, S.port), 0,
                  "%s", c.out);
    tn_cmd_free(&c);
    cr_assert_eq(S.requests, 1);
    srv_close();
}

Test(tls_peers, optional_client_certificate)
{
    char ca[512];
    tn_tls_options_t o = {.client_cert = TN_TLS_CLIENT_CERT_OPTIONAL,
                          .ca_file = tn_test_cert_path("ca.pem", ca, sizeof ca)};
    srv_open(&o, 0);
    tn_cmd_t c = {0};
    cr_assert_eq(run(&c, "curl -sS --cacert %s https://localhost:%d/none 2>&1", S.ca, S.port), 0,
                 "%s", c.out);
    tn_cmd_free(&c);
    /* A certificate from an unknown CA is refused, not ignored. */
    cr_assert_neq(run(&c,
                      "curl -sS --cacert %s --cert %s/cert.pem --key %s/key.pem "
                      "https://localhost:%d/bad 2>&1",
                      S.ca, tn_test_certs()->dir, tn_test_certs()->dir, S.port),
                  0, "%s", c.out);
    tn_cmd_free(&c);
    cr_assert_eq(S.requests, 1);
    srv_close();
}

/* ---- openssl s_client ---------------------------------------------------- */

/* TLS 1.2: -reconnect makes one full handshake, then five with the
 * session. */
Test(tls_peers, s_client_resumption_tls12)
{
    srv_open(NULL, 0);
    tn_cmd_t c = {0};
    run(&c, "openssl s_client -tls1_2 -connect 127.0.0.1:%d -CAfile %s -reconnect </dev/null 2>&1",
        S.port, S.ca);
    cr_assert_eq(tn_cmd_count(&c, "Reused, TLSv1.2"), 5, "%s", c.out);
    tn_cmd_free(&c);
    srv_close();
}

/* TLS 1.3: the ticket comes after the handshake, so one connection makes
 * a request and saves the session, and the next resumes it. */
Test(tls_peers, s_client_resumption_tls13)
{
    srv_open(NULL, 0);
    tn_cmd_t c = {0};
    char sess[600];
    snprintf(sess, sizeof sess, "%s/sess.pem", tn_test_certs()->dir);
    for (int round = 0; round < 2; round++) {
        run(&c,
            "(printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'; sleep 0.3) | openssl s_client "
            "-tls1_3 -connect 127.0.0.1:%d -CAfile %s %s %s 2>&1",
            S.port, S.ca, round == 0 ? "-sess_out" : "-sess_in", sess);
        cr_assert_eq(tn_cmd_count(&c, round == 0 ? "New, TLSv1.3" : "Reused, TLSv1.3"), 1, "%s",
                     c.out);
        tn_cmd_free(&c);
    }
    remove(sess);
    cr_assert_eq(S.requests, 2);
    srv_close();
}

Test(tls_peers, s_client_sni_picks_the_other_certificate)
{
    srv_open(NULL, 0);
    tn_cmd_t c = {0};
    cr_assert_eq(run(&c,
                     "openssl s_client -connect 127.0.0.1:%d -servername other.test "
                     "-verify_hostname other.test -verify_return_error -CAfile %s "
                     "</dev/null 2>&1",
                     S.port, S.ca),
                 0, "%s", c.out);
    cr_assert_eq(tn_cmd_count(&c, "Verification: OK"), 1, "%s", c.out);
    cr_assert_geq(tn_cmd_count(&c, "CN = other.test"), 1, "%s", c.out);
    tn_cmd_free(&c);
    cr_assert_eq(run(&c,
                     "openssl s_client -connect 127.0.0.1:%d -servername localhost "
                     "-verify_hostname localhost -verify_return_error -CAfile %s </dev/null 2>&1",
                     S.port, S.ca),
                 0, "%s", c.out);
    cr_assert_geq(tn_cmd_count(&c, "CN = localhost"), 1, "%s", c.out);
    tn_cmd_free(&c);
    srv_close();
}

/* A client's renegotiation request (TLS 1.2) is refused; the connection
 * goes on serving. */
Test(tls_peers, s_client_renegotiation_refused)
{
    srv_open(NULL, 0);
    tn_cmd_t c = {0};
    run(&c,
        "(printf 'R\\n'; sleep 0.5; printf 'GET /after HTTP/1.1\\r\\nHost: x\\r\\nConnection: "
        "close\\r\\n\\r\\n'; sleep 0.5) | openssl s_client -tls1_2 -connect 127.0.0.1:%d "
        "-CAfile %s 2>&1",
        S.port, S.ca);
    cr_assert_eq(tn_cmd_count(&c, "RENEGOTIATING"), 1, "%s", c.out);
    cr_assert_eq(tn_cmd_count(&c, "no renegotiation"), 1, "%s", c.out);
    cr_assert_eq(tn_cmd_count(&c, "https /after"), 0, "%s", c.out);
    tn_cmd_free(&c);
    cr_assert_eq(run(&c, "curl -sS --cacert %s https://localhost:%d/next 2>&1", S.ca, S.port), 0);
    cr_assert_eq(tn_cmd_count(&c, "https /next"), 1, "%s", c.out);
    tn_cmd_free(&c);
    srv_close();
}

/* KeyUpdate with update_requested: the server answers with its own (it
 * writes while reading) and the connection goes on. */
Test(tls_peers, s_client_key_update)
{
    srv_open(NULL, 0);
    tn_cmd_t c = {0};
    run(&c,
        "(printf 'K\\n'; sleep 0.3; printf 'GET /after HTTP/1.1\\r\\nHost: x\\r\\nConnection: "
        "close\\r\\n\\r\\n'; sleep 0.5) | openssl s_client -tls1_3 -connect 127.0.0.1:%d "
        "-CAfile %s -msg 2>&1",
        S.port, S.ca);
    cr_assert_eq(tn_cmd_count(&c, ">>> TLS 1.3, Handshake [length 0005], KeyUpdate"), 1, "%s",
                 c.out);
    cr_assert_eq(tn_cmd_count(&c, "<<< TLS 1.3, Handshake [length 0005], KeyUpdate"), 1, "%s",
                 c.out);
    cr_assert_eq(tn_cmd_count(&c, "https /after"), 1, "%s", c.out);
    /* Connection: close ends with the server's close_notify. */
    cr_assert_eq(tn_cmd_count(&c, "<<< TLS 1.3, Alert [length 0002], warning close_notify"), 1,
                 "%s", c.out);
    tn_cmd_free(&c);
    srv_close();
}

/* ---- Python ssl ------------------------------------------------------------ */

/* Python raises SSLEOFError when the server ends without close_notify, so
 * a clean exit proves the server sent it; it then answers with its own. */
Test(tls_peers, python_client_sees_close_notify)
{
    srv_open(NULL, 0);
    tn_cmd_t c = {0};
    cr_assert_eq(
        run(&c,
            "/usr/bin/python3 -c \""
            "import socket, ssl\n"
            "ctx = ssl.create_default_context(cafile='%s')\n"
            "s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', %d)), "
            "server_hostname='localhost')\n"
            "s.sendall(b'GET /py HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')\n"
            "data = b''\n"
            "while True:\n"
            "    d = s.recv(4096)\n"
            "    if not d: break\n"
            "    data += d\n"
            "print(s.version(), s.selected_alpn_protocol(), "
            "data.decode().split('\\r\\n\\r\\n')[1])\n"
            "s.unwrap().close()\n"
            "\" 2>&1",
            S.ca, S.port),
        0, "%s", c.out);
    cr_assert_eq(tn_cmd_count(&c, "TLSv1.3 None https /py"), 1, "%s", c.out);
    tn_cmd_free(&c);
    srv_close();
}

/* ---- tornuv's client against Python's server ------------------------------ */

typedef struct {
    int status, done, read_status, closed, close_error;
    char data[256];
    size_t len;
    tn_iostream_t *s;
} cli_t;

static void cli_on_close(tn_iostream_t *s, void *arg)
{
    cli_t *x = arg;
    x->closed = 1;
    x->close_error = tn_iostream_error(s);
}

static void cli_on_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    cli_t *x = arg;
    (void)s;
    x->read_status = status;
    if (len > sizeof x->data)
        len = sizeof x->data;
    if (len > 0)
        memcpy(x->data, data, len);
    x->len = len;
}

static void cli_on_connect(tn_iostream_t *s, int status, void *arg)
{
    cli_t *x = arg;
    x->done = 1;
    x->status = status;
    x->s = s;
    if (status == 0) {
        tn_iostream_set_close_callback(s, cli_on_close, x);
        cr_assert_eq(tn_iostream_read_until_close(s, cli_on_read, x), 0);
    }
}

/* Python serves one connection: sends a payload, then ends the TLS session
 * properly (unwrap: close_notify) or just closes the socket. */
static void python_server(int clean, int expect_error)
{
    tn_ioloop_t *loop = tn_test_loop_new();
    int port = tn_test_closed_port(AF_INET);
    const tn_test_certs_t *k = tn_test_certs();
    tn_cmd_t c = {0};
    snprintf(c.cmd, sizeof c.cmd,
             "/usr/bin/python3 -c \""
             "import socket, ssl\n"
             "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
             "ctx.load_cert_chain('%s/cert.pem', '%s/key.pem')\n"
             "ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
             "ls.bind(('127.0.0.1', %d)); ls.listen(1); ls.settimeout(10)\n"
             "c, _ = ls.accept(); s = ctx.wrap_socket(c, server_side=True)\n"
             "s.sendall(b'payload from python')\n"
             "if %d:\n"
             "    s.unwrap()\n"
             "s.close()\n"
             "print('served')\n"
             "\" 2>&1",
             k->dir, k->dir, port, clean);
    tn_cmd_start(&c);
    char ca[512];
    tn_tls_options_t o = {.ca_file = tn_test_cert_path("ca.pem", ca, sizeof ca)};
    tn_tls_context_t *cctx;
    cr_assert_eq(tn_tls_context_new_client(&o, &cctx), 0);
    cli_t x = {0};
    /* Python may not listen yet: retry a refused connection. */
    for (int i = 0; i < 100; i++) {
        memset(&x, 0, sizeof x);
        cr_assert_eq(tn_tcpclient_connect_tls(loop, "localhost", port, 5000, NULL, cctx, NULL,
                                              cli_on_connect, &x),
                     0);
        for (int j = 0; j < 1000 && !x.done; j++)
            tn_test_settle(loop, 5);
        if (x.status == 0)
            break;
        tn_test_settle(loop, 50);
    }
    cr_assert_eq(x.status, 0, "%s", tn_strerror(x.status));
    for (int j = 0; j < 2000 && !x.closed; j++)
        tn_test_settle(loop, 5);
    cr_assert(x.closed);
    tn_cmd_wait(loop, &c, 10000);
    cr_assert_eq(c.status, 0, "%s", c.out);
    cr_assert_eq(x.close_error, expect_error, "%s", tn_strerror(x.close_error));
    cr_assert_eq(x.len, 19, "everything arrived either way");
    cr_assert_eq(memcmp(x.data, "payload from python", 19), 0);
    tn_cmd_free(&c);
    tn_tls_context_free(cctx);
    tn_test_close(loop, TN_CLOSE_ALL_FDS);
}

Test(tls_peers, python_server_close_notify_is_clean)
{
    python_server(1, 0);
}

Test(tls_peers, python_server_without_close_notify_is_truncation)
{
    python_server(0, TN_ETLSTRUNC);
}

/* ---- not TLS, and stalled handshakes -------------------------------------- */

Test(tls_peers, plaintext_and_garbage_then_still_serving)
{
    srv_open(NULL, 0);
    tn_cmd_t c = {0};
    cr_assert_neq(run(&c, "curl -sS http://127.0.0.1:%d/plain 2>&1", S.port), 0, "%s", c.out);
    tn_cmd_free(&c);
    run(&c,
        "head -c 3000 /dev/urandom | /usr/bin/python3 -c \"import socket,sys\n"
        "s = socket.create_connection(('127.0.0.1', %d)); s.sendall(sys.stdin.buffer.read())\n"
        "s.settimeout(5); print('closed' if s.recv(100) is not None else '')\" 2>&1",
        S.port);
    cr_assert_eq(tn_cmd_count(&c, "closed"), 1, "%s", c.out);
    tn_cmd_free(&c);
    cr_assert_eq(run(&c, "curl -sS --cacert %s https://localhost:%d/ok 2>&1", S.ca, S.port), 0);
    cr_assert_eq(tn_cmd_count(&c, "https /ok"), 1, "%s", c.out);
    tn_cmd_free(&c);
    cr_assert_eq(S.requests, 1);
    srv_close();
}

Test(tls_peers, stalled_handshake_cut_while_others_are_served)
{
    tn_tls_options_t o = {.handshake_timeout_ms = 600};
    srv_open(&o, 0);
    /* One peer connects and sends nothing, another half a ClientHello. */
    tn_peer_t idle = {.family = AF_INET, .port = S.port};
    static const char half[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    tn_peer_t partial = {
        .family = AF_INET, .port = S.port, .send = half, .send_len = sizeof half - 1};
    double t0 = tn_test_now_ms();
    tn_peer_start(&idle);
    tn_peer_start(&partial);
    tn_cmd_t c = {0};
    cr_assert_eq(run(&c, "curl -sS --cacert %s https://localhost:%d/meanwhile 2>&1", S.ca, S.port),
                 0);
    cr_assert_eq(tn_cmd_count(&c, "https /meanwhile"), 1, "%s", c.out);
    cr_assert_lt(tn_test_now_ms() - t0, 600, "served before the deadline");
    tn_cmd_free(&c);
    tn_peer_run_until_done(S.loop, &idle, 5000);
    tn_peer_run_until_done(S.loop, &partial, 5000);
    double took = tn_test_now_ms() - t0;
    cr_assert(idle.eof && partial.eof, "both cut");
    cr_assert_geq(took, 550);
    cr_assert_lt(took, 3000);
    tn_peer_free(&idle);
    tn_peer_free(&partial);
    srv_close();
}

/* ---- tn_iostream_connect_tls against the HTTPS server ---------------------- */

typedef struct {
    int done, status, read_done;
    char resp[512];
    size_t len;
} conn_t;

static void conn_on_read(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    conn_t *x = arg;
    (void)s;
    x->read_done = 1;
    if (status == 0 && len < sizeof x->resp) {
        memcpy(x->resp, data, len);
        x->len = len;
    }
}

static void conn_on_connect(tn_iostream_t *s, int status, void *arg)
{
    conn_t *x = arg;
    x->done = 1;
    x->status = status;
    if (status == 0)
        cr_assert_eq(tn_iostream_read_until_close(s, conn_on_read, x), 0);
}

static void connect_tls(tn_tls_context_t *cctx, int port, const char *name, conn_t *x)
{
    tn_iostream_t *s = NULL;
    memset(x, 0, sizeof *x);
    cr_assert_eq(tn_iostream_connect_tls(S.loop, "127.0.0.1", port, NULL, cctx, name,
                                         conn_on_connect, x, &s),
                 0);
    cr_assert_not_null(s);
    /* Written before the handshake: sent after it. */
    static const char req[] = "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    cr_assert_eq(tn_iostream_write(s, req, sizeof req - 1, NULL, NULL), 0);
    for (int i = 0; i < 2000 && !(x->done && (x->status != 0 || x->read_done)); i++)
        tn_test_settle(S.loop, 5);
    cr_assert(x->done);
}

Test(tls_peers, iostream_connect_tls_verified_and_refused)
{
    srv_open(NULL, 0);
    tn_tls_options_t o = {.ca_file = S.ca};
    tn_tls_context_t *cctx;
    cr_assert_eq(tn_tls_context_new_client(&o, &cctx), 0);
    conn_t x;
    connect_tls(cctx, S.port, "localhost", &x);
    cr_assert_eq(x.status, 0, "%s", tn_strerror(x.status));
    cr_assert(strstr(x.resp, "https /c") != NULL, "%s", x.resp);
    connect_tls(cctx, S.port, "example.com", &x);
    cr_assert_eq(x.status, TN_ETLSVERIFY, "%s", tn_strerror(x.status));
    connect_tls(cctx, tn_test_closed_port(AF_INET), "localhost", &x);
    cr_assert_eq(x.status, -ECONNREFUSED, "the connect error itself: %s", tn_strerror(x.status));
    cr_assert_eq(S.requests, 1);
    tn_tls_context_free(cctx);
    srv_close();
}
