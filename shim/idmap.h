/* A map from 64-bit keys (timeout ids, socket numbers) to non-NULL pointers:
 * open addressing with linear probing and backward-shift deletion, so lookups
 * stay short without tombstones however many ids come and go. */
#ifndef TN_SHIM_IDMAP_H
#define TN_SHIM_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key;
    void *value; /* NULL marks an empty slot */
} tn__idmap_slot_t;

typedef struct {
    tn__idmap_slot_t *slots;
    size_t mask; /* capacity - 1; capacity is a power of two (0 before first put) */
    size_t count;
} tn__idmap_t;

void tn__idmap_init(tn__idmap_t *map);
void tn__idmap_free(tn__idmap_t *map);
void *tn__idmap_get(const tn__idmap_t *map, uint64_t key);
/* Inserts or replaces; value must be non-NULL. Returns 0 or TN_ENOMEM. */
int tn__idmap_put(tn__idmap_t *map, uint64_t key, void *value);
/* Removes key; returns its value or NULL if absent. */
void *tn__idmap_del(tn__idmap_t *map, uint64_t key);

#endif /* TN_SHIM_IDMAP_H */
