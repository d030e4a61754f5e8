/* StaticFileHandler: files under a root directory, safely.
 *
 * The relative path (the route's first group, already percent-decoded) is
 * refused if it could leave the root: empty, absolute, a drive letter or a
 * backslash, a NUL, or a "." / ".." segment; a URL with an encoded slash or
 * backslash (%2F, %5C) is refused before decoding (404), so the file served
 * always has the segments the route matched (an encoded NUL never gets here:
 * the HTTP layer answers 400). What remains is joined to the
 * root and resolved with realpath; the result must still lie inside the
 * resolved root (a symlink pointing out is refused too). Files are sent with
 * Content-Length, Last-Modified and an ETag made of size and mtime (cheap,
 * and it changes whenever the file does; Tornado hashes the content), 304
 * for If-None-Match / If-Modified-Since, one byte range (206, or 416 when it
 * cannot be satisfied; a multi-range request gets the whole file), and
 * bodies larger than one chunk are streamed: each chunk is read on the
 * loop's thread pool (tn_ioloop_run_in_executor, so a slow disk never
 * blocks the loop) once the previous one reached the socket, so a slow
 * client holds one chunk. A directory serves its index.html, else 403; there
 * is never a redirect (Tornado's trailing-slash redirect was an open
 * redirect, CVE-2023-28370). A "v" query argument (a versioned URL) makes
 * the response cacheable for ten years. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tornuv/web.h"
#include "web_internal.h"

#define CHUNK (64 * 1024)

#ifdef _WIN32
#define realpath(p, r) _fullpath((r), (p), PATH_MAX)
#define SEP_OK(c) ((c) == '/' || (c) == '\\')
#else
#define SEP_OK(c) ((c) == '/')
#endif

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

typedef struct {
    const char *root;
    FILE *f;
    uint64_t left;
    char *chunk; /* CHUNK bytes, filled by the executor */
    size_t got;
    int busy; /* a read is running on the thread pool */
    int gone; /* the client left meanwhile */
} st_t;

int tn__web_static_path_ok(const char *rel, size_t n)
{
    if (n == 0 || rel[0] == '/' || n > 1024)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = rel[i];
        if (c == 0 || c == '\\' || c == ':' || (unsigned char)c < 0x20)
            return 0;
    }
    size_t i = 0;
    while (i < n) {
        size_t s = i;
        while (i < n && rel[i] != '/')
            i++;
        size_t len = i - s;
        if ((len == 1 && rel[s] == '.') || (len == 2 && rel[s] == '.' && rel[s + 1] == '.'))
            return 0;
        i++;
    }
    return 1;
}

/* Resolves rel under root into out (PATH_MAX). 0, TN_ENOTFOUND or TN_EINVAL. */
int tn__web_static_resolve(const char *root, const char *rel, size_t n, char *out)
{
    char real_root[PATH_MAX], joined[PATH_MAX * 2];
    if (!tn__web_static_path_ok(rel, n))
        return TN_EINVAL;
    if (!realpath(root, real_root))
        return TN_ENOTFOUND;
    int k = snprintf(joined, sizeof joined, "%s/%.*s", real_root, (int)n, rel);
    if (k < 0 || (size_t)k >= sizeof joined)
        return TN_EINVAL;
    if (!realpath(joined, out))
        return TN_ENOTFOUND;
#ifdef _WIN32
    /* _fullpath only normalises: the file must also exist */
    struct stat sb;
    if (stat(out, &sb) != 0)
        return TN_ENOTFOUND;
#endif
    size_t rl = strlen(real_root);
    if (strncmp(out, real_root, rl) != 0 || !SEP_OK(out[rl]))
        return TN_EINVAL;
    return 0;
}

