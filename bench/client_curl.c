/* Client benchmark, libcurl side: N keep-alive GETs of one URL with C in
 * flight on one curl multi handle (C easy handles reused, so their
 * connections stay alive), driven by curl_multi_poll.
 *
 *   client_curl URL N C
 *
 * Prints "requests wall_s cpu_s req_per_cpu_s" like client_tornuv. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#include "client_clock.h"

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    *(size_t *)arg += size * n;
    return size * n;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: client_curl URL N C\n");
        return 2;
    }
    const char *url = argv[1];
    long total = atol(argv[2]), c = atol(argv[3]), started = 0, finished = 0, failed = 0;
    if (total < 1 || c < 1)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, c);
    CURL **h = calloc((size_t)c, sizeof *h);
    size_t *got = calloc((size_t)c, sizeof *got);
    double c0 = cpu_s(), w0 = wall_s();
    for (long i = 0; i < c && started < total; i++, started++) {
        h[i] = curl_easy_init();
        curl_easy_setopt(h[i], CURLOPT_URL, url);
        curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h[i], CURLOPT_WRITEDATA, &got[i]);
        curl_easy_setopt(h[i], CURLOPT_PRIVATE, (void *)i);
        curl_multi_add_handle(m, h[i]);
    }
    while (finished < total) {
        int running, q;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &q))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            void *priv;
            long code = 0;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
            long i = (long)priv;
            if (msg->data.result != CURLE_OK || code != 200 || got[i] != 12)
                failed++;
            finished++;
            curl_multi_remove_handle(m, e);
            if (started < total) {
                started++;
                got[i] = 0;
                curl_multi_add_handle(m, e);
            }
        }
        if (finished < total)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    double cpu = cpu_s() - c0, wall = wall_s() - w0;
    for (long i = 0; i < c; i++)
        if (h[i])
            curl_easy_cleanup(h[i]);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    free(h);
    free(got);
    printf("%ld %.3f %.3f %.0f\n", finished, wall, cpu, cpu > 0 ? (double)finished / cpu : 0);
    if (failed)
        fprintf(stderr, "client_curl: %ld failed\n", failed);
    return failed ? 1 : 0;
}
