/* AsyncHTTPTestCase for C (see testing.h): a server on an ephemeral
 * loopback port and a deliberately small synchronous HTTP/1.1 fetch — one
 * request per connection with Connection: close, the response read to the
 * connection's end. Written on the public API only, as a user would.
 *
 * A fetch's state lives until its stream's close callback, not until the
 * fetch returns: a fetch that timed out closes its stream and returns, and
 * the state goes when the loop next runs (or closes). */
#include <stdio.h>
#include <string.h>

#include "tornuv/net.h"
#include "tornuv/testing.h"

struct tn_testing_http_s {
    tn_ioloop_t *loop;
    tn_httpserver_t *server;
    int port;
    int freed; /* tn_httpserver_free's callback ran */
};

int tn_testing_http_start(tn_ioloop_t *loop, tn_app_t *app, const tn_httpserver_options_t *opts,
                          tn_testing_http_t **out)
{
    if (loop == NULL || out == NULL || (app == NULL && opts == NULL))
        return TN_EINVAL;
    tn_testing_http_t *t = tn_calloc(1, sizeof(*t));
    if (t == NULL)
        return TN_ENOMEM;
    t->loop = loop;
    int err;
    if (app != NULL) {
        err = tn_app_listen(app, loop, 0, "127.0.0.1", opts, &t->server);
    } else {
        err = tn_httpserver_new(loop, opts, &t->server);
        if (err == 0 && (err = tn_httpserver_listen(t->server, 0, "127.0.0.1")) != 0)
            tn_httpserver_free(t->server, NULL, NULL);
    }
    if (err == 0) {
        t->port = tn_httpserver_port(t->server);
        if (t->port <= 0) {
            err = t->port < 0 ? t->port : TN_EINVAL;
            tn_httpserver_free(t->server, NULL, NULL);
        }
    }
    if (err != 0) {
        tn_free(t);
        return err;
    }
    *out = t;
    return 0;
}

int tn_testing_http_port(const tn_testing_http_t *t)
{
    return t != NULL ? t->port : TN_EINVAL;
}

tn_httpserver_t *tn_testing_http_server(const tn_testing_http_t *t)
{
    return t != NULL ? t->server : NULL;
}

long tn_testing_http_url(const tn_testing_http_t *t, const char *path, char *buf, size_t cap)
{
    if (t == NULL || buf == NULL)
        return TN_EINVAL;
    int n = snprintf(buf, cap, "http://127.0.0.1:%d%s", t->port, path != NULL ? path : "");
    if (n < 0 || (size_t)n >= cap)
        return TN_EBUFFULL;
    return n;
}

/* ---- fetch ------------------------------------------------------------- */

typedef struct {
    tn_iostream_t *stream;
    char *request;
    size_t request_len;
    char *data; /* the whole response, once read */
    size_t len;
    int error;
    int done, closed, abandoned;
} fetch_t;

static void fetch_free(fetch_t *f)
{
    tn_free(f->request);
    tn_free(f->data);
    tn_free(f);
}

static void on_fetch_closed(tn_iostream_t *s, void *arg)
{
    fetch_t *f = arg;
    f->closed = 1;
    if (!f->done) {
        f->done = 1;
        if (f->error == 0)
            f->error = tn_iostream_error(s) != 0 ? tn_iostream_error(s) : TN_ECLOSED;
    }
    if (f->abandoned)
        fetch_free(f);
}

static void on_response(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    fetch_t *f = arg;
    (void)s;
    if (f->done)
        return;
    f->done = 1;
    if (status != 0) {
        f->error = tn_iostream_error(s) != 0 ? tn_iostream_error(s) : status;
        return;
    }
    f->data = tn_malloc(len + 1);
    if (f->data == NULL) {
        f->error = TN_ENOMEM;
        return;
    }
    memcpy(f->data, data, len);
    f->data[len] = '\0';
    f->len = len;
}

