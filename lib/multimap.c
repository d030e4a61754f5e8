/* The ordered multimap shared by headers and arguments (see multimap.h). */
#include <string.h>

#include "multimap.h"

int tn__ascii_casecmp_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int d = tn__ascii_lower((unsigned char)a[i]) - tn__ascii_lower((unsigned char)b[i]);
        if (d != 0)
            return d;
    }
    return 0;
}

static uint32_t name_hash(const tn__mm_t *m, const char *name, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)name[i];
        h = (h ^ (uint32_t)(m->fold_case ? tn__ascii_lower(c) : c)) * 16777619u;
    }
    return h;
}

static int name_matches(const tn__mm_t *m, const tn__mm_entry_t *e, uint32_t hash, const char *name,
                        size_t len)
{
    if (e->hash != hash || e->name_len != len)
        return 0;
    const char *stored = m->arena + e->name_off;
    return m->fold_case ? tn__ascii_casecmp_n(stored, name, len) == 0
                        : memcmp(stored, name, len) == 0;
}

void tn__mm_init(tn__mm_t *m, int fold_case)
{
    memset(m, 0, sizeof(*m));
    m->fold_case = fold_case;
}

void tn__mm_destroy(tn__mm_t *m)
{
    tn_free(m->arena);
    tn_free(m->entries);
    tn__mm_init(m, m->fold_case);
}

void tn__mm_clear(tn__mm_t *m)
{
    m->used = 0;
    m->count = 0;
}

/* Grows capacity geometrically so n appends cost O(n) copies in total. */
static int reserve(tn__mm_t *m, size_t bytes)
{
    if (bytes > SIZE_MAX - m->used)
        return TN_ENOMEM;
    if (m->used + bytes > m->cap) {
        size_t cap = m->cap ? m->cap : 256;
        while (cap < m->used + bytes)
            cap = cap > SIZE_MAX / 2 ? m->used + bytes : cap * 2;
        char *arena = tn_realloc(m->arena, cap);
        if (arena == NULL)
            return TN_ENOMEM;
        m->arena = arena;
        m->cap = cap;
    }
    if (m->count == m->entries_cap) {
        size_t cap = m->entries_cap ? m->entries_cap * 2 : 16;
        tn__mm_entry_t *e = tn_realloc(m->entries, cap * sizeof(*e));
        if (e == NULL)
            return TN_ENOMEM;
        m->entries = e;
        m->entries_cap = cap;
    }
    return 0;
}

int tn__mm_add_raw(tn__mm_t *m, size_t name_len, size_t value_len, char **name, char **value)
{
    if (name_len > SIZE_MAX / 2 || value_len > SIZE_MAX / 2)
        return TN_ENOMEM;
    int err = reserve(m, name_len + value_len + 2);
    if (err != 0)
        return err;
    tn__mm_entry_t *e = &m->entries[m->count++];
    e->name_off = m->used;
    e->name_len = name_len;
    e->value_off = m->used + name_len + 1;
    e->value_len = value_len;
    *name = m->arena + e->name_off;
    *value = m->arena + e->value_off;
    m->used += name_len + value_len + 2;
    return 0;
}

void tn__mm_finish_last(tn__mm_t *m, size_t name_len, size_t value_len)
{
    tn__mm_entry_t *e = &m->entries[m->count - 1];
    e->name_len = name_len;
    e->value_len = value_len;
    m->arena[e->name_off + name_len] = '\0';
    m->arena[e->value_off + value_len] = '\0';
    e->hash = name_hash(m, m->arena + e->name_off, name_len);
}

int tn__mm_add(tn__mm_t *m, const char *name, size_t name_len, const char *value, size_t value_len)
{
    char *n, *v;
    int err = tn__mm_add_raw(m, name_len, value_len, &n, &v);
    if (err != 0)
        return err;
    if (name_len > 0)
        memcpy(n, name, name_len);
    if (value_len > 0)
        memcpy(v, value, value_len);
    tn__mm_finish_last(m, name_len, value_len);
    return 0;
}

int tn__mm_set(tn__mm_t *m, const char *name, size_t name_len, const char *value, size_t value_len)
{
    uint32_t hash = name_hash(m, name, name_len);
    size_t first = SIZE_MAX;
    for (size_t i = 0; i < m->count; i++)
        if (name_matches(m, &m->entries[i], hash, name, name_len)) {
            first = i;
            break;
        }
    int err = tn__mm_add(m, name, name_len, value, value_len);
    if (err != 0 || first == SIZE_MAX)
        return err;
    /* Move the new entry into the first match's slot and drop the rest, in
     * one compaction pass. */
    tn__mm_entry_t added = m->entries[--m->count];
    size_t out = 0;
    for (size_t i = 0; i < m->count; i++) {
        if (i == first)
            m->entries[out++] = added;
        else if (!name_matches(m, &m->entries[i], hash, name, name_len))
            m->entries[out++] = m->entries[i];
    }
    m->count = out;
    return 0;
}

const char *tn__mm_get(const tn__mm_t *m, const char *name, size_t *value_len)
{
    size_t len = strlen(name);
    uint32_t hash = name_hash(m, name, len);
    for (size_t i = 0; i < m->count; i++) {
        const tn__mm_entry_t *e = &m->entries[i];
        if (name_matches(m, e, hash, name, len)) {
            if (value_len != NULL)
                *value_len = e->value_len;
            return m->arena + e->value_off;
        }
    }
    return NULL;
}

size_t tn__mm_get_all(const tn__mm_t *m, const char *name, tn_strview_t *out, size_t max)
{
    size_t len = strlen(name), found = 0;
    uint32_t hash = name_hash(m, name, len);
    for (size_t i = 0; i < m->count; i++) {
        const tn__mm_entry_t *e = &m->entries[i];
        if (!name_matches(m, e, hash, name, len))
            continue;
        if (found < max) {
            out[found].base = m->arena + e->value_off;
            out[found].len = e->value_len;
        }
        found++;
    }
    return found;
}

size_t tn__mm_remove(tn__mm_t *m, const char *name)
{
    size_t len = strlen(name), out = 0;
    uint32_t hash = name_hash(m, name, len);
    for (size_t i = 0; i < m->count; i++)
        if (!name_matches(m, &m->entries[i], hash, name, len))
            m->entries[out++] = m->entries[i];
    size_t removed = m->count - out;
    m->count = out;
    return removed;
}

int tn__mm_at(const tn__mm_t *m, size_t i, tn_strview_t *name, tn_strview_t *value)
{
    if (i >= m->count)
        return TN_ENOTFOUND;
    const tn__mm_entry_t *e = &m->entries[i];
    if (name != NULL) {
        name->base = m->arena + e->name_off;
        name->len = e->name_len;
    }
    if (value != NULL) {
        value->base = m->arena + e->value_off;
        value->len = e->value_len;
    }
    return 0;
}
