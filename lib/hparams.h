/* Internal: parameters of structured header values such as
 * Content-Type ("text/html; charset=UTF-8") and Content-Disposition
 * ("form-data; name=\"a;b\"; filename=x"). Quoted strings may contain ';'
 * and backslash escapes. */
#ifndef TN_LIB_HPARAMS_H
#define TN_LIB_HPARAMS_H

#include <stddef.h>

#include "tornuv/httputil.h"

typedef struct {
    const char *s;
    size_t len, pos;
} tn__hparams_t;

/* Starts iterating value; *main gets the first ';'-separated item (the
 * media type or disposition), trimmed. Returns 0 or TN_EHTTP (unterminated
 * quote anywhere). */
int tn__hparams_init(tn__hparams_t *it, const char *value, size_t len, tn_strview_t *main);

/* Next "key=value" parameter: key trimmed; raw value trimmed and still
 * quoted if it was (*quoted set). A parameter without '=' has an empty
 * value. Returns 1 (one produced), 0 (done) or TN_EHTTP. */
int tn__hparams_next(tn__hparams_t *it, tn_strview_t *key, tn_strview_t *value, int *quoted);

/* Decodes a raw parameter value into dst (at least value.len bytes): quotes
 * removed and backslash escapes resolved when quoted. Returns the length. */
size_t tn__hparams_decode(char *dst, tn_strview_t value, int quoted);

#endif
