/* Internal: the ordered multimap behind tn_headers_t (case-insensitive
 * names) and tn_args_t (case-sensitive). Strings live NUL-terminated in one
 * arena; entries hold offsets, so growing the arena moves nothing the
 * entries refer to. Removal compacts the entry array; arena space is
 * reclaimed by clear. */
#ifndef TN_LIB_MULTIMAP_H
#define TN_LIB_MULTIMAP_H

#include <stddef.h>
#include <stdint.h>

#include "tornuv/httputil.h"

typedef struct {
    size_t name_off, name_len;
    size_t value_off, value_len;
    uint32_t hash;
} tn__mm_entry_t;

typedef struct {
    char *arena;
    size_t used, cap;
    tn__mm_entry_t *entries;
    size_t count, entries_cap;
    int fold_case;
} tn__mm_t;

void tn__mm_init(tn__mm_t *m, int fold_case);
void tn__mm_destroy(tn__mm_t *m);
void tn__mm_clear(tn__mm_t *m);
int tn__mm_add(tn__mm_t *m, const char *name, size_t name_len, const char *value, size_t value_len);
/* Appends an entry whose name and value are produced in place: reserves
 * name_len + value_len + 2 arena bytes and returns pointers to fill. The
 * value length may then be shortened with tn__mm_shrink_last (decoding). */
int tn__mm_add_raw(tn__mm_t *m, size_t name_len, size_t value_len, char **name, char **value);
void tn__mm_finish_last(tn__mm_t *m, size_t name_len, size_t value_len);
int tn__mm_set(tn__mm_t *m, const char *name, size_t name_len, const char *value, size_t value_len);
const char *tn__mm_get(const tn__mm_t *m, const char *name, size_t *value_len);
size_t tn__mm_get_all(const tn__mm_t *m, const char *name, tn_strview_t *out, size_t max);
size_t tn__mm_remove(tn__mm_t *m, const char *name);
int tn__mm_at(const tn__mm_t *m, size_t i, tn_strview_t *name, tn_strview_t *value);

/* ASCII-only case folding: locale-independent, and portable (strncasecmp is
 * POSIX, not C). */
static inline int tn__ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int tn__ascii_casecmp_n(const char *a, const char *b, size_t n);

#endif
