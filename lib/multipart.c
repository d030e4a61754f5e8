/* multipart/form-data and urlencoded request bodies.
 *
 * The body is cut at the last "--boundary--" (the close delimiter), and the
 * text before it is split on "--boundary\r\n". Every search is a forward
 * scan that never revisits a byte more than the boundary's length times,
 * and the boundary is at most TN_MULTIPART_MAX_BOUNDARY bytes, so a hostile
 * body costs linear time. Part headers are bounded by max_part_header_size
 * before they are looked at, and their decoded parameters never outgrow
 * them, so one scratch buffer of three times that size serves every part. */
#include <string.h>

#include "hparams.h"
#include "multimap.h"

/* First occurrence of needle in hay[from, n), or SIZE_MAX. */
static size_t find(const char *hay, size_t n, size_t from, const char *needle, size_t m)
{
    if (m == 0 || n < m)
        return SIZE_MAX;
    for (size_t i = from; i + m <= n;) {
        const char *c = memchr(hay + i, needle[0], n - m + 1 - i);
        if (c == NULL)
            return SIZE_MAX;
        i = (size_t)(c - hay);
        if (memcmp(c, needle, m) == 0)
            return i;
        i++;
    }
    return SIZE_MAX;
}

/* Last occurrence of needle in hay[0, n), or SIZE_MAX. */
static size_t rfind(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0 || n < m)
        return SIZE_MAX;
    for (size_t i = n - m + 1; i-- > 0;)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0)
            return i;
    return SIZE_MAX;
}

int tn_multipart_boundary(const char *content_type, size_t len, char *out, size_t cap,
                          size_t *out_len)
{
    static const char mp[] = "multipart/form-data";
    tn__hparams_t it;
    tn_strview_t type, key, value;
    int quoted, r;
    if (content_type == NULL || tn__hparams_init(&it, content_type, len, &type) != 0)
        return TN_EHTTP;
    if (type.len != sizeof(mp) - 1 || tn__ascii_casecmp_n(type.base, mp, type.len) != 0)
        return TN_EHTTP;
    while ((r = tn__hparams_next(&it, &key, &value, &quoted)) == 1) {
        if (key.len != 8 || tn__ascii_casecmp_n(key.base, "boundary", 8) != 0)
            continue;
        if (value.len > TN_MULTIPART_MAX_BOUNDARY + 2)
            return TN_EHTTP;
        char tmp[TN_MULTIPART_MAX_BOUNDARY + 2];
        size_t n = tn__hparams_decode(tmp, value, quoted);
        if (n == 0 || n > TN_MULTIPART_MAX_BOUNDARY)
            return TN_EHTTP;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)tmp[i] < 0x20 || tmp[i] == 0x7f)
                return TN_EHTTP;
        if (n + 1 > cap)
            return TN_EINVAL;
        memcpy(out, tmp, n);
        out[n] = '\0';
        if (out_len != NULL)
            *out_len = n;
        return 0;
    }
    return TN_EHTTP;
}

typedef struct {
    tn_strview_t name, filename, ctype;
    int has_filename;
    char *scratch; /* 3 * header length bytes */
} part_info_t;

/* RFC 2231/5987 extended value: charset'language'percent-encoded. The
 * charset is not converted (UTF-8 is what every browser sends). */
static size_t decode_ext(char *dst, const char *src, size_t len)
{
    const char *q1 = memchr(src, '\'', len);
    const char *q2 = q1 ? memchr(q1 + 1, '\'', len - (size_t)(q1 + 1 - src)) : NULL;
    if (q2 == NULL)
        return tn_url_unescape(dst, src, len, 0);
    return tn_url_unescape(dst, q2 + 1, len - (size_t)(q2 + 1 - src), 0);
}

