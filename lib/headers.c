/* tn_headers_t: the case-insensitive multimap of HTTP header lines. */
#include <string.h>

#include "multimap.h"

struct tn_headers_s {
    tn__mm_t map;
};

int tn_headers_new(tn_headers_t **out)
{
    tn_headers_t *h = tn_malloc(sizeof(*h));
    if (h == NULL)
        return TN_ENOMEM;
    tn__mm_init(&h->map, 1);
    *out = h;
    return 0;
}

void tn_headers_free(tn_headers_t *h)
{
    if (h == NULL)
        return;
    tn__mm_destroy(&h->map);
    tn_free(h);
}

void tn_headers_clear(tn_headers_t *h)
{
    tn__mm_clear(&h->map);
}

int tn_headers_add(tn_headers_t *h, const char *name, size_t name_len, const char *value,
                   size_t value_len)
{
    if (name_len == 0)
        return TN_EINVAL;
    return tn__mm_add(&h->map, name, name_len, value, value_len);
}

int tn_headers_set(tn_headers_t *h, const char *name, size_t name_len, const char *value,
                   size_t value_len)
{
    if (name_len == 0)
        return TN_EINVAL;
    return tn__mm_set(&h->map, name, name_len, value, value_len);
}

const char *tn_headers_get(const tn_headers_t *h, const char *name, size_t *value_len)
{
    return tn__mm_get(&h->map, name, value_len);
}

size_t tn_headers_get_all(const tn_headers_t *h, const char *name, tn_strview_t *out, size_t max)
{
    return tn__mm_get_all(&h->map, name, out, max);
}

int tn_headers_get_combined(const tn_headers_t *h, const char *name, char **out, size_t *out_len)
{
    const tn__mm_t *m = &h->map;
    size_t len = strlen(name), total = 0, found = 0;
    for (int pass = 0; pass < 2; pass++) {
        char *p = NULL;
        if (pass == 1) {
            if (found == 0)
                return TN_ENOTFOUND;
            p = *out = tn_malloc(total + 1);
            if (p == NULL)
                return TN_ENOMEM;
        }
        found = 0;
        for (size_t i = 0; i < m->count; i++) {
            const tn__mm_entry_t *e = &m->entries[i];
            if (e->name_len != len || tn__ascii_casecmp_n(m->arena + e->name_off, name, len) != 0)
                continue;
            if (pass == 0) {
                total += e->value_len + (found ? 2 : 0);
            } else {
                if (found) {
                    memcpy(p, ", ", 2);
                    p += 2;
                }
                memcpy(p, m->arena + e->value_off, e->value_len);
                p += e->value_len;
            }
            found++;
        }
        if (pass == 1)
            *p = '\0';
    }
    if (out_len != NULL)
        *out_len = total;
    return 0;
}

size_t tn_headers_remove(tn_headers_t *h, const char *name)
{
    return tn__mm_remove(&h->map, name);
}

size_t tn_headers_count(const tn_headers_t *h)
{
    return h->map.count;
}

int tn_headers_at(const tn_headers_t *h, size_t i, tn_strview_t *name, tn_strview_t *value)
{
    return tn__mm_at(&h->map, i, name, value);
}
