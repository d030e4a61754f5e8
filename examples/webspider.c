/* A web spider on a queue (Tornado's demos/webspider): a fixed number of
 * workers take paths from a tn_queue_t, fetch them from a tornuv demo
 * server on loopback with a minimal HTTP/1.0 GET (tn_tcpclient_connect +
 * IOStream), put the same-site links they find back on the queue, and mark
 * each path done; tn_queue_join says when the crawl is complete.
 *
 *   webspider --port N [--workers K] [--max-pages M]
 *
 * Start the demo first (demo --port N). Prints one line per page and a
 * summary; exits 0 when every page fetched answered 200. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tornuv.h"

#define FETCH_TIMEOUT_MS 5000
#define CRAWL_TIMEOUT_MS 30000
#define MAX_BODY ((size_t)4 * 1024 * 1024)

typedef struct {
    tn_ioloop_t *loop;
    tn_queue_t *q;
    int port, max_pages;
    char **seen;
    int nseen, fetched, failed;
    int busy; /* workers inside a fetch */
} spider_t;

typedef struct {
    spider_t *sp;
    int id;
    char *path; /* being fetched (owned) */
    tn_iostream_t *stream;
    tn_timeout_id timer;
} worker_t;

static void worker_next(worker_t *w);

/* ---- the set of paths seen ----------------------------------------------- */

static int seen_add(spider_t *sp, const char *path, size_t len)
{
    for (int i = 0; i < sp->nseen; i++)
        if (strlen(sp->seen[i]) == len && memcmp(sp->seen[i], path, len) == 0)
            return 0;
    if (sp->nseen >= sp->max_pages)
        return 0;
    char **n = realloc(sp->seen, (size_t)(sp->nseen + 1) * sizeof(*n));
    char *copy = malloc(len + 1);
    if (n == NULL || copy == NULL) {
        free(copy);
        if (n != NULL)
            sp->seen = n;
        return 0;
    }
    memcpy(copy, path, len);
    copy[len] = '\0';
    sp->seen = n;
    sp->seen[sp->nseen++] = copy;
    return 1;
}

/* Queues a same-site path not seen yet (the queue owns the copy). */
static void enqueue(spider_t *sp, const char *path, size_t len)
{
    if (!seen_add(sp, path, len))
        return;
    char *item = tn_strndup(path, len);
    if (item == NULL || tn_queue_put_nowait(sp->q, item) != 0)
        tn_free(item);
}

/* href="/..." links of an HTML body: same site only (a single leading
 * slash), fragment dropped. */
static int find_links(spider_t *sp, const char *body, size_t len)
{
    int links = 0;
    const char *end = body + len, *p = body;
    while ((p = memchr(p, 'h', (size_t)(end - p))) != NULL) {
        if ((size_t)(end - p) < 8 || memcmp(p, "href=\"", 6) != 0) {
            p++;
            continue;
        }
        const char *start = p + 6;
        const char *q = memchr(start, '"', (size_t)(end - start));
        if (q == NULL)
            break;
        size_t n = (size_t)(q - start);
        const char *hash = memchr(start, '#', n);
        if (hash != NULL)
            n = (size_t)(hash - start);
        if (n > 0 && start[0] == '/' && (n == 1 || start[1] != '/')) {
            /* &amp; in an attribute is a plain & in the URL */
            char path[512];
            size_t k = 0;
            for (size_t i = 0; i < n && k + 1 < sizeof(path); i++) {
                path[k++] = start[i];
                if (start[i] == '&' && n - i >= 5 && memcmp(start + i, "&amp;", 5) == 0)
                    i += 4;
            }
            enqueue(sp, path, k);
            links++;
        }
        p = q + 1;
    }
    return links;
}

/* ---- one fetch ------------------------------------------------------------ */

static void fetch_done(worker_t *w, int ok)
{
    spider_t *sp = w->sp;
    if (!ok)
        sp->failed++;
    tn_free(w->path);
    w->path = NULL;
    w->stream = NULL;
    sp->busy--;
    tn_queue_task_done(sp->q);
    worker_next(w);
}

static void on_timeout(tn_ioloop_t *loop, void *arg)
{
    worker_t *w = arg;
    (void)loop;
    w->timer = 0;
    if (w->stream != NULL)
        tn_iostream_close_with(w->stream, TN_ETIMEOUT);
}

