/* tn_regex_t: a compiled PCRE2 pattern (see regex.h). */
#include "regex_internal.h"

int tn_regex_compile(const char *pattern, size_t len, tn_regex_t **out)
{
    int errcode;
    PCRE2_SIZE erroff;
    if (pattern == NULL || out == NULL)
        return TN_EINVAL;
    tn_regex_t *re = tn_malloc(sizeof(*re));
    if (re == NULL)
        return TN_ENOMEM;
    re->code = pcre2_compile((PCRE2_SPTR)pattern, len, 0, &errcode, &erroff, NULL);
    if (re->code == NULL) {
        tn_free(re);
        return errcode == PCRE2_ERROR_NOMEMORY ? TN_ENOMEM : TN_EINVAL;
    }
    *out = re;
    return 0;
}

void tn_regex_free(tn_regex_t *re)
{
    if (re == NULL)
        return;
    pcre2_code_free(re->code);
    tn_free(re);
}
