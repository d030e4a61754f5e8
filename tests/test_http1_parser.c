/* The strict request parser fed like a stream buffer: pipelining at every
 * split, smuggling patterns, body limits. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "http1_parser.h"

typedef struct {
    char log[4096]; /* "M url|h=n|b:data|C;" per event */
    size_t loglen;
    uint64_t raise_body_to;
} rec_t;

static void logf_(rec_t *r, const char *s, size_t n)
{
    cr_assert_lt(r->loglen + n, sizeof r->log);
    memcpy(r->log + r->loglen, s, n);
    r->loglen += n;
    r->log[r->loglen] = 0;
}

static int on_headers(tn__h1parser_t *p, void *arg)
{
    rec_t *r = arg;
    char tmp[64];
    logf_(r, p->method, p->method_len);
    logf_(r, " ", 1);
    logf_(r, p->url, p->url_len);
    int n = snprintf(tmp, sizeof tmp, "|h=%zu|", p->field_count);
    logf_(r, tmp, (size_t)n);
    if (r->raise_body_to)
        p->max_body = r->raise_body_to;
    return 0;
}

static int on_body(tn__h1parser_t *p, const char *d, size_t n, void *arg)
{
    (void)p;
    logf_(arg, d, n);
    return 0;
}

static int on_complete(tn__h1parser_t *p, void *arg)
{
    (void)p;
    logf_(arg, "|C;", 3);
    return 0;
}

static const tn__h1parser_cbs_t cbs = {on_headers, on_body, on_complete};

/* Drives the parser as the connection does: a buffer that keeps unconsumed
 * bytes, input arriving in the pieces given by cuts. Returns the last code. */
static int drive(const char *in, size_t len, const size_t *cuts, size_t ncuts,
                 const tn__h1parser_limits_t *lim, rec_t *r, int *status)
{
    tn__h1parser_t p;
    char buf[1024];
    size_t have = 0, pos = 0;
    int rc = 0;
    cr_assert_eq(tn__h1parser_init(&p, lim, &cbs, r), 0);
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        cr_assert_leq(have + end - pos, sizeof buf);
        memcpy(buf + have, in + pos, end - pos);
        have += end - pos;
        pos = end;
        for (;;) {
            long long c = tn__h1parser_feed(&p, buf, have);
            if (c < 0) {
                rc = (int)c;
                *status = p.status;
                goto out;
            }
            memmove(buf, buf + c, have - (size_t)c);
            have -= (size_t)c;
            if (tn__h1parser_done(&p)) {
                tn__h1parser_next(&p);
                continue;
            }
            break;
        }
    }
out:
    tn__h1parser_free(&p);
    return rc;
}

static const char pipeline[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                               "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
                               "PUT /c?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nwxyz";
static const char pipeline_log[] = "GET /a|h=1||C;POST /b|h=2|abcde|C;PUT /c?q=1|h=2|wxyz|C;";

Test(http1_parser, pipeline_whole)
{
    rec_t r = {0};
    int st = 0;
    cr_assert_eq(drive(pipeline, sizeof pipeline - 1, NULL, 0, NULL, &r, &st), 0);
    cr_assert_str_eq(r.log, pipeline_log);
}

Test(http1_parser, pipeline_every_two_cut_split)
{
    size_t len = sizeof pipeline - 1;
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b += 7) {
            rec_t r = {0};
            int st = 0;
            size_t cuts[2] = {a, b};
            cr_assert_eq(drive(pipeline, len, cuts, 2, NULL, &r, &st), 0, "cuts %zu %zu", a, b);
            cr_assert_str_eq(r.log, pipeline_log, "cuts %zu %zu", a, b);
        }
    }
}

Test(http1_parser, pipeline_byte_at_a_time)
{
    size_t len = sizeof pipeline - 1;
    size_t cuts[sizeof pipeline];
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    rec_t r = {0};
    int st = 0;
    cr_assert_eq(drive(pipeline, len, cuts, len, NULL, &r, &st), 0);
    cr_assert_str_eq(r.log, pipeline_log);
}

Test(http1_parser, smuggling_table)
{
    static const struct {
        const char *raw;
        int status;
    } cases[] = {
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
         "0\r\n\r\n",
         400},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3a\r\n\r\nabc", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.1\nHost: a\n\n", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         "10000000000000000\r\n",
         400},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
         400},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rec_t r = {0};
        int st = 0;
        int rc = drive(cases[k].raw, strlen(cases[k].raw), NULL, 0, NULL, &r, &st);
        cr_assert_lt(rc, 0, "case %zu accepted: %s", k, r.log);
        cr_assert_eq(st, cases[k].status, "case %zu status %d", k, st);
        cr_assert_null(strstr(r.log, "|C;"), "case %zu completed a request", k);
    }
}

static int body_limit(size_t cl, uint64_t max, uint64_t raise, int chunked, int *status)
{
    char req[512];
    char body[64];
    int n;
    memset(body, 'b', sizeof body);
    if (chunked)
        n = snprintf(req, sizeof req,
                     "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n%.*s"
                     "\r\n0\r\n\r\n",
                     cl, (int)cl, body);
    else
        n = snprintf(req, sizeof req,
                     "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%.*s", cl, (int)cl,
                     body);
    tn__h1parser_limits_t lim = {.max_body_size = max};
    rec_t r = {.raise_body_to = raise};
    *status = 0;
    return drive(req, (size_t)n, NULL, 0, &lim, &r, status);
}

Test(http1_parser, body_limit_at_boundaries)
{
    int st;
    for (int chunked = 0; chunked < 2; chunked++) {
        cr_assert_eq(body_limit(9, 10, 0, chunked, &st), 0);
        cr_assert_eq(body_limit(10, 10, 0, chunked, &st), 0);
        cr_assert_eq(body_limit(11, 10, 0, chunked, &st), TN_ETOOLARGE);
        cr_assert_eq(st, 413);
        /* per-request override from on_headers */
        cr_assert_eq(body_limit(11, 10, 11, chunked, &st), 0);
        cr_assert_eq(body_limit(12, 10, 11, chunked, &st), TN_ETOOLARGE);
    }
}

Test(http1_parser, header_limits_give_431)
{
    int st = 0;
    rec_t r = {0};
    const char *req = "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n";
    tn__h1parser_limits_t lim = {.max_header_count = 2};
    cr_assert_eq(drive(req, strlen(req), NULL, 0, &lim, &r, &st), TN_ETOOLARGE);
    cr_assert_eq(st, 431);
    lim = (tn__h1parser_limits_t){.max_header_count = 3};
    cr_assert_eq(drive(req, strlen(req), NULL, 0, &lim, &r, &st), 0);
    lim = (tn__h1parser_limits_t){.max_header_size = strlen(req) - 1};
    cr_assert_eq(drive(req, strlen(req), NULL, 0, &lim, &r, &st), TN_ETOOLARGE);
    cr_assert_eq(st, 431);
}

Test(http1_parser, chunk_extension_cap)
{
    int st = 0;
    rec_t r = {0};
    const char *req = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "1;aaaaaaaaaa=bbbbbbbbbb\r\nz\r\n0\r\n\r\n";
    /* the cap counts every byte between the size and the CR: 22 here */
    tn__h1parser_limits_t lim = {.max_chunk_ext_size = 22};
    cr_assert_eq(drive(req, strlen(req), NULL, 0, &lim, &r, &st), 0);
    lim.max_chunk_ext_size = 21;
    cr_assert_eq(drive(req, strlen(req), NULL, 0, &lim, &r, &st), TN_EHTTP);
    cr_assert_eq(st, 400);
}
