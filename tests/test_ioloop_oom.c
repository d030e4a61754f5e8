/* The IOLoop under allocation failure (FAULTS.md F17 pattern, with the
 * injector of tornuv/testing.h): the N-th allocation fails for N = 1, 2,
 * 3, ... over a whole scripted session; every
 * call reports TN_ENOMEM (or 0 ids) cleanly, nothing crashes or leaks, and
 * the loop still closes with 0. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "loop_util.h"
#include "sockpair.h"
#include "tornuv.h"

TestSuite(ioloop_oom, .timeout = 60);

static void on_cb(tn_ioloop_t *loop, void *arg)
{
    (*(int *)arg)++;
}

static void on_stop(tn_ioloop_t *loop, void *arg)
{
    tn_ioloop_stop(loop);
}

static void on_handler(tn_ioloop_t *loop, tn_socket_t fd, int events, void *arg)
{
    tn_ioloop_remove_handler(loop, fd);
}

static void on_tick(tn_periodic_t *p, void *arg)
{
    tn_periodic_stop(p);
}

static void work(void *arg)
{
}

static void work_done(tn_ioloop_t *loop, int status, void *arg)
{
}

/* Returns the number of allocations the session made. */
static long session(long fail_at)
{
    long before = tn_testing_alloc_count();
    tn_testing_fail_alloc_after(fail_at);
    tn_ioloop_t *loop = NULL;
    int err = tn_ioloop_new(&loop);
    if (err != 0) {
        cr_assert_eq(err, TN_ENOMEM);
        tn_testing_fail_alloc_after(-1);
        return tn_testing_alloc_count() - before;
    }
    int ran = 0, expected = 0;
    for (int i = 0; i < 20; i++) {
        err = tn_ioloop_add_callback(loop, on_cb, &ran);
        cr_assert(err == 0 || err == TN_ENOMEM);
        expected += err == 0;
    }
    /* Enough timeouts to grow the id map more than once. */
    for (int i = 0; i < 40; i++) {
        tn_timeout_id id = tn_ioloop_call_later(loop, (uint64_t)(i % 3), on_cb, &ran);
        expected += id != 0;
    }
    tn_socket_t sv[2];
    tn_test_socketpair(sv);
    tn_test_send(sv[1], "x", 1);
    err = tn_ioloop_add_handler(loop, sv[0], TN_READ, on_handler, NULL);
    cr_assert(err == 0 || err == TN_ENOMEM);
    tn_periodic_t *p = NULL;
    if (tn_periodic_new(loop, 1, on_tick, NULL, &p) == 0)
        tn_periodic_start(p);
    err = tn_ioloop_run_in_executor(loop, work, work_done, NULL);
    cr_assert(err == 0 || err == TN_ENOMEM);
    /* Stopping needs a timeout; if its allocation fails, retry without the
     * injected failure so the session still ends. */
    if (tn_ioloop_call_later(loop, 20, on_stop, NULL) == 0) {
        tn_testing_fail_alloc_after(-1);
        cr_assert_neq(tn_ioloop_call_later(loop, 20, on_stop, NULL), 0);
    }
    cr_assert_eq(tn_ioloop_start(loop), 0);
    cr_assert_eq(ran, expected, "every accepted callback and timeout ran once");
    if (p != NULL)
        tn_periodic_free(p);
    tn_ioloop_remove_handler(loop, sv[0]); /* we close the sockets ourselves */
    cr_assert_eq(tn_ioloop_close(loop, TN_CLOSE_ALL_FDS), 0);
    tn_test_closesocket(sv[0]);
    tn_test_closesocket(sv[1]);
    tn_testing_fail_alloc_after(-1);
    return tn_testing_alloc_count() - before;
}

Test(ioloop_oom, every_allocation_failure_is_clean)
{
    long total = session(-1);
    long live = tn_testing_live_allocations();
    cr_assert_gt(total, 50);
    for (long n = 0; n < total; n++) {
        session(n);
        cr_assert_eq(tn_testing_live_allocations(), live, "failing allocation %ld leaked", n);
    }
}
