/* The HTTP client's response parser, fed bytes alone: a table of valid and
 * hostile responses, each fed whole, split in two at every byte, and one
 * byte at a time, under the read_some contract (unconsumed bytes are
 * presented again with the next ones). Every split must give the same
 * verdict, body and leftover. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "httpclient_parser.h"

typedef struct {
    int heads;
    int codes[40];
    char body[256];
    size_t body_len;
    int completes;
} rec_t;

static int r_head(tn__h1resp_t *p, void *arg)
{
    rec_t *r = arg;
    if (r->heads < 40)
        r->codes[r->heads] = p->code;
    r->heads++;
    return 0;
}

static int r_body(tn__h1resp_t *p, const char *d, size_t n, void *arg)
{
    rec_t *r = arg;
    (void)p;
    cr_assert(r->body_len + n <= sizeof r->body);
    memcpy(r->body + r->body_len, d, n);
    r->body_len += n;
    return 0;
}

static int r_complete(tn__h1resp_t *p, void *arg)
{
    (void)p;
    ((rec_t *)arg)->completes++;
    return 0;
}

static const tn__h1resp_cbs_t k_cbs = {r_head, r_body, r_complete};

typedef struct {
    int rc;          /* 0 or the first negative code (feed or eof) */
    int done;        /* the final response completed */
    size_t leftover; /* bytes after the response, unconsumed */
    int keep_alive;
    int code;
    rec_t rec;
} result_t;

/* Feeds msg in pieces ending at the offsets in cuts (ascending, the last
 * being len), then EOF when eof is set. */
static result_t run(const char *msg, size_t len, const size_t *cuts, size_t ncuts, int head_req,
                    int eof, uint64_t max_body)
{
    result_t res;
    tn__h1resp_t p;
    char *buf = malloc(len + 1);
    size_t blen = 0, pos = 0;
    memset(&res, 0, sizeof res);
    cr_assert_eq(tn__h1resp_init(&p, 1024, max_body, &k_cbs, &res.rec), 0);
    p.head_request = (unsigned char)head_req;
    for (size_t i = 0; i < ncuts && res.rc == 0; i++) {
        memcpy(buf + blen, msg + pos, cuts[i] - pos);
        blen += cuts[i] - pos;
        pos = cuts[i];
        if (tn__h1resp_done(&p))
            continue;
        long long n = tn__h1resp_feed(&p, buf, blen);
        if (n < 0) {
            res.rc = (int)n;
            break;
        }
        cr_assert_leq((size_t)n, blen);
        memmove(buf, buf + n, blen - (size_t)n);
        blen -= (size_t)n;
    }
    if (res.rc == 0 && eof)
        res.rc = tn__h1resp_eof(&p);
    res.done = tn__h1resp_done(&p);
    res.leftover = res.done ? blen : 0;
    res.keep_alive = p.keep_alive;
    res.code = p.code;
    tn__h1resp_free(&p);
    free(buf);
    return res;
}

typedef struct {
    const char *name;
    const char *msg;
    int head_req;
    int eof;          /* the connection ends after the bytes */
    int rc;           /* expected verdict */
    const char *body; /* expected body when rc == 0 */
    int code;
    int keep_alive;  /* expected, when rc == 0 */
    size_t leftover; /* expected unconsumed bytes after the response */
    int heads;       /* expected heads (interim ones included), 0 = do not check */
} case_t;

#define OK200 "HTTP/1.1 200 OK\r\n"

