/* tn_files_t: the uploaded files of a multipart body. Each file is one
 * allocation holding its four strings back to back, so adding a file costs
 * one copy of its body and the list grows geometrically. */
#include <string.h>

#include "tornuv/httputil.h"

typedef struct {
    size_t name_len, filename_len, ctype_len, body_len;
    /* name NUL filename NUL content-type NUL body NUL */
    char data[];
} file_t;

struct tn_files_s {
    file_t **items;
    size_t count, cap;
};

int tn_files_new(tn_files_t **out)
{
    tn_files_t *f = tn_calloc(1, sizeof(*f));
    if (f == NULL)
        return TN_ENOMEM;
    *out = f;
    return 0;
}

void tn_files_clear(tn_files_t *f)
{
    for (size_t i = 0; i < f->count; i++)
        tn_free(f->items[i]);
    f->count = 0;
}

void tn_files_free(tn_files_t *f)
{
    if (f == NULL)
        return;
    tn_files_clear(f);
    tn_free(f->items);
    tn_free(f);
}

static char *put(char *dst, const char *src, size_t len)
{
    if (len > 0)
        memcpy(dst, src, len);
    dst[len] = '\0';
    return dst + len + 1;
}

int tn_files_add(tn_files_t *f, const char *name, size_t name_len, const char *filename,
                 size_t filename_len, const char *content_type, size_t content_type_len,
                 const char *body, size_t body_len)
{
    static const char unknown[] = "application/unknown";
    if (content_type == NULL) {
        content_type = unknown;
        content_type_len = sizeof(unknown) - 1;
    }
    size_t total = name_len + filename_len + content_type_len;
    if (total > SIZE_MAX / 2 || body_len > SIZE_MAX / 2 - total - sizeof(file_t) - 4)
        return TN_ENOMEM;
    if (f->count == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        file_t **items = tn_realloc(f->items, cap * sizeof(*items));
        if (items == NULL)
            return TN_ENOMEM;
        f->items = items;
        f->cap = cap;
    }
    file_t *file = tn_malloc(sizeof(*file) + total + body_len + 4);
    if (file == NULL)
        return TN_ENOMEM;
    file->name_len = name_len;
    file->filename_len = filename_len;
    file->ctype_len = content_type_len;
    file->body_len = body_len;
    char *p = put(file->data, name, name_len);
    p = put(p, filename, filename_len);
    p = put(p, content_type, content_type_len);
    put(p, body, body_len);
    f->items[f->count++] = file;
    return 0;
}

size_t tn_files_count(const tn_files_t *f)
{
    return f->count;
}

int tn_files_at(const tn_files_t *f, size_t i, tn_http_file_t *out)
{
    if (i >= f->count)
        return TN_ENOTFOUND;
    const file_t *file = f->items[i];
    const char *p = file->data;
    out->name = (tn_strview_t){p, file->name_len};
    p += file->name_len + 1;
    out->filename = (tn_strview_t){p, file->filename_len};
    p += file->filename_len + 1;
    out->content_type = (tn_strview_t){p, file->ctype_len};
    p += file->ctype_len + 1;
    out->body = (tn_strview_t){p, file->body_len};
    return 0;
}

int tn_files_get(const tn_files_t *f, const char *name, tn_http_file_t *out)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < f->count; i++)
        if (f->items[i]->name_len == len && memcmp(f->items[i]->data, name, len) == 0)
            return tn_files_at(f, i, out);
    return TN_ENOTFOUND;
}
