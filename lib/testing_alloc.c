/* Allocation-failure injection (see testing.h): a counting allocator over
 * the C library's, installed on first use. Counters are atomic because the
 * thread pool allocates too. */
#include <stdatomic.h>
#include <stdlib.h>

#include "tornuv/testing.h"

static atomic_long countdown = -1; /* fail when it reaches 0; < 0 never */
static atomic_long attempts;
static atomic_long live;
static atomic_int failed;
static atomic_int installed;
static atomic_int paused;

static int should_fail(void)
{
    atomic_fetch_add(&attempts, 1);
    if (atomic_load(&paused))
        return 0;
    long c = atomic_load(&countdown);
    while (c >= 0) {
        if (atomic_compare_exchange_weak(&countdown, &c, c - 1)) {
            if (c == 0) {
                atomic_store(&failed, 1);
                return 1;
            }
            return 0;
        }
    }
    return 0;
}

static void *c_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    void *p = malloc(n);
    if (p != NULL)
        atomic_fetch_add(&live, 1);
    return p;
}

static void *c_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    void *q = realloc(p, n);
    if (q != NULL && p == NULL)
        atomic_fetch_add(&live, 1);
    return q;
}

static void *c_calloc(size_t c, size_t n)
{
    if (should_fail())
        return NULL;
    void *p = calloc(c, n);
    if (p != NULL)
        atomic_fetch_add(&live, 1);
    return p;
}

static void c_free(void *p)
{
    if (p != NULL)
        atomic_fetch_sub(&live, 1);
    free(p);
}

void tn_testing_fail_alloc_after(long n)
{
    if (!atomic_exchange(&installed, 1))
        tn_replace_allocator(c_malloc, c_realloc, c_calloc, c_free);
    atomic_store(&failed, 0);
    atomic_store(&countdown, n < 0 ? -1 : n);
}

void tn_testing_alloc_pause(int on)
{
    atomic_store(&paused, on != 0);
}

int tn_testing_alloc_failed(void)
{
    return atomic_load(&failed);
}

long tn_testing_alloc_count(void)
{
    return atomic_load(&attempts);
}

long tn_testing_live_allocations(void)
{
    return atomic_load(&live);
}