static const case_t k_cases[] = {
    {"content-length", OK200 "Content-Length: 5\r\n\r\nhello", 0, 0, 0, "hello", 200, 1, 0, 1},
    {"chunked", OK200 "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\n wo\r\n0\r\n\r\n",
     0, 0, 0, "hello wo", 200, 1, 0, 1},
    {"chunked with trailer",
     OK200 "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX-T: 1\r\n\r\n", 0, 0, 0, "ab", 200,
     1, 0, 1},
    {"cl plus sign", OK200 "Content-Length: +5\r\n\r\nhello", 0, 0, TN_EHTTP, NULL, 0, 0, 0, 0},
    {"cl trailing junk", OK200 "Content-Length: 5abc\r\n\r\nhello", 0, 0, TN_EHTTP, NULL, 0, 0, 0,
     0},
    {"cl list", OK200 "Content-Length: 5, 11\r\n\r\nhello", 0, 0, TN_EHTTP, NULL, 0, 0, 0, 0},
    {"cl equal list", OK200 "Content-Length: 5, 5\r\n\r\nhello", 0, 0, TN_EHTTP, NULL, 0, 0, 0, 0},
    {"two cl", OK200 "Content-Length: 5\r\nContent-Length: 11\r\n\r\nhello", 0, 0, TN_EHTTP, NULL,
     0, 0, 0, 0},
    {"two equal cl", OK200 "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 0, 0, TN_EHTTP,
     NULL, 0, 0, 0, 0},
    {"cl overflow", OK200 "Content-Length: 99999999999999999999999\r\n\r\nhello", 0, 0, TN_EHTTP,
     NULL, 0, 0, 0, 0},
    {"cl negative", OK200 "Content-Length: -1\r\n\r\nhello", 0, 0, TN_EHTTP, NULL, 0, 0, 0, 0},
    {"cl hex", OK200 "Content-Length: 0x5\r\n\r\nhello", 0, 0, TN_EHTTP, NULL, 0, 0, 0, 0},
    {"cl and te", OK200 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 0,
     TN_EHTTP, NULL, 0, 0, 0, 0},
    {"te then cl", OK200 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 0, 0,
     TN_EHTTP, NULL, 0, 0, 0, 0},
    {"te gzip chunked", OK200 "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 0, 0, TN_EHTTP,
     NULL, 0, 0, 0, 0},
    {"te twice", OK200 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     0, 0, TN_EHTTP, NULL, 0, 0, 0, 0},
    {"te in 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 0, TN_EHTTP,
     NULL, 0, 0, 0, 0},
    {"chunk size overflow", OK200 "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", 0, 0,
     TN_EHTTP, NULL, 0, 0, 0, 0},
    {"chunk over max body", OK200 "Transfer-Encoding: chunked\r\n\r\n100000\r\nab", 0, 0,
     TN_ETOOLARGE, NULL, 0, 0, 0, 0},
    {"chunk size not hex", OK200 "Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", 0, 0,
     TN_EHTTP, NULL, 0, 0, 0, 0},
    {"cl over max body", OK200 "Content-Length: 100000\r\n\r\nab", 0, 0, TN_ETOOLARGE, NULL, 0, 0,
     0, 0},
    {"bare lf", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 0, 0, TN_EHTTP, NULL, 0, 0, 0, 0},
    {"bare lf field", OK200 "Content-Length: 2\nX: y\r\n\r\nok", 0, 0, TN_EHTTP, NULL, 0, 0, 0, 0},
    {"bare cr", OK200 "Content-Length: 2\rX: y\r\n\r\nok", 0, 0, TN_EHTTP, NULL, 0, 0, 0, 0},
    {"obs fold", OK200 "X: a\r\n b\r\nContent-Length: 2\r\n\r\nok", 0, 0, TN_EHTTP, NULL, 0, 0, 0,
     0},
    {"space before colon", OK200 "Content-Length : 2\r\n\r\nok", 0, 0, TN_EHTTP, NULL, 0, 0, 0, 0},
    {"nul in value", OK200 "X: a\0b\r\nContent-Length: 2\r\n\r\nok", 0, 0, TN_EHTTP, NULL, 0, 0, 0,
     0},
    {"status 2 digits", "HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0, TN_EHTTP, NULL, 0, 0,
     0, 0},
    {"status 4 digits", "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0, TN_EHTTP, NULL, 0,
     0, 0, 0},
    {"http/2 line", "HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0, TN_EHTTP, NULL, 0, 0, 0,
     0},
    {"icy", "ICY 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0, TN_EHTTP, NULL, 0, 0, 0, 0},
    {"status 099", "HTTP/1.1 099 X\r\n\r\n", 0, 0, TN_EHTTP, NULL, 0, 0, 0, 0},
    {"no reason", "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", 0, 0, 0, "ok", 200, 1, 0, 1},
    {"interim 100 and 103",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" OK200
     "Content-Length: 2\r\n\r\nok",
     0, 0, 0, "ok", 200, 1, 0, 3},
    {"interim with length",
     "HTTP/1.1 100 Continue\r\nContent-Length: 2\r\n\r\nok" OK200 "Content-Length: 2\r\n\r\nok", 0,
     0, TN_EHTTP, NULL, 0, 0, 0, 0},
    {"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n", 0, 0,
     TN_EHTTP, NULL, 0, 0, 0, 0},
    {"204 with length", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", 0, 0, 0, "",
     204, 0, 5, 1},
    {"204 plain", "HTTP/1.1 204 No Content\r\n\r\n", 0, 0, 0, "", 204, 1, 0, 1},
    {"304 with length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 0, 0, 0, "", 304,
     1, 0, 1},
    {"304 with chunked", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0, 0,
     "", 304, 1, 0, 1},
    {"head with length", OK200 "Content-Length: 10\r\n\r\n", 1, 0, 0, "", 200, 1, 0, 1},
    {"head chunked", OK200 "Transfer-Encoding: chunked\r\n\r\n", 1, 0, 0, "", 200, 1, 0, 1},
    {"until close", OK200 "\r\nabc", 0, 1, 0, "abc", 200, 0, 0, 1},
    {"until close 1.0", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nabc", 0, 1, 0, "abc", 200,
     0, 0, 1},
    {"1.0 keep-alive cl",
     "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", 0, 0, 0, "ok", 200,
     1, 0, 1},
    {"1.0 no keep-alive", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0, 0, "ok", 200, 0,
     0, 1},
    {"truncated cl", OK200 "Content-Length: 10\r\n\r\nhello", 0, 1, TN_ECLOSED, NULL, 0, 0, 0, 0},
    {"truncated chunked", OK200 "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 0, 1,
     TN_ECLOSED, NULL, 0, 0, 0, 0},
    {"truncated chunk data", OK200 "Transfer-Encoding: chunked\r\n\r\n5\r\nhel", 0, 1, TN_ECLOSED,
     NULL, 0, 0, 0, 0},
    {"truncated head", OK200 "Content-Length: 10\r\n", 0, 1, TN_ECLOSED, NULL, 0, 0, 0, 0},
    {"nothing", "", 0, 1, TN_ECLOSED, NULL, 0, 0, 0, 0},
    {"close then junk", OK200 "Connection: close\r\nContent-Length: 2\r\n\r\nokGARBAGE\r\n\r\n", 0,
     0, 0, "ok", 200, 0, 11, 1},
    {"keep-alive then bytes", OK200 "Content-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n", 0, 0, 0, "ok",
     200, 1, 17, 1},
    {"chunk data without crlf", OK200 "Transfer-Encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n", 0, 0,
     TN_EHTTP, NULL, 0, 0, 0, 0},
    {"head too large",
     OK200
     "X: "
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "\r\n\r\n",
     0, 0, TN_ETOOLARGE, NULL, 0, 0, 0, 0},
};

static size_t case_len(const case_t *c)
{
    /* "nul in value" carries a NUL: its length is the literal's, so measure
     * up to the final response's end by hand. */
    if (strcmp(c->name, "nul in value") == 0)
        return sizeof(OK200 "X: a\0b\r\nContent-Length: 2\r\n\r\nok") - 1;
    return strlen(c->msg);
}

static void check(const case_t *c, const result_t *r, const char *how, size_t at)
{
    cr_assert_eq(r->rc, c->rc, "%s (%s %zu): rc %d, want %d", c->name, how, at, r->rc, c->rc);
    if (c->rc != 0)
        return;
    cr_assert(r->done, "%s (%s %zu): not complete", c->name, how, at);
    cr_assert_eq(r->code, c->code, "%s: code %d", c->name, r->code);
    cr_assert_eq(r->rec.body_len, strlen(c->body), "%s (%s %zu): body %zu bytes", c->name, how, at,
                 r->rec.body_len);
    cr_assert(memcmp(r->rec.body, c->body, r->rec.body_len) == 0, "%s: body", c->name);
    cr_assert_eq(r->keep_alive, c->keep_alive, "%s: keep_alive %d", c->name, r->keep_alive);
    cr_assert_eq(r->leftover, c->leftover, "%s (%s %zu): leftover %zu", c->name, how, at,
                 r->leftover);
    cr_assert_eq(r->rec.completes, 1, "%s: %d completions", c->name, r->rec.completes);
    if (c->heads)
        cr_assert_eq(r->rec.heads, c->heads, "%s: %d heads", c->name, r->rec.heads);
}

Test(httpclient_parser, table_whole_split_and_bytewise)
{
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const case_t *c = &k_cases[i];
        size_t len = case_len(c);
        size_t cuts[2];
        result_t r;
        cuts[0] = len;
        r = run(c->msg, len, cuts, 1, c->head_req, c->eof, 4096);
        check(c, &r, "whole", 0);
        for (size_t k = 1; k < len; k++) {
            cuts[0] = k;
            cuts[1] = len;
            r = run(c->msg, len, cuts, 2, c->head_req, c->eof, 4096);
            check(c, &r, "split", k);
        }
        size_t *each = malloc((len + 1) * sizeof *each);
        for (size_t k = 0; k < len; k++)
            each[k] = k + 1;
        r = run(c->msg, len, each, len, c->head_req, c->eof, 4096);
        check(c, &r, "bytewise", 0);
        free(each);
    }
}

