/* Open-addressing id map (see idmap.h). */
#include "idmap.h"

#include "tornuv/common.h"

static size_t slot_of(uint64_t key, size_t mask)
{
    /* Timeout ids are sequential and fds are small: mix the bits so they
     * spread over the table (splitmix64 finaliser). */
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    key ^= key >> 31;
    return (size_t)key & mask;
}

void tn__idmap_init(tn__idmap_t *map)
{
    map->slots = NULL;
    map->mask = 0;
    map->count = 0;
}

void tn__idmap_free(tn__idmap_t *map)
{
    tn_free(map->slots);
    tn__idmap_init(map);
}

void *tn__idmap_get(const tn__idmap_t *map, uint64_t key)
{
    if (map->slots == NULL)
        return NULL;
    for (size_t i = slot_of(key, map->mask);; i = (i + 1) & map->mask) {
        if (map->slots[i].value == NULL)
            return NULL;
        if (map->slots[i].key == key)
            return map->slots[i].value;
    }
}

static void insert_slot(tn__idmap_slot_t *slots, size_t mask, uint64_t key, void *value)
{
    size_t i = slot_of(key, mask);
    while (slots[i].value != NULL && slots[i].key != key)
        i = (i + 1) & mask;
    slots[i].key = key;
    slots[i].value = value;
}

static int grow(tn__idmap_t *map)
{
    size_t cap = map->slots == NULL ? 16 : (map->mask + 1) * 2;
    tn__idmap_slot_t *slots = tn_calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return TN_ENOMEM;
    if (map->slots != NULL) {
        for (size_t i = 0; i <= map->mask; i++) {
            if (map->slots[i].value != NULL)
                insert_slot(slots, cap - 1, map->slots[i].key, map->slots[i].value);
        }
        tn_free(map->slots);
    }
    map->slots = slots;
    map->mask = cap - 1;
    return 0;
}

int tn__idmap_put(tn__idmap_t *map, uint64_t key, void *value)
{
    /* Keep the load factor under 1/2 so probe runs stay short. */
    if (map->slots == NULL || (map->count + 1) * 2 > map->mask + 1) {
        int err = grow(map);
        if (err != 0)
            return err;
    }
    size_t i = slot_of(key, map->mask);
    while (map->slots[i].value != NULL && map->slots[i].key != key)
        i = (i + 1) & map->mask;
    if (map->slots[i].value == NULL)
        map->count++;
    map->slots[i].key = key;
    map->slots[i].value = value;
    return 0;
}

void *tn__idmap_del(tn__idmap_t *map, uint64_t key)
{
    if (map->slots == NULL)
        return NULL;
    size_t mask = map->mask;
    size_t i = slot_of(key, mask);
    while (map->slots[i].value != NULL && map->slots[i].key != key)
        i = (i + 1) & mask;
    void *value = map->slots[i].value;
    if (value == NULL)
        return NULL;
    /* Backward shift: pull later members of the probe run into the hole when
     * their home slot does not lie (cyclically) between the hole and them. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; map->slots[j].value != NULL; j = (j + 1) & mask) {
        size_t home = slot_of(map->slots[j].key, mask);
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            map->slots[hole] = map->slots[j];
            hole = j;
        }
    }
    map->slots[hole].value = NULL;
    map->count--;
    return value;
}