static const char *mime_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } t[] = {
        {".html", "text/html; charset=UTF-8"},
        {".htm", "text/html; charset=UTF-8"},
        {".css", "text/css; charset=UTF-8"},
        {".js", "application/javascript; charset=UTF-8"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=UTF-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".wasm", "application/wasm"},
        {".xml", "application/xml"},
        {".pdf", "application/pdf"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
            if (strcmp(dot, t[i].ext) == 0)
                return t[i].type;
    return "application/octet-stream";
}

/* "bytes=a-b", "a-" or "-n" against size. 1: start and end (inclusive) set;
 * 0: no usable single range (serve everything); -1: unsatisfiable. */
int tn__web_parse_range(const char *v, size_t n, uint64_t size, uint64_t *start, uint64_t *end)
{
    if (n < 6 || memcmp(v, "bytes=", 6) != 0)
        return 0;
    v += 6;
    n -= 6;
    if (memchr(v, ',', n))
        return 0; /* several ranges: the whole file */
    size_t i = 0;
    uint64_t a = 0, b = 0;
    int has_a = 0, has_b = 0;
    while (i < n && v[i] >= '0' && v[i] <= '9') {
        if (a > (UINT64_MAX - 9) / 10)
            return 0;
        a = a * 10 + (uint64_t)(v[i++] - '0');
        has_a = 1;
    }
    if (i >= n || v[i] != '-')
        return 0;
    i++;
    while (i < n && v[i] >= '0' && v[i] <= '9') {
        if (b > (UINT64_MAX - 9) / 10)
            return 0;
        b = b * 10 + (uint64_t)(v[i++] - '0');
        has_b = 1;
    }
    if (i != n || (!has_a && !has_b))
        return 0;
    if (!has_a) { /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return -1;
        *start = b >= size ? 0 : size - b;
        *end = size - 1;
        return 1;
    }
    if (has_b && b < a)
        return -1; /* last before first: not satisfiable, as Tornado */
    if (a >= size)
        return -1;
    *start = a;
    *end = has_b && b < size ? b : size - 1;
    return 1;
}

static void st_close(st_t *st)
{
    if (st->f) {
        fclose(st->f);
        st->f = NULL;
    }
    tn_free(st->chunk);
    st->chunk = NULL;
}

static void stream_next(tn_handler_t *h, int status, void *arg);

/* Thread pool: one chunk from the file (the handler waits, nothing else
 * touches st meanwhile). */
static void read_chunk(void *arg)
{
    st_t *st = tn_handler_state(arg);
    size_t want = st->left < CHUNK ? (size_t)st->left : CHUNK;
    st->got = fread(st->chunk, 1, want, st->f);
}

static void on_chunk(tn_ioloop_t *loop, int status, void *arg)
{
    tn_handler_t *h = arg;
    st_t *st = tn_handler_state(h);
    (void)loop;
    st->busy = 0;
    if (status != 0 || st->gone || st->got == 0) {
        st_close(st); /* a file that shrank ends the response short */
        tn_handler_finish(h);
        return;
    }
    st->left -= st->got;
    if (tn_handler_write(h, st->chunk, st->got) != 0) {
        st_close(st);
        tn_handler_finish(h);
        return;
    }
    if (st->left == 0) {
        st_close(st);
        tn_handler_finish(h);
        return;
    }
    if (tn_handler_flush(h, stream_next, NULL) != 0) {
        st_close(st);
        tn_handler_finish(h);
    }
}

/* The previous chunk reached the socket: read the next one. */
static void stream_next(tn_handler_t *h, int status, void *arg)
{
    st_t *st = tn_handler_state(h);
    (void)arg;
    if (status != 0 || st->gone || !st->f) {
        st_close(st);
        tn_handler_finish(h);
        return;
    }
    st->busy = 1;
    if (tn_ioloop_run_in_executor(tn_handler_loop(h), read_chunk, on_chunk, h) != 0) {
        st->busy = 0;
        st_close(st);
        tn_handler_finish(h);
    }
}

static int st_init(tn_handler_t *h, void *arg)
{
    ((st_t *)tn_handler_state(h))->root = arg;
    return 0;
}

/* True when the request path holds an encoded '/' or '\\' (%2F, %5C): the
 * route matched the encoded path, where it is one segment, and decoding it
 * would make a different path of it; such a URL names no file. */
static int has_encoded_separator(tn_handler_t *h)
{
    size_t n;
    const char *p = tn_http_request_path(tn_handler_request(h), &n);
    for (size_t i = 0; i + 2 < n; i++)
        if (p[i] == '%' && ((p[i + 1] == '2' && (p[i + 2] | 0x20) == 'f') ||
                            (p[i + 1] == '5' && (p[i + 2] | 0x20) == 'c')))
            return 1;
    return 0;
}

static int st_get(tn_handler_t *h)
{
    st_t *st = tn_handler_state(h);
    size_t n, hn;
    const char *rel = tn_handler_path_arg(h, 0, &n);
    char path[PATH_MAX];
    struct stat sb;
    if (!rel || has_encoded_separator(h))
        return tn_handler_fail(h, 404);
    if (n == 0 || rel[n - 1] == '/') { /* a directory's URL: its index */
        char idx[1100];
        if (n > 1000)
            return tn_handler_fail(h, 404);
        int k = snprintf(idx, sizeof idx, "%.*sindex.html", (int)n, rel);
        if (tn__web_static_resolve(st->root, idx, (size_t)k, path) != 0)
            return tn_handler_fail(h, n == 0 ? 403 : 404);
    } else if (tn__web_static_resolve(st->root, rel, n, path) != 0) {
        return tn_handler_fail(h, 404);
    }
    if (stat(path, &sb) != 0)
        return tn_handler_fail(h, 404);
    if (S_ISDIR(sb.st_mode)) {
        size_t pl = strlen(path);
        if (pl + 12 > sizeof path)
            return tn_handler_fail(h, 403);
        memcpy(path + pl, "/index.html", 12);
        if (stat(path, &sb) != 0)
            return tn_handler_fail(h, 403);
    }
    if (!S_ISREG(sb.st_mode))
        return tn_handler_fail(h, 403);
    tn_http_request_t *req = tn_handler_request(h);
    const tn_headers_t *rh = tn_http_request_headers(req);
    uint64_t size = (uint64_t)sb.st_size;
    char etag[64], lm[TN_HTTP_DATE_LEN], num[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)size,
             (unsigned long long)sb.st_mtime);
    tn_handler_set_header(h, "Etag", etag);
    if (tn_http_date_format((int64_t)sb.st_mtime, lm) == 0)
        tn_handler_set_header(h, "Last-Modified", lm);
    tn_handler_set_header(h, "Accept-Ranges", "bytes");
    tn_handler_set_header(h, "Content-Type", mime_of(path));
    tn_strview_t ver;
    if (tn_handler_get_query_argument(h, "v", "", &ver) == 0 && ver.len > 0)
        tn_handler_set_header(h, "Cache-Control", "max-age=315360000, public");
    const char *inm = tn_headers_get(rh, "If-None-Match", &hn);
    int not_modified = 0;
    if (inm) {
        not_modified = tn__web_etag_matches(inm, hn, etag);
    } else {
        const char *ims = tn_headers_get(rh, "If-Modified-Since", &hn);
        int64_t t;
        if (ims && tn_http_date_parse(ims, hn, &t) == 0 && (int64_t)sb.st_mtime <= t)
            not_modified = 1;
    }
    if (not_modified) {
        tn_handler_set_status(h, 304, NULL);
        return TN_WEB_DONE;
    }
    uint64_t start = 0, end = size ? size - 1 : 0, len = size;
    const char *range = tn_headers_get(rh, "Range", &hn);
    if (range) {
        int r = tn__web_parse_range(range, hn, size, &start, &end);
        if (r < 0) {
            snprintf(num, sizeof num, "bytes */%llu", (unsigned long long)size);
            tn_handler_set_header(h, "Content-Range", num);
            tn_handler_set_status(h, 416, NULL);
            return TN_WEB_DONE;
        }
        /* The whole file asked for is a plain 200 (Tornado; some media
         * players refuse a 206 for "bytes=0-"). */
        if (r > 0 && !(start == 0 && end + 1 == size)) {
            len = end - start + 1;
            tn_handler_set_status(h, 206, NULL);
            snprintf(num, sizeof num, "bytes %llu-%llu/%llu", (unsigned long long)start,
                     (unsigned long long)end, (unsigned long long)size);
            tn_handler_set_header(h, "Content-Range", num);
        }
    }
    snprintf(num, sizeof num, "%llu", (unsigned long long)len);
    tn_handler_set_header(h, "Content-Length", num);
    size_t mlen;
    const char *m = tn_http_request_method(req, &mlen);
    if ((mlen == 4 && memcmp(m, "HEAD", 4) == 0) || len == 0)
        return TN_WEB_DONE;
    st->f = fopen(path, "rb");
    if (!st->f || (start && fseek(st->f, (long)start, SEEK_SET) != 0)) {
        st_close(st);
        return tn_handler_fail(h, 404);
    }
    st->left = len;
    st->chunk = tn_malloc(CHUNK);
    if (!st->chunk) {
        st_close(st);
        return TN_ENOMEM;
    }
    if (len <= CHUNK) { /* small: read here, one response */
        size_t got = fread(st->chunk, 1, (size_t)len, st->f);
        int err = tn_handler_write(h, st->chunk, got);
        st_close(st);
        return err;
    }
    st->busy = 1;
    if (tn_ioloop_run_in_executor(tn_handler_loop(h), read_chunk, on_chunk, h) != 0) {
        st->busy = 0;
        st_close(st);
        return TN_ENOMEM;
    }
    return TN_WEB_ASYNC;
}

