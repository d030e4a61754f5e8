/* libFuzzer target: request-body parsing on arbitrary bytes. The input is
 * "Content-Type line" LF body; the first byte also picks small limits so the
 * limit paths are reached. Whatever is stored must be readable back, and
 * every stored view must lie within its own NUL-terminated copy. */
#include <stdint.h>
#include <string.h>

#include "tornuv/httputil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    tn_multipart_limits_t limits = {0};
    if (data[0] & 1) {
        limits.max_parts = 1 + (data[0] >> 4);
        limits.max_part_header_size = 1 + data[0];
    }
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    const char *nl = memchr(in, '\n', len);
    size_t ct_len = nl ? (size_t)(nl - in) : 0;
    const char *body = nl ? nl + 1 : in;
    size_t body_len = len - (nl ? ct_len + 1 : 0);

    tn_args_t *args;
    tn_files_t *files;
    if (tn_args_new(&args) != 0)
        return 0;
    if (tn_files_new(&files) != 0) {
        tn_args_free(args);
        return 0;
    }
    if (nl != NULL)
        tn_http_parse_body_arguments(in, ct_len, body, body_len, &limits, args, files);
    else
        tn_multipart_parse("b", 1, body, body_len, &limits, args, files);

    tn_strview_t name, value;
    for (size_t i = 0; tn_args_at(args, i, &name, &value) == 0; i++)
        if (name.base[name.len] != '\0' || value.base[value.len] != '\0' || value.len > body_len)
            __builtin_trap();
    tn_http_file_t f;
    for (size_t i = 0; tn_files_at(files, i, &f) == 0; i++)
        if (f.body.len > body_len || f.name.len == 0 || f.body.base[f.body.len] != '\0')
            __builtin_trap();
    /* multipart never stores more than max_parts parts */
    if (nl == NULL &&
        tn_args_count(args) + tn_files_count(files) > (limits.max_parts ? limits.max_parts : 100))
        __builtin_trap();
    tn_files_free(files);
    tn_args_free(args);
    return 0;
}
