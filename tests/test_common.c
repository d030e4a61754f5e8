/* common: error codes, names, allocator, log hook. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tornuv.h"

Test(common, library_codes_have_names_and_messages)
{
    cr_assert_str_eq(tn_err_name(TN_ECLOSED), "TN_ECLOSED");
    cr_assert_str_eq(tn_strerror(TN_ECLOSED), "stream is closed");
    cr_assert_str_eq(tn_err_name(TN_EUNSATISFIABLE), "TN_EUNSATISFIABLE");
    cr_assert_str_eq(tn_err_name(TN_EFINISHED), "TN_EFINISHED");
    cr_assert(TN_ECLOSED < TN__ERR_BASE);
    cr_assert(TN_EFINISHED < TN__ERR_BASE);
}

Test(common, system_codes_pass_through)
{
#ifndef _WIN32
    cr_assert_str_eq(tn_err_name(-ECONNRESET), "ECONNRESET");
    cr_assert_str_eq(tn_err_name(-EPIPE), "EPIPE");
#endif
    cr_assert_str_eq(tn_err_name(0), "OK");
    cr_assert_not_null(tn_strerror(-12345));
    cr_assert_str_eq(tn_strerror(1), "unknown error");
}

Test(common, version)
{
    cr_assert_str_eq(tn_version_string(), TN_VERSION_STRING);
}

static size_t counted_mallocs;
static void *counting_malloc(size_t n)
{
    counted_mallocs++;
    return malloc(n);
}

Test(common, replaceable_allocator)
{
    cr_assert_eq(tn_replace_allocator(NULL, realloc, calloc, free), TN_EINVAL);
    cr_assert_eq(tn_replace_allocator(counting_malloc, realloc, calloc, free), 0);
    char *p = tn_strndup("abc\0def", 7);
    cr_assert_not_null(p);
    cr_assert_eq(memcmp(p, "abc\0def", 8), 0);
    cr_assert_eq(counted_mallocs, 1);
    tn_free(p);
    cr_assert_null(tn_realloc(tn_malloc(4), 0));
    cr_assert_eq(counted_mallocs, 2);
    tn_replace_allocator(malloc, realloc, calloc, free);
}

static int logged_level;
static char logged[64];
static void capture(int level, const char *msg, void *arg)
{
    logged_level = level;
    strncpy(logged, msg, sizeof(logged) - 1);
    *(int *)arg += 1;
}

Test(common, log_hook_and_threshold)
{
    int calls = 0;
    tn_log_set_handler(capture, &calls);
    tn_log_set_level(TN_LOG_INFO);
    tn_log(TN_LOG_DEBUG, "hidden %d", 1);
    cr_assert_eq(calls, 0);
    tn_log(TN_LOG_WARN, "shown %d", 2);
    cr_assert_eq(calls, 1);
    cr_assert_eq(logged_level, TN_LOG_WARN);
    cr_assert_str_eq(logged, "shown 2");
    tn_log_set_handler(NULL, NULL);
}
