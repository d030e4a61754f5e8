/* tornuv httputil: HTTP header multimap, URL escaping, query-string and
 * form arguments, HTTP dates, reason phrases. Pure code: no loop, no I/O. */
#ifndef TORNUV_HTTPUTIL_H
#define TORNUV_HTTPUTIL_H

#include <time.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A borrowed byte string: base is not NUL-terminated unless said so. */
typedef struct {
    const char *base;
    size_t len;
} tn_strview_t;

/* ---------------------------------------------------------------------------
 * Headers: an ordered multimap with case-insensitive names. Names and values
 * are copied into one growable arena and kept exactly as given. Adding is
 * O(1) amortised and lookups O(n) with a hash filter, so no sequence of
 * operations on repeated names is quadratic in the number of headers. */
typedef struct tn_headers_s tn_headers_t;

/** Creates an empty header map. Returns 0 or TN_ENOMEM.
 * Tornado: httputil.HTTPHeaders(). */
TN_EXTERN int tn_headers_new(tn_headers_t **out);

/** Frees the map and every string in it (NULL is a no-op).
 * Tornado: none. */
TN_EXTERN void tn_headers_free(tn_headers_t *h);

/** Removes every header but keeps the memory for reuse (one map can serve
 * every request of a connection without allocating).
 * Tornado: HTTPHeaders.clear(). */
TN_EXTERN void tn_headers_clear(tn_headers_t *h);

/** Appends one header (copies both). Returns 0, TN_ENOMEM, or TN_EINVAL for
 * an empty name.
 * Tornado: HTTPHeaders.add(name, value). */
TN_EXTERN int tn_headers_add(tn_headers_t *h, const char *name, size_t name_len, const char *value,
                             size_t value_len);

/** Replaces every header of that name with one value, at the position of
 * the first (or appended). Returns 0, TN_ENOMEM or TN_EINVAL.
 * Tornado: HTTPHeaders[name] = value. */
TN_EXTERN int tn_headers_set(tn_headers_t *h, const char *name, size_t name_len, const char *value,
                             size_t value_len);

/** Returns the first value of name (NUL-terminated name; the value is
 * NUL-terminated too and borrowed until the map changes) and its length in
 * *value_len (may be NULL), or NULL when absent.
 * Tornado: HTTPHeaders.get(name) (which joins repeats; see get_combined). */
TN_EXTERN const char *tn_headers_get(const tn_headers_t *h, const char *name, size_t *value_len);

/** Stores up to max values of name, in order, into out; returns how many
 * exist in total (which may exceed max).
 * Tornado: HTTPHeaders.get_list(name). */
TN_EXTERN size_t tn_headers_get_all(const tn_headers_t *h, const char *name, tn_strview_t *out,
                                    size_t max);

/** Joins every value of name with ", " into a new NUL-terminated string the
 * caller frees with tn_free. Returns 0 (*out set), TN_ENOTFOUND or
 * TN_ENOMEM.
 * Tornado: HTTPHeaders[name] for list headers. */
TN_EXTERN int tn_headers_get_combined(const tn_headers_t *h, const char *name, char **out,
                                      size_t *out_len);

/** Removes every header named name; returns how many were removed.
 * Tornado: del HTTPHeaders[name]. */
TN_EXTERN size_t tn_headers_remove(tn_headers_t *h, const char *name);

/** Number of header lines. Tornado: len(list(HTTPHeaders.get_all())). */
TN_EXTERN size_t tn_headers_count(const tn_headers_t *h);

/** The i-th header in order. Returns 0 or TN_ENOTFOUND past the end.
 * Tornado: HTTPHeaders.get_all(). */
TN_EXTERN int tn_headers_at(const tn_headers_t *h, size_t i, tn_strview_t *name,
                            tn_strview_t *value);

/* ---------------------------------------------------------------------------
 * Arguments: an ordered multimap with case-sensitive names, filled from
 * query strings and application/x-www-form-urlencoded bodies. */
typedef struct tn_args_s tn_args_t;

/** Default cap on the number of arguments one parse may add. */
#define TN_ARGS_DEFAULT_MAX 10000

/** Creates an empty argument map. Returns 0 or TN_ENOMEM.
 * Tornado: the dict of lists in HTTPServerRequest.arguments. */
