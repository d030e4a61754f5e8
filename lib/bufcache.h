/* Internal: the per-thread cache of empty stream read buffers (iostream.c).
 * Emptied when the allocator is replaced, so no buffer outlives the
 * allocator that made it. */
#ifndef TN_LIB_BUFCACHE_H
#define TN_LIB_BUFCACHE_H

void tn__bufcache_drain(void);

#endif
