/* Per-loop pools of recycled buffers by size class (see pool.h for why).
 *
 * Spare buffers are kept in one singly linked list per class, the link
 * stored in the buffer's own first bytes, so keeping a buffer costs no
 * memory and a get or a put is a few instructions. */
#include "pool.h"

#include <string.h>

#include "tornuv/common.h"

static int class_of(size_t size)
{
    size_t c = (size_t)1 << TN__POOL_MIN_SHIFT;
    for (int i = 0; i < TN__POOL_CLASSES; i++, c <<= 1)
        if (size <= c)
            return i;
    return -1;
}

static size_t class_size(int i)
{
    return (size_t)1 << (TN__POOL_MIN_SHIFT + i);
}

size_t tn__pool_capacity(size_t size)
{
    int i = class_of(size);
    return i < 0 ? size : class_size(i);
}

void tn__pool_init(tn__pool_t *pool)
{
    memset(pool, 0, sizeof *pool);
    pool->trim_ms = TN__POOL_TRIM_MS;
}

static void *pop(tn__pool_t *pool, int i)
{
    void *b = pool->free[i];
    if (b == NULL)
        return NULL;
    memcpy(&pool->free[i], b, sizeof(void *));
    pool->count[i]--;
    if (pool->count[i] < pool->low[i])
        pool->low[i] = pool->count[i];
    pool->spare_bytes -= class_size(i);
    return b;
}

void *tn__pool_get(tn_ioloop_t *loop, size_t size, size_t *cap)
{
    int i = class_of(size);
    if (i < 0) {
        *cap = size;
        return tn_malloc(size);
    }
    tn__pool_t *pool = loop ? tn__loop_pool(loop) : NULL;
    void *b = pool ? pop(pool, i) : NULL;
    if (b == NULL)
        b = tn_malloc(class_size(i));
    if (b != NULL)
        *cap = class_size(i);
    return b;
}

void tn__pool_put(tn_ioloop_t *loop, void *buf, size_t cap)
{
    if (buf == NULL)
        return;
    int i = class_of(cap);
    tn__pool_t *pool = loop && i >= 0 && class_size(i) == cap ? tn__loop_pool(loop) : NULL;
    if (pool == NULL || pool->count[i] >= TN__POOL_MAX_SPARE_COUNT ||
        pool->spare_bytes + cap > TN__POOL_MAX_SPARE_BYTES) {
        tn_free(buf);
        return;
    }
    memcpy(buf, &pool->free[i], sizeof(void *));
    pool->free[i] = buf;
    pool->count[i]++;
    pool->spare_bytes += cap;
    if (!pool->timer_armed) {
        /* A new interval starts with what is spare now. */
        for (int k = 0; k < TN__POOL_CLASSES; k++)
            pool->low[k] = pool->count[k];
        tn__loop_pool_arm(loop);
    }
}

void tn__pool_drain(tn__pool_t *pool)
{
    for (int i = 0; i < TN__POOL_CLASSES; i++) {
        void *b;
        while ((b = pop(pool, i)) != NULL)
            tn_free(b);
        pool->low[i] = 0;
    }
}

size_t tn__pool_trim(tn__pool_t *pool)
{
    size_t left = 0;
    for (int i = 0; i < TN__POOL_CLASSES; i++) {
        /* low[i] buffers sat unused through the whole interval: not needed. */
        for (uint32_t n = pool->low[i]; n > 0; n--)
            tn_free(pop(pool, i));
        pool->low[i] = pool->count[i];
        left += pool->count[i];
    }
    return left;
}

size_t tn__pool_spare(tn_ioloop_t *loop, size_t *bytes)
{
    tn__pool_t *pool = tn__loop_pool(loop);
    size_t n = 0;
    if (pool)
        for (int i = 0; i < TN__POOL_CLASSES; i++)
            n += pool->count[i];
    if (bytes)
        *bytes = pool ? pool->spare_bytes : 0;
    return n;
}

void tn__pool_set_trim_ms(tn_ioloop_t *loop, uint64_t ms)
{
    tn__pool_t *pool = tn__loop_pool(loop);
    if (pool && ms > 0)
        pool->trim_ms = ms;
}