static int parse_disposition(const char *v, size_t vlen, part_info_t *pi, char **cursor)
{
    tn__hparams_t it;
    tn_strview_t disp, key, value;
    int quoted, r, have_ext = 0;
    if (tn__hparams_init(&it, v, vlen, &disp) != 0)
        return TN_EHTTP;
    if (disp.len != 9 || tn__ascii_casecmp_n(disp.base, "form-data", 9) != 0)
        return TN_EHTTP;
    while ((r = tn__hparams_next(&it, &key, &value, &quoted)) == 1) {
        char *dst = *cursor;
        size_t n;
        if (key.len == 4 && tn__ascii_casecmp_n(key.base, "name", 4) == 0) {
            n = tn__hparams_decode(dst, value, quoted);
            pi->name = (tn_strview_t){dst, n};
        } else if (key.len == 8 && tn__ascii_casecmp_n(key.base, "filename", 8) == 0) {
            if (have_ext)
                continue; /* filename* wins */
            n = tn__hparams_decode(dst, value, quoted);
            pi->filename = (tn_strview_t){dst, n};
            pi->has_filename = 1;
        } else if (key.len == 9 && tn__ascii_casecmp_n(key.base, "filename*", 9) == 0) {
            n = tn__hparams_decode(dst, value, quoted);
            n = decode_ext(dst, dst, n);
            pi->filename = (tn_strview_t){dst, n};
            pi->has_filename = have_ext = 1;
        } else {
            continue;
        }
        *cursor = dst + n;
    }
    return r == 0 ? 0 : TN_EHTTP;
}