static void on_response(tn_iostream_t *s, int status, const char *data, size_t len, void *arg)
{
    worker_t *w = arg;
    spider_t *sp = w->sp;
    tn_ioloop_remove_timeout(sp->loop, w->timer);
    w->timer = 0;
    int code = 0, ok = 0;
    if (status == 0 && len > 12 && sscanf(data, "HTTP/1.%*d %d", &code) == 1) {
        const char *body = NULL;
        for (size_t i = 0; i + 4 <= len; i++) {
            if (memcmp(data + i, "\r\n\r\n", 4) == 0) {
                body = data + i + 4;
                break;
            }
        }
        int links = 0;
        size_t blen = body ? (size_t)(data + len - body) : 0;
        /* Only HTML pages have links worth following. */
        const char *ctype = body ? strstr(data, "Content-Type: text/html") : NULL;
        if (code == 200 && ctype != NULL && ctype < body)
            links = find_links(sp, body, blen);
        printf("worker %d: %d %s (%zu bytes, %d links)\n", w->id, code, w->path, blen, links);
        ok = code == 200;
        sp->fetched++;
    } else {
        printf("worker %d: %s failed: %s\n", w->id, w->path,
               tn_strerror(status != 0 ? tn_iostream_error(s) : TN_EHTTP));
    }
    tn_iostream_close(s);
    fetch_done(w, ok);
}

static void on_connect(tn_iostream_t *s, int status, void *arg)
{
    worker_t *w = arg;
    if (status != 0) {
        tn_ioloop_remove_timeout(w->sp->loop, w->timer);
        w->timer = 0;
        printf("worker %d: %s: connect failed: %s\n", w->id, w->path, tn_strerror(status));
        fetch_done(w, 0);
        return;
    }
    w->stream = s;
    char req[700];
    int n =
        snprintf(req, sizeof(req),
                 "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nUser-Agent: tornuv-webspider\r\n\r\n",
                 w->path, w->sp->port);
    if (n < 0 || (size_t)n >= sizeof(req) ||
        tn_iostream_write(s, req, (size_t)n, NULL, NULL) != 0 ||
        tn_iostream_read_until_close(s, on_response, w) != 0) {
        tn_iostream_close(s);
        tn_ioloop_remove_timeout(w->sp->loop, w->timer);
        w->timer = 0;
        fetch_done(w, 0);
    }
}

static void on_path(tn_queue_t *q, int status, void *item, void *arg)
{
    worker_t *w = arg;
    (void)q;
    if (status != 0)
        return; /* the queue was freed: the crawl is over */
    w->path = item;
    w->sp->busy++;
    w->timer = tn_ioloop_call_later(w->sp->loop, FETCH_TIMEOUT_MS, on_timeout, w);
    if (tn_tcpclient_connect(w->sp->loop, "127.0.0.1", w->sp->port, FETCH_TIMEOUT_MS, NULL,
                             on_connect, w) != 0) {
        tn_ioloop_remove_timeout(w->sp->loop, w->timer);
        w->timer = 0;
        fetch_done(w, 0);
    }
}

/* A worker's loop: get a path, fetch it, repeat. */
static void worker_next(worker_t *w)
{
    if (tn_queue_get(w->sp->q, 0, on_path, w) == 0)
        fprintf(stderr, "worker %d: cannot wait on the queue\n", w->id);
}

/* ---- main --------------------------------------------------------------- */

static void on_joined(tn_queue_t *q, int status, void *item, void *arg)
{
    spider_t *sp = arg;
    (void)q;
    (void)item;
    if (status != 0) {
        fprintf(stderr, "crawl did not finish: %s\n", tn_strerror(status));
        sp->failed++;
    }
    tn_ioloop_stop(sp->loop);
}

int main(int argc, char **argv)
{
    spider_t sp = {.max_pages = 100};
    int workers = 4;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            sp.port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--workers") == 0)
            workers = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--max-pages") == 0)
            sp.max_pages = atoi(argv[i + 1]);
    }
    if (sp.port <= 0 || sp.port > 65535 || workers < 1 || workers > 64 || sp.max_pages < 1) {
        fprintf(stderr, "usage: webspider --port N [--workers 1..64] [--max-pages M]\n");
        return 2;
    }
    if (tn_ioloop_new(&sp.loop) != 0)
        return 1;
    tn_queue_options_t qo = {.free_item = tn_free};
    if (tn_queue_new(sp.loop, &qo, &sp.q) != 0)
        return 1;
    enqueue(&sp, "/", 1);
    worker_t *ws = calloc((size_t)workers, sizeof(*ws));
    if (ws == NULL)
        return 1;
    for (int i = 0; i < workers; i++) {
        ws[i].sp = &sp;
        ws[i].id = i;
        worker_next(&ws[i]);
    }
    tn_queue_join(sp.q, CRAWL_TIMEOUT_MS, on_joined, &sp);
    tn_ioloop_start(sp.loop);
    printf("fetched %d pages (%d seen), %d failed\n", sp.fetched, sp.nseen, sp.failed);
    /* Workers wait on the queue: freeing it ends their gets. A crawl that
     * timed out may still have fetches in flight: close_all ends them. */
    tn_queue_free(sp.q);
    tn_ioloop_close(sp.loop, TN_CLOSE_ALL_FDS);
    for (int i = 0; i < workers; i++)
        tn_free(ws[i].path);
    free(ws);
    for (int i = 0; i < sp.nseen; i++)
        free(sp.seen[i]);
    free(sp.seen);
    return sp.failed == 0 && sp.fetched > 0 ? 0 : 1;
}
