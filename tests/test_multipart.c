/* multipart/form-data and urlencoded bodies: fields, files, limits,
 * malformed input, and linear time on hostile bodies. */
#include <criterion/criterion.h>
#include <string.h>

#include "tornuv/httputil.h"

#define S(lit) lit, sizeof(lit) - 1

static tn_args_t *args;
static tn_files_t *files;

static void setup(void)
{
    cr_assert_eq(tn_args_new(&args), 0);
    cr_assert_eq(tn_files_new(&files), 0);
}

static void teardown(void)
{
    tn_args_free(args);
    tn_files_free(files);
}

TestSuite(multipart, .init = setup, .fini = teardown);

static int parse(const char *body, size_t len)
{
    return tn_multipart_parse(S("1234"), body, len, NULL, args, files);
}

#define PARSE(lit) parse(lit, sizeof(lit) - 1)

static void assert_view(tn_strview_t v, const char *expect)
{
    cr_assert_eq(v.len, strlen(expect), "length %zu, expected %zu (%s)", v.len, strlen(expect),
                 expect);
    cr_assert_eq(memcmp(v.base, expect, v.len), 0);
    cr_assert_eq(v.base[v.len], '\0');
}

/* tornado: httputil_test MultipartFormDataTest.test_file_upload */
Test(multipart, file_upload)
{
    cr_assert_eq(PARSE("--1234\r\n"
                       "Content-Disposition: form-data; name=\"files\"; filename=\"ab.txt\"\r\n"
                       "\r\n"
                       "Foo\r\n"
                       "--1234--"),
                 0);
    cr_assert_eq(tn_files_count(files), 1);
    tn_http_file_t f;
    cr_assert_eq(tn_files_get(files, "files", &f), 0);
    assert_view(f.name, "files");
    assert_view(f.filename, "ab.txt");
    assert_view(f.body, "Foo");
    assert_view(f.content_type, "application/unknown");
    cr_assert_eq(tn_files_get(files, "other", &f), TN_ENOTFOUND);
    cr_assert_eq(tn_args_count(args), 0);
}

/* tornado: MultipartFormDataTest.test_unquoted_names, test_special_filenames */
Test(multipart, fields_files_quoting_and_content_type)
{
    cr_assert_eq(
        PARSE("preamble is ignored\r\n"
              "--1234\r\n"
              "Content-Disposition: form-data; name=files; filename=ab.txt\r\n"
              "Content-Type: text/plain\r\n"
              "\r\n"
              "Foo\r\n"
              "--1234\r\n"
              "content-disposition: FORM-DATA; name=\"a;b\"\r\n"
              "\r\n"
              "line1\r\nline2\r\n"
              "--1234\r\n"
              "Content-Disposition: form-data; name=\"q\"; filename=\"x\\\"y\\\\z.txt\"\r\n"
              "\r\n"
              "\r\n"
              "--1234\r\n"
              "Content-Disposition: form-data; name=\"e\"\r\n"
              "\r\n"
              "\r\n"
              "--1234--\r\n"
              "epilogue is ignored"),
        0);
    tn_http_file_t f;
    cr_assert_eq(tn_files_count(files), 2);
    cr_assert_eq(tn_files_at(files, 0, &f), 0);
    assert_view(f.filename, "ab.txt");
    assert_view(f.content_type, "text/plain");
    cr_assert_eq(tn_files_at(files, 1, &f), 0);
    assert_view(f.name, "q");
    assert_view(f.filename, "x\"y\\z.txt");
    assert_view(f.body, "");
    cr_assert_eq(tn_files_at(files, 2, &f), TN_ENOTFOUND);
    cr_assert_str_eq(tn_args_get(args, "a;b", NULL), "line1\r\nline2");
    cr_assert_str_eq(tn_args_get(args, "e", NULL), "");
}

/* tornado: MultipartFormDataTest.test_non_ascii_filename (RFC 2231) */
Test(multipart, extended_filename_wins)
{
    cr_assert_eq(PARSE("--1234\r\n"
                       "Content-Disposition: form-data; name=\"files\"; filename=\"ab.txt\"; "
                       "filename*=UTF-8''%C3%A1b.txt\r\n"
                       "\r\n"
                       "Foo\r\n"
                       "--1234--"),
                 0);
    tn_http_file_t f;
    cr_assert_eq(tn_files_get(files, "files", &f), 0);
    assert_view(f.filename, "\xc3\xa1"
                            "b.txt");
}

Test(multipart, binary_body_with_nul_and_near_boundaries)
{
    static const char body[] = "--1234\r\n"
                               "Content-Disposition: form-data; name=\"bin\"; filename=\"b\"\r\n"
                               "\r\n"
                               "\0--123\r\n--1234x\0\r\n"
                               "--1234--";
    cr_assert_eq(parse(body, sizeof(body) - 1), 0);
    tn_http_file_t f;
    cr_assert_eq(tn_files_get(files, "bin", &f), 0);
    cr_assert_eq(f.body.len, 16);
    cr_assert_eq(memcmp(f.body.base, "\0--123\r\n--1234x\0", 16), 0);
}

