/* Response head: framing decision table and header injection checks. */
#include <criterion/criterion.h>
#include <string.h>

#include "http1_response.h"

static tn_headers_t *hdrs(const char *n1, const char *v1)
{
    tn_headers_t *h = NULL;
    cr_assert_eq(tn_headers_new(&h), 0);
    if (n1)
        cr_assert_eq(tn_headers_add(h, n1, strlen(n1), v1, strlen(v1)), 0);
    return h;
}

Test(http1_response, simple_with_length)
{
    char buf[512];
    tn__h1resp_t st;
    tn_headers_t *h = hdrs("Content-Length", "12");
    long long n = tn__h1_response_head(buf, sizeof buf, &st, 11, 200, NULL, h, 0, 1,
                                       "Sun, 22 Nov 2026 16:00:00 GMT", "tornuv");
    cr_assert_gt(n, 0);
    buf[n] = 0;
    cr_assert_str_eq(buf, "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n"
                          "Date: Sun, 22 Nov 2026 16:00:00 GMT\r\nServer: tornuv\r\n\r\n");
    cr_assert(st.has_length && st.declared_length == 12 && !st.chunked && !st.close_after);
    tn_headers_free(h);
}

Test(http1_response, framing_table)
{
    static const struct {
        int version, status, is_head, keep_alive, with_cl;
        int chunked, no_body, close_after;
    } cases[] = {
        {11, 200, 0, 1, 0, 1, 0, 0}, {11, 200, 0, 1, 1, 0, 0, 0}, {10, 200, 0, 1, 0, 0, 0, 1},
        {10, 200, 0, 1, 1, 0, 0, 0}, {11, 204, 0, 1, 0, 0, 1, 0}, {11, 304, 0, 1, 0, 0, 1, 0},
        {11, 101, 0, 1, 0, 0, 1, 0}, {11, 200, 1, 1, 0, 0, 1, 0}, {11, 200, 0, 0, 1, 0, 0, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char buf[512];
        tn__h1resp_t st;
        tn_headers_t *h = hdrs(cases[k].with_cl ? "Content-Length" : NULL, "3");
        long long n =
            tn__h1_response_head(buf, sizeof buf, &st, cases[k].version, cases[k].status, NULL, h,
                                 cases[k].is_head, cases[k].keep_alive, NULL, NULL);
        cr_assert_gt(n, 0, "case %zu", k);
        buf[n] = 0;
        cr_assert_eq(st.chunked, cases[k].chunked, "case %zu", k);
        cr_assert_eq(st.no_body, cases[k].no_body, "case %zu", k);
        cr_assert_eq(st.close_after, cases[k].close_after, "case %zu", k);
        cr_assert_eq(strstr(buf, "Transfer-Encoding: chunked\r\n") != NULL, cases[k].chunked,
                     "case %zu", k);
        cr_assert_eq(strstr(buf, "Connection: close\r\n") != NULL, cases[k].close_after, "case %zu",
                     k);
        tn_headers_free(h);
    }
}

Test(http1_response, rejects_injection_and_bad_input)
{
    static const char *bad[][2] = {
        {"X", "a\r\nSet-Cookie: x=1"},
        {"X", "a\nb"},
        {"X", "a\rb"},
        {"X Y", "1"},
        {"X:Y", "1"},
        {"Content-Length", "1, 1"},
        {"Content-Length", "-1"},
        {"Transfer-Encoding", "chunked"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char buf[512];
        tn__h1resp_t st;
        tn_headers_t *h = hdrs(bad[k][0], bad[k][1]);
        cr_assert_eq(tn__h1_response_head(buf, sizeof buf, &st, 11, 200, NULL, h, 0, 1, NULL, NULL),
                     TN_EINVAL, "case %zu", k);
        tn_headers_free(h);
    }
    char buf[16];
    tn__h1resp_t st;
    cr_assert_eq(
        tn__h1_response_head(buf, sizeof buf, &st, 11, 200, "x\r\ny", NULL, 0, 1, NULL, NULL),
        TN_EINVAL);
    cr_assert_eq(tn__h1_response_head(buf, sizeof buf, &st, 11, 99, NULL, NULL, 0, 1, NULL, NULL),
                 TN_EINVAL);
    cr_assert_eq(tn__h1_response_head(buf, sizeof buf, &st, 11, 200, NULL, NULL, 0, 1, NULL, NULL),
                 TN_EBUFFULL);
}
