/* Loop test helpers (see loop_util.h). */
#include "loop_util.h"

#include <criterion/criterion.h>
#include <uv.h>

tn_ioloop_t *tn_test_loop_new(void)
{
    tn_ioloop_t *loop = NULL;
    cr_assert_eq(tn_ioloop_new(&loop), 0);
    cr_assert_not_null(loop);
    return loop;
}

static void on_watchdog(tn_ioloop_t *loop, void *arg)
{
    *(int *)arg = 1;
    tn_ioloop_stop(loop);
}

void tn_test_run(tn_ioloop_t *loop, uint64_t timeout_ms)
{
    int fired = 0;
    tn_timeout_id dog = tn_ioloop_call_later(loop, timeout_ms, on_watchdog, &fired);
    cr_assert_neq(dog, 0);
    cr_assert_eq(tn_ioloop_start(loop), 0);
    tn_ioloop_remove_timeout(loop, dog);
    cr_assert_eq(fired, 0, "watchdog: the loop ran longer than %llu ms",
                 (unsigned long long)timeout_ms);
}

void tn_test_close(tn_ioloop_t *loop, int flags)
{
    cr_assert_eq(tn_ioloop_close(loop, flags), 0, "tn_ioloop_close: %zu objects alive",
                 tn_ioloop_alive_count(loop));
}

double tn_test_now_ms(void)
{
    return (double)uv_hrtime() / 1e6;
}

void tn_test_sleep_ms(unsigned ms)
{
    uv_sleep(ms);
}