/* The codes seen for interim responses stay out of the final one, and a
 * flood of them is refused. */
Test(httpclient_parser, interim_flood_refused)
{
    char msg[4096];
    size_t n = 0, cut;
    for (int i = 0; i < TN__H1RESP_MAX_INTERIM + 1; i++) {
        memcpy(msg + n, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        n += 25;
    }
    memcpy(msg + n, OK200 "Content-Length: 0\r\n\r\n", 38);
    n += 38;
    cut = n;
    result_t r = run(msg, n, &cut, 1, 0, 0, 4096);
    cr_assert_eq(r.rc, TN_EHTTP);
    cr_assert_eq(r.rec.heads, TN__H1RESP_MAX_INTERIM);
}

/* Pausing in on_body stops after that span; a resumed feed over no new
 * bytes completes a body that ended with the paused span. */
static int pause_body(tn__h1resp_t *p, const char *d, size_t n, void *arg)
{
    rec_t *r = arg;
    memcpy(r->body + r->body_len, d, n);
    r->body_len += n;
    p->pause = 1;
    return 0;
}

Test(httpclient_parser, pause_and_resume)
{
    static const tn__h1resp_cbs_t cbs = {r_head, pause_body, r_complete};
    const char *m = OK200 "Content-Length: 3\r\n\r\nabc";
    rec_t rec = {0};
    tn__h1resp_t p;
    cr_assert_eq(tn__h1resp_init(&p, 0, 0, &cbs, &rec), 0);
    long long n = tn__h1resp_feed(&p, m, strlen(m));
    cr_assert_eq(n, (long long)strlen(m));
    cr_assert_eq(rec.body_len, 3);
    cr_assert_not(tn__h1resp_done(&p));
    cr_assert_eq(tn__h1resp_feed(&p, m + n, 0), 0); /* still paused */
    cr_assert_not(tn__h1resp_done(&p));
    p.pause = 0;
    cr_assert_eq(tn__h1resp_feed(&p, m + n, 0), 0);
    cr_assert(tn__h1resp_done(&p));
    cr_assert_eq(rec.completes, 1);
    tn__h1resp_free(&p);
}

/* A reset parser reads the next response on the same connection. */
Test(httpclient_parser, reset_for_the_next_exchange)
{
    const char *a = OK200 "Content-Length: 1\r\n\r\na";
    const char *b =
        "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n";
    rec_t rec = {0};
    tn__h1resp_t p;
    cr_assert_eq(tn__h1resp_init(&p, 0, 0, &k_cbs, &rec), 0);
    cr_assert_eq(tn__h1resp_feed(&p, a, strlen(a)), (long long)strlen(a));
    cr_assert(tn__h1resp_done(&p));
    tn__h1resp_reset(&p);
    cr_assert_eq(tn__h1resp_feed(&p, b, strlen(b)), (long long)strlen(b));
    cr_assert(tn__h1resp_done(&p));
    cr_assert_eq(p.code, 404);
    cr_assert_eq(rec.body_len, 2);
    cr_assert(memcmp(rec.body, "ab", 2) == 0);
    tn__h1resp_free(&p);
}
