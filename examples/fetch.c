/* fetch: a small curl on tornuv's HTTP client.
 *
 *   fetch [--method M] [--header 'K: V']... [--data STR] [--max-redirects N]
 *         [--no-follow] [--timeout SECONDS] [--max-body BYTES] [--ca FILE]
 *         [--insecure] [--include] [--output FILE] [--progress] URL [URL...]
 *
 * Each final response's body goes to stdout (or FILE), with --include the
 * status line and fields first. Several URLs are fetched in order with one
 * client, so keep-alive connections are reused. Exit status 0 when every
 * exchange succeeded (whatever its HTTP status), 1 when any failed (each
 * failure is one line on stderr), 2 for a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tornuv.h"

typedef struct {
    const char *method, *data, *ca, *output;
    int max_redirects, no_follow, insecure, include, progress;
    double timeout_s;
    uint64_t max_body;
    tn_headers_t *headers;
    char **urls;
    int nurls;
} args_t;

typedef struct {
    args_t *a;
    tn_ioloop_t *loop;
    tn_httpclient_t *client;
    FILE *out;
    int next, failures, write_failed;
    uint64_t got, last_ms, start_ms;
    int progress_shown;
} app_t;

static void usage(void)
{
    fprintf(stderr, "usage: fetch [--method M] [--header 'K: V']... [--data STR] "
                    "[--max-redirects N] [--no-follow] [--timeout SECONDS] [--max-body BYTES] "
                    "[--ca FILE] [--insecure] [--include] [--output FILE] [--progress] "
                    "URL [URL...]\n");
}

static int parse_args(int argc, char **argv, args_t *a)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (s[0] != '-' || strcmp(s, "-") == 0) {
            a->urls[a->nurls++] = argv[i];
            continue;
        }
        if (!strcmp(s, "--no-follow")) {
            a->no_follow = 1;
        } else if (!strcmp(s, "--insecure")) {
            a->insecure = 1;
        } else if (!strcmp(s, "--include")) {
            a->include = 1;
        } else if (!strcmp(s, "--progress")) {
            a->progress = 1;
        } else if (!v) {
            fprintf(stderr, "fetch: %s needs a value\n", s);
            return -1;
        } else if (i++, !strcmp(s, "--method")) {
            a->method = v;
        } else if (!strcmp(s, "--data")) {
            a->data = v;
        } else if (!strcmp(s, "--ca")) {
            a->ca = v;
        } else if (!strcmp(s, "--output")) {
            a->output = v;
        } else if (!strcmp(s, "--max-redirects")) {
            long n = strtol(v, &end, 10);
            if (*end || n < 0 || n > 1000)
                return fprintf(stderr, "fetch: bad --max-redirects %s\n", v), -1;
            a->max_redirects = (int)n;
            if (n == 0)
                a->no_follow = 1;
        } else if (!strcmp(s, "--timeout")) {
            a->timeout_s = strtod(v, &end);
            if (*end || a->timeout_s <= 0)
                return fprintf(stderr, "fetch: bad --timeout %s\n", v), -1;
        } else if (!strcmp(s, "--max-body")) {
            unsigned long long n = strtoull(v, &end, 10);
            if (*end || n == 0)
                return fprintf(stderr, "fetch: bad --max-body %s\n", v), -1;
            a->max_body = n;
        } else if (!strcmp(s, "--header")) {
            const char *colon = strchr(v, ':');
            if (!colon || colon == v)
                return fprintf(stderr, "fetch: bad --header '%s' (want 'K: V')\n", v), -1;
            const char *val = colon + 1;
            while (*val == ' ' || *val == '\t')
                val++;
            if (tn_headers_add(a->headers, v, (size_t)(colon - v), val, strlen(val)) != 0)
                return -1;
        } else {
            fprintf(stderr, "fetch: unknown option %s\n", s);
            return -1;
        }
    }
    if (a->nurls == 0)
        return -1;
    return 0;
}

static void show_progress(app_t *app, tn_fetch_t *f, int final)
{
    uint64_t now = tn_ioloop_time_ms(app->loop);
    if (!final && now - app->last_ms < 100)
        return;
    app->last_ms = now;
    double secs = (double)(now - app->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)app->got / secs : 0;
    int64_t total = tn_fetch_expected_length(f);
    char bar[31];
    if (total > 0) {
        int pct = (int)((double)app->got * 100.0 / (double)total);
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r[%s] %3d%% %10.1f KiB  %8.1f KiB/s", bar, pct, (double)app->got / 1024.0,
                rate / 1024.0);
    } else {
        fprintf(stderr, "\r%10.1f KiB  %8.1f KiB/s", (double)app->got / 1024.0, rate / 1024.0);
    }
    app->progress_shown = 1;
    if (final)
        fputc('\n', stderr);
}

static int on_headers(tn_fetch_t *f, int code, const tn_headers_t *h, void *arg)
{
    app_t *app = arg;
    if (app->a->include) {
        fprintf(app->out, "HTTP/1.1 %d %s\r\n", code, tn_fetch_reason(f));
        for (size_t i = 0; i < tn_headers_count(h); i++) {
            tn_strview_t n, v;
            tn_headers_at(h, i, &n, &v);
            fprintf(app->out, "%.*s: %.*s\r\n", (int)n.len, n.base, (int)v.len, v.base);
        }
        fputs("\r\n", app->out);
    }
    return 0;
}

static int on_chunk(tn_fetch_t *f, const char *data, size_t len, void *arg)
{
    app_t *app = arg;
    if (fwrite(data, 1, len, app->out) != len) {
        app->write_failed = 1;
        return TN_ECALLBACK;
    }
    app->got += len;
    if (app->a->progress)
        show_progress(app, f, 0);
    return TN_CONTINUE;
}

static int is_redirect(int code)
{
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

static void fetch_next(app_t *app);

static void on_done(tn_fetch_t *f, int status, void *arg)
{
    app_t *app = arg;
    const char *url = app->a->urls[app->next - 1];
    tn_fetch_timings_t t;
    tn_fetch_timings(f, &t);
    if (app->a->progress && (app->progress_shown || status == 0 || status == TN_EHTTP))
        show_progress(app, f, 1); /* the final figures, even for a quick one */
    int code = tn_fetch_code(f);
    int max = app->a->max_redirects ? app->a->max_redirects : TN_HTTPCLIENT_DEFAULT_MAX_REDIRECTS;
    if (app->write_failed) {
        fprintf(stderr, "fetch: %s: cannot write the output\n", url);
        app->failures++;
    } else if (status != 0 && code == TN_FETCH_NO_RESPONSE) {
        fprintf(stderr, "fetch: %s: %s (%s)\n", url, tn_fetch_error_message(f),
                tn_err_name(status));
        app->failures++;
    } else if (status != 0 && status != TN_EHTTP) {
        fprintf(stderr, "fetch: %s: HTTP %d: %s (%s)\n", url, code, tn_fetch_error_message(f),
                tn_err_name(status));
        app->failures++;
    } else if (!app->a->no_follow && is_redirect(code) && t.redirects >= max &&
               tn_headers_get(tn_fetch_headers(f), "Location", NULL)) {
        fprintf(stderr, "fetch: %s: too many redirects (%d), last at %s\n", url, t.redirects,
                tn_fetch_effective_url(f));
        app->failures++;
    }
    fflush(app->out);
    fetch_next(app);
}

