/* httputil: headers multimap, arguments, URL escaping and splitting, HTTP
 * dates, reason phrases. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tornuv/httputil.h"

#define S(lit) lit, sizeof(lit) - 1

Test(httputil, headers_are_ordered_case_insensitive_and_kept_as_received)
{
    tn_headers_t *h;
    cr_assert_eq(tn_headers_new(&h), 0);
    cr_assert_eq(tn_headers_add(h, S("Content-Type"), S("text/plain")), 0);
    cr_assert_eq(tn_headers_add(h, S("X-Multi"), S("a")), 0);
    cr_assert_eq(tn_headers_add(h, S("x-multi"), S(" b ")), 0);
    cr_assert_eq(tn_headers_add(h, S(""), S("v")), TN_EINVAL);
    size_t len = 0;
    cr_assert_str_eq(tn_headers_get(h, "content-TYPE", &len), "text/plain");
    cr_assert_eq(len, 10);
    cr_assert_null(tn_headers_get(h, "Content-Typ", NULL));
    tn_strview_t all[4];
    cr_assert_eq(tn_headers_get_all(h, "X-MULTI", all, 4), 2);
    cr_assert_eq(all[1].len, 3);
    cr_assert_eq(memcmp(all[1].base, " b ", 3), 0);
    char *joined;
    size_t joined_len;
    cr_assert_eq(tn_headers_get_combined(h, "x-multi", &joined, &joined_len), 0);
    cr_assert_str_eq(joined, "a,  b ");
    cr_assert_eq(joined_len, 6);
    tn_free(joined);
    cr_assert_eq(tn_headers_get_combined(h, "absent", &joined, NULL), TN_ENOTFOUND);

    tn_strview_t name, value;
    cr_assert_eq(tn_headers_at(h, 2, &name, &value), 0);
    cr_assert_eq(memcmp(name.base, "x-multi", 7), 0, "the name's case is kept");
    cr_assert_eq(tn_headers_at(h, 3, &name, &value), TN_ENOTFOUND);

    /* set replaces every value in place of the first */
    cr_assert_eq(tn_headers_add(h, S("After"), S("1")), 0);
    cr_assert_eq(tn_headers_set(h, S("X-MULTI"), S("c")), 0);
    cr_assert_eq(tn_headers_count(h), 3);
    cr_assert_eq(tn_headers_at(h, 1, &name, &value), 0);
    cr_assert_eq(memcmp(value.base, "c", 1), 0);
    cr_assert_eq(tn_headers_at(h, 2, &name, NULL), 0);
    cr_assert_eq(memcmp(name.base, "After", 5), 0);
    cr_assert_eq(tn_headers_set(h, S("New"), S("n")), 0);
    cr_assert_str_eq(tn_headers_get(h, "new", NULL), "n");

    cr_assert_eq(tn_headers_remove(h, "content-type"), 1);
    cr_assert_eq(tn_headers_remove(h, "content-type"), 0);
    cr_assert_eq(tn_headers_count(h), 3);
    tn_headers_clear(h);
    cr_assert_eq(tn_headers_count(h), 0);
    cr_assert_null(tn_headers_get(h, "after", NULL));
    cr_assert_eq(tn_headers_add(h, S("Reused"), S("yes")), 0);
    cr_assert_str_eq(tn_headers_get(h, "reused", NULL), "yes");
    tn_headers_free(h);
    tn_headers_free(NULL);
}

/* Tornado had a CVE for quadratic joining of repeated headers: 100 000
 * repeats must stay linear (adds are amortised O(1), one combined pass). */
Test(httputil, many_repeated_headers_are_linear, .timeout = 10)
{
    tn_headers_t *h;
    cr_assert_eq(tn_headers_new(&h), 0);
    for (int i = 0; i < 100000; i++)
        cr_assert_eq(tn_headers_add(h, S("X-Rep"), S("v")), 0);
    char *joined;
    size_t len;
    cr_assert_eq(tn_headers_get_combined(h, "x-rep", &joined, &len), 0);
    cr_assert_eq(len, 100000 + 99999 * 2);
    tn_free(joined);
    cr_assert_eq(tn_headers_set(h, S("x-rep"), S("one")), 0);
    cr_assert_eq(tn_headers_count(h), 1);
    tn_headers_free(h);
}

