/* wincrit runner (see criterion/criterion.h): main() for the Windows test
 * programs.
 *
 *   test_x.exe               runs every test, each in a child process
 *   test_x.exe --run S::N    runs test N of suite S in this process
 *   test_x.exe --list        prints the tests
 * Other arguments (ctest passes --jobs=1, as Criterion takes) are ignored.
 *
 * One process per test keeps Criterion's isolation: a test that crashes,
 * leaks state or hangs only fails itself, and a hang is ended by
 * TerminateProcess when the test's timeout (or a 300 s default) passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "criterion/criterion.h"

#define TN_WC_DEFAULT_TIMEOUT_S 300.0

static struct tn_wc_test *tests;
static struct tn_wc_suite *suites;
static size_t ntests;

/* In the child: where a fatal assertion returns to, and which thread may
 * use it (a fatal failure on another thread ends the process instead). */
static jmp_buf test_jmp;
static DWORD test_thread;
static int test_failed;

void tn_wc_register_test(struct tn_wc_test *t)
{
    t->next = tests;
    tests = t;
    ntests++;
}

void tn_wc_register_suite(struct tn_wc_suite *s)
{
    s->next = suites;
    suites = s;
}

static void vreport(const char *file, int line, const char *what, const char *fmt, va_list ap)
{
    fprintf(stderr, "[FAIL] %s:%d: %s", file, line, what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
}

void tn_wc_fail(int fatal, const char *file, int line, const char *expr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(file, line, expr, fmt, ap);
    va_end(ap);
    test_failed = 1;
    if (!fatal)
        return;
    if (GetCurrentThreadId() == test_thread)
        longjmp(test_jmp, 1);
    fprintf(stderr, "[FAIL] fatal assertion outside the test's thread: ending the test\n");
    fflush(stderr);
    ExitProcess(1);
}

void tn_wc_log(const char *level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%s] ", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void tn_wc_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[SKIP]");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    ExitProcess(0);
}

static const struct tn_wc_opts *suite_opts(const char *name)
{
    for (struct tn_wc_suite *s = suites; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return &s->opts;
    return NULL;
}

/* Test options override suite options, as in Criterion. */
static struct tn_wc_opts effective(const struct tn_wc_test *t)
{
    struct tn_wc_opts o = t->opts;
    const struct tn_wc_opts *s = suite_opts(t->suite);
    if (s) {
        if (!o.init)
            o.init = s->init;
        if (!o.fini)
            o.fini = s->fini;
        if (o.timeout <= 0)
            o.timeout = s->timeout;
        if (s->disabled)
            o.disabled = 1;
    }
    if (o.timeout <= 0)
        o.timeout = TN_WC_DEFAULT_TIMEOUT_S;
    return o;
}

static int by_source_order(const void *a, const void *b)
{
    const struct tn_wc_test *x = *(struct tn_wc_test *const *)a;
    const struct tn_wc_test *y = *(struct tn_wc_test *const *)b;
    int c = strcmp(x->file, y->file);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int run_here(struct tn_wc_test *t)
{
    struct tn_wc_opts o = effective(t);
    test_thread = GetCurrentThreadId();
    test_failed = 0;
    if (setjmp(test_jmp) == 0) {
        if (o.init)
            o.init();
        t->fn();
    }
    if (o.fini)
        o.fini();
    fflush(stdout);
    fflush(stderr);
    return test_failed ? 1 : 0;
}

/* 1: passed, 0: failed. */
static int run_child(const char *self, struct tn_wc_test *t)
{
    struct tn_wc_opts o = effective(t);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "\"%s\" --run %s::%s", self, t->suite, t->name);
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        fprintf(stderr, "[FAIL] %s::%s: cannot start (error %lu)\n", t->suite, t->name,
                (unsigned long)GetLastError());
        return 0;
    }
    DWORD ms = (DWORD)(o.timeout * 1000.0);
    DWORD code = 1;
    if (WaitForSingleObject(pi.hProcess, ms) == WAIT_TIMEOUT) {
        TerminateProcess(pi.hProcess, 124);
        WaitForSingleObject(pi.hProcess, INFINITE);
        fprintf(stderr, "[FAIL] %s::%s: timed out after %.0f s\n", t->suite, t->name, o.timeout);
    } else {
        GetExitCodeProcess(pi.hProcess, &code);
        if (code != 0)
            fprintf(stderr, "[FAIL] %s::%s (exit code %lu)\n", t->suite, t->name,
                    (unsigned long)code);
    }
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    fflush(stderr);
    return code == 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    /* No "program stopped working" dialogs: a crash is just a failed test. */
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
    struct tn_wc_test **list = calloc(ntests ? ntests : 1, sizeof(*list));
    if (list == NULL)
        return 2;
    size_t n = 0;
    for (struct tn_wc_test *t = tests; t; t = t->next)
        list[n++] = t;
    qsort(list, n, sizeof(*list), by_source_order);

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            for (size_t k = 0; k < n; k++)
                printf("%s::%s\n", list[k]->suite, list[k]->name);
            return 0;
        }
        if (strcmp(argv[i], "--run") == 0 && i + 1 < argc) {
            for (size_t k = 0; k < n; k++) {
                char full[512];
                snprintf(full, sizeof(full), "%s::%s", list[k]->suite, list[k]->name);
                if (strcmp(full, argv[i + 1]) == 0)
                    return run_here(list[k]);
            }
            fprintf(stderr, "no test %s\n", argv[i + 1]);
            return 2;
        }
    }

    char self[MAX_PATH];
    DWORD len = GetModuleFileNameA(NULL, self, sizeof(self));
    if (len == 0 || len >= sizeof(self))
        return 2;
    unsigned passed = 0, failed = 0, skipped = 0;
    for (size_t k = 0; k < n; k++) {
        struct tn_wc_opts o = effective(list[k]);
        if (o.disabled) {
            skipped++;
            continue;
        }
        if (run_child(self, list[k]))
            passed++;
        else
            failed++;
    }
    printf("%u passed, %u failed", passed, failed);
    if (skipped)
        printf(", %u disabled", skipped);
    printf("\n");
    free(list);
    return failed == 0 && passed > 0 ? 0 : 1;
}
