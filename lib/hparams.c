/* Parameters of structured header values (see hparams.h). */
#include <string.h>

#include "hparams.h"

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

/* End of the item starting at pos: the next ';' outside quotes, or len.
 * Returns SIZE_MAX for an unterminated quote. */
static size_t item_end(const char *s, size_t len, size_t pos)
{
    int in_quote = 0;
    for (size_t i = pos; i < len; i++) {
        if (in_quote) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_quote = 0;
        } else if (s[i] == '"') {
            in_quote = 1;
        } else if (s[i] == ';') {
            return i;
        }
    }
    return in_quote ? SIZE_MAX : len;
}

int tn__hparams_init(tn__hparams_t *it, const char *value, size_t len, tn_strview_t *main)
{
    it->s = value;
    it->len = len;
    size_t end = item_end(value, len, 0);
    if (end == SIZE_MAX)
        return TN_EHTTP;
    const char *m = value;
    size_t mlen = end;
    trim(&m, &mlen);
    main->base = m;
    main->len = mlen;
    it->pos = end < len ? end + 1 : len;
    return 0;
}

int tn__hparams_next(tn__hparams_t *it, tn_strview_t *key, tn_strview_t *value, int *quoted)
{
    while (it->pos < it->len) {
        size_t end = item_end(it->s, it->len, it->pos);
        if (end == SIZE_MAX)
            return TN_EHTTP;
        const char *item = it->s + it->pos;
        size_t ilen = end - it->pos;
        it->pos = end < it->len ? end + 1 : it->len;
        trim(&item, &ilen);
        if (ilen == 0)
            continue;
        const char *eq = memchr(item, '=', ilen);
        const char *k = item, *v = item + ilen;
        size_t klen = eq ? (size_t)(eq - item) : ilen, vlen = 0;
        if (eq != NULL) {
            v = eq + 1;
            vlen = ilen - klen - 1;
        }
        trim(&k, &klen);
        trim(&v, &vlen);
        *quoted = 0;
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
            *quoted = 1;
        } else if (memchr(v, '"', vlen) != NULL) {
            return TN_EHTTP; /* a quote that does not wrap the whole value */
        }
        key->base = k;
        key->len = klen;
        value->base = v;
        value->len = vlen;
        return 1;
    }
    return 0;
}

size_t tn__hparams_decode(char *dst, tn_strview_t value, int quoted)
{
    if (!quoted) {
        if (value.len > 0)
            memcpy(dst, value.base, value.len);
        return value.len;
    }
    size_t out = 0;
    for (size_t i = 1; i + 1 < value.len; i++) {
        if (value.base[i] == '\\' && i + 2 < value.len)
            i++;
        dst[out++] = value.base[i];
    }
    return out;
}