Test(multipart, files_dropped_when_no_list)
{
    static const char body[] = "--1234\r\n"
                               "Content-Disposition: form-data; name=\"f\"; filename=\"b\"\r\n"
                               "\r\n"
                               "x\r\n"
                               "--1234--";
    cr_assert_eq(tn_multipart_parse(S("1234"), S(body), NULL, args, NULL), 0);
    cr_assert_eq(tn_args_count(args), 0);
}

/* Each row is a whole body that must be refused with TN_EHTTP. tornado:
 * MultipartFormDataTest.test_missing_headers, test_invalid_content_disposition,
 * test_line_does_not_end_with_correct_line_break,
 * test_content_disposition_header_without_name_parameter, test_data_after_final_boundary
 * (accepted), and header validation. */
Test(multipart, malformed_bodies_are_refused)
{
    static const char *const bad[] = {
        /* no final boundary */
        "--1234\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n",
        "",
        "--1234--",
        /* missing headers */
        "--1234\r\n\r\nFoo\r\n--1234--",
        "--1234\r\nContent-Disposition: form-data; name=\"a\"\r\nFoo\r\n--1234--",
        /* invalid disposition */
        "--1234\r\nContent-Disposition: invalid; name=\"files\"\r\n\r\nFoo\r\n--1234--",
        /* value not ending in CRLF */
        "--1234\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nFoo--1234--",
        /* no name, empty name */
        "--1234\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nFoo\r\n--1234--",
        "--1234\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nFoo\r\n--1234--",
        /* no disposition at all, two dispositions */
        "--1234\r\nContent-Type: text/plain\r\n\r\nFoo\r\n--1234--",
        "--1234\r\nContent-Disposition: form-data; name=a\r\n"
        "Content-Disposition: form-data; name=b\r\n\r\nFoo\r\n--1234--",
        /* header line without colon, bad name, control characters */
        "--1234\r\nContent-Disposition: form-data; name=a\r\nbogus\r\n\r\nFoo\r\n--1234--",
        "--1234\r\nContent-Disposition: form-data; name=a\r\nBad Name: x\r\n\r\nFoo\r\n--1234--",
        "--1234\r\nContent-Disposition: form-data; name=a\x01\r\n\r\nFoo\r\n--1234--",
        "--1234\r\nContent-Disposition: form-data; name=a\rb\r\n\r\nFoo\r\n--1234--",
        /* unterminated quote, stray quote */
        "--1234\r\nContent-Disposition: form-data; name=\"a\r\n\r\nFoo\r\n--1234--",
        "--1234\r\nContent-Disposition: form-data; name=a\"b\r\n\r\nFoo\r\n--1234--",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tn_args_clear(args);
        cr_assert_eq(parse(bad[i], strlen(bad[i])), i == 2 ? 0 : TN_EHTTP, "row %zu", i);
    }
}

/* tornado: httputil_test ParseMultipartFormDataTest limits (6.5.5) */
Test(multipart, part_and_header_limits)
{
    static const char part[] = "--1234\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n";
    char body[64 * 1024];
    size_t n = 0;
    for (int i = 0; i < 101; i++) {
        memcpy(body + n, part, sizeof(part) - 1);
        n += sizeof(part) - 1;
    }
    memcpy(body + n, "--1234--", 8);
    cr_assert_eq(parse(body, n + 8), TN_ETOOLARGE);
    cr_assert_eq(tn_args_count(args), 100, "parts before the limit stay");
    tn_args_clear(args);
    tn_multipart_limits_t lim = {.max_parts = 200};
    cr_assert_eq(tn_multipart_parse(S("1234"), body, n + 8, &lim, args, files), 0);
    cr_assert_eq(tn_args_count(args), 101);

    /* a header block of exactly the limit passes, one byte more fails */
    tn_multipart_limits_t small = {.max_part_header_size = 50};
    static const char hdr50[] = "--1234\r\nContent-Disposition: form-data; name=\"abcdefghijk\"\r\n"
                                "\r\nv\r\n--1234--";
    static const char hdr51[] =
        "--1234\r\nContent-Disposition: form-data; name=\"abcdefghijkl\"\r\n"
        "\r\nv\r\n--1234--";
    cr_assert_eq(tn_multipart_parse(S("1234"), S(hdr50), &small, args, files), 0);
    cr_assert_eq(tn_multipart_parse(S("1234"), S(hdr51), &small, args, files), TN_ETOOLARGE);
    /* a header block that never ends stops being searched at the limit */
    char big[4096];
    memset(big, 'x', sizeof(big));
    memcpy(big, "--1234\r\nX: ", 11);
    memcpy(big + sizeof(big) - 8, "--1234--", 8);
    cr_assert_eq(tn_multipart_parse(S("1234"), big, sizeof(big), &small, args, files),
                 TN_ETOOLARGE);
}