TN_EXTERN int tn_args_new(tn_args_t **out);

/** Frees the map (NULL is a no-op). Tornado: none. */
TN_EXTERN void tn_args_free(tn_args_t *a);

/** Removes every argument, keeping memory for reuse. Tornado: none. */
TN_EXTERN void tn_args_clear(tn_args_t *a);

/** Parses "a=1&b=2&a=3" (no leading '?'), percent-decoding names and values
 * with '+' as space, appending to a. Blank values are kept ("a=" gives "a"
 * -> ""; a bare "a" also gives ""), empty pairs skipped. ';' is not a
 * separator. Parsing stops with TN_ETOOLARGE once a holds more than
 * max_args arguments (0 = TN_ARGS_DEFAULT_MAX); TN_ENOMEM on allocation
 * failure. Arguments added before an error stay.
 * Tornado: urllib.parse.parse_qs_bytes(qs, keep_blank_values=True). */
TN_EXTERN int tn_args_parse_query(tn_args_t *a, const char *qs, size_t len, size_t max_args);

/** Appends one argument (copies). Returns 0 or TN_ENOMEM. Tornado: none. */
TN_EXTERN int tn_args_add(tn_args_t *a, const char *name, size_t name_len, const char *value,
                          size_t value_len);

/** First value of name (NUL-terminated, borrowed until a changes) or NULL.
 * Tornado: RequestHandler.get_argument(name, None). */
TN_EXTERN const char *tn_args_get(const tn_args_t *a, const char *name, size_t *value_len);

/** Like tn_headers_get_all, for arguments. Tornado: get_arguments(name). */
TN_EXTERN size_t tn_args_get_all(const tn_args_t *a, const char *name, tn_strview_t *out,
                                 size_t max);

/** Number of arguments. Tornado: sum(len(v) for v in arguments.values()). */
TN_EXTERN size_t tn_args_count(const tn_args_t *a);

/** The i-th argument in order. Returns 0 or TN_ENOTFOUND. Tornado: none. */
TN_EXTERN int tn_args_at(const tn_args_t *a, size_t i, tn_strview_t *name, tn_strview_t *value);

/* ---------------------------------------------------------------------------
 * Request bodies: application/x-www-form-urlencoded and multipart/form-data.
 * Uploaded files go into a tn_files_t: an ordered list of (field name,
 * filename, content type, body), every string copied and NUL-terminated. */
typedef struct tn_files_s tn_files_t;

/** One uploaded file; every view is borrowed from its tn_files_t and
 * NUL-terminated (the body may also contain NUL bytes). */
typedef struct {
    tn_strview_t name;         /**< form field name */
    tn_strview_t filename;     /**< as the client sent it: never trust it as a path */
    tn_strview_t content_type; /**< "application/unknown" when the part had none */
    tn_strview_t body;
} tn_http_file_t;

/** Creates an empty file list. Returns 0 or TN_ENOMEM.
 * Tornado: the dict of lists in HTTPServerRequest.files. */
TN_EXTERN int tn_files_new(tn_files_t **out);

/** Frees the list and every file in it (NULL is a no-op). Tornado: none. */
TN_EXTERN void tn_files_free(tn_files_t *f);

/** Removes every file. Tornado: none. */
TN_EXTERN void tn_files_clear(tn_files_t *f);

/** Appends one file (every string copied; content_type NULL gives
 * "application/unknown"). Returns 0 or TN_ENOMEM. Tornado: none. */
TN_EXTERN int tn_files_add(tn_files_t *f, const char *name, size_t name_len, const char *filename,
                           size_t filename_len, const char *content_type, size_t content_type_len,
                           const char *body, size_t body_len);

/** Number of files. Tornado: sum(len(v) for v in files.values()). */
TN_EXTERN size_t tn_files_count(const tn_files_t *f);

/** The i-th file in order into *out. Returns 0 or TN_ENOTFOUND.
 * Tornado: iterating HTTPServerRequest.files. */
TN_EXTERN int tn_files_at(const tn_files_t *f, size_t i, tn_http_file_t *out);

/** The first file uploaded under field name (NUL-terminated) into *out.
 * Returns 0 or TN_ENOTFOUND. Tornado: request.files[name][0]. */