static void on_connected(tn_iostream_t *s, int status, void *arg)
{
    fetch_t *f = arg;
    if (status != 0) {
        f->error = status; /* the stream is closed; its close callback follows */
        return;
    }
    (void)s;
}

static int fetch_done(void *arg)
{
    return ((fetch_t *)arg)->done;
}

/* Case-insensitive prefix compare of a header line's name. */
static int name_is(const char *line, size_t line_len, const char *name)
{
    size_t n = strlen(name);
    if (line_len <= n || line[n] != ':')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char a = line[i], b = name[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

static long find_header(const char *head, size_t head_len, const char *name, const char **value)
{
    const char *p = memchr(head, '\n', head_len); /* skip the status line */
    const char *end = head + head_len;
    while (p != NULL && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        size_t ll = (size_t)((eol != NULL ? eol : end) - line);
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        if (name_is(line, ll, name)) {
            const char *v = line + strlen(name) + 1;
            const char *ve = line + ll;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *value = v;
            return (long)(ve - v);
        }
        p = eol;
    }
    return TN_ENOTFOUND;
}

/* Removes chunked framing in place; returns the body length or TN_EHTTP. */
static long dechunk(char *body, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        size_t size = 0;
        int digits = 0;
        while (in < len) {
            char c = body[in];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                break;
            if (size > ((size_t)1 << 40))
                return TN_EHTTP;
            size = size * 16 + (size_t)d;
            digits++;
            in++;
        }
        const char *eol = memchr(body + in, '\n', len - in);
        if (digits == 0 || eol == NULL)
            return TN_EHTTP;
        in = (size_t)(eol - body) + 1;
        if (size == 0)
            return (long)out; /* trailers, if any, are ignored */
        if (len - in < size + 2)
            return TN_EHTTP;
        memmove(body + out, body + in, size);
        out += size;
        in += size + 2;
    }
}

static int parse_response(fetch_t *f, tn_testing_response_t *resp)
{
    char *sep = NULL;
    for (size_t i = 0; i + 4 <= f->len; i++) {
        if (memcmp(f->data + i, "\r\n\r\n", 4) == 0) {
            sep = f->data + i;
            break;
        }
    }
    int code = 0;
    if (sep == NULL || f->len < 12 || memcmp(f->data, "HTTP/1.", 7) != 0 ||
        sscanf(f->data + 9, "%3d", &code) != 1 || code < 100 || code > 999)
        return TN_EHTTP;
    size_t head_len = (size_t)(sep - f->data) + 2;
    size_t body_len = f->len - head_len - 2;
    resp->head = tn_malloc(head_len + 1);
    resp->body = tn_malloc(body_len + 1);
    if (resp->head == NULL || resp->body == NULL)
        return TN_ENOMEM;
    memcpy(resp->head, f->data, head_len);
    resp->head[head_len] = '\0';
    resp->head_len = head_len;
    memcpy(resp->body, sep + 4, body_len);
    const char *v;
    long vl = find_header(resp->head, head_len, "Transfer-Encoding", &v);
    if (vl == 7 && memcmp(v, "chunked", 7) == 0) {
        long n = dechunk(resp->body, body_len);
        if (n < 0)
            return (int)n;
        body_len = (size_t)n;
    } else if ((vl = find_header(resp->head, head_len, "Content-Length", &v)) >= 0) {
        unsigned long long cl = 0;
        if (sscanf(v, "%llu", &cl) != 1 || cl != body_len)
            return TN_EHTTP;
    }
    resp->body[body_len] = '\0';
    resp->body_len = body_len;
    resp->code = code;
    return 0;
}

static int build_request(fetch_t *f, int port, const char *method, const char *path,
                         const char *headers, size_t len)
{
    char lenhdr[64] = "";
    if (len > 0 ||
        (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0))
        snprintf(lenhdr, sizeof(lenhdr), "Content-Length: %zu\r\n", len);
#define TN__REQ_FMT "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s%s\r\n"
    const char *h = headers != NULL ? headers : "";
    int n = snprintf(NULL, 0, TN__REQ_FMT, method, path, port, lenhdr, h);
    if (n < 0)
        return TN_EINVAL;
    f->request = tn_malloc((size_t)n + 1);
    if (f->request == NULL)
        return TN_ENOMEM;
    snprintf(f->request, (size_t)n + 1, TN__REQ_FMT, method, path, port, lenhdr, h);
    f->request_len = (size_t)n;
    return 0;
}

int tn_testing_http_fetch(tn_testing_http_t *t, const char *method, const char *path,
                          const char *headers, const char *body, size_t len, uint64_t timeout_ms,
                          tn_testing_response_t *resp)
{
    if (resp == NULL)
        return TN_EINVAL;
    memset(resp, 0, sizeof(*resp));
    resp->code = 599;
    if (t == NULL || method == NULL || path == NULL || (body == NULL && len > 0))
        return resp->error = TN_EINVAL;
    fetch_t *f = tn_calloc(1, sizeof(*f));
    if (f == NULL)
        return resp->error = TN_ENOMEM;
    int err = build_request(f, t->port, method, path, headers, len);
    if (err == 0)
        err = tn_iostream_connect(t->loop, "127.0.0.1", t->port, NULL, on_connected, f, &f->stream);
    if (err != 0) {
        fetch_free(f);
        return resp->error = err;
    }
    tn_iostream_set_close_callback(f->stream, on_fetch_closed, f);
    /* Writes issued while connecting go out once connected. */
    err = tn_iostream_write(f->stream, f->request, f->request_len, NULL, NULL);
    if (err == 0 && len > 0)
        err = tn_iostream_write(f->stream, body, len, NULL, NULL);
    if (err == 0)
        err = tn_iostream_read_until_close(f->stream, on_response, f);
    if (err != 0) {
        f->done = 1;
        f->error = err;
    }
    err = tn_testing_run_until(t->loop, fetch_done, f, timeout_ms);
    if (err == 0)
        err = f->error;
    if (err == 0)
        err = parse_response(f, resp);
    if (err != 0) {
        tn_free(resp->head);
        tn_free(resp->body);
        memset(resp, 0, sizeof(*resp));
        resp->code = 599;
        resp->error = err;
    }
    /* The state goes with the stream's close callback (now, or later if
     * it has not closed yet). */
    if (f->closed) {
        fetch_free(f);
    } else {
        f->abandoned = 1;
        tn_iostream_close(f->stream);
    }
    return err;
}

long tn_testing_response_header(const tn_testing_response_t *resp, const char *name, char *buf,
                                size_t cap)
{
    if (resp == NULL || resp->head == NULL || name == NULL || buf == NULL)
        return TN_EINVAL;
    const char *v;
    long n = find_header(resp->head, resp->head_len, name, &v);
    if (n < 0)
        return n;
    if ((size_t)n >= cap)
        return TN_EBUFFULL;
    memcpy(buf, v, (size_t)n);
    buf[n] = '\0';
    return n;
}

void tn_testing_response_clear(tn_testing_response_t *resp)
{
    if (resp == NULL)
        return;
    tn_free(resp->head);
    tn_free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

static void on_freed(void *arg)
{
    *(int *)arg = 1;
}

static int flag_set(void *arg)
{
    return *(int *)arg;
}

int tn_testing_http_stop(tn_testing_http_t *t, uint64_t timeout_ms)
{
    if (t == NULL)
        return TN_EINVAL;
    tn_httpserver_free(t->server, on_freed, &t->freed);
    int err = tn_testing_run_until(t->loop, flag_set, &t->freed, timeout_ms);
    /* Past the budget the server is still freeing itself and its callback
     * will write t->freed: t is left to it (a leak a failing test can
     * afford) rather than freed under it. */
    if (err != 0 && !t->freed)
        return err;
    tn_free(t);
    return 0;
}
