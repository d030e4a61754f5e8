/* tornuv regex: a compiled PCRE2 pattern that can be shared by many reads
 * (read_until_regex_compiled) instead of being compiled per stream. */
#ifndef TORNUV_REGEX_H
#define TORNUV_REGEX_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tn_regex_s tn_regex_t;

/** Compiles pattern (len bytes; PCRE2 syntax, no flags). Returns 0 with *out
 * set, TN_EINVAL for a pattern that does not compile, or TN_ENOMEM. Free it
 * with tn_regex_free once no pending read uses it.
 * Tornado: re.compile (IOStream.read_until_regex compiles per call). */
TN_EXTERN int tn_regex_compile(const char *pattern, size_t len, tn_regex_t **out);

/** Frees a compiled pattern (NULL is a no-op).
 * Tornado: none. */
TN_EXTERN void tn_regex_free(tn_regex_t *re);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_REGEX_H */