TN_EXTERN int tn_files_get(const tn_files_t *f, const char *name, tn_http_file_t *out);

/** Limits of one multipart parse; zero selects the default. */
typedef struct {
    size_t max_parts;            /**< default TN_MULTIPART_DEFAULT_MAX_PARTS */
    size_t max_part_header_size; /**< bytes of one part's header block; default below */
} tn_multipart_limits_t;

#define TN_MULTIPART_DEFAULT_MAX_PARTS 100
#define TN_MULTIPART_DEFAULT_MAX_PART_HEADER_SIZE 10240
/** Longest boundary accepted (RFC 2046 allows 70; some clients exceed it). */
#define TN_MULTIPART_MAX_BOUNDARY 200

/** Extracts the boundary parameter of a multipart Content-Type value
 * ("multipart/form-data; boundary=xyz", the value may be quoted) into out
 * (cap bytes, NUL-terminated), its length in *out_len. The media type must be
 * multipart/form-data (case-insensitive). Returns 0, TN_EHTTP (another type,
 * no boundary, an empty or overlong one, or broken quoting) or TN_EINVAL (cap
 * too small).
 * Tornado: the boundary lookup in httputil.parse_body_arguments. */
TN_EXTERN int tn_multipart_boundary(const char *content_type, size_t len, char *out, size_t cap,
                                    size_t *out_len);

/** Parses a multipart/form-data body delimited by boundary (without the
 * leading "--"). Parts with a filename (or RFC 2231 filename*) parameter go
 * to files (which may be NULL to drop them), the others to fields as
 * name -> value. Text before the first delimiter (preamble) and after the
 * final "--boundary--" (epilogue) is ignored, as are empty parts.
 *
 * Every part must have a header block ending in CRLF CRLF, only well-formed
 * "Name: value" lines without control characters, a Content-Disposition of
 * form-data with a non-empty name, and end with CRLF before the next
 * delimiter. The work is linear in len (times the boundary length at worst).
 *
 * Returns 0, TN_EHTTP (malformed: no final boundary, a part without headers
 * or name, a bad header line), TN_ETOOLARGE (more than max_parts parts, or a
 * part header block over max_part_header_size) or TN_ENOMEM. Fields and
 * files added before an error stay. limits may be NULL for the defaults.
 * Tornado: httputil.parse_multipart_form_data (which logs and skips bad
 * parts; tornuv refuses the body). */
TN_EXTERN int tn_multipart_parse(const char *boundary, size_t boundary_len, const char *body,
                                 size_t len, const tn_multipart_limits_t *limits, tn_args_t *fields,
                                 tn_files_t *files);

/** Parses a request body by its Content-Type: application/x-www-form-urlencoded
 * (up to TN_ARGS_DEFAULT_MAX arguments) into args, multipart/form-data into
 * args and files; any other type is left alone (returns 0). content_type may
 * be NULL (nothing to do). Returns 0 or the codes of tn_args_parse_query,
 * tn_multipart_boundary and tn_multipart_parse. Refusing bodies with a
 * Content-Encoding is the caller's business.
 * Tornado: httputil.parse_body_arguments. */
TN_EXTERN int tn_http_parse_body_arguments(const char *content_type, size_t content_type_len,
                                           const char *body, size_t len,
                                           const tn_multipart_limits_t *limits, tn_args_t *args,
                                           tn_files_t *files);

/* ---------------------------------------------------------------------------
 * Cookies */

/** Parses a Cookie request header into a (name -> value) argument map, the
 * way Tornado's parse_cookie does: pairs split on ';', whitespace stripped,
 * a chunk without '=' is a value with an empty name, a double-quoted value
 * is unquoted (backslash escapes and \ooo octal escapes decoded). Malformed
 * pairs never fail the header. Returns 0, TN_ETOOLARGE past max_cookies
 * (0 = TN_ARGS_DEFAULT_MAX) or TN_ENOMEM.
 * Tornado: httputil.parse_cookie. */
TN_EXTERN int tn_cookies_parse(tn_args_t *out, const char *header, size_t len, size_t max_cookies);