/* Bodies built to make naive splitting quadratic: many almost-delimiters,
 * many empty parts, one huge part. 8 MiB each, well under the timeout. */
Test(multipart, hostile_bodies_are_linear, .timeout = 20)
{
    size_t len = 8u << 20;
    char *body = malloc(len);
    cr_assert_not_null(body);
    /* "--123" repeated: every position starts a near-match */
    for (size_t i = 0; i < len; i++)
        body[i] = "--123"[i % 5];
    cr_assert_eq(parse(body, len), TN_EHTTP);
    /* a long run of '-' with a boundary made of '-' */
    memset(body, '-', len);
    cr_assert_eq(
        tn_multipart_parse(S("------------------------------------"), body, len, NULL, args, files),
        0, "all preamble: no delimiter followed by CRLF");
    /* empty parts only: "--1234\r\n" repeated, then the close */
    for (size_t i = 0; i + 8 <= len; i += 8)
        memcpy(body + i, "--1234\r\n", 8);
    memcpy(body + len - 8, "--1234--", 8);
    cr_assert_eq(parse(body, len), 0);
    /* one huge file */
    static const char head[] =
        "--1234\r\nContent-Disposition: form-data; name=f; filename=f\r\n\r\n";
    memset(body, 'a', len);
    memcpy(body, head, sizeof(head) - 1);
    memcpy(body + len - 10, "\r\n--1234--", 10);
    cr_assert_eq(parse(body, len), 0);
    tn_http_file_t f;
    cr_assert_eq(tn_files_get(files, "f", &f), 0);
    cr_assert_eq(f.body.len, len - 10 - (sizeof(head) - 1));
    free(body);
}

Test(multipart, boundary_from_content_type)
{
    char b[TN_MULTIPART_MAX_BOUNDARY + 1];
    size_t n;
    cr_assert_eq(tn_multipart_boundary(S("multipart/form-data; boundary=1234"), b, sizeof(b), &n),
                 0);
    cr_assert_str_eq(b, "1234");
    cr_assert_eq(n, 4);
    cr_assert_eq(tn_multipart_boundary(S("Multipart/Form-Data ; charset=x; BOUNDARY=\"a;b c\""), b,
                                       sizeof(b), &n),
                 0);
    cr_assert_str_eq(b, "a;b c");
    cr_assert_eq(tn_multipart_boundary(S("multipart/form-data; boundary=1234"), b, 4, &n),
                 TN_EINVAL);
    static const char *const bad[] = {
        "multipart/mixed; boundary=1234",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=\"1234",
        "multipart/form-data-x; boundary=1",
        "text/plain",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(tn_multipart_boundary(bad[i], strlen(bad[i]), b, sizeof(b), &n), TN_EHTTP,
                     "row %zu", i);
    char longb[300] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'b', 201);
    cr_assert_eq(tn_multipart_boundary(longb, strlen(longb), b, sizeof(b), &n), TN_EHTTP);
}

/* tornado: httputil_test ParseBodyArgumentsTest (urlencoded, multipart, other) */
Test(multipart, parse_body_arguments_by_content_type)
{
    cr_assert_eq(tn_http_parse_body_arguments(S("application/x-www-form-urlencoded; charset=UTF-8"),
                                              S("foo=&bar=1+2"), NULL, args, files),
                 0);
    cr_assert_str_eq(tn_args_get(args, "foo", NULL), "");
    cr_assert_str_eq(tn_args_get(args, "bar", NULL), "1 2");
    tn_args_clear(args);
    cr_assert_eq(tn_http_parse_body_arguments(S("text/plain"), S("a=b"), NULL, args, files), 0);
    cr_assert_eq(tn_http_parse_body_arguments(NULL, 0, S("a=b"), NULL, args, files), 0);
    cr_assert_eq(tn_args_count(args), 0);
    cr_assert_eq(tn_http_parse_body_arguments(
                     S("multipart/form-data; boundary=\"1234\""),
                     S("--1234\r\nContent-Disposition: form-data; name=k\r\n\r\nv\r\n--1234--"),
                     NULL, args, files),
                 0);
    cr_assert_str_eq(tn_args_get(args, "k", NULL), "v");
    cr_assert_eq(tn_http_parse_body_arguments(S("multipart/form-data"), S("x"), NULL, args, files),
                 TN_EHTTP);
}

Test(multipart, files_list_basics)
{
    cr_assert_eq(tn_files_add(files, S("n"), S("f.txt"), NULL, 0, S("body")), 0);
    cr_assert_eq(tn_files_add(files, S("n"), S("g.bin"), S("application/octet-stream"), "", 0), 0);
    tn_http_file_t f;
    cr_assert_eq(tn_files_get(files, "n", &f), 0);
    assert_view(f.content_type, "application/unknown");
    cr_assert_eq(tn_files_at(files, 1, &f), 0);
    assert_view(f.content_type, "application/octet-stream");
    assert_view(f.body, "");
    tn_files_clear(files);
    cr_assert_eq(tn_files_count(files), 0);
    tn_files_free(NULL);
}
