/* https for the client: one TLS client context per distinct setting (CA
 * file, client certificate and key, insecure), built on first use and kept
 * by the client, so TLS sessions resume across its connections. */
#include <stdio.h>
#include <string.h>

#include "httpclient_internal.h"

struct hc_tls_s {
    struct hc_tls_s *next;
    int insecure;
    char *ca, *cert, *key;
    tn_tls_context_t *ctx;
    int id;
};

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static char *dup_or_null(const char *s, int *err)
{
    char *d;
    if (!s)
        return NULL;
    d = tn_strndup(s, strlen(s));
    if (!d)
        *err = 1;
    return d;
}

static void entry_free(struct hc_tls_s *t)
{
    tn_tls_context_free(t->ctx);
    tn_free(t->ca);
    tn_free(t->cert);
    tn_free(t->key);
    tn_free(t);
}

int tn__hc_tls_select(tn_fetch_t *f)
{
    tn_httpclient_t *c = f->client;
    const tn_fetch_options_t *o = &f->o;
    struct hc_tls_s *t;
    int n = 0, err = 0, rc;
    size_t ol;

    for (t = c->tls; t; t = t->next, n++)
        if (t->insecure == (o->insecure != 0) && same(t->ca, o->ca_certs) &&
            same(t->cert, o->client_cert) && same(t->key, o->client_key))
            break;
    if (!t) {
        tn_tls_options_t to = {.ca_file = o->ca_certs,
                               .certfile = o->client_cert,
                               .keyfile = o->client_key,
                               .insecure = o->insecure != 0};
        t = tn_calloc(1, sizeof *t);
        if (!t)
            return TN_ENOMEM;
        t->insecure = o->insecure != 0;
        t->ca = dup_or_null(o->ca_certs, &err);
        t->cert = dup_or_null(o->client_cert, &err);
        t->key = dup_or_null(o->client_key, &err);
        rc = err ? TN_ENOMEM : tn_tls_context_new_client(&to, &t->ctx);
        if (rc != 0) {
            entry_free(t);
            snprintf(f->errmsg, sizeof f->errmsg, "TLS context: %s", tn_strerror(rc));
            return rc;
        }
        t->id = n;
        t->next = c->tls;
        c->tls = t;
    }
    f->tls = t->ctx;
    ol = strlen(f->pool_key);
    snprintf(f->pool_key + ol, sizeof f->pool_key - ol, "#tls%d", t->id);
    return 0;
}

void tn__hc_tls_free_all(tn_httpclient_t *c)
{
    while (c->tls) {
        struct hc_tls_s *t = c->tls;
        c->tls = t->next;
        entry_free(t);
    }
}
