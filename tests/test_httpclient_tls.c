/* The HTTP client over https against tornuv's own HTTPS server (test
 * certificates generated at run time): verification on by default (system
 * store, a CA file, the wrong CA, the wrong host name), insecure spelled
 * out, client certificates, keep-alive over TLS, a redirect from http to
 * https, and a CA file that does not load. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "hc_env.h"
#include "loop_util.h"
#include "net_peer.h"
#include "tls_certs.h"

static void on_request(tn_http_request_t *req, void *arg)
{
    size_t n;
    const char *path = tn_http_request_path(req, &n);
    char body[128];
    (void)arg;
    if (n == 3 && memcmp(path, "/to", 3) == 0) {
        /* "/to?URL": a redirect there */
        size_t ql;
        const char *q = tn_http_request_query(req, &ql);
        tn_headers_t *h;
        tn_headers_new(&h);
        tn_headers_add(h, "Location", 8, q, ql);
        tn_http_response_write_headers(req, 302, NULL, h);
        tn_http_response_finish(req);
        tn_headers_free(h);
        return;
    }
    int k = snprintf(body, sizeof body, "%s %.*s", tn_http_request_protocol(req), (int)n, path);
    tn_http_response_send(req, 200, "text/plain", body, (size_t)k);
}

typedef struct {
    hc_env_t e;
    tn_tls_context_t *sctx;
    char https[64];
} tls_env_t;

static void open_tls(tls_env_t *t, const char *cert, const char *key, int require_client)
{
    const tn_test_certs_t *k = tn_test_certs();
    tn_tls_options_t so = {.cert_pem = cert ? cert : k->cert, .key_pem = key ? key : k->key};
    char ca[300];
    if (require_client) {
        so.client_cert = TN_TLS_CLIENT_CERT_REQUIRED;
        so.ca_file = tn_test_cert_path("ca.pem", ca, sizeof ca);
    }
    cr_assert_eq(tn_tls_context_new_server(&so, &t->sctx), 0);
    tn_httpserver_options_t o = {.request_cb = on_request, .ssl_options = t->sctx};
    hc_env_open(&t->e, &o, NULL);
    snprintf(t->https, sizeof t->https, "https://127.0.0.1:%d", t->e.port);
}

static void close_tls(tls_env_t *t)
{
    hc_env_close(&t->e);
    tn_tls_context_free(t->sctx);
}

Test(httpclient_tls, verified_with_ca_file_and_pooled)
{
    tls_env_t t;
    char url[128], ca[300];
    open_tls(&t, NULL, NULL, 0);
    tn_fetch_options_t o = {.ca_certs = tn_test_cert_path("ca.pem", ca, sizeof ca)};
    for (int i = 0; i < 3; i++) {
        hc_res_t r = {0};
        snprintf(url, sizeof url, "%s/x%d", t.https, i);
        hc_fetch(&t.e, url, &o, &r);
        cr_assert_eq(r.status, 0, "%s", r.err);
        char want[32];
        snprintf(want, sizeof want, "https /x%d", i);
        cr_assert_str_eq(r.body, want);
        cr_assert_eq(r.t.reused, i > 0, "fetch %d over the pooled TLS connection", i);
        hc_res_free(&r);
    }
    /* Another TLS setting never shares those connections. */
    hc_res_t r = {0};
    tn_fetch_options_t ins = {.insecure = 1};
    snprintf(url, sizeof url, "%s/y", t.https);
    hc_fetch(&t.e, url, &ins, &r);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(r.t.reused, 0);
    hc_res_free(&r);
    close_tls(&t);
}