static void on_freed(void *arg)
{
    tn_ioloop_stop(((app_t *)arg)->loop);
}

static void fetch_next(app_t *app)
{
    args_t *a = app->a;
    while (app->next < a->nurls) {
        const char *url = a->urls[app->next++];
        uint64_t tmo = a->timeout_s > 0 ? (uint64_t)(a->timeout_s * 1000.0) : 0;
        tn_fetch_options_t o = {
            .method = a->method ? a->method : (a->data ? "POST" : NULL),
            .headers = a->headers,
            .body = a->data,
            .body_len = a->data ? strlen(a->data) : 0,
            .connect_timeout_ms = tmo,
            .request_timeout_ms = tmo,
            .no_follow_redirects = a->no_follow,
            .max_redirects = a->max_redirects,
            .max_body_size = a->max_body,
            .insecure = a->insecure,
            .ca_certs = a->ca,
            .allow_nonstandard_methods = 1,
            .on_headers = on_headers,
            .on_chunk = on_chunk,
            .callback_arg = app,
        };
        app->got = 0;
        app->write_failed = 0;
        app->progress_shown = 0;
        app->start_ms = app->last_ms = tn_ioloop_time_ms(app->loop);
        int rc = tn_httpclient_fetch(app->client, url, &o, on_done, app, NULL);
        if (rc == 0)
            return;
        if (rc == TN_ENOTSUP)
            fprintf(stderr, "fetch: %s: https:// needs TLS, which this build lacks (%s)\n", url,
                    tn_err_name(rc));
        else
            fprintf(stderr, "fetch: %s: %s (%s)\n", url, tn_strerror(rc), tn_err_name(rc));
        app->failures++;
    }
    tn_httpclient_free(app->client, on_freed, app);
}

int main(int argc, char **argv)
{
    args_t a = {0};
    app_t app = {0};
    int rc;
    a.urls = calloc((size_t)argc, sizeof *a.urls);
    if (!a.urls || tn_headers_new(&a.headers) != 0)
        return 1;
    if (parse_args(argc, argv, &a) != 0) {
        usage();
        return 2;
    }
    app.a = &a;
    app.out = stdout;
    if (a.output && !(app.out = fopen(a.output, "wb"))) {
        fprintf(stderr, "fetch: cannot open %s for writing\n", a.output);
        return 1;
    }
    if ((rc = tn_ioloop_new(&app.loop)) != 0 ||
        (rc = tn_httpclient_new(app.loop, NULL, &app.client)) != 0) {
        fprintf(stderr, "fetch: %s\n", tn_strerror(rc));
        return 1;
    }
    fetch_next(&app);
    tn_ioloop_start(app.loop);
    tn_ioloop_close(app.loop, TN_CLOSE_ALL_FDS);
    if (app.out != stdout && fclose(app.out) != 0) {
        fprintf(stderr, "fetch: cannot write %s\n", a.output);
        app.failures++;
    }
    tn_headers_free(a.headers);
    free(a.urls);
    return app.failures ? 1 : 0;
}