/* The client left: a running read finishes first (its completion ends the
 * handler); otherwise the pending flush's callback does. */
static void st_gone(tn_handler_t *h)
{
    st_t *st = tn_handler_state(h);
    st->gone = 1;
    if (!st->busy && st->f) {
        fclose(st->f);
        st->f = NULL;
    }
}

static void st_on_finish(tn_handler_t *h)
{
    st_t *st = tn_handler_state(h);
    if (!st->busy)
        st_close(st);
}

const tn_handler_class_t tn_static_file_handler = {
    .name = "StaticFileHandler",
    .state_size = sizeof(st_t),
    .initialize = st_init,
    .get = st_get,
    .head = st_get,
    .on_finish = st_on_finish,
    .on_connection_close = st_gone,
};

/* ---- ErrorHandler ---------------------------------------------------------- */

static int err_init(tn_handler_t *h, void *arg)
{
    *(int *)tn_handler_state(h) = arg ? *(const int *)arg : 404;
    return 0;
}

static int err_any(tn_handler_t *h)
{
    return tn_handler_fail(h, *(int *)tn_handler_state(h));
}

const tn_handler_class_t tn_error_handler = {
    .name = "ErrorHandler",
    .state_size = sizeof(int),
    .initialize = err_init,
    .prepare = err_any,
};
