/* Internal: per-loop pools of recycled buffers, by size class.
 *
 * A busy server allocates and frees the same few buffer sizes over and over
 * (a stream's 64 KiB read buffer whenever a request arrives on an idle
 * connection, a response head, a write copy...). Freeing them as soon as
 * they are empty keeps idle memory low, but makes glibc trim its heap when
 * load pauses and grow it again at once: one brk per few requests, and
 * throughput that varies twofold from run to run. A library may not change
 * its host's allocator settings (no mallopt), so tornuv recycles instead, as
 * h2o's recycling allocator and nginx's free buffer chains do:
 *
 *   - tn__pool_get(loop, size, &cap) hands out a buffer of the smallest size
 *     class that holds size (512 B, 1 KiB, ... 64 KiB); larger sizes are
 *     allocated as asked. tn__pool_put(loop, buf, cap) gives it back.
 *   - Spare buffers wait in the loop's pool, bounded per class and in total
 *     (TN__POOL_MAX_SPARE_BYTES); past the bound a put frees.
 *   - A timer of the loop trims the pool: every interval it frees the
 *     buffers of each class that were not needed during the whole interval
 *     (the class's low-water mark), so a steady load keeps exactly what it
 *     reuses and an idle process holds nothing after two intervals. The timer
 *     never keeps the loop alive and runs only while the pool holds spares.
 *
 * Buffers are allocated with tn_malloc, so tn_replace_allocator's OOM
 * injection reaches them; tn__pool_get returns NULL when the allocator
 * fails. A pooled buffer may be grown with tn_realloc like any other (its
 * capacity then usually leaves the classes and a put frees it).
 *
 * Loop thread only. With loop NULL, or once the loop is tearing down, get
 * and put fall back to plain tn_malloc / tn_free. */
#ifndef TN_LIB_POOL_H
#define TN_LIB_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "tornuv/ioloop.h"

#define TN__POOL_MIN_SHIFT 9 /* 512 B */
#define TN__POOL_CLASSES 8   /* 512 B .. 64 KiB */
#define TN__POOL_MAX_SIZE ((size_t)1 << (TN__POOL_MIN_SHIFT + TN__POOL_CLASSES - 1))
/* Spare memory one loop keeps at most, all classes together, and spare
 * buffers per class. */
#define TN__POOL_MAX_SPARE_BYTES ((size_t)8 << 20)
#define TN__POOL_MAX_SPARE_COUNT 256u
#define TN__POOL_TRIM_MS 1000

typedef struct tn__pool_s {
    void *free[TN__POOL_CLASSES]; /* spare buffers, linked through their first bytes */
    uint32_t count[TN__POOL_CLASSES];
    uint32_t low[TN__POOL_CLASSES]; /* fewest spares since the last trim */
    size_t spare_bytes;
    uint64_t trim_ms;
    int timer_armed;
} tn__pool_t;

/** A buffer of at least size bytes (size > 0): a pooled one of the size
 * class's capacity, or a fresh tn_malloc. *cap receives the capacity to use
 * and to give back to tn__pool_put. NULL when out of memory. */
void *tn__pool_get(tn_ioloop_t *loop, size_t size, size_t *cap);

/** Gives buf (capacity cap, as tn__pool_get reported it or as it was grown
 * to) back: kept if cap is exactly a class size and the bounds allow it,
 * else freed. buf may be NULL. */
void tn__pool_put(tn_ioloop_t *loop, void *buf, size_t cap);

/** Capacity tn__pool_get would hand out for size (size itself when larger
 * than every class). */
size_t tn__pool_capacity(size_t size);

/* ---- used by the loop (shim/) and by tests ---- */

/** Sets the pool up empty (trim interval TN__POOL_TRIM_MS). */
void tn__pool_init(tn__pool_t *pool);
/** Frees every spare buffer. */
void tn__pool_drain(tn__pool_t *pool);
/** One trim step (the timer's): frees each class's low-water count of
 * buffers and starts a new interval. Returns the spare buffers left. */
size_t tn__pool_trim(tn__pool_t *pool);
/** Spare buffers and their bytes, for tests and statistics. */
size_t tn__pool_spare(tn_ioloop_t *loop, size_t *bytes);
/** Changes the trim interval of loop's pool (tests: a short interval). */
void tn__pool_set_trim_ms(tn_ioloop_t *loop, uint64_t ms);

/* Implemented by the loop (shim/pool_timer.c). */
/** loop's pool, or NULL when the loop no longer accepts spares (tearing
 * down). */
tn__pool_t *tn__loop_pool(tn_ioloop_t *loop);
/** Starts the loop's unref'd trim timer (every pool->trim_ms) if it is not
 * running; it stops itself when a trim leaves nothing spare. */
void tn__loop_pool_arm(tn_ioloop_t *loop);

#endif
