/* The replaceable allocator every tornuv allocation goes through. */
#include <stdlib.h>
#include <string.h>

#include "tornuv/common.h"

static struct {
    tn_malloc_func malloc_func;
    tn_realloc_func realloc_func;
    tn_calloc_func calloc_func;
    tn_free_func free_func;
} allocator = {malloc, realloc, calloc, free};

int tn_replace_allocator(tn_malloc_func malloc_func, tn_realloc_func realloc_func,
                         tn_calloc_func calloc_func, tn_free_func free_func)
{
    if (malloc_func == NULL || realloc_func == NULL || calloc_func == NULL || free_func == NULL)
        return TN_EINVAL;
    allocator.malloc_func = malloc_func;
    allocator.realloc_func = realloc_func;
    allocator.calloc_func = calloc_func;
    allocator.free_func = free_func;
    return 0;
}

void *tn_malloc(size_t size)
{
    return size == 0 ? NULL : allocator.malloc_func(size);
}

/* realloc(p, 0) is implementation-defined in C11 (and deprecated later):
 * tornuv gives it one meaning, free and return NULL. */
void *tn_realloc(void *ptr, size_t size)
{
    if (size == 0) {
        tn_free(ptr);
        return NULL;
    }
    return allocator.realloc_func(ptr, size);
}

void *tn_calloc(size_t count, size_t size)
{
    if (count == 0 || size == 0)
        return NULL;
    return allocator.calloc_func(count, size);
}

void tn_free(void *ptr)
{
    if (ptr != NULL)
        allocator.free_func(ptr);
}

char *tn_strndup(const char *s, size_t len)
{
    char *copy = allocator.malloc_func(len + 1);
    if (copy == NULL)
        return NULL;
    if (len > 0)
        memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}