/** Attributes of a Set-Cookie header; zero/NULL fields are left out. */
typedef struct {
    const char *domain;
    const char *path;
    int64_t expires; /**< Unix time; 0 = no Expires attribute */
    int64_t max_age; /**< seconds; < 0 = no Max-Age attribute (0 deletes) */
    int secure;
    int httponly;
    const char *samesite; /**< "Strict", "Lax", "None" or NULL */
} tn_cookie_attrs_t;

/** Builds the value of a Set-Cookie header into a new NUL-terminated string
 * (*out, caller tn_free). Names must be HTTP tokens; values may not contain
 * control characters, whitespace, '"', ',', ';' or '\\' (quote them yourself
 * if you need to); attribute strings may not contain control characters or
 * ';'. attrs may be NULL; set max_age to -1 for none. Returns 0, TN_EINVAL
 * or TN_ENOMEM.
 * Tornado: RequestHandler.set_cookie (its header value). */
TN_EXTERN int tn_cookie_format(const char *name, size_t name_len, const char *value,
                               size_t value_len, const tn_cookie_attrs_t *attrs, char **out,
                               size_t *out_len);

/** Nonzero when s[0..len) is a non-empty RFC 9110 token (header names,
 * cookie names, methods).
 * Tornado: httputil._ABNF.token. */
TN_EXTERN int tn_http_is_token(const char *s, size_t len);

/* ---------------------------------------------------------------------------
 * URLs */

/** Splits a request target into path and query (without '?'); the views
 * point into target. Accepts origin-form ("/p?q") and absolute-form
 * ("http://host/p?q", whose path defaults to "/"); a fragment is dropped.
 * Returns 0 or TN_EINVAL (empty, or neither form, except "*").
 * Tornado: HTTPServerRequest.path / .query (via uri.partition("?")). */
TN_EXTERN int tn_url_split(const char *target, size_t len, tn_strview_t *path, tn_strview_t *query);

/** Percent-decodes src into dst (which may be src itself: decoding never
 * grows). With plus_as_space, '+' becomes ' ' (query and form values, not
 * paths). A malformed escape ("%zz", a trailing "%") is kept literally, as
 * Python's unquote does. Returns the decoded length.
 * Tornado: url_unescape(value, plus=...). */
TN_EXTERN size_t tn_url_unescape(char *dst, const char *src, size_t len, int plus_as_space);

/** Percent-encodes src for a URL component: unreserved characters
 * (A-Z a-z 0-9 - . _ ~) pass; with plus_for_space ' ' becomes '+', else
 * "%20"; everything else %XX (upper-case hex). Writes at most dst_cap bytes
 * and returns the full encoded length (call with dst_cap 0 to size it;
 * at most 3 * len).
 * Tornado: url_escape(value, plus=...). */
TN_EXTERN size_t tn_url_escape(char *dst, size_t dst_cap, const char *src, size_t len,
                               int plus_for_space);

/* ---------------------------------------------------------------------------
 * Dates and status lines */

/** Size of an IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", plus NUL. */
#define TN_HTTP_DATE_LEN 30

/** Formats t (seconds since the Unix epoch, UTC) as an IMF-fixdate into
 * buf (TN_HTTP_DATE_LEN bytes, NUL-terminated). Returns 0, or TN_EINVAL
 * for a time outside years 1970..9999.
 * Tornado: httputil.format_timestamp. */
TN_EXTERN int tn_http_date_format(int64_t t, char buf[TN_HTTP_DATE_LEN]);

/** Parses an HTTP date in any of the three forms RFC 9110 requires
 * recipients to accept (IMF-fixdate, RFC 850, asctime) into seconds since
 * the epoch. Returns 0 (*out set) or TN_EINVAL (malformed, impossible day,
 * or out of range). Two-digit RFC 850 years are 19xx for 70..99, else 20xx.
 * Tornado: email.utils.parsedate_to_datetime (If-Modified-Since). */
TN_EXTERN int tn_http_date_parse(const char *s, size_t len, int64_t *out);

/** The standard reason phrase of an HTTP status code, or NULL when the code
 * has none ("OK" for 200, "Not Found" for 404, ...).
 * Tornado: httputil.responses (http.client.responses). */
TN_EXTERN const char *tn_http_reason(int code);

#ifdef __cplusplus
}
#endif
#endif /* TORNUV_HTTPUTIL_H */
