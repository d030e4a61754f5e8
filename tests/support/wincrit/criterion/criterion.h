/* wincrit: the subset of Criterion's API that tornuv's tests use, for the
 * Windows (mingw-w64) build, where Criterion itself cannot be built.
 *
 * On Linux the tests include the real <criterion/criterion.h>; on Windows
 * tests/CMakeLists.txt puts this directory first on the include path and
 * links tests/support/wincrit/wincrit.c, which provides main().
 *
 * Supported: Test(suite, name, .init/.fini/.timeout/.disabled),
 * TestSuite(suite, same options), cr_assert / cr_expect and their _not, _eq,
 * _neq, _lt, _leq, _gt, _geq, _null, _not_null, _str_eq, _str_neq forms
 * with an optional printf-style message, cr_log_info/warn/error,
 * cr_skip_test. As in Criterion, each test runs in its own process (the
 * runner starts itself once per test), a failed cr_assert ends the test, a
 * failed cr_expect marks it failed and continues, and a test that outlives
 * its timeout is killed and counted as failed. The runner prints one line
 * per failing test and a final "N passed, N failed", and exits non-zero if
 * anything failed. */
#ifndef TN_WINCRIT_CRITERION_H
#define TN_WINCRIT_CRITERION_H

#include <stddef.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Options of Test() and TestSuite(). The first member only gives the
 * designated initializers something to follow, so an empty option list
 * still expands to a valid initializer. */
struct tn_wc_opts {
    int unused_;
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    int disabled;
    const char *description;
};

struct tn_wc_test {
    const char *suite;
    const char *name;
    void (*fn)(void);
    const char *file;
    int line;
    struct tn_wc_opts opts;
    struct tn_wc_test *next;
};

struct tn_wc_suite {
    const char *name;
    struct tn_wc_opts opts;
    struct tn_wc_suite *next;
};

void tn_wc_register_test(struct tn_wc_test *t);
void tn_wc_register_suite(struct tn_wc_suite *s);
/* Reports a failed assertion; fatal ends the current test. */
void tn_wc_fail(int fatal, const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void tn_wc_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tn_wc_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define Test(suite, name, ...)                                                                     \
    static void tn_wc_fn_##suite##_##name(void);                                                   \
    __attribute__((constructor)) static void tn_wc_reg_##suite##_##name(void)                      \
    {                                                                                              \
        static struct tn_wc_test t = {#suite,   #name,    tn_wc_fn_##suite##_##name,               \
                                      __FILE__, __LINE__, {.unused_ = 0, __VA_ARGS__},             \
                                      NULL};                                                       \
        tn_wc_register_test(&t);                                                                   \
    }                                                                                              \
    static void tn_wc_fn_##suite##_##name(void)

#define TestSuite(suite, ...)                                                                      \
    __attribute__((constructor)) static void tn_wc_suite_##suite(void)                             \
    {                                                                                              \
        static struct tn_wc_suite s = {#suite, {.unused_ = 0, __VA_ARGS__}, NULL};                 \
        tn_wc_register_suite(&s);                                                                  \
    }                                                                                              \
    struct tn_wc_suite_unused_##suite

/* The message argument is optional; " " __VA_ARGS__ turns an absent one
 * into a one-space format and a present literal into " <format>". */
#define TN_WC_CHECK(fatal, cond, text, ...)                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            tn_wc_fail(fatal, __FILE__, __LINE__, text, " " __VA_ARGS__);                          \
    } while (0)

#define cr_assert(cond, ...) TN_WC_CHECK(1, cond, #cond, __VA_ARGS__)
#define cr_assert_not(cond, ...) TN_WC_CHECK(1, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) TN_WC_CHECK(1, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) TN_WC_CHECK(1, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) TN_WC_CHECK(1, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) TN_WC_CHECK(1, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) TN_WC_CHECK(1, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) TN_WC_CHECK(1, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...) TN_WC_CHECK(1, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) TN_WC_CHECK(1, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_fail(...) TN_WC_CHECK(1, 0, "assertion failed", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                                                \
    TN_WC_CHECK(1, strcmp((a), (b)) == 0, #a " equals " #b, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...)                                                               \
    TN_WC_CHECK(1, strcmp((a), (b)) != 0, #a " differs from " #b, __VA_ARGS__)

#define cr_expect(cond, ...) TN_WC_CHECK(0, cond, #cond, __VA_ARGS__)
#define cr_expect_not(cond, ...) TN_WC_CHECK(0, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_expect_eq(a, b, ...) TN_WC_CHECK(0, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...) TN_WC_CHECK(0, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...) TN_WC_CHECK(0, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...) TN_WC_CHECK(0, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...) TN_WC_CHECK(0, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...) TN_WC_CHECK(0, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_expect_null(p, ...) TN_WC_CHECK(0, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...) TN_WC_CHECK(0, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...)                                                                \
    TN_WC_CHECK(0, strcmp((a), (b)) == 0, #a " equals " #b, __VA_ARGS__)
#define cr_expect_str_neq(a, b, ...)                                                               \
    TN_WC_CHECK(0, strcmp((a), (b)) != 0, #a " differs from " #b, __VA_ARGS__)

#define cr_log_info(...) tn_wc_log("INFO", __VA_ARGS__)
#define cr_log_warn(...) tn_wc_log("WARN", __VA_ARGS__)
#define cr_log_error(...) tn_wc_log("ERROR", __VA_ARGS__)
#define cr_skip_test(...) tn_wc_skip(" " __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif /* TN_WINCRIT_CRITERION_H */