Test(httputil, query_arguments)
{
    static const struct {
        const char *qs;
        const char *name;
        const char *first;
        size_t count;
    } cases[] = {
        {"a=1&b=2&a=3", "a", "1", 2},
        {"a=1&b=2&a=3", "b", "2", 1},
        {"a=&b", "a", "", 1},
        {"a=&b", "b", "", 1},
        {"&&a=x&&", "a", "x", 1},
        {"sp=a+b%20c", "sp", "a b c", 1},
        {"bad=%zz%4", "bad", "%zz%4", 1},
        {"%41%42=%43", "AB", "C", 1},
        {"a=1;b=2", "a", "1;b=2", 1},
        {"eq=a=b", "eq", "a=b", 1},
        {"A=upper", "a", NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tn_args_t *a;
        cr_assert_eq(tn_args_new(&a), 0);
        cr_assert_eq(tn_args_parse_query(a, cases[i].qs, strlen(cases[i].qs), 0), 0);
        const char *got = tn_args_get(a, cases[i].name, NULL);
        if (cases[i].first == NULL)
            cr_assert_null(got, "case %zu", i);
        else
            cr_assert_str_eq(got, cases[i].first, "case %zu", i);
        tn_strview_t v[4];
        cr_assert_eq(tn_args_get_all(a, cases[i].name, v, 4), cases[i].count, "case %zu", i);
        tn_args_free(a);
    }
}

Test(httputil, query_argument_cap_and_embedded_nul)
{
    tn_args_t *a;
    cr_assert_eq(tn_args_new(&a), 0);
    cr_assert_eq(tn_args_parse_query(a, S("a=1&b=2&c=3"), 2), TN_ETOOLARGE);
    cr_assert_eq(tn_args_count(a), 2);
    tn_args_clear(a);
    size_t len;
    cr_assert_eq(tn_args_parse_query(a, S("n=x%00y"), 0), 0);
    const char *v = tn_args_get(a, "n", &len);
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(v, "x\0y", 3), 0);
    tn_args_free(a);
}

Test(httputil, many_repeated_arguments_are_linear, .timeout = 10)
{
    enum { N = 100000 };
    static char qs[N * 4];
    size_t len = 0;
    for (int i = 0; i < N; i++) {
        memcpy(qs + len, "a=1&", 4);
        len += 4;
    }
    tn_args_t *a;
    cr_assert_eq(tn_args_new(&a), 0);
    cr_assert_eq(tn_args_parse_query(a, qs, len, N), 0);
    cr_assert_eq(tn_args_count(a), N);
    cr_assert_eq(tn_args_get_all(a, "a", NULL, 0), N);
    tn_args_free(a);
}