/* Parses the header block hdr[0, len) (lines separated by CRLF). */
static int parse_part_headers(const char *hdr, size_t len, part_info_t *pi)
{
    char *cursor = pi->scratch;
    int have_disp = 0;
    size_t pos = 0;
    while (pos < len) {
        size_t eol = find(hdr, len, pos, "\r\n", 2);
        if (eol == SIZE_MAX)
            eol = len;
        const char *line = hdr + pos;
        size_t llen = eol - pos;
        pos = eol + 2;
        if (llen == 0)
            continue;
        for (size_t i = 0; i < llen; i++) {
            unsigned char c = (unsigned char)line[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return TN_EHTTP;
        }
        const char *colon = memchr(line, ':', llen);
        if (colon == NULL || !tn_http_is_token(line, (size_t)(colon - line)))
            return TN_EHTTP;
        size_t nlen = (size_t)(colon - line);
        const char *v = colon + 1;
        size_t vlen = llen - nlen - 1;
        while (vlen > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        if (nlen == 19 && tn__ascii_casecmp_n(line, "Content-Disposition", 19) == 0) {
            if (have_disp)
                return TN_EHTTP;
            have_disp = 1;
            int err = parse_disposition(v, vlen, pi, &cursor);
            if (err != 0)
                return err;
        } else if (nlen == 12 && tn__ascii_casecmp_n(line, "Content-Type", 12) == 0) {
            memcpy(cursor, v, vlen);
            pi->ctype = (tn_strview_t){cursor, vlen};
            cursor += vlen;
        }
    }
    return have_disp && pi->name.len > 0 ? 0 : TN_EHTTP;
}

static int parse_part(const char *part, size_t len, size_t max_hdr, char *scratch,
                      tn_args_t *fields, tn_files_t *files)
{
    /* A part with no header lines at all starts with the blank line. */
    size_t eoh = (len >= 2 && part[0] == '\r' && part[1] == '\n') ? 0 : SIZE_MAX;
    size_t body_start = 2;
    if (eoh == SIZE_MAX) {
        size_t limit = len < max_hdr + 4 ? len : max_hdr + 4;
        eoh = find(part, limit, 0, "\r\n\r\n", 4);
        if (eoh == SIZE_MAX)
            return len >= max_hdr + 4 ? TN_ETOOLARGE : TN_EHTTP;
        body_start = eoh + 4;
    }
    if (eoh > max_hdr)
        return TN_ETOOLARGE;
    if (len < body_start + 2 || part[len - 2] != '\r' || part[len - 1] != '\n')
        return TN_EHTTP;
    part_info_t pi = {.scratch = scratch};
    int err = parse_part_headers(part, eoh, &pi);
    if (err != 0)
        return err;
    const char *value = part + body_start;
    size_t vlen = len - body_start - 2;
    if (pi.has_filename) {
        if (files == NULL)
            return 0;
        return tn_files_add(files, pi.name.base, pi.name.len, pi.filename.base, pi.filename.len,
                            pi.ctype.len ? pi.ctype.base : NULL, pi.ctype.len, value, vlen);
    }
    return tn_args_add(fields, pi.name.base, pi.name.len, value, vlen);
}

int tn_multipart_parse(const char *boundary, size_t boundary_len, const char *body, size_t len,
                       const tn_multipart_limits_t *limits, tn_args_t *fields, tn_files_t *files)
{
    size_t max_parts =
        limits && limits->max_parts ? limits->max_parts : TN_MULTIPART_DEFAULT_MAX_PARTS;
    size_t max_hdr = limits && limits->max_part_header_size
                         ? limits->max_part_header_size
                         : TN_MULTIPART_DEFAULT_MAX_PART_HEADER_SIZE;
    if (boundary == NULL || boundary_len == 0 || boundary_len > TN_MULTIPART_MAX_BOUNDARY)
        return TN_EINVAL;
    if (body == NULL && len > 0)
        return TN_EINVAL;
    char delim[TN_MULTIPART_MAX_BOUNDARY + 4];
    delim[0] = delim[1] = '-';
    memcpy(delim + 2, boundary, boundary_len);
    delim[boundary_len + 2] = '-';
    delim[boundary_len + 3] = '-';
    size_t end = rfind(body, len, delim, boundary_len + 4);
    if (end == SIZE_MAX)
        return TN_EHTTP;
    delim[boundary_len + 2] = '\r';
    delim[boundary_len + 3] = '\n';
    size_t dlen = boundary_len + 4;

    size_t hdr_cap = max_hdr < len ? max_hdr : len;
    char *scratch = tn_malloc(3 * hdr_cap + 1);
    if (scratch == NULL)
        return TN_ENOMEM;
    /* Everything before the first delimiter is preamble. */
    size_t pos = find(body, end, 0, delim, dlen);
    size_t parts = 0;
    int err = 0;
    while (pos != SIZE_MAX && err == 0) {
        size_t start = pos + dlen;
        size_t next = start <= end ? find(body, end, start, delim, dlen) : SIZE_MAX;
        size_t stop = next == SIZE_MAX ? end : next;
        if (start < stop) {
            if (++parts > max_parts)
                err = TN_ETOOLARGE;
            else
                err = parse_part(body + start, stop - start, max_hdr, scratch, fields, files);
        }
        pos = next;
    }
    tn_free(scratch);
    return err;
}

int tn_http_parse_body_arguments(const char *content_type, size_t content_type_len,
                                 const char *body, size_t len, const tn_multipart_limits_t *limits,
                                 tn_args_t *args, tn_files_t *files)
{
    static const char form[] = "application/x-www-form-urlencoded";
    if (content_type == NULL)
        return 0;
    tn__hparams_t it;
    tn_strview_t type;
    if (tn__hparams_init(&it, content_type, content_type_len, &type) != 0)
        return 0;
    if (type.len == sizeof(form) - 1 && tn__ascii_casecmp_n(type.base, form, type.len) == 0)
        return tn_args_parse_query(args, body, len, 0);
    if (type.len == 19 && tn__ascii_casecmp_n(type.base, "multipart/form-data", 19) == 0) {
        char boundary[TN_MULTIPART_MAX_BOUNDARY + 1];
        size_t blen;
        int err = tn_multipart_boundary(content_type, content_type_len, boundary, sizeof(boundary),
                                        &blen);
        if (err != 0)
            return err;
        return tn_multipart_parse(boundary, blen, body, len, limits, args, files);
    }
    return 0;
}