Test(httpclient_tls, verification_failures)
{
    tls_env_t t;
    char url[128], other[300];
    const tn_test_certs_t *k = tn_test_certs();
    open_tls(&t, NULL, NULL, 0);
    snprintf(url, sizeof url, "%s/", t.https);
    hc_res_t sys = {0}, wrong = {0};
    hc_fetch(&t.e, url, NULL, &sys); /* the system store does not know the test CA */
    cr_assert_eq(sys.status, TN_ETLSVERIFY, "%d %s", sys.status, sys.err);
    cr_assert_eq(sys.code, TN_FETCH_NO_RESPONSE);
    tn_fetch_options_t o = {.ca_certs = tn_test_cert_path("other_ca.pem", other, sizeof other)};
    hc_fetch(&t.e, url, &o, &wrong);
    cr_assert_eq(wrong.status, TN_ETLSVERIFY);
    hc_res_free(&sys);
    hc_res_free(&wrong);
    close_tls(&t);

    /* A certificate for another name ("other.test"), trusted CA. */
    char ca[300];
    open_tls(&t, k->alt, k->alt_key, 0);
    snprintf(url, sizeof url, "%s/", t.https);
    hc_res_t name = {0}, ins = {0};
    tn_fetch_options_t o2 = {.ca_certs = tn_test_cert_path("ca.pem", ca, sizeof ca)};
    hc_fetch(&t.e, url, &o2, &name);
    cr_assert_eq(name.status, TN_ETLSVERIFY, "%d %s", name.status, name.err);
    tn_fetch_options_t o3 = {.insecure = 1};
    hc_fetch(&t.e, url, &o3, &ins);
    cr_assert_eq(ins.status, 0, "insecure spelled out: %s", ins.err);
    hc_res_free(&name);
    hc_res_free(&ins);
    close_tls(&t);
}

Test(httpclient_tls, client_certificate)
{
    tls_env_t t;
    char url[128], ca[300], cert[300], key[300];
    open_tls(&t, NULL, NULL, 1);
    snprintf(url, sizeof url, "%s/c", t.https);
    hc_res_t without = {0}, with = {0};
    tn_fetch_options_t o = {.ca_certs = tn_test_cert_path("ca.pem", ca, sizeof ca)};
    hc_fetch(&t.e, url, &o, &without);
    cr_assert_neq(without.status, 0);
    cr_assert_eq(without.code, TN_FETCH_NO_RESPONSE);
    o.client_cert = tn_test_cert_path("client.pem", cert, sizeof cert);
    o.client_key = tn_test_cert_path("client_key.pem", key, sizeof key);
    hc_fetch(&t.e, url, &o, &with);
    cr_assert_eq(with.status, 0, "%s", with.err);
    cr_assert_str_eq(with.body, "https /c");
    hc_res_free(&without);
    hc_res_free(&with);
    close_tls(&t);
}

static void on_flag(void *arg)
{
    *(int *)arg = 1;
}

Test(httpclient_tls, redirect_from_http_to_https_and_bad_ca_file)
{
    tls_env_t t;
    char url[256], ca[300];
    tn_httpserver_t *plain;
    int freed = 0;
    open_tls(&t, NULL, NULL, 0);
    tn_httpserver_options_t po = {.request_cb = on_request};
    cr_assert_eq(tn_httpserver_new(t.e.loop, &po, &plain), 0);
    cr_assert_eq(tn_httpserver_listen(plain, 0, "127.0.0.1"), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/to?%s/landed", tn_httpserver_port(plain),
             t.https);
    hc_res_t r = {0};
    tn_fetch_options_t o = {.ca_certs = tn_test_cert_path("ca.pem", ca, sizeof ca)};
    hc_fetch(&t.e, url, &o, &r);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.body, "https /landed");
    cr_assert_eq(r.t.redirects, 1);
    hc_res_free(&r);

    hc_res_t bad = {0};
    tn_fetch_options_t nofile = {.ca_certs = "/nonexistent/ca.pem"};
    snprintf(url, sizeof url, "%s/", t.https);
    cr_assert_eq(hc_start(&t.e, url, &nofile, &bad), TN_ETLSCONFIG);
    cr_assert_eq(bad.calls, 0);

    tn_httpserver_free(plain, on_flag, &freed);
    for (int i = 0; i < 100 && !freed; i++)
        tn_test_settle(t.e.loop, 5);
    cr_assert(freed);
    close_tls(&t);
}