Test(httputil, url_split)
{
    static const struct {
        const char *target, *path, *query;
        int err;
    } cases[] = {
        {"/", "/", "", 0},
        {"/a/b?x=1&y", "/a/b", "x=1&y", 0},
        {"/a?", "/a", "", 0},
        {"/a#frag?x", "/a", "", 0},
        {"/a?b#c", "/a", "b", 0},
        {"http://example.com/p?q=1", "/p", "q=1", 0},
        {"http://example.com", "/", "", 0},
        {"https://h:8080?x", "/", "x", 0},
        {"*", "*", "", 0},
        {"", NULL, NULL, TN_EINVAL},
        {"a/b", NULL, NULL, TN_EINVAL},
        {"://x/", NULL, NULL, TN_EINVAL},
        {"1http://h/", NULL, NULL, TN_EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tn_strview_t path, query;
        int err = tn_url_split(cases[i].target, strlen(cases[i].target), &path, &query);
        cr_assert_eq(err, cases[i].err, "case %zu (%s)", i, cases[i].target);
        if (err != 0)
            continue;
        cr_assert_eq(path.len, strlen(cases[i].path), "case %zu", i);
        cr_assert_eq(memcmp(path.base, cases[i].path, path.len), 0, "case %zu", i);
        cr_assert_eq(query.len, strlen(cases[i].query), "case %zu", i);
        cr_assert_eq(memcmp(query.base, cases[i].query, query.len), 0, "case %zu", i);
    }
}

Test(httputil, url_escape_round_trip)
{
    char buf[64];
    const char raw[] = "a b/c?d=é~";
    size_t need = tn_url_escape(NULL, 0, raw, strlen(raw), 0);
    cr_assert_eq(need, strlen("a%20b%2Fc%3Fd%3D%C3%A9~"));
    cr_assert_eq(tn_url_escape(buf, sizeof(buf), raw, strlen(raw), 0), need);
    cr_assert_eq(memcmp(buf, "a%20b%2Fc%3Fd%3D%C3%A9~", need), 0);
    char back[64];
    cr_assert_eq(tn_url_unescape(back, buf, need, 0), strlen(raw));
    cr_assert_eq(memcmp(back, raw, strlen(raw)), 0);
    size_t plus = tn_url_escape(buf, sizeof(buf), S("a b"), 1);
    cr_assert_eq(plus, 3);
    cr_assert_eq(memcmp(buf, "a+b", 3), 0);
    /* a too-small buffer is never overrun but the full length is reported */
    char small[4] = {'x', 'x', 'x', 'x'};
    cr_assert_eq(tn_url_escape(small, 3, S("//"), 0), 6);
    cr_assert_eq(memcmp(small, "%2Fx", 4), 0);
    /* in-place decoding; '+' stays '+' in paths */
    char path[] = "/a+b%2Fc";
    cr_assert_eq(tn_url_unescape(path, path, strlen(path), 0), 6);
    cr_assert_eq(memcmp(path, "/a+b/c", 6), 0);
}

Test(httputil, http_date_format)
{
    static const struct {
        int64_t t;
        const char *text;
    } cases[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {2147483648LL, "Tue, 19 Jan 2038 03:14:08 GMT"},
        {4107542399LL, "Sun, 28 Feb 2100 23:59:59 GMT"},
        {4107542400LL, "Mon, 01 Mar 2100 00:00:00 GMT"},
        {253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT"},
    };
    char buf[TN_HTTP_DATE_LEN];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(tn_http_date_format(cases[i].t, buf), 0);
        cr_assert_str_eq(buf, cases[i].text, "case %zu", i);
        int64_t back;
        cr_assert_eq(tn_http_date_parse(buf, strlen(buf), &back), 0, "case %zu", i);
        cr_assert_eq(back, cases[i].t, "case %zu", i);
    }
    cr_assert_eq(tn_http_date_format(-1, buf), TN_EINVAL);
    cr_assert_eq(tn_http_date_format(253402300800LL, buf), TN_EINVAL);
}

Test(httputil, http_date_parse_forms_and_garbage)
{
    static const struct {
        const char *text;
        int64_t t;
        int err;
    } cases[] = {
        {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777, 0},
        {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777, 0},
        {"Sun Nov  6 08:49:37 1994", 784111777, 0},
        {"Thu, 29 Feb 2024 12:00:00 GMT", 1709208000, 0},
        {"Thursday, 01-Jan-70 00:00:00 GMT", 0, 0},
        {"Sun, 29 Feb 2100 00:00:00 GMT", 0, TN_EINVAL},
        {"Sun, 31 Apr 2020 00:00:00 GMT", 0, TN_EINVAL},
        {"Sun, 00 Nov 1994 08:49:37 GMT", 0, TN_EINVAL},
        {"Sun, 06 Nov 1994 24:00:00 GMT", 0, TN_EINVAL},
        {"Sun, 06 Nov 1994 08:49:37 UTC", 0, TN_EINVAL},
        {"Sun, 06 Nov 1994 08:49:37 GMT ", 0, TN_EINVAL},
        {"Sun, 06 Foo 1994 08:49:37 GMT", 0, TN_EINVAL},
        {"Sun, 06 Nov 1969 08:49:37 GMT", 0, TN_EINVAL},
        {"Sun, 6 Nov 1994 08:49:37 GMT", 0, TN_EINVAL},
        {"", 0, TN_EINVAL},
        {"Sun", 0, TN_EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t t = -7;
        int err = tn_http_date_parse(cases[i].text, strlen(cases[i].text), &t);
        cr_assert_eq(err, cases[i].err, "case %zu (%s)", i, cases[i].text);
        if (err == 0)
            cr_assert_eq(t, cases[i].t, "case %zu", i);
        else
            cr_assert_eq(t, -7, "case %zu: output untouched on error", i);
    }
}

Test(httputil, reason_phrases)
{
    cr_assert_str_eq(tn_http_reason(200), "OK");
    cr_assert_str_eq(tn_http_reason(404), "Not Found");
    cr_assert_str_eq(tn_http_reason(431), "Request Header Fields Too Large");
    cr_assert_null(tn_http_reason(299));
    cr_assert_null(tn_http_reason(-1));
}

/* tornado: httputil_test ParseCookieTest (python cookie semantics) */
Test(httputil, cookie_header_parsing)
{
    static const struct {
        const char *header, *name, *value;
    } cases[] = {
        {"a=1; b=2", "b", "2"},
        {"  spaced  =  v w  ;x=y", "spaced", "v w"},
        {"q=\"quoted \\\"inner\\\" \\101\\073\"", "q", "quoted \"inner\" A;"},
        {"keebler=E=mc2; L=\"Loves\"; fudge=\\012;", "keebler", "E=mc2"},
        {"keebler=E=mc2; L=\"Loves\"; fudge=\\012;", "L", "Loves"},
        {"keebler=E=mc2; L=\"Loves\"; fudge=\\012;", "fudge", "\\012"},
        {"novalue; k=v", "", "novalue"},
        {"empty=; k=v", "empty", ""},
        {"dup=1; dup=2", "dup", "1"},
        {";;;; z=9 ;;", "z", "9"},
        {"half=\"open", "half", "\"open"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tn_args_t *a;
        cr_assert_eq(tn_args_new(&a), 0);
        cr_assert_eq(tn_cookies_parse(a, cases[i].header, strlen(cases[i].header), 0), 0);
        size_t len;
        const char *v = tn_args_get(a, cases[i].name, &len);
        cr_assert_not_null(v, "case %zu", i);
        cr_assert_eq(len, strlen(cases[i].value), "case %zu: %s", i, v);
        cr_assert_eq(memcmp(v, cases[i].value, len), 0, "case %zu: %s", i, v);
        tn_args_free(a);
    }
    tn_args_t *a;
    cr_assert_eq(tn_args_new(&a), 0);
    cr_assert_eq(tn_cookies_parse(a, S("a=1;b=2;c=3"), 2), TN_ETOOLARGE);
    tn_args_clear(a);
    cr_assert_eq(tn_cookies_parse(a, S(""), 0), 0);
    cr_assert_eq(tn_args_count(a), 0);
    tn_args_free(a);
}

Test(httputil, set_cookie_formatting_and_validation)
{
    char *out;
    size_t len;
    tn_cookie_attrs_t attrs = {.domain = "example.com",
                               .path = "/",
                               .expires = 784111777,
                               .max_age = 3600,
                               .secure = 1,
                               .httponly = 1,
                               .samesite = "Lax"};
    cr_assert_eq(tn_cookie_format(S("sid"), S("abc123"), &attrs, &out, &len), 0);
    cr_assert_str_eq(out, "sid=abc123; Domain=example.com; Expires=Sun, 06 Nov 1994 08:49:37 GMT; "
                          "Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax");
    cr_assert_eq(len, strlen(out));
    tn_free(out);
    cr_assert_eq(tn_cookie_format(S("plain"), S(""), NULL, &out, NULL), 0);
    cr_assert_str_eq(out, "plain=");
    tn_free(out);

    cr_assert_eq(tn_cookie_format(S("bad name"), S("v"), NULL, &out, NULL), TN_EINVAL);
    cr_assert_eq(tn_cookie_format(S("n;"), S("v"), NULL, &out, NULL), TN_EINVAL);
    cr_assert_eq(tn_cookie_format(S(""), S("v"), NULL, &out, NULL), TN_EINVAL);
    cr_assert_eq(tn_cookie_format(S("n"), S("v\r\nSet-Cookie: x=1"), NULL, &out, NULL), TN_EINVAL);
    cr_assert_eq(tn_cookie_format(S("n"), S("a;b"), NULL, &out, NULL), TN_EINVAL);
    tn_cookie_attrs_t evil = {.max_age = -1, .path = "/\r\nX: y"};
    cr_assert_eq(tn_cookie_format(S("n"), S("v"), &evil, &out, NULL), TN_EINVAL);
    tn_cookie_attrs_t odd = {.max_age = -1, .samesite = "Sometimes"};
    cr_assert_eq(tn_cookie_format(S("n"), S("v"), &odd, &out, NULL), TN_EINVAL);
}

Test(httputil, token_check)
{
    cr_assert(tn_http_is_token(S("Content-Type")));
    cr_assert(tn_http_is_token(S("x!#$%&'*+-.^_`|~9")));
    cr_assert_not(tn_http_is_token(S("")));
    cr_assert_not(tn_http_is_token(S("a b")));
    cr_assert_not(tn_http_is_token(S("a:b")));
    cr_assert_not(tn_http_is_token("a\0b", 3));
}
