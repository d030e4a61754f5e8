/* tn_args_t: query-string and urlencoded-form arguments. */
#include <string.h>

#include "multimap.h"

struct tn_args_s {
    tn__mm_t map;
};

int tn_args_new(tn_args_t **out)
{
    tn_args_t *a = tn_malloc(sizeof(*a));
    if (a == NULL)
        return TN_ENOMEM;
    tn__mm_init(&a->map, 0);
    *out = a;
    return 0;
}

void tn_args_free(tn_args_t *a)
{
    if (a == NULL)
        return;
    tn__mm_destroy(&a->map);
    tn_free(a);
}

void tn_args_clear(tn_args_t *a)
{
    tn__mm_clear(&a->map);
}

int tn_args_add(tn_args_t *a, const char *name, size_t name_len, const char *value,
                size_t value_len)
{
    return tn__mm_add(&a->map, name, name_len, value, value_len);
}

/* Each pair is decoded straight into the arena: decoding never grows, so
 * reserving the raw lengths is enough and nothing is copied twice. */
static int add_pair(tn_args_t *a, const char *pair, size_t len)
{
    const char *eq = memchr(pair, '=', len);
    size_t name_len = eq ? (size_t)(eq - pair) : len;
    size_t value_len = eq ? len - name_len - 1 : 0;
    char *name, *value;
    int err = tn__mm_add_raw(&a->map, name_len, value_len, &name, &value);
    if (err != 0)
        return err;
    size_t n = tn_url_unescape(name, pair, name_len, 1);
    size_t v = eq ? tn_url_unescape(value, eq + 1, value_len, 1) : 0;
    tn__mm_finish_last(&a->map, n, v);
    return 0;
}

int tn_args_parse_query(tn_args_t *a, const char *qs, size_t len, size_t max_args)
{
    size_t limit = max_args ? max_args : TN_ARGS_DEFAULT_MAX;
    size_t added = 0, start = 0;
    while (start < len) {
        const char *amp = memchr(qs + start, '&', len - start);
        size_t end = amp ? (size_t)(amp - qs) : len;
        if (end > start) {
            if (++added > limit)
                return TN_ETOOLARGE;
            int err = add_pair(a, qs + start, end - start);
            if (err != 0)
                return err;
        }
        start = end + 1;
    }
    return 0;
}

const char *tn_args_get(const tn_args_t *a, const char *name, size_t *value_len)
{
    return tn__mm_get(&a->map, name, value_len);
}

size_t tn_args_get_all(const tn_args_t *a, const char *name, tn_strview_t *out, size_t max)
{
    return tn__mm_get_all(&a->map, name, out, max);
}

size_t tn_args_count(const tn_args_t *a)
{
    return a->map.count;
}

int tn_args_at(const tn_args_t *a, size_t i, tn_strview_t *name, tn_strview_t *value)
{
    return tn__mm_at(&a->map, i, name, value);
}
