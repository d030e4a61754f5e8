/* Internal pieces of the web layer shared between its files and tests. */
#ifndef TN_LIB_WEB_INTERNAL_H
#define TN_LIB_WEB_INTERNAL_H

#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

/** Weak If-None-Match comparison of a header value against one ETag. */
int tn__web_etag_matches(const char *inm, size_t n, const char *etag);

/** Bytes needed for a signed value of name/value sizes (with NUL). */
size_t tn__web_signed_size(size_t name_len, size_t value_len);
/** Signs value for cookie name at time now into out (NUL-terminated):
 * "2|1:0|<n>:<ts>|<n>:<name>|<n>:<base64 value>|<hex HMAC-SHA256>".
 * Returns the length or TN_EBUFFULL / TN_EINVAL. */
long tn__web_sign(const char *secret, const char *name, const char *value, size_t value_len,
                  int64_t now, char *out, size_t cap);
/** Checks a signed value for name: signature (constant time), format, age
 * (at most max_age_days old, not more than a day in the future). Writes the
 * value, NUL-terminated, into buf. Returns its length, TN_EINVAL or
 * TN_EBUFFULL. */
long tn__web_verify(const char *secret, const char *name, const char *signed_value, size_t n,
                    int64_t now, unsigned max_age_days, char *buf, size_t cap);

/** Static files: a relative path that cannot leave its root (no absolute
 * path, drive, backslash, control byte, "." or ".." segment). */
int tn__web_static_path_ok(const char *rel, size_t n);
/** Resolves rel under root (realpath, must stay inside). 0, TN_EINVAL,
 * TN_ENOTFOUND; out has PATH_MAX bytes. */
int tn__web_static_resolve(const char *root, const char *rel, size_t n, char *out);
/** Parses a Range header for a body of size bytes: 1 (a single range,
 * inclusive bounds set), 0 (ignore: serve everything), -1 (416). */
int tn__web_parse_range(const char *v, size_t n, uint64_t size, uint64_t *start, uint64_t *end);

#endif
